//! The resume step, before any root filesystem is mounted: find the image
//! `resume=` points at, invalidate it at once (so it is never restored
//! twice and a failure cannot loop), load and verify it into
//! `/dev/snapshot`, and jump into it. Every path that does not resume
//! returns to a fresh boot with the signature already cleared.

use resume_init::cmdline::{Config, ResumeMode};
use resume_init::resume_source::{Source, Text};
use resume_init::errno::Errno as CoreErrno;
use resume_init::image::{self, PageSink};
use resume_init::swsusp::{self, PAGE, Page, SF_HW_SIG};
use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::device::{self, Deadline, Device, Miss, Nodes};
use crate::error::{E, core_errno};
use crate::clock::now_ms;
use crate::fsutil;
use crate::image_reader::{ImageDevice, LoaderMemory};
use crate::ioctl::Snapshot;
use crate::log::{debug, error, info, warning};

/// How long to wait for the resume device without `resumewait`.
const DEFAULT_RESUME_WAIT_MS: u64 = 10_000;
const SYS_RESUME: &str = "/sys/power/resume";
const SYS_RESUME_OFFSET: &str = "/sys/power/resume_offset";
/// The ACPI FACS table; its hardware signature is the u32 at byte 8.
const FACS: &str = "/sys/firmware/acpi/tables/FACS";

/// Runs the resume step. Returns when the boot is to go on fresh.
pub fn run(cfg: &Config, source: Option<Source>) {
    let Some(source) = source else {
        debug!("no resume= given; not resuming");
        return;
    };
    let Source { text, offset, discard_only, .. } = source;
    let page_size = rustix::param::page_size();
    if page_size != PAGE {
        // 16K and 64K arm64 kernels: their images have pages of that size.
        return error!(
            "this kernel has {} KiB pages, and resume-init reads 4 KiB-page images only (docs/arm64.md): not looking at resume={text}; leave resuming to the kernel's own loader (no noresume)",
            page_size / 1024
        );
    }
    let spec = match source.spec() {
        Ok(s) => s,
        Err(why) => {
            error!("cannot understand resume={text}: {why}; booting fresh without resume");
            return;
        }
    };
    if let Some(s) = cfg.resumedelay {
        info!("resumedelay: waiting {s} s before looking for the resume device");
        crate::clock::sleep_ms(u64::from(s) * 1000);
    }
    let deadline = if cfg.resumewait { Deadline::Forever } else { Deadline::Ms(DEFAULT_RESUME_WAIT_MS) };
    let dev = match device::wait_for("resume", text, &spec, deadline) {
        Ok(dev) => dev,
        Err(Miss::None) => {
            return error!(
                "resume device resume={text} did not appear within {} s; booting fresh (resumewait waits longer)",
                DEFAULT_RESUME_WAIT_MS / 1000
            );
        }
        Err(Miss::Several(all)) => return several(text, &all, offset),
    };
    if cfg.resume_mode == ResumeMode::Kernel && !discard_only {
        kernel_resume(&dev, offset);
        return;
    }
    if discard_only {
        // resume=none: an image there is discarded, and the kernel is not
        // pointed anywhere for the next hibernation.
        let _ = userspace_resume(cfg, text, &dev, offset, true);
        return;
    }
    // A fresh boot: point the kernel at this swap area for the next
    // hibernation, so its image lands where this init will look. Writing
    // /sys/power/resume also makes the kernel look for an image there
    // (it clears noresume), so this is done only when the header is
    // known to carry none: never hand the kernel an image we refused.
    if userspace_resume(cfg, text, &dev, offset, false) {
        configure_next_hibernation(&dev, offset);
    } else {
        warning!(
            "not pointing the kernel at {} for the next hibernation: its header could not be checked or cleared",
            dev.node()
        );
    }
}

