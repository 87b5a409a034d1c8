//! Streaming a kernel-written hibernation image from its swap map into a
//! sink (`/dev/snapshot`, or nothing for `inspect`), with every check the
//! kernel's own reader makes and a few more: map entries inside the
//! device, a map chain no longer than the image needs (so a loop is an
//! error, not a hang), chunk lengths within the kernel's worst case, and
//! the CRC32 of compressed images compared at the end.
//!
//! Memory is fixed and the caller's ([`Scratch`]): one map page and one
//! data page for uncompressed images; for compressed ones, two read
//! windows of a block of [`WINDOW_PAGES`] stream pages each (filled a run
//! of device pages at a time, the next block while the current one's
//! chunks are decompressed) and two batches of up to [`MAX_BATCH`] output
//! buffers of [`UNC_SIZE`], decompressed and checksummed at once by the
//! caller's threads.

use crate::bytes::le64;
use crate::crc32;
use crate::par::{ForEach, Serial};
use crate::errno::Errno;
use crate::swsusp::{Compression, Header, Info, PAGE, Page, parse_info};

/// Entries per swap-map page; the last u64 links to the next map page.
pub const MAP_ENTRIES: usize = PAGE / 8 - 1;
const NEXT_SWAP: usize = PAGE - 8;
/// Uncompressed pages per chunk (`UNC_PAGES`).
pub const UNC_PAGES: usize = 32;
pub const UNC_SIZE: usize = UNC_PAGES * PAGE;
/// The chunk length prefix (`CMP_HEADER`, a `size_t`).
const CMP_HEADER: usize = 8;
/// `lzo1x_worst_compress(UNC_SIZE)` = x + x/16 + 64 + 3 + 2.
pub const MAX_CMP_LEN: usize = UNC_SIZE + UNC_SIZE / 16 + 64 + 3 + 2;
/// Pages one compressed chunk may span (`CMP_PAGES`).
pub const CMP_PAGES: usize = (MAX_CMP_LEN + CMP_HEADER).div_ceil(PAGE);
pub const CMP_SIZE: usize = CMP_PAGES * PAGE;

/// Where the image is read from.
pub trait PageSource {
    /// Reads device page `n` (byte offset `n × 4096`) into `buf`; an errno on failure.
    fn read_page(&mut self, n: u64, buf: &mut Page) -> Result<(), Errno>;
    /// Reads `buf.len() / 4096` consecutive device pages from `first`.
    fn read_pages(&mut self, first: u64, buf: &mut [u8]) -> Result<(), Errno> {
        for (i, p) in buf.chunks_exact_mut(PAGE).enumerate() {
            let p: &mut Page = p.try_into().map_err(|_| Errno::INVAL)?;
            self.read_page(first + i as u64, p)?;
        }
        Ok(())
    }
    /// Hint that the pages listed in a freshly read map page come next;
    /// every one of them is already checked to lie inside the device.
    fn will_need(&mut self, _entries: &[u64]) {}
}

/// A monotonic clock, for the loader's breakdown of where time goes.
pub trait Clock {
    fn now_ns(&self) -> u64;
}

/// No clock: every phase takes no time.
pub struct NoClock;

impl Clock for NoClock {
    fn now_ns(&self) -> u64 {
        0
    }
}

/// Time spent in each phase of a load, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    pub read: u64,
    /// Decompressing or compressing, and the CRC (all threads at once).
    pub decode: u64,
    pub write: u64,
}

/// Where the stream pages go.
pub trait PageSink {
    /// Takes stream page `index` (0 is the `swsusp_info` page); an errno on failure.
    fn write_page(&mut self, index: u64, page: &Page) -> Result<(), Errno>;
    /// Takes the `pages.len() / 4096` stream pages from `index` on; on
    /// failure, the index of the page refused and why.
    fn write_pages(&mut self, index: u64, pages: &[u8]) -> Result<(), (u64, Errno)> {
        for (i, p) in pages.chunks_exact(PAGE).enumerate() {
            let at = index + i as u64;
            let p: &Page = p.try_into().map_err(|_| (at, Errno::INVAL))?;
            self.write_page(at, p).map_err(|e| (at, e))?;
        }
        Ok(())
    }
}

