//! A quick reader for PEM bundles that read cleanly, such as the system's CA bundle, which
//! every run that checks certificates loads at start: x509-parser's PEM iterator reads it
//! a line at a time into fresh strings and decodes with a general base64 decoder, and the
//! bundle was three quarters of a short `pcap` run's instructions (callgrind, Debian's
//! bundle of 144 certificates: `add_pem` 4.53 M → 3.16 M with this reader, 0.5 M of that the
//! anchors themselves; a one-connection run 5.87 M → 4.50 M). This reader takes the same
//! blocks, line for line as x509-parser reads them, and decodes only canonical base64;
//! anything else (a malformed header, a block without its end, a byte that is not strict
//! base64) gives `None`, and the caller reads the text with x509-parser, which says what is
//! wrong. So a bundle it accepts gives the same certificates, in the same order, as
//! x509-parser's reader; a test compares the two.

/// The base64 value of each byte, or [`NOT_BASE64`].
const VALUES: [u8; 256] = {
    let mut t = [NOT_BASE64; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};
const NOT_BASE64: u8 = 0xff;

/// The contents of every block of `text` labelled `CERTIFICATE` or `TRUSTED CERTIFICATE`,
/// in order, or `None` if any block would not read cleanly with x509-parser's reader (the
/// caller then uses it). Blocks of other labels are read and skipped, as there.
pub(super) fn certificates(text: &str) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut lines = Lines(text);
    let mut body = String::with_capacity(4096);
    // As x509-parser: lines up to a "-----BEGIN " line are skipped, and the input ends
    // where no such line is left.
    while let Some(line) = lines.find(|l| l.starts_with("-----BEGIN ")) {
        let mut parts = line.split("-----");
        // "-----BEGIN LABEL-----": an empty part before the first dashes, and at least
        // three parts in all.
        let (Some(""), Some(header), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let label = header.strip_prefix("BEGIN ")?.split('-').next()?;
        body.clear();
        loop {
            let line = lines.next()?; // no end line: x509-parser's IncompletePEM
            if line.starts_with("-----END ") {
                break;
            }
            body.push_str(line.trim_end());
        }
        let contents = decode(body.as_bytes())?;
        if label == "CERTIFICATE" || label == "TRUSTED CERTIFICATE" {
            out.push(contents);
        }
    }
    Some(out)
}

/// The lines of a text with their `\n`, as `read_line` reads them (`split_inclusive`'s,
/// found eight bytes at a time: a byte-by-byte search was most of this reader's time).
struct Lines<'a>(&'a str);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        if self.0.is_empty() {
            return None;
        }
        let end = newline(self.0.as_bytes()).map_or(self.0.len(), |i| i + 1);
        // A `\n` byte is a character boundary in UTF-8.
        let (line, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(line)
    }
}

/// The position of the first `\n` in `bytes`.
#[inline]
fn newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let x =
            u64::from_le_bytes(word.try_into().expect("eight bytes")) ^ (ONES * u64::from(b'\n'));
        // A byte of `x` is zero where the text has `\n`; the lowest such byte is the
        // lowest bit set here (borrows only run upwards, from a zero byte).
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(at + zeros.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|b| *b == b'\n')
        .map(|i| at + i)
}

