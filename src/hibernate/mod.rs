//! `resume-init hibernate`: the seed's `suspend` half for today's kernels.
//! Takes the snapshot through `/dev/snapshot` and writes it to the swap
//! area the resume side will look at, in the kernel's own format, so that
//! either loader (the kernel's or ours) restores it. The recipe and its
//! reasons: `docs/writer.md` §1; in short:
//!
//! 1. choose the swap area and check it, open it (`O_DIRECT`) and
//!    `/dev/snapshot`, `SET_SWAP_AREA`, rewrite the header once to prove
//!    writes go through; lock all memory;
//! 2. `FREEZE`, `PLATFORM_SUPPORT`, `CREATE_IMAGE`: it returns in the
//!    frozen system with the snapshot taken, and again, later, in the
//!    restored one (then: close, thaw, say so, exit 0);
//! 3. check free swap, write every page to slots the kernel allocates
//!    (runs of consecutive slots in one write), flush;
//! 4. commit: the header, written last and flushed;
//! 5. power off (ACPI S4, plain power-off, reboot, or suspend to RAM).
//!
//! Any failure before the commit frees the slots and thaws: the system
//! goes on, the swap header untouched. After the commit, any way back
//! puts the swap signature back before thawing.

use core::fmt::Write;

use resume_init::devspec::DevSpec;
use resume_init::probe::{self, Kind};
use resume_init::swsusp::{self, Compression, PAGE};
use resume_init::text::{parse_u32, parse_u64};
use resume_init::writer;
use rustix::fd::OwnedFd;
use rustix::fs::OFlags;
use rustix::io::Errno;

mod check;
mod file;
mod place;
mod refusal;
mod target;

use place::{Aligned, Device, DeviceBuffers, RUN_PAGES, Slots, Stream, read_header, unmark, write_header};
use resume_init::image::Run;
use refusal::Refusal;
use target::{Area, choose, secrets_stay_secret};

use crate::error::E;
use crate::clock::now_ms;
use crate::fsutil::{self, read_str, whole_lines};
use crate::ioctl::{SnapshotReader, Snapshotted};
use crate::log::{Echo, error, info, out, set_echo, warning};
use crate::rt::Args;
use crate::thread::{self, Pool};

pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const USAGE: i32 = 3;

pub const USAGE_TEXT: &str = "usage: resume-init hibernate [--device DEV] [--offset PAGES] [--file PATH] [--compress lzo|lz4|none]\n\
  [--threads N] [--image-size MIB] [--after platform|shutdown|reboot|suspend] [--allow-plain-swap] [--force]\n\
       resume-init hibernate --make-file PATH [--size SIZE]\n\
  Writes an image both loaders restore, then powers off. --threads: default every CPU, at most 4.\n\
  Target: the swap area /sys/power/resume names, else the only active one; or with --file a\n\
  hibernation file (made by --make-file: every block allocated, immutable), no swap needed.";

const SYS_DISK: &str = "/sys/power/disk";
const SYS_IMAGE_SIZE: &str = "/sys/power/image_size";

/// What to do once the image is on disk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    /// ACPI S4 through the platform hooks (`SNAPSHOT_POWER_OFF`).
    Platform,
    Shutdown,
    Reboot,
    /// Hybrid sleep: suspend to RAM with the image as a fallback.
    Suspend,
}

impl After {
    fn name(self) -> &'static str {
        match self {
            After::Platform => "platform",
            After::Shutdown => "shutdown",
            After::Reboot => "reboot",
            After::Suspend => "suspend",
        }
    }

    fn parse(s: &str) -> Option<After> {
        [After::Platform, After::Shutdown, After::Reboot, After::Suspend].into_iter().find(|a| a.name() == s)
    }
}

