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
use resume_init::swsusp::{self, Compression, PAGE, Page};
use resume_init::text::{parse_maj_min, parse_u32, parse_u64};
use resume_init::writer::{self, SlotSink, StreamSource};
use rustix::fd::OwnedFd;
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{E, core_errno};
use crate::fsutil::{self, PathBuf, now_ms, read_str};
use crate::ioctl::{SnapshotReader, Snapshotted};
use crate::log::{Echo, error, info, out, set_echo, warning};
use crate::rt::Args;
use crate::thread::{self, Pool};

pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const USAGE: i32 = 3;

pub const USAGE_TEXT: &str = "usage: resume-init hibernate [--device DEV] [--offset PAGES] [--compress lzo|lz4|none]\n\
  [--threads N] [--image-size MIB] [--after platform|shutdown|reboot|suspend] [--allow-plain-swap]\n\
  Writes an image both loaders restore, then powers off. --threads: default every CPU, at most 4.\n\
  Target: the swap area /sys/power/resume names, else the only active one.";

const PROC_SWAPS: &str = "/proc/swaps";
const SYS_RESUME: &str = "/sys/power/resume";
const SYS_RESUME_OFFSET: &str = "/sys/power/resume_offset";
const SYS_DISK: &str = "/sys/power/disk";
const SYS_IMAGE_SIZE: &str = "/sys/power/image_size";
/// Consecutive slots written in one `pwrite` (1 MiB).
const RUN_PAGES: usize = 256;

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

struct Options<'a> {
    device: Option<&'a str>,
    offset: Option<u64>,
    comp: Compression,
    threads: Option<u32>,
    image_mib: Option<u64>,
    after: Option<After>,
    /// Write to an unencrypted swap area even while dm-crypt keys are in
    /// memory (they would be on disk in the clear).
    allow_plain: bool,
}

fn parse_options(args: &Args) -> Result<Options<'static>, &'static str> {
    let arg = |i| args.arg(i).and_then(|a| core::str::from_utf8(a).ok());
    let mut o = Options { device: None, offset: None, comp: Compression::Lzo, threads: None, image_mib: None, after: None, allow_plain: false };
    let mut i = 2;
    while let Some(a) = arg(i) {
        let v = arg(i + 1);
        if a == "--allow-plain-swap" {
            o.allow_plain = true;
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
            _ => return Err("unknown option"),
        }
        i += 2;
    }
    Ok(o)
}

/// One active swap area as `/proc/swaps` and the kernel know it.
#[derive(Clone)]
struct Area {
    /// Its name in `/proc/swaps`.
    name: PathBuf,
    major: u32,
    minor: u32,
    /// Page of its header on the device (0 for a partition).
    offset: u64,
}

/// The block device and header page of an active swap area's name.
fn locate(name: &str) -> Result<(u32, u32, u64), Errno> {
    let st = rustix::fs::stat(name)?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::BlockDevice => Ok((rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev), 0)),
        FileType::RegularFile => {
            let fd = rustix::fs::open(name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
            let at = crate::ioctl::first_physical_byte(&fd)?;
            if rustix::fs::major(st.st_dev) != 0 {
                return Ok((rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev), at / PAGE as u64));
            }
            // A file on btrfs: its st_dev is an anonymous device (major 0)
            // and FIEMAP gives a btrfs address, mapped to the disk through
            // the chunk tree.
            // Where that fails, left at 0:0 (see `choose`).
            let Ok((disk, at)) = crate::ioctl::btrfs_disk_byte(&fd, at) else { return Ok((0, 0, 0)) };
            let st = rustix::fs::stat(disk.as_str())?;
            Ok((rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev), at / PAGE as u64))
        }
        _ => Err(Errno::NOTBLK),
    }
}

/// `/proc/swaps` names with `\040` and friends unescaped.
#[inline(never)]
fn unescape(raw: &str) -> PathBuf {
    let mut p = PathBuf::new();
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|d| (b'0'..=b'7').contains(d)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            i += 4;
            v as char
        } else {
            i += 1;
            b[i - 1] as char
        };
        let _ = p.push(c);
    }
    p
}

