//! `pcap` with key logs: every recorded capture that has a `NAME.keys` is analysed with it
//! and compared, connection by connection, with `captures/expected_keylog.tsv` (filled from
//! tshark's decryption, see captures/README.md). Also: wrong and missing keys.

use shakedown::commands::pcap::{self, AnalyzeOptions, ConnectionReport};
use shakedown::core::cert::TrustStore;
use shakedown::core::crypto::KeyLog;
use shakedown::core::session::Outcome;
use shakedown::core::wire::ProtocolVersion;
use shakedown::core::wire::registry::{alert_name, suite_name};
use shakedown::io::capture::ReadOptions;
use std::path::Path;
use std::sync::Arc;

fn captures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/captures"))
}

fn analyze(capture: &str, keylog: Option<KeyLog>) -> Vec<ConnectionReport> {
    let file = std::fs::File::open(captures().join(capture)).unwrap();
    let opts = AnalyzeOptions {
        check_time: None,
        keylog: keylog.map(Arc::new),
        trust: Some(trust_root().into()),
    };
    let mut reports = Vec::new();
    let (_, err) = pcap::analyze(file, &ReadOptions::default(), opts, &mut |r| {
        reports.push(r)
    });
    assert!(err.is_none(), "{capture}: {err:?}");
    reports.sort_by_key(|r| r.index);
    reports
}

/// The oracle's causes assume the captures' test roots are trusted (`root.pem`, and
/// `quic_root.pem` of the QUIC recording, captures/record_quic.sh).
fn trust_root() -> TrustStore {
    let mut store = TrustStore::default();
    for root in ["root.pem", "quic_root.pem"] {
        let pem = std::fs::read_to_string(captures().join(root)).unwrap();
        assert_eq!(store.add_pem(&pem), Ok(1));
    }
    store
}

fn keylog(name: &str) -> KeyLog {
    let text = std::fs::read_to_string(captures().join(name)).unwrap();
    let (log, problems) = KeyLog::parse(&text);
    assert!(problems.is_empty(), "{problems:?}");
    log
}

/// One row in the oracle's columns.
fn row(r: &ConnectionReport) -> Vec<String> {
    let v = &r.verdict;
    let dash = || "-".to_string();
    let alert = v.alert.filter(|a| a.alert.description != 0);
    let causes: Vec<&str> = r.diagnosis.iter().map(|d| d.cause.id()).collect();
    vec![
        if v.established {
            "established".into()
        } else {
            v.outcome.as_str().into()
        },
        v.history.clone(),
        alert.map_or_else(dash, |a| a.from.peer().into()),
        alert.map_or_else(dash, |a| alert_name(a.alert.description).into_owned()),
        v.version
            .map_or_else(dash, |x| ProtocolVersion(x).to_string()),
        v.cipher.map_or_else(dash, suite_name),
        if causes.is_empty() {
            dash()
        } else {
            causes.join(",")
        },
    ]
}

#[test]
fn keylog_captures_match_the_oracle() {
    let table = std::fs::read_to_string(captures().join("expected_keylog.tsv")).unwrap();
    let mut rows = 0;
    let mut verified = 0;
    for line in table.lines().skip(1).filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let capture = cols[0].strip_suffix("+keylog").unwrap();
        let keys = capture.replace(".pcap", ".keys");
        let reports = analyze(capture, Some(keylog(&keys)));
        let n: usize = cols[1].trim_start_matches('#').parse().unwrap();
        let r = &reports[n - 1];
        let got = row(r);
        let want: Vec<String> = cols[2..].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            got[..6],
            want[..6],
            "{line}\nevents: {:#?}",
            r.verdict.events
        );
        // The oracle's causes (root.pem trusted) are all named; `certificate_rejected`
        // (from a bad_certificate alert) is the only other one allowed.
        for cause in want[6].split(',').filter(|c| *c != "-") {
            assert!(got[6].contains(cause), "{line}: causes {}", got[6]);
        }
        for cause in got[6].split(',').filter(|c| *c != "-") {
            assert!(
                want[6].contains(cause) || cause == "certificate_rejected",
                "{line}: causes {}",
                got[6]
            );
        }
        let d = r.verdict.decryption.as_ref().unwrap();
        // A client that gave up before its key exchange logged no secret.
        if want[1].contains('G') {
            assert!(d.problem.is_none(), "{line}: {d:?}");
        }
        // Each Finished seen was checked against the keys.
        let seen = |c: char| want[1].contains(c).then_some(true);
        assert_eq!(d.server_finished_verified, seen('f'), "{line}");
        assert_eq!(d.client_finished_verified, seen('F'), "{line}");
        verified += want[1].contains('F') as usize;
        rows += 1;
    }
    assert_eq!(rows, 18);
    assert_eq!(verified, 16);
}

#[test]
fn tls13_certificate_is_seen_through_decryption() {
    let reports = analyze("tls13_success.pcap", Some(keylog("tls13_success.keys")));
    for r in &reports {
        assert!(!r.verdict.certificates.is_empty());
        assert!(r.certificates[0].subject.starts_with("CN=good.test"));
    }
    let cleartext = analyze("tls13_success.pcap", None);
    assert!(cleartext[0].verdict.certificates.is_empty());
}

