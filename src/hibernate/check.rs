//! `resume-init check [--file PATH] [--device DEV] [--offset PAGES]`:
//! why this machine can or cannot hibernate and come back, one line per
//! finding with its fix, writing nothing. It runs the writer's own checks
//! of the place (`examine`, the device opened read-only), then what only
//! a report needs: hibernation offered by the kernel, room for the image
//! the machine would write now, where the next boot will look, and
//! whether the running kernel's initramfs carries resume-init.
//! Exit status 0 when a hibernation now would be restored, 1 if not.

use core::fmt::Arguments;

use resume_init::cmdline::Config;
use resume_init::swsusp::PAGE;
use resume_init::text::parse_u64;
use rustix::fs::{Mode, OFlags};

use super::{Aligned, Examined, Options, examine, file, target};
use crate::fsutil::{self, read_str};
use crate::log::out;

/// The path, inside an initramfs, of the line that says resume-init is in
/// it and in which role (`scripts/mkinitramfs.sh`, the initramfs-tools
/// hook): an uncompressed cpio member before the compressed rest, so
/// that `check` can read it without a decompressor.
pub const MARKER: &[u8] = b"etc/resume-init/initramfs";

struct Report {
    problems: u32,
}

impl Report {
    fn ok(&self, a: Arguments) {
        out!("ok       {a}");
    }
    fn note(&self, a: Arguments) {
        out!("note     {a}");
    }
    fn problem(&mut self, a: Arguments) {
        self.problems += 1;
        out!("PROBLEM  {a}");
    }
}

pub fn run(opts: &Options) -> i32 {
    let mut r = Report { problems: 0 };
    if !rustix::process::geteuid().is_root() {
        out!("check: must run as root (it reads swap headers and block devices)");
        return 1;
    }
    let mut cmdline = [0u8; 4096];
    let line = crate::read_cmdline(&mut cmdline);
    let cfg = Config::parse(line);
    available(&mut r, &cfg);
    let mut header = Aligned([0u8; PAGE]);
    let mut extents = [resume_init::hibfile::Extent::default(); file::MAX_EXTENTS];
    match examine(opts, &mut header, &mut extents, OFlags::RDONLY) {
        Ok(e) => {
            place(&mut r, &e, &cfg);
            room(&mut r, &e);
        }
        Err(refusal) => {
            r.problem(format_args!("{refusal}"));
            if opts.file.is_none() && target::resume_set().is_some() {
                r.note(format_args!("if the place is a hibernation file, check it with: resume-init check --file PATH"));
            }
        }
    }
    initramfs(&r);
    if r.problems == 0 {
        out!("check: a hibernation now would be restored at the next boot");
        0
    } else {
        out!("check: {} problem(s); a hibernation now would not come back", r.problems);
        1
    }
}

/// Whether the kernel offers hibernation (`disk` in `/sys/power/state`),
/// and if not, why.
fn available(r: &mut Report, cfg: &Config) {
    let mut buf = [0u8; 128];
    if read_str("/sys/power/state", &mut buf).is_ok_and(|s| s.split_ascii_whitespace().any(|w| w == "disk")) {
        if cfg.nohibernate {
            r.problem(format_args!("hibernate=no or nohibernate on the kernel command line: resume-init will not restore an image; remove it"));
        } else {
            r.ok(format_args!("the kernel offers hibernation (disk in /sys/power/state)"));
        }
        return;
    }
    let mut lb = [0u8; 128];
    let lockdown = read_str("/sys/kernel/security/lockdown", &mut lb).ok().filter(|s| !s.contains("[none]"));
    if let Some(l) = lockdown {
        r.problem(format_args!("the kernel is locked down ({}), which forbids hibernation: Secure Boot does this; turn it off in the firmware, or boot with lockdown=none where the kernel allows", l.trim_ascii_end()));
    } else if cfg.nohibernate {
        r.problem(format_args!("nohibernate (or hibernate=no) on the kernel command line: remove it"));
    } else {
        r.problem(format_args!("this kernel does not offer hibernation (no disk in /sys/power/state): it needs CONFIG_HIBERNATION"));
    }
}

