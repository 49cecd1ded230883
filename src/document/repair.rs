//! Where PyYAML is laxer than YAML 1.2: the text saphyr reads instead, and the way back.
//!
//! LiteLLM loads configs with PyYAML, which accepts a few forms YAML 1.2 (and so saphyr) refuses:
//! a plain `-` in flow context (`{a: -}`, `[-]`, `[a -]`), continuation lines of quoted
//! scalars and flow collections indented less than their parent (PyYAML ignores indentation
//! there), and a comment right after a closing bracket or quote. A config LiteLLM loads must not be refused, so when saphyr stops at one of these,
//! the text it reads is repaired in ways that cannot change what the config means, and parsed
//! again:
//!
//! - a `-` that cannot start a plain scalar becomes a private-use character the text does not
//!   contain (one character, so positions stay), and back to `-` in the value;
//! - spaces are inserted at the start of the continuation lines, which both parsers strip from
//!   the value, and before a `#` that PyYAML takes for a comment without one (`[a]#c`);
//!   positions map back through [`Shift`]s.
//!
//! Nothing is trusted blindly: after the parse, every repair must sit where it was meant to (the
//! `-` in a plain scalar or a comment, the quoted scalar or flow collection where it was found),
//! otherwise the first error stands. A file that needs no repair is parsed once, as before.

use super::{Node, NodeKind, ScalarStyle};

/// saphyr's messages for the forms repaired here.
const DASH: &str = "plain scalar cannot start with '-' followed by ,[]{}";
const QUOTED_INDENT: &str = "invalid indentation in quoted scalar";
const QUOTED_TAB: &str = "tab cannot be used as indentation";
const FLOW_INDENT: &[&str] = &["invalid indentation in flow construct", "invalid indentation"];
const COMMENT: &str = "comments must be separated from other tokens by whitespace";

/// Characters parsed in all rounds together: a hostile file with thousands of repairable places
/// costs at most this much parsing before osenv reports the error it stopped at.
pub(super) const MAX_WORK: usize = 16 << 20;

/// Whether saphyr's message `info` is one of the forms repaired here.
pub(super) fn is_repairable(info: &str) -> bool {
    [DASH, QUOTED_INDENT, QUOTED_TAB, COMMENT].contains(&info) || FLOW_INDENT.contains(&info)
}

/// Spaces inserted before the character at `original` (a char index in the body).
#[derive(Debug, Clone, Copy)]
pub(super) struct Shift {
    original: usize,
    /// Chars inserted before this one.
    before: usize,
    count: usize,
}

/// Where a repair must show up in the parse for it to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A quoted scalar starting at this byte.
    Quoted(usize),
    /// A flow collection starting at this byte and running at least to the second.
    Flow(usize, usize),
}

/// The repairs made so far, in byte offsets of the whole text.
#[derive(Debug, Default)]
pub(super) struct Repairs {
    /// The stand-in for `-` and where it stands, sorted.
    sentinel: Option<char>,
    dashes: Vec<usize>,
    /// Spaces inserted at line starts, sorted by position.
    spaces: std::collections::BTreeMap<usize, usize>,
    expect: Vec<Expect>,
}

/// What the parse says about the repairs.
pub(super) enum Verdict {
    Holds,
    /// These `-` sites fell inside quoted or block scalars: undo them and parse again.
    Revert(Vec<usize>),
    Fails,
}

impl Repairs {
    pub(super) fn is_empty(&self) -> bool {
        self.dashes.is_empty() && self.spaces.is_empty()
    }

    /// The character standing for `-` in plain values, if any.
    pub(super) fn sentinel(&self) -> Option<char> {
        self.sentinel.filter(|_| !self.dashes.is_empty())
    }

