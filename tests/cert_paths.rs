//! Path validation against real `openssl s_server`s, each chain broken in one way, and
//! the same server asked of `openssl s_client -verify_return_error`: shakedown's cause id
//! and OpenSSL's verify error must name the same rule.

mod common;

use common::{Issued, Pki, causes, json_output, s_client_verify, s_server, shakedown};
use std::path::Path;

const CA: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";

fn leaf_ext(host: &str) -> String {
    format!("basicConstraints=CA:FALSE\nsubjectAltName=DNS:{host}\nextendedKeyUsage=serverAuth\n")
}

/// `shakedown probe host:port --connect 127.0.0.1 --ca ca --json`: the cause ids.
fn probe(host: &str, port: u16, ca: &Path) -> Vec<String> {
    let mut cmd = shakedown();
    cmd.args([
        "probe",
        &format!("{host}:{port}"),
        "--connect",
        "127.0.0.1",
        "--json",
    ])
    .arg("--ca")
    .arg(ca);
    causes(&json_output(&mut cmd).1)
}

/// Serves `leaf` (with its chain) and checks both verdicts: shakedown names `cause` (and
/// never `not`), OpenSSL fails with `openssl_error`.
fn agree(leaf: &Issued, host: &str, ca: &Path, cause: &str, not: &[&str], openssl_error: &str) {
    let srv = s_server(leaf, &[]);
    let ours = probe(host, srv.port, ca);
    assert!(ours.iter().any(|c| c == cause), "{cause}: {ours:?}");
    for n in not {
        assert!(!ours.iter().any(|c| c == n), "{n} in {ours:?}");
    }
    let theirs = s_client_verify(srv.port, ca, Some(host));
    assert!(
        theirs.contains(openssl_error),
        "openssl was expected to say {openssl_error:?}:\n{theirs}"
    );
}

#[test]
fn intermediate_with_ca_false_is_invalid_ca() {
    let pki = Pki::new();
    let not_ca = pki.issue_with_ext(
        "notca",
        "Not A CA",
        &pki.root(),
        "basicConstraints=CA:FALSE\n",
        &[],
    );
    let leaf = pki.issue_with_ext("leaf", "a.test", &not_ca, &leaf_ext("a.test"), &[&not_ca]);
    agree(
        &leaf,
        "a.test",
        &pki.root().cert,
        "invalid_ca",
        &["unknown_issuer", "incomplete_chain"],
        "invalid CA certificate",
    );
}

#[test]
fn ca_without_key_cert_sign_is_invalid_ca() {
    let pki = Pki::new();
    let ca = pki.issue_with_ext(
        "nokcs",
        "No keyCertSign",
        &pki.root(),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,cRLSign\n",
        &[],
    );
    let leaf = pki.issue_with_ext("leaf", "b.test", &ca, &leaf_ext("b.test"), &[&ca]);
    agree(
        &leaf,
        "b.test",
        &pki.root().cert,
        "invalid_ca",
        &["unknown_issuer"],
        "invalid CA certificate",
    );
}

#[test]
fn path_length_zero_exceeded() {
    let pki = Pki::new();
    let int1 = pki.issue_with_ext(
        "int1",
        "Int pathlen 0",
        &pki.root(),
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
        &[],
    );
    let int2 = pki.issue_with_ext("int2", "Int below", &int1, CA, &[]);
    let leaf = pki.issue_with_ext(
        "leaf",
        "c.test",
        &int2,
        &leaf_ext("c.test"),
        &[&int2, &int1],
    );
    agree(
        &leaf,
        "c.test",
        &pki.root().cert,
        "path_length_exceeded",
        &["unknown_issuer"],
        "path length constraint exceeded",
    );
}

