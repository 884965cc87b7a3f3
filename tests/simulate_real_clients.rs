//! `simulate` against real `openssl s_server` processes: a built-in profile (recorded from a
//! real client by profiles/record.sh) must make a server choose what that real client gets
//! from it. Each test runs the real client (s_client, curl, python, node) against the server,
//! reads what it negotiated from the client's own output, then simulates the profile.
//! Servers of known configuration (TLS 1.2 only, TLS 1.3 only, legacy TLS 1.0) give the
//! expected per-client results.

mod common;

use common::{Issued, Pki, Server, rsa_cert, s_server, shakedown};
use serde_json::Value;
use shakedown::core::wire::ProtocolVersion;
use shakedown::core::wire::registry::{parse_suite, suite_name};
use std::process::{Command, Stdio};

/// Runs `simulate --json` against the server; one object per client, by name.
fn simulate(srv: &Server, clients: &[&str]) -> Vec<Value> {
    let mut cmd = shakedown();
    cmd.args([
        "simulate",
        &format!("localhost:{}", srv.port),
        "--json",
        "--no-testssl",
    ]);
    cmd.args(["--connect", "127.0.0.1", "--timeout", "5"]);
    for c in clients {
        cmd.args(["--client", c]);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.is_empty(),
        "no output: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .inspect(common::assert_schema)
        .collect()
}

fn by_name<'a>(results: &'a [Value], name: &str) -> &'a Value {
    results
        .iter()
        .find(|v| v["client"] == name)
        .unwrap_or_else(|| panic!("no result for {name}: {results:?}"))
}

/// (version, IANA suite name) the simulation got, or None for a failure.
fn negotiated(v: &Value) -> Option<(String, String)> {
    if v["connects"] != true {
        return None;
    }
    Some((
        v["server_hello"]["version"].as_str()?.to_string(),
        v["server_hello"]["cipher"].as_str()?.to_string(),
    ))
}