/// Why an image cannot be loaded. Every variant is a reason to boot fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Reading device page `page` failed.
    Read { page: u64, errno: Errno },
    /// A map entry or map link points outside the device.
    OutOfDevice { page: u64 },
    /// The map holds more entries than an image of this size can need.
    MapTooLong,
    /// The map ended before the stream was complete.
    Truncated { have: u64, want: u64 },
    BadInfo(&'static str),
    /// A chunk's length prefix is 0 or beyond the worst case.
    ChunkLength(u64),
    Decompress(Compression),
    /// A chunk decompressed to a length that is not whole pages, or too many.
    ChunkSize(usize),
    /// The page list (metadata pages) is malformed.
    Metadata(&'static str),
    /// The sink refused stream page `index`.
    Write { index: u64, errno: Errno },
    Crc { stored: u32, computed: u32 },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::Read { page, errno } => write!(f, "read error at page {page}: {errno}"),
            Error::OutOfDevice { page } => write!(f, "swap map entry {page} is beyond the end of the device"),
            Error::MapTooLong => f.write_str("the swap map is longer than the image (a loop or corruption)"),
            Error::Truncated { have, want } => write!(f, "the image is truncated: the swap map ends after {have} of {want} pages"),
            Error::BadInfo(why) => f.write_str(why),
            Error::ChunkLength(n) => write!(f, "a compressed chunk claims {n} bytes (allowed 1..={MAX_CMP_LEN})"),
            Error::Decompress(c) => write!(f, "a {} chunk does not decompress", c.name()),
            Error::Metadata(why) => write!(f, "the image's page list is damaged: {why}"),
            Error::ChunkSize(n) => write!(f, "a chunk decompressed to {n} bytes, not whole pages within the image"),
            Error::Write { index, errno } => write!(f, "the kernel refused stream page {index}: {errno}"),
            Error::Crc { stored, computed } => write!(f, "CRC32 mismatch: header says {stored:08x}, data gives {computed:08x}"),
        }
    }
}

/// Walks the swap-map chain with one page of memory.
pub struct MapWalker<'b> {
    map: &'b mut Page,
    idx: usize,
    next_map: u64,
    device_pages: u64,
    taken: u64,
    max_entries: u64,
    map_pages: u64,
}

impl<'b> MapWalker<'b> {
    /// Starts at map page `first`; until [`set_limit`](Self::set_limit) only
    /// the first entry (the `swsusp_info` page) may be taken.
    pub fn new(map: &'b mut Page, first: u64, device_pages: u64) -> Self {
        MapWalker { map, idx: MAP_ENTRIES, next_map: first, device_pages, taken: 0, max_entries: 1, map_pages: 0 }
    }

    /// Bounds the chain: at most `entries` entries in all.
    pub fn set_limit(&mut self, entries: u64) {
        self.max_entries = entries;
    }

    fn check(&self, page: u64) -> Result<u64, Error> {
        if page == 0 || page >= self.device_pages { Err(Error::OutOfDevice { page }) } else { Ok(page) }
    }

    /// Device pages read so far: map pages and the entries taken.
    pub fn pages_read(&self) -> u64 {
        self.map_pages + self.taken
    }

    /// The next device page of the stream, or `None` at the end of the map.
    pub fn next(&mut self, src: &mut dyn PageSource) -> Result<Option<u64>, Error> {
        loop {
            if self.idx < MAP_ENTRIES {
                let at = self.idx * 8;
                let e = le64(&self.map[..], at).unwrap_or(0);
                if e == 0 {
                    return Ok(None);
                }
                if self.taken >= self.max_entries {
                    return Err(Error::MapTooLong);
                }
                self.idx += 1;
                self.taken += 1;
                return self.check(e).map(Some);
            }
            if self.next_map == 0 {
                return Ok(None);
            }
            // One map page per 511 entries, plus the empty trailing page
            // the kernel links when the last one fills up exactly.
            if self.map_pages > self.max_entries.div_ceil(MAP_ENTRIES as u64) {
                return Err(Error::MapTooLong);
            }
            let page = self.check(self.next_map)?;
            src.read_page(page, self.map).map_err(|errno| Error::Read { page, errno })?;
            self.map_pages += 1;
            self.idx = 0;
            self.next_map = le64(&self.map[..], NEXT_SWAP).unwrap_or(0);
            let mut entries = [0u64; MAP_ENTRIES];
            for (i, e) in entries.iter_mut().enumerate() {
                *e = le64(&self.map[..], i * 8).unwrap_or(0);
            }
            // Only the entries that pass the checks `next` will make reach
            // the read-ahead; the first bad one stops it (and the load).
            let n = entries.iter().position(|&e| self.check(e).is_err()).unwrap_or(MAP_ENTRIES);
            src.will_need(&entries[..n]);
        }
    }
}

