//! Credentials written into a config as plain text, where an `os.environ/` reference belongs.
//!
//! `osenv check` warns about them: a literal value under a key LiteLLM reads a credential from
//! (`api_key`, `master_key`, `*_secret`, `*_token`, `*_password`, …), or a value shaped like a
//! well-known credential wherever it is (`sk-…`, `sk-ant-…`, `AKIA…`/`ASIA…`, `ghp_…`, `xox…-`,
//! a PEM private key, a URL with `user:password@`). A finding names its kind and place, never
//! the value. A comment `# osenv: allow-plaintext` on the value's line suppresses it.
//!
//! The walk does not follow aliases (an anchored value is found where it is written, once) and
//! keeps its own stack, so a deep or alias-heavy document costs one visit per node.

use crate::document::{Document, NodeId, NodeKind};
use crate::location::Location;

/// The comment that suppresses a finding on its line.
pub const ALLOW_COMMENT: &str = "osenv: allow-plaintext";

/// What a plain-text value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An Anthropic API key (`sk-ant-…`).
    Anthropic,
    /// An OpenAI-style API key (`sk-…`, also LiteLLM's virtual and master keys).
    OpenAiStyle,
    /// An AWS access key id (`AKIA…`, `ASIA…`).
    AwsAccessKey,
    /// A GitHub token (`ghp_…`, `github_pat_…`).
    GitHub,
    /// A Slack token (`xoxb-…`).
    Slack,
    /// A Google API key (`AIza…`).
    GoogleApiKey,
    /// A Hugging Face token (`hf_…`).
    HuggingFace,
    /// A PEM private key.
    PrivateKey,
    /// A URL with a password in it (`postgresql://user:password@host/db`).
    UrlPassword,
    /// A literal value under a key that holds a credential.
    CredentialKey,
}

impl Kind {
    /// How messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Anthropic => "an Anthropic API key (`sk-ant-…`)",
            Self::OpenAiStyle => "an API key (`sk-…`)",
            Self::AwsAccessKey => "an AWS access key id (`AKIA…`/`ASIA…`)",
            Self::GitHub => "a GitHub token",
            Self::Slack => "a Slack token (`xox…-`)",
            Self::GoogleApiKey => "a Google API key (`AIza…`)",
            Self::HuggingFace => "a Hugging Face token (`hf_…`)",
            Self::PrivateKey => "a PEM private key",
            Self::UrlPassword => "a URL with a password in it",
            Self::CredentialKey => "a literal value under a credential key",
        }
    }
}

/// One plain-text credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plaintext {
    /// Where the value is.
    pub location: Location,
    /// Its path in the config (`model_list[0].litellm_params.api_key`).
    pub path: String,
    /// What it looks like.
    pub kind: Kind,
}

/// Key names (lower-cased) whose value is a credential wherever they are.
const CREDENTIAL_KEYS: &[&str] = &[
    "api_key",
    "master_key",
    "password",
    "secret",
    "token",
    "access_token",
    "auth_token",
    "bearer_token",
    "client_secret",
    "private_key",
    "aws_secret_access_key",
    "aws_session_token",
    "salt_key",
    "webhook_url",
];

/// Key suffixes (lower-cased) whose value is a credential.
const CREDENTIAL_SUFFIXES: &[&str] = &[
    "_api_key",
    "_secret",
    "_secret_key",
    "_secret_access_key",
    "_token",
    "_password",
    "_private_key",
    "_master_key",
    "_webhook_url",
];

/// Words that mark a value as a placeholder (`fake-key` for a local model, `<your key>`).
const PLACEHOLDERS: &[&str] = &[
    "fake",
    "dummy",
    "placeholder",
    "example",
    "changeme",
    "your-",
    "your_",
    "xxxx",
    "redacted",
];

fn credential_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    CREDENTIAL_KEYS.contains(&key.as_str()) || CREDENTIAL_SUFFIXES.iter().any(|s| key.ends_with(s))
}

fn placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    (value.starts_with('<') && value.ends_with('>'))
        || (value.starts_with("${") && value.ends_with('}'))
        || PLACEHOLDERS.iter().any(|p| lower.contains(p))
        || matches!(lower.as_str(), "none" | "null" | "false" | "true" | "n/a" | "-")
}

/// The run of `[A-Za-z0-9_-]` (or `alphabet`) characters at the start of `text`.
fn run_len(text: &str, alphabet: impl Fn(u8) -> bool) -> usize {
    text.bytes().take_while(|b| alphabet(*b)).count()
}

fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The well-known credential shape `value` holds, if any (anywhere in it, at a word start).
fn shape(value: &str) -> Option<Kind> {
    if value.contains("-----BEGIN") && value.contains("PRIVATE KEY-----") {
        return Some(Kind::PrivateKey);
    }
    if url_password(value) {
        return Some(Kind::UrlPassword);
    }
    let bytes = value.as_bytes();
    for (at, _) in value.char_indices() {
        if at > 0 && token_byte(bytes[at - 1]) {
            continue;
        }
        let rest = &value[at..];
        let after = |prefix: &str| rest.strip_prefix(prefix).map_or(0, |r| run_len(r, token_byte));
        let upper_alnum = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
        if after("sk-ant-") >= 20 {
            return Some(Kind::Anthropic);
        }
        if after("sk-") >= 20 {
            return Some(Kind::OpenAiStyle);
        }
        if (rest.starts_with("AKIA") || rest.starts_with("ASIA")) && run_len(&rest[4..], upper_alnum) == 16 {
            return Some(Kind::AwsAccessKey);
        }
        if ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].iter().any(|p| {
            rest.strip_prefix(p)
                .is_some_and(|r| run_len(r, |b| b.is_ascii_alphanumeric()) >= 36)
        }) || after("github_pat_") >= 22
        {
            return Some(Kind::GitHub);
        }
        if ["xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-"]
            .iter()
            .any(|p| rest.strip_prefix(p).is_some_and(|r| run_len(r, token_byte) >= 10))
        {
            return Some(Kind::Slack);
        }
        if after("AIza") >= 35 {
            return Some(Kind::GoogleApiKey);
        }
        if rest
            .strip_prefix("hf_")
            .is_some_and(|r| run_len(r, |b| b.is_ascii_alphanumeric()) >= 30)
        {
            return Some(Kind::HuggingFace);
        }
    }
    None
}

