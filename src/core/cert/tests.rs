//! Tests of certificate facts and chain checks, on certificates made by the `openssl`
//! command line in a temporary directory (skipped without it).

use super::*;
use crate::core::datetime::rfc3339;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::process::Command;

const CA_CONFIG: &str = "[ca]\ndefault_ca = ca_default\n[ca_default]\n\
    database = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\n\
    policy = policy_any\nunique_subject = no\nemail_in_dn = no\n\
    [policy_any]\ncommonName = supplied\norganizationName = optional\n";
const CA_EXT: &str = "basicConstraints=critical,CA:true\nkeyUsage=keyCertSign,cRLSign\n\
    subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid";

/// 2020-01-01T00:00:00Z and 2030-01-01T00:00:00Z, the default validity of test certs.
const START: i64 = 1_577_836_800;
const END: i64 = 1_893_456_000;
pub(super) const NOW: i64 = 1_700_000_000;

/// A throwaway PKI made with the `openssl` command line in a temporary directory.
pub(super) struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// `None` (and a note on stderr) when `openssl` cannot be run.
    pub(super) fn new() -> Option<Pki> {
        if Command::new("openssl").arg("version").output().is_err() {
            eprintln!("SKIPPED: the openssl command is not installed");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("ca.cnf"), CA_CONFIG).unwrap();
        std::fs::write(dir.path().join("index.txt"), "").unwrap();
        std::fs::write(dir.path().join("serial"), "1000\n").unwrap();
        Some(Pki { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `key`: `ec`, `ed25519` or `rsaNNNN`.
    fn genkey(&self, name: &str, key: &str) {
        let out = format!("{name}.key");
        match key {
            "ec" => self.run(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &out,
            ]),
            "ed25519" => self.run(&["genpkey", "-algorithm", "ED25519", "-out", &out]),
            rsa => {
                let bits = format!("rsa_keygen_bits:{}", &rsa[3..]);
                self.run(&[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    &bits,
                    "-out",
                    &out,
                ])
            }
        }
    }

    /// Issues certificate `name` for `cn` with `key`, signed by `issuer` (`None`:
    /// self-signed) with digest `md`, valid from `start` to `end` (openssl time format),
    /// with the given extension lines. Returns its DER.
    #[allow(clippy::too_many_arguments)]
    fn issue_with(
        &self,
        name: &str,
        cn: &str,
        key: &str,
        issuer: Option<&str>,
        md: &str,
        start: &str,
        end: &str,
        ext: &str,
    ) -> Vec<u8> {
        self.genkey(name, key);
        let (keyf, csr, pem, der, extf) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.der"),
            format!("{name}.ext"),
        );
        let subj = format!("/CN={cn}");
        self.run(&["req", "-new", "-key", &keyf, "-subj", &subj, "-out", &csr]);
        std::fs::write(self.path().join(&extf), format!("[ext]\n{ext}\n")).unwrap();
        let mut args = vec![
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-notext",
            "-in",
            &csr,
            "-out",
            &pem,
            "-startdate",
            start,
            "-enddate",
            end,
            "-extfile",
            &extf,
            "-extensions",
            "ext",
        ];
        if key != "ed25519" {
            args.extend(["-md", md]);
        }
        let (issuer_cert, issuer_key);
        match issuer {
            None => args.extend(["-selfsign", "-keyfile", &keyf]),
            Some(i) => {
                issuer_cert = format!("{i}.pem");
                issuer_key = format!("{i}.key");
                args.extend(["-cert", &issuer_cert, "-keyfile", &issuer_key]);
            }
        }
        self.run(&args);
        self.run(&["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
        std::fs::read(self.path().join(der)).unwrap()
    }

    fn issue(&self, name: &str, cn: &str, issuer: Option<&str>, ext: &str) -> Vec<u8> {
        self.issue_with(
            name,
            cn,
            "ec",
            issuer,
            "sha256",
            "20200101000000Z",
            "20300101000000Z",
            ext,
        )
    }

    /// Root → intermediate → leaf for `www.example.com`; returns (leaf, inter, root).
    pub(super) fn three_level(&self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let root = self.issue("root", "Test Root", None, CA_EXT);
        let inter = self.issue("inter", "Test Intermediate", Some("root"), CA_EXT);
        let leaf = self.issue(
            "leaf",
            "www.example.com",
            Some("inter"),
            "subjectAltName=DNS:www.example.com,DNS:example.com\n\
             authorityKeyIdentifier=keyid\n\
             authorityInfoAccess=caIssuers;URI:http://ca.test/inter.der",
        );
        (leaf, inter, root)
    }
}

pub(super) fn causes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.cause().id()).collect()
}

