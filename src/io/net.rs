//! TCP at the edge: target parsing and resolution, connecting with a deadline, and an
//! exchange loop that sends one hello and reads until the consumer has its verdict, the
//! peer ends the stream, the deadline passes or the byte cap is reached.
//!
//! Nothing here interprets TLS: the loop hands every chunk to a callback (the session
//! tracker, in practice) and asks it whether more bytes are needed. [`Transport`] is that
//! trip as a trait, so callers can be driven by an in-memory peer in tests.
//!
//! UDP for QUIC: a connected socket and a loop that hands each datagram to a sans-IO
//! [`DatagramPeer`] (the QUIC client of `core::session::quic_client`) and sends its answers.

use crate::core::flow::{Direction, EndKind, Micros};
use crate::core::session::quic_client::{self, QuicClient, QuicClientConfig};
use crate::core::wire::starttls::{self, Preamble, Protocol, Step};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use super::coro;
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;

#[cfg(target_os = "linux")]
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};

/// Where to connect, and the host name the hello speaks of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP literal as given (without brackets).
    pub host: String,
    pub port: u16,
    /// `--connect`: the address to dial instead of resolving `host` (origin behind a CDN).
    pub connect: Option<IpAddr>,
    /// The plaintext preamble before TLS (`--starttls`, or the port's protocol).
    pub starttls: Option<Protocol>,
    /// The name the preamble speaks of (XMPP's stream `to`): `--xmpp-host`, else the SNI
    /// name, else `host`.
    pub preamble_host: Option<String>,
}

impl Target {
    /// Parses `host`, `host:port`, `[v6addr]:port`, `[v6addr]` or a bare IPv6 literal.
    pub fn parse(s: &str, default_port: u16) -> Result<Target, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty target".into());
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("target {s:?}: missing ']'"))?;
            let port = match after {
                "" => default_port,
                p => parse_port(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("target {s:?}: expected ':PORT' after ']'"))?,
                )?,
            };
            (h.to_string(), port)
        } else if s.parse::<std::net::Ipv6Addr>().is_ok() {
            (s.to_string(), default_port)
        } else if let Some((h, p)) = s.rsplit_once(':') {
            (h.to_string(), parse_port(p)?)
        } else {
            (s.to_string(), default_port)
        };
        if host.is_empty() {
            return Err(format!("target {s:?}: empty host"));
        }
        if let Some(bad) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%')))
        {
            return Err(format!(
                "target {s:?}: {bad:?} is not allowed in a host name"
            ));
        }
        Ok(Target {
            host,
            port,
            connect: None,
            starttls: None,
            preamble_host: None,
        })
    }

    /// The host as an IP address, when it is a literal.
    pub fn ip_literal(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// `host:port`, with brackets around IPv6 literals.
    pub fn display(&self) -> String {
        match self.ip_literal() {
            Some(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }

    /// Addresses to try, in resolver order.
    pub fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        if let Some(ip) = self.connect.or_else(|| self.ip_literal()) {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let addrs = lookup(&self.host, self.port)?;
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} resolves to no address", self.host),
            ));
        }
        Ok(addrs)
    }
}

/// The system resolver's answer for `host`. `getaddrinfo` blocks; in a coroutine
/// ([`coro`]) it runs on a thread of its own while the coroutine sleeps in steps of 1 to
/// 10 ms, so that the other coroutines of its thread go on (a fleet of names would
/// otherwise be resolved one at a time, each lookup stalling a whole loop).
fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let blocking = move |host: &str| -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    };
    #[cfg(target_os = "linux")]
    if coro::active() {
        let name = host.to_owned();
        // No thread to be had: resolved here, as outside a coroutine.
        if let Ok(lookup) = std::thread::Builder::new().spawn(move || blocking(&name)) {
            let mut step = Duration::from_millis(1);
            while !lookup.is_finished() {
                coro::sleep(step);
                step = (step * 2).min(Duration::from_millis(10));
            }
            return lookup
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the resolver's thread failed")));
        }
    }
    blocking(host)
}

fn parse_port(p: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("bad port {p:?}"))
}

/// Deadlines and caps of one exchange.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect_timeout: Duration,
    /// How long to wait for the verdict after the hello was sent.
    pub read_timeout: Duration,
    /// Stop reading after this many bytes from the server.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
            max_bytes: 1 << 20,
        }
    }
}

/// A connected stream plus when it started, so every timestamp is relative to `start`.
pub struct Connection {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub start: Instant,
    pub connect_time: Duration,
    /// What the plaintext preamble did, when the target has one.
    pub starttls: Option<StarttlsReport>,
    /// Something was written ([`Connection::send`]).
    wrote: bool,
    /// Nagle's algorithm is off (`TCP_NODELAY`).
    nodelay: bool,
}

