//! Whether a target answers TLS as a server should, and when the scan stops asking.
//!
//! Every answer is sorted into one of four kinds ([`AnswerKind`]): a TLS answer (a
//! ServerHello with its flight, a HelloRetryRequest, an SSLv2 SERVER-HELLO, or an alert: a
//! server that speaks TLS, whether it accepts or refuses), a silent close (how some servers
//! refuse a version), breakage (a reset, a time-out, bytes that are not TLS, a malformed
//! answer, junk, a ServerHello cut short), or no connection. A refusal means "not offered";
//! breakage says nothing about what the server offers, so what it hid is unknown. The
//! [`Health`] of a target tallies them: a target with no TLS answer after the first hello
//! of every version, or with [`BROKEN_STREAK_LIMIT`] broken answers in a row, is given up
//! (the budget is documented in docs/scan.md).

use crate::core::assess::{ConnectError, Context, assess};
use crate::core::cause::{Cause, Diagnosis};
use crate::core::flow::EndKind;
use crate::core::session::{Outcome, Verdict};

/// Retries of resets and failed connects shared by all the first hellos (the version
/// test), whatever `--retries` says: a target that resets everything costs at most this
/// many connections more.
pub(super) const VERSION_TEST_RETRIES: usize = 4;
/// Broken answers in a row (no TLS answer between them) after which the scan gives up.
pub(super) const BROKEN_STREAK_LIMIT: usize = 8;

/// What kind of answer one hello got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AnswerKind {
    /// A ServerHello (HelloRetryRequest, SERVER-HELLO) with its flight, or an alert.
    Tls,
    /// Closed before any byte: how some servers refuse a version.
    Silent,
    /// Reset, time-out, non-TLS or malformed bytes, junk, a ServerHello cut short.
    Broken,
    /// No connection: refused, failed, or not attempted once the scan gave up.
    NoConnection,
}

/// The kind of an answer: `went_on` when the server sent a ServerHello, HelloRetryRequest
/// or SERVER-HELLO; `answered` when it sent any byte.
pub(super) fn classify(verdict: Option<&Verdict>, went_on: bool, answered: bool) -> AnswerKind {
    let Some(v) = verdict else {
        return AnswerKind::NoConnection;
    };
    if v.not_tls.is_some() || v.error.is_some() {
        return AnswerKind::Broken;
    }
    match v.outcome {
        Outcome::Alert => AnswerKind::Tls,
        Outcome::ServerHello | Outcome::HelloRetryRequest | Outcome::Established if went_on => {
            AnswerKind::Tls
        }
        Outcome::Closed if !answered => AnswerKind::Silent,
        _ => AnswerKind::Broken,
    }
}

/// What happened to a broken answer, in a few words ("a reset before any answer").
pub(super) fn breakage(verdict: Option<&Verdict>, went_on: bool, answered: bool) -> &'static str {
    let Some(v) = verdict else {
        return "no connection";
    };
    if v.not_tls.is_some() {
        return "bytes that are not TLS";
    }
    if went_on {
        return match v.outcome {
            Outcome::Reset => "a reset after the ServerHello",
            Outcome::Timeout => "a ServerHello, then nothing more in time",
            Outcome::Closed => "a close after the ServerHello",
            _ => "a ServerHello, then bytes that do not go on with the handshake",
        };
    }
    if v.error.is_some() {
        return "a malformed answer";
    }
    let byte_cap = v.end.is_some_and(|e| e.kind == EndKind::ByteCap);
    match v.outcome {
        Outcome::Reset if answered => "a reset after bytes that were not a ServerHello or alert",
        Outcome::Reset => "a reset before any answer",
        Outcome::Timeout if answered => "bytes but no ServerHello or alert in time",
        Outcome::Timeout => "no answer in time",
        // 1,000 records (or 1 MiB) that end nothing: the tracker's no_progress.
        Outcome::NoProgress => "a flood of records without a ServerHello or alert",
        _ if byte_cap => "the read limit's worth of bytes without a ServerHello or alert",
        _ if v.truncated.is_some() => "an answer cut off inside a record or message",
        _ => "bytes that are not a ServerHello or an alert",
    }
}

