//! Where something is in a source file: file name, 1-based line and column ([`Location`]),
//! and the index that turns byte offsets into them ([`LineIndex`]). Byte spans stay with what
//! they belong to (a document node, a reference).
//!
//! Every error about a reference carries a [`Location`], so no message can lose it. Columns count
//! characters, not bytes, like rustc does, so they line up with what an editor shows.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// A position in a named source file. Only a [`LineIndex`] makes one (from a byte offset of its
/// text, or a line of it), so every location points into a file that was read: an error cannot
/// invent one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The file as the user named it (`-` is shown as `<stdin>`).
    file: Arc<str>,
    /// 1-based line.
    line: usize,
    /// 1-based column, in characters.
    column: usize,
}

impl Location {
    /// The file as the user named it.
    pub fn file(&self) -> &Arc<str> {
        &self.file
    }

    /// 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column, in characters.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The start of this location's line (an error about a whole line, such as an env file's).
    #[must_use]
    pub fn line_start(&self) -> Self {
        Self {
            column: 1,
            ..self.clone()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl serde::Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Location", 3)?;
        st.serialize_field("file", &*self.file)?;
        st.serialize_field("line", &self.line)?;
        st.serialize_field("column", &self.column)?;
        st.end()
    }
}

/// Maps byte offsets of one text to lines and columns.
///
/// Built once per file; lookups are a binary search over line starts.
#[derive(Debug, Clone)]
pub struct LineIndex {
    file: Arc<str>,
    line_starts: Vec<usize>,
    /// For a text that is not all ASCII: the number of characters before each checkpoint (a
    /// character boundary about every [`CHECKPOINT_BYTES`] bytes), so that a column is counted
    /// over at most that many bytes plus the checkpoints' difference. Without them, every
    /// reference on one long line (a flow mapping of 200,000 entries) counted the line from its
    /// start: quadratic.
    checkpoints: Vec<(usize, usize)>,
}

/// How far apart [`LineIndex`]'s character-count checkpoints are.
const CHECKPOINT_BYTES: usize = 4096;

impl LineIndex {
    /// Index `text`, which is shown to users as `file`.
    pub fn new(file: Arc<str>, text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        let mut checkpoints = Vec::new();
        if !text.is_ascii() {
            let (mut at, mut chars) = (0, 0);
            checkpoints.push((0, 0));
            while at + CHECKPOINT_BYTES < text.len() {
                let mut next = at + CHECKPOINT_BYTES;
                while !text.is_char_boundary(next) {
                    next += 1;
                }
                chars += text[at..next].chars().count();
                checkpoints.push((next, chars));
                at = next;
            }
        }
        Self {
            file,
            line_starts,
            checkpoints,
        }
    }

    /// The number of characters in `text[..offset]` (`offset` on a character boundary).
    fn chars_before(&self, text: &str, offset: usize) -> usize {
        if self.checkpoints.is_empty() {
            return offset;
        }
        let i = self.checkpoints.partition_point(|&(at, _)| at <= offset).max(1) - 1;
        let (at, chars) = self.checkpoints[i];
        chars + text.get(at..offset).map_or(offset - at, |s| s.chars().count())
    }

    /// The file name this index was built for.
    pub fn file(&self) -> &Arc<str> {
        &self.file
    }

    /// The location of byte `offset` in `text` (the same text the index was built from).
    pub fn locate(&self, text: &str, offset: usize) -> Location {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let mut start = self.line_starts[line - 1];
        if start == 0 && text.starts_with('\u{feff}') && offset >= 3 {
            start = 3; // a byte-order mark is not a column
        }
        let column = if text.is_char_boundary(offset.min(text.len())) && offset <= text.len() {
            self.chars_before(text, offset) - self.chars_before(text, start)
        } else {
            offset - start
        } + 1;
        Location {
            file: Arc::clone(&self.file),
            line,
            column,
        }
    }

    /// The start of 1-based `line` (clamped to the text's lines).
    pub fn line_start(&self, line: usize) -> Location {
        Location {
            file: Arc::clone(&self.file),
            line: line.clamp(1, self.line_starts.len()),
            column: 1,
        }
    }

    /// The byte range of the line holding `offset`, without its line break.
    pub fn line_range(&self, text: &str, offset: usize) -> Range<usize> {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let end = self.line_starts.get(line).map_or(text.len(), |&next| next - 1);
        let end = if end > start && text.as_bytes().get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        };
        start..end.max(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_char_columns() {
        let text = "a: 1\nüb: os.environ/X\n";
        let index = LineIndex::new("c.yaml".into(), text);
        let at = text.find("os.environ").unwrap();
        let loc = index.locate(text, at);
        assert_eq!((loc.line, loc.column), (2, 5));
        assert_eq!(loc.to_string(), "c.yaml:2:5");
        assert_eq!(index.locate(text, 0).to_string(), "c.yaml:1:1");
        assert_eq!(&text[index.line_range(text, at)], "üb: os.environ/X");
    }

    #[test]
    fn columns_on_a_long_non_ascii_line_count_characters() {
        let text = format!(
            "k: {{{}}}\n",
            (0..3000).map(|i| format!("ä{i}: x")).collect::<Vec<_>>().join(", ")
        );
        let index = LineIndex::new("c.yaml".into(), &text);
        for (at, _) in text.match_indices("ä2999") {
            let want = text[..at].chars().count() + 1;
            assert_eq!(index.locate(&text, at).column, want);
        }
    }
}
