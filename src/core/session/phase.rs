//! Where a connection's handshake stands: the [`Phase`] the server's answers moved it to,
//! how settled its outcome is ([`Decision`]), and what TLS 1.3 encrypted record sizes let
//! us infer without keys.

/// How settled the connection's outcome is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// The handshake is going on: a live probe reads on.
    Open,
    /// A live probe may stop reading (the server's flight is complete, a HelloRetryRequest,
    /// an error); the outcome may still move on (a second ClientHello reopens it).
    Decided,
    /// The outcome can no longer change (alert, end, not TLS, error); decided as well.
    Concluded,
}

/// Where the connection's negotiation stands, as the server's answers moved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No ServerHello and no HelloRetryRequest yet.
    AwaitingServerHello,
    /// A HelloRetryRequest (TLS 1.3) and no ServerHello yet.
    RetryRequested,
    /// A ServerHello selecting TLS ≤ 1.2.
    Tls12,
    /// TLS 1.3 was selected and a ServerHello arrived. `flight_read`: the server's buffer
    /// held no partial record at the end of a delivery since: what came with the
    /// ServerHello has been read.
    Tls13 { flight_read: bool },
}

/// TLS 1.3 bookkeeping for what can be inferred from encrypted record sizes alone.
#[derive(Debug, Default)]
pub(super) struct Tls13Inference {
    /// Encrypted records the server sent before the client's first one (its flight).
    pub(super) server_flight_records: usize,
    /// The client's first encrypted record was alert-sized: an alert if a close follows.
    pub(super) client_alert_pending: bool,
    /// The client sent an alert-sized record after its flight, or ended: it is closing.
    pub(super) client_closing: bool,
    /// Server records after the client's flight, and whether the first was alert-sized and
    /// came while the client was not closing.
    pub(super) server_after_client: usize,
    pub(super) server_first_after_client_alert_sized: bool,
}
