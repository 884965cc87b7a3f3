//! The result types of probe, decode, hello, simulate, replay and diff: each has a JSON
//! Schema with `schema_version`, text-only fields stay out of it, and JSON starts with
//! `schema_version`.

use shakedown::commands::decode::{self, DecodedHello, HelloBytes};
use shakedown::commands::diff::DiffReport;
use shakedown::commands::probe::{HelloSource, ProbeReport};
use shakedown::commands::replay::ReplayReport;
use shakedown::commands::simulate::{ProfileListing, SimulateReport, SimulateRow};
use shakedown::io::net::Target;

fn properties(schema: &schemars::Schema) -> Vec<String> {
    schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_result_has_a_schema_with_schema_version() {
    for (name, schema) in [
        ("ProbeReport", schemars::schema_for!(ProbeReport)),
        ("DecodedHello", schemars::schema_for!(DecodedHello)),
        ("HelloBytes", schemars::schema_for!(HelloBytes)),
        ("SimulateRow", schemars::schema_for!(SimulateRow)),
        ("SimulateReport", schemars::schema_for!(SimulateReport)),
        ("ProfileListing", schemars::schema_for!(ProfileListing)),
        ("ReplayReport", schemars::schema_for!(ReplayReport)),
        ("DiffReport", schemars::schema_for!(DiffReport)),
    ] {
        let props = properties(&schema);
        assert!(
            props.contains(&"schema_version".to_string()),
            "{name}: {props:?}"
        );
    }
    // The verdict's fields are flattened in; the text-only ones are not in the schema.
    let probe = properties(&schemars::schema_for!(ProbeReport));
    for field in ["history", "events", "timings_ms", "offered", "diagnosis"] {
        assert!(probe.contains(&field.to_string()), "{field}: {probe:?}");
    }
    for field in ["timings", "received", "sent_sslv2"] {
        assert!(!probe.contains(&field.to_string()), "{field}: {probe:?}");
    }
    let row = properties(&schemars::schema_for!(SimulateRow));
    for field in ["client", "connects", "outcome", "schema_version"] {
        assert!(row.contains(&field.to_string()), "{field}: {row:?}");
    }
    assert!(!row.contains(&"summary".to_string()));
}

#[test]
fn hello_json_starts_with_schema_version() {
    let target = Target::parse("example.com", 443).unwrap();
    let built = decode::hello(&HelloSource::Spec(Box::default()), &target, true).unwrap();
    let json = serde_json::to_string(&built).unwrap();
    let start = format!(
        "{{\"schema_version\":{},\"hex\":",
        shakedown::commands::SCHEMA_VERSION
    );
    assert!(json.starts_with(&start), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["decoded"]["client_hello"]["sni"], "example.com");
    assert!(v.get("bytes").is_none());
}
