//! Every `osenv env` format read back by the programs that consume it, not only by osenv's own
//! parser: `dotenv` by python-dotenv 1.2.4 (LiteLLM's loader, pinned in the test venv), by the
//! dotenvy crate, by osenv's `--env-file` and by docker compose's rules (compose-go v2.13.0,
//! `dotenv/parser.go`; no compose binary runs here, so [`compose`] follows that parser step by
//! step); `shell` by `bash` and `dash` (`set -a; . ./file`); `docker` by `docker run
//! --env-file`'s rules (docker/cli `opts/envfile.go`: a 64 KiB line scanner, leading blanks
//! dropped, split at the first `=`); `json` by Python's and serde's JSON; `k8s-secret` by
//! PyYAML (types kept) with base64, and kubernetes-validate.
//!
//! Hundreds of adversarial values (and generated ones) go through each format: a value is
//! either written and read back exactly by every consumer, or refused with a message that says
//! why and names another format; never a file one of them misreads.

use crate::servers::server_url;
use base64::Engine as _;
use osenv::render::env_format::{self, Format, K8sOptions};
use osenv::secret::SecretValue;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

type Vars = BTreeMap<String, String>;

/// The values every format is tried with.
fn values() -> Vec<String> {
    let mut values: Vec<String> = [
        "plain",
        "",
        " ",
        "  leading",
        "trailing  ",
        "\ttab",
        "it's",
        "\"double\"",
        "`ticked`",
        "it's \"quoted\" and `ticked` and $HOME",
        "$HOME",
        "$",
        "$$",
        "${HOME}",
        "'${VAR}'",
        "pa$sword",
        "\\$",
        "back\\slash",
        "ends with \\",
        "\\",
        "\\n",
        "\\\"",
        "\\'",
        "multi\nline",
        "\n",
        "trailing\n",
        "#hash",
        "a #b",
        "a#b",
        " #x",
        "x=y",
        "=",
        "a'b\"c",
        "'",
        "\"",
        "''",
        "\"\"",
        "é",
        "日本語",
        "emoji 🎉",
        "nbsp\u{a0}x",
        "\u{feff}bom",
        "line\u{2028}sep",
        "next\u{85}line",
        "\u{b}\u{c}",
        "\u{1}ctl",
        "\u{7f}",
        "{}",
        "[1, 2]",
        "true",
        "yes",
        "null",
        "~",
        "0x1F",
        "017",
        "1_000",
        ".inf",
        "2001-01-01",
        "- item",
        "key: value",
        "*star",
        "&anchor",
        "!tag",
        "%percent",
        "@at",
        "| pipe",
        "> gt",
        "cr\r",
        "\r\n",
        "export X=1",
        "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        "postgresql://u:p@db:5432/x?sslmode=require",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // Every printable ASCII character alone, between letters, and doubled.
    for c in ' '..='~' {
        values.push(c.to_string());
        values.push(format!("a{c}b"));
        values.push(format!("{c}{c}"));
    }
    values.push("x".repeat(70 * 1024));
    // Generated strings (deterministic): any characters but NUL, which no environment holds.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::prelude::any::<String>();
    for _ in 0..300 {
        let tree = proptest::strategy::Strategy::new_tree(&strategy, &mut runner).unwrap();
        let value = proptest::strategy::ValueTree::current(&tree);
        if !value.contains('\0') {
            values.push(value);
        }
    }
    values
}

/// The names every format is tried with.
const NAMES: &[&str] = &[
    "OPENAI_API_KEY",
    "lower_case",
    "K9",
    "_",
    "a.b",
    "A-B",
    "1ABC",
    "-x",
    ".",
    "UID",
    "RANDOM",
    "OPTIND",
    "app/db",
    "A B",
    "A=B",
    "#A",
    "é",
];

fn k8s() -> K8sOptions {
    K8sOptions {
        name: "litellm-secrets".into(),
        namespace: None,
    }
}

/// What `format` writes for `vars`, or the refusal.
fn write(format: Format, vars: &[(String, String)]) -> Result<String, String> {
    let values: Vec<(String, SecretValue)> = vars
        .iter()
        .map(|(n, v)| (n.clone(), SecretValue::new(v.as_str())))
        .collect();
    let refs: Vec<(&str, &SecretValue)> = values.iter().map(|(n, v)| (n.as_str(), v)).collect();
    env_format::render(format, &refs, &k8s())
        .map(|text| text.to_string())
        .map_err(|e| e.to_string())
}

/// The venv's Python, or `None` when skipped.
fn python() -> Option<String> {
    server_url("OSENV_TEST_PYTHON", "the test venv")
}

fn run_python(python: &str, script: &str, file: &Path) -> Vars {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(file)
        .env_clear()
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON of strings")
}

/// compose-go v2.13.0's `dotenv` parser, step by step, for files without `${...}` or `$` in
/// double quotes (osenv refuses those): statements start at the first non-space character, `#`
/// lines are comments, `export ` is dropped, the key runs to `=` (letters, digits, `_.-[]`);
/// a quoted value runs to its closing quote, where `\` + the quote drops the backslash and any
/// other `\x` keeps both; in double quotes, then, Go's escapes `\a\b\c\f\n\r\t\v\$\"\\` and
/// `\0NNN` are replaced; unquoted values run to the line end, cut at ` #`, right-trimmed.
pub(crate) fn compose(text: &str) -> Result<Vars, String> {
    let mut out = Vars::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(out);
        }
        if rest.starts_with('#') {
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
            continue;
        }
        if let Some(after) = rest.strip_prefix("export")
            && after.starts_with(|c: char| c.is_whitespace())
        {
            rest = after.trim_start_matches([' ', '\t']);
        }
        let end = rest
            .find(['=', ':', '\n'])
            .ok_or_else(|| format!("no `=` in {rest:?}"))?;
        let key = rest[..end].trim_end().to_owned();
        if !key.chars().all(|c| c.is_alphanumeric() || "_.-[]".contains(c)) {
            return Err(format!("unexpected character in variable name {key:?}"));
        }
        rest = rest[end + 1..].trim_start_matches(['\t', '\u{b}', '\u{c}', '\r', ' ', '\u{85}', '\u{a0}']);
        let value;
        if let Some(quote @ ('\'' | '"')) = rest.chars().next() {
            let mut chars = String::new();
            let mut escaped = false;
            let mut closed = None;
            for (i, c) in rest.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                    if c != quote {
                        chars.push('\\');
                    }
                    chars.push(c);
                } else if c == '\\' {
                    escaped = true;
                } else if c == quote {
                    closed = Some(i);
                    break;
                } else {
                    chars.push(c);
                }
            }
            let end = closed.ok_or("unterminated quoted value")?;
            rest = &rest[end + 1..];
            value = if quote == '"' { go_escapes(&chars) } else { chars };
            // The rest of the line after the closing quote.
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
        } else {
            let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
            let line = line.split(" #").next().unwrap_or_default();
            value = line.trim_end().to_owned();
            rest = after;
        }
        out.insert(key, value);
    }
}

