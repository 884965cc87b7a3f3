//! The TLS record layer of each direction: records out of the deframer, read by content
//! type (handshake records go to the joiner in `handshake.rs`, protected ones to
//! `keys.rs` or `opaque.rs`), ChangeCipherSpec, framing errors and peers that do not
//! speak TLS, the server's budget of records without progress, and what was cut short at
//! a direction's end.

use super::side::{Protection, Reading};
use super::{NO_PROGRESS_BYTES, NO_PROGRESS_RECORDS, Outcome, StallLimit, Tracker};
use crate::core::flow::{Direction, Micros};
use crate::core::wire::record::{ContentType, FramingError, RECORD_HEADER_LEN, Record};
use crate::core::wire::registry::handshake_type_name;
use crate::core::wire::server::{Alert, printable_preview, sniff_not_tls};

impl Tracker {
    pub(super) fn deframe(&mut self, dir: Direction, mut data: &[u8], at: Micros) {
        let i = dir.index();
        // Out of `self` while its records (which may borrow it) are read.
        let mut deframer = std::mem::take(&mut self.sides[i].deframer);
        while let Some(r) = deframer.next(&mut data) {
            match r {
                Ok(rec) => self.on_record(dir, rec, at),
                Err(e) => {
                    self.on_framing_error(dir, e, at);
                    break;
                }
            }
            if self.sides[i].stopped() {
                break;
            }
        }
        self.sides[i].deframer = deframer;
    }

    pub(super) fn on_framing_error(&mut self, dir: Direction, e: FramingError, at: Micros) {
        let i = dir.index();
        self.sides[i].stop();
        if matches!(e, FramingError::NotTls(_)) && self.sides[i].records == 0 {
            self.sides[i].reading = Reading::Stopped { not_tls: true };
            self.describe_not_tls(dir);
            let what = format!("not TLS: {}", self.v.not_tls.clone().unwrap_or_default());
            self.event(at, dir, what);
            self.diverge(dir, "not TLS".into());
            self.conclude(Outcome::NotTls, at);
        } else {
            self.fail(dir, at, e.to_string());
        }
    }

    /// Describes what a non-TLS peer sent, from the bytes seen so far.
    pub(super) fn describe_not_tls(&mut self, dir: Direction) {
        let side = &self.sides[dir.index()];
        let what = sniff_not_tls(&side.first_bytes).unwrap_or_else(|| {
            format!(
                "unrecognised bytes \"{}\"",
                printable_preview(&side.first_bytes, 80)
            )
        });
        self.v.not_tls = Some(format!("{} sent {what}", dir.peer()));
        self.v.not_tls_bytes = Some(side.first_bytes.to_vec());
    }

    fn on_record(&mut self, dir: Direction, rec: Record, at: Micros) {
        let i = dir.index();
        self.sides[i].records += 1;
        let len = rec.payload.len();
        let ct = rec.header.content_type;
        if dir == Direction::ServerToClient {
            self.v.server_records += 1;
            // Only what can be read is judged: opaque records (no keys) may be a long
            // flight or application data the tracker cannot see into. And only after a
            // ClientHello: a capture that picks a connection up mid-stream sees application
            // data of a session whose handshake it never saw.
            let readable = !self.sides[i].encrypted() || self.crypto.openers[i].is_some();
            if readable && self.client_hellos > 0 && !self.v.established && !self.concluded() {
                let stall = &mut self.v.stall;
                stall.records += 1;
                stall.bytes = stall.bytes.saturating_add(RECORD_HEADER_LEN + len);
                let kind = match ct {
                    ContentType::Handshake => 0,
                    ContentType::Alert => 1,
                    ContentType::ChangeCipherSpec => 2,
                    ContentType::ApplicationData => 3,
                    _ => 4,
                };
                stall.by_kind[kind] += 1;
                self.read_record(dir, rec, at);
                self.check_progress_budget(at);
                return;
            }
        }
        self.read_record(dir, rec, at);
    }

    /// The server has used up its budget of records or bytes without progress: the
    /// connection ends as `no_progress`, and nothing more of the server is read.
    fn check_progress_budget(&mut self, at: Micros) {
        let stall = &self.v.stall;
        let limit = if stall.records >= NO_PROGRESS_RECORDS {
            StallLimit::Records
        } else if stall.bytes >= NO_PROGRESS_BYTES {
            StallLimit::Bytes
        } else {
            return;
        };
        if !self.v.established && !self.concluded() {
            self.no_progress(limit, at);
        }
    }

    pub(super) fn no_progress(&mut self, limit: StallLimit, at: Micros) {
        let dir = Direction::ServerToClient;
        let stall = &mut self.v.stall;
        stall.ended_by = Some(limit);
        let what = format!(
            "no progress: {} records ({} bytes) without a new handshake message",
            stall.records, stall.bytes
        );
        self.event(at, dir, what);
        self.diverge(dir, "no progress".into());
        self.conclude(Outcome::NoProgress, at);
        self.sides[dir.index()].stop();
    }

