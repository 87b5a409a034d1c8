//! File helpers over rustix without a heap: read a small file into a
//! caller's buffer, write a string, build paths in fixed buffers.

use core::fmt::Write;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Longest path this program builds (sysfs paths are well below).
pub const PATH_CAP: usize = 256;
/// A path built in a fixed buffer.
pub type PathBuf = heapless::String<PATH_CAP>;

/// Formats a path; `ENAMETOOLONG` if it does not fit.
pub fn path(args: core::fmt::Arguments) -> Result<PathBuf, Errno> {
    let mut p = PathBuf::new();
    p.write_fmt(args).map_err(|_| Errno::NAMETOOLONG)?;
    Ok(p)
}

/// Reads up to `buf.len()` bytes from the start of the file at `path`.
pub fn read_file<'b>(path: &str, buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut n = 0;
    while n < buf.len() {
        match rustix::io::read(&fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(&buf[..n])
}

/// `pread` until `buf` is full or the file ends; returns the bytes read.
pub fn pread_full<Fd: rustix::fd::AsFd>(fd: Fd, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
    let mut n = 0;
    while n < buf.len() {
        let at = offset.checked_add(n as u64).ok_or(Errno::INVAL)?;
        match rustix::io::pread(&fd, &mut buf[n..], at) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads a small text file (sysfs, procfs) and returns it trimmed.
pub fn read_str<'b>(path: &str, buf: &'b mut [u8]) -> Result<&'b str, Errno> {
    let b = read_file(path, buf)?;
    core::str::from_utf8(b).map(str::trim_ascii).map_err(|_| Errno::ILSEQ)
}

/// Writes `s` to the file at `path` in one `write` (as sysfs wants it).
pub fn write_str(path: &str, s: &str) -> Result<(), Errno> {
    write_with(path, s, OFlags::empty())
}

/// Writes `s` to a new or emptied file at `path` (mode 0644).
pub fn create_file(path: &str, s: &str) -> Result<(), Errno> {
    write_with(path, s, OFlags::CREATE | OFlags::TRUNC)
}

fn write_with(path: &str, s: &str, extra: OFlags) -> Result<(), Errno> {
    let fd = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC | extra, Mode::from_raw_mode(0o644))?;
    let n = rustix::io::write(&fd, s.as_bytes())?;
    if n == s.len() { Ok(()) } else { Err(Errno::IO) }
}

/// Creates a directory, accepting one that exists.
pub fn mkdir(path: &str) -> Result<(), Errno> {
    match rustix::fs::mkdir(path, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens the character device `node`; if devtmpfs has not made it, makes
/// it from the `MAJ:MIN` in `sysfs_dev` first (`/dev/snapshot`,
/// `/dev/mapper/control`). `ENOENT` when the kernel has no such device.
pub fn open_char_node(node: &str, sysfs_dev: &str, flags: OFlags) -> Result<rustix::fd::OwnedFd, Errno> {
    let flags = flags | OFlags::CLOEXEC;
    match rustix::fs::open(node, flags, Mode::empty()) {
        Err(Errno::NOENT) => {
            let mut buf = [0u8; 32];
            let (maj, min) = read_str(sysfs_dev, &mut buf).ok().and_then(resume_init::text::parse_maj_min).ok_or(Errno::NOENT)?;
            rustix::fs::mknodat(rustix::fs::CWD, node, rustix::fs::FileType::CharacterDevice, Mode::from_raw_mode(0o600), rustix::fs::makedev(maj, min))?;
            rustix::fs::open(node, flags, Mode::empty())
        }
        r => r,
    }
}

/// The bytes up to the last newline (a short read may cut a line).
pub fn whole_lines(b: &[u8]) -> &[u8] {
    b.iter().rposition(|&c| c == b'\n').map_or(b, |p| &b[..p])
}

