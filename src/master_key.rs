//! LiteLLM's master-key boot verdict (1.110.2, `litellm/proxy/auth/master_key_boot_check.py`,
//! `master_key_boot_verdict` and `_unsafe_reason`): the proxy refuses to start when the master
//! key it resolves is unset, blank, or publicly known, unless an override says otherwise. osenv
//! sees the resolved value before the proxy does, so it can give the same verdict first.
//!
//! This module is the verdict only, on facts gathered elsewhere; it never holds or shows the
//! value beyond the call.

/// Why a master key is unsafe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakness {
    /// No master key at all: every request would be accepted without authentication.
    NotSet,
    /// Empty, or only whitespace (as Python's `str.strip` sees it).
    Empty,
    /// A key everyone knows (`sk-1234`, LiteLLM's documented example).
    PubliclyKnown,
}

/// Where the refused key came from, as LiteLLM words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `general_settings.master_key` in the config (not just relaying `LITELLM_MASTER_KEY`).
    Config,
    /// The `LITELLM_MASTER_KEY` environment variable.
    Environment,
}

/// What the verdict is given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// The master key the proxy resolves (from the config, else `LITELLM_MASTER_KEY`).
    pub master_key: Option<&'a str>,
    /// `LITELLM_MASTER_KEY` in the proxy's environment.
    pub environment_master_key: Option<&'a str>,
    /// Whether `general_settings` has a `master_key` entry at all.
    pub in_general_settings: bool,
    /// An override that lets the proxy start with an unsafe key, if one is on.
    pub permitted_by: Option<Override>,
    /// Stored values are encrypted with the master key: a database is configured
    /// (`DATABASE_URL` or `general_settings.database_url`) and `LITELLM_SALT_KEY` is not set.
    pub stored_values_use_it: bool,
}

/// What lets LiteLLM start with an unsafe master key (local development only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    /// `general_settings.dangerously_permit_weak_or_unset_master_key` is the boolean `true`
    /// (Python's `is True`: a string `"true"` does not count).
    Setting,
    /// `LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY` reads as true ([`str_to_bool`]).
    Environment,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The proxy starts.
    Safe,
    /// Unsafe, but an override lets the proxy start (with a warning).
    Allowed(Weakness),
    /// The proxy refuses to start.
    Refused(Refusal),
}

/// Why and how LiteLLM refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// What is wrong with the key.
    pub weakness: Weakness,
    /// Where it came from.
    pub source: Source,
    /// `LITELLM_MASTER_KEY` is set in the environment (the fix is to replace it there).
    pub environment_variable_is_set: bool,
    /// Stored values may be encrypted with this key (no salt key, a database): replacing the
    /// key needs `LITELLM_MIGRATE_FROM_MASTER_KEY`.
    pub migration: bool,
}

/// LiteLLM's verdict on `facts`.
pub fn verdict(facts: &Facts<'_>) -> Verdict {
    let Some(weakness) = weakness(facts.master_key) else {
        return Verdict::Safe;
    };
    if facts.permitted_by.is_some() {
        return Verdict::Allowed(weakness);
    }
    let only_relays_the_environment = facts.master_key.is_some() && facts.master_key == facts.environment_master_key;
    Verdict::Refused(Refusal {
        weakness,
        source: if facts.in_general_settings && !only_relays_the_environment {
            Source::Config
        } else {
            Source::Environment
        },
        environment_variable_is_set: facts.environment_master_key.is_some(),
        migration: facts.master_key.is_some() && facts.stored_values_use_it,
    })
}

/// LiteLLM's `_unsafe_reason`: unset, blank once stripped, or publicly known once stripped.
pub fn weakness(master_key: Option<&str>) -> Option<Weakness> {
    let Some(key) = master_key else {
        return Some(Weakness::NotSet);
    };
    let stripped = crate::python::strip(key);
    if stripped.is_empty() {
        Some(Weakness::Empty)
    } else if PUBLICLY_KNOWN.contains(&stripped) {
        Some(Weakness::PubliclyKnown)
    } else {
        None
    }
}

