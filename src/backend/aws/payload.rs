//! What a secret's answer holds: `SecretString` verbatim, a binary secret only as UTF-8 text;
//! and how an error names a JSON value's kind (a `#field` that is not a string).

use crate::error::{KeyError, Problem, Within};
use crate::secret::SecretValue;
use aws_sdk_secretsmanager::primitives::Blob;

/// `SecretString` verbatim; a binary secret only when it is UTF-8 text.
pub(super) fn value_of(string: Option<&str>, binary: Option<&Blob>, within: &Within) -> Result<SecretValue, KeyError> {
    match (string, binary) {
        (Some(s), _) => Ok(SecretValue::withheld(s)),
        (None, Some(b)) => {
            std::str::from_utf8(b.as_ref())
                .map(SecretValue::withheld)
                .map_err(|_| KeyError::InvalidValue {
                    within: within.clone(),
                    reason: Problem::Binary,
                })
        }
        (None, None) => Err(KeyError::InvalidValue {
            within: within.clone(),
            reason: Problem::NoValue,
        }),
    }
}

/// How an error names a JSON value's type.
pub(super) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_secrets_must_be_text() {
        let ok = value_of(None, Some(&Blob::new(b"text".to_vec())), &Within::backend("w")).unwrap();
        assert_eq!(ok.expose(), "text");
        let err = value_of(None, Some(&Blob::new(vec![0xff, 0xfe])), &Within::backend("w")).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        assert_eq!(value_of(Some("s"), None, &Within::backend("w")).unwrap().expose(), "s");
    }
}
