//! Who may set each setting osenv reads: one table.
//!
//! Every environment variable a backend reads is a row of [`TABLE`], made by the one macro
//! below, and a backend reads a variable only through [`crate::environment::Environment`]'s
//! `backend_*` methods, which take a [`Setting`]. A `Setting` can only be built here, so a
//! variable without a row cannot be read as a setting at all; whoever adds one must say what it
//! is, and that decides who may set it:
//!
//! - the operator (the process environment, flags) sets everything;
//! - a semi-trusted file (an `--env-file`) may set only [`Kind::Which`] rows (which secrets), and
//!   an [`Kind::Address`] only when it names the cloud's own service over https; any other row
//!   from an env file is ignored, with a warning naming `file:line`;
//! - [`Kind::Sdk`] rows are read by a cloud SDK itself, from the process environment only; they
//!   are listed so that the rules below know them.
//!
//! The same table decides two more things: the `NAME_FILE` convention never turns a row that
//! names a file (`AWS_WEB_IDENTITY_TOKEN_FILE`, `HCP_VAULT_JWT_TOKEN_FILE`, …) into a value
//! ([`names_login_file`]), and `exec` withholds login material from the command ([`Exec`]).
//! The config's `key_management_settings` keys have their own table, [`CONFIG_KEYS`], consulted
//! by the settings reader before any key is read. README's trust table is generated from both
//! ([`markdown`]) and a test compares it.

/// What a setting is; this decides who may set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Where requests (and so credentials) go. From an env file only when it is the cloud's own
    /// service over https ([`Official`]).
    Address(Official),
    /// A file credentials or TLS trust come from (a CA bundle, a client key, a token file).
    File,
    /// A credential (a token, a secret id, a key).
    Credential,
    /// How osenv logs in: the method, the role, the auth mount, the audience, the account and
    /// login name, the login namespace, the profile or role to assume.
    Login,
    /// Which secrets are read (a KV mount, a path prefix, a project, a region, a refresh interval).
    Which,
    /// Read by a cloud SDK itself, from the process environment only.
    Sdk,
}

impl Kind {
    /// Whether an env file may set a row of this kind (`value` for an address).
    pub fn from_env_file(self, name: &str, value: &str) -> bool {
        match self {
            Self::Which => true,
            Self::Address(official) => official.accepts(name, value),
            Self::File | Self::Credential | Self::Login | Self::Sdk => false,
        }
    }

    /// How the README names the kind.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Address(Official::Nothing) => "address",
            Self::Address(_) => "address (the cloud's own https host from an env file)",
            Self::File => "credential or CA file",
            Self::Credential => "credential",
            Self::Login => "login choice",
            Self::Which => "which secrets",
            Self::Sdk => "read by the SDK",
        }
    }
}

/// Which addresses an env file may still set: the cloud's own service over https.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Official {
    /// None: any value from an env file is ignored.
    Nothing,
    /// One of AWS's own endpoints for the services osenv calls (`secretsmanager`, `kms`,
    /// `sts`), regional, FIPS or an interface VPC endpoint.
    Aws(&'static [&'static str]),
    /// An Azure Key Vault or Managed HSM host.
    AzureKeyVault,
    /// `https://…googleapis.com`.
    Google,
}

impl Official {
    fn accepts(self, _name: &str, value: &str) -> bool {
        let Some(host) = crate::trust::https_host(value) else {
            return false;
        };
        match self {
            Self::Nothing => false,
            Self::Aws(services) => services.iter().any(|s| crate::trust::aws_service_host(s, &host)),
            Self::AzureKeyVault => [
                ".vault.azure.net",
                ".vault.azure.cn",
                ".vault.usgovcloudapi.net",
                ".vault.microsoftazure.de",
                ".managedhsm.azure.net",
            ]
            .iter()
            .any(|suffix| host.ends_with(suffix)),
            Self::Google => host == "googleapis.com" || host.ends_with(".googleapis.com"),
        }
    }
}

