//! The ClientHello model: every field settable, including to values that are wrong on
//! purpose. Extensions are kept as raw `(type, bytes)` pairs in wire order, so a hello can
//! carry anything, in any order, and decoding then re-encoding gives the same bytes.
//! Typed views (`sni()`, `groups()`, …) read the raw extensions on demand.

/// One extension as it stands on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extension {
    pub typ: u16,
    pub data: Vec<u8>,
}

/// A TLS ClientHello (not SSLv2-format; see [`super::sslv2`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Version in the record header(s) carrying the hello; not part of the handshake message.
    pub record_version: u16,
    pub legacy_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    pub compression_methods: Vec<u8>,
    /// `None`: no extensions block at all (as SSLv3 clients send); `Some(vec![])`: an empty one.
    pub extensions: Option<Vec<Extension>>,
}

use super::codec::{DecodeError, LengthOverflow, Prefix, Reader, put_prefixed, put_u16s};
use crate::core::wire::registry::extensions::types as ext;
use crate::core::wire::registry::handshake_types::types as handshake;
use bytes::BufMut;

/// Record content type of handshake records.
pub const CONTENT_HANDSHAKE: u8 = 22;

/// Lengths written verbatim instead of the computed ones: a crafting tool sends wrong
/// lengths on purpose. `None` everywhere (the default): every length is the true one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LengthOverrides {
    /// The length field of every record carrying the hello.
    pub record: Option<u16>,
    /// The handshake message's 24-bit length (at most 0xffffff).
    pub handshake: Option<u32>,
    pub session_id: Option<u8>,
    /// The cipher_suites vector's length in bytes (two per suite when true).
    pub cipher_suites: Option<u16>,
    pub compression_methods: Option<u8>,
    /// The extensions block's length.
    pub extensions: Option<u16>,
    /// `(type, length)`: the length field of the first extension of that type.
    pub extension: Vec<(u16, u16)>,
}

impl ClientHello {
    /// The handshake body (without the 4-byte handshake header), with true lengths.
    pub fn encode_body(&self) -> Result<Vec<u8>, LengthOverflow> {
        self.encode_body_with(&LengthOverrides::default())
    }

    /// The handshake body with `lengths` written where given. Fails when a vector is too
    /// long for its length prefix.
    pub fn encode_body_with(&self, lengths: &LengthOverrides) -> Result<Vec<u8>, LengthOverflow> {
        let mut b = Vec::with_capacity(self.encoded_len());
        self.write_body_with(&mut b, lengths)?;
        Ok(b)
    }

