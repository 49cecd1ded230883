//! LiteLLM's `oidc/` token references (1.110.2, `secret_managers/main.py`, `get_secret`):
//! `os.environ/oidc/<provider>/<argument>` is not a secret osenv resolves; LiteLLM fetches the
//! token itself when it loads the config, so a short-lived token is fresh. osenv leaves the
//! reference as written, but what LiteLLM reads *before* it fetches is local and known here: a
//! provider it does not know, a missing argument, an unset variable or a token file outside the
//! allowed directories make LiteLLM raise while it loads the config. This module says which,
//! from the name alone; [`crate::boot`] judges it against the proxy's environment.

/// The variable that overrides the directories `oidc/file/` may read from.
pub const ALLOWED_DIRS_VARIABLE: &str = "LITELLM_OIDC_ALLOWED_CREDENTIAL_DIRS";
/// LiteLLM's default for [`ALLOWED_DIRS_VARIABLE`].
pub const DEFAULT_ALLOWED_DIRS: [&str; 2] = ["/var/run/secrets", "/run/secrets"];

/// What LiteLLM needs, before any request, to fetch an `oidc/` token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needs {
    /// Nothing local: the token comes from a metadata server or Azure AD (`google`, `azure`),
    /// which only the proxy's host can answer.
    Nothing,
    /// Every one of these variables set (to anything, even empty: `os.getenv` is not `None`).
    Variables(Vec<String>),
    /// A token file at this path, which must be absolute and inside the allowed directories.
    File(String),
}

/// Why LiteLLM cannot load an `oidc/` reference whatever its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unloadable {
    /// `oidc/<provider>` with no `/<argument>`: LiteLLM's `split("/", 1)` does not unpack.
    NoArgument,
    /// A provider LiteLLM does not know.
    Unsupported(String),
}

impl std::fmt::Display for Unloadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoArgument => f.write_str(
                "the reference names no argument (`oidc/<provider>/<audience or variable>`), so it cannot split it",
            ),
            Self::Unsupported(provider) => write!(
                f,
                "it knows no oidc provider `{provider}` (google, circleci, circleci_v2, github, azure, file, env, env_path): \"Unsupported OIDC provider\""
            ),
        }
    }
}

/// What LiteLLM needs for the `oidc/` name `name` (the reference with `os.environ/` removed),
/// or why it cannot load it at all. `None` when `name` is not an `oidc/` name.
pub fn needs(name: &str) -> Option<Result<Needs, Unloadable>> {
    let rest = name.strip_prefix("oidc/")?;
    let Some((provider, argument)) = rest.split_once('/') else {
        return Some(Err(Unloadable::NoArgument));
    };
    let variables = |names: &[&str]| Ok(Needs::Variables(names.iter().map(|&n| n.to_owned()).collect()));
    Some(match provider {
        "google" | "azure" => Ok(Needs::Nothing),
        "circleci" => variables(&["CIRCLE_OIDC_TOKEN"]),
        "circleci_v2" => variables(&["CIRCLE_OIDC_TOKEN_V2"]),
        "github" => variables(&["ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"]),
        "env" | "env_path" => variables(&[argument]),
        "file" => Ok(Needs::File(argument.to_owned())),
        other => Err(Unloadable::Unsupported(other.to_owned())),
    })
}

/// Why LiteLLM refuses an `oidc/file/` path, as its `_resolve_oidc_file_path` does; `allowed`
/// is the value of [`ALLOWED_DIRS_VARIABLE`] in the proxy's environment, if set. Paths are
/// compared after normalising `.`, `..` and repeated slashes, and each allowed directory also
/// as it resolves on this host (`/var/run` is often `/run`) when `on_host`: the operator's own
/// directories (LiteLLM's default, the process environment's). Directories an env file names
/// are compared as written, so that a file from a repository makes osenv touch no path.
/// LiteLLM resolves symlinks in the token path too, which osenv does not follow for a path a
/// config names.
pub fn file_refusal(path: &str, allowed: Option<&str>, on_host: bool) -> Option<String> {
    if !path.starts_with('/') {
        return Some(format!(
            "the token path `{path}` is not absolute: write `oidc/file//<absolute path>` (two slashes after `file`)"
        ));
    }
    let dirs: Vec<String> = match allowed {
        // LiteLLM's `if override`: an empty value means the default.
        Some(list) if !list.is_empty() => list
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => DEFAULT_ALLOWED_DIRS.iter().map(|&d| d.to_owned()).collect(),
    };
    let wanted = normal(path);
    // LiteLLM's `realpath` reads a relative directory from where the proxy runs: here.
    let here = std::env::current_dir().ok();
    let inside = dirs.iter().any(|dir| {
        let lexical = match &here {
            Some(cwd) if !dir.starts_with('/') => normal(&format!("{}/{dir}", cwd.display())),
            _ => normal(dir),
        };
        // The operator's directories only: resolving them reads no secret.
        let resolved = on_host
            .then(|| std::fs::canonicalize(dir).ok())
            .flatten()
            .and_then(|p| p.to_str().map(normal));
        [Some(lexical), resolved]
            .into_iter()
            .flatten()
            .any(|d| beneath(&wanted, &d))
    });
    (!inside).then(|| match allowed {
        // The operator's value is not repeated: it could have come from anywhere.
        Some(list) if !list.is_empty() => format!(
            "the token path `{path}` is outside the directories {ALLOWED_DIRS_VARIABLE} names here"
        ),
        _ => format!(
            "the token path `{path}` is outside the directories LiteLLM reads oidc/file tokens from ({}; set {ALLOWED_DIRS_VARIABLE} to extend them)",
            dirs.join(", ")
        ),
    })
}

