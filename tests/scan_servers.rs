//! `scan` against real servers on loopback whose accepted suites, order and groups follow
//! from their configuration: `openssl s_server` (permissive legacy, restrictive with server
//! order, TLS 1.3 only, ECDSA) and nginx with Mozilla's intermediate suites. The expected
//! sets come from the configuration (for the permissive ones, from `openssl ciphers`), not
//! from shakedown; every scan's handshake count must add up to what its report itemizes.

mod common;

use common::{Pki, Server, hostile_peer, openssl, read_some, rsa_cert, s_server, shakedown};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

const VERSIONS: [&str; 6] = ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

/// Runs `shakedown scan --json` on the targets and returns one object per target.
fn scan(targets: &[&str], extra: &[&str]) -> Vec<Value> {
    let out = shakedown()
        .arg("scan")
        .args(targets)
        .args(["--json", "--concurrency", "8", "--timeout", "5"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .inspect(common::assert_schema)
        .collect();
    assert_eq!(
        lines.len(),
        targets.len(),
        "stdout {stdout}\nstderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

/// Scans one target with both plans (`--prefer fewer-connections` and `lower-latency`),
/// checks each one's accounting and that both found the same; returns the first.
fn scan_one(target: &str) -> Value {
    let fewer = scan(&[target], &["--prefer", "fewer-connections"]).remove(0);
    let lower = scan(&[target], &["--prefer", "lower-latency"]).remove(0);
    check_accounting(&fewer);
    check_accounting(&lower);
    assert_same_findings(&fewer, &lower);
    fewer
}

/// The two plans' results agree in everything but time, the plan's name, where the TLS 1.3
/// order check rode, and their cost: the lower-latency plan may make one TLS 1.3 order
/// check of its own (with fewer than two TLS 1.3 groups nothing else carries it); else
/// both send the same hellos (their TLS 1.2 groups and schemes start from what the suite
/// hellos showed).
fn assert_same_findings(fewer: &Value, lower: &Value) {
    assert_eq!(fewer["plan"], "fewer_connections");
    assert_eq!(lower["plan"], "lower_latency");
    let order13 = |v: &Value| {
        v["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "server order TLSv1.3")
            .map_or(0, |p| p["handshakes"].as_u64().unwrap())
    };
    let extra = order13(lower) - order13(fewer);
    assert!(extra <= 1, "{lower}");
    assert_eq!(
        lower["handshakes"].as_u64().unwrap(),
        fewer["handshakes"].as_u64().unwrap() + extra,
        "fewer {fewer}\nlower {lower}"
    );
    let normal = |v: &Value| {
        let mut v = v.clone();
        let o = v.as_object_mut().unwrap();
        for k in ["elapsed_ms", "plan", "handshakes"] {
            o.remove(k);
        }
        o.remove("cost");
        // "expires in 2 days" may become "1 day" between the two scans.
        for d in o["diagnosis"].as_array_mut().unwrap() {
            d.as_object_mut().unwrap().remove("detail");
        }
        for p in o["probes"].as_array_mut().unwrap() {
            let r = p["result"].as_str().unwrap();
            let r = r
                .replace(" (in the first group hello)", "")
                .replace(" (in the group order hello)", "");
            p["result"] = Value::String(r);
            if p["name"] == "server order TLSv1.3" {
                p["handshakes"] = Value::Null;
            }
        }
        v
    };
    let (a, b) = (normal(fewer), normal(lower));
    for (k, x) in a.as_object().unwrap() {
        assert_eq!(x, &b[k], "{k} differs between the plans");
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn ciphers(v: &Value, version: &str) -> Vec<String> {
    strings(&v["versions"][version]["ciphers"])
}

fn set(items: &[String]) -> BTreeSet<String> {
    items.iter().cloned().collect()
}

/// The handshake count is Σ(accepted+1) over the versions (0 for a version below one
/// refused with protocol_version), Σ(accepted+1) over the group and signature-scheme
/// enumerations, plus the itemized probes; nothing is retried on loopback. TLS 1.2 groups
/// and schemes enumerated together cost max(N1, N2) + 2 when the schemes outlast the
/// groups (each pick of the joint phase, the refusal, the schemes alone), N + 3 when the
/// groups last (one more refusal before the groups go on alone).
fn check_accounting(v: &Value) {
    let mut versions = 0;
    for name in VERSIONS {
        let r = &v["versions"][name];
        let accepted = r["ciphers"].as_array().unwrap().len() as u64;
        let used = r["handshakes"].as_u64().unwrap();
        if name == "SSLv2" {
            assert_eq!(used, 1, "SSLv2 costs one hello: {v}");
        } else if name == "TLSv1.3" && v["groups"].get("TLSv1.3").is_some() {
            // Its other suites are enumerated with its groups (counted there).
            assert_eq!(used, 1, "TLS 1.3's version hello: {v}");
        } else if !r["refused_with"].is_null() {
            assert_eq!(used, 0, "{name} follows from a higher refusal: {v}");
        } else {
            assert_eq!(
                used,
                accepted + 1,
                "{name}: N+1 handshakes for N suites: {v}"
            );
        }
        versions += used;
    }
    let count = |g: &Value| g.as_array().map_or(0, |g| g.len() as u64);
    // Two or more accepted groups get one more hello, their order check.
    let order_check = |n: u64| u64::from(n >= 2);
    // TLS 1.3 suites after the version hello's pick, and groups, in the same hellos: the
    // groups first, max + 2 or + 3 (as the TLS 1.2 lists below), and one order hello.
    let groups13 = v["groups"].get("TLSv1.3").map_or(0, |g| {
        let (g, s) = (count(g), count(&v["versions"]["TLSv1.3"]["ciphers"]));
        let joint = if g > s - 1 { g + 2 } else { s - 1 + 3 };
        joint + order_check(g.max(s))
    });
    let (groups12, schemes) = (count(&v["groups"]["TLSv1.2"]), count(&v["sigalgs"]));
    // Groups and schemes already seen by the version and suite hellos (the version hello's
    // signed ECDHE pair; a client-order server's suite hellos show more) cost nothing.
    let (known_g, known_s) = (
        v["cost"]["groups_seen_free"].as_u64().unwrap(),
        v["cost"]["sigalgs_seen_free"].as_u64().unwrap(),
    );
    let seeded = v["versions"]["TLSv1.2"]["ciphers"][0]
        .as_str()
        .is_some_and(|c| c.starts_with("TLS_ECDHE_RSA_") || c.starts_with("TLS_ECDHE_ECDSA_"));
    if seeded && groups12 > 0 {
        assert!(
            known_g >= 1 && known_s >= 1,
            "the version hello's pair: {v}"
        );
    }
    // A server with its own scheme order may show every scheme in the suite hellos (then
    // none is asked alone), after one suite hello sent again (`sigalgs_resent`).
    let all_seen = v["cost"]["sigalgs_all_seen_free"].as_bool().unwrap();
    let resent = v["cost"]["sigalgs_resent"].as_u64().unwrap();
    let groups_and_sigalgs = match (groups12, schemes) {
        (0, 0) => 0,
        (n, 0) => n + 1,
        (0, _) if all_seen => resent,
        (0, n) => n - known_s + 1 + resent,
        (g, s) => {
            let (g, s) = (g - known_g, s - known_s);
            let joint = if all_seen {
                g + 1
            } else if s > g {
                s + 2
            } else {
                g + 3
            };
            joint + order_check(groups12.max(schemes)) + resent
        }
    };
    let groups_below_12: u64 = ["TLSv1.0", "TLSv1.1"]
        .iter()
        .filter_map(|name| v["groups"].get(*name))
        .map(|g| count(g) + 1)
        .sum();
    let probes: u64 = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["handshakes"].as_u64().unwrap())
        .sum();
    let (groups, sigalgs) = (v["cost"]["groups"].as_u64(), v["cost"]["sigalgs"].as_u64());
    let (groups, sigalgs) = (groups.unwrap(), sigalgs.unwrap());
    assert_eq!(v["cost"]["versions"], versions, "{v}");
    assert_eq!(
        groups + sigalgs,
        groups13 + groups_and_sigalgs + groups_below_12,
        "{v}"
    );
    assert_eq!(v["retries"], 0, "{v}");
    assert_eq!(
        v["handshakes"].as_u64().unwrap(),
        versions + groups + sigalgs + probes,
        "{v}"
    );
}

fn probe<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("no probe {name}: {v}"))
}

/// IANA names of the suites `openssl ciphers -V -s -<proto> SPEC` lists, keeping those
/// whose authentication the certificate can do (`Au=RSA` or `Au=ECDSA`) or needs none of.
fn openssl_suites(proto: &str, spec: &str, auth: &str) -> BTreeSet<String> {
    let out = Command::new("openssl")
        .args(["ciphers", "-V", "-s", &format!("-{proto}"), spec])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&format!("Au={auth} ")) || l.contains("Au=None "))
        .map(|l| {
            let hex = l.trim().split(' ').next().unwrap(); // 0xC0,0x2C
            let id = hex.replace("0x", "").replace(',', "");
            let id = u16::from_str_radix(&id, 16).unwrap();
            shakedown::core::wire::registry::suite_name(id)
        })
        .collect()
}

fn local(srv: &Server) -> String {
    format!("localhost:{}", srv.port)
}

/// Three suites of different kinds in an order no client would pick on its own, for the
/// server-order servers.
const SERVER_ORDER_SUITES: &str =
    "ECDHE-RSA-AES128-SHA:AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

#[test]
fn permissive_legacy_server_accepts_what_openssl_lists_in_client_order() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let spec = "ALL:@SECLEVEL=0";
    let srv = s_server(
        &cert,
        &[
            "-cipher",
            spec,
            "-min_protocol",
            "TLSv1",
            "-max_protocol",
            "TLSv1.2",
        ],
    );
    let v = scan_one(&local(&srv));
    for (version, proto) in [
        ("TLSv1.0", "tls1"),
        ("TLSv1.1", "tls1_1"),
        ("TLSv1.2", "tls1_2"),
    ] {
        let got = set(&ciphers(&v, version));
        let want = openssl_suites(proto, spec, "RSA");
        assert_eq!(got, want, "{version}");
        assert_eq!(v["versions"][version]["supported"], true);
        // s_server without -serverpref follows the client's order.
        assert_eq!(v["versions"][version]["server_order"], false, "{version}");
        // TLS 1.2's check is the combined intolerance hello (the behaviour probes' base
        // version); the others' are a hello each.
        let order = probe(&v, &format!("server order {version}"));
        let (handshakes, rode) = if version == "TLSv1.2" {
            (0, true)
        } else {
            (1, false)
        };
        assert_eq!(order["handshakes"], handshakes, "{order}");
        assert_eq!(
            order["result"]
                .as_str()
                .unwrap()
                .ends_with("(in the combined intolerance hello)"),
            rode,
            "{order}"
        );
    }
    for version in ["SSLv2", "SSLv3", "TLSv1.3"] {
        assert_eq!(v["versions"][version]["supported"], false, "{version}");
    }
    let weak = &v["versions"]["TLSv1.2"]["weak"];
    assert!(
        strings(&weak["TLS_DH_anon_WITH_AES_128_CBC_SHA"]).contains(&"anonymous".to_string()),
        "{weak}"
    );
    assert!(weak.get("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").is_none());
    // OpenSSL's automatic DH parameters match the 2048-bit RSA key: not weak.
    assert_eq!(v["versions"]["TLSv1.2"]["dh_prime_bits"], 2048, "{v}");
    assert!(weak.get("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256").is_none());
    assert_eq!(
        probe(&v, "TLS_FALLBACK_SCSV")["result"],
        "supported (inappropriate_fallback)"
    );
    assert_eq!(probe(&v, "secure renegotiation")["result"], "yes");
    // Compression and heartbeat ride on the combined intolerance hello.
    assert_eq!(
        probe(&v, "compression")["result"],
        "none (in the combined hello)"
    );
    assert_eq!(probe(&v, "compression")["handshakes"], 0);
}

/// A server with a hole (TLS 1.0 and 1.2, not 1.1) answers the TLS 1.1 hello with TLS 1.0,
/// not with protocol_version: TLS 1.0 is still asked and found.
#[test]
fn version_hole_is_not_taken_for_a_floor() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let srv = s_server(
        &cert,
        &[
            "-cipher",
            "ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
            "-min_protocol",
            "TLSv1",
            "-max_protocol",
            "TLSv1.2",
            "-no_tls1_1",
        ],
    );
    let v = scan(&[&local(&srv)], &["--suites-only"]).remove(0);
    check_accounting(&v);
    for (version, supported) in [("TLSv1.2", true), ("TLSv1.1", false), ("TLSv1.0", true)] {
        assert_eq!(
            v["versions"][version]["supported"], supported,
            "{version}: {v}"
        );
        assert!(v["versions"][version]["refused_with"].is_null(), "{v}");
    }
    assert_eq!(
        ciphers(&v, "TLSv1.0"),
        ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]
    );
    // The SSLv3 hello got protocol_version itself: nothing below it to imply.
    assert_eq!(v["versions"]["SSLv3"]["handshakes"], 1);
}

