//! Reading (and gunzipping) a capture on a second thread, ahead of the decoder. On a
//! page-cached file the kernel's copy into our memory is a third of `pcap`'s time; on a
//! machine with a core to spare it now overlaps with decoding instead of preceding it.
//!
//! Memory stays bounded: a fixed pool of `POOL` chunks circulates between the threads.
//! Only for inputs whose reads cannot block for ever (regular files): the decoder may stop
//! early (a corrupt block) and then waits for the reading thread's current read to return.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Bytes per chunk handed from the reading thread to the decoder.
const CHUNK: usize = 1 << 20;
/// Chunks in circulation: one being decoded, the rest read ahead.
const POOL: usize = 3;

/// Runs `decode` on a reader whose bytes another thread reads from `input` in chunks.
pub fn read_ahead<R: Read + Send, T>(input: R, decode: impl FnOnce(&mut ReadAhead) -> T) -> T {
    std::thread::scope(|scope| {
        let (full_tx, full) = sync_channel(POOL);
        let (spent, spent_rx) = sync_channel(POOL);
        for _ in 0..POOL {
            // A fresh megabyte per chunk would cost page faults and zeroing each time.
            let _ = spent.try_send(vec![0; CHUNK]);
        }
        scope.spawn(move || fill_chunks(input, &spent_rx, &full_tx));
        let mut reader = ReadAhead {
            full,
            spent,
            current: Vec::new(),
            pos: 0,
            finished: false,
            failed: None,
        };
        decode(&mut reader)
        // `reader` is dropped here, closing both channels: the thread's next send or
        // receive fails and it returns, so the scope's join cannot wait for ever.
    })
}

/// The reading thread: fills spent chunks and hands them over, until the input ends, fails,
/// or the decoder is gone.
fn fill_chunks(
    mut input: impl Read,
    spent: &Receiver<Vec<u8>>,
    full: &SyncSender<io::Result<Vec<u8>>>,
) {
    while let Ok(mut chunk) = spent.recv() {
        chunk.resize(CHUNK, 0);
        let result = fill(&mut input, &mut chunk).map(|n| {
            chunk.truncate(n);
            chunk
        });
        let last = !matches!(&result, Ok(c) if !c.is_empty());
        if full.send(result).is_err() || last {
            return;
        }
    }
}

/// Reads until `buf` is full or the input ends; the count read. An error after some bytes
/// is left for the next call, so those bytes are decoded first.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) if filled > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The decoder's end: a `Read` over the chunks the reading thread sends.
pub struct ReadAhead {
    full: Receiver<io::Result<Vec<u8>>>,
    spent: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    finished: bool,
    /// The input's error, repeated on later reads as the input itself would.
    failed: Option<(io::ErrorKind, String)>,
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.current.len() {
            if let Some((kind, message)) = &self.failed {
                return Err(io::Error::new(*kind, message.clone()));
            }
            if self.finished {
                return Ok(0);
            }
            let spent = std::mem::take(&mut self.current);
            if spent.capacity() > 0 {
                let _ = self.spent.try_send(spent);
            }
            self.pos = 0;
            match self.full.recv() {
                Ok(Ok(chunk)) if !chunk.is_empty() => self.current = chunk,
                Ok(Ok(_)) | Err(_) => {
                    self.finished = true;
                    return Ok(0);
                }
                Ok(Err(e)) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
