//! Writing to Secrets Manager (`osenv put`, `osenv delete`): create or add a version, restore
//! a secret scheduled for deletion, replicate a new one, and remove replicas before a delete.

use super::secrets_manager::SecretsManager;
use super::{key_error, send};
use crate::backend::RequestFailure;
use crate::backend::{Backend as _, Context, DeleteMode};
use crate::error::{Attempts, BackendError, KeyError};
use crate::secret::SecretValue;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{ReplicaRegionType, Tag};

impl SecretsManager {
    /// `put`: create the secret, or restore it and add a version; replicate a new one.
    pub(super) async fn put(&self, name: &str, value: &SecretValue, ctx: &Context) -> Result<(), BackendError> {
        self.unversioned(name)?;
        let client = self.client().await?;
        let (created, attempts) = self.create(client, name, value, ctx).await;
        match created {
            Ok(()) => {
                if !self.write.replica_regions.is_empty() {
                    let regions: Vec<ReplicaRegionType> = self
                        .write
                        .replica_regions
                        .iter()
                        .map(|r| ReplicaRegionType::builder().region(r).build())
                        .collect();
                    let (result, _) = send(ctx, || {
                        client
                            .replicate_secret_to_regions()
                            .secret_id(name)
                            .set_add_replica_regions(Some(regions.clone()))
                            .send()
                    })
                    .await;
                    if let Err(f) = result {
                        tracing::warn!(
                            "`{name}` was created but not replicated to {}: {f}",
                            self.write.replica_regions.join(", ")
                        );
                    }
                }
                return Ok(());
            }
            Err(f) if f.code.as_deref() == Some("ResourceExistsException") => {}
            Err(f) => return Err(self.request_failed("CreateSecret", f, attempts)),
        }
        // It exists: restore it if it is scheduled for deletion, then add a version.
        let (described, attempts) = send(ctx, || client.describe_secret().secret_id(name).send()).await;
        let described = described.map_err(|f| self.request_failed("DescribeSecret", f, attempts))?;
        if described.deleted_date().is_some() {
            let (restored, attempts) = send(ctx, || client.restore_secret().secret_id(name).send()).await;
            restored.map_err(|f| self.request_failed("RestoreSecret", f, attempts))?;
            tracing::info!(name, "restored a secret that was scheduled for deletion");
        }
        let (put, attempts) = send(ctx, || {
            client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value.expose())
                .send()
        })
        .await;
        put.map(drop)
            .map_err(|f| self.request_failed("PutSecretValue", f, attempts))
    }

    /// `delete`: recoverable or forced, after removing replicas AWS would refuse it with.
    pub(super) async fn remove(&self, name: &str, mode: DeleteMode, ctx: &Context) -> Result<(), BackendError> {
        self.unversioned(name)?;
        let client = self.client().await?;
        // A forced delete of a secret that does not exist succeeds on AWS (so that retries are
        // safe), which would let a mistyped name "succeed": look first. A denied look (a policy
        // that allows DeleteSecret only) is no answer, so the delete goes ahead.
        if mode == DeleteMode::Permanent
            && let Err(KeyError::NotFound { .. }) = self.describe_one(client, name, None, ctx).await
        {
            return Err(BackendError::Missing {
                backend: self.describe(),
                name: name.to_owned(),
                operation: "delete",
            });
        }
        let delete = || async {
            send(ctx, || {
                let request = client.delete_secret().secret_id(name);
                match mode {
                    DeleteMode::Recoverable => request.recovery_window_in_days(7),
                    DeleteMode::Permanent => request.force_delete_without_recovery(true),
                }
                .send()
            })
            .await
        };
        let (mut result, mut attempts) = delete().await;
        // AWS refuses to delete a secret that still has replicas (which `put` creates from
        // `replica_regions`): remove them, then delete.
        if let Err(f) = &result
            && f.code.as_deref() == Some("InvalidParameterException")
            && f.message.contains("replica")
        {
            self.remove_replicas(client, name, ctx).await?;
            (result, attempts) = delete().await;
        }
        result.map(drop).map_err(|f| match key_error(&f, &self.within()) {
            Some(KeyError::NotFound { .. }) => BackendError::Missing {
                backend: self.describe(),
                name: name.to_owned(),
                operation: "delete",
            },
            _ => self.request_failed("DeleteSecret", f, attempts),
        })
    }

    async fn create(
        &self,
        client: &Client,
        name: &str,
        value: &SecretValue,
        ctx: &Context,
    ) -> (Result<(), RequestFailure>, Attempts) {
        let tags: Vec<Tag> = self
            .write
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let (result, attempts) = send(ctx, || {
            client
                .create_secret()
                .name(name)
                .secret_string(value.expose())
                .set_description(self.write.description.clone())
                .set_kms_key_id(self.write.kms_key_id.clone())
                .set_tags((!tags.is_empty()).then(|| tags.clone()))
                .send()
        })
        .await;
        (result.map(drop), attempts)
    }

    async fn remove_replicas(&self, client: &Client, name: &str, ctx: &Context) -> Result<(), BackendError> {
        let (described, attempts) = send(ctx, || client.describe_secret().secret_id(name).send()).await;
        let described = described.map_err(|f| self.request_failed("DescribeSecret", f, attempts))?;
        let regions: Vec<String> = described
            .replication_status()
            .iter()
            .filter_map(|r| r.region().map(str::to_owned))
            .collect();
        if regions.is_empty() {
            return Ok(());
        }
        let (removed, attempts) = send(ctx, || {
            client
                .remove_regions_from_replication()
                .secret_id(name)
                .set_remove_replica_regions(Some(regions.clone()))
                .send()
        })
        .await;
        removed.map_err(|f| self.request_failed("RemoveRegionsFromReplication", f, attempts))?;
        tracing::info!(name, regions = %regions.join(", "), "removed replicas before deleting");
        Ok(())
    }
}