/// A TLS 1.2-only server in its own order: three suites, two groups, two schemes.
fn server_order_tls12(cert: &common::Issued) -> Server {
    s_server(
        cert,
        &[
            "-tls1_2",
            "-cipher",
            SERVER_ORDER_SUITES,
            "-serverpref",
            "-groups",
            "secp384r1:X25519",
            "-sigalgs",
            "RSA+SHA384:RSA-PSS+SHA256",
        ],
    )
}

#[test]
fn restrictive_server_order_tls12_server() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let srv = server_order_tls12(&cert);
    let v = scan_one(&local(&srv));
    assert_eq!(
        ciphers(&v, "TLSv1.2"),
        [
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ]
    );
    assert_eq!(v["versions"]["TLSv1.2"]["server_order"], true);
    for version in ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.3"] {
        assert_eq!(v["versions"][version]["supported"], false, "{version}");
    }
    // A TLS 1.2-only server answers the TLS 1.1 hello with protocol_version: nothing lower
    // is asked.
    assert!(v["versions"]["TLSv1.1"]["refused_with"].is_null());
    for version in ["SSLv3", "TLSv1.0"] {
        assert_eq!(v["versions"][version]["refused_with"], "TLSv1.1", "{v}");
    }
    assert_eq!(strings(&v["groups"]["TLSv1.2"]), ["secp384r1", "x25519"]);
    assert_eq!(v["preferred_group"], "secp384r1");
    // -serverpref: the reversed offer gets the server's first group and scheme again.
    assert_eq!(v["groups_server_order"]["TLSv1.2"], true, "{v}");
    assert_eq!(v["sigalgs_server_order"], true, "{v}");
    assert_eq!(
        set(&strings(&v["sigalgs"])),
        set(&["rsa_pkcs1_sha384".into(), "rsa_pss_rsae_sha256".into()])
    );
    assert_eq!(
        v["versions"]["TLSv1.2"]["weak"]["TLS_RSA_WITH_AES_256_GCM_SHA384"][0],
        "no forward secrecy"
    );
    // One version: no fallback probe.
    assert!(
        v["probes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| !p["name"].as_str().unwrap().contains("FALLBACK"))
    );
}

