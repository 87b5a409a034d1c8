//! resume-init: `/init` of an initramfs that resumes a hibernated system
//! from a kernel-written image, or hands over to the real root.
//!
//! Boot steps, in order (klibc kinit's order: resume before any root mount):
//! 1. mount devtmpfs on `/dev`, proc on `/proc`, sysfs on `/sys`; console on fds 0–2;
//! 2. open `/dev/kmsg` for log lines, read `/proc/cmdline`;
//! 3. load the kernel modules the resume device needs (`modules`): disks,
//!    device-mapper, dm-crypt; unlock and activate what the command line names;
//! 4. resume: if `resume=` names a swap area holding a hibernation image,
//!    invalidate it, stream it into `/dev/snapshot` and restore it
//!    (`resume`, `image_reader`, `ioctl`); returns only to boot fresh;
//! 5. load the root's filesystem modules; find the root device (`device`),
//!    mount it on `/root` (`mount`);
//! 6. switch root (`switch_root`) and exec `init=` or `/sbin/init`.
//!
//! References followed: klibc `kinit`/`run-init`, busybox `switch_root.c`,
//! origin (start-up without libc), booster (one file per concern).
//! Run as anything but PID 1 it is a command-line tool (`cli`).
#![no_std]
#![no_main]
// The unsafe boundary is a compiler rule, as in rustix: only the
// architecture's code (start-up, mem*, raw system calls), the portable
// mem* functions, the start-up, the kept descriptors and mappings, the
// ioctls and the worker threads may use it.
#![deny(unsafe_code)]
// No heap: an error carries its text or its list of devices by value, on
// the stack, where boxing is not an option.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod cli;
mod efi;
mod error;
mod fsutil;
mod hibernate;
mod image_reader;
#[allow(unsafe_code)]
mod ioctl;
mod log;
mod modules;
mod mount;
mod platform;
mod resume;
mod storage;
mod switch_root;

// Their short paths (`crate::device`, `crate::sys`, …), as before the
// folders.
use platform::{arch, clock, mem, rt, sys, thread};
use storage::{crypt, device, dm, lvm};

use core::ffi::CStr;
use core::fmt;
use core::sync::atomic::{AtomicI32, Ordering::Relaxed};

use resume_init::cmdline::{Config, Deadline};
use resume_init::devspec::{self, SpecError};
use resume_init::resume_source::{self, Origin, Source};

use crate::error::E;
use crate::log::{debug, error, info, warning};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const CMDLINE: &str = "/proc/cmdline";
/// x86 COMMAND_LINE_SIZE is 2048; leave room for other architectures.
const CMDLINE_CAP: usize = 4096;
/// The part of it that holds [`RESUME_CONF`] (a third) and the EFI
/// variable `HibernateLocation` (the command line is at most 2 KiB on x86).
const CONF_CAP: usize = 1536;
/// Where initramfs-tools keeps `RESUME=` (and `mkinitramfs.sh -r` puts it).
const RESUME_CONF: &str = "/conf/conf.d/resume";
/// Wait for the root device when neither `rootwait` nor `rootwait=` is given.
const DEFAULT_ROOT_WAIT_MS: u64 = 30_000;
/// What the kernel tries when `init=` is absent or fails (init/main.c).
const DEFAULT_INITS: [&str; 4] = ["/sbin/init", "/etc/init", "/bin/init", "/bin/sh"];

/// `panic=` from the command line, for [`hold`].
static PANIC_TIMEOUT: AtomicI32 = AtomicI32::new(0);

/// Called by `rt::entry` with the process arguments.
pub fn main(args: rt::Args) -> ! {
    if rustix::process::getpid() != rustix::process::Pid::INIT {
        // Dispatched here, not in `cli::run`, whose frame holds the
        // writer's buffers: the loader's scratch on top of them would
        // pass the 8 MiB stack limit of a process started by another
        // initramfs (it did: a segfault in initramfs-tools' init).
        if args.arg(1) == Some(b"resume") {
            rt::exit(resume_step());
        }
        rt::exit(cli::run(args));
    }
    let mut cmdline = [0u8; CMDLINE_CAP];
    let fatal = boot(args, &mut cmdline);
    error!("{fatal}");
    hold()
}

