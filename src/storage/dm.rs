//! Device-mapper without libdevmapper: the ioctls of `dmsetup create`
//! (`DM_DEV_CREATE`, `DM_TABLE_LOAD`, `DM_DEV_SUSPEND` to resume) and
//! `dmsetup remove` on `/dev/mapper/control`; and what udev would have
//! left for a device made here.
//! Layouts from `include/uapi/linux/dm-ioctl.h` (`docs/luks-lvm.md` §2).

use core::fmt::Write;

use resume_init::devspec::decode_dev;
use rustix::fd::OwnedFd;
use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::device::Device;
use crate::error::Sys;
use crate::ioctl::{DM_BUF, DmBuf, dm_call};

const CONTROL: &str = "/dev/mapper/control";
const CONTROL_SYSFS_DEV: &str = "/sys/class/misc/device-mapper/dev";

/// `struct dm_ioctl` fields.
const HEADER: usize = 312;
const DATA_SIZE: usize = 12;
const DATA_START: usize = 16;
const TARGET_COUNT: usize = 20;
const FLAGS: usize = 28;
const DEV: usize = 40;
const NAME: usize = 48;
const NAME_LEN: usize = 128;
const UUID: usize = 176;
const UUID_LEN: usize = 129;
/// `struct dm_target_spec`: sector_start, length, status, next, target_type[16].
const SPEC: usize = 40;

const DM_DEV_CREATE: u8 = 3;
const DM_DEV_REMOVE: u8 = 4;
const DM_DEV_SUSPEND: u8 = 6;
const DM_TABLE_LOAD: u8 = 9;
const DM_READONLY_FLAG: u32 = 1 << 0;
/// The kernel wipes its copies of the buffer (it holds a key).
const DM_SECURE_DATA_FLAG: u32 = 1 << 15;

/// One target line: start and length in 512-byte sectors, type, parameters.
pub struct Target<'a> {
    pub start: u64,
    pub len: u64,
    pub kind: &'a str,
    pub params: &'a str,
}

/// What failed, in the init's one error type: `ioctl DM_TABLE_LOAD
/// /dev/mapper/control: EINVAL (invalid argument)`.
pub type DmError = Sys<'static>;

fn fail(op: &'static str) -> impl Fn(Errno) -> DmError {
    move |errno| Sys { op, what: CONTROL, errno }
}

pub struct Control {
    fd: OwnedFd,
}

impl Control {
    /// Opens `/dev/mapper/control` (made from sysfs if devtmpfs has not);
    /// `dm_mod` must be loaded.
    pub fn open() -> Result<Control, DmError> {
        let _ = crate::fsutil::mkdir("/dev/mapper");
        let fd = crate::fsutil::open_char_node(CONTROL, CONTROL_SYSFS_DEV, OFlags::RDWR).map_err(fail("open"))?;
        Ok(Control { fd })
    }

    /// Opens the control device to `purpose` ("unlock LUKS devices"), or
    /// says why not: the initramfs lacks `modules`.
    pub fn open_to(purpose: &str, modules: &str) -> Option<Control> {
        Control::open()
            .map_err(|e| crate::log::error!("cannot {purpose}: {e}; the initramfs needs {modules} (mkinitramfs.sh adds them)"))
            .ok()
    }

    fn header(buf: &mut DmBuf, name: &str, size: usize, flags: u32) -> Result<(), Errno> {
        let b = &mut buf.0;
        b[..HEADER].fill(0);
        b[0..4].copy_from_slice(&4u32.to_ne_bytes());
        b[DATA_SIZE..DATA_SIZE + 4].copy_from_slice(&(size as u32).to_ne_bytes());
        b[DATA_START..DATA_START + 4].copy_from_slice(&(HEADER as u32).to_ne_bytes());
        b[FLAGS..FLAGS + 4].copy_from_slice(&flags.to_ne_bytes());
        if name.is_empty() || name.len() >= NAME_LEN {
            return Err(Errno::NAMETOOLONG);
        }
        b[NAME..NAME + name.len()].copy_from_slice(name.as_bytes());
        Ok(())
    }

    /// Creates `name` with these targets and makes it live; returns its
    /// block device (`dm-N`). On failure nothing is left behind.
    pub fn create(&self, name: &str, uuid: &str, t: &[Target], read_only: bool) -> Result<Device, DmError> {
        let mut buf = DmBuf([0; DM_BUF]);
        let r = self.create_in(&mut buf, name, uuid, t, read_only);
        zeroize::Zeroize::zeroize(&mut buf.0[..]); // the table may have held a key
        r
    }