/// A server with its own scheme order and more signed suites than schemes (OpenSSL with
/// `-serverpref` orders schemes too): from the fourth pick the suite hellos offer only the
/// schemes not seen, each signed pick shows a new one, and when none is left the server
/// picks its RSA key exchange suite instead: that hello goes again with every scheme. Every
/// scheme is then known without a hello of its own, and the suites and their order are
/// what OpenSSL's order says.
#[test]
fn a_server_ordering_its_schemes_shows_them_in_the_suite_chain() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let suites = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:\
                  ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES256-GCM-SHA384:\
                  DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256:\
                  ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256";
    let schemes = "RSA-PSS+SHA256:RSA+SHA256:RSA-PSS+SHA384:RSA+SHA384";
    let srv = s_server(
        &cert,
        &[
            "-tls1_2",
            "-cipher",
            suites,
            "-serverpref",
            "-sigalgs",
            schemes,
        ],
    );
    let v = scan_one(&local(&srv));
    let order: Vec<String> = Command::new("openssl")
        .args(["ciphers", "-s", "-tls1_2", "-stdname", suites])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(order.len(), 10, "{order:?}");
    assert_eq!(ciphers(&v, "TLSv1.2"), order, "{v}");
    assert_eq!(v["versions"]["TLSv1.2"]["server_order"], true, "{v}");
    assert_eq!(
        strings(&v["sigalgs"]),
        [
            "rsa_pss_rsae_sha256",
            "rsa_pkcs1_sha256",
            "rsa_pss_rsae_sha384",
            "rsa_pkcs1_sha384"
        ],
        "in the server's order: {v}"
    );
    assert_eq!(v["sigalgs_server_order"], true, "{v}");
    assert_eq!(v["cost"]["sigalgs_all_seen_free"], true, "{v}");
    assert_eq!(v["cost"]["sigalgs_resent"], 1, "{v}");
    assert_eq!(v["cost"]["sigalgs_seen_free"], 4, "{v}");
}

