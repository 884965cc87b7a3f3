//! Plaintext proxy preambles that precede TLS on a connection: HTTP `CONNECT`, SOCKS4/4a and
//! SOCKS5 (with username/password authentication). A capture taken between a client and
//! its proxy shows them before the ClientHello; recognizing them lets the session tracker
//! start reading TLS where it really starts.
//!
//! Each direction is scanned on its own: the client's side names the proxy protocol, and
//! the server's side is read in that protocol. Scans are bounded by [`MAX_PREAMBLE`].

/// A preamble longer than this is not one (an HTTP CONNECT with huge headers is not worth
/// buffering for).
pub const MAX_PREAMBLE: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    HttpConnect,
    Socks4,
    Socks5,
}

/// What the bytes seen so far of one direction are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Not a proxy preamble: read the bytes as they are.
    NotProxy,
    /// Possibly a preamble; more bytes are needed to tell.
    NeedMore,
    /// A complete preamble of `len` bytes; TLS (or whatever follows) starts after it.
    Done { len: usize, what: String },
}

/// Scans the start of the client's bytes.
pub fn scan_client(b: &[u8]) -> (Option<Proxy>, Scan) {
    match b.first() {
        Some(b'C') => (Some(Proxy::HttpConnect), http_connect_request(b)),
        Some(4) => (Some(Proxy::Socks4), socks4_request(b)),
        Some(5) => (Some(Proxy::Socks5), socks5_client(b)),
        _ => (None, Scan::NotProxy),
    }
}

/// Scans the start of the server's bytes, given the proxy the client spoke to.
pub fn scan_server(proxy: Proxy, b: &[u8]) -> Scan {
    match proxy {
        Proxy::HttpConnect => http_connect_response(b),
        Proxy::Socks4 => socks4_reply(b),
        Proxy::Socks5 => socks5_server(b),
    }
}

fn need(b: &[u8], len: usize) -> Option<Scan> {
    (b.len() < len).then_some(Scan::NeedMore)
}

/// The end of an HTTP head (`\r\n\r\n`), or what to do while it has not come.
fn http_head(b: &[u8]) -> Result<usize, Scan> {
    match b.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => Ok(i + 4),
        None if b.len() >= MAX_PREAMBLE => Err(Scan::NotProxy),
        None => Err(Scan::NeedMore),
    }
}

