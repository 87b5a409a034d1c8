//! What lives for the whole run or outside the heap: the console on 0–2
//! and a [`KeptFd`] (`/dev/kmsg`), anonymous mappings ([`Anon`]), the
//! KDF's child process ([`in_child`]), `logon` keys in the kernel keyring
//! ([`LogonKey`]), and the writer's power-off on a fatal signal once an
//! image is committed.

use core::sync::atomic::{AtomicI32, Ordering::Relaxed};

use rustix::fd::{AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};

/// Standard error: the console once PID 1 has set up fds 0–2.
pub fn stderr() -> BorrowedFd<'static> {
    // SAFETY: fd 2 is never closed by this program; before the console is
    // put there, writes to it fail with EBADF, which callers ignore.
    unsafe { rustix::stdio::stderr() }
}

/// Standard input: the console, for a passphrase.
pub fn stdin() -> BorrowedFd<'static> {
    // SAFETY: fd 0 is never closed by this program; reads from a closed
    // fd fail with EBADF, which callers treat as "no console".
    unsafe { rustix::stdio::stdin() }
}

/// Standard output, for the command-line modes.
pub fn stdout() -> BorrowedFd<'static> {
    // SAFETY: fd 1 is never closed by this program; writes to a closed
    // fd fail with EBADF, which callers ignore.
    unsafe { rustix::stdio::stdout() }
}

/// A descriptor owned by a static for the life of the process: it can be
/// set once from an [`OwnedFd`] and borrowed from anywhere, never closed.
pub struct KeptFd(AtomicI32);

impl KeptFd {
    pub const fn new() -> KeptFd {
        KeptFd(AtomicI32::new(-1))
    }

    /// Keeps `fd` open for good. If one is kept already, `fd` is closed.
    pub fn keep(&self, fd: OwnedFd) {
        if self.0.compare_exchange(-1, fd.as_raw_fd(), Relaxed, Relaxed).is_ok() {
            let _ = fd.into_raw_fd(); // ownership moves into the static
        }
    }

    /// The kept descriptor, if one was set.
    pub fn get(&self) -> Option<BorrowedFd<'static>> {
        let raw = self.0.load(Relaxed);
        // SAFETY: a non-negative value was stored only by `keep`, from an
        // `OwnedFd` whose ownership it took over; nothing closes it.
        (raw >= 0).then(|| unsafe { BorrowedFd::borrow_raw(raw) })
    }
}

/// An anonymous private mapping, unmapped when dropped: the one-off large
/// memory of a KDF, never on the heap (there is none) nor the stack.
pub struct Anon {
    ptr: *mut core::ffi::c_void,
    len: usize,
}

impl Anon {
    /// Maps `len` zeroed bytes (rounded up to pages).
    pub fn new(len: usize) -> Result<Anon, rustix::io::Errno> {
        let len = len.max(1).next_multiple_of(4096);
        // SAFETY: a fresh private anonymous mapping that nothing else refers to.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(core::ptr::null_mut(), len, rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE, rustix::mm::MapFlags::PRIVATE)
        }?;
        Ok(Anon { ptr, len })
    }

    /// The mapping as Argon2 blocks (1 KiB each, zero as mapped).
    pub fn blocks(&mut self) -> &mut [argon2::Block] {
        // `Block` has one field, `[u64; 128]`: with no room for padding,
        // the field is all of it, so any 1024 bytes are a valid `Block`.
        const _: () = assert!(core::mem::size_of::<argon2::Block>() == core::mem::size_of::<[u64; 128]>());
        let n = self.len / core::mem::size_of::<argon2::Block>();
        // SAFETY: the mapping is `len` bytes, readable and writable, page-
        // aligned (more than `Block`'s 64), owned by `self` for the borrow;
        // every bit pattern is a valid `Block` (above).
        unsafe { core::slice::from_raw_parts_mut(self.ptr.cast::<argon2::Block>(), n) }
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: as in `blocks`, for bytes.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.cast::<u8>(), self.len) }
    }

    /// The first `N` values of type `T` the mapping holds, each made by
    /// `make` and written in place; `None` if they do not fit. For plain
    /// data: nothing is dropped when the mapping goes.
    pub fn filled<T, const N: usize>(&mut self, make: impl Fn() -> T) -> Option<&mut [T; N]> {
        let size = core::mem::size_of::<[T; N]>();
        if size > self.len || core::mem::align_of::<T>() > 4096 {
            return None;
        }
        let p = self.ptr.cast::<T>();
        for i in 0..N {
            // SAFETY: i < N and N values of T fit in the mapping (checked
            // above), which is page-aligned, so aligned for T; writing
            // does not read or drop what was there.
            unsafe { p.add(i).write(make()) };
        }
        // SAFETY: all N values were just written, the mapping is owned by
        // `self` for the borrow, and nothing else refers to it.
        Some(unsafe { &mut *p.cast::<[T; N]>() })
    }
}

