//! Parts of one target's scan that run beside each other (versions, order checks, groups,
//! behaviour probes), each on a scoped thread when one can be started, else on the calling
//! thread. At `--concurrency` in the thousands the process can run out of threads (the
//! kernel's map and thread limits); `std::thread::Scope::spawn` panics then, and a scan must
//! slow down instead of dying.

use std::sync::{Mutex, PoisonError};
use std::thread::{self, Scope, ScopedJoinHandle};

/// A started part: its thread, or its result when it had to run in place.
pub(super) enum Task<'scope, T> {
    Thread(ScopedJoinHandle<'scope, T>),
    Done(T),
}

impl<T> Task<'_, T> {
    /// The part's result; `Err` if its thread panicked, as `ScopedJoinHandle::join`.
    pub(super) fn join(self) -> thread::Result<T> {
        match self {
            Task::Thread(handle) => handle.join(),
            Task::Done(value) => Ok(value),
        }
    }
}

/// Starts `work` on a thread of `scope`, or runs it here when no thread can be had.
pub(super) fn spawn<'scope, 'env, T, F>(
    scope: &'scope Scope<'scope, 'env>,
    work: F,
) -> Task<'scope, T>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    spawn_with(thread::Builder::new(), scope, work)
}

/// [`spawn`] with the thread's settings given (tests ask for a stack no one can have).
fn spawn_with<'scope, 'env, T, F>(
    builder: thread::Builder,
    scope: &'scope Scope<'scope, 'env>,
    work: F,
) -> Task<'scope, T>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    // `spawn_scoped` consumes the closure even when it fails, so the work waits in a slot
    // that both the thread and the fallback can take it from.
    let slot = std::sync::Arc::new(Mutex::new(Some(work)));
    let on_thread = std::sync::Arc::clone(&slot);
    let started = builder.spawn_scoped(scope, move || {
        let work = take(&on_thread).expect("the work is taken once");
        work()
    });
    match started {
        Ok(handle) => Task::Thread(handle),
        Err(_) => Task::Done(take(&slot)
            .expect("a thread that never started took nothing")(
        )),
    }
}

fn take<F>(slot: &Mutex<Option<F>>) -> Option<F> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_the_order_started() {
        let values: Vec<u32> = thread::scope(|s| {
            let tasks: Vec<_> = (0..8).map(|i| spawn(s, move || i * 2)).collect();
            tasks.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(values, vec![0, 2, 4, 6, 8, 10, 12, 14]);
    }

    #[test]
    fn a_part_runs_in_place_when_no_thread_can_be_started() {
        let here = thread::current().id();
        thread::scope(|s| {
            let task = spawn_with(thread::Builder::new().stack_size(usize::MAX / 2), s, || {
                thread::current().id()
            });
            assert!(matches!(task, Task::Done(_)));
            assert_eq!(task.join().unwrap(), here);
        });
    }

    #[test]
    fn a_panicking_part_is_an_error_not_a_crash() {
        thread::scope(|s| {
            let task = spawn(s, || -> u8 { panic!("part failed") });
            assert!(task.join().is_err());
        });
    }
}
