//! The JSON report's fast path: [`JsonParts`], the parts of connection results that many
//! connections share (the offered hello with its fingerprints, JA3S, certificates, server
//! hello, diagnosis, event texts), each written as JSON once and kept in bounded caches;
//! [`Extras`], one connection's share of them; and [`connection_result`], a connection's
//! result borrowed from its report and extras.

use super::{
    AlertResult, CaptureTime, ConnectionName, ConnectionReport, DecryptionResult, Diagnoses,
    DivergedResult, Events, ExtensionTypes, HexId, Named, NamedList, OfferedHello, PcapConnection,
    Prerendered, Registry, ServerHelloResult, Text, Version, result,
};
use crate::commands::{SchemaVersion, facts};
use crate::core::cert::CertInfo;
use crate::core::fingerprint::{self, Ja3};
use crate::core::wire::ClientHello;
use crate::core::wire::starttls::Protocol;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::Arc;

/// Entries a [`JsonParts`] cache holds before it is emptied: memory stays bounded.
const MAX_PARTS: usize = 4096;

/// The parts of connection results that many connections share, each written as JSON once
/// (see [`Prerendered`]): the offered hello with its fingerprints, by everything it shows;
/// the certificates, by the chain the chain checker shares between connections.
#[derive(Default)]
pub(super) struct JsonParts {
    fingerprints: fingerprint::Cache,
    offered: HashMap<Vec<u8>, Offered, foldhash::fast::RandomState>,
    certificates: HashMap<usize, Chain, foldhash::fast::RandomState>,
    events: result::EventTexts,
    /// Server hellos and diagnoses as JSON, by what they show.
    server_hellos: HashMap<Vec<u8>, Box<RawValue>, foldhash::fast::RandomState>,
    diagnoses: HashMap<Vec<u8>, Box<RawValue>, foldhash::fast::RandomState>,
    hello_key: Vec<u8>,
    diagnosis_key: Vec<u8>,
    /// JA3S by what it reads: the server's version, suite and extension types.
    ja3s: HashMap<Vec<u8>, ServerPrint, foldhash::fast::RandomState>,
    key: Vec<u8>,
    server_key: Vec<u8>,
}

/// A certificate chain (held, so its address keeps naming it) and its JSON.
type Chain = (Arc<[CertInfo]>, Box<RawValue>);

/// An offered hello's fingerprints and its JSON.
struct Offered {
    fingerprints: fingerprint::HelloFingerprints,
    json: Box<RawValue>,
    /// JA3, its string and JA4 as JSON strings.
    ja3: Box<RawValue>,
    ja3_string: Box<RawValue>,
    ja4: Box<RawValue>,
}

/// A JA3S with its parts as JSON strings.
struct ServerPrint {
    ja3s: Ja3,
    md5: Box<RawValue>,
    string: Box<RawValue>,
}

/// `text` as a JSON string.
fn json_string(text: &str) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(text).ok()
}

impl JsonParts {
    /// The offered hello of `r` (JA3 and JA4 with it).
    fn offered(&mut self, r: &ConnectionReport) -> Option<&Offered> {
        let h = r.verdict.client_hello.as_ref()?;
        // What `OfferedHello` shows beyond the fingerprints' inputs.
        fingerprint::hello_key(h, &mut self.key);
        self.key.extend_from_slice(&h.record_version.to_be_bytes());
        for group in h.key_share_groups() {
            self.key.extend_from_slice(&group.to_be_bytes());
        }
        self.key.push(0xff);
        self.key.push(r.transport as u8);
        if let Some(sni) = h.sni_bytes() {
            self.key.extend_from_slice(sni);
        }
        if !self.offered.contains_key(&self.key) {
            if self.offered.len() >= MAX_PARTS {
                self.offered.clear();
            }
            let fingerprints = self.fingerprints.client_hello_over(h, r.transport).clone();
            let json = serde_json::value::to_raw_value(&offered_hello(h, r, &fingerprints)).ok()?;
            let offered = Offered {
                ja3: json_string(&fingerprints.ja3.md5)?,
                ja3_string: json_string(&fingerprints.ja3.string)?,
                ja4: json_string(&fingerprints.ja4)?,
                fingerprints,
                json,
            };
            self.offered.insert(self.key.clone(), offered);
        }
        self.offered.get(&self.key)
    }

