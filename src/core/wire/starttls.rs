//! The plaintext preambles that come before TLS on mail, directory, database, file and chat
//! ports (STARTTLS and its relatives), as a sans-IO state machine: bytes from the server
//! in, bytes to send and a decision out. The connecting edge drives it; nothing here reads
//! a socket or a clock.
//!
//! Every budget is bounded: a line longer than [`MAX_LINE`] or a preamble longer than
//! [`MAX_PREAMBLE`] ends it as [`Failure::PlaintextError`].

use std::fmt;

/// Longest line (or XML chunk) a server may send before TLS.
pub const MAX_LINE: usize = 8 * 1024;
/// Most bytes a server may send before TLS.
pub const MAX_PREAMBLE: usize = 64 * 1024;

macro_rules! protocols {
    ($($variant:ident = $name:literal, [$($port:literal),*];)*) => {
        /// A protocol that upgrades a plaintext connection to TLS.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Protocol { $($variant,)* }

        impl Protocol {
            /// Every protocol, in table order.
            pub const ALL: &'static [Protocol] = &[$(Protocol::$variant,)*];

            /// The name `--starttls` takes and reports show.
            pub fn name(self) -> &'static str {
                match self { $(Protocol::$variant => $name,)* }
            }

            /// The well-known plaintext ports of this protocol.
            pub fn ports(self) -> &'static [u16] {
                match self { $(Protocol::$variant => &[$($port),*],)* }
            }
        }
    };
}

protocols! {
    Smtp = "smtp", [25, 587];
    Lmtp = "lmtp", [24];
    Imap = "imap", [143];
    Pop3 = "pop3", [110];
    Ftp = "ftp", [21];
    Ldap = "ldap", [389];
    Postgres = "postgres", [5432];
    Mysql = "mysql", [3306];
    Xmpp = "xmpp", [5222];
    XmppServer = "xmpp-server", [5269];
    Nntp = "nntp", [119];
    Sieve = "sieve", [4190];
    Irc = "irc", [6667];
}

impl Protocol {
    pub fn parse(name: &str) -> Option<Protocol> {
        Protocol::ALL
            .iter()
            .copied()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// The protocol a well-known port implies.
    pub fn for_port(port: u16) -> Option<Protocol> {
        Protocol::ALL
            .iter()
            .copied()
            .find(|p| p.ports().contains(&port))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the preamble did not lead to TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server does not advertise the upgrade.
    NotOffered,
    /// The server advertised (or was asked) and said no.
    Refused,
    /// The server closed, or answered something the protocol does not allow here.
    PlaintextError,
}

impl Failure {
    /// The outcome name in reports.
    pub fn outcome(self) -> &'static str {
        match self {
            Failure::NotOffered => "starttls_not_offered",
            Failure::Refused => "starttls_refused",
            Failure::PlaintextError => "plaintext_error",
        }
    }
}

/// What the state machine wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes, then read.
    Send(Vec<u8>),
    /// Read more from the server.
    Read,
    /// The server agreed: the next bytes are the TLS handshake.
    Ready,
    /// No TLS on this connection.
    Failed(Failure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Capabilities,
    Upgrade,
    Done,
}

/// One preamble: feed it the server's bytes, send what it asks for.
#[derive(Debug, Clone)]
pub struct Preamble {
    pub protocol: Protocol,
    host: String,
    state: State,
    /// Server bytes not yet consumed (a partial line or message).
    pending: Vec<u8>,
    received: usize,
    /// The capability list named the upgrade (`None`: the protocol has no list, or it was
    /// not read).
    pub offered: Option<bool>,
    /// The server's last line (or answer), printable, for the report.
    pub server_said: Option<String>,
}

impl Preamble {
    /// `host`: the name the client asks for (XMPP's `to`, SMTP's EHLO is ours).
    pub fn new(protocol: Protocol, host: &str) -> Preamble {
        Preamble {
            protocol,
            host: host.to_string(),
            state: State::Greeting,
            pending: Vec::new(),
            received: 0,
            offered: None,
            server_said: None,
        }
    }

