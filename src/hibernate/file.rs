//! Hibernating into a plain file (`--file PATH`, `--make-file PATH`): the
//! file's blocks on the device under its filesystem, checked and fixed
//! before anything is frozen; the image is written there with `O_DIRECT`
//! to the block device, never through the filesystem. `docs/hibernation-file.md`.

use core::fmt::Write;

use resume_init::hibfile::{self, Extent, MARKER, Pages};
use resume_init::probe;
use resume_init::swsusp::PAGE;
use resume_init::text::parse_u64;
use rustix::fd::OwnedFd;
use rustix::fs::{FileType, IFlags, Mode, OFlags};
use rustix::io::Errno;

use super::refusal::{Refusal, Text};
use super::target::Area;
use crate::error::E;
use crate::fsutil::{PathBuf, read_str};
use crate::log::{info, out};

/// Extents a hibernation file may have, at most (a file made by
/// `--make-file` on ext4 has one per 128 MiB).
pub const MAX_EXTENTS: usize = 2048;
const BTRFS_SUPER_MAGIC: i64 = 0x9123_683e;
/// `FS_NOCOW_FL`: btrfs writes the file in place (no copy on write, no
/// compression), as it requires of swap files.
const FS_NOCOW_FL: u32 = 0x0080_0000;
const SYS_IMAGE_SIZE: &str = "/sys/power/image_size";

/// A hibernation file, located: its pages on the block device.
pub struct Located<'e> {
    /// The block device under the filesystem (its major and minor) and
    /// the device page of the file's first page (the header).
    pub area: Area,
    pub extents: &'e [Extent],
    pub pages: u64,
    /// The filesystem's UUID: what `resume=UUID=` names.
    pub fs_uuid: Option<[u8; 16]>,
}

impl Located<'_> {
    /// Where the image's pages go, file page 1 on.
    pub fn slots(&self) -> Pages<'_> {
        Pages::new(self.extents, self.pages, 1)
    }
}

fn refuse(path: &str, why: core::fmt::Arguments) -> Refusal {
    let mut t = Text::new();
    let _ = t.write_fmt(why);
    Refusal::File { path: PathBuf::try_from(path).unwrap_or_default(), why: t }
}

/// Finds the file's blocks on its device and checks them.
pub fn locate<'e>(path: &str, extents: &'e mut [Extent; MAX_EXTENTS]) -> Result<Located<'e>, Refusal> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| refuse(path, format_args!("cannot open it: {}", E(e))))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| refuse(path, format_args!("cannot stat it: {}", E(e))))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(refuse(path, format_args!("it is not a regular file")));
    }
    let size = st.st_size as u64;
    let n = match crate::ioctl::fiemap_extents(&fd, extents) {
        Ok(n) => n,
        Err(Errno::FBIG) => return Err(refuse(path, format_args!("it has more than {MAX_EXTENTS} extents; make it again with --make-file on a filesystem with more free room"))),
        Err(e) => return Err(refuse(path, format_args!("its filesystem does not say where its blocks lie (FIEMAP: {})", E(e)))),
    };
    let pages = hibfile::check(&extents[..n], size).map_err(|why| refuse(path, format_args!("{why}")))?;
    if pages < 2 {
        return Err(refuse(path, format_args!("it holds {size} bytes, not even a header and one page")));
    }
    let (major, minor) = if rustix::fs::major(st.st_dev) != 0 {
        (rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev))
    } else {
        // btrfs: st_dev is an anonymous device and FIEMAP gives btrfs
        // addresses; each extent is mapped to its disk through the chunk
        // tree, and all must lie on one.
        let d = btrfs_to_disk(path, &fd, &mut extents[..n])?;
        // The disk addresses, checked as the filesystem's were.
        hibfile::check(&extents[..n], size).map_err(|why| refuse(path, format_args!("{why}")))?;
        d
    };
    let extents = &extents[..n];
    let header = Pages::new(extents, pages, 0).next().unwrap_or(0);
    let dev = crate::device::find(&resume_init::devspec::DevSpec::Number { major, minor }).ok();
    let mut page = [0u8; probe::PROBE_SIZE];
    let fs_uuid = dev.as_ref().and_then(|d| crate::device::identify(d, &mut page)).and_then(|i| i.uuid);
    let name = PathBuf::try_from(path).unwrap_or_default();
    Ok(Located { area: Area { name, major, minor, offset: header }, extents, pages, fs_uuid })
}

