//! Client profiles: real clients' first ClientHello records, byte for byte, with a name, the
//! command that produced them and notes. Two sources: the project's own text format (the
//! built-in set, `profiles/clients.txt`, is one such file) and testssl.sh's
//! `etc/client-simulation.txt` (historical clients recorded by SSL Labs and testssl).
//!
//! Pure: parsing takes text, patching takes bytes; reading files is the caller's business.
//!
//! Our format, one block per client:
//! ```text
//! # comment
//! [profile openssl-3.0-tls1_3]
//! source = openssl s_client -connect 127.0.0.1:PORT -servername profile.example
//! notes = OpenSSL 3.0.19, default settings
//! sni = replace          # optional: replace (default) | none | keep
//! hello = 160301...      # the record(s) carrying the hello, hex
//! ```

use crate::core::cert::KeyAlgorithm;
use crate::core::wire::hello::{CONTENT_HANDSHAKE, ClientHello};

/// The built-in profiles, recorded on this project's machine by `profiles/record.sh`.
pub const BUILTIN: &str = include_str!("../../../profiles/clients.txt");

/// Longest hello accepted from a profile file (a few records; real hellos are under 2 kB).
const MAX_HELLO_BYTES: usize = 65_536;

/// What to do with the hello's server_name when aiming it at a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SniRule {
    /// Name the target (the client sends SNI); no SNI for an IP-address target.
    Replace,
    /// Send no server_name (the client never sends one).
    Remove,
    /// Send the bytes untouched.
    Keep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// The record(s) carrying the client's first hello, as it sent them.
    pub hello: Vec<u8>,
    pub sni: SniRule,
    pub source: String,
    pub notes: String,
    /// Lowest and highest protocol version the client speaks, when the source says so.
    pub lowest: Option<u16>,
    pub highest: Option<u16>,
    pub limits: KeyLimits,
}

/// Key sizes outside which the client aborts after the server's answer, as testssl.sh's
/// client list records them (Java 7 cannot use a DH prime above 1024 bits, Apple's ATS
/// refuses RSA keys under 2048). `None`: no limit known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLimits {
    pub min_dh_bits: Option<usize>,
    pub max_dh_bits: Option<usize>,
    pub min_rsa_bits: Option<usize>,
    pub max_rsa_bits: Option<usize>,
    pub min_ecdsa_bits: Option<usize>,
}

impl KeyLimits {
    /// The limits by their key in our profile format (testssl's names differ).
    fn fields(&mut self) -> [(&'static str, &'static str, &mut Option<usize>); 5] {
        [
            ("min_dh_bits", "minDhBits", &mut self.min_dh_bits),
            ("max_dh_bits", "maxDhBits", &mut self.max_dh_bits),
            ("min_rsa_bits", "minRsaBits", &mut self.min_rsa_bits),
            ("max_rsa_bits", "maxRsaBits", &mut self.max_rsa_bits),
            ("min_ecdsa_bits", "minEcdsaBits", &mut self.min_ecdsa_bits),
        ]
    }
}

/// A profile file that could not be read, with the line at fault (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

fn decode_hex(text: &str, line: usize) -> Result<Vec<u8>, ParseError> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() > 2 * MAX_HELLO_BYTES {
        return Err(err(
            line,
            format!("hello longer than {MAX_HELLO_BYTES} bytes"),
        ));
    }
    hex::decode(&digits).map_err(|e| err(line, format!("hello: {e}")))
}

