//! The JSON Schema of every object the JSON sink writes, generated from the result types
//! themselves (schemars), so the schema cannot describe anything but what is written.
//! `docs/schema.json` is this document; `tests/schema.rs` fails when the two differ (and
//! says whether [`SCHEMA_VERSION`] needs a bump) and validates real output against it.
//!
//! Objects are closed (`additionalProperties: false`): a field the schema does not name
//! is a disagreement, not an extension.

use crate::commands::SCHEMA_VERSION;
use crate::commands::decode::{DecodedHello, HelloBytes};
use crate::commands::diff::DiffReport;
use crate::commands::pcap::{PcapConnection, PcapSummaryLine};
use crate::commands::probe::ProbeReport;
use crate::commands::replay::ReplayReport;
use crate::commands::scan::ScanResult;
use crate::commands::simulate::{ProfileListing, SimulateRow};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12().into_generator()
}

/// Registers each output type with `generator`; returns (command, definition name).
fn kinds(generator: &mut SchemaGenerator) -> Vec<(&'static str, String)> {
    fn add<T: JsonSchema>(
        g: &mut SchemaGenerator,
        command: &'static str,
    ) -> (&'static str, String) {
        g.subschema_for::<T>();
        (command, T::schema_name().into_owned())
    }
    vec![
        add::<ProbeReport>(generator, "probe"),
        add::<HelloBytes>(generator, "hello"),
        add::<DecodedHello>(generator, "decode"),
        add::<SimulateRow>(generator, "simulate"),
        add::<ProfileListing>(generator, "simulate --list"),
        add::<ReplayReport>(generator, "replay"),
        add::<DiffReport>(generator, "diff"),
        add::<ScanResult>(generator, "scan"),
        add::<PcapConnection<'static>>(generator, "pcap, watch"),
        add::<PcapSummaryLine>(generator, "pcap summary"),
        add::<crate::commands::pcap::HandshakeCountsLine>(generator, "pcap --summary"),
        add::<crate::commands::addresses::AddressSummary>(
            generator,
            "probe, scan (several addresses)",
        ),
    ]
}

/// The whole document: every line is one of the listed kinds (`anyOf`), each a closed
/// object carrying `schema_version`.
pub fn document() -> Value {
    let mut generator = generator();
    let kinds = kinds(&mut generator);
    let mut defs: Map<String, Value> = generator.take_definitions(true);
    for def in defs.values_mut() {
        close_objects(def);
    }
    let any_of: Vec<Value> = kinds
        .iter()
        .map(|(_, name)| json!({ "$ref": format!("#/$defs/{name}") }))
        .collect();
    let lines: Map<String, Value> = kinds
        .iter()
        .map(|(command, name)| (command.to_string(), Value::String(name.clone())))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/shakedown/shakedown/docs/schema.json",
        "title": "shakedown --json output: one object per line",
        "x-schema-version": SCHEMA_VERSION,
        "x-lines": lines,
        "anyOf": any_of,
        "$defs": defs,
    })
}

/// `additionalProperties: false` on every object schema that lists its properties and says
/// nothing about others (maps, which carry `additionalProperties` already, stay open).
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for v in map.values_mut() {
                close_objects(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}
