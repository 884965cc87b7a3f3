//! The `scan --vulns` checks that carry a TLS 1.2 handshake past ServerHelloDone with our
//! own keys ([`crate::core::crypto::tls12`]): `client_renegotiation` (a finished handshake,
//! then a second ClientHello under the session) and `robot` (five RSA key exchanges with
//! differently malformed PKCS#1 blocks). The exchange loop of `io::net` drives the
//! [`Driver`] observer: it answers the server's flight as the plan says and keeps what the
//! verdict needs (the first record that answered, how the connection ended), nothing more.

use super::enumerate::Scanner;
use crate::commands::probe::fill_random;
use crate::core::crypto::tls12::{
    self, ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, Client, HANDSHAKE, HelloParams, RsaKey,
    Session,
};
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::wire::build::sni_name;
use crate::core::wire::record::Deframer;
use crate::core::wire::registry::alert_name;
use crate::io::net::ExchangeObserver;

/// What the driver does once the server's first flight is in.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Finish the handshake, then send a second ClientHello under the session.
    Renegotiate,
    /// RSA key exchange with this PKCS#1 variant, then CCS and a bogus Finished.
    Robot(RobotVariant),
    /// Ask for a session ticket (RFC 5077) and send our flight; done once the server's
    /// NewSessionTicket (or its Finished without one) is in.
    Ticket,
    /// Offer `ticket` with a session id of `session_id` and read the ServerHello's
    /// session id, and whether the server resumed (its CCS right after the ServerHello).
    Resume {
        ticket: Vec<u8>,
        session_id: Vec<u8>,
    },
}

/// The ROBOT paper's five ClientKeyExchange blocks (Böck, Somorovsky, Young 2018, §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RobotVariant {
    /// 0x00 0x02, padding, 0x00, version 3.3, 46 random bytes: a valid premaster secret.
    Correct,
    /// The first two bytes are not 0x00 0x02.
    WrongFirstBytes,
    /// A 0x00 inside the padding: the message after it is not 48 bytes.
    ZeroInPadding,
    /// No 0x00 separator at all.
    NoSeparator,
    /// Correct padding, but the premaster secret's version is 0x0202.
    WrongVersion,
}

impl RobotVariant {
    pub const ALL: [RobotVariant; 5] = [
        RobotVariant::Correct,
        RobotVariant::WrongFirstBytes,
        RobotVariant::ZeroInPadding,
        RobotVariant::NoSeparator,
        RobotVariant::WrongVersion,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RobotVariant::Correct => "correct padding",
            RobotVariant::WrongFirstBytes => "wrong first bytes",
            RobotVariant::ZeroInPadding => "0x00 in the padding",
            RobotVariant::NoSeparator => "no 0x00 separator",
            RobotVariant::WrongVersion => "wrong version in the premaster secret",
        }
    }

    /// The block to encrypt for a `k`-byte modulus, with `random` (at least `k` bytes) for
    /// the padding and premaster secret.
    fn block(self, k: usize, random: &[u8]) -> Option<Vec<u8>> {
        let mut pms = vec![3, 3];
        pms.extend_from_slice(random.get(..46)?);
        if self == RobotVariant::WrongVersion {
            pms[..2].copy_from_slice(&[2, 2]);
        }
        let mut block = tls12::pkcs1_block(k, &pms, random.get(46..)?)?;
        let sep = k - 49;
        match self {
            RobotVariant::WrongFirstBytes => block[..2].copy_from_slice(&[0x41, 0x17]),
            RobotVariant::ZeroInPadding => block[11] = 0,
            RobotVariant::NoSeparator => {
                block[sep] = 1;
                // No zero anywhere after 0x00 0x02 (the random secret could hold one).
                block[2..]
                    .iter_mut()
                    .filter(|b| **b == 0)
                    .for_each(|b| *b = 1);
            }
            RobotVariant::Correct | RobotVariant::WrongVersion => {}
        }
        Some(block)
    }
}

/// The first thing the server sent after our flight (or our second hello).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An alert: level and description.
    Alert(u8, u8),
    /// A handshake message of this type (decrypted when under the session).
    Handshake(u8),
    /// ChangeCipherSpec (ROBOT: the server took the bogus Finished's keys?).
    ChangeCipherSpec,
    /// A record we could not open or did not expect, by type.
    Other(u8),
}