/// What `exec` does with the variable in the command's environment (unless a reference asks for
/// it, or `--keep-credentials`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exec {
    /// Passed on: not a credential, or one a proxy calling a cloud with the pod's identity needs.
    Pass,
    /// Taken out when osenv used a manager of its family: the credential osenv used.
    WithheldWhenUsed,
    /// Always taken out: login material only osenv needs (GitHub's OIDC request variables let
    /// whoever holds them mint tokens for any audience).
    Withheld,
}

/// The backend family a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// AWS Secrets Manager and KMS.
    Aws,
    /// HashiCorp Vault / OpenBao.
    Vault,
    /// Azure Key Vault.
    Azure,
    /// Google Secret Manager and Cloud KMS.
    Google,
    /// CyberArk Conjur.
    Conjur,
}

/// One row of [`TABLE`]: an environment variable osenv's backends read, and what it is. Built
/// only by this module's macro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    name: &'static str,
    kind: Kind,
    family: Family,
    exec: Exec,
}

impl Setting {
    /// The variable.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// What it is.
    pub const fn kind(self) -> Kind {
        self.kind
    }

    /// Its backend family.
    pub const fn family(self) -> Family {
        self.family
    }

    /// What `exec` does with it.
    pub const fn exec(self) -> Exec {
        self.exec
    }
}

macro_rules! table {
    ($($ident:ident: $kind:expr, $family:ident, $exec:ident;)*) => {
        /// One constant per row of [`TABLE`], named as the variable.
        #[allow(missing_docs)]
        pub mod var {
            use super::{AWS_ALL, Exec, Family, Kind::*, Official, Setting};
            $(pub const $ident: Setting = Setting {
                name: stringify!($ident),
                kind: $kind,
                family: Family::$family,
                exec: Exec::$exec,
            };)*
        }
        /// Every environment variable osenv's backends read.
        pub const TABLE: &[Setting] = &[$(var::$ident),*];
    };
}

const AWS_ALL: Official = Official::Aws(&["secretsmanager", "kms", "sts"]);

