//! Parse any text as a config, walk it, render it with every reference resolved to a value
//! derived from its name, with each coercion mode and with key-management removal on or off
//! (chosen by the first byte): never a panic, and when the config parses, the rendered text
//! parses too, with the references gone and, when removal is on, no key-management setting
//! left in `general_settings`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use osenv::document::Document;
use osenv::references::{Discovery, KEY_MANAGEMENT_KEYS};
use osenv::render::yaml::{self, Coercion, RenderOptions};
use osenv::secret::SecretValue;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(data) else { return };
    let keep_key_management = mode & 1 == 1;
    let coercion = match (mode >> 1) % 3 {
        0 => Coercion::Off,
        1 => Coercion::Environment,
        _ => Coercion::Manager,
    };
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
            keep_key_management,
            coercion,
        },
    );
    let again = Document::parse("rendered.yaml", rendered.text.to_string())
        .unwrap_or_else(|e| panic!("rendered YAML does not parse: {e:?}\n---\n{}", &*rendered.text));
    let left = Discovery::of(&again, 100);
    assert_eq!(left.references.len(), 0, "references left after rendering:\n{}", &*rendered.text);
    if !keep_key_management {
        let kept = key_management_entries(&again);
        assert!(kept == 0, "{kept} key-management settings left after removal:\n{}", &*rendered.text);
    }
});

/// The key-management entries of the root's own `general_settings` mapping.
fn key_management_entries(doc: &Document) -> usize {
    let Some(settings) = doc.get(doc.root(), "general_settings") else {
        return 0;
    };
    doc.entries(settings.value).map_or(0, |entries| {
        entries
            .iter()
            .filter(|e| doc.scalar(e.key).is_some_and(|k| KEY_MANAGEMENT_KEYS.contains(&k)))
            .count()
    })
}
