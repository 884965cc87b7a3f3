//! Blocking code on coroutines: many jobs written as ordinary blocking code (a target's
//! scan) run as stackful coroutines on one OS thread, over one epoll set. A blocking point
//! of the network layer (`io::net`) or of the scan's pacing asks [`active`]: outside a
//! coroutine it blocks the thread as it always did; inside one it registers what it waits
//! for ([`wait`], [`sleep_until`], [`yield_now`]) and suspends to the thread's scheduler,
//! which runs the next coroutine that can go on and sleeps in `epoll_wait` only when none
//! can. One scan, two ways of waiting, chosen where the blocking call is made.
//!
//! Why: a thread blocked on each connection costs the scanner about two context switches,
//! futex calls and its stack's first pages per handshake, a large share of its CPU
//! (docs/benchmarks.md#scan-floor); an event loop finds many connections ready at each
//! wait and switches between them in user space.
//!
//! Sockets used from a coroutine are non-blocking and registered once, edge-triggered, for
//! reading and writing ([`register`]); the scheduler keeps what each event said (readable,
//! writable) until the socket's next `EAGAIN` clears it ([`clear`]), so a wait for what is
//! already known ready returns at once. A closed socket leaves the epoll set by itself.
//!
//! The coroutines' stacks are `mmap`ed by `corosensei` (2 MiB each, as a thread's, with a
//! guard page; only the pages touched are ever backed).

#[cfg(target_os = "linux")]
pub use imp::{broken, clear, register, run, wait};

use std::time::{Duration, Instant};

/// What a coroutine waits for on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
}

