//! A Conjur policy for a config's names: `!permit` of `read` (the resource, which `check`
//! reads) and `execute` (the value) on each variable, `update` for `put`; writing a variable
//! that does not exist yet and `delete` load policy into `root`, which needs `create` and
//! `update` on it.

use super::Conjur;
use crate::backend::Backend as _;
use crate::backend::policy::{self, Policy, Wanted};
use crate::error::BackendError;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;

impl Conjur {
    pub(super) fn access_policy(&self, wanted: &Wanted<'_>) -> Result<Policy, BackendError> {
        // The role: `--principal`, else the login (`host/ID` is a host, anything else a user).
        let login = wanted.principal.unwrap_or(&self.config.login);
        let (kind, id) = match login.split_once('/') {
            Some(("host", id)) => ("host", id),
            Some(("user", id)) => ("user", id),
            _ => ("user", login),
        };
        let mut privileges: BTreeMap<&str, &[&str]> = BTreeMap::new();
        let mut refused = Vec::new();
        for (names, granted) in [
            (wanted.read, &["read", "execute"][..]),
            (wanted.write, &["read", "execute", "update"][..]),
        ] {
            for name in names {
                match policy::literal(name, &[]) {
                    Ok(name) => {
                        let entry = privileges.entry(name).or_default();
                        if granted.len() > entry.len() {
                            *entry = granted;
                        }
                    }
                    Err(widening) => refused.push(widening),
                }
            }
        }
        if !refused.is_empty() {
            return Err(policy::refused(&self.describe(), &refused));
        }
        let notes = vec![format!(
            "load it into the branch that declares the variables, as a role that may update it (`conjur policy update -b root -f FILE`; account `{}`)",
            self.config.account
        )];
        let mut text = policy::comments(&notes);
        let mut permits = Vec::new();
        for (variable, granted) in &privileges {
            let _ = writeln!(
                text,
                "- !permit\n  role: !{kind} {}\n  privileges: [ {} ]\n  resource: !variable {}",
                policy::quoted(id),
                granted.join(", "),
                policy::quoted(variable)
            );
            permits.push(json!({ "role": format!("{kind}:{id}"), "privileges": granted, "resource": format!("variable:{variable}") }));
        }
        if !wanted.write.is_empty() {
            let _ = writeln!(
                text,
                "- !permit\n  role: !{kind} {}\n  privileges: [ read, create, update ]\n  resource: !policy root",
                policy::quoted(id)
            );
            permits.push(json!({ "role": format!("{kind}:{id}"), "privileges": ["read", "create", "update"], "resource": "policy:root" }));
        }
        Ok(Policy {
            language: "conjur-policy",
            text,
            data: json!({ "permits": permits }),
            notes,
        })
    }
}
