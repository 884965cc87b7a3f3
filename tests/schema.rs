//! The JSON output and its schema agree: `docs/schema.json` is what the result types
//! generate (a change without a `SCHEMA_VERSION` bump fails), and real output of every
//! command validates against it.
//!
//! After changing a result type: bump `SCHEMA_VERSION` in `src/commands/mod.rs`, then
//! regenerate with `SHAKEDOWN_WRITE_SCHEMA=1 cargo test --test schema`.

mod common;

use common::{Pki, capture, s_server, shakedown};
use serde_json::Value;
use shakedown::commands::SCHEMA_VERSION;
use shakedown::report::schema;
use std::path::Path;

fn committed_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema.json")
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = schema::document();
    let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("SHAKEDOWN_WRITE_SCHEMA").is_some() {
        std::fs::write(committed_path(), &text).unwrap();
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(committed_path()).expect("docs/schema.json"))
            .expect("docs/schema.json is JSON");
    if committed == generated {
        return;
    }
    let committed_version = committed["x-schema-version"].as_u64();
    if committed_version == Some(SCHEMA_VERSION as u64) {
        panic!(
            "the result types changed but SCHEMA_VERSION is still {SCHEMA_VERSION}: bump it in \
             src/commands/mod.rs, then regenerate docs/schema.json with \
             `SHAKEDOWN_WRITE_SCHEMA=1 cargo test --test schema`"
        );
    }
    panic!(
        "docs/schema.json (version {committed_version:?}) is not what the types generate \
         (version {SCHEMA_VERSION}): regenerate it with \
         `SHAKEDOWN_WRITE_SCHEMA=1 cargo test --test schema`"
    );
}

/// Every line of `stdout` is a JSON object with `schema_version` that the schema accepts.
fn assert_valid_lines(what: &str, stdout: &[u8]) -> usize {
    let validator = jsonschema::validator_for(&schema::document()).expect("a valid schema");
    let text = String::from_utf8_lossy(stdout);
    let mut n = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: {e}: {line}"));
        assert_eq!(v["schema_version"], SCHEMA_VERSION, "{what}: {line}");
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:#?}\n{line}");
        n += 1;
    }
    assert!(n > 0, "{what}: no output");
    n
}

