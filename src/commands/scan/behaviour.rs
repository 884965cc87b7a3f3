//! Behaviour: what a server does beyond its lists. What the first accepted handshake of
//! the base version already shows costs nothing ([`derived_items`]); the rest are fixed
//! probes (SNI, fallback SCSV, fragmentation, one each), and the intolerance checks,
//! compression and heartbeat share one hello, split only when a server refuses it.

use super::enumerate::{
    ProbeItem, Reply, Scanner, VersionScan, accepted_where, needs_certificate, order_item, reversed,
};
use super::tasks::{self, Task};
use crate::core::crypto::hello as build;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::build::{HelloSpec, Sni};
use crate::core::wire::hello::Extension;
use crate::core::wire::registry::alerts::codes as alert;
use crate::core::wire::registry::extensions::types as ext;
use std::sync::OnceLock;

/// An extension type no registry assigns, for the unknown-extension intolerance probe.
const UNKNOWN_EXTENSION: u16 = 0x7e57;
const TLS_FALLBACK_SCSV: u16 = 0x5600;
/// A name no server has a certificate for (RFC 2606 reserves .invalid).
const UNKNOWN_NAME: &str = "shakedown-unknown-name.invalid";

// Probe names that `--vulns` reads verdicts from (see `super::vulns`).
pub(super) const COMPRESSION: &str = "compression (DEFLATE offered)";
pub(super) const HEARTBEAT: &str = "heartbeat";
pub(super) const SECURE_RENEGOTIATION: &str = "secure renegotiation";
pub(super) const FALLBACK_PREFIX: &str = "TLS_FALLBACK_SCSV at ";
pub(super) const COMBINED: &str = "all intolerance checks in one hello";
pub(super) const FRAGMENTED: &str = "hello fragmented across two records";

