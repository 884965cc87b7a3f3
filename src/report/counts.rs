//! `pcap --summary`'s table in text: one row per combination of cause, server, SNI,
//! client version and outcome, most handshakes first, in aligned columns.

use super::Render;
use crate::commands::pcap::HandshakeCountsLine;
use std::io::{self, Write};

/// An empty label (no SNI sent, no client hello seen) shows as `-`.
fn shown(value: &str) -> &str {
    if value.is_empty() { "-" } else { value }
}

impl Render for HandshakeCountsLine {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        let c = &self.handshake_counts;
        writeln!(
            w,
            "handshakes by cause, server, SNI, client version and outcome: {} handshake{}",
            c.handshakes,
            if c.handshakes == 1 { "" } else { "s" }
        )?;
        if c.rows.is_empty() {
            return Ok(());
        }
        let header = ["count", "cause", "server", "sni", "client", "outcome"];
        let rows: Vec<[String; 6]> = c
            .rows
            .iter()
            .map(|r| {
                [
                    r.count.to_string(),
                    r.cause.to_string(),
                    r.server.clone(),
                    shown(&r.sni).to_string(),
                    shown(r.version).to_string(),
                    r.outcome.to_string(),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |w: &mut dyn Write, cells: [&str; 6]| -> io::Result<()> {
            // The count right-aligned, the labels left-aligned; no trailing blanks.
            let mut out = format!("  {:>1$}", cells[0], widths[0]);
            for (i, cell) in cells.iter().enumerate().skip(1) {
                if i == 5 {
                    out.push_str(&format!("  {cell}"));
                } else {
                    out.push_str(&format!("  {cell:<0$}", widths[i]));
                }
            }
            writeln!(w, "{out}")
        };
        line(w, header)?;
        for row in &rows {
            line(w, row.each_ref().map(String::as_str))?;
        }
        Ok(())
    }
}