    /// The first step, before the server said anything: some protocols speak first.
    pub fn start(&mut self) -> Step {
        use Protocol::*;
        match self.protocol {
            Postgres => {
                self.state = State::Upgrade;
                // SSLRequest: length 8, code 80877103.
                Step::Send(vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
            }
            Ldap => {
                self.state = State::Upgrade;
                Step::Send(LDAP_STARTTLS.to_vec())
            }
            Xmpp | XmppServer => Step::Send(self.xmpp_stream_header()),
            Irc => {
                self.state = State::Upgrade;
                Step::Send(b"STARTTLS\r\n".to_vec())
            }
            _ => Step::Read,
        }
    }

    /// Bytes from the server; `closed` when it ended the connection.
    pub fn on_server(&mut self, bytes: &[u8], closed: bool) -> Step {
        if self.state == State::Done {
            return Step::Failed(Failure::PlaintextError);
        }
        self.received += bytes.len();
        self.pending.extend_from_slice(bytes);
        if self.received > MAX_PREAMBLE {
            return self.fail(Failure::PlaintextError);
        }
        let step = match self.protocol {
            Protocol::Postgres => self.postgres(),
            Protocol::Ldap => self.ldap(),
            Protocol::Mysql => self.mysql(),
            Protocol::Xmpp | Protocol::XmppServer => self.xmpp(),
            _ => self.lines(),
        };
        match step {
            Step::Read if closed => self.fail(Failure::PlaintextError),
            Step::Read if self.pending.len() > MAX_LINE => self.fail(Failure::PlaintextError),
            other => other,
        }
    }

    fn fail(&mut self, why: Failure) -> Step {
        self.state = State::Done;
        Step::Failed(why)
    }

    fn ready(&mut self) -> Step {
        self.state = State::Done;
        Step::Ready
    }

    /// The next complete line (without CRLF), if one is pending.
    fn next_line(&mut self) -> Option<String> {
        let end = self.pending.iter().position(|&b| b == b'\n')?;
        let line: Vec<u8> = self.pending.drain(..=end).collect();
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        self.server_said = Some(printable(&text));
        Some(text)
    }

    /// Line protocols: a reply is complete at its last line (SMTP/FTP `250 ` after
    /// `250-`; IMAP the tagged line; POP3 one line, or `.` after CAPA).
    fn lines(&mut self) -> Step {
        use Protocol::*;
        while let Some(line) = self.next_line() {
            let step = match (self.protocol, self.state) {
                (Smtp | Lmtp | Ftp, _) if is_continuation(&line) => {
                    if self.state == State::Capabilities && contains_word(&line, "STARTTLS") {
                        self.offered = Some(true);
                    }
                    continue;
                }
                (Smtp | Lmtp, State::Greeting) => match code(&line) {
                    Some(220) => {
                        self.state = State::Capabilities;
                        let hello = if self.protocol == Lmtp {
                            "LHLO"
                        } else {
                            "EHLO"
                        };
                        Step::Send(format!("{hello} shakedown.invalid\r\n").into_bytes())
                    }
                    _ => self.fail(Failure::PlaintextError),
                },
                (Smtp | Lmtp, State::Capabilities) => {
                    let offered = self.offered.unwrap_or(false) || contains_word(&line, "STARTTLS");
                    self.offered = Some(offered);
                    match code(&line) {
                        Some(250) if offered => self.upgrade(b"STARTTLS\r\n"),
                        Some(250) => self.fail(Failure::NotOffered),
                        _ => self.fail(Failure::PlaintextError),
                    }
                }
                (Smtp | Lmtp | Nntp, State::Upgrade) => match code(&line) {
                    Some(220) | Some(382) => self.ready(),
                    _ => self.fail(Failure::Refused),
                },
                (Ftp, State::Greeting) => match code(&line) {
                    Some(220) => self.upgrade(b"AUTH TLS\r\n"),
                    _ => self.fail(Failure::PlaintextError),
                },
                (Ftp, State::Upgrade) => match code(&line) {
                    Some(234) => self.ready(),
                    _ => self.fail(Failure::Refused),
                },
                (Nntp, State::Greeting) => match code(&line) {
                    Some(200) | Some(201) => self.upgrade(b"STARTTLS\r\n"),
                    _ => self.fail(Failure::PlaintextError),
                },
                (Imap, State::Greeting) => {
                    if !line.starts_with("* OK") {
                        self.fail(Failure::PlaintextError)
                    } else if greeting_offers_starttls(&line) {
                        // The greeting's own capability list (RFC 3501 7.1) names the
                        // upgrade: asking for the list again would only cost a round trip.
                        self.offered = Some(true);
                        self.upgrade(b"a2 STARTTLS\r\n")
                    } else {
                        self.state = State::Capabilities;
                        Step::Send(b"a1 CAPABILITY\r\n".to_vec())
                    }
                }
                (Imap, State::Capabilities) => {
                    if line.starts_with("* ") {
                        if contains_word(&line, "STARTTLS") {
                            self.offered = Some(true);
                        }
                        continue;
                    }
                    match line.strip_prefix("a1 ") {
                        Some(rest) if rest.starts_with("OK") => {
                            if self.offered == Some(true) {
                                self.upgrade(b"a2 STARTTLS\r\n")
                            } else {
                                self.offered = Some(false);
                                self.fail(Failure::NotOffered)
                            }
                        }
                        _ => self.fail(Failure::PlaintextError),
                    }
                }
                (Imap, State::Upgrade) => {
                    if line.starts_with("* ") {
                        continue;
                    }
                    match line.strip_prefix("a2 ") {
                        Some(rest) if rest.starts_with("OK") => self.ready(),
                        Some(_) => self.fail(Failure::Refused),
                        None => self.fail(Failure::PlaintextError),
                    }
                }
                (Pop3, State::Greeting) => {
                    if line.starts_with("+OK") {
                        self.state = State::Capabilities;
                        Step::Send(b"CAPA\r\n".to_vec())
                    } else {
                        self.fail(Failure::PlaintextError)
                    }
                }
                (Pop3, State::Capabilities) => {
                    if line.starts_with("-ERR") {
                        // No CAPA: ask for the upgrade anyway.
                        self.upgrade(b"STLS\r\n")
                    } else if line == "." {
                        if self.offered == Some(true) {
                            self.upgrade(b"STLS\r\n")
                        } else {
                            self.offered = Some(false);
                            self.fail(Failure::NotOffered)
                        }
                    } else {
                        if contains_word(&line, "STLS") {
                            self.offered = Some(true);
                        }
                        continue;
                    }
                }
                (Pop3, State::Upgrade) => {
                    if line.starts_with("+OK") {
                        self.ready()
                    } else {
                        self.fail(Failure::Refused)
                    }
                }
                (Sieve, State::Greeting) => {
                    if contains_word(&line, "\"STARTTLS\"") {
                        self.offered = Some(true);
                    }
                    if line.starts_with("OK") {
                        if self.offered == Some(true) {
                            self.upgrade(b"STARTTLS\r\n")
                        } else {
                            self.offered = Some(false);
                            self.fail(Failure::NotOffered)
                        }
                    } else if line.starts_with("NO") || line.starts_with("BYE") {
                        self.fail(Failure::PlaintextError)
                    } else {
                        continue;
                    }
                }
                (Sieve, State::Upgrade) => {
                    if line.starts_with("OK") {
                        self.ready()
                    } else {
                        self.fail(Failure::Refused)
                    }
                }
                (Irc, _) => match irc_numeric(&line) {
                    Some(670) => self.ready(),
                    Some(691) | Some(421) => self.fail(Failure::Refused),
                    // Notices and pings before the answer.
                    _ => continue,
                },
                _ => self.fail(Failure::PlaintextError),
            };
            return step;
        }
        Step::Read
    }

    fn upgrade(&mut self, command: &[u8]) -> Step {
        self.state = State::Upgrade;
        Step::Send(command.to_vec())
    }

    fn postgres(&mut self) -> Step {
        let Some(&answer) = self.pending.first() else {
            return Step::Read;
        };
        self.server_said = Some(printable(&String::from_utf8_lossy(&[answer])));
        match answer {
            b'S' => self.ready(),
            b'N' => self.fail(Failure::Refused),
            _ => self.fail(Failure::PlaintextError),
        }
    }

    fn ldap(&mut self) -> Step {
        // LDAPMessage ::= SEQUENCE { messageID, extendedResp [APPLICATION 24] { resultCode
        // ENUMERATED, ... } }: wait for the whole message, then read the result code.
        let Some(total) = ber_length(&self.pending) else {
            return Step::Read;
        };
        if self.pending.len() < total {
            return Step::Read;
        }
        let code = ldap_result_code(&self.pending[..total]);
        self.server_said = code.map(|c| format!("resultCode {c}"));
        match code {
            Some(0) => self.ready(),
            Some(_) => self.fail(Failure::Refused),
            None => self.fail(Failure::PlaintextError),
        }
    }

    fn mysql(&mut self) -> Step {
        // The server's greeting packet: 3-byte length, sequence, then protocol 10, the
        // version (NUL-terminated), connection id, 8 bytes of scramble, a filler, and the
        // low capability flags.
        if self.pending.len() < 4 {
            return Step::Read;
        }
        let len = usize::from(self.pending[0])
            | usize::from(self.pending[1]) << 8
            | usize::from(self.pending[2]) << 16;
        if self.pending.len() < 4 + len {
            return Step::Read;
        }
        let body = &self.pending[4..4 + len];
        if body.first() == Some(&0xff) {
            self.server_said = Some(printable(&String::from_utf8_lossy(&body[1..])));
            return self.fail(Failure::PlaintextError);
        }
        let Some(version_end) = body.iter().skip(1).position(|&b| b == 0).map(|p| p + 1) else {
            return self.fail(Failure::PlaintextError);
        };
        self.server_said = Some(printable(&String::from_utf8_lossy(&body[1..version_end])));
        let caps_at = version_end + 1 + 4 + 8 + 1;
        let Some(caps) = body.get(caps_at..caps_at + 2) else {
            return self.fail(Failure::PlaintextError);
        };
        const CLIENT_SSL: u16 = 0x0800;
        let offered = u16::from_le_bytes([caps[0], caps[1]]) & CLIENT_SSL != 0;
        self.offered = Some(offered);
        if !offered {
            return self.fail(Failure::NotOffered);
        }
        // SSLRequest: capability flags (protocol 4.1, secure connection, SSL), max packet
        // size, utf8mb4, 23 zero bytes; sequence 1.
        let flags: u32 = 0x0000_0200 | 0x0000_8000 | 0x0000_0800 | 0x0008_0000;
        let mut request = vec![32, 0, 0, 1];
        request.extend_from_slice(&flags.to_le_bytes());
        request.extend_from_slice(&(16u32 << 20).to_le_bytes());
        request.push(45);
        request.extend_from_slice(&[0; 23]);
        self.state = State::Done;
        // TLS starts right after our request: there is no answer to wait for.
        Step::Send(request)
    }

    fn xmpp(&mut self) -> Step {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        match self.state {
            State::Greeting => {
                if text.contains("<stream:error") || text.contains("</stream:stream>") {
                    // The error itself, not the stream header before it.
                    let from = text.find("<stream:error").unwrap_or(0);
                    self.server_said = Some(printable(&text[from..]));
                    return self.fail(Failure::PlaintextError);
                }
                if !text.contains("</stream:features>") {
                    return Step::Read;
                }
                let offered = text.contains("<starttls");
                self.offered = Some(offered);
                self.server_said = Some(printable(&text));
                self.pending.clear();
                if !offered {
                    return self.fail(Failure::NotOffered);
                }
                self.upgrade(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            }
            _ => {
                if text.contains("<proceed") {
                    self.server_said = Some(printable(&text));
                    self.ready()
                } else if text.contains("<failure") {
                    self.server_said = Some(printable(&text));
                    self.fail(Failure::Refused)
                } else if text.contains('>') && !text.trim_start().starts_with('<') {
                    self.fail(Failure::PlaintextError)
                } else {
                    Step::Read
                }
            }
        }
    }

    /// After [`Step::Send`] of MySQL's request, TLS begins without an answer.
    pub fn tls_follows_send(&self) -> bool {
        self.protocol == Protocol::Mysql && self.state == State::Done
    }

    fn xmpp_stream_header(&self) -> Vec<u8> {
        let ns = if self.protocol == Protocol::XmppServer {
            "jabber:server"
        } else {
            "jabber:client"
        };
        format!(
            "<?xml version='1.0'?><stream:stream to='{}' xmlns='{ns}' \
             xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
            self.host.replace(['\'', '<', '>', '&'], "")
        )
        .into_bytes()
    }
}

/// Follows a captured connection's plaintext preamble, both directions, and says where TLS
/// starts: the passive side of [`Preamble`], for `pcap` and `watch`. It keeps at most one
/// partial line per direction ([`MAX_LINE`]) and gives up after [`MAX_PREAMBLE`] bytes.
#[derive(Debug, Clone)]
pub struct Watcher {
    pub protocol: Option<Protocol>,
    phase: WatchPhase,
    /// The partial line of each direction (client, server).
    partial: [Vec<u8>; 2],
    seen: usize,
    /// The server's answer to the upgrade, printable.
    pub server_said: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WatchPhase {
    /// Nothing seen yet.
    Start,
    /// A line protocol's greeting was seen; waiting for the client's upgrade command.
    Lines,
    /// The client asked for the upgrade; waiting for the server's answer.
    Asked,
    /// TLS follows in both directions.
    Upgraded,
    /// The upgrade was refused or the preamble ran past its budgets: no TLS follows.
    NoUpgrade,
    /// Not a preamble: the flow's bytes are what they are.
    Passthrough,
}

/// What a chunk of captured bytes is, as far as the preamble goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not a known preamble: hand the bytes on as they are.
    NotAPreamble,
    /// Plaintext of the preamble: keep it from the TLS reader.
    Plain,
    /// The upgrade happened; the chunk's bytes from this offset on are TLS.
    TlsFrom(usize),
    /// The server refused the upgrade (or the preamble ran past its budgets).
    Refused,
}

impl Default for Watcher {
    fn default() -> Self {
        Watcher {
            protocol: None,
            phase: WatchPhase::Start,
            partial: [Vec::new(), Vec::new()],
            seen: 0,
            server_said: None,
        }
    }
}

impl Watcher {
    /// TLS was reached: every later byte goes to the TLS reader.
    pub fn upgraded(&self) -> bool {
        self.phase == WatchPhase::Upgraded
    }

    /// The preamble ended without TLS: nothing more of the flow is worth reading.
    pub fn refused(&self) -> bool {
        self.phase == WatchPhase::NoUpgrade
    }

    /// A chunk from the client (`from_client`) or the server.
    pub fn on_data(&mut self, from_client: bool, bytes: &[u8]) -> Seen {
        match self.phase {
            WatchPhase::Upgraded => return Seen::TlsFrom(0),
            WatchPhase::NoUpgrade => return Seen::Refused,
            WatchPhase::Passthrough => return Seen::NotAPreamble,
            WatchPhase::Start => {
                if let Some(seen) = self.first(from_client, bytes) {
                    return seen;
                }
            }
            _ => {}
        }
        self.seen += bytes.len();
        if self.seen > MAX_PREAMBLE {
            self.phase = WatchPhase::NoUpgrade;
            return Seen::Refused;
        }
        match self.protocol {
            Some(Protocol::Postgres) => self.postgres(from_client, bytes),
            Some(Protocol::Ldap) => self.ldap(from_client, bytes),
            Some(Protocol::Mysql) => self.mysql(from_client, bytes),
            Some(Protocol::Xmpp | Protocol::XmppServer) => self.xmpp(from_client, bytes),
            _ => self.lines(from_client, bytes),
        }
    }

    /// The flow's first bytes decide whether this is a preamble at all.
    fn first(&mut self, from_client: bool, bytes: &[u8]) -> Option<Seen> {
        let protocol = if from_client {
            if bytes.starts_with(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]) {
                Some(Protocol::Postgres)
            } else if bytes.len() > 9
                && bytes[0] == 0x30
                && bytes.windows(22).any(|w| w == b"1.3.6.1.4.1.1466.20037")
            {
                Some(Protocol::Ldap)
            } else if bytes.starts_with(b"<?xml") || bytes.starts_with(b"<stream:stream") {
                // The client opens the stream; a server-to-server stream names its namespace.
                let head = &bytes[..bytes.len().min(512)];
                if head.windows(13).any(|w| w == b"jabber:server") {
                    Some(Protocol::XmppServer)
                } else {
                    Some(Protocol::Xmpp)
                }
            } else {
                None
            }
        } else if is_mysql_greeting(bytes) {
            Some(Protocol::Mysql)
        } else if bytes.starts_with(b"* OK") {
            Some(Protocol::Imap)
        } else if bytes.starts_with(b"+OK") {
            Some(Protocol::Pop3)
        } else if bytes.starts_with(b"220") && bytes.get(3).is_some_and(|&b| b == b' ' || b == b'-')
        {
            // SMTP and FTP greet alike: the client's command tells them apart.
            Some(Protocol::Smtp)
        } else if bytes.starts_with(b"200 ") || bytes.starts_with(b"201 ") {
            Some(Protocol::Nntp)
        } else {
            None
        };
        match protocol {
            None => {
                self.phase = WatchPhase::Passthrough;
                Some(Seen::NotAPreamble)
            }
            Some(p) => {
                self.protocol = Some(p);
                self.phase = if matches!(p, Protocol::Postgres | Protocol::Ldap | Protocol::Mysql) {
                    WatchPhase::Asked
                } else {
                    WatchPhase::Lines
                };
                None
            }
        }
    }

    fn lines(&mut self, from_client: bool, bytes: &[u8]) -> Seen {
        let side = usize::from(!from_client);
        let mut start = 0;
        while let Some(end) = bytes[start..].iter().position(|&b| b == b'\n') {
            let end = start + end + 1;
            let mut line = std::mem::take(&mut self.partial[side]);
            line.extend_from_slice(&bytes[start..end]);
            start = end;
            let text = String::from_utf8_lossy(&line)
                .trim_end()
                .to_ascii_uppercase();
            if from_client {
                let command = text.split_whitespace().collect::<Vec<_>>();
                let asks = matches!(
                    command.as_slice(),
                    ["STARTTLS"] | ["STLS"] | ["AUTH", "TLS"] | ["AUTH", "SSL"]
                ) || matches!(command.as_slice(), [_, "STARTTLS"]);
                if asks && self.phase == WatchPhase::Lines {
                    if command[0] == "AUTH" {
                        self.protocol = Some(Protocol::Ftp);
                    }
                    self.phase = WatchPhase::Asked;
                }
            } else if self.phase == WatchPhase::Asked {
                if is_continuation(&text)
                    || (text.starts_with("* ") && self.protocol == Some(Protocol::Imap))
                {
                    continue;
                }
                self.server_said = Some(printable(String::from_utf8_lossy(&line).trim_end()));
                let yes = matches!(code(&text), Some(220 | 234 | 382))
                    || text.starts_with("+OK")
                    || text.split_whitespace().nth(1) == Some("OK");
                if yes {
                    self.phase = WatchPhase::Upgraded;
                    return Seen::TlsFrom(end);
                }
                self.phase = WatchPhase::NoUpgrade;
                return Seen::Refused;
            }
        }
        let rest = &bytes[start..];
        if self.partial[side].len() + rest.len() > MAX_LINE {
            self.phase = WatchPhase::NoUpgrade;
            return Seen::Refused;
        }
        self.partial[side].extend_from_slice(rest);
        Seen::Plain
    }

    /// MySQL/MariaDB: after the server's greeting, the client's first packet is either the
    /// SSLRequest (32 bytes, sequence 1, `CLIENT_SSL` set; TLS follows at once) or a
    /// plaintext login (no TLS on this connection).
    fn mysql(&mut self, from_client: bool, bytes: &[u8]) -> Seen {
        if !from_client {
            // The greeting (or more of it).
            return Seen::Plain;
        }
        let side = 0;
        self.partial[side].extend_from_slice(bytes);
        let held = &self.partial[side];
        if held.len() < 4 {
            return Seen::Plain;
        }
        let len = usize::from(held[0]) | usize::from(held[1]) << 8 | usize::from(held[2]) << 16;
        if len == 32 && held[3] == 1 {
            if held.len() < 4 + 32 {
                return Seen::Plain;
            }
            const CLIENT_SSL: u8 = 0x08; // 0x0800, the second byte of the flags.
            if held[5] & CLIENT_SSL != 0 {
                self.server_said = Some("SSLRequest".into());
                self.phase = WatchPhase::Upgraded;
                // What followed the request in this chunk is the ClientHello.
                return Seen::TlsFrom(bytes.len() - (held.len() - 36));
            }
        }
        self.phase = WatchPhase::NoUpgrade;
        Seen::Refused
    }

    /// XMPP: the client asks with `<starttls/>`, the server answers `<proceed/>` (TLS
    /// follows its closing `>`) or `<failure/>`.
    fn xmpp(&mut self, from_client: bool, bytes: &[u8]) -> Seen {
        let side = usize::from(!from_client);
        // Where this chunk starts in the held bytes (negative once its head was cut).
        let mut chunk_at = self.partial[side].len() as isize;
        self.partial[side].extend_from_slice(bytes);
        if self.partial[side].len() > MAX_LINE * 2 {
            // Keep only the tail: a tag split across chunks still matches.
            let cut = self.partial[side].len() - MAX_LINE;
            self.partial[side].drain(..cut);
            chunk_at -= cut as isize;
        }
        let held = &self.partial[side];
        let find = |needle: &[u8]| held.windows(needle.len()).position(|w| w == needle);
        if from_client {
            if self.phase == WatchPhase::Lines && find(b"<starttls").is_some() {
                self.phase = WatchPhase::Asked;
                self.partial[side].clear();
            }
            return Seen::Plain;
        }
        if self.phase != WatchPhase::Asked {
            // Features and the like before the client asks: nothing to keep.
            let keep = self.partial[side].len().min(16);
            let cut = self.partial[side].len() - keep;
            self.partial[side].drain(..cut);
            return Seen::Plain;
        }
        if let Some(at) = find(b"<proceed") {
            let Some(end) = held[at..]
                .iter()
                .position(|&b| b == b'>')
                .map(|e| at + e + 1)
            else {
                return Seen::Plain;
            };
            self.server_said = Some(printable(&String::from_utf8_lossy(&held[at..end])));
            self.phase = WatchPhase::Upgraded;
            let from = (end as isize - chunk_at).clamp(0, bytes.len() as isize);
            return Seen::TlsFrom(from as usize);
        }
        if let Some(at) = find(b"<failure") {
            let end = (at + 200).min(held.len());
            self.server_said = Some(printable(&String::from_utf8_lossy(&held[at..end])));
            self.phase = WatchPhase::NoUpgrade;
            return Seen::Refused;
        }
        Seen::Plain
    }

    fn postgres(&mut self, from_client: bool, bytes: &[u8]) -> Seen {
        if from_client || bytes.is_empty() {
            return Seen::Plain;
        }
        self.server_said = Some(printable(&String::from_utf8_lossy(&bytes[..1])));
        if bytes[0] == b'S' {
            self.phase = WatchPhase::Upgraded;
            Seen::TlsFrom(1)
        } else {
            self.phase = WatchPhase::NoUpgrade;
            Seen::Refused
        }
    }

    fn ldap(&mut self, from_client: bool, bytes: &[u8]) -> Seen {
        if from_client {
            return Seen::Plain;
        }
        let side = 1;
        self.partial[side].extend_from_slice(bytes);
        let held = &self.partial[side];
        let Some(total) = ber_length(held) else {
            return Seen::Plain;
        };
        if held.len() < total {
            return if held.len() > MAX_LINE {
                self.phase = WatchPhase::NoUpgrade;
                Seen::Refused
            } else {
                Seen::Plain
            };
        }
        let code = ldap_result_code(&held[..total]);
        self.server_said = code.map(|c| format!("resultCode {c}"));
        // What followed the response in this chunk is TLS.
        let from = bytes.len() - (held.len() - total);
        if code == Some(0) {
            self.phase = WatchPhase::Upgraded;
            Seen::TlsFrom(from)
        } else {
            self.phase = WatchPhase::NoUpgrade;
            Seen::Refused
        }
    }
}

/// A MySQL/MariaDB server greeting: a packet of sequence 0 whose body is protocol 10 and a
/// printable, NUL-terminated version.
fn is_mysql_greeting(b: &[u8]) -> bool {
    let len =
        b.first().map_or(0, |&l| usize::from(l)) | b.get(1).map_or(0, |&l| usize::from(l) << 8);
    if b.len() < 6 || b[2] != 0 || b[3] != 0 || b[4] != 10 || !(20..=1024).contains(&len) {
        return false;
    }
    let version = &b[5..b.len().min(5 + 64)];
    match version.iter().position(|&c| c == 0) {
        Some(end) => end > 0 && version[..end].iter().all(|c| c.is_ascii_graphic()),
        None => false,
    }
}

/// The StartTLS ExtendedRequest (OID 1.3.6.1.4.1.1466.20037), message id 1.
const LDAP_STARTTLS: &[u8] = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x16\x31\x2e\x33\x2e\x36\x2e\x31\x2e\x34\x2e\x31\x2e\x31\x34\x36\x36\x2e\x32\x30\x30\x33\x37";

/// The resultCode of an LDAP ExtendedResponse: its first one-byte ENUMERATED.
fn ldap_result_code(message: &[u8]) -> Option<u8> {
    message
        .windows(3)
        .find(|w| w[0] == 0x0a && w[1] == 0x01)
        .map(|w| w[2])
}

/// The total length of the BER element at the start of `b`, when its header is complete.
fn ber_length(b: &[u8]) -> Option<usize> {
    let first = *b.get(1)?;
    if first < 0x80 {
        return Some(2 + usize::from(first));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return Some(usize::MAX); // Indefinite or absurd: never complete, the budget ends it.
    }
    let len = b
        .get(2..2 + n)?
        .iter()
        .fold(0usize, |acc, &x| acc << 8 | usize::from(x));
    Some(2 + n + len)
}

/// A three-digit reply code at the start of a line.
fn code(line: &str) -> Option<u16> {
    line.get(..3)?.parse().ok()
}

/// `250-…`: more lines of this reply follow.
fn is_continuation(line: &str) -> bool {
    line.len() >= 4 && code(line).is_some() && line.as_bytes()[3] == b'-'
}

/// An IMAP greeting's `[CAPABILITY …]` response code lists `STARTTLS`
/// (`* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready`).
fn greeting_offers_starttls(line: &str) -> bool {
    let upper = line.to_ascii_uppercase();
    let Some(from) = upper.find("[CAPABILITY ") else {
        return false;
    };
    let list = &upper[from + 1..];
    let list = list.split(']').next().unwrap_or_default();
    list.split_whitespace().any(|w| w == "STARTTLS")
}

/// `word` is one of the line's words (split at spaces and SMTP's `250-`).
fn contains_word(line: &str, word: &str) -> bool {
    line.split(|c: char| c.is_whitespace() || c == '-')
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// `:server 670 nick :STARTTLS successful` → 670.
fn irc_numeric(line: &str) -> Option<u16> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let numeric = if first.starts_with(':') {
        words.next()?
    } else {
        first
    };
    numeric.parse().ok()
}

/// At most 200 characters, control characters escaped.
fn printable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(200) {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32 & 0xff));
        } else {
            out.push(c);
        }
    }
    out
}