/// `BM_END_OF_MAP`: ends a page list whose last page is not full.
const END_OF_MAP: u64 = !0;
/// 6.12+: a PFN with this bit was a zero page, left out of the stream.
const PFN_ZERO_FLAG: u64 = 1 << 63;

/// Checks the page list (stream pages `1..=meta_pages`) as it streams by:
/// PFNs strictly ascending (the kernel writes them in bitmap order), only
/// zeros after the end marker, and as many non-zero pages as the header
/// counts. The kernel checks each PFN only against its memory map, so a
/// damaged but plausible list would otherwise be restored.
struct MetaCheck {
    meta_pages: u64,
    image_pages: u64,
    last: Option<u64>,
    ended: bool,
    data_pages: u64,
}

impl MetaCheck {
    fn new(info: &Info) -> Self {
        MetaCheck { meta_pages: info.pages - info.image_pages - 1, image_pages: info.image_pages, last: None, ended: false, data_pages: 0 }
    }

    /// Feeds stream page `index`; pages after the page list are ignored.
    fn page(&mut self, index: u64, p: &Page) -> Result<(), Error> {
        if index == 0 || index > self.meta_pages {
            return Ok(());
        }
        for w in p.chunks_exact(8) {
            let v = le64(w, 0).unwrap_or(0);
            if self.ended {
                if v != 0 {
                    return Err(Error::Metadata("entries after the end marker"));
                }
                continue;
            }
            if v == END_OF_MAP {
                self.ended = true;
                continue;
            }
            let pfn = v & !PFN_ZERO_FLAG;
            if self.last.is_some_and(|l| pfn <= l) {
                return Err(Error::Metadata("page frame numbers out of order"));
            }
            self.last = Some(pfn);
            if v & PFN_ZERO_FLAG == 0 {
                self.data_pages += 1;
            }
        }
        if index == self.meta_pages && self.data_pages != self.image_pages {
            return Err(Error::Metadata("its page count differs from the header's"));
        }
        Ok(())
    }
}

/// A run of consecutive device pages, gathered page by page so that it
/// is read or written in one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Run {
    pub first: u64,
    pub len: usize,
}

impl Run {
    /// A run of the one page `first`.
    pub fn start(first: u64) -> Run {
        Run { first, len: 1 }
    }

    /// Adds `page` if it continues the run; false (the run unchanged) if
    /// it does not, or if the run is empty.
    pub fn extend(&mut self, page: u64) -> bool {
        let next = self.first.checked_add(self.len as u64);
        let continues = self.len > 0 && Some(page) == next;
        self.len += usize::from(continues);
        continues
    }
}

/// The runs of consecutive page numbers in `pages`, in order.
pub fn runs(pages: &[u64]) -> impl Iterator<Item = Run> + '_ {
    let mut rest = pages;
    core::iter::from_fn(move || {
        let (&first, tail) = rest.split_first()?;
        let mut run = Run::start(first);
        let n = tail.iter().take_while(|&&p| run.extend(p)).count();
        rest = &tail[n..];
        Some(run)
    })
}

/// Compressed chunks decompressed at once, at most.
pub const MAX_BATCH: usize = 4;
/// The output chunks a load works in: two batches.
pub const CHUNKS: usize = 2 * MAX_BATCH;

/// Stream pages in a block (2 MiB). A compressed image is read a block at
/// a time, each into one of two windows in turn: the map entries in
/// order, each run of consecutive device pages in one read, so a device
/// opened with `O_DIRECT` fills it by DMA in a few large requests. Chunks
/// are decompressed where they lie; while one window's chunks are, the
/// next block is read into the other.
pub const WINDOW_PAGES: usize = 512;
/// Room before a window's block for the head of a chunk that began at the
/// end of the block before (copied there, so every chunk lies in one piece).
const PAD_PAGES: usize = CMP_PAGES;
/// A window's pages: the room for a chunk's head, then one block.
const WINDOW_CAP: usize = PAD_PAGES + WINDOW_PAGES;
const WINDOW_BYTES: usize = WINDOW_CAP * PAGE;
/// The two read windows (4.3 MiB), which the caller provides: page-aligned
/// (an anonymous mapping is), or reads with `O_DIRECT` fall back to the
/// page cache.
pub const WINDOWS_BYTES: usize = 2 * WINDOW_BYTES;
/// Pages of the next block read beside each batch's decompression: about
/// what a batch of chunks that do not compress takes from the window.
const PREFETCH_PAGES: usize = WINDOW_PAGES / 2;
const _: () = assert!(WINDOW_PAGES >= CMP_PAGES, "a chunk must fit the window");

