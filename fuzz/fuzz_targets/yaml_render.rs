//! Parse any text as a config, walk it, render it with every reference resolved to a value
//! derived from its name: never a panic, and when the config parses, the rendered text parses
//! too, with the same references gone and nothing else changed in count.
#![no_main]
use libfuzzer_sys::fuzz_target;
use osenv::document::Document;
use osenv::references::Discovery;
use osenv::render::yaml::{self, Coercion, RenderOptions};
use osenv::secret::SecretValue;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(doc) = Document::parse("fuzz.yaml", text.to_owned()) else {
        return;
    };
    let discovery = Discovery::of(&doc, 100);
    let values: HashMap<String, SecretValue> = discovery
        .references
        .iter()
        .map(|r| (r.name.clone(), SecretValue::new(format!("v:{}\n#'\"", r.name))))
        .collect();
    let rendered = yaml::render(
        &doc,
        &discovery.references,
        |r| values.get(&r.name),
        RenderOptions {
            keep_key_management: true,
            coercion: Coercion::Off,
        },
    );
    let again = Document::parse("rendered.yaml", rendered.text.to_string())
        .unwrap_or_else(|e| panic!("rendered YAML does not parse: {e:?}\n---\n{}", &*rendered.text));
    let left = Discovery::of(&again, 100).references.len();
    assert_eq!(left, 0, "references left after rendering:\n{}", &*rendered.text);
});