impl Drop for Anon {
    fn drop(&mut self) {
        // Keys may have passed through: wipe before giving the pages back.
        zeroize::Zeroize::zeroize(self.bytes());
        // SAFETY: the mapping made in `new`, no longer borrowed.
        let _ = unsafe { rustix::mm::munmap(self.ptr, self.len) };
    }
}

/// How a child run by [`in_child`] ended, when not with success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEnd {
    /// `fork` or the shared page failed.
    NotStarted(rustix::io::Errno),
    /// It exited with this nonzero status.
    Failed(i32),
    /// A signal ended it (SIGKILL from the OOM killer, say).
    Killed(u32),
    /// It ran past its time limit and was killed.
    TimedOut,
}

/// Runs `f` in a forked child process and gives back the bytes it left in
/// `out` when it succeeded. For work that may exhaust memory (a KDF):
/// the kernel's OOM killer can take the child, never PID 1 (whose death
/// is a kernel panic), and the child's memory is all given back when it
/// ends. `out` travels through one shared anonymous page. A child still
/// running after `limit_ms` is killed: nothing it computes may hold the
/// boot for ever.
pub fn in_child(out: &mut [u8], limit_ms: u64, f: impl FnOnce(&mut [u8]) -> bool) -> Result<(), ChildEnd> {
    use rustix::mm::{MapFlags, ProtFlags};
    let len = out.len().min(4096);
    // SAFETY: a fresh shared anonymous page that nothing else refers to.
    let page = unsafe { rustix::mm::mmap_anonymous(core::ptr::null_mut(), 4096, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED) }
        .map_err(ChildEnd::NotStarted)?;
    // SAFETY: the page is 4096 bytes, readable and writable, unmapped only
    // below, after the last use of this slice.
    let shared = unsafe { core::slice::from_raw_parts_mut(page.cast::<u8>(), 4096) };
    // fork(2) as every architecture has it: clone(SIGCHLD) with no new
    // stack or thread-id pointers.
    // SAFETY: both processes continue here with their own copy of this
    // stack (the process has one thread now).
    let pid = unsafe { crate::arch::syscall5(linux_raw_sys::general::__NR_clone, linux_raw_sys::general::SIGCHLD as usize, 0, 0, 0, 0) };
    if pid == Ok(0) {
        let ok = f(&mut shared[..len]);
        crate::arch::exit_group(if ok { 0 } else { 1 });
    }
    let result = if let Err(e) = pid {
        Err(ChildEnd::NotStarted(e))
    } else {
        let child = rustix::process::Pid::from_raw(pid.unwrap_or(0) as i32);
        let deadline = crate::clock::now_ms() + limit_ms;
        let mut timed_out = false;
        let status = loop {
            match rustix::process::waitpid(child, rustix::process::WaitOptions::NOHANG) {
                Err(rustix::io::Errno::INTR) => {}
                Ok(Some((_, s))) => break Some(s),
                Ok(None) if crate::clock::now_ms() >= deadline && !timed_out => {
                    if let Some(c) = child {
                        let _ = rustix::process::kill_process(c, rustix::process::Signal::KILL);
                    }
                    timed_out = true;
                }
                Ok(None) => crate::clock::sleep_ms(10),
                _ => break None,
            }
        };
        match status {
            _ if timed_out => Err(ChildEnd::TimedOut),
            Some(s) if s.exit_status() == Some(0) => {
                out[..len].copy_from_slice(&shared[..len]);
                Ok(())
            }
            Some(s) => match (s.terminating_signal(), s.exit_status()) {
                (Some(sig), _) => Err(ChildEnd::Killed(sig as u32)),
                (_, code) => Err(ChildEnd::Failed(code.unwrap_or(-1))),
            },
            None => Err(ChildEnd::Failed(-1)),
        }
    };
    zeroize::Zeroize::zeroize(shared);
    // SAFETY: the page mapped above; `shared` is not used after this.
    let _ = unsafe { rustix::mm::munmap(page, 4096) };
    result
}