/// One compressed chunk: found in the window by the loader, decompressed
/// into `unc` and checksummed by whichever thread gets it.
pub struct LoadChunk {
    /// Where its compressed bytes start in the window, and how many.
    off: usize,
    len: usize,
    unc: [u8; UNC_SIZE],
    /// Bytes decompressed, or `None` if the chunk did not decompress.
    out: Option<usize>,
    crc: u32,
}

impl Default for LoadChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl LoadChunk {
    pub const fn new() -> LoadChunk {
        LoadChunk { off: 0, len: 0, unc: [0; UNC_SIZE], out: None, crc: 0 }
    }

    /// Decompresses and checksums the chunk (run by any thread).
    pub fn decompress(&mut self, comp: Compression, window: &[u8]) {
        let Some(input) = window.get(self.off..self.off + self.len) else {
            self.out = None;
            return;
        };
        self.out = match comp {
            Compression::Lz4 => crate::lz4::decompress_into(input, &mut self.unc).ok(),
            _ => crate::lzo::decompress_into(input, &mut self.unc).ok(),
        };
        if let Some(n) = self.out {
            self.crc = crc32::update(0, &self.unc[..n]);
        }
    }
}

/// The memory a load works in, fixed and owned by the caller: one map
/// page and one data page, which are all an uncompressed image uses, and
/// for LZO and LZ4 the caller's two read windows ([`WINDOWS_BYTES`]) and
/// two batches of output chunks (1 MiB), both kept off the stack.
pub struct Scratch<'w> {
    windows: &'w mut [u8; WINDOWS_BYTES],
    map: Page,
    data: Page,
    /// Two batches: one decompressing while the other is handed on.
    chunks: &'w mut [LoadChunk; CHUNKS],
}

impl<'w> Scratch<'w> {
    pub fn new(windows: &'w mut [u8; WINDOWS_BYTES], chunks: &'w mut [LoadChunk; CHUNKS]) -> Self {
        Scratch { windows, map: [0; PAGE], data: [0; PAGE], chunks }
    }
}

/// What a successful load found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    pub info: Info,
    /// The CRC32 computed over the stream, for compressed images.
    pub crc: Option<u32>,
    /// Device pages read: map pages and the pages they list.
    pub disk_pages: u64,
    /// Where the time went.
    pub phases: Phases,
}

/// Most swap-map entries an image of `pages` stream pages can have.
fn max_entries(c: Compression, pages: u64) -> u64 {
    match c {
        Compression::None => pages,
        _ => 1 + (pages - 1).div_ceil(UNC_PAGES as u64) * CMP_PAGES as u64,
    }
}

fn read(src: &mut dyn PageSource, page: u64, buf: &mut Page) -> Result<(), Error> {
    src.read_page(page, buf).map_err(|errno| Error::Read { page, errno })
}

/// The state of one load: where the stream comes from and goes to, how
/// far it is, and the time spent in each phase.
struct Load<'a, 'w> {
    walker: MapWalker<'w>,
    src: &'a mut dyn PageSource,
    sink: &'a mut dyn PageSink,
    meta: MetaCheck,
    done: u64,
    total: u64,
    progress: &'a mut dyn FnMut(u64, u64),
    clock: &'a dyn Clock,
    mark: u64,
    phases: Phases,
}

impl Load<'_, '_> {
    /// Adds the time since the last mark to a phase.
    fn lap(&mut self, phase: fn(&mut Phases) -> &mut u64) {
        let now = self.clock.now_ns();
        *phase(&mut self.phases) += now.saturating_sub(self.mark);
        self.mark = now;
    }

    /// The device page of the next stream entry; the map may not end first.
    fn next_entry(&mut self) -> Result<u64, Error> {
        self.walker.next(self.src)?.ok_or(Error::Truncated { have: self.done, want: self.total })
    }

