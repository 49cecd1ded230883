//! The proxy's boot check on a run's resolved values: LiteLLM 1.110.2 refuses to start with a
//! master key that is unset, blank or publicly known ([`crate::master_key`]). osenv sees the
//! value before the proxy does, so `check`, `render`, `env` and `exec` give the verdict first,
//! at the place the key comes from, with LiteLLM's remedy, and never show the key.
//!
//! What the proxy will see is gathered the way LiteLLM reads it (`proxy_server.py`,
//! `load_config`): `general_settings.master_key` when the config has that entry (a reference
//! resolves through `get_secret`, which reads `true`/`false` as booleans), else
//! `LITELLM_MASTER_KEY`; the overrides `general_settings.dangerously_permit_weak_or_unset_master_key`
//! (the boolean `true` only) and `LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY`; and, for
//! the migration, `LITELLM_SALT_KEY` and a database (`general_settings.database_url` or
//! `DATABASE_URL`).
//!
//! Where the proxy runs decides what osenv knows ([`Proxy`]): `exec` starts it, so its
//! environment is known exactly; `check`, `render` and `env` prepare for a proxy elsewhere, so a
//! variable unset here is *unknown*, reported as such rather than guessed.

use crate::Session;
use crate::document::{Document, Loaded, NodeId};
use crate::environment::Origin;
use crate::error::KeyError;
use crate::location::Location;
use crate::master_key::{self, Facts, Override, Refusal, Verdict, Weakness};
use crate::secret::SecretValue;

/// The variable LiteLLM reads the master key from when the config has none.
pub const MASTER_KEY_VARIABLE: &str = "LITELLM_MASTER_KEY";
/// The setting in `general_settings`.
pub const MASTER_KEY_SETTING: &str = "master_key";
/// The override variable (read with LiteLLM's `str_to_bool`).
pub const OVERRIDE_VARIABLE: &str = "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY";
/// The override setting in `general_settings` (the YAML boolean `true` only).
pub const OVERRIDE_SETTING: &str = "dangerously_permit_weak_or_unset_master_key";
/// Set, stored values are encrypted with it instead of the master key.
pub const SALT_VARIABLE: &str = "LITELLM_SALT_KEY";
/// The old key, for one start after a rotation: LiteLLM re-encrypts stored values with the new.
pub const MIGRATE_VARIABLE: &str = "LITELLM_MIGRATE_FROM_MASTER_KEY";
/// LiteLLM's database, when `general_settings.database_url` is not set.
pub const DATABASE_VARIABLE: &str = "DATABASE_URL";

/// Where the proxy runs, and so what osenv knows of what it will read.
pub enum Proxy<'a> {
    /// Elsewhere (`check`, `render`, `env`): the values this run resolved, and osenv's own
    /// environment as the best knowledge of the rest; a variable unset here is unknown.
    Elsewhere {
        /// A resolved name's result; `None` when not resolved (`check --offline`).
        values: &'a dyn Fn(&str) -> Option<&'a Result<SecretValue, KeyError>>,
        /// A reference that did not resolve reaches the proxy as null (`render`, `env` with
        /// `--allow-missing`); `check` reports it as missing itself.
        missing_is_null: bool,
        /// The proxy reads the value through `get_secret`, which makes `true`/`false`
        /// booleans (`render --no-coerce` writes a quoted string instead).
        reads_booleans: bool,
        /// The resolved values become the proxy's environment (`env` writes them to its env
        /// file); a rendered config holds them in place, so its proxy's environment is this one.
        exported: bool,
    },
    /// As osenv's child (`exec`): exactly the process environment, less `removed`, plus the
    /// values osenv exports.
    Child {
        /// The exported value of a name.
        exports: &'a dyn Fn(&str) -> Option<&'a SecretValue>,
        /// Names taken out of the command's environment.
        removed: &'a [String],
        /// The command is LiteLLM ([`is_litellm`]): when nothing names a key, it refuses to
        /// start; another command (a wrapper, a test) may set one itself.
        litellm: bool,
    },
}

/// Whether a command line starts the LiteLLM proxy: its program is `litellm` (any directory),
/// or it runs the module (`python -m litellm`, `-m litellm.proxy.proxy_cli`).
pub fn is_litellm<S: AsRef<std::ffi::OsStr>>(command: &[S]) -> bool {
    let named = |arg: &std::ffi::OsStr| {
        std::path::Path::new(arg)
            .file_name()
            .is_some_and(|name| name == "litellm" || name == "litellm-proxy")
    };
    let Some((program, rest)) = command.split_first() else {
        return false;
    };
    named(program.as_ref())
        || rest.windows(2).any(|pair| {
            pair[0].as_ref() == "-m"
                && pair[1]
                    .as_ref()
                    .to_str()
                    .is_some_and(|module| module == "litellm" || module.starts_with("litellm."))
        })
}

/// What osenv knows of one value the proxy reads.
enum Seen {
    Value(SecretValue, String),
    Unset,
    Unknown,
    /// It did not resolve, and that is reported already.
    Failed,
}

/// The reference written at `value` (or at the anchor an alias there names) in the config's
/// settings document, if it is one.
fn reference_at(session: &Session, value: NodeId) -> Option<&crate::references::Reference> {
    let doc = session.sources().settings_document();
    let source = session.sources().settings_source();
    let node = doc.resolve_alias(value);
    session
        .references()
        .iter()
        .find(|r| r.source == source && r.node == node)
}

/// The value of `environment_variables.NAME` in the config's settings document.
fn environment_variable(doc: &Document, name: &str) -> Option<NodeId> {
    let variables = doc.get_merged(doc.root(), "environment_variables")?.value;
    Some(doc.get_merged(variables, name)?.value)
}

/// `environment_variables.NAME` in the config: LiteLLM sets it in its own environment as it
/// loads the config, before it judges the key, over what the process had. A reference counts
/// as it resolves (one that resolves to nothing sets nothing: `None`); anything else as
/// Python's `str()` of it.
fn configured(session: &Session, proxy: &Proxy<'_>, name: &str) -> Option<(Seen, At)> {
    let doc = session.sources().settings_document();
    let value = environment_variable(doc, name)?;
    let origin = format!("environment_variables.{name} in the config");
    if let Some(reference) = reference_at(session, value) {
        let at = At::Reference {
            location: reference.location.clone(),
            written: reference.written.clone(),
        };
        return match proxy.reference(session, &reference.name) {
            Seen::Value(value, _) => Some((Seen::Value(value, origin), at)),
            Seen::Unset => None,
            other => Some((other, at)),
        };
    }
    let text = match doc.loaded(value) {
        Loaded::Null => "None",
        Loaded::Bool(true) => "True",
        Loaded::Bool(false) => "False",
        Loaded::String(text) => text,
        // A number as written (Python's `str()` of it, for the forms a key or a flag takes).
        Loaded::Other(_) => doc.scalar(value)?,
    };
    let at = At::Reference {
        location: doc.location(value),
        written: format!("environment_variables.{name}"),
    };
    Some((Seen::Value(SecretValue::new(text), origin), at))
}