/// `KEY_SPEC_THREAD_KEYRING`: the calling thread's own keyring.
const KEY_SPEC_THREAD_KEYRING: i32 = -1;
/// `KEYCTL_INVALIDATE`: the key is gone at once, for every keyring.
const KEYCTL_INVALIDATE: usize = 21;

/// A `logon` key in the kernel keyring (readable by the kernel only, never
/// by user space), invalidated when dropped: how a volume key reaches
/// dm-crypt without appearing in its table.
pub struct LogonKey(i32);

impl LogonKey {
    /// Adds `payload` as a `logon` key named `desc` (`prefix:rest`) to
    /// this thread's keyring.
    pub fn add(desc: &str, payload: &[u8]) -> Result<LogonKey, rustix::io::Errno> {
        let mut d = heapless::Vec::<u8, 128>::new();
        d.extend_from_slice(desc.as_bytes()).map_err(|_| rustix::io::Errno::NAMETOOLONG)?;
        d.push(0).map_err(|_| rustix::io::Errno::NAMETOOLONG)?;
        // SAFETY: add_key(type, description, payload, plen, keyring): two
        // NUL-terminated strings and `payload.len()` readable bytes.
        let id = unsafe {
            crate::arch::syscall5(
                linux_raw_sys::general::__NR_add_key,
                c"logon".as_ptr() as usize,
                d.as_ptr() as usize,
                payload.as_ptr() as usize,
                payload.len(),
                KEY_SPEC_THREAD_KEYRING as usize,
            )
        }?;
        Ok(LogonKey(id as i32))
    }
}

impl Drop for LogonKey {
    fn drop(&mut self) {
        // SAFETY: keyctl(KEYCTL_INVALIDATE, id) takes two integers.
        let _ = unsafe { crate::arch::syscall5(linux_raw_sys::general::__NR_keyctl, KEYCTL_INVALIDATE, self.0 as u32 as usize, 0, 0, 0) };
    }
}

/// Set from the moment a hibernation image is committed on disk until the
/// running system has put the swap signature back (or powered off): a
/// panic or a fatal signal in that window powers the machine off instead
/// of exiting, because an exit closes `/dev/snapshot`, which thaws the
/// system while a valid image of its past waits on disk.
static COMMITTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Powers off, for good: the image on disk is restored at the next boot.
pub fn power_off_for_good() -> ! {
    loop {
        let _ = rustix::system::reboot(rustix::system::RebootCommand::PowerOff);
        crate::clock::sleep_ms(10_000);
    }
}

extern "C" fn on_fatal_signal(sig: i32) {
    if image_pending() {
        power_off_for_good()
    }
    // The image was withdrawn (its signature is back): the signal ends
    // the writer as it would have, and the exit thaws what is frozen.
    crate::arch::exit_group(128 + sig)
}

/// `struct sigaction` as `rt_sigaction(2)` takes it on x86_64.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Marks an image committed (see [`COMMITTED`]) and makes every fatal
/// signal that can be caught power the machine off. (SIGKILL cannot be
/// caught; nothing else runs to send it while the system is frozen.)
pub fn image_committed() {
    use linux_raw_sys::general::*;
    COMMITTED.store(true, core::sync::atomic::Ordering::SeqCst);
    // The handler never returns, so the restorer x86_64 requires is never
    // used; it is set to the handler itself.
    let h = on_fatal_signal as extern "C" fn(i32) as usize;
    let act = KernelSigaction { handler: h, flags: u64::from(SA_RESTORER), restorer: h, mask: !0 };
    for sig in [SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGPIPE, SIGTERM, SIGXCPU, SIGXFSZ, SIGSYS] {
        // SAFETY: rt_sigaction(sig, act, NULL, sizeof(sigset_t)) reads one
        // `KernelSigaction`; the handler is a valid function for the
        // whole process lifetime.
        let _ = unsafe { crate::arch::syscall5(__NR_rt_sigaction, sig as usize, &act as *const KernelSigaction as usize, 0, 8, 0) };
    }
}

/// The image on disk is invalid again (the signature is back): a failure
/// from here on may exit as usual.
pub fn image_withdrawn() {
    COMMITTED.store(false, core::sync::atomic::Ordering::SeqCst);
}

/// Whether a committed image is on disk while this process runs.
pub fn image_pending() -> bool {
    COMMITTED.load(core::sync::atomic::Ordering::SeqCst)
}
