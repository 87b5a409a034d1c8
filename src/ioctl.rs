//! `/dev/snapshot` in restore mode ([`Snapshot`]) and hibernation mode
//! ([`SnapshotReader`]): one type each, one method per operation,
//! each naming itself in its error (as ChromiumOS hiberman's `snapdev.rs`).
//! The kernel enforces the order: open `O_WRONLY`, write the image page by
//! page, `SNAPSHOT_FREEZE`, `SNAPSHOT_PLATFORM_SUPPORT`,
//! `SNAPSHOT_ATOMIC_RESTORE` (returns only on failure), `SNAPSHOT_UNFREEZE`.
//! Numbers from `include/uapi/linux/suspend_ioctls.h` (magic '3').

use resume_init::swsusp::PAGE;
use rustix::fd::OwnedFd;
use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::ioctl::{Getter, IntegerSetter, NoArg, Opcode, Setter, Updater, ioctl, opcode};

use crate::error::Sys;

pub const SNAPSHOT: &str = "/dev/snapshot";
const SNAPSHOT_SYSFS_DEV: &str = "/sys/class/misc/snapshot/dev";

const SNAPSHOT_FREEZE: Opcode = opcode::none(b'3', 1);
const SNAPSHOT_UNFREEZE: Opcode = opcode::none(b'3', 2);
const SNAPSHOT_ATOMIC_RESTORE: Opcode = opcode::none(b'3', 4);
const SNAPSHOT_PLATFORM_SUPPORT: Opcode = opcode::none(b'3', 15);

/// An open `/dev/snapshot`, either mode: what both modes do alike.
pub struct SnapshotFd {
    fd: OwnedFd,
}

impl SnapshotFd {
    /// `SNAPSHOT_FREEZE`: sync, freeze every other process.
    pub fn freeze(&self) -> Result<(), Sys<'static>> {
        no_arg::<SNAPSHOT_FREEZE>(&self.fd, "ioctl SNAPSHOT_FREEZE")
    }

    /// `SNAPSHOT_UNFREEZE`: thaw after a failed restore, or after a
    /// hibernation that goes on (a no-op while an image is ready: `free` first).
    pub fn unfreeze(&self) -> Result<(), Sys<'static>> {
        no_arg::<SNAPSHOT_UNFREEZE>(&self.fd, "ioctl SNAPSHOT_UNFREEZE")
    }

    /// `SNAPSHOT_PLATFORM_SUPPORT`: go through the platform (ACPI S4)
    /// hooks: on restore for images with `SF_PLATFORM_MODE`, as the kernel
    /// does; on hibernation to take the snapshot and power off that way.
    pub fn platform_support(&self, on: bool) -> Result<(), Sys<'static>> {
        by_value::<SNAPSHOT_PLATFORM_SUPPORT>(&self.fd, usize::from(on), "ioctl SNAPSHOT_PLATFORM_SUPPORT")
    }
}

/// An open `/dev/snapshot` in restore mode.
pub struct Snapshot {
    dev: SnapshotFd,
}

impl core::ops::Deref for Snapshot {
    type Target = SnapshotFd;
    fn deref(&self) -> &SnapshotFd {
        &self.dev
    }
}