impl Proxy<'_> {
    /// The variable `name` in the proxy's environment, and where it comes from: the config's
    /// `environment_variables` first ([`configured`]).
    fn variable(&self, session: &Session, name: &str) -> Seen {
        match configured(session, self, name) {
            Some((seen, _)) => seen,
            None => self.environment(session, name),
        }
    }

    /// The variable `name` in the environment the proxy starts with.
    fn environment(&self, session: &Session, name: &str) -> Seen {
        let env = session.environment();
        match self {
            Self::Child { exports, removed, .. } => {
                if let Some(value) = exports(name) {
                    Seen::Value(value.clone(), "exported by osenv".into())
                } else if removed.iter().any(|r| r == name) {
                    Seen::Unset
                } else {
                    match env.lookup(name) {
                        Some((Ok(value), Origin::Process)) => Seen::Value(value, Origin::Process.to_string()),
                        _ => Seen::Unset,
                    }
                }
            }
            Self::Elsewhere { values, .. } => match values(name) {
                Some(Ok(value)) => Seen::Value(value.clone(), "resolved by osenv".into()),
                _ => match env.lookup(name) {
                    Some((Ok(value), origin)) => Seen::Value(value, origin.to_string()),
                    _ => Seen::Unknown,
                },
            },
        }
    }

    /// The variable `name` as the proxy will have it, and whether the operator set it on this
    /// host (the process environment: a path in it may be resolved here). For `exec`, exactly
    /// the command's environment: an env file's variable the command is not given is unset.
    fn set_here(&self, session: &Session, name: &str) -> Option<(SecretValue, bool)> {
        let env = session.environment();
        match self {
            Self::Child { exports, removed, .. } => match exports(name) {
                Some(value) => Some((value.clone(), false)),
                None if removed.iter().any(|r| r == name) => None,
                None => match env.lookup(name) {
                    Some((Ok(value), Origin::Process)) => Some((value, true)),
                    _ => None,
                },
            },
            Self::Elsewhere { .. } => match env.lookup(name) {
                Some((Ok(value), origin)) => Some((value, origin == Origin::Process)),
                _ => None,
            },
        }
    }

    /// The value LiteLLM resolves for `os.environ/name`.
    fn reference(&self, session: &Session, name: &str) -> Seen {
        match self {
            // From the environment it starts with (which `configured` itself reads through
            // this: a variable set from its own reference cannot loop).
            Self::Child { .. } => self.environment(session, name),
            Self::Elsewhere {
                values,
                missing_is_null,
                ..
            } => match values(name) {
                Some(Ok(value)) => Seen::Value(value.clone(), "resolved by osenv".into()),
                Some(Err(KeyError::NotFound { .. })) if *missing_is_null => Seen::Unset,
                Some(Err(_)) => Seen::Failed,
                None => Seen::Unknown,
            },
        }
    }

    fn reads_booleans(&self) -> bool {
        match self {
            Self::Child { .. } => true,
            Self::Elsewhere { reads_booleans, .. } => *reads_booleans,
        }
    }

    fn starts_litellm(&self) -> bool {
        matches!(self, Self::Child { litellm: true, .. })
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// A reference (or a `hosted_keys` entry) osenv resolves.
    Reference {
        /// Where it is written.
        location: Location,
        /// As written (a reference or a name, never a value).
        written: String,
    },
    /// `general_settings.master_key` itself: a literal, null or not text.
    Setting {
        /// Where the value is written.
        location: Location,
    },
    /// An environment variable the config does not name.
    Variable {
        /// The variable.
        name: String,
        /// Where it is set.
        origin: String,
    },
    /// Nowhere osenv can see.
    Nowhere,
}

/// How sure the finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The proxy will not start (an error).
    Refused,
    /// It starts only because an override is on; or the key is weak in an environment that
    /// may not be the proxy's (a variable the config does not name, here or for a command that
    /// is not LiteLLM) (a warning).
    Warning,
    /// The key is not known here (a note: `check` says so rather than guess).
    Unknown,
}

/// What a [`Finding`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The master key ([`master_key`]).
    MasterKey,
    /// An `oidc/` token LiteLLM cannot fetch ([`oidc`]).
    Oidc,
}

/// What osenv says about the proxy's boot. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is about.
    pub check: Check,
    /// How sure.
    pub severity: Severity,
    /// Where the key comes from.
    pub at: At,
    /// LiteLLM's verdict and remedy, in one paragraph.
    pub message: String,
    /// Where in the config it belongs: the reference or the setting; else `general_settings`,
    /// or the config's first line.
    pub location: Location,
}

impl Finding {
    /// The error for a refusal: located at the reference or setting, else at the variable.
    pub fn error(&self) -> Option<Result<crate::error::ReferenceError, crate::error::VariableError>> {
        if self.severity != Severity::Refused {
            return None;
        }
        let cause = KeyError::Refused {
            reason: self.message.clone(),
        };
        Some(match &self.at {
            At::Reference { location, written } => Ok(crate::error::ReferenceError {
                location: location.clone(),
                written: written.clone(),
                cause,
            }),
            At::Setting { location } => Ok(crate::error::ReferenceError {
                location: location.clone(),
                written: format!("general_settings.{MASTER_KEY_SETTING}"),
                cause,
            }),
            At::Variable { name, origin } => Err(crate::error::VariableError {
                variable: name.clone(),
                origin: origin.clone(),
                cause,
            }),
            At::Nowhere => Err(crate::error::VariableError {
                variable: MASTER_KEY_VARIABLE.into(),
                origin: "unset".into(),
                cause,
            }),
        })
    }
}