    /// The text saphyr reads (from `base`, after a byte-order mark) and the insertions in it,
    /// given `char_of` (byte offset → char index of the body).
    pub(super) fn source(&self, text: &str, base: usize, char_of: impl Fn(usize) -> usize) -> (String, Vec<Shift>) {
        let mut out = String::with_capacity(text.len() - base + self.spaces.values().sum::<usize>());
        let mut shifts = Vec::with_capacity(self.spaces.len());
        let sentinel = self.sentinel.unwrap_or('-');
        let mut dashes = self.dashes.iter().peekable();
        let mut spaces = self.spaces.iter().peekable();
        let mut at = base;
        let mut inserted = 0;
        loop {
            let next_dash = dashes.peek().map_or(usize::MAX, |&&d| d);
            let next_space = spaces.peek().map_or(usize::MAX, |(i, _)| **i);
            let next = next_dash.min(next_space);
            if next == usize::MAX {
                break;
            }
            out.push_str(&text[at..next]);
            at = next;
            if next_space == next {
                let (_, &count) = spaces.next().expect("peeked");
                shifts.push(Shift {
                    original: char_of(next),
                    before: inserted,
                    count,
                });
                inserted += count;
                out.extend(std::iter::repeat_n(' ', count));
            }
            if next_dash == next {
                dashes.next();
                out.push(sentinel);
                at += 1;
            }
        }
        out.push_str(&text[at..]);
        (out, shifts)
    }

    /// Add the repair for saphyr's error `info` at byte `at`; false when there is none (the
    /// error is the config's).
    pub(super) fn add(&mut self, text: &str, at: usize, info: &str, context: &Context) -> bool {
        match info {
            DASH => self.dashes.is_empty() && self.add_dashes(text, at),
            QUOTED_INDENT => self.reindent_quoted(text, at),
            QUOTED_TAB => quote_around(text, context.last_end, at).is_some_and(|q| self.reindent_quoted(text, q)),
            _ if FLOW_INDENT.contains(&info) => context.outer_flow.is_some_and(|f| self.reindent_flow(text, f)),
            // PyYAML starts a comment at `#` right after a bracket, a flow `,` or a quoted
            // scalar (not after a block scalar's `|`/`>`); YAML 1.2 wants a space first.
            COMMENT => {
                let bytes = text.as_bytes();
                let after_token = at > 0 && matches!(bytes[at - 1], b'[' | b'{' | b',' | b']' | b'}' | b'"' | b'\'');
                after_token && bytes.get(at) == Some(&b'#') && self.spaces.insert(at, 1).is_none()
            }
            _ => false,
        }
    }

    /// Every `-` followed by `,`, `]` or `}` gets the stand-in: those in plain scalars are the
    /// point, those in comments do no harm, and [`Repairs::verify`] undoes the others.
    fn add_dashes(&mut self, text: &str, at: usize) -> bool {
        let Some(sentinel) = unused_private_use(text) else {
            return false;
        };
        let bytes = text.as_bytes();
        self.dashes = (0..bytes.len().saturating_sub(1))
            .filter(|&i| bytes[i] == b'-' && matches!(bytes[i + 1], b',' | b']' | b'}'))
            .collect();
        self.sentinel = Some(sentinel);
        self.dashes.binary_search(&at).is_ok()
    }

    /// Indent the continuation lines of the quoted scalar at `quote` to its own column.
    fn reindent_quoted(&mut self, text: &str, quote: usize) -> bool {
        if !matches!(text.as_bytes().get(quote), Some(b'"' | b'\'')) || self.expect.contains(&Expect::Quoted(quote)) {
            return false;
        }
        let Some(end) = super::parse::closing_quote(text, quote) else {
            return false;
        };
        let target = column(text, quote);
        self.expect.push(Expect::Quoted(quote));
        self.reindent(text, quote, end, target);
        true
    }

    /// Indent the lines of the flow collection at `open` past its opening bracket.
    fn reindent_flow(&mut self, text: &str, open: usize) -> bool {
        let Some(end) = flow_end(text, open) else {
            return false;
        };
        let expect = Expect::Flow(open, end);
        if self.expect.contains(&expect) {
            return false;
        }
        self.expect.push(expect);
        self.reindent(text, open, end, column(text, open) + 1);
        true
    }

    /// Lines starting within `start..end` get at least `target` leading spaces, except a
    /// document marker at column 0, which PyYAML refuses there too.
    fn reindent(&mut self, text: &str, start: usize, end: usize, target: usize) {
        let bytes = text.as_bytes();
        let mut i = start;
        while i < end {
            let line = match bytes[i] {
                b'\n' => i + 1,
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => i + 1,
                _ => {
                    i += 1;
                    continue;
                }
            };
            i = line;
            if line >= end || is_document_marker(&bytes[line..]) {
                continue;
            }
            let spaces = bytes[line..].iter().take_while(|&&b| b == b' ').count();
            if spaces < target {
                let slot = self.spaces.entry(line).or_default();
                *slot = (*slot).max(target - spaces);
            }
        }
    }

