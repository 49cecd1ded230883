//! IAM policy documents for a config's names: the actions this backend's requests are (no
//! wildcard action), on each secret's ARN pattern (`…:secret:NAME-??????`: Secrets Manager
//! appends six random characters to every ARN), in the region the settings name and the
//! account of `aws_role_name` when there is one; `*` where neither is known here.

use super::AwsSettings;
use super::kms::Kms;
use super::names::version_of;
use super::secrets_manager::SecretsManager;
use crate::backend::Backend as _;
use crate::backend::policy::{self, Policy, Wanted};
use crate::error::BackendError;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// IAM's wildcards in a resource ARN.
const WILDCARDS: &[char] = &['*', '?'];

impl AwsSettings {
    /// `aws`, `aws-cn` or `aws-us-gov`, by the region; `aws` when the region is not known.
    fn partition(&self) -> &'static str {
        match self.region.as_deref() {
            Some(r) if r.starts_with("cn-") => "aws-cn",
            Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
            _ => "aws",
        }
    }

    /// The account of the role this run assumes (`arn:PARTITION:iam::ACCOUNT:role/NAME`).
    fn account(&self) -> Option<&str> {
        let arn = self.role_arn.as_deref()?;
        let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
        (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:`, with `*` for what is not known here, and notes
    /// saying so.
    fn arn_prefix(&self, service: &str, notes: &mut Vec<String>) -> String {
        let region = self.region.as_deref().unwrap_or_else(|| {
            notes.push("no region in the settings or the environment: every region (`*`); set aws_region_name or AWS_REGION to narrow it".into());
            "*"
        });
        let account = self.account().unwrap_or_else(|| {
            notes.push("the account id is not known here (only aws_role_name's ARN says it): every account (`*`); replace it with yours".into());
            "*"
        });
        format!("arn:{}:{service}:{region}:{account}:", self.partition())
    }
}

/// One `Allow` statement.
fn allow(sid: &str, actions: &[&str], resources: &BTreeSet<String>) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources.iter().collect::<Vec<_>>(),
    })
}

fn document(statements: &[Value], notes: Vec<String>) -> Policy {
    let data = json!({ "Version": "2012-10-17", "Statement": statements });
    Policy {
        language: "iam-policy",
        text: serde_json::to_string_pretty(&data).expect("a policy serializes") + "\n",
        data,
        notes,
    }
}

impl SecretsManager {
    /// `GetSecretValue` (reads, also what `BatchGetSecretValue` checks per secret) and
    /// `DescribeSecret` (`check`) on each secret; `BatchGetSecretValue` on `*`, the only
    /// resource AWS accepts for it; the writes `put` and `delete` make; `kms:Decrypt` (and
    /// `GenerateDataKey` for writes) on `kms_key_id`.
    pub(super) fn access_policy(&self, wanted: &Wanted<'_>) -> Result<Policy, BackendError> {
        let mut notes = Vec::new();
        let prefix = self.aws.arn_prefix("secretsmanager", &mut notes);
        let mut refused = Vec::new();
        let mut arn = |id: &str| -> Option<String> {
            let arn = match id.strip_prefix("arn:") {
                // A full ARN ends in its six random characters; a partial one gets the pattern.
                Some(_) if id.rsplit_once('-').is_some_and(|(_, tail)| tail.len() == 6) => id.to_owned(),
                Some(_) => format!("{id}-??????"),
                None => format!("{prefix}secret:{id}-??????"),
            };
            match policy::literal(id, WILDCARDS) {
                Ok(_) => Some(arn),
                Err(widening) => {
                    refused.push(widening);
                    None
                }
            }
        };
        let mut statements = Vec::new();
        let mut read = BTreeSet::new();
        let mut batch = false;
        if let Some(primary) = &self.primary {
            // Every name is a key of one secret, read whole by `GetSecretValue`.
            if !wanted.read.is_empty() {
                read.extend(arn(&primary.value));
            }
        } else {
            for name in wanted.read {
                let (id, version) = version_of(name);
                batch |= version.is_none() && self.batch;
                read.extend(arn(id));
            }
        }
        let write: BTreeSet<String> = wanted.write.iter().filter_map(|n| arn(version_of(n).0)).collect();
        if !refused.is_empty() {
            return Err(policy::refused(&self.describe(), &refused));
        }
        if !read.is_empty() {
            let actions: &[&str] = if self.primary.is_some() {
                &["secretsmanager:GetSecretValue"]
            } else {
                &["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
            };
            statements.push(allow("OsenvRead", actions, &read));
        }
        if batch {
            statements.push(allow(
                "OsenvBatchRead",
                &["secretsmanager:BatchGetSecretValue"],
                &BTreeSet::from(["*".to_owned()]),
            ));
        }
        if !write.is_empty() {
            let mut actions = vec![
                "secretsmanager:CreateSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:RestoreSecret",
                "secretsmanager:DeleteSecret",
            ];
            if !self.write.tags.is_empty() {
                actions.push("secretsmanager:TagResource");
            }
            if !self.write.replica_regions.is_empty() {
                actions.extend([
                    "secretsmanager:ReplicateSecretToRegions",
                    "secretsmanager:RemoveRegionsFromReplication",
                ]);
            }
            statements.push(allow("OsenvWrite", &actions, &write));
        }
        if let Some(key) = &self.write.kms_key_id
            && (!read.is_empty() || !write.is_empty())
        {
            let kms = self.aws.arn_prefix("kms", &mut notes);
            let key_arn = if key.starts_with("arn:") {
                Some(key.clone())
            } else if key.starts_with("alias/") {
                notes.push(format!(
                    "kms_key_id `{}` is an alias: grant kms:Decrypt (and kms:GenerateDataKey for writes) on the key it names",
                    crate::escape::text(key)
                ));
                None
            } else {
                Some(format!("{kms}key/{key}"))
            };
            if let Some(key_arn) = key_arn.filter(|k| policy::literal(k, WILDCARDS).is_ok()) {
                let actions: &[&str] = if write.is_empty() {
                    &["kms:Decrypt"]
                } else {
                    &["kms:Decrypt", "kms:GenerateDataKey"]
                };
                statements.push(allow("OsenvSecretsKey", actions, &BTreeSet::from([key_arn])));
            }
        }
        notes.dedup();
        Ok(document(&statements, notes))
    }
}

impl Kms {
    /// `kms:Decrypt` of the run's ciphertexts. A ciphertext names its key only inside the
    /// blob, so the policy grants the account's keys in the region and says to narrow it.
    pub(super) fn access_policy(&self, wanted: &Wanted<'_>) -> Policy {
        let mut notes = Vec::new();
        let prefix = self.aws.arn_prefix("kms", &mut notes);
        notes.push(
            "a ciphertext names its key only inside the blob: replace `key/*` with the ARN of the key that encrypted the values".into(),
        );
        let statements = if wanted.read.is_empty() {
            Vec::new()
        } else {
            vec![allow(
                "OsenvDecrypt",
                &["kms:Decrypt"],
                &BTreeSet::from([format!("{prefix}key/*")]),
            )]
        };
        document(&statements, notes)
    }
}