table! {
    // AWS (LiteLLM's names, then the SDK's).
    AWS_REGION_NAME: Which, Aws, Pass;
    AWS_REGION: Which, Aws, Pass;
    AWS_DEFAULT_REGION: Which, Aws, Pass;
    AWS_ENDPOINT_URL: Address(AWS_ALL), Aws, Pass;
    AWS_ENDPOINT_URL_SECRETS_MANAGER: Address(Official::Aws(&["secretsmanager"])), Aws, Pass;
    AWS_ENDPOINT_URL_KMS: Address(Official::Aws(&["kms"])), Aws, Pass;
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: Login, Aws, Pass;
    AWS_STS_ENDPOINT: Address(Official::Aws(&["sts"])), Aws, Pass;
    AWS_PROFILE_NAME: Login, Aws, Pass;
    AWS_ROLE_NAME: Login, Aws, Pass;
    AWS_SESSION_NAME: Login, Aws, Pass;
    AWS_EXTERNAL_ID: Login, Aws, Pass;
    AWS_ACCESS_KEY_ID: Credential, Aws, WithheldWhenUsed;
    AWS_SECRET_ACCESS_KEY: Credential, Aws, WithheldWhenUsed;
    AWS_SESSION_TOKEN: Credential, Aws, WithheldWhenUsed;
    AWS_WEB_IDENTITY_TOKEN: Credential, Aws, WithheldWhenUsed;
    AWS_CONTAINER_AUTHORIZATION_TOKEN: Sdk, Aws, WithheldWhenUsed;
    AWS_WEB_IDENTITY_TOKEN_FILE: Sdk, Aws, Pass;
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: Sdk, Aws, Pass;
    AWS_CONFIG_FILE: Sdk, Aws, Pass;
    AWS_SHARED_CREDENTIALS_FILE: Sdk, Aws, Pass;
    AWS_PROFILE: Sdk, Aws, Pass;
    AWS_ROLE_ARN: Sdk, Aws, Pass;
    // HashiCorp Vault: LiteLLM's HCP_VAULT_* first, then Vault's own.
    HCP_VAULT_ADDR: Address(Official::Nothing), Vault, Pass;
    VAULT_ADDR: Address(Official::Nothing), Vault, Pass;
    HCP_VAULT_NAMESPACE: Login, Vault, Pass;
    VAULT_NAMESPACE: Login, Vault, Pass;
    HCP_VAULT_LOGIN_NAMESPACE: Login, Vault, Pass;
    HCP_VAULT_SECRET_NAMESPACE: Which, Vault, Pass;
    HCP_VAULT_MOUNT_NAME: Which, Vault, Pass;
    HCP_VAULT_PATH_PREFIX: Which, Vault, Pass;
    HCP_VAULT_REFRESH_INTERVAL: Which, Vault, Pass;
    VAULT_SKIP_VERIFY: Login, Vault, Pass;
    VAULT_CACERT: File, Vault, Pass;
    HCP_VAULT_CLIENT_CERT: File, Vault, WithheldWhenUsed;
    VAULT_CLIENT_CERT: File, Vault, WithheldWhenUsed;
    HCP_VAULT_CLIENT_KEY: File, Vault, WithheldWhenUsed;
    VAULT_CLIENT_KEY: File, Vault, WithheldWhenUsed;
    HCP_VAULT_CERT_ROLE: Login, Vault, Pass;
    HCP_VAULT_AUTH_METHOD: Login, Vault, Pass;
    HCP_VAULT_TOKEN: Credential, Vault, WithheldWhenUsed;
    VAULT_TOKEN: Credential, Vault, WithheldWhenUsed;
    HCP_VAULT_APPROLE_ROLE_ID: Credential, Vault, WithheldWhenUsed;
    HCP_VAULT_APPROLE_SECRET_ID: Credential, Vault, WithheldWhenUsed;
    HCP_VAULT_APPROLE_MOUNT_PATH: Login, Vault, Pass;
    HCP_VAULT_K8S_ROLE: Login, Vault, Pass;
    HCP_VAULT_K8S_MOUNT_PATH: Login, Vault, Pass;
    HCP_VAULT_K8S_TOKEN_PATH: File, Vault, WithheldWhenUsed;
    HCP_VAULT_JWT_ROLE: Login, Vault, Pass;
    HCP_VAULT_JWT_MOUNT_PATH: Login, Vault, Pass;
    HCP_VAULT_JWT_AUDIENCE: Login, Vault, Pass;
    HCP_VAULT_JWT_TOKEN: Credential, Vault, WithheldWhenUsed;
    HCP_VAULT_JWT_TOKEN_FILE: File, Vault, WithheldWhenUsed;
    ACTIONS_ID_TOKEN_REQUEST_URL: Address(Official::Nothing), Vault, Withheld;
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: Credential, Vault, Withheld;
    // Azure Key Vault (azure_identity's names).
    AZURE_KEY_VAULT_URI: Address(Official::AzureKeyVault), Azure, Pass;
    AZURE_TENANT_ID: Login, Azure, Pass;
    AZURE_CLIENT_ID: Login, Azure, Pass;
    AZURE_CLIENT_SECRET: Credential, Azure, WithheldWhenUsed;
    AZURE_CLIENT_CERTIFICATE_PASSWORD: Sdk, Azure, WithheldWhenUsed;
    AZURE_CLIENT_CERTIFICATE_PATH: Sdk, Azure, Pass;
    AZURE_FEDERATED_TOKEN_FILE: File, Azure, Pass;
    AZURE_AUTHORITY_HOST: Sdk, Azure, Pass;
    IDENTITY_ENDPOINT: Sdk, Azure, Pass;
    IDENTITY_HEADER: Sdk, Azure, WithheldWhenUsed;
    MSI_SECRET: Sdk, Azure, WithheldWhenUsed;
    // Google Secret Manager and Cloud KMS.
    GOOGLE_SECRET_MANAGER_PROJECT_ID: Which, Google, Pass;
    GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL: Which, Google, Pass;
    GOOGLE_KMS_RESOURCE_NAME: Which, Google, Pass;
    GOOGLE_SECRET_MANAGER_ENDPOINT: Address(Official::Google), Google, Pass;
    GOOGLE_KMS_ENDPOINT: Address(Official::Google), Google, Pass;
    GOOGLE_APPLICATION_CREDENTIALS: Sdk, Google, Pass;
    // CyberArk Conjur: LiteLLM's CYBERARK_* first, then Conjur's own.
    CYBERARK_API_BASE: Address(Official::Nothing), Conjur, Pass;
    CONJUR_APPLIANCE_URL: Address(Official::Nothing), Conjur, Pass;
    CYBERARK_ACCOUNT: Login, Conjur, Pass;
    CONJUR_ACCOUNT: Login, Conjur, Pass;
    CYBERARK_USERNAME: Login, Conjur, Pass;
    CONJUR_AUTHN_LOGIN: Login, Conjur, Pass;
    CYBERARK_API_KEY: Credential, Conjur, WithheldWhenUsed;
    CONJUR_AUTHN_API_KEY: Credential, Conjur, WithheldWhenUsed;
    CONJUR_AUTHN_TOKEN_FILE: File, Conjur, WithheldWhenUsed;
    CONJUR_CERT_FILE: File, Conjur, Pass;
    CONJUR_SSL_CERTIFICATE: File, Conjur, Pass;
    CYBERARK_CLIENT_CERT: File, Conjur, WithheldWhenUsed;
    CYBERARK_CLIENT_KEY: File, Conjur, WithheldWhenUsed;
    CYBERARK_SSL_VERIFY: Login, Conjur, Pass;
    CYBERARK_REFRESH_INTERVAL: Which, Conjur, Pass;
}