/// Where the image would go and where the next boot will look.
fn place(r: &mut Report, e: &Examined, cfg: &Config) {
    let a = &e.area;
    r.ok(format_args!("the image would go to {} ({}, {}:{}, header at page {}), which holds no image now", a.name, e.node, a.major, a.minor, a.offset));
    match (target::resume_set(), cfg.resume) {
        (Some((ma, mi, off)), Some(t)) => r.ok(format_args!("the next boot looks there: resume={t} on the kernel command line (now {ma}:{mi} page {off})")),
        (Some((ma, mi, off)), None) => r.ok(format_args!("the next boot looks there: /sys/power/resume is {ma}:{mi} page {off}, set by this boot's initramfs (the device it stores)")),
        (None, _) => r.ok(format_args!("the next boot looks there: the EFI variable HibernateLocation will name it (an initramfs reading it: resume-init, systemd 255 or later)")),
    }
}

/// The room in the place against the image the machine would write now:
/// at least the memory in use that cannot be dropped, at most what the
/// kernel aims at (`/sys/power/image_size`), before compression.
fn room(r: &mut Report, e: &Examined) {
    let free_kib = match &e.file {
        Some(f) => (f.pages - 1) * (PAGE as u64 / 1024),
        None => swap_free_kib(&e.area.name).unwrap_or(0),
    };
    let mut buf = [0u8; 2048];
    let info = read_str("/proc/meminfo", &mut buf).unwrap_or("");
    let field = |k: &str| info.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix(':')?.split_ascii_whitespace().next().and_then(parse_u64)).unwrap_or(0);
    let (total, avail, free) = (field("MemTotal"), field("MemAvailable"), field("MemFree"));
    let mut b2 = [0u8; 32];
    let aim = read_str("/sys/power/image_size", &mut b2).ok().and_then(parse_u64).unwrap_or(0) / 1024;
    let least = total.saturating_sub(avail);
    let likely = least.max(aim.min(total.saturating_sub(free)));
    let (f, l, k) = (free_kib >> 10, least >> 10, likely >> 10);
    if free_kib >= likely {
        r.ok(format_args!("room: {f} MiB free there; the image now: {l}–{k} MiB before compression"));
    } else if free_kib >= least / 2 {
        r.note(format_args!("room: {f} MiB free there; the image now: {l}–{k} MiB before compression: it fits once compressed to half (LZO usually does); more room, or a smaller /sys/power/image_size, makes sure"));
    } else {
        r.problem(format_args!("room: {f} MiB free there, and the image now needs at least {l} MiB ({} compressed to half): make the swap or the file larger (resume-init hibernate --make-file PATH --size {k}M)", l / 2));
    }
}

/// Free KiB of an active swap area, from `/proc/swaps` (size − used).
fn swap_free_kib(name: &str) -> Option<u64> {
    let mut buf = [0u8; 4096];
    let text = read_str("/proc/swaps", &mut buf).ok()?;
    text.lines().skip(1).find_map(|l| {
        let mut f = l.split_ascii_whitespace();
        let n = target::unescape(f.next()?);
        let (size, used) = (f.nth(1).and_then(parse_u64)?, f.next().and_then(parse_u64)?);
        (n.as_str() == name).then(|| size.saturating_sub(used))
    })
}

/// Whether the running kernel's initramfs carries resume-init (its marker).
fn initramfs(r: &Report) {
    let u = rustix::system::uname();
    let rel = u.release().to_str().unwrap_or("?");
    for p in [fsutil::path(format_args!("/boot/initrd.img-{rel}")), fsutil::path(format_args!("/boot/initramfs-{rel}.img"))] {
        let Ok(p) = p else { continue };
        let Ok(fd) = rustix::fs::open(p.as_str(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else { continue };
        let mut line = [0u8; 128];
        match marker(&fd, &mut line) {
            Some(m) => r.ok(format_args!("{p}, the running kernel's initramfs, carries resume-init ({m})")),
            None => r.note(format_args!("{p}, the running kernel's initramfs, has no resume-init marker in its uncompressed part (dracut's module keeps it compressed: lsinitrd | grep resume-init); without resume-init the kernel's loader resumes, LZ4 images from 6.9 on only")),
        }
        return;
    }
    r.note(format_args!("no initramfs for {rel} in /boot: the kernel's own loader resumes only from a device it has the driver for"));
}

/// The marker's text, if the initramfs carries it (`cpio::find_member`).
fn marker<'b>(fd: &rustix::fd::OwnedFd, out: &'b mut [u8; 128]) -> Option<&'b str> {
    let m = resume_init::cpio::find_member(|at, buf| fsutil::pread_full(fd, buf, at).ok(), MARKER, out)?;
    core::str::from_utf8(m).ok().map(str::trim_ascii_end)
}
