//! Borrowing the process-wide file descriptors that live for the whole run
//! (the console on 0–2, `/dev/kmsg`). The only `unsafe` outside `rt.rs`
//! and `ioctl.rs`.

use rustix::fd::BorrowedFd;

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

/// A descriptor kept in a static for the life of the process.
pub fn forever_fd(raw: i32) -> BorrowedFd<'static> {
    // SAFETY: callers pass only descriptors they obtained with
    // `OwnedFd::into_raw_fd` and never close (see `log::init_kmsg`).
    unsafe { BorrowedFd::borrow_raw(raw) }
}
