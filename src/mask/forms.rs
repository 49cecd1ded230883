//! The forms a value takes in a program's output: as it is, base64 (both alphabets, padded or
//! not, and at every alignment inside a longer encoded string, as in `Basic` credentials), a
//! JSON string (serde's escaping and Python's `json.dumps` with `ensure_ascii`), URL encoding
//! (percent-encoded with either case of hex, and form encoding), and Python's `repr`.
//!
//! Each form is the body only (no quotes): the marker replaces what the value became, and the
//! quotes around it stay.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Hex digits as most encoders write them.
const UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Every form of `value`, the value itself first; duplicates are left to the caller.
pub fn of(value: &str) -> Vec<Vec<u8>> {
    let bytes = value.as_bytes();
    let mut forms = vec![bytes.to_vec()];
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        forms.push(engine.encode(bytes).into_bytes());
    }
    for offset in 0..3 {
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            forms.push(aligned(engine, bytes, offset));
        }
    }
    // MIME and PEM wrap base64 at 76 and 64 characters: each whole line is a form.
    let encoded = STANDARD.encode(bytes);
    for width in [76, 64] {
        if encoded.len() > width {
            forms.extend(encoded.as_bytes().chunks(width).map(<[u8]>::to_vec));
        }
    }
    let serde = json(value, false);
    // Other encoders escape more: PHP `\/`; Go `<`, `>`, `&` (HTML-safe); Gson also `=`, `'`.
    let escaped = |set: &[(char, &str)]| {
        set.iter()
            .fold(serde.clone(), |text, (c, escape)| text.replace(*c, escape))
    };
    forms.push(escaped(&[('/', "\\/")]).into_bytes());
    forms.push(escaped(&[('<', "\\u003c"), ('>', "\\u003e"), ('&', "\\u0026")]).into_bytes());
    forms.push(
        escaped(&[
            ('<', "\\u003c"),
            ('>', "\\u003e"),
            ('&', "\\u0026"),
            ('=', "\\u003d"),
            ('\'', "\\u0027"),
        ])
        .into_bytes(),
    );
    forms.push(serde.into_bytes());
    let ascii = json(value, true);
    // PHP's `json_encode` by default: `\uXXXX` for non-ASCII and `\/`.
    forms.push(ascii.replace('/', "\\/").into_bytes());
    forms.push(ascii.into_bytes());
    for hex in [UPPER, b"0123456789abcdef"] {
        forms.push(percent(bytes, hex, false, b"-._~"));
        // Python's `quote` keeps `/` by default; JavaScript's `encodeURIComponent` keeps
        // `!*()'`.
        forms.push(percent(bytes, hex, false, b"-._~/"));
        forms.push(percent(bytes, hex, false, b"-._~!*()'"));
    }
    // Form encoding (`+` for a space): Python's `quote_plus`, PHP's `urlencode` (`~` encoded),
    // Java's `URLEncoder` (`*` kept, `~` encoded).
    forms.push(percent(bytes, UPPER, true, b"-._~"));
    forms.push(percent(bytes, UPPER, true, b"-._"));
    forms.push(percent(bytes, UPPER, true, b"-._*"));
    forms.push(crate::python::repr_body(value).into_bytes());
    if !value.is_ascii() {
        forms.push(crate::python::ascii_body(value).into_bytes());
        forms.push(crate::python::bytes_repr_body(bytes).into_bytes());
    }
    forms
}

/// The base64 characters that depend on `value` alone when it starts `offset` bytes (mod 3)
/// into the encoded data: whatever precedes and follows it, these appear.
fn aligned(engine: &impl base64::Engine, value: &[u8], offset: usize) -> Vec<u8> {
    let mut data = vec![0u8; offset];
    data.extend_from_slice(value);
    let encoded = engine.encode(&data).into_bytes();
    // Character i holds bits [6i, 6i + 6) of the data; keep those entirely inside the value.
    let first = (offset * 8).div_ceil(6);
    let end = ((offset + value.len()) * 8) / 6;
    encoded.get(first..end).map(<[u8]>::to_vec).unwrap_or_default()
}

