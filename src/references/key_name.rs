//! [`KeyName`]: a reference's name once it is known to be one a backend can look up, split
//! into the secret and the JSON field it takes (`NAME#field`). Every backend receives these, so
//! none checks or splits a name again.

use std::fmt;
use std::ops::Deref;

/// A name checked by [`validate_name`](super::validate_name) (not empty, no control character,
/// no `=`, at most 1,024 bytes), with where its `#field` starts. It reads as the name as
/// written (`&str`); names are not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName {
    text: Box<str>,
    /// The byte offset of the first `#`, if any.
    hash: Option<usize>,
}

impl KeyName {
    /// `text` as a name, or why it cannot be one.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        super::validate_name(text)?;
        Ok(Self::split(text))
    }

    fn split(text: &str) -> Self {
        Self {
            text: text.into(),
            hash: text.find('#'),
        }
    }

    /// The secret it reads: the name before any `#`.
    pub fn secret(&self) -> &str {
        &self.text[..self.hash.unwrap_or(self.text.len())]
    }

    /// The secret a name as written reads (for names that are not looked up, such as a
    /// policy's).
    pub fn secret_of(name: &str) -> &str {
        &name[..name.find('#').unwrap_or(name.len())]
    }

    /// The field it takes from the secret's JSON object (`NAME#field`), if any; it may be empty.
    pub fn field(&self) -> Option<&str> {
        self.hash.map(|at| &self.text[at + 1..])
    }

    /// The name of the whole secret (without its field). A part of a checked name needs no
    /// new check: it may only be empty (`#field`), which the backend reports as not found.
    #[must_use]
    pub fn whole(&self) -> Self {
        match self.hash {
            None => self.clone(),
            Some(_) => Self::split(self.secret()),
        }
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Deref for KeyName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_checked_once_and_split_at_its_first_hash() {
        let name = KeyName::parse("prod/db#user#name").unwrap();
        assert_eq!((name.secret(), name.field()), ("prod/db", Some("user#name")));
        assert_eq!(name.whole().as_str(), "prod/db");
        let plain = KeyName::parse("OPENAI_API_KEY").unwrap();
        assert_eq!(
            (plain.secret(), plain.field(), &*plain),
            ("OPENAI_API_KEY", None, "OPENAI_API_KEY")
        );
        assert_eq!(KeyName::parse("#f").unwrap().whole().as_str(), "");
        for bad in ["", "A\nB", "A=B"] {
            assert!(KeyName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
