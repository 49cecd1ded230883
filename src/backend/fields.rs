//! `NAME#field` on the services that store one value per secret (AWS Secrets Manager, Google
//! Secret Manager, Azure Key Vault): the secret holds a JSON object, and the reference takes one
//! of its fields, as vals (`#/a`), External Secrets (`property`) and the AWS CSI provider
//! (`jmesPath`) allow. `#` is not a legal character in any of those services' names, so the
//! grammar is unambiguous.
//!
//! [`Fields`] wraps such a backend: the names are split at the first `#`, the secrets (with any
//! `@version` the backend reads) are fetched once each, in the backend's own batching, however
//! many fields are taken from one, and each field is picked from its secret. A string field is
//! the value; a number or boolean is written as its JSON text (as Vault's fields are); a missing
//! or `null` field, a value that is not a JSON object, and a list or object field are errors at
//! the reference that say which.

use super::{Backend, Context, DeleteMode, KeyResults};
use crate::backend::KeyName;
use crate::error::{BackendError, KeyError, Place, Problem, Within};
use crate::secret::SecretValue;
use async_trait::async_trait;
use rustc_hash::FxHashMap as HashMap;
use serde_json::Value;
use std::sync::Arc;

/// A backend whose names may take a `#field`.
pub struct Fields {
    inner: Arc<dyn Backend>,
}

impl Fields {
    /// Wrap `inner`.
    pub fn wrap(inner: Arc<dyn Backend>) -> Arc<dyn Backend> {
        Arc::new(Self { inner })
    }
}

/// The distinct secrets `keys` read (in first-seen order) and, per key, its secret's index.
fn secrets_of(keys: &[KeyName]) -> (Vec<KeyName>, Vec<usize>) {
    let mut secrets: Vec<KeyName> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::default();
    let mut of_key = Vec::with_capacity(keys.len());
    for key in keys {
        let i = *index.entry(key.secret()).or_insert_with(|| {
            secrets.push(key.whole());
            secrets.len() - 1
        });
        of_key.push(i);
    }
    (secrets, of_key)
}