    /// Check each repair against the parsed `nodes` (in document order, spans in bytes).
    pub(super) fn verify(&self, nodes: &[Node]) -> Verdict {
        for expect in &self.expect {
            let holds = match *expect {
                Expect::Quoted(q) => nodes.iter().any(|n| {
                    n.start as usize == q
                        && matches!(
                            n.kind,
                            NodeKind::Scalar {
                                style: ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
                            }
                        )
                }),
                Expect::Flow(open, end) => nodes.iter().any(|n| {
                    n.start as usize == open
                        && n.end as usize + 1 >= end
                        && matches!(
                            n.kind,
                            NodeKind::Sequence { flow: true } | NodeKind::Mapping { flow: true }
                        )
                }),
            };
            if !holds {
                return Verdict::Fails;
            }
        }
        if self.dashes.is_empty() {
            return Verdict::Holds;
        }
        let scalars: Vec<&Node> = nodes
            .iter()
            .filter(|n| matches!(n.kind, NodeKind::Scalar { .. }))
            .collect();
        let revert: Vec<usize> = self
            .dashes
            .iter()
            .copied()
            .filter(|&d| {
                let i = scalars.partition_point(|n| n.start as usize <= d);
                i > 0 && {
                    let n = scalars[i - 1];
                    d < n.end as usize
                        && !matches!(
                            n.kind,
                            NodeKind::Scalar {
                                style: ScalarStyle::Plain
                            }
                        )
                }
            })
            .collect();
        if revert.is_empty() {
            Verdict::Holds
        } else {
            Verdict::Revert(revert)
        }
    }

    pub(super) fn revert(&mut self, sites: &[usize]) {
        self.dashes.retain(|d| sites.binary_search(d).is_err());
    }
}

/// What the interrupted parse knew: where its last event ended, and the outermost flow
/// collection still open (byte offsets).
pub(super) struct Context {
    pub(super) last_end: usize,
    pub(super) outer_flow: Option<usize>,
}

impl Shift {
    /// The body's char index for saphyr's char index `at` in the repaired text; an inserted
    /// space stands for the character it was inserted before.
    pub(super) fn original(shifts: &[Shift], at: usize) -> usize {
        match shifts.partition_point(|s| s.original + s.before <= at) {
            0 => at,
            k => {
                let s = shifts[k - 1];
                if at < s.original + s.before + s.count {
                    s.original
                } else {
                    at - s.before - s.count
                }
            }
        }
    }
}

/// The first private-use character (U+E000..U+F8FF) the text does not contain, found in one
/// pass (a file holding many of them must not cost a scan per candidate).
fn unused_private_use(text: &str) -> Option<char> {
    const FIRST: u32 = 0xE000;
    const COUNT: usize = 0xF900 - 0xE000;
    let mut used = vec![false; COUNT];
    if !text.is_ascii() {
        for c in text.chars() {
            if let Some(i) = u32::from(c)
                .checked_sub(FIRST)
                .map(|i| i as usize)
                .filter(|&i| i < COUNT)
            {
                used[i] = true;
            }
        }
    }
    let free = used.iter().position(|&u| !u)?;
    char::from_u32(FIRST + u32::try_from(free).ok()?)
}

