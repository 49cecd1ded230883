//! Dotenv files given with `--env-file`, read the way LiteLLM reads its `.env`: with
//! python-dotenv's rules (`load_dotenv()`, which LiteLLM calls at import). No Rust crate
//! implements that dialect, and the differences are silent (`V=pa$sword` is `pa` to dotenvy and
//! `pa$sword` to python-dotenv), so osenv has its own parser, checked against python-dotenv by
//! `scripts/differential`.
//!
//! The rules, from python-dotenv 1.2 (`parser.py`, `variables.py`, `main.py`):
//! - the file is UTF-8 (a leading byte-order mark is dropped) and read with universal newlines
//!   (`\r\n` and `\r` are `\n`);
//! - a binding is `[export ]KEY=VALUE`, the key unquoted (`[^=#\s]+`) or single-quoted; a `KEY`
//!   without `=` is a name with no value (set nowhere, but `${KEY}` then reads as empty);
//! - a value is single-quoted (`\\` and `\'` are escapes), double-quoted (`\\ \' \" \a \b \f \n
//!   \r \t \v` are escapes; both quoted forms may span lines), or unquoted (to the end of the line,
//!   cut at the first blank followed by `#`, trailing blanks removed); `KEY= #c` is empty, while
//!   `KEY=#c` is `#c`;
//! - after every value, `${NAME}` and `${NAME:-default}` are replaced (in quoted values too), by
//!   the process environment first (and, for several `--env-file`s, the files before, as
//!   `load_dotenv` calls in turn would have set them), then earlier bindings of the same file;
//!   `$NAME` is kept.
//!
//! osenv differs in one place, on purpose: a line python-dotenv cannot parse is skipped by it
//! with a warning, which hides a mistyped secret; osenv refuses the file and names the line.
//!
//! Values are held as [`SecretValue`]s from the moment they are read; an error names the line
//! only, never its text, which may be a secret.

use crate::error::DotenvError;
use crate::python::is_space;
use crate::secret::SecretValue;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;
use zeroize::Zeroizing;

/// One parsed dotenv file.
#[derive(Debug, Clone)]
pub struct DotenvFile {
    path: Arc<str>,
    /// Each name's value, its line, and whether a `${…}` was replaced in it.
    vars: HashMap<String, (SecretValue, usize, bool)>,
}

/// A binding as python-dotenv parses it: a name, its raw value (`None` for a bare `KEY`), and
/// the line it starts on.
struct Binding {
    key: String,
    value: Option<Zeroizing<String>>,
    line: usize,
}

impl DotenvFile {
    /// Parse `text`, read from `path`, interpolating `${NAME}` from the file alone.
    pub fn parse(path: impl Into<Arc<str>>, text: &str) -> Result<Self, DotenvError> {
        Self::parse_with(path, text, &|_| None)
    }

