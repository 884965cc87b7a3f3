//! What `pcap` and `watch` hand to the sink: one [`PcapConnection`] per reported connection
//! and a [`PcapSummaryLine`] at the end.
//!
//! A connection's result borrows from the analysis ([`super::ConnectionReport`]) and the
//! fingerprints the command took: a large capture reports one per connection, so the JSON is
//! written straight from the borrowed facts (registry ids named as they are written, hex ids
//! formatted into stack buffers, times into one reused buffer) instead of through a `String` per field. The fields are in
//! alphabetical order after `schema_version`, as the JSON contract has always had them.

use crate::commands::SchemaVersion;
use crate::commands::facts;
use crate::core::assess::Diagnosis;
use crate::core::cert::CertInfo;
use crate::core::datetime::push_rfc3339;
use crate::core::decimal::push_decimal;
use crate::core::flow::Micros;
use crate::core::session::{Event, EventText};
use crate::core::wire::Extension;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::registry::{
    self, EXTENSIONS, Entry, GROUPS, SIGNATURE_SCHEMES, alert_level_name, alert_name, suite,
};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::borrow::{Borrow, Cow};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;

/// One TLS connection of a capture (or of a live interface): the contract's pcap object,
/// plus what else the analysis knows (offered hello, timeline, certificates, the
/// fingerprints' strings).
#[derive(Serialize, JsonSchema)]
pub struct PcapConnection<'a> {
    pub schema_version: SchemaVersion,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertResult>,
    /// The capture's name as given (`stdin` for `-`, the interface for `watch`).
    pub capture: &'a str,
    pub certificates: Prerendered<'a, Vec<facts::CertificateFacts>>,
    /// The negotiated suite's name.
    pub cipher: Option<Named>,
    pub cipher_id: Option<HexId>,
    #[serde(serialize_with = "address")]
    pub client: SocketAddr,
    /// `CAPTURE#INDEX`.
    pub connection: ConnectionName<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<DecryptionResult<'a>>,
    pub diagnosis: Diagnoses<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged: Option<DivergedResult<'a>>,
    pub events: Events<'a>,
    /// A handshake failure was observed (alert, reset, closed, not_tls).
    pub failed: bool,
    /// The connection was seen from its SYN (else picked up mid-stream); QUIC: always (a
    /// connection starts with the client's Initial).
    pub from_syn: bool,
    pub history: &'a str,
    /// Why an `incomplete` handshake was not followed to its end (`gap`, `capture_end`,
    /// `idle_timeout`, `evicted`, `port_reused`); absent for other outcomes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<super::IncompleteReason>,
    /// 1-based index among the capture's flows (TCP and QUIC), in order of first packet.
    pub index: u64,
    pub ja3: Option<Text<'a>>,
    pub ja3_string: Option<Text<'a>>,
    pub ja3s: Option<Text<'a>>,
    pub ja3s_string: Option<Text<'a>>,
    pub ja4: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_tls: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_tls_hex: Option<String>,
    pub offered: Option<Prerendered<'a, OfferedHello<'static>>>,
    /// `established`, `alert`, `reset`, `closed`, `incomplete` or `not_tls`.
    pub outcome: &'static str,
    #[serde(serialize_with = "address")]
    pub server: SocketAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_hello: Option<Prerendered<'a, ServerHelloResult<'static>>>,
    pub sni: Option<&'a str>,
    /// The flow's first packet.
    pub start: CaptureTime,
    /// The plaintext preamble TLS followed (`smtp`, `imap`, `postgres`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls: Option<&'static str>,
    /// From the flow's first packet to the verdict (decided or established).
    pub time_to_verdict_ms: Option<f64>,
    /// What carried the handshake: `tcp`, or `quic` (the Initial packets' CRYPTO frames).
    pub transport: crate::core::flow::Transport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<&'a str>,
    pub version: Option<Version>,
}

/// The ClientHello as offered.
#[derive(Serialize)]
pub struct OfferedHello<'a> {
    pub alpn: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_hex: Option<Vec<String>>,
    pub ciphers: NamedList<'a>,
    pub extensions: NamedList<'a>,
    pub groups: NamedList<'a>,
    pub ja3: &'a str,
    pub ja3_string: &'a str,
    pub ja4: &'a str,
    pub key_shares: NamedList<'a>,
    pub legacy_version: Version,
    pub record_version: Version,
    pub sigalgs: NamedList<'a>,
    pub sni: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni_hex: Option<String>,
    pub supported_versions: Option<Vec<Version>>,
}