fn sys(op: &'static str) -> impl Fn(Errno) -> Sys<'static> {
    move |errno| Sys { op, what: SNAPSHOT, errno }
}

/// An `_IO('3', n)` ioctl on `/dev/snapshot` that takes no argument.
/// Callers pass only such opcodes (all named above).
#[inline(always)]
fn no_arg<const OP: Opcode>(fd: &OwnedFd, name: &'static str) -> Result<(), Sys<'static>> {
    // SAFETY: OP is an _IO('3', n) of suspend_ioctls.h without argument.
    unsafe { ioctl(fd, NoArg::<OP>::new()) }.map_err(sys(name))
}

/// An `_IO('3', n)` ioctl on `/dev/snapshot` that takes its argument by
/// value (PLATFORM_SUPPORT, PREF_IMAGE_SIZE).
#[inline(always)]
fn by_value<const OP: Opcode>(fd: &OwnedFd, v: usize, name: &'static str) -> Result<(), Sys<'static>> {
    // SAFETY: OP is an _IO('3', n) whose argument is a plain value.
    unsafe { ioctl(fd, IntegerSetter::<OP>::new_usize(v)) }.map_err(sys(name))
}

impl Snapshot {
    /// `open("/dev/snapshot", O_WRONLY)`: restore mode. The node is made
    /// from sysfs if devtmpfs has none.
    pub fn open_restore() -> Result<Snapshot, Sys<'static>> {
        let fd = crate::fsutil::open_char_node(SNAPSHOT, SNAPSHOT_SYSFS_DEV, OFlags::WRONLY).map_err(sys("open"))?;
        Ok(Snapshot { dev: SnapshotFd { fd } })
    }

    /// Image pages, up to a chunk's 32 in one `writev(2)`: the kernel
    /// takes the iovecs one by one (a page each) and stops at the first
    /// refusal, so a failure is still pinned to its page (returned as the
    /// number of pages before it).
    pub fn write_pages(&self, pages: &[u8]) -> Result<(), (usize, Errno)> {
        const MAX: usize = 32;
        let mut done = 0; // bytes
        while done < pages.len() {
            let mut iov = [rustix::io::IoSlice::new(&[]); MAX];
            let mut n = 0;
            for (slot, p) in iov.iter_mut().zip(pages[done..].chunks(PAGE)) {
                *slot = rustix::io::IoSlice::new(p);
                n += 1;
            }
            match rustix::io::writev(&self.dev.fd, &iov[..n]) {
                Ok(0) => return Err((done / PAGE, Errno::NOSPC)),
                Ok(k) => done += k,
                Err(Errno::INTR) => {}
                Err(e) => return Err((done / PAGE, e)),
            }
        }
        Ok(())
    }


    /// `SNAPSHOT_ATOMIC_RESTORE`: jumps into the restored kernel. Returns
    /// only if the restore failed.
    pub fn atomic_restore(&self) -> Sys<'static> {
        // SAFETY: SNAPSHOT_ATOMIC_RESTORE is _IO('3', 4) and takes no argument.
        let r = unsafe { ioctl(&self.dev.fd, NoArg::<SNAPSHOT_ATOMIC_RESTORE>::new()) };
        Sys { op: "ioctl SNAPSHOT_ATOMIC_RESTORE", what: SNAPSHOT, errno: r.err().unwrap_or(Errno::INVAL) }
    }
}

// The hibernation side (`docs/writer.md` §1, `docs/image-format.md` §5): `/dev/snapshot` opened
// read-only, in the order SET_SWAP_AREA, FREEZE, PLATFORM_SUPPORT,
// PREF_IMAGE_SIZE, CREATE_IMAGE, GET_IMAGE_SIZE/AVAIL_SWAP_SIZE,
// read() and ALLOC_SWAP_PAGE while writing, then POWER_OFF or S2RAM; on
// the way back FREE_SWAP_PAGES, FREE, UNFREEZE.
const SNAPSHOT_FREE: Opcode = opcode::none(b'3', 5);
const SNAPSHOT_FREE_SWAP_PAGES: Opcode = opcode::none(b'3', 9);
const SNAPSHOT_S2RAM: Opcode = opcode::none(b'3', 11);
const SNAPSHOT_SET_SWAP_AREA: Opcode = opcode::write::<ResumeSwapArea>(b'3', 13);
const SNAPSHOT_GET_IMAGE_SIZE: Opcode = opcode::read::<i64>(b'3', 14);
const SNAPSHOT_POWER_OFF: Opcode = opcode::none(b'3', 16);
const SNAPSHOT_CREATE_IMAGE: Opcode = opcode::write::<i32>(b'3', 17);
const SNAPSHOT_PREF_IMAGE_SIZE: Opcode = opcode::none(b'3', 18);
const SNAPSHOT_AVAIL_SWAP_SIZE: Opcode = opcode::read::<i64>(b'3', 19);
const SNAPSHOT_ALLOC_SWAP_PAGE: Opcode = opcode::read::<i64>(b'3', 20);

/// `struct resume_swap_area` (packed, 12 bytes).
#[repr(C, packed)]
struct ResumeSwapArea {
    /// Page of the swap header on the device.
    offset: i64,
    /// The kernel's "new" device number encoding.
    dev: u32,
}

/// The kernel's `new_encode_dev`.
fn encode_dev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// What `SNAPSHOT_CREATE_IMAGE` said.
pub enum Snapshotted {
    /// The snapshot exists; its pages are to be written.
    Taken,
    /// This is the restored system coming back (or a wake-up event
    /// aborted the snapshot): nothing to write.
    Resumed,
}

/// An open `/dev/snapshot` in hibernation (read) mode.
pub struct SnapshotReader {
    dev: SnapshotFd,
}

impl core::ops::Deref for SnapshotReader {
    type Target = SnapshotFd;
    fn deref(&self) -> &SnapshotFd {
        &self.dev
    }
}

impl SnapshotReader {
    /// `open("/dev/snapshot", O_RDONLY)`: hibernation mode (the node made
    /// from sysfs if devtmpfs has none).
    pub fn open() -> Result<SnapshotReader, Sys<'static>> {
        let fd = crate::fsutil::open_char_node(SNAPSHOT, SNAPSHOT_SYSFS_DEV, OFlags::RDONLY).map_err(sys("open"))?;
        Ok(SnapshotReader { dev: SnapshotFd { fd } })
    }

    /// `SNAPSHOT_SET_SWAP_AREA`: the swap area (device, header page) the
    /// image goes to; it also lets writes to that active swap device through.
    pub fn set_swap_area(&self, major: u32, minor: u32, offset: u64) -> Result<(), Sys<'static>> {
        let area = ResumeSwapArea { offset: offset as i64, dev: encode_dev(major, minor) };
        // SAFETY: SET_SWAP_AREA is _IOW('3', 13, struct resume_swap_area)
        // and reads exactly that 12-byte packed struct.
        unsafe { ioctl(&self.dev.fd, Setter::<SNAPSHOT_SET_SWAP_AREA, ResumeSwapArea>::new(area)) }
            .map_err(sys("ioctl SNAPSHOT_SET_SWAP_AREA"))
    }


    /// `SNAPSHOT_PREF_IMAGE_SIZE`: how small the kernel should try to make
    /// the image, in bytes (it sets `/sys/power/image_size`).
    pub fn pref_image_size(&self, bytes: usize) -> Result<(), Sys<'static>> {
        by_value::<SNAPSHOT_PREF_IMAGE_SIZE>(&self.dev.fd, bytes, "ioctl SNAPSHOT_PREF_IMAGE_SIZE")
    }

    /// `SNAPSHOT_CREATE_IMAGE`: the atomic snapshot. Returns twice: once
    /// with the snapshot taken, and once more in the restored system.
    pub fn create_image(&self) -> Result<Snapshotted, Sys<'static>> {
        let mut in_suspend: i32 = -1;
        // SAFETY: CREATE_IMAGE is _IOW('3', 17, int); the kernel writes the
        // int through the pointer (put_user), which lives across the call.
        unsafe { ioctl(&self.dev.fd, Updater::<SNAPSHOT_CREATE_IMAGE, i32>::new(&mut in_suspend)) }
            .map_err(sys("ioctl SNAPSHOT_CREATE_IMAGE"))?;
        Ok(if in_suspend == 1 { Snapshotted::Taken } else { Snapshotted::Resumed })
    }

    fn get_i64<const OP: Opcode>(&self, name: &'static str) -> Result<i64, Sys<'static>> {
        // SAFETY: the three callers' opcodes are _IOR('3', n, loff_t): the
        // kernel writes one i64.
        unsafe { ioctl(&self.dev.fd, Getter::<OP, i64>::new()) }.map_err(sys(name))
    }

    /// `SNAPSHOT_GET_IMAGE_SIZE`: the whole stream in bytes.
    pub fn image_size(&self) -> Result<u64, Sys<'static>> {
        self.get_i64::<SNAPSHOT_GET_IMAGE_SIZE>("ioctl SNAPSHOT_GET_IMAGE_SIZE").map(|v| v.max(0) as u64)
    }

    /// `SNAPSHOT_AVAIL_SWAP_SIZE`: free space of the swap area, in bytes.
    pub fn avail_swap(&self) -> Result<u64, Sys<'static>> {
        self.get_i64::<SNAPSHOT_AVAIL_SWAP_SIZE>("ioctl SNAPSHOT_AVAIL_SWAP_SIZE").map(|v| v.max(0) as u64)
    }

    /// `SNAPSHOT_ALLOC_SWAP_PAGE`: one free slot, as a byte offset on the device.
    pub fn alloc_swap_page(&self) -> Result<u64, Errno> {
        // SAFETY: _IOR('3', 20, loff_t): the kernel writes one i64.
        unsafe { ioctl(&self.dev.fd, Getter::<SNAPSHOT_ALLOC_SWAP_PAGE, i64>::new()) }.map(|v| v.max(0) as u64)
    }

    /// The next stream pages into `buf` (whole pages), up to 32 in one
    /// `readv(2)`: the kernel reads the iovecs one by one, a page each, as
    /// in [`write_pages`](Self::write_pages), so one system call instead
    /// of 32. The number of pages: fewer than fit only at the end of the
    /// stream. No iovec is ever empty (the kernel would hand out a page
    /// into it and lose it); a read that stops inside a page (a fault the
    /// kernel never meets with our mapped buffers) is an error.
    pub fn read_pages(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        const MAX: usize = 32;
        let mut done = 0; // bytes
        while done < buf.len() {
            let mut iov: [rustix::io::IoSliceMut; MAX] = core::array::from_fn(|_| rustix::io::IoSliceMut::new(&mut []));
            let mut n = 0;
            for (slot, p) in iov.iter_mut().zip(buf[done..].chunks_mut(PAGE)) {
                *slot = rustix::io::IoSliceMut::new(p);
                n += 1;
            }
            match rustix::io::readv(&self.dev.fd, &mut iov[..n]) {
                Ok(0) => break,
                Ok(k) if k % PAGE != 0 => return Err(Errno::NODATA),
                Ok(k) => done += k,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done / PAGE)
    }

    /// `SNAPSHOT_FREE_SWAP_PAGES`: gives back every slot allocated.
    pub fn free_swap_pages(&self) -> Result<(), Sys<'static>> {
        no_arg::<SNAPSHOT_FREE_SWAP_PAGES>(&self.dev.fd, "ioctl SNAPSHOT_FREE_SWAP_PAGES")
    }

    /// `SNAPSHOT_FREE`: drops the snapshot (user tasks stay frozen).
    pub fn free(&self) -> Result<(), Sys<'static>> {
        no_arg::<SNAPSHOT_FREE>(&self.dev.fd, "ioctl SNAPSHOT_FREE")
    }

    /// `SNAPSHOT_POWER_OFF`: ACPI S4 (only with platform support on).
    /// Returns only if that failed.
    pub fn power_off(&self) -> Sys<'static> {
        // SAFETY: _IO('3', 16), no argument.
        let r = unsafe { ioctl(&self.dev.fd, NoArg::<SNAPSHOT_POWER_OFF>::new()) };
        Sys { op: "ioctl SNAPSHOT_POWER_OFF", what: SNAPSHOT, errno: r.err().unwrap_or(Errno::NOSYS) }
    }

    /// `SNAPSHOT_S2RAM`: suspend to RAM; returns at the wake-up (`Ok`) or
    /// when suspending failed.
    pub fn s2ram(&self) -> Result<(), Sys<'static>> {
        no_arg::<SNAPSHOT_S2RAM>(&self.dev.fd, "ioctl SNAPSHOT_S2RAM")
    }
}