pub struct Options<'a> {
    device: Option<&'a str>,
    offset: Option<u64>,
    comp: Compression,
    threads: Option<u32>,
    image_mib: Option<u64>,
    after: Option<After>,
    /// Write to an unencrypted swap area even while dm-crypt keys are in
    /// memory (they would be on disk in the clear).
    allow_plain: bool,
    /// `--file PATH`: into a hibernation file, not a swap area.
    file: Option<&'a str>,
    /// `--make-file PATH`: make one, and nothing else.
    make_file: Option<&'a str>,
    /// `--size SIZE` for `--make-file`, in bytes.
    size: Option<u64>,
    /// `--force`: write even where nothing is set to look for the image.
    force: bool,
}

/// `4G`, `512M`, `65536K` or bytes.
fn parse_size(s: &str) -> Option<u64> {
    let (num, shift) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 10),
        b'M' | b'm' => (&s[..s.len() - 1], 20),
        b'G' | b'g' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    parse_u64(num)?.checked_mul(1 << shift).filter(|&b| b > 0)
}

fn parse_options(args: &Args) -> Result<Options<'static>, &'static str> {
    let arg = |i| args.arg(i).and_then(|a| core::str::from_utf8(a).ok());
    let mut o = Options { device: None, offset: None, comp: Compression::Lzo, threads: None, image_mib: None, after: None, allow_plain: false, file: None, make_file: None, size: None, force: false };
    let mut i = 2;
    while let Some(a) = arg(i) {
        let v = arg(i + 1);
        if a == "--allow-plain-swap" || a == "--force" {
            o.allow_plain |= a == "--allow-plain-swap";
            o.force |= a == "--force";
            i += 1;
            continue;
        }
        match a {
            "--device" => o.device = Some(v.ok_or("--device needs a path")?),
            "--offset" => o.offset = Some(v.and_then(parse_u64).ok_or("--offset needs a page number")?),
            "--compress" => {
                o.comp = match v {
                    Some("lzo") => Compression::Lzo,
                    Some("lz4") => Compression::Lz4,
                    Some("none") => Compression::None,
                    _ => return Err("--compress takes lzo, lz4 or none"),
                }
            }
            "--threads" => o.threads = Some(v.and_then(parse_u32).filter(|n| *n > 0).ok_or("--threads needs a number above 0")?),
            "--image-size" => o.image_mib = Some(v.and_then(parse_u64).ok_or("--image-size needs MiB")?),
            "--after" => o.after = Some(v.and_then(After::parse).ok_or("--after takes platform, shutdown, reboot or suspend")?),
            "--file" => o.file = Some(v.ok_or("--file needs a path")?),
            "--make-file" => o.make_file = Some(v.ok_or("--make-file needs a path")?),
            "--size" => o.size = Some(v.and_then(parse_size).ok_or("--size takes bytes, or a number with K, M or G")?),
            _ => return Err("unknown option"),
        }
        i += 2;
    }
    Ok(o)
}

/// The default `--after`: what `/sys/power/disk` has selected, if we do it.
fn default_after() -> After {
    let mut buf = [0u8; 128];
    read_str(SYS_DISK, &mut buf)
        .ok()
        .and_then(|s| s.split_ascii_whitespace().find_map(|w| w.strip_prefix('[')?.strip_suffix(']')))
        .and_then(After::parse)
        .unwrap_or(After::Shutdown)
}

/// The hardware signature the kernel would record: the FACS one, and only
/// under a hypervisor (the kernel's default; on bare metal it records none).
fn hw_signature() -> u32 {
    let mut cpu = [0u8; 4096];
    let virt = fsutil::read_file("/proc/cpuinfo", &mut cpu)
        .ok()
        .and_then(|b| core::str::from_utf8(whole_lines(b)).ok())
        .is_some_and(|s| s.lines().any(|l| l.starts_with("flags") && l.split_ascii_whitespace().any(|w| w == "hypervisor")));
    if virt { crate::resume::facs_signature() } else { 0 }
}

