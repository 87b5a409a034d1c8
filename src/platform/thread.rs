//! Worker threads without libc: `clone(2)` (the architecture's
//! `arch::clone_thread`) on an `mmap`ed stack with a guard page, a
//! futex-based fork-join [`Pool`], and a join through
//! `CLONE_CHILD_CLEARTID`. Everything it offers is safe: [`Pool::with`]
//! joins every worker before it returns, so jobs may borrow the caller's
//! stack.
//!
//! No TLS (`CLONE_SETTLS` is left out: the workers share the main
//! thread's FS base, harmless while nothing uses thread-locals) and no
//! signals to speak of. The writer starts its pool only after the
//! snapshot exists and joins it before anything thaws or powers off
//! (`docs/writer.md` §2): a thread alive at the thaw trips a kernel
//! warning.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::*};

use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};
use rustix::thread::futex;

/// Most threads a pool runs (the caller included).
pub const MAX_THREADS: usize = 16;
/// Each worker's stack; jobs keep their big buffers elsewhere.
const STACK: usize = 256 * 1024;
const GUARD: usize = 4096;

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SYSVSEM: u64 = 0x40000;
const CLONE_CHILD_CLEARTID: u64 = 0x200000;

/// CPUs this process may run on.
pub fn online_cpus() -> usize {
    rustix::thread::sched_getaffinity(None).map_or(1, |s| s.count() as usize).max(1)
}

/// A job, its lifetime erased while a [`Pool::run_beside`] call keeps it alive.
type Job = *const (dyn Fn(usize) + Sync);

/// What the workers share with the caller.
struct Shared {
    /// Bumped for every job (and for the stop request).
    generation: AtomicU32,
    /// Workers still busy with the current job.
    pending: AtomicU32,
    stop: AtomicBool,
    job: UnsafeCell<Option<Job>>,
}

// SAFETY: `job` is written only by the caller of `run_beside`, before it bumps
// `generation` (release) and while no worker runs a job; workers read it
// only after seeing the new generation (acquire) and stop using it before
// they decrement `pending`, which `run_beside` waits for.
unsafe impl Sync for Shared {}

/// One worker's start block: what its entry needs, and the word the kernel
/// clears (and wakes) when it exits.
struct Worker {
    shared: *const Shared,
    index: usize,
    tid: AtomicU32,
    stack: *mut c_void,
}

/// A fork-join pool: [`run_beside`](Pool::run_beside) calls a job on every thread at
/// once, the caller being thread 0.
pub struct Pool<'a> {
    shared: &'a Shared,
    threads: usize,
}

impl Pool<'_> {
    /// Runs `f` with a pool of up to `threads` threads (the caller counts
    /// as one; fewer if a stack or a `clone` fails); every worker is joined
    /// and its stack unmapped before this returns.
    pub fn with<R>(threads: usize, f: impl FnOnce(&Pool) -> R) -> R {
        let shared = Shared {
            generation: AtomicU32::new(0),
            pending: AtomicU32::new(0),
            stop: AtomicBool::new(false),
            job: UnsafeCell::new(None),
        };
        let mut workers: heapless::Vec<Worker, MAX_THREADS> = heapless::Vec::new();
        let want = threads.clamp(1, MAX_THREADS);
        for index in 1..want {
            let _ = workers.push(Worker { shared: &shared, index, tid: AtomicU32::new(u32::MAX), stack: core::ptr::null_mut() });
        }
        let mut started = 0;
        for w in workers.iter_mut() {
            if !start(w) {
                break;
            }
            started += 1;
        }
        let pool = Pool { shared: &shared, threads: 1 + started };
        let r = f(&pool);
        shared.stop.store(true, Release);
        shared.generation.fetch_add(1, Release);
        let _ = futex::wake(&shared.generation, futex::Flags::PRIVATE, u32::MAX);
        for w in workers.iter().take(started) {
            join(w);
        }
        r
    }

    /// Threads in the pool, the caller included.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Calls `job(i)` for every thread index `i` at once (0 on the caller,
    /// which first runs `beside` while the workers are already at theirs)
    /// and returns when all calls have returned.
    pub fn run_beside(&self, job: &(dyn Fn(usize) + Sync), beside: &mut dyn FnMut()) {
        let s = self.shared;
        if self.threads > 1 {
            // SAFETY: the lifetime is erased only until the workers are
            // done with the job: this call waits for `pending` to reach 0.
            let erased: Job = unsafe { core::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(job) };
            // SAFETY: no worker reads `job` now (all finished the last one).
            unsafe { *s.job.get() = Some(erased) };
            s.pending.store(self.threads as u32 - 1, Release);
            s.generation.fetch_add(1, Release);
            let _ = futex::wake(&s.generation, futex::Flags::PRIVATE, u32::MAX);
        }
        beside();
        job(0);
        loop {
            let left = s.pending.load(Acquire);
            if left == 0 {
                break;
            }
            let _ = futex::wait(&s.pending, futex::Flags::PRIVATE, left, None);
        }
    }

    /// Calls `f` on every element of `items`, each thread taking the next
    /// one not yet taken; returns when all are done.
    pub fn for_each_mut<T: Send>(&self, items: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
        self.for_each_beside_mut(items, f, &mut || {})
    }

    /// [`for_each_mut`](Self::for_each_mut), the caller running `beside`
    /// first and then taking elements too.
    pub fn for_each_beside_mut<T: Send>(&self, items: &mut [T], f: &(dyn Fn(&mut T) + Sync), beside: &mut dyn FnMut()) {
        let base = Items(items.as_mut_ptr());
        let len = items.len();
        let next = AtomicUsize::new(0);
        let job = |_: usize| {
            let b = &base;
            loop {
                let k = next.fetch_add(1, Relaxed);
                if k >= len {
                    break;
                }
                // SAFETY: k < len, and the counter hands each k to exactly
                // one thread, so the `&mut` are disjoint; `items` is
                // borrowed mutably for the whole call.
                f(unsafe { &mut *b.0.add(k) });
            }
        };
        self.run_beside(&job, beside);
    }
}