/// Whether the calling code runs in a coroutine (so its blocking points suspend instead).
pub fn active() -> bool {
    #[cfg(target_os = "linux")]
    {
        imp::active()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Sleeps until `deadline`: the coroutine is suspended, or the thread sleeps.
pub fn sleep_until(deadline: Instant) {
    #[cfg(target_os = "linux")]
    if imp::active() {
        imp::sleep_until(deadline);
        return;
    }
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
}

/// Sleeps for `d` (see [`sleep_until`]).
pub fn sleep(d: Duration) {
    if d.is_zero() {
        return;
    }
    sleep_until(Instant::now() + d);
}

/// Lets the thread's other coroutines run before this one goes on (a polling wait for
/// something no event announces); outside a coroutine, yields the thread.
pub fn yield_now() {
    #[cfg(target_os = "linux")]
    if imp::active() {
        imp::yield_now();
        return;
    }
    std::thread::yield_now();
}

#[cfg(target_os = "linux")]
mod imp {
    use super::Interest;
    use corosensei::stack::DefaultStack;
    use corosensei::{Coroutine, CoroutineResult, Yielder};
    use std::cell::{Cell, RefCell};
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, VecDeque};
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::time::Instant;

    /// A coroutine's stack: a thread's default size.
    const STACK: usize = 2 << 20;
    /// Events taken from the kernel per `epoll_wait`.
    const EVENTS: usize = 256;

    type Co = Coroutine<(), (), (), DefaultStack>;

    std::thread_local! {
        /// The running coroutine's yielder; null outside a coroutine.
        static YIELDER: Cell<*const Yielder<(), ()>> = const { Cell::new(std::ptr::null()) };
        /// The thread's scheduler, while [`run`] runs on it.
        static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    }

    /// What the scheduler knows between switches. Borrowed briefly, never across a switch.
    struct State {
        epoll: OwnedFd,
        /// Coroutines that can go on, in turn.
        runnable: VecDeque<usize>,
        /// The running coroutine.
        current: usize,
        /// Per coroutine: its wait's number (a wake-up for an older wait is stale) and the
        /// socket it waits on.
        tasks: Vec<Task>,
        /// Per socket (by descriptor): what its events said, and who waits on it.
        fds: Vec<Fd>,
        /// Deadlines: (when, coroutine, its wait's number).
        timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    }

    #[derive(Default, Clone, Copy)]
    struct Task {
        wait: u64,
        on: Option<RawFd>,
    }

    #[derive(Default, Clone, Copy)]
    struct Fd {
        readable: bool,
        writable: bool,
        /// An event said error or hang-up: the socket has something to report.
        broken: bool,
        waiter: Option<(usize, Interest)>,
    }

    impl Fd {
        fn is(&self, interest: Interest) -> bool {
            match interest {
                Interest::Read => self.readable,
                Interest::Write => self.writable,
            }
        }
    }

    impl State {
        /// `task` may go on: its wait ends (a later event or deadline for it is stale).
        fn wake(&mut self, task: usize) {
            let t = &mut self.tasks[task];
            t.wait += 1;
            if let Some(fd) = t.on.take()
                && let Some(f) = self.fds.get_mut(fd as usize)
                && f.waiter.is_some_and(|(w, _)| w == task)
            {
                f.waiter = None;
            }
            self.runnable.push_back(task);
        }

        /// The next live deadline, stale ones dropped on the way.
        fn next_deadline(&mut self) -> Option<Instant> {
            while let Some(Reverse((at, task, wait))) = self.timers.peek().copied() {
                if self.tasks[task].wait == wait {
                    return Some(at);
                }
                self.timers.pop();
            }
            None
        }

        /// Wakes the coroutines whose deadline has passed.
        fn expire(&mut self, now: Instant) {
            while let Some(at) = self.next_deadline()
                && at <= now
            {
                let Some(Reverse((_, task, _))) = self.timers.pop() else {
                    break;
                };
                self.wake(task);
            }
        }
    }

    fn with<T>(f: impl FnOnce(&mut State) -> T) -> T {
        STATE.with_borrow_mut(|s| f(s.as_mut().expect("a coroutine runs under its scheduler")))
    }

    pub fn active() -> bool {
        !YIELDER.get().is_null()
    }

    /// Suspends the running coroutine to the scheduler, after it said what wakes it.
    fn suspend() {
        let yielder = YIELDER.get();
        assert!(!yielder.is_null(), "suspend outside a coroutine");
        // SAFETY: YIELDER is set by the running coroutine from the `&Yielder` its body was
        // given (see `run`), which lives on that coroutine's stack until its body returns;
        // the body is running (it called this), so the yielder is alive, and it is used
        // on the thread that owns it.
        unsafe { &*yielder }.suspend(());
        // Resumed: the scheduler cleared the pointer while other coroutines ran.
        YIELDER.set(yielder);
    }

    /// Registers a non-blocking socket with the thread's epoll set, for both directions,
    /// edge-triggered. Only from a coroutine.
    pub fn register(fd: RawFd) -> io::Result<()> {
        with(|s| {
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
                u64: fd as u64,
            };
            // SAFETY: plain system call on descriptors this thread owns; `ev` outlives it.
            let rc =
                unsafe { libc::epoll_ctl(s.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            let at = fd as usize;
            if s.fds.len() <= at {
                s.fds.resize(at + 1, Fd::default());
            }
            // A descriptor number used before by a socket since closed: nothing carries over.
            s.fds[at] = Fd::default();
            Ok(())
        })
    }

    /// Whether an event of the registered socket said error or hang-up: only then is a
    /// connect's outcome worth asking of the kernel (`SO_ERROR`), a system call a
    /// connection otherwise.
    pub fn broken(fd: RawFd) -> bool {
        with(|s| s.fds.get(fd as usize).is_some_and(|f| f.broken))
    }

    /// The socket said `EAGAIN` for `interest`: it is no longer known ready.
    pub fn clear(fd: RawFd, interest: Interest) {
        with(|s| {
            if let Some(f) = s.fds.get_mut(fd as usize) {
                match interest {
                    Interest::Read => f.readable = false,
                    Interest::Write => f.writable = false,
                }
            }
        })
    }

    /// Suspends until the registered socket is ready for `interest` (`true`), or until
    /// `deadline` (`false`). Returns at once when it is known ready.
    pub fn wait(fd: RawFd, interest: Interest, deadline: Option<Instant>) -> bool {
        let ready = with(|s| {
            let f = &mut s.fds[fd as usize];
            if f.is(interest) {
                return true;
            }
            let task = s.current;
            f.waiter = Some((task, interest));
            s.tasks[task].on = Some(fd);
            if let Some(at) = deadline {
                let wait = s.tasks[task].wait;
                s.timers.push(Reverse((at, task, wait)));
            }
            false
        });
        if ready {
            return true;
        }
        suspend();
        with(|s| s.fds[fd as usize].is(interest))
    }

    pub fn sleep_until(deadline: Instant) {
        with(|s| {
            let task = s.current;
            let wait = s.tasks[task].wait;
            s.timers.push(Reverse((deadline, task, wait)));
        });
        suspend();
    }

    pub fn yield_now() {
        with(|s| {
            let task = s.current;
            s.wake(task);
        });
        suspend();
    }

    /// Runs every job as a coroutine on this thread until all have ended; returns how
    /// many ran as coroutines. Jobs that cannot (no epoll set, no memory for a stack, a
    /// scheduler already running here) run after the others, one after another, as
    /// blocking code: slower, never lost. A job's panic ends the run and goes on up (the
    /// other coroutines' stacks are unwound first).
    pub fn run<'a>(jobs: Vec<Box<dyn FnOnce() + 'a>>) -> usize {
        let mut jobs = jobs;
        let ran = if active() || STATE.with_borrow(|s| s.is_some()) {
            0
        } else {
            schedule(&mut jobs)
        };
        for job in jobs {
            job();
        }
        ran
    }

    /// [`run`]'s coroutines: as many of the first `jobs` as get a stack, taken out.
    fn schedule<'a>(jobs: &mut Vec<Box<dyn FnOnce() + 'a>>) -> usize {
        // SAFETY: plain system call; the descriptor it returns is owned from here.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return 0;
        }
        // SAFETY: `epoll` is a new descriptor nobody else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        STATE.set(Some(State {
            epoll,
            runnable: VecDeque::new(),
            current: 0,
            tasks: Vec::new(),
            fds: Vec::new(),
            timers: BinaryHeap::new(),
        }));
        // The state goes with the run, also when a job panics; declared before the
        // coroutines, so that it outlives them (a stack unwound on drop may still ask).
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                YIELDER.set(std::ptr::null());
                STATE.set(None);
            }
        }
        let _reset = Reset;
        let mut stacks = Vec::with_capacity(jobs.len());
        while stacks.len() < jobs.len()
            && let Ok(stack) = DefaultStack::new(STACK)
        {
            stacks.push(stack);
        }
        let mut cos: Vec<Option<Co>> = Vec::with_capacity(stacks.len());
        for (job, stack) in jobs.drain(..stacks.len()).zip(stacks) {
            let body = move |yielder: &Yielder<(), ()>, ()| {
                YIELDER.set(yielder);
                job();
                YIELDER.set(std::ptr::null());
            };
            // SAFETY: `body` borrows only what lives for 'a, and every coroutine made here
            // is driven to its end or dropped (its stack unwound) before `run` returns:
            // they live in `cos`, a local of this call, also when a job panics.
            cos.push(Some(unsafe { Co::with_stack_unchecked(stack, body) }));
        }
        let count = cos.len();
        with(|s| {
            s.runnable = (0..count).collect();
            s.tasks = vec![Task::default(); count];
        });
        let mut live = count;
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        while live > 0 {
            // Those that can go on now, each once: one that yields goes to the next round,
            // after the kernel was asked for events.
            let turn = with(|s| s.runnable.len());
            for _ in 0..turn {
                let Some(task) = with(|s| s.runnable.pop_front()) else {
                    break;
                };
                let Some(co) = cos[task].as_mut() else {
                    continue;
                };
                with(|s| s.current = task);
                let ended = matches!(co.resume(()), CoroutineResult::Return(()));
                YIELDER.set(std::ptr::null());
                if ended {
                    cos[task] = None;
                    live -= 1;
                }
            }
            if live == 0 {
                break;
            }
            let (fd, timeout) = with(|s| {
                let timeout = if !s.runnable.is_empty() {
                    0
                } else {
                    match s.next_deadline() {
                        None => -1,
                        Some(at) => {
                            let left = at.saturating_duration_since(Instant::now());
                            // Rounded up: woken before a deadline, a coroutine would only
                            // wait again.
                            left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                        }
                    }
                };
                (s.epoll.as_raw_fd(), timeout)
            });
            // SAFETY: `events` is a live buffer of EVENTS entries the kernel writes into.
            let n = unsafe { libc::epoll_wait(fd, events.as_mut_ptr(), EVENTS as i32, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                // Only a bad descriptor or buffer, neither of which this loop passes.
                assert!(e.kind() == io::ErrorKind::Interrupted, "epoll_wait: {e}");
            }
            with(|s| {
                for ev in &events[..n.max(0) as usize] {
                    let fd = ev.u64 as usize;
                    let bits = ev.events;
                    let Some(f) = s.fds.get_mut(fd) else { continue };
                    // An error or a hang-up is told to both directions: the next read or
                    // write returns it.
                    let broken = bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
                    f.broken |= broken;
                    if broken || bits & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0 {
                        f.readable = true;
                    }
                    if broken || bits & libc::EPOLLOUT as u32 != 0 {
                        f.writable = true;
                    }
                    if let Some((task, interest)) = f.waiter
                        && f.is(interest)
                    {
                        s.wake(task);
                    }
                }
                s.expire(Instant::now());
            });
        }
        count
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn outside_a_coroutine_nothing_is_active() {
        assert!(!active());
        let t = Instant::now();
        sleep(Duration::from_millis(5));
        assert!(t.elapsed() >= Duration::from_millis(5));
    }

    #[test]
    fn sleeping_coroutines_share_the_thread() {
        let woke = std::sync::Mutex::new(Vec::new());
        let start = Instant::now();
        let jobs: Vec<Box<dyn FnOnce() + '_>> = (0..20u64)
            .map(|i| {
                let woke = &woke;
                Box::new(move || {
                    assert!(active());
                    // Later starters sleep less: the order of waking is the deadlines'.
                    sleep(Duration::from_millis(100 - 4 * i));
                    woke.lock().unwrap().push(i);
                }) as Box<dyn FnOnce()>
            })
            .collect();
        assert_eq!(run(jobs), 20);
        // Twenty sleeps of 24 to 100 ms, side by side.
        assert!(
            start.elapsed() < Duration::from_millis(1000),
            "{:?}",
            start.elapsed()
        );
        let woke = woke.into_inner().unwrap();
        assert_eq!(woke, (0..20).rev().collect::<Vec<_>>());
        assert!(!active());
    }

    #[test]
    fn a_panic_ends_the_run_and_unwinds_the_suspended_coroutines() {
        /// Counts its drops: a suspended coroutine's stack unwound runs them.
        struct Dropped<'a>(&'a AtomicUsize);
        impl Drop for Dropped<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = AtomicUsize::new(0);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let jobs: Vec<Box<dyn FnOnce() + '_>> = (0..3)
                .map(|i| {
                    let dropped = &dropped;
                    Box::new(move || {
                        let _guard = Dropped(dropped);
                        if i == 1 {
                            sleep(Duration::from_millis(20));
                            panic!("part failed");
                        }
                        sleep(Duration::from_secs(30));
                    }) as Box<dyn FnOnce()>
                })
                .collect();
            run(jobs)
        }));
        assert!(caught.is_err(), "the panic goes on up");
        assert_eq!(dropped.load(Ordering::SeqCst), 3, "every stack unwound");
        assert!(!active());
        // The thread can run coroutines again.
        assert_eq!(run(vec![Box::new(|| sleep(Duration::from_millis(1)))]), 1);
    }

    #[test]
    fn sockets_wait_for_readiness_and_deadlines() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The server answers the first client only; the second's read runs into its deadline.
        let server = std::thread::spawn(move || {
            let (mut a, _) = listener.accept().unwrap();
            let (b, _) = listener.accept().unwrap();
            let mut buf = [0u8; 5];
            a.read_exact(&mut buf).unwrap();
            a.write_all(b"world").unwrap();
            std::thread::sleep(Duration::from_millis(300));
            drop(b);
        });
        let outcomes = std::sync::Mutex::new(Vec::new());
        let timeouts = AtomicUsize::new(0);
        let jobs: Vec<Box<dyn FnOnce() + '_>> = (0..2)
            .map(|i| {
                let (outcomes, timeouts) = (&outcomes, &timeouts);
                Box::new(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_nonblocking(true).unwrap();
                    register(s.as_raw_fd()).unwrap();
                    if i == 0 {
                        assert!(wait(s.as_raw_fd(), Interest::Write, None));
                        s.write_all(b"hello").unwrap();
                    }
                    let deadline = Instant::now() + Duration::from_millis(100);
                    let mut buf = [0u8; 16];
                    loop {
                        if !wait(s.as_raw_fd(), Interest::Read, Some(deadline)) {
                            timeouts.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        match s.read(&mut buf) {
                            Ok(n) => {
                                outcomes.lock().unwrap().push(buf[..n].to_vec());
                                return;
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                clear(s.as_raw_fd(), Interest::Read)
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                }) as Box<dyn FnOnce()>
            })
            .collect();
        assert_eq!(run(jobs), 2);
        server.join().unwrap();
        assert_eq!(outcomes.into_inner().unwrap(), vec![b"world".to_vec()]);
        assert_eq!(timeouts.load(Ordering::SeqCst), 1);
    }
}
