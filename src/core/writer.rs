//! Writing a hibernation image as the kernel's `swsusp_write` does, from
//! the stream `/dev/snapshot` hands out (`docs/image-format.md` §2–4): page 0
//! (`swsusp_info`) as it is, the rest raw or in 32-page LZO/LZ4 chunks
//! (`[u64 length][compressed bytes]`, padded to whole pages) with the
//! kernel's CRC32 over the uncompressed bytes, every page in a slot the
//! kernel allocated, listed in a chain of swap-map pages (511 entries and
//! a link). The header is not written here: it is the commit record, and
//! the caller writes it last, after the data is on disk
//! ([`crate::swsusp::mark`]).
//!
//! Memory is fixed and the caller's ([`Scratch`]), like the loader's: the
//! chunks (2.2 MiB) in memory the caller maps, not on the stack (under
//! QEMU's TCG the encoder ran about 10 % faster there, timed in the writer).
//! Compressed images are written in batches of up to [`MAX_BATCH`]
//! chunks: read in order, compressed and checksummed at once by the
//! caller's [`ForEach`] (worker threads, or [`Serial`]) while the calling
//! thread writes the batch before (in order) and reads the next; the
//! chunks' CRCs are combined into the stream's.

use crate::errno::Errno;
use crate::crc32;
use crate::image::{CMP_SIZE, Clock, MAP_ENTRIES, Phases, UNC_PAGES, UNC_SIZE};
use crate::lzo_compress;
pub use crate::par::{ForEach, Serial};
use crate::swsusp::{
    Compression, PAGE, Page, SF_COMPRESSION_ALG_LZ4, SF_CRC32_MODE, SF_HW_SIG, SF_NOCOMPRESS_MODE, SF_PLATFORM_MODE,
    parse_info,
};

/// The chunk length prefix (`CMP_HEADER`).
const CMP_HEADER: usize = 8;
/// The compression buffer: room for the length and what `lz4_flex` asks
/// for before it starts (more than LZ4's real worst case, and more than
/// LZO's). A chunk longer than the loaders accept is refused afterwards.
pub const OUT_SIZE: usize =
    (CMP_HEADER + max(lz4_flex::block::get_maximum_output_size(UNC_SIZE), lzo_compress::worst_case(UNC_SIZE))).div_ceil(PAGE) * PAGE;

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}
const NEXT_SWAP: usize = PAGE - 8;

/// Where the stream comes from: `readv()` on `/dev/snapshot`.
pub trait StreamSource {
    /// The next stream pages into `buf` (whole pages); how many were read:
    /// fewer than fit only when the stream has ended.
    fn next_pages(&mut self, buf: &mut [u8]) -> Result<usize, Errno>;
}

/// Where pages go: the kernel's swap slots on the resume device.
pub trait SlotSink {
    /// A free slot (`SNAPSHOT_ALLOC_SWAP_PAGE`), as a device page number.
    fn alloc(&mut self) -> Result<u64, Errno>;
    /// Writes `page` to device page `slot` (it may be held back to merge
    /// runs of slots; [`flush`](Self::flush) writes what is held).
    fn write(&mut self, slot: u64, page: &Page) -> Result<(), Errno>;
    fn flush(&mut self) -> Result<(), Errno>;
}

/// Why an image could not be written. Nothing is committed then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// No free swap slot was left (`ENOSPC`) or allocation failed.
    Alloc { done: u64, errno: Errno },
    Write { slot: u64, errno: Errno },
    /// A read of the stream failed; `index` is the first page it asked for
    /// (a chunk is read in one call).
    Read { index: u64, errno: Errno },
    /// The stream's first page is not a `swsusp_info` we understand.
    BadInfo(&'static str),
    /// The stream did not have as many pages as its header says.
    Length { have: u64, want: u64 },
    /// A chunk did not fit the compression buffer.
    Compress,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::Alloc { done, errno } => write!(f, "no swap slot for page {done}: {errno}"),
            Error::Write { slot, errno } => write!(f, "write error at device page {slot}: {errno}"),
            Error::Read { index, errno } => write!(f, "reading stream pages {index}.. from the kernel: {errno}"),
            Error::BadInfo(why) => write!(f, "the kernel's image header: {why}"),
            Error::Length { have, want } => write!(f, "the kernel gave {have} pages of an image of {want}"),
            Error::Compress => f.write_str("a chunk did not compress into its buffer"),
        }
    }
}