/// Maps each extent's btrfs address to its disk (as the kernel does for a
/// swap file); the disk's device number.
fn btrfs_to_disk(path: &str, fd: &OwnedFd, extents: &mut [Extent]) -> Result<(u32, u32), Refusal> {
    let mut disk: Option<PathBuf> = None;
    for e in extents.iter_mut() {
        let (d, at) = crate::ioctl::btrfs_disk_byte(fd, e.physical).map_err(|x| refuse(path, format_args!("btrfs did not map its extent at byte {} to a disk ({})", e.logical, E(x))))?;
        // The last byte too: the extent must not cross into another chunk.
        let last = e.physical.saturating_add(e.length.saturating_sub(1));
        let (d2, end) = crate::ioctl::btrfs_disk_byte(fd, last).map_err(|x| refuse(path, format_args!("btrfs did not map its extent at byte {} ({})", e.logical, E(x))))?;
        if d2 != d || Some(end) != at.checked_add(e.length.saturating_sub(1)) || disk.as_ref().is_some_and(|x| *x != d) {
            return Err(refuse(path, format_args!("its extents do not lie in one piece on one disk (btrfs with several devices or profiles)")));
        }
        e.physical = at;
        disk = Some(d);
    }
    let disk = disk.unwrap_or_default();
    let st = rustix::fs::stat(disk.as_str()).map_err(|x| refuse(path, format_args!("cannot stat its disk {disk}: {}", E(x))))?;
    Ok((rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev)))
}

/// The check before anything is frozen that the next boot will look where
/// the image goes: `/sys/power/resume` and `resume_offset` (set by
/// resume-init at every boot) name the file's first page, or (on UEFI,
/// with nothing set) the `HibernateLocation` variable will. A file moved or
/// made again since the boot would otherwise take an image nothing reads.
pub fn check_place(file: &Located, efi: bool) -> Result<(), Refusal> {
    let Area { ref name, major, minor, offset } = file.area;
    let set = super::target::resume_set();
    match set {
        Some(d) if d == (major, minor, offset) => Ok(()),
        None if efi => Ok(()),
        _ => {
            let mut why = Text::new();
            let uuid = Uuid(file.fs_uuid);
            let _ = match set {
                Some((ma, mi, set_offset)) => write!(why, "the boot named device {ma}:{mi} page {set_offset}, but its first page is {offset} on {major}:{minor} (moved or made again since): "),
                None => write!(why, "nothing will look for the image at the next boot: "),
            };
            let _ = write!(why, "boot with resume={uuid} resume_offset={offset} (or mkinitramfs.sh -r {uuid} -O {offset})");
            Err(Refusal::File { path: name.clone(), why })
        }
    }
}

/// `UUID=…` of a filesystem, or a placeholder when it has none.
pub struct Uuid(pub Option<[u8; 16]>);

impl core::fmt::Display for Uuid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(u) => write!(f, "UUID={}", resume_init::text::Uuid(u)),
            None => f.write_str("<the filesystem's device>"),
        }
    }
}

/// The header page a hibernation file starts with: zeros and the marker.
pub fn fresh_header(page: &mut [u8; PAGE]) {
    page.fill(0);
    page[PAGE - 10..].copy_from_slice(MARKER);
}

/// `resume-init hibernate --make-file PATH [--size SIZE]`: makes the file
/// the writer needs, every block allocated and written (no holes, no
/// delayed allocation), on btrfs in place (NOCOW, uncompressed), its first
/// page the marker, then immutable (nothing moves or truncates it); prints
/// what to boot with. Returns the exit status.
pub fn make(path: &str, size: Option<u64>) -> i32 {
    match make_file(path, size) {
        Ok(()) => 0,
        Err(why) => {
            crate::log::error!("{why}");
            1
        }
    }
}

