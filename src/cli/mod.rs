//! The command line: clap definitions, their validation into configs, and dispatch.
//! Commands hand their results to a [`crate::report`] sink; nothing deep prints.
//!
//! Exit codes: 0 the command worked and nothing failed (probe: the server went on with the
//! handshake), 1 a failure was observed (a handshake failed; for `scan`, a target answered
//! no version; for `diff`, the two sides differ), 2 bad usage or unreadable input.

pub mod diff;
pub mod exporter;
pub mod manual;
pub mod pcap;
pub mod probe;
pub mod replay;
pub mod scan;
pub mod simulate;

use crate::commands::probe::HelloSource;
pub use crate::commands::{ConnectConfig, Failure};
use crate::core::datetime::parse_rfc3339;
use crate::core::wire::build::{HelloSpec, Sni};
use crate::core::wire::registry;
use crate::core::wire::{Extension, ProtocolVersion};
use crate::io::net::Limits;
use crate::report::{Format, ResultSink};
use clap::{Args, Parser, Subcommand};
use std::borrow::Cow;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "shakedown",
    version,
    about = "Hand-built TLS ClientHellos, byte-exact answers, and why handshakes fail"
)]
pub struct Cli {
    /// One JSON object per line (each with `schema_version`), for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// Colour in the text report: auto (on a terminal, unless NO_COLOR is set), always,
    /// never. JSON is never coloured.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,
    #[command(subcommand)]
    pub command: Command,
}

/// `--color`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

