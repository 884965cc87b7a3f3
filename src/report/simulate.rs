//! `simulate` reports: a table with one line per client (what it would get from the server),
//! or one JSON object per client; and the profile listing.

use super::Render;
use crate::commands::simulate::{ProfileListing, SimulateReport, SimulateRow};
use std::io::{self, Write};

impl Render for SimulateReport {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        let width = self
            .clients
            .iter()
            .map(|s| s.client.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        let address = self
            .address
            .as_ref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        writeln!(
            w,
            "simulate {}{address}: {} clients",
            self.target,
            self.clients.len()
        )?;
        writeln!(w, "  {:width$}  result", "client")?;
        for s in &self.clients {
            writeln!(w, "  {:width$}  {}", s.client, s.summary)?;
        }
        let ok = self.clients.iter().filter(|s| s.connects).count();
        writeln!(
            w,
            "{ok} of {} clients would connect, {} would fail",
            self.clients.len(),
            self.clients.len() - ok
        )?;
        let offering = self
            .clients
            .iter()
            .filter(|s| !s.pq_offered.is_empty())
            .count();
        if offering > 0 {
            let pq = self.clients.iter().filter(|s| s.negotiates_pq).count();
            writeln!(
                w,
                "{pq} of the {offering} clients offering a post-quantum group would negotiate one"
            )?;
        }
        Ok(())
    }
}

/// A client on its own: its name and what it gets.
impl Render for SimulateRow {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "  {}  {}", self.client, self.summary)
    }
}

impl Render for ProfileListing {
    fn render_text(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(
            w,
            "{:32} {:14} {:5} bytes  {}",
            self.client,
            self.offers,
            self.bytes,
            if self.notes.is_empty() {
                &self.source
            } else {
                &self.notes
            }
        )
    }
}