/// `resume_init=kernel`: the kernel's own loader, given the device the
/// way klibc's `resume` gives it (offset first, then MAJ:MIN).
fn kernel_resume(dev: &Device, offset: u64) {
    info!("resume_init=kernel: handing {} at page {offset} to the kernel's loader", dev.node());
    configure_next_hibernation(dev, offset);
    // Still here: the kernel found no image or failed to restore it. It
    // clears the signature when it finds one; make sure, in case it did
    // not even look (nohibernate, lockdown).
    info!("the kernel did not resume from {}; booting fresh", dev.node());
    if let Some(mut d) = open(dev, offset) {
        let mut page = [0u8; PAGE];
        if d.read_header(&mut page).is_ok() && swsusp::parse_header(&page).is_some() {
            discard(&mut d, &mut page, dev, "the kernel's loader left it in place");
        }
    }
}

/// `resume=` names an identity several devices carry. Which image is
/// the session cannot be known: none is restored. If none of them holds
/// an image the boot goes on; if one does, booting fresh would mount
/// filesystems under an image that a later boot could still restore, so
/// the boot holds until the command line names the device.
fn several(text: Text, all: &device::Found, offset: u64) {
    let holder = all.iter().find(|d| {
        let mut page = [0u8; PAGE];
        let Ok(fd) = d.open(OFlags::RDONLY) else { return false };
        fsutil::pread_full(&fd, &mut page, offset * PAGE as u64).is_ok_and(|n| n == PAGE)
            && matches!(resume_init::probe::identify(&page).map(|i| i.kind), Some(resume_init::probe::Kind::Swap { hibernated: true }))
    });
    match holder {
        None => error!("resume={text} matches several devices ({}), none holding a hibernation image; booting fresh without resuming (name the device by path, or re-label one)", Nodes(all)),
        Some(h) => {
            error!(
                "resume={text} matches several devices ({}) and {} holds a hibernation image: not guessing which to restore, and not booting over it; name the device (resume=/dev/…) or remove the copy",
                Nodes(all),
                h.node()
            );
            crate::hold();
        }
    }
}

fn configure_next_hibernation(dev: &Device, offset: u64) {
    let mut o = heapless::String::<24>::new();
    let mut mm = heapless::String::<24>::new();
    use core::fmt::Write;
    let _ = write!(o, "{offset}");
    let _ = write!(mm, "{}:{}", dev.major, dev.minor);
    if let Err(e) = fsutil::write_str(SYS_RESUME_OFFSET, &o) {
        warning!("cannot write {SYS_RESUME_OFFSET}: {}", E(e));
    }
    match fsutil::write_str(SYS_RESUME, &mm) {
        Ok(()) => debug!("next hibernation goes to {} ({mm}) at page {o}", dev.node()),
        Err(e) => warning!("cannot write {SYS_RESUME}: {}; the next hibernation may go elsewhere", E(e)),
    }
}

fn open(dev: &Device, offset: u64) -> Option<ImageDevice> {
    let fd = match dev.open(OFlags::RDWR) {
        Ok(fd) => fd,
        Err(e) => {
            error!("cannot open resume device {} for reading and writing: {}; booting fresh", dev.node(), E(e));
            return None;
        }
    };
    match ImageDevice::new(fd, offset) {
        Ok(d) => Some(d),
        Err(e) => {
            error!("cannot find the size of {}: {}; booting fresh", dev.node(), E(e));
            None
        }
    }
}

/// Clears the signature of a marked header page and says why.
fn discard(d: &mut ImageDevice, page: &mut Page, dev: &Device, why: &str) -> bool {
    swsusp::invalidate(page);
    match d.write_header(page) {
        Ok(()) => {
            info!("hibernation image on {} invalidated ({why})", dev.node());
            true
        }
        Err(e) => {
            error!(
                "cannot clear the hibernation signature on {}: {}; not resuming from it",
                dev.node(),
                E(e)
            );
            false
        }
    }
}

/// The FACS hardware signature the kernel compares `hw_sig` with.
pub fn facs_signature() -> u32 {
    let mut b = [0u8; 12];
    fsutil::read_file(FACS, &mut b).ok().and_then(|s| resume_init::bytes::le32(s, 8)).unwrap_or(0)
}

