//! The session tracker: one per connection, sans-IO.
//!
//! It is fed `(direction, bytes, time)` chunks and end-of-stream signals, decodes records and
//! handshake messages as they complete, and keeps the [`Verdict`]. `probe` feeds it what it
//! sent and received; `capture` feeds it reassembled TCP payload. "Where did this handshake
//! diverge" is therefore computed by this one piece of code, live and offline.

/// Microseconds; the caller chooses the epoch (Unix time for captures, start of probe live).
pub type Micros = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub fn peer(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client",
            Direction::ServerToClient => "server",
        }
    }
}

/// How one direction of a stream ended (or why we stopped reading it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndKind {
    /// Orderly close (TCP FIN).
    Fin,
    /// TCP RST.
    Rst,
    /// Nothing more arrived before the deadline.
    Timeout,
    /// Bytes are missing (capture loss): what follows cannot be decoded.
    Gap,
    /// The reader stopped after its byte cap.
    ByteCap,
}

/// The outcome of a connection, in the contract's snake_case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered with a ServerHello and nothing went wrong before we stopped.
    ServerHello,
    HelloRetryRequest,
    /// Both sides finished the handshake (seen in captures).
    Established,
    Alert,
    Closed,
    Reset,
    Timeout,
    /// The stream stopped being decodable (gap, truncation) before the handshake was decided.
    Incomplete,
    NotTls,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::ServerHello => "server_hello",
            Outcome::HelloRetryRequest => "hello_retry_request",
            Outcome::Established => "established",
            Outcome::Alert => "alert",
            Outcome::Closed => "closed",
            Outcome::Reset => "reset",
            Outcome::Timeout => "timeout",
            Outcome::Incomplete => "incomplete",
            Outcome::NotTls => "not_tls",
        }
    }
}
