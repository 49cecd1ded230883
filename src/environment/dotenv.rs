//! Dotenv files given with `--env-file`, parsed by `dotenvy`.
//!
//! Values are held as [`SecretValue`]s from the moment they are read. A line that does not parse
//! is reported by its location only: dotenvy's own error carries the line's text, which may be
//! a secret, so it is never shown.

use crate::error::DotenvError;
use crate::location::{LineIndex, Location};
use crate::secret::SecretValue;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// One parsed dotenv file.
#[derive(Debug, Clone)]
pub struct DotenvFile {
    path: Arc<str>,
    vars: HashMap<String, (SecretValue, usize)>,
}

impl DotenvFile {
    /// Parse `text`, read from `path`.
    pub fn parse(path: impl Into<Arc<str>>, text: &str) -> Result<Self, DotenvError> {
        let path = path.into();
        let lines = LineIndex::new(Arc::clone(&path), text);
        let lines_by_name = definition_lines(text);
        // At most one variable per assignment line: sized once, not rehashed as it grows.
        let mut vars = HashMap::with_capacity_and_hasher(lines_by_name.len(), rustc_hash::FxBuildHasher);
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            match item {
                Ok((name, value)) => {
                    let line = lines_by_name.get(name.as_str()).copied().unwrap_or(1);
                    vars.insert(name, (SecretValue::new(value), line));
                }
                Err(err) => {
                    let location = match &err {
                        dotenvy::Error::LineParse(line, _) => text.find(line.as_str()).map_or_else(
                            || Location {
                                file: Arc::clone(&path),
                                line: 1,
                                column: 1,
                            },
                            |at| lines.locate(text, at),
                        ),
                        _ => Location {
                            file: Arc::clone(&path),
                            line: 1,
                            column: 1,
                        },
                    };
                    return Err(DotenvError {
                        location: Location { column: 1, ..location },
                    });
                }
            }
        }
        Ok(Self { path, vars })
    }

    /// The file as named on the command line.
    pub fn path(&self) -> &Arc<str> {
        &self.path
    }

    /// Every variable name the file sets.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// The value of `name` and the line that set it.
    pub fn get(&self, name: &str) -> Option<(&SecretValue, usize)> {
        self.vars.get(name).map(|(v, line)| (v, *line))
    }
}

/// For each name, the last line that assigns it (later assignments win in dotenvy too); one
/// pass over the file, so large files stay linear.
fn definition_lines(text: &str) -> HashMap<&str, usize> {
    let line_count = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
    let mut lines = HashMap::with_capacity_and_hasher(line_count, rustc_hash::FxBuildHasher);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        if let Some(eq) = line.find('=') {
            let name = line[..eq].trim_end();
            if !name.is_empty() && !name.starts_with('#') && !name.contains(char::is_whitespace) {
                lines.insert(name, i + 1);
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_and_lines() {
        let f = DotenvFile::parse(".env", "# c\nA=1\nexport B='two words'\nC=\"x\\ny\"\n").unwrap();
        assert_eq!(f.get("A").map(|(v, l)| (v.expose(), l)), Some(("1", 2)));
        assert_eq!(f.get("B").map(|(v, l)| (v.expose(), l)), Some(("two words", 3)));
        assert_eq!(f.get("C").map(|(v, _)| v.expose()), Some("x\ny"));
    }

    #[test]
    fn a_bad_line_is_located_without_its_text() {
        let err = DotenvFile::parse(".env", "A=1\nB='canary-unclosed\n").unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("canary"), "{msg}");
        assert!(msg.starts_with(".env:"), "{msg}");
    }
}
