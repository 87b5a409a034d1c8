//! The loader against images laid out on a fake device exactly as the
//! kernel lays them out (map pages allocated as writing proceeds).

use super::*;
use crate::probe::{SWAP_SIG, SWAPSPACE2};
use crate::swsusp::{self, SF_CRC32_MODE, SF_NOCOMPRESS_MODE, SF_PLATFORM_MODE, parse_header};

const EIO: Errno = Errno::IO;

pub(crate) struct Disk(pub(crate) Vec<Page>);

impl PageSource for Disk {
    fn read_page(&mut self, n: u64, buf: &mut Page) -> Result<(), Errno> {
        *buf = *self.0.get(n as usize).ok_or(EIO)?;
        Ok(())
    }
}

#[derive(Default)]
pub(crate) struct Collect {
    pub(crate) pages: Vec<Page>,
    fail_at: Option<(u64, Errno)>,
}

impl PageSink for Collect {
    fn write_page(&mut self, index: u64, page: &Page) -> Result<(), Errno> {
        if let Some((i, e)) = self.fail_at
            && i == index {
                return Err(e);
            }
        assert_eq!(index, self.pages.len() as u64, "pages arrive in order");
        self.pages.push(*page);
        Ok(())
    }
}

/// The loader's memory on the heap, as the init maps it: the read windows
/// and the output chunks.
pub(crate) struct Memory(Box<[u8; WINDOWS_BYTES]>, Box<[LoadChunk; CHUNKS]>);

pub(crate) fn memory() -> Memory {
    Memory(vec![0; WINDOWS_BYTES].into_boxed_slice().try_into().unwrap(), Box::new([const { LoadChunk::new() }; CHUNKS]))
}

impl Memory {
    pub(crate) fn scratch(&mut self) -> Scratch<'_> {
        Scratch::new(&mut self.0, &mut self.1)
    }
}

/// A literal-only LZO1X stream: valid input for any LZO1X decoder.
fn lzo_literals(data: &[u8]) -> Vec<u8> {
    assert!(data.len() >= 19);
    let k = data.len() - 18;
    let zeros = (k - 1) / 255;
    let mut out = vec![0u8];
    out.extend(std::iter::repeat_n(0u8, zeros));
    out.push((k - 255 * zeros) as u8);
    out.extend_from_slice(data);
    out.extend_from_slice(&[0x11, 0, 0]);
    out
}

fn pattern_page(i: usize) -> Page {
    let mut p = [0u8; PAGE];
    let mut x = (i as u32).wrapping_mul(2654435761) | 1;
    for b in p.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = if i.is_multiple_of(3) { (x & 3) as u8 } else { x as u8 };
    }
    p
}