impl<'a> Scanner<'a> {
    /// Starts the fixed behaviour probes, one thread each, on the base version: the best
    /// accepted one from TLS 1.0 to 1.2, else TLS 1.3.
    pub(super) fn behaviour<'s>(
        &'s self,
        s: &'s tasks::Scope<'s, '_>,
        versions: &'s [VersionScan],
        all: Option<&'s OnceLock<Vec<VersionScan>>>,
        fragment_elsewhere: bool,
    ) -> Vec<Task<Vec<ProbeItem>>> {
        let Some(base) = base_version(versions) else {
            return Vec::new();
        };
        let tls13 = base.version == ProtocolVersion::TLS13;
        let base_spec = self.base_spec(base);
        let leaf = base
            .first
            .as_ref()
            .and_then(|v| v.certificates.first().cloned());
        let mut probes: Vec<(String, Check, HelloSpec)> = Vec::new();
        let with_name = matches!(self.opts.sni, Sni::Name(_))
            || self.target.ip_literal().is_none() && self.opts.sni == Sni::Auto;
        if with_name {
            probes.push((
                "certificate without SNI".into(),
                Check::SniNone,
                HelloSpec {
                    sni: Sni::None,
                    ..base_spec.clone()
                },
            ));
        }
        probes.push((
            "certificate for an unknown name".into(),
            Check::SniUnknown,
            HelloSpec {
                sni: Sni::Name(UNKNOWN_NAME.into()),
                ..base_spec.clone()
            },
        ));
        // TLS_FALLBACK_SCSV at the second-best version.
        let supported: Vec<&VersionScan> = versions
            .iter()
            .filter(|v| v.supported && v.version.0 >= ProtocolVersion::SSLV3.0)
            .collect();
        if let [.., lower, _] = supported.as_slice() {
            let mut suites = lower.ciphers.clone();
            suites.push(TLS_FALLBACK_SCSV);
            probes.push((
                format!("{FALLBACK_PREFIX}{}", lower.version),
                Check::Fallback,
                HelloSpec {
                    cipher_suites: Some(suites),
                    ..self.version_spec(lower.version)
                },
            ));
        }
        if !tls13 {
            probes.push((
                COMPRESSION.into(),
                Check::Compression,
                HelloSpec {
                    compression_methods: Some(vec![1, 0]),
                    ..base_spec.clone()
                },
            ));
            let mut heartbeat = base_spec.clone();
            heartbeat.extra_extensions.push(heartbeat_extension());
            probes.push((HEARTBEAT.into(), Check::Heartbeat, heartbeat));
            for legacy in [0x0304u16, 0x03ff] {
                probes.push((
                    format!("version intolerance (legacy_version 0x{legacy:04x})"),
                    Check::Tolerance,
                    HelloSpec {
                        legacy_version: Some(legacy),
                        ..base_spec.clone()
                    },
                ));
            }
        }
        let mut unknown = base_spec.clone();
        unknown.extra_extensions.push(Extension {
            typ: UNKNOWN_EXTENSION,
            data: vec![0, 1, 2, 3],
        });
        probes.push(("unknown extension".into(), Check::Tolerance, unknown));
        probes.push((
            "GREASE".into(),
            Check::Tolerance,
            HelloSpec {
                grease: true,
                ..base_spec.clone()
            },
        ));
        for pad in [600, 1500, 16000] {
            probes.push((
                format!("long hello ({pad} bytes)"),
                Check::Tolerance,
                HelloSpec {
                    pad_to: Some(pad),
                    ..base_spec.clone()
                },
            ));
        }
        // Unless the TLS 1.2 group and scheme order hello is sent fragmented instead.
        if !fragment_elsewhere {
            probes.push((
                FRAGMENTED.into(),
                Check::Tolerance,
                self.fragmented(&base_spec),
            ));
        }
        // Fragmentation stays out of the group: small records would hide the length checks
        // from a middlebox that reads only the first record. Compression and heartbeat
        // join it: offering them is harmless to a tolerant server, and its ServerHello
        // answers both.
        let (tolerance, others): (Vec<_>, Vec<_>) =
            probes
                .into_iter()
                .partition(|(_, check, spec)| match check {
                    Check::Tolerance => spec.fragment.is_none(),
                    Check::Compression | Check::Heartbeat => true,
                    _ => false,
                });
        let combined = combined_tolerance_spec(&base_spec, tls13);
        let mut handles: Vec<Task<Vec<ProbeItem>>> = others
            .into_iter()
            .map(|(name, check, spec)| {
                let leaf = leaf.clone();
                s.spawn(move || vec![self.probe_item(name, check, &spec, leaf.as_deref())])
            })
            .collect();
        handles.push(s.spawn(move || {
            // Up to TLS 1.2 the combined hello offers the base version's accepted suites
            // reversed: a tolerant server's pick is that version's order check too (the
            // lower-latency plan's suites may still be enumerated: it waits for them).
            let finals = all.map_or(versions, |a| a.wait().as_slice());
            let order_of = base_version(finals)
                .filter(|b| !tls13 && b.version.0 <= ProtocolVersion::TLS12.0)
                .filter(|b| b.ciphers.len() >= 2);
            let mut combined = combined;
            if let Some(b) = order_of {
                combined.cipher_suites = Some(reversed(&b.ciphers));
            }
            self.tolerance_items(tolerance, &combined, order_of)
        }));
        handles
    }

    /// The hello the behaviour probes start from: the base version's, offering its
    /// accepted suites with a certificate (all of them when none has one).
    fn base_spec(&self, base: &VersionScan) -> HelloSpec {
        // Certificate suites when there are any, so the answers carry a certificate.
        let certified = accepted_where(base, needs_certificate);
        HelloSpec {
            cipher_suites: Some(if certified.is_empty() {
                base.ciphers.clone()
            } else {
                certified
            }),
            ..self.version_spec(base.version)
        }
    }

    /// `spec` split across two records at half its length.
    pub(super) fn fragmented(&self, spec: &HelloSpec) -> HelloSpec {
        let whole = build::build(spec, Some(&self.target.host), &mut |_| {});
        let half = whole
            .ok()
            .and_then(|w| w.hello)
            .map_or(256, |h| h.encoded_len().div_ceil(2));
        HelloSpec {
            fragment: Some(half),
            ..spec.clone()
        }
    }

    /// The fragmentation probe on its own hello (the base version's).
    pub(super) fn fragment_probe(&self, versions: &[VersionScan]) -> Option<ProbeItem> {
        let base = base_version(versions)?;
        let spec = self.fragmented(&self.base_spec(base));
        Some(self.probe_item(FRAGMENTED.into(), Check::Tolerance, &spec, None))
    }

    fn probe_item(
        &self,
        name: String,
        check: Check,
        spec: &HelloSpec,
        leaf: Option<&[u8]>,
    ) -> ProbeItem {
        let mut cost = 0;
        let mut hello = self.encode(spec);
        // Odd hellos may be reset by design: their answers say nothing of the target's
        // health.
        let reply = match check {
            Check::Tolerance | Check::Compression | Check::Heartbeat => {
                self.handshake_provoking(&mut hello, &mut cost)
            }
            _ => self.handshake(&mut hello, &mut cost),
        };
        let (result, concern) = judge(check, &reply, leaf);
        ProbeItem {
            name,
            result,
            concern,
            handshakes: cost,
        }
    }

    /// Intolerance checks as a group test: one hello with every oddity at once; only when a
    /// server chokes on it is each oddity tried alone. A tolerant server (the common case)
    /// costs one handshake instead of one per check.
    fn tolerance_items(
        &self,
        checks: Vec<(String, Check, HelloSpec)>,
        combined: &HelloSpec,
        order_of: Option<&VersionScan>,
    ) -> Vec<ProbeItem> {
        let mut cost = 0;
        let reply = self.handshake_provoking(&mut self.encode(combined), &mut cost);
        if let Some(b) = order_of {
            let pick = reply
                .verdict
                .as_ref()
                .filter(|_| reply.went_on() && reply.version() == Some(b.version.0))
                .and_then(|v| v.cipher);
            // Refused (checked one by one below): the order check is a hello of its own.
            let order = match pick {
                Some(_) => order_item(b, pick, &reply, 0, " (in the combined intolerance hello)"),
                None => self.check_order(b),
            };
            *self
                .combined_order
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some((b.version, order));
        }
        let mut items = vec![ProbeItem {
            name: COMBINED.into(),
            result: format!(
                "{} ({})",
                if reply.went_on() {
                    "tolerant"
                } else {
                    "refused: checked one by one"
                },
                reply.describe()
            ),
            concern: false,
            handshakes: cost,
        }];
        if reply.went_on() {
            items.extend(checks.into_iter().map(|(name, check, _)| {
                let (result, concern) = match check {
                    Check::Tolerance => ("tolerant".into(), false),
                    _ => judge(check, &reply, None),
                };
                ProbeItem {
                    name,
                    result: format!("{result} (in the combined hello)"),
                    concern,
                    handshakes: 0,
                }
            }));
        } else {
            items.extend(
                checks
                    .into_iter()
                    .map(|(name, check, spec)| self.probe_item(name, check, &spec, None)),
            );
        }
        items
    }
}

