//! The names LiteLLM gives its secret managers and access modes, each written once.

/// An enum whose variants have one LiteLLM name each: the table is the only place a name is
/// written, and `as_str`, `from_name` and the list shown in errors all read it.
macro_rules! named {
    ($(#[$meta:meta])* pub enum $ty:ident { $($(#[$vmeta:meta])* $variant:ident => $name:literal,)* }) => {
        $(#[$meta])*
        pub enum $ty {
            $($(#[$vmeta])* $variant,)*
        }

        impl $ty {
            /// Every LiteLLM name, in table order.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// LiteLLM's name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The variant LiteLLM calls `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

named! {
    /// The secret managers osenv knows, by LiteLLM's names.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum KeyManagementSystem {
        /// AWS Secrets Manager.
        AwsSecretManager => "aws_secret_manager",
        /// AWS KMS decryption of environment values.
        AwsKms => "aws_kms",
        /// HashiCorp Vault / OpenBao KV.
        HashicorpVault => "hashicorp_vault",
        /// Azure Key Vault secrets.
        AzureKeyVault => "azure_key_vault",
        /// Google Secret Manager.
        GoogleSecretManager => "google_secret_manager",
        /// Google Cloud KMS decryption of environment values.
        GoogleKms => "google_kms",
        /// CyberArk Conjur variables.
        Cyberark => "cyberark",
    }
}

impl KeyManagementSystem {
    /// The backend family of `system`, for the rows of [`crate::provenance`] it reads.
    pub fn family(self) -> crate::provenance::Family {
        use crate::provenance::Family;
        use KeyManagementSystem as S;
        match self {
            S::AwsSecretManager | S::AwsKms => Family::Aws,
            S::HashicorpVault => Family::Vault,
            S::AzureKeyVault => Family::Azure,
            S::Cyberark => Family::Conjur,
            S::GoogleSecretManager | S::GoogleKms => Family::Google,
        }
    }

    /// Why a name LiteLLM knows but osenv cannot use is refused, or `None` for a name nobody knows.
    pub(super) fn refusal(name: &str) -> Option<&'static str> {
        match name {
            "local" => Some(
                "is rejected by LiteLLM (\"Invalid Key Management System selected\"); remove key_management_system to read from the environment",
            ),
            "custom" => Some(
                "is LiteLLM's plugin manager (a Python class), which osenv cannot load; resolve through a supported manager or the environment",
            ),
            _ => None,
        }
    }
}

named! {
    /// `access_mode`: which direction LiteLLM uses the manager for.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum AccessMode {
        /// Read from the manager, never write (LiteLLM's default).
        #[default]
        ReadOnly => "read_only",
        /// Only write; every read comes from the environment.
        WriteOnly => "write_only",
        /// Both.
        ReadAndWrite => "read_and_write",
    }
}

impl AccessMode {
    /// Reads go to the manager.
    pub fn reads(self) -> bool {
        self != Self::WriteOnly
    }

    /// Writes are allowed.
    pub fn writes(self) -> bool {
        self != Self::ReadOnly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in KeyManagementSystem::NAMES {
            assert_eq!(
                KeyManagementSystem::from_name(name).map(KeyManagementSystem::as_str),
                Some(*name)
            );
        }
        for name in AccessMode::NAMES {
            assert_eq!(AccessMode::from_name(name).map(AccessMode::as_str), Some(*name));
        }
        assert_eq!(KeyManagementSystem::from_name("vault"), None);
    }
}