/// The active swap areas (at most 8).
fn active_areas() -> heapless::Vec<Area, 8> {
    let mut v = heapless::Vec::new();
    let mut buf = [0u8; 4096];
    let Ok(text) = read_str(PROC_SWAPS, &mut buf) else { return v };
    for line in text.lines().skip(1) {
        let Some(name) = line.split_ascii_whitespace().next() else { continue };
        let name = unescape(name);
        match locate(&name) {
            Ok((major, minor, offset)) => {
                let _ = v.push(Area { name, major, minor, offset });
            }
            Err(e) => warning!("cannot locate swap area {name}: {}", E(e)),
        }
    }
    v
}

/// Why no target could be chosen, already said; the exit status.
fn choose(opts: &Options) -> Result<Area, i32> {
    let areas = active_areas();
    // An exact match, or else the one area whose place is unknown (a
    // btrfs swap file whose chunk-tree mapping failed), taken at the
    // place given: SNAPSHOT_SET_SWAP_AREA refuses it if no swap header is
    // there.
    let find = |maj: u32, min: u32, off: u64| {
        let unknown = || Some(areas.iter().filter(|a| a.major == 0)).filter(|u| u.clone().count() == 1).and_then(|mut u| u.next());
        areas.iter().find(|a| (a.major, a.minor, a.offset) == (maj, min, off)).or_else(unknown).map(|a| Area { name: a.name.clone(), major: maj, minor: min, offset: off })
    };
    if let Some(dev) = opts.device {
        let (maj, min, off) = match locate(dev) {
            Ok((maj, min, off)) => (maj, min, opts.offset.unwrap_or(off)),
            Err(e) => {
                error!("cannot use --device {dev}: {}", E(e));
                return Err(FAILED);
            }
        };
        return match find(maj, min, off).filter(|_| maj != 0) {
            Some(a) => Ok(a),
            None => {
                error!("--device {dev} (device {maj}:{min}, header at page {off}) is not an active swap area; swapon it first (see {PROC_SWAPS})");
                Err(FAILED)
            }
        };
    }
    let mut buf = [0u8; 64];
    let set = read_str(SYS_RESUME, &mut buf).ok().and_then(parse_maj_min).filter(|d| *d != (0, 0));
    if let Some((maj, min)) = set {
        let mut b2 = [0u8; 32];
        let off = opts.offset.or_else(|| read_str(SYS_RESUME_OFFSET, &mut b2).ok().and_then(parse_u64)).unwrap_or(0);
        return match find(maj, min, off) {
            Some(a) => Ok(a),
            None => {
                error!(
                    "{SYS_RESUME} names device {maj}:{min} at page {off}, which is not an active swap area: the image would go where nothing looks for it. swapon it, or give --device"
                );
                Err(FAILED)
            }
        };
    }
    match areas.len() {
        0 => {
            error!("no active swap area ({PROC_SWAPS} is empty): the image needs one; swapon a partition or file first");
            Err(FAILED)
        }
        1 if areas[0].major == 0 => {
            error!(
                "{} is a btrfs swap file whose disk address its chunk tree did not give: boot with resume_offset= (btrfs inspect-internal map-swapfile -r) or use --offset",
                areas[0].name
            );
            Err(FAILED)
        }
        1 => Ok(areas[0].clone()),
        _ => {
            let mut list = heapless::String::<256>::new();
            for a in &areas {
                let _ = write!(list, " {}", a.name);
            }
            error!("several active swap areas ({list} ) and {SYS_RESUME} names none: say which with --device");
            Err(FAILED)
        }
    }
}

/// A page buffer aligned for `O_DIRECT`.
#[repr(C, align(4096))]
struct Aligned<const N: usize>([u8; N]);

/// The swap device, written with `O_DIRECT` in runs of consecutive slots.
struct Device<'a> {
    fd: OwnedFd,
    snap: &'a SnapshotReader,
    run: &'a mut Aligned<{ RUN_PAGES * PAGE }>,
    start: u64,
    n: usize,
}