/// A JSON string's body: serde's escaping (`"`, `\`, control characters), or with `ascii`
/// every character outside `' '..='~'` as `\uXXXX` (surrogate pairs above U+FFFF), as Python's
/// `json.dumps` writes by default.
fn json(value: &str, ascii: bool) -> String {
    use std::fmt::Write as _;
    let quoted = serde_json::to_string(value).unwrap_or_default();
    let body = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default();
    if !ascii {
        return body.to_owned();
    }
    let mut out = String::with_capacity(body.len());
    for c in body.chars() {
        // Python escapes everything outside ' '..='~' (DEL included); serde has escaped the
        // controls already.
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// URL encoding: every byte but ASCII letters, digits and `keep` as `%XX`; with `form`, a
/// space as `+` (`application/x-www-form-urlencoded`).
fn percent(value: &[u8], hex: &[u8; 16], form: bool, keep: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b);
        } else if form && b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', hex[usize::from(b >> 4)], hex[usize::from(b & 15)]]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(value: &str, form: &str) -> bool {
        of(value).iter().any(|f| f == form.as_bytes())
    }

    #[test]
    fn each_encoding_is_among_the_forms() {
        let v = "sk-live \"q\"/é+";
        assert!(has(v, v));
        assert!(has(v, &STANDARD.encode(v)));
        assert!(has(v, &URL_SAFE_NO_PAD.encode(v)));
        assert!(has(v, "sk-live \\\"q\\\"/é+"));
        assert!(has(v, "sk-live \\\"q\\\"/\\u00e9+"));
        assert!(has(v, "sk-live%20%22q%22%2F%C3%A9%2B"));
        assert!(has(v, "sk-live%20%22q%22%2f%c3%a9%2b"));
        assert!(has(v, "sk-live+%22q%22%2F%C3%A9%2B"));
        assert!(has(v, "sk-live \"q\"/é+"));
        assert!(has("it's", "it's"));
        // Other encoders' escapes.
        assert!(has(v, "sk-live%20%22q%22/%C3%A9%2B"), "Python quote keeps /");
        assert!(has("a/b<c>&d='e'!", "a\\/b<c>&d='e'!"), "PHP");
        assert!(has("a/b<c>&d='e'!", "a/b\\u003cc\\u003e\\u0026d='e'!"), "Go");
        assert!(
            has("a/b<c>&d='e'!", "a/b\\u003cc\\u003e\\u0026d\\u003d\\u0027e\\u0027!"),
            "Gson"
        );
        assert!(has("pa$$w0rd!(x)*y'", "pa%24%24w0rd!(x)*y'"), "encodeURIComponent");
        assert!(
            has("sk-\u{1}\u{7f}c2ab", "sk-\\u0001\\u007fc2ab"),
            "json.dumps escapes DEL"
        );
        assert!(has("sk-CANÄRY-7f3a", "sk-CAN\\xc4RY-7f3a"), "ascii()");
        assert!(has("sk-CANÄRY-7f3a", "sk-CAN\\xc3\\x84RY-7f3a"), "bytes repr");
        assert!(has("pässwort/abc123", "p\\u00e4sswort\\/abc123"), "PHP json_encode");
        assert!(has("Pa~ss*w0rd 12!", "Pa%7Ess%2Aw0rd+12%21"), "PHP urlencode");
        assert!(has("Pa~ss*w0rd 12!", "Pa%7Ess*w0rd+12%21"), "Java URLEncoder");
    }

    #[test]
    fn wrapped_base64_is_masked_line_by_line() {
        let value = "sk-".to_owned() + &"0123456789abcdef".repeat(6);
        let encoded = STANDARD.encode(&value);
        for width in [76, 64] {
            for line in encoded.as_bytes().chunks(width) {
                assert!(of(&value).iter().any(|f| f == line), "{width}");
            }
        }
    }

    #[test]
    fn base64_is_found_at_any_alignment_inside_longer_data() {
        let value = "sk-7f3a91c2e4b5d6a8";
        for prefix in ["", "u", "us", "user:"] {
            for suffix in ["", "x", "xy", ":tail"] {
                let data = format!("{prefix}{value}{suffix}");
                for engine in [&STANDARD, &URL_SAFE_NO_PAD] {
                    let encoded = engine.encode(&data);
                    assert!(
                        of(value)
                            .iter()
                            .any(|f| f.len() >= 8 && memchr::memmem::find(encoded.as_bytes(), f).is_some()),
                        "{data:?} as {encoded}"
                    );
                }
            }
        }
    }
}