impl Answer {
    pub fn describe(&self) -> String {
        match self {
            Answer::Alert(level, d) => format!(
                "{} alert {}",
                if *level == 1 { "warning" } else { "fatal" },
                alert_name(*d)
            ),
            Answer::Handshake(typ) => format!("handshake message {typ}"),
            Answer::ChangeCipherSpec => "ChangeCipherSpec".into(),
            Answer::Other(typ) => format!("a record of type {typ}"),
        }
    }
}

/// Where the handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Reading the server's first flight up to ServerHelloDone.
    FirstFlight,
    /// Our flight is sent; the server's CCS and Finished are due (renegotiation only).
    ServerFinished,
    /// Waiting for the answer to what we sent last.
    Answer,
    /// ROBOT: the answer is in; reading on (and dropping) until the server ends the
    /// connection, since how it ends is part of the reaction.
    Drain,
    Done,
}

/// Drives one TLS 1.2 connection for a [`Plan`].
pub struct Driver {
    plan: Plan,
    sni: Option<String>,
    client: Client,
    session: Option<Session>,
    stage: Stage,
    /// The server's byte stream cut into records (one begun in an earlier delivery held).
    deframer: Deframer,
    /// Plaintext handshake bytes not yet read as whole messages.
    messages: Vec<u8>,
    /// The server's CCS came: its records are encrypted from here on.
    server_encrypting: bool,
    reply: Option<Vec<u8>>,
    /// The handshake was finished (the server's Finished verified).
    pub established: bool,
    pub answer: Option<Answer>,
    /// `Plan::Resume`: the ServerHello's session id. Held only until the verdict is
    /// written (its bytes past ours may be server memory).
    pub server_session_id: Option<Vec<u8>>,
    /// `Plan::Resume`: the ServerHello was followed by ChangeCipherSpec (an abbreviated
    /// handshake) or by another handshake message (a full one).
    pub resumed: Option<bool>,
    /// Why the plan could not be carried out, when it could not.
    pub failure: Option<String>,
    pub end: Option<EndKind>,
}

impl Driver {
    /// The driver and the ClientHello record to send.
    pub fn new(plan: Plan, suites: Vec<u16>, sni: Option<String>) -> (Driver, Vec<u8>) {
        let mut random = [0u8; 32];
        fill_random(&mut random);
        let (session_ticket, session_id) = match &plan {
            Plan::Ticket => (Some(Vec::new()), Vec::new()),
            Plan::Resume { ticket, session_id } => (Some(ticket.clone()), session_id.clone()),
            _ => (None, Vec::new()),
        };
        let hello = tls12::client_hello(&HelloParams {
            random,
            suites,
            sni: sni.clone(),
            session_ticket,
            session_id,
            ..HelloParams::default()
        });
        let driver = Driver {
            plan,
            sni,
            client: Client::new(&hello, random),
            session: None,
            stage: Stage::FirstFlight,
            deframer: Deframer::new(),
            messages: Vec::new(),
            server_encrypting: false,
            reply: None,
            established: false,
            answer: None,
            server_session_id: None,
            resumed: None,
            failure: None,
            end: None,
        };
        (driver, tls12::record(HANDSHAKE, &hello))
    }

    fn fail(&mut self, why: impl Into<String>) -> bool {
        self.failure = Some(why.into());
        self.stage = Stage::Done;
        false
    }

    /// Reads the whole records in `bytes` (and any begun earlier, held by the deframer);
    /// `false` once nothing more is wanted.
    fn read_records(&mut self, mut bytes: &[u8]) -> bool {
        while self.stage != Stage::Done {
            let (typ, body) = match self.deframer.next(&mut bytes) {
                None => return true,
                Some(Err(e)) => {
                    return self.fail(format!("the server's records do not frame: {e}"));
                }
                Some(Ok(r)) => (r.header.content_type.to_u8(), r.payload.to_vec()),
            };
            let plain = if self.server_encrypting {
                match self.session.as_mut().map(|s| s.open(typ, &body)) {
                    Some(Ok(p)) => p,
                    _ => return self.fail(format!("could not open the server's {typ} record")),
                }
            } else {
                body
            };
            if !self.record(typ, plain) {
                return false;
            }
        }
        false
    }