/// The plaintext preamble of a connection, as it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarttlsReport {
    pub protocol: Protocol,
    /// The server's capability list named the upgrade (`None`: not listed by the protocol).
    pub offered: Option<bool>,
    /// The server agreed: TLS follows.
    pub accepted: bool,
    /// The server's last line or answer, printable.
    pub server_said: Option<String>,
    /// Why TLS did not follow.
    pub failure: Option<starttls::Failure>,
    /// The bytes each side sent, in order, timed from the connection's start (for the
    /// timeline and `--pcap-out`); bounded by the preamble's own budget.
    pub exchange: Vec<(Direction, Micros, Vec<u8>)>,
}

impl Connection {
    /// Writes `bytes` whole within `timeout` ([`send_all`]). Nagle's algorithm is turned
    /// off before the connection's second write, not at its connect: Linux holds a segment
    /// back only while a *small* segment of ours is unacknowledged (Minshall's variant,
    /// `tcp_nagle_check`), so a fresh connection's first write leaves at once however it is
    /// cut into segments. A scan writes one hello a connection, and this saves it one
    /// `setsockopt` of about seven system calls a handshake
    /// (docs/benchmarks.md#scan-nodelay); every later write (a STARTTLS preamble's next
    /// line, the hello after it, the hello answering a HelloRetryRequest, a client's second
    /// flight) goes out with Nagle off as before. Elsewhere it is off from the connect.
    fn send(&mut self, bytes: &[u8], timeout: Duration) -> io::Result<()> {
        if self.wrote && !self.nodelay {
            self.stream.set_nodelay(true)?;
            self.nodelay = true;
        }
        self.wrote = true;
        send_all(&mut self.stream, bytes, timeout)
    }