/// What the proxy's master key reads as, before the verdict.
enum Key {
    Text(SecretValue),
    Unset,
    /// Not a string: LiteLLM fails at boot before its verdict (`master_key.startswith`).
    NotText(&'static str),
    /// Another reference (`os.environ/…`): LiteLLM resolves a master key that starts with one
    /// a second time; osenv resolves once, so the key LiteLLM would judge is not known here.
    Chained,
}

/// The master-key finding for `session`'s proxy, if there is one to report.
pub fn master_key(session: &Session, proxy: &Proxy<'_>) -> Option<Finding> {
    let judged = judge(session, proxy)?;
    let location = match &judged.at {
        At::Reference { location, .. } | At::Setting { location } => location.clone(),
        // Nothing in the config names the key: its `general_settings`, else its first line.
        At::Variable { .. } | At::Nowhere => {
            let doc = session.sources().settings_document();
            doc.get_merged(doc.root(), "general_settings")
                .map_or_else(|| doc.location(doc.root()), |e| doc.location(e.key))
        }
    };
    Some(Finding {
        check: Check::MasterKey,
        severity: judged.severity,
        at: judged.at,
        message: judged.message,
        location,
    })
}

/// The refusals among `findings` as the two lists [`crate::Error::Unresolved`] holds, each
/// sorted.
pub fn refusals(findings: &[Finding]) -> (Vec<crate::error::ReferenceError>, Vec<crate::error::VariableError>) {
    let (mut references, mut variables) = (Vec::new(), Vec::new());
    for error in findings.iter().filter_map(Finding::error) {
        match error {
            Ok(reference) => references.push(reference),
            Err(variable) => variables.push(variable),
        }
    }
    references.sort_by(|a, b| a.location.cmp(&b.location));
    variables.sort_by(|a, b| a.variable.cmp(&b.variable));
    (references, variables)
}

/// Every boot finding for `session`'s proxy: the master key's, then one for each `oidc/` token
/// LiteLLM cannot fetch ([`oidc`]).
pub fn findings(session: &Session, proxy: &Proxy<'_>) -> Vec<Finding> {
    master_key(session, proxy)
        .into_iter()
        .chain(oidc(session, proxy))
        .collect()
}

/// The `oidc/` references LiteLLM raises on while it loads the config: a provider it does not
/// know, no argument, a variable it reads first that is unset in the proxy's environment (the
/// config's `environment_variables` are set only after the config is resolved, so they do not
/// count), or a token file outside the allowed directories. Each is an error at the reference:
/// as with a reference whose variable is unset, the environment osenv sees is taken as the
/// proxy's. What only the proxy's host can answer (a metadata server, Azure AD) is not judged.
pub fn oidc(session: &Session, proxy: &Proxy<'_>) -> Vec<Finding> {
    use crate::oidc::{self, Needs};
    use crate::references::NoticeKind;
    // What LiteLLM's `os.getenv` sees: a value this run resolved only where it is exported.
    let set = |name: &str| match proxy {
        Proxy::Elsewhere { exported: false, .. } => match session.environment().lookup(name) {
            Some((Ok(value), _)) => Some(value),
            _ => None,
        },
        _ => match proxy.environment(session, name) {
            Seen::Value(value, _) => Some(value),
            _ => None,
        },
    };
    let here = match proxy {
        Proxy::Child { .. } => "in the command's environment",
        Proxy::Elsewhere { .. } => "here",
    };
    session
        .notices()
        .iter()
        .filter_map(|notice| {
            let NoticeKind::Oidc { name } = &notice.kind else {
                return None;
            };
            let why = match oidc::needs(name)? {
                Err(unloadable) => unloadable.to_string(),
                Ok(Needs::Nothing) => return None,
                Ok(Needs::Variables(variables)) => {
                    let unset: Vec<String> = variables
                        .iter()
                        .filter(|v| set(v).is_none())
                        .map(|v| format!("`{v}`"))
                        .collect();
                    if unset.is_empty() {
                        return None;
                    }
                    let (them, are) = if unset.len() == 1 { ("it", "is") } else { ("them", "are") };
                    format!(
                        "it reads {} for this token and raises when {} unset; {} {are} not set {here}. Set {them} where the proxy runs",
                        variables.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(" and "),
                        if variables.len() == 1 { "it is" } else { "either is" },
                        unset.join(" and "),
                    )
                }
                Ok(Needs::File(path)) => {
                    // The directories as the proxy's own environment sets them: never a value
                    // this run resolved from a manager (it is a path osenv would stat, and
                    // the message names it only when it is LiteLLM's default).
                    let allowed = proxy.set_here(session, oidc::ALLOWED_DIRS_VARIABLE);
                    let on_host = allowed.as_ref().is_none_or(|(_, operators)| *operators);
                    oidc::file_refusal(&path, allowed.as_ref().map(|(v, _)| v.expose()), on_host)?
                }
            };
            Some(Finding {
                check: Check::Oidc,
                severity: Severity::Refused,
                at: At::Reference {
                    location: notice.location.clone(),
                    written: notice.written.clone(),
                },
                message: format!("LiteLLM 1.110.2 fails to load the config: {why}"),
                location: notice.location.clone(),
            })
        })
        .collect()
}

/// A finding before it is placed.
struct Judged {
    severity: Severity,
    at: At,
    message: String,
}

fn judge(session: &Session, proxy: &Proxy<'_>) -> Option<Judged> {
    let doc = session.sources().settings_document();
    let general = doc.get_merged(doc.root(), "general_settings").map(|e| e.value);
    let entry = general.and_then(|g| doc.get_merged(g, MASTER_KEY_SETTING));

    let in_general_settings = entry.is_some();
    let found = match entry {
        Some(entry) => setting(session, doc, entry.value, proxy),
        None => variable(session, doc, general, proxy),
    };
    let (key, at) = match found {
        Ok(found) => found,
        Err(finding) => return finding,
    };

    let environment = match proxy.variable(session, MASTER_KEY_VARIABLE) {
        Seen::Value(value, _) => Some(value),
        _ => None,
    };
    let master_key = match &key {
        Key::Text(value) => Some(value.expose()),
        Key::Unset => None,
        Key::Chained => {
            return Some(Judged {
                severity: refusal_severity(&at, proxy),
                message: format!(
                    "the master key is itself a reference (`{}…`), which LiteLLM 1.110.2 resolves a second time before it judges the key, and osenv resolves once; {}. Fix: store the key itself there",
                    crate::references::PREFIX,
                    source_line(&at)
                ),
                at,
            });
        }
        Key::NotText(what) => {
            return Some(Judged {
                severity: refusal_severity(&at, proxy),
                message: format!(
                    "LiteLLM 1.110.2 fails at boot: the master key is {what}, not text; {}. Fix: store a key such as `sk-$(openssl rand -hex 32)` there",
                    source_line(&at)
                ),
                at,
            });
        }
    };
    let facts = Facts {
        master_key,
        environment_master_key: environment.as_ref().map(SecretValue::expose),
        in_general_settings,
        permitted_by: permitted_by(session, doc, general, proxy),
        stored_values_use_it: database(session, doc, general, proxy)
            && matches!(proxy.variable(session, SALT_VARIABLE), Seen::Unset | Seen::Unknown),
    };
    match master_key::verdict(&facts) {
        Verdict::Safe => None,
        Verdict::Allowed(weakness) => Some(Judged {
            severity: Severity::Warning,
            message: format!(
                "LiteLLM 1.110.2 starts with {} only because {} is on: never outside local development",
                state(weakness),
                match facts.permitted_by {
                    Some(Override::Setting) => format!("general_settings.{OVERRIDE_SETTING}"),
                    _ => OVERRIDE_VARIABLE.to_owned(),
                }
            ),
            at,
        }),
        Verdict::Refused(refusal) => Some(Judged {
            // Certain where the config names the key (osenv delivers it, or it is written), or
            // where LiteLLM itself starts here. Otherwise the environment seen may not be the
            // proxy's: a key set here is a warning, one set nowhere is unknown.
            severity: refusal_severity(&at, proxy),
            message: refused(refusal, &at, refusal_severity(&at, proxy) == Severity::Refused),
            at,
        }),
    }
}

/// How sure a refusal is: certain where the config names the key (osenv delivers it, or it is
/// written there), or where LiteLLM itself starts here. Otherwise the environment seen may not
/// be the proxy's: a key set here is a warning, one set nowhere is unknown.
fn refusal_severity(at: &At, proxy: &Proxy<'_>) -> Severity {
    match at {
        At::Reference { .. } | At::Setting { .. } => Severity::Refused,
        _ if proxy.starts_litellm() => Severity::Refused,
        At::Variable { .. } => Severity::Warning,
        At::Nowhere => Severity::Unknown,
    }
}

/// The names the verdict reads the values of: the references at `general_settings.master_key`
/// and at the override setting, and the variables it reads (which a run may resolve too, as
/// `hosted_keys`). `check`, which otherwise only asks whether keys exist, reads these.
pub fn names(session: &Session) -> Vec<String> {
    let doc = session.sources().settings_document();
    let general = doc.get_merged(doc.root(), "general_settings").map(|e| e.value);
    let variables = [MASTER_KEY_VARIABLE, OVERRIDE_VARIABLE, SALT_VARIABLE, DATABASE_VARIABLE];
    let mut names: Vec<String> = [MASTER_KEY_SETTING, OVERRIDE_SETTING]
        .iter()
        .filter_map(|setting| Some(doc.get_merged(general?, setting)?.value))
        // What `environment_variables` sets them to ([`configured`]).
        .chain(variables.iter().filter_map(|name| environment_variable(doc, name)))
        .filter_map(|value| reference_at(session, value).map(|r| r.name.clone()))
        .chain(variables.map(str::to_owned))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The key and its place when the config has no `general_settings.master_key`: LiteLLM reads
/// `LITELLM_MASTER_KEY` (from its manager too, for a `hosted_keys` entry or a manager without
/// `hosted_keys`). `Err(Some(_))` when it is not known here, `Err(None)` when the override makes
/// that moot or the name failed (reported already).
fn variable(
    session: &Session,
    doc: &Document,
    general: Option<NodeId>,
    proxy: &Proxy<'_>,
) -> Result<(Key, At), Option<Judged>> {
    let at = |origin: String| match session
        .key_management()
        .hosted
        .iter()
        .find(|(n, _)| n == MASTER_KEY_VARIABLE)
    {
        Some((name, location)) => At::Reference {
            location: location.clone(),
            written: name.clone(),
        },
        None => At::Variable {
            name: MASTER_KEY_VARIABLE.into(),
            origin,
        },
    };
    // LiteLLM asks its manager for the name when osenv did not (a manager without
    // `hosted_keys`): what it finds there is not known here.
    let asks_manager = session.key_management().routes_to_manager(MASTER_KEY_VARIABLE);
    if let Some((seen, at)) = configured(session, proxy, MASTER_KEY_VARIABLE) {
        return match seen {
            Seen::Value(value, _) => Ok((text(value, proxy.reads_booleans()), at)),
            Seen::Unset | Seen::Failed => Err(None),
            Seen::Unknown => Err(Some(Judged {
                severity: Severity::Unknown,
                message: format!(
                    "the master key is not known here (not resolved): LiteLLM 1.110.2 refuses to start if environment_variables.{MASTER_KEY_VARIABLE} is unset, blank or publicly known"
                ),
                at,
            })),
        };
    }
    match proxy.variable(session, MASTER_KEY_VARIABLE) {
        Seen::Value(value, origin) => Ok((text(value, proxy.reads_booleans()), at(origin))),
        Seen::Unset if !asks_manager => Ok((Key::Unset, At::Nowhere)),
        Seen::Unset | Seen::Unknown => {
            if permitted_by(session, doc, general, proxy).is_some() {
                return Err(None);
            }
            let elsewhere = if asks_manager {
                format!("in {} or where the proxy runs", session.backend_name())
            } else {
                "where the proxy runs".to_owned()
            };
            Err(Some(Judged {
                severity: Severity::Unknown,
                at: At::Nowhere,
                message: format!(
                    "general_settings has no {MASTER_KEY_SETTING} and {MASTER_KEY_VARIABLE} is not set here: LiteLLM 1.110.2 refuses to start unless it is set {elsewhere}, to a key that is not blank or publicly known"
                ),
            }))
        }
        Seen::Failed => Err(None),
    }
}

/// The key and its place for `general_settings.master_key` written at `value`; `Err(None)`
/// when it is a reference that failed (reported already), `Err(Some(_))` when it is not known
/// here.
fn setting(session: &Session, doc: &Document, value: NodeId, proxy: &Proxy<'_>) -> Result<(Key, At), Option<Judged>> {
    if let Some(reference) = reference_at(session, value) {
        let at = At::Reference {
            location: reference.location.clone(),
            written: reference.written.clone(),
        };
        return match proxy.reference(session, &reference.name) {
            Seen::Value(value, _) => Ok((text(value, proxy.reads_booleans()), at)),
            Seen::Unset => Ok((Key::Unset, at)),
            Seen::Unknown => Err(Some(Judged {
                severity: Severity::Unknown,
                message: format!(
                    "the master key is not known here (not resolved): LiteLLM 1.110.2 refuses to start if `{}` is unset, blank or publicly known",
                    reference.written
                ),
                at,
            })),
            Seen::Failed => Err(None),
        };
    }
    let at = At::Setting {
        location: doc.location(value),
    };
    // An `oidc/` name LiteLLM resolves itself: `oidc/env/NAME` is the variable's value, which
    // is judged like any key; another provider's token is fetched where the proxy runs.
    if let Loaded::String(written) = doc.loaded(value)
        && let Some(name) = crate::references::name_of(written).filter(|n| n.starts_with("oidc/"))
    {
        let Some(variable) = name.strip_prefix("oidc/env/") else {
            return Err(None);
        };
        let at = At::Reference {
            location: doc.location(value),
            written: written.to_owned(),
        };
        return match proxy.environment(session, variable) {
            Seen::Value(value, _) => Ok((text(value, proxy.reads_booleans()), at)),
            // Unset, LiteLLM fails on the reference itself ([`oidc`]).
            _ => Err(None),
        };
    }
    Ok(match doc.loaded(value) {
        Loaded::Null => (Key::Unset, at),
        Loaded::String(literal) => (Key::Text(SecretValue::new(literal)), at),
        Loaded::Bool(_) => (Key::NotText("a boolean"), at),
        Loaded::Other(what) => (Key::NotText(what), at),
    })
}

/// A resolved value as LiteLLM's `get_secret` returns it: `true`/`false` (any case, stripped)
/// become booleans, which no master key may be.
fn text(value: SecretValue, reads_booleans: bool) -> Key {
    if value.expose().starts_with(crate::references::PREFIX) {
        Key::Chained
    } else if reads_booleans && master_key::str_to_bool(value.expose()).is_some() {
        Key::NotText("read as a boolean (`true`/`false`)")
    } else {
        Key::Text(value)
    }
}

/// The override that is on, if any: the setting when it is the boolean `true` (a reference
/// that resolves to `true` counts: LiteLLM resolves it before it asks), else the variable.
fn permitted_by(session: &Session, doc: &Document, general: Option<NodeId>, proxy: &Proxy<'_>) -> Option<Override> {
    let setting = general
        .and_then(|g| doc.get_merged(g, OVERRIDE_SETTING))
        .map(|e| e.value);
    let setting_on = setting.is_some_and(|value| match reference_at(session, value) {
        Some(reference) => matches!(
            proxy.reference(session, &reference.name),
            Seen::Value(v, _) if master_key::str_to_bool(v.expose()) == Some(true)
        ),
        None => doc.loaded(value) == Loaded::Bool(true),
    });
    if setting_on {
        return Some(Override::Setting);
    }
    match proxy.variable(session, OVERRIDE_VARIABLE) {
        Seen::Value(v, _) if master_key::str_to_bool(v.expose()) == Some(true) => Some(Override::Environment),
        _ => None,
    }
}

/// Whether the proxy has a database: `general_settings.database_url` (not null), or
/// `DATABASE_URL` where it runs.
fn database(session: &Session, doc: &Document, general: Option<NodeId>, proxy: &Proxy<'_>) -> bool {
    let setting = general.and_then(|g| doc.get_merged(g, "database_url")).map(|e| e.value);
    setting.is_some_and(|value| doc.loaded(value) != Loaded::Null)
        || matches!(proxy.variable(session, DATABASE_VARIABLE), Seen::Value(..))
}

/// LiteLLM's words for the unsafe state it starts in with an override.
fn state(weakness: Weakness) -> &'static str {
    match weakness {
        Weakness::NotSet => "no master key, which accepts every request without authentication,",
        Weakness::Empty => "an empty master key",
        Weakness::PubliclyKnown => "a publicly known master key",
    }
}

/// LiteLLM's headline.
fn headline(weakness: Weakness) -> &'static str {
    match weakness {
        Weakness::NotSet => "no master key is set, so every request would be accepted without authentication",
        Weakness::Empty => "the master key is empty",
        Weakness::PubliclyKnown => "the master key is a publicly known default (sk-1234)",
    }
}

