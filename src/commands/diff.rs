//! `shakedown diff A B`: two handshakes compared field by field, what each client offered and
//! what each server answered, to show exactly where they part. A side is a connection in a
//! capture (`FILE#N`, `FILE#ADDR:PORT`) or a target probed with the default hello.
//!
//! The comparison itself ([`compare`]) is pure: it takes two [`View`]s.

use crate::commands::capture_ref::{ConnRef, load_connection};
use crate::commands::pcap::ConnectionReport;
use crate::commands::probe::{self, HelloSource, ProbeResult};
use crate::commands::{ConnectConfig, SchemaVersion};
use crate::core::assess::Diagnosis;
use crate::core::flow::Direction;
use crate::core::session::Verdict;
use crate::core::wire::ProtocolVersion;
use crate::core::wire::hello::ClientHello;
use crate::core::wire::registry::{
    alert_name, extension_name, group_name, sigalg_name, suite_name,
};
use crate::io::net::Target;
use schemars::JsonSchema;
use serde::Serialize;

/// One handshake as the comparison sees it: what the client offered, what came back.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Where it came from: `capture.pcap#2 (client → server)` or `probe host:port (address)`.
    pub label: String,
    pub hello: Option<ClientHello>,
    /// The client spoke SSLv2-format (no TLS ClientHello to compare).
    pub sslv2: bool,
    pub outcome: String,
    pub version: Option<u16>,
    pub cipher: Option<u16>,
    pub group: Option<u16>,
    pub alert: Option<(Direction, u8)>,
    pub history: String,
    pub causes: Vec<String>,
}

impl View {
    fn from_verdict(label: String, outcome: &str, v: &Verdict, diagnosis: &[Diagnosis]) -> View {
        let sh = v.server_hello.as_ref().or(v.hello_retry_request.as_ref());
        View {
            label,
            hello: v.client_hello.clone(),
            sslv2: v.sslv2_client_hello.is_some(),
            outcome: outcome.to_string(),
            version: v.version.or(sh.map(|s| s.selected_version())),
            cipher: v.cipher.or(sh.map(|s| s.cipher_suite)),
            group: v.group.or(sh.and_then(|s| s.key_share_group())),
            alert: v.alert.as_ref().map(|a| (a.from, a.alert.description)),
            history: v.history.clone(),
            causes: diagnosis.iter().map(|d| d.cause.to_string()).collect(),
        }
    }

    pub fn from_connection(capture: &str, c: &ConnectionReport) -> View {
        View::from_verdict(
            format!("{capture}#{} ({} → {})", c.index, c.client, c.server),
            c.verdict.outcome.as_str(),
            &c.verdict,
            &c.diagnosis,
        )
    }

    pub fn from_probe(r: &ProbeResult) -> View {
        let addr = r.peer.map(|p| format!(" ({p})")).unwrap_or_default();
        let label = format!("probe {}{addr}", r.target.display());
        match &r.verdict {
            Some(v) => View::from_verdict(label, r.outcome(), v, &r.diagnosis),
            None => View {
                label,
                hello: r.hello.clone(),
                outcome: r.outcome().to_string(),
                causes: r.diagnosis.iter().map(|d| d.cause.to_string()).collect(),
                ..View::default()
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Offered,
    Answered,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Offered => "offered",
            Section::Answered => "answered",
        }
    }
}

/// One compared field; each side's value as a list of names (one item for scalar fields,
/// none when the side has no such value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub section: Section,
    pub list: bool,
    pub a: Vec<String>,
    pub b: Vec<String>,
}

impl Field {
    pub fn same(&self) -> bool {
        self.a == self.b
    }

    /// How the two sides differ, in words (None when they do not).
    pub fn detail(&self) -> Option<String> {
        if self.same() {
            return None;
        }
        if !self.list {
            return None;
        }
        let only = |x: &[String], y: &[String]| -> Vec<String> {
            x.iter().filter(|i| !y.contains(i)).cloned().collect()
        };
        let (only_a, only_b) = (only(&self.a, &self.b), only(&self.b, &self.a));
        if only_a.is_empty() && only_b.is_empty() {
            let at = self
                .a
                .iter()
                .zip(&self.b)
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            return Some(format!(
                "same items, order differs from position {}: A {}, B {}",
                at + 1,
                self.a.get(at).map_or("-", String::as_str),
                self.b.get(at).map_or("-", String::as_str)
            ));
        }
        let mut parts = Vec::new();
        if !only_a.is_empty() {
            parts.push(format!("only in A: {}", only_a.join(", ")));
        }
        if !only_b.is_empty() {
            parts.push(format!("only in B: {}", only_b.join(", ")));
        }
        Some(parts.join("; "))
    }
}