/// `path` with `.`, `..` and repeated slashes resolved as text (POSIX `normpath`, one root).
fn normal(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Python's `commonpath([path, dir]) == dir` for normalised absolute paths.
fn beneath(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_each_provider_needs() {
        let vars = |v: &[&str]| Some(Ok(Needs::Variables(v.iter().map(|&s| s.to_owned()).collect())));
        assert_eq!(needs("oidc/env/TOKEN"), vars(&["TOKEN"]));
        assert_eq!(needs("oidc/env_path/A/B"), vars(&["A/B"]));
        assert_eq!(needs("oidc/env/"), vars(&[""]));
        assert_eq!(needs("oidc/circleci/aud"), vars(&["CIRCLE_OIDC_TOKEN"]));
        assert_eq!(needs("oidc/circleci_v2/aud"), vars(&["CIRCLE_OIDC_TOKEN_V2"]));
        assert_eq!(
            needs("oidc/github/https://x"),
            vars(&["ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
        );
        assert_eq!(needs("oidc/google/https://x"), Some(Ok(Needs::Nothing)));
        assert_eq!(needs("oidc/azure/api://x"), Some(Ok(Needs::Nothing)));
        assert_eq!(
            needs("oidc/file//run/secrets/t"),
            Some(Ok(Needs::File("/run/secrets/t".into())))
        );
        assert_eq!(needs("oidc/env"), Some(Err(Unloadable::NoArgument)));
        assert_eq!(needs("oidc/"), Some(Err(Unloadable::NoArgument)));
        assert_eq!(needs("oidc/Env/X"), Some(Err(Unloadable::Unsupported("Env".into()))));
        assert_eq!(needs("OIDC/env/X"), None);
        assert_eq!(needs("TOKEN"), None);
    }

    #[test]
    fn token_files_must_be_absolute_and_inside_the_allowed_directories() {
        assert_eq!(file_refusal("/run/secrets/token", None, true), None);
        assert_eq!(file_refusal("/var/run/secrets/a/b", None, true), None);
        assert_eq!(file_refusal("//run//secrets/./t", None, true), None);
        assert!(file_refusal("/run/secrets/../../etc/passwd", None, true).is_some());
        assert!(file_refusal("/run/secretsX/t", None, true).is_some());
        assert!(
            file_refusal("run/secrets/t", None, true)
                .unwrap()
                .contains("not absolute")
        );
        assert_eq!(file_refusal("/opt/t", Some(" /opt , "), true), None);
        assert!(file_refusal("/run/secrets/t", Some("/opt"), true).is_some());
        // Set, the list is not repeated (it could hold anything); relative entries are read
        // from the working directory, as LiteLLM's `realpath` does.
        assert!(
            !file_refusal("/x/t", Some("sk-CANARY"), true)
                .unwrap()
                .contains("CANARY")
        );
        assert!(
            file_refusal("/run/secrets/t", Some("run/secrets"), true).is_some()
                || std::env::current_dir().unwrap() == std::path::Path::new("/")
        );
        // An empty override is LiteLLM's default.
        assert_eq!(file_refusal("/run/secrets/t", Some(""), true), None);
        assert_eq!(file_refusal("/x", Some("/"), true), None);
    }

    /// The operator's directories are also compared as they resolve on this host (a symlinked
    /// directory); an env file's are compared as written, and osenv resolves none of its paths.
    #[test]
    fn only_the_operators_directories_are_resolved_on_this_host() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let token = format!("{}/t", real.canonicalize().unwrap().display());
        let allowed = link.to_str().unwrap();
        assert_eq!(file_refusal(&token, Some(allowed), true), None);
        assert!(file_refusal(&token, Some(allowed), false).is_some());
    }
}
