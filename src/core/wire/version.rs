//! Protocol versions as they appear on the wire, with their conventional names.

use std::fmt;

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
            0x7f00..=0x7fff => return None,
            _ => return None,
        })
    }

    /// Parses `TLSv1.2`, `tls1.2`, `1.2`, `TLS12`, `SSLv3`, `0x0303` (case-insensitive).
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase().replace(['_', ' '], "");
        if let Some(hex) = t.strip_prefix("0x") {
            return u16::from_str_radix(hex, 16)
                .map(ProtocolVersion)
                .map_err(|_| format!("bad version id {s:?}"));
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
        assert_eq!(ProtocolVersion(0x7f1c).to_string(), "0x7f1c");
        assert!(ProtocolVersion(0x1a1a).is_grease());
        assert!(!ProtocolVersion::TLS12.is_grease());
    }
}
