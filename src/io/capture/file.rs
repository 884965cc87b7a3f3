//! Reading pcap (micro- and nanosecond, either byte order) and pcapng (several sections,
//! interfaces of different link types) by two drivers that share the per-block handling:
//! streaming from any `Read`, gzip'd or not, with memory bounded by the read buffer (grown
//! up to a cap for large blocks); and in place from bytes in memory, a mapped file
//! ([`super::mapped`]) being the fast case. Both give the sink the same calls and end with
//! the same result and error on the same bytes (tested on every repository capture, cuts
//! and flips of them, and synthetic files).
//!
//! A truncated or corrupt file stops reading with an error naming the byte offset and the
//! packet number; everything before it has already gone to the sink.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

use pcap_parser::nom::{self, IResult};
use pcap_parser::pcapng::Block;
use pcap_parser::pcapng::{parse_block_be, parse_block_le, parse_sectionheaderblock};
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader, parse_pcap_header};

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
    with_run(opts, sink, |run, sink| run.read(input, sink))
}

/// [`read_capture`] over a capture in memory (pcap or pcapng, not gzip'd): the blocks are
/// parsed in place. Same calls to the sink, same result and same errors as streaming the
/// same bytes.
pub fn read_capture_slice(
    data: &[u8],
    opts: &ReadOptions,
    sink: &mut dyn FlowSink,
) -> Result<CaptureStats, CaptureError> {
    with_run(opts, sink, |run, sink| run.read_memory(&data, sink))
}

/// [`read_capture`] of an opened file. With `map` (Linux), a regular file that is not
/// gzip'd is memory-mapped and parsed in place ([`super::mapped`]); anything else, or a
/// file that cannot be mapped, is streamed. The results are the same either way.
pub fn read_capture_file(
    file: std::fs::File,
    map: bool,
    opts: &ReadOptions,
    sink: &mut dyn FlowSink,
) -> Result<CaptureStats, CaptureError> {
    #[cfg(target_os = "linux")]
    if map
        && let Some(mapped) = super::mapped::MappedFile::open(&file)
        && !mapped.bytes().starts_with(&[0x1f, 0x8b])
    {
        return with_run(opts, sink, |run, sink| run.read_memory(&mapped, sink));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = map;
    #[cfg(target_os = "linux")]
    grow_pipe(&file);
    read_capture(file, opts, sink)
}

/// The standard input as a file of its own (a duplicate of descriptor 0), so that
/// [`read_capture_file`] maps it when it is a regular file (`pcap - < FILE`) and streams it
/// otherwise; `None` where descriptors cannot be duplicated (the caller reads `stdin()`).
pub fn stdin_file() -> Option<std::fs::File> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(std::fs::File::from)
    }
    #[cfg(not(unix))]
    None
}

/// Pipe buffer asked for when the capture comes through a pipe: with Linux's default 64 KiB
/// the writer (`cat`, `tcpdump -w -`, `zcat`) blocks after every 64 KiB until the parser
/// has read them, so the two take turns instead of running side by side on two cores.
/// 1 MiB is the default `/proc/sys/fs/pipe-max-size`, the most an unprivileged process
/// may set.
#[cfg(target_os = "linux")]
const PIPE_BUFFER: libc::c_int = 1 << 20;

/// Enlarges the pipe `file` reads from (nothing for other files). A refusal (a lower
/// `pipe-max-size`, the user's pipe quota) only leaves the pipe as it was.
#[cfg(target_os = "linux")]
fn grow_pipe(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileTypeExt;
    if file.metadata().is_ok_and(|m| m.file_type().is_fifo()) {
        // SAFETY: F_SETPIPE_SZ takes an integer and touches no memory of ours; the
        // descriptor is open for the duration of the call (borrowed from `file`).
        let _ = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BUFFER) };
    }
}

/// Bytes the in-memory driver parses in place.
pub(super) trait Memory {
    fn bytes(&self) -> &[u8];
    /// The driver is done with the bytes before `offset`.
    fn release_before(&self, _offset: usize) {}
    /// True if `block` (parsed, not yet handed on) cannot be trusted to hold the file's
    /// bytes: the file shrank under a map. `read`: read the block's last byte to find out
    /// (else the caller has read a byte at or after the block's end since it was parsed).
    fn lost(&self, _block: &[u8], _read: bool) -> bool {
        false
    }
}