fn first_line(b: &[u8]) -> String {
    let end = b
        .iter()
        .position(|c| *c == b'\r')
        .unwrap_or(b.len())
        .min(120);
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn http_connect_request(b: &[u8]) -> Scan {
    let prefix = b"CONNECT ";
    if !prefix.starts_with(&b[..b.len().min(prefix.len())]) {
        return Scan::NotProxy;
    }
    match http_head(b) {
        Ok(len) => Scan::Done {
            len,
            what: format!("proxy request: {}", first_line(b)),
        },
        Err(s) => s,
    }
}

fn http_connect_response(b: &[u8]) -> Scan {
    let prefix = b"HTTP/1.";
    if !prefix.starts_with(&b[..b.len().min(prefix.len())]) {
        return Scan::NotProxy;
    }
    match http_head(b) {
        // Only a 2xx opens the tunnel; a refusal stays visible as the (non-TLS) answer.
        Ok(len) if b.get(9) == Some(&b'2') => Scan::Done {
            len,
            what: format!("proxy answer: {}", first_line(b)),
        },
        Ok(_) => Scan::NotProxy,
        Err(s) => s,
    }
}

/// SOCKS4: VN=4, CD, DSTPORT(2), DSTIP(4), USERID, NUL; SOCKS4a adds a host name and NUL
/// when DSTIP is 0.0.0.x (x ≠ 0).
fn socks4_request(b: &[u8]) -> Scan {
    if let Some(s) = need(b, 9) {
        return s;
    }
    if !matches!(b[1], 1 | 2) {
        return Scan::NotProxy;
    }
    let nul_after = |from: usize| b[from..].iter().position(|c| *c == 0).map(|i| from + i + 1);
    let Some(mut len) = nul_after(8) else {
        return if b.len() >= 8 + 256 {
            Scan::NotProxy
        } else {
            Scan::NeedMore
        };
    };
    let socks4a = b[4..7] == [0, 0, 0] && b[7] != 0;
    let mut target = format!("{}.{}.{}.{}", b[4], b[5], b[6], b[7]);
    if socks4a {
        match nul_after(len) {
            Some(end) => {
                target = String::from_utf8_lossy(&b[len..end - 1]).into_owned();
                len = end;
            }
            None if b.len() >= len + 256 => return Scan::NotProxy,
            None => return Scan::NeedMore,
        }
    }
    Scan::Done {
        len,
        what: format!(
            "SOCKS4 request: connect {target}:{}",
            u16::from_be_bytes([b[2], b[3]])
        ),
    }
}

fn socks4_reply(b: &[u8]) -> Scan {
    if let Some(s) = need(b, 8) {
        return s;
    }
    match (b[0], b[1]) {
        (0, 0x5a) => Scan::Done {
            len: 8,
            what: "SOCKS4 reply: granted".into(),
        },
        _ => Scan::NotProxy,
    }
}

/// The length of a SOCKS5 request or reply (VER, CMD/REP, RSV, ATYP, ADDR, PORT) at `b`.
fn socks5_address_message(b: &[u8]) -> Result<(usize, String), Scan> {
    if b.len() < 5 {
        return Err(Scan::NeedMore);
    }
    if b[0] != 5 || b[2] != 0 {
        return Err(Scan::NotProxy);
    }
    let (addr_len, addr) = match b[3] {
        1 => (
            4,
            b.get(4..8)
                .map(|a| format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])),
        ),
        3 => {
            let n = b[4] as usize;
            (
                1 + n,
                b.get(5..5 + n)
                    .map(|h| String::from_utf8_lossy(h).into_owned()),
            )
        }
        4 => (
            16,
            b.get(4..20).map(|a| {
                let octets: [u8; 16] = a.try_into().unwrap_or([0; 16]);
                format!("[{}]", std::net::Ipv6Addr::from(octets))
            }),
        ),
        _ => return Err(Scan::NotProxy),
    };
    let len = 4 + addr_len + 2;
    match (addr, b.get(len - 2..len)) {
        (Some(addr), Some(p)) => Ok((len, format!("{addr}:{}", u16::from_be_bytes([p[0], p[1]])))),
        _ => Err(Scan::NeedMore),
    }
}

/// Client side of SOCKS5: greeting (VER, NMETHODS, METHODS), an optional RFC 1929
/// username/password message (VER=1, ULEN, UNAME, PLEN, PASSWD), then the request.
fn socks5_client(b: &[u8]) -> Scan {
    if let Some(s) = need(b, 2) {
        return s;
    }
    let n = b[1] as usize;
    if n == 0 {
        return Scan::NotProxy;
    }
    let mut at = 2 + n;
    if let Some(s) = need(b, at + 1) {
        return s;
    }
    if b[at] == 1 {
        let Some(&ulen) = b.get(at + 1) else {
            return Scan::NeedMore;
        };
        let Some(&plen) = b.get(at + 2 + ulen as usize) else {
            return Scan::NeedMore;
        };
        at += 3 + ulen as usize + plen as usize;
    }
    match socks5_address_message(&b[at.min(b.len())..]) {
        Ok((len, target)) if b[at + 1] == 1 => Scan::Done {
            len: at + len,
            what: format!("SOCKS5 request: connect {target}"),
        },
        Ok(_) => Scan::NotProxy,
        Err(s) => s,
    }
}