    /// JA3S of `r`'s ServerHello, as [`ConnectionReport::ja3s`] takes it.
    fn ja3s(&mut self, r: &ConnectionReport) -> bool {
        let Some(sh) = &r.verdict.server_hello else {
            return false;
        };
        let key = &mut self.server_key;
        key.clear();
        key.extend_from_slice(&sh.legacy_version.to_be_bytes());
        key.extend_from_slice(&sh.cipher_suite.to_be_bytes());
        for e in &sh.extensions {
            key.extend_from_slice(&e.typ.to_be_bytes());
        }
        if !self.ja3s.contains_key(key) {
            if self.ja3s.len() >= MAX_PARTS {
                self.ja3s.clear();
            }
            let ja3s = fingerprint::ja3s(sh.legacy_version, sh.cipher_suite, &sh.extension_types());
            let (Some(md5), Some(string)) = (json_string(&ja3s.md5), json_string(&ja3s.string))
            else {
                return false;
            };
            self.ja3s
                .insert(key.clone(), ServerPrint { ja3s, md5, string });
        }
        true
    }

    /// Makes sure `server_hellos` holds `r`'s server hello under `hello_key`.
    fn server_hello(&mut self, r: &ConnectionReport) -> bool {
        let v = &r.verdict;
        let Some(sh) = v.server_hello.as_ref().or(v.hello_retry_request.as_ref()) else {
            return false;
        };
        // TLS 1.3 names the selected protocol in EncryptedExtensions.
        let alpn = sh.alpn().or_else(|| v.alpn());
        // TLS 1.2 names its group in ServerKeyExchange, not in the ServerHello.
        let group = sh.key_share_group().or(v.group);
        let key = &mut self.hello_key;
        key.clear();
        key.extend_from_slice(&sh.selected_version().to_be_bytes());
        key.extend_from_slice(&sh.cipher_suite.to_be_bytes());
        key.push(u8::from(sh.is_hello_retry_request()));
        key.extend_from_slice(&group.map_or(u32::MAX, u32::from).to_be_bytes());
        match &alpn {
            Some(p) => {
                key.extend_from_slice(&(p.len() as u32).to_be_bytes());
                key.extend_from_slice(p);
            }
            None => key.extend_from_slice(&u32::MAX.to_be_bytes()),
        }
        for e in &sh.extensions {
            key.extend_from_slice(&e.typ.to_be_bytes());
        }
        if !self.server_hellos.contains_key(key) {
            if self.server_hellos.len() >= MAX_PARTS {
                self.server_hellos.clear();
            }
            let typed = ServerHelloResult {
                alpn: alpn
                    .as_deref()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
                alpn_hex: alpn.as_deref().and_then(facts::hex_unless_printable),
                cipher: Named::suite(sh.cipher_suite),
                cipher_id: HexId(sh.cipher_suite),
                extensions: ExtensionTypes(&sh.extensions),
                group: group.map(|id| Named {
                    id,
                    registry: Registry::Group,
                }),
                hello_retry_request: sh.is_hello_retry_request(),
                version: Version(sh.selected_version()),
            };
            let Ok(json) = serde_json::value::to_raw_value(&typed) else {
                return false;
            };
            self.server_hellos.insert(key.clone(), json);
        }
        true
    }

    /// Makes sure `diagnoses` holds `r`'s diagnosis under `diagnosis_key`.
    fn diagnosis(&mut self, r: &ConnectionReport) -> bool {
        let key = &mut self.diagnosis_key;
        key.clear();
        for d in &r.diagnosis {
            // The cause names its fix too.
            key.extend_from_slice(d.cause.id().as_bytes());
            key.push(0);
            key.extend_from_slice(&(d.detail.len() as u32).to_be_bytes());
            key.extend_from_slice(d.detail.as_bytes());
        }
        if !self.diagnoses.contains_key(key) {
            if self.diagnoses.len() >= MAX_PARTS {
                self.diagnoses.clear();
            }
            let Ok(json) = serde_json::value::to_raw_value(&r.diagnosis) else {
                return false;
            };
            self.diagnoses.insert(key.clone(), json);
        }
        true
    }

    /// The certificates of `r` as JSON.
    fn certificates(&mut self, r: &ConnectionReport) -> Option<&RawValue> {
        let chain = &r.certificates;
        // The pointer names the chain while the entry holds it alive.
        let id = Arc::as_ptr(chain) as *const CertInfo as usize;
        let stale = self
            .certificates
            .get(&id)
            .is_some_and(|(held, _)| !Arc::ptr_eq(held, chain));
        if stale || !self.certificates.contains_key(&id) {
            if self.certificates.len() >= MAX_PARTS {
                self.certificates.clear();
            }
            struct Certs<'c>(&'c [CertInfo]);
            impl serde::Serialize for Certs<'_> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    result::certificates(&self.0, s)
                }
            }
            let json = serde_json::value::to_raw_value(&Certs(chain)).ok()?;
            self.certificates.insert(id, (chain.clone(), json));
        }
        self.certificates.get(&id).map(|(_, json)| &**json)
    }
}