    /// Checks stream page `done` against the page list and hands it on.
    fn emit(&mut self, p: &Page) -> Result<(), Error> {
        self.meta.page(self.done, p)?;
        self.sink.write_page(self.done, p).map_err(|errno| Error::Write { index: self.done, errno })?;
        self.done += 1;
        Ok(())
    }

    /// Uncompressed: one page read, one page written, through `data`.
    fn plain(&mut self, data: &mut Page) -> Result<(), Error> {
        while self.done < self.total {
            let page = self.next_entry()?;
            read(self.src, page, data)?;
            self.lap(|p| &mut p.read);
            self.emit(data)?;
            self.lap(|p| &mut p.write);
            (self.progress)(self.done, self.total);
        }
        Ok(())
    }

    /// Reads the next map entries into pages `from..to` of `win`, each run
    /// of consecutive device pages in one read; stops early at the end of
    /// the map. Returns the page after the last one read.
    fn read_into(&mut self, win: &mut [u8], from: usize, to: usize, ended: &mut bool) -> Result<usize, Error> {
        let (mut at, mut run) = (from, Run::default());
        let mut end = from;
        while end < to && !*ended {
            let Some(page) = self.walker.next(self.src)? else {
                *ended = true;
                break;
            };
            if !run.extend(page) {
                self.read_run(win, at, run.first, run.len)?;
                (at, run) = (end, Run::start(page));
            }
            end += 1;
        }
        self.read_run(win, at, run.first, run.len)?;
        Ok(end)
    }

    fn read_run(&mut self, win: &mut [u8], at: usize, first: u64, len: usize) -> Result<(), Error> {
        if len == 0 {
            return Ok(());
        }
        self.src.read_pages(first, &mut win[at * PAGE..(at + len) * PAGE]).map_err(|errno| Error::Read { page: first, errno })
    }

    /// Makes more stream pages readable at `w.pos`: the rest of the
    /// current block, or (once it is whole) the next block's window, with
    /// the unread tail of this one copied into the room before it.
    fn more(&mut self, wins: &mut [u8], w: &mut Fill) -> Result<(), Error> {
        if w.have == WINDOW_CAP {
            let tail = w.have - w.pos; // less than a chunk: PAD_PAGES hold it
            let (from, to) = (w.cur * WINDOW_BYTES, (1 - w.cur) * WINDOW_BYTES);
            wins.copy_within(from + w.pos * PAGE..from + WINDOW_BYTES, to + (PAD_PAGES - tail) * PAGE);
            (w.cur, w.pos, w.have, w.next) = (1 - w.cur, PAD_PAGES - tail, PAD_PAGES + w.next, 0);
        }
        if !w.ended {
            let at = w.cur * WINDOW_BYTES;
            w.have = self.read_into(&mut wins[at..at + WINDOW_BYTES], w.have, WINDOW_CAP, &mut w.ended)?;
        }
        Ok(())
    }

    /// Reads up to `PREFETCH_PAGES` more of the next block into `next`
    /// (the window no chunk being decompressed lies in). The map is still
    /// read in order: `find_chunks` has read the current block to its end
    /// (or to the end of the map) before any batch is decompressed.
    fn prefetch(&mut self, next: &mut [u8], w: &mut Fill) -> Result<(), Error> {
        if w.ended || w.next == WINDOW_PAGES {
            return Ok(());
        }
        let from = PAD_PAGES + w.next;
        w.next = self.read_into(next, from, (from + PREFETCH_PAGES).min(WINDOW_CAP), &mut w.ended)? - PAD_PAGES;
        Ok(())
    }

    /// Finds up to `want` chunks in the current window, reading as needed,
    /// and notes where each lies. Returns how many were found: fewer when
    /// the next chunk lies past this window's block (a batch lies in one
    /// window, so the other can be read beside its decompression).
    fn find_chunks(&mut self, wins: &mut [u8], w: &mut Fill, chunks: &mut [LoadChunk], want: usize) -> Result<usize, Error> {
        let mut n = 0;
        while n < want {
            if w.pos == w.have {
                if n > 0 {
                    break;
                }
                self.more(wins, w)?;
                if w.pos == w.have {
                    return Err(Error::Truncated { have: self.done, want: self.total });
                }
            }
            let at = w.cur * WINDOW_BYTES + w.pos * PAGE;
            let len = le64(wins, at).unwrap_or(0);
            if len == 0 || len > MAX_CMP_LEN as u64 {
                return Err(Error::ChunkLength(len));
            }
            let npages = (CMP_HEADER + len as usize).div_ceil(PAGE);
            if w.pos + npages > w.have {
                if n > 0 {
                    break;
                }
                self.more(wins, w)?;
                if w.pos + npages > w.have {
                    return Err(Error::Truncated { have: self.done, want: self.total });
                }
            }
            chunks[n].off = w.pos * PAGE + CMP_HEADER;
            chunks[n].len = len as usize;
            w.pos += npages;
            n += 1;
        }
        Ok(n)
    }

