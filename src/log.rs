//! Messages: every line goes to `/dev/kmsg` as `resume-init: …` (so it
//! lands in `dmesg` with a kernel timestamp). The kernel echoes kmsg lines
//! on the console up to its `console_loglevel` (set by `quiet`, `debug`,
//! `loglevel=`); warnings and errors that level would hide are written to
//! the console directly, so they are always seen, and exactly once.
//! Debug lines are written only with `debug` on the command line.
//! In the command-line modes lines go to standard error (`inspect`), or
//! to kmsg and standard error, then kmsg only while the system is frozen
//! (`hibernate`, see [`Echo`]).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering::Relaxed};

use rustix::fs::{Mode, OFlags};

use crate::sys::KeptFd;

/// syslog priorities, as `<N>` prefixes of `/dev/kmsg` use them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Err = 3,
    Warn = 4,
    Info = 6,
    Debug = 7,
}

const PREFIX: &str = "resume-init: ";
const KMSG_PATH: &str = "/dev/kmsg";
/// The kernel's console log level; messages below it reach the console.
const PRINTK: &str = "/proc/sys/kernel/printk";
/// Lifts the default per-writer rate limit of 10 lines per 5 s on kmsg.
const PRINTK_DEVKMSG: &str = "/proc/sys/kernel/printk_devkmsg";
/// The kernel's default console_loglevel (CONFIG_CONSOLE_LOGLEVEL_DEFAULT).
const DEFAULT_CONSOLE_LEVEL: u32 = 7;
const LINE_MAX: usize = 512;

static KMSG: KeptFd = KeptFd::new();
static CONSOLE_LEVEL: AtomicU32 = AtomicU32::new(DEFAULT_CONSOLE_LEVEL);
static DEBUG: AtomicBool = AtomicBool::new(false);
static ECHO: AtomicU8 = AtomicU8::new(Echo::Console as u8);
/// Standard error is systemd's journal, which takes kmsg lines too.
static STDERR_IS_JOURNAL: AtomicBool = AtomicBool::new(false);

/// Whether standard error is the journal stream systemd names in
/// `JOURNAL_STREAM` (`DEVICE:INODE`): then lines go to kmsg only, which
/// the journal shows as well, so that each is in it once.
pub fn set_journal_stream(journal: Option<&[u8]>) {
    let Some((dev, ino)) = journal.and_then(|j| core::str::from_utf8(j).ok()).and_then(|j| j.split_once(':')) else { return };
    let (Some(dev), Some(ino)) = (resume_init::text::parse_u64(dev), resume_init::text::parse_u64(ino)) else { return };
    let same = rustix::fs::fstat(crate::sys::stderr()).is_ok_and(|st| st.st_dev == dev && st.st_ino == ino);
    STDERR_IS_JOURNAL.store(same, Relaxed);
}

/// Which lines also go to standard error besides `/dev/kmsg`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// PID 1: warnings and errors the console level would hide.
    Console = 0,
    /// A command run from a shell: every line.
    All = 1,
    /// While other processes are frozen: none (standard error may be a
    /// pipe to a frozen reader, and a full pipe would block for good).
    Never = 2,
}

/// Sets which lines are echoed on standard error.
pub fn set_echo(e: Echo) {
    ECHO.store(e as u8, Relaxed);
}

/// Opens `/dev/kmsg` for the rest of the run (needs `/dev` mounted).
pub fn init_kmsg() {
    if let Ok(fd) = rustix::fs::open(KMSG_PATH, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()) {
        KMSG.keep(fd);
    }
}

/// Reads the console log level and lifts kmsg rate limiting (needs `/proc`).
pub fn init_levels(debug: bool) {
    DEBUG.store(debug, Relaxed);
    let mut buf = [0u8; 64];
    if let Ok(s) = crate::fsutil::read_str(PRINTK, &mut buf)
        && let Some(l) = s.split_ascii_whitespace().next().and_then(resume_init::text::parse_u32) {
            CONSOLE_LEVEL.store(l, Relaxed);
        }
    // Fails when printk.devkmsg= was given on the command line: then the
    // user chose the policy and it stays.
    let _ = crate::fsutil::write_str(PRINTK_DEVKMSG, "on\n");
}

/// A line buffer that truncates instead of failing when full.
struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LINE_MAX - 1 - self.len; // keep one byte for the newline
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

fn write_all(fd: rustix::fd::BorrowedFd<'_>, mut b: &[u8]) {
    while !b.is_empty() {
        match rustix::io::write(fd, b) {
            Ok(0) | Err(_) => return,
            Ok(n) => b = &b[n..],
        }
    }
}

/// Writes one message at `level`.
pub fn log(level: Level, args: fmt::Arguments) {
    if level == Level::Debug && !DEBUG.load(Relaxed) {
        return;
    }
    // The kmsg level as `<N>`, put in place (no integer formatting).
    let mut line = Line { buf: [0; LINE_MAX], len: 3 };
    line.buf[..3].copy_from_slice(&[b'<', b'0' + level as u8, b'>']);
    let _ = write!(line, "{PREFIX}{args}");
    line.buf[line.len] = b'\n';
    let text = &line.buf[..line.len + 1];
    let to_kmsg = KMSG.get().is_some_and(|fd| rustix::io::write(fd, text).is_ok());
    // Warnings and errors reach the console even where the kernel's
    // console_loglevel (`quiet`) keeps kmsg lines off it; lower levels
    // are left to that filter, as users of `quiet` expect.
    let hidden = (level as u32) >= CONSOLE_LEVEL.load(Relaxed);
    let echo = match ECHO.load(Relaxed) {
        0 => !to_kmsg || (level <= Level::Warn && hidden),
        1 => !to_kmsg || !STDERR_IS_JOURNAL.load(Relaxed),
        _ => false,
    };
    if echo {
        let start = text.iter().position(|&b| b == b'>').map_or(0, |p| p + 1);
        write_all(crate::sys::stderr(), &text[start..]);
    }
}

/// Prints a line on standard output (the command-line modes' report).
pub fn print(args: fmt::Arguments) {
    let mut line = Line { buf: [0; LINE_MAX], len: 0 };
    let _ = line.write_fmt(args);
    line.buf[line.len] = b'\n';
    write_all(crate::sys::stdout(), &line.buf[..line.len + 1]);
}

pub fn error_args(args: fmt::Arguments) {
    log(Level::Err, args)
}

macro_rules! error { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Err, format_args!($($t)*)) } }
macro_rules! warning { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Warn, format_args!($($t)*)) } }
macro_rules! info { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Info, format_args!($($t)*)) } }
macro_rules! debug { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Debug, format_args!($($t)*)) } }
macro_rules! out { ($($t:tt)*) => { $crate::log::print(format_args!($($t)*)) } }
pub(crate) use {debug, error, info, out, warning};
