//! Protocol versions as they appear on the wire, with their conventional names.

use std::fmt;

/// Names of the TLS 1.3 drafts `0x7f00`–`0x7f1c`, by draft number.
const DRAFTS: [&str; 29] = [
    "TLSv1.3-draft0",
    "TLSv1.3-draft1",
    "TLSv1.3-draft2",
    "TLSv1.3-draft3",
    "TLSv1.3-draft4",
    "TLSv1.3-draft5",
    "TLSv1.3-draft6",
    "TLSv1.3-draft7",
    "TLSv1.3-draft8",
    "TLSv1.3-draft9",
    "TLSv1.3-draft10",
    "TLSv1.3-draft11",
    "TLSv1.3-draft12",
    "TLSv1.3-draft13",
    "TLSv1.3-draft14",
    "TLSv1.3-draft15",
    "TLSv1.3-draft16",
    "TLSv1.3-draft17",
    "TLSv1.3-draft18",
    "TLSv1.3-draft19",
    "TLSv1.3-draft20",
    "TLSv1.3-draft21",
    "TLSv1.3-draft22",
    "TLSv1.3-draft23",
    "TLSv1.3-draft24",
    "TLSv1.3-draft25",
    "TLSv1.3-draft26",
    "TLSv1.3-draft27",
    "TLSv1.3-draft28",
];
/// Names of Facebook's experimental TLS 1.3 versions `0xfb00`–`0xfb1c` (Fizz; seen as
/// `0xfb17`, draft 23, and `0xfb1a`, draft 26), by draft number.
const FB_DRAFTS: [&str; 29] = [
    "TLSv1.3-draft0-fb",
    "TLSv1.3-draft1-fb",
    "TLSv1.3-draft2-fb",
    "TLSv1.3-draft3-fb",
    "TLSv1.3-draft4-fb",
    "TLSv1.3-draft5-fb",
    "TLSv1.3-draft6-fb",
    "TLSv1.3-draft7-fb",
    "TLSv1.3-draft8-fb",
    "TLSv1.3-draft9-fb",
    "TLSv1.3-draft10-fb",
    "TLSv1.3-draft11-fb",
    "TLSv1.3-draft12-fb",
    "TLSv1.3-draft13-fb",
    "TLSv1.3-draft14-fb",
    "TLSv1.3-draft15-fb",
    "TLSv1.3-draft16-fb",
    "TLSv1.3-draft17-fb",
    "TLSv1.3-draft18-fb",
    "TLSv1.3-draft19-fb",
    "TLSv1.3-draft20-fb",
    "TLSv1.3-draft21-fb",
    "TLSv1.3-draft22-fb",
    "TLSv1.3-draft23-fb",
    "TLSv1.3-draft24-fb",
    "TLSv1.3-draft25-fb",
    "TLSv1.3-draft26-fb",
    "TLSv1.3-draft27-fb",
    "TLSv1.3-draft28-fb",
];

/// A protocol version as sent on the wire; unknown values are kept and print as `0xHHHH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    pub const SSLV2: Self = ProtocolVersion(0x0002);
    pub const SSLV3: Self = ProtocolVersion(0x0300);
    pub const TLS10: Self = ProtocolVersion(0x0301);
    pub const TLS11: Self = ProtocolVersion(0x0302);
    pub const TLS12: Self = ProtocolVersion(0x0303);
    pub const TLS13: Self = ProtocolVersion(0x0304);

    /// Every version shakedown can speak, oldest first.
    pub const ALL: [Self; 6] = [
        Self::SSLV2,
        Self::SSLV3,
        Self::TLS10,
        Self::TLS11,
        Self::TLS12,
        Self::TLS13,
    ];

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0002 => "SSLv2",
            0x0300 => "SSLv3",
            0x0301 => "TLSv1.0",
            0x0302 => "TLSv1.1",
            0x0303 => "TLSv1.2",
            0x0304 => "TLSv1.3",
            _ => {
                return self
                    .draft()
                    .map(|(n, fb)| if fb { FB_DRAFTS[n] } else { DRAFTS[n] });
            }
        })
    }

    /// A pre-RFC 8446 TLS 1.3 draft version: `0x7fNN` is draft NN (Zeek: `TLSv13-draftNN`),
    /// `0xfbNN` Facebook's experimental variant of draft NN (Fizz); only drafts 0–28 (the
    /// last draft before the RFC) are names. The draft number and whether it is Facebook's.
    pub fn draft(self) -> Option<(usize, bool)> {
        let n = usize::from(self.0 & 0xff);
        match self.0 >> 8 {
            0x7f if n < DRAFTS.len() => Some((n, false)),
            0xfb if n < FB_DRAFTS.len() => Some((n, true)),
            _ => None,
        }
    }

    /// Parses `TLSv1.2`, `tls1.2`, `1.2`, `TLS12`, `SSLv3`, `0x0303` (case-insensitive).
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase().replace(['_', ' '], "");
        if let Some(hex) = t.strip_prefix("0x") {
            return u16::from_str_radix(hex, 16)
                .map(ProtocolVersion)
                .map_err(|_| format!("bad version id {s:?}"));
        }
        if let Some(rest) = t.strip_prefix("tlsv1.3-draft") {
            let (n, fb) = match rest.strip_suffix("-fb") {
                Some(n) => (n, true),
                None => (rest, false),
            };
            if let Ok(n) = n.parse::<u8>()
                && usize::from(n) < DRAFTS.len()
            {
                return Ok(ProtocolVersion(
                    u16::from(n) | if fb { 0xfb00 } else { 0x7f00 },
                ));
            }
        }
        let v = match t.as_str() {
            "sslv2" | "ssl2" | "ssl2.0" | "sslv2.0" => Self::SSLV2,
            "sslv3" | "ssl3" | "ssl3.0" | "sslv3.0" => Self::SSLV3,
            "tlsv1.0" | "tlsv1" | "tls1.0" | "tls1" | "tls10" | "1.0" => Self::TLS10,
            "tlsv1.1" | "tls1.1" | "tls11" | "1.1" => Self::TLS11,
            "tlsv1.2" | "tls1.2" | "tls12" | "1.2" => Self::TLS12,
            "tlsv1.3" | "tls1.3" | "tls13" | "1.3" => Self::TLS13,
            _ => {
                return Err(format!(
                    "unknown version {s:?}; expected one of SSLv2 SSLv3 TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3 or 0xHHHH"
                ));
            }
        };
        Ok(v)
    }

    pub fn is_grease(self) -> bool {
        self.0 & 0x0f0f == 0x0a0a && self.0 >> 8 == self.0 & 0xff
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::parse(&v.to_string()).unwrap(), v);
        }
        assert_eq!(ProtocolVersion(0x7f1d).to_string(), "0x7f1d");
        assert_eq!(ProtocolVersion(0x7f17).to_string(), "TLSv1.3-draft23");
        assert_eq!(ProtocolVersion(0x7f1c).to_string(), "TLSv1.3-draft28");
        assert_eq!(ProtocolVersion(0xfb17).to_string(), "TLSv1.3-draft23-fb");
        assert_eq!(ProtocolVersion(0xfb30).to_string(), "0xfb30");
        for id in (0x7f00..=0x7f1c).chain(0xfb00..=0xfb1c) {
            let v = ProtocolVersion(id);
            assert_eq!(ProtocolVersion::parse(&v.to_string()).unwrap(), v);
            assert!(v.draft().is_some());
        }
        assert_eq!(ProtocolVersion::TLS13.draft(), None);
        assert!(ProtocolVersion(0x1a1a).is_grease());
        assert!(!ProtocolVersion::TLS12.is_grease());
    }
}