    /// Checks decompressed chunks, `queued` pages coming before them:
    /// each decompressed, to whole pages, none past the end. Returns their pages.
    fn check_batch(&self, comp: Compression, chunks: &[LoadChunk], queued: u64) -> Result<u64, Error> {
        let mut pages = 0;
        for c in chunks {
            let out = c.out.ok_or(Error::Decompress(comp))?;
            if out == 0 || out % PAGE != 0 || self.done + queued + pages + (out / PAGE) as u64 > self.total {
                return Err(Error::ChunkSize(out));
            }
            pages += (out / PAGE) as u64;
        }
        Ok(pages)
    }

    /// Hands checked chunks on in order: every page of a chunk checked
    /// against the page list, then the chunk in one call. Adds their CRCs.
    fn write_batch(&mut self, chunks: &[LoadChunk], crc: &mut u32, full: &crc32::Shift) -> Result<(), Error> {
        for c in chunks {
            let out = c.out.unwrap_or(0);
            *crc = if out == UNC_SIZE { full.combine(*crc, c.crc) } else { crc32::combine(*crc, c.crc, out as u64) };
            for (i, p) in c.unc[..out].chunks_exact(PAGE).enumerate() {
                let p: &Page = p.try_into().map_err(|_| Error::BadInfo("internal: page size"))?;
                self.meta.page(self.done + i as u64, p)?;
            }
            self.sink.write_pages(self.done, &c.unc[..out]).map_err(|(index, errno)| Error::Write { index, errno })?;
            self.done += (out / PAGE) as u64;
        }
        if !chunks.is_empty() {
            (self.progress)(self.done, self.total);
        }
        Ok(())
    }

    /// LZO or LZ4: chunks found in a read window, a batch at a time
    /// decompressed and checksummed by `par` while this thread hands the
    /// batch before on and reads on into the other window (then helps), so
    /// writing and reading overlap decompression on more than one CPU.
    /// `chunks` holds the two batches. Returns the CRC of the stream (the
    /// chunks' CRCs combined).
    fn compressed(&mut self, comp: Compression, wins: &mut [u8; WINDOWS_BYTES], chunks: &mut [LoadChunk], par: &dyn ForEach<LoadChunk>) -> Result<u32, Error> {
        let mut crc = 0;
        let full = crc32::Shift::new(UNC_SIZE as u64);
        let (mut cur, mut prev) = chunks.split_at_mut(chunks.len() / 2);
        let batch = if par.threads() > 1 { cur.len() } else { 1 };
        let mut w = Fill { cur: 0, pos: PAD_PAGES, have: PAD_PAGES, next: 0, ended: false };
        // Chunks of `prev` decompressed and checked, and their pages.
        let (mut queued, mut queued_pages) = (0, 0);
        loop {
            let todo = self.total - self.done - queued_pages;
            if todo == 0 {
                break;
            }
            // A chunk holds at most 32 pages: at least this many are left,
            // so no chunk is looked for past the end of the stream.
            let want = batch.min(usize::try_from(todo.div_ceil(UNC_PAGES as u64)).unwrap_or(batch));
            let n = self.find_chunks(wins, &mut w, cur, want)?;
            self.lap(|p| &mut p.read);
            let (a, b) = wins.split_at_mut(WINDOW_BYTES);
            let (window, next) = if w.cur == 0 { (&*a, b) } else { (&*b, a) };
            let (start, mut writing, mut reading, mut beside) = (self.clock.now_ns(), 0, 0, Ok(()));
            par.for_each_beside(&mut cur[..n], &|c: &mut LoadChunk| c.decompress(comp, window), &mut || {
                let t0 = self.clock.now_ns();
                beside = self.write_batch(&prev[..queued], &mut crc, &full);
                let t1 = self.clock.now_ns();
                beside = beside.and_then(|()| self.prefetch(next, &mut w));
                writing = t1.saturating_sub(t0);
                reading = self.clock.now_ns().saturating_sub(t1);
            });
            beside?;
            let elapsed = self.clock.now_ns().saturating_sub(start);
            self.phases.write += writing;
            self.phases.read += reading;
            self.phases.decode += elapsed.saturating_sub(writing + reading);
            self.mark = self.clock.now_ns();
            queued_pages = self.check_batch(comp, &cur[..n], 0)?;
            queued = n;
            core::mem::swap(&mut cur, &mut prev);
        }
        self.write_batch(&prev[..queued], &mut crc, &full)?;
        self.lap(|p| &mut p.write);
        Ok(crc)
    }
}