    fn read_record(&mut self, dir: Direction, rec: Record, at: Micros) {
        let i = dir.index();
        let len = rec.payload.len();
        let ct = rec.header.content_type;
        self.watch
            .record(dir, ct, rec.payload, at, &mut self.v.attacks);
        if ct == ContentType::ChangeCipherSpec {
            self.on_ccs(dir, at);
            return;
        }
        // TLS 1.3 ciphertext always has the outer type application_data: an alert record
        // there is plaintext (a peer that could not derive keys).
        if self.sides[i].encrypted() && (!self.tls13() || ct == ContentType::ApplicationData) {
            if let Some(opener) = self.crypto.openers[i].as_mut() {
                match opener.open(ct.to_u8(), rec.header.version, rec.payload) {
                    Ok(opened) => {
                        self.on_decrypted(dir, opened.content_type, &opened.data, at);
                        return;
                    }
                    Err(e) => {
                        self.crypto.openers[i] = None;
                        self.crypto.pending[i] = None;
                        let what = format!("{} record not decrypted: {e}", dir.peer());
                        self.decryption_problem(what.clone());
                        self.event(at, dir, what);
                    }
                }
            }
            self.on_encrypted(dir, ct, len, at);
            return;
        }
        match ct {
            ContentType::Handshake => {
                // Not when the owner gave its hello: it has the bytes.
                if dir == Direction::ClientToServer
                    && self.client_hellos == 0
                    && self.own_hello.is_none()
                {
                    rec.write_wire(&mut self.client_hello_wire);
                }
                self.sides[i].record_version = rec.header.version;
                self.on_handshake_payload(dir, rec.payload, at, true);
            }
            ContentType::Alert => match Alert::decode(rec.payload) {
                Ok(alert) => self.on_alert(dir, alert, at, false),
                Err(e) => self.fail(dir, at, format!("alert record: {e}")),
            },
            ContentType::ApplicationData => {
                self.record_event(at, dir, "application data", len);
            }
            ContentType::Heartbeat => {
                self.letter(dir, 'b');
                self.record_event(at, dir, "heartbeat", len);
                self.watch
                    .heartbeat(dir, rec.payload, at, &mut self.v.attacks);
            }
            ContentType::ChangeCipherSpec | ContentType::Unknown(_) => {
                self.letter(dir, 'q');
                let t = ct.to_u8();
                self.event(at, dir, format!("record of unknown type {t} ({len} bytes)"));
            }
        }
    }

    fn on_ccs(&mut self, dir: Direction, at: Micros) {
        let i = dir.index();
        self.letter(dir, 'i');
        // Before any ServerHello (after a HelloRetryRequest, or a client's early CCS) and in
        // TLS 1.3 the CCS is the RFC 8446 middlebox-compatibility no-op.
        if self.tls13() || self.v.server_hello.is_none() {
            self.event(at, dir, "ChangeCipherSpec (middlebox compatibility)");
        } else {
            self.event(at, dir, "ChangeCipherSpec");
            // Before any key exchange, in a handshake the server did not resume (its own
            // CCS would have come first): CVE-2014-0224's early CCS.
            let server_ccs = self.sides[Direction::ServerToClient.index()].encrypted();
            if dir == Direction::ClientToServer && !self.client_key_exchange && !server_ccs {
                let after = self.last_step.unwrap_or("ServerHello");
                let flight_done = self.server_hello_done;
                self.watch
                    .early_ccs(dir, after, flight_done, at, &mut self.v.attacks);
            }
            self.sides[i].protection = Protection::AfterCcs;
            self.crypto.openers[i] = self.crypto.pending[i].take();
        }
    }

    pub(super) fn report_truncation(&mut self, dir: Direction, at: Micros) {
        let side = &self.sides[dir.index()];
        if side.stopped() {
            return;
        }
        let mut notes = Vec::new();
        if let Some((typ, len)) = side.joiner.pending() {
            let name = handshake_type_name(typ).unwrap_or("handshake message");
            let have = side.joiner.buffered() - 4;
            notes.push(format!("truncated {name}: {have} of {len} bytes"));
        } else if side.joiner.buffered() > 0 {
            notes.push("truncated handshake message header".to_string());
        }
        if let Some(h) = side.deframer.pending_header() {
            let have = side.deframer.buffered() - RECORD_HEADER_LEN;
            // A plaintext handshake record that starts a message names it.
            let starts = side.deframer.partial().get(RECORD_HEADER_LEN).copied();
            let inside = match (h.content_type, starts) {
                (ContentType::Handshake, Some(t))
                    if !side.encrypted() && side.joiner.buffered() == 0 =>
                {
                    handshake_type_name(t).map(|n| format!(", in {n}"))
                }
                _ => None,
            };
            notes.push(format!(
                "truncated record: {have} of {} bytes{}",
                h.length,
                inside.unwrap_or_default()
            ));
        } else if side.deframer.buffered() > 0 {
            notes.push("truncated record header".to_string());
        } else if !side.sslv2.is_empty() {
            notes.push("truncated SSLv2 record".to_string());
        }
        if let Some(first) = notes.first() {
            self.v
                .truncated
                .get_or_insert_with(|| format!("{}: {first}", dir.peer()));
        }
        for n in notes {
            self.event(at, dir, n);
        }
    }
}