    /// One record of the server's, opened; `false` once nothing more is wanted.
    fn record(&mut self, typ: u8, plain: Vec<u8>) -> bool {
        if self.stage == Stage::Answer {
            self.answer = Some(match typ {
                ALERT if plain.len() >= 2 => Answer::Alert(plain[0], plain[1]),
                HANDSHAKE if !plain.is_empty() => Answer::Handshake(plain[0]),
                CHANGE_CIPHER_SPEC => Answer::ChangeCipherSpec,
                other => Answer::Other(other),
            });
            if matches!(self.plan, Plan::Robot(_)) {
                self.stage = Stage::Drain;
                return true;
            }
            self.stage = Stage::Done;
            return false;
        }
        if self.stage == Stage::Drain {
            return true;
        }
        match typ {
            ALERT => {
                let d = plain.get(1).copied().unwrap_or(0);
                self.fail(format!("the handshake got alert {}", alert_name(d)))
            }
            CHANGE_CIPHER_SPEC if self.server_session_id.is_some() => {
                self.resumed = Some(true);
                self.stage = Stage::Done;
                false
            }
            CHANGE_CIPHER_SPEC if self.stage == Stage::ServerFinished => {
                self.server_encrypting = true;
                true
            }
            HANDSHAKE => {
                self.messages.extend_from_slice(&plain);
                while let Some(msg) = tls12::next_message(&mut self.messages) {
                    if !self.message(&msg) {
                        return false;
                    }
                }
                true
            }
            APPLICATION_DATA | CHANGE_CIPHER_SPEC => {
                self.fail(format!("unexpected record of type {typ} in the handshake"))
            }
            _ => true,
        }
    }

    fn message(&mut self, msg: &[u8]) -> bool {
        if self.stage == Stage::ServerFinished && self.server_encrypting {
            let ok = self
                .session
                .as_ref()
                .is_some_and(|s| s.server_finished_ok(msg));
            if !ok {
                return self.fail("the server's Finished did not verify");
            }
            self.established = true;
            return self.after_established();
        }
        if let Plan::Resume { .. } = self.plan {
            if self.server_session_id.is_some() {
                // Another handshake message after the ServerHello: a full handshake.
                self.resumed = Some(false);
                self.stage = Stage::Done;
                return false;
            }
            if msg[0] == tls12::SERVER_HELLO {
                let sh = crate::core::wire::server::ServerHello::decode_body(&msg[4..]);
                let Ok(sh) = sh else {
                    return self.fail("the ServerHello did not decode");
                };
                self.server_session_id = Some(sh.session_id);
                return true;
            }
        }
        if let Err(e) = self.client.server_message(msg) {
            return self.fail(e);
        }
        if matches!(self.plan, Plan::Ticket) && self.client.ticket.is_some() {
            self.stage = Stage::Done;
            return false;
        }
        if self.stage == Stage::FirstFlight && self.client.hello_done {
            return self.after_hello_done();
        }
        true
    }

    fn after_hello_done(&mut self) -> bool {
        match self.plan.clone() {
            Plan::Resume { .. } => self.fail("the server sent a full handshake's first flight"),
            Plan::Renegotiate | Plan::Ticket => {
                let kx = self.client.ecdhe_key_exchange(&mut fill_random);
                let finished = kx.and_then(|(cke, pms)| self.client.finish(&cke, &pms));
                match finished {
                    Ok((flight, session)) => {
                        self.session = Some(session);
                        self.reply = Some(flight);
                        self.stage = Stage::ServerFinished;
                        true
                    }
                    Err(e) => self.fail(e),
                }
            }
            Plan::Robot(variant) => {
                let Some(key) = self
                    .client
                    .chain
                    .first()
                    .and_then(|c| RsaKey::from_certificate(c))
                else {
                    return self.fail("no RSA key in the server's certificate");
                };
                let mut random = vec![0u8; key.len()];
                fill_random(&mut random);
                let encrypted = variant
                    .block(key.len(), &random)
                    .and_then(|b| key.encrypt_raw(&b));
                let Some(encrypted) = encrypted else {
                    return self.fail(format!("an RSA key of {} bytes is too small", key.len()));
                };
                let mut flight =
                    tls12::record(HANDSHAKE, &tls12::rsa_client_key_exchange(&encrypted));
                flight.extend(tls12::record(CHANGE_CIPHER_SPEC, &[1]));
                // A Finished the server cannot open: as in the paper, every variant's keys
                // are wrong for it, so only the premaster secret's handling can differ. 80
                // bytes is a well-formed length for every suite (a CBC IV and four blocks,
                // room for a SHA-384 MAC; an AEAD nonce, body and tag), so the record is
                // decrypted and fails its MAC instead of failing to parse.
                flight.extend(tls12::record(HANDSHAKE, &[0u8; 80]));
                self.reply = Some(flight);
                self.stage = Stage::Answer;
                true
            }
        }
    }