    /// [`ClientHello::encode_body_with`], appended to `b`.
    fn write_body_with(
        &self,
        b: &mut Vec<u8>,
        lengths: &LengthOverrides,
    ) -> Result<(), LengthOverflow> {
        let forced = |o: Option<u16>| o.map(usize::from);
        b.put_u16(self.legacy_version);
        b.put_slice(&self.random);
        let sid = lengths.session_id.map(usize::from);
        put_prefixed(b, Prefix::U8, &|| "session_id".into(), sid, |b| {
            b.put_slice(&self.session_id);
            Ok(())
        })?;
        let suites = forced(lengths.cipher_suites);
        put_prefixed(b, Prefix::U16, &|| "cipher_suites".into(), suites, |b| {
            put_u16s(b, &self.cipher_suites);
            Ok(())
        })?;
        let comp = lengths.compression_methods.map(usize::from);
        put_prefixed(b, Prefix::U8, &|| "compression_methods".into(), comp, |b| {
            b.put_slice(&self.compression_methods);
            Ok(())
        })?;
        if let Some(exts) = &self.extensions {
            let block = forced(lengths.extensions);
            put_prefixed(b, Prefix::U16, &|| "extensions".into(), block, |b| {
                let mut overridden = Vec::new();
                for e in exts {
                    b.put_u16(e.typ);
                    // Only the first extension of a type takes its override.
                    let own = lengths
                        .extension
                        .iter()
                        .find(|(t, _)| *t == e.typ && !overridden.contains(t))
                        .map(|(t, len)| {
                            overridden.push(*t);
                            usize::from(*len)
                        });
                    let what = || format!("extension 0x{:04x}", e.typ);
                    put_prefixed(b, Prefix::U16, &what, own, |b| {
                        b.put_slice(&e.data);
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The length of the handshake message (header included) with true lengths, counted
    /// without encoding it (whether or not its vectors fit their length prefixes).
    pub fn encoded_len(&self) -> usize {
        let exts = self
            .extensions
            .as_ref()
            .map_or(0, |e| 2 + e.iter().map(|e| 4 + e.data.len()).sum::<usize>());
        4 + 2
            + 32
            + 1
            + self.session_id.len()
            + 2
            + 2 * self.cipher_suites.len()
            + 1
            + self.compression_methods.len()
            + exts
    }

    /// The complete handshake message: type, 24-bit length, body.
    pub fn handshake_message(&self) -> Result<Vec<u8>, LengthOverflow> {
        self.handshake_message_with(&LengthOverrides::default())
    }

    /// The handshake message with `lengths` written where given.
    pub fn handshake_message_with(
        &self,
        lengths: &LengthOverrides,
    ) -> Result<Vec<u8>, LengthOverflow> {
        let mut m = Vec::with_capacity(self.encoded_len());
        self.write_message_with(&mut m, lengths)?;
        Ok(m)
    }

    /// [`ClientHello::handshake_message_with`], appended to `m`.
    fn write_message_with(
        &self,
        m: &mut Vec<u8>,
        lengths: &LengthOverrides,
    ) -> Result<(), LengthOverflow> {
        m.put_u8(handshake::CLIENT_HELLO);
        let forced = lengths.handshake.map(|l| l as usize);
        put_prefixed(m, Prefix::U24, &|| "ClientHello".into(), forced, |m| {
            self.write_body_with(m, lengths)
        })
    }

    /// The hello as records, each carrying at most `fragment` bytes of handshake data
    /// (`None`: one record, or as many 2^14-byte records as the message needs).
    pub fn to_records(&self, fragment: Option<usize>) -> Result<Vec<u8>, LengthOverflow> {
        self.to_records_with(fragment, &LengthOverrides::default())
    }

    /// The hello as records, with `lengths` written where given.
    pub fn to_records_with(
        &self,
        fragment: Option<usize>,
        lengths: &LengthOverrides,
    ) -> Result<Vec<u8>, LengthOverflow> {
        let chunk = fragment.unwrap_or(16384).clamp(1, 16384);
        let forced = lengths.record.map(usize::from);
        if self.encoded_len() <= chunk {
            // One record: the message is written where it goes, in one buffer (a scan
            // encodes a hello per connection).
            let mut out = Vec::with_capacity(self.encoded_len() + 5);
            out.put_u8(CONTENT_HANDSHAKE);
            out.put_u16(self.record_version);
            put_prefixed(&mut out, Prefix::U16, &|| "record".into(), forced, |o| {
                self.write_message_with(o, lengths)
            })?;
            if out.len() - 5 <= chunk {
                return Ok(out);
            }
        }
        let msg = self.handshake_message_with(lengths)?;
        let mut out = Vec::with_capacity(msg.len() + 5 * msg.len().div_ceil(chunk));
        for part in msg.chunks(chunk) {
            out.put_u8(CONTENT_HANDSHAKE);
            out.put_u16(self.record_version);
            put_prefixed(&mut out, Prefix::U16, &|| "record".into(), forced, |o| {
                o.put_slice(part);
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Decodes a ClientHello handshake body. `record_version` is taken from the record that
    /// carried it, since the body does not hold it.
    pub fn decode_body(body: &[u8], record_version: u16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let legacy_version = r.u16("client_version")?;
        let mut random = [0u8; 32];
        random.copy_from_slice(r.take(32, "random")?);
        let session_id = r.sub_u8("session_id")?.rest().to_vec();
        let mut suites_r = r.sub_u16("cipher_suites")?;
        if suites_r.remaining() % 2 != 0 {
            return Err(DecodeError::new(
                suites_r.offset(),
                "cipher_suites: odd length",
            ));
        }
        let cipher_suites = suites_r
            .rest()
            .chunks_exact(2)
            .map(|id| u16::from_be_bytes([id[0], id[1]]))
            .collect();
        let compression_methods = r.sub_u8("compression_methods")?.rest().to_vec();
        let extensions = if r.is_empty() {
            None
        } else {
            let mut er = r.sub_u16("extensions")?;
            // Browsers send 15 to 20.
            let mut exts = Vec::with_capacity(20);
            while !er.is_empty() {
                let typ = er.u16("extension type")?;
                let data = er.sub_u16("extension data")?.rest().to_vec();
                exts.push(Extension { typ, data });
            }
            r.expect_end("client_hello")?;
            Some(exts)
        };
        Ok(ClientHello {
            record_version,
            legacy_version,
            random,
            session_id,
            cipher_suites,
            compression_methods,
            extensions,
        })
    }

    /// Decodes a handshake message (4-byte header included) that must be a ClientHello.
    pub fn decode_message(msg: &[u8], record_version: u16) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let typ = r.u8("handshake type")?;
        if typ != handshake::CLIENT_HELLO {
            return Err(DecodeError::new(
                0,
                format!("handshake type {typ} is not a ClientHello"),
            ));
        }
        let body = r.sub_u24("client_hello")?;
        r.expect_end("handshake message")?;
        Self::decode_body(body.peek_rest(), record_version)
    }

    /// Replaces the server_name extension with one naming `name`, or removes every
    /// server_name extension for `None`, keeping the order of the others: a recorded hello
    /// replayed to a new host. A new server_name goes first (after a leading GREASE
    /// extension, where Chrome puts it). When a padding extension is present, it shrinks or
    /// grows by the size change so the handshake keeps its length (padding exists to steer
    /// that length); when the padding is too short to absorb the growth it is emptied. An
    /// error, and the hello unchanged, when the name does not fit its length fields.
    pub fn set_sni(&mut self, name: Option<&str>) -> Result<(), LengthOverflow> {
        let before = self.encoded_len();
        match name {
            Some(name) => {
                let data = server_name_data(name)?;
                let exts = self.extensions.get_or_insert_with(Vec::new);
                if let Some(e) = exts.iter_mut().find(|e| e.typ == ext::SERVER_NAME) {
                    e.data = data;
                } else {
                    let at = match exts.first() {
                        Some(e) if super::ProtocolVersion(e.typ).is_grease() => 1,
                        _ => 0,
                    };
                    exts.insert(
                        at,
                        Extension {
                            typ: ext::SERVER_NAME,
                            data,
                        },
                    );
                }
            }
            None => {
                if let Some(exts) = &mut self.extensions {
                    exts.retain(|e| e.typ != ext::SERVER_NAME);
                }
            }
        }
        let after = self.encoded_len();
        if let Some(pad) = self
            .extensions
            .iter_mut()
            .flatten()
            .find(|e| e.typ == ext::PADDING)
        {
            let len = (pad.data.len() + before).saturating_sub(after);
            pad.data.resize(len, 0);
        }
        Ok(())
    }

    pub fn extensions(&self) -> &[Extension] {
        self.extensions.as_deref().unwrap_or(&[])
    }

    /// Extension types in wire order.
    pub fn extension_types(&self) -> Vec<u16> {
        self.extensions().iter().map(|e| e.typ).collect()
    }

    /// Data of the first extension of this type.
    pub fn ext(&self, typ: u16) -> Option<&[u8]> {
        self.extensions()
            .iter()
            .find(|e| e.typ == typ)
            .map(|e| e.data.as_slice())
    }

    /// The first host_name in server_name, if any (lossy UTF-8: a hostile name still prints).
    pub fn sni(&self) -> Option<String> {
        self.sni_bytes()
            .map(|name| String::from_utf8_lossy(name).into_owned())
    }

    /// The first host_name in server_name, as sent.
    pub fn sni_bytes(&self) -> Option<&[u8]> {
        let mut r = Reader::new(self.ext(ext::SERVER_NAME)?);
        let mut list = r.sub_u16("server_name_list").ok()?;
        while !list.is_empty() {
            let kind = list.u8("name_type").ok()?;
            let name = list.sub_u16("host_name").ok()?.rest();
            if kind == 0 {
                return Some(name);
            }
        }
        None
    }

    /// Versions in supported_versions, in offer order; `None` without the extension.
    pub fn supported_versions(&self) -> Option<Vec<u16>> {
        let mut r = Reader::new(self.ext(ext::SUPPORTED_VERSIONS)?);
        u16_list(r.sub_u8("supported_versions").ok()?)
    }

    pub fn supported_groups(&self) -> Vec<u16> {
        self.ext(ext::SUPPORTED_GROUPS)
            .and_then(|d| u16_list(Reader::new(d).sub_u16("supported_groups").ok()?))
            .unwrap_or_default()
    }

    pub fn signature_algorithms(&self) -> Vec<u16> {
        self.ext(ext::SIGNATURE_ALGORITHMS)
            .and_then(|d| u16_list(Reader::new(d).sub_u16("signature_algorithms").ok()?))
            .unwrap_or_default()
    }

    pub fn ec_point_formats(&self) -> Vec<u8> {
        self.ext(ext::EC_POINT_FORMATS)
            .and_then(|d| {
                Some(
                    Reader::new(d)
                        .sub_u8("ec_point_formats")
                        .ok()?
                        .rest()
                        .to_vec(),
                )
            })
            .unwrap_or_default()
    }

    /// ALPN protocol names in offer order, as raw bytes.
    pub fn alpn(&self) -> Vec<Vec<u8>> {
        let Some(d) = self.ext(ext::ALPN) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Ok(mut list) = Reader::new(d).sub_u16("alpn") {
            while let Ok(p) = list.sub_u8("protocol") {
                out.push(p.peek_rest().to_vec());
            }
        }
        out
    }

    /// `(group, key_exchange)` pairs of key_share, in offer order.
    pub fn key_shares(&self) -> Vec<(u16, Vec<u8>)> {
        self.key_share_entries()
            .map(|(g, k)| (g, k.to_vec()))
            .collect()
    }

    /// The groups of key_share, in offer order (what [`Self::key_shares`] lists, without
    /// copying the keys: the JSON report asks for them for every connection).
    pub fn key_share_groups(&self) -> impl Iterator<Item = u16> + '_ {
        self.key_share_entries().map(|(g, _)| g)
    }

    /// `(group, key_exchange)` entries of key_share in offer order, up to the first that
    /// does not fit.
    fn key_share_entries(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        let mut list = self
            .ext(ext::KEY_SHARE)
            .and_then(|d| Reader::new(d).sub_u16("client_shares").ok())
            .unwrap_or(Reader::new(&[]));
        std::iter::from_fn(move || {
            // The length is checked before reading: reaching the end of the list is not a
            // decode error, whose message would be formatted (and dropped) on every call.
            let head = list.peek_rest();
            let n = usize::from(u16::from_be_bytes([*head.get(2)?, *head.get(3)?]));
            if head.len() < 4 + n {
                return None;
            }
            let group = list.u16("group").ok()?;
            let key = list.sub_u16("key_exchange").ok()?;
            Some((group, key.peek_rest()))
        })
    }

    /// The highest version offered: supported_versions (GREASE ignored) or legacy_version.
    pub fn highest_version(&self) -> u16 {
        self.supported_versions()
            .and_then(|v| {
                v.into_iter()
                    .filter(|v| !super::ProtocolVersion(*v).is_grease())
                    .max()
            })
            .unwrap_or(self.legacy_version)
    }
}

/// server_name extension data with one host_name entry; an error when the name does not
/// fit its length field.
pub(crate) fn server_name_data(name: &str) -> Result<Vec<u8>, LengthOverflow> {
    let mut d = Vec::with_capacity(name.len() + 5);
    put_prefixed(
        &mut d,
        Prefix::U16,
        &|| "server_name list".into(),
        None,
        |d| {
            d.put_u8(0); // host_name
            put_prefixed(d, Prefix::U16, &|| "the server name".into(), None, |d| {
                d.put_slice(name.as_bytes());
                Ok(())
            })
        },
    )?;
    Ok(d)
}

fn u16_list(mut r: Reader<'_>) -> Option<Vec<u16>> {
    let mut v = Vec::with_capacity(r.remaining() / 2);
    while !r.is_empty() {
        v.push(r.u16("item").ok()?);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shares_stop_at_the_first_entry_that_does_not_fit() {
        let with_key_share = |data: &[u8]| hello(vec![ext(ext::KEY_SHARE, data)]);
        // x25519 with 2 key bytes, secp256r1 with 1; then a group whose key is cut short,
        // a lone byte, and nothing after the list's end counts.
        let list = [0, 0x1d, 0, 2, 7, 8, 0, 0x17, 0, 1, 9];
        for (tail, listed) in [
            (&[][..], 2),
            (&[0, 0x18, 0, 5, 1][..], 2),
            (&[0, 0x18, 0][..], 2),
            (&[0][..], 2),
            (&[0, 0x19, 0, 0][..], 3),
        ] {
            let mut entries = list.to_vec();
            entries.extend_from_slice(tail);
            let mut data = (entries.len() as u16).to_be_bytes().to_vec();
            data.extend_from_slice(&entries);
            data.extend_from_slice(&[0xaa, 0xbb]);
            let h = with_key_share(&data);
            let shares = h.key_shares();
            assert_eq!(shares.len(), listed, "{tail:?}");
            assert_eq!((shares[0].0, &shares[0].1[..]), (0x1d, &[7, 8][..]));
            assert_eq!((shares[1].0, &shares[1].1[..]), (0x17, &[9][..]));
            let groups: Vec<u16> = h.key_share_groups().collect();
            assert_eq!(groups, shares.iter().map(|(g, _)| *g).collect::<Vec<_>>());
        }
        assert!(with_key_share(&[0, 9, 0]).key_shares().is_empty());
        assert_eq!(with_key_share(&[]).key_share_groups().count(), 0);
    }

    #[test]
    fn vectors_too_long_for_their_prefix_are_errors() {
        let mut h = ClientHello {
            record_version: 0x0301,
            legacy_version: 0x0303,
            random: [0; 32],
            session_id: vec![0; 256],
            cipher_suites: vec![0x1301],
            compression_methods: vec![0],
            extensions: Some(vec![]),
        };
        let e = h.to_records(None).unwrap_err();
        assert_eq!((e.what.as_str(), e.len), ("session_id", 256));
        h.session_id.clear();
        let big = Extension {
            typ: 0xff01,
            data: vec![0; 40_000],
        };
        h.extensions = Some(vec![big.clone(), Extension { typ: 0xff02, ..big }]);
        let e = h.handshake_message().unwrap_err();
        assert_eq!((e.what.as_str(), e.len), ("extensions", 80_008));
        h.extensions = Some(vec![Extension {
            typ: 0xff01,
            data: vec![0; 70_000],
        }]);
        assert_eq!(h.encode_body().unwrap_err().what, "extension 0xff01");
    }

    #[test]
    fn overridden_lengths_are_written_verbatim() {
        let h = ClientHello {
            record_version: 0x0301,
            legacy_version: 0x0303,
            random: [0; 32],
            session_id: vec![],
            cipher_suites: vec![0x1301],
            compression_methods: vec![0],
            extensions: Some(vec![Extension {
                typ: 0x000a,
                data: vec![0, 2, 0, 0x1d],
            }]),
        };
        let lengths = LengthOverrides {
            cipher_suites: Some(7),
            extension: vec![(0x000a, 0x1234)],
            ..LengthOverrides::default()
        };
        let body = h.encode_body_with(&lengths).unwrap();
        assert_eq!(&body[35..37], &[0, 7]);
        assert_eq!(&body[43..47], &[0, 0x0a, 0x12, 0x34]);
        assert_eq!(body.len(), h.encoded_len() - 4);
        // Everything else is as with true lengths.
        let honest = h.encode_body().unwrap();
        assert_eq!(
            (&body[..35], &body[37..43]),
            (&honest[..35], &honest[37..43])
        );
    }

    #[test]
    fn records_written_in_place_equal_the_message_cut_into_records() {
        let big = hello(vec![ext(ext::PADDING, &[0; 20_000])]);
        let small = hello(vec![ext(ext::SUPPORTED_GROUPS, &[0, 2, 0, 0x1d])]);
        let forced = LengthOverrides {
            record: Some(9),
            handshake: Some(3),
            cipher_suites: Some(7),
            ..LengthOverrides::default()
        };
        for h in [&big, &small] {
            for lengths in [LengthOverrides::default(), forced.clone()] {
                for fragment in [None, Some(1), Some(100), Some(20_000)] {
                    // The message, then its records: how every hello was written before.
                    let msg = h.handshake_message_with(&lengths).unwrap();
                    let chunk = fragment.unwrap_or(16384).clamp(1, 16384);
                    let mut expected = Vec::new();
                    for part in msg.chunks(chunk) {
                        expected.push(CONTENT_HANDSHAKE);
                        expected.extend_from_slice(&h.record_version.to_be_bytes());
                        let len = lengths.record.unwrap_or(part.len() as u16);
                        expected.extend_from_slice(&len.to_be_bytes());
                        expected.extend_from_slice(part);
                    }
                    assert_eq!(h.to_records_with(fragment, &lengths).unwrap(), expected);
                }
            }
        }
    }

    fn hello(exts: Vec<Extension>) -> ClientHello {
        ClientHello {
            record_version: 0x0301,
            legacy_version: 0x0303,
            random: [7; 32],
            session_id: vec![1; 32],
            cipher_suites: vec![0x1301, 0xc02f],
            compression_methods: vec![0],
            extensions: Some(exts),
        }
    }

    fn ext(typ: u16, data: &[u8]) -> Extension {
        Extension {
            typ,
            data: data.to_vec(),
        }
    }

    #[test]
    fn set_sni_replaces_in_place_and_keeps_padded_length() {
        let mut h = hello(vec![
            ext(0x0a0a, &[]),
            ext(ext::SERVER_NAME, &server_name_data("old.example").unwrap()),
            ext(ext::SUPPORTED_GROUPS, &[0, 2, 0, 0x1d]),
            ext(ext::PADDING, &[0; 100]),
        ]);
        let len = h.handshake_message().unwrap().len();
        h.set_sni(Some("a-much-longer-name.example.org")).unwrap();
        assert_eq!(h.sni().as_deref(), Some("a-much-longer-name.example.org"));
        assert_eq!(h.extension_types(), [0x0a0a, 0, 10, 21]);
        assert_eq!(h.handshake_message().unwrap().len(), len);
        h.set_sni(None).unwrap();
        assert_eq!(h.extension_types(), [0x0a0a, 10, 21]);
        assert_eq!(h.handshake_message().unwrap().len(), len);
        h.set_sni(Some("x.test")).unwrap();
        assert_eq!(h.extension_types(), [0x0a0a, 0, 10, 21]);
        assert_eq!(h.handshake_message().unwrap().len(), len);
        // Round trip through the decoder.
        let back = ClientHello::decode_message(&h.handshake_message().unwrap(), 0x0301).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn set_sni_with_too_little_padding_empties_it() {
        let mut h = hello(vec![
            ext(ext::SERVER_NAME, &server_name_data("a").unwrap()),
            ext(ext::PADDING, &[0; 3]),
        ]);
        let len = h.handshake_message().unwrap().len();
        h.set_sni(Some("abcdefghij")).unwrap();
        assert_eq!(h.ext(ext::PADDING), Some(&[][..]));
        assert_eq!(h.handshake_message().unwrap().len(), len + 9 - 3);
    }

    #[test]
    fn set_sni_without_padding_or_extensions() {
        let mut h = hello(vec![ext(ext::SUPPORTED_GROUPS, &[0, 2, 0, 0x1d])]);
        h.set_sni(Some("example.com")).unwrap();
        assert_eq!(h.extension_types(), [0, 10]);
        let mut bare = hello(vec![]);
        bare.extensions = None;
        bare.set_sni(None).unwrap();
        assert_eq!(bare.extensions, None);
        bare.set_sni(Some("example.com")).unwrap();
        assert_eq!(bare.sni().as_deref(), Some("example.com"));
    }
}