// `defer`: a subcommand's arguments are built only when it is the one being parsed (or
// for help, completions and man pages, which build the whole tree). Building all thirteen
// commands' flags was ≈ 340,000 instructions of every run's start, a quarter of a
// `pcap` run on a small capture (docs/benchmarks.md#startup). So the `Args` structs carry
// `//` comments, not doc comments: a deferred struct's doc comment is applied after the
// variant's and would replace the command's description in its help and man page.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Send one exactly specified ClientHello and decode and diagnose the answer.
    Probe(probe::ProbeArgs),
    /// Print the crafted ClientHello; send nothing.
    Hello(probe::HelloCmdArgs),
    /// Decode TLS bytes (a record, a handshake message, a ClientHello or ServerHello body).
    Decode(probe::DecodeArgs),
    /// Real clients' exact ClientHellos (profiles) against a target: who connects, who fails.
    Simulate(simulate::SimulateArgs),
    /// Re-send a ClientHello taken from a capture, byte for byte, to a target.
    Replay(replay::ReplayArgs),
    /// Two handshakes (capture connections or probes) field by field: where they part.
    Diff(diff::DiffArgs),
    /// Enumerate versions, suites and their order, groups, signature schemes and behaviour.
    Scan(scan::ScanArgs),
    /// Per-connection handshake verdicts from capture files (pcap, pcapng; - for stdin).
    Pcap(pcap::PcapArgs),
    /// Live handshake verdicts from a network interface (needs root or CAP_NET_RAW).
    #[cfg(feature = "live")]
    Watch(pcap::WatchArgs),
    /// Without the `live` feature: explains how to get `watch`.
    #[cfg(not(feature = "live"))]
    #[command(hide = true, disable_help_flag = true)]
    Watch {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Prometheus exporter (blackbox_exporter's pattern): /probe?target=HOST:PORT&module=NAME.
    Exporter(exporter::ExporterArgs),
    /// Shell completions from the flag definitions: bash, zsh, fish, elvish, powershell.
    Completions(manual::CompletionsArgs),
    /// Man pages from the flag definitions (shakedown.1 to stdout, or all into --out DIR).
    Man(manual::ManArgs),
}

/// What a build without libpcap says when asked to `watch`.
pub const WATCH_NEEDS_LIVE: &str = "watch needs a build with the `live` feature (libpcap): \
    cargo install --path . --features live (Debian/Ubuntu: apt-get install libpcap-dev first)";

// Hello options, the same for every command that builds a hello.
#[derive(Args, Debug, Default, Clone)]
pub struct HelloArgs {
    /// Coherent defaults for one version: SSLv2 SSLv3 TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3.
    #[arg(long = "tls", value_name = "VER")]
    pub tls: Option<String>,
    /// Version in the record header(s), e.g. TLSv1.0 or 0x0301.
    #[arg(long, value_name = "VER")]
    pub record_version: Option<String>,
    /// ClientHello.legacy_version.
    #[arg(long, value_name = "VER")]
    pub legacy_version: Option<String>,
    /// supported_versions extension content, in order (empty string: an empty list).
    #[arg(long, value_name = "LIST")]
    pub supported_versions: Option<String>,
    /// Cipher suites: IANA or OpenSSL names, 0xHHHH ids, keywords (ALL, TLS13, WEAK, …).
    #[arg(long, value_name = "LIST")]
    pub ciphers: Option<String>,
    /// Server name to send (default: the target host, unless it is an IP address).
    #[arg(long, value_name = "NAME", conflicts_with = "no_sni")]
    pub sni: Option<String>,
    /// Send no server_name extension.
    #[arg(long)]
    pub no_sni: bool,
    /// supported_groups: x25519, secp256r1 (P-256), X25519MLKEM768, ffdhe2048, 0xHHHH, …
    #[arg(long, value_name = "LIST")]
    pub groups: Option<String>,
    /// Groups to send a key_share for (TLS 1.3).
    #[arg(long, value_name = "LIST")]
    pub key_shares: Option<String>,
    /// signature_algorithms: rsa_pss_rsae_sha256, ecdsa_secp256r1_sha256, RSA+SHA256, 0xHHHH, …
    #[arg(long, value_name = "LIST")]
    pub sigalgs: Option<String>,
    /// ALPN protocols, comma separated (h2,http/1.1).
    #[arg(long, value_name = "LIST")]
    pub alpn: Option<String>,
    /// A raw extension TYPE:HEX (TYPE a number, 0xHHHH or a name); repeatable, sent in order.
    /// A type the hello already has is replaced in place.
    #[arg(long = "ext", value_name = "TYPE:HEX")]
    pub ext: Vec<String>,
    /// Leave out an extension the defaults would send (number or name); repeatable.
    #[arg(long = "no-ext", value_name = "TYPE")]
    pub no_ext: Vec<String>,
    /// Add GREASE values (RFC 8701) as Chrome does.
    #[arg(long)]
    pub grease: bool,
    /// Pad the handshake message to at least N bytes (RFC 7685 padding extension).
    #[arg(long, value_name = "N")]
    pub pad_to: Option<usize>,
    /// Split the hello over records of at most N handshake bytes each.
    #[arg(long, value_name = "N")]
    pub fragment: Option<usize>,
    /// Write these length fields as given instead of the true lengths (wrong on purpose):
    /// FIELD=N,... with FIELD one of record, handshake, session_id, suites, compression,
    /// ext (the extensions block) or ext:TYPE (the first extension of that type).
    #[arg(long, value_name = "FIELD=N,...")]
    pub lengths: Option<String>,
    /// Send these exact bytes (records included) instead of building a hello.
    #[arg(long, value_name = "HEX|@FILE")]
    pub hello_hex: Option<String>,
}

// How to connect and how to judge certificates: the same for every command that connects.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Connect to this address instead of resolving the host; SNI stays the host name.
    #[arg(long, value_name = "ADDR")]
    pub connect: Option<String>,
    /// Seconds to wait for each connection, and again for each answer.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
    /// Plaintext preamble before TLS: smtp, lmtp, imap, pop3, ftp, ldap, postgres, mysql,
    /// xmpp, xmpp-server, nntp, sieve, irc, or none. Default: the port's (25/587 smtp, 143
    /// imap, 110 pop3, 21 ftp, 389 ldap, 5432 postgres, 3306 mysql, 5222 xmpp, …).
    #[arg(long, value_name = "PROTO")]
    pub starttls: Option<String>,
    /// The XMPP domain the stream is opened to (`<stream:stream to=…>`) with `--starttls
    /// xmpp` or `xmpp-server`. Default: the `--sni` name, else the target's host.
    #[arg(long, value_name = "NAME")]
    pub xmpp_host: Option<String>,
    /// Test only the name's IPv4 addresses.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Test only the name's IPv6 addresses.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Test only the first address of the name (default: every A/AAAA address).
    #[arg(long)]
    pub one_address: bool,
    /// HOST:PORT resolves to these addresses instead of the resolver's (curl's form;
    /// repeatable): for tests, or to check an origin behind a CDN.
    #[arg(long, value_name = "HOST:PORT:ADDR[,ADDR...]")]
    pub resolve: Vec<String>,
    #[command(flatten)]
    pub cert: CertArgs,
}

