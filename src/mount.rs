//! Mounts: the API filesystems PID 1 needs first (`/dev`, `/proc`,
//! `/sys`), the console on fds 0–2, and the real root filesystem.

use resume_init::probe;
use rustix::fd::{AsRawFd, IntoRawFd};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, mount};

use crate::device::Device;
use crate::error::{E, Sys};
use crate::fsutil::{mkdir, read_file};
use crate::log::{debug, info, warning};

/// Where the real root is mounted before the switch (klibc's choice).
pub const NEW_ROOT: &str = "/root";
const CONSOLE: &str = "/dev/console";
const FILESYSTEMS: &str = "/proc/filesystems";

/// Mounts a tmpfs on `/run` once (for udev records of device-mapper
/// devices; `switch_root` moves it into the real root). Whether it is there.
pub fn run_tmpfs() -> bool {
    use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
    static MOUNTED: AtomicBool = AtomicBool::new(false);
    if MOUNTED.load(Relaxed) {
        return true;
    }
    let ok = mkdir("/run").and_then(|()| mount("tmpfs", "/run", "tmpfs", MountFlags::NOSUID | MountFlags::NODEV, Some(c"mode=0755"))).is_ok();
    MOUNTED.store(ok, Relaxed);
    ok
}

/// Mounts devtmpfs, proc and sysfs, and puts the console on fds 0–2.
/// Failures are reported once logging works; nothing here can stop the boot.
pub fn early() -> [Option<Sys<'static>>; 3] {
    let nosuid = MountFlags::NOSUID | MountFlags::NOEXEC;
    let mut errs = [None, None, None];
    for (i, (src, dir, fs, flags, data)) in [
        ("devtmpfs", "/dev", "devtmpfs", MountFlags::NOSUID, Some(c"mode=0755")),
        ("proc", "/proc", "proc", nosuid | MountFlags::NODEV, None),
        ("sysfs", "/sys", "sysfs", nosuid | MountFlags::NODEV, None),
    ]
    .into_iter()
    .enumerate()
    {
        let r = mkdir(dir).and_then(|()| mount(src, dir, fs, flags, data));
        if let Err(errno) = r {
            errs[i] = Some(Sys { op: "mount", what: dir, errno });
        }
    }
    if errs[0].is_some() {
        // No devtmpfs: make the two nodes we cannot do without.
        let _ = rustix::fs::mknodat(rustix::fs::CWD, CONSOLE, FileType::CharacterDevice, Mode::from_raw_mode(0o600), rustix::fs::makedev(5, 1));
        let _ = rustix::fs::mknodat(rustix::fs::CWD, "/dev/kmsg", FileType::CharacterDevice, Mode::from_raw_mode(0o600), rustix::fs::makedev(1, 11));
    }
    if let Ok(fd) = rustix::fs::open(CONSOLE, OFlags::RDWR | OFlags::NOCTTY, Mode::empty()) {
        let _ = rustix::stdio::dup2_stdin(&fd);
        let _ = rustix::stdio::dup2_stdout(&fd);
        let _ = rustix::stdio::dup2_stderr(&fd);
        // When the kernel opened no console, the open returned one of 0–2,
        // which the dups just filled: keep it open (klibc closes the fd
        // only if it is above 2).
        if fd.as_raw_fd() <= 2 {
            let _ = fd.into_raw_fd();
        }
    }
    errs
}

/// The filesystem type the device's superblock names (ext4 for ext2/3/4,
/// xfs, btrfs).
fn fstype_of(dev: &Device) -> Option<&'static str> {
    let mut page = [0u8; probe::PROBE_SIZE];
    crate::device::identify(dev, &mut page)?.kind.fstype()
}