    /// Our end's address, asked of the kernel when wanted (a probe reports it; a scan's
    /// thousands of connections do not need it, and each question is a system call).
    pub fn local(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl StarttlsReport {
    /// For callers that can only go on with TLS: the failure as an error. A server that
    /// does not offer or refuses the upgrade will do so on every connection: that error's
    /// kind is [`io::ErrorKind::Unsupported`] (a scan stops there); a plaintext error
    /// (a time-out, a close) may be passing and is [`io::ErrorKind::Other`].
    pub fn as_error(&self) -> Option<io::Error> {
        let failure = self.failure?;
        let kind = match failure {
            starttls::Failure::NotOffered | starttls::Failure::Refused => {
                io::ErrorKind::Unsupported
            }
            starttls::Failure::PlaintextError => io::ErrorKind::Other,
        };
        Some(io::Error::new(
            kind,
            format!(
                "{}: {}{}",
                self.protocol,
                failure.outcome(),
                self.server_said
                    .as_deref()
                    .map(|s| format!(" (server said {s:?})"))
                    .unwrap_or_default()
            ),
        ))
    }
}

/// Runs `protocol`'s preamble on a fresh connection, within the read deadline.
fn preamble(
    conn: &mut Connection,
    protocol: Protocol,
    host: &str,
    limits: &Limits,
    start: Instant,
) -> StarttlsReport {
    let deadline = Instant::now() + limits.read_timeout;
    let mut p = Preamble::new(protocol, host);
    let mut step = p.start();
    let mut buf = [0u8; 4096];
    let mut exchange = Vec::new();
    let at = || start.elapsed().as_micros() as Micros;
    let failure = loop {
        match step {
            Step::Send(bytes) => {
                if conn.send(&bytes, limits.connect_timeout).is_err() {
                    break Some(starttls::Failure::PlaintextError);
                }
                exchange.push((Direction::ClientToServer, at(), bytes));
                if p.tls_follows_send() {
                    break None;
                }
                step = Step::Read;
            }
            Step::Read => {
                if deadline <= Instant::now() {
                    break Some(starttls::Failure::PlaintextError);
                }
                step = match read_within(&mut conn.stream, &mut buf, deadline) {
                    Ok(0) => p.on_server(&[], true),
                    Ok(n) => {
                        exchange.push((Direction::ServerToClient, at(), buf[..n].to_vec()));
                        p.on_server(&buf[..n], false)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => Step::Read,
                    // A time-out, a reset: the preamble ends here.
                    Err(_) => p.on_server(&[], true),
                };
            }
            Step::Ready => break None,
            Step::Failed(why) => break Some(why),
        }
    };
    StarttlsReport {
        protocol,
        offered: p.offered,
        accepted: failure.is_none(),
        server_said: p.server_said,
        failure,
        exchange,
    }
}

/// Connects to the first address that answers within the deadline.
pub fn connect(target: &Target, limits: &Limits) -> io::Result<Connection> {
    let start = Instant::now();
    let mut last_err = None;
    // An IP literal (a scan's usual target) is its own one address: no list is made.
    let literal = target
        .connect
        .or_else(|| target.ip_literal())
        .map(|ip| SocketAddr::new(ip, target.port));
    let looked_up = match literal {
        Some(_) => Vec::new(),
        None => target.resolve()?,
    };
    for addr in literal.into_iter().chain(looked_up) {
        match connect_one(&addr, limits.connect_timeout) {
            Ok(stream) => {
                let mut conn = Connection {
                    stream,
                    peer: addr,
                    start,
                    connect_time: start.elapsed(),
                    starttls: None,
                    wrote: false,
                    nodelay: !cfg!(target_os = "linux"),
                };
                if let Some(p) = target.starttls {
                    let host = target.preamble_host.as_deref().unwrap_or(&target.host);
                    conn.starttls = Some(preamble(&mut conn, p, host, limits, start));
                }
                return Ok(conn);
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no address to connect to")))
}

/// One TCP connection to `addr` within `timeout` (Nagle's algorithm still on: it is turned
/// off before a second write, [`Connection::send`]): a blocking `connect` bounded by the
/// send time-out (`SO_SNDTIMEO`, which Linux applies to `connect`), so the usual case is
/// three system calls (socket, the option, connect) where std's `connect_timeout` makes
/// five (it switches to non-blocking, polls and switches back). A scan makes one
/// connection per hello, so these count (docs/benchmarks.md#scan-cpu). The time-out stays
/// on the stream's writes, which therefore cannot block for longer than a connect may
/// either.
#[cfg(target_os = "linux")]
fn connect_one(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    if coro::active() && !timeout.is_zero() {
        return connect_suspending(addr, timeout);
    }
    let socket = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM,
        Some(SockProtocol::TCP),
    )?;
    // A zero time-out means "none" to the kernel: refused here as std refuses it.
    if timeout.is_zero() || socket.set_write_timeout(Some(timeout)).is_err() {
        return TcpStream::connect_timeout(addr, timeout);
    }
    match socket.connect(&(*addr).into()) {
        Ok(()) => Ok(socket.into()),
        // The send time-out ran out: Linux says EINPROGRESS (the attempt is dropped with
        // the socket), as std's own time-out does.
        Err(e)
            if e.raw_os_error() == Some(libc::EINPROGRESS)
                || e.kind() == io::ErrorKind::WouldBlock =>
        {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            ))
        }
        // A signal cut the wait short, leaving the attempt running: start again the way
        // that copes with that.
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            drop(socket);
            TcpStream::connect_timeout(addr, timeout)
        }
        Err(e) => Err(e),
    }
}

/// [`connect_one`] in a coroutine ([`coro`]): a non-blocking socket (one `socket` call
/// with `SOCK_NONBLOCK`), registered with the thread's epoll set, and the coroutine waits
/// for the connect to finish or the time-out. The stream stays non-blocking: its reads and
/// writes wait the same way ([`read_within`], [`send_all`]). The errors are a blocking
/// connect's: the socket's own (`SO_ERROR`, asked only when an event said error or
/// hang-up), or a time-out.
#[cfg(target_os = "linux")]
fn connect_suspending(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    let socket = Socket::new(
        Domain::for_address(*addr),
        Type::from(libc::SOCK_STREAM | libc::SOCK_NONBLOCK),
        Some(SockProtocol::TCP),
    )?;
    match socket.connect(&(*addr).into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let stream: TcpStream = socket.into();
    let fd = stream.as_raw_fd();
    coro::register(fd)?;
    if !coro::wait(fd, coro::Interest::Write, Some(deadline)) {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "connection timed out",
        ));
    }
    // Writable without an error or hang-up: connected (a later failure is the first
    // write's, as after a blocking connect).
    if !coro::broken(fd) {
        return Ok(stream);
    }
    match stream.take_error()? {
        Some(e) => Err(e),
        None => Ok(stream),
    }
}

/// Elsewhere std's way: whether a send time-out bounds `connect` is not the same everywhere.
#[cfg(not(target_os = "linux"))]
fn connect_one(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(addr, timeout)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Receives what the exchange loop sees; `data` returns `true` while more bytes are wanted.
pub trait ExchangeObserver {
    fn data(&mut self, dir: Direction, bytes: &[u8], at: Micros) -> bool;
    fn end(&mut self, dir: Direction, kind: EndKind, at: Micros);
    /// Bytes to send next, asked after each chunk from the server (e.g. a second hello
    /// answering a HelloRetryRequest). They are sent, then reported through `data`.
    fn reply(&mut self) -> Option<Vec<u8>> {
        None
    }
}

/// Sends `hello` and reads until the observer is satisfied or the stream ends, sending what
/// the observer replies on the way (the read deadline then starts again). The server
/// direction's end is always reported, so the observer can tell a verdict from a silence.
pub fn exchange(
    conn: &mut Connection,
    hello: &[u8],
    limits: &Limits,
    observer: &mut dyn ExchangeObserver,
) {
    let micros = |start: Instant| start.elapsed().as_micros() as Micros;
    let to_server = Direction::ClientToServer;
    let from_server = Direction::ServerToClient;
    if !observer.data(to_server, hello, micros(conn.start)) {
        return;
    }
    if let Err(e) = conn.send(hello, limits.connect_timeout) {
        observer.end(from_server, end_kind(&e), micros(conn.start));
        return;
    }
    let mut buf = READ_BUFFERS.with_borrow_mut(Vec::pop).unwrap_or_default();
    buf.resize(READ_CHUNK, 0);
    read_replies(conn, limits, observer, &mut buf);
    READ_BUFFERS.with_borrow_mut(|kept| kept.push(buf));
}

/// Bytes asked of the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

std::thread_local! {
    /// Read buffers, kept for the thread's next exchanges: a scan makes thousands, and a
    /// fresh zeroed 16 KiB each time was a visible part of its CPU time. Several: the
    /// coroutines of a thread ([`coro`]) are in as many exchanges at once.
    static READ_BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `write_all` within `timeout`: a blocking stream's own send time-out bounds it (set at
/// its connect); in a coroutine the stream is non-blocking and the coroutine waits for
/// room until the deadline (then the error a send time-out gives, `WouldBlock`).
fn send_all(stream: &mut TcpStream, bytes: &[u8], timeout: Duration) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if coro::active() {
        return send_all_suspending(stream, bytes, timeout);
    }
    let _ = timeout;
    stream.write_all(bytes)
}

#[cfg(target_os = "linux")]
fn send_all_suspending(
    stream: &mut TcpStream,
    mut bytes: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    let fd = stream.as_raw_fd();
    let deadline = Instant::now() + timeout;
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                bytes = &bytes[n..];
                // The rest goes in a later write, which Nagle could hold behind the small
                // last segment of this one ([`Connection::send`]); rare (a full send buffer).
                if !bytes.is_empty() {
                    stream.set_nodelay(true)?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                coro::clear(fd, coro::Interest::Write);
                if !coro::wait(fd, coro::Interest::Write, Some(deadline)) {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One read that gives up at `deadline` (which is in the future): on a blocking stream
/// through its read time-out (a system call before each read), in a coroutine by waiting
/// for the socket's readiness. A time-out is `WouldBlock`, as a read time-out's `EAGAIN`.
fn read_within(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    #[cfg(target_os = "linux")]
    if coro::active() {
        return read_suspending(stream, buf, deadline);
    }
    let left = deadline.saturating_duration_since(Instant::now());
    // A zero duration would mean "block forever" to set_read_timeout.
    let _ = stream.set_read_timeout(Some(left.max(Duration::from_millis(1))));
    stream.read(buf)
}

#[cfg(target_os = "linux")]
fn read_suspending(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    let fd = stream.as_raw_fd();
    loop {
        if !coro::wait(fd, coro::Interest::Read, Some(deadline)) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                coro::clear(fd, coro::Interest::Read)
            }
            r => return r,
        }
    }
}

/// The reading half of [`exchange`], into `buf`.
fn read_replies(
    conn: &mut Connection,
    limits: &Limits,
    observer: &mut dyn ExchangeObserver,
    buf: &mut [u8],
) {
    let micros = |start: Instant| start.elapsed().as_micros() as Micros;
    let to_server = Direction::ClientToServer;
    let from_server = Direction::ServerToClient;
    let mut deadline = Instant::now() + limits.read_timeout;
    let mut received = 0usize;
    loop {
        if deadline <= Instant::now() {
            observer.end(from_server, EndKind::Timeout, micros(conn.start));
            return;
        }
        let room = buf.len().min(limits.max_bytes - received);
        match read_within(&mut conn.stream, &mut buf[..room], deadline) {
            Ok(0) => {
                observer.end(from_server, EndKind::Fin, micros(conn.start));
                return;
            }
            Ok(n) => {
                received += n;
                let mut more = observer.data(from_server, &buf[..n], micros(conn.start));
                if let Some(reply) = observer.reply() {
                    if let Err(e) = conn.send(&reply, limits.connect_timeout) {
                        observer.end(from_server, end_kind(&e), micros(conn.start));
                        return;
                    }
                    more = observer.data(to_server, &reply, micros(conn.start));
                    deadline = Instant::now() + limits.read_timeout;
                }
                if !more {
                    return;
                }
                if received >= limits.max_bytes {
                    observer.end(from_server, EndKind::ByteCap, micros(conn.start));
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                observer.end(from_server, end_kind(&e), micros(conn.start));
                return;
            }
        }
    }
}

/// One hello's trip to a server and back: connect to `target`, send `hello`, and hand
/// the observer what comes back until it is satisfied or the stream ends. The scanner's
/// strategies run over this trait, so the same logic drives real servers ([`Tcp`]) and,
/// in tests, scripted ones held in memory. A failed connect is the error; everything after
/// it (silence, resets, alerts) is for the observer to judge.
pub trait Transport: Sync {
    fn exchange(
        &self,
        target: &Target,
        hello: &[u8],
        limits: &Limits,
        observer: &mut dyn ExchangeObserver,
    ) -> io::Result<()>;

    /// How this transport connects (and runs the STARTTLS preamble) ahead of a hello, for
    /// [`exchange_on`]: a scan's chain of hellos asks for its next connection while the
    /// current hello is answered (see `scan::enumerate`). `None`: it connects only in
    /// [`Transport::exchange`] (the scripted transports of the tests).
    fn connector(&self) -> Option<Connector> {
        None
    }

    /// Whether the observer sees the hello's bytes as given (TCP) rather than a hello the
    /// transport rewrote (QUIC adds its transport parameters): only then may the caller
    /// hand its tracker the hello it built instead of having the bytes decoded again.
    fn sends_hello_as_given(&self) -> bool {
        true
    }

    /// Whether every wait of this transport's exchanges suspends a coroutine instead of
    /// blocking its thread ([`coro`]), so that many may run on one thread. `false`: the
    /// caller gives each its own thread.
    fn suspends(&self) -> bool {
        false
    }
}

/// How a transport makes a connection (and runs its STARTTLS preamble): [`connect`] for TCP.
pub type Connector = fn(&Target, &Limits) -> io::Result<Connection>;

/// [`Transport::exchange`] on a connection made by [`connect`] (ahead of the hello): a
/// preamble that did not end in the upgrade is the error, as there.
pub fn exchange_on(
    mut conn: Connection,
    hello: &[u8],
    limits: &Limits,
    observer: &mut dyn ExchangeObserver,
) -> io::Result<()> {
    if let Some(e) = conn.starttls.as_ref().and_then(StarttlsReport::as_error) {
        return Err(e);
    }
    exchange(&mut conn, hello, limits, observer);
    Ok(())
}

/// The real transport: one TCP connection per hello, closed afterwards.
///
/// The close is a plain `close` (the stream dropped), as sslscan, testssl.sh and zgrab2
/// close theirs: the kernel sends a FIN when every byte of the server was read (the usual
/// case: a scan reads until its verdict, and the server's flight comes in one read), a
/// reset when some were left unread. A `shutdown` before it (as [`close`] does for a
/// probe) only adds a system call: the FIN goes out either way. An abortive close
/// (`SO_LINGER` 0, one RST, no TIME_WAIT) was measured and not kept: it sends as many
/// packets from the scanner's system calls and frees the socket inside them, so the
/// scanner's share of CPU in closing grew (docs/benchmarks.md#scan-cpu).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tcp;

impl Transport for Tcp {
    fn exchange(
        &self,
        target: &Target,
        hello: &[u8],
        limits: &Limits,
        observer: &mut dyn ExchangeObserver,
    ) -> io::Result<()> {
        exchange_on(connect(target, limits)?, hello, limits, observer)
    }

    fn connector(&self) -> Option<Connector> {
        Some(connect)
    }

    /// On Linux (epoll); a name's lookup runs on a thread of its own (`lookup`).
    fn suspends(&self) -> bool {
        cfg!(target_os = "linux")
    }
}

/// A connected UDP socket (QUIC), with when it started: every timestamp counts from
/// `start`.
pub struct Datagrams {
    pub socket: UdpSocket,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    pub start: Instant,
}

/// UDP's side of a datagram conversation (a QUIC client, sans-IO): what to send first,
/// what to answer each datagram with, whether it still reads, and how it ends.
pub trait DatagramPeer {
    fn start(&mut self, at: Micros) -> Vec<Vec<u8>>;
    fn datagram(&mut self, bytes: &[u8], at: Micros) -> Vec<Vec<u8>>;
    fn wants_more(&self) -> bool;
    /// Nothing more is read: `kind` says why when the peer still wanted more.
    fn end(&mut self, kind: EndKind, at: Micros);
    /// The last datagrams to send (a CONNECTION_CLOSE).
    fn close(&mut self) -> Vec<Vec<u8>>;
}

/// A UDP socket bound to an ephemeral port and connected to the target's first address
/// (so that only its datagrams are received). No packet is sent yet.
pub fn udp_connect(target: &Target) -> io::Result<Datagrams> {
    let start = Instant::now();
    let peer = *target
        .resolve()?
        .first()
        .ok_or_else(|| io::Error::other("no address to send to"))?;
    let bind: SocketAddr = if peer.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind)?;
    socket.connect(peer)?;
    let local = socket.local_addr()?;
    Ok(Datagrams {
        socket,
        local,
        peer,
        start,
    })
}

/// Runs a datagram conversation: sends the peer's first datagrams, then hands it each
/// datagram received and sends its answers, until it wants no more, nothing arrives
/// within the read deadline (which starts again with every datagram), or `max_bytes` were
/// received; then sends its closing datagrams. An ICMP "port unreachable" reads as a reset.
pub fn datagram_exchange(conn: &Datagrams, limits: &Limits, peer: &mut dyn DatagramPeer) {
    let micros = |start: Instant| start.elapsed().as_micros() as Micros;
    let send_all = |datagrams: Vec<Vec<u8>>| -> io::Result<()> {
        for d in datagrams {
            conn.socket.send(&d)?;
        }
        Ok(())
    };
    if let Err(e) = send_all(peer.start(micros(conn.start))) {
        peer.end(end_kind(&e), micros(conn.start));
        return;
    }
    let mut buf = vec![0u8; 65_536];
    let mut received = 0usize;
    let mut deadline = Instant::now() + limits.read_timeout;
    while peer.wants_more() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            peer.end(EndKind::Timeout, micros(conn.start));
            break;
        }
        let _ = conn
            .socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match conn.socket.recv(&mut buf) {
            Ok(n) => {
                received += n;
                deadline = Instant::now() + limits.read_timeout;
                let answer = peer.datagram(&buf[..n], micros(conn.start));
                if let Err(e) = send_all(answer) {
                    peer.end(end_kind(&e), micros(conn.start));
                    break;
                }
                if received >= limits.max_bytes && peer.wants_more() {
                    peer.end(EndKind::ByteCap, micros(conn.start));
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                peer.end(end_kind(&e), micros(conn.start));
                break;
            }
        }
    }
    // The close is a courtesy: the server forgets the connection at once, not after its
    // idle timeout. Errors sending it change nothing.
    let _ = send_all(peer.close());
}

/// The scanner's transport over QUIC: each hello (TLS records, as built for TCP) gets the
/// default transport parameters and goes out in Initial packets to the target's UDP port;
/// the observer sees the hello's records, the server's Initial CRYPTO stream as records
/// and a crypto error close as an alert record (the server's encrypted flight stays in
/// its Handshake packets: no certificate or later message reaches the observer). A
/// transport error close is a close (`Fin`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Quic;

/// A tapped QUIC client handing its TLS bytes to an [`ExchangeObserver`].
struct QuicTap<'o> {
    client: QuicClient,
    observer: &'o mut dyn ExchangeObserver,
    more: bool,
    ended: bool,
}

impl QuicTap<'_> {
    fn forward(&mut self, at: Micros) {
        for (dir, bytes) in self.client.take_tls() {
            if self.more {
                self.more = self.observer.data(dir, &bytes, at);
            }
        }
        if self.more
            && !self.client.wants_more()
            && self.client.facts().server_close.is_some()
            && !self.ended
        {
            self.ended = true;
            self.observer
                .end(Direction::ServerToClient, EndKind::Fin, at);
        }
    }
}

