//! Choosing where the image goes, and refusing a place that would lose
//! or leak it: the swap area `/sys/power/resume` names (resume-init sets
//! it at every boot), else `--device`, else the one active swap area; and
//! no image on an unencrypted area while dm-crypt keys are in memory, nor
//! on one whose key is new at every boot.

use core::fmt::Write;

use resume_init::swsusp::PAGE;
use resume_init::text::{parse_maj_min, parse_u64};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use super::Options;
use super::refusal::{Refusal, Text};
use crate::error::E;
use crate::fsutil::{self, PathBuf, read_str, whole_lines};
use crate::log::warning;

const PROC_SWAPS: &str = "/proc/swaps";
const SYS_RESUME: &str = "/sys/power/resume";
const SYS_RESUME_OFFSET: &str = "/sys/power/resume_offset";

/// Where the image goes: an active swap area as `/proc/swaps` and the
/// kernel know it, or a hibernation file.
#[derive(Clone)]
pub struct Area {
    /// Its name in `/proc/swaps`, or the file's path.
    pub name: PathBuf,
    pub major: u32,
    pub minor: u32,
    /// Page of its header on the device (0 for a partition).
    pub offset: u64,
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
pub(super) fn unescape(raw: &str) -> PathBuf {
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
pub fn choose(opts: &Options) -> Result<Area, Refusal> {
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
        let path = || PathBuf::try_from(dev).unwrap_or_default();
        let (major, minor, off) = locate(dev).map_err(|errno| Refusal::DeviceArg { dev: path(), errno })?;
        let offset = opts.offset.unwrap_or(off);
        return find(major, minor, offset).filter(|_| major != 0).ok_or(Refusal::DeviceNotSwap { dev: path(), major, minor, offset });
    }
    if let Some((major, minor, set_offset)) = resume_set() {
        let offset = opts.offset.unwrap_or(set_offset);
        // A swap file made again or moved since the boot: its header is
        // elsewhere on the same device.
        let moved = || areas.iter().find(|a| (a.major, a.minor) == (major, minor) && a.offset != 0).map(|a| Refusal::OffsetMoved { name: a.name.clone(), set: offset, now: a.offset });
        return find(major, minor, offset).ok_or_else(|| moved().unwrap_or(Refusal::ResumeNotSwap { major, minor, offset }));
    }
    match areas.len() {
        0 => Err(Refusal::NoSwap),
        1 if areas[0].major == 0 => Err(Refusal::BtrfsUnknown { name: areas[0].name.clone() }),
        1 => Ok(areas[0].clone()),
        _ => {
            let mut list = heapless::String::<256>::new();
            for a in &areas {
                let _ = write!(list, " {}", a.name);
            }
            Err(Refusal::Several { list })
        }
    }
}

/// The check before anything is frozen that the next boot will look where
/// the image goes: `/sys/power/resume` and `resume_offset` (which
/// resume-init, initramfs-tools and dracut set from `resume=` at boot)
/// name the area, or, with nothing set, the `HibernateLocation` EFI
/// variable will (`efi`). Otherwise the image would sit where nothing
/// reads it until the next `swapon` rewrites the signature: a session
/// lost without a word (systemd 255 refuses too). `--force` goes on.
pub fn looked_for(area: &Area, efi: bool) -> Result<(), Refusal> {
    match resume_set() {
        Some(set) if set == (area.major, area.minor, area.offset) => Ok(()),
        None if efi => Ok(()),
        set => Err(Refusal::Nowhere { name: area.name.clone(), set }),
    }
}

/// Where the kernel was told the next image lies: `/sys/power/resume`
/// (device) and `resume_offset` (page), or `None` if no device is set.
pub fn resume_set() -> Option<(u32, u32, u64)> {
    let mut buf = [0u8; 64];
    let (major, minor) = read_str(SYS_RESUME, &mut buf).ok().and_then(parse_maj_min).filter(|d| *d != (0, 0))?;
    let mut b2 = [0u8; 32];
    let offset = read_str(SYS_RESUME_OFFSET, &mut b2).ok().and_then(parse_u64).unwrap_or(0);
    Some((major, minor, offset))
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
pub fn secrets_stay_secret(dev: &crate::device::Device, allow_plain: bool) -> Result<(), Text> {
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