/// The `SF_*` flags of an image written with these choices.
pub fn flags(comp: Compression, platform: bool, hw_sig: u32) -> u32 {
    let mut f = match comp {
        Compression::None => SF_NOCOMPRESS_MODE,
        Compression::Lzo => SF_CRC32_MODE,
        Compression::Lz4 => SF_CRC32_MODE | SF_COMPRESSION_ALG_LZ4,
    };
    if platform {
        f |= SF_PLATFORM_MODE;
    }
    if hw_sig != 0 {
        f |= SF_HW_SIG;
    }
    f
}

/// Swap slots an image of `pages` stream pages needs at most: the pages
/// (for compressed images, every chunk at its worst size) and the map.
pub fn slots_needed(comp: Compression, pages: u64) -> u64 {
    let data = match comp {
        Compression::None => pages,
        _ => 1 + pages.saturating_sub(1).div_ceil(UNC_PAGES as u64) * (CMP_SIZE / PAGE) as u64,
    };
    data + data.div_ceil(MAP_ENTRIES as u64) + 1
}

/// Chunks compressed at once, at most (the kernel stops at 3 threads).
pub const MAX_BATCH: usize = 4;
/// The chunks the writer works in: two batches.
pub const CHUNKS: usize = 2 * MAX_BATCH;

/// One chunk's work area: up to 32 stream pages in, its compressed pages
/// (`[u64 length][data]`, zero-padded) out, and the CRC of its input.
pub struct Chunk {
    unc: [u8; UNC_SIZE],
    pages: usize,
    cmp: [u8; OUT_SIZE],
    out_pages: usize,
    crc: u32,
    lzo: lzo_compress::Table,
}

impl Chunk {
    pub const fn new() -> Chunk {
        Chunk { unc: [0; UNC_SIZE], pages: 0, cmp: [0; OUT_SIZE], out_pages: 0, crc: 0, lzo: lzo_compress::Table::new() }
    }

    /// Compresses and checksums the chunk (run by any thread); `out_pages`
    /// stays 0 if it did not compress within what loaders accept.
    pub fn compress(&mut self, comp: Compression) {
        let input = &self.unc[..self.pages * PAGE];
        self.crc = crc32::update(0, input);
        self.out_pages = compress_chunk(comp, input, &mut self.cmp, &mut self.lzo).unwrap_or(0);
    }
}

impl Default for Chunk {
    fn default() -> Self {
        Self::new()
    }
}

/// The writer's memory: the map page being filled, a stream page and the
/// caller's chunks, two batches: one compressing while the other is
/// written and refilled.
pub struct Scratch<'c> {
    map: Page,
    page: Page,
    chunks: &'c mut [Chunk; CHUNKS],
}

impl<'c> Scratch<'c> {
    pub fn new(chunks: &'c mut [Chunk; CHUNKS]) -> Self {
        Scratch { map: [0; PAGE], page: [0; PAGE], chunks }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Stream pages (the kernel's `nr_to_write` + 1).
    pub pages: u64,
    /// Device page of the first map page: the header's `image`.
    pub first_map: u64,
    /// The CRC32 of compressed images, for the header.
    pub crc: Option<u32>,
    /// Slots used: pages, chunk pages and map pages.
    pub disk_pages: u64,
    /// Where the time went: reading the stream, compressing and
    /// checksumming (`decode`, all threads at once), writing (slot
    /// allocation and device writes).
    pub phases: Phases,
}

/// The swap-map chain being built: entries go into the current map page;
/// a full one is linked to a fresh slot and written.
struct Map<'a> {
    page: &'a mut Page,
    slot: u64,
    first: u64,
    k: usize,
    used: u64,
}

impl Map<'_> {
    /// Stores `page` in a fresh slot and lists it.
    fn put(&mut self, dst: &mut dyn SlotSink, page: &Page, index: u64) -> Result<(), Error> {
        let slot = dst.alloc().map_err(|errno| Error::Alloc { done: index, errno })?;
        dst.write(slot, page).map_err(|errno| Error::Write { slot, errno })?;
        self.page[self.k * 8..self.k * 8 + 8].copy_from_slice(&slot.to_le_bytes());
        self.k += 1;
        self.used += 1;
        if self.k == MAP_ENTRIES {
            let next = dst.alloc().map_err(|errno| Error::Alloc { done: index, errno })?;
            self.page[NEXT_SWAP..].copy_from_slice(&next.to_le_bytes());
            dst.write(self.slot, self.page).map_err(|errno| Error::Write { slot: self.slot, errno })?;
            self.page.fill(0);
            self.slot = next;
            self.k = 0;
            self.used += 1;
        }
        Ok(())
    }

