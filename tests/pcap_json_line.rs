//! `pcap --json` writes each connection's line with a writer of its own
//! (`report::pcap::json_line`), not through serde: this checks, for every connection of
//! every recorded capture (TCP and QUIC, with and without their key logs, ours and FoxIO's
//! JA4 set beside the checkout), that the line the sink writes is byte for byte
//! `serde_json::to_string` of the same typed result — the serialization the schema and the
//! other tests read. With the JSON-only parts taken (what `--json` writes) and without them
//! (every part then written from the report, not copied), and under a capture name that
//! needs escaping.

mod common;

use common::captures_root;
use shakedown::commands::pcap::{
    self, AnalyzeOptions, Filter, Input, PcapConfig, PcapConnection, Selection,
};
use shakedown::core::crypto::KeyLog;
use shakedown::core::flow::Transport;
use shakedown::io::capture::ReadOptions;
use shakedown::report::{Format, ResultSink};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Default, Debug)]
struct Seen {
    lines: usize,
    quic: usize,
    with_events: usize,
    failed: usize,
}

/// Runs `pcap` over `capture` (named `name`) and compares every connection's line.
fn compare(
    capture: &Path,
    name: &Path,
    keylog: Option<&Path>,
    fingerprints: bool,
    seen: &mut Seen,
) {
    let cfg = PcapConfig {
        inputs: vec![Input::File(name.to_path_buf())],
        select: Selection {
            filter: Filter::default(),
            all: true,
            fingerprints,
        },
        analysis: AnalyzeOptions {
            keylog: keylog.map(|k| {
                let (log, _) = KeyLog::parse(&std::fs::read_to_string(k).unwrap());
                Arc::new(log)
            }),
            trust: Some(captures_root().into()),
            ..AnalyzeOptions::default()
        },
        mmap: true,
        read: ReadOptions::default(),
        count_labels: None,
    };
    let mut check = |c: &PcapConnection<'_>| {
        let expected = serde_json::to_string(c).unwrap() + "\n";
        let mut sink = ResultSink::new(Vec::new(), Format::Json);
        sink.emit(c)?;
        let written = String::from_utf8(sink.into_inner()).unwrap();
        assert_eq!(
            written,
            expected,
            "{}#{} (keys {}, fingerprints {fingerprints})",
            capture.display(),
            c.index,
            keylog.is_some()
        );
        seen.lines += 1;
        seen.quic += usize::from(c.transport == Transport::Quic);
        seen.with_events += usize::from(!c.events.events.is_empty());
        seen.failed += usize::from(c.failed);
        Ok(())
    };
    let outcome = pcap::run(&cfg, &mut check, &mut |_| {}).unwrap();
    assert_eq!(outcome.unreadable, 0, "{}", capture.display());
}

fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    files
}

fn compare_all(files: &[PathBuf], seen: &mut Seen) {
    for path in files {
        let keys = path.with_extension("keys");
        let keys = keys.exists().then_some(keys);
        for fingerprints in [true, false] {
            compare(path, path, None, fingerprints, seen);
            if let Some(k) = &keys {
                compare(path, path, Some(k), fingerprints, seen);
            }
        }
    }
}

#[test]
fn hand_written_lines_are_serdes_for_every_recorded_connection() {
    let files = captures_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"));
    let mut seen = Seen::default();
    compare_all(&files, &mut seen);
    assert!(seen.lines >= 100, "{seen:?}");
    assert!(seen.quic >= 4, "{seen:?}");
    assert!(seen.failed >= 20, "{seen:?}");
    assert!(seen.with_events >= seen.lines / 2, "{seen:?}");
}

/// A capture name with a quote, a backslash, a tab and non-ASCII: the `capture` and
/// `connection` strings take serde's escapes.
#[test]
fn hand_written_lines_escape_as_serde_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("shakedown-json-line-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name = dir.join("we\"ird\\näme\t.pcap");
    let source = root.join("captures/tls13_hrr_success.pcap");
    std::fs::copy(&source, &name).unwrap();
    let mut seen = Seen::default();
    compare(&source, &name, None, true, &mut seen);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(seen.lines >= 1, "{seen:?}");
}

/// The same on third-party captures (FoxIO's JA4 set, TCP and QUIC), when present.
#[test]
fn hand_written_lines_are_serdes_for_third_party_captures() {
    let Some(dir) = common::ja4_captures() else {
        eprintln!("skipping: ../shared/captures/ja4 not found");
        return;
    };
    let mut seen = Seen::default();
    compare_all(&captures_in(&dir), &mut seen);
    assert!(seen.lines > 200, "{seen:?}");
    assert!(seen.quic >= 1, "{seen:?}");
}
