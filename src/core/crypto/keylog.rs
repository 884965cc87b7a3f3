//! The NSS key log format (`SSLKEYLOGFILE`): one `LABEL <client_random hex> <secret hex>`
//! per line. We keep what decrypts a handshake: TLS 1.2 master secrets (`CLIENT_RANDOM`)
//! and the TLS 1.3 handshake and first application traffic secrets.

use std::collections::HashMap;

/// The secrets we use, by label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// TLS ≤ 1.2 master secret.
    ClientRandom,
    ClientHandshakeTraffic,
    ServerHandshakeTraffic,
    ClientTraffic0,
    ServerTraffic0,
}

impl Label {
    fn parse(s: &str) -> Option<Label> {
        Some(match s {
            "CLIENT_RANDOM" => Label::ClientRandom,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshakeTraffic,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshakeTraffic,
            "CLIENT_TRAFFIC_SECRET_0" => Label::ClientTraffic0,
            "SERVER_TRAFFIC_SECRET_0" => Label::ServerTraffic0,
            _ => return None,
        })
    }
}

/// Secrets by (label, client random).
#[derive(Default, Clone, PartialEq, Eq)]
pub struct KeyLog {
    secrets: HashMap<(Label, [u8; 32]), Vec<u8>>,
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyLog({} secrets)", self.secrets.len())
    }
}

/// Longest secret we accept (SHA-384 traffic secrets and TLS 1.2 masters are 48 bytes).
const MAX_SECRET: usize = 64;

impl KeyLog {
    /// Parses key log text. Comments, blank lines and labels we do not use are skipped;
    /// malformed lines are reported by line number and skipped.
    pub fn parse(text: &str) -> (KeyLog, Vec<String>) {
        Self::parse_bytes(text.as_bytes())
    }

    /// [`KeyLog::parse`] of a file's bytes. A line that is not UTF-8 (a comment in another
    /// encoding, binary junk) cannot be a key line: it is skipped, and counted in one
    /// problem, without rejecting the rest.
    pub fn parse_bytes(bytes: &[u8]) -> (KeyLog, Vec<String>) {
        let mut log = KeyLog::default();
        let mut problems = Vec::new();
        let (mut not_text, mut first_not_text) = (0usize, 0usize);
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let Ok(line) = std::str::from_utf8(line) else {
                not_text += 1;
                if not_text == 1 {
                    first_not_text = n + 1;
                }
                continue;
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_ascii_whitespace();
            let (Some(label), Some(random), Some(secret), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                problems.push(format!("line {}: expected LABEL RANDOM SECRET", n + 1));
                continue;
            };
            let Some(label) = Label::parse(label) else {
                continue;
            };
            let random: Option<[u8; 32]> = hex::decode(random).ok().and_then(|r| r.try_into().ok());
            let secret = hex::decode(secret)
                .ok()
                .filter(|s| !s.is_empty() && s.len() <= MAX_SECRET);
            match (random, secret) {
                (Some(r), Some(s)) => {
                    log.secrets.insert((label, r), s);
                }
                _ => problems.push(format!(
                    "line {}: client random must be 32 bytes of hex, secret at most {MAX_SECRET}",
                    n + 1
                )),
            }
        }
        if not_text > 0 {
            problems.push(format!(
                "{not_text} line{} not UTF-8 text skipped (the first is line {first_not_text})",
                if not_text == 1 { "" } else { "s" }
            ));
        }
        (log, problems)
    }

    pub fn get(&self, label: Label, client_random: &[u8; 32]) -> Option<&[u8]> {
        self.secrets
            .get(&(label, *client_random))
            .map(|s| s.as_slice())
    }

    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Adds another log's secrets (e.g. from a pcapng Decryption Secrets Block).
    pub fn extend(&mut self, other: KeyLog) {
        self.secrets.extend(other.secrets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_bad_lines() {
        let r = "11".repeat(32);
        let text = format!(
            "# comment\n\nCLIENT_RANDOM {r} {}\nEXPORTER_SECRET {r} 00\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {r} zz\nCLIENT_RANDOM abc\n",
            "ab".repeat(48)
        );
        let (log, problems) = KeyLog::parse(&text);
        assert_eq!(log.len(), 1);
        assert_eq!(
            log.get(Label::ClientRandom, &[0x11; 32]),
            Some(&[0xab; 48][..])
        );
        assert_eq!(log.get(Label::ServerHandshakeTraffic, &[0x11; 32]), None);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("line 5:"));
    }

    #[test]
    fn lines_that_are_not_utf8_are_skipped_not_fatal() {
        let r = "11".repeat(32);
        let mut bytes = b"# caf\xe9 cr\xe8me\r\n".to_vec();
        bytes.extend(format!("CLIENT_RANDOM {r} {}\r\n", "ab".repeat(48)).as_bytes());
        bytes.extend(b"\xff\xfe\n");
        let (log, problems) = KeyLog::parse_bytes(&bytes);
        assert_eq!(log.len(), 1);
        assert_eq!(
            problems,
            ["2 lines not UTF-8 text skipped (the first is line 1)"]
        );
    }
}
