//! Pieces of a JSON line written by hand, each byte for byte as `serde_json` writes the same
//! value (compact form): keys are constant bytes, numbers go through `serde_json`'s own
//! formatter, strings are scanned once and copied as they are unless a byte needs escaping
//! (then `serde_json` writes that string). Used for the lines a large run writes one of per
//! connection (`report::pcap::json_line`); every other result goes through serde.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};
use serde_json::value::RawValue;

/// True when `s` has no byte JSON escapes: a control character, `"` or `\`. (Everything
/// else, UTF-8 included, `serde_json` copies as it is.)
#[inline]
pub fn plain(s: &str) -> bool {
    // Eight bytes at a time: a byte below 0x20, equal to `"` or to `\` sets its high bit.
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    fn has_zero(x: u64) -> u64 {
        x.wrapping_sub(LOW) & !x & HIGH
    }
    let bytes = s.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // Bytes below 0x20: (x - 0x20 per byte) borrows; ASCII bytes only, as UTF-8's
        // bytes ≥ 0x80 never need escaping (masked out by `!x`).
        let control = x.wrapping_sub(LOW * 0x20) & !x & HIGH;
        let quote = has_zero(x ^ (LOW * u64::from(b'"')));
        let backslash = has_zero(x ^ (LOW * u64::from(b'\\')));
        if control | quote | backslash != 0 {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// Writes `s` as a JSON string.
#[inline]
pub fn str(out: &mut Vec<u8>, s: &str) {
    if plain(s) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serialized(out, s);
    }
}

/// Writes `s` as a JSON string, or `null`.
#[inline]
pub fn opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes text known to need no escaping (ASCII digits, hex, punctuation built here) as a
/// JSON string.
#[inline]
pub fn ascii(out: &mut Vec<u8>, s: &[u8]) {
    debug_assert!(std::str::from_utf8(s).is_ok_and(plain));
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s);
    out.push(b'"');
}

/// Writes an unsigned integer.
#[inline]
pub fn u64(out: &mut Vec<u8>, n: u64) {
    // Writing to a `Vec` cannot fail.
    let _ = CompactFormatter.write_u64(out, n);
}

/// Writes a float as `serde_json` does: `null` unless finite.
#[inline]
pub fn f64(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() {
        let _ = CompactFormatter.write_f64(out, x);
    } else {
        out.extend_from_slice(b"null");
    }
}

#[inline]
pub fn bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Copies JSON already written.
#[inline]
pub fn raw(out: &mut Vec<u8>, json: &RawValue) {
    out.extend_from_slice(json.get().as_bytes());
}

/// Writes `value` through serde: for the rare parts of a line.
pub fn serialized<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing to a `Vec` cannot fail, and the results' serializations do not fail.
    let _ = serde_json::to_writer(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_agrees_with_serde_on_every_byte_at_every_position() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0u8..=0x7f {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let s = std::str::from_utf8(&bytes).unwrap();
                    let escaped = serde_json::to_string(s).unwrap();
                    assert_eq!(plain(s), escaped.len() == len + 2, "{bytes:?}");
                    let mut out = Vec::new();
                    str(&mut out, s);
                    assert_eq!(out, escaped.as_bytes());
                }
            }
        }
        for s in [
            "é",
            "日本語\"",
            "\u{7f}",
            "ü\u{1}",
            "0123456789abcdef\\",
            "€€€€",
        ] {
            let mut out = Vec::new();
            str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn numbers_match_serde() {
        for x in [
            0.0,
            1.0,
            0.001,
            1.5,
            123.456,
            1e21,
            1e-7,
            -0.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            let mut out = Vec::new();
            f64(&mut out, x);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&x).unwrap()
            );
        }
        for n in [0, 9, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            u64(&mut out, n);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&n).unwrap()
            );
        }
    }
}