/// Whether the running kernel's own loader reads LZ4 images (6.9 and later).
fn kernel_reads_lz4() -> bool {
    let u = rustix::system::uname();
    let r = u.release().to_str().unwrap_or("");
    let mut it = r.split(|c: char| !c.is_ascii_digit()).filter_map(parse_u32);
    matches!((it.next(), it.next()), (Some(ma), Some(mi)) if (ma, mi) >= (6, 9))
}

/// `resume-init check [--file PATH] [--device DEV] [--offset PAGES]`:
/// the writer's checks and more, as a report (`check`); the exit status.
pub fn check(args: Args) -> i32 {
    match parse_options(&args) {
        Ok(o) => check::run(&o),
        Err(why) => {
            out!("check: {why}\nusage: resume-init check [--file PATH] [--device DEV] [--offset PAGES] [--allow-plain-swap]");
            USAGE
        }
    }
}

/// `resume-init hibernate`; returns the exit status (after a resume: 0).
pub fn run(args: Args) -> i32 {
    if matches!(args.arg(2), Some(b"--help" | b"-h")) {
        out!("{USAGE_TEXT}");
        return OK;
    }
    set_echo(Echo::All);
    crate::log::init_kmsg();
    crate::log::set_journal_stream(args.env(b"JOURNAL_STREAM"));
    let opts = match parse_options(&args) {
        Ok(o) => o,
        Err(why) => {
            out!("hibernate: {why}\n{USAGE_TEXT}");
            return USAGE;
        }
    };
    if let Some(path) = opts.make_file {
        if !rustix::process::geteuid().is_root() {
            error!("{}", Refusal::NotRoot);
            return FAILED;
        }
        return file::make(path, opts.size);
    }
    // Everything the frozen phase needs exists before the freeze: buffers
    // (touched as they are made), descriptors, then all memory locked. The
    // compression chunks and the device's pages in mappings of their own,
    // not on the stack (the encoder ran about 10 % faster there under TCG).
    let sizes = (core::mem::size_of::<[writer::Chunk; writer::CHUNKS]>(), core::mem::size_of::<DeviceBuffers>());
    let (mut chunk_mem, mut page_mem) = (crate::sys::Anon::new(sizes.0), crate::sys::Anon::new(sizes.1));
    let chunks = chunk_mem.as_mut().ok().and_then(|m| m.filled(writer::Chunk::new));
    let bufs = page_mem.as_mut().ok().and_then(|m| m.filled(DeviceBuffers::new));
    let (Some(chunks), Some([bufs])) = (chunks, bufs) else {
        error!("cannot hibernate: no memory for the writer's buffers ({} KiB); nothing was changed", (sizes.0 + sizes.1) >> 10);
        return FAILED;
    };
    let mut scratch = writer::Scratch::new(chunks);
    let mut extents = [resume_init::hibfile::Extent::default(); file::MAX_EXTENTS];
    let code = match prepare(&opts, &mut bufs.header, &mut extents) {
        Ok(p) => hibernate(&opts, p, &mut scratch, bufs),
        Err(refusal) => {
            error!("{refusal}");
            FAILED
        }
    };
    set_echo(Echo::All);
    code
}

/// The target, checked and opened, and everything else the frozen phase
/// needs, made before anything is frozen.
struct Prepared<'e> {
    area: Area,
    /// A hibernation file's pages, when the target is one.
    file: Option<file::Located<'e>>,
    node: fsutil::PathBuf,
    fd: OwnedFd,
    snap: SnapshotReader,
    after: After,
    /// The UUID systemd's `HibernateLocation` names the place by.
    uuid: Option<[u8; 16]>,
    /// `/sys/power/image_size` as it was (`--image-size` changes it).
    saved_size: Option<u64>,
}

/// The place, checked without writing anything: what the writer and
/// `check` share. Its device is open with `flags` and its header read.
struct Examined<'e> {
    area: Area,
    /// A hibernation file's pages, when the target is one.
    file: Option<file::Located<'e>>,
    node: fsutil::PathBuf,
    fd: OwnedFd,
    /// The UUID systemd's `HibernateLocation` names the place by.
    uuid: Option<[u8; 16]>,
}

