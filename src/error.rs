//! The one error type of the init's shell: an operation, what it was done
//! to, and the errno, rendered once as a single line.

use core::fmt;
use rustix::io::Errno;

/// An errno shown as `ENOENT (no such file or directory)`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct E(pub Errno);

impl fmt::Display for E {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        core_errno(self.0).fmt(f)
    }
}

/// The core's errno for a system call's.
pub fn core_errno(e: Errno) -> resume_init::errno::Errno {
    resume_init::errno::Errno::new(e.raw_os_error())
}

/// A failed system call: `op` on `what`.
#[derive(Clone, Copy)]
pub struct Sys<'a> {
    pub op: &'static str,
    pub what: &'a str,
    pub errno: Errno,
}

impl fmt::Display for Sys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.op, self.what, E(self.errno))
    }
}
