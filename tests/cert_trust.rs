//! Trust checks: path validation (rustls-webpki) against a trust store, on the recorded
//! captures (their root in `captures/root.pem`) and on a real server through `probe --ca`.

mod common;

use common::{Pki, captures_root, causes, json_output, s_server, shakedown};
use shakedown::commands::pcap::{self, AnalyzeOptions};
use shakedown::core::cert::TrustStore;
use shakedown::io::capture::ReadOptions;
use std::path::Path;

fn causes_of(capture: &str, trust: TrustStore) -> Vec<String> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/captures"));
    let file = std::fs::File::open(dir.join(capture)).unwrap();
    let opts = AnalyzeOptions {
        trust: Some(trust.into()),
        ..AnalyzeOptions::default()
    };
    let mut out = Vec::new();
    pcap::analyze(file, &ReadOptions::default(), opts, &mut |r| {
        out.extend(r.diagnosis.iter().map(|d| d.cause.to_string()))
    });
    out
}

#[test]
fn captures_name_the_trust_problem() {
    assert_eq!(
        causes_of("unknown_ca.pcap", captures_root()),
        ["untrusted_root"]
    );
    // The leaf's issuer is neither sent nor trusted, and nothing (no AIA) says it is an
    // intermediate rather than a private CA.
    assert_eq!(
        causes_of("missing_intermediate.pcap", captures_root()),
        ["unknown_issuer"]
    );
    assert_eq!(
        causes_of("self_signed.pcap", captures_root()),
        ["self_signed"]
    );
    assert!(causes_of("intermediate_chain_ok.pcap", captures_root()).is_empty());
    // Without the test root, the good chain (root not sent) leads to an issuer nobody holds.
    let mozilla = TrustStore::webpki_roots();
    assert!(mozilla.len() > 100);
    assert_eq!(
        causes_of("intermediate_chain_ok.pcap", mozilla),
        ["unknown_issuer"]
    );
}

#[test]
fn pem_bundles_are_checked() {
    let mut t = TrustStore::default();
    assert!(t.add_pem("not pem").is_err());
    assert!(
        t.add_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .is_err()
    );
    assert!(t.is_empty());
}

fn probe_causes(port: u16, ca: Option<&Path>) -> Vec<String> {
    let mut cmd = shakedown();
    cmd.args(["probe", &format!("localhost:{port}"), "--json"]);
    if let Some(ca) = ca {
        cmd.arg("--ca").arg(ca);
    }
    causes(&json_output(&mut cmd).1)
}

#[test]
fn probe_ca_option_trusts_a_private_ca() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3"]);
    let root = pki.root().cert;
    let causes = probe_causes(srv.port, Some(&root));
    assert!(causes.is_empty(), "{causes:?}");
    // The root is not sent: its issuer is unknown, not a self-signed root seen untrusted.
    assert_eq!(probe_causes(srv.port, None), ["unknown_issuer"]);
    // A leaf signed directly by the trusted root, sent alone, is complete.
    let direct = pki.issue("direct", "localhost", &pki.root(), 360, false);
    let srv = s_server(&direct, &["-tls1_3"]);
    let c = probe_causes(srv.port, Some(&root));
    assert!(c.is_empty(), "{c:?}");
    // The same leaf issued by the intermediate but sent without it, and without AIA: the
    // issuer is unknown (incomplete_chain needs evidence, see tests/cert_paths.rs).
    let mut lonely = pki.leaf("localhost");
    lonely.chain = None;
    let srv = s_server(&lonely, &["-tls1_3"]);
    assert_eq!(probe_causes(srv.port, Some(&root)), ["unknown_issuer"]);
    // --ca with a file that holds no certificate is a usage error.
    let bad = pki.path("bad.pem");
    std::fs::write(&bad, "nothing").unwrap();
    let out = shakedown()
        .args(["probe", &format!("localhost:{}", srv.port), "--ca"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
