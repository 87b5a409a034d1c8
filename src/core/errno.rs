//! Error numbers: a type that cannot hold 0, and their names in words for
//! one-line messages a user can act on.

use core::fmt;
use core::num::NonZeroU16;

/// A Linux error number (1..=4095). It cannot be 0: a source that reports
/// failure without a number gets `EIO`, so converting it into the
/// system side's errno never meets a "success" value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(NonZeroU16);

impl Errno {
    pub const PERM: Errno = Errno::known(1);
    pub const IO: Errno = Errno::known(5);
    pub const NXIO: Errno = Errno::known(6);
    pub const INVAL: Errno = Errno::known(22);

    const fn known(n: u16) -> Errno {
        match NonZeroU16::new(n) {
            Some(n) => Errno(n),
            None => panic!("errno 0"),
        }
    }

    /// From a raw number, positive or negated; 0 and anything beyond
    /// 4095 (the kernel's `MAX_ERRNO`) become `EIO`.
    pub fn new(raw: i32) -> Errno {
        u16::try_from(raw.unsigned_abs())
            .ok()
            .filter(|n| *n <= 4095)
            .and_then(NonZeroU16::new)
            .map_or(Errno::IO, Errno)
    }

    /// The positive number.
    pub fn raw(self) -> i32 {
        i32::from(self.0.get())
    }
}

/// `ENOENT (no such file or directory)`, or `error N` for one not named here.
impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.raw();
        let (name, text) = describe(n);
        if name == "E?" { write!(f, "error {n}") } else { write!(f, "{name} ({text})") }
    }
}

/// `NUMBER NAME description` lines: packed text is a third of what a
/// `match` of pairs compiled to (a 121-entry lookup table).
const TABLE: &str = "\
1 EPERM operation not permitted\n\
2 ENOENT no such file or directory\n\
4 EINTR interrupted\n\
5 EIO input/output error\n\
6 ENXIO no such device or address\n\
7 E2BIG argument list too long\n\
8 ENOEXEC not an executable format\n\
9 EBADF bad file descriptor\n\
12 ENOMEM out of memory\n\
13 EACCES permission denied\n\
14 EFAULT bad address\n\
15 ENOTBLK not a block device\n\
16 EBUSY device or resource busy\n\
17 EEXIST already exists\n\
18 EXDEV cross-device link\n\
19 ENODEV no such device\n\
20 ENOTDIR not a directory\n\
21 EISDIR is a directory\n\
22 EINVAL invalid argument\n\
24 EMFILE too many open files\n\
25 ENOTTY inappropriate ioctl for device\n\
26 ETXTBSY text file busy\n\
27 EFBIG file too large\n\
28 ENOSPC no space left on device\n\
30 EROFS read-only file system\n\
36 ENAMETOOLONG name too long\n\
38 ENOSYS function not implemented\n\
40 ELOOP too many levels of symbolic links\n\
61 ENODATA no data available\n\
74 EBADMSG bad message\n\
84 EILSEQ invalid byte sequence\n\
95 EOPNOTSUPP operation not supported\n\
110 ETIMEDOUT timed out\n\
117 EUCLEAN structure needs cleaning\n\
121 EREMOTEIO remote I/O error\n\
";

/// The symbolic name and a short description of an errno value.
pub fn describe(errno: i32) -> (&'static str, &'static str) {
    TABLE
        .lines()
        .find_map(|l| {
            let (n, rest) = l.split_once(' ')?;
            (crate::text::parse_u64(n)? == errno as u64).then(|| rest.split_once(' ')).flatten()
        })
        .unwrap_or(("E?", "unknown error"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert_eq!(super::describe(1), ("EPERM", "operation not permitted"));
        assert_eq!(super::describe(22).0, "EINVAL");
        assert_eq!(super::describe(9999).0, "E?");
    }

    #[test]
    fn never_zero() {
        use super::Errno;
        assert_eq!(Errno::new(0), Errno::IO);
        assert_eq!(Errno::new(-22), Errno::INVAL);
        assert_eq!(Errno::new(i32::MIN), Errno::IO);
        assert_eq!(Errno::new(5000), Errno::IO);
        assert_eq!(Errno::new(4095).raw(), 4095);
        assert_eq!(Errno::PERM.to_string(), "EPERM (operation not permitted)");
        assert_eq!(Errno::new(200).to_string(), "error 200");
    }
}
