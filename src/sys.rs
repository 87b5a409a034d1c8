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