#[repr(C)]
struct FiemapHead([u64; 4]);

const FS_IOC_FIEMAP: Opcode = opcode::read_write::<FiemapHead>(b'f', 11);
const FIEMAP_FLAG_SYNC: u32 = 1;

/// `struct fiemap` with room for [`FIEMAP_BATCH`] extents.
#[repr(C)]
struct FiemapMany {
    start: u64,
    length: u64,
    flags: u32,
    mapped_extents: u32,
    extent_count: u32,
    reserved: u32,
    /// `struct fiemap_extent`, 56 bytes each: logical, physical, length,
    /// two reserved u64, flags, three reserved u32.
    extents: [[u64; 7]; FIEMAP_BATCH],
}

const FIEMAP_BATCH: usize = 64;

/// Up to [`FIEMAP_BATCH`] extents of a file from byte `start` on
/// (`FS_IOC_FIEMAP` with `FIEMAP_FLAG_SYNC`, so delayed allocations are
/// made first), into `out`; how many.
fn fiemap_batch(fd: &OwnedFd, start: u64, out: &mut [resume_init::hibfile::Extent; FIEMAP_BATCH]) -> Result<usize, Errno> {
    let mut m = FiemapMany { start, length: u64::MAX - start, flags: FIEMAP_FLAG_SYNC, mapped_extents: 0, extent_count: FIEMAP_BATCH as u32, reserved: 0, extents: [[0; 7]; FIEMAP_BATCH] };
    // SAFETY: FS_IOC_FIEMAP is _IOWR('f', 11, struct fiemap); the kernel
    // reads the head and writes at most `extent_count` extents right
    // after it, all inside `m`.
    unsafe { ioctl(fd, Updater::<FS_IOC_FIEMAP, FiemapMany>::new(&mut m)) }?;
    let got = (m.mapped_extents as usize).min(FIEMAP_BATCH);
    for (o, x) in out.iter_mut().zip(&m.extents[..got]) {
        // (fe_flags is the low half of the sixth word: little-endian.)
        *o = resume_init::hibfile::Extent { logical: x[0], physical: x[1], length: x[2], flags: x[5] as u32 };
    }
    Ok(got)
}