    /// Parse `text`, read from `path`; `${NAME}` reads `outside(NAME)` first (the process
    /// environment, as python-dotenv's `override=False` does), then the file's earlier bindings.
    pub fn parse_with(
        path: impl Into<Arc<str>>,
        text: &str,
        outside: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, DotenvError> {
        let path = path.into();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let text: Zeroizing<String> = Zeroizing::new(if text.contains('\r') {
            text.replace("\r\n", "\n").replace('\r', "\n")
        } else {
            text.to_owned()
        });
        let bindings = Parser {
            text: &text,
            at: 0,
            line: 1,
        }
        .bindings()
        .map_err(|line| DotenvError {
            location: crate::location::LineIndex::new(Arc::clone(&path), &text).line_start(line),
            reason: "python-dotenv cannot parse this line (LiteLLM would skip it with a warning); fix or remove it",
        })?;
        // `resolve_variables`: each value is interpolated against the bindings before it (a bare
        // `KEY` counts, as empty) with the outside environment winning.
        let mut seen: HashMap<String, Option<SecretValue>> = HashMap::default();
        let mut vars = HashMap::with_capacity_and_hasher(bindings.len(), rustc_hash::FxBuildHasher);
        for Binding { key, value, line } in bindings {
            let interpolated = std::cell::Cell::new(false);
            let resolved = value.map(|raw| {
                SecretValue::new(interpolate(&raw, |name| {
                    interpolated.set(true);
                    outside(name).map(Zeroizing::new).or_else(|| match seen.get(name) {
                        Some(Some(v)) => Some(Zeroizing::new(v.expose().to_owned())),
                        Some(None) => Some(Zeroizing::new(String::new())),
                        None => None,
                    })
                }))
            });
            match &resolved {
                Some(v) => {
                    vars.insert(key.clone(), (v.clone(), line, interpolated.get()));
                }
                None => {
                    vars.remove(&key);
                }
            }
            seen.insert(key, resolved);
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
        self.vars.get(name).map(|(v, line, _)| (v, *line))
    }

    /// Whether `name`'s value had a `${…}` replaced: it may hold any variable of the process.
    pub fn interpolated(&self, name: &str) -> bool {
        self.vars.get(name).is_some_and(|&(_, _, interpolated)| interpolated)
    }
}

/// python-dotenv's `${NAME}` / `${NAME:-default}` (`[^}:]*` names, `[^}]*` defaults); an unset
/// name without a default is empty, and anything else (`$NAME`, `${A-b}`, an unclosed `${`) is
/// kept as written.
fn interpolate(raw: &str, lookup: impl Fn(&str) -> Option<Zeroizing<String>>) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        let Some(close) = after.find('}') else { break };
        let inner = &after[..close];
        let (name, default) = match inner.find(':') {
            None => (inner, None),
            Some(colon) => {
                let Some(default) = inner[colon..].strip_prefix(":-") else {
                    // `${A:b}` is not a variable; the text stays and the search goes on after `${`.
                    out.push_str(&rest[..at + 2]);
                    rest = after;
                    continue;
                };
                (&inner[..colon], Some(default))
            }
        };
        out.push_str(&rest[..at]);
        match lookup(name) {
            Some(value) => out.push_str(&value),
            None => out.push_str(default.unwrap_or("")),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A blank other than a line break (`[^\S\r\n]`).
fn is_blank(c: char) -> bool {
    is_space(c) && c != '\n'
}

/// What one step of the parser read.
enum Line {
    Binding(String, Option<Zeroizing<String>>),
    Comment,
}

struct Parser<'t> {
    text: &'t str,
    at: usize,
    line: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn advance(&mut self, bytes: usize) {
        self.line += self.text[self.at..self.at + bytes].matches('\n').count();
        self.at += bytes;
    }

    /// Advance over the longest prefix whose characters satisfy `f`; returns its length.
    fn skip(&mut self, f: impl Fn(char) -> bool) -> usize {
        let len = self.rest().find(|c| !f(c)).unwrap_or(self.rest().len());
        self.advance(len);
        len
    }

    /// Every binding, or the line of the first one python-dotenv cannot parse.
    fn bindings(mut self) -> Result<Vec<Binding>, usize> {
        let mut out = Vec::new();
        loop {
            self.skip(is_space);
            if self.at >= self.text.len() {
                return Ok(out);
            }
            let line = self.line;
            match self.binding() {
                Some(Line::Binding(key, value)) => out.push(Binding { key, value, line }),
                Some(Line::Comment) => {}
                None => return Err(line),
            }
        }
    }

    /// One binding or comment; `None` where python-dotenv raises its `Error`.
    fn binding(&mut self) -> Option<Line> {
        // `(?:export[^\S\r\n]+)?`
        if let Some(after) = self.rest().strip_prefix("export") {
            let blanks = after.find(|c| !is_blank(c)).unwrap_or(after.len());
            if blanks > 0 {
                self.advance("export".len() + blanks);
            }
        }
        let key = match self.peek() {
            Some('#') => None,
            Some('\'') => {
                let body = &self.rest()[1..];
                let close = body.find('\'').filter(|&n| n > 0)?;
                let key = body[..close].to_owned();
                self.advance(close + 2);
                Some(key)
            }
            _ => {
                let len = self
                    .rest()
                    .find(|c: char| c == '=' || c == '#' || is_space(c))
                    .unwrap_or(self.rest().len());
                if len == 0 {
                    return None;
                }
                let key = self.rest()[..len].to_owned();
                self.advance(len);
                Some(key)
            }
        };
        self.skip(is_blank);
        let value = if self.peek() == Some('=') {
            self.advance(1);
            let blanks = self.skip(is_blank);
            if blanks > 0 && self.peek() == Some('#') {
                Some(Zeroizing::new(String::new()))
            } else {
                Some(self.value()?)
            }
        } else {
            None
        };
        // `(?:[^\S\r\n]*#[^\r\n]*)?` then `[^\S\r\n]*(?:\n|$)`.
        let blanks = self.rest().find(|c| !is_blank(c)).unwrap_or(self.rest().len());
        if self.rest()[blanks..].starts_with('#') {
            let len = self.rest().find('\n').unwrap_or(self.rest().len());
            self.advance(len);
        }
        self.skip(is_blank);
        match self.peek() {
            None => {}
            Some('\n') => self.advance(1),
            Some(_) => return None,
        }
        Some(key.map_or(Line::Comment, |k| Line::Binding(k, value)))
    }

    fn value(&mut self) -> Option<Zeroizing<String>> {
        match self.peek() {
            Some(quote @ ('\'' | '"')) => {
                let body = &self.rest()[1..];
                let mut out = Zeroizing::new(String::new());
                let mut chars = body.char_indices();
                while let Some((i, c)) = chars.next() {
                    if c == quote {
                        self.advance(1 + i + 1);
                        return Some(out);
                    }
                    if c != '\\' {
                        out.push(c);
                        continue;
                    }
                    // A backslash always takes the next character (even a quote or a line
                    // break); only some pairs are escapes, the others stay as written.
                    let (_, next) = chars.next()?;
                    let decoded = match (quote, next) {
                        (_, '\\') => Some('\\'),
                        (_, '\'') => Some('\''),
                        ('"', '"') => Some('"'),
                        ('"', 'a') => Some('\u{7}'),
                        ('"', 'b') => Some('\u{8}'),
                        ('"', 'f') => Some('\u{c}'),
                        ('"', 'n') => Some('\n'),
                        ('"', 'r') => Some('\r'),
                        ('"', 't') => Some('\t'),
                        ('"', 'v') => Some('\u{b}'),
                        _ => None,
                    };
                    if let Some(d) = decoded {
                        out.push(d);
                    } else {
                        out.push('\\');
                        out.push(next);
                    }
                }
                None
            }
            None | Some('\n') => Some(Zeroizing::new(String::new())),
            Some(_) => {
                let len = self.rest().find('\n').unwrap_or(self.rest().len());
                let part = &self.rest()[..len];
                // `re.sub(r"\s+#.*", "", part).rstrip()`: cut at the first run of blanks that
                // is followed by `#`.
                let mut cut = part.len();
                let mut run_start = None;
                for (i, c) in part.char_indices() {
                    if is_space(c) {
                        run_start.get_or_insert(i);
                    } else {
                        if let (Some(start), '#') = (run_start, c) {
                            cut = start;
                            break;
                        }
                        run_start = None;
                    }
                }
                let value = Zeroizing::new(part[..cut].trim_end_matches(is_space).to_owned());
                self.advance(len);
                Some(value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(String, String)> {
        let f = DotenvFile::parse(".env", text).unwrap();
        let mut v: Vec<_> = f
            .names()
            .map(|n| (n.to_owned(), f.get(n).unwrap().0.expose().to_owned()))
            .collect();
        v.sort();
        v
    }

    fn one(text: &str) -> String {
        let f = DotenvFile::parse(".env", text).unwrap();
        f.get("V")
            .map_or_else(|| "<unset>".into(), |(v, _)| v.expose().to_owned())
    }

    #[test]
    fn parses_values_and_lines() {
        let f = DotenvFile::parse(".env", "# c\nA=1\nexport B='two words'\nC=\"x\\ny\"\n").unwrap();
        assert_eq!(f.get("A").map(|(v, l)| (v.expose(), l)), Some(("1", 2)));
        assert_eq!(f.get("B").map(|(v, l)| (v.expose(), l)), Some(("two words", 3)));
        assert_eq!(f.get("C").map(|(v, _)| v.expose()), Some("x\ny"));
    }

    #[test]
    fn reads_what_python_dotenv_reads() {
        // Each of these differs from dotenvy's reading.
        assert_eq!(one("V=pa$sword\n"), "pa$sword");
        assert_eq!(one("V=${UNSET:-dflt}\n"), "dflt");
        assert_eq!(one("V=#notcomment\n"), "#notcomment");
        assert_eq!(one("V= #comment\n"), "");
        assert_eq!(one("W=1\nV=$W\n"), "$W");
        assert_eq!(one("W=1\nV=${W}\n"), "1");
        assert_eq!(one("W=\"pa$sword\"\nV=$W\n"), "$W");
        assert_eq!(one("V=\"$HOME\"\n"), "$HOME");
        assert_eq!(one("V=\"a\\tb\"\n"), "a\tb");
        assert_eq!(one("V=a'b\n"), "a'b");
        assert_eq!(one("\u{feff}V=bom\n"), "bom");
        assert_eq!(one("V='single ${X:-d}'\n"), "single d");
        assert_eq!(one("V=\"a\\x41\"\n"), "a\\x41");
        assert_eq!(one("V='it\\'s'\n"), "it's");
        assert_eq!(one("V=\"multi\nline\"\n"), "multi\nline");
        assert_eq!(one("V=a b # c\n"), "a b");
        assert_eq!(one("V=a#b\n"), "a#b");
        assert_eq!(one("V=x\u{1f}\n"), "x", "U+001F is whitespace to Python");
        assert_eq!(one("V=1\r\nW=2\r\n"), "1");
        assert_eq!(one("V\n"), "<unset>");
        assert_eq!(one("V=1\nV\n"), "<unset>");
        assert_eq!(one("K\nV=${K:-d}\n"), "", "a bare name is empty, not unset");
        assert_eq!(one("V=${A:b}\n"), "${A:b}");
        assert_eq!(one("'V'=q\n"), "q");
        assert_eq!(one("export   V=e\n"), "e");
        assert_eq!(one("V=\"x\" # c\n"), "x");
        assert_eq!(
            values("A=1\n\n  # c\nB=2"),
            [("A".into(), "1".into()), ("B".into(), "2".into())]
        );
    }

    #[test]
    fn the_process_environment_wins_in_interpolation() {
        let f = DotenvFile::parse_with(".env", "H=file\nV=${H}\n", &|n| (n == "H").then(|| "process".into())).unwrap();
        assert_eq!(f.get("V").unwrap().0.expose(), "process");
    }

    #[test]
    fn a_bad_line_is_located_without_its_text() {
        for text in [
            "A=1\nB='canary-unclosed\n",
            "A=1\nB=\"canary\" junk\n",
            "A=1\n=canary\n",
        ] {
            let err = DotenvFile::parse(".env", text).unwrap_err();
            let msg = err.to_string();
            assert!(!msg.contains("canary"), "{msg}");
            assert!(msg.starts_with(".env:2:1: python-dotenv cannot parse"), "{msg}");
        }
    }
}
