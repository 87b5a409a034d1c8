//! Loading the kernel modules the initramfs carries (disk and filesystem
//! drivers that Debian builds as modules), in the order
//! `scripts/mkinitramfs.sh` resolved from `modules.dep`.
//!
//! The list file has one path per line; a first line `# kernel VERSION`
//! names the kernel the modules were taken from. A line `# root` divides
//! it in two stages: what finding and reading the resume device needs,
//! loaded before the image is looked for, and the root's filesystems,
//! loaded only on the way to a fresh boot (a list without it is all one
//! first stage).

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::fsutil::read_file;
use crate::log::{debug, error, info, warning};

/// Written by `scripts/mkinitramfs.sh`.
pub const LIST: &str = "/etc/resume-init/modules";
const LIST_CAP: usize = 16 * 1024;

/// Which part of the list to load.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before the resume: disks, device-mapper, dm-crypt, efivarfs.
    Resume,
    /// After it: the root's filesystems.
    Root,
}

/// The line between the stages.
const ROOT_STAGE: &str = "# root";

/// Loads the modules of one stage of the list and says how that went.
pub fn load(stage: Stage) {
    let mut buf = [0u8; LIST_CAP];
    let list = match read_file(LIST, &mut buf) {
        Ok(b) => b,
        Err(Errno::NOENT) => {
            debug!("no module list at {LIST}: drivers must be built in");
            return;
        }
        Err(e) => {
            error!("cannot read module list {LIST}: {}; disks may not appear", crate::error::E(e));
            return;
        }
    };
    let Ok(list) = core::str::from_utf8(list) else {
        error!("module list {LIST} is not text; no module loaded");
        return;
    };
    let uname = rustix::system::uname();
    let running = uname.release().to_str().unwrap_or("?");
    let (mut loaded, mut failed, mut skipped) = (0u32, 0u32, 0u32);
    let mut lines = list.lines().map(str::trim_ascii);
    // The root stage starts after its line; the resume stage ends there.
    if stage == Stage::Root && lines.by_ref().all(|l| l != ROOT_STAGE) {
        return;
    }
    for line in lines.take_while(|l| *l != ROOT_STAGE) {
        if let Some(v) = line.strip_prefix("# kernel ") {
            if v != running {
                warning!("initramfs modules are for kernel {v} but {running} is running; rebuild it with mkinitramfs.sh -k {running}");
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match load_file(line) {
            Ok(()) => loaded += 1,
            Err(Errno::EXIST) => debug!("module {line} already loaded"),
            // CPU-specific variants (crc32c-intel without SSE4.2, …)
            // refuse to load where their hardware is missing.
            Err(Errno::NODEV) => {
                skipped += 1;
                debug!("module {line}: no hardware for it here, skipped");
            }
            Err(e) => {
                failed += 1;
                error!("cannot load module {line}: {}", crate::error::E(e));
            }
        }
    }
    let what = if stage == Stage::Resume { "" } else { " for the root" };
    info!("loaded {loaded} kernel modules{what} ({skipped} without hardware, {failed} failed)");
}

/// `finit_module(2)` on the file at `path`.
fn load_file(path: &str) -> Result<(), Errno> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::system::finit_module(&fd, c"", 0)
}