/// The ServerHello (or HelloRetryRequest) as answered; the group and ALPN as the rest of
/// the handshake named them when the hello did not.
#[derive(Serialize)]
pub struct ServerHelloResult<'a> {
    pub alpn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_hex: Option<String>,
    pub cipher: Named,
    pub cipher_id: HexId,
    pub extensions: ExtensionTypes<'a>,
    pub group: Option<Named>,
    pub hello_retry_request: bool,
    pub version: Version,
}

#[derive(Serialize)]
pub struct AlertResult {
    pub code: u8,
    /// The alert's registry name (or `0xHH`).
    pub description: Cow<'static, str>,
    /// `client` or `server`.
    pub from: &'static str,
    /// `warning`, `fatal` or `unknown`.
    pub level: &'static str,
}

impl AlertResult {
    pub fn new(a: &crate::core::session::AlertSeen) -> Self {
        AlertResult {
            code: a.alert.description,
            description: alert_name(a.alert.description),
            from: a.from.peer(),
            level: alert_level_name(a.alert.level),
        }
    }
}

/// The views above write, field for field, the objects `probe` writes from its owned
/// [`facts`] (they exist to write a large capture's JSON without a `String` per field): the
/// schema names one definition for both, and `tests/pcap_facts.rs` checks the bytes agree.
macro_rules! schema_of_facts {
    ($($view:ident $(<$lt:lifetime>)? => $facts:ty;)*) => {$(
        impl$(<$lt>)? JsonSchema for $view$(<$lt>)? {
            fn schema_name() -> Cow<'static, str> {
                <$facts as JsonSchema>::schema_name()
            }
            fn schema_id() -> Cow<'static, str> {
                <$facts as JsonSchema>::schema_id()
            }
            fn json_schema(g: &mut SchemaGenerator) -> Schema {
                <$facts as JsonSchema>::json_schema(g)
            }
        }
    )*};
}

schema_of_facts! {
    OfferedHello<'a> => facts::OfferedHello;
    ServerHelloResult<'a> => facts::ServerHelloFacts;
    AlertResult => facts::AlertFacts;
    DivergedResult<'a> => facts::DivergedFacts;
    DecryptionResult<'a> => facts::DecryptionFacts;
}

/// Where the handshake left the expected path.
#[derive(Serialize)]
pub struct DivergedResult<'a> {
    /// The last handshake step seen from either side.
    pub after: &'a str,
    /// `client` or `server`.
    pub by: &'static str,
    pub event: &'a str,
}

/// What keys (a key log, or secrets embedded in the capture) decrypted.
#[derive(Serialize)]
pub struct DecryptionResult<'a> {
    pub client_finished_verified: Option<bool>,
    pub problem: Option<&'a str>,
    pub records: usize,
    pub server_finished_verified: Option<bool>,
}

/// Writes `certs` as `certificates[]`.
pub fn certificates<S: Serializer>(certs: &&[CertInfo], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(certs.len()))?;
    for c in certs.iter() {
        seq.serialize_element(&Certificate(c))?;
    }
    seq.end()
}

struct Certificate<'a>(&'a CertInfo);

impl Serialize for Certificate<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut o = s.serialize_struct("CertificateFacts", 8)?;
        o.serialize_field("issuer", &c.issuer)?;
        o.serialize_field("key", &c.key)?;
        o.serialize_field("not_after", &UnixTime(c.not_after))?;
        o.serialize_field("not_before", &UnixTime(c.not_before))?;
        o.serialize_field("san", &c.san)?;
        o.serialize_field("sha256", &c.sha256)?;
        o.serialize_field("signature_algorithm", &c.signature_algorithm)?;
        o.serialize_field("subject", &c.subject)?;
        o.end()
    }
}

/// A connection's timeline, with the texts of the events already written as JSON where the
/// command had them (a capture's events repeat: the same messages, the same record sizes).
#[derive(Clone, Copy)]
pub struct Events<'a> {
    pub events: &'a [Event],
    pub texts: Option<&'a EventTexts>,
}

