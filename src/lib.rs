//! osenv resolves the `os.environ/NAME` references of a LiteLLM proxy config from the
//! environment or a secret manager, in one deduplicated, batched pass, and writes the rendered
//! config, an env file, or a process environment.
//!
//! The pipeline is a line, and the modules follow it, each importing only those before it:
//! [`input`] (files with a size bound) → [`environment`] (the run's input) → [`Document`]
//! (text and spans) → [`references`] (located references, LiteLLM's walk) → [`settings`]
//! (typed key management) → [`plan`] (unique names and routes) → [`backend`] (the sources,
//! picked by [`backend::registry`]) → [`resolve`] (values) → [`render`] (the same text with
//! only the reference scalars changed, or an env file). The command-line application is the
//! `osenv` binary, not part of this API.
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
