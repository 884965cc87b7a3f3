//! Whole inputs the user names (key logs, profile files, hex or raw hello bytes, target
//! lists, CA bundles), read with a size cap: a wrong path (`/dev/zero`, a capture given as a
//! key log, an endless pipe) ends with a clear error after at most the cap, not with memory
//! growing until the process dies. Captures are not read here: they stream.

use std::io::{self, Read};
use std::path::Path;

/// Largest key log read (`--keylog`): 64 MiB, ~300,000 TLS 1.3 connections' secrets.
pub const MAX_KEYLOG: u64 = 64 << 20;
/// Largest target list (`scan -`, `--targets-file`): 64 MiB, millions of names.
pub const MAX_TARGET_LIST: u64 = 64 << 20;
/// Largest other input (profile files, hex or raw bytes for `decode`, `--ca` bundles):
/// 16 MiB, far beyond any real one.
pub const MAX_INPUT: u64 = 16 << 20;

/// Reads `r` to its end, failing once it holds more than `limit` bytes. Memory stays
/// within `limit` and a chunk while reading: the input is gathered in chunks (a growing
/// vector would double past the limit, and hold two copies while it moves), joined once it
/// is known to fit.
pub fn read_capped(mut r: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    const CHUNK: usize = 1 << 20;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut total: u64 = 0;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        let n = (&mut r).take(CHUNK as u64).read_to_end(&mut chunk)?;
        total += n as u64;
        if total > limit {
            return Err(too_large(limit));
        }
        if n == 0 {
            break;
        }
        chunks.push(chunk);
    }
    if chunks.len() == 1 {
        return Ok(chunks.pop().unwrap_or_default());
    }
    Ok(chunks.concat())
}

/// [`read_capped`] of a file; a regular file larger than `limit` fails before any read.
pub fn read_file_capped(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() > limit {
        return Err(too_large(limit));
    }
    read_capped(file, limit)
}

/// [`read_file_capped`] of a UTF-8 text file.
pub fn read_text_file_capped(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_file_capped(path, limit)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text ({e})")))
}

fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("larger than {} MiB, the limit for this input", limit >> 20),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_the_limit() {
        assert_eq!(read_capped(&[7u8; 10][..], 10).unwrap().len(), 10);
        let e = read_capped(io::repeat(0), 1 << 20).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
    }
}
