//! The resume device systemd leaves in the EFI variable `HibernateLocation`
//! when it hibernates, used when neither the command line nor the
//! initramfs names one, and only by the kernel that hibernated; removed
//! once read, used or not, as systemd's initrd does.

use resume_init::cmdline::Config;
use resume_init::efi::{self, HIBERNATE_LOCATION};
use resume_init::json::Token;
use rustix::fs::{Access, IFlags, Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::MountFlags;

use crate::error::E;
use crate::log::{info, warning};

const EFI: &str = "/sys/firmware/efi";
const EFIVARS: &str = "/sys/firmware/efi/efivars";

/// Sets `resume=` and `resume_offset=` from the variable, if there is one
/// for this kernel; `buf` holds its text (and the `UUID=` spec made of it).
#[inline(never)]
pub fn hibernate_location<'a>(cfg: &mut Config<'a>, buf: &'a mut [u8]) {
    if rustix::fs::access(EFI, Access::EXISTS).is_err() {
        return; // not booted by UEFI
    }
    // EBUSY when already mounted; without efivarfs the read says so.
    let _ = rustix::mount::mount("efivarfs", EFIVARS, "efivarfs", MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC, None);
    let Ok(path) = crate::fsutil::path(format_args!("{EFIVARS}/{HIBERNATE_LOCATION}")) else { return };
    let (raw, spec) = buf.split_at_mut(buf.len() - 48);
    let n = match crate::fsutil::read_file(&path, raw) {
        Ok(b) => b.len(),
        Err(Errno::NOENT) => return,
        Err(e) => return warning!("cannot read the EFI variable HibernateLocation: {}", E(e)),
    };
    let mut toks = [Token::EMPTY; 48];
    let loc = efi::text(&mut raw[..n]).and_then(|t| efi::parse(t, &mut toks));
    let mut rel = [0u8; 65];
    let running = crate::fsutil::read_str("/proc/sys/kernel/osrelease", &mut rel).unwrap_or("").trim_ascii_end();
    let why = match loc {
        None => "it is not the JSON systemd writes",
        Some(l) if l.kernel.is_some_and(|k| k != running) => "it is from another kernel",
        Some(l) => {
            spec[..5].copy_from_slice(b"UUID=");
            spec[5..5 + l.uuid.len()].copy_from_slice(l.uuid.as_bytes());
            let spec: &'a [u8] = spec;
            cfg.resume = core::str::from_utf8(&spec[..5 + l.uuid.len()]).ok();
            cfg.resume_offset = Some(l.offset).filter(|&o| o != 0);
            "used"
        }
    };
    info!("EFI variable HibernateLocation: {} at page {}: {why} (this is kernel {running})", loc.map_or("?", |l| l.uuid), loc.map_or(0, |l| l.offset));
    if let Err(e) = remove(&path) {
        warning!("cannot remove the EFI variable HibernateLocation: {}", E(e));
    }
}

/// Deletes an efivarfs file, which is immutable until told otherwise.
fn remove(path: &str) -> Result<(), Errno> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let flags = rustix::fs::ioctl_getflags(&fd)?;
    rustix::fs::ioctl_setflags(&fd, flags - IFlags::IMMUTABLE)?;
    drop(fd);
    rustix::fs::unlink(path)
}