// How chains are judged: the same two flags for every command that checks certificates
// (the ones that connect, and `pcap`/`watch`).
#[derive(Args, Debug, Clone, Default)]
pub struct CertArgs {
    /// Extra trust anchors (PEM) for the certificate checks.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Check certificates as of this moment (RFC 3339) instead of now (in captures: instead
    /// of each connection's own time).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

impl CertArgs {
    /// `--at` as Unix seconds, if given.
    pub fn at(&self) -> Result<Option<i64>, String> {
        self.at
            .as_deref()
            .map(|t| parse_rfc3339(t).map_err(|e| format!("--at: {e}")))
            .transpose()
    }

    /// The trust store: webpki-roots plus `--ca`.
    pub fn trust(&self) -> Result<crate::core::cert::TrustStore, String> {
        trust_store(self.ca.as_deref())
    }
}

impl ConnectArgs {
    pub fn validate(&self) -> Result<ConnectConfig, String> {
        let connect = self
            .connect
            .as_deref()
            .map(|c| {
                c.trim_matches(['[', ']'])
                    .parse()
                    .map_err(|_| format!("--connect {c:?}: expected an IP address"))
            })
            .transpose()?;
        let timeout = seconds(self.timeout, "--timeout")?;
        let check_time = self.cert.at()?.unwrap_or_else(now_unix);
        let starttls = match self.starttls.as_deref() {
            None => crate::commands::StarttlsChoice::ByPort,
            Some("none") => crate::commands::StarttlsChoice::Off,
            Some(name) => crate::commands::StarttlsChoice::Protocol(
                crate::core::wire::starttls::Protocol::parse(name).ok_or_else(|| {
                    let names: Vec<&str> = crate::core::wire::starttls::Protocol::ALL
                        .iter()
                        .map(|p| p.name())
                        .collect();
                    format!(
                        "--starttls {name:?}: expected one of {}, none",
                        names.join(", ")
                    )
                })?,
            ),
        };
        let addresses = crate::commands::AddressChoice {
            family: match (self.ipv4, self.ipv6) {
                (true, _) => Some(crate::commands::Family::V4),
                (_, true) => Some(crate::commands::Family::V6),
                _ => None,
            },
            one: self.one_address,
            pinned: self
                .resolve
                .iter()
                .map(|r| crate::commands::Pinned::parse(r))
                .collect::<Result<_, _>>()?,
        };
        if let Some(host) = &self.xmpp_host {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
            if host.is_empty() || !host.chars().all(allowed) {
                return Err(format!("--xmpp-host {host:?}: expected a domain name"));
            }
        }
        Ok(ConnectConfig {
            starttls,
            preamble_host: self.xmpp_host.clone(),
            connect,
            addresses,
            limits: Limits {
                connect_timeout: timeout,
                read_timeout: timeout,
                ..Limits::default()
            },
            check_time,
            // Without --ca nothing can fail: built when first asked for (a command may
            // start it ahead, see `Trust::build_ahead`).
            trust: match self.cert.ca {
                Some(_) => self.cert.trust()?.into(),
                None => crate::commands::Trust::on_demand(system_trust),
            },
        })
    }
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let format = if cli.json { Format::Json } else { Format::Text };
    // The text report's styles reach a terminal (or --color always); in pipes, with
    // NO_COLOR, with --color never, and always for JSON, none are written.
    let raw = std::io::stdout().lock();
    let chosen = match (format, cli.color) {
        (Format::Json, _) => anstream::AutoStream::never(raw),
        (_, ColorWhen::Never) => anstream::AutoStream::never(raw),
        (_, ColorWhen::Always) => anstream::AutoStream::always(raw),
        (_, ColorWhen::Auto) => anstream::AutoStream::auto(raw),
    };
    // Without colour the renderers write no escape codes, so the stream passes bytes
    // through untouched instead of scanning them for codes to strip.
    let colour = chosen.current_choice() != anstream::ColorChoice::Never;
    crate::report::style::set_enabled(colour);
    let stdout = if colour {
        chosen
    } else {
        anstream::AutoStream::always_ansi(chosen.into_inner())
    };
    let result = match cli.command {
        Command::Probe(a) => probe::run_probe(&a, ResultSink::new(stdout, format)),
        // Bytes for other tools (`--raw`, scripts, man pages) bypass the colour stream:
        // stripping escape sequences would cut binary output.
        Command::Hello(a) if a.raw => probe::run_hello(&a, stdout.into_inner(), format),
        Command::Hello(a) => probe::run_hello(&a, stdout, format),
        Command::Decode(a) => probe::run_decode(&a, ResultSink::new(stdout, format)),
        Command::Simulate(a) => simulate::run(&a, ResultSink::new(stdout, format)),
        Command::Replay(a) => replay::run(&a, ResultSink::new(stdout, format)),
        Command::Diff(a) => diff::run(&a, ResultSink::new(stdout, format)),
        Command::Scan(a) => scan::run(&a, ResultSink::new(stdout, format)),
        Command::Pcap(a) => pcap::run_pcap(&a, format, stdout),
        #[cfg(feature = "live")]
        Command::Watch(a) => pcap::run_watch(&a, format, stdout),
        #[cfg(not(feature = "live"))]
        Command::Watch { .. } => Err(Failure::Usage(WATCH_NEEDS_LIVE.into())),
        Command::Exporter(a) => exporter::run(&a),
        Command::Completions(a) => manual::completions(&a, &mut stdout.into_inner()),
        Command::Man(a) => manual::man(&a, &mut stdout.into_inner()),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(m)) => {
            eprintln!("shakedown: {m}");
            2
        }
        Err(Failure::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(Failure::Io(e)) => {
            eprintln!("shakedown: {e}");
            2
        }
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn seconds(s: f64, flag: &str) -> Result<std::time::Duration, String> {
    if s.is_finite() && s > 0.0 && s <= 3600.0 {
        Ok(std::time::Duration::from_secs_f64(s))
    } else {
        Err(format!(
            "{flag} {s}: must be more than 0 and at most 3600 (seconds)"
        ))
    }
}

/// Bytes from `HEX`, `@FILE` (hex text or binary) or `-` (stdin). Hex may contain spaces,
/// colons, newlines and `0x` prefixes, as copied from Wireshark or a hexdump.
pub fn read_bytes_arg(arg: &str) -> Result<Vec<u8>, String> {
    use crate::io::input::{MAX_INPUT, read_capped, read_file_capped};
    let raw: Vec<u8> = if arg == "-" {
        read_capped(std::io::stdin().lock(), MAX_INPUT)
            .map_err(|e| format!("reading stdin: {e}"))?
    } else if let Some(path) = arg.strip_prefix('@') {
        read_file_capped(path.as_ref(), MAX_INPUT).map_err(|e| format!("{arg}: {e}"))?
    } else {
        arg.as_bytes().to_vec()
    };
    let from_file = arg.starts_with('@') || arg == "-";
    let looks_hex = raw
        .iter()
        .all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace() || b":,xX".contains(b));
    if from_file && !looks_hex {
        // A file of raw bytes (a record saved from Wireshark, `hello --raw`).
        return Ok(raw);
    }
    parse_hex(&String::from_utf8_lossy(&raw))
}

/// Hex digits with separators and `0x` prefixes ignored; errors name the offset.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let mut digits = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'0' && matches!(bytes.get(i + 1), Some(b'x' | b'X')) {
            i += 2;
            continue;
        }
        if b.is_ascii_hexdigit() {
            digits.push((i, b));
        } else if !(b.is_ascii_whitespace() || b == b':' || b == b',') {
            return Err(format!("malformed hex: {:?} at offset {i}", b as char));
        }
        i += 1;
    }
    if digits.len() % 2 != 0 {
        let (i, _) = digits[digits.len() - 1];
        return Err(format!(
            "malformed hex: odd number of digits (last one at offset {i})"
        ));
    }
    Ok(digits
        .chunks(2)
        .map(|p| (hex_val(p[0].1) << 4) | hex_val(p[1].1))
        .collect())
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