/// The page list for `n` data pages: ascending PFNs in runs, the end
/// marker after the last one unless the last page is full.
fn page_list(n: usize) -> Vec<Page> {
    let mut words: Vec<u64> = (0..n as u64).map(|i| 0x100 + i + (i / 100) * 7).collect();
    if !n.is_multiple_of(512) {
        words.push(END_OF_MAP);
    }
    words.resize(n.div_ceil(512) * 512, 0);
    words.chunks(512).map(|c| {
        let mut p = [0u8; PAGE];
        for (i, w) in c.iter().enumerate() {
            p[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        p
    }).collect()
}

/// The stream pages after `swsusp_info` for `n` data pages: the page
/// list, then the data.
pub(crate) fn payload(n: usize) -> Vec<Page> {
    let mut v = page_list(n);
    v.extend((0..n).map(pattern_page));
    v
}

/// Data pages in a payload of `len` pages (inverse of `payload`).
fn data_pages(len: usize) -> usize {
    (0..=len).rev().find(|n| n + n.div_ceil(512) == len).expect("a payload length")
}

struct Built {
    disk: Disk,
    header: swsusp::Header,
    /// Device page of every map page, in chain order.
    maps: Vec<u64>,
    /// Device page of every map entry, in order.
    entries: Vec<u64>,
}

/// Lays out a marked swap area holding `info` + `payload` with `comp`.
fn build(comp: Compression, payload: &[Page]) -> Built {
    let info = swsusp::info_page(1 + payload.len() as u64, data_pages(payload.len()) as u64);
    let mut stored: Vec<Page> = vec![info];
    let mut crc = 0;
    if comp == Compression::None {
        stored.extend_from_slice(payload);
    } else {
        for chunk in payload.chunks(UNC_PAGES) {
            let raw: Vec<u8> = chunk.iter().flatten().copied().collect();
            crc = crate::crc32::update(crc, &raw);
            let c = match comp {
                Compression::Lz4 => lz4_flex::block::compress(&raw),
                _ => lzo_literals(&raw),
            };
            let mut bytes = (c.len() as u64).to_le_bytes().to_vec();
            bytes.extend_from_slice(&c);
            bytes.resize(bytes.len().div_ceil(PAGE) * PAGE, 0xA5); // garbage padding
            for p in bytes.chunks(PAGE) {
                stored.push(p.try_into().unwrap());
            }
        }
    }
    let mut disk = vec![[0u8; PAGE]]; // slot 0: the header
    let mut maps = vec![];
    let mut entries = vec![];
    let alloc = |disk: &mut Vec<Page>| {
        disk.push([0u8; PAGE]);
        disk.len() as u64 - 1
    };
    let mut cur = alloc(&mut disk);
    maps.push(cur);
    let mut used = 0;
    for page in stored {
        if used == MAP_ENTRIES {
            let next = alloc(&mut disk);
            disk[cur as usize][NEXT_SWAP..].copy_from_slice(&next.to_le_bytes());
            cur = next;
            maps.push(cur);
            used = 0;
        }
        let slot = alloc(&mut disk);
        disk[slot as usize] = page;
        disk[cur as usize][used * 8..used * 8 + 8].copy_from_slice(&slot.to_le_bytes());
        entries.push(slot);
        used += 1;
    }
    // The kernel links a fresh, empty map page when the last one fills up.
    if used == MAP_ENTRIES {
        let next = alloc(&mut disk);
        disk[cur as usize][NEXT_SWAP..].copy_from_slice(&next.to_le_bytes());
        maps.push(next);
    }
    let flags = match comp {
        Compression::None => SF_PLATFORM_MODE | SF_NOCOMPRESS_MODE,
        Compression::Lzo => SF_PLATFORM_MODE | SF_CRC32_MODE,
        Compression::Lz4 => SF_PLATFORM_MODE | SF_CRC32_MODE | swsusp::SF_COMPRESSION_ALG_LZ4,
    };
    let h = &mut disk[0];
    h[SWAP_SIG..].copy_from_slice(SWAPSPACE2);
    swsusp::mark(h, maps[0], flags, crc, 0);
    let header = parse_header(&disk[0]).unwrap();
    Built { disk: Disk(disk), header, maps, entries }
}

#[test]
fn threads_load_the_same_stream() {
    for comp in [Compression::Lzo, Compression::Lz4] {
        // 300 data pages: full batches of 4 chunks, then a partial batch.
        let p = payload(300);
        let mut b = build(comp, &p);
        let n = b.disk.0.len() as u64;
        let mut serial = Collect::default();
        let one = run(&mut b, &mut serial).unwrap();
        let mut threaded = Collect::default();
        let mut mem = memory();
        let mut bufs = mem.scratch();
        let four = load_with(&b.header, n, &mut b.disk, &mut threaded, &mut bufs, &crate::par::Threads(4), &mut |_, _| {}, &NoClock).unwrap();
        assert_eq!(threaded.pages, serial.pages, "{comp:?}: the same pages in the same order");
        assert_eq!((four.crc, four.disk_pages), (one.crc, one.disk_pages));
    }
}

/// A source that notes every device page it is asked for.
struct Noting<'d>(&'d mut Disk, Vec<u64>);

impl PageSource for Noting<'_> {
    fn read_page(&mut self, n: u64, buf: &mut Page) -> Result<(), Errno> {
        self.1.push(n);
        self.0.read_page(n, buf)
    }
}