/// One hello with every intolerance trigger that only makes a hello harder to accept: a
/// legacy_version above TLS 1.2, an unknown extension, GREASE and 16000 bytes of padding,
/// in one record. Up to TLS 1.2 it also offers DEFLATE and heartbeat (TLS 1.3 fixes the
/// legacy_version and has neither).
fn combined_tolerance_spec(base: &HelloSpec, tls13: bool) -> HelloSpec {
    let mut spec = HelloSpec {
        grease: true,
        pad_to: Some(16000),
        ..base.clone()
    };
    spec.extra_extensions.push(Extension {
        typ: UNKNOWN_EXTENSION,
        data: vec![0, 1, 2, 3],
    });
    if !tls13 {
        spec.legacy_version = Some(0x03ff);
        spec.compression_methods = Some(vec![1, 0]);
        spec.extra_extensions.push(heartbeat_extension());
    }
    spec
}

/// heartbeat with mode peer_allowed_to_send.
pub(super) fn heartbeat_extension() -> Extension {
    Extension {
        typ: ext::HEARTBEAT,
        data: vec![1],
    }
}

#[derive(Debug, Clone, Copy)]
enum Check {
    SniNone,
    SniUnknown,
    Fallback,
    Compression,
    Heartbeat,
    /// Did the server go on with a hello it should tolerate?
    Tolerance,
}