    fn after_established(&mut self) -> bool {
        if !matches!(self.plan, Plan::Renegotiate) {
            self.stage = Stage::Done;
            return false;
        }
        let Some(session) = self.session.as_mut() else {
            return self.fail("no session");
        };
        let mut random = [0u8; 32];
        fill_random(&mut random);
        let hello = tls12::client_hello(&HelloParams {
            random,
            suites: tls12::ECDHE_SUITES.to_vec(),
            sni: self.sni.clone(),
            renegotiation_info: session.client_verify_data.clone(),
            ..HelloParams::default()
        });
        self.reply = Some(session.seal(HANDSHAKE, &hello));
        self.stage = Stage::Answer;
        true
    }

    /// `Plan::Ticket`: the ticket the server issued.
    pub fn ticket(&self) -> Option<&[u8]> {
        self.client.ticket.as_deref()
    }

    /// How the connection ended, in words.
    pub fn ending(&self) -> String {
        ending(self.end)
    }
}

pub fn ending(end: Option<EndKind>) -> String {
    match end {
        Some(EndKind::Fin) => "the server closed the connection".into(),
        Some(EndKind::Rst) => "the server reset the connection".into(),
        Some(EndKind::Timeout) => "no answer within the read time-out".into(),
        Some(EndKind::ByteCap) => "the byte cap was reached".into(),
        Some(other) => format!("the connection ended ({other:?})"),
        None => "no answer".into(),
    }
}

impl ExchangeObserver for Driver {
    fn data(&mut self, dir: Direction, bytes: &[u8], _at: Micros) -> bool {
        if dir == Direction::ClientToServer {
            return self.stage != Stage::Done;
        }
        if self.stage == Stage::Drain {
            // Nothing after the answer is kept; the byte cap bounds what is read.
            return true;
        }
        self.read_records(bytes)
    }

    fn end(&mut self, dir: Direction, kind: EndKind, _at: Micros) {
        if dir == Direction::ServerToClient {
            self.end = Some(kind);
        }
    }

    fn reply(&mut self) -> Option<Vec<u8>> {
        self.reply.take()
    }
}

/// Runs one connection for `plan`; `None` when no connection was made.
pub fn run(scanner: &Scanner, plan: Plan, suites: Vec<u16>, cost: &mut usize) -> Option<Driver> {
    let sni = sni_name(&scanner.opts.sni, Some(&scanner.target.host));
    let (mut driver, hello) = Driver::new(plan, suites, sni);
    scanner
        .exchange_observed(&hello, &mut driver, cost)
        .then_some(driver)
}

/// What one ROBOT connection showed: the answer and the ending, as compared.
pub fn robot_reaction(d: &Driver) -> String {
    match &d.answer {
        Some(a) => format!("{} then {}", a.describe(), d.ending()),
        None => d.ending(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robot_blocks_are_malformed_as_named() {
        let k = 128;
        let random = vec![0x55u8; k];
        let find_sep = |b: &[u8]| b[2..].iter().position(|x| *x == 0).map(|i| i + 2);
        let good = RobotVariant::Correct.block(k, &random).unwrap();
        assert_eq!(&good[..2], &[0, 2]);
        assert_eq!(find_sep(&good), Some(k - 49));
        assert_eq!(&good[k - 48..k - 46], &[3, 3]);
        let wrong = RobotVariant::WrongFirstBytes.block(k, &random).unwrap();
        assert_eq!(&wrong[..2], &[0x41, 0x17]);
        let zero = RobotVariant::ZeroInPadding.block(k, &random).unwrap();
        assert_eq!(find_sep(&zero), Some(11));
        let none = RobotVariant::NoSeparator.block(k, &random).unwrap();
        assert_eq!(find_sep(&none), None);
        let version = RobotVariant::WrongVersion.block(k, &random).unwrap();
        assert_eq!(&version[k - 48..k - 46], &[2, 2]);
    }
}
