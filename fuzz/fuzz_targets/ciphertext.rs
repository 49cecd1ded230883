//! KMS ciphertext decoding (base64, `aws_kms/`, Python bytes literals): never a panic, and a
//! bytes literal written from any bytes decodes back to them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = osenv::backend::aws::kms::decode_ciphertext(text);
        let _ = osenv::backend::gcp::kms::decode_ciphertext(text);
    }
    if !data.is_empty() {
        let mut literal = String::from("b'");
        for b in data {
            literal.push_str(&format!("\\x{b:02x}"));
        }
        literal.push('\'');
        assert_eq!(osenv::backend::gcp::kms::decode_ciphertext(&literal).unwrap(), data);
    }
});
