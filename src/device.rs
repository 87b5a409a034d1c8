//! Finding block devices by a [`DevSpec`]: a scan of `/sys/class/block`,
//! reading the identity of each candidate (superblock, swap header,
//! partition table) through its `/dev` node, and waiting a bounded time
//! for a device to appear.

use core::mem::MaybeUninit;

use resume_init::devspec::DevSpec;
use resume_init::parttable;
use resume_init::probe::{self, PROBE_SIZE};
use resume_init::text::{parse_maj_min, parse_u32, parse_u64};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::fsutil::{self, path, read_str};
use crate::log::{debug, info};

const SYS_BLOCK: &str = "/sys/class/block";
/// How often the scan is repeated while waiting.
const POLL_MS: u64 = 100;
/// Kernel names are at most 32 bytes (`DISK_NAME_LEN`).
pub type Name = heapless::String<32>;

/// A block device that was found.
#[derive(Clone)]
pub struct Device {
    /// Kernel name (`vda1`).
    pub name: Name,
    pub major: u32,
    pub minor: u32,
}

impl Device {
    /// The device node, `/dev/NAME` (`!` in sysfs names is `/` in `/dev`).
    pub fn node(&self) -> fsutil::PathBuf {
        let mut p = fsutil::PathBuf::new();
        let _ = p.push_str("/dev/");
        for c in self.name.chars() {
            let _ = p.push(if c == '!' { '/' } else { c });
        }
        p
    }

    /// Opens the node, creating it first if devtmpfs did not.
    pub fn open(&self, flags: OFlags) -> Result<rustix::fd::OwnedFd, Errno> {
        let node = self.node();
        match rustix::fs::open(node.as_str(), flags | OFlags::CLOEXEC, Mode::empty()) {
            Err(Errno::NOENT) => {
                let dev = rustix::fs::makedev(self.major, self.minor);
                rustix::fs::mknodat(rustix::fs::CWD, node.as_str(), FileType::BlockDevice, Mode::from_raw_mode(0o600), dev)?;
                rustix::fs::open(node.as_str(), flags | OFlags::CLOEXEC, Mode::empty())
            }
            r => r,
        }
    }
}

/// What was learnt about one entry of `/sys/class/block`.
struct Entry {
    dev: Device,
    /// Partition number, for partitions.
    partn: Option<u32>,
    /// Name of the whole disk a partition belongs to.
    parent: Name,
    size_sectors: u64,
}

fn name_from(s: &str) -> Option<Name> {
    let mut n = Name::new();
    n.push_str(s).ok()?;
    Some(n)
}

fn read_entry(name: &str) -> Option<Entry> {
    let mut buf = [0u8; 64];
    let (major, minor) = parse_maj_min(read_str(path(format_args!("{SYS_BLOCK}/{name}/dev")).ok()?.as_str(), &mut buf).ok()?)?;
    let size_sectors = read_str(path(format_args!("{SYS_BLOCK}/{name}/size")).ok()?.as_str(), &mut buf)
        .ok()
        .and_then(parse_u64)
        .unwrap_or(0);
    let partn = read_str(path(format_args!("{SYS_BLOCK}/{name}/partition")).ok()?.as_str(), &mut buf)
        .ok()
        .and_then(parse_u32);
    // A partition's sysfs directory sits inside its disk's: the link
    // target's second-to-last component names the disk.
    let mut parent = Name::new();
    if partn.is_some() {
        let mut link = [MaybeUninit::<u8>::uninit(); 256];
        let p = path(format_args!("{SYS_BLOCK}/{name}")).ok()?;
        if let Ok((target, _)) = rustix::fs::readlinkat_raw(rustix::fs::CWD, p.as_str(), &mut link) {
            let target = core::str::from_utf8(target).ok()?;
            // …/DISK/PART: drop the last component, keep the one before.
            let dir = target.get(..target.as_bytes().iter().rposition(|&b| b == b'/')?)?;
            parent = name_from(dir.get(dir.as_bytes().iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..)?)?;
        }
    }
    Some(Entry { dev: Device { name: name_from(name)?, major, minor }, partn, parent, size_sectors })
}

/// Calls `f` with every block device that has content (a size).
pub fn for_each(mut f: impl FnMut(&Device)) {
    let _ = scan(&mut |e| {
        if e.size_sectors > 0 {
            f(&e.dev);
        }
        false
    });
}

/// The first block device `f` accepts (one copy of the directory walk
/// for every kind of search).
fn scan(f: &mut dyn FnMut(&Entry) -> bool) -> Option<Entry> {
    let dir = rustix::fs::open(SYS_BLOCK, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut it = rustix::fs::RawDir::new(&dir, &mut buf);
    while let Some(Ok(e)) = it.next() {
        let Ok(name) = e.file_name().to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        if let Some(entry) = read_entry(name) {
            if f(&entry) {
                return Some(entry);
            }
        }
    }
    None
}

/// Reads `buf.len()` bytes at `offset` of a device (fewer at its end).
pub fn read_at(dev: &Device, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let fd = dev.open(OFlags::RDONLY)?;
    fsutil::pread_full(&fd, buf, offset)
}

/// What `dev` holds, by its first page or else (btrfs) the page at
/// 64 KiB, read into `page`.
pub fn identify<'p>(dev: &Device, page: &'p mut [u8; PROBE_SIZE]) -> Option<probe::Ident<'p>> {
    let n = read_at(dev, 0, page).ok()?;
    if probe::identify(&page[..n]).is_some() {
        return probe::identify(&page[..n]);
    }
    let n = read_at(dev, probe::BTRFS_SB_AT, page).ok()?;
    probe::identify_btrfs(&page[..n])
}

