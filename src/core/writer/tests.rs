//! The writer against the loader: images written into a fake swap area
//! through the kernel's slot allocator's habits (mostly consecutive
//! slots, some gaps), committed with `swsusp::mark`, then loaded back.

use super::*;
use crate::image::tests::{Collect, Disk, payload};
use crate::image::load;
use crate::par::Threads;
use crate::probe::{SWAP_SIG, SWAPSPACE2};
use crate::swsusp::{self, parse_header};

struct Stream {
    pages: Vec<Page>,
    next: usize,
}

impl StreamSource for Stream {
    fn next_pages(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut n = 0;
        for dst in buf.chunks_exact_mut(PAGE) {
            let Some(p) = self.pages.get(self.next) else { break };
            dst.copy_from_slice(p);
            self.next += 1;
            n += 1;
        }
        Ok(n)
    }
}

/// A swap area of `size` pages; slot 0 is the header. Hands out slots in
/// order but skips every 37th (another user's), like a busy swap map.
struct Swap {
    disk: Vec<Page>,
    next: u64,
    fail_write: Option<u64>,
    flushed: bool,
}

impl Swap {
    fn new(size: usize) -> Swap {
        let mut disk = vec![[0u8; PAGE]; size];
        disk[0][SWAP_SIG..].copy_from_slice(SWAPSPACE2);
        Swap { disk, next: 1, fail_write: None, flushed: false }
    }
}

impl SlotSink for Swap {
    fn alloc(&mut self) -> Result<u64, Errno> {
        if self.next.is_multiple_of(37) {
            self.next += 1;
        }
        if self.next as usize >= self.disk.len() {
            return Err(Errno::new(28));
        }
        self.next += 1;
        Ok(self.next - 1)
    }
    fn write(&mut self, slot: u64, page: &Page) -> Result<(), Errno> {
        if self.fail_write == Some(slot) {
            return Err(Errno::IO);
        }
        self.disk[slot as usize] = *page;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), Errno> {
        self.flushed = true;
        Ok(())
    }
}

/// A stream of `data` data pages: `swsusp_info`, the page list, the data.
fn stream(data: usize) -> Vec<Page> {
    let body = payload(data);
    let mut v = vec![swsusp::info_page(1 + body.len() as u64, data as u64)];
    v.extend(body);
    v
}

/// The writer's chunks, on the heap as the init maps them.
fn chunks() -> Box<[Chunk; CHUNKS]> {
    Box::new([const { Chunk::new() }; CHUNKS])
}

/// Runs `f` on a thread with room for the 1.1 MiB `Scratch` in debug builds.
fn big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(64 << 20).spawn(f).unwrap().join().unwrap()
}

fn write_then_load(comp: Compression, data: usize) -> (Written, Vec<Page>) {
    big_stack(move || write_then_load_with(comp, data, &Serial))
}

fn write_then_load_with(comp: Compression, data: usize, par: &dyn ForEach<Chunk>) -> (Written, Vec<Page>) {
    let pages = stream(data);
    let mut swap = Swap::new(4 * pages.len() + 64);
    let mut chunks = chunks();
    let mut scratch = Scratch::new(&mut chunks);
    let mut last = 0;
    let w = write_image(&mut Stream { pages: pages.clone(), next: 0 }, &mut swap, comp, &mut scratch, par, &mut |d, t| {
        assert!(d > last && d <= t);
        last = d;
    }, &crate::image::NoClock)
    .unwrap();
    assert!(swap.flushed, "the data is flushed before the caller commits");
    assert_eq!(w.pages, pages.len() as u64);
    assert!(w.disk_pages <= slots_needed(comp, w.pages), "{} slots used, {} estimated", w.disk_pages, slots_needed(comp, w.pages));
    swsusp::mark(&mut swap.disk[0], w.first_map, flags(comp, true, 0), w.crc.unwrap_or(0), 0);
    let h = parse_header(&swap.disk[0]).unwrap();
    assert_eq!(h.compression(), comp);
    let n = swap.disk.len() as u64;
    let mut sink = Collect::default();
    let l = load(&h, n, &mut Disk(swap.disk), &mut sink, &mut crate::image::tests::memory().scratch(), &mut |_, _| {}, &crate::image::NoClock)
        .unwrap();
    // Every slot written is read, but for an empty last map page.
    assert!(l.disk_pages == w.disk_pages || l.disk_pages + 1 == w.disk_pages, "read {}, wrote {}", l.disk_pages, w.disk_pages);
    assert_eq!(l.crc, w.crc);
    assert_eq!(sink.pages.len(), pages.len());
    (w, sink.pages.into_iter().zip(pages).filter(|(a, b)| a != b).map(|(a, _)| a).collect())
}