impl<'a> Events<'a> {
    /// Each event with its text as JSON, when the command had it written.
    pub fn with_texts(&self) -> impl Iterator<Item = (&'a Event, Option<&'a RawValue>)> + 'a {
        // Texts resolved for another timeline are not used.
        let texts = self.texts.filter(|t| t.current.len() == self.events.len());
        self.events
            .iter()
            .enumerate()
            .map(move |(i, e)| (e, texts.and_then(|t| t.get(i))))
    }
}

impl Serialize for Events<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct One<'a>(&'a Event, Option<&'a RawValue>);
        impl Serialize for One<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut o = s.serialize_struct("EventFacts", 3)?;
                o.serialize_field("at_ms", &(self.0.at as f64 / 1000.0))?;
                o.serialize_field("from", self.0.dir.peer())?;
                match self.1 {
                    Some(json) => o.serialize_field("what", json)?,
                    None => o.serialize_field("what", &EventWhat(&self.0.what))?,
                }
                o.end()
            }
        }
        let mut seq = s.serialize_seq(Some(self.events.len()))?;
        for (e, text) in self.with_texts() {
            seq.serialize_element(&One(e, text))?;
        }
        seq.end()
    }
}

impl JsonSchema for Events<'_> {
    fn schema_name() -> Cow<'static, str> {
        "Events".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        <Vec<facts::EventFacts>>::json_schema(g)
    }
}

/// Event texts written as JSON strings, by the event's facts: each distinct text is put into
/// words once. Holds the texts of one connection's timeline at a time ([`Self::resolve`]),
/// so writing it looks nothing up. Bounded: emptied when it would pass
/// [`EventTexts::MAX_ENTRIES`].
#[derive(Default)]
pub struct EventTexts {
    by_key: HashMap<EventKey, u32, foldhash::fast::RandomState>,
    texts: Vec<Box<RawValue>>,
    /// For each event of the timeline last resolved: its text's index, or `NONE`.
    current: Vec<u32>,
}

impl EventTexts {
    pub const MAX_ENTRIES: usize = 4096;
    const NONE: u32 = u32::MAX;

    /// Finds (or writes) the texts of `events`, for the [`Events`] of the same timeline.
    pub fn resolve(&mut self, events: &[Event]) {
        if self.texts.len() + events.len() > Self::MAX_ENTRIES {
            self.by_key.clear();
            self.texts.clear();
        }
        self.current.clear();
        for e in events {
            let index = match event_key(&e.what) {
                None => Self::NONE,
                Some(key) => match self.by_key.get(&key) {
                    Some(&i) => i,
                    None => match serde_json::value::to_raw_value(&EventWhat(&e.what)) {
                        Ok(json) => {
                            let i = self.texts.len() as u32;
                            self.texts.push(json);
                            self.by_key.insert(key, i);
                            i
                        }
                        Err(_) => Self::NONE,
                    },
                },
            };
            self.current.push(index);
        }
    }

    /// The text of the `i`th event of the timeline last resolved, as a JSON string.
    fn get(&self, i: usize) -> Option<&RawValue> {
        let index = *self.current.get(i)?;
        self.texts.get(index as usize).map(|j| &**j)
    }
}

/// The facts an event's text is made of: its variant and fields as numbers (a capture's
/// timelines have a dozen events a connection, so the key is built and hashed without an
/// allocation). A record's kind is a `&'static str`, named by its address and length: the
/// same text at two addresses only makes two entries of the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct EventKey(u8, u64, u64, u64);

/// The key of the common events; `None` for texts that are strings already and for the
/// rare kinds.
fn event_key(what: &EventText) -> Option<EventKey> {
    let n = |v: usize| v as u64;
    Some(match what {
        EventText::End(kind) => EventKey(1, *kind as u64, 0, 0),
        EventText::Record { kind, len } => {
            EventKey(2, kind.as_ptr() as u64, n(kind.len()), n(*len))
        }
        EventText::Alert { alert, encrypted } => EventKey(
            3,
            u64::from(alert.level),
            u64::from(alert.description),
            u64::from(*encrypted),
        ),
        EventText::ClientHello {
            again,
            suites,
            extensions,
        } => EventKey(4, u64::from(*again), n(*suites), n(*extensions)),
        EventText::ServerHello { version, suite } => {
            EventKey(5, u64::from(*version), u64::from(*suite), 0)
        }
        EventText::Certificate { certs, ocsp, scts } => {
            EventKey(6, n(*certs), u64::from(*ocsp), u64::from(*scts))
        }
        EventText::EcdheKeyExchange { group } => EventKey(7, u64::from(*group), 0, 0),
        EventText::CertificateVerify { scheme } => EventKey(8, u64::from(*scheme), 0, 0),
        _ => return None,
    })
}

