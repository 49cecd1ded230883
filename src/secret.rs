//! [`SecretValue`]: a resolved secret that does not print itself.
//!
//! `Debug` and `Display` redact, so a value that ends up in a log line, an error or a panic
//! message shows `<redacted>`. Only the renderers call [`SecretValue::expose`]. The memory is
//! zeroized when the value is dropped.

use std::fmt;
use zeroize::Zeroizing;

/// A secret string. Redacted in `Debug` and `Display`, zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Wrap a value that must not be printed.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
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
}
