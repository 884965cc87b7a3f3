//! `pcap` reads regular files through a memory map unless `--no-mmap`: both ways must give
//! the same connection reports, counters and errors, on every recorded capture, on cut
//! copies of them, and on a pcapng of several sections; and the command's output must be
//! byte for byte the same.

mod common;

use shakedown::commands::pcap::{AnalyzeOptions, analyze, analyze_file};
use shakedown::io::capture::ReadOptions;
use std::path::{Path, PathBuf};

fn captures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    v.sort();
    assert!(v.len() >= 20, "{v:?}");
    v
}

/// Reports (in emission order), totals and error of one file, read one way, as text.
fn analyzed(path: &Path, mmap: bool) -> String {
    let file = std::fs::File::open(path).unwrap();
    let mut reports = Vec::new();
    let (stats, err) = analyze_file(
        file,
        mmap,
        &ReadOptions::default(),
        AnalyzeOptions::default(),
        &mut |r| reports.push(format!("{r:?}")),
    );
    format!("{reports:#?}\n{stats:?}\n{err:?}")
}

/// The same through the streaming reader over the bytes.
fn analyzed_bytes(bytes: &[u8]) -> String {
    let mut reports = Vec::new();
    let (stats, err) = analyze(
        bytes,
        &ReadOptions::default(),
        AnalyzeOptions::default(),
        &mut |r| reports.push(format!("{r:?}")),
    );
    format!("{reports:#?}\n{stats:?}\n{err:?}")
}

fn same_both_ways(path: &Path) -> String {
    let mapped = analyzed(path, true);
    let streamed = analyzed(path, false);
    pretty_assertions::assert_eq!(mapped, streamed, "{}", path.display());
    let bytes = std::fs::read(path).unwrap();
    pretty_assertions::assert_eq!(mapped, analyzed_bytes(&bytes), "{}", path.display());
    mapped
}

#[test]
fn mapped_and_streamed_reads_agree_on_every_capture_and_cut_copies() {
    let dir = tempfile::tempdir().unwrap();
    for path in captures() {
        let full = same_both_ways(&path);
        assert!(full.contains("ConnectionReport"), "{}", path.display());
        assert!(full.ends_with("None"), "{}: read cleanly", path.display());
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        for cut in [bytes.len() - 1, bytes.len() * 2 / 3, bytes.len() / 3, 30, 3] {
            let cut_path = dir.path().join(format!("{cut}-{name}"));
            std::fs::write(&cut_path, &bytes[..cut]).unwrap();
            let r = same_both_ways(&cut_path);
            assert!(
                r.contains("Some(CaptureError"),
                "{}: cut {cut}",
                path.display()
            );
        }
    }
}

#[test]
fn mapped_and_streamed_reads_agree_on_a_pcapng_of_several_sections() {
    let dir = tempfile::tempdir().unwrap();
    let ng = std::fs::read(common::capture("client_cert_required_tls13_dsb.pcapng")).unwrap();
    let mut three = ng.clone();
    three.extend(&ng);
    three.extend(&ng);
    let path = dir.path().join("three.pcapng");
    std::fs::write(&path, &three).unwrap();
    let once = same_both_ways(Path::new(&common::capture(
        "client_cert_required_tls13_dsb.pcapng",
    )));
    let thrice = same_both_ways(&path);
    // Every section's packets were read (the repeated connections themselves are absorbed
    // as retransmissions: same tuples, same sequence numbers).
    let packets = |r: &str| -> u64 {
        let stats = r.rsplit("AnalyzeStats").next().unwrap();
        let n = stats.split("packets: ").nth(1).unwrap();
        n[..n.find(',').unwrap()].parse().unwrap()
    };
    assert!(packets(&once) > 10);
    assert_eq!(packets(&thrice), 3 * packets(&once));
    let cut = dir.path().join("cut.pcapng");
    std::fs::write(&cut, &three[..ng.len() + ng.len() / 2]).unwrap();
    assert!(same_both_ways(&cut).contains("Truncated"));
}

#[test]
fn pcap_output_is_identical_with_and_without_mmap() {
    let files: Vec<String> = captures().iter().map(|p| p.display().to_string()).collect();
    for json in [false, true] {
        let run = |no_mmap: bool| {
            let mut cmd = common::shakedown();
            cmd.arg("pcap").arg("--all").args(&files);
            if json {
                cmd.arg("--json");
            }
            if no_mmap {
                cmd.arg("--no-mmap");
            }
            let out = cmd.output().unwrap();
            (out.status.code(), out.stdout, out.stderr)
        };
        let mapped = run(false);
        let streamed = run(true);
        assert!(mapped.1.len() > 1000, "json {json}");
        assert_eq!(mapped.0, streamed.0, "json {json}");
        pretty_assertions::assert_eq!(
            String::from_utf8_lossy(&mapped.1),
            String::from_utf8_lossy(&streamed.1),
            "json {json}"
        );
        assert_eq!(mapped.2, streamed.2, "json {json}");
    }
}