/// An event's text as its `Display` writes it: put into words in one reused buffer, then
/// written (and escaped) in one piece, not fragment by fragment.
struct EventWhat<'a>(&'a EventText);

impl Serialize for EventWhat<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        with_event_text(self.0, |text| s.serialize_str(text))
    }
}

/// Calls `f` with an event's text as its `Display` writes it.
pub fn with_event_text<R>(what: &EventText, f: impl FnOnce(&str) -> R) -> R {
    match what {
        EventText::Static(text) => f(text),
        EventText::Text(text) => f(text),
        what => with_scratch(|buf| {
            use fmt::Write as _;
            let _ = write!(buf, "{what}");
            f(buf)
        }),
    }
}

thread_local! {
    /// The text being written for one JSON string; reused.
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Calls `f` with the emptied scratch buffer (a fresh one if it is in use).
fn with_scratch<R>(f: impl FnOnce(&mut String) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf)
        }
        Err(_) => f(&mut String::new()),
    })
}

/// Appends `addr` as `Display` writes it; IPv4 digit by digit (every connection has two).
pub fn push_addr(out: &mut String, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(a) => {
            for (i, octet) in a.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_decimal(out, octet.into(), 1);
            }
            out.push(':');
            push_decimal(out, a.port().into(), 1);
        }
        SocketAddr::V6(a) => {
            use fmt::Write as _;
            let _ = write!(out, "{a}");
        }
    }
}

fn address<S: Serializer>(addr: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    with_scratch(|buf| {
        push_addr(buf, addr);
        s.serialize_str(buf)
    })
}

/// A part of a result already written as JSON: exactly the text its typed form `T` writes
/// (the command serializes a `T` into it). Large captures repeat these parts connection after
/// connection (every connection of one client offers the same hello; one server sends the
/// same chain), so the command writes each distinct one once and the sink copies it.
pub struct Prerendered<'a, T> {
    json: &'a RawValue,
    shape: PhantomData<fn() -> T>,
}

impl<'a, T> Prerendered<'a, T> {
    /// `json` must be what serializing a `T` wrote.
    pub fn new(json: &'a RawValue) -> Self {
        Prerendered {
            json,
            shape: PhantomData,
        }
    }
}

impl<'a, T> Prerendered<'a, T> {
    /// The JSON text.
    pub fn json(&self) -> &'a RawValue {
        self.json
    }
}

impl<T> Serialize for Prerendered<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Prerendered<'_, T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        T::json_schema(g)
    }
}

/// The causes found, with their JSON form when the command had it written already (a
/// capture repeats its failures).
#[derive(Clone, Copy)]
pub struct Diagnoses<'a> {
    pub items: &'a [Diagnosis],
    /// `items` as a JSON array.
    pub json: Option<&'a RawValue>,
}

impl Serialize for Diagnoses<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.json {
            Some(json) => json.serialize(s),
            None => self.items.serialize(s),
        }
    }
}

impl JsonSchema for Diagnoses<'_> {
    fn schema_name() -> Cow<'static, str> {
        <Vec<Diagnosis>>::schema_name()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        <Vec<Diagnosis>>::json_schema(g)
    }
}

/// A string, with its JSON form when the command had it written already (fingerprints
/// repeat from connection to connection).
#[derive(Clone, Copy)]
pub struct Text<'a> {
    pub text: &'a str,
    /// `text` as a JSON string.
    pub json: Option<&'a RawValue>,
}

impl<'a> Text<'a> {
    /// `text` written as a JSON string.
    pub fn new(text: &'a str, json: &'a RawValue) -> Self {
        Text {
            text,
            json: Some(json),
        }
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.json {
            Some(json) => json.serialize(s),
            None => s.serialize_str(self.text),
        }
    }
}

impl JsonSchema for Text<'_> {
    fn schema_name() -> Cow<'static, str> {
        "string".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        String::json_schema(g)
    }
    fn inline_schema() -> bool {
        true
    }
}

/// Up to 24 bytes of ASCII built on the stack: ids in hex, times.
struct StackText {
    buf: [u8; 24],
    len: usize,
}

