//! `shakedown watch` (feature `live`): [`WatchConfig`] and [`watch`], packets from an
//! interface through the same capture reader, analyzer and reporter as `pcap`.

use super::analyze::{Analyzer, Assessor, Finished};
use super::reporter::{Emit, Reporter};
use super::{AnalyzeOptions, AnalyzeStats, CaptureCounts, PcapOutcome, Selection, WatchMetrics};
use crate::commands::Failure;
use crate::core::flow::{EndKind, Micros};
use crate::io::capture::ReadOptions;
use std::sync::Arc;

/// Validated `watch` options (feature `live`).
#[cfg(feature = "live")]
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub interface: String,
    /// BPF capture filter.
    pub bpf: Option<String>,
    pub select: Selection,
    pub analysis: AnalyzeOptions,
    /// Stop after this many connections were emitted.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<std::time::Duration>,
    /// The flow table's limits; a flow with no packet for `idle_timeout` is ended (and its
    /// verdict emitted).
    pub read: ReadOptions,
    /// `--metrics`: handshakes and the capture's counters are kept here as they come.
    pub metrics: Option<Arc<std::sync::Mutex<WatchMetrics>>>,
}

/// Runs `shakedown watch`: packets from the interface go through the same
/// [`capture::PacketReader`](crate::io::capture::PacketReader) and analyzer as a capture
/// file; each connection is emitted when its flow ends. Stops on `count`, `duration` or a
/// write error (Ctrl-C ends the process). The interface or filter failing to open is a
/// usage failure (exit 2).
#[cfg(feature = "live")]
pub fn watch(
    cfg: &WatchConfig,
    stop: &std::sync::atomic::AtomicBool,
    emit: &mut Emit<'_>,
    warn: &mut dyn FnMut(&str),
) -> Result<PcapOutcome, Failure> {
    use crate::io::capture::PacketReader;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    let deadline = cfg.duration.map(|d| Instant::now() + d);
    let fail = |e: pcap::Error| Failure::Usage(format!("{}: {e}", cfg.interface));
    // Non-blocking, with our own wait below: in immediate mode libpcap may ignore its read
    // timeout and block until a packet comes, so an idle interface never reached the
    // --duration check or a stop request.
    let mut cap = pcap::Capture::from_device(cfg.interface.as_str())
        .map_err(fail)?
        .promisc(false)
        .snaplen(65_535)
        .immediate_mode(true)
        .timeout(200)
        .open()
        .map_err(fail)?
        .setnonblock()
        .map_err(fail)?;
    if let Some(bpf) = &cfg.bpf {
        cap.filter(bpf, true)
            .map_err(|e| Failure::Usage(format!("--filter {bpf:?}: {e}")))?;
    }
    let linktype = cap.get_datalink().0 as u32;
    let reporter = std::cell::RefCell::new(Reporter::new(&cfg.select, emit));
    reporter.borrow_mut().shared = cfg.metrics.clone();
    let read = cfg.read.clone();
    let name = cfg.interface.as_str();
    let assessor = Assessor::new(&cfg.analysis);
    let mut on_report = |f: Finished| reporter.borrow_mut().connection(name, &assessor.report(f));
    let mut analyzer = Analyzer::new(cfg.analysis.clone(), &mut on_report, None);
    let mut reader = PacketReader::new(read);
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as Micros)
    };
    let mut read_error = None;
    loop {
        match cap.next_packet() {
            Ok(p) => {
                let at = (p.header.ts.tv_sec as u64) * 1_000_000 + p.header.ts.tv_usec as u64;
                reader.packet(linktype, p.data, at, &mut analyzer);
            }
            Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => {
                reader.tick(now(), &mut analyzer);
                let left = deadline.map_or(Duration::from_millis(200), |d| {
                    d.saturating_duration_since(Instant::now())
                });
                crate::io::capture::wait_readable(&cap, left.min(Duration::from_millis(200)));
            }
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        if let Some(m) = &cfg.metrics {
            let capture = CaptureCounts::new(reader.stats(), analyzer.non_tls_flows);
            m.lock().unwrap_or_else(|e| e.into_inner()).capture = capture;
        }
        let (emitted, write_failed) = {
            let r = reporter.borrow();
            (r.emitted, r.error.is_some())
        };
        let done_count = cfg.count.is_some_and(|n| emitted >= n);
        let done_time = deadline.is_some_and(|d| Instant::now() >= d);
        if done_count || done_time || write_failed || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    // Flows still open are ended as of now: an undecided handshake shows as incomplete,
    // unless the count was reached (then nothing more is emitted).
    let stopped_by_count = cfg.count.is_some_and(|n| reporter.borrow().emitted >= n);
    let capture = if stopped_by_count {
        reader.stats().clone()
    } else {
        reader.finish(EndKind::Timeout, &mut analyzer)
    };
    let non_tls_flows = analyzer.non_tls_flows;
    drop(analyzer);
    let mut reporter = reporter.into_inner();
    if let Some(e) = reporter.error.take() {
        return Err(e.into());
    }
    if let Some(e) = &read_error {
        warn(&format!("{name}: {e}"));
    }
    let stats = AnalyzeStats {
        capture,
        non_tls_flows,
    };
    reporter
        .tally
        .input(name, &stats, read_error.map(|e| e.to_string()), None);
    Ok(PcapOutcome {
        counts: None,
        summary: reporter.tally.into_summary(),
        unreadable: 0,
        cut_short: 0,
    })
}
