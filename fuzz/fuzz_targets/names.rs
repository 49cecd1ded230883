//! Reference names through every backend's name parser: never a panic, and a Vault path that
//! is accepted never escapes its mount.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(name) = osenv::references::name_of(text) {
        let _ = osenv::references::validate_name(&name);
    }
    if let Ok(path) = osenv::backend::vault::secret_path::SecretPath::parse(text) {
        let encoded = path.encoded();
        assert!(
            !encoded.split('/').any(|s| s == ".." || s == "." || s.is_empty()),
            "{encoded}"
        );
        assert!(!encoded.contains(['?', '#', ' ']), "{encoded}");
    }
    if let Ok((name, _)) = osenv::backend::azure::vault_name(text, true) {
        assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }
    let _ = osenv::backend::gcp::secret_manager::SecretName::parse(text, Some("p"));
});