/// The answers a target gave so far.
#[derive(Debug, Default)]
pub(super) struct Health {
    /// TLS answers (accepted or refused).
    pub(super) tls: usize,
    pub(super) silent: usize,
    /// Broken answers (and failed connections) by what happened, in first-seen order.
    broken: Vec<(&'static str, usize)>,
    /// Broken answers since the last TLS answer.
    streak: usize,
    /// Hellos that reached a server (a connection was made).
    connected: usize,
    /// The connection-level causes of the first broken answer of each kind.
    diagnosis: Vec<Diagnosis>,
    /// The newest version's first broken answer, said as "a TLSv1.2 hello got a reset
    /// before any answer", with that version.
    pub(super) first_broken: Option<(u16, String)>,
    /// Why the scan gave up on the target, once it did.
    pub(super) gave_up: Option<String>,
}

impl Health {
    /// Counts one answer; true when the broken streak reached [`BROKEN_STREAK_LIMIT`].
    pub(super) fn note(
        &mut self,
        kind: AnswerKind,
        what: &'static str,
        verdict: Option<&Verdict>,
        connect_error: Option<&ConnectError>,
    ) -> bool {
        self.connected += usize::from(verdict.is_some());
        match kind {
            AnswerKind::Tls => {
                self.tls += 1;
                self.streak = 0;
                return false;
            }
            AnswerKind::Silent => {
                self.silent += 1;
                return false;
            }
            AnswerKind::NoConnection if connect_error.is_none() => return false,
            AnswerKind::Broken | AnswerKind::NoConnection => {}
        }
        self.streak += 1;
        match self.broken.iter_mut().find(|(w, _)| *w == what) {
            Some((_, n)) => *n += 1,
            None => {
                self.broken.push((what, 1));
                self.diagnose(verdict, connect_error);
            }
        }
        self.streak >= BROKEN_STREAK_LIMIT
    }

    /// Adds the causes the assessment finds in one broken answer (its chain left out: the
    /// certificates are judged once, from the versions' first answers).
    fn diagnose(&mut self, verdict: Option<&Verdict>, connect_error: Option<&ConnectError>) {
        let empty = Verdict::default();
        let mut v = verdict.cloned().unwrap_or(empty);
        v.certificates.clear();
        let found = assess(
            &v,
            &Context {
                connect_error,
                ..Default::default()
            },
        );
        for d in found.diagnosis {
            if !self.diagnosis.iter().any(|have| have.cause == d.cause) {
                self.diagnosis.push(d);
            }
        }
    }

    /// Broken answers and failed connections so far.
    pub(super) fn broken_count(&self) -> usize {
        self.broken.iter().map(|(_, n)| n).sum()
    }

    /// "6 hellos: 4 got a reset before any answer, 2 got no answer in time".
    pub(super) fn summary(&self) -> String {
        let hellos = self.tls + self.silent + self.broken_count();
        let mut parts: Vec<String> = self
            .broken
            .iter()
            .map(|(what, n)| format!("{n} got {what}"))
            .collect();
        if self.silent > 0 {
            parts.push(format!("{} got a close before any answer", self.silent));
        }
        if self.tls > 0 {
            parts.push(format!("{} got a TLS answer", self.tls));
        }
        format!(
            "{hellos} hello{}: {}",
            if hellos == 1 { "" } else { "s" },
            parts.join(", ")
        )
    }

    /// The target-level diagnosis: why the scan gave up (if it did), then what each kind
    /// of broken answer points to.
    pub(super) fn diagnosis(&self) -> Vec<Diagnosis> {
        let Some(why) = &self.gave_up else {
            return self.diagnosis.clone();
        };
        let mut out = Vec::new();
        // A target nothing answered at all (refused, unreachable) has its connect cause only.
        if self.connected > 0 {
            out.push(Diagnosis::new(Cause::NotAnsweringTls, why.clone()));
        }
        out.extend(self.diagnosis.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streak_ends_at_a_tls_answer_and_the_summary_counts_kinds() {
        let mut h = Health::default();
        for _ in 0..BROKEN_STREAK_LIMIT - 1 {
            assert!(!h.note(AnswerKind::Broken, "a reset before any answer", None, None));
        }
        assert!(!h.note(AnswerKind::Tls, "", None, None));
        assert!(!h.note(AnswerKind::Silent, "", None, None));
        assert!(!h.note(AnswerKind::Broken, "no answer in time", None, None));
        assert_eq!(
            h.summary(),
            format!(
                "{} hellos: {} got a reset before any answer, 1 got no answer in time, \
                 1 got a close before any answer, 1 got a TLS answer",
                BROKEN_STREAK_LIMIT + 2,
                BROKEN_STREAK_LIMIT - 1
            )
        );
        for _ in 0..BROKEN_STREAK_LIMIT - 2 {
            assert!(!h.note(AnswerKind::Broken, "no answer in time", None, None));
        }
        assert!(h.note(AnswerKind::Broken, "no answer in time", None, None));
    }
}