impl JsonParts {
    /// What the JSON report shows of `r` beyond its report.
    pub(super) fn extras(&mut self, r: &ConnectionReport) -> Extras<'_> {
        // Each looked up before any is borrowed: each may insert into its cache.
        let offered = self.offered(r).is_some();
        self.certificates(r);
        let ja3s = self.ja3s(r);
        self.events.resolve(&r.verdict.events);
        let server_hello = self.server_hello(r);
        let diagnosis = self.diagnosis(r);
        Extras {
            server_hello: server_hello
                .then(|| self.server_hellos.get(&self.hello_key).map(|j| &**j))
                .flatten(),
            diagnosis: diagnosis
                .then(|| self.diagnoses.get(&self.diagnosis_key).map(|j| &**j))
                .flatten(),
            events: Some(&self.events),
            offered: offered.then(|| self.offered.get(&self.key)).flatten(),
            certificates: self
                .certificates
                .get(&(Arc::as_ptr(&r.certificates) as *const CertInfo as usize))
                .map(|(_, json)| &**json),
            ja3s: ja3s.then(|| self.ja3s.get(&self.server_key)).flatten(),
        }
    }
}

/// The hello `r`'s client offered, as shown.
fn offered_hello<'a>(
    h: &'a ClientHello,
    r: &'a ConnectionReport,
    fp: &'a fingerprint::HelloFingerprints,
) -> OfferedHello<'a> {
    let alpn = h.alpn();
    OfferedHello {
        alpn: alpn
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
        alpn_hex: facts::alpn_hex(&alpn),
        ciphers: NamedList::new(&h.cipher_suites[..], Registry::Suite),
        extensions: NamedList::new(h.extension_types(), Registry::Extension),
        groups: NamedList::new(h.supported_groups(), Registry::Group),
        ja3: &fp.ja3.md5,
        ja3_string: &fp.ja3.string,
        ja4: &fp.ja4,
        key_shares: NamedList::new(h.key_share_groups().collect::<Vec<_>>(), Registry::Group),
        legacy_version: Version(h.legacy_version),
        record_version: Version(h.record_version),
        sigalgs: NamedList::new(h.signature_algorithms(), Registry::Sigalg),
        sni: r.sni(),
        sni_hex: h.sni_bytes().and_then(facts::hex_unless_printable),
        supported_versions: h
            .supported_versions()
            .map(|v| v.into_iter().map(Version).collect()),
    }
}

/// The JSON-only facts of one connection, taken when
/// [`Selection::fingerprints`](super::Selection::fingerprints) asks.
#[derive(Default)]
pub(super) struct Extras<'c> {
    offered: Option<&'c Offered>,
    certificates: Option<&'c RawValue>,
    events: Option<&'c result::EventTexts>,
    server_hello: Option<&'c RawValue>,
    diagnosis: Option<&'c RawValue>,
    ja3s: Option<&'c ServerPrint>,
}

/// `[]`, for connections whose extras were not taken.
fn empty_list() -> &'static RawValue {
    static EMPTY: std::sync::OnceLock<Box<RawValue>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| RawValue::from_string("[]".into()).expect("valid JSON"))
}