/// Feeds pages to `/dev/snapshot`.
struct SnapshotSink<'a>(&'a Snapshot);

impl PageSink for SnapshotSink<'_> {
    fn write_page(&mut self, _index: u64, page: &Page) -> Result<(), CoreErrno> {
        self.0.write_pages(page).map_err(|(_, e)| core_errno(e))
    }

    /// A chunk's pages in one `writev`; page 1 alone, as the kernel checks
    /// the header when it is asked to take it (its refusal names page 1).
    fn write_pages(&mut self, index: u64, pages: &[u8]) -> Result<(), (u64, CoreErrno)> {
        let (first, rest) = if index == 1 { pages.split_at(PAGE.min(pages.len())) } else { (&[][..], pages) };
        let mut at = index;
        for part in [first, rest] {
            self.0.write_pages(part).map_err(|(k, e)| (at + k as u64, core_errno(e)))?;
            at += (part.len() / PAGE) as u64;
        }
        Ok(())
    }
}

/// Resumes from the image on `dev`, or returns to boot fresh. Returns
/// whether the header at `offset` is known to carry no image now.
fn userspace_resume(cfg: &Config, text: Text, dev: &Device, offset: u64, discard_only: bool) -> bool {
    let node = dev.node();
    if let Some(v) = dev.open(OFlags::RDONLY).ok().and_then(|fd| device::md_member(&fd)) {
        // One leg of a RAID1 array starts with the array's own swap page:
        // resuming from it, and clearing the signature there, would leave
        // the image valid on the other leg.
        error!("{node} (resume={text}) is a member of an md RAID array (metadata {v}), not a swap area of its own; resume-init does not assemble arrays and never reads one leg: booting fresh");
        return false;
    }
    let Some(mut d) = open(dev, offset) else { return false };
    let mut page = [0u8; PAGE];
    if let Err(e) = d.read_header(&mut page) {
        if e == Errno::INVAL {
            error!("resume_offset={offset} is beyond the end of {node} ({} pages); booting fresh", d.pages);
        } else {
            error!("cannot read the swap header of {node}: {}; booting fresh", E(e));
        }
        return false;
    }
    let Some(h) = swsusp::parse_header(&page) else {
        match resume_init::probe::identify(&page).map(|i| i.kind) {
            Some(resume_init::probe::Kind::Swap { hibernated: true }) => warning!(
                "{node} at page {offset} (resume={text}) holds a suspend image of another format (uswsusp or older), which resume-init does not read; booting fresh"
            ),
            Some(resume_init::probe::Kind::Swap { hibernated: false }) => {
                info!("no hibernation image on {node} at page {offset} (resume={text}); booting fresh")
            }
            Some(resume_init::probe::Kind::HibernationFile) => {
                info!("no hibernation image in the hibernation file on {node} at page {offset} (resume={text}); booting fresh")
            }
            Some(resume_init::probe::Kind::Luks) => warning!(
                "{node} (resume={text}) is a locked LUKS container, not its swap area; add rd.luks.uuid= with its UUID and point resume= at /dev/mapper/NAME or the UUID inside; booting fresh"
            ),
            _ => warning!("{node} at page {offset} (resume={text}) is not a swap area; booting fresh"),
        }
        return true;
    };
    let mut flags = heapless::String::<160>::new();
    let _ = swsusp::flag_words(h.flags, &mut flags);
    info!("hibernation image found on {node}: flags 0x{:x} ({flags}), compression {}", h.flags, h.compression().name());

    // Which kernel wrote it, said before anything changes on disk.
    let foreign = foreign_kernel(&node, &mut d, &h);
    // Clear the signature before anything else, as the kernel does: from
    // here on the image is never tried again, whatever happens next.
    let why = if foreign { "this kernel cannot restore it" } else { "it is loaded once, never twice" };
    if !discard(&mut d, &mut page, dev, why) {
        return false;
    }
    // From here on every return boots fresh with the header clear.
    if !foreign {
        load_and_restore(cfg, &node, &mut d, &h, discard_only);
    }
    true
}

