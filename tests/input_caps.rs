//! Every whole input the user names is read with a size cap (src/io/input.rs): a wrong path
//! or an endless pipe ends with a clear error and bounded memory. A key log line that is not
//! UTF-8 is skipped, not fatal.

mod common;

use std::io::{Read, Write};
use std::process::Stdio;

/// Runs shakedown with `args` (and `stdin` written to it, errors ignored: it may stop
/// reading early); its exit code, standard error and peak RSS in KiB (wait4's ru_maxrss).
// The child is reaped by wait4 below, not by std's wait (which would not give its rusage).
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str], stdin: Option<Vec<u8>>) -> (i32, String, i64) {
    let mut child = common::shakedown_capped()
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let (code, peak_rss) = common::wait_exit_and_peak_rss(&child);
    if let Some(w) = writer {
        w.join().unwrap();
    }
    (code, err, peak_rss)
}

#[test]
fn an_endless_keylog_fails_at_its_cap_with_bounded_memory() {
    let capture = common::capture("tls13_success.pcap");
    let (code, err, rss_kb) = run_measured(&["pcap", "--keylog", "/dev/zero", &capture], None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--keylog /dev/zero: larger than 64 MiB"),
        "{err}"
    );
    // The cap (64 MiB) plus the process; unbounded, it grew to 800 MB before failing.
    assert!(rss_kb < 160 * 1024, "peak RSS {rss_kb} KiB");
}

#[test]
fn a_keylog_comment_that_is_not_utf8_is_skipped_and_the_rest_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("latin1.keys");
    let mut bytes = b"# cl\xe9s du serveur de test\n".to_vec();
    bytes.extend(std::fs::read(common::capture("tls13_success.keys")).unwrap());
    std::fs::write(&keys, bytes).unwrap();
    let out = common::shakedown()
        .args(["pcap", "--json", "--keylog", keys.to_str().unwrap()])
        .arg(common::capture("tls13_success.pcap"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 line not UTF-8 text skipped (the first is line 1)"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let decrypted = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["decryption"]["server_finished_verified"] == true)
        .count();
    assert!(decrypted > 0, "{stdout}");
}

#[test]
fn decode_reads_at_most_16_mib_from_stdin() {
    let hex = b"00".repeat(9 << 20);
    let (code, err, rss_kb) = run_measured(&["decode", "-"], Some(hex));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reading stdin: larger than 16 MiB"), "{err}");
    assert!(rss_kb < 128 * 1024, "peak RSS {rss_kb} KiB");
}

#[test]
fn scan_target_lists_are_capped() {
    let (code, err, _) = run_measured(&["scan", "--targets-file", "/dev/zero"], None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--targets-file /dev/zero: larger than 64 MiB"),
        "{err}"
    );
}

#[test]
fn simulate_profile_files_are_capped() {
    let (code, err, _) = run_measured(&["simulate", "--list", "--profiles", "/dev/zero"], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/dev/zero: larger than 16 MiB"), "{err}");
}
