//! The reporter: each finished connection selected, counted into the summary (and the
//! handshake counts when asked for) and emitted; [`Tally`], the summary's counters, bounded
//! whatever the capture size.

use super::json::{Extras, JsonParts, connection_result};
use super::{
    AnalyzeStats, ConnectionReport, HandshakeCounts, InputResult, NameFailures, PcapConnection,
    PcapSummary, PcapSummaryLine, Selection, WatchMetrics,
};
use crate::commands::SchemaVersion;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Where reported connections go: the sink's callback (stop on its error).
pub type Emit<'e> = dyn for<'a> FnMut(&PcapConnection<'a>) -> std::io::Result<()> + 'e;

/// Selects connections, counts them into the summary and emits the reported ones; after
/// a write error nothing more is emitted (the error is returned when the input is done).
pub(super) struct Reporter<'e, 'f> {
    select: &'f Selection,
    parts: JsonParts,
    pub(super) tally: Tally,
    emit: &'f mut Emit<'e>,
    /// Connections emitted.
    pub(super) emitted: u64,
    pub(super) error: Option<std::io::Error>,
    /// `pcap --summary`'s table, when asked for.
    pub(super) counts: Option<HandshakeCounts>,
    /// `watch --metrics`' counters, read by the HTTP workers.
    pub(super) shared: Option<Arc<std::sync::Mutex<WatchMetrics>>>,
}

impl<'e, 'f> Reporter<'e, 'f> {
    pub(super) fn new(select: &'f Selection, emit: &'f mut Emit<'e>) -> Self {
        Reporter {
            select,
            parts: JsonParts::default(),
            tally: Tally::default(),
            emit,
            emitted: 0,
            error: None,
            counts: None,
            shared: None,
        }
    }

    pub(super) fn connection(&mut self, capture: &str, r: &ConnectionReport) {
        let filter = &self.select.filter;
        if !filter.matches_endpoints(r) {
            return;
        }
        self.tally.add(r);
        // `--failed` narrows the table as it narrows the lines.
        if let Some(counts) = &mut self.counts
            && filter.selects(r)
        {
            counts.add(r);
        }
        if let Some(shared) = &self.shared {
            // A worker that panicked while rendering left the counts whole: read on.
            shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .handshakes
                .add(r);
        }
        if !filter.selects(r) || !(self.select.all || r.failed()) || self.error.is_some() {
            return;
        }
        let extras = if self.select.fingerprints {
            self.parts.extras(r)
        } else {
            Extras::default()
        };
        match (self.emit)(&connection_result(capture, r, &extras)) {
            Ok(()) => self.emitted += 1,
            Err(e) => self.error = Some(e),
        }
    }
}

/// Distinct server names kept in the failure ranking; beyond it, failures are still counted
/// (as `other names`) but memory does not grow with the capture.
const MAX_NAMES: usize = 10_000;

/// Server names listed in the summary.
const TOP_NAMES: usize = 10;

/// The summary's counters while connections come: bounded whatever the capture size.
#[derive(Debug, Default)]
pub(super) struct Tally {
    connections: u64,
    failed: u64,
    by_outcome: BTreeMap<&'static str, u64>,
    by_cause: BTreeMap<&'static str, u64>,
    /// Incomplete connections per reason.
    by_incomplete_reason: BTreeMap<&'static str, u64>,
    /// Failed connections per SNI (`(no SNI)` when none was sent).
    failures_by_name: HashMap<String, u64>,
    /// Failures whose name did not fit in `failures_by_name`.
    failures_other_names: u64,
    inputs: Vec<InputResult>,
}

impl Tally {
    fn add(&mut self, r: &ConnectionReport) {
        self.connections += 1;
        *self.by_outcome.entry(r.outcome()).or_default() += 1;
        if let Some(reason) = r.incomplete_reason() {
            *self
                .by_incomplete_reason
                .entry(reason.as_str())
                .or_default() += 1;
        }
        if !r.failed() {
            return;
        }
        self.failed += 1;
        for d in &r.diagnosis {
            *self.by_cause.entry(d.cause.id()).or_default() += 1;
        }
        let name = r.sni().unwrap_or("(no SNI)");
        if let Some(n) = self.failures_by_name.get_mut(name) {
            *n += 1;
        } else if self.failures_by_name.len() < MAX_NAMES {
            self.failures_by_name.insert(name.to_string(), 1);
        } else {
            self.failures_other_names += 1;
        }
    }

    pub(super) fn input(
        &mut self,
        name: &str,
        stats: &AnalyzeStats,
        error: Option<String>,
        error_detail: Option<String>,
    ) {
        let c = &stats.capture;
        self.inputs.push(InputResult {
            bytes: c.bytes,
            capture: name.to_string(),
            error,
            evicted_flows: c.evicted_flows,
            expired_flows: c.expired_flows,
            error_detail,
            flows: c.flows,
            gaps: c.gaps,
            non_tls_flows: stats.non_tls_flows,
            packets: c.packets,
            truncated_packets: c.truncated_packets,
        });
    }

    pub(super) fn into_summary(self) -> PcapSummaryLine {
        let mut names: Vec<(String, u64)> = self.failures_by_name.into_iter().collect();
        names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        names.truncate(TOP_NAMES);
        PcapSummaryLine {
            schema_version: SchemaVersion,
            summary: PcapSummary {
                by_outcome: self.by_outcome,
                connections: self.connections,
                failed: self.failed,
                failures_by_cause: self.by_cause,
                incomplete_by_reason: self.by_incomplete_reason,
                inputs: self.inputs,
                most_failing_names: names
                    .into_iter()
                    .map(|(sni, failures)| NameFailures { failures, sni })
                    .collect(),
                failures_other_names: self.failures_other_names,
            },
        }
    }
}