fn one(v: Option<String>) -> Vec<String> {
    v.into_iter().collect()
}

fn version_names(v: impl IntoIterator<Item = u16>) -> Vec<String> {
    v.into_iter()
        .map(|x| ProtocolVersion(x).to_string())
        .collect()
}

fn offered_fields(h: Option<&ClientHello>, sslv2: bool) -> Vec<(&'static str, bool, Vec<String>)> {
    let Some(h) = h else {
        let what = if sslv2 { "SSLv2 ClientHello" } else { "-" };
        return vec![("client_hello", false, vec![what.to_string()])];
    };
    vec![
        ("client_hello", false, vec!["TLS ClientHello".into()]),
        ("record_version", false, version_names([h.record_version])),
        ("legacy_version", false, version_names([h.legacy_version])),
        (
            "supported_versions",
            true,
            version_names(h.supported_versions().unwrap_or_default()),
        ),
        (
            "ciphers",
            true,
            h.cipher_suites.iter().map(|s| suite_name(*s)).collect(),
        ),
        (
            "groups",
            true,
            h.supported_groups().into_iter().map(group_name).collect(),
        ),
        (
            "key_shares",
            true,
            h.key_shares()
                .into_iter()
                .map(|(g, _)| group_name(g))
                .collect(),
        ),
        (
            "sigalgs",
            true,
            h.signature_algorithms()
                .into_iter()
                .map(sigalg_name)
                .collect(),
        ),
        (
            "alpn",
            true,
            h.alpn()
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect(),
        ),
        ("sni", false, one(h.sni())),
        (
            "extensions",
            true,
            h.extension_types()
                .into_iter()
                .map(extension_name)
                .collect(),
        ),
    ]
}

fn answered_fields(v: &View) -> Vec<(&'static str, bool, Vec<String>)> {
    vec![
        ("outcome", false, vec![v.outcome.clone()]),
        ("version", false, version_names(v.version)),
        ("cipher", false, one(v.cipher.map(suite_name))),
        ("group", false, one(v.group.map(group_name))),
        (
            "alert",
            false,
            one(v
                .alert
                .map(|(from, code)| format!("{} ({})", alert_name(code), from.peer()))),
        ),
        (
            "history",
            false,
            one(Some(v.history.clone()).filter(|h| !h.is_empty())),
        ),
        ("causes", true, v.causes.clone()),
    ]
}

