//! Parts of one target's scan that run beside each other (versions, order checks, groups,
//! behaviour probes), each on a thread of a process-wide pool when one can be had, else on
//! the calling thread.
//!
//! Why a pool: a scan starts about one part per two or three handshakes, and a fresh thread
//! per part (its stack, its signal stack, its allocator heap's first pages, its exit) cost
//! more of the scanner's CPU than the part's own work (docs/benchmarks.md, "the scanner's
//! CPU per handshake"). Pool threads outlive the parts they run and go idle for a while
//! before they end. The pool is unbounded, as the threads were: parts block on the network
//! and wait for each other, so a fixed number of threads could deadlock; an idle thread is
//! taken when there is one, else a new one is started.
//!
//! Why a fallback: at `--concurrency` in the thousands the process can run out of threads
//! (the kernel's map and thread limits), and a scan must slow down instead of dying.
//!
//! In a coroutine (`io::coro`: a many-target scan, `super::run`) every part runs in place
//! on the coroutine that starts it, and a part that must not ([`Scope::try_spawn`],
//! [`detached`]) is refused as when no thread can be had: the run's other targets keep the
//! connection slots busy, and a pool thread would block outside the coroutines' loop.
//!
//! [`scope`] works as `std::thread::scope`: parts may borrow from the caller, and it
//! returns only once every part started in it has ended, joined or not.

use crate::io::coro;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// How long a pool thread waits for another part before it ends.
const IDLE: Duration = Duration::from_secs(2);

type Job = Box<dyn FnOnce() + Send + 'static>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Threads that outlive the parts they run.
struct Pool {
    /// Idle threads, each waiting on its own channel: (its id, where its next job goes).
    idle: Mutex<Vec<(u64, mpsc::Sender<Job>)>>,
    /// Threads started so far (the next one's id).
    started: std::sync::atomic::AtomicU64,
}

/// The process's pool: every scan of a run shares it.
static POOL: Pool = Pool::new();

