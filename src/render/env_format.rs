//! Env-file formats, each a minijinja template in `templates/` embedded in the binary.
//!
//! Templates own the layout; the escaping filters here own correctness. Before rendering, every
//! name and value is checked against what the format's consumer can read back exactly; a value a
//! format cannot carry (a newline for `docker --env-file`) is an error, never a corrupt file.

use crate::error::{Error, FormatError, TemplateError, TemplateProblem};
use crate::secret::SecretValue;
use base64::Engine as _;
use minijinja::{Environment, context};
use zeroize::Zeroizing;

/// An output format of `osenv env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `NAME='value'` for dotenv loaders and `docker compose` `env_file`.
    Dotenv,
    /// `export NAME='value'` for a POSIX shell's `source` / `.`.
    Shell,
    /// `NAME=value` for `docker run --env-file` (values are taken verbatim, no quoting).
    Docker,
    /// A JSON object `{"NAME": "value"}`.
    Json,
    /// A Kubernetes `Secret` manifest with base64 `data`.
    K8sSecret,
}

/// Names bash (or dash) keeps for itself: read-only (`UID`, `EUID`, `PPID`, `SHELLOPTS`,
/// `BASHOPTS`, `BASH_VERSINFO`: sourcing fails), computed on every read (`RANDOM`, `SECONDS`,
/// `LINENO`, …: the value is lost), or checked (`OPTIND`: dash refuses a value that is not a
/// number). Measured with bash 5.2 and dash 0.5.12 by `. ./file` and reading the name back.
pub const SHELL_SPECIAL: &[&str] = &[
    "UID",
    "EUID",
    "PPID",
    "SHELLOPTS",
    "BASHOPTS",
    "BASH_VERSINFO",
    "RANDOM",
    "SRANDOM",
    "SECONDS",
    "LINENO",
    "BASHPID",
    "EPOCHSECONDS",
    "EPOCHREALTIME",
    "HISTCMD",
    "BASH_COMMAND",
    "BASH_SUBSHELL",
    "FUNCNAME",
    "GROUPS",
    "DIRSTACK",
    "BASH_ARGC",
    "BASH_ARGV",
    "BASH_LINENO",
    "BASH_SOURCE",
    "_",
    "OPTIND",
];

/// The longest line `docker run --env-file` reads (a Go `bufio.Scanner` token, 64 KiB with its
/// line break); a longer one makes Docker reject the whole file ("token too long").
pub const DOCKER_MAX_LINE: usize = 64 * 1024 - 1;

