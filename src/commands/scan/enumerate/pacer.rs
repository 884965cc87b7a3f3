//! The bound on connections in flight and the rate of their starts, shared by every target
//! of a run: a [`Pacer`] hands out [`Permit`]s (`--concurrency`) and spaces their starts
//! ([`Spacing`]: `--rate`, and `--rate-per-target` for one target). Apart from the
//! enumeration: it knows connection starts only, not what goes over them, and outlives
//! any one target's `Scanner`.

use crate::io::coro;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Bounds connections in flight and paces their starts; shared by all targets of a run.
pub struct Pacer {
    slots: Mutex<Slots>,
    freed: Condvar,
    pub(super) spacing: Option<Spacing>,
    /// Slots (at least 1).
    concurrency: usize,
    /// Targets being scanned now ([`Pacer::target_started`]).
    targets: AtomicUsize,
    /// Set while a target's parts run on the thread that starts them ([`Pacer::crowded`]).
    pub(super) crowded: AtomicBool,
}

/// The pacer's count, and how many wait for it to rise.
struct Slots {
    free: usize,
    /// Threads blocked in [`Pacer::acquire`]: a freed slot wakes one only when there is
    /// one (a wake-up is a system call even when nobody waits, and a scan frees a slot at
    /// every connection).
    waiting: usize,
}

/// A connection slot, given back on drop.
pub struct Permit<'a>(&'a Pacer);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut slots = self.0.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.free += 1;
        let wake = slots.waiting > 0;
        // Woken after the lock is let go, so the woken thread does not block on it again.
        drop(slots);
        if wake {
            self.0.freed.notify_one();
        }
    }
}

impl Pacer {
    /// `concurrency` connections at once (at least 1); at most `rate` starts per second.
    pub fn new(concurrency: usize, rate: Option<f64>) -> Pacer {
        Pacer {
            slots: Mutex::new(Slots {
                free: concurrency.max(1),
                waiting: 0,
            }),
            freed: Condvar::new(),
            spacing: Spacing::new(rate),
            concurrency: concurrency.max(1),
            targets: AtomicUsize::new(0),
            crowded: AtomicBool::new(false),
        }
    }

    /// A target's scan begins (`true`) or ends (`false`).
    pub fn target_started(&self, started: bool) {
        if started {
            self.targets.fetch_add(1, Ordering::Relaxed);
        } else {
            self.targets.fetch_sub(1, Ordering::Relaxed);
        }
        self.crowded(&self.slots.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Parts run in place while threads wait for a slot and there are at least as many
    /// targets as slots (the flag given to [`tasks::scope`]): the slots are then kept busy
    /// by other targets, and more threads would only queue. With fewer targets (one host
    /// at a low `--concurrency`) the parts keep their threads: their latency is what those
    /// are for.
    ///
    /// [`tasks::scope`]: crate::commands::scan::tasks::scope
    fn crowded(&self, slots: &Slots) {
        let many = self.targets.load(Ordering::Relaxed) >= self.concurrency;
        self.crowded
            .store(slots.waiting > 0 && many, Ordering::Relaxed);
    }

    /// Waits for a free slot, then for the rate limit's next start time.
    pub fn acquire(&self) -> Permit<'_> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // A coroutine must not block its thread: it lets the others run until a slot is
        // free. Rare: a many-target scan has as many coroutines as slots, each holding at
        // most one (its parts run in place, and it makes no connection ahead).
        while slots.free == 0 && coro::active() {
            drop(slots);
            coro::yield_now();
            slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        }
        if slots.free == 0 {
            slots.waiting += 1;
            if slots.waiting == 1 {
                self.crowded(&slots);
            }
            while slots.free == 0 {
                slots = self.freed.wait(slots).unwrap_or_else(|e| e.into_inner());
            }
            slots.waiting -= 1;
            if slots.waiting == 0 {
                self.crowded(&slots);
            }
        }
        slots.free -= 1;
        drop(slots);
        if let Some(spacing) = &self.spacing {
            spacing.wait_turn();
        }
        Permit(self)
    }

    /// A slot if one is free and nobody waits for one, without waiting (for a connection
    /// made ahead, see `ahead`; never used with a rate, which it would not keep).
    pub(super) fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.free == 0 || slots.waiting > 0 {
            return None;
        }
        slots.free -= 1;
        Some(Permit(self))
    }
}

/// Connection starts at most `rate` per second: each start books the next free time,
/// `1/rate` after the previous booking, and sleeps until it. Used for the whole run
/// (`--rate`) and for each target (`--rate-per-target`).
pub struct Spacing {
    interval: Duration,
    next_start: Mutex<Instant>,
}

impl Spacing {
    /// `None` without a finite, positive rate.
    pub fn new(rate: Option<f64>) -> Option<Spacing> {
        rate.filter(|r| r.is_finite() && *r > 0.0).map(|r| Spacing {
            interval: Duration::from_secs_f64(1.0 / r),
            next_start: Mutex::new(Instant::now()),
        })
    }

    /// Sleeps until this start's turn (a coroutine is suspended instead, see `io::coro`).
    pub fn wait_turn(&self) {
        let wait = {
            let mut next = self.next_start.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at - now
        };
        coro::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn pacer_bounds_and_paces() {
        let pacer = Pacer::new(2, Some(50.0));
        let start = Instant::now();
        let in_flight = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    let _p = pacer.acquire();
                    let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(5));
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 2);
        // 6 starts at 50/s: the last starts at least 100 ms after the first.
        assert!(start.elapsed() >= Duration::from_millis(100));
    }
}
