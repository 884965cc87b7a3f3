//! Colour where people look, none where scripts read: a terminal (a pseudo-terminal made
//! by `script`) gets styled outcomes and causes unless NO_COLOR or --color never; pipes and
//! JSON never get escape codes unless --color always asks (text only).

mod common;

use common::{free_port, shakedown};
use std::process::Command;

const ESC: &str = "\u{1b}[";

fn piped(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = shakedown()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `args` run on a pseudo-terminal (util-linux `script`).
fn on_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    let line = std::iter::once(env!("CARGO_BIN_EXE_shakedown"))
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("script (util-linux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn terminals_get_colour_pipes_and_json_do_not() {
    let target = format!("127.0.0.1:{}", free_port());
    let probe = ["probe", target.as_str()];
    assert!(
        on_terminal(&probe, &[]).contains(ESC),
        "a terminal is coloured"
    );
    assert!(
        !on_terminal(&probe, &[("NO_COLOR", "1")]).contains(ESC),
        "NO_COLOR"
    );
    assert!(!on_terminal(&["probe", &target, "--color", "never"], &[]).contains(ESC));
    assert!(
        !on_terminal(&["probe", &target, "--json"], &[]).contains(ESC),
        "JSON"
    );
    assert!(!piped(&probe, &[]).contains(ESC), "a pipe is plain");
    let always = piped(&["probe", &target, "--color", "always"], &[]);
    assert!(always.contains(ESC), "{always}");
    assert!(!piped(&["probe", &target, "--color", "always", "--json"], &[]).contains(ESC));
    // pcap's failure lines too.
    let capture = common::capture("cert_expired.pcap");
    assert!(piped(&["pcap", &capture, "--color", "always"], &[]).contains(ESC));
    assert!(!piped(&["pcap", &capture], &[]).contains(ESC));
}