#[test]
fn name_constraint_violated() {
    let pki = Pki::new();
    let ca = pki.issue_with_ext(
        "nc",
        "Constrained CA",
        &pki.root(),
        &format!("{CA}nameConstraints=critical,permitted;DNS:.allowed.test\n"),
        &[],
    );
    let leaf = pki.issue_with_ext("leaf", "other.test", &ca, &leaf_ext("other.test"), &[&ca]);
    agree(
        &leaf,
        "other.test",
        &pki.root().cert,
        "name_constraint_violated",
        &["unknown_issuer"],
        "permitted subtree violation",
    );
    // A name inside the subtree passes both.
    let good = pki.issue_with_ext(
        "good",
        "www.allowed.test",
        &ca,
        &leaf_ext("www.allowed.test"),
        &[&ca],
    );
    let srv = s_server(&good, &[]);
    let ours = probe("www.allowed.test", srv.port, &pki.root().cert);
    assert!(ours.is_empty(), "{ours:?}");
    let theirs = s_client_verify(srv.port, &pki.root().cert, Some("www.allowed.test"));
    assert!(theirs.contains("Verify return code: 0 (ok)"), "{theirs}");
}

#[test]
fn client_auth_only_leaf_is_wrong_key_usage() {
    let pki = Pki::new();
    let leaf = pki.issue_with_ext(
        "leaf",
        "d.test",
        &pki.intermediate(),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:d.test\nextendedKeyUsage=clientAuth\n",
        &[&pki.intermediate()],
    );
    agree(
        &leaf,
        "d.test",
        &pki.root().cert,
        "wrong_key_usage",
        &["unknown_issuer"],
        "unsuitable certificate purpose",
    );
}

#[test]
fn intermediate_not_sent_is_unknown_issuer_or_with_aia_incomplete_chain() {
    let pki = Pki::new();
    let root = pki.root().cert;
    // No evidence: the issuer may as well be a private CA.
    let bare = pki.issue_with_ext(
        "bare",
        "e.test",
        &pki.intermediate(),
        &leaf_ext("e.test"),
        &[],
    );
    agree(
        &bare,
        "e.test",
        &root,
        "unknown_issuer",
        &["incomplete_chain", "untrusted_root"],
        "unable to get local issuer certificate",
    );
    // The leaf says where its issuer is published: an intermediate was left out.
    let with_aia = pki.issue_with_ext(
        "aia",
        "f.test",
        &pki.intermediate(),
        &format!(
            "{}authorityInfoAccess=caIssuers;URI:http://127.0.0.1:9/int.der\n",
            leaf_ext("f.test")
        ),
        &[],
    );
    agree(
        &with_aia,
        "f.test",
        &root,
        "incomplete_chain",
        &["unknown_issuer", "untrusted_root"],
        "unable to get local issuer certificate",
    );
}

#[test]
fn private_root_is_not_an_incomplete_chain() {
    let pki = Pki::new();
    // Trusted: some other private root, not the one that issued the leaf.
    let other = Pki::new();
    let direct = pki.issue_with_ext("direct", "g.test", &pki.root(), &leaf_ext("g.test"), &[]);
    agree(
        &direct,
        "g.test",
        &other.root().cert,
        "unknown_issuer",
        &["incomplete_chain", "untrusted_root"],
        "unable to get local issuer certificate",
    );
    // With the root sent too, the chain ends in a root the store does not hold.
    let with_root = pki.issue_with_ext(
        "withroot",
        "g.test",
        &pki.root(),
        &leaf_ext("g.test"),
        &[&pki.root()],
    );
    agree(
        &with_root,
        "g.test",
        &other.root().cert,
        "untrusted_root",
        &["incomplete_chain", "unknown_issuer"],
        "self-signed certificate in certificate chain",
    );
    // And trusted, the same chain is fine for both.
    let srv = s_server(&direct, &[]);
    let ours = probe("g.test", srv.port, &pki.root().cert);
    assert!(ours.is_empty(), "{ours:?}");
    let theirs = s_client_verify(srv.port, &pki.root().cert, Some("g.test"));
    assert!(theirs.contains("Verify return code: 0 (ok)"), "{theirs}");
}

#[test]
fn host_name_verdicts_agree() {
    let pki = Pki::new();
    let leaf = pki.leaf("h.test");
    agree(
        &leaf,
        "other.h.test",
        &pki.root().cert,
        "hostname_mismatch",
        &["unknown_issuer"],
        "hostname mismatch",
    );
}