/// Where the key comes from, in words.
fn source_line(at: &At) -> String {
    match at {
        At::Reference { written, .. } => format!("it comes from `{written}`"),
        At::Setting { .. } => format!("it is written in the config as general_settings.{MASTER_KEY_SETTING}"),
        At::Variable { name, origin } => format!("it comes from the {name} environment variable ({origin})"),
        At::Nowhere => format!("neither general_settings.{MASTER_KEY_SETTING} nor {MASTER_KEY_VARIABLE} is set"),
    }
}

/// LiteLLM's refusal with its remedy, worded for where the key comes from; the key is never
/// shown (LiteLLM prints it in the migration step; osenv names the variable to set instead).
fn refused(refusal: Refusal, at: &At, certain: bool) -> String {
    let new_key = "`sk-$(openssl rand -hex 32)`";
    let fix = match at {
        At::Reference { written, .. } if written.starts_with(crate::references::PREFIX) => {
            format!(
                "store a new key such as {new_key} where `{written}` is read from (`osenv put` writes it to a manager)"
            )
        }
        At::Reference { written, .. } => format!("store a new key such as {new_key} as `{written}`"),
        At::Setting { .. } => format!(
            "read the key from the environment or the manager (`{MASTER_KEY_SETTING}: os.environ/{MASTER_KEY_VARIABLE}`) and store a new key such as {new_key} there"
        ),
        At::Variable { .. } => {
            format!("put a new key such as {new_key} in place of the current {MASTER_KEY_VARIABLE} wherever it is set")
        }
        At::Nowhere => format!(
            "set {MASTER_KEY_VARIABLE} (or general_settings.{MASTER_KEY_SETTING}: os.environ/NAME) to a key such as {new_key}"
        ),
    };
    let migration = if refusal.migration {
        format!(
            "; the database holds values encrypted with the current key ({SALT_VARIABLE} is not set): for one start, also set {MIGRATE_VARIABLE} to the current key, then remove it"
        )
    } else {
        String::new()
    };
    format!(
        "LiteLLM 1.110.2 {}: {}; {}. Fix: {fix}{migration}. Local development only: {OVERRIDE_VARIABLE}=true or general_settings.{OVERRIDE_SETTING}: true starts it anyway",
        if certain {
            "refuses to start"
        } else {
            "would refuse to start with this environment"
        },
        headline(refusal.weakness),
        source_line(at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Within;
    use crate::{Document, Environment};
    use std::sync::Arc;

    fn session(config: &str, env: &[(&str, &str)]) -> Session {
        let doc = Document::parse("c.yaml", config.to_owned()).unwrap();
        Session::new(doc, Arc::new(Environment::new(env.iter().copied(), vec![]))).unwrap()
    }

    /// The finding for a proxy elsewhere, with `values` as this run resolved them.
    fn elsewhere(config: &str, env: &[(&str, &str)], values: &[(&str, Option<&str>)]) -> Option<Finding> {
        let results: std::collections::HashMap<String, Result<SecretValue, KeyError>> = values
            .iter()
            .map(|(name, value)| {
                let result = value.map(SecretValue::new).ok_or(KeyError::NotFound {
                    within: Within::backend("the environment"),
                });
                ((*name).to_owned(), result)
            })
            .collect();
        let lookup = |name: &str| results.get(name);
        master_key(
            &session(config, env),
            &Proxy::Elsewhere {
                values: &lookup,
                missing_is_null: true,
                reads_booleans: true,
                exported: false,
            },
        )
    }

    fn child(config: &str, env: &[(&str, &str)], exports: &[(&str, &str)], litellm: bool) -> Option<Finding> {
        let exports: std::collections::HashMap<String, SecretValue> = exports
            .iter()
            .map(|(n, v)| ((*n).to_owned(), SecretValue::new(*v)))
            .collect();
        let lookup = |name: &str| exports.get(name);
        master_key(
            &session(config, env),
            &Proxy::Child {
                exports: &lookup,
                removed: &[],
                litellm,
            },
        )
    }

    const REFERENCE: &str = "general_settings:\n  master_key: os.environ/MK\n";

    /// Line `line`, column `column` of a file `c.yaml` (a location is only ever read off a text).
    fn located(line: usize, column: usize) -> Location {
        let text = format!("{}{}x", "\n".repeat(line - 1), " ".repeat(column - 1));
        crate::location::LineIndex::new("c.yaml".into(), &text).locate(&text, text.len() - 1)
    }

    fn at_reference(line: usize) -> At {
        At::Reference {
            location: located(line, 15),
            written: "os.environ/MK".into(),
        }
    }

    /// The `oidc/` findings of `config` for a proxy elsewhere (environment `env`) and as a
    /// child (the process environment `env`), as `location: message` lines.
    fn oidc_lines(config: &str, env: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
        let session = session(config, env);
        let none = |_: &str| None;
        let exports = |_: &str| None;
        let shown = |found: Vec<Finding>| {
            found
                .iter()
                .map(|f| {
                    assert_eq!((f.check, f.severity), (Check::Oidc, Severity::Refused));
                    assert_eq!(f.error().unwrap().unwrap().location, f.location);
                    format!("{}: {}", f.location, f.message)
                })
                .collect()
        };
        let elsewhere = Proxy::Elsewhere {
            values: &none,
            missing_is_null: true,
            reads_booleans: true,
            exported: false,
        };
        let child = Proxy::Child {
            exports: &exports,
            removed: &[],
            litellm: true,
        };
        (shown(oidc(&session, &elsewhere)), shown(oidc(&session, &child)))
    }

    #[test]
    fn oidc_tokens_litellm_cannot_fetch_are_refused_at_their_reference() {
        let config = "model_list:\n  - model_name: m\n    litellm_params:\n      a: os.environ/oidc/env/TOKEN\n      b: os.environ/oidc/github/aud\n      c: os.environ/oidc/nope/x\n      d: os.environ/oidc/env\n      e: os.environ/oidc/file/run/secrets/t\n      f: os.environ/oidc/file//etc/passwd\n      g: os.environ/oidc/google/aud\n      h: [os.environ/oidc/env/IN_A_LIST]\n      i: os.environ/oidc/file//run/secrets/t\nenvironment_variables:\n  TOKEN: set-too-late\n";
        let (elsewhere, child) = oidc_lines(config, &[("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1")]);
        assert_eq!(
            elsewhere,
            [
                "c.yaml:4:10: LiteLLM 1.110.2 fails to load the config: it reads `TOKEN` for this token and raises when it is unset; `TOKEN` is not set here. Set it where the proxy runs",
                "c.yaml:5:10: LiteLLM 1.110.2 fails to load the config: it reads `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN` for this token and raises when either is unset; `ACTIONS_ID_TOKEN_REQUEST_TOKEN` is not set here. Set it where the proxy runs",
                "c.yaml:6:10: LiteLLM 1.110.2 fails to load the config: it knows no oidc provider `nope` (google, circleci, circleci_v2, github, azure, file, env, env_path): \"Unsupported OIDC provider\"",
                "c.yaml:7:10: LiteLLM 1.110.2 fails to load the config: the reference names no argument (`oidc/<provider>/<audience or variable>`), so it cannot split it",
                "c.yaml:8:10: LiteLLM 1.110.2 fails to load the config: the token path `run/secrets/t` is not absolute: write `oidc/file//<absolute path>` (two slashes after `file`)",
                "c.yaml:9:10: LiteLLM 1.110.2 fails to load the config: the token path `/etc/passwd` is outside the directories LiteLLM reads oidc/file tokens from (/var/run/secrets, /run/secrets; set LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS to extend them)",
            ]
        );
        assert_eq!(child.len(), elsewhere.len());
        assert!(child[0].ends_with("`TOKEN` is not set in the command's environment. Set it where the proxy runs"));
        // Set (even empty), each is fetched by LiteLLM itself.
        let (elsewhere, child) = oidc_lines(
            "a: os.environ/oidc/env/TOKEN\nb: os.environ/oidc/circleci_v2/x\nc: os.environ/oidc/env_path/P\nd: os.environ/oidc/file//etc/t\n",
            &[
                ("TOKEN", ""),
                ("CIRCLE_OIDC_TOKEN_V2", "t"),
                ("P", "/p"),
                ("LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS", "/etc"),
            ],
        );
        assert_eq!((elsewhere, child), (Vec::<String>::new(), Vec::new()));
    }

    /// `exec` judges an `oidc/file` path by exactly the command's environment: an env file's
    /// allowed directories the command is not given do not count there (they do for a proxy
    /// elsewhere, which may be started with that file).
    #[test]
    fn exec_judges_oidc_file_by_the_commands_allowed_directories() {
        let file =
            crate::environment::DotenvFile::parse(".env", "LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS=/etc\n").unwrap();
        let env = Environment::new(std::iter::empty::<(&str, &str)>(), vec![file]);
        let doc = Document::parse("c.yaml", "a: os.environ/oidc/file//etc/t\n".to_owned()).unwrap();
        let session = Session::new(doc, Arc::new(env)).unwrap();
        let none = |_: &str| None;
        let elsewhere = Proxy::Elsewhere {
            values: &none,
            missing_is_null: true,
            reads_booleans: true,
            exported: false,
        };
        assert!(oidc(&session, &elsewhere).is_empty());
        let exports = |_: &str| None;
        let child = Proxy::Child {
            exports: &exports,
            removed: &[],
            litellm: true,
        };
        let found = oidc(&session, &child);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("outside the directories LiteLLM reads"),
            "{}",
            found[0].message
        );
        // Given to the command (exported), they count, compared as written.
        let dirs = SecretValue::new("/etc");
        let exports = |name: &str| (name == "LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS").then_some(&dirs);
        let child = Proxy::Child {
            exports: &exports,
            removed: &[],
            litellm: true,
        };
        assert!(oidc(&session, &child).is_empty());
    }

    /// A value this run resolved from a manager is in the proxy's environment only where it
    /// is exported (`env`); a rendered config holds it in place.
    #[test]
    fn oidc_env_counts_a_resolved_value_only_where_it_is_exported() {
        let session = session("a: os.environ/oidc/env/T\nb: os.environ/T\n", &[]);
        let value: Result<SecretValue, KeyError> = Ok(SecretValue::new("t"));
        let values = |name: &str| (name == "T").then_some(&value);
        let proxy = |exported| Proxy::Elsewhere {
            values: &values,
            missing_is_null: true,
            reads_booleans: true,
            exported,
        };
        assert_eq!(oidc(&session, &proxy(false)).len(), 1);
        assert!(oidc(&session, &proxy(true)).is_empty());
    }

    #[test]
    fn a_master_key_read_through_oidc_env_is_judged() {
        let config = "general_settings:\n  master_key: os.environ/oidc/env/MK\n";
        let found = child(config, &[("MK", "sk-1234")], &[], true).unwrap();
        assert_eq!(found.severity, Severity::Refused);
        assert!(matches!(&found.at, At::Reference { written, .. } if written == "os.environ/oidc/env/MK"));
        assert_eq!(child(config, &[("MK", "sk-7f3c9e2a51")], &[], true), None);
        // Another provider's token is fetched where the proxy runs: not judged here.
        assert_eq!(
            child(
                "general_settings:\n  master_key: os.environ/oidc/google/aud\n",
                &[],
                &[],
                true
            ),
            None
        );
    }

    #[test]
    fn a_weak_value_behind_a_reference_is_refused_at_the_reference() {
        for weak in ["sk-1234", " sk-1234\n", "", "  \t"] {
            let found = elsewhere(REFERENCE, &[], &[("MK", Some(weak))]).expect(weak);
            assert_eq!(found.severity, Severity::Refused, "{weak:?}");
            assert_eq!(found.at, at_reference(2));
            assert!(
                found
                    .message
                    .starts_with("LiteLLM 1.110.2 refuses to start: the master key is"),
                "{}",
                found.message
            );
        }
        assert_eq!(elsewhere(REFERENCE, &[], &[("MK", Some("sk-7f3c"))]), None);
        // Missing under --allow-missing: rendered as null, which LiteLLM refuses as unset.
        let found = elsewhere(REFERENCE, &[], &[("MK", None)]).unwrap();
        assert_eq!(found.severity, Severity::Refused);
        assert!(found.message.contains("no master key is set"), "{}", found.message);
    }

    /// `check`'s view: a missing name is reported as missing, not as null.
    fn checked<'a>(
        session: &Session,
        values: &'a dyn Fn(&str) -> Option<&'a Result<SecretValue, KeyError>>,
    ) -> Option<Finding> {
        master_key(
            session,
            &Proxy::Elsewhere {
                values,
                missing_is_null: false,
                reads_booleans: true,
                exported: false,
            },
        )
    }

    #[test]
    fn check_reports_neither_a_failed_nor_an_unresolved_reference_as_weak() {
        let session = session(REFERENCE, &[]);
        let missing: Result<SecretValue, KeyError> = Err(KeyError::NotFound {
            within: Within::backend("the environment"),
        });
        let failed = |_: &str| Some(&missing);
        // `check` reports the missing secret itself.
        assert_eq!(checked(&session, &failed), None);
        // `--offline`: not known here, and said so.
        let found = checked(&session, &|_| None).unwrap();
        assert_eq!(found.severity, Severity::Unknown);
        assert!(found.message.contains("not known here"), "{}", found.message);
    }

    #[test]
    fn literals_null_and_values_that_are_not_text() {
        let weak = elsewhere("general_settings:\n  master_key: sk-1234\n", &[], &[]).unwrap();
        assert_eq!(
            (weak.severity, weak.at.clone()),
            (
                Severity::Refused,
                At::Setting {
                    location: located(2, 15)
                }
            )
        );
        for null in ["~", "null", ""] {
            let found = elsewhere(&format!("general_settings:\n  master_key: {null}\n"), &[], &[]).unwrap();
            assert_eq!(found.severity, Severity::Refused, "{null:?}");
            assert!(found.message.contains("no master key is set"), "{}", found.message);
        }
        for (value, what) in [
            ("1234", "a number"),
            ("true", "a boolean"),
            ("[a]", "a list"),
            ("{a: 1}", "a mapping"),
        ] {
            let found = elsewhere(&format!("general_settings:\n  master_key: {value}\n"), &[], &[]).unwrap();
            assert_eq!(found.severity, Severity::Refused, "{value}");
            assert!(
                found.message.contains(&format!("is {what}, not text")),
                "{}",
                found.message
            );
        }
        // A quoted "true" is text to PyYAML and to LiteLLM; read through `get_secret` it is a
        // boolean, unless the renderer writes it as a string (`--no-coerce`).
        assert_eq!(elsewhere("general_settings:\n  master_key: \"true\"\n", &[], &[]), None);
        let found = elsewhere(REFERENCE, &[], &[("MK", Some(" False "))]).unwrap();
        assert!(found.message.contains("read as a boolean"), "{}", found.message);
        let session = session(REFERENCE, &[]);
        let value = Ok(SecretValue::new("false"));
        let lookup = |_: &str| Some(&value);
        let quoted = Proxy::Elsewhere {
            values: &lookup,
            missing_is_null: true,
            reads_booleans: false,
            exported: false,
        };
        assert_eq!(master_key(&session, &quoted), None);
    }

    #[test]
    fn environment_variables_in_the_config_set_what_the_proxy_reads() {
        // LiteLLM sets them before it judges the key, over the process environment.
        let literal =
            "general_settings:\n  store_model_in_db: false\nenvironment_variables:\n  LITELLM_MASTER_KEY: sk-1234\n";
        let found = elsewhere(literal, &[(MASTER_KEY_VARIABLE, "sk-good-8c1f2a9d3e")], &[]).unwrap();
        assert_eq!(found.severity, Severity::Refused, "named by the config: certain");
        assert!(
            found.message.contains("`environment_variables.LITELLM_MASTER_KEY`"),
            "{}",
            found.message
        );
        let reference = "general_settings: {}\nenvironment_variables:\n  LITELLM_MASTER_KEY: os.environ/MK\n";
        assert_eq!(elsewhere(reference, &[], &[("MK", Some("sk-good-8c1f2a9d3e"))]), None);
        assert_eq!(
            child(reference, &[], &[("MK", "sk-good-8c1f2a9d3e")], true),
            None,
            "the command gets MK; LiteLLM sets the variable from it"
        );
        // The override, as Python's str(True); and turned off over the process's.
        let permitted = "general_settings:\n  master_key: sk-1234\nenvironment_variables:\n  LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY: true\n";
        assert_eq!(elsewhere(permitted, &[], &[]).unwrap().severity, Severity::Warning);
        let off = "general_settings:\n  master_key: sk-1234\nenvironment_variables:\n  LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY: 'false'\n";
        assert_eq!(
            elsewhere(off, &[(OVERRIDE_VARIABLE, "true")], &[]).unwrap().severity,
            Severity::Refused
        );
        // A variable set from its own reference reads the process's: no loop.
        let own = "environment_variables:\n  LITELLM_MASTER_KEY: os.environ/LITELLM_MASTER_KEY\n";
        assert_eq!(
            child(own, &[], &[("LITELLM_MASTER_KEY", "sk-good-8c1f2a9d3e")], true),
            None
        );
    }

    #[test]
    fn a_key_that_is_itself_a_reference_is_not_judged_as_text() {
        // LiteLLM resolves it a second time; osenv does not follow the chain.
        let found = elsewhere(REFERENCE, &[], &[("MK", Some("os.environ/SK"))]).unwrap();
        assert_eq!(found.severity, Severity::Refused);
        assert!(found.message.contains("itself a reference"), "{}", found.message);
        assert!(!found.message.contains("SK"), "{}", found.message);
    }

    #[test]
    fn overrides_turn_a_refusal_into_a_warning() {
        let on =
            "general_settings:\n  master_key: os.environ/MK\n  dangerously_permit_weak_or_unset_master_key: true\n";
        let found = elsewhere(on, &[], &[("MK", Some("sk-1234"))]).unwrap();
        assert_eq!(found.severity, Severity::Warning);
        assert!(
            found
                .message
                .contains("only because general_settings.dangerously_permit"),
            "{}",
            found.message
        );
        // LiteLLM's `is True`: a string is not the boolean.
        let string =
            "general_settings:\n  master_key: os.environ/MK\n  dangerously_permit_weak_or_unset_master_key: \"true\"\n";
        assert_eq!(
            elsewhere(string, &[], &[("MK", Some("sk-1234"))]).unwrap().severity,
            Severity::Refused
        );
        // The variable, read with str_to_bool.
        for value in ["true", " TRUE\n", "True"] {
            let found = elsewhere(REFERENCE, &[(OVERRIDE_VARIABLE, value)], &[("MK", Some(""))]).unwrap();
            assert_eq!(found.severity, Severity::Warning, "{value:?}");
        }
        for value in ["1", "yes", "false"] {
            let found = elsewhere(REFERENCE, &[(OVERRIDE_VARIABLE, value)], &[("MK", Some(""))]).unwrap();
            assert_eq!(found.severity, Severity::Refused, "{value:?}");
        }
        // Not text fails LiteLLM before any override is read.
        let number = "general_settings:\n  master_key: 12\n  dangerously_permit_weak_or_unset_master_key: true\n";
        assert_eq!(elsewhere(number, &[], &[]).unwrap().severity, Severity::Refused);
    }

    #[test]
    fn the_migration_is_named_only_with_a_database_and_no_salt_key() {
        let db = "general_settings:\n  master_key: os.environ/MK\n  database_url: postgresql://db\n";
        let found = elsewhere(db, &[], &[("MK", Some("sk-1234"))]).unwrap();
        assert!(found.message.contains(MIGRATE_VARIABLE), "{}", found.message);
        let found = elsewhere(db, &[(SALT_VARIABLE, "s")], &[("MK", Some("sk-1234"))]).unwrap();
        assert!(!found.message.contains(MIGRATE_VARIABLE), "{}", found.message);
        let found = elsewhere(
            REFERENCE,
            &[(DATABASE_VARIABLE, "postgresql://db")],
            &[("MK", Some("sk-1234"))],
        )
        .unwrap();
        assert!(found.message.contains(MIGRATE_VARIABLE), "{}", found.message);
        let found = elsewhere(REFERENCE, &[], &[("MK", Some("sk-1234"))]).unwrap();
        assert!(!found.message.contains(MIGRATE_VARIABLE), "{}", found.message);
    }

    #[test]
    fn without_a_setting_the_variable_decides_as_far_as_it_is_known() {
        let none = "model_list: []\n";
        // Elsewhere: unset here is unknown; set here is a warning (the proxy may run with
        // another environment).
        assert_eq!(elsewhere(none, &[], &[]).unwrap().severity, Severity::Unknown);
        let found = elsewhere(none, &[(MASTER_KEY_VARIABLE, "sk-1234")], &[]).unwrap();
        assert_eq!(found.severity, Severity::Warning);
        assert!(matches!(found.at, At::Variable { .. }));
        assert_eq!(elsewhere(none, &[(MASTER_KEY_VARIABLE, "sk-x")], &[]), None);
        // LiteLLM started here: its environment is known, the verdict certain.
        assert_eq!(child(none, &[], &[], true).unwrap().severity, Severity::Refused);
        assert_eq!(
            child(none, &[(MASTER_KEY_VARIABLE, " ")], &[], true).unwrap().severity,
            Severity::Refused
        );
        assert_eq!(child(none, &[(MASTER_KEY_VARIABLE, "sk-x")], &[], true), None);
        assert_eq!(child(none, &[], &[(MASTER_KEY_VARIABLE, "sk-x")], true), None);
        // Another command: not enforced.
        assert_eq!(child(none, &[], &[], false).unwrap().severity, Severity::Unknown);
        assert_eq!(
            child(none, &[(MASTER_KEY_VARIABLE, " ")], &[], false).unwrap().severity,
            Severity::Warning
        );
        // The config names the key: certain for any command.
        assert_eq!(
            child(REFERENCE, &[], &[("MK", "sk-1234")], false).unwrap().severity,
            Severity::Refused
        );
        // Only an env file sets it: the command does not get it (only exports and the process).
        let found = child(REFERENCE, &[], &[], true).unwrap();
        assert!(found.message.contains("no master key is set"), "{}", found.message);
    }

    #[test]
    fn litellm_commands_are_recognised() {
        assert!(is_litellm(&["litellm", "--config", "c.yaml"]));
        assert!(is_litellm(&["/app/.venv/bin/litellm"]));
        assert!(is_litellm(&["python3", "-m", "litellm", "--port", "4000"]));
        assert!(is_litellm(&["python", "-m", "litellm.proxy.proxy_cli"]));
        assert!(!is_litellm(&["sh", "-c", "litellm --config c.yaml"]));
        assert!(!is_litellm(&["python", "-m", "litellmx"]));
        assert!(!is_litellm::<&str>(&[]));
    }
}
