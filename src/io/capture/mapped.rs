//! A capture file read through a read-only memory map, for the in-memory reader: the
//! parser reads the page cache where it lies, and the kernel's copy of every byte into a
//! read buffer (half the time of a `pcap` run) is not made.
//!
//! The one hazard of a map is another process shrinking the file while it is read (a
//! `tcpdump -W` ring that starts over, `> file`): reading a page past the new end raises
//! SIGBUS, which would kill the process and every report not yet written. A SIGBUS handler
//! guards the maps made here: a fault inside one puts zero pages over the lost rest of the
//! map and marks it shrunk, the reader sees the mark before it hands on the next block and
//! stops with an error, and what came before is reported as for any cut file (a block being
//! handed on at the very moment the file shrinks may reach the sink partly as zeros, as a
//! read(2) racing a rewrite returns mixed bytes). Faults anywhere else go to the
//! disposition there was before.
//!
//! Linux only (the handler reads the fault address from `siginfo_t`); elsewhere files are
//! streamed.

use std::cell::Cell;
use std::fs::File;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::file::Memory;

/// How many maps can be open at once (the CLI has one; tests read files on many threads).
/// With all slots taken a file is streamed instead.
const SLOTS: usize = 16;

/// The guarded address range of one map, `[start, end)`, whether it shrank, and from which
/// address on its pages were lost (the lowest fault).
struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    shrank: AtomicBool,
    lost_from: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)] // only as the array initialiser
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    shrank: AtomicBool::new(false),
    lost_from: AtomicUsize::new(usize::MAX),
};
static GUARDED: [Slot; SLOTS] = [FREE; SLOTS];

/// The SIGBUS disposition before ours, `None` if ours could not be installed.
static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);
/// The span of a huge page-table entry (x86-64, and arm64 with 4 KiB pages), to which
/// releases are aligned ([`MappedFile::release_before`]).
const HUGE: usize = 2 << 20;

/// A mapped capture file, guarded while it lives.
pub(super) struct MappedFile {
    map: memmap2::Mmap,
    slot: &'static Slot,
    /// The bytes before this offset were given back.
    released: Cell<usize>,
}

impl MappedFile {
    /// Maps `file`, or `None` (the caller streams it): not a regular file, empty, not read
    /// from its start, the guard not installable, every slot taken, or the map failed.
    pub(super) fn open(file: &File) -> Option<MappedFile> {
        if !file.metadata().is_ok_and(|m| m.is_file() && m.len() > 0) {
            return None;
        }
        // A file read from a position (`pcap - < FILE` after something consumed its start)
        // is streamed from there: the map would start at byte 0.
        if !matches!(std::io::Seek::stream_position(&mut &*file), Ok(0)) {
            return None;
        }
        if PREVIOUS.get_or_init(install_guard).is_none() {
            return None;
        }
        // SAFETY: the map is private and read-only and nothing here writes through it. Its
        // bytes can change under us only if another process rewrites the file in place,
        // which gives garbled blocks (reported as corrupt), or shrinks it, which the guard
        // turns into zeros and a `shrank` mark instead of a fatal SIGBUS.
        let map = unsafe { memmap2::MmapOptions::new().map_copy_read_only(file) }.ok()?;
        let start = map.as_ptr() as usize;
        let page = PAGE_SIZE.load(Ordering::Relaxed);
        let end = (start + map.len()).next_multiple_of(page);
        let slot = GUARDED.iter().find(|s| {
            s.start
                .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        slot.shrank.store(false, Ordering::Relaxed);
        slot.lost_from.store(usize::MAX, Ordering::Relaxed);
        slot.end.store(end, Ordering::Release);
        Some(MappedFile {
            map,
            slot,
            released: Cell::new(0),
        })
    }
}

impl Memory for MappedFile {
    fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Lets the kernel take back the mapped pages before `offset` (they stay in the page
    /// cache): the parser does not come back to them, and without this every page read
    /// would stay in the process's resident memory, which would grow with the file.
    fn release_before(&self, offset: usize) {
        let page = PAGE_SIZE.load(Ordering::Relaxed);
        let from = self.released.get();
        // Up to a 2 MiB boundary of the address space: the kernel maps a file's page cache
        // with huge page-table entries where it holds 2 MiB folios, and a range ending
        // inside one splits it first (one more TLB flush, an IPI to the other core when the
        // JSON report's thread runs there, and the rest of it remapped page by page): on
        // the bulk-heavy bench capture that split was ≈ 3 % of the capture thread under
        // `--json` (docs/benchmarks.md#pcap-release).
        let start = self.map.as_ptr() as usize;
        let to = (start + offset.min(self.map.len())) / HUGE * HUGE;
        let to = to.saturating_sub(start) / page * page;
        if to > from {
            // SAFETY: MADV_DONTNEED on a private mapping drops private changes; there are
            // none (read-only), so a later read would see the file's bytes again.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
            };
            self.released.set(to);
        }
    }

    fn lost(&self, block: &[u8], read: bool) -> bool {
        // A page gone from under the map faults when read, and the guard then marks the map
        // shrunk. A file shrinks from its end: if the page of the block's last byte (or of
        // a later byte, which the driver read when it parsed the next block's header) is
        // still there, every page before it is. (Reading a byte of every page of every
        // block here instead was a wait for memory per packet: a tenth of the time on the
        // 1 GB bench capture.)
        if read && let Some(last) = block.last() {
            std::hint::black_box(*last);
        }
        // Pages lost only after this block (the next header's) do not stop it.
        self.slot.shrank.load(Ordering::Relaxed)
            && block.as_ptr() as usize + block.len() > self.slot.lost_from.load(Ordering::Relaxed)
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        self.slot.end.store(0, Ordering::Release);
        self.slot.start.store(0, Ordering::Release);
        // The map itself is unmapped after this, when the field drops.
    }
}

/// Installs the SIGBUS handler; returns the disposition it replaced.
fn install_guard() -> Option<libc::sigaction> {
    // SAFETY: sysconf and sigaction are called with valid arguments; the handler only
    // uses async-signal-safe operations (atomics, mmap, sigaction, raise).
    unsafe {
        let page = libc::sysconf(libc::_SC_PAGESIZE);
        if page > 0 {
            PAGE_SIZE.store(page as usize, Ordering::Relaxed);
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        (libc::sigaction(libc::SIGBUS, &action, &mut previous) == 0).then_some(previous)
    }
}

extern "C" fn on_sigbus(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    for slot in &GUARDED {
        let start = slot.start.load(Ordering::Acquire);
        let end = slot.end.load(Ordering::Acquire);
        if start != 0 && (start..end).contains(&addr) {
            let from = addr / page * page;
            // SAFETY: [from, end) lies inside a map this module made and still owns (the
            // slot is cleared before the map is dropped); replacing it with anonymous zero
            // pages keeps the addresses valid for the reader.
            let zeros = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if zeros != libc::MAP_FAILED {
                slot.lost_from.fetch_min(from, Ordering::Relaxed);
                slot.shrank.store(true, Ordering::Relaxed);
                return; // the faulting read runs again and reads zeros
            }
        }
    }
    // Not one of ours: as if this handler had never been installed.
    if let Some(Some(previous)) = PREVIOUS.get() {
        // SAFETY: restoring the saved disposition and re-raising are async-signal-safe; the
        // signal stays blocked until the handler returns, then the old disposition acts.
        unsafe {
            libc::sigaction(signal, previous, std::ptr::null_mut());
            libc::raise(signal);
        }
    }
}