/// `scheme://user:password@host…` with a password that is not a placeholder.
fn url_password(value: &str) -> bool {
    let Some(at) = value.find("://") else { return false };
    let rest = &value[at + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let Some((userinfo, _host)) = authority.rsplit_once('@') else {
        return false;
    };
    match userinfo.split_once(':') {
        Some((_, password)) => !password.is_empty() && !placeholder(password) && !password.starts_with('$'),
        None => false,
    }
}

/// A comment after the value, on its line (for a block scalar: on its header line), allows
/// plain text there.
fn allowed(doc: &Document, span: std::ops::Range<usize>) -> bool {
    let text = doc.text();
    let line_end = text[span.start..].find('\n').map_or(text.len(), |i| span.start + i);
    let from = if span.end <= line_end { span.end } else { span.start };
    text[from..line_end]
        .find('#')
        .is_some_and(|hash| text[from + hash..line_end].contains(ALLOW_COMMENT))
}

/// Every plain-text credential in `doc`, in document order.
pub fn find(doc: &Document) -> Vec<Plaintext> {
    /// A node to look at: its id, the mapping key it is under (list items keep their list's
    /// key), and its path.
    struct Visit {
        id: NodeId,
        key: Option<String>,
        path: String,
    }
    let mut found = Vec::new();
    let mut stack = vec![Visit {
        id: doc.root(),
        key: None,
        path: String::new(),
    }];
    while let Some(Visit { id, key, path }) = stack.pop() {
        let node = doc.node(id);
        match node.kind {
            NodeKind::Alias => {}
            NodeKind::Mapping { .. } => {
                for entry in doc.entries(id).unwrap_or_default().iter().rev() {
                    let Some(name) = doc.string(entry.key) else { continue };
                    let path = if path.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{path}.{name}")
                    };
                    stack.push(Visit {
                        id: entry.value,
                        key: Some(name.to_owned()),
                        path,
                    });
                }
            }
            NodeKind::Sequence { .. } => {
                for (i, item) in doc.items(id).unwrap_or_default().iter().enumerate().rev() {
                    stack.push(Visit {
                        id: *item,
                        key: key.clone(),
                        path: format!("{path}[{i}]"),
                    });
                }
            }
            NodeKind::Scalar { .. } => {
                let Some(value) = doc.string(id) else { continue };
                let value = value.trim();
                if value.is_empty() || value.starts_with("os.environ/") || value.starts_with("oidc/") {
                    continue;
                }
                let kind = shape(value).or_else(|| {
                    (key.as_deref().is_some_and(credential_key) && value.chars().count() >= 4 && !placeholder(value))
                        .then_some(Kind::CredentialKey)
                });
                if let Some(kind) = kind
                    && !allowed(doc, node.span())
                {
                    found.push(Plaintext {
                        location: doc.location(id),
                        path,
                        kind,
                    });
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(yaml: &str) -> Vec<(String, Kind)> {
        let doc = Document::parse("c.yaml", yaml.to_owned()).unwrap();
        find(&doc).into_iter().map(|p| (p.path, p.kind)).collect()
    }

    #[test]
    fn credential_keys_and_shapes_are_found_without_their_values() {
        let yaml = "\
model_list:
  - model_name: gpt
    litellm_params:
      api_key: sk-proj-abcdefghijklmnopqrstuvwx
      api_base: https://api.openai.com
  - model_name: claude
    litellm_params:
      api_key: sk-ant-api03-abcdefghijklmnopqrstuv
  - model_name: local
    litellm_params:
      api_key: fake-key
      aws_access_key_id: AKIAABCDEFGHIJKLMNOP
      aws_secret_access_key: wJalrXUtnFEMI/K7MDENG
general_settings:
  master_key: sk-1234
  database_url: postgresql://llmproxy:dbpassword9090@db:5432/litellm
  alerting_webhook: https://hooks.example.com/x
  slack_webhook_url: os.environ/SLACK_WEBHOOK_URL
litellm_settings:
  callbacks: [langfuse]
  langfuse_secret: lf-sk-123456
  max_tokens: 1000
notes: [ghp_abcdefghijklmnopqrstuvwxyz0123456789]
";
        assert_eq!(
            kinds(yaml),
            vec![
                ("model_list[0].litellm_params.api_key".into(), Kind::OpenAiStyle),
                ("model_list[1].litellm_params.api_key".into(), Kind::Anthropic),
                (
                    "model_list[2].litellm_params.aws_access_key_id".into(),
                    Kind::AwsAccessKey
                ),
                (
                    "model_list[2].litellm_params.aws_secret_access_key".into(),
                    Kind::CredentialKey
                ),
                ("general_settings.master_key".into(), Kind::CredentialKey),
                ("general_settings.database_url".into(), Kind::UrlPassword),
                ("litellm_settings.langfuse_secret".into(), Kind::CredentialKey),
                ("notes[0]".into(), Kind::GitHub),
            ]
        );
    }

    #[test]
    fn references_placeholders_and_allowed_lines_are_not_findings() {
        let yaml = "\
a:
  api_key: os.environ/OPENAI_API_KEY
  token: oidc/google/https://example.com
  password: ${DB_PASSWORD}
  secret: <your secret>
  master_key: sk-1234  # osenv: allow-plaintext (local demo)
  url: postgresql://user:${PW}@db/x
  url2: https://user@host/x
  note: \"sk-short\"
  count: 12345678
";
        assert_eq!(kinds(yaml), vec![]);
        // `# osenv: allow-plaintext` inside a quoted value is not a comment, also with another
        // comment after the value.
        assert_eq!(
            kinds("a:\n  api_key: \"sk-abcdefghijklmnopqrstuvwxyz # osenv: allow-plaintext\"\n").len(),
            1
        );
        assert_eq!(
            kinds("a:\n  api_key: \"sk-abcdefghijklmnopqrstuvwxyz osenv: allow-plaintext\"  # rotated weekly\n").len(),
            1
        );
        // The search for the comment starts after the value however far away the `#` is: with a
        // gap as long as the value's tail, a search that looked back would find the value's text.
        let gap = " ".repeat(40);
        assert_eq!(
            kinds(&format!(
                "a:\n  api_key: \"sk-abcdefghijklmnopqrstuvwxyz osenv: allow-plaintext\"{gap}# rotated weekly\n"
            ))
            .len(),
            1
        );
    }

    #[test]
    fn shapes_start_at_a_word_and_need_their_full_length() {
        let yaml = "\
notes:
  - use sk-abcdefghijklmnopqrstuvwxyz here
  - xsk-abcdefghijklmnopqrstuvwxyz
  - _sk-abcdefghijklmnopqrstuvwxyz
  - sk-abcdefghijklmnopqrs
  - xoxb-1234567890
  - xoxb-123456789
  - hf_abcdefghijklmnopqrstuvwxyz0123
  - hf_abcdefghijklmnopqrstuvwxyz012
  - -----BEGIN CERTIFICATE-----
  - postgresql://u:$PW@db/x
";
        assert_eq!(
            kinds(yaml),
            vec![
                ("notes[0]".into(), Kind::OpenAiStyle),
                ("notes[4]".into(), Kind::Slack),
                ("notes[6]".into(), Kind::HuggingFace),
            ]
        );
    }

    #[test]
    fn placeholders_are_whole_shapes_and_the_comment_is_its_own_lines() {
        let yaml = "\
a:
  password: <half-open
  secret: ${unterminated
  note: x  # osenv: allow-plaintext
  api_key: sk-abcdefghijklmnopqrstuvwxyz
";
        assert_eq!(
            kinds(yaml),
            vec![
                ("a.password".into(), Kind::CredentialKey),
                ("a.secret".into(), Kind::CredentialKey),
                ("a.api_key".into(), Kind::OpenAiStyle),
            ]
        );
    }

    #[test]
    fn kinds_are_described_for_people() {
        assert_eq!(Kind::UrlPassword.describe(), "a URL with a password in it");
        assert_eq!(Kind::CredentialKey.describe(), "a literal value under a credential key");
    }

    #[test]
    fn pem_keys_in_block_scalars_and_aliases_are_found_once() {
        let yaml = "\
k: &pem |
  -----BEGIN PRIVATE KEY-----
  MIIB
  -----END PRIVATE KEY-----
again: *pem
";
        assert_eq!(kinds(yaml), vec![("k".into(), Kind::PrivateKey)]);
    }
}