/// Why the boot cannot go on: rendered once, by `main`, as one line.
enum Fatal<'a> {
    NoRoot,
    RootSpec { root: &'a str, why: SpecError },
    RootMissing { root: &'a str, secs: u64 },
    RootSeveral { root: &'a str, all: device::Found },
    Mount { root: &'a str, node: fsutil::PathBuf, err: mount::RootError },
    Switch(switch_root::SwitchError),
    NoInit,
}

impl fmt::Display for Fatal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::NoRoot => f.write_str("no root= on the kernel command line; add e.g. root=UUID=… or root=/dev/vda1"),
            Fatal::RootSpec { root, why } => write!(f, "cannot understand root={root}: {why}"),
            Fatal::RootMissing { root, secs } => write!(
                f,
                "root device root={root} did not appear within {secs} s; check the name, or that the initramfs has its driver (mkinitramfs.sh -m MODULE); rootwait waits longer"
            ),
            Fatal::RootSeveral { root, all } => write!(
                f,
                "root={root} matches several devices ({}); not guessing which is the root: remove the copy (a disk or stick carrying the same identity), or name the device by path",
                device::Nodes(all)
            ),
            Fatal::Mount { root, node, err } => write!(f, "cannot mount root={root} ({node}): {err}"),
            Fatal::Switch(e) => write!(f, "cannot switch to the real root: {e}"),
            Fatal::NoInit => {
                f.write_str("no init could be started in the real root (tried init=")?;
                DEFAULT_INITS.iter().try_for_each(|i| write!(f, ", {i}"))?;
                f.write_str(")")
            }
        }
    }
}

/// Stops here for good, without exiting (an exiting PID 1 panics the
/// kernel). With `panic=N` it reboots after N seconds (at once for N < 0),
/// as the kernel does when no init can run, so a headless machine does
/// not sit forever.
pub fn hold() -> ! {
    let timeout = PANIC_TIMEOUT.load(Relaxed);
    if timeout == 0 {
        error!("cannot continue; the system stays here. Read the reason above, fix the kernel command line or the disks, and reboot");
    } else {
        if timeout > 0 {
            error!("cannot continue; rebooting in {timeout} s (panic={timeout}). Read the reason above");
            crate::clock::sleep_ms(u64::from(timeout.unsigned_abs()) * 1000);
        } else {
            // (The magnitude: no signed formatting in the binary for one message.)
            error!("cannot continue; rebooting now (panic=-{}). Read the reason above", timeout.unsigned_abs());
        }
        rustix::fs::sync();
        if let Err(e) = rustix::system::reboot(rustix::system::RebootCommand::Restart) {
            error!("cannot reboot: {}; the system stays here", E(e));
        }
    }
    loop {
        crate::clock::sleep_ms(3_600_000);
    }
}

/// The boot, top to bottom. Returns only the reason it cannot go on.
fn boot(args: rt::Args, cmdline: &mut [u8; CMDLINE_CAP]) -> Fatal<'_> {
    let mount_errors = mount::early();
    log::init_kmsg();
    let start = crate::clock::now_ms();
    info!("resume-init {VERSION} starting");
    for e in mount_errors.iter().flatten() {
        error!("{e}");
    }
    let (line_buf, conf_buf) = cmdline.split_at_mut(CMDLINE_CAP - CONF_CAP);
    let line = read_cmdline(line_buf);
    let cfg = Config::parse(line);
    PANIC_TIMEOUT.store(cfg.panic, Relaxed);
    log::init_levels(cfg.debug);
    debug!("command line: {}", line.trim_ascii_end());
    for p in &cfg.problems {
        warning!("ignoring {}=\"{}\": {}", p.param, p.value, p.why);
    }
    if cfg.problems_dropped > 0 {
        warning!("ignoring {} more bad parameters", cfg.problems_dropped);
    }

    modules::load(modules::Stage::Resume);
    // After the modules: efivarfs may be one.
    let mut toks = [resume_init::json::Token::EMPTY; 24];
    let source = resume_source(&cfg, conf_buf, &mut toks);
    crypt::unlock_all(&cfg);
    lvm::activate_all(&cfg);
    resume::run(&cfg, source);
    // Only a fresh boot gets here: now the root's filesystems.
    modules::load(modules::Stage::Root);

    if let Err(f) = mount_root(&cfg) {
        return f;
    }
    if let Err(e) = switch_root::switch_root(mount::NEW_ROOT) {
        return Fatal::Switch(e);
    }
    exec_init(&cfg, args, start)
}

/// `resume-init resume`: the resume step alone, for another initramfs
/// (initramfs-tools' `local-premount`, dracut's `pre-mount`) that has
/// mounted `/dev`, `/proc` and `/sys`, loaded the drivers and unlocked
/// what it unlocks. Resumes (never returns), or leaves no image behind
/// that it would not restore and returns 0: that initramfs boots on.
/// Never inlined: its stack (the loader's scratch) stays apart from the
/// command-line modes' (see `main`).
#[inline(never)]
fn resume_step() -> i32 {
    if !rustix::process::geteuid().is_root() {
        log::print(format_args!("resume-init resume: must run as root, from an initramfs before the root is mounted"));
        return 3;
    }
    log::init_kmsg();
    let mut cmdline = [0u8; CMDLINE_CAP];
    let (line_buf, conf_buf) = cmdline.split_at_mut(CMDLINE_CAP - CONF_CAP);
    let line = read_cmdline(line_buf);
    let cfg = Config::parse(line);
    PANIC_TIMEOUT.store(cfg.panic, Relaxed);
    log::init_levels(cfg.debug);
    info!("resume-init {VERSION}: the resume step of this initramfs");
    let mut toks = [resume_init::json::Token::EMPTY; 24];
    let source = resume_source(&cfg, conf_buf, &mut toks);
    resume::run(&cfg, source);
    0
}

