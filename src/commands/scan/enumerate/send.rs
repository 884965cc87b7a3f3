//! Sending one hello and reading its answer: the [`Reply`] a hello gets, the paced, counted
//! and retried connection it goes on ([`Scanner::handshake`] and its kin), the chains whose
//! next connection is made ahead ([`Chain`], [`ChainGuard`], see `ahead`), and the
//! target's health, which decides when the scan gives up. Apart from the strategies: they
//! say what to offer and read the reply; how it travels is here.

use super::{Permit, Prefer, Scanner, lock};
use crate::commands::scan::ahead::Spare;
use crate::commands::scan::health::{AnswerKind, BROKEN_STREAK_LIMIT, breakage, classify};
use crate::core::assess::ConnectError;
use crate::core::crypto::Keys;
use crate::core::crypto::hello::BuiltHello;
use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::session::{Outcome, Tracker, Verdict};
use crate::core::wire::ProtocolVersion;
use crate::core::wire::hello::ClientHello;
use crate::core::wire::registry::alert_name;
use crate::io::net::{self, ExchangeObserver};
use std::io;
use std::sync::atomic::Ordering;

/// What one hello got back. `verdict` is `None` when no connection was made. Boxed: a
/// reply is handed up through several calls, and each move of a verdict inline was a copy
/// of a kilobyte (docs/benchmarks.md#scan-nodelay).
pub(in crate::commands::scan) struct Reply {
    pub(in crate::commands::scan) verdict: Option<Box<Verdict>>,
    /// The server sent at least one byte.
    pub(super) answered: bool,
    pub(in crate::commands::scan) kind: AnswerKind,
    /// False when the hello was not sent (the port refused an earlier one, or the scan
    /// gave up).
    sent: bool,
}

impl Reply {
    fn new(verdict: Option<Box<Verdict>>, answered: bool) -> Reply {
        let mut reply = Reply {
            verdict,
            answered,
            kind: AnswerKind::NoConnection,
            sent: true,
        };
        reply.kind = classify(reply.verdict.as_deref(), reply.went_on(), answered);
        reply
    }

    fn not_sent() -> Reply {
        Reply {
            sent: false,
            ..Reply::new(None, false)
        }
    }

    /// Why this answer leaves something unknown: it broke, or no connection was made.
    pub(super) fn trouble(&self) -> Option<String> {
        match self.kind {
            AnswerKind::Tls | AnswerKind::Silent => None,
            AnswerKind::NoConnection if !self.sent => {
                Some("not asked: the scan gave up on the target".into())
            }
            _ => Some(format!("the hello got {}", self.breakage())),
        }
    }

    fn breakage(&self) -> &'static str {
        breakage(self.verdict.as_deref(), self.went_on(), self.answered)
    }

    /// The server went on (ServerHello, HelloRetryRequest or SSLv2 SERVER-HELLO).
    pub(in crate::commands::scan) fn went_on(&self) -> bool {
        self.verdict.as_ref().is_some_and(|v| {
            v.server_hello.is_some()
                || v.hello_retry_request.is_some()
                || v.sslv2_server_hello.is_some()
        })
    }

    /// The version the server selected, if it went on.
    pub(in crate::commands::scan) fn version(&self) -> Option<u16> {
        self.verdict.as_ref().filter(|_| self.went_on())?.version
    }

    pub(in crate::commands::scan) fn alert(&self) -> Option<u8> {
        Some(self.verdict.as_ref()?.alert?.alert.description)
    }

    /// A short account of the answer: "alert handshake_failure", "closed", "TLSv1.2 …".
    pub(in crate::commands::scan) fn describe(&self) -> String {
        let Some(v) = &self.verdict else {
            return if self.sent {
                "no connection".into()
            } else {
                "not sent: the scan gave up".into()
            };
        };
        if self.went_on() {
            let version = v
                .version
                .map(|x| ProtocolVersion(x).to_string())
                .unwrap_or_default();
            let cipher = v.cipher.map(crate::core::wire::registry::suite_name);
            return format!("{version} {}", cipher.unwrap_or_default())
                .trim()
                .to_string();
        }
        match (v.outcome, self.alert()) {
            (_, Some(a)) => format!("alert {}", alert_name(a)),
            (o, None) => o.as_str().to_string(),
        }
    }
}