/// The physical byte offset of a file's first byte, as `filefrag` prints
/// it: where a swap file's header lies on its device.
pub fn first_physical_byte(fd: &OwnedFd) -> Result<u64, Errno> {
    let mut batch = [resume_init::hibfile::Extent::default(); FIEMAP_BATCH];
    match fiemap_batch(fd, 0, &mut batch)? {
        0 => Err(Errno::NODATA),
        _ => Ok(batch[0].physical),
    }
}

/// Every extent of a file, in logical order, into `out`; how many.
/// `EFBIG` if there are more than `out` holds.
pub fn fiemap_extents(fd: &OwnedFd, out: &mut [resume_init::hibfile::Extent]) -> Result<usize, Errno> {
    use resume_init::hibfile::EXTENT_LAST;
    let mut batch = [resume_init::hibfile::Extent::default(); FIEMAP_BATCH];
    let mut n = 0;
    let mut start = 0u64;
    loop {
        let got = fiemap_batch(fd, start, &mut batch)?;
        if got == 0 {
            return Ok(n);
        }
        for &e in &batch[..got] {
            *out.get_mut(n).ok_or(Errno::FBIG)? = e;
            n += 1;
            if e.flags & EXTENT_LAST != 0 {
                return Ok(n);
            }
            start = e.logical.saturating_add(e.length);
        }
    }
}