/// Without a signed ECDHE suite at TLS 1.2 the groups and schemes cannot share hellos: the
/// schemes come from DHE ServerKeyExchanges alone, and the groups from the best version
/// below 1.2 that has ECDHE.
#[test]
fn groups_and_schemes_apart_when_tls12_has_no_signed_ecdhe() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let dhparam = common::dh1024_params(dir.path());
    let dhe_only = s_server(
        &cert,
        &[
            "-tls1_2",
            "-cipher",
            "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0",
            "-sigalgs",
            "RSA+SHA256:RSA-PSS+SHA384",
            "-dhparam",
            dhparam.to_str().unwrap(),
        ],
    );
    let v = scan_one(&local(&dhe_only));
    assert_eq!(
        set(&ciphers(&v, "TLSv1.2")),
        set(&[
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256".into(),
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384".into(),
        ])
    );
    assert_eq!(v["versions"]["TLSv1.2"]["dh_prime_bits"], 1024, "{v}");
    assert_eq!(
        v["versions"]["TLSv1.2"]["weak"]["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"],
        serde_json::json!(["DH prime of 1024 bits"]),
        "{v}"
    );
    assert_eq!(
        set(&strings(&v["sigalgs"])),
        set(&["rsa_pkcs1_sha256".into(), "rsa_pss_rsae_sha384".into()]),
        "{v}"
    );
    assert!(v["groups"].get("TLSv1.2").is_none(), "{v}");
    assert_eq!(v["cost"]["groups"], 0, "{v}");
    // The two suite hellos showed both schemes (each offers the unseen ones first, and
    // this server takes the client's first): only the refusal is left.
    assert_eq!(v["cost"]["sigalgs_seen_free"], 2, "{v}");
    assert_eq!(v["cost"]["sigalgs"], 1, "the refusal: {v}");

    // ECDHE only at TLS 1.1: its groups are asked there, and no schemes (no TLS 1.2).
    let tls11 = s_server(
        &cert,
        &[
            "-tls1_1",
            "-cipher",
            "ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
            "-groups",
            "secp384r1:X25519",
        ],
    );
    let v = scan_one(&local(&tls11));
    assert_eq!(
        ciphers(&v, "TLSv1.1"),
        ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]
    );
    assert_eq!(
        set(&strings(&v["groups"]["TLSv1.1"])),
        set(&["secp384r1".into(), "x25519".into()]),
        "{v}"
    );
    assert!(v["sigalgs"].as_array().is_none_or(|s| s.is_empty()), "{v}");
    assert_eq!(v["cost"]["groups"], 3, "{v}");
}

/// A TLS 1.3 server with only P-384 (`ssl_ecdh_curve secp384r1`): the scan's real P-384
/// share gets a ServerHello, so the certificate and the CertificateVerify scheme are seen.
#[test]
fn tls13_p384_only_server_still_shows_its_certificate() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3", "-groups", "secp384r1"]);
    let v = scan_one(&local(&srv));
    assert_eq!(strings(&v["groups"]["TLSv1.3"]), ["secp384r1"], "{v}");
    assert_eq!(v["certificates"][0]["subject"], "CN=localhost", "{v}");
    // The fixture leaf is P-256: one TLS 1.3 scheme.
    assert_eq!(strings(&v["sigalgs"]), ["ecdsa_secp256r1_sha256"], "{v}");
}

