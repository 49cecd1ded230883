//! Conjur variable ids: what may be one, how a batch read names them, and how a policy quotes
//! them.

use crate::backend::transport::http::encode_segment;
use serde_json::Value;

/// The longest `variable_ids` value of one batch read: URLs stay well under the 8 KiB request
/// line that proxies in front of Conjur (nginx, load balancers) accept.
const MAX_BATCH_QUERY: usize = 4000;

/// Why a name cannot be a Conjur variable id, checked before any request.
pub(super) fn invalid_id(id: &str) -> Option<&'static str> {
    if id.trim().is_empty() {
        Some("a Conjur variable id cannot be empty")
    } else if id.split('/').any(|segment| segment == "." || segment == "..") {
        // The URL library would resolve them: `..` reads the account's resource list.
        Some("a Conjur variable id cannot have a `.` or `..` segment")
    } else if id.chars().any(|c| c.is_control() || c == '\u{a0}') {
        Some("a Conjur variable id cannot hold a control or non-breaking-space character")
    } else {
        None
    }
}

/// Ids whose batch queries stay under [`MAX_BATCH_QUERY`], in order. Each entry is the index of
/// the key and its id as the batch names it (`account:variable:id`, percent-encoded).
pub(super) fn chunks(account: &str, ids: &[(usize, &str)]) -> Vec<Vec<(usize, String)>> {
    let account = encode_segment(account);
    let mut out: Vec<Vec<(usize, String)>> = Vec::new();
    let mut length = 0;
    for &(index, id) in ids {
        let entry = format!("{account}:variable:{}", encode_segment(id));
        let grows = entry.len() + 1;
        match out.last_mut() {
            Some(chunk) if length + grows <= MAX_BATCH_QUERY => {
                length += grows;
                chunk.push((index, entry));
            }
            _ => {
                length = entry.len();
                out.push(vec![(index, entry)]);
            }
        }
    }
    out
}

/// A variable id as a YAML scalar of a policy (a JSON string is a YAML double-quoted scalar,
/// so no id can break out of it).
pub(super) fn policy_scalar(id: &str) -> String {
    Value::String(id.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_under_the_query_bound_in_order() {
        let names: Vec<String> = (0..300).map(|i| format!("litellm/provider-{i:03}/api-key")).collect();
        let ids: Vec<(usize, &str)> = names.iter().map(String::as_str).enumerate().collect();
        let split = chunks("default", &ids);
        assert!(split.len() > 1);
        let mut seen = Vec::new();
        for chunk in &split {
            let query: usize = chunk.iter().map(|(_, e)| e.len() + 1).sum::<usize>() - 1;
            assert!(query <= MAX_BATCH_QUERY, "{query}");
            seen.extend(chunk.iter().map(|(i, _)| *i));
        }
        assert_eq!(seen, (0..300).collect::<Vec<_>>());
        assert_eq!(split[0][0].1, "default:variable:litellm%2Fprovider-000%2Fapi-key");
        // One id longer than the bound is a chunk of its own, still sent.
        let long = "x".repeat(MAX_BATCH_QUERY + 10);
        assert_eq!(chunks("default", &[(0, "a"), (1, &long), (2, "b")]).len(), 3);
    }

    #[test]
    fn ids_are_checked_and_quoted_for_policies() {
        assert!(invalid_id("").is_some());
        assert!(invalid_id("a\nb").is_some());
        assert!(invalid_id("litellm/key#1@2").is_none());
        // The adversary review: `..` read the account's resource list.
        for bad in ["..", ".", "a/../b", "a/."] {
            assert!(invalid_id(bad).is_some(), "{bad}");
        }
        assert!(invalid_id("a..b/c.d").is_none());
        assert_eq!(policy_scalar("a\"\n- !grant"), r#""a\"\n- !grant""#);
    }
}