/// One side's preamble bytes in a timeline's words: the first line of a text protocol
/// (printable, at most 80 characters, "+N lines" when more followed), or the size and first
/// bytes in hex for a binary one (PostgreSQL, LDAP, MySQL).
pub fn summarize(bytes: &[u8]) -> String {
    const SHOWN: usize = 80;
    let text = bytes
        .iter()
        .all(|&b| b == b'\r' || b == b'\n' || b == b'\t' || (0x20..0x7f).contains(&b));
    if !text || bytes.is_empty() {
        let head: String = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let more = if bytes.len() > 16 { "…" } else { "" };
        return format!("{} bytes {head}{more}", bytes.len());
    }
    let mut lines = bytes
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let mut out: String = first.iter().take(SHOWN).map(|&b| b as char).collect();
    if first.len() > SHOWN {
        out.push('…');
    }
    let rest = lines.count();
    if rest > 0 {
        out.push_str(&format!(
            " (+{rest} line{})",
            if rest == 1 { "" } else { "s" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays `server` (one reply per step) and returns the bytes sent and the final step.
    fn run(protocol: Protocol, server: &[&[u8]]) -> (Vec<String>, Step) {
        let mut p = Preamble::new(protocol, "mail.test");
        let mut sent = Vec::new();
        let mut step = p.start();
        let mut replies = server.iter();
        loop {
            match step {
                Step::Send(bytes) => {
                    sent.push(String::from_utf8_lossy(&bytes).into_owned());
                    if p.tls_follows_send() {
                        return (sent, Step::Ready);
                    }
                    step = Step::Read;
                }
                Step::Read => match replies.next() {
                    Some(r) => step = p.on_server(r, false),
                    None => return (sent, p.on_server(b"", true)),
                },
                done => return (sent, done),
            }
        }
    }

    #[test]
    fn preamble_bytes_summed_up_for_the_timeline() {
        assert_eq!(
            summarize(b"250-mail.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"),
            "250-mail.test (+2 lines)"
        );
        assert_eq!(summarize(b"STARTTLS\r\n"), "STARTTLS");
        assert_eq!(
            summarize(&[0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]),
            "8 bytes 0000000804d2162f"
        );
        assert_eq!(
            summarize(&[0x80; 20]),
            format!("20 bytes {}…", "80".repeat(16))
        );
        let long = vec![b'x'; 100];
        assert_eq!(summarize(&long), format!("{}…", "x".repeat(80)));
        assert_eq!(summarize(b""), "0 bytes ");
    }

    #[test]
    fn smtp_offered_accepted_refused_and_missing() {
        let (sent, step) = run(
            Protocol::Smtp,
            &[
                b"220 mx ESMTP\r\n",
                b"250-mx\r\n250-STARTTLS\r\n250 SIZE 1000\r\n",
                b"220 go ahead\r\n",
            ],
        );
        assert_eq!(sent, ["EHLO shakedown.invalid\r\n", "STARTTLS\r\n"]);
        assert_eq!(step, Step::Ready);
        let (_, step) = run(
            Protocol::Smtp,
            &[
                b"220 mx\r\n",
                b"250-mx\r\n250 STARTTLS\r\n",
                b"454 4.7.0 TLS not available\r\n",
            ],
        );
        assert_eq!(step, Step::Failed(Failure::Refused));
        let (sent, step) = run(
            Protocol::Smtp,
            &[b"220 mx\r\n", b"250-mx\r\n250 SIZE 1\r\n"],
        );
        assert_eq!(sent.len(), 1);
        assert_eq!(step, Step::Failed(Failure::NotOffered));
        // Replies split anywhere still parse.
        let (_, step) = run(
            Protocol::Smtp,
            &[
                b"22",
                b"0 mx\r",
                b"\n",
                b"250-STARTTLS\r\n250 OK\r\n",
                b"220 ok\r\n",
            ],
        );
        assert_eq!(step, Step::Ready);
    }

    #[test]
    fn imap_pop3_ftp_nntp_sieve_irc() {
        let (sent, step) = run(
            Protocol::Imap,
            &[
                b"* OK ready\r\n",
                b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n",
                b"a2 OK begin\r\n",
            ],
        );
        assert_eq!(sent, ["a1 CAPABILITY\r\n", "a2 STARTTLS\r\n"]);
        assert_eq!(step, Step::Ready);
        // A greeting that lists its capabilities (dovecot's) saves the CAPABILITY round
        // trip when STARTTLS is among them, and only then.
        let (sent, step) = run(
            Protocol::Imap,
            &[
                b"* OK [CAPABILITY IMAP4rev1 LITERAL+ STARTTLS] Dovecot ready.\r\n",
                b"a2 OK Begin TLS negotiation now.\r\n",
            ],
        );
        assert_eq!(sent, ["a2 STARTTLS\r\n"]);
        assert_eq!(step, Step::Ready);
        let (sent, step) = run(
            Protocol::Imap,
            &[
                b"* OK [CAPABILITY IMAP4rev1 STARTTLSX] hi\r\n",
                b"* CAPABILITY IMAP4rev1\r\na1 OK\r\n",
            ],
        );
        assert_eq!(sent, ["a1 CAPABILITY\r\n"]);
        assert_eq!(step, Step::Failed(Failure::NotOffered));
        let (sent, _) = run(Protocol::Imap, &[b"* OK STARTTLS is here, no list\r\n"]);
        assert_eq!(sent, ["a1 CAPABILITY\r\n"]);
        let (_, step) = run(
            Protocol::Imap,
            &[b"* OK\r\n", b"* CAPABILITY IMAP4rev1\r\na1 OK\r\n"],
        );
        assert_eq!(step, Step::Failed(Failure::NotOffered));
        let (_, step) = run(
            Protocol::Pop3,
            &[
                b"+OK hi\r\n",
                b"+OK\r\nUSER\r\nSTLS\r\n.\r\n",
                b"-ERR no\r\n",
            ],
        );
        assert_eq!(step, Step::Failed(Failure::Refused));
        let (_, step) = run(
            Protocol::Ftp,
            &[b"220-welcome\r\n220 ftp\r\n", b"234 AUTH TLS ok\r\n"],
        );
        assert_eq!(step, Step::Ready);
        let (_, step) = run(Protocol::Nntp, &[b"200 news\r\n", b"382 continue\r\n"]);
        assert_eq!(step, Step::Ready);
        let (_, step) = run(
            Protocol::Sieve,
            &[
                b"\"IMPLEMENTATION\" \"x\"\r\n\"STARTTLS\"\r\nOK\r\n",
                b"OK \"begin\"\r\n",
            ],
        );
        assert_eq!(step, Step::Ready);
        let (_, step) = run(Protocol::Irc, &[b":irc NOTICE * :hi\r\n:irc 670 * :ok\r\n"]);
        assert_eq!(step, Step::Ready);
    }

    #[test]
    fn binary_preambles() {
        let (sent, step) = run(Protocol::Postgres, &[b"S"]);
        assert_eq!(sent.len(), 1);
        assert_eq!(step, Step::Ready);
        assert_eq!(
            run(Protocol::Postgres, &[b"N"]).1,
            Step::Failed(Failure::Refused)
        );
        // LDAP ExtendedResponse, resultCode 0 (success), then 2 (protocolError).
        let ok = b"\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00";
        assert_eq!(run(Protocol::Ldap, &[ok]).1, Step::Ready);
        let no = b"\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x02\x04\x00\x04\x00";
        assert_eq!(run(Protocol::Ldap, &[no]).1, Step::Failed(Failure::Refused));
        // MySQL greeting with and without CLIENT_SSL.
        let greeting = |caps: u16| {
            let mut body = vec![10];
            body.extend_from_slice(b"10.11.6-MariaDB\0");
            body.extend_from_slice(&[1, 0, 0, 0]);
            body.extend_from_slice(&[0x41; 8]);
            body.push(0);
            body.extend_from_slice(&caps.to_le_bytes());
            body.extend_from_slice(&[0x21, 2, 0, 0, 0]);
            let mut p = vec![body.len() as u8, 0, 0, 0];
            p.extend_from_slice(&body);
            p
        };
        let (sent, step) = run(Protocol::Mysql, &[&greeting(0xffff)]);
        assert_eq!((sent.len(), step), (1, Step::Ready));
        assert_eq!(
            run(Protocol::Mysql, &[&greeting(!0x0800)]).1,
            Step::Failed(Failure::NotOffered)
        );
        let features = b"<?xml version='1.0'?><stream:stream><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
        let (sent, step) = run(
            Protocol::Xmpp,
            &[
                features,
                b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
            ],
        );
        assert!(sent[0].contains("to='mail.test'"), "{sent:?}");
        assert_eq!(step, Step::Ready);
    }

    /// Feeds a captured exchange to a watcher: the byte offsets where TLS starts.
    fn watch(chunks: &[(bool, &[u8])]) -> (Watcher, Vec<Seen>) {
        let mut w = Watcher::default();
        let seen = chunks.iter().map(|(c, b)| w.on_data(*c, b)).collect();
        (w, seen)
    }

    #[test]
    fn captured_upgrades_are_followed_to_the_first_tls_byte() {
        let (w, seen) = watch(&[
            (false, b"220 mx ESMTP\r\n"),
            (true, b"EHLO c\r\n"),
            (false, b"250-mx\r\n250 STARTTLS\r\n"),
            (true, b"STARTTLS\r\n"),
            (false, b"220 2.0.0 Ready\r\n"),
            (true, b"\x16\x03\x01"),
        ]);
        assert_eq!(seen[4], Seen::TlsFrom(17));
        assert_eq!(seen[5], Seen::TlsFrom(0));
        assert_eq!(w.protocol, Some(Protocol::Smtp));
        assert!(w.upgraded());
        let (w, seen) = watch(&[
            (false, b"220 ftp\r\n"),
            (true, b"AUTH TLS\r\n"),
            (false, b"234 go\r\n"),
        ]);
        assert_eq!(
            (w.protocol, seen[2]),
            (Some(Protocol::Ftp), Seen::TlsFrom(8))
        );
        let (_, seen) = watch(&[
            (false, b"* OK hi\r\n"),
            (true, b"a1 STARTTLS\r\n"),
            (false, b"a1 OK Begin\r\n\x16\x03\x03"),
        ]);
        assert_eq!(seen[2], Seen::TlsFrom(13));
        let (_, seen) = watch(&[(true, &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]), (false, b"S")]);
        assert_eq!(seen[1], Seen::TlsFrom(1));
        let (_, seen) = watch(&[
            (false, b"+OK\r\n"),
            (true, b"STLS\r\n"),
            (false, b"-ERR no\r\n"),
        ]);
        assert_eq!(seen[2], Seen::Refused);
        // MySQL: the greeting, then the client's SSLRequest with the ClientHello behind it.
        let mut greeting = vec![0, 0, 0, 0, 10];
        greeting.extend_from_slice(b"10.11.19-MariaDB\0");
        greeting.extend_from_slice(&[0; 40]);
        greeting[0] = (greeting.len() - 4) as u8;
        let mut request = vec![32, 0, 0, 1, 0x00, 0x0a, 0x08, 0x00];
        request.extend_from_slice(&[0; 28]);
        let mut with_hello = request.clone();
        with_hello.extend_from_slice(b"\x16\x03\x01");
        let (w, seen) = watch(&[(false, &greeting), (true, &with_hello)]);
        assert_eq!(
            (w.protocol, seen[1]),
            (Some(Protocol::Mysql), Seen::TlsFrom(36))
        );
        // A plaintext login (no CLIENT_SSL): no TLS follows.
        let mut login = request.clone();
        login[5] = 0x02;
        assert_eq!(
            watch(&[(false, &greeting), (true, &login)]).1[1],
            Seen::Refused
        );
        // XMPP: the stream, features, <starttls/>, then <proceed/> and TLS right after it.
        let (w, seen) = watch(&[
            (true, b"<?xml version='1.0'?><stream:stream to='x.test' xmlns='jabber:client'>"),
            (false, b"<stream:stream from='x.test'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>"),
            (true, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
            (false, b"<proceed xmlns='urn:ietf:params:xml:ns:"),
            (false, b"xmpp-tls'/>\x16\x03\x03"),
        ]);
        assert_eq!(w.protocol, Some(Protocol::Xmpp));
        assert_eq!(seen[3], Seen::Plain);
        assert_eq!(seen[4], Seen::TlsFrom(11));
        let (w, seen) = watch(&[
            (true, b"<stream:stream xmlns='jabber:server'>"),
            (false, b"<stream:features><starttls/></stream:features>"),
            (true, b"<starttls/>"),
            (false, b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
        ]);
        assert_eq!(
            (w.protocol, seen[3]),
            (Some(Protocol::XmppServer), Seen::Refused)
        );
        // TLS, HTTP: not a preamble, passed on untouched.
        let (_, seen) = watch(&[(true, b"\x16\x03\x01\x02\x00"), (false, b"\x16\x03\x03")]);
        assert_eq!(seen, [Seen::NotAPreamble, Seen::NotAPreamble]);
        assert_eq!(
            watch(&[(false, b"HTTP/1.1 200 OK\r\n")]).1[0],
            Seen::NotAPreamble
        );
        // A greeting that never ends a line is given up at the line budget.
        let long = vec![b'x'; MAX_LINE + 1];
        assert_eq!(
            watch(&[(false, b"220 x\r\n"), (false, &long)]).1[1],
            Seen::Refused
        );
    }

    #[test]
    fn hostile_servers_end_within_the_budgets() {
        // A line that never ends; a server that talks forever; one that closes; junk.
        let long = vec![b'a'; MAX_LINE + 10];
        assert_eq!(
            run(Protocol::Smtp, &[&long]).1,
            Step::Failed(Failure::PlaintextError)
        );
        let chatter = b"250-x\r\n".repeat(MAX_PREAMBLE / 7 + 10);
        assert_eq!(
            run(Protocol::Smtp, &[b"220 x\r\n", &chatter]).1,
            Step::Failed(Failure::PlaintextError)
        );
        assert_eq!(
            run(Protocol::Imap, &[]).1,
            Step::Failed(Failure::PlaintextError)
        );
        assert_eq!(
            run(Protocol::Smtp, &[b"HTTP/1.1 400 Bad Request\r\n"]).1,
            Step::Failed(Failure::PlaintextError)
        );
        assert_eq!(Protocol::for_port(587), Some(Protocol::Smtp));
        assert_eq!(Protocol::parse("XMPP-server"), Some(Protocol::XmppServer));
    }
}
