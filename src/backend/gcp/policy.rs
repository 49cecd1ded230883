//! IAM bindings for a config's names: roles conditioned on `resource.name` (IAM Conditions),
//! so one binding on the project grants exactly these secrets; Cloud KMS: the decrypter role on
//! the one key.

use super::kms::GoogleKms;
use super::secret_manager::{SecretManager, SecretName};
use crate::backend::Backend as _;
use crate::backend::policy::{self, Policy, Wanted};
use crate::error::BackendError;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// What a member placeholder says when `--principal` is not given.
const MEMBER: &str = "serviceAccount:SERVICE_ACCOUNT_EMAIL";

/// One binding, conditioned on `expression` when it has one.
fn binding(role: &str, member: &str, title: &str, expression: Option<String>) -> Value {
    let mut binding = json!({ "role": role, "members": [member] });
    if let Some(expression) = expression {
        binding["condition"] = json!({ "title": title, "expression": expression });
    }
    binding
}

/// The bindings as YAML (`gcloud … set-iam-policy` reads it; a JSON string is a YAML scalar).
fn yaml(header: &[String], bindings: &[Value], resource: Option<&str>) -> String {
    let mut text = policy::comments(header);
    if let Some(resource) = resource {
        let _ = writeln!(text, "resource: {}", policy::quoted(resource));
    }
    text.push_str("bindings:\n");
    for b in bindings {
        let _ = writeln!(text, "- role: {}\n  members:", b["role"]);
        for m in b["members"].as_array().into_iter().flatten() {
            let _ = writeln!(text, "  - {m}");
        }
        if let Some(c) = b.get("condition") {
            let _ = writeln!(
                text,
                "  condition:\n    title: {}\n    expression: {}",
                c["title"], c["expression"]
            );
        }
    }
    text
}

/// `resource.name` is the secret, or one of its versions.
fn condition(secrets: &BTreeSet<String>) -> String {
    secrets
        .iter()
        .map(|s| {
            format!(
                "resource.name == {0} || resource.name.startsWith({1})",
                policy::quoted(s),
                policy::quoted(&format!("{s}/"))
            )
        })
        .collect::<Vec<_>>()
        .join(" || ")
}

impl SecretManager {
    /// `roles/secretmanager.secretAccessor` (reads: `AccessSecretVersion`) and
    /// `roles/secretmanager.viewer` (`check`: `GetSecretVersion`) on the read secrets;
    /// `roles/secretmanager.secretVersionAdder` and `roles/secretmanager.admin` (create and
    /// delete) on the written ones.
    pub(super) fn access_policy(&self, wanted: &Wanted<'_>) -> Result<Policy, BackendError> {
        let secrets = |names: &[String]| -> Result<BTreeSet<String>, BackendError> {
            names
                .iter()
                .map(|name| {
                    SecretName::parse(name, self.project.as_deref())
                        .map(|n| n.secret)
                        .map_err(|reason| BackendError::Name {
                            backend: self.describe(),
                            name: name.clone(),
                            reason: reason.into(),
                        })
                })
                .collect()
        };
        let (read, write) = (secrets(wanted.read)?, secrets(wanted.write)?);
        let member = wanted.principal.unwrap_or(MEMBER);
        let mut bindings = Vec::new();
        if !read.is_empty() {
            bindings.push(binding(
                "roles/secretmanager.secretAccessor",
                member,
                "osenv-read",
                Some(condition(&read)),
            ));
            bindings.push(binding(
                "roles/secretmanager.viewer",
                member,
                "osenv-check",
                Some(condition(&read)),
            ));
        }
        if !write.is_empty() {
            bindings.push(binding(
                "roles/secretmanager.secretVersionAdder",
                member,
                "osenv-put",
                Some(condition(&write)),
            ));
            bindings.push(binding(
                "roles/secretmanager.admin",
                member,
                "osenv-create-delete",
                Some(condition(&write)),
            ));
        }
        let mut notes = vec![
            "IAM Conditions compare resource.name with the project NUMBER (`projects/123456789012/…`): where the config names the project by its id, replace it in the expressions".to_owned(),
            "add these to the project's IAM policy (`gcloud projects get-iam-policy`, edit, `set-iam-policy`); conditional bindings need policy version 3".to_owned(),
        ];
        if wanted.principal.is_none() {
            notes.push(format!("replace `{MEMBER}` with the proxy's identity (--principal)"));
        }
        Ok(Policy {
            language: "iam-bindings",
            text: yaml(&notes, &bindings, None),
            data: json!({ "bindings": bindings }),
            notes,
        })
    }
}

impl GoogleKms {
    /// `roles/cloudkms.cryptoKeyDecrypter` on the key (`GOOGLE_KMS_RESOURCE_NAME`).
    pub(super) fn access_policy(&self, wanted: &Wanted<'_>) -> Result<Policy, BackendError> {
        let key = self.key.as_deref().ok_or_else(|| self.no_key())?;
        if let Err(widening) = policy::literal(key, &[]) {
            return Err(policy::refused(&self.describe(), &[widening]));
        }
        let member = wanted.principal.unwrap_or(MEMBER);
        let bindings = if wanted.read.is_empty() {
            Vec::new()
        } else {
            vec![binding("roles/cloudkms.cryptoKeyDecrypter", member, "", None)]
        };
        let mut notes = vec!["add it to the key's IAM policy (`gcloud kms keys add-iam-policy-binding`)".to_owned()];
        if wanted.principal.is_none() {
            notes.push(format!("replace `{MEMBER}` with the proxy's identity (--principal)"));
        }
        Ok(Policy {
            language: "iam-bindings",
            text: yaml(&notes, &bindings, Some(key)),
            data: json!({ "resource": key, "bindings": bindings }),
            notes,
        })
    }
}