/// `---` or `...` followed by a blank or the end.
fn is_document_marker(line: &[u8]) -> bool {
    (line.starts_with(b"---") || line.starts_with(b"..."))
        && line.get(3).is_none_or(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// The column (in characters) of byte `at` on its line.
fn column(text: &str, at: usize) -> usize {
    let line = text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    text[line..at].chars().count()
}

/// Whether a quote at byte `i` starts a quoted scalar rather than sitting inside a plain one.
fn starts_token(bytes: &[u8], i: usize) -> bool {
    i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'\r' | b'\n' | b'[' | b'{' | b',' | b':')
}

/// The quoted scalar saphyr was inside at `at`: the first quote after `from` that starts a
/// token, outside comments and earlier quoted scalars, and closes after `at`.
fn quote_around(text: &str, from: usize, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < at {
        match bytes[i] {
            b'#' if starts_token(bytes, i) => {
                while i < at && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'\'' if starts_token(bytes, i) => {
                let end = super::parse::closing_quote(text, i)?;
                if end > at {
                    return Some(i);
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    None
}

/// The byte after the bracket that closes the flow collection opening at `open`. Inside flow
/// context brackets always count (a plain scalar cannot hold them), except in quoted scalars
/// and comments.
fn flow_end(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'#' if i > 0 && matches!(bytes[i - 1], b' ' | b'\t' | b'\r' | b'\n') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' if starts_token(bytes, i) => {
                i = super::parse::closing_quote(text, i)?;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_map_back_to_the_original() {
        // Three spaces before char 4, two before char 10.
        let shifts = [
            Shift {
                original: 4,
                before: 0,
                count: 3,
            },
            Shift {
                original: 10,
                before: 3,
                count: 2,
            },
        ];
        let got: Vec<usize> = (0..18).map(|r| Shift::original(&shifts, r)).collect();
        assert_eq!(got, [0, 1, 2, 3, 4, 4, 4, 4, 5, 6, 7, 8, 9, 10, 10, 10, 11, 12]);
    }

    #[test]
    fn the_stand_in_is_a_character_the_text_lacks() {
        assert_eq!(unused_private_use("a: [-]"), Some('\u{e000}'));
        assert_eq!(unused_private_use("a: \u{e000}\u{e001} [-]"), Some('\u{e002}'));
        let all: String = ('\u{e000}'..='\u{f8ff}').collect();
        assert_eq!(unused_private_use(&all), None);
    }

    #[test]
    fn flow_end_skips_quotes_and_comments() {
        let t = "k: [a, \"]\", 'x]' # ]\n , {b: [c]}] tail";
        assert_eq!(&t[flow_end(t, 3).unwrap()..], " tail");
        assert_eq!(flow_end("k: [a", 3), None);
    }

    proptest::proptest! {
        /// However little the continuation lines of a quoted scalar or a flow list are
        /// indented (as PyYAML allows), the values are those of the same text indented as
        /// YAML 1.2 wants, and `-` items stay `-`.
        #[test]
        fn under_indentation_does_not_change_values(
            words in proptest::collection::vec("[a-z]{1,4}|-", 1..6),
            indents in proptest::collection::vec(0usize..4, 6),
            quote in proptest::sample::select(vec!['"', '\'']),
        ) {
            let parse = |t: &str| crate::document::Document::parse("t.yaml", t.to_owned());
            let build = |pad: &dyn Fn(usize) -> String| {
                let quoted: Vec<String> = words.iter().enumerate().map(|(i, w)| if i == 0 { w.clone() } else { format!("{}{w}", pad(i)) }).collect();
                let flow: Vec<String> = words.iter().enumerate().map(|(i, w)| if i == 0 { w.clone() } else { format!("{}{w}", pad(i)) }).collect();
                format!("a:\n  q: {quote}{}{quote}\n  f: [{}]\n", quoted.join("\n"), flow.join(",\n"))
            };
            let lax = build(&|i| " ".repeat(indents[i % indents.len()]));
            let strict = build(&|_| " ".repeat(6));
            let (lax_doc, strict_doc) = (parse(&lax).expect("PyYAML loads it"), parse(&strict).unwrap());
            let values = |d: &crate::document::Document| -> Vec<String> {
                let a = d.get(d.root(), "a").unwrap().value;
                let q = d.get(a, "q").unwrap().value;
                let f = d.get(a, "f").unwrap().value;
                std::iter::once(q).chain(d.items(f).unwrap().iter().copied()).map(|id| d.scalar(id).unwrap().to_owned()).collect()
            };
            proptest::prop_assert_eq!(values(&lax_doc), values(&strict_doc));
        }
    }

    #[test]
    fn quote_around_finds_the_open_scalar() {
        let t = "a: it's # 'c\nk: \"abc\n\tdef\"\n";
        let at = t.find('\t').unwrap();
        assert_eq!(quote_around(t, 0, at), Some(t.find('"').unwrap()));
    }
}