/// The row of `name`, if osenv or an SDK reads it as a setting.
pub fn lookup(name: &str) -> Option<Setting> {
    TABLE.iter().copied().find(|s| s.name == name)
}

/// Whether `NAME_FILE` (given as `variable`) is one of the table's own file settings (an SDK's
/// or osenv's token, key or CA file): then the `NAME_FILE` convention does not apply, so a
/// config's `os.environ/AWS_WEB_IDENTITY_TOKEN` never reads the pod's token through
/// `AWS_WEB_IDENTITY_TOKEN_FILE` (LiteLLM would look `AWS_WEB_IDENTITY_TOKEN` up in the
/// environment, nothing else).
pub fn names_login_file(variable: &str) -> bool {
    // Only rows named `…_FILE` can be a `NAME_FILE`; their stems, sorted once, are searched
    // per reference without a scan of the whole table.
    static STEMS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut stems: Vec<&str> = TABLE.iter().filter_map(|s| s.name.strip_suffix("_FILE")).collect();
        stems.sort_unstable();
        stems
    });
    variable
        .strip_suffix("_FILE")
        .is_some_and(|stem| STEMS.binary_search(&stem).is_ok())
}

/// Who may set a `key_management_settings` key of the config (or of the include that sets
/// `general_settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKey {
    /// Which secrets, how they are written, or a login choice LiteLLM reads from the config:
    /// read as LiteLLM reads it.
    Accepted,
    /// Where credentials are sent, or a credential: only AWS's own endpoint, or the operator's
    /// variable from the process environment; anything else is a located error unless
    /// `--trust-config`.
    Guarded,
    /// LiteLLM's hook for its own Python class; accepted and unused.
    Ignored,
}

