//! A quick reader for PEM bundles that read cleanly, such as the system's CA bundle, which
//! every run that checks certificates loads once: x509-parser's PEM iterator reads it
//! a line at a time into fresh strings, and the bundle was three quarters of a short `pcap`
//! run's instructions (callgrind, Debian's bundle of 144 certificates: a one-connection run
//! 5.87 M → 4.50 M with this reader). This reader takes the same blocks, line for line as
//! x509-parser reads them (lines found with memchr), and decodes them with the same strict
//! base64 (data-encoding's `BASE64`, which x509-parser uses); anything else (a malformed
//! header, a block without its end, a byte that is not strict base64) gives `None`, and the
//! caller reads the text with x509-parser, which says what is wrong. So a bundle it accepts
//! gives the same certificates, in the same order, as x509-parser's reader; a test compares
//! the two.

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
        let contents = data_encoding::BASE64.decode(body.as_bytes()).ok()?;
        if label == "CERTIFICATE" || label == "TRUSTED CERTIFICATE" {
            out.push(contents);
        }
    }
    Some(out)
}

/// The lines of a text with their `\n`, as `read_line` reads them (`split_inclusive`'s;
/// a byte-by-byte search for the `\n` was most of this reader's time).
struct Lines<'a>(&'a str);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        if self.0.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', self.0.as_bytes()).map_or(self.0.len(), |i| i + 1);
        // A `\n` byte is a character boundary in UTF-8.
        let (line, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(line)
    }
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
