//! Known attacks a connection shows by itself, read from the records the tracker sees:
//! an over-long heartbeat request (a Heartbleed attempt) and a heartbeat response carrying
//! more than its request did (the peer over-read: Heartbleed, CVE-2014-0160); a
//! ChangeCipherSpec before any key exchange (a CCS injection attempt) and a server that
//! takes it instead of refusing it (CVE-2014-0224). The tracker hands every heartbeat
//! record, every CCS with what the handshake had reached, and every record after an early
//! CCS to a [`Watch`]; what it finds lands in `Verdict::attacks`, and the assessment names
//! it with the attack causes of `core::cause` (the ones `scan --vulns` rates the same way).
//!
//! Only what can be read counts: a heartbeat inside encrypted records is seen with keys
//! only; a ChangeCipherSpec sent by the server early (the attack against a client) cannot
//! be told from a session resumption without the session cache, and is not judged.

use crate::core::flow::{Direction, Micros};
use crate::core::wire::record::ContentType;
use crate::core::wire::registry::alert_name;
use crate::core::wire::registry::alerts::codes as alert;

/// Heartbeat message types (RFC 6520).
const HEARTBEAT_REQUEST: u8 = 1;
const HEARTBEAT_RESPONSE: u8 = 2;
/// A heartbeat message's type and payload_length.
const HEARTBEAT_HEADER: usize = 3;

/// One attack seen on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attack {
    /// A heartbeat request declaring more payload than its record carries (RFC 6520 has
    /// it discarded): a Heartbleed probe.
    OverlongHeartbeat {
        from: Direction,
        /// The request's payload_length.
        declared: u16,
        /// What the record carried after the 3-byte header (payload and padding).
        carried: usize,
        at: Micros,
    },
    /// A heartbeat response carrying more payload than the request it answers carried:
    /// bytes the peer read past that request (Heartbleed).
    HeartbeatOverread {
        from: Direction,
        /// The response's payload_length, and its record's length.
        declared: u16,
        record: usize,
        /// What the request carried after its 3-byte header.
        request_carried: usize,
        at: Micros,
    },
    /// A ChangeCipherSpec at TLS 1.2 or below, after the ServerHello and before any key
    /// exchange (the client's ClientKeyExchange) in a handshake the server did not resume.
    EarlyCcs {
        from: Direction,
        /// The last handshake step before it ("ServerHelloDone", …).
        after: &'static str,
        at: Micros,
    },
    /// The peer took the early ChangeCipherSpec: it went on instead of answering
    /// unexpected_message.
    EarlyCcsTaken {
        by: Direction,
        /// What it sent next ("alert bad_record_mac", "a handshake record", …).
        answer: String,
        at: Micros,
    },
}

/// What the tracker has told the watch so far.
#[derive(Debug, Default)]
pub(super) struct Watch {
    /// Per direction: what the last heartbeat request not yet answered carried after its
    /// header.
    requests: [Option<usize>; 2],
    /// An early CCS whose peer's answer is awaited: who sent it.
    awaiting: Option<Direction>,
    /// Per direction: it sent an early CCS (what follows is no Finished).
    early: [bool; 2],
}

/// Adds `a` to what was seen: at most one of each kind, so an endless stream of heartbeats
/// stays small.
fn push(seen: &mut Vec<Attack>, a: Attack) {
    let same = |b: &Attack| std::mem::discriminant(b) == std::mem::discriminant(&a);
    if !seen.iter().any(same) {
        seen.push(a);
    }
}

impl Watch {
    /// A heartbeat message in the clear (or decrypted) from `from`.
    pub fn heartbeat(
        &mut self,
        from: Direction,
        message: &[u8],
        at: Micros,
        seen: &mut Vec<Attack>,
    ) {
        let [typ, hi, lo, ..] = *message else {
            return;
        };
        let declared = u16::from_be_bytes([hi, lo]);
        let carried = message.len() - HEARTBEAT_HEADER;
        match typ {
            HEARTBEAT_REQUEST => {
                if usize::from(declared) > carried {
                    push(
                        seen,
                        Attack::OverlongHeartbeat {
                            from,
                            declared,
                            carried,
                            at,
                        },
                    );
                }
                self.requests[from.index()] = Some(carried);
            }
            HEARTBEAT_RESPONSE => {
                let Some(request_carried) = self.requests[from.other().index()].take() else {
                    return;
                };
                // What the response really holds of the payload it declares.
                if usize::from(declared).min(carried) > request_carried {
                    push(
                        seen,
                        Attack::HeartbeatOverread {
                            from,
                            declared,
                            record: message.len(),
                            request_carried,
                            at,
                        },
                    );
                }
            }
            _ => {}
        }
    }

    /// A ChangeCipherSpec the tracker judged early (before any key exchange); `flight_done`
    /// when the peer had finished its flight, so its next record answers this one.
    pub fn early_ccs(
        &mut self,
        from: Direction,
        after: &'static str,
        flight_done: bool,
        at: Micros,
        seen: &mut Vec<Attack>,
    ) {
        push(seen, Attack::EarlyCcs { from, after, at });
        self.early[from.index()] = true;
        if flight_done && from == Direction::ClientToServer {
            self.awaiting = Some(from);
        }
    }