/// A btrfs ioctl argument of 4 KiB (`struct btrfs_ioctl_search_args`,
/// `struct btrfs_ioctl_dev_info_args`), read and written as little-endian
/// words at the offsets btrfs.h gives.
#[repr(C, align(8))]
struct Btrfs4k([u8; 4096]);

impl Btrfs4k {
    fn u64(&self, at: usize) -> u64 {
        resume_init::bytes::le64(&self.0, at).unwrap_or(0)
    }
    fn set(&mut self, at: usize, v: u64) {
        if let Some(b) = self.0.get_mut(at..at + 8) {
            b.copy_from_slice(&v.to_le_bytes());
        }
    }
}

const BTRFS_IOC_TREE_SEARCH: Opcode = opcode::read_write::<Btrfs4k>(0x94, 17);
const BTRFS_IOC_DEV_INFO: Opcode = opcode::read_write::<Btrfs4k>(0x94, 30);

/// Where btrfs address `logical` lies on a disk, as the kernel maps a
/// swap file (which btrfs keeps on one device, single profile): the
/// chunk holding it, from the chunk tree (`BTRFS_IOC_TREE_SEARCH`, as
/// `btrfs inspect-internal map-swapfile` does), and its first stripe.
/// Returns that device's node (`BTRFS_IOC_DEV_INFO`) and the disk byte.
pub fn btrfs_disk_byte(fd: &OwnedFd, logical: u64) -> Result<(crate::fsutil::PathBuf, u64), Errno> {
    let mut a = Btrfs4k([0; 4096]);
    let mut from = 0;
    loop {
        // The key: the chunk tree (3), chunk items (objectid 256, type
        // 228) at addresses from..=logical, any transaction.
        a.0[..104].fill(0);
        for (at, v) in [(0, 3), (8, 256), (16, 256), (24, from), (32, logical), (48, u64::MAX), (56, 228 | 228 << 32), (64, 4096)] {
            a.set(at, v);
        }
        // SAFETY: _IOWR(0x94, 17, struct btrfs_ioctl_search_args), 4096
        // bytes, all inside `a`.
        unsafe { ioctl(fd, Updater::<BTRFS_IOC_TREE_SEARCH, Btrfs4k>::new(&mut a)) }?;
        let items = a.u64(64) as u32;
        // Results after the key (104 bytes): chunk items (core::btrfs).
        match resume_init::btrfs::find(&a.0[104..], items, logical) {
            resume_init::btrfs::Chunk::Found { devid, disk } => {
                let mut d = Btrfs4k([0; 4096]);
                d.set(0, devid);
                // SAFETY: _IOWR(0x94, 30, struct btrfs_ioctl_dev_info_args),
                // 4096 bytes, all inside `d`.
                unsafe { ioctl(fd, Updater::<BTRFS_IOC_DEV_INFO, Btrfs4k>::new(&mut d)) }?;
                // The path: 1024 bytes at 3072, NUL-terminated.
                let path = d.0[3072..].split(|&c| c == 0).next().and_then(|p| core::str::from_utf8(p).ok()).ok_or(Errno::INVAL)?;
                return Ok((crate::fsutil::PathBuf::try_from(path).map_err(|_| Errno::NAMETOOLONG)?, disk));
            }
            resume_init::btrfs::Chunk::Next(start) => from = start,
            resume_init::btrfs::Chunk::End => return Err(Errno::NOENT),
        }
    }
}