/// Reads an answer only as far as the verdict (no transcript): what one scan hello needs.
struct VerdictOnly {
    tracker: Tracker,
    server_bytes: usize,
}

impl ExchangeObserver for VerdictOnly {
    fn data(&mut self, dir: Direction, bytes: &[u8], at: Micros) -> bool {
        if dir == Direction::ServerToClient {
            self.server_bytes += bytes.len();
        }
        self.tracker.on_data(dir, bytes, at);
        !self.tracker.decided()
    }

    fn end(&mut self, dir: Direction, kind: EndKind, at: Micros) {
        self.tracker.on_end(dir, kind, at);
    }
}

/// A chain of hellos (see `ahead`): each one's connection is made while the previous
/// hello is answered. An elimination makes it ([`Scanner::chain`]) and hands it to the
/// code that sends its hellos ([`Scanner::handshake_in`]), and to an elimination nested
/// in it, whose hellos go on the same chain; a hello sent without it is not part of one.
pub(super) struct Chain<'a> {
    /// Another hello of the chain can follow the next one.
    pub(super) more: bool,
    /// The connection made ahead for the next hello.
    spare: Option<Spare<'a>>,
}

/// The chain a hello goes on, if any: its elimination's, passed down to where it is sent.
pub(super) type Link<'c, 'a> = Option<&'c mut Chain<'a>>;

/// Holds an elimination's chain. Dropped: a connection made ahead and unused is left for
/// the target's next hello (`leftover`).
pub(super) struct ChainGuard<'s, 'a> {
    scanner: &'s Scanner<'a>,
    /// `None` when the target's hellos do not connect ahead.
    chain: Option<Chain<'a>>,
}

impl<'a> ChainGuard<'_, 'a> {
    /// The chain, for the hellos of the elimination.
    pub(super) fn link(&mut self) -> Link<'_, 'a> {
        self.chain.as_mut()
    }
}

impl Drop for ChainGuard<'_, '_> {
    fn drop(&mut self) {
        // Its connection made ahead, unused, waits for the target's next hello (a
        // PostgreSQL backend forked, a dovecot login process started, for nothing
        // otherwise); one at most, a second is closed.
        if let Some(spare) = self.chain.take().and_then(|c| c.spare) {
            let mut leftover = lock(&self.scanner.leftover);
            if leftover.is_none() {
                *leftover = Some(spare);
            }
        }
    }
}