/// Whether the image is one the running kernel refuses whatever its
/// contents: written by another architecture's kernel, or on arm64 by
/// another build (its `uts_version` against `uname -v`; an arm64 kernel
/// restores only its own build's images). Says which, in our words; the
/// kernel's own refusal would come later, as a bare EPERM. An unreadable
/// `swsusp_info` is left to the load, which says why.
fn foreign_kernel(node: &str, d: &mut ImageDevice, h: &swsusp::Header) -> bool {
    let (mut map, mut data) = ([0u8; PAGE], [0u8; PAGE]);
    let pages = d.pages;
    let Ok(info) = image::read_info(h, pages, d, &mut map, &mut data) else { return false };
    if info.arch != crate::arch::IMAGE_ARCH {
        error!("image on {node} was written by an {} kernel, and this is an {} one: it cannot be restored here; booting fresh", info.arch.name(), crate::arch::IMAGE_ARCH.name());
        return true;
    }
    let uts = rustix::system::uname();
    let running = uts.version().to_str().unwrap_or("");
    match info.build() {
        Some(built) if built != running => {
            error!("image on {node} was written by kernel build \"{built}\", not by this one (\"{running}\"): an arm64 kernel restores only images of its own build; boot that kernel to restore it. Booting fresh");
            true
        }
        _ => false,
    }
}

/// Checks, loads and restores an image whose signature is already cleared.
/// Returns only when the boot is to go on fresh.
fn load_and_restore(cfg: &Config, node: &str, d: &mut ImageDevice, h: &swsusp::Header, discard_only: bool) {
    if !may_restore(cfg, node, h, discard_only) {
        return;
    }
    let snap = match Snapshot::open_restore() {
        Ok(s) => s,
        Err(s) if s.errno == Errno::PERM => {
            error!("cannot resume from {node}: the kernel refuses {} (EPERM): hibernation is unavailable (Secure Boot lockdown, nohibernate); booting fresh", s.what);
            return;
        }
        Err(s) => {
            error!("cannot resume from {node}: {s}; booting fresh");
            return;
        }
    };
    if load(node, d, h, &snap) {
        restore(node, h, &snap);
    }
}

/// The checks made before anything is read: the command line allows it,
/// the flags are known, the hardware is the same.
fn may_restore(cfg: &Config, node: &str, h: &swsusp::Header, discard_only: bool) -> bool {
    if cfg.resume_mode == ResumeMode::Skip {
        info!("resume_init=skip: not resuming from {node}; booting fresh");
        return false;
    }
    if discard_only {
        info!("resume=none: not resuming from {node}; booting fresh");
        return false;
    }
    if cfg.nohibernate {
        warning!("not resuming from {node}: hibernation is disabled on the command line (nohibernate or hibernate=no…); booting fresh");
        return false;
    }
    if h.unknown_flags() != 0 {
        error!("image on {node} refused: unknown flag bits 0x{:x} (a newer kernel's format?); booting fresh", h.unknown_flags());
        return false;
    }
    if h.flags & SF_HW_SIG != 0 {
        let now = facs_signature();
        if now != h.hw_sig {
            error!("image on {node} refused: hardware signature {:08x}, this machine has {now:08x} (hardware changed); booting fresh", h.hw_sig);
            return false;
        }
    }
    true
}