/// Server side of SOCKS5: method choice (VER, METHOD), an auth status (VER=1, STATUS) when
/// username/password was chosen, then the reply.
fn socks5_server(b: &[u8]) -> Scan {
    if let Some(s) = need(b, 2) {
        return s;
    }
    if b[0] != 5 {
        return Scan::NotProxy;
    }
    let mut at = 2;
    if b[1] == 2 {
        if let Some(s) = need(b, 4) {
            return s;
        }
        if b[2] != 1 || b[3] != 0 {
            return Scan::NotProxy;
        }
        at = 4;
    }
    match socks5_address_message(&b[at..]) {
        Ok((len, bound)) if b[at + 1] == 0 => Scan::Done {
            len: at + len,
            what: format!("SOCKS5 reply: succeeded (bound {bound})"),
        },
        Ok(_) => Scan::NotProxy,
        Err(s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done_len(s: Scan) -> usize {
        match s {
            Scan::Done { len, .. } => len,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn http_connect_both_ways() {
        let req = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01";
        let (proxy, scan) = scan_client(req);
        assert_eq!(proxy, Some(Proxy::HttpConnect));
        assert_eq!(done_len(scan), req.len() - 3);
        assert_eq!(scan_client(&req[..20]).1, Scan::NeedMore);
        let ok = b"HTTP/1.1 200 Connection established\r\n\r\n\x16";
        assert_eq!(done_len(scan_server(Proxy::HttpConnect, ok)), ok.len() - 1);
        let refused = b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n";
        assert_eq!(scan_server(Proxy::HttpConnect, refused), Scan::NotProxy);
        assert_eq!(scan_client(b"CONNECTED?").1, Scan::NotProxy);
        assert_eq!(scan_client(b"\x16\x03\x01").1, Scan::NotProxy);
    }

    #[test]
    fn socks5_with_and_without_authentication() {
        let greeting = [5, 1, 0];
        let request = [
            5, 1, 0, 3, 11, b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm', 1,
            187,
        ];
        let client: Vec<u8> = [&greeting[..], &request[..], &[0x16]].concat();
        let (proxy, scan) = scan_client(&client);
        assert_eq!(proxy, Some(Proxy::Socks5));
        assert_eq!(done_len(scan), client.len() - 1);
        for cut in 1..client.len() - 1 {
            assert_eq!(scan_client(&client[..cut]).1, Scan::NeedMore, "cut {cut}");
        }
        let server = [5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 4, 56, 0x16];
        assert_eq!(
            done_len(scan_server(Proxy::Socks5, &server)),
            server.len() - 1
        );
        let auth_client: Vec<u8> =
            [&[5, 1, 2][..], &[1, 1, b'u', 1, b'p'][..], &request[..]].concat();
        assert_eq!(done_len(scan_client(&auth_client).1), auth_client.len());
        let auth_server = [5, 2, 1, 0, 5, 0, 0, 1, 127, 0, 0, 1, 4, 56];
        assert_eq!(
            done_len(scan_server(Proxy::Socks5, &auth_server)),
            auth_server.len()
        );
        let failed = [5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(scan_server(Proxy::Socks5, &failed), Scan::NotProxy);
    }

    #[test]
    fn socks4_and_4a() {
        let plain = [4, 1, 1, 187, 10, 0, 0, 1, b'u', 0, 0x16];
        assert_eq!(done_len(scan_client(&plain).1), plain.len() - 1);
        let a: Vec<u8> = [
            &[4, 1, 1, 187, 0, 0, 0, 1, 0][..],
            b"example.com\0",
            &[0x16],
        ]
        .concat();
        let (_, scan) = scan_client(&a);
        match scan {
            Scan::Done { len, what } => {
                assert_eq!(len, a.len() - 1);
                assert!(what.contains("example.com:443"), "{what}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            done_len(scan_server(Proxy::Socks4, &[0, 0x5a, 0, 0, 0, 0, 0, 0])),
            8
        );
        assert_eq!(
            scan_server(Proxy::Socks4, &[0, 0x5b, 0, 0, 0, 0, 0, 0]),
            Scan::NotProxy
        );
    }
}