/// Whether the content of `e` matches a UUID or LABEL spec.
fn content_matches(e: &Entry, spec: &DevSpec) -> bool {
    if e.size_sectors == 0 {
        return false; // empty drive: nothing to read, and reading may hang
    }
    let mut page = [0u8; PROBE_SIZE];
    let Some(id) = identify(&e.dev, &mut page) else { return false };
    match spec {
        DevSpec::Uuid(u) => id.uuid.as_ref() == Some(u),
        DevSpec::Label(l) => id.label == *l,
        _ => false,
    }
}

/// Whether partition `e` matches a PARTUUID or PARTLABEL spec, reading its
/// disk's GPT (or MBR signature) with the disk's own logical sector size
/// (`BLKSSZGET`).
fn partition_matches(e: &Entry, spec: &DevSpec) -> bool {
    let (Some(partn), Some((disk_major, disk_minor))) = (e.partn, disk_number(&e.parent)) else { return false };
    let disk = Device { name: e.parent.clone(), major: disk_major, minor: disk_minor };
    let Ok(fd) = disk.open(OFlags::RDONLY) else { return false };
    let Ok(ss) = rustix::fs::ioctl_blksszget(&fd) else { return false };
    let mut read = |off: u64, buf: &mut [u8]| fsutil::pread_full(&fd, buf, off) == Ok(buf.len());
    parttable::identify(u64::from(ss), partn, &mut read).is_some_and(|id| id.matches(spec))
}

fn disk_number(disk: &str) -> Option<(u32, u32)> {
    let mut buf = [0u8; 32];
    parse_maj_min(read_str(path(format_args!("{SYS_BLOCK}/{disk}/dev")).ok()?.as_str(), &mut buf).ok()?)
}

/// Looks once for the device `spec` names.
pub fn find(spec: &DevSpec) -> Option<Device> {
    match spec {
        DevSpec::Name(n) if n.starts_with("mapper/") => {
            // /dev/mapper/NAME: udev's link; its device-mapper name is in sysfs.
            let want = n.strip_prefix("mapper/").unwrap_or(n);
            scan(&mut |e| {
                let mut buf = [0u8; 136];
                let Ok(p) = path(format_args!("{SYS_BLOCK}/{}/dm/name", e.dev.name)) else { return false };
                read_str(p.as_str(), &mut buf).is_ok_and(|n| n.trim_ascii_end() == want)
            })
            .map(|e| e.dev)
        }
        DevSpec::Name(n) if n.contains('/') && rustix::fs::lstat(path(format_args!("/dev/{n}")).ok()?.as_str()).is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink) => {
            // /dev/VG/LV: the link made when the LV was activated (to ../dm-N).
            let mut buf = [MaybeUninit::<u8>::uninit(); 64];
            let (target, _) = rustix::fs::readlinkat_raw(rustix::fs::CWD, path(format_args!("/dev/{n}")).ok()?.as_str(), &mut buf).ok()?;
            let target = core::str::from_utf8(target).ok()?;
            read_entry(target.get(target.as_bytes().iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..)?).map(|e| e.dev)
        }
        DevSpec::Name(n) => {
            // sysfs writes '/' in names as '!' (cciss/c0d0 → cciss!c0d0).
            let mut s = Name::new();
            for c in n.chars() {
                s.push(if c == '/' { '!' } else { c }).ok()?;
            }
            read_entry(&s).map(|e| e.dev)
        }
        DevSpec::Number { major, minor } => scan(&mut |e| e.dev.major == *major && e.dev.minor == *minor).map(|e| e.dev),
        DevSpec::Uuid(_) | DevSpec::Label(_) => scan(&mut |e| content_matches(e, spec)).map(|e| e.dev),
        DevSpec::PartLabel(_) => scan(&mut |e| partition_matches(e, spec)).map(|e| e.dev),
        DevSpec::PartUuid { offset, .. } => {
            let Entry { parent, partn, dev, .. } = scan(&mut |e| partition_matches(e, spec))?;
            if *offset == 0 {
                return Some(dev);
            }
            let want = partn?.checked_add_signed(*offset)?;
            scan(&mut |e| e.parent == parent && e.partn == Some(want)).map(|e| e.dev)
        }
    }
}

/// How long [`wait_for`] may wait.
#[derive(Clone, Copy)]
pub enum Deadline {
    Forever,
    Ms(u64),
}

/// Waits until the device appears, polling; `None` when the deadline passes.
pub fn wait_for(what: &str, text: &str, spec: &DevSpec, deadline: Deadline) -> Option<Device> {
    let start = fsutil::now_ms();
    let mut announced = false;
    loop {
        if let Some(d) = find(spec) {
            debug!("{what} {text} is {} ({}:{})", d.node(), d.major, d.minor);
            return Some(d);
        }
        let waited = fsutil::now_ms() - start;
        if let Deadline::Ms(limit) = deadline {
            if waited >= limit {
                return None;
            }
        }
        if !announced && waited >= 1000 {
            match deadline {
                Deadline::Forever => info!("waiting for {what} device {text} (rootwait: no time limit)"),
                Deadline::Ms(l) => info!("waiting for {what} device {text} (up to {} s)", l / 1000),
            }
            announced = true;
        }
        fsutil::sleep_ms(POLL_MS);
    }
}