/// Chooses the place (`--file`, else `choose`), refuses one in memory,
/// opens its device with `flags`, reads its header and refuses a place
/// that holds an image already, is no swap area or hibernation file, is
/// not where the next boot looks (unless `--force`), or would leak keys.
fn examine<'e>(opts: &Options, header: &mut Aligned<PAGE>, extents: &'e mut [resume_init::hibfile::Extent; file::MAX_EXTENTS], flags: OFlags) -> Result<Examined<'e>, Refusal> {
    let file = match opts.file {
        Some(path) => {
            let f = file::locate(path, extents)?;
            file::check_place(&f, crate::efi::available())?;
            Some(f)
        }
        None => None,
    };
    let area = match &file {
        Some(f) => f.area.clone(),
        None => choose(opts)?,
    };
    let Area { ref name, major, minor, offset } = area;
    let dev = crate::device::find(&DevSpec::Number { major, minor }).map_err(|_| Refusal::NoBlockDevice { name: name.clone(), major, minor })?;
    let node = dev.node();
    // zram (and any RAM disk) is gone at power-off, and the image with it.
    if dev.name.starts_with("zram") || dev.name.starts_with("ram") {
        return Err(Refusal::InMemory { name: name.clone(), node });
    }
    let fd = match dev.open(flags) {
        Ok(fd) => fd,
        Err(errno @ (Errno::PERM | Errno::BUSY | Errno::ACCESS)) if file.is_some() => return Err(Refusal::WriteMounted { node, errno }),
        Err(errno) => return Err(Refusal::Open { node, errno }),
    };
    read_header(&fd, offset, header).map_err(|errno| Refusal::ReadHeader { name: name.clone(), node: node.clone(), offset, errno })?;
    let id = probe::identify(&header.0);
    // The variable names a swap file or a hibernation file by its
    // filesystem's UUID and the page, as systemd writes it.
    let mut fs_page = [0u8; probe::PROBE_SIZE];
    let uuid = if offset == 0 { id.and_then(|i| i.uuid) } else { crate::device::identify(&dev, &mut fs_page).and_then(|i| i.uuid) };
    match (id.map(|i| i.kind), &file) {
        (Some(Kind::Swap { hibernated: false }), None) => {}
        (Some(Kind::Swap { hibernated: true }), None) => return Err(Refusal::HoldsImage { name: name.clone() }),
        (_, None) => return Err(Refusal::NotSwap { name: name.clone(), node, offset }),
        (_, Some(f)) => {
            if let Some(why) = file::header_ok(&header.0) {
                return Err(Refusal::File { path: f.area.name.clone(), why: refusal::Text::try_from(why).unwrap_or_default() });
            }
        }
    }
    if file.is_none() && !opts.force {
        target::looked_for(&area, uuid.is_some() && crate::efi::available())?;
    }
    secrets_stay_secret(&dev, opts.allow_plain).map_err(|why| Refusal::Leak { name: name.clone(), node: node.clone(), why })?;
    Ok(Examined { area, file, node, fd, uuid })
}

