//! The hand-off to the real root, the way busybox `switch_root` and klibc
//! `run-init` do it, with their safety checks: the new root must be a
//! different mount, the old root must be the initramfs (ramfs or tmpfs,
//! with `/init` a regular file). `/dev`, `/proc` and `/sys` are moved
//! into the new root, the initramfs contents are deleted without crossing
//! into other mounts (fd-relative, as u-root does), and the new root is
//! moved onto `/`.

use core::mem::MaybeUninit;

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{UnmountFlags, mount_move, unmount};

use crate::error::Sys;
use crate::fsutil::path;
use crate::log::{debug, info, warning};

const RAMFS_MAGIC: i64 = 0x8584_58f6;
const TMPFS_MAGIC: i64 = 0x0102_1994;
/// API filesystems carried over into the new root; `/run` only when it
/// is mounted (udev records of the devices unlocked here).
const MOVED: [&str; 4] = ["/dev", "/proc", "/sys", "/run"];
/// Deeper directories in an initramfs are not expected; stop there.
const MAX_DEPTH: u32 = 24;

/// Why the switch could not be made.
pub enum SwitchError {
    Check(&'static str),
    Sys(Sys<'static>),
}

impl core::fmt::Display for SwitchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SwitchError::Check(why) => f.write_str(why),
            SwitchError::Sys(s) => s.fmt(f),
        }
    }
}

fn sys(op: &'static str, what: &'static str) -> impl Fn(Errno) -> SwitchError {
    move |errno| SwitchError::Sys(Sys { op, what, errno })
}

/// Makes `new_root` the root of the filesystem tree. On success the caller
/// is chrooted into it with `/` as working directory.
pub fn switch_root(new_root: &'static str) -> Result<(), SwitchError> {
    let old = rustix::fs::stat("/").map_err(sys("stat", "/"))?;
    let new = rustix::fs::stat(new_root).map_err(sys("stat", new_root))?;
    if old.st_dev == new.st_dev {
        return Err(SwitchError::Check("the new root is not a separate mount"));
    }
    let fs = rustix::fs::statfs("/").map_err(sys("statfs", "/"))?;
    let magic = fs.f_type as i64;
    if magic != RAMFS_MAGIC && magic != TMPFS_MAGIC {
        return Err(SwitchError::Check("/ is not an initramfs (ramfs or tmpfs); refusing to delete its contents"));
    }
    match rustix::fs::lstat("/init") {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {}
        _ => return Err(SwitchError::Check("/init is not a regular file; refusing to delete the initramfs")),
    }

    for dir in MOVED {
        if dir == "/run" && !rustix::fs::stat(dir).is_ok_and(|st| st.st_dev != old.st_dev) {
            continue; // not a mount of its own: nothing to carry over
        }
        let Ok(target) = path(format_args!("{new_root}{dir}")) else { continue };
        match mount_move(dir, target.as_str()) {
            Ok(()) => debug!("moved {dir} to {target}"),
            Err(e) => {
                warning!("cannot move {dir} into the new root ({}); unmounting it", crate::error::E(e));
                let _ = unmount(dir, UnmountFlags::DETACH);
            }
        }
    }

    let root = rustix::fs::open("/", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(sys("open", "/"))?;
    let freed = delete_contents(root.as_fd(), old.st_dev, 0);
    info!("freed {} KiB of initramfs", freed / 1024);

    rustix::process::chdir(new_root).map_err(sys("chdir", new_root))?;
    mount_move(".", "/").map_err(sys("mount --move", "the new root onto /"))?;
    rustix::process::chroot(".").map_err(sys("chroot", "."))?;
    rustix::process::chdir("/").map_err(sys("chdir", "/"))?;
    Ok(())
}

/// Deletes everything below `dir` that lives on device `dev`; returns the
/// bytes freed. Entries on other devices (mount points) are left alone.
fn delete_contents(dir: BorrowedFd<'_>, dev: u64, depth: u32) -> u64 {
    let mut freed = 0;
    // Deleting while reading a directory can make getdents skip entries:
    // read again until a pass deletes nothing.
    loop {
        let mut deleted = 0;
        let mut buf = [MaybeUninit::<u8>::uninit(); 1024];
        let Ok(d) = rustix::fs::openat(dir, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) else {
            return freed;
        };
        let mut it = rustix::fs::RawDir::new(&d, &mut buf);
        while let Some(Ok(e)) = it.next() {
            let name = e.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else { continue };
            if st.st_dev != dev {
                continue;
            }
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                if depth >= MAX_DEPTH {
                    continue;
                }
                if let Ok(sub) = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()) {
                    freed += delete_contents(sub.as_fd(), dev, depth + 1);
                }
                if rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).is_ok() {
                    deleted += 1;
                }
            } else if rustix::fs::unlinkat(dir, name, AtFlags::empty()).is_ok() {
                freed += st.st_size as u64;
                deleted += 1;
            }
        }
        if deleted == 0 {
            return freed;
        }
    }
}