/// Where the stream stands in the two windows: pages `pos..have` of
/// window `cur` hold stream pages not yet taken, and `next` pages of the
/// block after it are already in the other window (from `PAD_PAGES` on);
/// `ended` once the map has no more entries.
struct Fill {
    cur: usize,
    pos: usize,
    have: usize,
    next: usize,
    ended: bool,
}

/// Stream page 0, `swsusp_info`, never compressed: it sizes the rest and
/// says which kernel wrote the image. The walker stands after it.
fn first_page<'m>(h: &Header, device_pages: u64, src: &mut dyn PageSource, map: &'m mut Page, data: &mut Page) -> Result<(Info, MapWalker<'m>), Error> {
    if h.image == 0 {
        return Err(Error::BadInfo("the header names no swap map (its first map page is 0)"));
    }
    let mut walker = MapWalker::new(map, h.image, device_pages);
    let first = walker.next(src)?.ok_or(Error::Truncated { have: 0, want: 1 })?;
    read(src, first, data)?;
    Ok((parse_info(data).map_err(Error::BadInfo)?, walker))
}

/// The image's `swsusp_info` alone, read through the map page into
/// `data`: what a loader checks before it changes anything on disk
/// (which kernel wrote the image).
pub fn read_info(h: &Header, device_pages: u64, src: &mut dyn PageSource, map: &mut Page, data: &mut Page) -> Result<Info, Error> {
    first_page(h, device_pages, src, map, data).map(|(info, _)| info)
}

/// Loads the image `h` describes from `src` into `sink`; `progress` is
/// called with (pages done, pages in all) after every chunk or page.
/// Returns only after the last page and the CRC check: on `Ok` the sink
/// holds a complete, verified stream. On one thread.
pub fn load(
    h: &Header,
    device_pages: u64,
    src: &mut dyn PageSource,
    sink: &mut dyn PageSink,
    scratch: &mut Scratch,
    progress: &mut dyn FnMut(u64, u64),
    clock: &dyn Clock,
) -> Result<Loaded, Error> {
    load_with(h, device_pages, src, sink, scratch, &Serial, progress, clock)
}

/// [`load`], with compressed chunks decompressed and checksummed by
/// `par`, up to its thread count (at most [`MAX_BATCH`]) at a time.
#[allow(clippy::too_many_arguments)]
pub fn load_with(
    h: &Header,
    device_pages: u64,
    src: &mut dyn PageSource,
    sink: &mut dyn PageSink,
    scratch: &mut Scratch,
    par: &dyn ForEach<LoadChunk>,
    progress: &mut dyn FnMut(u64, u64),
    clock: &dyn Clock,
) -> Result<Loaded, Error> {
    let Scratch { windows, map, data, chunks } = scratch;
    let comp = h.compression();
    let (info, mut walker) = first_page(h, device_pages, src, map, data)?;
    walker.set_limit(max_entries(comp, info.pages));
    sink.write_page(0, data).map_err(|errno| Error::Write { index: 0, errno })?;
    progress(1, info.pages);

    let mark = clock.now_ns();
    let meta = MetaCheck::new(&info);
    let mut l = Load { walker, src, sink, meta, done: 1, total: info.pages, progress, clock, mark, phases: Phases::default() };
    let crc = if comp == Compression::None {
        l.plain(data)?;
        None
    } else {
        let computed = l.compressed(comp, windows, &mut chunks[..], par)?;
        if h.has_crc() && computed != h.crc32 {
            return Err(Error::Crc { stored: h.crc32, computed });
        }
        Some(computed)
    };
    Ok(Loaded { info, crc, disk_pages: l.walker.pages_read(), phases: l.phases })
}

#[cfg(test)]
pub(crate) mod tests;
