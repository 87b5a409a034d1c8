//! Error numbers in words, for one-line messages a user can act on.

/// The symbolic name and a short description of an errno value.
pub fn describe(errno: i32) -> (&'static str, &'static str) {
    match errno {
        1 => ("EPERM", "operation not permitted"),
        2 => ("ENOENT", "no such file or directory"),
        4 => ("EINTR", "interrupted"),
        5 => ("EIO", "input/output error"),
        6 => ("ENXIO", "no such device or address"),
        7 => ("E2BIG", "argument list too long"),
        8 => ("ENOEXEC", "not an executable format"),
        9 => ("EBADF", "bad file descriptor"),
        12 => ("ENOMEM", "out of memory"),
        13 => ("EACCES", "permission denied"),
        14 => ("EFAULT", "bad address"),
        15 => ("ENOTBLK", "not a block device"),
        16 => ("EBUSY", "device or resource busy"),
        17 => ("EEXIST", "already exists"),
        18 => ("EXDEV", "cross-device link"),
        19 => ("ENODEV", "no such device"),
        20 => ("ENOTDIR", "not a directory"),
        21 => ("EISDIR", "is a directory"),
        22 => ("EINVAL", "invalid argument"),
        24 => ("EMFILE", "too many open files"),
        25 => ("ENOTTY", "inappropriate ioctl for device"),
        26 => ("ETXTBSY", "text file busy"),
        27 => ("EFBIG", "file too large"),
        28 => ("ENOSPC", "no space left on device"),
        30 => ("EROFS", "read-only file system"),
        36 => ("ENAMETOOLONG", "name too long"),
        38 => ("ENOSYS", "function not implemented"),
        40 => ("ELOOP", "too many levels of symbolic links"),
        61 => ("ENODATA", "no data available"),
        74 => ("EBADMSG", "bad message"),
        84 => ("EILSEQ", "invalid byte sequence"),
        95 => ("EOPNOTSUPP", "operation not supported"),
        110 => ("ETIMEDOUT", "timed out"),
        117 => ("EUCLEAN", "structure needs cleaning"),
        121 => ("EREMOTEIO", "remote I/O error"),
        _ => ("E?", "unknown error"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert_eq!(super::describe(1), ("EPERM", "operation not permitted"));
        assert_eq!(super::describe(22).0, "EINVAL");
        assert_eq!(super::describe(9999).0, "E?");
    }
}