/// compose-go's `expandEscapes`: the escapes Go's `strconv.UnquoteChar` knows, from its list.
fn go_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(e @ ('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '"' | '\\' | '$')) => {
                chars.next();
                out.push(match e {
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'v' => '\u{b}',
                    other => other,
                });
            }
            _ => out.push('\\'),
        }
    }
    out
}

/// docker/cli's `opts/envfile.go` (`parseKeyValueFile`): lines from a `bufio.Scanner` (64 KiB
/// at most; `\r` before the line break dropped), a byte-order mark dropped from the first, each
/// line's leading blanks dropped, `#` lines skipped, split at the first `=`, the value verbatim.
pub(crate) fn docker(text: &str) -> Result<Vars, String> {
    let mut out = Vars::new();
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        if raw.len() > 64 * 1024 {
            return Err("bufio.Scanner: token too long".into());
        }
        let mut line = raw.strip_suffix('\n').unwrap_or(raw);
        line = line.strip_suffix('\r').unwrap_or(line);
        if i == 0 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (variable, value) = line.split_once('=').ok_or("a line without `=`")?;
        let variable = variable.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
        if variable.is_empty() || variable.contains([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']) {
            return Err(format!("variable {variable:?} contains whitespaces or is empty"));
        }
        out.insert(variable.to_owned(), value.to_owned());
    }
    Ok(out)
}