impl DatagramPeer for QuicTap<'_> {
    fn start(&mut self, at: Micros) -> Vec<Vec<u8>> {
        let out = self.client.start(at);
        self.forward(at);
        out
    }

    fn datagram(&mut self, bytes: &[u8], at: Micros) -> Vec<Vec<u8>> {
        let out = self.client.on_datagram(bytes, at);
        self.forward(at);
        out
    }

    fn wants_more(&self) -> bool {
        self.more && !self.ended && self.client.wants_more()
    }

    fn end(&mut self, kind: EndKind, at: Micros) {
        if !self.ended {
            self.ended = true;
            self.observer.end(Direction::ServerToClient, kind, at);
        }
    }

    fn close(&mut self) -> Vec<Vec<u8>> {
        self.client.close()
    }
}

impl Transport for Quic {
    fn exchange(
        &self,
        target: &Target,
        hello: &[u8],
        limits: &Limits,
        observer: &mut dyn ExchangeObserver,
    ) -> io::Result<()> {
        let conn = udp_connect(target)?;
        let mut ids = [0u8; 16];
        let params_for = |scid: &[u8]| quic_client::transport_parameters(scid, &[]);
        // Without OS randomness the IDs are still valid, only predictable.
        let _ = getrandom::fill(&mut ids);
        let (dcid, scid) = (ids[..8].to_vec(), ids[8..].to_vec());
        let Some(hello) = quic_client::with_transport_parameters(hello, &params_for(&scid)) else {
            // Not a TLS ClientHello (an SSLv2 one): QUIC cannot carry it. The observer sees
            // it refused at once, and nothing is sent.
            if observer.data(Direction::ClientToServer, hello, 0) {
                observer.end(Direction::ServerToClient, EndKind::Fin, 0);
            }
            return Ok(());
        };
        let client = QuicClient::new(
            QuicClientConfig {
                version: crate::core::wire::quic::VERSION_1,
                dcid,
                scid,
                hello,
                crypto_frame_max: None,
            },
            crate::core::session::Tracker::new(),
        )
        .tap();
        let mut tap = QuicTap {
            client,
            observer,
            more: true,
            ended: false,
        };
        datagram_exchange(&conn, limits, &mut tap);
        Ok(())
    }

