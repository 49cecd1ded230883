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

/// The tree as PyYAML types it: a scalar PyYAML loads as a string is that string, any other
/// (null, a boolean, a number, a date) is marked as not one, so a secret rendered as a plain
/// `null` or `0x1F` does not compare equal to the string; aliases followed.
fn tree(doc: &Document, id: NodeId) -> serde_json::Value {
    match doc.node(doc.resolve_alias(id)).kind {
        NodeKind::Scalar { .. } => match doc.string(id) {
            Some(text) => serde_json::Value::String(text.to_owned()),
            None => serde_json::json!({ "not a string": doc.scalar(id) }),
        },
        NodeKind::Sequence { .. } => doc.items(id).unwrap().iter().map(|&i| tree(doc, i)).collect(),
        NodeKind::Mapping { .. } => doc
            .entries(id)
            .unwrap()
            .iter()
            .map(|e| (doc.string(e.key).unwrap_or("?").to_owned(), tree(doc, e.value)))
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
            // The other consumers of the format (python-dotenv: tests/osenv/consumers.rs).
            let compose = crate::consumers::compose(&dotenv).unwrap();
            prop_assert_eq!(compose.get("V"), Some(&secret), "compose-go reads:\n{}", &*dotenv);
            let dotenvy: Vec<(String, String)> = dotenvy::from_read_iter(dotenv.as_bytes()).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(dotenvy, vec![("V".to_owned(), secret.clone())]);
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
                let docker = crate::consumers::docker(&text).unwrap();
                prop_assert_eq!(docker.get("V"), Some(&secret));
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
    // This process has PATH and HOME; an environment built from given variables sees only
    // those (a lookup that fell through to the process environment would find them).
    assert!(std::env::var_os("PATH").is_some());
    let env = Environment::new([("S", "1")], vec![]);
    assert_eq!(env.get("S").unwrap().expose(), "1");
    for name in ["PATH", "HOME"] {
        assert!(env.get(name).is_err(), "{name} leaked in from the process environment");
    }
}

/// Values where PyYAML and YAML 1.2 differ, or that other YAML types take: YAML 1.1 words,
/// numbers in every base and form, dates, indicators.
const YAML_WORDS: &[&str] = &[
    "null",
    "Null",
    "NULL",
    "~",
    "",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "NO",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
    "y",
    "Y",
    "n",
    "N",
    "0",
    "-0",
    "+1",
    "6379",
    "0x1F",
    "0o17",
    "017",
    "08",
    "1_000",
    "1,000",
    "1e3",
    "1.5e-3",
    ".5",
    "5.",
    ".inf",
    "-.inf",
    "+.INF",
    ".nan",
    ".NaN",
    "2001-01-01",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "12:30:00",
    "190:20:30",
    "0b1010",
    "=",
    "<<",
    "-",
    "- ",
    "?",
    "? x",
    ":",
    "x:",
    "x: y",
    "!",
    "!!str",
    "&a",
    "*a",
    "|",
    ">",
    "%",
    "@",
    "`",
    "'",
    "\"",
    "#",
    " #",
    "a #b",
    " ",
    "\t",
    "[",
    "]",
    "{",
    "}",
    ",",
    "os.environ/X",
    "\u{feff}",
    "\u{85}",
    "\u{2028}",
    "\u{2029}",
    "\u{a0}",
    "\u{fffe}",
    "\u{ffff}",
    "\u{7f}",
    "\u{9f}",
];

/// Read every rendered config with PyYAML (LiteLLM's loader) and compare, type for type, with
/// the original read by PyYAML and the reference replaced by the value: a value rendered as a
/// plain `null`, `6379`, `yes` or `0x1F` comes back as another type and fails here. Values come
/// from any characters (control characters included), YAML 1.1 words and digits.
#[test]
fn pyyaml_reads_every_rendered_value_back_as_exactly_that_string() {
    let Some(python) = crate::servers::server_url("OSENV_TEST_PYTHON", "the test venv") else {
        return;
    };
    let mut values: Vec<String> = YAML_WORDS.iter().map(|w| (*w).to_owned()).collect();
    let strategy = prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..10).prop_map(|c| c.into_iter().collect::<String>()),
        "[0-9._:+eE x-]{1,8}",
        prop::sample::select(YAML_WORDS).prop_map(|w| format!(" {w} ")),
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..600 {
        values.push(proptest::strategy::ValueTree::current(
            &strategy.new_tree(&mut runner).unwrap(),
        ));
    }
    let cases: Vec<serde_json::Value> = LAYOUTS
        .iter()
        .flat_map(|layout| {
            values.iter().map(
                move |value| serde_json::json!({"layout": layout, "value": value, "rendered": render(layout, value)}),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.json");
    std::fs::write(&file, serde_json::to_string(&cases).unwrap()).unwrap();
    let script = r#"
import json, sys, yaml
def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b
def sub(v, value):
    if v == "os.environ/S":
        return value
    if isinstance(v, dict):
        return {k: sub(x, value) for k, x in v.items()}
    if isinstance(v, list):
        return [sub(x, value) for x in v]
    return v
bad = []
for case in json.load(open(sys.argv[1])):
    want = sub(yaml.safe_load(case["layout"]), case["value"])
    try:
        got = yaml.safe_load(case["rendered"])
    except yaml.YAMLError as e:
        bad.append({"value": case["value"], "rendered": case["rendered"], "error": str(e)[:200]})
        continue
    if not same(want, got):
        bad.append({"value": case["value"], "rendered": case["rendered"], "got": repr(got)[:200]})
print(json.dumps(bad[:10], ensure_ascii=True))
sys.exit(1 if bad else 0)
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "PyYAML reads {} rendered values differently, e.g.:\n{}{}",
        cases.len(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `%XX` escapes decoded (the test's own decoder, independent of the one osenv encodes with).
#[cfg(any(feature = "vault", feature = "azure", feature = "gcp"))]
fn percent_decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(Some(h)), Some(Some(l))) =
                (bytes.get(i + 1).map(|&b| hex(b)), bytes.get(i + 2).map(|&b| hex(b)))
        {
            out.push(u8::try_from(h * 16 + l).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path segments of `url` after the first `skip`, decoded.
#[cfg(any(feature = "vault", feature = "azure", feature = "gcp"))]
fn asked(url: &reqwest::Url, skip: usize) -> Vec<String> {
    url.path_segments().unwrap().skip(skip).map(percent_decoded).collect()
}

#[cfg(any(feature = "vault", feature = "azure", feature = "gcp"))]
fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z./%#@?&=+ _-]{1,24}",
        "([a-z.]{1,3}|%2[eEfF]|\\.\\.|[?#])(/([a-z.]{1,3}|%2[eEfF]|\\.\\.|[?#]|\\.%2e)){0,4}(@[0-9a-z]{1,3})?(#[a-z]{1,3})?",
        "projects/[a-z.:]{1,4}/secrets/[a-z._-]{1,6}(/versions/[a-z0-9.]{1,4})?",
        any::<String>(),
    ]
}

#[cfg(any(feature = "vault", feature = "azure", feature = "gcp"))]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A name a backend accepts asks for exactly the secret it names: the request URL, read
    /// back with the URL library the HTTP client uses (which resolves `.`, `..` and their
    /// percent-encoded forms), holds the named segments and no query or fragment. Asserting
    /// what each parser itself checks would be a tautology (the fuzz target `names` holds the
    /// same property).
    #[test]
    fn an_accepted_name_asks_for_exactly_the_named_secret(name in names()) {
        #[cfg(feature = "vault")]
        if let Ok(path) = osenv::backend::vault::secret_path::SecretPath::parse(&name) {
            let url = reqwest::Url::parse(&format!("http://127.0.0.1:8200/v1/secret/data/{}", path.encoded())).unwrap();
            prop_assert_eq!(asked(&url, 3), path.segments.clone(), "{}", url);
            prop_assert!(url.query().is_none() && url.fragment().is_none(), "{}", url);
        }
        #[cfg(feature = "azure")]
        if let Ok((secret, _)) = osenv::backend::azure::vault_name(&name, true) {
            let url = reqwest::Url::parse(&format!("https://v.vault.azure.net/secrets/{secret}")).unwrap();
            prop_assert_eq!(asked(&url, 1), vec![secret.clone()], "{}", url);
        }
        #[cfg(feature = "gcp")]
        if let Ok(secret) = osenv::backend::gcp::secret_manager::SecretName::parse(&name, Some("p")) {
            let url = reqwest::Url::parse(&format!("https://sm.googleapis.com/v1/{}:access", secret.version_name())).unwrap();
            prop_assert_eq!(asked(&url, 1).join("/"), format!("{}:access", secret.version_name()), "{}", url);
        }
    }
}