fn zip_fields(
    section: Section,
    a: Vec<(&'static str, bool, Vec<String>)>,
    b: Vec<(&'static str, bool, Vec<String>)>,
) -> Vec<Field> {
    // Field sets differ only when one side has no TLS ClientHello; list A's names, then B's
    // extra ones, each with whatever the other side has under that name.
    let mut names: Vec<(&'static str, bool)> = a.iter().map(|f| (f.0, f.1)).collect();
    for f in &b {
        if !names.iter().any(|n| n.0 == f.0) {
            names.push((f.0, f.1));
        }
    }
    let get = |side: &[(&'static str, bool, Vec<String>)], name: &str| {
        side.iter()
            .find(|f| f.0 == name)
            .map(|f| f.2.clone())
            .unwrap_or_default()
    };
    names
        .into_iter()
        .map(|(name, list)| Field {
            name,
            section,
            list,
            a: get(&a, name),
            b: get(&b, name),
        })
        .collect()
}

/// Every field of both handshakes, offered first (in hello order), then answered.
pub fn compare(a: &View, b: &View) -> Vec<Field> {
    let mut out = zip_fields(
        Section::Offered,
        offered_fields(a.hello.as_ref(), a.sslv2),
        offered_fields(b.hello.as_ref(), b.sslv2),
    );
    out.extend(zip_fields(
        Section::Answered,
        answered_fields(a),
        answered_fields(b),
    ));
    out
}

/// What the server said to the hello, comparable between a capture (which goes on to the
/// end of the handshake) and a probe (which stops once the server has answered):
/// `ServerHello`, `HelloRetryRequest`, `alert NAME`, or the outcome (closed, reset, …).
fn server_answer(v: &View) -> String {
    match (&v.alert, v.version) {
        (_, Some(_)) if v.history.contains('j') => "HelloRetryRequest".into(),
        (_, Some(_)) => "ServerHello".into(),
        (Some((Direction::ServerToClient, code)), None) => format!("alert {}", alert_name(*code)),
        _ => v.outcome.clone(),
    }
}

/// Replay: only the server's answer to the hello (version, suite, group, its alert), since
/// the captured client went on with the handshake and the replay does not.
pub fn answer(a: &View, b: &View) -> Vec<Field> {
    let fields = |v: &View| {
        let server_alert = v
            .alert
            .filter(|(from, _)| *from == Direction::ServerToClient && v.version.is_none());
        vec![
            ("server_answer", false, vec![server_answer(v)]),
            ("version", false, version_names(v.version)),
            ("cipher", false, one(v.cipher.map(suite_name))),
            ("group", false, one(v.group.map(group_name))),
            (
                "alert",
                false,
                one(server_alert.map(|(_, code)| alert_name(code).into_owned())),
            ),
        ]
    };
    zip_fields(Section::Answered, fields(a), fields(b))
}

/// The first field where the two differ.
pub fn first_difference(fields: &[Field]) -> Option<&Field> {
    fields.iter().find(|f| !f.same())
}

/// Where a side of the diff comes from.
#[derive(Debug, Clone)]
pub enum DiffSide {
    /// A connection in a capture file.
    Capture(ConnRef),
    /// A target, probed with the default hello.
    Probe(Target),
}

/// Validated `diff` options.
#[derive(Debug, Clone)]
pub struct DiffConfig {
    pub a: DiffSide,
    pub b: DiffSide,
    pub connecting: ConnectConfig,
}

/// One compared field as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FieldReport {
    pub field: &'static str,
    /// `offered` or `answered`.
    pub section: &'static str,
    pub same: bool,
    pub a: FieldValue,
    pub b: FieldValue,
    /// How the two sides differ, in words.
    pub detail: Option<String>,
}

/// A side's value of a field: a list, or one value (`None`: the side has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum FieldValue {
    List(Vec<String>),
    One(Option<String>),
}

impl FieldValue {
    /// The value as items (one or none for a single value).
    pub fn items(&self) -> &[String] {
        match self {
            FieldValue::List(v) => v,
            FieldValue::One(v) => v.as_slice(),
        }
    }
}

impl FieldReport {
    pub fn of(f: &Field) -> FieldReport {
        let value = |v: &[String]| {
            if f.list {
                FieldValue::List(v.to_vec())
            } else {
                FieldValue::One(v.first().cloned())
            }
        };
        FieldReport {
            field: f.name,
            section: f.section.as_str(),
            same: f.same(),
            a: value(&f.a),
            b: value(&f.b),
            detail: f.detail(),
        }
    }
}

/// The fields as reported, and the name of the first that differs.
pub fn field_reports(fields: &[Field]) -> (Option<&'static str>, Vec<FieldReport>) {
    (
        first_difference(fields).map(|f| f.name),
        fields.iter().map(FieldReport::of).collect(),
    )
}

/// `diff`'s result: both sides' labels and every field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DiffReport {
    pub schema_version: SchemaVersion,
    /// Where side A came from: `capture.pcap#2 (client → server)` or `probe host:port (address)`.
    pub a: String,
    pub b: String,
    pub first_difference: Option<&'static str>,
    pub fields: Vec<FieldReport>,
}

fn view_of(side: &DiffSide, connecting: &ConnectConfig) -> Result<View, String> {
    match side {
        DiffSide::Capture(r) => {
            let c = load_connection(r)?;
            Ok(View::from_connection(&r.file, &c))
        }
        DiffSide::Probe(target) => {
            let cfg = connecting.probe(target.clone(), HelloSource::Spec(Box::default()));
            Ok(View::from_probe(&probe::run(&cfg)))
        }
    }
}

/// Reads or probes both sides and compares them. Errors are unreadable captures.
pub fn run(cfg: &DiffConfig) -> Result<DiffReport, String> {
    let va = view_of(&cfg.a, &cfg.connecting)?;
    let vb = view_of(&cfg.b, &cfg.connecting)?;
    let (first_difference, fields) = field_reports(&compare(&va, &vb));
    Ok(DiffReport {
        schema_version: SchemaVersion,
        a: va.label,
        b: vb.label,
        first_difference,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(suites: Vec<u16>, exts: Vec<u16>) -> ClientHello {
        ClientHello {
            record_version: 0x0301,
            legacy_version: 0x0303,
            random: [0; 32],
            session_id: vec![],
            cipher_suites: suites,
            compression_methods: vec![0],
            extensions: Some(
                exts.into_iter()
                    .map(|typ| crate::core::wire::Extension { typ, data: vec![] })
                    .collect(),
            ),
        }
    }

    fn view(h: ClientHello) -> View {
        View {
            label: "x".into(),
            hello: Some(h),
            outcome: "server_hello".into(),
            version: Some(0x0303),
            cipher: Some(0xc02f),
            ..View::default()
        }
    }

    #[test]
    fn identical_views_have_no_difference() {
        let a = view(hello(vec![0xc02f, 0xc030], vec![10, 11]));
        assert!(first_difference(&compare(&a, &a.clone())).is_none());
    }

    #[test]
    fn first_difference_is_the_earliest_field_and_order_is_noticed() {
        let a = view(hello(vec![0xc02f, 0xc030], vec![10, 11]));
        let b = view(hello(vec![0xc030, 0xc02f], vec![11, 10]));
        let fields = compare(&a, &b);
        let first = first_difference(&fields).unwrap();
        assert_eq!(first.name, "ciphers");
        assert!(
            first
                .detail()
                .unwrap()
                .contains("order differs from position 1")
        );
        let ext = fields.iter().find(|f| f.name == "extensions").unwrap();
        assert!(!ext.same());
    }

    #[test]
    fn answer_difference_names_what_only_one_side_has() {
        let a = view(hello(vec![0xc02f], vec![]));
        let mut b = a.clone();
        b.outcome = "alert".into();
        b.version = None;
        b.cipher = None;
        b.alert = Some((Direction::ServerToClient, 70));
        b.causes = vec!["protocol_mismatch".into()];
        b.history = "Cl".into();
        let replayed = answer(&a, &b);
        assert_eq!(
            first_difference(&replayed).unwrap().b,
            vec!["alert protocol_version"]
        );
        let fields = compare(&a, &b);
        assert_eq!(first_difference(&fields).unwrap().name, "outcome");
        let alert = fields.iter().find(|f| f.name == "alert").unwrap();
        assert_eq!(alert.b, vec!["protocol_version (server)".to_string()]);
        let causes = fields.iter().find(|f| f.name == "causes").unwrap();
        assert_eq!(causes.detail().unwrap(), "only in B: protocol_mismatch");
    }

    #[test]
    fn replay_answers_ignore_how_far_the_client_went() {
        let mut captured = view(hello(vec![0xc02f], vec![]));
        captured.outcome = "alert".into();
        captured.history = "CsxknL".into();
        captured.alert = Some((Direction::ClientToServer, 45));
        let mut replayed = view(hello(vec![0xc02f], vec![]));
        replayed.history = "Csxkn".into();
        assert!(first_difference(&answer(&captured, &replayed)).is_none());
    }

    #[test]
    fn a_side_without_hello_differs_at_the_hello() {
        let a = view(hello(vec![0xc02f], vec![]));
        let b = View {
            label: "y".into(),
            sslv2: true,
            outcome: "alert".into(),
            ..View::default()
        };
        let fields = compare(&a, &b);
        assert_eq!(first_difference(&fields).unwrap().name, "client_hello");
        let ciphers = fields.iter().find(|f| f.name == "ciphers").unwrap();
        assert!(ciphers.b.is_empty());
    }
}