impl<'a> Scanner<'a> {
    /// A slot from the run's pacer, then this target's turn. The slot is held while the
    /// target's spacing sleeps, so a start never comes sooner than the spacing allows.
    fn start_connection(&self) -> Permit<'a> {
        let permit = self.pacer.acquire();
        if let Some(spacing) = &self.target_spacing {
            spacing.wait_turn();
        }
        permit
    }

    /// Sends one hello (retrying transient failures) and returns what came back. A TLS 1.3
    /// answer is decrypted with the hello's own key shares, so its certificate is seen.
    /// Nothing is sent once the port refused a connection or the scan gave up.
    pub(in crate::commands::scan) fn handshake(
        &self,
        hello: &mut BuiltHello,
        cost: &mut usize,
    ) -> Reply {
        self.send(hello, cost, true, None)
    }

    /// [`Scanner::handshake`], as the next hello of `chain` when there is one.
    pub(super) fn handshake_in(
        &self,
        hello: &mut BuiltHello,
        cost: &mut usize,
        chain: Link<'_, 'a>,
    ) -> Reply {
        self.send(hello, cost, true, chain)
    }

    /// A hello made to provoke breakage (the intolerance checks): sent as any other, but
    /// its answer is not counted in the target's health (a server that resets odd hellos
    /// is intolerant, which the check reports, not broken).
    pub(in crate::commands::scan) fn handshake_provoking(
        &self,
        hello: &mut BuiltHello,
        cost: &mut usize,
    ) -> Reply {
        self.send(hello, cost, false, None)
    }

    /// [`Scanner::handshake`], its answer counted in the target's health when `counted`,
    /// on `chain` when there is one. The hello's model (`hello.hello`) moves into the answer's
    /// verdict as its `client_hello` (the tracker takes it instead of decoding the bytes).
    fn send(
        &self,
        hello: &mut BuiltHello,
        cost: &mut usize,
        counted: bool,
        mut chain: Link<'_, 'a>,
    ) -> Reply {
        // Only a TLS-format hello counts below: a port multiplexer (sslh) can hand an
        // SSLv2-format one to another service.
        let tls_format = hello.hello.is_some();
        let mut attempt = 0;
        loop {
            if self.refused.load(Ordering::Relaxed) || self.gave_up.load(Ordering::Relaxed) {
                return Reply::not_sent();
            }
            // The first attempt of a chain's hello goes on the connection made ahead, and
            // in its slot; else the first attempt of any hello on a chain's unused one
            // (`leftover`).
            let mut parked = false;
            let mut spare = (attempt == 0)
                .then(|| {
                    let ahead = chain.as_mut().and_then(|c| c.spare.take());
                    ahead.or_else(|| {
                        let leftover = self.take_leftover();
                        parked = leftover.is_some();
                        leftover
                    })
                })
                .flatten();
            let permit = spare
                .as_mut()
                .and_then(|s| s.permit.take())
                .unwrap_or_else(|| self.start_connection());
            *cost += 1;
            self.total.fetch_add(1, Ordering::Relaxed);
            (self.on_handshake)();
            if attempt > 0 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            self.in_flight.fetch_add(1, Ordering::Relaxed);
            // Made here and read in place: the tracker is large, and each move of it was a
            // copy of a few kilobytes.
            let mut ex = VerdictOnly {
                tracker: Tracker::new(),
                server_bytes: 0,
            };
            self.prepare(&mut ex.tracker, hello);
            let result = self.exchange(&hello.wire, &mut ex, spare, chain.as_deref_mut());
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            let may_retry = attempt < self.opts.retries;
            attempt += 1;
            match result {
                Ok(()) => {
                    let outcome = ex.tracker.verdict().outcome;
                    // A leftover connection the server closed while it waited says nothing
                    // about the hello: it goes again on a new one (a retry).
                    let again = parked
                        && ex.server_bytes == 0
                        && matches!(outcome, Outcome::Reset | Outcome::Closed);
                    let transient = ex.server_bytes == 0 && outcome == Outcome::Reset;
                    if again || (transient && may_retry && self.take_retry()) {
                        hello.hello = ex.tracker.reclaim_own_hello();
                        continue;
                    }
                    if let Some(unread) = ex.tracker.unread_own_hello() {
                        hello.hello = Some(unread);
                    }
                    // Taken, not copied: the tracker is done with it.
                    let verdict = ex.tracker.into_verdict();
                    if let Some(what) = verdict.not_tls.as_ref().filter(|_| tls_format) {
                        self.note_error(format!("the server does not speak TLS: {what}"));
                    }
                    let reply = Reply::new(Some(Box::new(verdict)), ex.server_bytes > 0);
                    if counted {
                        let model = reply.verdict.as_ref().and_then(|v| v.client_hello.as_ref());
                        self.note_answer(hello.hello.as_ref().or(model), &reply, None);
                    }
                    return reply;
                }
                Err(e) => {
                    hello.hello = ex.tracker.reclaim_own_hello();
                    let refused = e.kind() == io::ErrorKind::ConnectionRefused;
                    // STARTTLS not offered or refused: every connection would end alike.
                    let no_upgrade = e.kind() == io::ErrorKind::Unsupported;
                    if !refused && !no_upgrade && may_retry && self.take_retry() {
                        continue;
                    }
                    if refused || no_upgrade {
                        self.refused.store(true, Ordering::Relaxed);
                    }
                    self.note_error(format!("connecting to {}: {e}", self.target.display()));
                    let reply = Reply::new(None, false);
                    let failed = ConnectError {
                        refused,
                        reason: e.to_string(),
                    };
                    if counted {
                        self.note_answer(hello.hello.as_ref(), &reply, Some(&failed));
                    }
                    return reply;
                }
            }
        }
    }

    /// One connection whose server side `observer` reads (and answers through its
    /// `reply`), paced and counted as any hello; not retried, not counted in the target's
    /// health. `false` when nothing was sent (the port refused, the scan gave up, or the
    /// connection failed).
    pub(in crate::commands::scan) fn exchange_observed(
        &self,
        wire: &[u8],
        observer: &mut dyn ExchangeObserver,
        cost: &mut usize,
    ) -> bool {
        if self.refused.load(Ordering::Relaxed) || self.gave_up.load(Ordering::Relaxed) {
            return false;
        }
        let _permit = self.start_connection();
        *cost += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        (self.on_handshake)();
        // In flight like any hello: a chain makes no spare connection while it keeps the
        // server busy (see `make_spare`).
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let sent = self
            .transport
            .exchange(self.target, wire, &self.opts.limits, observer)
            .is_ok();
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        sent
    }

    /// Whether one more attempt may be made: always after the version test, from the
    /// shared budget during it (a target that resets everything must not cost
    /// `--retries` per hello).
    fn take_retry(&self) -> bool {
        !self.version_test.load(Ordering::Relaxed)
            || self
                .version_test_retries
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
    }

    /// Counts one answer in the target's health; gives up when the broken streak is
    /// reached.
    /// `hello`: the hello's model (`None` for an SSLv2-format hello).
    fn note_answer(
        &self,
        hello: Option<&ClientHello>,
        reply: &Reply,
        failed: Option<&ConnectError>,
    ) {
        let what = reply.breakage();
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let streak_reached = health.note(reply.kind, what, reply.verdict.as_deref(), failed);
        // The newest version's first broken answer: the first hellos of several versions
        // go at once, and the first of them in time changed from run to run.
        let version = hello_version(hello);
        if matches!(reply.kind, AnswerKind::Broken)
            && health
                .first_broken
                .as_ref()
                .is_none_or(|(v, _)| version > *v)
        {
            health.first_broken = Some((version, format!("{} got {what}", hello_label(hello))));
        }
        if streak_reached && health.gave_up.is_none() {
            let why = format!(
                "the target stopped answering TLS as a server should: {BROKEN_STREAK_LIMIT} \
                 broken answers in a row ({}); the scan gave up",
                health.summary()
            );
            health.gave_up = Some(why);
            self.gave_up.store(true, Ordering::Relaxed);
        }
    }

    /// After the version test: a target that gave no TLS answer to the first hello of any
    /// version is asked nothing more.
    pub(super) fn give_up_unless_answered(&self) {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if health.tls > 0 || health.gave_up.is_some() {
            return;
        }
        let why = format!(
            "the target does not answer TLS as a server should: no TLS answer to the first \
             hello of any version ({}); the scan gave up",
            health.summary()
        );
        health.gave_up = Some(why);
        self.gave_up.store(true, Ordering::Relaxed);
    }

    /// The target gave no TLS answer to any hello (so a silent close refused nothing).
    pub(super) fn never_answered_tls(&self) -> bool {
        self.health.lock().map(|h| h.tls == 0).unwrap_or(false)
    }

    /// Readies the reader of one hello's answer, a new tracker its caller made in place (a
    /// tracker is a few kilobytes, and returning one was a copy): the hello's key shares (to
    /// decrypt a TLS 1.3 answer), the hello's model (moved out of `hello`) so that it does not
    /// decode the bytes again, when the transport sends them as they are (not QUIC's). A
    /// scan's hellos have their true lengths (no spec of the scan overrides them), as the
    /// tracker needs.
    fn prepare(&self, tracker: &mut Tracker, hello: &mut BuiltHello) {
        if !hello.secrets.is_empty() {
            tracker.decrypt_with(Keys::shares(hello.secrets.clone()));
        }
        // A scan reads the server's first flight and closes.
        tracker.first_flight_only();
        if self.transport.sends_hello_as_given()
            && let Some(model) = hello.hello.take()
        {
            tracker.expect_own_hello(model);
        }
    }

    /// One hello (`wire`) over the transport, read by `observer` until the tracker has its
    /// verdict. A failed connect is the error.
    fn exchange(
        &self,
        wire: &[u8],
        observer: &mut VerdictOnly,
        spare: Option<Spare<'a>>,
        chain: Link<'_, 'a>,
    ) -> io::Result<()> {
        let limits = &self.opts.limits;
        // The connection made ahead (the chain's, or one a chain left over). If making it
        // failed, a fresh connection decides (a refused port refuses it too).
        let made = spare.and_then(|s| s.take().0.ok());
        match (chain.zip(self.transport.connector()), made) {
            (Some((chain, connect)), made) => {
                let conn = match made {
                    Some(conn) => conn,
                    None => connect(self.target, limits)?,
                };
                // Past its preamble: the next hello's connection may start now (not after
                // a refused upgrade, which every connection would get).
                if conn.starttls.as_ref().is_none_or(|p| p.failure.is_none()) {
                    self.make_spare(chain, connect);
                }
                net::exchange_on(conn, wire, limits, observer)?;
            }
            (None, Some(conn)) => net::exchange_on(conn, wire, limits, observer)?,
            (None, None) => {
                self.transport
                    .exchange(self.target, wire, limits, observer)?;
            }
        }
        Ok(())
    }

    /// A new chain of hellos (see `ahead`), for an elimination: on a STARTTLS target, in
    /// the lower-latency plan, without a rate limit, over a transport that can connect
    /// ahead. Else the guard holds none, and its hellos go as any other.
    pub(super) fn chain(&self) -> ChainGuard<'_, 'a> {
        let chain = self.connects_ahead().then_some(Chain {
            more: true,
            spare: None,
        });
        ChainGuard {
            scanner: self,
            chain,
        }
    }

    /// Whether this target's chains connect ahead (see [`Scanner::chain`]). Checked before
    /// the leftover's lock, so that the hellos of every other scan (TLS targets, a mass
    /// scan's handshakes) do not take it.
    fn connects_ahead(&self) -> bool {
        self.target.starttls.is_some()
            && self.opts.prefer == Prefer::LowerLatency
            && self.target_spacing.is_none()
            && self.pacer.spacing.is_none()
            && self.transport.connector().is_some()
    }

    /// The connection a chain made ahead and left unused, if any (see `leftover`).
    fn take_leftover(&self) -> Option<Spare<'a>> {
        if !self.connects_ahead() {
            return None;
        }
        lock(&self.leftover).take()
    }

    /// Starts the next hello's connection for `chain`, when another hello can
    /// follow, a slot is free and no other hello of the target is in flight: with others
    /// in flight the server's cores have work while this one is answered, and the
    /// connection would only add one unused at the chain's end (dovecot's default login
    /// mode costs 7–8 ms of server CPU a connection: docs/benchmarks.md#starttls).
    fn make_spare(&self, chain: &mut Chain<'a>, connect: net::Connector) {
        if self.in_flight.load(Ordering::Relaxed) > 1 {
            return;
        }
        if !chain.more || chain.spare.is_some() {
            return;
        }
        let Some(permit) = self.pacer.try_acquire() else {
            return;
        };
        chain.spare = Spare::start(connect, self.target, &self.opts.limits, permit);
    }

    /// Keeps the first error: what went wrong first explains what followed.
    fn note_error(&self, message: String) {
        if let Ok(mut err) = self.error.lock() {
            err.get_or_insert(message);
        }
    }
}

/// "a TLSv1.2 hello", "an SSLv2 hello": which hello an error is about (`None`: an
/// SSLv2-format one).
fn hello_label(hello: Option<&ClientHello>) -> String {
    match hello {
        None => "an SSLv2 hello".into(),
        Some(_) => format!("a {} hello", ProtocolVersion(hello_version(hello))),
    }
}

/// The highest version a hello offers (SSLv2's hello, without a model: 0x0002).
fn hello_version(hello: Option<&ClientHello>) -> u16 {
    let Some(h) = hello else {
        return ProtocolVersion::SSLV2.0;
    };
    h.supported_versions()
        .and_then(|v| {
            v.into_iter()
                .filter(|v| *v <= ProtocolVersion::TLS13.0)
                .max()
        })
        .unwrap_or(h.legacy_version)
}