impl Format {
    /// The name used in messages and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dotenv => "dotenv",
            Self::Shell => "shell",
            Self::Docker => "docker",
            Self::Json => "json",
            Self::K8sSecret => "k8s-secret",
        }
    }

    fn template(self) -> (&'static str, &'static str) {
        match self {
            Self::Dotenv => ("dotenv.j2", include_str!("../../templates/dotenv.j2")),
            Self::Shell => ("shell.j2", include_str!("../../templates/shell.j2")),
            Self::Docker => ("docker.j2", include_str!("../../templates/docker.j2")),
            Self::Json => ("json.j2", include_str!("../../templates/json.j2")),
            Self::K8sSecret => ("k8s-secret.j2", include_str!("../../templates/k8s-secret.j2")),
        }
    }

    /// Refuse names and values this format's consumer would read back differently.
    fn check(self, name: &str, value: &str) -> Result<(), &'static str> {
        let identifier = |n: &str| {
            n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        match self {
            Self::Shell if !identifier(name) => Err("the name is not a shell variable name ([A-Za-z_][A-Za-z0-9_]*)"),
            Self::Shell if SHELL_SPECIAL.contains(&name) => Err(
                "bash keeps this name for itself (read-only, computed on every read, or checked), so `. ./file` fails or loses the value; use --format dotenv or json",
            ),
            Self::Dotenv
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) || name.is_empty() =>
            {
                Err("the name is not a dotenv variable name ([A-Za-z0-9_.-]+)")
            }
            Self::Docker if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '=' || c == '#') => {
                Err("the name has whitespace, `=` or `#`, which docker --env-file cannot carry")
            }
            Self::Docker if value.contains(['\n', '\r']) => {
                Err("the value has a line break, which docker --env-file cannot carry")
            }
            Self::Docker if name.len() + 1 + value.len() > DOCKER_MAX_LINE => Err(
                "the line would be longer than 64 KiB, and docker run --env-file then rejects the whole file; use --format json or dotenv",
            ),
            // Docker reads a file that starts with a byte-order mark without it, and a line's
            // leading blanks are dropped, with the name's.
            Self::Docker if name.starts_with('\u{feff}') => Err("the name starts with a byte-order mark"),
            // python-dotenv reads with universal newlines (a raw `\r` becomes `\n`) and compose
            // has no `\r` escape; found by the env_format fuzz target.
            Self::Dotenv if value.contains('\r') => {
                Err("the value has a carriage return, which dotenv loaders do not all read back")
            }
            // python-dotenv replaces `${NAME}` in every value, quoted or not, and has no escape
            // for it.
            Self::Dotenv if value.find("${").is_some_and(|at| value[at..].contains('}')) => {
                Err("the value has `${...}`, which python-dotenv (LiteLLM's .env loader) would replace")
            }
            // Such a value needs double quotes, where compose replaces `$NAME` and python-dotenv
            // keeps both `$$` and `\$` as written: no spelling reads back the same in both.
            Self::Dotenv if value.contains('$') && value.contains(['\'', '\\', '\n']) => Err(
                "the value has `$` and a quote, backslash or line break, which python-dotenv and compose read differently; use --format docker or json",
            ),
            Self::K8sSecret
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) || name.is_empty() =>
            {
                Err("the name is not a valid Secret data key ([-._a-zA-Z0-9]+)")
            }
            _ if value.contains('\0') => Err("the value has a NUL byte"),
            _ => Ok(()),
        }
    }
}

/// Options for Kubernetes output.
#[derive(Debug, Clone, Default)]
pub struct K8sOptions {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, if any.
    pub namespace: Option<String>,
}

/// Which Kubernetes name is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum K8sField {
    /// `metadata.name`.
    Name,
    /// `metadata.namespace`.
    Namespace,
}

impl K8sOptions {
    /// Check that the name and namespace are DNS-1123 subdomains, as Kubernetes requires for
    /// object names. The template writes them unquoted, so this check is what keeps a name
    /// from adding YAML of its own.
    pub fn validate(&self) -> Result<(), K8sField> {
        let ok = |name: &str| {
            !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
                && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        };
        if !ok(&self.name) {
            return Err(K8sField::Name);
        }
        if self.namespace.as_deref().is_some_and(|ns| !ok(ns)) {
            return Err(K8sField::Namespace);
        }
        Ok(())
    }
}

pub use crate::escape::shell_quote;

/// Dotenv quoting read back exactly by python-dotenv (and so osenv's `--env-file`) and compose:
/// single quotes (literal) when the value has no `'`, `\` or line break; otherwise double quotes
/// with `\\`, `\"` and `\n` escapes. [`Format::check`] refuses the values no quoting carries.
pub fn dotenv_quote(value: &str) -> String {
    if !value.contains(['\'', '\\', '\n', '\r']) {
        return format!("'{value}'");
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The minijinja environment for osenv's templates (the built-in formats and `osenv template`):
/// trailing newlines kept, no auto-escaping (escaping is explicit), and the escaping filters
/// `shell_quote`, `dotenv_quote`, `yaml`, `b64` and `json`.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("the default syntax is valid"),
    );
    // Escaping is explicit, per format, in the templates.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_filter("shell_quote", |v: &str| shell_quote(v));
    env.add_filter("dotenv_quote", |v: &str| dotenv_quote(v));
    env.add_filter("yaml", |v: &str| crate::render::yaml::scalar(v).into_owned());
    env.add_filter("b64", |v: &str| base64::engine::general_purpose::STANDARD.encode(v));
    env.add_filter("json", |v: &str| serde_json::to_string(v).unwrap_or_default());
    env
}

