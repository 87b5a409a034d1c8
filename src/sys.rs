//! Borrowing the process-wide file descriptors that live for the whole run:
//! the console on 0–2 and a [`KeptFd`] (`/dev/kmsg`). With `rt.rs` and
//! `ioctl.rs`, one of the only modules allowed `unsafe`.

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

/// `CLOCK_MONOTONIC` in nanoseconds, by the plain system call: rustix's
/// `clock_gettime` first looks the vDSO up (1.7 KiB of ELF parsing), which
/// the few thousand readings of a load do not need.
pub fn monotonic_ns() -> u64 {
    let mut ts = linux_raw_sys::general::__kernel_timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime(2) writes one `__kernel_timespec` to the
    // pointer it is given and touches nothing else; the clock id is valid.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") linux_raw_sys::general::__NR_clock_gettime as usize => _,
            in("rdi") linux_raw_sys::general::CLOCK_MONOTONIC as usize,
            in("rsi") &mut ts as *mut linux_raw_sys::general::__kernel_timespec,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
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

    /// The mapping as Argon2 blocks (1 KiB of `u64`s each).
    pub fn blocks(&mut self) -> &mut [[u64; 128]] {
        let n = self.len / core::mem::size_of::<[u64; 128]>();
        // SAFETY: the mapping is `len` bytes, readable and writable, page-
        // aligned (enough for `u64`), owned by `self` for the borrow; any
        // bytes are valid `u64`s.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.cast::<[u64; 128]>(), n) }
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: as in `blocks`, for bytes.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Anon {
    fn drop(&mut self) {
        // Keys may have passed through: wipe before giving the pages back.
        let b = self.bytes();
        b.fill(0);
        core::hint::black_box(&b);
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
}

/// Runs `f` in a forked child process and gives back the bytes it left in
/// `out` when it succeeded. For work that may exhaust memory (a KDF):
/// the kernel's OOM killer can take the child, never PID 1 (whose death
/// is a kernel panic), and the child's memory is all given back when it
/// ends. `out` travels through one shared anonymous page.
pub fn in_child(out: &mut [u8], f: impl FnOnce(&mut [u8]) -> bool) -> Result<(), ChildEnd> {
    use rustix::mm::{MapFlags, ProtFlags};
    let len = out.len().min(4096);
    // SAFETY: a fresh shared anonymous page that nothing else refers to.
    let page = unsafe { rustix::mm::mmap_anonymous(core::ptr::null_mut(), 4096, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED) }
        .map_err(ChildEnd::NotStarted)?;
    // SAFETY: the page is 4096 bytes, readable and writable, unmapped only
    // below, after the last use of this slice.
    let shared = unsafe { core::slice::from_raw_parts_mut(page.cast::<u8>(), 4096) };
    let pid: isize;
    // SAFETY: fork(2) takes no argument; both processes continue here with
    // their own copy of this stack (the process has one thread now).
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") linux_raw_sys::general::__NR_fork as isize => pid, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    if pid == 0 {
        let ok = f(&mut shared[..len]);
        crate::rt::exit(if ok { 0 } else { 1 });
    }
    let result = if pid < 0 {
        Err(ChildEnd::NotStarted(rustix::io::Errno::from_raw_os_error(-pid as i32)))
    } else {
        let child = rustix::process::Pid::from_raw(pid as i32);
        let status = loop {
            match rustix::process::waitpid(child, rustix::process::WaitOptions::empty()) {
                Err(rustix::io::Errno::INTR) => {}
                Ok(Some((_, s))) => break Some(s),
                _ => break None,
            }
        };
        match status {
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
    shared.fill(0);
    core::hint::black_box(&shared);
    // SAFETY: the page mapped above; `shared` is not used after this.
    let _ = unsafe { rustix::mm::munmap(page, 4096) };
    result
}