/// An OCSP response for `leaf` signed by its issuer, the intermediate (status "unknown":
/// the empty index knows no certificate, which is enough for a server to staple it).
fn ocsp_response(pki: &Pki, leaf: &common::Issued) -> String {
    let dir = pki.dir.path();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    let (issuer, leaf) = (pki.intermediate(), leaf.cert.to_str().unwrap());
    let (ca, ca_key) = (issuer.cert.to_str().unwrap(), issuer.key.to_str().unwrap());
    openssl(
        dir,
        &[
            "ocsp",
            "-issuer",
            ca,
            "-cert",
            leaf,
            "-no_nonce",
            "-reqout",
            "ocsp-req.der",
        ],
    );
    openssl(
        dir,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-rsigner",
            ca,
            "-rkey",
            ca_key,
            "-CA",
            ca,
            "-reqin",
            "ocsp-req.der",
            "-respout",
            "ocsp-resp.der",
            "-ndays",
            "1",
        ],
    );
    dir.join("ocsp-resp.der").to_str().unwrap().to_string()
}

#[test]
fn tls13_only_server_with_its_suites_and_groups() {
    let pki = Pki::new();
    let leaf = pki.leaf("localhost");
    let status_file = ocsp_response(&pki, &leaf);
    let srv = s_server(
        &leaf,
        &[
            "-alpn",
            "h2",
            "-status_file",
            &status_file,
            "-tls1_3",
            "-ciphersuites",
            "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
            "-serverpref",
            "-groups",
            "X25519:secp384r1:ffdhe2048",
        ],
    );
    let v = scan_one(&local(&srv));
    assert_eq!(
        ciphers(&v, "TLSv1.3"),
        ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]
    );
    assert_eq!(v["versions"]["TLSv1.3"]["server_order"], true);
    // The order check was the group order hello (the HelloRetryRequest names the suite):
    // the suites are enumerated with the groups.
    assert_eq!(
        probe(&v, "server order TLSv1.3")["result"],
        "server order (in the group order hello)"
    );
    assert_eq!(probe(&v, "server order TLSv1.3")["handshakes"], 0);
    for version in ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2"] {
        assert_eq!(v["versions"][version]["supported"], false, "{version}");
    }
    for version in ["SSLv3", "TLSv1.0", "TLSv1.1"] {
        assert_eq!(v["versions"][version]["refused_with"], "TLSv1.2", "{v}");
    }
    assert_eq!(
        strings(&v["groups"]["TLSv1.3"]),
        ["x25519", "secp384r1", "ffdhe2048"]
    );
    assert_eq!(v["groups_server_order"]["TLSv1.3"], true, "{v}");
    assert!(v["groups"].get("TLSv1.2").is_none());
    // No TLS 1.2: the schemes come from the decrypted CertificateVerify. A P-256 key has
    // exactly one scheme in TLS 1.3 (the curve fixes the hash).
    assert_eq!(strings(&v["sigalgs"]), ["ecdsa_secp256r1_sha256"], "{v}");
    assert!(
        probe(&v, "GREASE")["result"]
            .as_str()
            .unwrap()
            .starts_with("tolerant")
    );
    // TLS 1.3 encrypts the chain: it is seen because the scan decrypts with its key share.
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "{v}");
    assert!(certs[0]["subject"].as_str().unwrap().contains("localhost"));
    let causes = common::causes(&v);
    // The root is not sent: an issuer nobody holds (not a self-signed root seen untrusted).
    assert!(causes.contains(&"unknown_issuer".to_string()), "{causes:?}");
    // ALPN from the decrypted EncryptedExtensions, OCSP from the leaf's entry extensions.
    assert_eq!(probe(&v, "ALPN")["result"], "h2 (TLSv1.3)", "{v}");
    assert_eq!(probe(&v, "OCSP stapling")["result"], "yes (TLSv1.3)", "{v}");
}

#[test]
fn ecdsa_server_accepts_only_ecdsa_and_anonymous_suites() {
    let pki = Pki::new();
    let spec = "ALL:@SECLEVEL=0";
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_2", "-cipher", spec]);
    let v = scan_one(&local(&srv));
    assert_eq!(
        set(&ciphers(&v, "TLSv1.2")),
        openssl_suites("tls1_2", spec, "ECDSA")
    );
    let sigalgs = strings(&v["sigalgs"]);
    assert!(!sigalgs.is_empty());
    assert!(
        sigalgs.iter().all(|s| s.starts_with("ecdsa")),
        "{sigalgs:?}"
    );
    // OpenSSL's default ECDHE groups. A TLS 1.2 server takes its P-256 certificate only
    // when P-256 is offered: the group hellos keep it in the offer (before, every group
    // hello without P-256 was refused and only secp256r1 was found).
    assert_eq!(
        set(&strings(&v["groups"]["TLSv1.2"])),
        set(&["x25519", "secp256r1", "x448", "secp521r1", "secp384r1"].map(String::from))
    );
    assert_eq!(
        probe(&v, "certificate for an unknown name")["result"],
        "default certificate: same certificate as with SNI"
    );
}

