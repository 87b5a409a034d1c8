//! `/dev/snapshot` in restore mode: one type, one method per operation,
//! each naming itself in its error (as ChromiumOS hiberman's `snapdev.rs`).
//! The kernel enforces the order: open `O_WRONLY`, write the image page by
//! page, `SNAPSHOT_FREEZE`, `SNAPSHOT_PLATFORM_SUPPORT`,
//! `SNAPSHOT_ATOMIC_RESTORE` (returns only on failure), `SNAPSHOT_UNFREEZE`.
//! Numbers from `include/uapi/linux/suspend_ioctls.h` (magic '3').

use resume_init::swsusp::Page;
use rustix::fd::OwnedFd;
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::ioctl::{IntegerSetter, NoArg, Opcode, ioctl, opcode};

use crate::error::Sys;

pub const SNAPSHOT: &str = "/dev/snapshot";
const SNAPSHOT_SYSFS_DEV: &str = "/sys/class/misc/snapshot/dev";

const SNAPSHOT_FREEZE: Opcode = opcode::none(b'3', 1);
const SNAPSHOT_UNFREEZE: Opcode = opcode::none(b'3', 2);
const SNAPSHOT_ATOMIC_RESTORE: Opcode = opcode::none(b'3', 4);
const SNAPSHOT_PLATFORM_SUPPORT: Opcode = opcode::none(b'3', 15);

/// An open `/dev/snapshot` in restore mode.
pub struct Snapshot {
    fd: OwnedFd,
}

fn sys(op: &'static str) -> impl Fn(Errno) -> Sys<'static> {
    move |errno| Sys { op, what: SNAPSHOT, errno }
}

impl Snapshot {
    /// `open("/dev/snapshot", O_WRONLY)`: restore mode. The node is made
    /// from sysfs if devtmpfs has none.
    pub fn open_restore() -> Result<Snapshot, Sys<'static>> {
        let flags = OFlags::WRONLY | OFlags::CLOEXEC;
        let fd = match rustix::fs::open(SNAPSHOT, flags, Mode::empty()) {
            Err(Errno::NOENT) => {
                let mut buf = [0u8; 32];
                let (maj, min) = crate::fsutil::read_str(SNAPSHOT_SYSFS_DEV, &mut buf)
                    .ok()
                    .and_then(resume_init::text::parse_maj_min)
                    .ok_or(Sys { op: "open", what: SNAPSHOT, errno: Errno::NOENT })?;
                rustix::fs::mknodat(rustix::fs::CWD, SNAPSHOT, FileType::CharacterDevice, Mode::from_raw_mode(0o600), rustix::fs::makedev(maj, min))
                    .map_err(sys("mknod"))?;
                rustix::fs::open(SNAPSHOT, flags, Mode::empty())
            }
            r => r,
        }
        .map_err(sys("open"))?;
        Ok(Snapshot { fd })
    }

    /// `write(2)` of one image page. The kernel never copies across a page
    /// boundary and may take less; the rest follows in the same page.
    /// Never issues a zero-length write (it would consume a page slot).
    pub fn write_page(&self, page: &Page) -> Result<(), Errno> {
        let mut rest: &[u8] = page;
        while !rest.is_empty() {
            match rustix::io::write(&self.fd, rest) {
                Ok(0) => return Err(Errno::NOSPC), // the kernel expects no more pages
                Ok(n) => rest = &rest[n..],
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `SNAPSHOT_FREEZE`: sync, freeze every other process.
    pub fn freeze(&self) -> Result<(), Sys<'static>> {
        // SAFETY: SNAPSHOT_FREEZE is _IO('3', 1) and takes no argument.
        unsafe { ioctl(&self.fd, NoArg::<SNAPSHOT_FREEZE>::new()) }.map_err(sys("ioctl SNAPSHOT_FREEZE"))
    }

    /// `SNAPSHOT_UNFREEZE`: thaw after a failed restore.
    pub fn unfreeze(&self) -> Result<(), Sys<'static>> {
        // SAFETY: SNAPSHOT_UNFREEZE is _IO('3', 2) and takes no argument.
        unsafe { ioctl(&self.fd, NoArg::<SNAPSHOT_UNFREEZE>::new()) }.map_err(sys("ioctl SNAPSHOT_UNFREEZE"))
    }

    /// `SNAPSHOT_PLATFORM_SUPPORT`: run the platform (ACPI) restore hooks,
    /// as the kernel does for images with `SF_PLATFORM_MODE`.
    pub fn platform_support(&self, on: bool) -> Result<(), Sys<'static>> {
        // SAFETY: SNAPSHOT_PLATFORM_SUPPORT is _IO('3', 15) and takes its
        // argument by value; 0 and 1 are valid.
        unsafe { ioctl(&self.fd, IntegerSetter::<SNAPSHOT_PLATFORM_SUPPORT>::new_usize(usize::from(on))) }
            .map_err(sys("ioctl SNAPSHOT_PLATFORM_SUPPORT"))
    }

    /// `SNAPSHOT_ATOMIC_RESTORE`: jumps into the restored kernel. Returns
    /// only if the restore failed.
    pub fn atomic_restore(&self) -> Sys<'static> {
        // SAFETY: SNAPSHOT_ATOMIC_RESTORE is _IO('3', 4) and takes no argument.
        let r = unsafe { ioctl(&self.fd, NoArg::<SNAPSHOT_ATOMIC_RESTORE>::new()) };
        Sys { op: "ioctl SNAPSHOT_ATOMIC_RESTORE", what: SNAPSHOT, errno: r.err().unwrap_or(Errno::INVAL) }
    }
}