/// Step 1 of the module's list: chooses and checks the target, opens it
/// and `/dev/snapshot`, proves writes go through, locks memory. Nothing
/// is changed on disk if it refuses.
fn prepare<'e>(opts: &Options, header: &mut Aligned<PAGE>, extents: &'e mut [resume_init::hibfile::Extent; file::MAX_EXTENTS]) -> Result<Prepared<'e>, Refusal> {
    if !rustix::process::geteuid().is_root() {
        return Err(Refusal::NotRoot);
    }
    if rustix::param::page_size() != PAGE {
        return Err(Refusal::PageSize(rustix::param::page_size()));
    }
    if opts.comp == Compression::Lz4 && !kernel_reads_lz4() {
        warning!("an LZ4 image can be restored by resume-init only: this kernel's own loader reads LZ4 from 6.9 on");
    }
    let Examined { area, file, node, fd, uuid } = examine(opts, header, extents, OFlags::RDWR | OFlags::DIRECT)?;
    let Area { ref name, major, minor, offset } = area;
    let snap = SnapshotReader::open().map_err(|s| if s.errno == Errno::PERM { Refusal::Unavailable { what: s.what } } else { Refusal::Snapshot(s) })?;
    // A swap area is named to the kernel, which then lets writes to it
    // through and hands out its slots; a file needs neither.
    if file.is_none() {
        snap.set_swap_area(major, minor, offset).map_err(|sys| Refusal::SwapArea { name: name.clone(), sys })?;
    }
    // The header rewritten as it is: proves writes reach the active swap
    // device before anything is frozen.
    write_header(&fd, offset, header).map_err(|errno| Refusal::WriteProbe { name: name.clone(), node: node.clone(), errno })?;
    let mut saved = [0u8; 32];
    let saved_size = read_str(SYS_IMAGE_SIZE, &mut saved).ok().and_then(parse_u64);
    // A page of ours faulted in from swap while everything is frozen can
    // deadlock the writer: uswsusp stops here too.
    rustix::mm::mlockall(rustix::mm::MlockAllFlags::CURRENT | rustix::mm::MlockAllFlags::FUTURE).map_err(Refusal::Mlock)?;
    let after = opts.after.unwrap_or_else(default_after);
    Ok(Prepared { area, file, node, fd, snap, after, uuid, saved_size })
}

/// Steps 2 to 5 of the module's list, around the place the EFI variable
/// names while the image is being written.
fn hibernate(opts: &Options, p: Prepared, scratch: &mut writer::Scratch<'_>, bufs: &mut DeviceBuffers) -> i32 {
    let Prepared { area: Area { ref name, major, minor, offset }, file, node, fd, snap, after, uuid, saved_size } = p;
    let hw_sig = hw_signature();
    info!(
        "hibernating to {name} ({node}, {major}:{minor}, header at page {offset}): compression {}, then {}",
        opts.comp.name(),
        after.name()
    );
    // As systemd does: the place in the EFI variable HibernateLocation,
    // so that an initramfs without resume= finds it; gone again when the
    // system goes on.
    let efi = uuid.is_some_and(|u| crate::efi::set_location(&u, offset));
    set_echo(Echo::Never);
    let code = snapshot_and_write(opts, &snap, file.as_ref(), fd, name, offset, after, hw_sig, scratch, &mut bufs.run, &mut bufs.header);
    if efi {
        crate::efi::clear_location();
    }
    let _ = rustix::mm::munlockall();
    // PREF_IMAGE_SIZE set the global /sys/power/image_size: put it back.
    if let (Some(_), Some(old)) = (opts.image_mib, saved_size) {
        let mut s = heapless::String::<24>::new();
        let _ = write!(s, "{old}");
        let _ = fsutil::write_str(SYS_IMAGE_SIZE, &s);
    }
    code
}

