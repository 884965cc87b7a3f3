//! `pcap -` reads standard input as `pcap FILE` reads the file, however the input arrives:
//! redirected from a file (read in place when it starts at the file's beginning, streamed
//! from the position it was left at otherwise), through a pipe (which the reader enlarges),
//! gzip'd through a pipe. Each report must be byte-identical to the file's, the capture's
//! name aside, and the exit code the same (1 where a connection failed).

mod common;

use common::{capture, shakedown};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::process::Stdio;

const CAPTURES: [&str; 3] = [
    "tls13_hrr_success.pcap",
    "client_cert_required_tls13_dsb.pcapng",
    "missing_intermediate.pcap",
];

/// Exit code and report of `pcap --json --all INPUT`.
fn pcap_json(input: &str, stdin: Stdio) -> (Option<i32>, String) {
    let out = shakedown()
        .args(["pcap", "--json", "--all", input])
        .stdin(stdin)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

/// The file's exit code and report, its name written as `stdin` names it.
fn reference(path: &str) -> (Option<i32>, String) {
    let (code, report) = pcap_json(path, Stdio::null());
    (code, report.replace(path, "stdin"))
}

/// `pcap -` with `bytes` written into a pipe by a thread (the reader may stop early).
fn through_pipe(bytes: Vec<u8>) -> (Option<i32>, String) {
    let mut child = shakedown()
        .args(["pcap", "--json", "--all", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // Small writes, so the reader sees the pipe's short reads.
        for piece in bytes.chunks(1000) {
            if pipe.write_all(piece).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn stdin_redirected_from_the_file_reads_like_the_file() {
    for name in CAPTURES {
        let path = capture(name);
        let got = pcap_json("-", File::open(&path).unwrap().into());
        assert_eq!(got, reference(&path), "{name}");
    }
}

/// A file left at a position by whatever ran before (`{ head -c 100 >/dev/null; shakedown
/// pcap -; } < FILE`) is read from there, as a stream would be: here the capture follows 100
/// bytes that are not part of it, so a reader that mapped the file from byte 0 would see
/// no capture at all.
#[test]
fn stdin_left_at_a_position_is_read_from_there() {
    let dir = tempfile::tempdir().unwrap();
    for name in CAPTURES {
        let path = capture(name);
        let prefixed = dir.path().join(name);
        let mut bytes = vec![b'#'; 100];
        bytes.extend(std::fs::read(&path).unwrap());
        std::fs::write(&prefixed, &bytes).unwrap();
        let mut file = File::open(&prefixed).unwrap();
        file.seek(SeekFrom::Start(100)).unwrap();
        let got = pcap_json("-", file.into());
        assert_eq!(got, reference(&path), "{name}");
    }
}

#[test]
fn stdin_through_a_pipe_plain_or_gzip_reads_like_the_file() {
    for name in CAPTURES {
        let path = capture(name);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(through_pipe(bytes.clone()), reference(&path), "{name}");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        assert_eq!(
            through_pipe(gz.finish().unwrap()),
            reference(&path),
            "{name} gzip'd"
        );
    }
}
