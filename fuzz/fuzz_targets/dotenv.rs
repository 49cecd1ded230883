//! Any dotenv text: a parse (every value's line within the file) or a located error, never a
//! panic; and every value parsed, written back with osenv's dotenv writer and parsed again, is
//! the same value (or the writer refuses it). That the values are python-dotenv's is checked by
//! `scripts/differential`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use osenv::environment::DotenvFile;
use osenv::render::env_format::{self, Format, K8sOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.matches(['\n', '\r']).count() + 1;
    match DotenvFile::parse(".env", text) {
        Ok(file) => {
            for name in file.names() {
                let (value, line) = file.get(name).unwrap();
                assert!((1..=lines).contains(&line));
                let Ok(written) = env_format::render(Format::Dotenv, &[(name, value)], &K8sOptions::default()) else {
                    continue;
                };
                let again = DotenvFile::parse(".env", &written).expect("osenv reads its own output");
                assert_eq!(
                    again.get(name).map(|(v, _)| v.expose()),
                    Some(value.expose()),
                    "written back as:\n{}",
                    &*written
                );
            }
        }
        Err(e) => assert!(e.location.line() >= 1 && e.location.line() <= lines),
    }
});