/// Freezes, snapshots, writes, commits and powers off; returns only when
/// the system goes on (resumed, woken, or after a failure).
#[allow(clippy::too_many_arguments)]
fn snapshot_and_write(
    opts: &Options,
    snap: &SnapshotReader,
    file: Option<&file::Located>,
    fd: OwnedFd,
    name: &str,
    offset: u64,
    after: After,
    hw_sig: u32,
    scratch: &mut writer::Scratch<'_>,
    run: &mut Aligned<{ RUN_PAGES * PAGE }>,
    header: &mut Aligned<PAGE>,
) -> i32 {
    let frozen = match take_snapshot(opts, snap, after) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let t0 = now_ms();
    let comp = opts.comp;
    let pages = snap.image_size().unwrap_or(0) / PAGE as u64;
    let free = match file {
        Some(f) => f.pages - 1,
        None => snap.avail_swap().unwrap_or(0) / PAGE as u64,
    };
    let need = writer::slots_needed(comp, pages);
    info!("snapshot of {pages} pages ({} MiB); {free} pages free in {name}, up to {need} needed", (pages * PAGE as u64) >> 20);
    if comp == Compression::None && need > free {
        return give_back(frozen, format_args!("not enough room in {name}: the image needs {need} pages, {free} are free; nothing was written"));
    }
    let source = match file {
        Some(f) => Slots::File(f.slots()),
        None => Slots::Swap(snap),
    };
    let mut dev = Device { fd, source, buf: run, slots: Run::default() };
    let (w, threads) = match write_stream(opts, snap, &mut dev, scratch) {
        Ok(written) => written,
        Err(e) => {
            return give_back(
                frozen,
                format_args!("cannot write the image to {name}: {e} ({free} pages were free, up to {need} needed); its header is untouched"),
            );
        }
    };
    let ms = (now_ms() - t0).max(1);
    let flags = writer::flags(comp, after == After::Platform, hw_sig);
    let fd = dev.fd;
    let frozen = match commit(frozen, &fd, name, offset, header, &w, flags, hw_sig) {
        Ok(f) => f,
        Err(code) => return code,
    };
    report(&w, ms, threads, name);
    info!("image committed on {name}: {} slots, flags 0x{flags:x}; powering off ({})", w.disk_pages, after.name());
    power_down(frozen, &fd, name, offset, after, header)
}

/// Step 2: freezes and takes the snapshot. `Err` carries the exit status
/// when there is nothing to write: a failure (nothing changed), or this
/// is the restored system coming back.
fn take_snapshot<'s>(opts: &Options, snap: &'s SnapshotReader, after: After) -> Result<Frozen<'s>, i32> {
    if let Err(s) = snap.freeze() {
        set_echo(Echo::All);
        error!("cannot freeze the system: {s}; nothing was changed");
        return Err(FAILED);
    }
    let frozen = Frozen(snap);
    let _ = snap.platform_support(after == After::Platform);
    if let Some(mib) = opts.image_mib {
        let _ = snap.pref_image_size(usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX));
    }
    match snap.create_image() {
        Err(s) => {
            drop(frozen);
            error!("the kernel could not take the snapshot: {s}; nothing was changed");
            Err(FAILED)
        }
        Ok(Snapshotted::Resumed) => {
            // The restored system (or a wake-up aborted the snapshot):
            // the loader already put the swap signature back.
            drop(frozen);
            info!("resumed from hibernation");
            Err(OK)
        }
        Ok(Snapshotted::Taken) => Ok(frozen),
    }
}

/// Step 3: every page of the stream to the slots, compressed on worker
/// threads that exist only from here (the snapshot is taken) until the
/// image is written (`Pool::with` joins them before anything thaws).
/// Returns what was written and the threads used.
fn write_stream(opts: &Options, snap: &SnapshotReader, dev: &mut Device, scratch: &mut writer::Scratch<'_>) -> Result<(writer::Written, usize), writer::Error> {
    let comp = opts.comp;
    let mut last = 0;
    let mut progress = |done: u64, total: u64| {
        let q = done * 4 / total.max(1);
        if q > last && done < total {
            last = q;
            info!("writing image: {}%", q * 25);
        }
    };
    let threads = if comp == Compression::None { 1 } else { opts.threads.map_or_else(thread::online_cpus, |n| n as usize) };
    let mut used = 1;
    let written = Pool::with(threads.min(writer::MAX_BATCH), |pool| {
        used = pool.threads();
        writer::write_image(&mut Stream(snap), dev, comp, scratch, pool, &mut progress, &crate::clock::Monotonic)
    });
    written.map(|w| (w, used))
}

