//! Why the writer stops before anything is frozen: one enum, rendered
//! once by `run` as one line naming the place and the check, as `boot()`
//! renders its one fatal error. Nothing was changed on disk when one of
//! these is said.

use core::fmt;

use rustix::io::Errno;

use crate::error::{E, Sys};
use crate::fsutil::PathBuf;

/// A message's text built at run time (the reason a place would leak).
pub type Text = heapless::String<320>;

pub enum Refusal {
    NotRoot,
    /// A kernel with pages other than 4 KiB (16K or 64K arm64 kernels).
    PageSize(usize),
    /// `--device` could not be located.
    DeviceArg { dev: PathBuf, errno: Errno },
    /// `--device` is not an active swap area.
    DeviceNotSwap { dev: PathBuf, major: u32, minor: u32, offset: u64 },
    /// `/sys/power/resume` names what is not an active swap area.
    ResumeNotSwap { major: u32, minor: u32, offset: u64 },
    /// `resume_offset` no longer names the page of the swap file's header.
    OffsetMoved { name: PathBuf, set: u64, now: u64 },
    NoSwap,
    /// A btrfs swap file whose disk address the chunk tree did not give.
    BtrfsUnknown { name: PathBuf },
    /// Several active swap areas and nothing says which.
    Several { list: heapless::String<256> },
    NoBlockDevice { name: PathBuf, major: u32, minor: u32 },
    Open { node: PathBuf, errno: Errno },
    ReadHeader { name: PathBuf, node: PathBuf, offset: u64, errno: Errno },
    HoldsImage { name: PathBuf },
    NotSwap { name: PathBuf, node: PathBuf, offset: u64 },
    /// The image would leak secrets or could never be read back.
    Leak { name: PathBuf, node: PathBuf, why: Text },
    /// `/dev/snapshot` refused: hibernation is unavailable.
    Unavailable { what: &'static str },
    Snapshot(Sys<'static>),
    SwapArea { name: PathBuf, sys: Sys<'static> },
    WriteProbe { name: PathBuf, node: PathBuf, errno: Errno },
    Mlock(Errno),
    /// `--file`: the file is no fixed place for an image, or nothing will
    /// look for it there.
    File { path: PathBuf, why: Text },
    /// Nothing will look for the image there at the next boot (what
    /// `/sys/power/resume` names instead, if anything).
    Nowhere { name: PathBuf, set: Option<(u32, u32, u64)> },
    /// zram or a RAM disk: the image would be gone at power-off.
    InMemory { name: PathBuf, node: PathBuf },
    /// `--file`: the kernel refuses writes to the device of a mounted
    /// filesystem (`CONFIG_BLK_DEV_WRITE_MOUNTED=n`).
    WriteMounted { node: PathBuf, errno: Errno },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const PROC_SWAPS: &str = "/proc/swaps";
        const SYS_RESUME: &str = "/sys/power/resume";
        match self {
            Refusal::NotRoot => f.write_str("hibernate: must run as root"),
            Refusal::PageSize(n) => write!(f, "this kernel has {} KiB pages, and resume-init writes 4 KiB-page images only (docs/arm64.md); use the kernel's own writer", n / 1024),
            Refusal::DeviceArg { dev, errno } => write!(f, "cannot use --device {dev}: {}", E(*errno)),
            Refusal::DeviceNotSwap { dev, major, minor, offset } => write!(
                f,
                "--device {dev} (device {major}:{minor}, header at page {offset}) is not an active swap area; swapon it first (see {PROC_SWAPS})"
            ),
            Refusal::ResumeNotSwap { major, minor, offset } => write!(
                f,
                "{SYS_RESUME} names device {major}:{minor} at page {offset}, which is not an active swap area: the image would go where nothing looks for it. swapon it, or give --device"
            ),
            Refusal::OffsetMoved { name, set, now } => write!(
                f,
                "the boot set resume_offset={set}, but the header of the swap file {name} is at page {now} now (made again or moved since): boot with resume_offset={now}"
            ),
            Refusal::NoSwap => write!(f, "no active swap area ({PROC_SWAPS} is empty): the image needs one; swapon a partition or file first"),
            Refusal::BtrfsUnknown { name } => write!(
                f,
                "{name} is a btrfs swap file whose disk address its chunk tree did not give: boot with resume_offset= (btrfs inspect-internal map-swapfile -r) or use --offset"
            ),
            Refusal::Several { list } => write!(f, "several active swap areas ({list} ) and {SYS_RESUME} names none: say which with --device"),
            Refusal::NoBlockDevice { name, major, minor } => write!(f, "cannot find the block device of {name} ({major}:{minor}) in /sys/class/block"),
            Refusal::Open { node, errno } => write!(f, "cannot open {node} for writing: {}", E(*errno)),
            Refusal::ReadHeader { name, node, offset, errno } => write!(f, "cannot read the swap header of {name} ({node} page {offset}): {}", E(*errno)),
            Refusal::HoldsImage { name } => write!(f, "{name} already holds a hibernation image; not writing over it (resume from it, or swapoff and mkswap)"),
            Refusal::NotSwap { name, node, offset } => write!(f, "{name} ({node} page {offset}) has no swap signature; it is not a swap area"),
            Refusal::Leak { name, node, why } => write!(f, "not hibernating to {name} ({node}): {why}"),
            Refusal::Unavailable { what } => write!(
                f,
                "the kernel refuses {what} (EPERM): hibernation is unavailable (nohibernate on the command line, or Secure Boot lockdown)"
            ),
            Refusal::Snapshot(s) => write!(f, "cannot hibernate: {s}"),
            Refusal::SwapArea { name, sys } => write!(f, "cannot hibernate to {name}: {sys}"),
            Refusal::WriteProbe { name, node, errno } => write!(f, "cannot write to {name} ({node}): {}; nothing was changed", E(*errno)),
            Refusal::Mlock(e) => write!(f, "cannot lock the writer's memory (mlockall: {}); not hibernating, nothing was changed", E(*e)),
            Refusal::Nowhere { name, set: None } => write!(
                f,
                "nothing will look for an image on {name} at the next boot ({SYS_RESUME} names no device, and there is no EFI variable to name it): boot with resume= naming it, or give --force; nothing was changed"
            ),
            Refusal::Nowhere { name, set: Some((ma, mi, off)) } => write!(
                f,
                "the next boot will look at device {ma}:{mi} page {off} ({SYS_RESUME}), not at {name}: boot with resume= naming it, or give --force; nothing was changed"
            ),
            Refusal::File { path, why } => write!(f, "not hibernating into {path}: {why}; nothing was changed"),
            Refusal::InMemory { name, node } => write!(
                f,
                "{name} ({node}) lives in memory, and an image there is gone at power-off: hibernate into a file instead (resume-init hibernate --make-file PATH, then --file PATH)"
            ),
            Refusal::WriteMounted { node, errno } => write!(
                f,
                "cannot open {node} for writing ({}): this kernel refuses writes to the device of a mounted filesystem (CONFIG_BLK_DEV_WRITE_MOUNTED=n or bdev_allow_write_mounted=0), which a hibernation file needs; use swap",
                E(*errno)
            ),
        }
    }
}
