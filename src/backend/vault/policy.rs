//! The Vault ACL policy (HCL, and Vault's JSON form of it) for a config's names: exactly the
//! paths this backend requests ([`Vault::url`]'s paths, without the address): `data/` for
//! reads, `metadata/` for `check` (KV v2), and for `put`/`delete` the writes, the look before a
//! delete and `--force`'s metadata delete.

use super::{KvVersion, Vault};
use crate::backend::Backend as _;
use crate::backend::policy::{self, Policy, Wanted};
use crate::error::BackendError;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Glob characters of Vault policy paths.
const WILDCARDS: &[char] = &['*', '+'];

/// A capability, in the order Vault's documentation lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Capability {
    Create,
    Read,
    Update,
    Delete,
}

impl Capability {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Read => "read",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

impl Vault {
    /// The policy for `wanted`. Paths are relative to the namespace the proxy logs in to
    /// (the policy is written there): the secret namespace below it is part of each path.
    pub(super) fn access_policy(&self, wanted: &Wanted<'_>) -> Result<Policy, BackendError> {
        use Capability::{Create, Delete, Read, Update};
        if let Some(invalid) = self.config.refusal() {
            return Err(BackendError::configuration(self.describe(), invalid));
        }
        let (below, written_in) = self.policy_namespace();
        let mut paths: BTreeMap<String, BTreeSet<Capability>> = BTreeMap::new();
        let mut refused = Vec::new();
        for (names, write) in [(wanted.read, false), (wanted.write, true)] {
            for name in names {
                let path = self.parse_path(name).map_err(|reason| self.unstorable(name, reason))?;
                let raw = path.segments.join("/");
                let mut grant = |kind: &str, capabilities: &[Capability]| {
                    let full = format!("{below}{}", self.api_path(kind, &raw));
                    match policy::literal(&full, WILDCARDS) {
                        Ok(_) => paths.entry(full).or_default().extend(capabilities),
                        Err(widening) => refused.push(widening),
                    }
                };
                match (self.config.kv, write) {
                    (KvVersion::V2, false) => {
                        grant("data", &[Read]);
                        grant("metadata", &[Read]);
                    }
                    (KvVersion::V2, true) => {
                        grant("data", &[Create, Read, Update, Delete]);
                        grant("metadata", &[Read, Delete]);
                    }
                    (KvVersion::V1, false) => grant("data", &[Read]),
                    (KvVersion::V1, true) => grant("data", &[Create, Read, Update, Delete]),
                }
            }
        }
        if !refused.is_empty() {
            refused.dedup();
            return Err(policy::refused(&self.describe(), &refused));
        }
        let notes = vec![format!(
            "write it in {} (`vault policy write NAME FILE`), and keep the `default` policy on the proxy's tokens: osenv renews and revokes its own login token (`auth/token/renew-self`, `revoke-self`)",
            written_in.map_or_else(|| "the root namespace".to_owned(), |ns| format!("namespace `{ns}`"))
        )];
        let mut text = policy::comments(&notes);
        let mut data = serde_json::Map::new();
        for (path, capabilities) in &paths {
            let list: Vec<&str> = capabilities.iter().map(|c| c.as_str()).collect();
            let shown: Vec<String> = list.iter().map(|c| policy::quoted(c)).collect();
            let _ = writeln!(
                text,
                "\npath {} {{\n  capabilities = [{}]\n}}",
                policy::quoted(path),
                shown.join(", ")
            );
            data.insert(path.clone(), serde_json::json!({ "capabilities": list }));
        }
        Ok(Policy {
            language: "hcl",
            text,
            data: serde_json::json!({ "path": data }),
            notes,
        })
    }

    /// What each path starts with, and the namespace the policy is written in: the login
    /// namespace, with the secret namespace's part below it in each path.
    fn policy_namespace(&self) -> (String, Option<&str>) {
        let login = self.config.login_namespace.as_deref();
        match (self.config.secret_namespace.as_deref(), login) {
            (None, _) => (String::new(), login),
            (Some(secret), Some(login)) if secret == login => (String::new(), Some(login)),
            (Some(secret), Some(login)) if secret.starts_with(&format!("{login}/")) => {
                (format!("{}/", &secret[login.len() + 1..]), Some(login))
            }
            (Some(secret), _) => (format!("{secret}/"), None),
        }
    }
}
