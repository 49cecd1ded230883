//! What a run must resolve: the unique names, where each is read from, and who asked for it.
//!
//! Routing is LiteLLM's (`get_secret`): with a manager that reads, a name goes to it unless
//! `hosted_keys` is set and does not list it; `hosted_keys` names are resolved even when no
//! reference uses them, because LiteLLM looks them up itself. Names whose variables hold KMS
//! ciphertexts (`USE_AWS_KMS`) go to the KMS that decrypts them.

use crate::location::Location;
use crate::references::Reference;
use crate::settings::KeyManagement;
use crate::settings::envelope::Envelopes;
use std::collections::BTreeMap;

/// Where a name is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The process environment and `--env-file`s.
    Environment,
    /// The configured secret manager.
    Manager,
}

/// One unique name to resolve.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Where it is read from.
    pub route: Route,
    /// Used by at least one reference (or asked for by name, in a template).
    pub referenced: bool,
    /// Exported because LiteLLM decrypts its variable into the environment (`USE_AWS_KMS`),
    /// though no reference uses it.
    pub envelope: bool,
}

/// Which names a run resolves.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// The config's references and its `hosted_keys` (`render`, `check`).
    References(&'a [Reference]),
    /// Everything LiteLLM would find in its environment: the references, the `hosted_keys` and
    /// every encrypted variable (`env`, `exec`).
    Export(&'a [Reference]),
    /// The names a template asks for.
    Names(&'a [String]),
}

/// The unique names of a run and their routes, sorted by name, with what asked for each: the
/// references (located) and `hosted_keys` entries, so errors can point at them.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    names: BTreeMap<String, Planned>,
    references: &'a [Reference],
    hosted: &'a [(String, Location)],
    envelopes: &'a Envelopes,
}

impl<'a> Plan<'a> {
    /// Plan `scope` under the config's key management and the run's encrypted variables.
    pub fn new(scope: Scope<'a>, km: &'a KeyManagement, envelopes: &'a Envelopes) -> Self {
        let route = |name: &str| {
            if km.routes_to_manager(name) || envelopes.source(name).is_some() {
                Route::Manager
            } else {
                Route::Environment
            }
        };
        let planned = |name: &str| Planned {
            route: route(name),
            referenced: true,
            envelope: false,
        };
        let (references, asked): (&[Reference], Vec<&str>) = match scope {
            Scope::References(refs) | Scope::Export(refs) => (refs, refs.iter().map(|r| r.name.as_str()).collect()),
            Scope::Names(names) => (&[], names.iter().map(String::as_str).collect()),
        };
        // Sorted and deduplicated first, so the map is built in one pass rather than by an
        // insert per reference.
        let mut unique = asked;
        unique.sort_unstable();
        unique.dedup();
        let mut names: BTreeMap<String, Planned> = unique
            .into_iter()
            .map(|name| (name.to_owned(), planned(name)))
            .collect();
        let hosted: &[(String, Location)] = match scope {
            Scope::References(_) | Scope::Export(_) if km.selected.is_some() => &km.hosted,
            _ => &[],
        };
        for (name, _) in hosted {
            names.entry(name.clone()).or_insert_with(|| Planned {
                referenced: false,
                ..planned(name)
            });
        }
        if let Scope::Export(_) = scope {
            for (name, _) in envelopes.iter() {
                names.entry(name.to_owned()).or_insert(Planned {
                    route: Route::Manager,
                    referenced: false,
                    envelope: true,
                });
            }
        }
        Self {
            names,
            references,
            hosted,
            envelopes,
        }
    }

    /// Keep only the names `keep` accepts (`env --only`, `exec --exclude`): the others are not
    /// resolved, and their references report nothing.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.names.retain(|name, _| keep(name));
    }

    /// Every name and its plan, sorted by name.
    pub fn names(&self) -> impl ExactSizeIterator<Item = (&str, &Planned)> {
        self.names.iter().map(|(name, planned)| (name.as_str(), planned))
    }

    /// The plan for `name`.
    pub fn get(&self, name: &str) -> Option<&Planned> {
        self.names.get(name)
    }

    /// The number of unique names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Nothing to resolve.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The references planned.
    pub fn references(&self) -> &'a [Reference] {
        self.references
    }

    /// The `hosted_keys` entries planned, each with where it is written.
    pub fn hosted(&self) -> &'a [(String, Location)] {
        self.hosted
    }

    /// The variable holding `name`'s ciphertext, when `name` is an encrypted variable.
    pub fn ciphertext_variable(&self, name: &str) -> Option<&'a str> {
        self.envelopes.source(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Document;
    use crate::environment::Environment;
    use crate::references::Discovery;

    fn setup(src: &str) -> (Vec<Reference>, KeyManagement) {
        let doc = Document::parse("c.yaml", src.to_owned()).unwrap();
        let km = KeyManagement::from_document(&doc, &Environment::default()).unwrap();
        (Discovery::of(&doc, 100).references, km)
    }

    #[test]
    fn plans_unique_names_and_hosted_keys() {
        let (refs, km) = setup(
            "general_settings:\n  key_management_system: aws_secret_manager\n  key_management_settings:\n    hosted_keys: [A, H]\n\
             a: os.environ/A\nb: os.environ/A\nc: os.environ/C\n",
        );
        let envelopes = Envelopes::default();
        let plan = Plan::new(Scope::References(&refs), &km, &envelopes);
        let got: Vec<_> = plan.names().map(|(n, p)| (n, p.route, p.referenced)).collect();
        assert_eq!(
            got,
            [
                ("A", Route::Manager, true),
                ("C", Route::Environment, true),
                ("H", Route::Manager, false)
            ]
        );
        let hosted: Vec<&str> = plan.hosted().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(hosted, ["A", "H"]);
    }

    #[test]
    fn encrypted_variables_go_to_the_kms_and_are_exported() {
        let (refs, km) = setup("a: os.environ/OPENAI_API_KEY\nb: os.environ/PLAIN\n");
        let env = Environment::new(
            [
                ("USE_AWS_KMS", "True"),
                ("LITELLM_SECRET_AWS_KMS_OPENAI_API_KEY", "AQID"),
                ("DATABASE_URL", "aws_kms/AQID"),
            ],
            vec![],
        );
        let envelopes = Envelopes::for_run(&env, &km).unwrap();
        let render = Plan::new(Scope::References(&refs), &km, &envelopes);
        let got: Vec<_> = render.names().map(|(n, p)| (n, p.route)).collect();
        assert_eq!(got, [("OPENAI_API_KEY", Route::Manager), ("PLAIN", Route::Environment)]);
        let export = Plan::new(Scope::Export(&refs), &km, &envelopes);
        let got: Vec<_> = export.names().map(|(n, p)| (n, p.route, p.envelope)).collect();
        assert_eq!(
            got,
            [
                ("DATABASE_URL", Route::Manager, true),
                ("OPENAI_API_KEY", Route::Manager, false),
                ("PLAIN", Route::Environment, false)
            ]
        );
        assert_eq!(
            export.ciphertext_variable("OPENAI_API_KEY"),
            Some("LITELLM_SECRET_AWS_KMS_OPENAI_API_KEY")
        );
    }

    #[test]
    fn template_names_follow_hosted_keys_but_add_none() {
        let (_, km) = setup(
            "general_settings:\n  key_management_system: hashicorp_vault\n  key_management_settings:\n    hosted_keys: [A, H]\n",
        );
        let envelopes = Envelopes::default();
        let asked = ["A".to_owned(), "B".to_owned()];
        let plan = Plan::new(Scope::Names(&asked), &km, &envelopes);
        let got: Vec<_> = plan.names().map(|(n, p)| (n, p.route)).collect();
        assert_eq!(got, [("A", Route::Manager), ("B", Route::Environment)]);
    }
}