/// Streams the image into `/dev/snapshot` with every check; reports the
/// figures. Returns whether the kernel now holds a complete, verified image.
fn load(node: &str, d: &mut ImageDevice, h: &swsusp::Header, snap: &Snapshot) -> bool {
    let mut mem = LoaderMemory::map();
    let Some(mut scratch) = mem.scratch() else {
        error!("cannot resume from {node}: no memory for the loader ({} KiB); booting fresh", LoaderMemory::KIB);
        return false;
    };
    let t0 = now_ms();
    let mut last_tenth = 0;
    let mut progress = |done: u64, total: u64| {
        let tenth = done * 10 / total;
        if tenth > last_tenth && done < total {
            last_tenth = tenth;
            info!("loading image: {}%", tenth * 10);
        }
    };
    let pages = d.pages;
    // Decompression and CRC on every CPU (at most 4); the workers are
    // joined before anything is frozen.
    let compressed = h.compression() != swsusp::Compression::None;
    let threads = if compressed { crate::thread::online_cpus() } else { 1 };
    let direct = compressed && d.read_directly();
    let mut used = 1;
    let result = crate::thread::Pool::with(threads.min(image::MAX_BATCH), |pool| {
        used = pool.threads();
        image::load_with(h, pages, d, &mut SnapshotSink(snap), &mut scratch, pool, &mut progress, &crate::clock::Monotonic)
    });
    let loaded = match result {
        Ok(l) => l,
        Err(e) => {
            report_load_error(node, e);
            return false;
        }
    };
    let ms = (now_ms() - t0).max(1);
    let bytes = loaded.info.pages * PAGE as u64;
    let mib_x100 = bytes * 100 / (1 << 20);
    let rate_x100 = bytes * 100 * 1000 / ms / (1 << 20);
    info!(
        "loaded {} pages ({}.{:02} MiB) in {}.{:03} s ({}.{:02} MiB/s)",
        loaded.info.pages,
        mib_x100 / 100,
        mib_x100 % 100,
        ms / 1000,
        ms % 1000,
        rate_x100 / 100,
        rate_x100 % 100
    );
    if let Some(crc) = loaded.crc {
        info!("image CRC32 {crc:08x} verified");
    }
    let p = loaded.phases;
    info!(
        "load time: reading {} ms{}, decompressing and CRC {} ms ({used} threads), writing to {} {} ms",
        p.read / 1_000_000,
        if direct { " (O_DIRECT)" } else { "" },
        p.decode / 1_000_000,
        crate::ioctl::SNAPSHOT,
        p.write / 1_000_000
    );
    log_peak_memory();
    true
}

/// Freezes and jumps into the loaded image. Returns only if that failed.
fn restore(node: &str, h: &swsusp::Header, snap: &Snapshot) {
    // Keep our own pages resident while the kernel swaps memory around.
    if let Err(e) = rustix::mm::mlockall(rustix::mm::MlockAllFlags::CURRENT) {
        warning!("mlockall: {}", E(e));
    }
    if let Err(s) = snap.freeze() {
        error!("cannot resume from {node}: {s}; booting fresh");
        return;
    }
    if let Err(s) = snap.platform_support(h.platform_mode()) {
        warning!("{s}; restoring without the platform hooks");
    }
    info!("restoring the hibernated system from {node}");
    let s = snap.atomic_restore();
    // Only reached when the restore failed.
    error!("restore from {node} failed: {s}; see dmesg; booting fresh");
    let _ = snap.unfreeze();
}

/// Logs PID 1's peak resident memory (`VmHWM`), a budget the benchmark reports.
fn log_peak_memory() {
    let mut buf = [0u8; 2048];
    if let Ok(s) = fsutil::read_str("/proc/self/status", &mut buf)
        && let Some(v) = s.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
            info!("peak memory (VmHWM) {}", v.trim_ascii());
        }
}

/// Renders a failed load as one line; every load error boots fresh.
fn report_load_error(node: &str, e: image::Error) {
    match e {
        image::Error::Write { index: 1, errno: CoreErrno::PERM } => error!(
            "image on {node} refused by the kernel (EPERM on its header): it was written by a different kernel build or with a different memory size (see 'Image mismatch' in dmesg); booting fresh"
        ),
        image::Error::Write { index, errno } => {
            error!("image on {node} refused by the kernel at stream page {index}: {errno}; booting fresh")
        }
        image::Error::Read { page, errno } => error!("image on {node} unreadable at page {page}: {errno}; booting fresh"),
        e => error!("image on {node} refused: {e}; booting fresh"),
    }
}