/// The fragmentation probe's result from a hello that carried it (`handshakes`: 0 when
/// the server went on, the hello then serving its list too; 1 when it did not).
pub(super) fn fragment_item(reply: &Reply, note: &str, handshakes: usize) -> ProbeItem {
    let (result, concern) = judge(Check::Tolerance, reply, None);
    ProbeItem {
        name: FRAGMENTED.into(),
        result: format!("{result}{note}"),
        concern,
        handshakes,
    }
}

/// The result of a fixed probe: (what it showed, whether that is a concern).
fn judge(check: Check, reply: &Reply, base_leaf: Option<&[u8]>) -> (String, bool) {
    let sh = reply.verdict.as_ref().and_then(|v| v.server_hello.as_ref());
    let leaf = reply
        .verdict
        .as_ref()
        .and_then(|v| v.certificates.first())
        .map(Vec::as_slice);
    let certificate = || match (leaf, base_leaf) {
        (Some(l), Some(b)) if l == b => "same certificate as with SNI".to_string(),
        (Some(l), _) => format!("other certificate: {}", subject(l)),
        (None, _) => format!("answered ({})", reply.describe()),
    };
    match check {
        Check::SniNone => match (reply.went_on(), reply.alert()) {
            (true, _) => (certificate(), false),
            (false, Some(_)) => (format!("SNI required ({})", reply.describe()), false),
            (false, None) => (format!("refused ({})", reply.describe()), false),
        },
        Check::SniUnknown => match (reply.went_on(), reply.alert()) {
            (true, _) => (format!("default certificate: {}", certificate()), false),
            (false, Some(alert::UNRECOGNIZED_NAME)) => ("unrecognized_name alert".into(), false),
            (false, _) => (format!("refused ({})", reply.describe()), false),
        },
        Check::Fallback => match reply.alert() {
            Some(alert::INAPPROPRIATE_FALLBACK) => {
                ("supported (inappropriate_fallback)".into(), false)
            }
            _ if reply.went_on() => (
                format!("NOT supported: server went on ({})", reply.describe()),
                true,
            ),
            _ => (format!("unclear ({})", reply.describe()), true),
        },
        Check::Compression => match sh.map(|h| h.compression) {
            Some(0) => ("none".into(), false),
            Some(1) => ("DEFLATE accepted (CRIME)".into(), true),
            Some(m) => (format!("method {m} accepted"), true),
            None => (format!("no answer ({})", reply.describe()), true),
        },
        Check::Heartbeat => match sh {
            Some(h) if h.ext(ext::HEARTBEAT).is_some() => ("enabled".into(), true),
            Some(_) => ("not enabled".into(), false),
            None => (format!("no answer ({})", reply.describe()), true),
        },
        Check::Tolerance if reply.went_on() => (format!("tolerant ({})", reply.describe()), false),
        Check::Tolerance => (format!("INTOLERANT ({})", reply.describe()), true),
    }
}

fn subject(der: &[u8]) -> String {
    crate::core::cert::certificate_subject(der).unwrap_or_else(|e| format!("unparsable ({e})"))
}

