//! The command-line modes of the same binary, for a process that is not
//! PID 1:
//!
//! `resume-init inspect [--offset PAGES] PATH` reads the hibernation image
//! on a device or image file with the init's own reader (`image::load`),
//! decompresses it and checks its CRC, writing nothing anywhere.
//! Exit status: 0 valid image, 1 no image, 2 image present but invalid,
//! 3 usage or I/O error.

use resume_init::image::{self, PageSink};
use resume_init::swsusp::{self, PAGE, Page};
use resume_init::text::parse_u64;
use rustix::fs::{Mode, OFlags};

use crate::error::E;
use crate::image_reader::{ImageDevice, LoaderMemory};
use crate::log::out;
use crate::rt::Args;

pub const VALID: i32 = 0;
pub const NO_IMAGE: i32 = 1;
pub const INVALID: i32 = 2;
pub const USAGE: i32 = 3;

const USAGE_TEXT: &str = "usage: resume-init inspect [--offset PAGES] PATH (or: resume-init hibernate --help)\n\
  Checks the hibernation image on a swap device or image file without writing anything.\n\
  Exit status: 0 valid image, 1 no image, 2 invalid image, 3 usage or I/O error.\n\
  As PID 1 (the initramfs /init) it resumes or boots; see the README.";

/// Runs the mode `args` asks for; returns the exit status.
pub fn run(args: Args) -> i32 {
    let arg = |i| args.arg(i).and_then(|a| core::str::from_utf8(a).ok());
    match arg(1) {
        Some("inspect") => {}
        #[cfg(feature = "selftest")]
        Some("selftest") => return selftest(),
        Some("hibernate") => return crate::hibernate::run(args),
        Some("check") => return crate::hibernate::check(args),
        Some("-h" | "--help" | "help") => {
            out!("{USAGE_TEXT}\n{}", crate::hibernate::USAGE_TEXT);
            return VALID;
        }
        _ => {
            out!("{USAGE_TEXT}");
            return USAGE;
        }
    }
    let mut offset = 0;
    let mut path = None;
    let mut i = 2;
    while let Some(a) = arg(i) {
        match a {
            "--offset" => {
                i += 1;
                match arg(i).and_then(parse_u64) {
                    Some(o) => offset = o,
                    None => {
                        out!("inspect: --offset needs a page number\n{USAGE_TEXT}");
                        return USAGE;
                    }
                }
            }
            p if path.is_none() && !p.starts_with('-') => path = Some(p),
            _ => {
                out!("{USAGE_TEXT}");
                return USAGE;
            }
        }
        i += 1;
    }
    let Some(path) = path else {
        out!("{USAGE_TEXT}");
        return USAGE;
    };
    inspect(path, offset)
}

#[cfg(feature = "selftest")]
/// `resume-init selftest`: checks this binary's own `memcpy` and
/// `memmove`, which the host unit tests cannot reach.
fn selftest() -> i32 {
    let ok = crate::mem::selftest_mem();
    out!("selftest: memcpy/memmove/memset {}", if ok { "ok" } else { "FAILED" });
    let threads = crate::thread::selftest();
    out!("selftest: worker threads {}", if threads { "ok" } else { "FAILED" });
    if ok && threads { VALID } else { INVALID }
}

struct Discard;

impl PageSink for Discard {
    fn write_page(&mut self, _index: u64, _page: &Page) -> Result<(), resume_init::errno::Errno> {
        Ok(())
    }
}

fn inspect(path: &str, offset: u64) -> i32 {
    let fd = match rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            out!("inspect: cannot open {path}: {}", E(e));
            return USAGE;
        }
    };
    let mut d = match ImageDevice::new(fd, offset) {
        Ok(d) => d,
        Err(e) => {
            out!("inspect: cannot find the size of {path}: {}", E(e));
            return USAGE;
        }
    };
    let mut page = [0u8; PAGE];
    if let Err(e) = d.read_header(&mut page) {
        out!("inspect: cannot read page {offset} of {path} ({} pages): {}", d.pages, E(e));
        return USAGE;
    }
    out!("device:             {path} ({} pages), header at page {offset}", d.pages);
    let sig = resume_init::text::fixed_str(&page[PAGE - 10..]).unwrap_or("(binary)");
    let Some(h) = swsusp::parse_header(&page) else {
        out!("signature:          {sig}");
        out!("no hibernation image");
        return NO_IMAGE;
    };
    let mut flags = heapless::String::<160>::new();
    let _ = swsusp::flag_words(h.flags, &mut flags);
    out!("signature:          S1SUSPEND (hibernation image); original {}", resume_init::text::fixed_str(&h.orig_sig).unwrap_or("(binary)"));
    out!("flags:              0x{:x} ({flags})", h.flags);
    out!("compression:        {}", h.compression().name());
    if h.has_crc() {
        out!("crc32:              {:08x}", h.crc32);
    }
    if h.flags & swsusp::SF_HW_SIG != 0 {
        out!("hardware signature: {:08x}", h.hw_sig);
    }
    out!("first map page:     {}", h.image);
    if h.unknown_flags() != 0 {
        out!("invalid image: unknown flag bits 0x{:x}", h.unknown_flags());
        return INVALID;
    }
    let mut mem = LoaderMemory::map();
    let Some(mut scratch) = mem.scratch() else {
        out!("cannot check the image: no memory for the loader ({} KiB)", LoaderMemory::KIB);
        return INVALID;
    };
    let t0 = crate::clock::now_ms();
    let pages = d.pages;
    match image::load(&h, pages, &mut d, &mut Discard, &mut scratch, &mut |_, _| {}, &crate::clock::Monotonic) {
        Ok(l) => {
            let ms = crate::clock::now_ms() - t0;
            let mib_x100 = l.info.pages * PAGE as u64 * 100 / (1 << 20);
            out!(
                "stream:             {} pages ({}.{:02} MiB): 1 header, {} metadata, {} data",
                l.info.pages,
                mib_x100 / 100,
                mib_x100 % 100,
                l.info.pages - l.info.image_pages - 1,
                l.info.image_pages
            );
            out!("on disk:            {} pages ({} MiB), swap map included", l.disk_pages, (l.disk_pages * PAGE as u64) >> 20);
            match l.info.build() {
                Some(b) => out!("written by:         an {} kernel, build {b} (only that build restores it)", l.info.arch.name()),
                None => out!("written by:         an {} kernel", l.info.arch.name()),
            }
            if let Some(c) = l.crc {
                out!("computed crc32:     {c:08x} (matches)");
            }
            out!("read and checked in {}.{:03} s", ms / 1000, ms % 1000);
            let p = l.phases;
            out!(
                "time:               reading {} ms, decompressing and CRC {} ms",
                p.read / 1_000_000,
                p.decode / 1_000_000
            );
            out!("valid image");
            VALID
        }
        Err(e) => {
            out!("invalid image: {e}");
            INVALID
        }
    }
}
