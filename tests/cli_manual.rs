//! Shell completions and man pages come from the clap definitions: every command and the
//! newest flags are in them, bash loads the script, and a closed pipe is no panic.

mod common;

use common::shakedown;
use std::process::{Command, Stdio};

fn stdout_of(args: &[&str]) -> String {
    let out = shakedown().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_name_every_command_and_bash_loads_them() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        for word in ["probe", "scan", "pcap", "diff", "shard", "resume", "keylog"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    let bash = Command::new("bash")
        .args([
            "-c",
            "source <(\"$0\" completions bash) && complete -p shakedown",
            env!("CARGO_BIN_EXE_shakedown"),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&bash.stdout).contains("-F _shakedown shakedown"),
        "{}",
        String::from_utf8_lossy(&bash.stderr)
    );
}

#[test]
fn man_pages_print_or_go_into_a_directory() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH shakedown 1"),
        "{page}"
    );
    assert!(page.contains("scan"));
    let dir = tempfile::tempdir().unwrap();
    let out = shakedown()
        .args(["man", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let scan = std::fs::read_to_string(dir.path().join("shakedown-scan.1")).unwrap();
    assert!(scan.contains("shard"), "{scan}");
    assert!(dir.path().join("shakedown.1").exists());
    assert!(dir.path().join("shakedown-pcap.1").exists());
}

#[test]
fn a_closed_pipe_ends_completions_quietly() {
    let mut child = shakedown()
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
