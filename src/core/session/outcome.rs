//! How the tracker writes its verdict: the timeline (events, bounded; history letters), an
//! error, where the handshake diverged, and the outcome with how settled it is (open →
//! decided → concluded). Every other file of the tracker reports through these.

use super::phase::{Decision, Phase};
use super::side::Protection;
use super::{
    Diverged, EVENTS_AT_FIRST, Event, EventText, MAX_EVENTS, MAX_HISTORY, Outcome, Tracker,
};
use crate::core::flow::{Direction, Micros};

impl Tracker {
    pub(super) fn fail(&mut self, dir: Direction, at: Micros, what: String) {
        let msg = format!("{}: {what}", dir.peer());
        self.event(at, dir, format!("error: {what}"));
        if self.v.error.is_none() {
            self.v.error = Some(msg);
            self.v.error_by = Some(dir);
        }
        if !self.v.established {
            self.conclude(Outcome::Incomplete, at);
        }
    }

    pub(super) fn establish(&mut self, at: Micros) {
        if !self.v.established {
            self.v.established = true;
            self.event(at, Direction::ClientToServer, "handshake established");
            self.progress(Outcome::Established);
        }
    }

    /// Sets a provisional outcome (the handshake is still going).
    pub(super) fn progress(&mut self, o: Outcome) {
        if !self.concluded() {
            self.v.outcome = o;
        }
    }

    /// The outcome can no longer change (alert, end, not TLS, error).
    pub(super) fn concluded(&self) -> bool {
        self.decision == Decision::Concluded
    }

    /// Sets the final outcome, unless one was already set; a concluded connection is
    /// decided (at `at`, unless it was before).
    pub(super) fn conclude(&mut self, o: Outcome, at: Micros) {
        if !self.concluded() {
            self.v.outcome = o;
            self.decide(at);
            self.decision = Decision::Concluded;
        }
    }

    pub(super) fn diverge(&mut self, by: Direction, event: String) {
        if self.v.diverged.is_none() {
            self.v.diverged = Some(Diverged {
                by,
                after: self.last_step.unwrap_or("nothing").into(),
                event,
            });
        }
    }

    pub(super) fn decide(&mut self, at: Micros) {
        if self.decision == Decision::Open {
            self.decision = Decision::Decided;
            self.v.decided_at = Some(at);
        }
    }

    pub(super) fn check_decided(&mut self, at: Micros) {
        let server_ccs_tls12 = !self.tls13() && self.sides[1].protection == Protection::AfterCcs;
        // Decrypting TLS 1.3: the server's flight ends with its Finished.
        let tls13_flight_done = if self.crypto.openers[1].is_some() {
            self.sides[1].finished
        } else {
            matches!(self.phase, Phase::Tls13 { flight_read: true })
        };
        if self.v.established
            || self.v.error.is_some()
            || self.server_hello_done
            || server_ccs_tls12
            || tls13_flight_done
        {
            self.decide(at);
        }
    }

    /// TLS 1.3 was selected (by a HelloRetryRequest or a ServerHello).
    pub(super) fn tls13(&self) -> bool {
        matches!(self.phase, Phase::RetryRequested | Phase::Tls13 { .. })
    }

    pub(super) fn letter(&mut self, dir: Direction, c: char) {
        if self.v.history.len() < MAX_HISTORY {
            self.v.history.push(match dir {
                Direction::ClientToServer => c.to_ascii_uppercase(),
                Direction::ServerToClient => c.to_ascii_lowercase(),
            });
        }
    }

    /// A record summed up by its kind and size.
    pub(super) fn record_event(
        &mut self,
        at: Micros,
        dir: Direction,
        kind: &'static str,
        len: usize,
    ) {
        self.event(at, dir, EventText::Record { kind, len });
    }

    pub(super) fn event(&mut self, at: Micros, dir: Direction, what: impl Into<EventText>) {
        let what = what.into();
        if self.v.events.capacity() == 0 {
            // Room for a whole first flight at once (hello, its answer's messages, the
            // end): grown from 4, a handshake's events took two allocations.
            self.v.events.reserve_exact(EVENTS_AT_FIRST);
        }
        if self.v.events.len() < MAX_EVENTS - 1 {
            self.v.events.push(Event { at, dir, what });
        } else {
            self.events_dropped += 1;
            let what = format!("… {} more events not kept", self.events_dropped).into();
            let last = Event { at, dir, what };
            if self.v.events.len() < MAX_EVENTS {
                self.v.events.push(last);
            } else if let Some(e) = self.v.events.last_mut() {
                *e = last;
            }
        }
    }
}
