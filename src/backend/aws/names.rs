//! Secrets Manager ids as references name them: a name or an ARN, and the version a
//! `NAME@VERSION` pins (a staging label or a version id; `@` is otherwise part of the name).

/// A version a reference pins with `NAME@VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// A staging label: `AWSCURRENT`, `AWSPREVIOUS`, `AWSPENDING`.
    Stage(String),
    /// A version id (the `ClientRequestToken` it was written with: 32 to 64 letters, digits
    /// and `-`, a UUID by default).
    Id(String),
}

/// `name` split into the secret id and the version it pins, if any. `@` is legal in secret
/// names, so only a staging label or a version-id-shaped suffix is a version: `db@AWSPREVIOUS`,
/// `db@3f0c…`; `team@example` stays a name.
pub fn version_of(name: &str) -> (&str, Option<Version>) {
    let Some((id, suffix)) = name.rsplit_once('@') else {
        return (name, None);
    };
    if id.is_empty() {
        return (name, None);
    }
    if matches!(suffix, "AWSCURRENT" | "AWSPREVIOUS" | "AWSPENDING") {
        return (id, Some(Version::Stage(suffix.to_owned())));
    }
    let token_shaped = (32..=64).contains(&suffix.len())
        && suffix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && suffix.chars().any(|c| c.is_ascii_digit());
    if token_shaped {
        (id, Some(Version::Id(suffix.to_owned())))
    } else {
        (name, None)
    }
}

/// Whether a returned entry answers the requested id: a name, a full ARN, or a partial ARN
/// (without the six random characters AWS appends).
pub(super) fn matches_id(id: &str, name: Option<&str>, arn: Option<&str>) -> bool {
    name == Some(id)
        || arn == Some(id)
        || (id.starts_with("arn:")
            && arn.is_some_and(|a| {
                a.strip_prefix(id)
                    .is_some_and(|rest| rest.len() == 7 && rest.starts_with('-'))
            }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_staging_labels_or_version_ids_never_other_at_signs() {
        assert_eq!(
            version_of("db@AWSPREVIOUS"),
            ("db", Some(Version::Stage("AWSPREVIOUS".into())))
        );
        assert_eq!(
            version_of("prod/db@7e0f3a9c-1b2d-4e5f-8a6b-0c1d2e3f4a5b"),
            (
                "prod/db",
                Some(Version::Id("7e0f3a9c-1b2d-4e5f-8a6b-0c1d2e3f4a5b".into()))
            )
        );
        assert_eq!(version_of("team@example"), ("team@example", None));
        assert_eq!(version_of("plain"), ("plain", None));
        assert_eq!(version_of("@AWSCURRENT"), ("@AWSCURRENT", None));
    }

    #[test]
    fn ids_match_names_and_arns() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/key-AbCdEf";
        assert!(matches_id("prod/key", Some("prod/key"), Some(arn)));
        assert!(matches_id(arn, Some("prod/key"), Some(arn)));
        assert!(matches_id(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/key",
            Some("prod/key"),
            Some(arn)
        ));
        assert!(!matches_id("prod/ke", Some("prod/key"), Some(arn)));
        assert!(!matches_id(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod",
            Some("prod/key"),
            Some(arn)
        ));
    }
}