#[test]
fn every_compression_roundtrips_through_the_loader() {
    for comp in [Compression::None, Compression::Lzo, Compression::Lz4] {
        // 1 data page; a chunk and a bit; more than one map page of entries.
        for data in [1, 40, 700] {
            let (_, differ) = write_then_load(comp, data);
            assert!(differ.is_empty(), "{comp:?}, {data} data pages: pages differ");
        }
    }
}

#[test]
fn threads_write_the_same_image() {
    big_stack(|| {
        for comp in [Compression::Lzo, Compression::Lz4] {
            // 4 threads: full batches, a partial one, and a short last chunk.
            let (w4, differ) = write_then_load_with(comp, 300, &Threads(4));
            assert!(differ.is_empty(), "{comp:?}: pages differ");
            let (w1, _) = write_then_load_with(comp, 300, &Serial);
            assert_eq!((w4.crc, w4.disk_pages), (w1.crc, w1.disk_pages), "{comp:?}: same CRC and size");
        }
    });
}

#[test]
fn a_full_map_page_links_an_empty_one() {
    // 510 stream pages after page 0: exactly 511 entries in the first map page.
    let (w, differ) = write_then_load(Compression::None, 509);
    assert!(differ.is_empty());
    assert_eq!(w.pages, 511);
    assert_eq!(w.disk_pages, 511 + 2, "two map pages, the second empty");
}

#[test]
fn compressed_images_are_smaller_and_checksummed() {
    let (w, _) = write_then_load(Compression::Lzo, 700);
    let (raw, _) = write_then_load(Compression::None, 700);
    assert!(w.disk_pages < raw.disk_pages, "LZO {} pages, raw {}", w.disk_pages, raw.disk_pages);
    assert!(w.crc.is_some() && raw.crc.is_none());
}

#[test]
fn out_of_swap_and_write_errors_are_reported() {
    big_stack(out_of_swap_and_write_errors);
}

fn out_of_swap_and_write_errors() {
    let pages = stream(300);
    let mut small = Swap::new(100);
    let e = write_image(&mut Stream { pages: pages.clone(), next: 0 }, &mut small, Compression::None, &mut Scratch::new(&mut chunks()), &Serial, &mut |_, _| {}, &crate::image::NoClock);
    assert!(matches!(e, Err(Error::Alloc { errno, .. }) if errno.raw() == 28), "{e:?}");
    assert_eq!(&small.disk[0][SWAP_SIG..], SWAPSPACE2, "the header is the caller's: untouched");
    let mut bad = Swap::new(1000);
    bad.fail_write = Some(50);
    let e = write_image(&mut Stream { pages, next: 0 }, &mut bad, Compression::Lzo, &mut Scratch::new(&mut chunks()), &Serial, &mut |_, _| {}, &crate::image::NoClock);
    assert_eq!(e, Err(Error::Write { slot: 50, errno: Errno::IO }));
}

#[test]
fn a_stream_of_the_wrong_length_is_refused() {
    big_stack(wrong_length);
}

fn wrong_length() {
    let mut pages = stream(50);
    pages.pop();
    let e = write_image(&mut Stream { pages, next: 0 }, &mut Swap::new(500), Compression::Lzo, &mut Scratch::new(&mut chunks()), &Serial, &mut |_, _| {}, &crate::image::NoClock);
    assert!(matches!(e, Err(Error::Length { .. })), "{e:?}");
    let e = write_image(&mut Stream { pages: vec![[0u8; PAGE]], next: 0 }, &mut Swap::new(50), Compression::None, &mut Scratch::new(&mut chunks()), &Serial, &mut |_, _| {}, &crate::image::NoClock);
    assert!(matches!(e, Err(Error::BadInfo(_))), "{e:?}");
}

#[test]
fn flag_choices() {
    assert_eq!(flags(Compression::Lzo, true, 0), 0x5);
    assert_eq!(flags(Compression::Lz4, true, 0), 0x15);
    assert_eq!(flags(Compression::None, false, 0), 0x2);
    assert_eq!(flags(Compression::Lzo, false, 7), 0xc);
}