/// Why the root could not be mounted.
pub enum RootError {
    /// Every filesystem type was tried; `last` is the last errno;
    /// `probed`: the type the superblock named.
    NoFilesystem { tried: u32, last: Errno, probed: Option<&'static str> },
    /// It is a member of an md RAID array (this metadata version).
    MdMember(&'static str),
    Sys(Sys<'static>),
}

impl core::fmt::Display for RootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RootError::NoFilesystem { last: Errno::NODEV, probed: Some(t), .. } => {
                write!(f, "it holds {t}, which this kernel has no driver for; add the module to the initramfs (mkinitramfs.sh -m {t})")
            }
            RootError::NoFilesystem { last, probed: Some(t), .. } => {
                write!(f, "the kernel refused its {t} ({}): see dmesg (multi-device btrfs: rootflags=device=DEV,…)", E(*last))
            }
            RootError::NoFilesystem { tried, last, .. } => write!(
                f,
                "no filesystem recognised it ({tried} types tried, last error {}); is it formatted? rootfstype= names the type",
                E(*last)
            ),
            RootError::MdMember(v) => write!(
                f,
                "it is a member of an md RAID array (metadata {v}), not a filesystem of its own; resume-init does not assemble arrays: use the distribution's initramfs for an md root"
            ),
            RootError::Sys(s) => s.fmt(f),
        }
    }
}

/// Mounts `dev` on [`NEW_ROOT`] with `rootfstype=` (a comma-separated list,
/// as the kernel takes it) or each type the kernel lists in
/// `/proc/filesystems`, read-only unless `rw`. Like the kernel, a
/// read-only device asked for `rw` is mounted read-only with a warning.
pub fn root(dev: &Device, fstype: Option<&str>, data: Option<&str>, read_only: bool) -> Result<(), RootError> {
    mkdir(NEW_ROOT).map_err(|errno| RootError::Sys(Sys { op: "mkdir", what: NEW_ROOT, errno }))?;
    let node = dev.node();
    if let Some(v) = dev.open(rustix::fs::OFlags::RDONLY).ok().and_then(|fd| crate::device::md_member(&fd)) {
        // A RAID1 leg mounted alone drifts from the other leg.
        return Err(RootError::MdMember(v));
    }
    let mut list = [0u8; 4096];
    let probed = if fstype.is_none() { fstype_of(dev) } else { None };
    let types: &str = match fstype {
        Some(t) => t,
        // What the superblock says (the ext4 driver mounts ext2 and ext3
        // too); trying the types in /proc/filesystems order would make
        // each wrong one complain first.
        None => match probed {
            Some(t) => t,
            None => read_file(FILESYSTEMS, &mut list)
                .ok()
                .and_then(|b| core::str::from_utf8(b).ok())
                .unwrap_or("ext4\next3\next2\n"),
        },
    };
    let mut data_buf = heapless::Vec::<u8, 512>::new();
    let data_c = match data {
        Some(d) => {
            let c = data_buf
                .extend_from_slice(d.as_bytes())
                .ok()
                .and_then(|()| data_buf.push(0).ok())
                .and_then(|()| core::ffi::CStr::from_bytes_with_nul(&data_buf).ok());
            if c.is_none() {
                warning!("ignoring rootflags=: longer than {} bytes or contains a NUL", data_buf.capacity() - 1);
            }
            c
        }
        None => None,
    };
    let mut tried = 0;
    let mut last = Errno::NODEV;
    for line in types.split([',', '\n']) {
        // /proc/filesystems: "nodev\tproc" for virtual ones, "\text4" for block ones.
        if line.starts_with("nodev") {
            continue;
        }
        let t = line.trim_ascii();
        if t.is_empty() {
            continue;
        }
        tried += 1;
        let mut flags = if read_only { MountFlags::RDONLY } else { MountFlags::empty() };
        let mut r = mount(node.as_str(), NEW_ROOT, t, flags, data_c);
        if matches!(r, Err(Errno::ACCESS | Errno::ROFS)) && !read_only {
            warning!("{} is read-only; mounting the root read-only", node);
            flags |= MountFlags::RDONLY;
            r = mount(node.as_str(), NEW_ROOT, t, flags, data_c);
        }
        match r {
            Ok(()) => {
                info!("mounted {} ({}:{}, {t}, {}) on {NEW_ROOT}", node, dev.major, dev.minor, if flags.contains(MountFlags::RDONLY) { "ro" } else { "rw" });
                return Ok(());
            }
            Err(e) => {
                debug!("mount {} as {t}: {}", node, E(e));
                last = e;
            }
        }
    }
    Err(RootError::NoFilesystem { tried, last, probed })
}
