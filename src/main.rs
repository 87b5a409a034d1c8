//! resume-init: `/init` of an initramfs that resumes a hibernated system
//! from a kernel-written image, or hands over to the real root.
//!
//! Boot steps, in order (klibc kinit's order: resume before any root mount):
//! 1. mount devtmpfs on `/dev`, proc on `/proc`, sysfs on `/sys`; console on fds 0–2;
//! 2. open `/dev/kmsg` for log lines, read `/proc/cmdline`;
//! 3. load the kernel modules the initramfs carries (`modules`);
//! 4. resume: if `resume=` names a swap area holding a hibernation image,
//!    invalidate it, stream it into `/dev/snapshot` and restore it
//!    (`resume`, `image_reader`, `ioctl`); returns only to boot fresh;
//! 5. find the root device (`device`), mount it on `/root` (`mount`);
//! 6. switch root (`switch_root`) and exec `init=` or `/sbin/init`.
//!
//! References followed: klibc `kinit`/`run-init`, busybox `switch_root.c`,
//! origin (start-up without libc), booster (one file per concern).
//! Run as anything but PID 1 it is a command-line tool (`cli`).
#![no_std]
#![no_main]

mod cli;
mod device;
mod error;
mod fsutil;
mod image_reader;
mod ioctl;
mod log;
mod modules;
mod mount;
mod resume;
mod rt;
mod switch_root;
mod sys;

use core::ffi::CStr;

use resume_init::cmdline::{Config, Wait};
use resume_init::devspec;

use crate::device::Deadline;
use crate::error::E;
use crate::log::{debug, error, info, warning};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const CMDLINE: &str = "/proc/cmdline";
/// x86 COMMAND_LINE_SIZE is 2048; leave room for other architectures.
const CMDLINE_CAP: usize = 4096;
/// Wait for the root device when neither `rootwait` nor `rootwait=` is given.
const DEFAULT_ROOT_WAIT_MS: u64 = 30_000;
/// What the kernel tries when `init=` is absent or fails (init/main.c).
const DEFAULT_INITS: [&str; 4] = ["/sbin/init", "/etc/init", "/bin/init", "/bin/sh"];
/// The kernel passes at most 32 arguments to init (MAX_INIT_ARGS).
const MAX_INIT_ARGS: usize = 32;

/// Called by `rt::entry` with the process arguments.
pub fn main(args: rt::Args) -> ! {
    if rustix::process::getpid() != rustix::process::Pid::INIT {
        rt::exit(cli::run(args));
    }
    boot(args)
}

/// Stops here for good, without exiting (an exiting PID 1 panics the kernel).
pub fn hold() -> ! {
    error!("cannot continue; the system stays here. Read the reason above, fix the kernel command line or the disks, and reboot");
    loop {
        fsutil::sleep_ms(3_600_000);
    }
}

fn boot(args: rt::Args) -> ! {
    let mount_errors = mount::early();
    log::init_kmsg();
    let start = fsutil::now_ms();
    info!("resume-init {VERSION} starting");
    for e in mount_errors.iter().flatten() {
        error!("{e}");
    }
    let mut buf = [0u8; CMDLINE_CAP];
    let line = match fsutil::read_file(CMDLINE, &mut buf) {
        Ok(b) => core::str::from_utf8(b).unwrap_or_else(|e| {
            warning!("{CMDLINE} is not valid UTF-8 after byte {}; using what comes before", e.valid_up_to());
            core::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or("")
        }),
        Err(e) => {
            error!("cannot read {CMDLINE}: {}; going on with defaults", E(e));
            ""
        }
    };
    let cfg = Config::parse(line);
    log::init_levels(cfg.debug);
    debug!("command line: {}", line.trim_end());
    for p in &cfg.problems {
        warning!("ignoring {}=\"{}\": {}", p.param, p.value, p.why);
    }
    if cfg.problems_dropped > 0 {
        warning!("ignoring {} more bad parameters", cfg.problems_dropped);
    }

    modules::load_all();
    resume::run(&cfg);

    mount_root(&cfg);
    if let Err(e) = switch_root::switch_root(mount::NEW_ROOT) {
        match e {
            switch_root::SwitchError::Check(why) => error!("cannot switch to the real root: {why}"),
            switch_root::SwitchError::Sys(s) => error!("cannot switch to the real root: {s}"),
        }
        hold();
    }
    exec_init(&cfg, args, start)
}

/// Finds, waits for and mounts the root device; holds on failure.
fn mount_root(cfg: &Config) {
    let Some(root) = cfg.root else {
        error!("no root= on the kernel command line; add e.g. root=UUID=… or root=/dev/vda1");
        hold();
    };
    let spec = match devspec::parse(root) {
        Ok(s) => s,
        Err(why) => {
            error!("cannot understand root={root}: {why}");
            hold();
        }
    };
    if let Some(s) = cfg.rootdelay {
        info!("rootdelay: waiting {s} s before looking for the root device");
        fsutil::sleep_ms(u64::from(s) * 1000);
    }
    let deadline = match cfg.rootwait {
        Wait::Default => Deadline::Ms(DEFAULT_ROOT_WAIT_MS),
        Wait::Forever => Deadline::Forever,
        Wait::Seconds(s) => Deadline::Ms(u64::from(s) * 1000),
    };
    let Some(dev) = device::wait_for("root", root, &spec, deadline) else {
        let secs = match deadline {
            Deadline::Ms(ms) => ms / 1000,
            Deadline::Forever => 0,
        };
        error!("root device root={root} did not appear within {secs} s; check the name, or that the initramfs has its driver (mkinitramfs.sh -m MODULE); rootwait waits longer");
        hold();
    };
    if let Err(e) = mount::root(&dev, cfg.rootfstype, cfg.rootflags, cfg.read_only) {
        match e {
            mount::RootError::NoFilesystem { tried, last } => error!(
                "cannot mount root={root} ({}): no filesystem recognised it ({tried} types tried, last error {}); is it formatted? rootfstype= names the type",
                dev.node(),
                E(last)
            ),
            mount::RootError::Sys(s) => error!("cannot mount root={root}: {s}"),
        }
        hold();
    }
}

/// Execs `init=` or the kernel's default list, with the arguments and
/// environment the kernel gave us. Holds if none can run.
fn exec_init(cfg: &Config, args: rt::Args, start: u64) -> ! {
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
        let mut argv = [core::ptr::null::<u8>(); MAX_INIT_ARGS + 1];
        argv[0] = cpath.as_ptr().cast();
        let n = args.argc.min(MAX_INIT_ARGS);
        for (i, slot) in argv.iter_mut().enumerate().take(n).skip(1) {
            *slot = args.arg(i).map_or(core::ptr::null(), |a| a.as_ptr());
        }
        info!("starting {init} ({} ms after start)", fsutil::now_ms() - start);
        let e = rt::execve(cpath, &argv[..n.max(1) + 1], args.envp);
        error!("cannot run {init}: {}", E(e));
    }
    error!("no init could be started in the real root (tried init=, /sbin/init, /etc/init, /bin/init, /bin/sh)");
    hold()
}