#[test]
fn wrong_or_missing_keys_give_the_cleartext_verdict_and_a_reason() {
    let clear = analyze("client_cert_required_tls13.pcap", None);
    // Keys of another capture: no secret for this client random.
    let other = analyze(
        "client_cert_required_tls13.pcap",
        Some(keylog("tls13_success.keys")),
    );
    assert_eq!(other[0].verdict.history, clear[0].verdict.history);
    assert_eq!(other[0].verdict.outcome, clear[0].verdict.outcome);
    let problem = other[0]
        .verdict
        .decryption
        .clone()
        .unwrap()
        .problem
        .unwrap();
    assert!(
        problem.starts_with("no TLS 1.3 handshake secrets"),
        "{problem}"
    );
    // Right client random, wrong secrets: authentication fails, nothing panics.
    let text = std::fs::read_to_string(captures().join("client_cert_required_tls13.keys"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            format!("{} {} {}\n", f[0], f[1], "42".repeat(f[2].len() / 2))
        })
        .collect::<String>();
    let (bad, _) = KeyLog::parse(&text);
    let wrong = analyze("client_cert_required_tls13.pcap", Some(bad));
    let v = &wrong[0].verdict;
    assert_eq!(v.history, clear[0].verdict.history);
    let problem = v.decryption.clone().unwrap().problem.unwrap();
    assert!(problem.contains("authentication failed"), "{problem}");
    // TLS 1.2 with a wrong master secret.
    let text = std::fs::read_to_string(captures().join("tls12_success.keys"))
        .unwrap()
        .replace('0', "1");
    let (bad, _) = KeyLog::parse(&text);
    let r = analyze("tls12_success.pcap", Some(bad));
    assert!(r[0].verdict.established, "{:#?}", r[0].verdict.events);
    assert_eq!(
        r[0].verdict.outcome,
        Outcome::Established,
        "{:#?}",
        r[0].verdict.events
    );
}

#[test]
fn secrets_embedded_in_pcapng_decrypt_like_the_keylog() {
    // The same connection with the key log as a Decryption Secrets Block, no --keylog.
    let embedded = analyze("client_cert_required_tls13_dsb.pcapng", None);
    let with_file = analyze(
        "client_cert_required_tls13.pcap",
        Some(keylog("client_cert_required_tls13.keys")),
    );
    let clear = analyze("client_cert_required_tls13.pcap", None);
    assert_eq!(embedded.len(), 1);
    assert_eq!(row(&embedded[0]), row(&with_file[0]));
    assert_ne!(row(&embedded[0]), row(&clear[0]));
    let d = embedded[0].verdict.decryption.clone().unwrap();
    assert_eq!(d.server_finished_verified, Some(true));
    assert_eq!(d.problem, None);
    // Merged with a key log of other connections, the embedded secrets still count.
    let merged = analyze(
        "client_cert_required_tls13_dsb.pcapng",
        Some(keylog("tls13_success.keys")),
    );
    assert_eq!(row(&merged[0]), row(&with_file[0]));
}

/// `shakedown pcap --json`, one object per connection (the summary line left out).
fn pcap_cli(args: &[&str]) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shakedown"))
        .arg("pcap")
        .args(args)
        .args(["--json", "--ca"])
        .arg(captures().join("root.pem"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|o| o.get("index").is_some())
        .collect()
}

#[test]
fn pcap_command_decrypts_with_keylog_and_with_embedded_secrets() {
    let capture = captures().join("tls13_success.pcap");
    let keys = captures().join("tls13_success.keys");
    let capture = capture.to_str().unwrap();
    let with_keys = pcap_cli(&[capture, "--keylog", keys.to_str().unwrap()]);
    let clear = pcap_cli(&[capture]);
    assert_eq!(with_keys.len(), 3);
    let table = std::fs::read_to_string(captures().join("expected_keylog.tsv")).unwrap();
    for o in &with_keys {
        let want = format!("tls13_success.pcap+keylog\t#{}\t", o["index"]);
        let line = table.lines().find(|l| l.starts_with(&want)).unwrap();
        let history = line.split('\t').nth(3).unwrap();
        assert_eq!(o["history"], history, "{o:#}");
        assert_eq!(o["decryption"]["server_finished_verified"], true, "{o:#}");
        assert_eq!(o["decryption"]["client_finished_verified"], true, "{o:#}");
        assert_eq!(o["decryption"]["problem"], serde_json::Value::Null);
    }
    // Without keys: no decryption, and the histories lack the decrypted messages.
    assert!(clear.iter().all(|o| o.get("decryption").is_none()));
    assert_ne!(clear[0]["history"], with_keys[0]["history"]);
    // The pcapng carries its own secrets: no --keylog needed.
    let dsb = captures().join("client_cert_required_tls13_dsb.pcapng");
    let embedded = pcap_cli(&[dsb.to_str().unwrap()]);
    assert_eq!(embedded[0]["history"], "CsiorxyfIXFl", "{:#}", embedded[0]);
    assert_eq!(embedded[0]["alert"]["description"], "certificate_required");
}
