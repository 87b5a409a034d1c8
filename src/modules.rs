//! Loading the kernel modules the initramfs carries (disk and filesystem
//! drivers that Debian builds as modules), in the order
//! `scripts/mkinitramfs.sh` resolved from `modules.dep`, the disk drivers
//! only where their hardware is (the list's format: `core::modlist`).
//!
//! Two stages: what finding and reading the resume device needs, loaded
//! before the image is looked for, and the root's filesystems, loaded only
//! on the way to a fresh boot. A driver group no device matched is left
//! out; should a device then not appear, [`load_left_out`] loads it after
//! all (a pattern can miss hardware that a module loaded later brings).

use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use resume_init::modlist::{self, Item};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::fsutil::{path, read_file};
use crate::log::{debug, error, info, warning};

/// Written by `scripts/mkinitramfs.sh`.
pub const LIST: &str = "/etc/resume-init/modules";
/// ahci alone brings some 300 patterns (12 KiB).
const LIST_CAP: usize = 48 * 1024;

/// Which part of the list to load.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before the resume: disks, device-mapper, dm-crypt, efivarfs.
    Resume,
    /// After it: the root's filesystems.
    Root,
}

/// Set when the first stage left a group out, until it is loaded.
static LEFT_OUT: AtomicBool = AtomicBool::new(false);

/// Loads the modules of one stage of the list and says how that went.
pub fn load(stage: Stage) {
    run(stage, false);
}

/// The first stage's groups left out for want of matching hardware,
/// loaded after all: called when a device is slow to appear.
pub fn load_left_out(what: &str) {
    if LEFT_OUT.swap(false, Relaxed) {
        info!("{what} device not there yet: loading the drivers left out for hardware not seen");
        run(Stage::Resume, true);
    }
}

fn run(stage: Stage, all: bool) {
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
    let mut devices = Devices::new();
    // A module loaded may have brought devices (virtio_pci its virtio
    // devices): the next condition looks again.
    let stale = core::cell::Cell::new(true);
    // Groups share dependencies (virtio, scsi_mod): each module is tried
    // once.
    let (mut tried, mut out) = (heapless::Vec::<&str, 128>::new(), heapless::Vec::<&str, 128>::new());
    // A group loaded may bring the devices of a group before it (a
    // transport, a bridge): the list is walked again until a pass loads
    // nothing.
    for pass in 0..4 {
        let before = loaded;
        modlist::walk(list, stage == Stage::Root, all, |p| devices.matches(p, stale.replace(false)), |item| match item {
            Item::Kernel(v) => {
                if v != running && pass == 0 {
                    warning!("initramfs modules are for kernel {v} but {running} is running; rebuild it with mkinitramfs.sh -k {running}");
                }
            }
            Item::LeftOut(m) => {
                if !out.contains(&m) {
                    debug!("module {m}: no device for its group, left out");
                    let _ = out.push(m);
                }
            }
            Item::Load(m) if tried.contains(&m) => {}
            Item::Load(m) => {
                let _ = tried.push(m);
                match load_file(m) {
                    Ok(()) => {
                        loaded += 1;
                        stale.set(true);
                    }
                    Err(Errno::EXIST) => debug!("module {m} already loaded"),
                    // CPU-specific variants (crc32c-intel without SSE4.2,
                    // …) refuse to load where their hardware is missing.
                    Err(Errno::NODEV) => {
                        skipped += 1;
                        debug!("module {m}: no hardware for it here, skipped");
                    }
                    Err(e) => {
                        failed += 1;
                        error!("cannot load module {m}: {}", crate::error::E(e));
                    }
                }
            }
        });
        if loaded == before || out.iter().all(|m| tried.contains(m)) {
            break;
        }
    }
    let left_out = out.iter().filter(|m| !tried.contains(m)).count();
    if left_out > 0 {
        LEFT_OUT.store(true, Relaxed);
    }
    let what = if stage == Stage::Resume { "" } else { " for the root" };
    info!("loaded {loaded} kernel modules{what} ({left_out} left out for hardware not seen, {skipped} without hardware, {failed} failed)");
}

/// `finit_module(2)` on the file at `path`.
fn load_file(path: &str) -> Result<(), Errno> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::system::finit_module(&fd, c"", 0)
}

/// The buses whose devices the firmware and the kernel list before /init
/// runs (ACPI, device tree, PCI, and virtio over PCI or MMIO): the list's
/// conditions name only these (mkinitramfs.sh), and a driver for a device
/// on a bus enumerated later (USB, SCSI) is loaded whatever the hardware.
const BUSES: [&str; 4] = ["pci", "virtio", "platform", "acpi"];

/// The `modalias` of every device on those buses, one per line; read
/// again when asked to.
struct Devices {
    buf: [u8; 32 * 1024],
    len: usize,
    /// Some did not fit: every pattern is then taken as matched.
    full: bool,
}

impl Devices {
    fn new() -> Self {
        Devices { buf: [0; 32 * 1024], len: 0, full: false }
    }

    fn matches(&mut self, pattern: &str, reread: bool) -> bool {
        if reread {
            self.read();
        }
        self.full || self.buf[..self.len].split(|&b| b == b'\n').any(|m| modlist::glob(pattern.as_bytes(), m))
    }

    fn read(&mut self) {
        (self.len, self.full) = (0, false);
        let mut names = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
        for bus in BUSES {
            let Ok(p) = path(format_args!("/sys/bus/{bus}/devices")) else { continue };
            let Ok(fd) = rustix::fs::open(p.as_str(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) else { continue };
            let mut it = rustix::fs::RawDir::new(&fd, &mut names);
            while let Some(Ok(d)) = it.next() {
                let Ok(d) = d.file_name().to_str() else { continue };
                let Ok(p) = path(format_args!("/sys/bus/{bus}/devices/{d}/modalias")) else { continue };
                let Ok(m) = read_file(p.as_str(), &mut self.buf[self.len..]) else { continue };
                let n = m.len();
                // One line each; a modalias filling what is left may have
                // been cut.
                if self.len + n >= self.buf.len() {
                    return self.full = true;
                }
                self.len += n;
                if n > 0 && self.buf[self.len - 1] != b'\n' {
                    self.buf[self.len] = b'\n';
                    self.len += 1;
                }
            }
        }
    }
}