impl Memory for &[u8] {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// Runs one reading driver, then ends every flow still open.
fn with_run(
    opts: &ReadOptions,
    sink: &mut dyn FlowSink,
    read: impl FnOnce(&mut Run<'_>, &mut dyn FlowSink) -> Result<(), CaptureErrorKind>,
) -> Result<CaptureStats, CaptureError> {
    let mut run = Run {
        packets: PacketReader::new(opts.clone()),
        opts,
        legacy: None,
        interfaces: Vec::new(),
        last_ts: 0,
    };
    let result = read(&mut run, sink);
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

const TRUNCATED_AT_START: CaptureErrorKind = CaptureErrorKind::Truncated {
    offset: 0,
    packet: 0,
};

fn corrupt_at_start(e: &PcapError<&[u8]>) -> CaptureErrorKind {
    CaptureErrorKind::Corrupt {
        offset: 0,
        packet: 0,
        detail: describe(e),
        library: library_text(e),
    }
}

/// The in-memory driver's file header error, as the streaming reader reports it.
fn start_error(e: nom::Err<PcapError<&[u8]>>) -> CaptureErrorKind {
    match e {
        nom::Err::Incomplete(_) => TRUNCATED_AT_START,
        nom::Err::Error(e) | nom::Err::Failure(e) => corrupt_at_start(&e),
    }
}

enum Format {
    Pcap,
    PcapNg,
}

impl Format {
    /// The format named by the first four bytes of an uncompressed capture.
    fn of(magic: &[u8]) -> Result<Format, CaptureErrorKind> {
        match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => Ok(Format::PcapNg),
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1] => Ok(Format::Pcap),
            [] => Err(CaptureErrorKind::Empty),
            _ if magic.len() < 4 => Err(TRUNCATED_AT_START),
            _ => Err(CaptureErrorKind::NotACapture(hex::encode(magic))),
        }
    }
}

/// A pcap record found in memory: where it starts and ends, and its timestamp.
struct Record {
    at: usize,
    end: usize,
    seconds: u32,
    /// Microseconds, or nanoseconds in a nanosecond capture.
    fraction: u32,
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
    /// pcap: one link type and timestamp scale (nanoseconds or not) for the file.
    legacy: Option<(u32, bool)>,
    /// pcapng: per interface of the current section.
    interfaces: Vec<Interface>,
    /// For simple packet blocks, which have no timestamp.
    last_ts: Micros,
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
        let buffer = self.first_buffer();
        let start_err = |e: PcapError<&[u8]>| match e {
            PcapError::ReadError => match error.borrow_mut().take() {
                Some(e) => io_err(0, e),
                None => TRUNCATED_AT_START,
            },
            PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
                TRUNCATED_AT_START
            }
            other => corrupt_at_start(&other),
        };
        match Format::of(magic)? {
            Format::PcapNg => {
                let reader = PcapNGReader::new(buffer, head).map_err(start_err)?;
                self.blocks(reader, &error, sink)
            }
            Format::Pcap => {
                let reader = LegacyPcapReader::new(buffer, head).map_err(start_err)?;
                self.blocks(reader, &error, sink)
            }
        }
    }

    /// The streaming reader's first buffer (it grows from there up to the block size cap).
    fn first_buffer(&self) -> usize {
        INITIAL_BUFFER.min(self.opts.max_block_size.max(65536))
    }

    /// The block loop shared by both formats.
    fn blocks(
        &mut self,
        mut reader: impl PcapReaderIterator,
        io_error: &Rc<RefCell<Option<io::Error>>>,
        sink: &mut dyn FlowSink,
    ) -> Result<(), CaptureErrorKind> {
        loop {
            let offset = reader.consumed() as u64;
            let packet = self.packets.stats().packets + 1;
            let start = reader.data().as_ptr();
            // A read that failed: the file's I/O error when there was one, else the file
            // ended inside this block.
            let read_failed = || match io_error.borrow_mut().take() {
                Some(e) => CaptureErrorKind::Io { offset, source: e },
                None => CaptureErrorKind::Truncated { offset, packet },
            };
            match reader.next() {
                Ok((len, block)) => {
                    prefetch_headers(start.wrapping_add(len));
                    self.block(block, sink);
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
                    reader.refill().map_err(|_| read_failed())?;
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
                        reader.refill().map_err(|_| read_failed())?;
                    }
                }
                Err(PcapError::ReadError) => return Err(read_failed()),
                Err(e) => {
                    return Err(CaptureErrorKind::Corrupt {
                        offset,
                        packet,
                        detail: describe(&e),
                        library: library_text(&e),
                    });
                }
            }
        }
    }

    /// The in-memory driver. It sees what the streaming reader would have in its buffer: the
    /// file header is checked within the first buffer, and no block is looked at past the
    /// largest buffer, so a block too large for the streaming reader is too large here too.
    fn read_memory(
        &mut self,
        memory: &impl Memory,
        sink: &mut dyn FlowSink,
    ) -> Result<(), CaptureErrorKind> {
        let data = memory.bytes();
        let first = &data[..data.len().min(self.first_buffer())];
        match Format::of(&data[..data.len().min(4)])? {
            Format::PcapNg => {
                parse_sectionheaderblock(first).map_err(start_error)?;
                let mut big_endian = false;
                self.memory_blocks(memory, 0, sink, |rest| {
                    let parsed = if big_endian {
                        parse_block_be(rest)
                    } else {
                        parse_block_le(rest)
                    };
                    if let Ok((_, Block::SectionHeader(shb))) = &parsed {
                        big_endian = shb.big_endian();
                    }
                    parsed.map(|(rem, b)| (rem, PcapBlockOwned::from(b)))
                })
            }
            Format::Pcap => {
                let (_, header) = parse_pcap_header(first).map_err(start_error)?;
                let start = header.size();
                let (modified, big_endian) = (header.is_modified_format(), header.is_bigendian());
                self.block(PcapBlockOwned::from(header), sink);
                // One loop per record layout, each with its record header read inline: this
                // is per packet.
                match (modified, big_endian) {
                    (true, _) => self.memory_records::<false, 24>(memory, start, sink),
                    (false, true) => self.memory_records::<true, 16>(memory, start, sink),
                    (false, false) => self.memory_records::<false, 16>(memory, start, sink),
                }
            }
        }
    }

    /// The in-memory block loop of both formats.
    fn memory_blocks<'d>(
        &mut self,
        memory: &'d impl Memory,
        start: usize,
        sink: &mut dyn FlowSink,
        mut parse: impl FnMut(&'d [u8]) -> IResult<&'d [u8], PcapBlockOwned<'d>, PcapError<&'d [u8]>>,
    ) -> Result<(), CaptureErrorKind> {
        let data = memory.bytes();
        let window = self.opts.max_block_size.max(self.first_buffer());
        let mut at = start;
        let mut release_at = RELEASE_EVERY;
        let mut guesser = Guesser::new();
        // A block is handed on once the next one's header was read: that read is of the page
        // holding the block's last byte (or the one after it), so a file that shrank under
        // a map has faulted by then and `lost` needs to read nothing itself (its own read
        // was a wait for memory on every block: a tenth of the time on small packets).
        let mut pending: Option<(PcapBlockOwned<'d>, usize)> = None;
        while at < data.len() {
            if at >= release_at && (at >= release_at + RELEASE_LATE || !sink.busy()) {
                memory.release_before(at);
                release_at = at + RELEASE_EVERY;
            }
            let rest = &data[at..data.len().min(at.saturating_add(window))];
            let parsed = parse(rest);
            if let Ok((rem, _)) = &parsed {
                // The next header, asked for now: it is read after the pending block's work.
                let len = rest.len() - rem.len();
                guesser.step(data, at + len, len);
            }
            if let Some((block, block_at)) = pending.take() {
                // A refused parse need not have read anything.
                let read = parsed.is_err();
                self.hand_on(memory, block, &data[block_at..at], block_at, read, sink)?;
            }
            let offset = at as u64;
            let packet = self.packets.stats().packets + 1;
            match parsed {
                Ok((rem, block)) => {
                    let len = rest.len() - rem.len();
                    pending = Some((block, at));
                    at += len;
                }
                Err(e) => {
                    // The bytes of a refused block were read: a map that lost them says so.
                    if memory.lost(&rest[..rest.len().min(16)], true) {
                        return Err(CaptureErrorKind::Shrank { offset, packet });
                    }
                    return Err(match e {
                        nom::Err::Incomplete(_) if rest.len() >= window => {
                            CaptureErrorKind::BlockTooLarge {
                                offset,
                                packet,
                                limit: self.opts.max_block_size,
                            }
                        }
                        nom::Err::Incomplete(_) => CaptureErrorKind::Truncated { offset, packet },
                        nom::Err::Error(e) | nom::Err::Failure(e) => CaptureErrorKind::Corrupt {
                            offset,
                            packet,
                            detail: describe(&e),
                            library: library_text(&e),
                        },
                    });
                }
            }
        }
        if let Some((block, block_at)) = pending {
            self.hand_on(memory, block, &data[block_at..at], block_at, true, sink)?;
        }
        Ok(())
    }

    /// The in-memory loop of pcap files (`HEADER`: the record header's size, 16, or 24 in
    /// the modified format). A record's header is read here as pcap-parser's record parsers
    /// read it (timestamp, captured length; the same `Incomplete` cases), and the packet is
    /// handed on without the general block type, a large enum that was built, held and
    /// matched for every packet. Otherwise as [`Self::memory_blocks`]: a record is handed on
    /// once the next header was read, errors and limits the same.
    fn memory_records<const BIG_ENDIAN: bool, const HEADER: usize>(
        &mut self,
        memory: &impl Memory,
        start: usize,
        sink: &mut dyn FlowSink,
    ) -> Result<(), CaptureErrorKind> {
        let data = memory.bytes();
        let window = self.opts.max_block_size.max(self.first_buffer());
        let (linktype, nanos) = self.legacy.unwrap_or((1, false));
        let word = |b: &[u8], at: usize| {
            let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            if BIG_ENDIAN {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        let mut at = start;
        let mut release_at = RELEASE_EVERY;
        let mut guesser = Guesser::new();
        let mut pending: Option<Record> = None;
        while at < data.len() {
            if at >= release_at && (at >= release_at + RELEASE_LATE || !sink.busy()) {
                memory.release_before(at);
                release_at = at + RELEASE_EVERY;
            }
            let rest = &data[at..data.len().min(at.saturating_add(window))];
            let parsed = if rest.len() >= HEADER {
                let caplen = word(rest, 8) as usize;
                (rest.len() - HEADER >= caplen).then(|| Record {
                    at,
                    end: at + HEADER + caplen,
                    seconds: word(rest, 0),
                    fraction: word(rest, 4),
                })
            } else {
                None
            };
            if let Some(r) = &parsed {
                // The next header, asked for now: it is read after the pending record's work.
                guesser.step(data, r.end, r.end - at);
            }
            if let Some(p) = pending.take() {
                // A refused record need not have read anything.
                if memory.lost(&data[p.at..at], parsed.is_none()) {
                    return Err(self.shrank(p.at));
                }
                self.record(&p, HEADER, data, linktype, nanos, sink);
            }
            match parsed {
                Some(r) => {
                    at = r.end;
                    pending = Some(r);
                }
                None => {
                    let offset = at as u64;
                    let packet = self.packets.stats().packets + 1;
                    // The bytes of a refused record were read: a map that lost them says so.
                    if memory.lost(&rest[..rest.len().min(16)], true) {
                        return Err(CaptureErrorKind::Shrank { offset, packet });
                    }
                    return Err(if rest.len() >= window {
                        CaptureErrorKind::BlockTooLarge {
                            offset,
                            packet,
                            limit: self.opts.max_block_size,
                        }
                    } else {
                        CaptureErrorKind::Truncated { offset, packet }
                    });
                }
            }
        }
        if let Some(p) = pending {
            if memory.lost(&data[p.at..at], true) {
                return Err(self.shrank(p.at));
            }
            self.record(&p, HEADER, data, linktype, nanos, sink);
        }
        Ok(())
    }

    /// One pcap record's packet to the packet reader (as [`Self::block`] hands on a
    /// `Legacy` block).
    #[inline(always)]
    fn record(
        &mut self,
        r: &Record,
        header: usize,
        data: &[u8],
        linktype: u32,
        nanos: bool,
        sink: &mut dyn FlowSink,
    ) {
        let fraction = u64::from(r.fraction);
        let micros = if nanos { fraction / 1_000 } else { fraction };
        let at = u64::from(r.seconds) * 1_000_000 + micros;
        self.last_ts = at;
        self.packets
            .packet(linktype, &data[r.at + header..r.end], at, sink);
    }

    fn shrank(&self, block_at: usize) -> CaptureErrorKind {
        CaptureErrorKind::Shrank {
            offset: block_at as u64,
            packet: self.packets.stats().packets + 1,
        }
    }

    /// Hands a parsed block of a map on, unless the map lost its bytes (`read`: read its
    /// last byte first; else the caller has read past it).
    #[inline(always)]
    fn hand_on<'d>(
        &mut self,
        memory: &'d impl Memory,
        block: PcapBlockOwned<'d>,
        bytes: &[u8],
        block_at: usize,
        read: bool,
        sink: &mut dyn FlowSink,
    ) -> Result<(), CaptureErrorKind> {
        if memory.lost(bytes, read) {
            return Err(CaptureErrorKind::Shrank {
                offset: block_at as u64,
                packet: self.packets.stats().packets + 1,
            });
        }
        self.block(block, sink);
        Ok(())
    }

    /// One block of either format, from either driver (inlined into both: it is per packet).
    #[inline(always)]
    fn block(&mut self, block: PcapBlockOwned<'_>, sink: &mut dyn FlowSink) {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.legacy = Some((h.network.0 as u32, h.is_nanosecond_precision()));
            }
            PcapBlockOwned::Legacy(b) => {
                let (linktype, nanos) = self.legacy.unwrap_or((1, false));
                let fraction = u64::from(b.ts_usec);
                let micros = if nanos { fraction / 1_000 } else { fraction };
                let at = u64::from(b.ts_sec) * 1_000_000 + micros;
                self.last_ts = at;
                self.packets.packet(linktype, b.data, at, sink);
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => self.interfaces.clear(),
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push(Interface {
                    linktype: idb.linktype.0 as u32,
                    units_per_second: idb.ts_resolution().unwrap_or(1_000_000),
                    offset_seconds: idb.ts_offset(),
                });
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                match self.interfaces.get(epb.if_id as usize) {
                    Some(iface) => {
                        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let at = to_micros(raw, iface);
                        self.last_ts = at;
                        self.packets
                            .packet(iface.linktype, epb.packet_data(), at, sink);
                    }
                    None => self.packets.malformed(),
                }
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => match self.interfaces.first() {
                // No timestamp in a simple packet block: reuse the last one.
                Some(iface) => {
                    let linktype = iface.linktype;
                    self.packets
                        .packet(linktype, spb.packet_data(), self.last_ts, sink)
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
    }
}

fn to_micros(raw: u64, iface: &Interface) -> Micros {
    let units = u128::from(iface.units_per_second.max(1));
    let micros = u128::from(raw) * 1_000_000 / units;
    let offset = i128::from(iface.offset_seconds) * 1_000_000;
    (micros as i128 + offset).clamp(0, i128::from(u64::MAX)) as u64
}

/// A block the reader refused, in our words; the library's own text is kept apart
/// ([`CaptureErrorKind::Corrupt`]'s `library`) for JSON.
fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::HeaderNotRecognized => "block header not recognized".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => match kind {
            // pcap-parser's checks: a block length below the header size or not matching
            // the trailing copy, an unexpected block type, a length that overflows.
            nom::error::ErrorKind::Verify => {
                "a block's length fields or type do not check out (corrupt block)".into()
            }
            nom::error::ErrorKind::Tag => "a block of a type not allowed here".into(),
            nom::error::ErrorKind::Eof => "a block ends before its length says".into(),
            _ => "a block that cannot be read (corrupt data)".into(),
        },
        PcapError::Eof | PcapError::UnexpectedEof | PcapError::Incomplete(_) => {
            "a block ends before its length says".into()
        }
        PcapError::BufferTooSmall | PcapError::ReadError => "a block that cannot be read".into(),
    }
}

/// The library's own text for a refused block (JSON only).
fn library_text(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("pcap-parser: {kind:?}")
        }
        other => format!("pcap-parser: {other:?}"),
    }
}