fn run(what: &str, args: &[&str]) -> usize {
    let out = shakedown().args(args).output().unwrap();
    assert!(
        // 2 with output: input that did not decode whole (`decode`), still reported.
        matches!(out.status.code(), Some(0..=2)),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_valid_lines(what, &out.stdout)
}

#[test]
fn offline_output_validates() {
    run(
        "hello",
        &["hello", "--json", "--host", "example.com", "--decode"],
    );
    run(
        "hello --grease",
        &["hello", "--json", "--grease", "--tls", "TLSv1.2"],
    );
    let hello = shakedown()
        .args(["hello", "--host", "example.com"])
        .output()
        .unwrap();
    let hex = String::from_utf8(hello.stdout).unwrap();
    run("decode", &["decode", "--json", hex.trim()]);
    run("decode garbage", &["decode", "--json", "48545450"]);
    run(
        "diff",
        &[
            "diff",
            "--json",
            &capture("tls12_success.pcap#1"),
            &capture("tls13_success.pcap#1"),
        ],
    );
    run("simulate --list", &["simulate", "--list", "--json"]);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut captures: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .map(|p| p.display().to_string())
        .collect();
    captures.sort();
    let mut args = vec!["pcap", "--json", "--all"];
    args.extend(captures.iter().map(String::as_str));
    let lines = run("pcap", &args);
    assert!(lines > captures.len(), "connections and a summary");
    let mut args = vec!["pcap", "--json", "--summary"];
    args.extend(captures.iter().map(String::as_str));
    assert_eq!(
        run("pcap --summary", &args),
        2,
        "the counts and the summary"
    );
    run(
        "pcap --keylog",
        &[
            "pcap",
            "--json",
            "--all",
            "--keylog",
            &capture("tls13_success.keys"),
            &capture("tls13_success.pcap"),
        ],
    );
}

#[test]
fn live_output_validates() {
    let pki = Pki::new();
    let leaf = pki.leaf("good.test");
    let srv = s_server(&leaf, &[]);
    let target = format!("good.test:{}", srv.port);
    let ca = pki.path("root.pem");
    let ca = ca.to_str().unwrap();
    run(
        "probe",
        &[
            "probe",
            &target,
            "--connect",
            "127.0.0.1",
            "--ca",
            ca,
            "--json",
        ],
    );
    run(
        "probe TLS 1.0",
        &[
            "probe",
            &target,
            "--connect",
            "127.0.0.1",
            "--tls",
            "TLSv1.0",
            "--json",
        ],
    );
    let closed = common::free_port();
    run(
        "probe refused",
        &["probe", &format!("127.0.0.1:{closed}"), "--json"],
    );
    run(
        "replay",
        &[
            "replay",
            "--json",
            &capture("tls12_success.pcap#1"),
            &target,
            "--connect",
            "127.0.0.1",
        ],
    );
    let rows = run(
        "simulate",
        &["simulate", &target, "--connect", "127.0.0.1", "--json"],
    );
    assert!(rows > 10, "one line per client");
    let lines = run(
        "scan",
        &[
            "scan",
            &target,
            "--connect",
            "127.0.0.1",
            "--ca",
            ca,
            "--json",
            "--no-progress",
        ],
    );
    assert_eq!(lines, 1, "one line per target");
    run(
        "scan refused",
        &[
            "scan",
            &format!("127.0.0.1:{closed}"),
            "--json",
            "--no-progress",
        ],
    );
}

/// The check can fail: an unknown field, a missing one and a wrong type are refused.
#[test]
fn the_schema_refuses_what_the_types_do_not_write() {
    let validator = jsonschema::validator_for(&schema::document()).unwrap();
    let out = shakedown()
        .args(["decode", "--json", "16030100050100000100"])
        .output()
        .unwrap();
    let good: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(validator.is_valid(&good), "{good}");
    let mut extra = good.clone();
    extra["surprise"] = Value::Bool(true);
    assert!(!validator.is_valid(&extra));
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("history");
    assert!(!validator.is_valid(&missing));
    let mut wrong = good.clone();
    wrong["schema_version"] = Value::from(SCHEMA_VERSION + 1);
    assert!(!validator.is_valid(&wrong));
}

/// docs/causes.md, the reference of every cause id with its fix, is the table's, rendered:
/// a cause added, renamed or reworded without the page fails here.
/// `SHAKEDOWN_WRITE_DOCS=1 cargo test --test schema` writes the page anew.
#[test]
fn docs_causes_is_the_cause_table() {
    use shakedown::core::cause::Cause;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/causes.md");
    let mut page = String::from(
        "# Causes\n\n\
         Every cause shakedown names in `diagnosis[].cause` (text, JSON, Prometheus labels),\n\
         with its fix in operator terms. Generated from `src/core/cause.rs`, the one table\n\
         (`SHAKEDOWN_WRITE_DOCS=1 cargo test --test schema` writes this page; the same test\n\
         fails when it is stale). Attack causes carry a severity and CVE ids: see\n\
         [vulns.md](vulns.md).\n\n\
         | cause | fix |\n|---|---|\n",
    );
    for c in Cause::ALL {
        page.push_str(&format!(
            "| `{}` | {} |\n",
            c.id(),
            c.fix().replace('|', "\\|")
        ));
    }
    if std::env::var_os("SHAKEDOWN_WRITE_DOCS").is_some() {
        std::fs::write(path, &page).unwrap();
    }
    let written = std::fs::read_to_string(path).unwrap_or_default();
    pretty_assertions::assert_eq!(
        written,
        page,
        "docs/causes.md is stale: see this test's doc"
    );
}
