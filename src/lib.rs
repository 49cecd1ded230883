//! osenv resolves the `os.environ/NAME` references of a LiteLLM proxy config from the
//! environment or a secret manager, in one deduplicated, batched pass, and writes the rendered
//! config, an env file, or a process environment.
//!
//! The pipeline is a line: [`Document`] (text and spans) → [`Discovery`] (located references,
//! LiteLLM's rules) → [`resolve::Resolution`] (values, through a [`Backend`]) →
//! [`render::yaml::render`] (the same text with only the reference scalars changed).
//!
//! ```
//! use osenv::{Document, backend::Environment, resolve, render::yaml, settings::KeyManagement};
//!
//! let doc = Document::parse("config.yaml", "model_list:\n  - model_name: gpt\n    litellm_params:\n      api_key: os.environ/OPENAI_API_KEY # from env\n".to_owned()).unwrap();
//! let env = Environment::new([("OPENAI_API_KEY", "sk-test")], vec![]);
//! let km = KeyManagement::from_document(&doc, &env).unwrap();
//! let refs = doc.discover(100).references;
//! let plan = resolve::Plan::new(&refs, &km);
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let res = rt.block_on(resolve::resolve(&plan, &env, None, &Default::default(), resolve::Purpose::Read));
//! let out = yaml::render(&doc, &refs, |r| res.get(&r.name)?.as_ref().ok(),
//!     yaml::RenderOptions { keep_key_management: false, coercion: yaml::Coercion::Environment });
//! assert!(out.text.contains("api_key: sk-test # from env"));
//! ```

pub mod backend;
pub mod cli;
pub mod command;
pub mod document;
pub mod error;
pub mod location;
pub mod reference;
pub mod render;
pub mod resolve;
pub mod retry;
pub mod secret;
pub mod settings;

pub use backend::Backend;
pub use document::{Discovery, Document};
pub use error::Error;
pub use secret::SecretValue;
