//! SSLv2-framed records (2-byte header, high bit set): an SSLv2 CLIENT-HELLO (as old
//! clients send to reach SSLv3 or TLS servers) and an SSLv2 server's SERVER-HELLO. Only the
//! record and its message type are read here; the decoder is `wire::sslv2`.

use super::side::Reading;
use super::{Outcome, Tracker};
use crate::core::flow::{Direction, Micros};
use crate::core::wire::registry::sslv2_cipher_name;
use crate::core::wire::sslv2::Sslv2ServerHello;

impl Tracker {
    /// Minimal SSLv2 handling: the record is collected and its message type read; the full
    /// decoder lives in `wire::sslv2`.
    pub(super) fn sslv2(&mut self, dir: Direction, data: &[u8], at: Micros) {
        let side = &mut self.sides[dir.index()];
        // The header is 2 bytes: high bit set, 15 bits of length.
        let n = 2usize.saturating_sub(side.sslv2.len()).min(data.len());
        side.sslv2.extend_from_slice(&data[..n]);
        let data = &data[n..];
        let [h0, h1, ..] = side.sslv2[..] else {
            return;
        };
        let want = (((h0 & 0x7f) as usize) << 8 | h1 as usize) + 2;
        let n = want.saturating_sub(side.sslv2.len()).min(data.len());
        side.sslv2.extend_from_slice(&data[..n]);
        let rest = &data[n..];
        if side.sslv2.len() < want {
            return;
        }
        side.stop();
        let record = std::mem::take(&mut side.sslv2);
        if record.len() < 3 {
            self.fail(dir, at, "empty SSLv2 record".into());
            return;
        }
        let (len, msg_type) = (record.len(), record[2]);
        match (dir, msg_type) {
            (Direction::ClientToServer, 1) => {
                self.event(at, dir, format!("SSLv2 ClientHello ({len} bytes)"));
                self.letter(dir, 'c');
                self.last_step = Some("SSLv2 ClientHello");
                self.v.sslv2_client_hello = Some(record);
                self.client_hellos += 1;
                // A server of SSLv3 or later answers in TLS records, and so does the client
                // from then on (ClientKeyExchange, ChangeCipherSpec, Finished): the hello is
                // the only SSLv2-framed record of the connection. A client answered in
                // SSLv2 goes on in SSLv2 (CLIENT-MASTER-KEY): the next first byte decides.
                self.sides[dir.index()].reading = Reading::Undetermined;
                if !rest.is_empty() {
                    self.on_data(dir, rest, at);
                }
            }
            (Direction::ServerToClient, 4) => {
                let decoded = Sslv2ServerHello::decode(&record);
                let version = match &decoded {
                    Ok(h) => Some(h.version),
                    // SERVER-HELLO: type, session_id_hit, certificate_type, server_version.
                    Err(_) => record.get(5..7).map(|v| u16::from_be_bytes([v[0], v[1]])),
                };
                let what = match &decoded {
                    Ok(h) => format!(
                        "SSLv2 ServerHello ({} cipher kinds: {}; certificate {} bytes)",
                        h.cipher_specs.len(),
                        h.cipher_specs
                            .iter()
                            .map(|c| sslv2_cipher_name(*c))
                            .collect::<Vec<_>>()
                            .join(", "),
                        h.certificate.len()
                    ),
                    Err(e) => format!("SSLv2 ServerHello (undecodable: {e})"),
                };
                if let Ok(h) = decoded {
                    if !h.certificate.is_empty() {
                        self.v.certificates = vec![h.certificate.clone()];
                    }
                    self.v.sslv2_server_hello = Some(h);
                }
                self.event(at, dir, what);
                self.letter(dir, 's');
                self.last_step = Some("SSLv2 ServerHello");
                self.v.version = version;
                self.progress(Outcome::ServerHello);
                self.decide(at);
            }
            (Direction::ClientToServer, _) if self.v.sslv2_client_hello.is_some() => {
                // The SSLv2 handshake goes on (CLIENT-MASTER-KEY, then encrypted records):
                // the server's SERVER-HELLO decided what there is to tell.
                self.event(at, dir, format!("SSLv2 client message ({len} bytes)"));
            }
            _ => {
                let what = format!("SSLv2 message type {msg_type}");
                self.fail(dir, at, what);
            }
        }
    }
}

/// Whether the first bytes of an SSLv2-framed direction carry the message a peer in that
/// role sends first: CLIENT-HELLO (1) from a client, SERVER-HELLO (4) or ERROR (0) from a
/// server. Fewer than three bytes cannot tell yet.
pub(super) fn sslv2_plausible(dir: Direction, first: &[u8]) -> bool {
    match (dir, first.get(2)) {
        (_, None) => true,
        (Direction::ClientToServer, Some(t)) => *t == 1,
        (Direction::ServerToClient, Some(t)) => matches!(t, 0 | 4),
    }
}