/// `set -a; . ./file` in `shell`, then every name read back.
fn shell(shell: &str, dir: &Path, names: &[String]) -> Vars {
    let mut script = String::from("set -a; . ./vars.sh || exit 9\n");
    for name in names {
        let _ = writeln!(script, "printf '%s\\0' \"${{{name}}}\"");
    }
    let out = Command::new(shell)
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("the shell runs");
    assert!(
        out.status.success(),
        "{shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    names.iter().cloned().zip(text.split('\0').map(str::to_owned)).collect()
}

/// Every consumer's reading of `text` in `format`, by consumer name.
fn readings(
    format: Format,
    text: &str,
    names: &[String],
    py: &str,
    dir: &Path,
) -> Vec<(&'static str, Result<Vars, String>)> {
    let file = dir.join("vars");
    std::fs::write(&file, text).unwrap();
    match format {
        Format::Dotenv => {
            let osenv = osenv::environment::DotenvFile::parse(".env", text)
                .map(|f| {
                    names
                        .iter()
                        .filter_map(|n| f.get(n).map(|(v, _)| (n.clone(), v.expose().to_owned())))
                        .collect()
                })
                .map_err(|e| e.to_string());
            let dotenvy = dotenvy::from_read_iter(text.as_bytes())
                .collect::<Result<Vars, _>>()
                .map_err(|e| e.to_string());
            let python = run_python(
                py,
                "import json, sys\nfrom dotenv import dotenv_values\nprint(json.dumps(dict(dotenv_values(sys.argv[1], interpolate=True))))",
                &file,
            );
            let mut readings = vec![
                ("python-dotenv", Ok(python)),
                ("osenv --env-file", osenv),
                ("compose-go", compose(text)),
            ];
            // dotenvy takes fewer names than the others (README: the dialect matrix).
            if names.iter().all(|n| dotenvy_name(n)) {
                readings.push(("dotenvy", dotenvy));
            }
            readings
        }
        Format::Shell => {
            std::fs::write(dir.join("vars.sh"), text).unwrap();
            vec![
                ("bash", Ok(shell("bash", dir, names))),
                ("dash", Ok(shell("dash", dir, names))),
            ]
        }
        Format::Docker => vec![("docker --env-file", docker(text))],
        Format::Json => vec![
            ("serde_json", serde_json::from_str(text).map_err(|e| e.to_string())),
            (
                "python json",
                Ok(run_python(
                    py,
                    "import json, sys\nprint(json.dumps(json.load(open(sys.argv[1]))))",
                    &file,
                )),
            ),
        ],
        Format::K8sSecret => {
            let script = "import base64, json, sys, yaml\nd = yaml.safe_load(open(sys.argv[1]))['data']\n\
                          assert all(isinstance(k, str) and isinstance(v, str) for k, v in d.items()), d\n\
                          print(json.dumps({k: base64.b64decode(v, validate=True).decode() for k, v in d.items()}))";
            vec![("PyYAML + base64", Ok(run_python(py, script, &file)))]
        }
    }
}

/// The names dotenvy 0.15 reads: a letter or `_`, then letters, digits, `_` and `.`.
fn dotenvy_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

const FORMATS: [Format; 5] = [
    Format::Dotenv,
    Format::Shell,
    Format::Docker,
    Format::Json,
    Format::K8sSecret,
];

#[test]
fn every_value_is_read_back_exactly_by_every_consumer_or_refused() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let values = values();
    for format in FORMATS {
        let mut accepted: Vec<(String, String)> = Vec::new();
        let mut refused = 0;
        for value in &values {
            let name = format!("V{:04}", accepted.len());
            match write(format, &[(name.clone(), value.clone())]) {
                Ok(_) => accepted.push((name, value.clone())),
                Err(message) => {
                    refused += 1;
                    assert!(
                        message.starts_with(&format!("cannot write `{name}` as {}: ", format.as_str())),
                        "{message}"
                    );
                    if value.chars().count() >= 4 {
                        assert!(!message.contains(value.as_str()), "{message}");
                    }
                }
            }
        }
        let text = write(format, &accepted).expect("accepted values are accepted together");
        let names: Vec<String> = accepted.iter().map(|(n, _)| n.clone()).collect();
        let expected: Vars = accepted.iter().cloned().collect();
        for (consumer, reading) in readings(format, &text, &names, &py, dir.path()) {
            let reading = reading.unwrap_or_else(|e| panic!("{consumer} cannot read osenv's {}: {e}", format.as_str()));
            for (name, want) in &expected {
                assert_eq!(
                    reading.get(name),
                    Some(want),
                    "{consumer} reads {name} of osenv's {} differently",
                    format.as_str()
                );
            }
            assert_eq!(reading.len(), expected.len(), "{consumer}: extra names");
        }
        // Only what no encoding carries is refused: json takes every value, the others most.
        let kept = accepted.len() * 100 / values.len();
        match format {
            Format::Json | Format::K8sSecret => assert_eq!(refused, 0, "{}", format.as_str()),
            _ => assert!(kept >= 85, "{}: only {kept}% written", format.as_str()),
        }
    }
}