    fn create_in(&self, buf: &mut DmBuf, name: &str, uuid: &str, t: &[Target], read_only: bool) -> Result<Device, DmError> {
        Self::header(buf, name, HEADER, 0).map_err(fail("DM_DEV_CREATE (the name)"))?;
        if uuid.len() >= UUID_LEN {
            return Err(fail("DM_DEV_CREATE (the uuid)")(Errno::NAMETOOLONG));
        }
        buf.0[UUID..UUID + uuid.len()].copy_from_slice(uuid.as_bytes());
        dm_call(&self.fd, DM_DEV_CREATE, buf).map_err(fail("ioctl DM_DEV_CREATE"))?;
        let dev = resume_init::bytes::ne64(&buf.0, DEV).unwrap_or(0);
        let (major, minor) = decode_dev(dev as u32);
        let r = self.load_and_resume(buf, name, t, read_only);
        if let Err(e) = r {
            let _ = self.remove(name);
            return Err(e);
        }
        let mut n = crate::device::Name::new();
        let _ = write!(n, "dm-{minor}");
        Ok(Device { name: n, major, minor })
    }

    fn load_and_resume(&self, buf: &mut DmBuf, name: &str, targets: &[Target], read_only: bool) -> Result<(), DmError> {
        let too_long = fail("DM_TABLE_LOAD (the table)")(Errno::NAMETOOLONG);
        let flags = DM_SECURE_DATA_FLAG | if read_only { DM_READONLY_FLAG } else { 0 };
        Self::header(buf, name, HEADER, flags).map_err(fail("ioctl DM_TABLE_LOAD"))?;
        let mut at = HEADER;
        for t in targets {
            let params_len = (t.params.len() + 1).next_multiple_of(8);
            let end = at + SPEC + params_len;
            if end > DM_BUF || t.kind.len() >= 16 {
                return Err(too_long);
            }
            let b = &mut buf.0;
            b[at..end].fill(0);
            b[at..at + 8].copy_from_slice(&t.start.to_ne_bytes());
            b[at + 8..at + 16].copy_from_slice(&t.len.to_ne_bytes());
            b[at + 20..at + 24].copy_from_slice(&((SPEC + params_len) as u32).to_ne_bytes());
            b[at + 24..at + 24 + t.kind.len()].copy_from_slice(t.kind.as_bytes());
            b[at + SPEC..at + SPEC + t.params.len()].copy_from_slice(t.params.as_bytes());
            at = end;
        }
        buf.0[DATA_SIZE..DATA_SIZE + 4].copy_from_slice(&(at as u32).to_ne_bytes());
        buf.0[TARGET_COUNT..TARGET_COUNT + 4].copy_from_slice(&(targets.len() as u32).to_ne_bytes());
        dm_call(&self.fd, DM_TABLE_LOAD, buf).map_err(fail("ioctl DM_TABLE_LOAD"))?;
        // DM_DEV_SUSPEND without DM_SUSPEND_FLAG resumes: the table goes live.
        Self::header(buf, name, HEADER, 0).map_err(fail("ioctl DM_DEV_SUSPEND (resume)"))?;
        dm_call(&self.fd, DM_DEV_SUSPEND, buf).map_err(fail("ioctl DM_DEV_SUSPEND (resume)"))
    }

    /// Removes the mapping `name`.
    pub fn remove(&self, name: &str) -> Result<(), DmError> {
        let mut buf = DmBuf([0; DM_BUF]);
        Self::header(&mut buf, name, HEADER, 0).map_err(fail("ioctl DM_DEV_REMOVE"))?;
        dm_call(&self.fd, DM_DEV_REMOVE, &mut buf).map_err(fail("ioctl DM_DEV_REMOVE"))
    }
}

/// What udev would have left for a mapping it saw made: the
/// `/dev/mapper/NAME` link (and `/dev/VG/LV` for `also`), and a database
/// record under `/run/udev/data` (moved into the real root with `/run`).
/// Without the record, systemd's udev rules take a device-mapper device
/// found at coldplug for one not set up yet and its swap and root units
/// wait forever (lvm2#31, systemd#33920); booster and ugrd write the same.
pub fn udev_record(m: &Device, name: &str, also: Option<(&str, &str)>) {
    use crate::fsutil::path;
    let target = path(format_args!("../{}", m.name));
    if let (Ok(link), Ok(target)) = (path(format_args!("/dev/mapper/{name}")), &target) {
        let _ = rustix::fs::symlink(target.as_str(), link.as_str());
    }
    if let (Some((vg, lv)), Ok(target)) = (also, &target)
        && let (Ok(dir), Ok(link)) = (path(format_args!("/dev/{vg}")), path(format_args!("/dev/{vg}/{lv}"))) {
            let _ = crate::fsutil::mkdir(dir.as_str());
            let _ = rustix::fs::symlink(target.as_str(), link.as_str());
        }
    if !crate::mount::run_tmpfs() {
        crate::log::warning!("cannot mount a tmpfs on /run: systemd may not take {} for ready", m.node());
        return;
    }
    let _ = crate::fsutil::mkdir("/run/udev");
    let _ = crate::fsutil::mkdir("/run/udev/data");
    if let Ok(p) = path(format_args!("/run/udev/data/b{}:{}", m.major, m.minor))
        && let Err(e) = crate::fsutil::create_file(p.as_str(), "E:DM_UDEV_PRIMARY_SOURCE_FLAG=1\n") {
            crate::log::warning!("cannot write {p}: {}", crate::error::E(e));
        }
}
