//! The bottom of the core: which way bytes flow, how a direction ended, and the time unit.
//! Everything above (wire, crypto, session, the edges) speaks in these terms, so they
//! depend on nothing of ours.

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

    /// The other direction.
    pub fn other(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    /// 0 for the client's direction, 1 for the server's: an index into per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
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

impl EndKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EndKind::Fin => "close",
            EndKind::Rst => "reset",
            EndKind::Timeout => "timeout",
            EndKind::Gap => "gap",
            EndKind::ByteCap => "byte cap",
        }
    }
}

/// What carried a connection's TLS: TCP, or QUIC's CRYPTO frames over UDP.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    #[default]
    Tcp,
    Quic,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Quic => "quic",
        }
    }
}