/// A version as a client printed it (OpenSSL says `TLSv1` for TLS 1.0) in shakedown's form.
fn version(name: &str) -> String {
    let name = if name == "TLSv1" { "TLSv1.0" } else { name };
    ProtocolVersion::parse(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .to_string()
}

/// A suite name as a client printed it (OpenSSL or IANA) in IANA form.
fn iana(name: &str) -> String {
    suite_name(parse_suite(name).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
}

/// What `openssl s_client -brief` negotiated, None if the handshake failed.
fn s_client(port: u16, args: &[&str]) -> Option<(String, String)> {
    let text = run(Command::new("openssl")
        .args([
            "s_client",
            "-brief",
            "-connect",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["-servername", "localhost"])
        .args(args));
    let version = after(&text, "Protocol version:")?;
    let suite = after(&text, "Ciphersuite:")?;
    Some((self::version(version), iana(suite)))
}

/// What curl negotiated (its verbose "SSL connection using" line).
fn curl(port: u16) -> Option<(String, String)> {
    let text = run(Command::new("curl")
        .args(["-skv", "--max-time", "5", "--resolve"])
        .arg(format!("localhost:{port}:127.0.0.1"))
        .arg(format!("https://localhost:{port}/")));
    let line = after(&text, "* SSL connection using")?;
    let (v, s) = line.split_once(" / ")?;
    Some((version(v.trim()), iana(s.trim())))
}

/// What Python's ssl default context negotiated.
fn python(port: u16) -> Option<(String, String)> {
    let script = "import socket,ssl,sys\nc=ssl.create_default_context()\nc.check_hostname=False\nc.verify_mode=ssl.CERT_NONE\ntry:\n s=c.wrap_socket(socket.create_connection(('127.0.0.1',int(sys.argv[1]))),server_hostname='localhost')\n print(s.version(),s.cipher()[0])\nexcept Exception as e:\n print('FAIL',e)\n";
    let text = run(Command::new("python3").args(["-c", script, &port.to_string()]));
    let (v, s) = text.trim().split_once(' ')?;
    (v != "FAIL").then(|| (version(v), iana(s)))
}

/// What Node.js negotiated (it reports the IANA name itself).
fn node(port: u16) -> Option<(String, String)> {
    let script = "const s=require('tls').connect({host:'127.0.0.1',port:+process.argv[1],servername:'localhost',rejectUnauthorized:false},()=>{console.log(s.getProtocol(),s.getCipher().standardName);s.end()});s.on('error',e=>console.log('FAIL',e.code))";
    let text = run(Command::new("node").args(["-e", script, &port.to_string()]));
    let (v, s) = text.trim().split_once(' ')?;
    (v != "FAIL").then(|| (version(v), iana(s)))
}

/// For each server configuration, every real client and its profile get the same answer.
#[test]
fn profiles_get_what_their_real_clients_get() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ecdsa = pki.leaf("localhost");
    let rsa = rsa_cert(dir.path(), "localhost");
    let configs: Vec<(&Issued, Vec<&str>)> = vec![
        (&ecdsa, vec![]),
        (&rsa, vec!["-tls1_2"]),
        (
            &rsa,
            vec![
                "-tls1_2",
                "-cipher",
                "AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256",
                "-serverpref",
            ],
        ),
        (
            &ecdsa,
            vec![
                "-tls1_3",
                "-ciphersuites",
                "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
            ],
        ),
        (&rsa, vec!["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
    ];
    let mut compared = 0;
    for (cert, args) in &configs {
        let srv = s_server(cert, args);
        let p = srv.port;
        let reals: Vec<(&str, Option<(String, String)>)> = vec![
            ("openssl-3.0", s_client(p, &[])),
            ("openssl-3.0-tls1_2", s_client(p, &["-tls1_2"])),
            ("openssl-3.0-tls1_3", s_client(p, &["-tls1_3"])),
            (
                "openssl-3.0-tls1",
                s_client(p, &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]),
            ),
            ("curl-7.88", curl(p)),
            ("python-3.11", python(p)),
            ("node-20", node(p)),
        ];
        let names: Vec<&str> = reals.iter().map(|r| r.0).collect();
        let sim = simulate(&srv, &names);
        for (name, real) in &reals {
            let got = negotiated(by_name(&sim, name));
            assert_eq!(
                &got, real,
                "server {args:?}: profile {name} got {got:?}, the real client {real:?}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 35);
}

fn outcome(v: &Value) -> String {
    if v["client_refuses"].is_string() {
        return "client_refuses".into();
    }
    match negotiated(v) {
        Some((ver, _)) => ver,
        None => format!(
            "{}:{}",
            v["outcome"].as_str().unwrap_or("?"),
            v["alert"]["description"].as_str().unwrap_or("-")
        ),
    }
}

#[test]
fn tls12_only_server() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_2"]);
    let sim = simulate(&srv, &[]);
    assert_eq!(sim.len(), 11, "{sim:?}");
    for v in &sim {
        let name = v["client"].as_str().unwrap();
        let want = match name {
            "openssl-3.0-tls1_3" | "openssl-3.0-tls1" | "openssl-3.0-tls1_1" => {
                "alert:protocol_version"
            }
            _ => "TLSv1.2",
        };
        assert_eq!(outcome(v), want, "{name}: {v}");
        assert_eq!(v["sni"], "localhost", "{name}");
    }
}

#[test]
fn tls13_only_server() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &["-tls1_3"]);
    let sim = simulate(&srv, &[]);
    for v in &sim {
        let name = v["client"].as_str().unwrap();
        let want = match name {
            "openssl-3.0-tls1_2" | "openssl-3.0-tls1" | "openssl-3.0-tls1_1" => {
                "alert:protocol_version"
            }
            _ => "TLSv1.3",
        };
        assert_eq!(outcome(v), want, "{name}: {v}");
    }
    let failed: Vec<_> = sim.iter().filter(|v| negotiated(v).is_none()).collect();
    assert!(failed.iter().all(|v| {
        v["diagnosis"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["cause"] == "protocol_mismatch")
    }));
}

/// A TLS 1.0-only server answers every hello that allows TLS 1.0 in its legacy_version
/// logic with TLS 1.0; clients that do not accept it abort (client_refuses), clients whose
/// hello rules it out get protocol_version.
#[test]
fn legacy_tls10_server() {
    let dir = tempfile::tempdir().unwrap();
    let srv = s_server(
        &rsa_cert(dir.path(), "localhost"),
        &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"],
    );
    let sim = simulate(&srv, &[]);
    assert_eq!(sim.len(), 11);
    for v in &sim {
        let name = v["client"].as_str().unwrap();
        let want = match name {
            "openssl-3.0-tls1" | "gnutls-3.7" => "TLSv1.0",
            "openssl-3.0" | "openssl-3.0-tls1_2" | "openssl-3.0-tls1_1" | "curl-7.88" => {
                "client_refuses"
            }
            _ => "alert:protocol_version",
        };
        assert_eq!(outcome(v), want, "{name}: {v}");
    }
}

#[test]
fn text_table_and_exit_codes() {
    let pki = Pki::new();
    let srv = s_server(&pki.leaf("localhost"), &[]);
    // The text table (no --json) for these clients.
    let simulate_text = |clients: &[&str]| {
        let mut cmd = shakedown();
        cmd.args([
            "simulate",
            &format!("localhost:{}", srv.port),
            "--no-testssl",
        ])
        .args(["--connect", "127.0.0.1"]);
        for c in clients {
            cmd.args(["--client", c]);
        }
        cmd.output().unwrap()
    };
    let out = simulate_text(&["curl", "NODE"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("curl-7.88") && text.contains("node-20"),
        "{text}"
    );
    assert!(text.contains("2 of 2 clients would connect"), "{text}");
    // A client that fails (TLS 1.1 only against a default OpenSSL 3 server): exit 1.
    let out = simulate_text(&["tls1_1", "tls1_2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1 of 2 clients would connect"), "{text}");
    let out = shakedown()
        .args([
            "simulate",
            "localhost:1",
            "--no-testssl",
            "--client",
            "nomatch",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn list_and_profile_files() {
    let out = shakedown()
        .args(["simulate", "--list", "--no-testssl"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 11, "{text}");
    assert!(
        text.contains("java-17") && text.contains("TLSv1.3"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.txt");
    std::fs::write(&file, "[profile mine]\nhello = zz\n").unwrap();
    let out = shakedown()
        .args(["simulate", "--list", "--no-testssl", "--profiles"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}
