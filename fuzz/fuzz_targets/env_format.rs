//! Env-file escaping: what a dotenv parser reads back from osenv's dotenv output is the value,
//! or osenv refuses the value; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use osenv::render::env_format::{self, Format, K8sOptions};
use osenv::secret::SecretValue;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else { return };
    let secret = SecretValue::new(value);
    let vars = [("FUZZ_VALUE", &secret)];
    for format in [
        Format::Dotenv,
        Format::Shell,
        Format::Docker,
        Format::Json,
        Format::K8sSecret,
    ] {
        let _ = env_format::render(format, &vars, &K8sOptions::default());
    }
    if let Ok(text) = env_format::render(Format::Dotenv, &vars, &K8sOptions::default()) {
        let parsed = osenv::environment::DotenvFile::parse(".env", &text).expect("osenv reads its own output");
        assert_eq!(
            parsed.get("FUZZ_VALUE").map(|(v, _)| v.expose()),
            Some(value),
            "dotenv output:\n{}",
            &*text
        );
    }
});
