//! Azure role assignments for a config's names: "Key Vault Secrets User" (reads, `check`) and
//! "Key Vault Secrets Officer" (`put`, `delete`), each scoped to one secret, as `az` commands
//! (the vault's resource id comes from `az keyvault show`, which the config cannot know).

use super::{KeyVault, vault_name};
use crate::backend::Backend as _;
use crate::backend::policy::{self, Policy, Wanted};
use crate::error::BackendError;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What an assignee placeholder says when `--principal` is not given.
const ASSIGNEE: &str = "PRINCIPAL_OBJECT_ID";

impl KeyVault {
    pub(super) fn access_policy(&self, wanted: &Wanted<'_>) -> Result<Policy, BackendError> {
        let vault = self
            .uri
            .as_deref()
            .and_then(|uri| azure_core::http::Url::parse(uri).ok())
            .and_then(|url| url.host_str().and_then(|h| h.split('.').next()).map(str::to_owned))
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .ok_or_else(|| BackendError::configuration(self.describe(), "AZURE_KEY_VAULT_URI does not name a vault"))?;
        // One role per secret: the strongest asked for.
        let mut roles: BTreeMap<String, &str> = BTreeMap::new();
        for (names, role) in [
            (wanted.read, "Key Vault Secrets User"),
            (wanted.write, "Key Vault Secrets Officer"),
        ] {
            for name in names {
                let (secret, _) = vault_name(name, self.map_to_dashes).map_err(|reason| BackendError::Name {
                    backend: self.describe(),
                    name: name.clone(),
                    reason,
                })?;
                roles.insert(secret, role);
            }
        }
        let assignee = wanted.principal.unwrap_or(ASSIGNEE);
        // Single-quoted for the shell: `--principal` is an argument like any other, and the
        // script it goes into is run as it is.
        let quoted = crate::escape::shell_quote(assignee);
        let mut notes = vec![format!(
            "the vault `{vault}` must use Azure RBAC (`--enable-rbac-authorization`); a scope must exist, so `put` of a secret not created yet needs the Officer role on the vault"
        )];
        if wanted.principal.is_none() {
            notes.push(format!(
                "replace `{ASSIGNEE}` with the object id of the proxy's identity (--principal)"
            ));
        }
        let mut text = policy::comments(&notes);
        let _ = writeln!(
            text,
            "vault_id=$(az keyvault show --name {vault} --query id --output tsv)"
        );
        let mut assignments = Vec::new();
        for (secret, role) in &roles {
            let _ = writeln!(
                text,
                "az role assignment create --role \"{role}\" --assignee {quoted} --scope \"$vault_id/secrets/{secret}\""
            );
            assignments.push(json!({ "role": role, "assignee": assignee, "vault": vault, "secret": secret }));
        }
        Ok(Policy {
            language: "az-cli",
            text,
            data: json!({ "assignments": assignments }),
            notes,
        })
    }
}