#[test]
fn extended_key_usage_without_server_auth_is_a_finding() {
    let Some(pki) = Pki::new() else { return };
    let root = pki.issue("root", "Test Root", None, CA_EXT);
    let mut trust = TrustStore::default();
    trust.add_der(&root).unwrap();
    let san = "subjectAltName=DNS:www.example.com\n";
    for (name, eku, wrong) in [
        ("client", "extendedKeyUsage=clientAuth", true),
        ("mail", "extendedKeyUsage=emailProtection,codeSigning", true),
        ("server", "extendedKeyUsage=serverAuth,clientAuth", false),
        (
            "any",
            "extendedKeyUsage=anyExtendedKeyUsage,clientAuth",
            false,
        ),
        ("none", "", false),
    ] {
        let leaf = pki.issue(
            name,
            "www.example.com",
            Some("root"),
            &format!("{san}{eku}"),
        );
        let (certs, findings) =
            check_chain_with(&[leaf], Some("www.example.com"), NOW, Some(&trust));
        assert_eq!(certs[0].allows_server_auth(), !wrong, "{name}");
        let want: &[&str] = if wrong { &["wrong_key_usage"] } else { &[] };
        assert_eq!(causes(&findings), want, "{name}: {findings:?}");
        if wrong {
            assert!(findings[0].detail().contains("not serverAuth"), "{name}");
        }
    }
    let (certs, findings) = check_chain(
        &[pki.issue("c2", "x", Some("root"), "extendedKeyUsage=clientAuth")],
        None,
        NOW,
    );
    assert_eq!(
        certs[0].extended_key_usage,
        Some(vec!["clientAuth".to_owned()])
    );
    assert_eq!(
        findings
            .iter()
            .find(|f| f.cause().id() == "wrong_key_usage"),
        Some(&Finding::WrongKeyUsage {
            index: 0,
            purposes: vec!["clientAuth".into()]
        })
    );
}

#[test]
fn parses_fields() {
    let Some(pki) = Pki::new() else { return };
    let (leaf, inter, root) = pki.three_level();
    let l = parse_certificate(&leaf).unwrap();
    assert_eq!(l.subject, "CN=www.example.com");
    assert_eq!(certificate_subject(&leaf).unwrap(), l.subject);
    assert_eq!(l.issuer, "CN=Test Intermediate");
    assert_eq!(l.common_name.as_deref(), Some("www.example.com"));
    assert_eq!(l.san, ["www.example.com", "example.com"]);
    assert_eq!((l.not_before, l.not_after), (START, END));
    assert_eq!(l.key, "EC P-256");
    assert_eq!(l.signature_algorithm, "ecdsa-with-SHA256");
    assert_eq!(l.aia_ca_issuers, ["http://ca.test/inter.der"]);
    assert!(!l.is_ca && !l.self_signed);
    assert_eq!(l.sha256, hex::encode(Sha256::digest(&leaf)));
    assert_eq!(l.sha256.len(), 64);
    let i = parse_certificate(&inter).unwrap();
    assert!(i.is_ca && !i.self_signed);
    assert_eq!(i.key_usage, ["keyCertSign", "cRLSign"]);
    assert_eq!(l.authority_key_id, i.subject_key_id);
    assert!(l.authority_key_id.is_some());
    let r = parse_certificate(&root).unwrap();
    assert!(r.is_ca && r.self_signed);
    assert_eq!(r.subject_der, r.issuer_der);
    // openssl's own view of the serial (hex, serial file started at 1000).
    assert_eq!(r.serial, "10:00");
}

