//! Which Microsoft Entra credential the Azure backend uses, chosen the way
//! `DefaultAzureCredential` users expect, in this order:
//!
//! 1. client secret: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`
//!    (`AZURE_AUTHORITY_HOST` for another cloud);
//! 2. workload identity (AKS): `AZURE_FEDERATED_TOKEN_FILE` with `AZURE_TENANT_ID` and
//!    `AZURE_CLIENT_ID`;
//! 3. managed identity: App Service / Functions / Container Apps (`IDENTITY_ENDPOINT` and
//!    `IDENTITY_HEADER`), else the VM and AKS instance metadata service; `AZURE_CLIENT_ID`
//!    selects a user-assigned identity;
//! 4. the Azure CLI (`az login`), tried when the metadata service does not answer.
//!
//! 1 and 2 are chosen when their variables are set (also from `--env-file`); a half-set
//! client-secret configuration is an error rather than a silent fall-through.

use crate::environment::Environment;
use crate::provenance::{Setting, var as v};
use async_trait::async_trait;
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use std::sync::Arc;
use std::time::Duration;

/// The chosen credential and how messages name it.
pub struct Chosen {
    /// The credential.
    pub credential: Arc<dyn TokenCredential>,
    /// e.g. `client secret (AZURE_CLIENT_ID=…)`.
    pub method: String,
}

/// Why no Azure credential can be set up from the environment.
#[derive(Debug, thiserror::Error)]
pub enum CredentialProblem {
    /// A client secret without the tenant and client it belongs to.
    #[error("AZURE_CLIENT_SECRET is set, but AZURE_TENANT_ID and AZURE_CLIENT_ID are both needed with it")]
    HalfClientSecret,
    /// The SDK refused to build the credential.
    #[error("{0}")]
    Sdk(#[from] azure_core::Error),
}

/// Pick the credential from the environment.
pub fn choose(env: &Environment) -> Result<Chosen, CredentialProblem> {
    let var = |name: Setting| env.backend_setting(name);
    let tenant = var(v::AZURE_TENANT_ID);
    let client = var(v::AZURE_CLIENT_ID);
    let secret = env
        .backend_secret(v::AZURE_CLIENT_SECRET)
        .filter(|v| !v.expose().is_empty());
    match (&tenant, &client, secret) {
        (Some(tenant), Some(client), Some(secret)) => {
            let credential =
                ClientSecretCredential::new(tenant, client.clone(), Secret::new(secret.expose().to_owned()), None)?;
            return Ok(Chosen {
                credential,
                method: format!("client secret (AZURE_CLIENT_ID={client})"),
            });
        }
        (_, _, Some(_)) => {
            return Err(CredentialProblem::HalfClientSecret);
        }
        _ => {}
    }
    if let Some(file) = var(v::AZURE_FEDERATED_TOKEN_FILE) {
        let credential = WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
            client_id: client.clone(),
            tenant_id: tenant,
            token_file_path: Some(file.into()),
            ..Default::default()
        }))?;
        return Ok(Chosen {
            credential,
            method: "workload identity (AZURE_FEDERATED_TOKEN_FILE)".into(),
        });
    }
    let managed = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        user_assigned_id: client.clone().map(UserAssignedId::ClientId),
        ..Default::default()
    }))?;
    let which = client.map_or_else(String::new, |c| format!(", AZURE_CLIENT_ID={c}"));
    if var(v::IDENTITY_ENDPOINT).is_some() {
        return Ok(Chosen {
            credential: managed,
            method: format!("managed identity (IDENTITY_ENDPOINT{which})"),
        });
    }
    let cli = AzureCliCredential::new(None)?;
    Ok(Chosen {
        credential: Arc::new(ManagedThenCli { managed, cli }),
        method: format!("managed identity (instance metadata{which}), then the Azure CLI"),
    })
}

/// The metadata service, with a short timeout off Azure, then `az`.
#[derive(Debug)]
struct ManagedThenCli {
    managed: Arc<ManagedIdentityCredential>,
    cli: Arc<AzureCliCredential>,
}

#[async_trait]
impl TokenCredential for ManagedThenCli {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let probe = tokio::time::timeout(Duration::from_secs(2), self.managed.get_token(scopes, options.clone())).await;
        let managed_error = match probe {
            Ok(Ok(token)) => return Ok(token),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the instance metadata service did not answer within 2s".to_owned(),
        };
        self.cli.get_token(scopes, options).await.map_err(|cli| {
            azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                format!("no Azure credential: managed identity: {managed_error}; Azure CLI: {cli}"),
            )
        })
    }
}