    /// Writes the last map page (its unused entries and link are 0).
    fn finish(&mut self, dst: &mut dyn SlotSink) -> Result<(), Error> {
        dst.write(self.slot, self.page).map_err(|errno| Error::Write { slot: self.slot, errno })
    }
}

/// Where the stream stands: the index of the next page to read, and
/// whether the kernel has handed out the last one.
struct Stream {
    next: u64,
    total: u64,
    ended: bool,
}

impl Stream {
    /// Fills `chunks` in stream order until the stream ends; returns how
    /// many hold pages.
    fn read_batch(&mut self, src: &mut dyn StreamSource, chunks: &mut [Chunk]) -> Result<usize, Error> {
        let mut filled = 0;
        for c in chunks.iter_mut() {
            c.pages = 0;
            if self.ended {
                break;
            }
            // A chunk in one call (one `readv` of 32 pages, not 32 `read`s).
            c.pages = src.next_pages(&mut c.unc).map_err(|errno| Error::Read { index: self.next, errno })?;
            self.next += c.pages as u64;
            self.ended = c.pages < UNC_PAGES;
            if c.pages == 0 {
                break;
            }
            filled += 1;
        }
        if self.next > self.total {
            return Err(Error::Length { have: self.next, want: self.total });
        }
        Ok(filled)
    }
}

/// Writes compressed chunks in order and lists them in the map; adds
/// their CRCs to `crc` and their pages to `done`.
fn write_batch(m: &mut Map, dst: &mut dyn SlotSink, chunks: &[Chunk], done: &mut u64, crc: &mut u32, full: &crc32::Shift) -> Result<(), Error> {
    for c in chunks {
        if c.out_pages == 0 {
            return Err(Error::Compress);
        }
        let len = c.pages * PAGE;
        *crc = if len == UNC_SIZE { full.combine(*crc, c.crc) } else { crc32::combine(*crc, c.crc, len as u64) };
        for p in c.cmp[..c.out_pages * PAGE].chunks_exact(PAGE) {
            let p: &Page = p.try_into().map_err(|_| Error::Compress)?;
            m.put(dst, p, *done)?;
        }
        *done += c.pages as u64;
    }
    Ok(())
}

/// Compresses one chunk of whole pages into `cmp` as `[u64 len][data]`
/// padded with zeros to whole pages; returns the pages it takes.
pub fn compress_chunk(comp: Compression, unc: &[u8], cmp: &mut [u8; OUT_SIZE], lzo: &mut lzo_compress::Table) -> Result<usize, Error> {
    let out = &mut cmp[CMP_HEADER..];
    let n = match comp {
        // One table kind for every chunk (`compress_into` also builds the
        // 16-bit one for inputs under 64 KiB: 0.6 KiB more code).
        Compression::Lz4 => lz4_flex::block::compress_into_with_table(unc, out, &mut lz4_flex::block::CompressTable::large()).map_err(|_| Error::Compress)?,
        _ => lzo_compress::compress_into(unc, out, lzo).map_err(|_| Error::Compress)?,
    };
    if n > crate::image::MAX_CMP_LEN {
        return Err(Error::Compress);
    }
    cmp[..CMP_HEADER].copy_from_slice(&(n as u64).to_le_bytes());
    let pages = (CMP_HEADER + n).div_ceil(PAGE);
    cmp[CMP_HEADER + n..pages * PAGE].fill(0);
    Ok(pages)
}