#[test]
fn rejects_garbage_and_trailing_bytes() {
    assert!(parse_certificate(&[]).is_err());
    assert!(parse_certificate(&[0x30, 0x82, 0xff, 0xff, 0x01]).is_err());
    let Some(pki) = Pki::new() else { return };
    let mut der = pki.issue("a", "a.test", None, "basicConstraints=CA:false");
    assert!(parse_certificate(&der).is_ok());
    der.push(0);
    assert!(
        parse_certificate(&der)
            .unwrap_err()
            .problem
            .contains("after its end")
    );
    assert!(certificate_subject(&der).is_err());
    // Every truncation is an error, never a panic.
    der.pop();
    for n in 0..der.len() {
        assert!(parse_certificate(&der[..n]).is_err(), "truncated to {n}");
    }
    let (_, findings) = check_chain(&[der[..50].to_vec()], Some("a.test"), NOW);
    assert_eq!(causes(&findings), ["certificate_unparseable"]);
}

#[test]
fn good_chain_has_no_findings() {
    let Some(pki) = Pki::new() else { return };
    let (leaf, inter, root) = pki.three_level();
    let (infos, findings) =
        check_chain(&[leaf.clone(), inter.clone()], Some("www.example.com"), NOW);
    assert_eq!(infos.len(), 2);
    assert_eq!(findings, []);
    // With the root sent too, and with the host in another case with a trailing dot.
    let (_, findings) = check_chain(&[leaf, inter, root], Some("WWW.Example.COM."), NOW);
    assert_eq!(findings, []);
}

#[test]
fn validity_against_the_given_clock() {
    let Some(pki) = Pki::new() else { return };
    let (leaf, inter, _) = pki.three_level();
    let chain = [leaf, inter];
    let host = Some("example.com");
    let (_, f) = check_chain(&chain, host, END + 1);
    assert_eq!(
        f,
        [
            Finding::Expired {
                index: 0,
                not_after: END
            },
            Finding::Expired {
                index: 1,
                not_after: END
            }
        ]
    );
    assert_eq!(
        f[0].detail(),
        "certificate 0 expired at 2030-01-01T00:00:00Z"
    );
    // not_after itself is still valid (RFC 5280: inclusive), with 0 days left.
    let (_, f) = check_chain(&chain, host, END);
    assert_eq!(
        f[0],
        Finding::ExpiresSoon {
            index: 0,
            days_left: 0
        }
    );
    let (_, f) = check_chain(&chain, host, START - 1);
    assert_eq!(causes(&f), ["certificate_not_yet_valid"; 2]);
    let (_, f) = check_chain(&chain, host, END - 10 * DAY - 5);
    assert_eq!(
        f[1],
        Finding::ExpiresSoon {
            index: 1,
            days_left: 10
        }
    );
    let (_, f) = check_chain(&chain, host, END - 30 * DAY);
    assert_eq!(f, []);
}

#[test]
fn dates_set_by_openssl_ca() {
    let Some(pki) = Pki::new() else { return };
    let der = pki.issue_with(
        "old",
        "old.test",
        "ec",
        None,
        "sha256",
        "20100601120000Z",
        "20110601120000Z",
        "basicConstraints=CA:false",
    );
    let c = parse_certificate(&der).unwrap();
    assert_eq!(rfc3339(c.not_before), "2010-06-01T12:00:00Z");
    assert_eq!(rfc3339(c.not_after), "2011-06-01T12:00:00Z");
    let (_, f) = check_chain(&[der], None, NOW);
    assert!(f.contains(&Finding::Expired {
        index: 0,
        not_after: c.not_after
    }));
    assert!(causes(&f).contains(&"self_signed"));
}