#[test]
fn windows_in_turn_read_the_map_in_order() {
    // LZO literal chunks (34 pages each) over several blocks, so
    // chunks straddle blocks; LZ4 chunks of a few pages, so a chunk's
    // length often sits in a block's last page.
    for (comp, n) in [(Compression::Lzo, 2000), (Compression::Lz4, 6000)] {
        let p = payload(n);
        let mut b = build(comp, &p);
        let pages = b.disk.0.len() as u64;
        assert!(b.entries.len() > 4 * WINDOW_PAGES, "{comp:?}: {} stream pages span several blocks", b.entries.len());
        for threads in [1, 2, 4] {
            let mut sink = Collect::default();
            let mut mem = memory();
            let mut bufs = mem.scratch();
            let mut src = Noting(&mut b.disk, vec![]);
            let r = load_with(&b.header, pages, &mut src, &mut sink, &mut bufs, &crate::par::Threads(threads), &mut |_, _| {}, &NoClock).unwrap();
            assert_eq!(&sink.pages[1..], &p[..], "{comp:?} on {threads} threads: stream intact");
            assert_eq!(r.disk_pages, (b.maps.len() + b.entries.len()) as u64);
            let data: Vec<u64> = src.1.iter().copied().filter(|n| !b.maps.contains(n)).collect();
            assert_eq!(data, b.entries, "{comp:?} on {threads} threads: every entry read once, in map order");
        }
    }
}

fn run(b: &mut Built, sink: &mut Collect) -> Result<Loaded, Error> {
    let n = b.disk.0.len() as u64;
    let mut mem = memory();
    let mut bufs = mem.scratch();
    let mut calls = 0;
    let r = load(&b.header, n, &mut b.disk, sink, &mut bufs, &mut |done, total| {
        assert!(done <= total);
        calls += 1;
    }, &NoClock);
    assert!(calls > 0 || r.is_err());
    r
}

fn roundtrip(comp: Compression, n: usize) {
    let pl = payload(n);
    let mut b = build(comp, &pl);
    let mut sink = Collect::default();
    let r = run(&mut b, &mut sink).unwrap();
    assert_eq!(r.info.pages, 1 + pl.len() as u64);
    assert_eq!(sink.pages.len(), 1 + pl.len());
    assert_eq!(&sink.pages[1..], &pl[..], "{comp:?} stream intact");
    assert_eq!(r.crc.is_some(), comp != Compression::None);
}

#[test]
fn constants_match_the_kernel() {
    assert_eq!(MAP_ENTRIES, 511);
    assert_eq!(MAX_CMP_LEN, 139333);
    assert_eq!(CMP_PAGES, 35);
    assert_eq!(CMP_SIZE, 143360);
}

#[test]
fn kernel_crc_check_value() {
    let c = crate::crc32::update(crate::crc32::update(0, b"1234"), b"56789");
    assert_eq!(c, 0x2DFD2D88);
}

#[test]
fn uncompressed_over_several_map_pages() {
    roundtrip(Compression::None, 1200);
}

#[test]
fn uncompressed_with_an_exactly_full_map_page() {
    // 1 info + 1 list page + 509 data pages fill one map page exactly.
    let mut b = build(Compression::None, &payload(MAP_ENTRIES - 2));
    assert_eq!(b.maps.len(), 2, "trailing empty map page");
    let mut sink = Collect::default();
    run(&mut b, &mut sink).unwrap();
    assert_eq!(sink.pages.len(), MAP_ENTRIES);
}

#[test]
fn lz4_and_lzo() {
    roundtrip(Compression::Lz4, 1000);
    roundtrip(Compression::Lzo, 100);
    roundtrip(Compression::Lzo, 31); // a short last chunk only
}

#[test]
fn crc_mismatch_is_refused() {
    let mut b = build(Compression::Lz4, &payload(70));
    b.header.crc32 ^= 1;
    let err = run(&mut b, &mut Collect::default()).unwrap_err();
    assert!(matches!(err, Error::Crc { .. }), "{err:?}");
}

#[test]
fn flipped_byte_in_a_literal_lzo_chunk_is_a_crc_mismatch() {
    let mut b = build(Compression::Lzo, &payload(64));
    let e = b.entries[3] as usize; // inside the first chunk's data (literals)
    b.disk.0[e][100] ^= 0x40;
    let err = run(&mut b, &mut Collect::default()).unwrap_err();
    assert!(matches!(err, Error::Crc { .. }), "{err:?}");
}

