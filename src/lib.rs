//! osenv resolves the `os.environ/NAME` references of a LiteLLM proxy config from the
//! environment or a secret manager, in one deduplicated, batched pass, and writes the rendered
//! config, an env file, or a process environment.
//!
//! The pipeline is a line, and the modules follow it, each importing only those before it:
//! [`input`] (files with a size bound) → [`environment`] (the run's input) → [`Document`]
//! (text and spans) → [`references`] (located references, LiteLLM's walk) → [`settings`]
//! (typed key management) → [`plan`] (unique names and routes) → [`backend`] (the sources,
//! picked by [`backend::registry`]) → [`resolve`] (values) → [`render`] (the same text with
//! only the reference scalars changed, or an env file). Foundations (locations, secrets, errors,
//! Python's rules) come first, the boot verdicts and the masker last; the whole order is one list
//! that a test holds the code to. The command-line application is the `osenv` binary, not part
//! of this API.
//!
//! ```
//! use osenv::{Document, Environment, Session, plan::Scope, resolve::Purpose};
//! use osenv::render::yaml::{RenderOptions, render};
//!
//! let config = "model_list:\n  - model_name: gpt\n    litellm_params:\n      api_key: os.environ/OPENAI_API_KEY # from env\n";
//! let env = Environment::new([("OPENAI_API_KEY", "sk-test")], vec![]);
//! let session = Session::new(Document::parse("config.yaml", config.to_owned()).unwrap(), env.into()).unwrap();
//! let plan = session.plan(Scope::References(session.references()));
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let resolution = runtime.block_on(session.resolve(plan, Purpose::Read));
//! assert!(resolution.errors().is_empty());
//! let out = render(session.document(), session.references(), |r| resolution.value(&r.name), RenderOptions::default());
//! assert!(out.text.contains("api_key: sk-test # from env"));
//! ```

pub mod backend;
pub mod boot;
pub mod document;
pub mod duration;
pub mod environment;
pub mod error;
pub mod escape;
pub mod input;
pub mod location;
pub mod mask;
pub mod master_key;
pub mod oidc;
pub mod plaintext;
pub mod plan;
pub mod provenance;
pub mod python;
pub mod references;
pub mod render;
pub mod resolve;
pub mod secret;
mod session;
pub mod settings;
pub mod sources;
pub mod trust;

pub use backend::Backend;
pub use document::Document;
pub use environment::Environment;
pub use error::Error;
pub use references::Discovery;
pub use secret::SecretValue;
pub use session::Session;

/// The library's modules in the order the pipeline runs, foundations first: each may use only
/// those before it (checked by `tests::no_module_uses_one_later_in_the_pipeline`).
#[cfg(test)]
const LAYERS: &[&str] = &[
    "location",
    "secret",
    "escape",
    "python",
    "duration",
    "error",
    "input",
    "trust",
    "provenance",
    "environment",
    "document",
    "oidc",
    "references",
    "master_key",
    "settings",
    "plaintext",
    "sources",
    "plan",
    "backend",
    "resolve",
    "render",
    "session",
    "boot",
    "mask",
];

#[cfg(test)]
mod tests {
    /// The crate paths a module's code (not its comments or tests) names, by module.
    fn uses(text: &str) -> std::collections::BTreeSet<&'static str> {
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut found = std::collections::BTreeSet::new();
        for (alias, module) in [
            ("Session", "session"),
            ("Document", "document"),
            ("Environment", "environment"),
            ("Error", "error"),
            ("Backend", "backend"),
            ("SecretValue", "secret"),
            ("Discovery", "references"),
        ]
        .into_iter()
        .chain(super::LAYERS.iter().map(|&m| (m, m)))
        {
            let direct = format!("crate::{alias}");
            let grouped = code.split("crate::{").skip(1).any(|g| {
                g.split('}')
                    .next()
                    .unwrap_or_default()
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|w| w == alias)
            });
            let named = code
                .match_indices(&direct)
                .any(|(at, _)| !code[at + direct.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'));
            if named || grouped {
                found.insert(module);
            }
        }
        found
    }

    #[test]
    fn no_module_uses_one_later_in_the_pipeline() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut wrong = Vec::new();
        let mut listed = 0;
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            if ["lib", "main", "cli", "command"].contains(&name.as_str()) {
                continue;
            }
            let rank = super::LAYERS
                .iter()
                .position(|&m| m == name)
                .unwrap_or_else(|| panic!("src/{name} is not in LAYERS: place it in the pipeline"));
            listed += 1;
            let files: Vec<std::path::PathBuf> = if path.is_dir() { walk(&path) } else { vec![path.clone()] };
            for file in files {
                for used in uses(&std::fs::read_to_string(&file).unwrap()) {
                    let at = super::LAYERS.iter().position(|&m| m == used).unwrap();
                    if at > rank {
                        wrong.push(format!("{} uses crate::{used}", file.display()));
                    }
                }
            }
        }
        assert_eq!(listed, super::LAYERS.len(), "a module in LAYERS does not exist");
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }

    #[test]
    fn the_layer_check_sees_uses() {
        let found = uses(
            "use crate::{error::X, plan};\nfn f() { crate::Session::new(); }\n// crate::boot\n#[cfg(test)]\nuse crate::render;",
        );
        assert_eq!(found.into_iter().collect::<Vec<_>>(), ["error", "plan", "session"]);
    }
}
