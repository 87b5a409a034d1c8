//! Placing the image's pages: slots the kernel hands out
//! (`SNAPSHOT_ALLOC_SWAP_PAGE`), written with `O_DIRECT` in runs of
//! consecutive slots; the stream read from `/dev/snapshot`; and the
//! header page, read, written and flushed, and unmarked again when the
//! system goes on.

use resume_init::hibfile::Pages;
use resume_init::image::Run;
use resume_init::swsusp::{self, PAGE, Page};
use resume_init::writer::{SlotSink, StreamSource};
use rustix::fd::OwnedFd;
use rustix::io::Errno;

use crate::error::core_errno;
use crate::fsutil;
use crate::ioctl::SnapshotReader;

/// Consecutive slots written in one `pwrite` (1 MiB).
pub const RUN_PAGES: usize = 256;

/// A page buffer aligned for `O_DIRECT`.
#[repr(C, align(4096))]
pub struct Aligned<const N: usize>(pub [u8; N]);

/// The device's pages, in a mapping of their own: the run gathered for
/// one write and the header page, both aligned for `O_DIRECT`.
pub struct DeviceBuffers {
    pub run: Aligned<{ RUN_PAGES * PAGE }>,
    pub header: Aligned<PAGE>,
}

impl DeviceBuffers {
    pub const fn new() -> DeviceBuffers {
        DeviceBuffers { run: Aligned([0; RUN_PAGES * PAGE]), header: Aligned([0; PAGE]) }
    }
}

/// Where the slots come from: the swap area the kernel allocates from,
/// or a hibernation file's pages in order.
pub enum Slots<'a> {
    Swap(&'a SnapshotReader),
    File(Pages<'a>),
}

/// The device, written with `O_DIRECT` in runs of consecutive slots.
pub struct Device<'a> {
    pub fd: OwnedFd,
    pub source: Slots<'a>,
    /// The pages of `slots`, gathered for one write.
    pub buf: &'a mut Aligned<{ RUN_PAGES * PAGE }>,
    pub slots: Run,
}

impl Device<'_> {
    fn write_run(&mut self) -> Result<(), Errno> {
        let bytes = &self.buf.0[..self.slots.len * PAGE];
        let mut done = 0;
        while done < bytes.len() {
            let at = self.slots.first.checked_mul(PAGE as u64).and_then(|b| b.checked_add(done as u64)).ok_or(Errno::INVAL)?;
            match rustix::io::pwrite(&self.fd, &bytes[done..], at) {
                Ok(0) => return Err(Errno::NOSPC),
                Ok(k) => done += k,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
        self.slots.len = 0;
        Ok(())
    }
}

impl SlotSink for Device<'_> {
    fn alloc(&mut self) -> Result<u64, resume_init::errno::Errno> {
        match &mut self.source {
            Slots::Swap(snap) => {
                let at = snap.alloc_swap_page().map_err(core_errno)?;
                if at == 0 || !at.is_multiple_of(PAGE as u64) {
                    return Err(resume_init::errno::Errno::INVAL);
                }
                Ok(at / PAGE as u64)
            }
            // The file is full: as a swap area out of slots.
            Slots::File(pages) => pages.next().ok_or(core_errno(Errno::NOSPC)),
        }
    }

    fn write(&mut self, slot: u64, page: &Page) -> Result<(), resume_init::errno::Errno> {
        if self.slots.len == RUN_PAGES || !self.slots.extend(slot) {
            if self.slots.len > 0 {
                self.write_run().map_err(core_errno)?;
            }
            self.slots = Run::start(slot);
        }
        let at = (self.slots.len - 1) * PAGE;
        self.buf.0[at..at + PAGE].copy_from_slice(page);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), resume_init::errno::Errno> {
        if self.slots.len > 0 {
            self.write_run().map_err(core_errno)?;
        }
        rustix::fs::fdatasync(&self.fd).map_err(core_errno)
    }
}

/// The stream, read from `/dev/snapshot`.
pub struct Stream<'a>(pub &'a SnapshotReader);

impl StreamSource for Stream<'_> {
    fn next_pages(&mut self, buf: &mut [u8]) -> Result<usize, resume_init::errno::Errno> {
        self.0.read_pages(buf).map_err(core_errno)
    }
}

/// Reads the swap header page at `offset` (through `O_DIRECT`: the disk, not a stale cache).
pub fn read_header(fd: &OwnedFd, offset: u64, page: &mut Aligned<PAGE>) -> Result<(), Errno> {
    match fsutil::pread_full(fd, &mut page.0, offset.checked_mul(PAGE as u64).ok_or(Errno::INVAL)?)? {
        PAGE => Ok(()),
        _ => Err(Errno::NXIO),
    }
}

/// Writes the header page back and flushes it.
pub fn write_header(fd: &OwnedFd, offset: u64, page: &Aligned<PAGE>) -> Result<(), Errno> {
    let n = rustix::io::pwrite(fd, &page.0, offset * PAGE as u64)?;
    if n != PAGE {
        return Err(Errno::IO);
    }
    rustix::fs::fdatasync(fd)
}

/// Puts the swap signature back if the header page carries an image.
pub fn unmark(fd: &OwnedFd, offset: u64, header: &mut Aligned<PAGE>) -> bool {
    if read_header(fd, offset, header).is_err() {
        return false;
    }
    if swsusp::parse_header(&header.0).is_none() {
        return true;
    }
    swsusp::invalidate(&mut header.0);
    write_header(fd, offset, header).is_ok()
}

