//! `diff` and `replay` reports: two handshakes field by field, the first difference marked.
//! Text marks equal fields `=`, differing ones `≠`, and the first difference `>>`.

use crate::commands::diff::{Field, View, first_difference};
use crate::commands::pcap::ConnectionReport;
use crate::commands::probe::ProbeResult;
use serde_json::{Value, json};
use std::io::{self, Write};

/// Items shown for a field both sides agree on, before "… (N in all)".
const SAME_ITEMS_SHOWN: usize = 6;

fn joined(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

fn short(items: &[String]) -> String {
    if items.len() <= SAME_ITEMS_SHOWN {
        return joined(items);
    }
    format!(
        "{}, … ({} in all)",
        items[..SAME_ITEMS_SHOWN].join(", "),
        items.len()
    )
}

fn fields_text(w: &mut dyn Write, fields: &[Field]) -> io::Result<()> {
    let first = first_difference(fields).map(|f| f.name);
    let mut section = None;
    for f in fields {
        if section != Some(f.section) {
            writeln!(w, "  {}", f.section.as_str())?;
            section = Some(f.section);
        }
        if f.same() {
            writeln!(w, "    = {:18} {}", f.name, short(&f.a))?;
            continue;
        }
        let mark = if Some(f.name) == first { ">>" } else { "≠ " };
        writeln!(w, "  {mark}  {:18} A: {}", f.name, joined(&f.a))?;
        writeln!(w, "      {:18} B: {}", "", joined(&f.b))?;
        if let Some(d) = f.detail() {
            writeln!(w, "      {:18} {d}", "")?;
        }
    }
    match first_difference(fields) {
        Some(f) => writeln!(w, "first difference: {} ({})", f.name, f.section.as_str()),
        None => writeln!(w, "no difference"),
    }
}

fn fields_json(fields: &[Field]) -> Value {
    json!(
        fields
            .iter()
            .map(|f| json!({
                "field": f.name,
                "section": f.section.as_str(),
                "same": f.same(),
                "a": if f.list { json!(f.a) } else { json!(f.a.first()) },
                "b": if f.list { json!(f.b) } else { json!(f.b.first()) },
                "detail": f.detail(),
            }))
            .collect::<Vec<_>>()
    )
}

pub fn diff(w: &mut dyn Write, a: &View, b: &View, fields: &[Field], json: bool) -> io::Result<()> {
    if json {
        let o = json!({
            "a": a.label,
            "b": b.label,
            "first_difference": first_difference(fields).map(|f| f.name),
            "fields": fields_json(fields),
        });
        return writeln!(w, "{o}");
    }
    writeln!(w, "diff  A {}", a.label)?;
    writeln!(w, "      B {}", b.label)?;
    fields_text(w, fields)
}

/// `replay`: the captured connection's answer (A) beside the replay's (B).
#[allow(clippy::too_many_arguments)]
pub fn replay(
    w: &mut dyn Write,
    captured: &ConnectionReport,
    result: &ProbeResult,
    before: &View,
    after: &View,
    fields: &[Field],
    sni_changed: bool,
    json: bool,
) -> io::Result<()> {
    let how = if sni_changed {
        format!("SNI set to {}", result.sni.as_deref().unwrap_or("(none)"))
    } else {
        "byte for byte".to_string()
    };
    if json {
        let o = json!({
            "capture": before.label,
            "connection": captured.index,
            "sent_bytes": result.sent.len(),
            "as_captured": !sni_changed,
            "captured": {
                "outcome": before.outcome,
                "history": before.history,
                "causes": before.causes,
            },
            "replay": super::json::probe(result),
            "first_difference": first_difference(fields).map(|f| f.name),
            "fields": fields_json(fields),
        });
        return writeln!(w, "{o}");
    }
    writeln!(w, "replay  A {}", before.label)?;
    writeln!(
        w,
        "        B {}, {} bytes sent, {how}",
        after.label,
        result.sent.len()
    )?;
    fields_text(w, fields)?;
    writeln!(w, "  history   A {}  B {}", before.history, after.history)?;
    writeln!(
        w,
        "  causes    A {}  B {}",
        joined(&before.causes),
        joined(&after.causes)
    )
}