#[test]
fn hostname_rules() {
    let Some(pki) = Pki::new() else { return };
    let wild = parse_certificate(&pki.issue(
        "w",
        "ignored.test",
        None,
        "subjectAltName=DNS:*.example.com,DNS:exact.test,IP:127.0.0.1,IP:::1",
    ))
    .unwrap();
    assert!(matches_host(&wild, "www.example.com"));
    assert!(matches_host(&wild, "API.EXAMPLE.COM"));
    assert!(
        !matches_host(&wild, "example.com"),
        "wildcard needs one label"
    );
    assert!(
        !matches_host(&wild, "a.b.example.com"),
        "wildcard spans one label"
    );
    assert!(matches_host(&wild, "exact.test"));
    assert!(
        !matches_host(&wild, "ignored.test"),
        "CN is ignored when SAN has DNS"
    );
    assert!(matches_host(&wild, "127.0.0.1"));
    assert!(matches_host(&wild, "[::1]"));
    assert!(matches_host(&wild, "0:0::1"));
    assert!(!matches_host(&wild, "127.0.0.2"));

    let cn_only =
        parse_certificate(&pki.issue("c", "cn.test", None, "basicConstraints=CA:false")).unwrap();
    assert!(matches_host(&cn_only, "cn.test"));
    assert!(!matches_host(&cn_only, "other.test"));

    let ip_only =
        parse_certificate(&pki.issue("i", "10.0.0.1", None, "subjectAltName=IP:10.0.0.2")).unwrap();
    assert!(matches_host(&ip_only, "10.0.0.2"));
    assert!(
        !matches_host(&ip_only, "10.0.0.1"),
        "no CN matching for IP hosts"
    );
    assert!(
        !matches_host(&ip_only, "ip.test"),
        "an IP SAN does not stand in for the CN"
    );

    let bad_wild = parse_certificate(&pki.issue(
        "b",
        "b",
        None,
        "subjectAltName=DNS:*.com,DNS:f*.example.org,DNS:*.*.example.net",
    ))
    .unwrap();
    for host in [
        "example.com",
        "foo.example.org",
        "a.b.example.net",
        "x.y.example.net",
    ] {
        assert!(!matches_host(&bad_wild, host), "{host}");
    }

    let (leaf, inter, _) = pki.three_level();
    let (_, f) = check_chain(&[leaf, inter], Some("mail.example.com"), NOW);
    assert_eq!(
        f,
        [Finding::HostnameMismatch {
            host: "mail.example.com".into(),
            names: vec!["www.example.com".into(), "example.com".into()]
        }]
    );
    assert_eq!(f[0].cause().id(), "hostname_mismatch");
}

#[test]
fn chain_order_and_missing_issuers() {
    let Some(pki) = Pki::new() else { return };
    let (leaf, inter, root) = pki.three_level();
    let host = Some("www.example.com");

    // Leaf alone: its issuer is missing, with the AIA location.
    let (_, f) = check_chain(std::slice::from_ref(&leaf), host, NOW);
    assert_eq!(
        f,
        [Finding::IssuerMissing {
            index: 0,
            issuer: "CN=Test Intermediate".into(),
            aia: Some("http://ca.test/inter.der".into())
        }]
    );
    assert_eq!(f[0].cause().id(), "incomplete_chain");

    // Leaf and root, intermediate left out.
    let (_, f) = check_chain(&[leaf.clone(), root.clone()], host, NOW);
    assert_eq!(causes(&f), ["incomplete_chain"]);

    // Leaf, root, intermediate: everything is there, in the wrong order.
    let (_, f) = check_chain(&[leaf.clone(), root.clone(), inter.clone()], host, NOW);
    assert_eq!(causes(&f), ["chain_misordered"]);
    let detail = f[0].detail();
    assert!(detail.contains("certificate 0 (CN=www.example.com) is issued by certificate 2"));
    assert!(detail.contains("certificate 2 (CN=Test Intermediate) is issued by certificate 1"));

    // Intermediate first: the wrong certificate is presented as the server's.
    let (_, f) = check_chain(&[inter.clone(), leaf.clone()], host, NOW);
    assert_eq!(causes(&f), ["hostname_mismatch", "chain_misordered"]);
    assert!(f[1].detail().contains("must come first"));

    // An intermediate from another hierarchy with the same name but another key.
    let other = Pki::new().unwrap();
    let (_, foreign_inter, _) = other.three_level();
    let (_, f) = check_chain(&[leaf, foreign_inter], host, NOW);
    assert_eq!(causes(&f), ["incomplete_chain"]);
}

