//! The resume device systemd leaves in the EFI variable `HibernateLocation`
//! when it hibernates, used when neither the command line nor the
//! initramfs names one, and only by the kernel that hibernated; removed
//! once read, used or not, as systemd's initrd does. `resume-init
//! hibernate` writes it the same way.

use core::ffi::CStr;
use core::fmt::Write;

use resume_init::efi;
use resume_init::json::Token;
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, IFlags, Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::MountFlags;

use crate::error::E;
use crate::log::warning;

const EFIVARS: &CStr = c"/sys/firmware/efi/efivars";
/// `efi::HIBERNATE_LOCATION`, for the system calls.
const NAME: &CStr = c"HibernateLocation-8cf3337e-9cf8-4ef3-9f84-7b2e2dd5b4f0";

/// Reads and removes the variable: `None` if there is none (or no
/// UEFI), `Some(None)` if it is not the JSON systemd writes. Removed
/// whatever it says or whether it is used, as systemd's initrd does.
pub fn take_location<'a>(buf: &'a mut [u8], toks: &'a mut [Token]) -> Option<Option<efi::Location<'a>>> {
    // Not booted by UEFI: no efivars directory, nothing to mount or read.
    // Mounted already: EBUSY.
    let _ = rustix::mount::mount(c"efivarfs", EFIVARS, c"efivarfs", MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC, None);
    let dir = efivars()?;
    let fd = match rustix::fs::openat(&dir, NAME, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return None,
        Err(e) => {
            warning!("cannot read the EFI variable HibernateLocation: {}", E(e));
            return None;
        }
    };
    let n = crate::fsutil::pread_full(&fd, &mut *buf, 0).unwrap_or(0);
    if let Err(e) = remove(&dir, fd) {
        warning!("cannot remove the EFI variable HibernateLocation: {}", E(e));
    }
    Some(efi::text(&mut buf[..n]).and_then(|t| efi::parse(t, toks)))
}

/// Writes the variable as systemd does before it hibernates (`uuid`: the
/// swap area's, `offset`: its header's page); whether it was written. On
/// a machine not booted by UEFI, or without efivarfs, nothing is done.
pub fn set_location(uuid: &[u8; 16], offset: u64) -> bool {
    let Some(dir) = efivars() else { return false };
    let uts = rustix::system::uname();
    let mut head = heapless::String::<80>::new();
    let _ = write!(head, "{{\"uuid\":\"{}\",\"offset\":{offset}", resume_init::text::Uuid(*uuid));
    // Attributes (non-volatile, boot service and runtime access), then
    // the JSON in UTF-16LE with its NUL; efivarfs takes it in one write.
    let mut raw = [0u8; 4 + 2 * 200];
    raw[0] = 7;
    let mut n = 4;
    let mut put = |s: &[u8]| {
        for &c in s {
            if let Some(u) = raw.get_mut(n..n + 2) {
                u[0] = c;
                n += 2;
            }
        }
    };
    put(head.as_bytes());
    put(b",\"kernelVersion\":\"");
    put(uts.release().to_bytes());
    put(b"\"}");
    let len = n + 2;
    let written = rustix::fs::openat(&dir, NAME, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC, Mode::from_raw_mode(0o644))
        .and_then(|fd| rustix::io::write(&fd, &raw[..len]));
    if written != Ok(len) {
        warning!("cannot write the EFI variable HibernateLocation");
    }
    written == Ok(len)
}

/// Removes the variable `set_location` wrote (the system goes on).
pub fn clear_location() {
    let Some(dir) = efivars() else { return };
    if let Ok(fd) = rustix::fs::openat(&dir, NAME, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        let _ = remove(&dir, fd);
    }
}

/// Whether this machine booted by UEFI with efivarfs mounted: the
/// `HibernateLocation` variable can be written.
pub fn available() -> bool {
    efivars().is_some()
}

fn efivars() -> Option<OwnedFd> {
    rustix::fs::open(EFIVARS, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok()
}

/// Deletes the variable, whose efivarfs file is immutable until told otherwise.
fn remove(dir: &OwnedFd, fd: OwnedFd) -> Result<(), Errno> {
    let flags = rustix::fs::ioctl_getflags(&fd)?;
    rustix::fs::ioctl_setflags(&fd, flags - IFlags::IMMUTABLE)?;
    drop(fd);
    rustix::fs::unlinkat(dir, NAME, AtFlags::empty())
}
