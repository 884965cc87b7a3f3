//! Records the tracker cannot open (no keys, or keys that did not fit): what their content
//! type, count and size still tell. TLS ≤ 1.2: an encrypted handshake record after a
//! ChangeCipherSpec is that side's Finished. TLS 1.3: the server's flight, the client's
//! Finished, and an alert-sized record followed by a close read as an encrypted alert.

use super::{Outcome, TLS13_ALERT_RECORD_LEN, Tracker};
use crate::core::flow::{Direction, Micros};
use crate::core::wire::record::ContentType;

impl Tracker {
    pub(super) fn on_encrypted(&mut self, dir: Direction, ct: ContentType, len: usize, at: Micros) {
        let i = dir.index();
        self.sides[i].encrypted_records += 1;
        match dir {
            Direction::ClientToServer => self.v.client_encrypted_records += 1,
            Direction::ServerToClient => self.v.server_encrypted_records += 1,
        }
        if self.tls13() {
            self.record_event(at, dir, "encrypted record", len);
            self.tls13_encrypted(dir, len, at);
            return;
        }
        match ct {
            ContentType::Handshake => {
                self.record_event(at, dir, "encrypted handshake record", len);
                if !self.sides[i].finished && !self.watch.sent_early_ccs(dir) {
                    self.sides[i].finished = true;
                    self.last_step = Some("Finished");
                }
                if self.sides.iter().all(|s| s.finished) && !self.concluded() {
                    self.establish(at);
                }
            }
            ContentType::Alert => {
                self.record_event(at, dir, "encrypted alert", len);
                if !self.v.established {
                    self.diverge(dir, "encrypted alert".into());
                }
            }
            ContentType::ApplicationData => {
                self.record_event(at, dir, "application data", len);
            }
            _ => self.record_event(at, dir, "encrypted record", len),
        }
    }

    fn tls13_encrypted(&mut self, dir: Direction, len: usize, at: Micros) {
        let alert_sized = len == TLS13_ALERT_RECORD_LEN;
        let client_records = self.sides[0].encrypted_records;
        match dir {
            Direction::ServerToClient if client_records == 0 => {
                self.t13.server_flight_records += 1;
                self.last_step = Some("server's encrypted handshake");
            }
            Direction::ServerToClient => {
                self.t13.server_after_client += 1;
                if self.t13.server_after_client == 1 {
                    self.t13.server_first_after_client_alert_sized =
                        alert_sized && !self.t13.client_closing;
                }
            }
            Direction::ClientToServer if client_records == 1 => {
                if alert_sized {
                    self.t13.client_alert_pending = true;
                } else {
                    self.last_step = Some("client's encrypted handshake");
                    self.establish_tls13(at);
                }
            }
            Direction::ClientToServer => {
                if self.t13.client_alert_pending {
                    // More records followed: the first one was not a final alert.
                    self.t13.client_alert_pending = false;
                    self.establish_tls13(at);
                }
                if alert_sized {
                    self.t13.client_closing = true;
                }
            }
        }
    }

    pub(super) fn establish_tls13(&mut self, at: Micros) {
        if self.t13.server_flight_records > 0 && !self.concluded() {
            self.establish(at);
        }
    }

    pub(super) fn infer_tls13_alert_on_end(&mut self, dir: Direction, at: Micros) {
        match dir {
            Direction::ClientToServer if self.t13.client_alert_pending => {
                self.t13.client_alert_pending = false;
                self.event(
                    at,
                    dir,
                    "probably an encrypted alert (inferred: the client's first encrypted record \
                     is alert-sized and the client closed; did it reject the server's \
                     certificate?)",
                );
                self.diverge(dir, "encrypted alert (inferred)".into());
            }
            Direction::ClientToServer => self.t13.client_closing = true,
            Direction::ServerToClient
                if self.v.established
                    && self.t13.server_after_client == 1
                    && self.t13.server_first_after_client_alert_sized =>
            {
                self.v.established = false;
                self.v.outcome = Outcome::ServerHello;
                self.event(
                    at,
                    dir,
                    "probably an encrypted alert (inferred: the server answered the client's \
                     flight with one alert-sized record and closed; a client certificate \
                     required or rejected?)",
                );
                self.last_step = Some("client's encrypted handshake");
                self.diverge(dir, "encrypted alert (inferred)".into());
            }
            Direction::ServerToClient => {}
        }
    }
}