/// Every `key_management_settings` key osenv reads, and who may set it. The settings reader
/// looks a key up here first: a key without a row is "unknown", never read.
pub const CONFIG_KEYS: &[(&str, ConfigKey)] = &[
    ("hosted_keys", ConfigKey::Accepted),
    ("store_virtual_keys", ConfigKey::Accepted),
    ("prefix_for_stored_virtual_keys", ConfigKey::Accepted),
    ("access_mode", ConfigKey::Accepted),
    ("description", ConfigKey::Accepted),
    ("tags", ConfigKey::Accepted),
    ("custom_secret_manager", ConfigKey::Ignored),
    ("primary_secret_name", ConfigKey::Accepted),
    ("kms_key_id", ConfigKey::Accepted),
    ("aws_region_name", ConfigKey::Accepted),
    ("aws_role_name", ConfigKey::Accepted),
    ("aws_session_name", ConfigKey::Accepted),
    ("aws_external_id", ConfigKey::Accepted),
    ("aws_profile_name", ConfigKey::Accepted),
    ("aws_web_identity_token", ConfigKey::Guarded),
    ("aws_sts_endpoint", ConfigKey::Guarded),
    ("replica_regions", ConfigKey::Accepted),
    ("aws_batch_reads", ConfigKey::Accepted),
    ("vault_field", ConfigKey::Accepted),
    ("vault_kv_version", ConfigKey::Accepted),
    ("azure_map_to_dashes", ConfigKey::Accepted),
];

/// The keys of [`CONFIG_KEYS`] that are osenv's own: LiteLLM's `KeyManagementSettings` ignores
/// them, so what osenv refuses in them is osenv's refusal, not LiteLLM's.
pub const OSENV_KEYS: &[&str] = &[
    "aws_batch_reads",
    "vault_field",
    "vault_kv_version",
    "azure_map_to_dashes",
];

/// The row of a `key_management_settings` key.
pub fn config_key(key: &str) -> Option<ConfigKey> {
    CONFIG_KEYS.iter().find(|(k, _)| *k == key).map(|&(_, who)| who)
}