impl Device<'_> {
    fn write_run(&mut self) -> Result<(), Errno> {
        let bytes = &self.run.0[..self.n * PAGE];
        let mut done = 0;
        while done < bytes.len() {
            let at = (self.start * PAGE as u64).checked_add(done as u64).ok_or(Errno::INVAL)?;
            match rustix::io::pwrite(&self.fd, &bytes[done..], at) {
                Ok(0) => return Err(Errno::NOSPC),
                Ok(k) => done += k,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
        self.n = 0;
        Ok(())
    }
}

impl SlotSink for Device<'_> {
    fn alloc(&mut self) -> Result<u64, resume_init::errno::Errno> {
        let at = self.snap.alloc_swap_page().map_err(core_errno)?;
        if at == 0 || at % PAGE as u64 != 0 {
            return Err(resume_init::errno::Errno::INVAL);
        }
        Ok(at / PAGE as u64)
    }

    fn write(&mut self, slot: u64, page: &Page) -> Result<(), resume_init::errno::Errno> {
        if self.n > 0 && (self.n == RUN_PAGES || Some(slot) != self.start.checked_add(self.n as u64)) {
            self.write_run().map_err(core_errno)?;
        }
        if self.n == 0 {
            self.start = slot;
        }
        self.run.0[self.n * PAGE..(self.n + 1) * PAGE].copy_from_slice(page);
        self.n += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), resume_init::errno::Errno> {
        if self.n > 0 {
            self.write_run().map_err(core_errno)?;
        }
        rustix::fs::fdatasync(&self.fd).map_err(core_errno)
    }
}

/// The stream, read from `/dev/snapshot`.
struct Stream<'a>(&'a SnapshotReader);

impl StreamSource for Stream<'_> {
    fn next_pages(&mut self, buf: &mut [u8]) -> Result<usize, resume_init::errno::Errno> {
        self.0.read_pages(buf).map_err(core_errno)
    }
}

/// Reads the swap header page at `offset` (through `O_DIRECT`: the disk, not a stale cache).
fn read_header(fd: &OwnedFd, offset: u64, page: &mut Aligned<PAGE>) -> Result<(), Errno> {
    match fsutil::pread_full(fd, &mut page.0, offset.checked_mul(PAGE as u64).ok_or(Errno::INVAL)?)? {
        PAGE => Ok(()),
        _ => Err(Errno::NXIO),
    }
}

/// The device-mapper UUID of a block device (`CRYPT-LUKS2-…`, `LVM-…`), if any.
fn dm_uuid<'b>(name: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    read_str(fsutil::path(format_args!("/sys/class/block/{name}/dm/uuid")).ok()?.as_str(), buf).ok().map(str::trim_ascii_end)
}