fn make_file(path: &str, size: Option<u64>) -> Result<(), Refusal> {
    let bytes = match size {
        Some(b) => b.next_multiple_of(PAGE as u64),
        None => {
            let mut buf = [0u8; 32];
            let image = read_str(SYS_IMAGE_SIZE, &mut buf).ok().and_then(parse_u64).ok_or_else(|| refuse(path, format_args!("cannot read {SYS_IMAGE_SIZE} to size it; give --size")))?;
            hibfile::default_pages(image) * PAGE as u64
        }
    };
    let fd = rustix::fs::open(path, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC, Mode::from_raw_mode(0o600))
        .map_err(|e| refuse(path, format_args!("cannot create it: {} (an old one: chattr -i, then remove it)", E(e))))?;
    let made = fill(path, &fd, bytes);
    if made.is_err() {
        let _ = rustix::fs::unlink(path);
        return made;
    }
    drop(fd);
    let mut extents = [Extent::default(); MAX_EXTENTS];
    let file = match locate(path, &mut extents) {
        Ok(f) => f,
        Err(why) => {
            // (A 1 KiB-block ext4, say: its blocks are no fixed place.)
            let _ = rustix::fs::unlink(path);
            return Err(why);
        }
    };
    // Immutable: no rename, truncation or defragmentation moves its blocks.
    if let Ok(fd) = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        let flags = rustix::fs::ioctl_getflags(&fd).unwrap_or(IFlags::empty());
        if let Err(e) = rustix::fs::ioctl_setflags(&fd, flags | IFlags::IMMUTABLE) {
            crate::log::warning!("cannot make {path} immutable: {} (keep it from being moved or changed)", E(e));
        }
    }
    let uuid = Uuid(file.fs_uuid);
    let at = file.area.offset;
    info!("hibernation file {path}: {} MiB, {} extents, on device {}:{} (header at page {at})", bytes >> 20, file.extents.len(), file.area.major, file.area.minor);
    out!("kernel command line: resume={uuid} resume_offset={at}\nor in the initramfs:  scripts/mkinitramfs.sh -r {uuid} -O {at}");
    Ok(())
}

/// Sizes the new file and writes every byte (zeros, the marker in its
/// first page), on btrfs in place; flushes it.
fn fill(path: &str, fd: &OwnedFd, bytes: u64) -> Result<(), Refusal> {
    let fs = rustix::fs::fstatfs(fd).map_err(|e| refuse(path, format_args!("cannot tell its filesystem: {}", E(e))))?;
    if fs.f_type as i64 == BTRFS_SUPER_MAGIC {
        rustix::fs::ioctl_setflags(fd, IFlags::from_bits_retain(FS_NOCOW_FL)).map_err(|e| refuse(path, format_args!("cannot make it NOCOW on btrfs: {}", E(e))))?;
    }
    rustix::fs::fallocate(fd, rustix::fs::FallocateFlags::empty(), 0, bytes).map_err(|e| refuse(path, format_args!("cannot allocate {} MiB: {}", bytes >> 20, E(e))))?;
    let mut chunk = [0u8; 64 * PAGE];
    let mut at = 0u64;
    while at < bytes {
        let n = (bytes - at).min(chunk.len() as u64) as usize;
        if at == 0 {
            let mut first = [0u8; PAGE];
            fresh_header(&mut first);
            chunk[..PAGE].copy_from_slice(&first);
        }
        let w = rustix::io::pwrite(fd, &chunk[..n], at).map_err(|e| refuse(path, format_args!("cannot write it: {}", E(e))))?;
        if at == 0 {
            chunk[..PAGE].fill(0);
        }
        at += w as u64;
    }
    rustix::fs::fsync(fd).map_err(|e| refuse(path, format_args!("cannot flush it: {}", E(e))))
}

/// Whether the file's first page, as read from the device, is a
/// hibernation file's without an image; why not, if not.
pub fn header_ok(page: &[u8; PAGE]) -> Option<&'static str> {
    match probe::identify(page).map(|i| i.kind) {
        Some(probe::Kind::HibernationFile) => None,
        Some(probe::Kind::Swap { hibernated: true }) => Some("it already holds a hibernation image; not writing over it (resume from it first)"),
        _ => Some("its first page is not a hibernation file's; make it with resume-init hibernate --make-file"),
    }
}