/// README's trust table, generated from [`TABLE`] and [`CONFIG_KEYS`].
pub fn markdown() -> String {
    use std::fmt::Write as _;
    let mut out =
        String::from("| variable | what it is | from an env file | `exec` passes it on |\n|---|---|---|---|\n");
    for s in TABLE {
        let env_file = match s.kind {
            Kind::Which => "taken",
            Kind::Address(Official::Nothing) | Kind::File | Kind::Credential | Kind::Login => "ignored, with a warning",
            Kind::Address(_) => "only the cloud's own https host",
            Kind::Sdk => "never read (the SDK reads the process environment)",
        };
        let exec = match s.exec {
            Exec::Pass => "yes",
            Exec::WithheldWhenUsed => "no, when osenv used it",
            Exec::Withheld => "no",
        };
        let _ = writeln!(out, "| `{}` | {} | {env_file} | {exec} |", s.name, s.kind.describe());
    }
    out.push_str("\n| `key_management_settings` key | from the config or an include |\n|---|---|\n");
    for (key, who) in CONFIG_KEYS {
        let who = match who {
            ConfigKey::Accepted => "read as LiteLLM reads it",
            ConfigKey::Guarded => {
                "only AWS's own endpoint / the operator's variable; else a located error (`--trust-config` allows)"
            }
            ConfigKey::Ignored => "accepted, unused (LiteLLM's Python hook)",
        };
        let _ = writeln!(out, "| `{key}` | {who} |");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_unique() {
        let mut names: Vec<&str> = TABLE.iter().map(|s| s.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "a variable has two rows");
        let mut keys: Vec<&str> = CONFIG_KEYS.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len(), "a key has two rows");
    }

    /// README's table is this module's, generated: `OSENV_UPDATE_README=1 cargo test
    /// readme_trust_table` rewrites it.
    #[test]
    fn readme_trust_table_is_generated_from_the_table() {
        const BEGIN: &str = "<!-- provenance table: generated by src/provenance.rs -->\n";
        const END: &str = "<!-- end of provenance table -->";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let start = readme.find(BEGIN).expect("README has the table's begin marker") + BEGIN.len();
        let end = readme[start..].find(END).expect("README has the table's end marker") + start;
        let table = markdown();
        if std::env::var_os("OSENV_UPDATE_README").is_some() {
            std::fs::write(path, format!("{}{table}{}", &readme[..start], &readme[end..])).unwrap();
            return;
        }
        assert_eq!(
            readme[start..end],
            table,
            "README's trust table is out of date: OSENV_UPDATE_README=1 cargo test readme_trust_table"
        );
    }

    #[test]
    fn only_which_secrets_and_official_hosts_come_from_env_files() {
        for s in TABLE {
            let hostile = "https://attacker.example";
            assert_eq!(
                s.kind.from_env_file(s.name, hostile),
                s.kind == Kind::Which,
                "{}",
                s.name
            );
        }
        let sm = var::AWS_ENDPOINT_URL_SECRETS_MANAGER;
        assert!(
            sm.kind
                .from_env_file(sm.name, "https://secretsmanager.eu-west-1.amazonaws.com")
        );
        assert!(!sm.kind.from_env_file(sm.name, "https://kms.eu-west-1.amazonaws.com"));
        assert!(
            !sm.kind
                .from_env_file(sm.name, "https://abc.execute-api.us-east-1.amazonaws.com")
        );
        assert!(!sm.kind.from_env_file(sm.name, "https://bucket.s3.amazonaws.com"));
    }

    #[test]
    fn only_the_clouds_own_https_hosts_are_official() {
        let from_file = |row: Setting, value: &str| row.kind.from_env_file(row.name, value);
        assert!(from_file(
            var::AWS_ENDPOINT_URL,
            "https://secretsmanager.eu-west-1.amazonaws.com"
        ));
        assert!(from_file(
            var::AWS_ENDPOINT_URL,
            "https://kms-fips.us-east-1.amazonaws.com"
        ));
        assert!(from_file(var::AZURE_KEY_VAULT_URI, "https://my-vault.vault.azure.net/"));
        assert!(from_file(var::GOOGLE_KMS_ENDPOINT, "https://cloudkms.googleapis.com"));
        for (row, value) in [
            (var::AWS_ENDPOINT_URL, "http://secretsmanager.eu-west-1.amazonaws.com"),
            (var::AWS_ENDPOINT_URL, "https://amazonaws.com.evil.example"),
            (
                var::AWS_ENDPOINT_URL,
                "https://user@secretsmanager.us-east-1.amazonaws.com",
            ),
            (
                var::AWS_ENDPOINT_URL,
                "https://secretsmanager.us-east-1.amazonaws.com/path",
            ),
            (var::AWS_ENDPOINT_URL, "https://x.amazonaws.com"),
            (var::AWS_ENDPOINT_URL, "https://abc.execute-api.us-east-1.amazonaws.com"),
            (var::AWS_STS_ENDPOINT, "https://secretsmanager.us-east-1.amazonaws.com"),
            (var::AZURE_KEY_VAULT_URI, "https://127.0.0.1:8443"),
            (var::AZURE_KEY_VAULT_URI, "https://vault.azure.net.evil.example"),
            (var::VAULT_ADDR, "https://vault.example.com"),
            (var::GOOGLE_KMS_ENDPOINT, "https://evilgoogleapis.com"),
        ] {
            assert!(!from_file(row, value), "{}={value}", row.name);
        }
    }

    #[test]
    fn credential_files_of_the_table_are_never_a_name_file() {
        for name in [
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AZURE_FEDERATED_TOKEN_FILE",
            "HCP_VAULT_JWT_TOKEN_FILE",
            "CONJUR_AUTHN_TOKEN_FILE",
            "CONJUR_CERT_FILE",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        ] {
            assert!(names_login_file(name), "{name}");
        }
        assert!(!names_login_file("OPENAI_API_KEY_FILE"));
    }
}
