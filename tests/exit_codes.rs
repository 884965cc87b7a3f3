//! The exit-code rule, one test per command: 0 the command worked and nothing failed, 1 a
//! failure was observed (a handshake failed, a client would fail, two sides differ), 2 bad
//! usage or input that could not be read. Each test runs the command through the binary
//! against a real `openssl s_server` on loopback or the bundled captures; the deeper cases
//! (one of several inputs unreadable, signals, hostile peers) are in the command's own test
//! file. A command that cannot observe a failure (`hello`, `decode`, `completions`, `man`)
//! has no exit 1; `exporter` runs until it is stopped, so only its start is checked.

mod common;

use common::{Server, capture, free_port, rsa_cert, s_server, shakedown};

/// Runs shakedown with `args` and returns its exit code and what it printed (stderr, then
/// stdout: `decode` reports bytes that do not decode whole as its output).
fn exit_code(args: &[&str]) -> (i32, String) {
    let out = shakedown().args(args).output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    (out.status.code().unwrap_or(-1), printed)
}

/// Asserts the exit code of each command line, naming the line on failure.
fn assert_codes(cases: &[(i32, Vec<&str>)]) {
    for (expected, args) in cases {
        let (code, printed) = exit_code(args);
        assert_eq!(code, *expected, "shakedown {}: {printed}", args.join(" "));
        if *expected == 2 {
            assert!(
                !printed.trim().is_empty(),
                "shakedown {}: exit 2 says why",
                args.join(" ")
            );
        }
    }
}

/// A default `openssl s_server` (TLS 1.2 and 1.3, OpenSSL 3's security level) with a
/// self-signed RSA certificate for localhost, and the directory holding its files.
fn rsa_server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cert = rsa_cert(dir.path(), "localhost");
    (s_server(&cert, &[]), dir)
}

/// A loopback port where nothing listens (a refused connection).
fn closed_port() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// A path that cannot be read: a name below a regular file.
const UNREADABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md/missing");

#[test]
fn probe_exit_codes() {
    let (srv, _dir) = rsa_server();
    let target = format!("localhost:{}", srv.port);
    let closed = closed_port();
    let unreadable_hello = format!("@{UNREADABLE}");
    assert_codes(&[
        // The server goes on with the handshake; certificate findings do not change it.
        (0, vec!["probe", &target, "--connect", "127.0.0.1"]),
        // The server refuses TLS 1.0; a refused connection.
        (
            1,
            vec![
                "probe",
                &target,
                "--connect",
                "127.0.0.1",
                "--tls",
                "TLSv1.0",
            ],
        ),
        (1, vec!["probe", &closed]),
        (2, vec!["probe"]),
        (2, vec!["probe", &target, "--timeout", "0"]),
        (2, vec!["probe", &target, "--ca", UNREADABLE]),
        (2, vec!["probe", &target, "--hello-hex", &unreadable_hello]),
    ]);
}

#[test]
fn hello_exit_codes() {
    let unreadable_hello = format!("@{UNREADABLE}");
    assert_codes(&[
        (0, vec!["hello", "--host", "example.com"]),
        (2, vec!["hello", "--tls", "TLSv9"]),
        (2, vec!["hello", "--ciphers", "NOT_A_SUITE"]),
        (2, vec!["hello", "--hello-hex", &unreadable_hello]),
    ]);
}

#[test]
fn decode_exit_codes() {
    let hello = shakedown()
        .args(["hello", "--host", "example.com"])
        .output()
        .unwrap();
    assert!(hello.status.success());
    let hex = String::from_utf8(hello.stdout).unwrap();
    let unreadable = format!("@{UNREADABLE}");
    assert_codes(&[
        (0, vec!["decode", hex.trim()]),
        // A cut record header, bytes that are not hex, a file that cannot be read.
        (2, vec!["decode", "1603"]),
        (2, vec!["decode", "zz"]),
        (2, vec!["decode", &unreadable]),
        (2, vec!["decode"]),
    ]);
}

#[test]
fn scan_exit_codes() {
    let (srv, _dir) = rsa_server();
    let target = format!("localhost:{}", srv.port);
    let closed = closed_port();
    assert_codes(&[
        (0, vec!["scan", &target, "--connect", "127.0.0.1"]),
        // Nothing accepted: the target is an error result.
        (1, vec!["scan", &closed]),
        (2, vec!["scan", "--targets-file", UNREADABLE]),
        (2, vec!["scan", &target, "--concurrency", "many"]),
    ]);
}

#[test]
fn pcap_exit_codes() {
    let good = capture("tls13_success.pcap");
    let failed = capture("protocol_mismatch_tls10_client.pcap");
    let not_a_capture = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    assert_codes(&[
        (0, vec!["pcap", &good]),
        (1, vec!["pcap", &good, &failed]),
        (2, vec!["pcap", not_a_capture]),
        // One unreadable input among readable ones: still 2, the others reported.
        (2, vec!["pcap", &good, UNREADABLE]),
        (2, vec!["pcap", &good, "--max-flows", "0"]),
    ]);
}

