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
use crate::log::{debug, info, warning};

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
        if let Some(entry) = read_entry(name)
            && f(&entry) {
                return Some(entry);
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
/// 64 KiB, read into `page`. An md RAID member is that, whatever its
/// first page looks like: a RAID1 leg with metadata 0.90 or 1.0 starts
/// with the array's own filesystem or swap page.
pub fn identify<'p>(dev: &Device, page: &'p mut [u8; PROBE_SIZE]) -> Option<probe::Ident<'p>> {
    let fd = dev.open(OFlags::RDONLY).ok()?;
    if let Some(v) = md_member(&fd) {
        debug!("{} is an md RAID member (metadata {v})", dev.node());
        return Some(probe::Ident { kind: probe::Kind::MdMember, uuid: None, label: "" });
    }
    let n = fsutil::pread_full(&fd, page, 0).ok()?;
    if probe::identify(&page[..n]).is_some() {
        return probe::identify(&page[..n]);
    }
    let n = fsutil::pread_full(&fd, page, probe::BTRFS_SB_AT).ok()?;
    probe::identify_btrfs(&page[..n])
}

/// The metadata version of the md RAID superblock on an open device, if
/// it has one (at the four places blkid looks).
pub fn md_member(fd: &rustix::fd::OwnedFd) -> Option<&'static str> {
    let size = rustix::fs::seek(fd, rustix::fs::SeekFrom::End(0)).ok()?;
    let mut sb = [0u8; probe::MD_SB_READ];
    probe::md_superblock_places(size).into_iter().find_map(|(at, v)| {
        let n = fsutil::pread_full(fd, &mut sb, at).ok()?;
        probe::is_md_superblock(&sb[..n], at, v).then_some(v)
    })
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
        DevSpec::Label(l) => !l.is_empty() && id.label == *l,
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

/// Devices a search by content or partition identity found, at most.
const MAX_FOUND: usize = 8;
pub type Found = heapless::Vec<Device, MAX_FOUND>;

/// Why a device could not be taken.
pub enum Miss {
    /// Nothing matched (yet).
    None,
    /// Several devices carry the identity (listed), and none of them is a
    /// device-mapper device made in this boot that would settle it.
    Several(Found),
}

/// Every device whose entry `f` accepts.
fn scan_all(f: &mut dyn FnMut(&Entry) -> bool) -> heapless::Vec<Entry, MAX_FOUND> {
    let mut all = heapless::Vec::new();
    let _ = scan(&mut |e| {
        if f(e) {
            // (More than MAX_FOUND: the list says "several" all the same.)
            let _ = all.push(Entry { dev: e.dev.clone(), partn: e.partn, parent: e.parent.clone(), size_sectors: e.size_sectors });
        }
        false
    });
    all
}

/// The one device among `found`: blkid and systemd treat an identity
/// that two devices carry as an error, and so does this. A device-mapper
/// device (a LUKS container or LVM volume opened in this boot) settles it:
/// an unlocked container's filesystem is meant over a plain disk carrying
/// the same UUID (a copy, or a stick made to look like the root).
fn one_of(found: heapless::Vec<Entry, MAX_FOUND>) -> Result<Entry, Miss> {
    if found.len() <= 1 || one_btrfs(&found) {
        return found.into_iter().next().ok_or(Miss::None);
    }
    let mapped = || found.iter().filter(|e| e.dev.name.starts_with("dm-"));
    if mapped().count() == 1 {
        let pick = mapped().next().map(|e| Entry { dev: e.dev.clone(), partn: e.partn, parent: e.parent.clone(), size_sectors: e.size_sectors });
        for e in found.iter().filter(|e| !e.dev.name.starts_with("dm-")) {
            warning!("{} carries the same identity as the mapping {}; the mapping opened in this boot is taken", e.dev.node(), pick.as_ref().map_or(Name::new(), |p| p.dev.name.clone()));
        }
        return pick.ok_or(Miss::None);
    }
    Err(Miss::Several(found.into_iter().map(|e| e.dev).collect()))
}

/// Whether `found` are the devices of one multi-device btrfs (each a
/// different device of as many as its superblock says): one filesystem,
/// whose devices the kernel gathers when the mount names them. Copies of
/// one device carry the same device number, and are refused.
fn one_btrfs(found: &[Entry]) -> bool {
    let mut seen: heapless::Vec<u64, MAX_FOUND> = heapless::Vec::new();
    found.iter().all(|e| {
        let mut sb = [0u8; PROBE_SIZE];
        let member = read_at(&e.dev, probe::BTRFS_SB_AT, &mut sb).ok().and_then(|n| probe::btrfs_member(&sb[..n]));
        matches!(member, Some((total, devid)) if total as usize >= found.len() && !seen.contains(&devid) && seen.push(devid).is_ok())
    })
}