/// Results read off the first accepted hello of the base version: no extra handshake.
pub(super) fn derived_items(versions: &[VersionScan]) -> Vec<ProbeItem> {
    let Some(base) = base_version(versions) else {
        return Vec::new();
    };
    let Some(v) = &base.first else {
        return Vec::new();
    };
    let item = |name: &str, result: String, concern: bool| ProbeItem {
        name: name.into(),
        result,
        concern,
        handshakes: 0,
    };
    let mut items = Vec::new();
    if let Some(leaf) = v.certificates.first() {
        items.push(item("certificate", subject(leaf), false));
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    // TLS 1.3 says these in encrypted messages, seen when the scan decrypted them.
    let tls13 = versions
        .iter()
        .find(|s| s.supported && s.version == ProtocolVersion::TLS13)
        .and_then(|s| s.first.as_ref());
    let classic = v
        .server_hello
        .as_ref()
        .filter(|_| base.version != ProtocolVersion::TLS13);
    let ocsp = match (tls13.and_then(|t| t.leaf_ocsp_stapled), classic) {
        (Some(stapled), _) => Some((stapled, ProtocolVersion::TLS13)),
        (None, Some(sh)) => Some((sh.ext(ext::STATUS_REQUEST).is_some(), base.version)),
        (None, None) => None,
    };
    let alpn = match (tls13.filter(|t| t.encrypted_extensions.is_some()), classic) {
        (Some(t), _) => Some((t.alpn(), ProtocolVersion::TLS13)),
        (None, Some(sh)) => Some((sh.alpn(), base.version)),
        (None, None) => None,
    };
    let Some(sh) = classic else {
        items.extend(behaviour_items(ocsp, alpn));
        return items;
    };
    let has = |t: u16| sh.ext(t).is_some();
    items.push(item(
        SECURE_RENEGOTIATION,
        yes_no(has(ext::RENEGOTIATION_INFO)).into(),
        !has(ext::RENEGOTIATION_INFO),
    ));
    items.push(item(
        "extended master secret",
        yes_no(has(ext::EXTENDED_MASTER_SECRET)).into(),
        !has(ext::EXTENDED_MASTER_SECRET),
    ));
    items.push(item(
        "session tickets",
        yes_no(has(ext::SESSION_TICKET)).into(),
        false,
    ));
    items.extend(behaviour_items(ocsp, alpn));
    items
}

/// OCSP stapling and the selected ALPN protocol, each with the version it was read from.
fn behaviour_items(
    ocsp: Option<(bool, ProtocolVersion)>,
    alpn: Option<(Option<Vec<u8>>, ProtocolVersion)>,
) -> Vec<ProbeItem> {
    let item = |name: &str, result: String| ProbeItem {
        name: name.into(),
        result,
        concern: false,
        handshakes: 0,
    };
    let mut items = Vec::new();
    if let Some((stapled, version)) = ocsp {
        let yes_no = if stapled { "yes" } else { "no" };
        items.push(item("OCSP stapling", format!("{yes_no} ({version})")));
    }
    if let Some((protocol, version)) = alpn {
        let protocol = protocol.map_or("none".into(), |p| String::from_utf8_lossy(&p).into_owned());
        items.push(item(
            "ALPN (h2, http/1.1 offered)",
            format!("{protocol} ({version})"),
        ));
    }
    items
}

/// The version behaviour probes use: the best accepted from TLS 1.0 to 1.2, else TLS 1.3.
pub(super) fn base_version(versions: &[VersionScan]) -> Option<&VersionScan> {
    let classic = versions.iter().rev().find(|v| {
        v.supported && (ProtocolVersion::TLS10.0..=ProtocolVersion::TLS12.0).contains(&v.version.0)
    });
    classic.or_else(|| {
        versions
            .iter()
            .find(|v| v.supported && v.version == ProtocolVersion::TLS13)
    })
}