impl<T: Send> resume_init::par::ForEach<T> for Pool<'_> {
    fn threads(&self) -> usize {
        self.threads
    }
    fn for_each(&self, items: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
        self.for_each_mut(items, f)
    }
    fn for_each_beside(&self, items: &mut [T], f: &(dyn Fn(&mut T) + Sync), beside: &mut dyn FnMut()) {
        self.for_each_beside_mut(items, f, beside)
    }
}

/// The base pointer of a slice handed out in disjoint parts.
struct Items<T>(*mut T);
// SAFETY: only used by `for_each_mut`, which gives every thread its own
// elements of a slice of `Send` items.
unsafe impl<T: Send> Sync for Items<T> {}

/// The worker's loop: wait for a new generation, run the job, report.
fn work(w: &Worker) {
    // SAFETY: `Pool::with` keeps `shared` alive until this worker is joined.
    let s = unsafe { &*w.shared };
    let mut seen = 0;
    loop {
        let g = s.generation.load(Acquire);
        if g == seen {
            let _ = futex::wait(&s.generation, futex::Flags::PRIVATE, g, None);
            continue;
        }
        seen = g;
        if s.stop.load(Acquire) {
            return;
        }
        // SAFETY: set before the generation was bumped (see `Shared`).
        if let Some(job) = unsafe { *s.job.get() } {
            // SAFETY: `run_beside` keeps the job alive until `pending` is 0.
            unsafe { (*job)(w.index) };
        }
        if s.pending.fetch_sub(1, AcqRel) == 1 {
            let _ = futex::wake(&s.pending, futex::Flags::PRIVATE, 1);
        }
    }
}

/// The first Rust code a worker runs, on its own stack.
extern "C" fn entry(w: usize) -> ! {
    // SAFETY: `start` passes the address of a `Worker` that outlives the thread.
    work(unsafe { &*(w as *const Worker) });
    crate::arch::exit_thread()
}

/// Maps a stack with a guard page and clones a thread onto it.
fn start(w: &mut Worker) -> bool {
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let Ok(base) = (unsafe { rustix::mm::mmap_anonymous(core::ptr::null_mut(), STACK + GUARD, ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE | MapFlags::STACK) }) else {
        return false;
    };
    // SAFETY: the lowest page of the mapping just made.
    let _ = unsafe { rustix::mm::mprotect(base, GUARD, MprotectFlags::empty()) };
    w.stack = base;
    let top = (base as usize + STACK + GUARD) & !15;
    let flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID;
    // SAFETY: a fresh 16-byte-aligned stack nothing else uses; `tid` lives
    // in the `Worker`, which outlives the thread (joined before it goes);
    // `entry` never returns.
    let ret = unsafe { crate::arch::clone_thread(flags as usize, top, w.tid.as_ptr(), entry, w as *const Worker as usize) };
    if ret < 0 {
        // SAFETY: no thread uses the stack: the clone failed.
        let _ = unsafe { rustix::mm::munmap(base, STACK + GUARD) };
        w.stack = core::ptr::null_mut();
        return false;
    }
    true
}

/// Waits until the kernel has cleared the worker's tid (it exited), then
/// unmaps its stack.
fn join(w: &Worker) {
    loop {
        let v = w.tid.load(Acquire);
        if v == 0 {
            break;
        }
        // Not private: the kernel's wake at thread exit is a shared one.
        let _ = futex::wait(&w.tid, futex::Flags::empty(), v, None);
    }
    if !w.stack.is_null() {
        // SAFETY: the thread that ran on it has exited.
        let _ = unsafe { rustix::mm::munmap(w.stack, STACK + GUARD) };
    }
}

#[cfg(feature = "selftest")]
/// `resume-init selftest`: a pool of at least two threads sums disjoint
/// parts of an array 200 times; every result must match a plain sum.
pub fn selftest() -> bool {
    let parts: [[u64; 64]; 8] = core::array::from_fn(|i| core::array::from_fn(|j| (i * 64 + j) as u64));
    let want: u64 = (0..512u64).sum();
    Pool::with(online_cpus().max(2), |pool| {
        let ok = (0..200).all(|_| {
            let mut sums: [(usize, u64); 8] = core::array::from_fn(|i| (i, 0));
            pool.for_each_mut(&mut sums, &|s| s.1 = parts[s.0].iter().sum());
            sums.iter().map(|s| s.1).sum::<u64>() == want
        });
        ok && pool.threads() >= 2
    })
}
