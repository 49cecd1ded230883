//! Credentials osenv reads from files at the moment it needs them: a Kubernetes projected
//! service-account token, a CI system's JWT, a Conjur access token an authenticator sidecar
//! keeps current. Read whole, bounded and trimmed; errors name the file, never its content.

use crate::secret::SecretValue;

/// The largest token file read (a JWT is a few KiB).
pub(crate) const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// A login token from its file, read now (so a rotated projected token is picked up), without
/// surrounding whitespace. Errors name the file, never its content.
pub(crate) fn read_token_file(path: &std::path::Path, what: &str) -> Result<SecretValue, String> {
    use std::io::Read as _;
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {what} `{shown}`: {e}"))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(format!("cannot read {what} `{shown}`: it is a directory"));
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    file.take(MAX_TOKEN_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {what} `{shown}`: {e}"))?;
    if bytes.len() as u64 > MAX_TOKEN_FILE {
        return Err(format!("{what} `{shown}` is larger than {} KiB", MAX_TOKEN_FILE / 1024));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| format!("{what} `{shown}` is not UTF-8 text"))?;
    match text.trim() {
        "" => Err(format!("{what} `{shown}` is empty")),
        token => Ok(SecretValue::new(token)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_are_read_whole_trimmed_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  eyJ.a.b\n").unwrap();
        assert_eq!(read_token_file(&file, "the token").unwrap().expose(), "eyJ.a.b");
        std::fs::write(&file, "\n").unwrap();
        assert!(read_token_file(&file, "the token").unwrap_err().ends_with("is empty"));
        std::fs::write(&file, vec![b'a'; 64 * 1024 + 1]).unwrap();
        assert!(
            read_token_file(&file, "the token")
                .unwrap_err()
                .contains("larger than 64 KiB")
        );
        assert!(
            read_token_file(dir.path(), "the token")
                .unwrap_err()
                .contains("is a directory")
        );
        let missing = read_token_file(&dir.path().join("nope"), "the token").unwrap_err();
        assert!(missing.starts_with("cannot read the token `"), "{missing}");
    }
}
