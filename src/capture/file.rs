//! Reading pcap (micro- and nanosecond, either byte order) and pcapng (several sections,
//! interfaces of different link types) from any `Read`, gzip'd or not, streaming: memory is
//! bounded by the read buffer (grown up to a cap for large blocks), never the file size.
//!
//! A truncated or corrupt file stops reading with an error naming the byte offset and the
//! packet number; everything before it has already gone to the sink.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use super::{
    CaptureError, CaptureErrorKind, CaptureStats, EndKind, FlowSink, Micros, PacketReader,
    ReadOptions,
};

const INITIAL_BUFFER: usize = 1 << 20;

/// Reads a whole capture and feeds every TCP flow in it to `sink`. At the end every started
/// flow is ended: open directions with `Timeout` (or `Gap` where bytes are missing), or all
/// with `Gap` when reading failed.
pub fn read_capture<R: Read>(
    input: R,
    opts: &ReadOptions,
    sink: &mut dyn FlowSink,
) -> Result<CaptureStats, CaptureError> {
    let mut run = Run {
        packets: PacketReader::new(opts.clone()),
        opts,
    };
    let result = run.read(input, sink);
    let open_kind = if result.is_ok() {
        EndKind::Timeout
    } else {
        EndKind::Gap
    };
    let stats = run.packets.finish(open_kind, sink);
    match result {
        Ok(()) => Ok(stats),
        Err(kind) => Err(CaptureError {
            kind,
            stats: Box::new(stats),
        }),
    }
}

/// A reader that fills the buffer it is given as far as it can (pipes and decompressors
/// return short reads), and keeps the real I/O error, which pcap-parser would flatten.
struct FullReader<R> {
    inner: R,
    error: Rc<RefCell<Option<io::Error>>>,
    /// An error that came after some bytes: those go out first, the error on the next read
    /// (a decompressor need not repeat its input's error).
    pending: Option<io::Error>,
}

impl<R: Read> Read for FullReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            return Err(self.keep(e));
        }
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if filled > 0 => {
                    self.pending = Some(e);
                    break;
                }
                Err(e) => return Err(self.keep(e)),
            }
        }
        Ok(filled)
    }
}

impl<R> FullReader<R> {
    /// Keeps the error for the report; pcap-parser gets a copy.
    fn keep(&mut self, e: io::Error) -> io::Error {
        let copy = io::Error::new(e.kind(), e.to_string());
        *self.error.borrow_mut() = Some(e);
        copy
    }
}

/// Reads up to `buf.len()` bytes; fewer only at end of input.
fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn io_err(offset: u64, source: io::Error) -> CaptureErrorKind {
    CaptureErrorKind::Io { offset, source }
}

/// Per pcapng interface: link type and timestamp scale.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    units_per_second: u64,
    offset_seconds: i64,
}

struct Run<'o> {
    packets: PacketReader,
    opts: &'o ReadOptions,
}