/// Parses our profile format. Every block needs a name and a `hello`; unknown keys are
/// errors (a typo must not silently drop a field).
pub fn parse(text: &str) -> Result<Vec<Profile>, ParseError> {
    let mut out: Vec<(usize, Profile)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("[profile") {
            let name = rest
                .strip_suffix(']')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err(n, "expected [profile NAME]"))?;
            if out.iter().any(|(_, p)| p.name == name) {
                return Err(err(n, format!("profile {name:?} defined twice")));
            }
            out.push((
                n,
                Profile {
                    name: name.to_string(),
                    hello: Vec::new(),
                    sni: SniRule::Replace,
                    source: String::new(),
                    notes: String::new(),
                    lowest: None,
                    highest: None,
                    limits: KeyLimits::default(),
                },
            ));
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| err(n, "expected KEY = VALUE or [profile NAME]"))?;
        let (key, value) = (key.trim(), value.trim());
        let (_, p) = out
            .last_mut()
            .ok_or_else(|| err(n, format!("{key} outside a [profile NAME] block")))?;
        match key {
            "hello" => p.hello = decode_hex(value, n)?,
            "source" => p.source = value.to_string(),
            "notes" => p.notes = value.to_string(),
            "sni" => {
                p.sni = match value {
                    "replace" => SniRule::Replace,
                    "none" => SniRule::Remove,
                    "keep" => SniRule::Keep,
                    _ => return Err(err(n, format!("sni = {value:?}: replace, none or keep"))),
                }
            }
            "lowest" | "highest" => {
                let v = crate::core::wire::ProtocolVersion::parse(value).map_err(|e| err(n, e))?;
                if key == "lowest" {
                    p.lowest = Some(v.0);
                } else {
                    p.highest = Some(v.0);
                }
            }
            _ => {
                let mut fields = p.limits.fields();
                let Some((_, _, slot)) = fields.iter_mut().find(|(ours, _, _)| *ours == key) else {
                    return Err(err(n, format!("unknown key {key:?}")));
                };
                let bits = value
                    .parse()
                    .map_err(|_| err(n, format!("{key} = {value:?}: a number of bits")))?;
                **slot = Some(bits);
            }
        }
    }
    out.into_iter()
        .map(|(n, p)| {
            if p.hello.is_empty() {
                Err(err(n, format!("profile {:?} has no hello", p.name)))
            } else {
                Ok(p)
            }
        })
        .collect()
}

/// Writes profiles in our format (what `profiles/record.sh` produces, and a way to convert
/// a testssl file into one).
pub fn format(profiles: &[Profile]) -> String {
    let mut s = String::new();
    for p in profiles {
        s.push_str(&format!("[profile {}]\n", p.name));
        if !p.source.is_empty() {
            s.push_str(&format!("source = {}\n", p.source));
        }
        if !p.notes.is_empty() {
            s.push_str(&format!("notes = {}\n", p.notes));
        }
        match p.sni {
            SniRule::Replace => {}
            SniRule::Remove => s.push_str("sni = none\n"),
            SniRule::Keep => s.push_str("sni = keep\n"),
        }
        for (key, v) in [("lowest", p.lowest), ("highest", p.highest)] {
            if let Some(v) = v {
                s.push_str(&format!(
                    "{key} = {}\n",
                    crate::core::wire::ProtocolVersion(v)
                ));
            }
        }
        let mut limits = p.limits;
        for (key, _, bits) in limits.fields() {
            if let Some(bits) = bits {
                s.push_str(&format!("{key} = {bits}\n"));
            }
        }
        s.push_str(&format!("hello = {}\n\n", hex::encode(&p.hello)));
    }
    s
}

/// The value of a testssl `key+=(...)` line (given what follows `+=`): `"text"` or a bare word, quotes stripped.
fn testssl_value(rest: &str) -> Option<&str> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?.trim();
    Some(
        inner
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(inner),
    )
}

/// Parses testssl.sh's `client-simulation.txt`: bash arrays appended once per client
/// (`names+=("…")`, `handshakebytes+=("hex")`, `sni+=("$SNI")` or `("")`,
/// `lowest_protocol+=("0x0300")`, `highest_protocol+=(…)`, `warning`, …). Each `names+=`
/// opens a client; the lines after it, up to the next one, are its fields. A client without
/// handshake bytes is skipped.
pub fn parse_testssl(text: &str) -> Result<Vec<Profile>, ParseError> {
    let mut out: Vec<Profile> = Vec::new();
    let mut seen = 0usize;
    let version = |v: &str| u16::from_str_radix(v.trim_start_matches("0x"), 16).ok();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, rest)) = line.split_once("+=") else {
            continue;
        };
        let Some(value) = testssl_value(rest) else {
            continue;
        };
        let key = key.trim();
        if key == "names" {
            seen += 1;
            out.push(Profile {
                name: value.to_string(),
                hello: Vec::new(),
                sni: SniRule::Replace,
                source: "testssl.sh client-simulation.txt".into(),
                notes: String::new(),
                lowest: None,
                highest: None,
                limits: KeyLimits::default(),
            });
            continue;
        }
        let Some(p) = out.last_mut() else {
            continue;
        };
        match key {
            "handshakebytes" => p.hello = decode_hex(value, n)?,
            "sni" if value.is_empty() => p.sni = SniRule::Remove,
            "lowest_protocol" => p.lowest = version(value),
            "highest_protocol" => p.highest = version(value),
            "warning" => p.notes = value.to_string(),
            _ => {
                // -1 means no limit.
                let bits = value.parse::<usize>().ok();
                if let Some((_, _, slot)) = p
                    .limits
                    .fields()
                    .into_iter()
                    .find(|(_, theirs, _)| *theirs == key)
                {
                    *slot = bits;
                }
            }
        }
    }
    if seen == 0 {
        return Err(err(
            1,
            "no names+=(…) entries: not a client-simulation file",
        ));
    }
    out.retain(|p| !p.hello.is_empty());
    Ok(out)
}