/// The device-mapper ioctl buffer: a `struct dm_ioctl` (312 bytes) and
/// what follows it (target specs and their parameters), 8-byte aligned.
#[repr(C, align(8))]
pub struct DmBuf(pub [u8; DM_BUF]);
pub const DM_BUF: usize = 16 * 1024;

/// A device-mapper ioctl, `_IOWR(0xfd, nr, struct dm_ioctl)`; the kernel
/// takes the real length from the header's `data_size`.
pub fn dm_call(fd: &OwnedFd, nr: u8, buf: &mut DmBuf) -> Result<(), Errno> {
    const fn op(nr: u8) -> Opcode {
        opcode::read_write::<[u8; 312]>(0xfd, nr)
    }
    // SAFETY: each opcode is a dm ioctl (dm-ioctl.h) whose argument is a
    // `struct dm_ioctl` followed by its data, all inside `buf`, whose
    // `data_size` (set by the caller) never exceeds `DM_BUF`.
    unsafe {
        match nr {
            3 => ioctl(fd, Updater::<{ op(3) }, DmBuf>::new(buf)),
            4 => ioctl(fd, Updater::<{ op(4) }, DmBuf>::new(buf)),
            6 => ioctl(fd, Updater::<{ op(6) }, DmBuf>::new(buf)),
            9 => ioctl(fd, Updater::<{ op(9) }, DmBuf>::new(buf)),
            _ => Err(Errno::INVAL),
        }
    }
}

/// The console's line settings (`struct termios`, `TCGETS`/`TCSETS`).
pub type Termios = linux_raw_sys::general::termios;

/// `TCGETS`: the terminal settings of `fd` (`ENOTTY` if it is none).
pub fn tcgets(fd: rustix::fd::BorrowedFd<'_>) -> Result<Termios, Errno> {
    // SAFETY: TCGETS fills one `struct termios`.
    unsafe { ioctl(fd, Getter::<{ linux_raw_sys::ioctl::TCGETS as Opcode }, Termios>::new()) }
}

/// `TCSETS`: applies `t` at once.
pub fn tcsets(fd: rustix::fd::BorrowedFd<'_>, t: &Termios) -> Result<(), Errno> {
    // SAFETY: TCSETS reads one `struct termios`.
    unsafe { ioctl(fd, Setter::<{ linux_raw_sys::ioctl::TCSETS as Opcode }, Termios>::new(*t)) }
}
