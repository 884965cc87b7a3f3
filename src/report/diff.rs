//! `diff` and `replay` reports: two handshakes field by field, the first difference marked.
//! Text marks equal fields `=`, differing ones `≠`, and the first difference `>>`.

use super::Render;
use crate::commands::diff::{DiffReport, FieldReport};
use crate::commands::replay::ReplayReport;
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

fn fields_text(
    w: &mut dyn Write,
    fields: &[FieldReport],
    first: Option<&'static str>,
) -> io::Result<()> {
    let mut section = None;
    for f in fields {
        if section != Some(f.section) {
            writeln!(w, "  {}", f.section)?;
            section = Some(f.section);
        }
        if f.same {
            writeln!(w, "    = {:18} {}", f.field, short(f.a.items()))?;
            continue;
        }
        let mark = if Some(f.field) == first { ">>" } else { "≠ " };
        writeln!(w, "  {mark}  {:18} A: {}", f.field, joined(f.a.items()))?;
        writeln!(w, "      {:18} B: {}", "", joined(f.b.items()))?;
        if let Some(d) = &f.detail {
            writeln!(w, "      {:18} {d}", "")?;
        }
    }
    match first.and_then(|name| fields.iter().find(|f| f.field == name)) {
        Some(f) => writeln!(w, "first difference: {} ({})", f.field, f.section),
        None => writeln!(w, "no difference"),
    }
}

impl Render for DiffReport {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "diff  A {}", self.a)?;
        writeln!(w, "      B {}", self.b)?;
        fields_text(w, &self.fields, self.first_difference)
    }
}

/// `replay`: the captured connection's answer (A) beside the replay's (B).
impl Render for ReplayReport {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        let how = if self.as_captured {
            "byte for byte".to_string()
        } else {
            format!(
                "SNI set to {}",
                self.replay.sni.as_deref().unwrap_or("(none)")
            )
        };
        writeln!(w, "replay  A {}", self.capture)?;
        writeln!(
            w,
            "        B {}, {} bytes sent, {how}",
            self.replay_label, self.sent_bytes
        )?;
        fields_text(w, &self.fields, self.first_difference)?;
        writeln!(
            w,
            "  history   A {}  B {}",
            self.captured.history, self.replay_answer.history
        )?;
        writeln!(
            w,
            "  causes    A {}  B {}",
            joined(&self.captured.causes),
            joined(&self.replay_answer.causes)
        )
    }
}
