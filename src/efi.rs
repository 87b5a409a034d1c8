//! The resume device systemd leaves in the EFI variable `HibernateLocation`
//! when it hibernates, used when neither the command line nor the
//! initramfs names one, and only by the kernel that hibernated; removed
//! once read, used or not, as systemd's initrd does.

use core::ffi::CStr;

use resume_init::cmdline::Config;
use resume_init::efi;
use resume_init::json::Token;
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, IFlags, Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::MountFlags;

use crate::error::E;
use crate::log::{info, warning};

const EFIVARS: &CStr = c"/sys/firmware/efi/efivars";
/// `efi::HIBERNATE_LOCATION`, for the system calls.
const NAME: &CStr = c"HibernateLocation-8cf3337e-9cf8-4ef3-9f84-7b2e2dd5b4f0";

/// Sets `resume=` and `resume_offset=` from the variable, if there is one
/// for this kernel; `buf` holds its text (and the `UUID=` spec made of it).
#[inline(never)]
pub fn hibernate_location<'a>(cfg: &mut Config<'a>, buf: &'a mut [u8]) {
    // Not booted by UEFI: no efivars directory, nothing to mount or read.
    // Mounted already: EBUSY.
    let _ = rustix::mount::mount(c"efivarfs", EFIVARS, c"efivarfs", MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC, None);
    let Ok(dir) = rustix::fs::open(EFIVARS, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) else { return };
    let fd = match rustix::fs::openat(&dir, NAME, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return,
        Err(e) => return warning!("cannot read the EFI variable HibernateLocation: {}", E(e)),
    };
    let (raw, spec) = buf.split_at_mut(buf.len() - 48);
    let n = crate::fsutil::pread_full(&fd, raw, 0).unwrap_or(0);
    let mut toks = [Token::EMPTY; 48];
    let loc = efi::text(&mut raw[..n]).and_then(|t| efi::parse(t, &mut toks));
    let uts = rustix::system::uname();
    let why = match loc {
        None => "not the JSON systemd writes",
        Some(l) if l.kernel.is_some_and(|k| k.as_bytes() != uts.release().to_bytes()) => "from another kernel, not used",
        Some(l) => {
            spec[..5].copy_from_slice(b"UUID=");
            spec[5..5 + l.uuid.len()].copy_from_slice(l.uuid.as_bytes());
            let spec: &'a [u8] = spec;
            cfg.resume = core::str::from_utf8(&spec[..5 + l.uuid.len()]).ok();
            cfg.resume_offset = Some(l.offset).filter(|&o| o != 0);
            "used"
        }
    };
    let l = loc.unwrap_or(efi::Location { uuid: "?", offset: 0, kernel: None });
    info!("EFI variable HibernateLocation (UUID={} at page {}, kernel {}): {why}; removed", l.uuid, l.offset, l.kernel.unwrap_or("?"));
    if let Err(e) = remove(&dir, fd) {
        warning!("cannot remove the EFI variable HibernateLocation: {}", E(e));
    }
}

/// Deletes the variable, whose efivarfs file is immutable until told otherwise.
fn remove(dir: &OwnedFd, fd: OwnedFd) -> Result<(), Errno> {
    let flags = rustix::fs::ioctl_getflags(&fd)?;
    rustix::fs::ioctl_setflags(&fd, flags - IFlags::IMMUTABLE)?;
    drop(fd);
    rustix::fs::unlinkat(dir, NAME, AtFlags::empty())
}