impl StackText {
    fn new() -> Self {
        StackText {
            buf: [0; 24],
            len: 0,
        }
    }
    fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn hex_id(id: u16, grease_prefix: bool) -> StackText {
    use fmt::Write as _;
    let mut t = StackText::new();
    let _ = if grease_prefix && registry::is_grease(id) {
        write!(t, "GREASE_0x{id:04x}")
    } else {
        write!(t, "0x{id:04x}")
    };
    t
}

/// A string-valued schema with a description.
fn string_schema(description: &str) -> Schema {
    json_schema!({"type": "string", "description": description})
}

/// A 16-bit id written as `0xHHHH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexId(pub u16);

impl HexId {
    /// Calls `f` with the id as it is written.
    pub fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(hex_id(self.0, false).as_str())
    }
}

impl Serialize for HexId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(hex_id(self.0, false).as_str())
    }
}

impl JsonSchema for HexId {
    fn schema_name() -> Cow<'static, str> {
        "HexId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema("A 16-bit id as 0xHHHH.")
    }
}

/// Which registry an id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    Suite,
    Extension,
    Group,
    Sigalg,
}

/// An id of one of the registries, written as its registry name (`GREASE_0xHHHH` for
/// GREASE, `0xHHHH` for an id the table lacks), as `registry::name_of` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named {
    pub id: u16,
    pub registry: Registry,
}

impl Named {
    pub fn suite(id: u16) -> Self {
        Named {
            id,
            registry: Registry::Suite,
        }
    }

    /// The registry's name for the id, if it has one.
    pub fn name(&self) -> Option<&'static str> {
        match self.registry {
            Registry::Suite => suite(self.id).map(|r| r.name()),
            Registry::Extension => registry::find(EXTENSIONS, self.id).map(|r| r.name()),
            Registry::Group => registry::find(GROUPS, self.id).map(|r| r.name()),
            Registry::Sigalg => registry::find(SIGNATURE_SCHEMES, self.id).map(|r| r.name()),
        }
    }

    /// Calls `f` with the name as it is written.
    pub fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self.name() {
            Some(n) => f(n),
            None => f(hex_id(self.id, true).as_str()),
        }
    }
}

impl Serialize for Named {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_str(|n| s.serialize_str(n))
    }
}

impl JsonSchema for Named {
    fn schema_name() -> Cow<'static, str> {
        "RegistryName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema("An IANA registry name, or GREASE_0xHHHH / 0xHHHH for an unnamed id.")
    }
}

/// Ids of one registry, written as a list of their names.
#[derive(Debug, Clone)]
pub struct NamedList<'a> {
    pub ids: Cow<'a, [u16]>,
    pub registry: Registry,
}

impl<'a> NamedList<'a> {
    pub fn new(ids: impl Into<Cow<'a, [u16]>>, registry: Registry) -> Self {
        NamedList {
            ids: ids.into(),
            registry,
        }
    }
}

impl Serialize for NamedList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ids: &[u16] = self.ids.borrow();
        let mut seq = s.serialize_seq(Some(ids.len()))?;
        for &id in ids {
            seq.serialize_element(&Named {
                id,
                registry: self.registry,
            })?;
        }
        seq.end()
    }
}

impl JsonSchema for NamedList<'_> {
    fn schema_name() -> Cow<'static, str> {
        "RegistryNames".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        <Vec<Named>>::json_schema(g)
    }
}

/// The types of a hello's extensions, written as a list of their names.
#[derive(Debug, Clone, Copy)]
pub struct ExtensionTypes<'a>(pub &'a [Extension]);

impl Serialize for ExtensionTypes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for e in self.0 {
            seq.serialize_element(&Named {
                id: e.typ,
                registry: Registry::Extension,
            })?;
        }
        seq.end()
    }
}

impl JsonSchema for ExtensionTypes<'_> {
    fn schema_name() -> Cow<'static, str> {
        "RegistryNames".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        <Vec<Named>>::json_schema(g)
    }
}

/// A protocol version, written as its name (`TLSv1.3`) or `0xHHHH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version(pub u16);

impl Version {
    /// Calls `f` with the version as it is written.
    pub fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match ProtocolVersion(self.0).name() {
            Some(n) => f(n),
            None => f(hex_id(self.0, false).as_str()),
        }
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_str(|n| s.serialize_str(n))
    }
}

impl JsonSchema for Version {
    fn schema_name() -> Cow<'static, str> {
        "ProtocolVersion".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema("A protocol version: SSLv2, SSLv3, TLSv1.0 … TLSv1.3, or 0xHHHH.")
    }
}