/// Looks once for the device `spec` names.
pub fn find(spec: &DevSpec) -> Result<Device, Miss> {
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
            .ok_or(Miss::None)
        }
        DevSpec::Name(n) if n.contains('/') && is_link(n) => {
            // /dev/VG/LV: the link made when the LV was activated (to ../dm-N).
            let mut buf = [MaybeUninit::<u8>::uninit(); 64];
            let p = path(format_args!("/dev/{n}")).map_err(|_| Miss::None)?;
            let (target, _) = rustix::fs::readlinkat_raw(rustix::fs::CWD, p.as_str(), &mut buf).map_err(|_| Miss::None)?;
            let target = core::str::from_utf8(target).map_err(|_| Miss::None)?;
            let last = target.get(target.as_bytes().iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..).ok_or(Miss::None)?;
            read_entry(last).map(|e| e.dev).ok_or(Miss::None)
        }
        DevSpec::Name(n) => {
            // sysfs writes '/' in names as '!' (cciss/c0d0 → cciss!c0d0).
            let mut s = Name::new();
            for c in n.chars() {
                s.push(if c == '/' { '!' } else { c }).map_err(|_| Miss::None)?;
            }
            read_entry(&s).map(|e| e.dev).ok_or(Miss::None)
        }
        DevSpec::Number { major, minor } => scan(&mut |e| e.dev.major == *major && e.dev.minor == *minor).map(|e| e.dev).ok_or(Miss::None),
        DevSpec::Uuid(_) | DevSpec::Label(_) => one_of(scan_all(&mut |e| content_matches(e, spec))).map(|e| e.dev),
        DevSpec::PartLabel(_) => one_of(scan_all(&mut |e| partition_matches(e, spec))).map(|e| e.dev),
        DevSpec::PartUuid { offset, .. } => {
            let Entry { parent, partn, dev, .. } = one_of(scan_all(&mut |e| partition_matches(e, spec)))?;
            if *offset == 0 {
                return Ok(dev);
            }
            let want = partn.and_then(|p| p.checked_add_signed(*offset)).ok_or(Miss::None)?;
            scan(&mut |e| e.parent == parent && e.partn == Some(want)).map(|e| e.dev).ok_or(Miss::None)
        }
    }
}

fn is_link(n: &str) -> bool {
    path(format_args!("/dev/{n}"))
        .ok()
        .and_then(|p| rustix::fs::lstat(p.as_str()).ok())
        .is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
}

/// The devices of a [`Miss::Several`], for a message: `/dev/vda, /dev/vdb`.
pub struct Nodes<'a>(pub &'a Found);

impl core::fmt::Display for Nodes<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            write!(f, "{}{}", if i > 0 { ", " } else { "" }, d.node())?;
        }
        if self.0.len() == MAX_FOUND {
            f.write_str(" and more")?;
        }
        Ok(())
    }
}

pub use resume_init::cmdline::Deadline;

/// Waits until the device appears, polling. `Err(Miss::None)` when the
/// deadline passes; `Err(Miss::Several)` at once when more than one device
/// carries the identity (waiting would not make it one).
pub fn wait_for(what: &str, text: impl core::fmt::Display, spec: &DevSpec, deadline: Deadline) -> Result<Device, Miss> {
    let start = crate::clock::now_ms();
    let mut announced = false;
    loop {
        match find(spec) {
            Ok(d) => {
                debug!("{what} {text} is {} ({}:{})", d.node(), d.major, d.minor);
                return Ok(d);
            }
            Err(Miss::Several(all)) => return Err(Miss::Several(all)),
            Err(Miss::None) => {}
        }
        let waited = crate::clock::now_ms() - start;
        if let Deadline::Ms(limit) = deadline
            && waited >= limit {
                return Err(Miss::None);
            }
        if !announced && waited >= 1000 {
            crate::modules::load_left_out(what);
            match deadline {
                Deadline::Forever => info!("waiting for {what} device {text} (rootwait: no time limit)"),
                Deadline::Ms(l) => info!("waiting for {what} device {text} (up to {} s)", l / 1000),
            }
            announced = true;
        }
        crate::clock::sleep_ms(POLL_MS);
    }
}