    fn sends_hello_as_given(&self) -> bool {
        false
    }
}

/// Closes our side politely so a server does not log a reset for a probe.
pub fn close(conn: &Connection) {
    let _ = conn.stream.shutdown(Shutdown::Both);
}

fn end_kind(e: &io::Error) -> EndKind {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => EndKind::Timeout,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => EndKind::Rst,
        _ => EndKind::Rst,
    }
}

/// Raises the soft limit on open files to `want` (at most the hard limit). `Ok(limit)` when
/// the limit now covers `want`, `Err(limit)` with the limit in force when it cannot.
#[cfg(target_os = "linux")]
pub fn raise_open_file_limit(want: u64) -> Result<u64, u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the rlimit struct passed by
    // pointer, which lives on this stack frame for the whole call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(0);
    }
    if lim.rlim_cur >= want {
        return Ok(lim.rlim_cur);
    }
    let raised = libc::rlimit {
        rlim_cur: want.min(lim.rlim_max),
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(lim.rlim_cur);
    }
    if raised.rlim_cur >= want {
        Ok(raised.rlim_cur)
    } else {
        Err(raised.rlim_cur)
    }
}

/// Asks the kernel for small pages only (`PR_SET_THP_DISABLE`) from now on. A scan starts
/// threads by the thousand, each with fresh memory; where that memory gets transparent
/// huge pages every first touch zeroes a whole 2 MiB page, which was more than half of a
/// scan's CPU time. The allocator no longer asks for them (mimalloc's `no_thp` drops its
/// `MADV_HUGEPAGE`; the process keeps THP allowed: `THP_enabled: 1` in /proc/PID/status),
/// but a kernel whose THP mode is `always` (not this VM's `madvise`) gives them anyway,
/// thread stacks included. `false` when the kernel refused (or elsewhere than Linux),
/// which changes nothing but speed.
#[cfg(target_os = "linux")]
pub fn small_pages_only() -> bool {
    // SAFETY: prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) takes integers only and touches no
    // memory of ours; it sets a flag on this process.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
}