/// Render `vars` (sorted by name) in `format`.
pub fn render(format: Format, vars: &[(&str, &SecretValue)], k8s: &K8sOptions) -> Result<Zeroizing<String>, Error> {
    // Every refusal of the run, not the first: the Secret's name, then each name in order.
    let mut refused = Vec::new();
    if format == Format::K8sSecret
        && let Err(field) = k8s.validate()
    {
        refused.push(FormatError {
            at: None,
            name: match field {
                K8sField::Name => k8s.name.clone(),
                K8sField::Namespace => k8s.namespace.clone().unwrap_or_default(),
            },
            format: format.as_str(),
            reason: match field {
                K8sField::Name => {
                    "the Secret name is not a valid Kubernetes name (lowercase letters, digits, `-`, `.`)"
                }
                K8sField::Namespace => {
                    "the namespace is not a valid Kubernetes name (lowercase letters, digits, `-`, `.`)"
                }
            },
        });
    }
    for (name, value) in vars {
        if let Err(reason) = format.check(name, value.expose()) {
            refused.push(FormatError {
                at: None,
                name: (*name).to_owned(),
                format: format.as_str(),
                reason,
            });
        }
    }
    if !refused.is_empty() {
        return Err(Error::Format(refused));
    }
    let (template_name, source) = format.template();
    let mut env = environment();
    let failed = |problem| TemplateError {
        file: format!("built-in template {template_name}"),
        line: None,
        problem,
    };
    env.add_template(template_name, source)
        .map_err(|e| failed(TemplateProblem::Text(e.to_string())))?;
    let items: Vec<minijinja::Value> = vars
        .iter()
        .map(|(name, value)| context! { name => *name, value => value.expose() })
        .collect();
    let template = env
        .get_template(template_name)
        .map_err(|e| failed(TemplateProblem::Text(e.to_string())))?;
    let text = template
        .render(context! { vars => items, secret_name => &k8s.name, namespace => &k8s.namespace })
        .map_err(|e| failed(TemplateProblem::Hidden(e.kind().to_string())))?;
    Ok(Zeroizing::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(format: Format, name: &str, value: &str) -> Result<String, Error> {
        let v = SecretValue::new(value);
        render(
            format,
            &[(name, &v)],
            &K8sOptions {
                name: "litellm".into(),
                namespace: None,
            },
        )
        .map(|s| {
            s.lines()
                .filter(|l| !l.starts_with('#'))
                .flat_map(|l| [l, "\n"])
                .collect()
        })
    }

    #[test]
    fn each_format_writes_a_line_per_variable() {
        assert_eq!(one(Format::Dotenv, "A", "x y").unwrap(), "A='x y'\n");
        assert!(
            one(Format::Dotenv, "A", "\r").is_err(),
            "no dotenv escape for a carriage return"
        );
        assert_eq!(one(Format::Dotenv, "A", "it's home\n").unwrap(), "A=\"it's home\\n\"\n");
        // python-dotenv keeps `\$` as written, and compose replaces `$HOME` in double quotes.
        assert!(one(Format::Dotenv, "A", "it's $HOME\n").is_err());
        assert_eq!(one(Format::Shell, "A", "it's").unwrap(), "export A='it'\\''s'\n");
        assert_eq!(one(Format::Docker, "A", " x=\"y\" ").unwrap(), "A= x=\"y\" \n");
        assert_eq!(one(Format::Json, "A", "q\"").unwrap(), "{\n  \"A\": \"q\\\"\"\n}\n");
        assert!(
            one(Format::K8sSecret, "A", "hi")
                .unwrap()
                .contains("  \"A\": \"aGk=\"\n")
        );
    }

    #[test]
    fn values_a_format_cannot_carry_are_refused_without_the_value() {
        let err = one(Format::Docker, "A", "line1\ncanary").unwrap_err().to_string();
        assert_eq!(
            err,
            "cannot write `A` as docker: the value has a line break, which docker --env-file cannot carry"
        );
        assert!(one(Format::Shell, "app/db", "x").is_err());
        assert!(one(Format::K8sSecret, "app/db", "x").is_err());
        assert!(one(Format::Json, "app/db", "x").is_ok());
        for name in ["UID", "RANDOM", "OPTIND", "_"] {
            let err = one(Format::Shell, name, "x").unwrap_err().to_string();
            assert!(err.contains("bash keeps this name for itself"), "{err}");
            assert!(one(Format::Dotenv, name, "x").is_ok());
        }
        // Docker's scanner holds 65,536 bytes with the line break: `A=` and 65,533 bytes fit.
        assert!(one(Format::Docker, "A", &"x".repeat(65_533)).is_ok());
        assert!(one(Format::Docker, "A", &"x".repeat(65_534)).is_err());
    }

    #[test]
    fn names_each_format_refuses() {
        for name in ["app/db", "", "A B", "é", "a:b"] {
            assert!(one(Format::Dotenv, name, "v").is_err(), "dotenv {name:?}");
            assert!(one(Format::K8sSecret, name, "v").is_err(), "k8s {name:?}");
        }
        for name in ["a.b", "A-B", "1ABC", "_"] {
            assert!(one(Format::Dotenv, name, "v").is_ok(), "dotenv {name:?}");
        }
        for name in ["", "A B", "A\tB", "A=B", "#A", "\u{feff}A"] {
            assert!(one(Format::Docker, name, "v").is_err(), "docker {name:?}");
        }
        for name in ["app/db", "a.b", "é"] {
            assert!(one(Format::Docker, name, "v").is_ok(), "docker {name:?}");
        }
        for format in [
            Format::Json,
            Format::Dotenv,
            Format::Shell,
            Format::Docker,
            Format::K8sSecret,
        ] {
            let err = one(format, "V", "a\0b").unwrap_err().to_string();
            assert!(err.ends_with("the value has a NUL byte"), "{err}");
        }
    }

    #[test]
    fn kubernetes_names_may_hold_dashes_and_dots() {
        let v = SecretValue::new("x");
        for name in ["litellm-secrets", "litellm.v2", "a-b.c-d"] {
            let k8s = K8sOptions {
                name: name.into(),
                namespace: Some("ai-team.prod".into()),
            };
            assert!(render(Format::K8sSecret, &[("A", &v)], &k8s).is_ok(), "{name}");
        }
        let k8s = K8sOptions {
            name: "my_secret".into(),
            namespace: None,
        };
        assert!(render(Format::K8sSecret, &[("A", &v)], &k8s).is_err());
    }

    #[test]
    fn the_renderer_refuses_kubernetes_names_that_would_add_yaml() {
        let v = SecretValue::new("x");
        for (name, namespace) in [
            ("x\nkind: Pod", None),
            ("ok", Some("a: b")),
            ("Upper", None),
            ("", None),
        ] {
            let k8s = K8sOptions {
                name: name.into(),
                namespace: namespace.map(Into::into),
            };
            let err = render(Format::K8sSecret, &[("A", &v)], &k8s).unwrap_err().to_string();
            assert!(err.contains("not a valid Kubernetes name"), "{err}");
        }
    }

    #[test]
    fn dotenv_round_trips_through_the_env_file_reader() {
        for value in [
            "plain",
            "with space",
            "it's",
            "back\\slash",
            "multi\nline",
            "dollar $X",
            "quote\"d",
            "",
            "#hash",
            "a # b",
        ] {
            let text = one(Format::Dotenv, "V", value).unwrap();
            let parsed = crate::environment::DotenvFile::parse(".env", &text).unwrap();
            assert_eq!(parsed.get("V").map(|(v, _)| v.expose()), Some(value), "{text}");
        }
        for refused in ["${Y}", "a${Y}b", "it's $5", "a\\$b", "x\r"] {
            assert!(one(Format::Dotenv, "V", refused).is_err(), "{refused}");
        }
    }
}
