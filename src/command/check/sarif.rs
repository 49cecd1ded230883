//! `check --format sarif`: SARIF 2.1.0 for GitHub code scanning and GitLab. One run; a rule per
//! finding kind with its stable id and help text; each result located by file, line and column
//! (columns count code points, as osenv's do) and fingerprinted without its line, so a finding
//! stays the same finding when lines above it move.

use super::findings::{Finding, Rule};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// A file name as a SARIF URI reference: `/` separators, percent-encoded bytes outside
/// RFC 3986's unreserved characters and `/`; an absolute path as a `file://` URI.
fn uri(file: &str) -> String {
    let path = file.replace('\\', "/");
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.starts_with('/') {
        format!("file://{out}")
    } else {
        out
    }
}

fn rule(rule: Rule) -> Value {
    json!({
        "id": rule.id(),
        "name": rule.name(),
        "shortDescription": { "text": rule.short() },
        "fullDescription": { "text": format!("{}.", rule.short()) },
        "help": { "text": rule.help() },
        "defaultConfiguration": { "level": rule.level().as_str() },
    })
}

fn result(finding: &Finding) -> Value {
    let index = Rule::ALL.iter().position(|r| *r == finding.rule).unwrap_or_default();
    let mut result = json!({
        "ruleId": finding.rule.id(),
        "ruleIndex": index,
        "level": finding.level.as_str(),
        "message": { "text": finding.message },
        "partialFingerprints": { "osenvFinding/v1": finding.fingerprint() },
    });
    if let Some(at) = finding.location.as_ref().filter(|at| &**at.file() != "<stdin>") {
        result["locations"] = json!([{
            "physicalLocation": {
                "artifactLocation": { "uri": uri(at.file()) },
                "region": { "startLine": at.line(), "startColumn": at.column() },
            }
        }]);
    }
    result
}

/// The SARIF log for `findings`.
pub(super) fn log(findings: &[Finding], successful: bool) -> String {
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "osenv",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://docs.litellm.ai/docs/secret",
                    "rules": Rule::ALL.iter().map(|r| rule(*r)).collect::<Vec<_>>(),
                }
            },
            "columnKind": "unicodeCodePoints",
            "invocations": [{ "executionSuccessful": successful }],
            "results": findings.iter().map(result).collect::<Vec<_>>(),
        }]
    });
    osenv::escape::json(&serde_json::to_string_pretty(&log).expect("a SARIF log serializes")) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_uri_references() {
        assert_eq!(uri("deploy/config.yaml"), "deploy/config.yaml");
        assert_eq!(uri("my config#1.yaml"), "my%20config%231.yaml");
        assert_eq!(uri("/abs/c.yaml"), "file:///abs/c.yaml");
        assert_eq!(uri("dir\\c.yaml"), "dir/c.yaml");
    }
}
