//! Least-privilege access policies (`osenv policy`): each backend says what its own requests
//! need for a config's names, in its manager's language, next to the code that makes those
//! requests ([`super::Backend::policy`]), so a new call cannot be made without the policy that
//! allows it being one file away.
//!
//! Names come from a config, which may come from a pull request: a name may choose *which*
//! secrets a policy grants, never widen it. Every language has wildcard characters (Vault's `*`
//! and `+`, IAM's `*` and `?`) and some substitute per request (IAM's `${aws:…}` policy
//! variables, Vault's `{{identity.…}}` templates: whoever controls the request's identity would
//! choose the secret), so a name holding one of them, or `$`, `{` or `}` in any language, is
//! refused ([`literal`]), not escaped.

/// What a policy grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// What `render`, `check`, `env`, `exec` and `template` need.
    Read,
    /// That, and what `put` and `delete` need.
    ReadWrite,
}

impl Access {
    /// As the flag writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadWrite => "read-write",
        }
    }
}

/// What a policy is for.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    /// The names a run reads from the manager, as written after `os.environ/` (with any
    /// `@version` or `#field`), sorted and unique.
    pub read: &'a [String],
    /// The names `put` and `delete` may write: the config's names under the stored-key prefix.
    pub write: &'a [String],
    /// Who gets the access, where the language names one (a Google member, an Azure
    /// assignee, a Conjur role); a placeholder otherwise.
    pub principal: Option<&'a str>,
}

/// A policy in the manager's own language, and the same as data.
#[derive(Debug, Clone)]
pub struct Policy {
    /// What the text is: `hcl`, `iam-policy`, `iam-bindings`, `az-cli`, `conjur-policy`.
    pub language: &'static str,
    /// The policy itself, ready to load (comments where the language has them).
    pub text: String,
    /// The same, for tools (`--format json`).
    pub data: serde_json::Value,
    /// What the policy cannot say by itself (an account id not known here, a scope to fill).
    pub notes: Vec<String>,
}

/// A name refused because it would widen a policy: it holds one of `wildcards`, a character
/// that begins a substitution (`$`, `{`, `}`), or one the language would need quoted (`"`,
/// `\`, a control character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widening {
    /// The name.
    pub name: String,
    /// The character.
    pub character: char,
}

impl std::fmt::Display for Widening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` holds {:?}, which the policy language reads as a pattern or a substitution, or cannot hold as written: no policy is written for it",
            crate::escape::text(&self.name),
            self.character
        )
    }
}

/// `name` as a literal in a policy whose wildcards are `wildcards`.
pub fn literal<'n>(name: &'n str, wildcards: &[char]) -> Result<&'n str, Widening> {
    match name
        .chars()
        .find(|c| wildcards.contains(c) || matches!(c, '"' | '\\' | '$' | '{' | '}') || c.is_control())
    {
        Some(character) => Err(Widening {
            name: name.to_owned(),
            character,
        }),
        None => Ok(name),
    }
}

/// The error for names refused by [`literal`], in one message naming each.
pub fn refused(backend: &str, widening: &[Widening]) -> crate::error::BackendError {
    let names: Vec<String> = widening.iter().map(ToString::to_string).collect();
    crate::error::BackendError::configuration(backend, names.join("; "))
}

/// `notes` as `#` comment lines (HCL, YAML, shell and Conjur policy all read `#`). A note may
/// quote a setting (an account, a namespace): escaped, so no line break in it can end the
/// comment and start a stanza of its own.
pub fn comments(notes: &[String]) -> String {
    notes.iter().fold(String::new(), |mut text, note| {
        text.push_str("# ");
        text.push_str(&crate::escape::text(note));
        text.push('\n');
        text
    })
}

/// A JSON string with `"` and `\` escaped (the text of a policy is built by hand so its
/// layout is the manager's own; names reaching it passed [`literal`] already).
pub fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_one_comment_line_whatever_it_quotes() {
        let text = comments(&["account `acme\n- !permit\n  role: !user evil`".to_owned()]);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with("# "));
    }

    #[test]
    fn wildcards_and_quotes_are_refused_not_escaped() {
        assert_eq!(literal("app/db", &['*', '+']), Ok("app/db"));
        for (name, c) in [
            ("app/*", '*'),
            ("a+b", '+'),
            ("a\"b", '"'),
            ("a\\b", '\\'),
            ("a\nb", '\n'),
            ("${aws:SourceIdentity}", '$'),
            ("{{identity.entity.id}}/key", '{'),
            ("team}", '}'),
        ] {
            assert_eq!(
                literal(name, &['*', '+']),
                Err(Widening {
                    name: name.into(),
                    character: c
                })
            );
        }
        // Another language's wildcard is an ordinary character.
        assert_eq!(literal("a?b", &['*', '+']), Ok("a?b"));
        assert!(literal("a?b", &['*', '?']).is_err());
    }
}
