//! Any dotenv text: a parse (every value's line within the file) or a located error, never a
//! panic. That the values are python-dotenv's is checked by `scripts/differential`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use osenv::environment::DotenvFile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.matches(['\n', '\r']).count() + 1;
    match DotenvFile::parse(".env", text) {
        Ok(file) => {
            for name in file.names() {
                let (_, line) = file.get(name).unwrap();
                assert!((1..=lines).contains(&line));
            }
        }
        Err(e) => assert!(e.location.line >= 1 && e.location.line <= lines),
    }
});