/// Step 4, the commit: the header, written last and flushed. From its
/// write on, an exit would thaw over a valid image: a failure puts the
/// signature back (or powers off if even that fails) and gives back.
#[allow(clippy::too_many_arguments)]
fn commit<'s>(frozen: Frozen<'s>, fd: &OwnedFd, name: &str, offset: u64, header: &mut Aligned<PAGE>, w: &writer::Written, flags: u32, hw_sig: u32) -> Result<Frozen<'s>, i32> {
    crate::sys::image_committed();
    let written = read_header(fd, offset, header).and_then(|()| {
        swsusp::mark(&mut header.0, w.first_map, flags, w.crc.unwrap_or(0), hw_sig);
        write_header(fd, offset, header)
    });
    let Err(e) = written else { return Ok(frozen) };
    if !unmark(fd, offset, header) {
        set_echo(Echo::All);
        error!("cannot write the image header to {name} ({}), nor tell whether it is valid; powering off", E(e));
        crate::sys::power_off_for_good();
    }
    crate::sys::image_withdrawn();
    Err(give_back(frozen, format_args!("cannot write the image header to {name}: {}", E(e))))
}

/// The summary lines: pages, size, time and rate, and where the time went.
fn report(w: &writer::Written, ms: u64, threads: usize, name: &str) {
    let bytes = w.pages * PAGE as u64;
    let mib100 = (bytes * 100) >> 20;
    let rate100 = (bytes * 100 * 1000 / ms) >> 20;
    info!(
        "wrote {} pages ({}.{:02} MiB) in {}.{:03} s ({}.{:02} MiB/s)",
        w.pages,
        mib100 / 100,
        mib100 % 100,
        ms / 1000,
        ms % 1000,
        rate100 / 100,
        rate100 % 100
    );
    let p = w.phases;
    info!(
        "write time: reading {} ms, compressing and CRC {} ms ({threads} threads), writing to {name} {} ms",
        p.read / 1_000_000,
        p.decode / 1_000_000,
        p.write / 1_000_000
    );
}

/// The frozen system, from `SNAPSHOT_FREEZE` on. Dropped, it gives the
/// kernel back every slot and the snapshot, thaws, and lets messages reach
/// standard error again: the one way back, whatever path got there.
struct Frozen<'a>(&'a SnapshotReader);

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        // (Each a no-op where there is nothing to give back.)
        let _ = self.0.free_swap_pages();
        let _ = self.0.free();
        let _ = self.0.unfreeze();
        set_echo(Echo::All);
    }
}

/// Thaws after a failure before the commit, then says why.
fn give_back(frozen: Frozen, why: core::fmt::Arguments) -> i32 {
    drop(frozen);
    error!("{why}");
    FAILED
}

/// Powers down as asked. If that returns (a refused power-off, a wake-up
/// from suspend to RAM), the image is older than the running system: its
/// signature goes first, then the slots, then the thaw.
fn power_down(frozen: Frozen, fd: &OwnedFd, name: &str, offset: u64, after: After, header: &mut Aligned<PAGE>) -> i32 {
    let why: Option<Errno> = match after {
        After::Platform => Some(frozen.0.power_off().errno),
        After::Shutdown => rustix::system::reboot(rustix::system::RebootCommand::PowerOff).err(),
        After::Reboot => rustix::system::reboot(rustix::system::RebootCommand::Restart).err(),
        After::Suspend => match frozen.0.s2ram() {
            Ok(()) => None,
            Err(s) => {
                // No suspend to RAM here: the image is valid, power off.
                let e = rustix::system::reboot(rustix::system::RebootCommand::PowerOff).err();
                Some(e.unwrap_or(s.errno))
            }
        },
    };
    if !unmark(fd, offset, header) {
        // Thawing now would let the system run on while an image of its
        // past waits on disk: that corrupts file systems at the next boot.
        set_echo(Echo::All);
        error!("cannot put the swap signature back on {name}; halting instead of going on");
        crate::sys::power_off_for_good();
    }
    crate::sys::image_withdrawn();
    drop(frozen);
    match why {
        None => {
            info!("woke up from suspend to RAM; the image on {name} was discarded");
            OK
        }
        Some(e) => {
            error!("powering off ({}) failed: {}; the image on {name} was discarded and the system goes on", after.name(), E(e));
            FAILED
        }
    }
}