/// A capture timestamp, written as RFC 3339 with milliseconds (`2023-11-14T22:13:20.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureTime(pub Micros);

impl CaptureTime {
    /// Appends the RFC 3339 text.
    pub fn push_to(&self, out: &mut String) {
        let at = self.0;
        push_rfc3339(out, (at / 1_000_000) as i64);
        // The milliseconds go before rfc3339's final `Z`.
        out.pop();
        out.push('.');
        push_decimal(out, at % 1_000_000 / 1000, 3);
        out.push('Z');
    }
}

impl Serialize for CaptureTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        with_scratch(|buf| {
            self.push_to(buf);
            s.serialize_str(buf)
        })
    }
}

impl JsonSchema for CaptureTime {
    fn schema_name() -> Cow<'static, str> {
        "CaptureTime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema("RFC 3339 with milliseconds, UTC.")
    }
}

/// Unix seconds written as RFC 3339.
struct UnixTime(i64);

impl Serialize for UnixTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut text = String::with_capacity(24);
        push_rfc3339(&mut text, self.0);
        s.serialize_str(&text)
    }
}

/// A connection's name: `CAPTURE#INDEX`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionName<'a> {
    pub capture: &'a str,
    pub index: u64,
}

impl Serialize for ConnectionName<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        with_scratch(|buf| {
            buf.push_str(self.capture);
            buf.push('#');
            push_decimal(buf, self.index, 1);
            s.serialize_str(buf)
        })
    }
}

impl JsonSchema for ConnectionName<'_> {
    fn schema_name() -> Cow<'static, str> {
        "ConnectionName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        string_schema("CAPTURE#INDEX: the capture's name and the connection's 1-based index.")
    }
}

/// The last line of a run: `{"summary": {...}}`, so per-connection lines stay as the
/// contract has them.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PcapSummaryLine {
    pub schema_version: SchemaVersion,
    pub summary: PcapSummary,
}

/// Counters over every TLS connection that passed the endpoint filters.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct PcapSummary {
    /// Connections per outcome.
    pub by_outcome: BTreeMap<&'static str, u64>,
    pub connections: u64,
    pub failed: u64,
    /// Failed connections per cause id.
    pub failures_by_cause: BTreeMap<&'static str, u64>,
    /// Incomplete connections per reason (see `incomplete_reason`).
    pub incomplete_by_reason: BTreeMap<&'static str, u64>,
    pub inputs: Vec<InputResult>,
    /// Server names by failures, most first (ties by name).
    pub most_failing_names: Vec<NameFailures>,
    /// Failures of names beyond the ones counted one by one (text report only).
    #[serde(skip)]
    pub failures_other_names: u64,
}

impl PcapSummary {
    /// Causes by failures, most first (ties by id).
    pub fn causes_by_count(&self) -> Vec<(&'static str, u64)> {
        let mut causes: Vec<(&str, u64)> = self
            .failures_by_cause
            .iter()
            .map(|(k, n)| (*k, *n))
            .collect();
        causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        causes
    }

    /// Packets over all inputs.
    pub fn packets(&self) -> u64 {
        self.inputs.iter().map(|i| i.packets).sum()
    }

    /// TCP flows without TLS over all inputs.
    pub fn non_tls_flows(&self) -> u64 {
        self.inputs.iter().map(|i| i.non_tls_flows).sum()
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NameFailures {
    pub failures: u64,
    /// The SNI, or `(no SNI)`.
    pub sni: String,
}

/// One input's reading statistics.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InputResult {
    /// Captured bytes of the packets read.
    pub bytes: u64,
    /// The input's name (the file as given, `stdin`, the interface).
    pub capture: String,
    /// Why reading stopped early (the results before it were kept).
    pub error: Option<String>,
    /// Flows ended early because the flow table was full (`--max-flows`, `--memcap`),
    /// TLS or not; each TLS one is reported (`incomplete_reason: evicted` if undecided).
    pub evicted_flows: u64,
    /// Flows ended after the idle timeout (`--flow-timeout`), TLS or not.
    pub expired_flows: u64,
    /// The capture library's own text behind `error`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
    pub flows: u64,
    pub gaps: u64,
    /// TCP flows on which no TLS was seen (not reported one by one).
    pub non_tls_flows: u64,
    pub packets: u64,
    pub truncated_packets: u64,
}