/// How many records ahead the in-memory parser guesses where headers lie.
const GUESS_AHEAD: usize = 6;
/// How often the in-memory driver gives back the bytes it is done with.
const RELEASE_EVERY: usize = 8 << 20;
/// How far past [`RELEASE_EVERY`] a release may be put off while the sink is
/// [`FlowSink::busy`]: the mapped pages held stay bounded (≤ 18 MiB) if it always is.
/// 16 or 32 MiB put off no more IPIs on the bulk-heavy bench capture (10 and 9 TLB
/// shootdowns a run against 10) and held more (peak RSS up to 34 MB against 27 MB;
/// docs/benchmarks.md#pcap-release).
const RELEASE_LATE: usize = 8 << 20;
/// Slots of [`Guesser`]'s ring of guesses: a power of two (a cheap modulo) of at least
/// [`GUESS_AHEAD`].
const RING: usize = 8;
/// Entries of [`Guesser`]'s table of lengths (a power of two).
const LENGTH_SLOTS: usize = 1024;
/// Runs of one length longer than this count as this long in [`Guesser`]'s table.
const RUN_CAP: u32 = 15;

/// Asks the CPU to bring the 64-byte line at `p` into the cache.
#[inline(always)]
fn prefetch_line(p: *const u8) {
    // SAFETY: a prefetch is only a hint; it does not fault, whatever the address.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A guessed record start, with the length of the record before it and how many records
/// of that length came in a row up to it: what the length of the record starting there is
/// guessed from.
#[derive(Clone, Copy, Default)]
struct Guess {
    at: usize,
    len: usize,
    run: u32,
}

/// Guesses where the headers of the next [`GUESS_AHEAD`] records lie, and asks for their
/// lines, so that the in-memory parser does not wait for memory on every record: where the
/// next record starts depends on this one's length, so without help each record is a wait
/// for memory. Captures repeat patterns of lengths (a bulk transfer is full-sized segments,
/// a shorter one where each TLS record ends, the peer's ACKs between them), so the length
/// of the next record is guessed from the last one and how many of that length came in a
/// row: what followed that pair last time (a small table, learned as the records go by;
/// the same length again for a pair not seen). Guessing only "the same length again", as
/// before, missed the records after every change of length: in a simulation over the
/// generated 1 GB bench capture, 16 % of the headers had not been asked for at least two
/// records ahead, against 4 % with the table (docs/benchmarks.md, #pcap-text).
/// The guesses are kept and extended by one record as each one proves right, so a record
/// costs one new guess, not six; a wrong one starts them over from where the next record
/// really is. Only the lines likely to be read are fetched: asking for every line of the
/// file instead moves the whole capture through the cache and made the run bound by memory
/// bandwidth (13 % slower on the 1 GB bench capture with the other core busy). A wrong
/// guess costs a wasted prefetch, never a wrong parse.
struct Guesser {
    /// The length that followed a (length, run) pair last time, by [`Guesser::slot`].
    next_len: [u32; LENGTH_SLOTS],
    /// The last record's length and run.
    len: usize,
    run: u32,
    /// The guesses after the next record, oldest first: `ahead[first..first + count]`
    /// (modulo [`RING`]), at most [`GUESS_AHEAD`] of them.
    ahead: [Guess; RING],
    first: usize,
    count: usize,
}

impl Guesser {
    fn new() -> Self {
        Guesser {
            next_len: [0; LENGTH_SLOTS],
            len: 0,
            run: 0,
            ahead: [Guess::default(); RING],
            first: 0,
            count: 0,
        }
    }

    #[inline(always)]
    fn slot(len: usize, run: u32) -> usize {
        let key = (len as u32).wrapping_mul(RUN_CAP + 1) + run.min(RUN_CAP);
        (key.wrapping_mul(0x9e37_79b1) >> (32 - LENGTH_SLOTS.trailing_zeros())) as usize
    }

    /// The record of `len` bytes was read; the next one starts at `next`. Asks for the
    /// next record's first two lines, and for the guessed records' header lines.
    #[inline(always)]
    fn step(&mut self, data: &[u8], next: usize, len: usize) {
        let base = data.as_ptr();
        prefetch_line(base.wrapping_add(next));
        prefetch_line(base.wrapping_add(next + 64));
        let slot = Self::slot(self.len, self.run);
        self.next_len[slot] = len as u32;
        self.run = if len == self.len { self.run + 1 } else { 1 };
        self.len = len;
        if self.count > 0 && self.ahead[self.first].at == next {
            // The oldest guess was right: one more beyond the newest.
            let newest = self.ahead[(self.first + self.count - 1) % RING];
            self.first = (self.first + 1) % RING;
            self.count -= 1;
            self.extend(data, newest);
        } else {
            self.first = 0;
            self.count = 0;
            let mut from = Guess {
                at: next,
                len,
                run: self.run,
            };
            for _ in 0..GUESS_AHEAD {
                match self.extend(data, from) {
                    Some(g) => from = g,
                    None => break,
                }
            }
        }
    }

    /// Guesses the record after the one starting at `from.at`, asks for its header's line
    /// and keeps the guess (none past the end of the data).
    #[inline(always)]
    fn extend(&mut self, data: &[u8], from: Guess) -> Option<Guess> {
        let guessed = self.next_len[Self::slot(from.len, from.run)] as usize;
        // Nothing learned for the pair (or a length of 0, which no record has): the same
        // length again.
        let len = if guessed == 0 { from.len } else { guessed };
        let at = from.at.checked_add(len).filter(|at| *at < data.len())?;
        // Two lines: the record header's, and the one holding the end of an Ethernet, IPv4
        // and TCP header (70 bytes on from the record's start; one line less left the
        // packet's first read waiting in the link decoder).
        prefetch_line(data.as_ptr().wrapping_add(at));
        prefetch_line(data.as_ptr().wrapping_add(at + 69));
        let g = Guess {
            at,
            len,
            run: if len == from.len { from.run + 1 } else { 1 },
        };
        self.ahead[(self.first + self.count) % RING] = g;
        self.count += 1;
        Some(g)
    }
}

/// Asks for the first bytes at `p` (the next block: its header and the packet's Ethernet,
/// IP and TCP headers fit in 128 bytes) while this block is processed: otherwise the next
/// block's first read is a wait for memory, on every packet.
#[inline]
fn prefetch_headers(p: *const u8) {
    for ahead in [0, 64, 127] {
        prefetch_line(p.wrapping_add(ahead));
    }
}

#[cfg(test)]
mod guesser_tests {
    use super::*;

    /// The guesses still waiting, oldest first.
    fn pending(g: &Guesser) -> Vec<usize> {
        (0..g.count)
            .map(|i| g.ahead[(g.first + i) % RING].at)
            .collect()
    }

    #[test]
    fn a_repeating_pattern_of_lengths_is_learned() {
        // Three full segments and a short one, over and over (a bulk transfer's records).
        let lengths: Vec<usize> = [1530, 1530, 1530, 399].repeat(40);
        let data = vec![0u8; lengths.iter().sum::<usize>() + 1];
        let mut starts = vec![0];
        for len in &lengths {
            starts.push(starts.last().unwrap() + len);
        }
        let mut g = Guesser::new();
        for (i, len) in lengths.iter().enumerate() {
            g.step(&data, starts[i + 1], *len);
            if i >= 12 {
                // Once learned, every guess is where a record really starts, and they run
                // on from the record after the next one.
                let want: Vec<usize> = starts[i + 2..]
                    .iter()
                    .take(GUESS_AHEAD)
                    .copied()
                    .filter(|at| *at < data.len())
                    .collect();
                assert_eq!(pending(&g), want, "after record {i}");
            }
        }
    }

    #[test]
    fn a_wrong_guess_starts_over_from_the_real_next_record() {
        let data = vec![0u8; 100_000];
        let mut g = Guesser::new();
        g.step(&data, 100, 100);
        assert_eq!(pending(&g), [200, 300, 400, 500, 600, 700]);
        // The record at 100 is 40 bytes long, not 100.
        g.step(&data, 140, 40);
        assert_eq!(pending(&g), [180, 220, 260, 300, 340, 380]);
        // Nothing is guessed past the end of the data.
        g.step(&data, 99_950, 50);
        assert!(pending(&g).is_empty());
    }
}
