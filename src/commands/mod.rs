//! The commands: a validated config in, a typed result out. They use `io` and `core`,
//! never the CLI or a renderer: results go back as values (or, for streams, to an
//! `emit` callback the CLI connects to a sink), and the CLI picks the exit code.

pub mod addresses;
pub mod capture_ref;
pub mod decode;
pub mod diff;
pub mod exporter;
pub mod facts;
pub mod pcap;
pub mod probe;
pub mod replay;
pub mod scan;
pub mod simulate;

use crate::core::cert::TrustStore;
use crate::io::net::{Limits, Target};
use probe::{HelloSource, ProbeConfig};
use std::sync::Arc;

/// The version of the JSON objects' shape: every object the JSON sink writes carries it
/// as `schema_version`. Bump it with every change of `docs/schema.json` (a test compares
/// the generated schema with that file and its version).
pub const SCHEMA_VERSION: u32 = 3;

/// The `schema_version` field of every top-level result: serialized as [`SCHEMA_VERSION`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchemaVersion;

impl serde::Serialize for SchemaVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(SCHEMA_VERSION)
    }
}

impl schemars::JsonSchema for SchemaVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SchemaVersion".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The version of this object's shape (see docs/schema.json).",
            "const": SCHEMA_VERSION,
        })
    }
}

/// Why a command could not do its work (as opposed to a handshake that failed, which is
/// a result): bad input or configuration (exit 2), or an I/O error of the output.
#[derive(Debug)]
pub enum Failure {
    /// Bad flags or unreadable input: exit 2.
    Usage(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<String> for Failure {
    fn from(m: String) -> Self {
        Failure::Usage(m)
    }
}

/// How to connect and how to judge certificates, validated: the same for every command
/// that connects.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// Dial this address instead of resolving the host (the SNI stays the host name).
    pub connect: Option<std::net::IpAddr>,
    pub limits: Limits,
    /// Unix seconds the certificates are checked as of.
    pub check_time: i64,
    pub trust: Trust,
    /// `--starttls`: which plaintext preamble comes before TLS.
    pub starttls: StarttlsChoice,
    /// `--xmpp-host`, else the SNI name (see [`ConnectConfig::name_preamble`]): the name
    /// the preamble speaks of (XMPP's stream `to`).
    pub preamble_host: Option<String>,
    /// Which of a name's addresses are tested (`-4`, `-6`, `--one-address`, `--resolve`).
    pub addresses: AddressChoice,
}

/// Which addresses of a name are tested: by default every A/AAAA address, once each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressChoice {
    /// `-4` / `-6`: only this family (`None`: both).
    pub family: Option<Family>,
    /// `--one-address`: only the first address (after the family filter).
    pub one: bool,
    /// `--resolve HOST:PORT:ADDR[,ADDR…]`: these addresses instead of the resolver's.
    pub pinned: Vec<Pinned>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// One `--resolve` entry (curl's form): `host:port` resolves to `addresses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub host: String,
    pub port: u16,
    pub addresses: Vec<std::net::IpAddr>,
}

impl Pinned {
    /// Parses `HOST:PORT:ADDR[,ADDR…]`; IPv6 addresses may be bracketed.
    pub fn parse(s: &str) -> Result<Pinned, String> {
        let bad = |why: &str| format!("--resolve {s:?}: {why} (expected HOST:PORT:ADDR[,ADDR...])");
        let (host, rest) = s.split_once(':').ok_or_else(|| bad("no port"))?;
        let (port, addrs) = rest.split_once(':').ok_or_else(|| bad("no address"))?;
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("bad port"))?;
        let addresses = addrs
            .split(',')
            .map(|a| {
                a.trim()
                    .trim_matches(['[', ']'])
                    .parse()
                    .map_err(|_| bad(&format!("{a:?} is not an IP address")))
            })
            .collect::<Result<Vec<std::net::IpAddr>, String>>()?;
        Ok(Pinned {
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            port,
            addresses,
        })
    }
}

