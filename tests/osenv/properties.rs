//! Properties: a rendered config parses back to the same tree with exactly the secret
//! substituted, and every env format reads back as the secret (or osenv refuses).

use base64::Engine as _;
use osenv::Environment;
use osenv::SecretValue;
use osenv::document::{Document, NodeId, NodeKind};
use osenv::references::Discovery;
use osenv::render::env_format::{self, Format, K8sOptions};
use osenv::render::yaml::{self, Coercion, RenderOptions};
use proptest::prelude::*;

/// Configs with the reference `os.environ/S` in different positions and styles.
const LAYOUTS: &[&str] = &[
    "a: os.environ/S\nb: 1\n",
    "a:\n  b: \"os.environ/S\"   # comment\n  c: [1, 2]\n",
    "list:\n  - name: x\n    key: 'os.environ/S'\n  - name: y\n",
    "flow: {k: os.environ/S, j: [x, y]}\nz: 2\n",
    "flow: {k: \"os.environ/S\" , j: z}\n",
    "deep:\n  - {a: {b: os.environ/S}}\nafter: \"x\"\n",
    "anchor: &a os.environ/S\nuse: *a\n",
    "a: !!str os.environ/S\n",
    "a: [ {k: os.environ/S} ]\n",
];

/// The tree as plain data: scalars by value, aliases followed.
fn tree(doc: &Document, id: NodeId) -> serde_json::Value {
    match doc.node(doc.resolve_alias(id)).kind {
        NodeKind::Scalar { .. } => serde_json::Value::String(doc.scalar(id).unwrap().to_owned()),
        NodeKind::Sequence { .. } => doc.items(id).unwrap().iter().map(|&i| tree(doc, i)).collect(),
        NodeKind::Mapping { .. } => doc
            .entries(id)
            .unwrap()
            .iter()
            .map(|e| (doc.scalar(e.key).unwrap_or("?").to_owned(), tree(doc, e.value)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        NodeKind::Alias => unreachable!(),
    }
}

fn substitute(v: &mut serde_json::Value, secret: &str) {
    match v {
        serde_json::Value::String(s) if s == "os.environ/S" => secret.clone_into(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, secret)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|i| substitute(i, secret)),
        _ => {}
    }
}

fn render(layout: &str, secret: &str) -> String {
    let doc = Document::parse("p.yaml", layout.to_owned()).unwrap();
    let refs = Discovery::of(&doc, 100).references;
    let value = SecretValue::new(secret);
    let out = yaml::render(
        &doc,
        &refs,
        |_| Some(&value),
        RenderOptions {
            keep_key_management: false,
            coercion: Coercion::Off,
        },
    );
    out.text.to_string()
}

fn secrets() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        "[a-z: #'\"\\\\\n\t{}\\[\\],&*!|>%@`-]{0,30}",
        Just("null".to_owned()),
        Just("0x1F".to_owned()),
        Just(" leading".to_owned()),
        Just("x\nadmin: true".to_owned()),
    ]
    .prop_filter("NUL cannot be in an environment variable", |s| !s.contains('\0'))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rendered_yaml_reads_back_as_exactly_the_secret(secret in secrets(), layout in 0..LAYOUTS.len()) {
        let src = LAYOUTS[layout];
        let rendered = render(src, &secret);
        let before = Document::parse("p.yaml", src.to_owned()).unwrap();
        let after = Document::parse("r.yaml", rendered.clone());
        prop_assert!(after.is_ok(), "rendered YAML does not parse:\n{}", rendered);
        let after = after.unwrap();
        let mut expected = tree(&before, before.root());
        substitute(&mut expected, &secret);
        prop_assert_eq!(tree(&after, after.root()), expected, "rendered:\n{}", rendered);
    }

    #[test]
    fn dotenv_json_and_k8s_read_back(secret in secrets()) {
        let value = SecretValue::new(secret.clone());
        let k8s = K8sOptions { name: "s".into(), namespace: None };
        // Values no dotenv spelling carries (`${...}`, `$` with quotes) are refused by name.
        if let Ok(dotenv) = env_format::render(Format::Dotenv, &[("V", &value)], &k8s) {
            let parsed = osenv::environment::DotenvFile::parse(".env", &dotenv).unwrap();
            prop_assert_eq!(parsed.get("V").map(|(v, _)| v.expose().to_owned()), Some(secret.clone()));
        } else {
            prop_assert!(secret.contains('$') || secret.contains('\r'), "{:?}", secret);
        }

        let json = env_format::render(Format::Json, &[("V", &value)], &k8s).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(parsed["V"].as_str(), Some(secret.as_str()));

        let manifest = env_format::render(Format::K8sSecret, &[("V", &value)], &k8s).unwrap();
        let doc = Document::parse("k.yaml", manifest.to_string()).unwrap();
        let data = doc.get(doc.root(), "data").unwrap().value;
        let encoded = doc.scalar(doc.get(data, "V").unwrap().value).unwrap().to_owned();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        prop_assert_eq!(String::from_utf8(decoded).unwrap(), secret.clone());

        match env_format::render(Format::Docker, &[("V", &value)], &k8s) {
            Ok(text) => {
                let line = text.lines().find(|l| l.starts_with("V=")).unwrap();
                prop_assert_eq!(&line[2..], secret.as_str());
            }
            Err(_) => prop_assert!(secret.contains(['\n', '\r'])),
        }
    }
}

#[cfg(unix)]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn shell_format_reads_back_through_sh(secret in secrets()) {
        let value = SecretValue::new(secret.clone());
        let text = env_format::render(Format::Shell, &[("V", &value)], &K8sOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("v.sh"), text.as_bytes()).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(". ./v.sh && printf '%s' \"$V\"")
            .current_dir(dir.path())
            .env_clear()
            .output()
            .unwrap();
        prop_assert_eq!(String::from_utf8_lossy(&out.stdout).into_owned(), secret);
    }
}

#[test]
fn environment_lookup_is_hermetic_in_tests() {
    let env = Environment::new([("S", "1")], vec![]);
    assert_eq!(env.get("S").unwrap().expose(), "1");
}
