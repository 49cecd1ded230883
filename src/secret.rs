//! [`SecretValue`]: a resolved secret that does not print itself.
//!
//! `Debug` and `Display` redact, so a value that ends up in a log line, an error or a panic
//! message shows `<redacted>`. Only the renderers call [`SecretValue::expose`]. The memory is
//! zeroized when the value is dropped.
//!
//! A value can still reach a message as text someone else wrote: a server's error answer that
//! echoes the token it was sent, or a value it returned for another key. So what a server
//! wrote is shown through [`withheld`] (the one request failure's and a key problem's
//! `Display`), which writes `[redacted]` in place of any value [`SecretValue::withhold`] was
//! called on: every resolved value (the resolver) and every credential osenv reads or obtains
//! (the environment's `backend_secret`, a login's token). Text the config or the operator wrote
//! (paths, names, references) is not searched: withholding must not tell a config which of its
//! guesses is a value, nor change a file name in a report or a policy.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{LazyLock, Mutex, PoisonError};
use zeroize::Zeroizing;

/// Shorter values are not withheld: they would blank out ordinary words of messages.
const MIN_WITHHELD: usize = 8;
/// The most values withheld (the latest kept): a `--watch` run makes new ones at every rotation.
const MAX_WITHHELD: usize = 4096;

/// The values messages withhold, and a keyed hash of each (to add one once).
#[derive(Default)]
struct Withheld {
    values: VecDeque<Zeroizing<String>>,
    hashes: HashSet<u64>,
    keys: RandomState,
}

static WITHHELD: LazyLock<Mutex<Withheld>> = LazyLock::new(Mutex::default);

fn withhold(value: &str) {
    // A server may echo a value without the blanks at its ends: that form is withheld too.
    let trimmed = value.trim();
    if trimmed.len() != value.len() {
        withhold(trimmed);
    }
    if value.len() < MIN_WITHHELD {
        return;
    }
    let mut withheld = WITHHELD.lock().unwrap_or_else(PoisonError::into_inner);
    let hash = withheld.keys.hash_one(value);
    if !withheld.hashes.insert(hash) {
        // Still in use (resolved again): kept to the last, whatever rotates around it.
        if let Some(at) = withheld.values.iter().position(|v| v.as_str() == value)
            && let Some(again) = withheld.values.remove(at)
        {
            withheld.values.push_back(again);
        }
        return;
    }
    if withheld.values.len() == MAX_WITHHELD
        && let Some(oldest) = withheld.values.pop_front()
    {
        let hash = withheld.keys.hash_one(oldest.as_str());
        withheld.hashes.remove(&hash);
    }
    withheld.values.push_back(Zeroizing::new(value.to_owned()));
}

/// Withhold every string in a secret's JSON (the other fields of a secret a `#field` was read
/// from, a Vault secret's other keys, a primary secret's every key): osenv received them, so a
/// server's message must not show them either.
pub fn withhold_json(json: &serde_json::Value) {
    let mut stack = vec![json];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::String(text) => withhold(text),
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(entries) => stack.extend(entries.values()),
            _ => {}
        }
    }
}

/// `text` with every value a [`SecretValue`] holds or held (of at least 8 bytes) written
/// `[redacted]`: what the escaper does to every message.
pub fn withheld(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() < MIN_WITHHELD {
        return std::borrow::Cow::Borrowed(text);
    }
    let withheld = WITHHELD.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = std::borrow::Cow::Borrowed(text);
    // Longest first, so a value that holds another is withheld whole.
    let mut found: Vec<&str> = withheld
        .values
        .iter()
        .map(|v| v.as_str())
        .filter(|v| v.len() <= out.len() && out.contains(v))
        .collect();
    found.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for value in found {
        if out.contains(value) {
            out = std::borrow::Cow::Owned(out.replace(value, "[redacted]"));
        }
    }
    out
}

/// A secret string. Redacted in `Debug` and `Display`, zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Wrap a value that must not be printed.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// A credential or a resolved value: [`SecretValue::new`], withheld from every message.
    pub fn withheld(value: impl Into<String>) -> Self {
        let value = Self::new(value);
        value.withhold();
        value
    }

    /// Withhold this value from every message from now on (see the module docs).
    pub fn withhold(&self) {
        withhold(&self.0);
    }

    /// The secret itself. Call this only where the value is meant to be written out.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = SecretValue::new("canary-5d1f0a");
        assert!(!format!("{s:?}").contains("canary"));
        assert!(!format!("{s}").contains("canary"));
        assert!(!format!("{:?}", Some(&s)).contains("canary"));
        assert_eq!(s.expose(), "canary-5d1f0a");
    }

    /// Every secret is withheld from messages, however it got there (a server echoing the
    /// token it was sent); short values are not (they would blank out words).
    #[test]
    fn every_string_of_a_secrets_json_is_withheld() {
        withhold_json(&serde_json::json!({"key": "json-canary-one", "other": {"deep": ["json-canary-two", 5]}}));
        SecretValue::new("   padded-canary-three\n").withhold();
        assert_eq!(withheld("x padded-canary-three y"), "x [redacted] y");
        assert_eq!(
            withheld("saw json-canary-one and json-canary-two"),
            "saw [redacted] and [redacted]"
        );
    }

    #[test]
    fn messages_withhold_every_secret() {
        let _token = SecretValue::withheld("s.canary-token-7f3a9c");
        SecretValue::new("canary-token").withhold();
        let _short = SecretValue::withheld("denied");
        let _address = SecretValue::new("http://127.0.0.1:8200");
        assert_eq!(
            withheld("HTTP 403: permission denied for token s.canary-token-7f3a9c (canary-token)"),
            "HTTP 403: permission denied for token [redacted] ([redacted])"
        );
        assert_eq!(
            withheld("nothing secret at http://127.0.0.1:8200"),
            "nothing secret at http://127.0.0.1:8200"
        );
    }
}