impl Pool {
    const fn new() -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            started: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Runs `job` on an idle thread, or on a new one; `false` when neither can be had (the
    /// job is dropped unrun then).
    fn run(&'static self, job: Job) -> bool {
        let mut job = job;
        loop {
            let idle = lock(&self.idle).pop();
            let Some((_, to_thread)) = idle else { break };
            // Only a thread that has ended drops its receiver, and it unlists itself
            // first; kept for safety: the job comes back and the next idle thread is tried.
            match to_thread.send(job) {
                Ok(()) => return true,
                Err(mpsc::SendError(back)) => job = back,
            }
        }
        let (tx, rx) = mpsc::channel::<Job>();
        tx.send(job).expect("the receiver is held here");
        let id = self
            .started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        thread::Builder::new()
            .spawn(move || self.thread(id, tx, rx))
            .is_ok()
    }

    /// A pool thread: runs what it is sent, lists itself as idle after each job, and ends
    /// after [`IDLE`] without work.
    fn thread(&self, id: u64, tx: mpsc::Sender<Job>, rx: mpsc::Receiver<Job>) {
        loop {
            match rx.recv_timeout(IDLE) {
                Ok(job) => {
                    job();
                    lock(&self.idle).push((id, tx.clone()));
                }
                Err(RecvTimeoutError::Timeout) => {
                    let mut idle = lock(&self.idle);
                    match idle.iter().position(|(i, _)| *i == id) {
                        // Still listed, so nobody sends to it: it ends.
                        Some(at) => {
                            idle.swap_remove(at);
                            return;
                        }
                        // Taken between the time-out and this lock: its job is on the way.
                        None => continue,
                    }
                }
                // It holds a sender itself.
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// Runs `job` on a pool thread (or a new one) that nobody joins: for work that outlives
/// its caller's interest, such as a connection made ahead that may go unused. `false` when
/// no thread could be had (the job is dropped unrun then).
pub(super) fn detached(job: impl FnOnce() + Send + 'static) -> bool {
    if coro::active() {
        return false;
    }
    POOL.run(Box::new(move || {
        // A panic ends the job, not the pool thread.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }))
}

/// Parts still running in one [`scope`], and the signal that the last one ended.
#[derive(Default)]
struct Running {
    count: Mutex<Count>,
    ended: Condvar,
}

/// A wake-up is a system call even when nobody waits: each side says whether it waits.
#[derive(Default)]
struct Count {
    parts: usize,
    /// The scope waits for the last part to end.
    waiting: bool,
}

/// Where parts of one [`scope`] are started; see [`Scope::spawn`].
pub(super) struct Scope<'scope, 'env: 'scope> {
    running: Arc<Running>,
    /// Set while [`Scope::spawn`]'s parts run on the thread that starts them (see
    /// [`scope`]).
    in_place: &'env AtomicBool,
    // As std's Scope: invariant in both lifetimes.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// Runs `f` with a [`Scope`] and returns once every part started in it has ended.
///
/// While `in_place` is set, [`Scope::spawn`]'s parts run on the thread that starts them:
/// the run's pacer sets it while threads queue for connection slots and the run scans at
/// least as many targets as it has slots ([`super::enumerate::Pacer`]). More threads would
/// then only queue for the slots, each wait a sleep and a wake-up (a third of a
/// many-target scan's context switches) and each new thread its stack's and heap's first
/// pages; the slots are busy with other targets either way.
pub(super) fn scope<'env, F, T>(in_place: &'env AtomicBool, f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let s = Scope {
        running: Arc::new(Running::default()),
        in_place,
        scope: PhantomData,
        env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&s)));
    // The parts may borrow what `f` was given: none may outlive this call, even when `f`
    // panicked.
    let mut count = lock(&s.running.count);
    while count.parts > 0 {
        count.waiting = true;
        count = s
            .running
            .ended
            .wait(count)
            .unwrap_or_else(PoisonError::into_inner);
    }
    drop(count);
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs `work` on the calling thread, its panic caught as [`Task::join`] would report it:
/// for the last part of a scope, which the caller would otherwise only wait for.
pub(super) fn in_place<T>(work: impl FnOnce() -> T) -> thread::Result<T> {
    catch_unwind(AssertUnwindSafe(work))
}

/// A part's result, filled in by whichever thread ran it.
struct Slot<T> {
    value: Mutex<Filled<T>>,
    filled: Condvar,
}

/// The result once there, and whether the joiner waits for it.
struct Filled<T> {
    value: Option<thread::Result<T>>,
    waiting: bool,
}

impl<T> Slot<T> {
    /// Puts the result in, and wakes the joiner if it waits.
    fn fill(&self, value: thread::Result<T>) {
        let mut filled = lock(&self.value);
        filled.value = Some(value);
        let wake = filled.waiting;
        drop(filled);
        if wake {
            self.filled.notify_all();
        }
    }
}

/// A started part: its result, once it is there.
pub(super) struct Task<T> {
    slot: Arc<Slot<T>>,
}

impl<T> Task<T> {
    /// The part's result; `Err` if it panicked, as `JoinHandle::join`.
    pub(super) fn join(self) -> thread::Result<T> {
        let mut value = lock(&self.slot.value);
        loop {
            if let Some(v) = value.value.take() {
                return v;
            }
            value.waiting = true;
            value = self
                .slot
                .filled
                .wait(value)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Starts `work` on a pool thread, or runs it here when no thread can be had or the
    /// scope's `in_place` is set ([`scope`]).
    pub(super) fn spawn<T, F>(&'scope self, work: F) -> Task<T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let in_place = self.in_place.load(Ordering::Relaxed) || coro::active();
        self.start(|job| !in_place && POOL.run(job), work, true)
            .expect("a part runs in place when it cannot have a thread")
    }

    /// Starts `work` on a pool thread; `None` (and `work` dropped unrun) when no thread can
    /// be had or the caller is a coroutine, for a part that must not run on the caller's
    /// thread.
    pub(super) fn try_spawn<T, F>(&'scope self, work: F) -> Option<Task<T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        if coro::active() {
            return None;
        }
        self.start(|job| POOL.run(job), work, false)
    }

    /// `launch` runs the job on some thread, or drops it unrun and says `false`.
    fn start<T, F>(
        &'scope self,
        launch: impl FnOnce(Job) -> bool,
        work: F,
        in_place: bool,
    ) -> Option<Task<T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let slot = Arc::new(Slot {
            value: Mutex::new(Filled {
                value: None,
                waiting: false,
            }),
            filled: Condvar::new(),
        });
        // The work waits where both the pool thread and the in-place fallback can take it
        // from (a thread that cannot be started drops what it was given).
        let work = Arc::new(Mutex::new(Some(work)));
        let job = {
            let (slot, work, running) = (
                Arc::clone(&slot),
                Arc::clone(&work),
                Arc::clone(&self.running),
            );
            move || {
                let taken = lock(&work).take();
                drop(work);
                if let Some(work) = taken {
                    slot.fill(catch_unwind(AssertUnwindSafe(work)));
                }
                // Everything borrowed from the scope is gone before it may end.
                drop(slot);
                let mut count = lock(&running.count);
                count.parts -= 1;
                let wake = count.parts == 0 && count.waiting;
                drop(count);
                // `running` is this job's own reference: the scope may end once the count
                // is down, but what it points to lives until this is done.
                if wake {
                    running.ended.notify_all();
                }
            }
        };
        lock(&self.running.count).parts += 1;
        let job: Box<dyn FnOnce() + Send + 'scope> = Box::new(job);
        // SAFETY: the job borrows only what lives for 'scope, and `scope` does not return
        // (so 'scope does not end) before the count is back to zero: the job takes its
        // count back after dropping its borrows, and a job that never ran (dropped by
        // `launch`, borrows and all) has its count taken back below.
        let job: Job =
            unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + 'scope>, Job>(job) };
        if !launch(job) {
            // The job never ran: run the work here (or drop it), and take the count back.
            let taken = lock(&work).take();
            lock(&self.running.count).parts -= 1;
            let work = taken?;
            if !in_place {
                return None;
            }
            slot.fill(catch_unwind(AssertUnwindSafe(work)));
        }
        Some(Task { slot })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts go to the pool's threads.
    static POOLED: AtomicBool = AtomicBool::new(false);

    #[test]
    fn results_come_back_in_the_order_started() {
        let values: Vec<u32> = scope(&POOLED, |s| {
            let tasks: Vec<_> = (0..8).map(|i| s.spawn(move || i * 2)).collect();
            tasks.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(values, vec![0, 2, 4, 6, 8, 10, 12, 14]);
    }

    #[test]
    fn parts_borrow_from_the_caller_and_end_with_the_scope() {
        let counter = std::sync::atomic::AtomicUsize::new(0);
        scope(&POOLED, |s| {
            for _ in 0..16 {
                // Not joined: the scope waits for them.
                let _ = s.spawn(|| {
                    thread::sleep(Duration::from_millis(5));
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
        });
        assert_eq!(counter.load(std::sync::atomic::Ordering::SeqCst), 16);
    }

    #[test]
    fn threads_are_reused() {
        // A pool of its own: other tests use the process's pool at the same time.
        let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
        let ids: Vec<_> = (0..8)
            .map(|_| {
                let id = scope(&POOLED, |s| {
                    let task = s.start(|job| pool.run(job), || thread::current().id(), true);
                    task.unwrap().join().unwrap()
                });
                // The part's thread lists itself idle just after its job ends.
                while lock(&pool.idle).is_empty() {
                    thread::yield_now();
                }
                id
            })
            .collect();
        assert_eq!(pool.started.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        assert_ne!(ids[0], thread::current().id());
    }

    #[test]
    fn a_part_runs_in_place_when_no_thread_can_be_started() {
        let here = thread::current().id();
        let refuse = |job: Job| {
            drop(job);
            false
        };
        scope(&POOLED, |s| {
            let task = s.start(refuse, || thread::current().id(), true).unwrap();
            assert_eq!(task.join().unwrap(), here);
            assert!(s.start(refuse, || unreachable!(), false).is_none());
        });
    }

    #[test]
    fn a_part_runs_in_place_while_the_scope_says_so() {
        let here = thread::current().id();
        let in_place = AtomicBool::new(true);
        let ran_on = scope(&in_place, |s| {
            s.spawn(|| thread::current().id()).join().unwrap()
        });
        assert_eq!(
            ran_on, here,
            "a part started in place went to a pool thread"
        );
        // Cleared: a thread of the pool, as before.
        in_place.store(false, Ordering::Relaxed);
        let ran_on = scope(&in_place, |s| {
            s.spawn(|| thread::current().id()).join().unwrap()
        });
        assert_ne!(ran_on, here);
    }

    #[test]
    fn a_panicking_part_is_an_error_not_a_crash() {
        scope(&POOLED, |s| {
            let task = s.spawn(|| -> u8 { panic!("part failed") });
            assert!(task.join().is_err());
        });
    }
}