/// Canonical padded base64 (as data-encoding's `BASE64`: length a multiple of four, at most
/// two `=` at the end, unused bits zero), else `None`.
fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let padding = text
        .iter()
        .rev()
        .take(2)
        .take_while(|b| **b == b'=')
        .count();
    let quads = text.len() / 4;
    let mut out = vec![0u8; quads * 3];
    // Every quad but a padded last one: four values, three bytes.
    let whole = quads - usize::from(padding > 0);
    for (quad, bytes) in text
        .chunks_exact(4)
        .zip(out.chunks_exact_mut(3))
        .take(whole)
    {
        let v = [
            VALUES[usize::from(quad[0])],
            VALUES[usize::from(quad[1])],
            VALUES[usize::from(quad[2])],
            VALUES[usize::from(quad[3])],
        ];
        // NOT_BASE64 is the only value with its top bit set.
        if (v[0] | v[1] | v[2] | v[3]) & 0x80 != 0 {
            return None;
        }
        let n =
            u32::from(v[0]) << 18 | u32::from(v[1]) << 12 | u32::from(v[2]) << 6 | u32::from(v[3]);
        bytes.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    if padding > 0 {
        // "xx==" or "xxx=": one or two bytes, the bits after them zero.
        let last = &text[text.len() - 4..text.len() - padding];
        let mut n = 0u32;
        for b in last {
            let v = VALUES[usize::from(*b)];
            if v == NOT_BASE64 {
                return None;
            }
            n = n << 6 | u32::from(v);
        }
        let bytes = (n << (6 * padding)).to_be_bytes();
        let (data, unused) = (&bytes[1..4 - padding], &bytes[4 - padding..]);
        if unused.iter().any(|b| *b != 0) {
            return None;
        }
        let at = whole * 3;
        out[at..at + data.len()].copy_from_slice(data);
        out.truncate(at + data.len());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::pem::Pem;

    /// What x509-parser's reader makes of `text`: the certificate blocks' contents, or
    /// `None` at its first error.
    fn library(text: &str) -> Option<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for pem in Pem::iter_from_buffer(text.as_bytes()) {
            let pem = pem.ok()?;
            if pem.label == "CERTIFICATE" || pem.label == "TRUSTED CERTIFICATE" {
                out.push(pem.contents);
            }
        }
        Some(out)
    }

    /// Where the quick reader takes a text, it gives what x509-parser gives.
    fn assert_agrees(text: &str) {
        if let Some(quick) = certificates(text) {
            assert_eq!(Some(quick), library(text), "{text:?}");
        }
    }

    fn bundle() -> String {
        let mut text = String::new();
        for f in ["captures/root.pem", "captures/quic_root.pem"] {
            text.push_str(&std::fs::read_to_string(f).unwrap());
        }
        text
    }

    #[test]
    fn newlines_are_found_where_they_are() {
        for len in 0..40 {
            for at in 0..=len {
                let mut text = vec![b'a'; len];
                if at < len {
                    text[at] = b'\n';
                    // A byte just above a newline's in the same word, and one with the
                    // high bit set, do not hide it.
                    if at + 1 < len {
                        text[at + 1] = 0x0b;
                    }
                    if at > 0 {
                        text[at - 1] = 0x8a;
                    }
                }
                let want = text.iter().position(|b| *b == b'\n');
                assert_eq!(newline(&text), want, "{len} {at}");
            }
        }
    }

    #[test]
    fn clean_bundles_read_as_x509_parser_reads_them() {
        let text = bundle();
        let quick = certificates(&text).expect("a clean bundle");
        assert_eq!(quick.len(), 2);
        assert_eq!(Some(quick), library(&text));
        // The system bundle, where there is one (hundreds of certificates).
        if let Ok(system) = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt") {
            let quick = certificates(&system).expect("the system bundle reads cleanly");
            assert!(!quick.is_empty());
            assert_eq!(Some(quick), library(&system));
        }
        // Windows line ends, comments between blocks, other labels, trailing text.
        let crlf = text.replace('\n', "\r\n");
        let mixed = format!(
            "# roots\n{text}junk line\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\ntail"
        );
        for t in [&crlf, &mixed] {
            assert_eq!(certificates(t).map(|c| c.len()), Some(2), "{t:?}");
            assert_agrees(t);
        }
    }

    #[test]
    fn anything_unclean_is_left_to_x509_parser() {
        let text = bundle();
        let body_line = text.lines().nth(1).unwrap().to_string();
        let cases = [
            // Not strict base64: a space inside, a leading space, a stray character, a
            // missing padding character, non-zero unused bits.
            text.replacen(
                &body_line,
                &format!("{} {}", &body_line[..8], &body_line[8..]),
                1,
            ),
            text.replacen(&body_line, &format!(" {body_line}"), 1),
            text.replacen(
                &body_line,
                &format!("{}*{}", &body_line[..9], &body_line[10..]),
                1,
            ),
            "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n".into(),
            "-----BEGIN CERTIFICATE-----\nAB==\n-----END CERTIFICATE-----\n".into(),
            "-----BEGIN CERTIFICATE-----\nAAB=\n-----END CERTIFICATE-----\n".into(),
            "-----BEGIN CERTIFICATE-----\nA===\n-----END CERTIFICATE-----\n".into(),
            // A block without its end, a header without its closing dashes.
            text[..text.len() / 2].to_string(),
            "-----BEGIN CERTIFICATE\nAAAA\n-----END CERTIFICATE-----\n".into(),
        ];
        for t in &cases {
            assert_eq!(certificates(t), None, "{t:?}");
            assert_eq!(library(t), None, "{t:?}");
        }
        // Canonical padding reads, as there.
        for t in [
            "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
            "-----BEGIN CERTIFICATE-----\nAAE=\n-----END CERTIFICATE-----\n",
            "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n",
            "no block at all",
        ] {
            assert!(certificates(t).is_some(), "{t:?}");
            assert_agrees(t);
        }
    }
}