/// The dm-crypt mapping under a block device, through device-mapper
/// slaves (swap on LVM on LUKS): its kernel name and dm UUID's kind.
fn crypt_under(name: &str, depth: u32) -> Option<(crate::device::Name, bool)> {
    let mut buf = [0u8; 160];
    if let Some(u) = dm_uuid(name, &mut buf)
        && let Some(rest) = u.strip_prefix("CRYPT-") {
            let n = crate::device::Name::try_from(name).ok()?;
            return Some((n, rest.starts_with("PLAIN-")));
        }
    if depth > 8 {
        return None;
    }
    // Partitions and plain disks have no slaves directory: not encrypted.
    let dir = rustix::fs::open(fsutil::path(format_args!("/sys/class/block/{name}/slaves")).ok()?.as_str(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut dbuf = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
    let mut it = rustix::fs::RawDir::new(&dir, &mut dbuf);
    while let Some(Ok(e)) = it.next() {
        let Ok(n) = e.file_name().to_str() else { continue };
        if !n.starts_with('.')
            && let Some(found) = crypt_under(n, depth + 1) {
                return Some(found);
            }
    }
    None
}

/// An open dm-crypt mapping of any kind, by its `/dev/mapper` name.
fn any_crypt_mapping() -> Option<heapless::String<128>> {
    let mut found = None;
    crate::device::for_each(|d| {
        let mut buf = [0u8; 160];
        if found.is_none() && dm_uuid(&d.name, &mut buf).is_some_and(|u| u.starts_with("CRYPT-")) {
            let mut n = [0u8; 130];
            found = fsutil::path(format_args!("/sys/class/block/{}/dm/name", d.name))
                .ok()
                .and_then(|p| read_str(p.as_str(), &mut n).ok().and_then(|s| heapless::String::try_from(s.trim_ascii_end()).ok()));
        }
    });
    found
}

/// Whether `/etc/crypttab` gives mapping `name` a key read from a random
/// device (a new key every boot: what is written can never be read back).
fn random_key_in_crypttab(name: &str) -> bool {
    let mut buf = [0u8; 8192];
    let Ok(text) = fsutil::read_file("/etc/crypttab", &mut buf).map(|b| core::str::from_utf8(whole_lines(b)).unwrap_or("")) else { return false };
    text.lines().filter(|l| !l.trim_start().starts_with('#')).any(|l| {
        let mut f = l.split_ascii_whitespace();
        f.next() == Some(name) && matches!(f.nth(1), Some("/dev/urandom" | "/dev/random" | "/dev/hw_random"))
    })
}

/// Refuses an image that would put secrets where they must not go: on a
/// swap area that is not encrypted while dm-crypt keys are in memory
/// (unless `allow_plain`), or on one whose key is new at every boot.
fn secrets_stay_secret(dev: &crate::device::Device, allow_plain: bool) -> Result<(), heapless::String<320>> {
    let mut why = heapless::String::new();
    match crypt_under(&dev.name, 0) {
        Some((m, plain)) => {
            let mut n = [0u8; 130];
            let p = fsutil::path(format_args!("/sys/class/block/{m}/dm/name"));
            let mapper = p.ok().and_then(|p| read_str(p.as_str(), &mut n).ok().map(|s| s.trim_ascii_end())).unwrap_or("");
            if plain && random_key_in_crypttab(mapper) {
                let _ = write!(why, "it lies on /dev/mapper/{mapper}, whose key /etc/crypttab draws from a random device at every boot: the image could never be read back. Use a LUKS swap with a stored key, or a swap file on an encrypted root");
                return Err(why);
            }
            Ok(())
        }
        None if allow_plain => Ok(()),
        None => match any_crypt_mapping() {
            None => Ok(()),
            Some(m) => {
                let _ = write!(why, "it is not encrypted, and dm-crypt mappings are open (/dev/mapper/{m}): their keys are in memory and would be written to it in the clear. Use an encrypted swap, or --allow-plain-swap to write anyway");
                Err(why)
            }
        },
    }
}

/// Writes the header page back and flushes it.
fn write_header(fd: &OwnedFd, offset: u64, page: &Aligned<PAGE>) -> Result<(), Errno> {
    let n = rustix::io::pwrite(fd, &page.0, offset * PAGE as u64)?;
    if n != PAGE {
        return Err(Errno::IO);
    }
    rustix::fs::fdatasync(fd)
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

/// The bytes up to the last newline (a short read may cut a line).
fn whole_lines(b: &[u8]) -> &[u8] {
    b.iter().rposition(|&c| c == b'\n').map_or(b, |p| &b[..p])
}

/// Whether the running kernel's own loader reads LZ4 images (6.9 and later).
fn kernel_reads_lz4() -> bool {
    let u = rustix::system::uname();
    let r = u.release().to_str().unwrap_or("");
    let mut it = r.split(|c: char| !c.is_ascii_digit()).filter_map(parse_u32);
    matches!((it.next(), it.next()), (Some(ma), Some(mi)) if (ma, mi) >= (6, 9))
}

/// `resume-init hibernate`; returns the exit status (after a resume: 0).
pub fn run(args: Args) -> i32 {
    if matches!(args.arg(2), Some(b"--help" | b"-h")) {
        out!("{USAGE_TEXT}");
        return OK;
    }
    set_echo(Echo::All);
    crate::log::init_kmsg();
    let opts = match parse_options(&args) {
        Ok(o) => o,
        Err(why) => {
            out!("hibernate: {why}\n{USAGE_TEXT}");
            return USAGE;
        }
    };
    if !rustix::process::geteuid().is_root() {
        error!("hibernate: must run as root");
        return FAILED;
    }
    let area = match choose(&opts) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if opts.comp == Compression::Lz4 && !kernel_reads_lz4() {
        warning!("an LZ4 image can be restored by resume-init only: this kernel's own loader reads LZ4 from 6.9 on");
    }
    let after = opts.after.unwrap_or_else(default_after);
    // Everything the frozen phase needs exists before the freeze: buffers
    // (touched by their zeroing), descriptors, then all memory locked.
    let mut scratch = writer::Scratch::new();
    let mut run = Aligned([0u8; RUN_PAGES * PAGE]);
    let mut header = Aligned([0u8; PAGE]);
    let code = hibernate(&opts, &area, after, &mut scratch, &mut run, &mut header);
    set_echo(Echo::All);
    code
}

/// Steps 1 to 5 of the module's list.
fn hibernate(
    opts: &Options,
    area: &Area,
    after: After,
    scratch: &mut writer::Scratch,
    run: &mut Aligned<{ RUN_PAGES * PAGE }>,
    header: &mut Aligned<PAGE>,
) -> i32 {
    let Area { ref name, major, minor, offset } = *area;
    let Ok(dev) = crate::device::find(&DevSpec::Number { major, minor }) else {
        error!("cannot find the block device of {name} ({major}:{minor}) in /sys/class/block");
        return FAILED;
    };
    let node = dev.node();
    let fd = match dev.open(OFlags::RDWR | OFlags::DIRECT) {
        Ok(fd) => fd,
        Err(e) => {
            error!("cannot open {node} for writing: {}", E(e));
            return FAILED;
        }
    };
    if let Err(e) = read_header(&fd, offset, header) {
        error!("cannot read the swap header of {name} ({node} page {offset}): {}", E(e));
        return FAILED;
    }
    let id = probe::identify(&header.0);
    // The variable names a swap file by its filesystem's UUID and the
    // page, as systemd writes it.
    let mut fs_page = [0u8; probe::PROBE_SIZE];
    let uuid = if offset == 0 { id.and_then(|i| i.uuid) } else { crate::device::identify(&dev, &mut fs_page).and_then(|i| i.uuid) };
    match id.map(|i| i.kind) {
        Some(Kind::Swap { hibernated: false }) => {}
        Some(Kind::Swap { hibernated: true }) => {
            error!("{name} already holds a hibernation image; not writing over it (resume from it, or swapoff and mkswap)");
            return FAILED;
        }
        _ => {
            error!("{name} ({node} page {offset}) has no swap signature; it is not a swap area");
            return FAILED;
        }
    }
    if let Err(why) = secrets_stay_secret(&dev, opts.allow_plain) {
        error!("not hibernating to {name} ({node}): {why}");
        return FAILED;
    }
    let snap = match SnapshotReader::open() {
        Ok(s) => s,
        Err(s) if s.errno == Errno::PERM => {
            error!("the kernel refuses {} (EPERM): hibernation is unavailable (nohibernate on the command line, or Secure Boot lockdown)", s.what);
            return FAILED;
        }
        Err(s) => {
            error!("cannot hibernate: {s}");
            return FAILED;
        }
    };
    if let Err(s) = snap.set_swap_area(major, minor, offset) {
        error!("cannot hibernate to {name}: {s}");
        return FAILED;
    }
    // The header rewritten as it is: proves writes reach the active swap
    // device before anything is frozen.
    if let Err(e) = write_header(&fd, offset, header) {
        error!("cannot write to {name} ({node}): {}; nothing was changed", E(e));
        return FAILED;
    }
    let mut saved_size = [0u8; 32];
    let saved_size = read_str(SYS_IMAGE_SIZE, &mut saved_size).ok().and_then(parse_u64);
    if let Err(e) = rustix::mm::mlockall(rustix::mm::MlockAllFlags::CURRENT | rustix::mm::MlockAllFlags::FUTURE) {
        // A page of ours faulted in from swap while everything is frozen
        // can deadlock the writer: uswsusp stops here too.
        error!("cannot lock the writer's memory (mlockall: {}); not hibernating, nothing was changed", E(e));
        return FAILED;
    }
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
    let code = snapshot_and_write(opts, &snap, fd, name, offset, after, hw_sig, scratch, run, header);
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
#[inline(never)]
fn snapshot_and_write(
    opts: &Options,
    snap: &SnapshotReader,
    fd: OwnedFd,
    name: &str,
    offset: u64,
    after: After,
    hw_sig: u32,
    scratch: &mut writer::Scratch,
    run: &mut Aligned<{ RUN_PAGES * PAGE }>,
    header: &mut Aligned<PAGE>,
) -> i32 {
    if let Err(s) = snap.freeze() {
        set_echo(Echo::All);
        error!("cannot freeze the system: {s}; nothing was changed");
        return FAILED;
    }
    let _ = snap.platform_support(after == After::Platform);
    if let Some(mib) = opts.image_mib {
        let _ = snap.pref_image_size(usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX));
    }
    match snap.create_image() {
        Err(s) => {
            let _ = snap.unfreeze();
            set_echo(Echo::All);
            error!("the kernel could not take the snapshot: {s}; nothing was changed");
            return FAILED;
        }
        Ok(Snapshotted::Resumed) => {
            // The restored system (or a wake-up aborted the snapshot):
            // the loader already put the swap signature back.
            let _ = snap.free();
            let _ = snap.unfreeze();
            set_echo(Echo::All);
            info!("resumed from hibernation");
            return OK;
        }
        Ok(Snapshotted::Taken) => {}
    }
    let t0 = now_ms();
    let comp = opts.comp;
    let pages = snap.image_size().unwrap_or(0) / PAGE as u64;
    let free = snap.avail_swap().unwrap_or(0) / PAGE as u64;
    let need = writer::slots_needed(comp, pages);
    info!("snapshot of {pages} pages ({} MiB); {free} swap pages free, up to {need} needed", (pages * PAGE as u64) >> 20);
    if comp == Compression::None && need > free {
        return give_back(snap, format_args!("not enough free swap on {name}: the image needs {need} pages, {free} are free; nothing was written"));
    }
    let mut dev = Device { fd, snap, run, start: 0, n: 0 };
    let mut threads_used = 1;
    let mut last = 0;
    let mut progress = |done: u64, total: u64| {
        let q = done * 4 / total.max(1);
        if q > last && done < total {
            last = q;
            info!("writing image: {}%", q * 25);
        }
    };
    // Workers exist only from here (the snapshot is taken) until the image
    // is written: `Pool::with` joins them before anything thaws.
    let threads = if comp == Compression::None { 1 } else { opts.threads.map_or_else(thread::online_cpus, |n| n as usize) };
    let written = Pool::with(threads.min(writer::MAX_BATCH), |pool| {
        threads_used = pool.threads();
        writer::write_image(&mut Stream(snap), &mut dev, comp, scratch, pool, &mut progress, &fsutil::Monotonic)
    });
    let w = match written {
        Ok(w) => w,
        Err(e) => {
            return give_back(
                snap,
                format_args!("cannot write the image to {name}: {e} ({free} swap pages were free, up to {need} needed); the swap header is untouched"),
            );
        }
    };
    let ms = (now_ms() - t0).max(1);
    // The commit record: the header, last, flushed.
    let flags = writer::flags(comp, after == After::Platform, hw_sig);
    let fd = dev.fd;
    // From the header write on, an exit would thaw over a valid image.
    crate::sys::image_committed();
    if let Err(e) = read_header(&fd, offset, header).and_then(|()| {
        swsusp::mark(&mut header.0, w.first_map, flags, w.crc.unwrap_or(0), hw_sig);
        write_header(&fd, offset, header)
    }) {
        if !unmark(&fd, offset, header) {
            set_echo(Echo::All);
            error!("cannot write the image header to {name} ({}), nor tell whether it is valid; powering off", E(e));
            crate::sys::power_off_for_good();
        }
        crate::sys::image_withdrawn();
        return give_back(snap, format_args!("cannot write the image header to {name}: {}", E(e)));
    }
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
        "write time: reading {} ms, compressing and CRC {} ms ({threads_used} threads), writing to {name} {} ms",
        p.read / 1_000_000,
        p.decode / 1_000_000,
        p.write / 1_000_000
    );
    info!("image committed on {name}: {} slots, flags 0x{flags:x}; powering off ({})", w.disk_pages, after.name());
    power_down(snap, &fd, name, offset, after, header)
}

/// Frees the slots and thaws after a failure before the commit.
fn give_back(snap: &SnapshotReader, why: core::fmt::Arguments) -> i32 {
    let _ = snap.free_swap_pages();
    let _ = snap.free();
    let _ = snap.unfreeze();
    set_echo(Echo::All);
    error!("{why}");
    FAILED
}

/// Puts the swap signature back if the header page carries an image.
fn unmark(fd: &OwnedFd, offset: u64, header: &mut Aligned<PAGE>) -> bool {
    if read_header(fd, offset, header).is_err() {
        return false;
    }
    if swsusp::parse_header(&header.0).is_none() {
        return true;
    }
    swsusp::invalidate(&mut header.0);
    write_header(fd, offset, header).is_ok()
}

/// Powers down as asked. If that returns (a refused power-off, a wake-up
/// from suspend to RAM), the image is older than the running system: its
/// signature goes first, then the slots, then the thaw.
fn power_down(snap: &SnapshotReader, fd: &OwnedFd, name: &str, offset: u64, after: After, header: &mut Aligned<PAGE>) -> i32 {
    let why: Option<Errno> = match after {
        After::Platform => Some(snap.power_off().errno),
        After::Shutdown => rustix::system::reboot(rustix::system::RebootCommand::PowerOff).err(),
        After::Reboot => rustix::system::reboot(rustix::system::RebootCommand::Restart).err(),
        After::Suspend => match snap.s2ram() {
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
    let _ = snap.free_swap_pages();
    let _ = snap.free();
    let _ = snap.unfreeze();
    set_echo(Echo::All);
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