impl Run<'_> {
    fn read<R: Read>(&mut self, input: R, sink: &mut dyn FlowSink) -> Result<(), CaptureErrorKind> {
        let mut input = input;
        let mut magic = [0u8; 4];
        let n = read_up_to(&mut input, &mut magic).map_err(|e| io_err(0, e))?;
        let head = io::Cursor::new(magic[..n].to_vec()).chain(input);
        if !magic[..n].starts_with(&[0x1f, 0x8b]) {
            return self.parse(head, sink);
        }
        // Read in large pieces only: after a small read (the 4 bytes of magic) flate2 drops
        // what it has inflated when its input then fails, and the report would lose it.
        let plain = io::BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(head));
        self.parse(plain, sink)
    }

    /// Parses the uncompressed capture, after reading which format it is.
    fn parse(
        &mut self,
        mut plain: impl Read,
        sink: &mut dyn FlowSink,
    ) -> Result<(), CaptureErrorKind> {
        let mut magic = [0u8; 4];
        let n = read_up_to(&mut plain, &mut magic).map_err(|e| io_err(0, e))?;
        let magic = &magic[..n];
        let error = Rc::new(RefCell::new(None));
        // Outermost, so every read hands pcap-parser a full buffer and I/O errors are kept.
        let head = FullReader {
            inner: io::Cursor::new(magic.to_vec()).chain(plain),
            error: error.clone(),
            pending: None,
        };
        let buffer = INITIAL_BUFFER.min(self.opts.max_block_size.max(65536));
        let start_err = |e: PcapError<&[u8]>| match e {
            PcapError::ReadError => match error.borrow_mut().take() {
                Some(e) => io_err(0, e),
                None => CaptureErrorKind::Truncated {
                    offset: 0,
                    packet: 0,
                },
            },
            PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
                CaptureErrorKind::Truncated {
                    offset: 0,
                    packet: 0,
                }
            }
            other => CaptureErrorKind::Corrupt {
                offset: 0,
                packet: 0,
                detail: format!("{other:?}"),
            },
        };
        match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                let reader = PcapNGReader::new(buffer, head).map_err(start_err)?;
                self.blocks(reader, &error, sink)
            }
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1] => {
                let reader = LegacyPcapReader::new(buffer, head).map_err(start_err)?;
                self.blocks(reader, &error, sink)
            }
            [] => Err(CaptureErrorKind::Empty),
            _ if magic.len() < 4 => Err(CaptureErrorKind::Truncated {
                offset: 0,
                packet: 0,
            }),
            _ => Err(CaptureErrorKind::NotACapture(hex::encode(magic))),
        }
    }

    /// The block loop shared by both formats.
    fn blocks(
        &mut self,
        mut reader: impl PcapReaderIterator,
        io_error: &Rc<RefCell<Option<io::Error>>>,
        sink: &mut dyn FlowSink,
    ) -> Result<(), CaptureErrorKind> {
        // pcap: one link type and timestamp scale (nanoseconds or not) for the file; pcapng:
        // per interface.
        let mut legacy: Option<(u32, bool)> = None;
        let mut interfaces: Vec<Interface> = Vec::new();
        let mut last_ts: Micros = 0;
        loop {
            let offset = reader.consumed() as u64;
            let packet = self.packets.stats().packets + 1;
            let start = reader.data().as_ptr();
            match reader.next() {
                Ok((len, block)) => {
                    prefetch_headers(start.wrapping_add(len));
                    match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            legacy = Some((h.network.0 as u32, h.is_nanosecond_precision()));
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let (linktype, nanos) = legacy.unwrap_or((1, false));
                            let fraction = u64::from(b.ts_usec);
                            let micros = if nanos { fraction / 1_000 } else { fraction };
                            let at = u64::from(b.ts_sec) * 1_000_000 + micros;
                            last_ts = at;
                            self.packets.packet(linktype, b.data, at, sink);
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            interfaces.push(Interface {
                                linktype: idb.linktype.0 as u32,
                                units_per_second: idb.ts_resolution().unwrap_or(1_000_000),
                                offset_seconds: idb.ts_offset(),
                            });
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            match interfaces.get(epb.if_id as usize) {
                                Some(iface) => {
                                    let raw =
                                        (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                    let at = to_micros(raw, iface);
                                    last_ts = at;
                                    self.packets.packet(
                                        iface.linktype,
                                        epb.packet_data(),
                                        at,
                                        sink,
                                    );
                                }
                                None => self.packets.malformed(),
                            }
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => match interfaces.first() {
                            // No timestamp in a simple packet block: reuse the last one.
                            Some(iface) => {
                                let linktype = iface.linktype;
                                self.packets
                                    .packet(linktype, spb.packet_data(), last_ts, sink)
                            }
                            None => self.packets.malformed(),
                        },
                        PcapBlockOwned::NG(Block::DecryptionSecrets(dsb)) => {
                            // The data is padded to 32 bits; the length says what is secret.
                            let len = (dsb.secrets_len as usize).min(dsb.data.len());
                            sink.secrets(dsb.secrets_type.0, &dsb.data[..len]);
                        }
                        PcapBlockOwned::NG(_) => {}
                    }
                    // Not `consume`: it moves the unread half of the buffer to the front
                    // whenever the read position passes the middle, which copies the whole
                    // capture once more. `refill` moves only the unread tail, when needed.
                    reader.consume_noshift(len);
                }
                Err(PcapError::Eof) => return Ok(()),
                Err(PcapError::UnexpectedEof) => {
                    return Err(CaptureErrorKind::Truncated { offset, packet });
                }
                Err(PcapError::Incomplete(_)) | Err(PcapError::BufferTooSmall) => {
                    let before = reader.data().len();
                    let exhausted_before = reader.reader_exhausted();
                    if exhausted_before {
                        return Err(CaptureErrorKind::Truncated { offset, packet });
                    }
                    reader
                        .refill()
                        .map_err(|_| match io_error.borrow_mut().take() {
                            Some(e) => CaptureErrorKind::Io { offset, source: e },
                            None => CaptureErrorKind::Truncated { offset, packet },
                        })?;
                    if reader.data().len() == before && !reader.reader_exhausted() {
                        // The buffer is full and still holds less than one block: grow it.
                        let grown = (before.max(1) * 2).min(self.opts.max_block_size);
                        if grown <= before || !reader.grow(grown) {
                            return Err(CaptureErrorKind::BlockTooLarge {
                                offset,
                                packet,
                                limit: self.opts.max_block_size,
                            });
                        }
                        reader
                            .refill()
                            .map_err(|_| match io_error.borrow_mut().take() {
                                Some(e) => CaptureErrorKind::Io { offset, source: e },
                                None => CaptureErrorKind::Truncated { offset, packet },
                            })?;
                    }
                }
                Err(PcapError::ReadError) => {
                    return Err(match io_error.borrow_mut().take() {
                        Some(e) => CaptureErrorKind::Io { offset, source: e },
                        None => CaptureErrorKind::Truncated { offset, packet },
                    });
                }
                Err(e) => {
                    return Err(CaptureErrorKind::Corrupt {
                        offset,
                        packet,
                        detail: describe(&e),
                    });
                }
            }
        }
    }
}

fn to_micros(raw: u64, iface: &Interface) -> Micros {
    let units = u128::from(iface.units_per_second.max(1));
    let micros = u128::from(raw) * 1_000_000 / units;
    let offset = i128::from(iface.offset_seconds) * 1_000_000;
    (micros as i128 + offset).clamp(0, i128::from(u64::MAX)) as u64
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::HeaderNotRecognized => "block header not recognized".into(),
        PcapError::NomError(_, kind) => format!("unparseable block ({kind:?})"),
        PcapError::OwnedNomError(_, kind) => format!("unparseable block ({kind:?})"),
        other => format!("{other:?}"),
    }
}

/// Asks the CPU to bring in the first bytes at `p` (the next block: its header and the
/// packet's Ethernet, IP and TCP headers fit in 128 bytes) while this block is processed:
/// otherwise the next block's first read is a wait for memory, on every packet.
#[inline]
fn prefetch_headers(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    for ahead in [0, 48, 96, 127] {
        // SAFETY: a prefetch is only a hint; it does not fault, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                p.wrapping_add(ahead).cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
