//! What comes from outside as a duration: the flags' parser and a server's `Retry-After`.
//! Never a panic; a flag's duration is within its bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(duration) = osenv::duration::parse(text) {
        assert!(duration >= osenv::duration::MIN && duration <= osenv::duration::MAX);
    }
    if let Some(wait) = osenv::backend::transport::retry::parse_retry_after(text) {
        // Any wait is added to a clock with checked arithmetic (backend::transport::retry::run).
        let _ = std::time::Instant::now().checked_add(wait);
    }
});