/// Writes the whole stream of `src` to slots of `dst` and flushes them;
/// `progress` gets (stream pages done, pages in all). On `Ok` every page
/// and map page is written; the caller commits by writing the header.
/// Compressed chunks go through `par`, up to its thread count at a time.
pub fn write_image(
    src: &mut dyn StreamSource,
    dst: &mut dyn SlotSink,
    comp: Compression,
    scratch: &mut Scratch<'_>,
    par: &dyn ForEach<Chunk>,
    progress: &mut dyn FnMut(u64, u64),
    clock: &dyn Clock,
) -> Result<Written, Error> {
    let mut ph = Phases::default();
    let mut t = clock.now_ns();
    let lap = |slot: fn(&mut Phases) -> &mut u64, ph: &mut Phases, t: &mut u64| {
        let now = clock.now_ns();
        *slot(ph) += now.saturating_sub(*t);
        *t = now;
    };
    let Scratch { map, page, chunks } = scratch;
    map.fill(0);
    let first = dst.alloc().map_err(|errno| Error::Alloc { done: 0, errno })?;
    let mut m = Map { page: map, slot: first, first, k: 0, used: 1 };

    let read = |src: &mut dyn StreamSource, buf: &mut Page, index: u64| src.next_pages(buf).map(|n| n == 1).map_err(|errno| Error::Read { index, errno });
    if !read(src, page, 0)? {
        return Err(Error::Length { have: 0, want: 2 });
    }
    let info = parse_info(page).map_err(Error::BadInfo)?;
    let total = info.pages;
    m.put(dst, page, 0)?;
    let mut done = 1u64;
    let mut crc = 0u32;
    let full = crc32::Shift::new(UNC_SIZE as u64);
    if comp == Compression::None {
        while read(src, page, done)? {
            lap(|p| &mut p.read, &mut ph, &mut t);
            if done >= total {
                return Err(Error::Length { have: done + 1, want: total });
            }
            m.put(dst, page, done)?;
            lap(|p| &mut p.write, &mut ph, &mut t);
            done += 1;
            progress(done, total);
        }
    } else {
        // Two batches: one compressing on the workers while this thread
        // writes the one before and then reads the next into its place.
        let (mut cur, mut prev) = chunks.split_at_mut(MAX_BATCH);
        let batch = if par.threads() > 1 { MAX_BATCH } else { 1 };
        let mut s = Stream { next: done, total, ended: false };
        let mut filled = s.read_batch(src, &mut cur[..batch])?;
        let mut queued = 0;
        lap(|p| &mut p.read, &mut ph, &mut t);
        while filled > 0 || queued > 0 {
            let (mut reading, mut writing, mut res) = (0, 0, Ok(0));
            par.for_each_beside(&mut cur[..filled], &|c: &mut Chunk| c.compress(comp), &mut || {
                let t0 = clock.now_ns();
                res = write_batch(&mut m, dst, &prev[..queued], &mut done, &mut crc, &full).map(|()| 0);
                let t1 = clock.now_ns();
                if res.is_ok() {
                    progress(done, total);
                    res = s.read_batch(src, &mut prev[..batch]);
                }
                (writing, reading) = (t1.saturating_sub(t0), clock.now_ns().saturating_sub(t1));
            });
            let next = res?;
            let now = clock.now_ns();
            ph.decode += now.saturating_sub(t).saturating_sub(reading + writing);
            ph.read += reading;
            ph.write += writing;
            t = now;
            queued = filled;
            filled = next;
            core::mem::swap(&mut cur, &mut prev);
        }
    }
    if done != total {
        return Err(Error::Length { have: done, want: total });
    }
    m.finish(dst)?;
    dst.flush().map_err(|errno| Error::Write { slot: m.slot, errno })?;
    lap(|p| &mut p.write, &mut ph, &mut t);
    let crc = (comp != Compression::None).then_some(crc);
    Ok(Written { pages: total, first_map: m.first, crc, disk_pages: m.used, phases: ph })
}

#[cfg(test)]
mod tests;