fn version_arg(s: &str) -> Result<u16, String> {
    ProtocolVersion::parse(s).map(|v| v.0)
}

impl HelloArgs {
    /// Validates the options into what to send. Errors read as usage errors (exit 2).
    pub fn to_source(&self) -> Result<HelloSource, String> {
        if let Some(h) = &self.hello_hex {
            return read_bytes_arg(h)
                .map(HelloSource::Raw)
                .map_err(|e| format!("--hello-hex {e}"));
        }
        let mut spec = HelloSpec::default();
        if let Some(v) = &self.tls {
            spec.version = ProtocolVersion::parse(v)?;
        }
        spec.record_version = self
            .record_version
            .as_deref()
            .map(version_arg)
            .transpose()?;
        spec.legacy_version = self
            .legacy_version
            .as_deref()
            .map(version_arg)
            .transpose()?;
        spec.supported_versions = self
            .supported_versions
            .as_deref()
            .map(|l| {
                l.split([',', ':', ' '])
                    .filter(|s| !s.is_empty())
                    .map(version_arg)
                    .collect::<Result<Vec<_>, _>>()
                    .map(Cow::from)
            })
            .transpose()?;
        let e = |e: registry::UnknownName| e.to_string();
        spec.cipher_suites = self
            .ciphers
            .as_deref()
            .map(registry::parse_suites)
            .transpose()
            .map_err(e)?;
        spec.groups = self
            .groups
            .as_deref()
            .map(registry::parse_groups)
            .transpose()
            .map_err(e)?
            .map(Cow::from);
        spec.key_shares = self
            .key_shares
            .as_deref()
            .map(registry::parse_groups)
            .transpose()
            .map_err(e)?
            .map(Cow::from);
        spec.sigalgs = self
            .sigalgs
            .as_deref()
            .map(registry::parse_sigalgs)
            .transpose()
            .map_err(e)?
            .map(Cow::from);
        spec.alpn = self.alpn.as_ref().map(|l| {
            l.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string().into())
                .collect::<Vec<_>>()
                .into()
        });
        spec.sni = match (&self.sni, self.no_sni) {
            (_, true) => Sni::None,
            (Some(n), false) => Sni::Name(n.clone()),
            (None, false) => Sni::Auto,
        };
        for x in &self.ext {
            let (typ, data) = x
                .split_once(':')
                .ok_or_else(|| format!("--ext {x:?}: expected TYPE:HEX"))?;
            let typ = registry::parse_extension(typ).map_err(e)?;
            let data = parse_hex(data).map_err(|m| format!("--ext {x:?}: {m}"))?;
            spec.extra_extensions.push(Extension { typ, data });
        }
        for x in &self.no_ext {
            spec.omit_extensions
                .push(registry::parse_extension(x).map_err(e)?);
        }
        spec.grease = self.grease;
        if self.pad_to.is_some_and(|n| n > 16_000) {
            return Err("--pad-to: at most 16000 bytes (one record)".into());
        }
        spec.pad_to = self.pad_to;
        if self.fragment == Some(0) {
            return Err("--fragment must be at least 1".into());
        }
        spec.fragment = self.fragment;
        if let Some(l) = &self.lengths {
            spec.lengths = parse_lengths(l).map_err(|m| format!("--lengths: {m}"))?;
        }
        // A hello that does not fit its length fields is refused here, before anything is
        // sent (the randomness does not change any length).
        crate::core::crypto::hello::build(&spec, Some("localhost"), &mut |b| b.fill(1))
            .map_err(|e| format!("cannot encode the hello: {e}"))?;
        Ok(HelloSource::Spec(Box::new(spec)))
    }
}