/// True when the profile's name contains `filter` (case-insensitive).
pub fn name_matches(p: &Profile, filter: &str) -> bool {
    p.name.to_lowercase().contains(&filter.to_lowercase())
}

/// The versions the client completes a handshake with: `lowest`/`highest` when the profile
/// declares them, else what its hello offers (supported_versions, or legacy_version as the
/// top). `None` where neither says.
pub fn version_range(p: &Profile) -> (Option<u16>, Option<u16>) {
    let hello = decode_hello(&p.hello);
    let offered: Vec<u16> = hello
        .as_ref()
        .and_then(|h| h.supported_versions())
        .unwrap_or_default()
        .into_iter()
        .filter(|v| !crate::core::wire::ProtocolVersion(*v).is_grease())
        .collect();
    let lowest = p.lowest.or(offered.iter().copied().min());
    let highest = p
        .highest
        .or(hello.as_ref().map(ClientHello::highest_version));
    (lowest, highest)
}

/// Why the client would abort on the server's choice of `version`, if it would: a real
/// client checks the ServerHello's version against what it accepts, which the server
/// cannot know (a TLS 1.0-only server answers a TLS 1.2 client's hello with TLS 1.0).
pub fn refuses_version(p: &Profile, version: u16) -> Option<String> {
    let (lo, hi) = version_range(p);
    let name = |v: u16| crate::core::wire::ProtocolVersion(v).to_string();
    let outside = lo.is_some_and(|lo| version < lo) || hi.is_some_and(|hi| version > hi);
    outside.then(|| {
        format!(
            "the server chose {}, the client accepts {} to {}",
            name(version),
            lo.map_or("?".into(), name),
            hi.map_or("?".into(), name)
        )
    })
}

/// Why the client would abort on the server's key exchange or certificate key, if it
/// would: `dh_prime_bits` from a DHE ServerKeyExchange, `leaf` the server certificate's
/// key. A real client checks these after the ServerHello; the server cannot know.
pub fn refuses_keys(
    p: &Profile,
    dh_prime_bits: Option<usize>,
    leaf: Option<(&KeyAlgorithm, usize)>,
) -> Option<String> {
    let l = &p.limits;
    let outside = |what: &str, bits: usize, min: Option<usize>, max: Option<usize>| {
        if let Some(min) = min.filter(|m| bits < *m) {
            Some(format!(
                "{what} of {bits} bits, below the client's minimum of {min}"
            ))
        } else {
            max.filter(|m| bits > *m)
                .map(|max| format!("{what} of {bits} bits, above the client's maximum of {max}"))
        }
    };
    let dh = dh_prime_bits.and_then(|b| outside("DH prime", b, l.min_dh_bits, l.max_dh_bits));
    let key = leaf.and_then(|(alg, bits)| match alg {
        KeyAlgorithm::Rsa => outside("RSA key", bits, l.min_rsa_bits, l.max_rsa_bits),
        KeyAlgorithm::Ec(_) => outside("ECDSA key", bits, l.min_ecdsa_bits, None),
        _ => None,
    });
    dh.or(key).map(|why| format!("the server's {why}"))
}

/// Splits TLS records into the handshake bytes they carry and the first record's version.
/// `None` when the bytes are not whole TLS handshake records (SSLv2, garbage).
fn handshake_bytes(records: &[u8]) -> Option<(Vec<u8>, u16)> {
    let mut rest = records;
    let mut out = Vec::new();
    let mut version = None;
    while !rest.is_empty() {
        let header = rest.get(..5)?;
        if header[0] != CONTENT_HANDSHAKE {
            return None;
        }
        let len = u16::from_be_bytes([header[3], header[4]]) as usize;
        let body = rest.get(5..5 + len)?;
        version.get_or_insert(u16::from_be_bytes([header[1], header[2]]));
        out.extend_from_slice(body);
        rest = &rest[5 + len..];
    }
    Some((out, version?))
}