/// Where the image is to be looked for (`resume_source::choose`): the
/// command line, else the device `mkinitramfs.sh -r` stored (as
/// initramfs-tools keeps it), else systemd's `HibernateLocation` EFI
/// variable, which is removed in any case. Says which.
fn resume_source<'a>(cfg: &Config<'a>, buf: &'a mut [u8], toks: &'a mut [resume_init::json::Token]) -> Option<Source<'a>> {
    let (conf_buf, efi_buf) = buf.split_at_mut(CONF_CAP / 3);
    let stored = fsutil::read_file(RESUME_CONF, conf_buf).ok().and_then(|b| core::str::from_utf8(b).ok());
    let efi = efi::take_location(efi_buf, toks);
    let uts = rustix::system::uname();
    let (source, efi_use) = resume_source::choose(cfg, stored, efi, uts.release().to_bytes());
    if let (Some(u), Some(loc)) = (efi_use, efi) {
        let l = loc.unwrap_or(resume_init::efi::Location { uuid: "?", offset: 0, kernel: None });
        info!("EFI variable HibernateLocation (UUID={} at page {}, kernel {}): {}; removed", l.uuid, l.offset, l.kernel.unwrap_or("?"), u.words());
    }
    if let Some(s) = source.filter(|s| s.origin == Origin::Stored) {
        info!("resume={} from {RESUME_CONF} (the command line names no resume device)", s.text);
    }
    source
}

/// The kernel command line, or as much of it as is valid UTF-8.
pub(crate) fn read_cmdline(buf: &mut [u8]) -> &str {
    match fsutil::read_file(CMDLINE, buf) {
        Ok(b) => core::str::from_utf8(b).unwrap_or_else(|e| {
            warning!("{CMDLINE} is not valid UTF-8 after byte {}; using what comes before", e.valid_up_to());
            core::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or("")
        }),
        Err(e) => {
            error!("cannot read {CMDLINE}: {}; going on with defaults", E(e));
            ""
        }
    }
}

/// Finds, waits for and mounts the root device.
fn mount_root<'a>(cfg: &Config<'a>) -> Result<(), Fatal<'a>> {
    let root = cfg.root.ok_or(Fatal::NoRoot)?;
    let spec = devspec::parse(root).map_err(|why| Fatal::RootSpec { root, why })?;
    if let Some(s) = cfg.rootdelay {
        info!("rootdelay: waiting {s} s before looking for the root device");
        crate::clock::sleep_ms(u64::from(s) * 1000);
    }
    let deadline = cfg.rootwait.unwrap_or(Deadline::Ms(DEFAULT_ROOT_WAIT_MS));
    let dev = match device::wait_for("root", root, &spec, deadline) {
        Ok(dev) => dev,
        Err(device::Miss::Several(all)) => return Err(Fatal::RootSeveral { root, all }),
        Err(device::Miss::None) => return Err(Fatal::RootMissing { root, secs: deadline.secs() }),
    };
    mount::root(&dev, cfg.rootfstype, cfg.rootflags, cfg.read_only).map_err(|err| Fatal::Mount { root, node: dev.node(), err })
}

/// Execs `init=` or the kernel's default list, with the arguments and
/// environment the kernel gave us. Returns only if none can run.
fn exec_init<'a>(cfg: &Config<'a>, args: rt::Args, start: u64) -> Fatal<'a> {
    let mut tried = heapless::Vec::<&str, 5>::new();
    if let Some(i) = cfg.init {
        let _ = tried.push(i);
    }
    for i in DEFAULT_INITS {
        let _ = tried.push(i);
    }
    for init in tried.iter() {
        let mut path = heapless::Vec::<u8, 256>::new();
        if path.extend_from_slice(init.as_bytes()).is_err() || path.push(0).is_err() {
            error!("init={init} is too long");
            continue;
        }
        let Ok(cpath) = CStr::from_bytes_with_nul(&path) else {
            error!("init={init} contains a NUL byte");
            continue;
        };
        info!("starting {init} ({} ms after start)", crate::clock::now_ms() - start);
        let e = args.exec(cpath);
        error!("cannot run {init}: {}", E(e));
    }
    Fatal::NoInit
}
