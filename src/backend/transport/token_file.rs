//! Credentials osenv reads from files at the moment it needs them: a Kubernetes projected
//! service-account token, a CI system's JWT, a Conjur access token an authenticator sidecar
//! keeps current. Read whole, bounded and trimmed; errors name the file, never its content.

use crate::secret::SecretValue;

/// The largest token file read (a JWT is a few KiB).
pub(crate) const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// Why a credential file (a token, a CA bundle, a client certificate and key) cannot be used:
/// each names the file and what it is for (`what`), never its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    /// The operating system's refusal (missing, permissions).
    #[error("cannot read {what} `{path}`: {cause}")]
    Unreadable {
        /// What the file is for.
        what: String,
        /// The path as given.
        path: String,
        /// The operating system's error.
        cause: String,
    },
    /// A directory where a file was named.
    #[error("cannot read {what} `{path}`: it is a directory")]
    Directory {
        /// What the file is for.
        what: String,
        /// The path as given.
        path: String,
    },
    /// Larger than [`MAX_TOKEN_FILE`].
    #[error("{what} `{path}` is larger than {} KiB", MAX_TOKEN_FILE / 1024)]
    TooLarge {
        /// What the file is for.
        what: String,
        /// The path as given.
        path: String,
    },
    /// Bytes that are not UTF-8 text.
    #[error("{what} `{path}` is not UTF-8 text")]
    NotText {
        /// What the file is for.
        what: String,
        /// The path as given.
        path: String,
    },
    /// Nothing but whitespace.
    #[error("{what} `{path}` is empty")]
    Empty {
        /// What the file is for.
        what: String,
        /// The path as given.
        path: String,
    },
    /// A CA bundle without one certificate (`what` names it with its source).
    #[error("{what} holds no PEM certificate")]
    NoCertificate {
        /// The bundle, with the variable that named it.
        what: String,
    },
    /// A client certificate and key that do not make a TLS identity.
    #[error("the client certificate `{cert}` and key `{key}` are not a usable PEM pair")]
    NotAPemPair {
        /// The certificate's path.
        cert: String,
        /// The key's path.
        key: String,
    },
}

/// A login token from its file, read now (so a rotated projected token is picked up), without
/// surrounding whitespace. Errors name the file, never its content.
pub(crate) fn read_token_file(path: &std::path::Path, what: &str) -> Result<SecretValue, FileProblem> {
    use std::io::Read as _;
    let (what, path_shown) = (what.to_owned(), path.display().to_string());
    let unreadable = |e: std::io::Error| FileProblem::Unreadable {
        what: what.clone(),
        path: path_shown.clone(),
        cause: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let (what, path) = (what.clone(), path_shown.clone());
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(FileProblem::Directory { what, path });
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    file.take(MAX_TOKEN_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_TOKEN_FILE {
        return Err(FileProblem::TooLarge { what, path });
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(FileProblem::NotText { what, path });
    };
    match text.trim() {
        "" => Err(FileProblem::Empty { what, path }),
        token => Ok(SecretValue::withheld(token)),
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
        let mut shown = vec![read_token_file(&file, "the token").unwrap_err()];
        std::fs::write(&file, vec![b'a'; 64 * 1024 + 1]).unwrap();
        shown.push(read_token_file(&file, "the token").unwrap_err());
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        shown.push(read_token_file(&file, "the token").unwrap_err());
        shown.push(read_token_file(dir.path(), "the token").unwrap_err());
        shown.push(read_token_file(&dir.path().join("nope"), "the token").unwrap_err());
        let shown: Vec<String> = shown.iter().map(ToString::to_string).collect();
        insta::with_settings!({filters => vec![(r"/tmp/\.tmp[A-Za-z0-9]+", "[DIR]")]}, {
            insta::assert_snapshot!(shown.join("\n"), @r"
            the token `[DIR]/token` is empty
            the token `[DIR]/token` is larger than 64 KiB
            the token `[DIR]/token` is not UTF-8 text
            cannot read the token `[DIR]`: it is a directory
            cannot read the token `[DIR]/nope`: No such file or directory (os error 2)
            ");
        });
    }
}