/// Mozilla's intermediate configuration (version 5.7) for nginx.
const MOZILLA_INTERMEDIATE: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:\
ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:\
DHE-RSA-CHACHA20-POLY1305";

#[test]
fn nginx_with_mozilla_intermediate() {
    if Command::new("nginx").arg("-v").output().is_err() {
        panic!("nginx is needed by this test (apt-get install nginx)");
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let cert = rsa_cert(p, "localhost");
    openssl(
        p,
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DH",
            "-pkeyopt",
            "group:ffdhe2048",
            "-out",
            "dh.pem",
        ],
    );
    // nginx 1.22 has no `http2 on;` (it is a listen parameter there).
    let listen = if common::nginx_version() < (1, 25) {
        "listen 127.0.0.1:{port} ssl http2;"
    } else {
        "listen 127.0.0.1:{port} ssl;\n  http2 on;"
    };
    let srv = common::nginx(
        &format!(
            "{listen}\n  ssl_certificate {cert};\n  ssl_certificate_key {key};\n  ssl_dhparam {p}/dh.pem;\n\
             ssl_protocols TLSv1.2 TLSv1.3;\n  ssl_ciphers {MOZILLA_INTERMEDIATE};\n\
             ssl_prefer_server_ciphers off;\n  ssl_session_tickets off;",
            p = p.display(),
            cert = cert.cert.display(),
            key = cert.key.display(),
        ),
        p,
    );
    let v = scan_one(&local(&srv));
    assert_eq!(
        set(&ciphers(&v, "TLSv1.2")),
        set(&[
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".into(),
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256".into(),
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256".into(),
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384".into(),
            "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256".into(),
        ])
    );
    assert_eq!(v["versions"]["TLSv1.2"]["server_order"], false);
    assert_eq!(
        set(&ciphers(&v, "TLSv1.3")),
        set(&[
            "TLS_AES_256_GCM_SHA384".into(),
            "TLS_CHACHA20_POLY1305_SHA256".into(),
            "TLS_AES_128_GCM_SHA256".into(),
        ])
    );
    for version in ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"] {
        assert_eq!(v["versions"][version]["supported"], false, "{version}");
    }
    // ssl_prefer_server_ciphers off: TLS 1.2 groups and schemes follow the client too.
    assert_eq!(v["groups_server_order"]["TLSv1.2"], false, "{v}");
    assert_eq!(v["sigalgs_server_order"], false, "{v}");
    // Both 1.2 and 1.3 are spoken: ALPN is read from TLS 1.3.
    assert_eq!(probe(&v, "ALPN")["result"], "h2 (TLSv1.3)");
    assert_eq!(probe(&v, "OCSP stapling")["result"], "no (TLSv1.3)");
    assert_eq!(probe(&v, "session tickets")["result"], "no");
    assert_eq!(
        probe(&v, "TLS_FALLBACK_SCSV")["result"],
        "supported (inappropriate_fallback)"
    );
}

#[test]
fn several_targets_from_stdin_and_file_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let a = s_server(&cert, &["-tls1_2", "-cipher", "AES128-SHA"]);
    let b = s_server(&cert, &["-tls1_3"]);
    let file = dir.path().join("targets.txt");
    std::fs::write(&file, format!("# second\n{}\n", local(&b))).unwrap();
    let mut child = shakedown()
        .args(["scan", "-", "--targets-file"])
        .arg(&file)
        .args(["--json", "--concurrency", "4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", local(&a)).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "no progress bar in a pipe");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .inspect(common::assert_schema)
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["target"], local(&a));
    assert_eq!(
        ciphers(&lines[0], "TLSv1.2"),
        ["TLS_RSA_WITH_AES_128_CBC_SHA"]
    );
    assert_eq!(lines[1]["target"], local(&b));
    assert_eq!(lines[1]["versions"]["TLSv1.3"]["supported"], true);
    for v in &lines {
        check_accounting(v);
    }
}

#[test]
fn text_report_groups_by_version_and_marks_weak_suites() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let srv = s_server(
        &cert,
        &[
            "-tls1_2",
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA",
            "-serverpref",
        ],
    );
    let out = shakedown().args(["scan", &local(&srv)]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("TLSv1.2  offered      2 suites, server order  (3 handshakes)"),
        "{text}"
    );
    assert!(text.contains(" TLSv1.3  not offered"), "{text}");
    let weak_line = text
        .lines()
        .find(|l| l.contains("TLS_RSA_WITH_AES_128_CBC_SHA"))
        .unwrap();
    assert!(
        weak_line.contains("WEAK: no forward secrecy"),
        "{weak_line}"
    );
    let strong_line = text
        .lines()
        .find(|l| l.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
        .unwrap();
    assert!(!strong_line.contains("WEAK"), "{strong_line}");
}