/// The keys LiteLLM refuses as publicly known. It compares SHA-256 digests of the stripped
/// value (`PUBLICLY_KNOWN_MASTER_KEY_SHA256_DIGESTS`); its one digest is that of `sk-1234`, so
/// comparing the text is the same test (the differential checks the digest).
pub const PUBLICLY_KNOWN: &[&str] = &["sk-1234"];

/// LiteLLM's `str_to_bool` (`secret_managers/main.py`): `true`/`false` in any case once
/// stripped; anything else is no answer.
pub fn str_to_bool(value: &str) -> Option<bool> {
    let value = crate::python::strip(value).to_lowercase();
    match value.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(weakness: Weakness, source: Source, env: bool, migration: bool) -> Verdict {
        Verdict::Refused(Refusal {
            weakness,
            source,
            environment_variable_is_set: env,
            migration,
        })
    }

    #[test]
    fn weak_keys_are_unset_blank_or_publicly_known_once_stripped() {
        assert_eq!(weakness(None), Some(Weakness::NotSet));
        for blank in ["", " ", "\t\n", "\u{a0}", "\u{2003}", "\u{1f}", "\u{85}"] {
            assert_eq!(weakness(Some(blank)), Some(Weakness::Empty), "{blank:?}");
        }
        for known in ["sk-1234", " sk-1234\n", "\u{1c}sk-1234\u{3000}"] {
            assert_eq!(weakness(Some(known)), Some(Weakness::PubliclyKnown), "{known:?}");
        }
        // Compared exactly: case and inner characters matter.
        for fine in ["SK-1234", "sk-12345", "sk- 1234", "sk-1234\u{200b}", "x"] {
            assert_eq!(weakness(Some(fine)), None, "{fine:?}");
        }
    }

    #[test]
    fn overrides_allow_and_the_source_is_the_config_unless_it_relays_the_environment() {
        let base = Facts {
            master_key: Some("sk-1234"),
            in_general_settings: true,
            ..Facts::default()
        };
        assert_eq!(
            verdict(&base),
            refused(Weakness::PubliclyKnown, Source::Config, false, false)
        );
        assert_eq!(
            verdict(&Facts {
                permitted_by: Some(Override::Environment),
                ..base
            }),
            Verdict::Allowed(Weakness::PubliclyKnown)
        );
        assert_eq!(
            verdict(&Facts {
                permitted_by: Some(Override::Setting),
                ..base
            }),
            Verdict::Allowed(Weakness::PubliclyKnown)
        );
        // `master_key: os.environ/LITELLM_MASTER_KEY` only relays the variable.
        assert_eq!(
            verdict(&Facts {
                environment_master_key: Some("sk-1234"),
                ..base
            }),
            refused(Weakness::PubliclyKnown, Source::Environment, true, false)
        );
        // A database without a salt key: stored values are encrypted with the master key.
        assert_eq!(
            verdict(&Facts {
                stored_values_use_it: true,
                ..base
            }),
            refused(Weakness::PubliclyKnown, Source::Config, false, true)
        );
        // Unset: nothing to migrate from.
        assert_eq!(
            verdict(&Facts {
                master_key: None,
                in_general_settings: false,
                stored_values_use_it: true,
                ..base
            }),
            refused(Weakness::NotSet, Source::Environment, false, false)
        );
        assert_eq!(
            verdict(&Facts {
                master_key: Some("sk-7f3c9e"),
                ..base
            }),
            Verdict::Safe
        );
    }

    #[test]
    fn booleans_read_as_litellm_reads_them() {
        assert_eq!(str_to_bool("true"), Some(true));
        assert_eq!(str_to_bool(" TRUE\n"), Some(true));
        assert_eq!(str_to_bool("False"), Some(false));
        for other in ["1", "yes", "on", "", "tru e"] {
            assert_eq!(str_to_bool(other), None, "{other:?}");
        }
    }
}