/// `--lengths`: `FIELD=N` pairs, each N decimal or `0x` hex and within its field's width.
fn parse_lengths(s: &str) -> Result<crate::core::wire::hello::LengthOverrides, String> {
    let mut o = crate::core::wire::hello::LengthOverrides::default();
    for item in s.split(',').filter(|i| !i.is_empty()) {
        let (field, n) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?}: expected FIELD=N"))?;
        let n = n.trim();
        let value = match n.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16),
            None => n.parse::<u32>(),
        }
        .map_err(|_| format!("{item:?}: {n:?} is not a number"))?;
        let fit = |max: u32| {
            if value <= max {
                Ok(value)
            } else {
                Err(format!("{item:?}: {field} is a field of at most {max}"))
            }
        };
        let u8_ = |v: u32| v as u8;
        let u16_ = |v: u32| v as u16;
        match field.trim() {
            "record" => o.record = Some(u16_(fit(0xffff)?)),
            "handshake" => o.handshake = Some(fit(0xff_ffff)?),
            "session_id" => o.session_id = Some(u8_(fit(0xff)?)),
            "suites" => o.cipher_suites = Some(u16_(fit(0xffff)?)),
            "compression" => o.compression_methods = Some(u8_(fit(0xff)?)),
            "ext" => o.extensions = Some(u16_(fit(0xffff)?)),
            f => match f.strip_prefix("ext:") {
                Some(t) => {
                    let typ = registry::parse_extension(t).map_err(|e| e.to_string())?;
                    o.extension.push((typ, u16_(fit(0xffff)?)));
                }
                None => return Err(format!("{item:?}: unknown field {f:?}")),
            },
        }
    }
    Ok(o)
}