#[test]
fn resets_before_any_answer_are_retried_and_counted() {
    let peer = hostile_peer(|mut stream| {
        read_some(&mut stream);
        let _ = socket2::SockRef::from(&stream).set_linger(Some(std::time::Duration::ZERO));
    });
    let target = peer.addr.to_string();
    let out = shakedown()
        .args([
            "scan",
            &target,
            "--json",
            "--retries",
            "1",
            "--timeout",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "nothing supported");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let handshakes = v["handshakes"].as_u64().unwrap();
    let retries = v["retries"].as_u64().unwrap();
    // One first hello per version, and the version test's shared retries (4, fewer than
    // one per hello): then the scan gives up on a target that never answered.
    assert_eq!((handshakes, retries), (6 + 4, 4), "{v}");
    assert_eq!(v["gave_up"], true);
    for version in VERSIONS {
        // A reset is no refusal: unknown, not "not offered".
        assert_eq!(v["versions"][version]["supported"], Value::Null);
    }
}

/// A closed port costs the connections already in flight, not a scan's worth; a plain HTTP
/// listener is named as not speaking TLS.
#[test]
fn closed_port_and_plain_http_are_named() {
    let port = common::free_port();
    let out = shakedown()
        .args(["scan", &format!("127.0.0.1:{port}"), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // SSLv2, TLS 1.3 and TLS 1.2 start in parallel; nothing after the first refusal.
    assert!(v["handshakes"].as_u64().unwrap() <= 3, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("refused"),
        "{}",
        v["error"]
    );

    let http = hostile_peer(|mut stream| {
        read_some(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let out = shakedown()
        .args(["scan", &http.addr.to_string(), "--json", "--timeout", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = v["error"].as_str().unwrap();
    assert!(
        error.starts_with("the server does not speak TLS") && error.contains("HTTP"),
        "{error}"
    );
}

/// A TCP proxy in front of `backend` that, like the servers the bundles are for, closes
/// the connection without a word when a ClientHello offers more than 128 suites.
/// A middlebox in front of `backend` that drops (closes on) hellos offering more than 128
/// suites or whose first record is longer than `max_record` bytes.
fn choking_proxy(backend: std::net::SocketAddr, max_record: usize) -> common::Peer {
    use std::io::Read;
    hostile_peer(move |mut client| {
        let _ = client.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let mut first = vec![0u8; 5];
        if client.read_exact(&mut first).is_err() {
            return;
        }
        let len = usize::from(u16::from_be_bytes([first[3], first[4]]));
        let mut record = vec![0u8; len];
        if first[0] != 22 || len > max_record || client.read_exact(&mut record).is_err() {
            return;
        }
        // handshake header 4, version 2, random 32, session id, then the suites' length.
        let sid = usize::from(*record.get(38).unwrap_or(&0));
        let at = 39 + sid;
        let suites = record
            .get(at..at + 2)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])) / 2);
        if suites > 128 {
            return; // dropped: FIN, no answer
        }
        let Ok(mut server) = std::net::TcpStream::connect(backend) else {
            return;
        };
        first.extend_from_slice(&record);
        if server.write_all(&first).is_err() {
            return;
        }
        let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut s2, &mut c2);
            let _ = c2.shutdown(std::net::Shutdown::Both);
        });
        let _ = std::io::copy(&mut client, &mut server);
        let _ = server.shutdown(std::net::Shutdown::Both);
    })
}

#[test]
fn server_choking_on_long_offers_is_enumerated_in_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let srv = s_server(
        &cert,
        &["-tls1_2", "-cipher", SERVER_ORDER_SUITES, "-serverpref"],
    );
    let proxy = choking_proxy(srv.addr, usize::MAX);
    let v = scan(&[&proxy.addr.to_string()], &[]).remove(0);
    let t12 = &v["versions"]["TLSv1.2"];
    assert_eq!(t12["bundled"], true, "{v}");
    assert_eq!(
        ciphers(&v, "TLSv1.2"),
        [
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ]
    );
    assert_eq!(t12["server_order"], true);
    // The silent full offer, one client-like hello, N + (bundles) for the bundles, and
    // N-1 to order the accepted suites across bundles.
    let bundles = t12["offered"].as_u64().unwrap().div_ceil(128);
    assert_eq!(
        t12["handshakes"].as_u64().unwrap(),
        2 + (3 + bundles) + 2,
        "{v}"
    );
    // Versions the server refuses cost the silent offer and the client-like one.
    assert_eq!(v["versions"]["TLSv1.0"]["handshakes"], 2);
    assert_eq!(v["versions"]["TLSv1.0"]["supported"], false);
}

