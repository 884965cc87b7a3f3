//! The README shows the output of its first command verbatim; this test runs that command
//! and compares, so the README cannot go stale when a verdict or its wording changes.

mod common;

use std::path::Path;

/// The set-up section's first command, as a newcomer types it.
const FIRST_COMMAND: &str = "cargo run --release -- pcap --all captures/*.pcap";

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The lines of the code block that starts with `$ COMMAND`, up to the closing fence.
fn shown_output(readme: &str, command: &str) -> String {
    let prompt = format!("$ {command}");
    let mut lines = readme.lines().skip_while(|l| *l != prompt);
    assert!(
        lines.next().is_some(),
        "README.md shows no output for `{command}` (a line `{prompt}` in a code block)"
    );
    let mut shown = String::new();
    for line in lines.take_while(|l| !l.starts_with("```")) {
        shown.push_str(line);
        shown.push('\n');
    }
    shown
}

/// What the shell's `captures/*.pcap` expands to: the `.pcap` files (not `.pcapng`) in
/// name order (the names differ before any character where collations disagree).
fn captures_glob(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("captures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    names.sort();
    names.into_iter().map(|n| format!("captures/{n}")).collect()
}

#[test]
fn the_first_setup_command_is_the_one_whose_output_is_shown() {
    let readme = readme();
    let setup = readme
        .split("## Set-up")
        .nth(1)
        .expect("README.md has a Set-up section");
    let first = setup
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .expect("a command in the Set-up section");
    assert_eq!(first, FIRST_COMMAND);
}

#[test]
fn the_readme_shows_the_first_commands_output_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = common::shakedown()
        .current_dir(root)
        .args(["pcap", "--all"])
        .args(captures_glob(root))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    // The README says it exits 1: some recorded handshakes fail, which is what they show.
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = shown_output(&readme(), FIRST_COMMAND);
    if shown != stdout {
        let first_difference = shown
            .lines()
            .zip(stdout.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| shown.lines().count().min(stdout.lines().count()));
        panic!(
            "README.md's output of `{FIRST_COMMAND}` is stale from line {} of the block on; \
             the command now prints:\n{stdout}",
            first_difference + 1
        );
    }
}