impl AddressChoice {
    /// `target` aimed at each address to test, in resolver (or `--resolve`) order, each
    /// once: the `--connect` address (or the literal) alone, the `--resolve` entry's when
    /// one names this host and port, else the resolver's (the name is resolved once, here
    /// at the I/O edge: [`Target::resolve`]); then `-4`/`-6` and `--one-address`.
    ///
    /// A name the resolver does not know stays one unpinned target: its connection fails
    /// and the result says why, as for any target that cannot be reached. Err when no
    /// address is left (`-6` for a name with only IPv4 addresses).
    pub fn per_address(&self, target: &Target) -> Result<Vec<Target>, String> {
        let host = target.host.trim_end_matches('.').to_ascii_lowercase();
        let mut found: Vec<std::net::IpAddr> =
            if let Some(ip) = target.connect.or_else(|| target.ip_literal()) {
                vec![ip]
            } else if let Some(pin) = self
                .pinned
                .iter()
                .find(|p| p.host == host && p.port == target.port)
            {
                pin.addresses.clone()
            } else {
                match target.resolve() {
                    Ok(addrs) => addrs.iter().map(|a| a.ip()).collect(),
                    Err(_) => return Ok(vec![target.clone()]),
                }
            };
        let mut seen = std::collections::HashSet::new();
        found.retain(|a| seen.insert(*a));
        let all = found.len();
        found.retain(|a| match self.family {
            None => true,
            Some(Family::V4) => a.is_ipv4(),
            Some(Family::V6) => a.is_ipv6(),
        });
        if found.is_empty() {
            let which = if self.family == Some(Family::V4) {
                "IPv4"
            } else {
                "IPv6"
            };
            return Err(format!(
                "{}: none of its {all} address(es) is {which}",
                target.host
            ));
        }
        if self.one {
            found.truncate(1);
        }
        Ok(found
            .into_iter()
            .map(|ip| Target {
                connect: Some(ip),
                ..target.clone()
            })
            .collect())
    }
}

/// `--starttls PROTO`, `--starttls none`, or nothing (the port's protocol, when it is a
/// well-known plaintext port: 25 and 587 smtp, 143 imap, 5432 postgres, …).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StarttlsChoice {
    #[default]
    ByPort,
    Off,
    Protocol(crate::core::wire::starttls::Protocol),
}

impl StarttlsChoice {
    pub fn for_port(self, port: u16) -> Option<crate::core::wire::starttls::Protocol> {
        match self {
            StarttlsChoice::ByPort => crate::core::wire::starttls::Protocol::for_port(port),
            StarttlsChoice::Off => None,
            StarttlsChoice::Protocol(p) => Some(p),
        }
    }
}

impl ConnectConfig {
    /// The target as given, aimed at `connect` when set, with its preamble.
    pub fn target(&self, spec: &str) -> Result<Target, String> {
        let mut target = Target::parse(spec, 443)?;
        target.connect = self.connect.or(target.connect);
        target.starttls = self.starttls.for_port(target.port);
        target.preamble_host = self.preamble_host.clone();
        Ok(target)
    }

    /// The preamble speaks of `sni` (`--sni`) unless `--xmpp-host` named another host.
    pub fn name_preamble(&mut self, sni: Option<&str>) {
        if self.preamble_host.is_none() {
            self.preamble_host = sni.map(str::to_string);
        }
    }

    /// The target aimed at each address to test (see [`AddressChoice::per_address`]).
    pub fn targets(&self, spec: &str) -> Result<Vec<Target>, String> {
        self.addresses.per_address(&self.target(spec)?)
    }

    /// The first address to test (after `-4`, `-6`, `--resolve`): for the commands that
    /// test one backend of a name (simulate, diff).
    pub fn first_target(&self, spec: &str) -> Result<Target, String> {
        self.targets(spec)?
            .into_iter()
            .next()
            .ok_or_else(|| format!("{spec}: no address to test"))
    }

    /// A probe of `target` with `hello` under these settings.
    pub fn probe(&self, target: Target, hello: HelloSource) -> ProbeConfig {
        ProbeConfig {
            target,
            hello,
            limits: self.limits,
            check_time: self.check_time,
            trust: Some(self.trust.store()),
        }
    }
}

/// Trust anchors: given, or built the first time a chain is checked, or built on a thread
/// of their own from the start. The system CA bundle read and parsed is ≈ 3 M
/// instructions: three quarters of a one-connection `pcap` run, where a capture with no
/// certificate to check (TLS 1.3 without keys, QUIC) never needs it; in `scan`, work on
/// the main thread before the first connection that the chain check, after the target's
/// last connection, does not need (docs/benchmarks.md#starttls-xmpp-bands). Shared by
/// clones.
#[derive(Clone)]
pub struct Trust(Arc<TrustCell>);