/// `watch`'s 0 and 1 need a live capture on `lo` as root: tests/pcap_watch.rs. Its usage
/// and interface errors are checked here, as any user can hit them.
#[cfg(feature = "live")]
#[test]
fn watch_exit_codes() {
    assert_codes(&[
        (2, vec!["watch"]),
        (2, vec!["watch", "-i", "nosuchif0", "--duration", "1"]),
        (2, vec!["watch", "-i", "lo", "--count", "none"]),
    ]);
}

#[test]
fn simulate_exit_codes() {
    let (srv, _dir) = rsa_server();
    let target = format!("localhost:{}", srv.port);
    let common = [
        "simulate",
        &target,
        "--connect",
        "127.0.0.1",
        "--no-testssl",
    ];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        common
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .collect()
    };
    assert_codes(&[
        (0, with(&["--client", "curl"])),
        // A TLS 1.1-only client against OpenSSL 3's defaults would fail.
        (1, with(&["--client", "openssl-3.0-tls1_1"])),
        (2, with(&["--profiles", UNREADABLE])),
        (2, with(&["--concurrency", "0"])),
    ]);
}

#[test]
fn replay_exit_codes() {
    let (srv, _dir) = rsa_server();
    let target = format!("127.0.0.1:{}", srv.port);
    let good = format!("{}#1", capture("tls12_success.pcap"));
    let tls10 = format!("{}#1", capture("protocol_mismatch_tls10_client.pcap"));
    let missing = format!("{UNREADABLE}#1");
    assert_codes(&[
        (0, vec!["replay", &good, &target]),
        (1, vec!["replay", &tls10, &target]),
        (2, vec!["replay", &missing, &target]),
        (2, vec!["replay", &good]),
    ]);
}

#[test]
fn diff_exit_codes() {
    let tls13 = format!("{}#1", capture("tls13_success.pcap"));
    let tls12 = format!("{}#1", capture("tls12_success.pcap"));
    let no_such_connection = format!("{}#9", capture("tls13_success.pcap"));
    let not_a_capture = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md#1");
    assert_codes(&[
        (0, vec!["diff", &tls13, &tls13]),
        (1, vec!["diff", &tls13, &tls12]),
        (2, vec!["diff", &tls13, &no_such_connection]),
        (2, vec!["diff", &tls13, not_a_capture]),
        (2, vec!["diff", &tls13]),
    ]);
}

#[test]
fn exporter_exit_codes() {
    let listen = closed_port();
    assert_codes(&[
        (2, vec!["exporter", "--listen", &listen]),
        (
            2,
            vec!["exporter", "--listen", "nonsense", "--allow", "any"],
        ),
        (
            2,
            vec![
                "exporter", "--listen", &listen, "--allow", "any", "--config", UNREADABLE,
            ],
        ),
    ]);
}

#[test]
fn completions_exit_codes() {
    assert_codes(&[
        (0, vec!["completions", "bash"]),
        (2, vec!["completions", "tcsh"]),
        (2, vec!["completions"]),
    ]);
}

#[test]
fn man_exit_codes() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    assert_codes(&[
        (0, vec!["man"]),
        (0, vec!["man", "--out", out_dir]),
        (2, vec!["man", "--out", UNREADABLE]),
    ]);
}

/// An input that cannot be read is exit 2 with a message that names the flag and the value,
/// so a user with several file options knows which one to fix.
#[test]
fn unreadable_files_are_named_with_their_flag() {
    let at_unreadable = format!("@{UNREADABLE}");
    let cases: [(&str, Vec<&str>); 8] = [
        (
            "--hello-hex @",
            vec!["hello", "--hello-hex", &at_unreadable],
        ),
        (
            "--hello-hex @",
            vec!["probe", "127.0.0.1:1", "--hello-hex", &at_unreadable],
        ),
        ("--ca ", vec!["probe", "127.0.0.1:1", "--ca", UNREADABLE]),
        (
            "--profiles ",
            vec!["simulate", "x", "--profiles", UNREADABLE],
        ),
        (
            "--testssl-file ",
            vec!["simulate", "x", "--testssl-file", UNREADABLE],
        ),
        (
            "--targets-file ",
            vec!["scan", "--targets-file", UNREADABLE],
        ),
        ("--keylog ", vec!["pcap", "--keylog", UNREADABLE, "-"]),
        (
            "--config ",
            vec![
                "exporter",
                "--listen",
                "127.0.0.1:1",
                "--allow",
                "any",
                "--config",
                UNREADABLE,
            ],
        ),
    ];
    for (flag, args) in cases {
        let (code, printed) = exit_code(&args);
        assert_eq!(code, 2, "shakedown {}: {printed}", args.join(" "));
        let named = format!(
            "{flag}{}",
            if flag.ends_with('@') {
                &at_unreadable[1..]
            } else {
                UNREADABLE
            }
        );
        assert!(
            printed.contains(&named),
            "shakedown {}: the error names {named:?}: {printed}",
            args.join(" ")
        );
    }
}