/// The ClientHello a profile's records carry, when they hold exactly one TLS ClientHello.
pub fn decode_hello(records: &[u8]) -> Option<ClientHello> {
    let (msg, version) = handshake_bytes(records)?;
    ClientHello::decode_message(&msg, version).ok()
}

/// The bytes to send for this profile to a server named `host` (`None`: an IP-address
/// target, which gets no SNI, as clients do). The hello is re-encoded only when its SNI has
/// to change; otherwise, and for hellos we cannot decode (SSLv2 format), the bytes go out
/// exactly as recorded.
pub fn hello_for(profile: &Profile, host: Option<&str>) -> Vec<u8> {
    let name = match profile.sni {
        SniRule::Keep => return profile.hello.clone(),
        SniRule::Replace => host,
        SniRule::Remove => None,
    };
    let Some(mut hello) = decode_hello(&profile.hello) else {
        return profile.hello.clone();
    };
    if hello.sni().as_deref() == name {
        return profile.hello.clone();
    }
    if name.is_none() && hello.ext(0).is_none() {
        return profile.hello.clone();
    }
    // A name too long for the hello's length fields: the hello goes out as recorded.
    if hello.set_sni(name).is_err() {
        return profile.hello.clone();
    }
    hello
        .to_records(None)
        .unwrap_or_else(|_| profile.hello.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hello as a client recorded it: SNI first, a padding extension at the end.
    fn sample() -> Profile {
        let mut h = ClientHello {
            record_version: 0x0301,
            legacy_version: 0x0303,
            random: [7; 32],
            session_id: vec![1; 32],
            cipher_suites: vec![0xc02f, 0x00ff],
            compression_methods: vec![0],
            extensions: Some(vec![
                crate::core::wire::Extension {
                    typ: 10,
                    data: vec![0, 2, 0, 0x17],
                },
                crate::core::wire::Extension {
                    typ: 21,
                    data: vec![0; 100],
                },
            ]),
        };
        h.set_sni(Some("profile.example")).unwrap();
        Profile {
            name: "t".into(),
            hello: h.to_records(None).unwrap(),
            sni: SniRule::Replace,
            source: String::new(),
            notes: String::new(),
            lowest: None,
            highest: None,
            limits: KeyLimits::default(),
        }
    }

    #[test]
    fn builtin_set_parses_and_every_hello_decodes() {
        let ps = parse(BUILTIN).unwrap();
        assert!(ps.len() >= 8, "{}", ps.len());
        for p in &ps {
            let h = decode_hello(&p.hello).unwrap_or_else(|| panic!("{}", p.name));
            assert_eq!(h.sni().as_deref(), Some("profile.example"), "{}", p.name);
            assert!(!p.source.is_empty(), "{}", p.name);
        }
    }

    #[test]
    fn format_round_trips() {
        let mut p = sample();
        p.sni = SniRule::Remove;
        p.notes = "n".into();
        p.highest = Some(0x0303);
        p.limits.max_dh_bits = Some(1024);
        p.limits.min_rsa_bits = Some(2048);
        let text = format(std::slice::from_ref(&p));
        assert!(text.contains("max_dh_bits = 1024\n"), "{text}");
        assert_eq!(parse(&text).unwrap(), vec![p]);
        let e = parse("[profile a]\nmax_dh_bits = lots\nhello = 00\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn parse_errors_name_the_line() {
        let e = parse("[profile a]\nhelo = 00\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("[profile a]\nnotes = x\n").unwrap_err();
        assert!(e.message.contains("no hello"), "{e}");
        let e = parse("[profile a]\nhello = 0g\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("hello = 00\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(parse("[profile a]\nhello=00\n[profile a]\nhello=00\n").is_err());
    }

    #[test]
    fn sni_is_replaced_and_padding_keeps_the_length() {
        let p = sample();
        let out = hello_for(&p, Some("a-much-longer-name.example.org"));
        assert_eq!(out.len(), p.hello.len());
        let h = decode_hello(&out).unwrap();
        assert_eq!(h.sni().as_deref(), Some("a-much-longer-name.example.org"));
        let orig = decode_hello(&p.hello).unwrap();
        assert_eq!(h.cipher_suites, orig.cipher_suites);
        assert_eq!(h.extension_types(), orig.extension_types());
        assert_eq!(h.random, orig.random);
    }

    #[test]
    fn same_name_sends_the_exact_bytes_and_ip_targets_get_no_sni() {
        let p = sample();
        assert_eq!(hello_for(&p, Some("profile.example")), p.hello);
        let h = decode_hello(&hello_for(&p, None)).unwrap();
        assert_eq!(h.sni(), None);
        let mut keep = sample();
        keep.sni = SniRule::Keep;
        assert_eq!(hello_for(&keep, Some("x.test")), keep.hello);
    }

    #[test]
    fn undecodable_bytes_are_sent_as_recorded() {
        let mut p = sample();
        p.hello = vec![0x80, 0x2e, 0x01, 0x00, 0x02];
        assert_eq!(hello_for(&p, Some("x.test")), p.hello);
        p.hello = vec![0x16, 0x03, 0x01, 0x00, 0x10, 1];
        assert_eq!(hello_for(&p, Some("x.test")), p.hello);
    }

    #[test]
    fn testssl_format_aligns_entries() {
        let text = r#"
     names+=("Old")
     sni+=("")
     handshakebytes+=("160301000401000000")
     lowest_protocol+=("0x0300")
     highest_protocol+=("0x0301")
     names+=("New")
     sni+=("$SNI")
     warning+=("")
     handshakebytes+=("")
     names+=("Newer")
     sni+=("$SNI")
     handshakebytes+=("1603010004010000")
     highest_protocol+=("0x0304")
     minDhBits+=(1024)
     maxDhBits+=(-1)
     maxRsaBits+=(4096)
"#;
        let ps = parse_testssl(text).unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].name, "Old");
        assert_eq!(ps[0].sni, SniRule::Remove);
        assert_eq!(ps[0].lowest, Some(0x0300));
        assert_eq!(ps[0].highest, Some(0x0301));
        assert_eq!(ps[1].name, "Newer");
        assert_eq!(ps[1].sni, SniRule::Replace);
        let limits = KeyLimits {
            min_dh_bits: Some(1024),
            max_rsa_bits: Some(4096),
            ..KeyLimits::default()
        };
        assert_eq!((ps[0].limits, ps[1].limits), (KeyLimits::default(), limits));
        assert!(parse_testssl("nothing here").is_err());
    }

    #[test]
    fn key_limits_say_which_key_is_out_of_range() {
        let mut p = sample();
        p.limits = KeyLimits {
            max_dh_bits: Some(1024),
            min_rsa_bits: Some(2048),
            min_ecdsa_bits: Some(256),
            ..KeyLimits::default()
        };
        let rsa = |bits| Some((&KeyAlgorithm::Rsa, bits));
        assert_eq!(
            refuses_keys(&p, Some(2048), rsa(2048)).as_deref(),
            Some("the server's DH prime of 2048 bits, above the client's maximum of 1024")
        );
        assert_eq!(refuses_keys(&p, Some(1024), rsa(2048)), None);
        assert_eq!(
            refuses_keys(&p, None, rsa(1024)).as_deref(),
            Some("the server's RSA key of 1024 bits, below the client's minimum of 2048")
        );
        let p224 = KeyAlgorithm::Ec("P-224".into());
        assert!(refuses_keys(&p, None, Some((&p224, 224))).is_some());
        assert_eq!(
            refuses_keys(&p, None, Some((&KeyAlgorithm::Ed25519, 256))),
            None
        );
        assert_eq!(refuses_keys(&sample(), Some(8192), rsa(512)), None);
    }

    #[test]
    fn names_match_case_insensitively() {
        let mut a = sample();
        a.name = "OpenSSL-3.0-tls1_2".into();
        assert!(name_matches(&a, "openssl"));
        assert!(name_matches(&a, "TLS1_2"));
        assert!(!name_matches(&a, "curl"));
    }

    #[test]
    fn version_range_from_declaration_or_hello() {
        let mut p = sample();
        // No supported_versions: legacy_version TLS 1.2 is the top, the bottom unknown.
        assert_eq!(version_range(&p), (None, Some(0x0303)));
        assert_eq!(refuses_version(&p, 0x0301), None);
        assert!(refuses_version(&p, 0x0304).is_some());
        p.lowest = Some(0x0303);
        let why = refuses_version(&p, 0x0301).unwrap();
        assert_eq!(
            why,
            "the server chose TLSv1.0, the client accepts TLSv1.2 to TLSv1.2"
        );
        assert_eq!(refuses_version(&p, 0x0303), None);
    }
}