struct TrustCell {
    /// Builds the store; `None` when it was given.
    load: Option<fn() -> TrustStore>,
    store: std::sync::OnceLock<Arc<TrustStore>>,
}

impl Trust {
    /// A store that `load` builds when first asked for.
    pub fn on_demand(load: fn() -> TrustStore) -> Trust {
        Trust(Arc::new(TrustCell {
            load: Some(load),
            store: std::sync::OnceLock::new(),
        }))
    }

    /// Starts building the store on a thread of its own, unless it is there already:
    /// whoever asks for it first then waits for that thread instead of building it (or
    /// builds it, if no thread could be started).
    pub fn build_ahead(&self) {
        if self.built() {
            return;
        }
        let building = self.clone();
        // Detached: a run that ends before it is done does not wait for it.
        let _ = std::thread::Builder::new()
            .name("trust store".into())
            .spawn(move || {
                building.store();
            });
    }

    /// The store, built now if this is the first time (or waited for, while another
    /// thread builds it).
    pub fn store(&self) -> Arc<TrustStore> {
        let cell = &self.0;
        cell.store
            .get_or_init(|| Arc::new(cell.load.map_or_else(TrustStore::default, |load| load())))
            .clone()
    }

    /// Whether the store is there (given, or built by now).
    pub fn built(&self) -> bool {
        self.0.store.get().is_some()
    }
}

impl From<Arc<TrustStore>> for Trust {
    fn from(store: Arc<TrustStore>) -> Trust {
        Trust(Arc::new(TrustCell {
            load: None,
            store: std::sync::OnceLock::from(store),
        }))
    }
}

impl From<TrustStore> for Trust {
    fn from(store: TrustStore) -> Trust {
        Arc::new(store).into()
    }
}

/// No anchors: every chain untrusted.
impl Default for Trust {
    fn default() -> Trust {
        TrustStore::default().into()
    }
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Trust {{ built: {} }}", self.built())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::starttls::Protocol;

    /// A store built ahead is built by its own thread, with nobody asking (a scan's first
    /// connection does not wait for it), and is the store asked for later: the same one,
    /// built once.
    #[test]
    fn a_trust_store_built_ahead_is_built_once_on_its_own_thread() {
        let trust = Trust::on_demand(TrustStore::webpki_roots);
        assert!(!trust.built());
        trust.build_ahead();
        let start = std::time::Instant::now();
        while !trust.built() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "the store was not built ahead"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let store = trust.store();
        assert!(store.len() > 100, "{} anchors", store.len());
        assert_eq!(store.len(), TrustStore::webpki_roots().len());
        assert!(Arc::ptr_eq(&store, &trust.clone().store()));
        // A store given, or already built, starts no thread and stays the one given.
        let given: Trust = Arc::clone(&store).into();
        given.build_ahead();
        assert!(Arc::ptr_eq(&store, &given.store()));
    }

    #[test]
    fn the_port_chooses_the_preamble_unless_told() {
        let cfg = |starttls| ConnectConfig {
            connect: None,
            limits: Limits::default(),
            check_time: 0,
            trust: Default::default(),
            starttls,
            preamble_host: None,
            addresses: Default::default(),
        };
        let by_port = cfg(StarttlsChoice::ByPort);
        assert_eq!(
            by_port.target("mx.test:25").unwrap().starttls,
            Some(Protocol::Smtp)
        );
        assert_eq!(
            by_port.target("db.test:5432").unwrap().starttls,
            Some(Protocol::Postgres)
        );
        assert_eq!(by_port.target("web.test").unwrap().starttls, None);
        assert_eq!(
            by_port.target("mail.test:993").unwrap().starttls,
            None,
            "implicit TLS"
        );
        let off = cfg(StarttlsChoice::Off);
        assert_eq!(off.target("mx.test:25").unwrap().starttls, None);
        let given = cfg(StarttlsChoice::Protocol(Protocol::Imap));
        assert_eq!(
            given.target("x.test:8143").unwrap().starttls,
            Some(Protocol::Imap)
        );
    }
}