#[test]
fn every_name_is_read_back_by_every_consumer_or_refused() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let mut accepted = Vec::new();
        for name in NAMES {
            match write(format, &[((*name).to_owned(), "v".to_owned())]) {
                Ok(_) => accepted.push(((*name).to_owned(), "v".to_owned())),
                Err(message) => assert!(message.starts_with(&format!("cannot write `{name}` as ")), "{message}"),
            }
        }
        if accepted.is_empty() {
            continue;
        }
        let text = write(format, &accepted).unwrap();
        let names: Vec<String> = accepted.iter().map(|(n, _)| n.clone()).collect();
        let expected: Vars = accepted.iter().cloned().collect();
        for (consumer, reading) in readings(format, &text, &names, &py, dir.path()) {
            let reading =
                reading.unwrap_or_else(|e| panic!("{consumer} cannot read osenv's {}: {e}\n{text}", format.as_str()));
            assert_eq!(reading, expected, "{consumer} ({})", format.as_str());
        }
    }
    // dotenvy reads the names it takes, and refuses (loudly, it never misreads) the others,
    // which python-dotenv and compose read.
    let taken: Vec<(String, String)> = NAMES
        .iter()
        .filter(|n| dotenvy_name(n))
        .map(|n| ((*n).to_owned(), "v".to_owned()))
        .collect();
    let text = write(Format::Dotenv, &taken).unwrap();
    let read: Vars = dotenvy::from_read_iter(text.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read, taken.into_iter().collect::<Vars>());
    let text = write(Format::Dotenv, &[("A-B".into(), "v".into())]).unwrap();
    assert!(dotenvy::from_read_iter(text.as_bytes()).any(|r| r.is_err()));
    // The names a shell keeps for itself are refused for `shell` and fine elsewhere.
    let err = write(Format::Shell, &[("UID".into(), "v".into())]).unwrap_err();
    assert!(err.contains("bash keeps this name for itself"), "{err}");
}

#[test]
fn a_kubernetes_secret_of_tricky_keys_and_empty_values_is_valid_and_keeps_its_types() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let vars: Vec<(String, String)> = [
        "true",
        "yes",
        "null",
        "1",
        "0x1F",
        "017",
        "1_000",
        ".inf",
        "2001-01-01",
        "EMPTY",
    ]
    .iter()
    .map(|k| {
        (
            (*k).to_owned(),
            if *k == "EMPTY" {
                String::new()
            } else {
                format!("value of {k}")
            },
        )
    })
    .collect();
    let text = write(Format::K8sSecret, &vars).unwrap();
    let file = dir.path().join("secret.yaml");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(&py)
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = vars.iter().map(|(n, _)| n.clone()).collect();
    let expected: Vars = vars.into_iter().collect();
    for (consumer, reading) in readings(Format::K8sSecret, &text, &names, &py, dir.path()) {
        assert_eq!(reading.unwrap(), expected, "{consumer}");
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode("").unwrap();
    assert!(decoded.is_empty());
}
