//! `pcap --json` writes its connection objects through views made for speed
//! (`commands::pcap::result`), `probe` through owned facts (`commands::facts`); the schema
//! names one definition for both. This checks the claim on every recorded connection: each
//! shared sub-object (`offered`, `server_hello`, `alert`, `diverged`, `decryption`,
//! `events`, `certificates`, `history`) as `pcap --json` wrote it equals the facts'
//! serialization of the same connection.

mod common;

use common::shakedown;
use serde_json::Value;
use shakedown::commands::facts::{CertificateFacts, OfferedHello, VerdictFacts};
use shakedown::commands::pcap::{self, AnalyzeOptions, ConnectionReport};
use shakedown::core::crypto::KeyLog;
use shakedown::io::capture::ReadOptions;
use std::path::Path;
use std::sync::Arc;

fn field(v: &Value, name: &str) -> Value {
    v.get(name).cloned().unwrap_or(Value::Null)
}

fn compare(capture: &Path, keylog: Option<&Path>) -> usize {
    let mut cmd = shakedown();
    cmd.args(["pcap", "--json", "--all"]);
    let mut opts = AnalyzeOptions::default();
    if let Some(k) = keylog {
        cmd.arg("--keylog").arg(k);
        let (log, _) = KeyLog::parse(&std::fs::read_to_string(k).unwrap());
        opts.keylog = Some(Arc::new(log));
    }
    let out = cmd.arg(capture).output().unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| v.get("summary").is_none())
        .collect();
    let mut reports: Vec<ConnectionReport> = Vec::new();
    pcap::analyze(
        std::fs::File::open(capture).unwrap(),
        &ReadOptions::default(),
        opts,
        &mut |r| reports.push(r),
    );
    let mut compared = 0;
    for line in &lines {
        let index = line["index"].as_u64().unwrap();
        let r = reports
            .iter()
            .find(|r| r.index == index)
            .unwrap_or_else(|| panic!("{}: no connection {index}", capture.display()));
        let facts = serde_json::to_value(VerdictFacts::of(&r.verdict)).unwrap();
        let name = format!("{}#{index}", capture.display());
        for key in [
            "server_hello",
            "alert",
            "diverged",
            "decryption",
            "events",
            "history",
        ] {
            assert_eq!(field(line, key), field(&facts, key), "{name}: {key}");
        }
        let offered = r
            .verdict
            .client_hello
            .as_ref()
            .map(|h| serde_json::to_value(OfferedHello::over(h, r.transport)).unwrap())
            .unwrap_or(Value::Null);
        assert_eq!(field(line, "offered"), offered, "{name}: offered");
        let certificates: Vec<CertificateFacts> =
            r.certificates.iter().map(CertificateFacts::of).collect();
        assert_eq!(
            field(line, "certificates"),
            serde_json::to_value(certificates).unwrap(),
            "{name}: certificates"
        );
        compared += 1;
    }
    compared
}

#[test]
fn pcap_objects_are_the_facts_probe_writes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng")
        {
            continue;
        }
        let keys = path.with_extension("keys");
        total += compare(&path, None);
        if keys.exists() {
            total += compare(&path, Some(&keys));
        }
    }
    assert!(total >= 40, "{total} connections compared");
}

/// The same on third-party captures (FoxIO's JA4 set, beside the checkout), when present.
#[test]
fn third_party_pcap_objects_are_the_facts_probe_writes() {
    let Some(dir) = common::ja4_captures() else {
        eprintln!("skipping: ../shared/captures/ja4 not found");
        return;
    };
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng")
        {
            total += compare(&path, None);
        }
    }
    assert!(total > 100, "{total} connections compared");
}
