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

/// Writes text known to need no escaping as a JSON string: ASCII built here (digits, hex,
/// punctuation) or one of a few fixed names (peers, outcomes, transports, alert levels).
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

/// Writes `x`, a number of milliseconds, as `serde_json` does ([`f64`]), digit by digit when
/// it is a whole number of microseconds below 2^42 ms (≈ 139 years): the timeline's times are
/// microseconds over 1000, a dozen a connection, and a general float formatter's search for
/// the shortest digits costs several times more.
///
/// Why the digits are the same: the shortest decimal that reads back as `x` is what
/// `serde_json` writes. Below 2^42 two doubles are less than 0.001 apart (2^-11 at most), so
/// the exact microseconds (`m / 1000`, of which `x` is the nearest double) are the only
/// decimal with at most three places that reads back as `x`, and no shorter one does; the
/// digits are then written in `serde_json`'s form (`1.5`, `12.0`, `0.001`). A unit test
/// compares both across the range.
#[inline]
pub fn millis(out: &mut Vec<u8>, x: f64) {
    let micros = (x * 1000.0).round();
    if x.is_sign_positive() && micros < MICROS_LIMIT as f64 && (micros as u64) as f64 / 1000.0 == x
    {
        Millis::default().write(out, micros as u64);
    } else {
        f64(out, x);
    }
}

/// Below this many microseconds, [`Millis`] writes the digits itself (2^42 ms).
const MICROS_LIMIT: u64 = (1 << 42) * 1000;

/// `00`, `01`, … `99`.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Writes microsecond times as `serde_json` writes them over 1000 (see [`millis`]), keeping
/// the digits of the whole milliseconds above the last four from one call to the next: a
/// connection's times (and the next connection's) share them, and a capture's times are
/// 13-digit milliseconds, which cost over a hundred instructions to put into digits one by
/// one.
#[derive(Default)]
pub struct Millis {
    /// The milliseconds over 10,000 whose digits `high` holds, plus one (0: none yet).
    high_of: u64,
    high: [u8; 16],
    high_len: usize,
}

impl Millis {
    pub fn write(&mut self, out: &mut Vec<u8>, micros: u64) {
        if micros >= MICROS_LIMIT {
            return f64(out, micros as f64 / 1000.0);
        }
        let ms = micros / 1000;
        let (high, low) = (ms / 10_000, (ms % 10_000) as usize);
        let frac = (micros % 1000) as usize;
        let mut buf = [0u8; 32];
        let mut len;
        if high == 0 {
            // No padding: the digits of `low` alone.
            len = 0;
            for (i, d) in [low / 1000, low / 100 % 10, low / 10 % 10, low % 10]
                .into_iter()
                .enumerate()
            {
                if d != 0 || len > 0 || i == 3 {
                    buf[len] = b'0' + d as u8;
                    len += 1;
                }
            }
        } else {
            if self.high_of != high + 1 {
                let mut n = high;
                let mut digits = [0u8; 16];
                let mut start = digits.len();
                while n > 0 {
                    start -= 1;
                    digits[start] = b'0' + (n % 10) as u8;
                    n /= 10;
                }
                self.high_len = digits.len() - start;
                self.high = [0; 16];
                self.high[..self.high_len].copy_from_slice(&digits[start..]);
                self.high_of = high + 1;
            }
            buf[..16].copy_from_slice(&self.high);
            len = self.high_len;
            buf[len..len + 2].copy_from_slice(&PAIRS[low / 100 * 2..low / 100 * 2 + 2]);
            buf[len + 2..len + 4].copy_from_slice(&PAIRS[low % 100 * 2..low % 100 * 2 + 2]);
            len += 4;
        }
        buf[len] = b'.';
        buf[len + 1] = b'0' + (frac / 100) as u8;
        buf[len + 2..len + 4].copy_from_slice(&PAIRS[frac % 100 * 2..frac % 100 * 2 + 2]);
        // `serde_json`'s shortest form: `.0` for a whole number, no trailing zeros.
        len += if frac.is_multiple_of(100) {
            2
        } else if frac.is_multiple_of(10) {
            3
        } else {
            4
        };
        out.extend_from_slice(&buf[..len]);
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
        // Microseconds over 1000 (the timeline's times), edges and a spread of the range.
        let mut micros: Vec<u64> = vec![0, 1, 9, 10, 100, 999, 1000, 1001, 1010, 1100, 99_999];
        let limit = (1u64 << 42) * 1000;
        for shift in 0..53 {
            let p = 1u64 << shift;
            micros.extend([p - 1, p, p + 1, p * 3 / 2]);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..50_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Every magnitude: a random number of bits.
            micros.push(state >> (state % 64));
            micros.push(1_800_000_000_000_000 + state % 100_000_000_000);
        }
        micros.extend([limit - 1, limit, limit + 1, u64::MAX]);
        let mut writer = Millis::default();
        let mut sorted = micros.clone();
        sorted.sort_unstable();
        for &m in sorted.iter().chain(&micros) {
            let mut out = Vec::new();
            writer.write(&mut out, m);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&(m as f64 / 1000.0)).unwrap(),
                "{m} µs"
            );
        }
        for m in micros {
            for x in [m as f64 / 1000.0, m as f64 / 1000.0 + 1e-9, m as f64] {
                let mut out = Vec::new();
                millis(&mut out, x);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    serde_json::to_string(&x).unwrap(),
                    "{m} µs"
                );
            }
        }
        for x in [-0.0, -1.5, f64::NAN, f64::INFINITY, 1e300, 5e-324] {
            let mut out = Vec::new();
            millis(&mut out, x);
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