/// Elsewhere nothing changes.
#[cfg(not(target_os = "linux"))]
pub fn small_pages_only() -> bool {
    false
}

/// Elsewhere the limit is left as it is.
#[cfg(not(target_os = "linux"))]
pub fn raise_open_file_limit(want: u64) -> Result<u64, u64> {
    Ok(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = Target::parse("example.com", 443).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("example.com", 443));
        let t = Target::parse("127.0.0.1:8443", 443).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8443));
        let t = Target::parse("[::1]:8443", 443).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8443));
        assert_eq!(t.display(), "[::1]:8443");
        let t = Target::parse("::1", 443).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 443));
        assert!(Target::parse("host:0", 443).is_err());
        assert!(Target::parse("host:99999", 443).is_err());
        assert!(Target::parse("[::1", 443).is_err());
        assert!(Target::parse("a b", 443).is_err());
        assert!(Target::parse("", 443).is_err());
    }

    /// A name resolved in a coroutine (on a thread of its own, the coroutine polling for
    /// its end) gives what it gives outside one, for many coroutines at once.
    #[cfg(target_os = "linux")]
    #[test]
    fn names_resolve_in_coroutines() {
        let outside = lookup("localhost", 8443).unwrap();
        assert!(
            outside
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8443)
        );
        let inside = std::sync::Mutex::new(Vec::new());
        let jobs: Vec<Box<dyn FnOnce() + '_>> = (0..8)
            .map(|_| {
                let inside = &inside;
                Box::new(move || {
                    assert!(coro::active());
                    let got = lookup("localhost", 8443).unwrap();
                    inside.lock().unwrap().push(got);
                }) as Box<dyn FnOnce()>
            })
            .collect();
        assert_eq!(coro::run(jobs), 8);
        let inside = inside.into_inner().unwrap();
        assert_eq!(inside.len(), 8);
        assert!(inside.iter().all(|got| *got == outside));
    }

    /// Nagle's algorithm stays on for a connection's first write and is off from its
    /// second on, in a coroutine as on a thread; both writes arrive.
    #[test]
    fn nagle_is_turned_off_before_the_second_write() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = std::thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..2 {
                let (mut s, _) = listener.accept().unwrap();
                let mut all = Vec::new();
                s.read_to_end(&mut all).unwrap();
                got.push(all);
            }
            got
        });
        let target = Target::parse(&format!("127.0.0.1:{port}"), 443).unwrap();
        let limits = Limits::default();
        let writes = || {
            let mut conn = connect(&target, &limits).unwrap();
            let linux = cfg!(target_os = "linux");
            assert_eq!(conn.stream.nodelay().unwrap(), !linux);
            conn.send(b"one", limits.connect_timeout).unwrap();
            assert_eq!(conn.stream.nodelay().unwrap(), !linux);
            conn.send(b"two", limits.connect_timeout).unwrap();
            assert!(conn.stream.nodelay().unwrap());
        };
        writes();
        #[cfg(target_os = "linux")]
        assert_eq!(coro::run(vec![Box::new(writes) as Box<dyn FnOnce()>]), 1);
        #[cfg(not(target_os = "linux"))]
        writes();
        assert_eq!(peer.join().unwrap(), [b"onetwo", b"onetwo"]);
    }

    /// The connect is bounded by its time-out: a listener whose accept queue is full drops
    /// SYNs, so a connection to it can only time out, and must say so as std does.
    #[cfg(target_os = "linux")]
    #[test]
    fn connect_times_out_and_connects() {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        // Fill the queue (nothing accepts) until a connection attempt hangs.
        let short = Duration::from_millis(300);
        let mut held = Vec::new();
        let timed_out = loop {
            assert!(held.len() < 64, "the accept queue never filled");
            match connect_one(&addr, short) {
                Ok(s) => {
                    // Nagle is turned off before a second write, not here.
                    assert!(!s.nodelay().unwrap());
                    assert_eq!(s.write_timeout().unwrap(), Some(short));
                    held.push(s);
                }
                Err(e) => break e,
            }
        };
        assert!(
            !held.is_empty(),
            "the first connection is accepted by the kernel"
        );
        assert_eq!(timed_out.kind(), io::ErrorKind::TimedOut, "{timed_out}");
        let t = Instant::now();
        let e = connect_one(&addr, short).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "{:?}",
            t.elapsed()
        );
        drop(listener);
        // Nothing listens now: refused at once, with the OS's reason.
        let e = connect_one(&addr, short).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    }
}