/// The result of one connection, borrowed from its report and extras.
pub(super) fn connection_result<'a>(
    capture: &'a str,
    r: &'a ConnectionReport,
    x: &'a Extras<'a>,
) -> PcapConnection<'a> {
    let v = &r.verdict;
    let offered = x.offered.map(|o| Prerendered::new(&o.json));
    PcapConnection {
        schema_version: SchemaVersion,
        alert: v.alert.as_ref().map(AlertResult::new),
        capture,
        certificates: Prerendered::new(x.certificates.unwrap_or_else(|| empty_list())),
        cipher: v.cipher.map(Named::suite),
        cipher_id: v.cipher.map(HexId),
        client: r.client,
        connection: ConnectionName {
            capture,
            index: r.index,
        },
        decode_error: v.error.as_deref(),
        decryption: v.decryption.as_ref().map(|d| DecryptionResult {
            client_finished_verified: d.client_finished_verified,
            problem: d.problem.as_deref(),
            records: d.records,
            server_finished_verified: d.server_finished_verified,
        }),
        diagnosis: Diagnoses {
            items: &r.diagnosis,
            json: x.diagnosis,
        },
        diverged: v.diverged.as_ref().map(|d| DivergedResult {
            after: &d.after,
            by: d.by.peer(),
            event: &d.event,
        }),
        events: Events {
            events: &v.events,
            texts: x.events,
        },
        failed: r.failed(),
        from_syn: r.from_syn,
        history: &v.history,
        incomplete_reason: r.incomplete_reason(),
        index: r.index,
        ja3: x
            .offered
            .map(|o| Text::new(&o.fingerprints.ja3.md5, &o.ja3)),
        ja3_string: x
            .offered
            .map(|o| Text::new(&o.fingerprints.ja3.string, &o.ja3_string)),
        ja3s: x.ja3s.map(|p| Text::new(&p.ja3s.md5, &p.md5)),
        ja3s_string: x.ja3s.map(|p| Text::new(&p.ja3s.string, &p.string)),
        ja4: x.offered.map(|o| Text::new(&o.fingerprints.ja4, &o.ja4)),
        not_tls: v.not_tls.as_deref(),
        not_tls_hex: v
            .not_tls_bytes
            .as_deref()
            .and_then(facts::hex_unless_printable),
        offered,
        outcome: r.outcome(),
        server: r.server,
        server_hello: x.server_hello.map(Prerendered::new),
        sni: r.sni(),
        start: CaptureTime(r.start),
        starttls: r.starttls.map(Protocol::name),
        time_to_verdict_ms: r.time_to_verdict().map(|us| us as f64 / 1000.0),
        transport: r.transport,
        truncated: v.truncated.as_deref(),
        version: v.version.map(Version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::pcap::reporter::Tally;
    use crate::commands::pcap::{AnalyzeOptions, PcapSummaryLine, analyze};
    use crate::core::crypto::KeyLog;
    use crate::io::capture::ReadOptions;

    /// The objects are written straight from their structs: after `schema_version`, their
    /// fields must come in sorted order, as the JSON contract has always had them.
    #[test]
    fn connection_objects_are_written_with_sorted_keys() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let schema = serde_json::to_value(schemars::schema_for!(PcapConnection<'static>)).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut objects = 0;
        // One cache over every capture: its answers must be the fingerprints themselves,
        // its JSON what the typed parts write.
        let mut parts = JsonParts::default();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if !path
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng")
            {
                continue;
            }
            // With keys where the capture has them, so decryption fields are covered.
            let keylog = std::fs::read_to_string(path.with_extension("keys"))
                .ok()
                .map(|text| Arc::new(KeyLog::parse(&text).0));
            let opts = AnalyzeOptions {
                keylog,
                ..AnalyzeOptions::default()
            };
            let file = std::fs::File::open(&path).unwrap();
            analyze(file, &ReadOptions::default(), opts, &mut |r| {
                let x = parts.extras(&r);
                assert_eq!(x.ja3s.map(|p| &p.ja3s), r.ja3s().as_ref());
                if let Some(h) = &r.verdict.client_hello {
                    let fp = &x.offered.unwrap().fingerprints;
                    assert_eq!(fp.ja3, fingerprint::ja3(h));
                    assert_eq!(fp.ja4, fingerprint::ja4_over(h, r.transport));
                    let typed = serde_json::to_string(&offered_hello(h, &r, fp)).unwrap();
                    assert_eq!(x.offered.unwrap().json.get(), typed);
                }
                let mut typed = Vec::new();
                result::certificates(
                    &&r.certificates[..],
                    &mut serde_json::Serializer::new(&mut typed),
                )
                .unwrap();
                assert_eq!(x.certificates.unwrap().get().as_bytes(), typed);
                let o = connection_result("c", &r, &x);
                assert_eq!(
                    serde_json::to_string(&o.diagnosis).unwrap(),
                    serde_json::to_string(&r.diagnosis).unwrap()
                );
                let plain = Events {
                    events: &r.verdict.events,
                    texts: None,
                };
                assert_eq!(
                    serde_json::to_string(&o.events).unwrap(),
                    serde_json::to_string(&plain).unwrap()
                );
                let direct = serde_json::to_string(&o).unwrap();
                let mut sorted = serde_json::to_value(&o).unwrap();
                if let Err(e) = validator.validate(&sorted) {
                    panic!("{}: {e}: {sorted}", path.display());
                }
                let version = sorted
                    .as_object_mut()
                    .unwrap()
                    .remove("schema_version")
                    .unwrap();
                let sorted = sorted.to_string();
                let expected = format!("{{\"schema_version\":{version},{}", &sorted[1..]);
                assert_eq!(direct, expected, "{}", path.display());
                objects += 1;
            });
        }
        let schema = serde_json::to_value(schemars::schema_for!(PcapSummaryLine)).unwrap();
        let summary = serde_json::to_value(Tally::default().into_summary()).unwrap();
        jsonschema::validator_for(&schema)
            .unwrap()
            .validate(&summary)
            .unwrap();
        assert!(
            objects > 20,
            "only {objects} connections in {}",
            dir.display()
        );
    }
}