#[test]
fn intolerance_is_a_group_test_split_only_when_the_combined_hello_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let srv = s_server(&cert, &["-tls1_2"]);
    let tolerant = scan_one(&local(&srv));
    assert!(
        probe(&tolerant, "all intolerance checks in one hello")["result"]
            .as_str()
            .unwrap()
            .starts_with("tolerant"),
        "{tolerant}"
    );
    for name in ["GREASE", "long hello (16000 bytes)", "unknown extension"] {
        assert_eq!(probe(&tolerant, name)["handshakes"], 0, "{name}");
        assert_eq!(
            probe(&tolerant, name)["result"],
            "tolerant (in the combined hello)"
        );
    }
    // Fragmentation is not in the combined hello (small records would hide long-hello
    // intolerance): it is the TLS 1.2 group and scheme order hello, sent fragmented.
    let fragmented = probe(&tolerant, "hello fragmented");
    assert_eq!(fragmented["handshakes"], 0, "{fragmented}");
    let result = fragmented["result"].as_str().unwrap();
    assert!(
        result.starts_with("tolerant")
            && result.ends_with("(in the TLS 1.2 group and scheme order hello)"),
        "{result}"
    );
    // Records over 1000 bytes are dropped: the combined hello fails, each check runs alone.
    let proxy = choking_proxy(srv.addr, 1000);
    let v = scan(&[&proxy.addr.to_string()], &[]).remove(0);
    assert!(
        probe(&v, "all intolerance checks in one hello")["result"]
            .as_str()
            .unwrap()
            .starts_with("refused"),
        "{v}"
    );
    let result = |name: &str| probe(&v, name)["result"].as_str().unwrap().to_string();
    assert!(
        result("long hello (600 bytes)").starts_with("tolerant"),
        "{v}"
    );
    assert!(
        result("long hello (1500 bytes)").starts_with("INTOLERANT"),
        "{v}"
    );
    assert!(
        result("long hello (16000 bytes)").starts_with("INTOLERANT"),
        "{v}"
    );
    assert!(result("GREASE").starts_with("tolerant"), "{v}");
    assert!(
        result("hello fragmented across two records").starts_with("tolerant"),
        "{v}"
    );
    assert_eq!(probe(&v, "GREASE")["handshakes"], 1);
    // Compression and heartbeat were in the refused hello too: asked alone.
    assert_eq!(probe(&v, "compression")["result"], "none", "{v}");
    assert_eq!(probe(&v, "heartbeat")["handshakes"], 1);
}

#[test]
fn suites_only_costs_sum_of_accepted_plus_one_and_order_checks() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let srv = s_server(
        &cert,
        &[
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA",
            "-serverpref",
        ],
    );
    let v = scan(&[&local(&srv)], &["--suites-only"]).remove(0);
    check_accounting(&v);
    let accepted: u64 = VERSIONS
        .iter()
        .map(|n| v["versions"][n]["ciphers"].as_array().unwrap().len() as u64)
        .sum();
    let asked = VERSIONS
        .iter()
        .filter(|n| v["versions"][n]["refused_with"].is_null())
        .count() as u64;
    // TLS 1.2 (2 suites) and TLS 1.3 (the 3 default suites) each get an order result:
    // a hello of its own, unless the picks went against our offer's order (OpenSSL's
    // TLS 1.3 order, TLS_AES_256_GCM_SHA384 first, is not ours).
    assert_eq!(v["probes"].as_array().unwrap().len(), 2, "{v}");
    let shown = |name: &str| {
        probe(&v, name)["result"]
            .as_str()
            .unwrap()
            .contains("went against")
    };
    assert!(shown("server order TLSv1.3"), "{v}");
    assert!(!shown("server order TLSv1.2"), "{v}");
    assert_eq!(v["handshakes"].as_u64().unwrap(), accepted + asked + 1);
    assert!(v["groups"].as_object().unwrap().is_empty());
}

/// A scan of at least as many targets as `--concurrency` runs its workers as coroutines on
/// an event loop (src/io/coro.rs: a target's parts one after another, every wait a
/// suspension); a target scanned alone runs on threads (its parts side by side). Against
/// the same real servers, with the same plan, both find the same, in every field but the
/// time taken.
#[test]
fn the_event_loop_finds_what_threads_find() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    let tls13 = s_server(&cert, &["-tls1_3"]);
    let tls12 = server_order_tls12(&cert);
    let targets = [local(&tls13), local(&tls12)];
    let run = |targets: &[&String], concurrency: &str| -> Vec<Value> {
        let out = shakedown()
            .arg("scan")
            .args(targets)
            .args(["--json", "--prefer", "fewer-connections", "--timeout", "5"])
            .args(["--concurrency", concurrency])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .inspect(common::assert_schema)
            .collect()
    };
    // Two targets, one slot: coroutines.
    let together = run(&[&targets[0], &targets[1]], "1");
    assert_eq!(together.len(), 2);
    for (on_loop, target) in together.iter().zip(&targets) {
        // One target, eight slots: threads.
        let alone = run(&[target], "8").remove(0);
        check_accounting(on_loop);
        let fields = on_loop.as_object().unwrap();
        assert!(fields["versions"]["TLSv1.2"]["supported"].is_boolean());
        for (k, x) in fields {
            // "expires in 2 days" may become "1 day" between the two scans.
            if k == "elapsed_ms" || k == "diagnosis" {
                continue;
            }
            assert_eq!(x, &alone[k], "{target}: {k} differs on the event loop");
        }
        assert_eq!(
            common::causes(on_loop),
            common::causes(&alone),
            "{target}: diagnosis"
        );
    }
    assert_eq!(together[0]["versions"]["TLSv1.3"]["supported"], true);
    assert_eq!(together[1]["versions"]["TLSv1.2"]["server_order"], true);
}
