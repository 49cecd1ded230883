//! Reference names through every backend's name parser: never a panic, and a name that is
//! accepted asks for exactly the secret it names. The request URL is read back with the URL
//! library the HTTP client uses (which resolves `.`, `..` and their percent-encoded forms): its
//! path must hold the named segments, none lost, merged, split or resolved away, and no query
//! or fragment. (Asserting what the parser itself checks would be a tautology.)
#![no_main]
use libfuzzer_sys::fuzz_target;

/// The path segments after the first `skip`, percent-decoded.
fn segments(url: &url::Url, skip: usize) -> Vec<String> {
    url.path_segments()
        .unwrap()
        .skip(skip)
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(name) = osenv::references::name_of(text) {
        let _ = osenv::references::validate_name(&name);
    }
    if let Ok(path) = osenv::backend::vault::secret_path::SecretPath::parse(text) {
        let url = url::Url::parse(&format!("http://127.0.0.1:8200/v1/secret/data/{}", path.encoded())).unwrap();
        assert_eq!(segments(&url, 3), path.segments, "{url}");
        assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
    }
    if let Ok((name, version)) = osenv::backend::azure::vault_name(text, true) {
        let url = url::Url::parse(&format!(
            "https://v.vault.azure.net/secrets/{name}/{}",
            version.as_deref().unwrap_or_default()
        ))
        .unwrap();
        assert_eq!(segments(&url, 1)[0], name, "{url}");
    }
    if let Ok(name) = osenv::backend::gcp::secret_manager::SecretName::parse(text, Some("p")) {
        let url = url::Url::parse(&format!("https://sm.googleapis.com/v1/{}:access", name.version_name())).unwrap();
        let asked = segments(&url, 1).join("/");
        assert_eq!(asked, format!("{}:access", name.version_name()), "{url}");
    }
});