/// The same waits in a coroutine (`coro`): the connect's time-out, a write that finds the
/// send buffer full and waits for room (or gives up at its deadline, as a send time-out
/// does), and reads bounded by their deadline.
#[cfg(all(test, target_os = "linux"))]
mod coroutine_tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::Mutex;

    #[test]
    fn connects_writes_and_reads_suspend_within_their_deadlines() {
        // A full accept queue: connects to it can only time out.
        let full = socket2::Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        full.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        full.listen(0).unwrap();
        let full_addr = full.local_addr().unwrap().as_socket().unwrap();
        // A peer that reads nothing for 300 ms, then all it is sent.
        let slow = TcpListener::bind("127.0.0.1:0").unwrap();
        let slow_addr = slow.local_addr().unwrap();
        let reader = std::thread::spawn(move || {
            let (mut s, _) = slow.accept().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            let mut all = Vec::new();
            s.read_to_end(&mut all).unwrap();
            all.len()
        });
        // A peer that reads nothing at all, and says nothing.
        let deaf = TcpListener::bind("127.0.0.1:0").unwrap();
        let deaf_addr = deaf.local_addr().unwrap();
        // More than loopback's largest send and receive buffers hold together.
        let bulk = vec![7u8; 64 << 20];
        let short = Duration::from_millis(300);
        let outcomes = Mutex::new(Vec::new());
        let jobs: Vec<Box<dyn FnOnce() + '_>> = vec![
            Box::new(|| {
                // Fill the queue until a connect times out.
                let mut held = Vec::new();
                let e = loop {
                    assert!(held.len() < 64, "the accept queue never filled");
                    match connect_one(&full_addr, short) {
                        Ok(s) => held.push(s),
                        Err(e) => break e,
                    }
                };
                outcomes
                    .lock()
                    .unwrap()
                    .push(format!("full: {:?}", e.kind()));
            }),
            Box::new(|| {
                let mut s = connect_one(&slow_addr, short).unwrap();
                let r = send_all(&mut s, &bulk, Duration::from_secs(5));
                // Written in many parts: Nagle was turned off after the first.
                let nodelay = s.nodelay().unwrap();
                outcomes
                    .lock()
                    .unwrap()
                    .push(format!("slow: {r:?} {nodelay}"));
            }),
            Box::new(|| {
                let mut s = connect_one(&deaf_addr, short).unwrap();
                let t = Instant::now();
                let w = send_all(&mut s, &bulk, short).map_err(|e| e.kind());
                let waited = t.elapsed() >= Duration::from_millis(250);
                let mut buf = [0u8; 16];
                let t = Instant::now();
                let r = read_within(&mut s, &mut buf, Instant::now() + short).map_err(|e| e.kind());
                let read_waited = t.elapsed() >= Duration::from_millis(250);
                outcomes
                    .lock()
                    .unwrap()
                    .push(format!("deaf: {w:?} {waited} {r:?} {read_waited}"));
            }),
        ];
        assert_eq!(coro::run(jobs), 3);
        let mut outcomes = outcomes.into_inner().unwrap();
        outcomes.sort();
        assert_eq!(
            outcomes,
            [
                "deaf: Err(WouldBlock) true Err(WouldBlock) true",
                "full: TimedOut",
                "slow: Ok(()) true",
            ]
        );
        assert_eq!(reader.join().unwrap(), bulk.len());
        drop(deaf);
    }
}
