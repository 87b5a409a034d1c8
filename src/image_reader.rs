//! The image's device side: the swap header page at `resume_offset`, its
//! invalidation (written through to the device), and image pages read by
//! absolute page number with the kernel told what comes next.

use resume_init::errno::Errno as CoreErrno;
use resume_init::image::{self, LoadChunk, PageSource, Scratch};
use resume_init::swsusp::{PAGE, Page};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Advice, Mode, OFlags, SeekFrom};
use rustix::io::Errno;

use crate::error::core_errno;
use crate::sys::Anon;

/// The loader's large memory, mapped rather than on the stack: the two
/// read windows (4.3 MiB) and the output chunks (1 MiB). On the stack
/// they would take most of the 8 MiB limit `resume-init resume` runs
/// under in another initramfs (the windows there made `inspect` crash).
pub struct LoaderMemory {
    windows: Result<Anon, Errno>,
    chunks: Result<Anon, Errno>,
}

impl LoaderMemory {
    /// What the mappings take, in KiB, for messages.
    pub const KIB: usize = (image::WINDOWS_BYTES + core::mem::size_of::<[LoadChunk; image::CHUNKS]>()) >> 10;

    pub fn map() -> LoaderMemory {
        LoaderMemory { windows: Anon::new(image::WINDOWS_BYTES), chunks: Anon::new(core::mem::size_of::<[LoadChunk; image::CHUNKS]>()) }
    }

    /// The loader's scratch in the mappings; `None` if one failed.
    pub fn scratch(&mut self) -> Option<Scratch<'_>> {
        let windows = self.windows.as_mut().ok()?.bytes().first_chunk_mut()?;
        let chunks = self.chunks.as_mut().ok()?.filled(LoadChunk::new)?;
        Some(Scratch::new(windows, chunks))
    }
}

/// An open resume device (or image file, for `inspect`).
pub struct ImageDevice {
    fd: OwnedFd,
    /// The same device opened with `O_DIRECT`, for page-aligned runs.
    direct: Option<OwnedFd>,
    /// Page of the swap header (`resume_offset`).
    pub header_page: u64,
    /// Size of the device in whole pages.
    pub pages: u64,
}

impl ImageDevice {
    /// Wraps an open device; its size comes from seeking to its end.
    pub fn new(fd: OwnedFd, header_page: u64) -> Result<ImageDevice, Errno> {
        let end = rustix::fs::seek(&fd, SeekFrom::End(0))?;
        Ok(ImageDevice { fd, direct: None, header_page, pages: end / PAGE as u64 })
    }

    /// Reads page-aligned runs from here on with `O_DIRECT`: the device
    /// DMAs them into the caller's buffer, with no copy out of the page
    /// cache (which costs more than the decompression under emulation).
    /// Without it (a file on tmpfs, say) reads stay buffered.
    pub fn read_directly(&mut self) -> bool {
        use rustix::fd::AsRawFd;
        let Ok(path) = crate::fsutil::path(format_args!("/proc/self/fd/{}", self.fd.as_raw_fd())) else { return false };
        self.direct = rustix::fs::open(path.as_str(), OFlags::RDONLY | OFlags::DIRECT | OFlags::CLOEXEC, Mode::empty()).ok();
        self.direct.is_some()
    }

    /// Reads the header page; `EINVAL` if `resume_offset` is past the end.
    pub fn read_header(&mut self, buf: &mut Page) -> Result<(), Errno> {
        if self.header_page >= self.pages {
            return Err(Errno::INVAL);
        }
        let off = self.header_page * PAGE as u64; // below the device size: no overflow
        match crate::fsutil::pread_full(&self.fd, buf, off)? {
            PAGE => Ok(()),
            _ => Err(Errno::NXIO),
        }
    }

    /// Writes the header page back and flushes it to the device.
    pub fn write_header(&mut self, buf: &Page) -> Result<(), Errno> {
        if self.header_page >= self.pages {
            return Err(Errno::INVAL);
        }
        let off = self.header_page * PAGE as u64;
        let mut done = 0;
        while done < PAGE {
            match rustix::io::pwrite(&self.fd, &buf[done..], off + done as u64) {
                Ok(0) => return Err(Errno::IO),
                Ok(n) => done += n,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
        rustix::fs::fsync(&self.fd)
    }
}

impl PageSource for ImageDevice {
    fn read_page(&mut self, n: u64, buf: &mut Page) -> Result<(), CoreErrno> {
        self.read_pages(n, buf)
    }

    fn read_pages(&mut self, first: u64, buf: &mut [u8]) -> Result<(), CoreErrno> {
        let off = first.checked_mul(PAGE as u64).ok_or(CoreErrno::INVAL)?;
        if let Some(direct) = &self.direct
            && buf.as_ptr().align_offset(PAGE) == 0 {
                match crate::fsutil::pread_full(direct, buf, off) {
                    Ok(n) if n == buf.len() => return Ok(()),
                    Ok(_) => return Err(CoreErrno::NXIO),
                    // A block size above a page: buffered from here on.
                    Err(Errno::INVAL) => self.direct = None,
                    Err(e) => return Err(core_errno(e)),
                }
            }
        match crate::fsutil::pread_full(&self.fd, buf, off) {
            Ok(n) if n == buf.len() => Ok(()),
            Ok(_) => Err(CoreErrno::NXIO), // past the end
            Err(e) => Err(core_errno(e)),
        }
    }

    /// Starts reads of the runs of consecutive pages a map page names, so
    /// the disk works while pages are copied and decompressed.
    fn will_need(&mut self, entries: &[u64]) {
        if self.direct.is_some() {
            return; // read directly, never through the cache
        }
        for run in resume_init::image::runs(entries) {
            // The walker passes only entries inside the device; checked
            // all the same, so a hint can never wrap.
            if let (Some(off), Some(bytes)) = (run.first.checked_mul(PAGE as u64), (run.len as u64).checked_mul(PAGE as u64)) {
                let _ = rustix::fs::fadvise(self.fd.as_fd(), off, core::num::NonZeroU64::new(bytes), Advice::WillNeed);
            }
        }
    }
}