#[test]
fn path_findings_do_not_depend_on_the_clock() {
    let Some(pki) = Pki::new() else { return };
    let root = pki.issue("root", "Test Root", None, CA_EXT);
    let not_ca = pki.issue(
        "notca",
        "Not A CA",
        Some("root"),
        "basicConstraints=CA:false",
    );
    let leaf = pki.issue(
        "leaf",
        "www.example.com",
        Some("notca"),
        "subjectAltName=DNS:www.example.com",
    );
    let mut trust = TrustStore::default();
    trust.add_der(&root).unwrap();
    let chain = [leaf, not_ca];
    let invalid_ca = Finding::InvalidCa {
        index: Some(1),
        subject: "CN=Not A CA".into(),
        reason: "it is not a CA (basicConstraints CA:FALSE or none)",
    };
    let host = Some("www.example.com");
    let (_, f) = check_chain_with(&chain, host, NOW, Some(&trust));
    assert_eq!(f, std::slice::from_ref(&invalid_ca));
    // Expired or not yet valid, the structure is still judged, besides the dates.
    let (_, f) = check_chain_with(&chain, host, END + 1, Some(&trust));
    assert_eq!(
        causes(&f),
        ["certificate_expired", "certificate_expired", "invalid_ca"]
    );
    let (_, f) = check_chain_with(&chain, host, START - 1, Some(&trust));
    assert_eq!(f.last(), Some(&invalid_ca));
    // Without the root in the store, webpki stops at the CA flag; the issuer nobody
    // holds is named too.
    let (_, f) = check_chain_with(&chain, host, NOW, Some(&TrustStore::default()));
    assert_eq!(
        f,
        [
            invalid_ca,
            Finding::UnknownIssuer {
                index: 1,
                issuer: "CN=Test Root".into()
            }
        ]
    );
}

#[test]
fn self_signed_leaf() {
    let Some(pki) = Pki::new() else { return };
    let der = pki.issue(
        "s",
        "self.test",
        None,
        "subjectAltName=DNS:self.test\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid",
    );
    let (infos, f) = check_chain(&[der], Some("self.test"), NOW);
    assert!(infos[0].self_signed);
    assert_eq!(
        f,
        [Finding::SelfSigned {
            subject: "CN=self.test".into()
        }]
    );
    assert_eq!(
        f[0].detail(),
        "the server certificate (CN=self.test) is self-signed"
    );
}

#[test]
fn weak_keys_and_signatures() {
    let Some(pki) = Pki::new() else { return };
    let weak = pki.issue_with(
        "weak",
        "weak.test",
        "rsa1024",
        None,
        "sha1",
        "20200101000000Z",
        "20300101000000Z",
        "subjectAltName=DNS:weak.test",
    );
    let c = parse_certificate(&weak).unwrap();
    assert_eq!(c.key, "RSA 1024");
    assert_eq!(c.signature_algorithm, "sha1WithRSAEncryption");
    let (_, f) = check_chain(&[weak], Some("weak.test"), NOW);
    assert_eq!(
        f,
        [
            Finding::SelfSigned {
                subject: "CN=weak.test".into()
            },
            Finding::WeakKey {
                index: 0,
                key: "RSA 1024".into()
            },
            Finding::WeakSignature {
                index: 0,
                algorithm: "sha1WithRSAEncryption".into()
            },
        ]
    );
    assert_eq!(causes(&f[1..]), ["weak_key", "weak_signature"]);

    let strong = pki.issue_with(
        "strong",
        "strong.test",
        "rsa2048",
        None,
        "sha256",
        "20200101000000Z",
        "20300101000000Z",
        "subjectAltName=DNS:strong.test",
    );
    let c = parse_certificate(&strong).unwrap();
    assert_eq!(c.key, "RSA 2048");
    assert_eq!(c.signature_algorithm, "sha256WithRSAEncryption");
    let (_, f) = check_chain(&[strong], Some("strong.test"), NOW);
    assert_eq!(causes(&f), ["self_signed"]);

    let ed = pki.issue_with(
        "ed",
        "ed.test",
        "ed25519",
        None,
        "",
        "20200101000000Z",
        "20300101000000Z",
        "subjectAltName=DNS:ed.test",
    );
    let c = parse_certificate(&ed).unwrap();
    assert_eq!(
        (c.key.as_str(), c.signature_algorithm.as_str()),
        ("Ed25519", "ed25519")
    );
}

#[test]
fn sha1_root_is_not_a_weak_signature() {
    let Some(pki) = Pki::new() else { return };
    pki.issue_with(
        "root",
        "Old Root",
        "ec",
        None,
        "sha1",
        "20200101000000Z",
        "20300101000000Z",
        CA_EXT,
    );
    let root = std::fs::read(pki.path().join("root.der")).unwrap();
    let leaf = pki.issue("leaf", "x.test", Some("root"), "subjectAltName=DNS:x.test");
    let (_, f) = check_chain(&[leaf, root], Some("x.test"), NOW);
    assert_eq!(f, []);
}
