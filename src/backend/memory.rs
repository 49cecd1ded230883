//! An in-memory backend for unit tests of routing and of the resolver's contract: it records
//! what it was asked and can be made to break the one-result-per-key rule.

use super::{Backend, Context, KeyResults};
use crate::backend::KeyName;
use crate::error::{BackendError, KeyError, Within};
use crate::secret::SecretValue;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Secrets held in a map.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    values: BTreeMap<String, String>,
    asked: Mutex<Vec<Vec<String>>>,
    /// The deadline of each call's context.
    deadlines: Mutex<Vec<tokio::time::Instant>>,
    finished: AtomicUsize,
    short: bool,
    /// How long [`Backend::finish`] takes (a Vault revocation against a hung server).
    finishing: std::time::Duration,
}

impl Memory {
    pub(crate) fn new<'a>(values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            values: values.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            ..Self::default()
        }
    }

    /// Answer one result fewer than asked, as a broken backend would.
    pub(crate) fn answering_short(mut self) -> Self {
        self.short = true;
        self
    }

    /// Take `time` to finish, as a revocation a hung server never answers.
    pub(crate) fn finishing_in(mut self, time: std::time::Duration) -> Self {
        self.finishing = time;
        self
    }

    /// The keys of every call so far.
    pub(crate) fn asked(&self) -> Vec<Vec<String>> {
        self.asked.lock().expect("not poisoned").clone()
    }

    /// The deadline each call was given.
    pub(crate) fn deadlines(&self) -> Vec<tokio::time::Instant> {
        self.deadlines.lock().expect("not poisoned").clone()
    }

    /// How often [`Backend::finish`] was called.
    pub(crate) fn finished(&self) -> usize {
        self.finished.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Backend for Memory {
    fn describe(&self) -> String {
        "memory (test)".into()
    }

    async fn fetch(&self, keys: &[KeyName], ctx: &Context) -> Result<KeyResults<SecretValue>, BackendError> {
        self.asked
            .lock()
            .expect("not poisoned")
            .push(keys.iter().map(ToString::to_string).collect());
        self.deadlines.lock().expect("not poisoned").push(ctx.deadline);
        let answered = if self.short {
            keys.len().saturating_sub(1)
        } else {
            keys.len()
        };
        Ok(keys[..answered]
            .iter()
            .map(|k| {
                self.values
                    .get(k.as_str())
                    .map(|v| SecretValue::new(v.as_str()))
                    .ok_or_else(|| KeyError::NotFound {
                        within: Within::backend(self.describe()),
                    })
            })
            .collect())
    }

    async fn finish(&self) {
        tokio::time::sleep(self.finishing).await;
        self.finished.fetch_add(1, Ordering::Relaxed);
    }
}