#[test]
fn entry_beyond_the_device() {
    let mut b = build(Compression::None, &payload(40));
    let m = b.maps[0] as usize;
    b.disk.0[m][5 * 8..6 * 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let err = run(&mut b, &mut Collect::default()).unwrap_err();
    assert_eq!(err, Error::OutOfDevice { page: 1 << 40 });
}

#[test]
fn map_link_beyond_the_device() {
    let mut b = build(Compression::None, &payload(600));
    let m = b.maps[0] as usize;
    b.disk.0[m][NEXT_SWAP..].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = run(&mut b, &mut Collect::default()).unwrap_err();
    assert_eq!(err, Error::OutOfDevice { page: u64::MAX });
}

#[test]
fn map_loop_is_an_error_not_a_hang() {
    // A map page that links to itself: the walker stops at its limit.
    let mut disk = Disk(vec![[0u8; PAGE]; 4]);
    for i in 0..MAP_ENTRIES {
        disk.0[1][i * 8..i * 8 + 8].copy_from_slice(&2u64.to_le_bytes());
    }
    disk.0[1][NEXT_SWAP..].copy_from_slice(&1u64.to_le_bytes());
    let mut map = [0u8; PAGE];
    let mut w = MapWalker::new(&mut map, 1, 4);
    w.set_limit(3 * MAP_ENTRIES as u64);
    let mut n = 0;
    let err = loop {
        match w.next(&mut disk) {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("a looping chain ended"),
            Err(e) => break e,
        }
    };
    assert_eq!(err, Error::MapTooLong);
    assert_eq!(n, 3 * MAP_ENTRIES);

    // In a whole load, the loop ends at the image size.
    let pl = payload(600);
    let mut b = build(Compression::None, &pl);
    let (m0, m1) = (b.maps[0], b.maps[1] as usize);
    b.disk.0[m1][NEXT_SWAP..].copy_from_slice(&m0.to_le_bytes());
    for i in 0..MAP_ENTRIES {
        let e = b.entries[1].to_le_bytes();
        b.disk.0[m1][i * 8..i * 8 + 8].copy_from_slice(&e);
    }
    let mut sink = Collect::default();
    run(&mut b, &mut sink).unwrap();
    assert_eq!(sink.pages.len(), 1 + pl.len());
}

#[test]
fn page_list_checks() {
    let damage = |f: &dyn Fn(&mut Page)| {
        let mut pl = payload(700);
        f(&mut pl[0]);
        let mut b = build(Compression::None, &pl);
        run(&mut b, &mut Collect::default()).unwrap_err()
    };
    // A flipped low bit in a run of consecutive PFNs: a duplicate.
    assert_eq!(damage(&|p| p[40 * 8] ^= 1), Error::Metadata("page frame numbers out of order"));
    assert_eq!(damage(&|p| p[40 * 8 + 3] ^= 0x10), Error::Metadata("page frame numbers out of order"));
    // One PFN fewer than the header counts (the list ends early).
    let mut pl = payload(700);
    pl[1][(700 - 512 - 1) * 8..(700 - 512) * 8].copy_from_slice(&END_OF_MAP.to_le_bytes());
    pl[1][(700 - 512) * 8..(700 - 512 + 1) * 8].copy_from_slice(&0u64.to_le_bytes());
    let mut b = build(Compression::None, &pl);
    assert_eq!(run(&mut b, &mut Collect::default()).unwrap_err(), Error::Metadata("its page count differs from the header's"));
    // Garbage after the end marker.
    let mut pl = payload(700);
    pl[1][4000] = 1;
    let mut b = build(Compression::None, &pl);
    assert_eq!(run(&mut b, &mut Collect::default()).unwrap_err(), Error::Metadata("entries after the end marker"));
    // 6.12+: zero pages flagged in the list are not counted as data.
    let mut pl = payload(10);
    let mut words: Vec<u64> = (0..10u64).map(|i| 0x100 + i).collect();
    words.push(0x200 | PFN_ZERO_FLAG);
    words.push(END_OF_MAP);
    for (i, w) in words.iter().enumerate() {
        pl[0][i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    let mut b = build(Compression::Lz4, &pl);
    run(&mut b, &mut Collect::default()).unwrap();
}

#[test]
fn zeroed_header_image_field_is_named() {
    let mut b = build(Compression::None, &payload(4));
    b.header.image = 0;
    assert!(matches!(run(&mut b, &mut Collect::default()).unwrap_err(), Error::BadInfo(w) if w.contains("no swap map")));
}

#[test]
fn truncated_map() {
    let mut b = build(Compression::None, &payload(40));
    let m = b.maps[0] as usize;
    b.disk.0[m][20 * 8..21 * 8].copy_from_slice(&0u64.to_le_bytes());
    let err = run(&mut b, &mut Collect::default()).unwrap_err();
    assert_eq!(err, Error::Truncated { have: 20, want: 42 });
}

#[test]
fn oversized_chunk_length() {
    let mut b = build(Compression::Lzo, &payload(40));
    let e = b.entries[1] as usize;
    b.disk.0[e][..8].copy_from_slice(&(MAX_CMP_LEN as u64 + 1).to_le_bytes());
    let err = run(&mut b, &mut Collect::default()).unwrap_err();
    assert_eq!(err, Error::ChunkLength(MAX_CMP_LEN as u64 + 1));
}

#[test]
fn read_error_and_refused_write() {
    let mut b = build(Compression::None, &payload(40));
    let e = b.entries[7] as usize;
    b.disk.0.truncate(e);
    let n = b.disk.0.len() as u64 + 100; // the device claims more than it has
    let mut mem = memory();
    let mut bufs = mem.scratch();
    let err = load(&b.header, n, &mut b.disk, &mut Collect::default(), &mut bufs, &mut |_, _| {}, &NoClock).unwrap_err();
    assert_eq!(err, Error::Read { page: e as u64, errno: EIO });

    let mut b = build(Compression::None, &payload(40));
    let mut sink = Collect { fail_at: Some((1, Errno::PERM)), ..Default::default() };
    assert_eq!(run(&mut b, &mut sink).unwrap_err(), Error::Write { index: 1, errno: Errno::PERM });
}

#[test]
fn random_damage_never_panics() {
    let mut x = 0x9E3779B97F4A7C15u64;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for comp in [Compression::None, Compression::Lzo, Compression::Lz4] {
        let clean = build(comp, &payload(100));
        for _ in 0..300 {
            let mut b = Built { disk: Disk(clean.disk.0.clone()), header: clean.header, maps: vec![], entries: vec![] };
            for _ in 0..1 + rnd() % 4 {
                let p = (1 + rnd() % (b.disk.0.len() as u64 - 1)) as usize;
                let at = (rnd() % PAGE as u64) as usize;
                b.disk.0[p][at] = rnd() as u8;
            }
            let _ = run(&mut b, &mut Collect::default());
        }
    }
}

/// Writes the seed inputs of the swap_map and chunks fuzz targets
/// (`fuzz/seeds/`): `cargo hosttest -- --ignored write_fuzz_seeds`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for (name, comp) in [("nocomp", Compression::None), ("lzo", Compression::Lzo), ("lz4", Compression::Lz4)] {
        let b = build(comp, &payload(20));
        let dir = root.join("swap_map");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), b.disk.0.concat()).unwrap();
    }
    let raw: Vec<u8> = payload(33).iter().take(32).flatten().copied().collect();
    for (name, sel, c) in [("lz4", 23u8, lz4_flex::block::compress(&raw)), ("lzo", 22u8, lzo_literals(&raw))] {
        let mut seed = vec![sel];
        seed.extend_from_slice(&(c.len() as u64).to_le_bytes());
        seed.extend_from_slice(&c);
        let dir = root.join("chunks");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), seed).unwrap();
    }
}

#[test]
fn runs_of_consecutive_pages() {
    let r: Vec<(u64, usize)> = runs(&[5, 6, 7, 9, 3, 4, u64::MAX, 0]).map(|r| (r.first, r.len)).collect();
    assert_eq!(r, [(5, 3), (9, 1), (3, 2), (u64::MAX, 1), (0, 1)], "no run wraps past u64::MAX");
    assert_eq!(runs(&[]).count(), 0);
    let mut run = Run::default();
    assert!(!run.extend(0), "an empty run takes nothing");
}