/// The system's CA bundle (Debian/Ubuntu path), used when present.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The trust anchors used without `--ca`: the Mozilla roots (webpki-roots) and the
/// system bundle when present.
pub fn system_trust() -> crate::core::cert::TrustStore {
    use crate::io::input::{MAX_INPUT, read_text_file_capped};
    let mut store = crate::core::cert::TrustStore::webpki_roots();
    if let Ok(text) = read_text_file_capped(SYSTEM_CA_BUNDLE.as_ref(), MAX_INPUT) {
        // A broken system bundle is not the user's input: use what parses of it.
        let _ = store.add_pem(&text);
    }
    store
}

/// Trust anchors for certificate checks: [`system_trust`] and the PEM certificates of
/// `--ca FILE`.
pub fn trust_store(ca: Option<&std::path::Path>) -> Result<crate::core::cert::TrustStore, String> {
    use crate::io::input::{MAX_INPUT, read_text_file_capped};
    let mut store = system_trust();
    if let Some(path) = ca {
        let text = read_text_file_capped(path, MAX_INPUT)
            .map_err(|e| format!("--ca {}: {e}", path.display()))?;
        store
            .add_pem(&text)
            .map_err(|e| format!("--ca {}: {e}", path.display()))?;
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a build without `live` has this path (`cargo test` without features runs it).
    #[cfg(not(feature = "live"))]
    #[test]
    fn watch_without_live_says_how_to_get_it() {
        let cli = Cli::try_parse_from(["shakedown", "watch", "-i", "lo"]).unwrap();
        assert!(matches!(cli.command, Command::Watch { .. }));
        assert!(WATCH_NEEDS_LIVE.contains("--features live"));
    }

    #[test]
    fn every_flag_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
