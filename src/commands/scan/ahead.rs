//! Connections made ahead for a chain of hellos: while one hello of an elimination ("offer
//! what remains, remove the pick") is answered, the next hello's connection is made and,
//! on a STARTTLS target, its preamble run, so the next link waits only for its handshake.
//!
//! Why: a link of such a chain waits for the connect, the server's work at `accept` (a
//! forked PostgreSQL backend, a vsftpd session process, a dovecot login process), the
//! greeting and the upgrade's round trips before its hello can go; those need nothing
//! from the previous answer (docs/benchmarks.md#starttls). Only the STARTTLS targets of
//! the lower-latency plan get them, with no rate limit and a free connection slot: the
//! connection counts against `--concurrency` from its start, and it is made only once
//! the current hello's own connection is past its preamble (a server that serves one
//! connection at a time handles the current one first), only when another hello can
//! follow, and only while no other hello of the target is in flight (then the server's
//! cores are busy anyway; the chain that ends a scan runs alone: PostgreSQL's TLS 1.2
//! suites, 46 hellos in a row). When the chain ends (the server refused the last offer)
//! the connection made for a next hello waits for the target's next hello of any part
//! (`Scanner::leftover`): closed unused only when none follows, one connection and no
//! handshake (before, one or two a scan on the benchmarks' servers).

use super::enumerate::Permit;
use super::tasks;
use crate::io::net::{Connection, Connector, Limits, Target};
use std::io;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// A connection being made (or made) on a pool thread, with the slot it holds.
pub(super) struct Spare<'a> {
    cell: Arc<Cell>,
    pub(super) permit: Option<Permit<'a>>,
}

struct Cell {
    state: Mutex<State>,
    ready: Condvar,
}

enum State {
    Pending,
    Ready(io::Result<Connection>),
    /// Taken or given up: a connection that comes in later is closed at once.
    Unwanted,
}

impl<'a> Spare<'a> {
    /// Starts making a connection to `target` on a pool thread; `None` when no thread
    /// could be had (the slot is given back then).
    pub(super) fn start(
        connect: Connector,
        target: &Target,
        limits: &Limits,
        permit: Permit<'a>,
    ) -> Option<Spare<'a>> {
        let cell = Arc::new(Cell {
            state: Mutex::new(State::Pending),
            ready: Condvar::new(),
        });
        let (target, limits, theirs) = (target.clone(), *limits, Arc::clone(&cell));
        let started = tasks::detached(move || {
            let made = connect(&target, &limits);
            let mut state = theirs.state.lock().unwrap_or_else(PoisonError::into_inner);
            if matches!(*state, State::Pending) {
                *state = State::Ready(made);
                drop(state);
                theirs.ready.notify_one();
            }
            // Else nobody wants it: `made` is dropped here, which closes it.
        });
        started.then_some(Spare {
            cell,
            permit: Some(permit),
        })
    }

    /// Waits for the connection (bounded by the connect and preamble time-outs), and
    /// hands it over with its slot.
    pub(super) fn take(mut self) -> (io::Result<Connection>, Option<Permit<'a>>) {
        let mut state = self
            .cell
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while matches!(*state, State::Pending) {
            state = self
                .cell
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let made = match std::mem::replace(&mut *state, State::Unwanted) {
            State::Ready(made) => made,
            _ => Err(io::Error::other("the connection made ahead was lost")),
        };
        drop(state);
        (made, self.permit.take())
    }
}

impl Drop for Spare<'_> {
    /// Not taken: the connection is closed (now, or by its thread when it comes in); the
    /// slot goes back with the permit.
    fn drop(&mut self) {
        let mut state = self
            .cell
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let old = std::mem::replace(&mut *state, State::Unwanted);
        drop(state);
        drop(old);
    }
}