/// The field `field` of the JSON object in `value`.
pub fn pick(value: &SecretValue, field: &str, secret: &str, backend: &str) -> Result<SecretValue, KeyError> {
    let within = || Within::backend(backend).at(Place::At(secret.to_owned()));
    if field.is_empty() {
        return Err(KeyError::InvalidName {
            reason: "nothing after `#`: name a field of the secret's JSON object".into(),
        });
    }
    let object = match serde_json::from_str::<Value>(value.expose()) {
        Ok(Value::Object(object)) => object,
        Ok(other) => {
            return Err(KeyError::InvalidValue {
                within: within(),
                reason: Problem::NotAnObject(Box::new((field.to_owned(), kind(&other)))),
            });
        }
        Err(_) => {
            return Err(KeyError::InvalidValue {
                within: within(),
                reason: Problem::NotJson(field.into()),
            });
        }
    };
    object.values().for_each(crate::secret::withhold_json);
    match object.get(field) {
        Some(Value::String(s)) => Ok(SecretValue::withheld(s.as_str())),
        Some(number @ Value::Number(_)) => Ok(SecretValue::withheld(number.to_string())),
        Some(boolean @ Value::Bool(_)) => Ok(SecretValue::withheld(boolean.to_string())),
        None | Some(Value::Null) => Err(KeyError::NotFound {
            within: Within::backend(backend).at(Place::Field {
                field: field.to_owned(),
                at: secret.to_owned(),
            }),
        }),
        Some(other) => Err(KeyError::InvalidValue {
            within: Within::backend(backend).at(Place::Field {
                field: field.to_owned(),
                at: secret.to_owned(),
            }),
            reason: Problem::FieldNotText(kind(other)),
        }),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[async_trait]
impl Backend for Fields {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn fetch(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        if keys.iter().all(|k| k.field().is_none()) {
            return self.inner.fetch(keys, ctx).await;
        }
        let (secrets, of_key) = secrets_of(keys);
        let fetched = self.inner.fetch(&secrets, ctx).await?;
        if fetched.len() != secrets.len() {
            return Err(BackendError::Answers {
                backend: self.describe(),
                asked: secrets.len(),
                answered: fetched.len(),
            });
        }
        let backend = self.describe();
        Ok(keys
            .iter()
            .zip(of_key)
            .map(|(key, i)| match (&fetched[i], key.field()) {
                (Ok(value), None) => Ok(value.clone()),
                (Ok(value), Some(field)) => pick(value, field, key.secret(), &backend),
                (Err(e), _) => Err(e.clone()),
            })
            .collect())
    }

    /// The secrets exist (a field is proved only by reading the value, which `check` does not).
    async fn exists(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<()>, BackendError> {
        if keys.iter().all(|k| k.field().is_none()) {
            return self.inner.exists(keys, ctx).await;
        }
        let (secrets, of_key) = secrets_of(keys);
        let found = self.inner.exists(&secrets, ctx).await?;
        if found.len() != secrets.len() {
            return Err(BackendError::Answers {
                backend: self.describe(),
                asked: secrets.len(),
                answered: found.len(),
            });
        }
        Ok(of_key.into_iter().map(|i| found[i].clone()).collect())
    }

    async fn write(&self, name: &str, value: &SecretValue, ctx: &Context) -> Result<(), BackendError> {
        self.whole(name)?;
        self.inner.write(name, value, ctx).await
    }

    async fn delete(&self, name: &str, mode: DeleteMode, ctx: &Context) -> Result<(), BackendError> {
        self.whole(name)?;
        self.inner.delete(name, mode, ctx).await
    }

    /// A `#field` is part of its secret: the policy is the secret's.
    fn policy(
        &self,
        wanted: &crate::backend::policy::Wanted<'_>,
    ) -> Result<crate::backend::policy::Policy, BackendError> {
        let secrets = |names: &[String]| {
            let mut secrets: Vec<String> = names.iter().map(|n| KeyName::secret_of(n).to_owned()).collect();
            secrets.sort_unstable();
            secrets.dedup();
            secrets
        };
        let (read, write) = (secrets(wanted.read), secrets(wanted.write));
        self.inner.policy(&crate::backend::policy::Wanted {
            read: &read,
            write: &write,
            principal: wanted.principal,
        })
    }

    async fn finish(&self) {
        self.inner.finish().await;
    }
}

impl Fields {
    /// Writes and deletes take whole secrets here.
    fn whole(&self, name: &str) -> Result<(), BackendError> {
        if name.contains('#') {
            return Err(BackendError::Name {
                backend: self.describe(),
                name: name.to_owned(),
                reason: "a `#field` cannot be written or deleted on its own here: write the whole JSON secret under its name".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::memory::Memory;

    #[tokio::test]
    async fn one_read_per_secret_however_many_fields() {
        let memory = Arc::new(Memory::new([
            (
                "prod/litellm",
                r#"{"OPENAI_API_KEY": "sk-1", "PORT": 5432, "TLS": true, "LIST": [1], "NULL": null}"#,
            ),
            ("plain", "not json"),
            ("array", "[1, 2]"),
        ]));
        let fields = Fields::wrap(Arc::clone(&memory) as Arc<dyn Backend>);
        let keys: Vec<KeyName> = [
            "prod/litellm#OPENAI_API_KEY",
            "prod/litellm#PORT",
            "prod/litellm#TLS",
            "prod/litellm#MISSING",
            "prod/litellm#NULL",
            "prod/litellm#LIST",
            "plain#x",
            "array#x",
            "plain",
            "prod/litellm#",
            "absent#x",
        ]
        .map(|k| KeyName::parse(k).unwrap())
        .to_vec();
        let ctx = Context::new(
            4,
            std::time::Duration::from_secs(5),
            crate::backend::transport::retry::RetryPolicy::default(),
        );
        let results = fields.fetch(&keys, &ctx).await.unwrap();
        let shown: Vec<String> = results
            .iter()
            .map(|r| match r {
                Ok(v) => format!("ok {}", v.expose()),
                Err(e) => format!("err {e}"),
            })
            .collect();
        assert_eq!(shown[0], "ok sk-1");
        assert_eq!(shown[1], "ok 5432");
        assert_eq!(shown[2], "ok true");
        assert!(
            shown[3].starts_with("err not found in field `MISSING` of"),
            "{}",
            shown[3]
        );
        assert!(shown[4].starts_with("err not found in field `NULL` of"), "{}", shown[4]);
        assert!(shown[5].contains("the field is a list, not a string"), "{}", shown[5]);
        assert!(
            shown[6].contains("the secret is not JSON (value not shown)"),
            "{}",
            shown[6]
        );
        assert!(shown[7].contains("holds JSON a list"), "{}", shown[7]);
        assert_eq!(shown[8], "ok not json");
        assert!(shown[9].contains("nothing after `#`"), "{}", shown[9]);
        assert!(shown[10].starts_with("err not found"), "{}", shown[10]);
        // Four distinct secrets were asked for, once each, in one call.
        assert_eq!(memory.asked(), vec![vec!["prod/litellm", "plain", "array", "absent"]]);
    }
}