    /// `dir` sent an early CCS: its "encrypted" records after it are under no agreed keys,
    /// so none of them is its Finished.
    pub fn sent_early_ccs(&self, dir: Direction) -> bool {
        self.early[dir.index()]
    }

    /// A cleartext record from `dir` (before the tracker reads it): the answer to an early
    /// CCS from the other side, when one is awaited.
    pub fn record(
        &mut self,
        dir: Direction,
        ct: ContentType,
        payload: &[u8],
        at: Micros,
        seen: &mut Vec<Attack>,
    ) {
        if self.awaiting != Some(dir.other()) {
            return;
        }
        self.awaiting = None;
        let answer = match ct {
            ContentType::Alert => match payload.get(1) {
                Some(&(alert::BAD_RECORD_MAC | alert::DECRYPTION_FAILED)) => {
                    format!("alert {}", alert_name(payload[1]))
                }
                // Refused (unexpected_message), or an answer that says nothing about it.
                _ => return,
            },
            ContentType::Handshake => "a handshake record".into(),
            ContentType::ChangeCipherSpec => "its own ChangeCipherSpec".into(),
            ContentType::ApplicationData => "application data".into(),
            ContentType::Heartbeat | ContentType::Unknown(_) => return,
        };
        push(
            seen,
            Attack::EarlyCcsTaken {
                by: dir,
                answer,
                at,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Direction = Direction::ClientToServer;
    const S: Direction = Direction::ServerToClient;

    fn heartbeat(typ: u8, declared: u16, carried: usize) -> Vec<u8> {
        let mut m = vec![typ];
        m.extend_from_slice(&declared.to_be_bytes());
        m.resize(HEARTBEAT_HEADER + carried, 0x61);
        m
    }

    #[test]
    fn an_overlong_request_is_an_attempt_and_a_longer_answer_an_overread() {
        let (mut w, mut seen) = (Watch::default(), Vec::new());
        w.heartbeat(C, &heartbeat(1, 0x4000, 0), 1, &mut seen);
        w.heartbeat(S, &heartbeat(2, 0x4000, 0x4000 + 16), 2, &mut seen);
        assert_eq!(
            seen,
            [
                Attack::OverlongHeartbeat {
                    from: C,
                    declared: 0x4000,
                    carried: 0,
                    at: 1
                },
                Attack::HeartbeatOverread {
                    from: S,
                    declared: 0x4000,
                    record: 3 + 0x4000 + 16,
                    request_carried: 0,
                    at: 2
                }
            ]
        );
    }

    #[test]
    fn a_well_formed_heartbeat_and_its_echo_are_nothing() {
        let (mut w, mut seen) = (Watch::default(), Vec::new());
        // 5 payload bytes and 16 of padding, answered with the 5 bytes and new padding.
        w.heartbeat(C, &heartbeat(1, 5, 21), 1, &mut seen);
        w.heartbeat(S, &heartbeat(2, 5, 21), 2, &mut seen);
        // A response to no request, a truncated message: nothing to judge.
        w.heartbeat(S, &heartbeat(2, 0x4000, 100), 3, &mut seen);
        w.heartbeat(C, &[1, 0], 4, &mut seen);
        assert!(seen.is_empty(), "{:?}", seen);
    }

    #[test]
    fn a_refused_early_ccs_is_an_attempt_only_and_a_bad_record_mac_means_taken() {
        let (mut refused, mut seen) = (Watch::default(), Vec::new());
        refused.early_ccs(C, "ServerHelloDone", true, 1, &mut seen);
        refused.record(
            S,
            ContentType::Alert,
            &[2, alert::UNEXPECTED_MESSAGE],
            2,
            &mut seen,
        );
        assert_eq!(seen.len(), 1);

        let (mut taken, mut seen) = (Watch::default(), Vec::new());
        taken.early_ccs(C, "ServerHelloDone", true, 1, &mut seen);
        // The client's own next record is not an answer.
        taken.record(C, ContentType::Handshake, &[0; 64], 2, &mut seen);
        taken.record(
            S,
            ContentType::Alert,
            &[2, alert::BAD_RECORD_MAC],
            3,
            &mut seen,
        );
        assert_eq!(
            seen[1],
            Attack::EarlyCcsTaken {
                by: S,
                answer: "alert bad_record_mac".into(),
                at: 3
            }
        );

        // Sent before the server's flight was complete: the next record may have been on
        // its way already, so it is not read as an answer.
        let (mut racing, mut seen) = (Watch::default(), Vec::new());
        racing.early_ccs(C, "ServerHello", false, 1, &mut seen);
        racing.record(S, ContentType::Handshake, &[11, 0, 0, 0], 2, &mut seen);
        assert_eq!(seen.len(), 1);
    }
}
