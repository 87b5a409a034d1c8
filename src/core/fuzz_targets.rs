//! Bodies of the fuzz targets in `fuzz/fuzz_targets/` and of the host
//! tests that replay every input the fuzzer ever found interesting
//! (`fuzz/regressions/TARGET/*`). Each takes arbitrary bytes and must
//! return without panicking.

use crate::errno::Errno;
use crate::image::{self, PageSink, PageSource, Scratch};
use crate::swsusp::{self, PAGE, Page};

/// The command-line splitter and parameter parser.
pub fn cmdline(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else { return };
    for p in crate::cmdline::params(s) {
        // Separators split words unless quoted.
        assert!(!p.name.bytes().any(crate::cmdline::is_space) || s.contains('"'));
    }
    let c = crate::cmdline::Config::parse(s);
    if let Some(r) = c.resume_device() {
        let _ = crate::devspec::parse(r);
    }
}

/// Device specifications.
pub fn devspec(data: &[u8]) {
    if let Ok(s) = core::str::from_utf8(data) {
        let _ = crate::devspec::parse(s);
    }
}

struct Count(usize);

impl core::fmt::Write for Count {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// The filesystem and swap probes and the hibernation header.
pub fn swap_header(data: &[u8]) {
    let _ = crate::probe::identify(data);
    let _ = crate::probe::identify_btrfs(data);
    let mut page = [0u8; PAGE];
    let n = data.len().min(PAGE);
    page[PAGE - n..].copy_from_slice(&data[..n]);
    if let Some(h) = swsusp::parse_header(&page) {
        let _ = swsusp::flag_words(h.flags, &mut Count(0));
        let _ = (h.compression(), h.has_crc(), h.unknown_flags());
    }
    swsusp::invalidate(&mut page);
    assert!(swsusp::parse_header(&page).is_none(), "invalidated header still marked");
    let _ = swsusp::parse_info(&page);
}

/// The partition-table reader over a disk made of the input: the first
/// byte picks the sector size (512 to 64 KiB, or an invalid one), the
/// next two the partition number; reads past the input fail.
pub fn parttable(data: &[u8]) {
    use crate::devspec::{DevSpec, PartId};
    use crate::parttable::{self, GPT_ENTRY_READ, GPT_HEADER_READ};
    let [sel, p0, p1, disk @ ..] = data else { return };
    let ss = if sel & 0x80 != 0 { u64::from(*sel) * 3 } else { 512u64 << (sel % 8) };
    let partn = u32::from(u16::from_le_bytes([*p0, *p1]));
    let mut reads = 0;
    let mut read = |off: u64, buf: &mut [u8]| {
        reads += 1;
        assert!(buf.len() <= GPT_HEADER_READ.max(GPT_ENTRY_READ), "reads are small and fixed");
        match usize::try_from(off).ok().and_then(|o| disk.get(o..o.checked_add(buf.len())?)) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    };
    let id = parttable::identify(ss, partn, &mut read);
    // Header, entry and MBR, and for a logical partition number the DOS
    // extended chains the kernel walks, bounded as it bounds them.
    assert!(reads <= 3 + 4 * (256 + 100), "{reads} reads");
    if let Some(id) = id {
        assert!(partn > 0);
        let _ = id.matches(&DevSpec::PartLabel("root part"));
        let _ = id.matches(&DevSpec::PartUuid { id: PartId::Mbr { disk: 1, part: partn }, offset: 0 });
    }
    if let Some(h) = parttable::gpt_header(disk) {
        let _ = parttable::gpt_entry_offset(&h, ss, partn);
    }
    let _ = parttable::gpt_entry(disk).map(|e| e.name_is("root part"));
}

/// A device made of the input's pages (the last one zero-padded).
struct Device<'a>(&'a [u8]);

impl Device<'_> {
    fn pages(&self) -> u64 {
        self.0.len().div_ceil(PAGE) as u64
    }
}

impl PageSource for Device<'_> {
    fn read_page(&mut self, n: u64, buf: &mut Page) -> Result<(), Errno> {
        let start = usize::try_from(n).ok().and_then(|n| n.checked_mul(PAGE)).ok_or(Errno::IO)?;
        let src = self.0.get(start..).ok_or(Errno::IO)?;
        let k = src.len().min(PAGE);
        buf[..k].copy_from_slice(&src[..k]);
        buf[k..].fill(0);
        Ok(())
    }
}

struct Discard(u64);

impl PageSink for Discard {
    fn write_page(&mut self, index: u64, _page: &Page) -> Result<(), Errno> {
        assert_eq!(index, self.0, "stream pages out of order");
        self.0 += 1;
        Ok(())
    }
}

fn load(h: &swsusp::Header, dev: &mut Device<'_>) {
    let mut windows = [0; image::WINDOWS_BYTES];
    let mut chunks = [const { image::LoadChunk::new() }; image::CHUNKS];
    let mut scratch = Scratch::new(&mut windows, &mut chunks);
    let pages = dev.pages();
    let mut sink = Discard(0);
    let mut last = 0;
    let r = image::load(h, pages, dev, &mut sink, &mut scratch, &mut |done, total| {
        assert!(done > last && done <= total, "progress went backwards or past the end");
        last = done;
    }, &image::NoClock);
    if let Ok(l) = r {
        assert_eq!(sink.0, l.info.pages, "a successful load wrote every page");
    }
}

/// The swap-map walker and loader over a device that is the input: page 0
/// is the header page; if it is not marked, its first bytes choose the
/// first map page and the flags.
pub fn swap_map(data: &[u8]) {
    let mut dev = Device(data);
    let mut page = [0u8; PAGE];
    let _ = dev.read_page(0, &mut page);
    let h = swsusp::parse_header(&page).unwrap_or(swsusp::Header {
        hw_sig: 0,
        crc32: u32::from_le_bytes([page[8], page[9], page[10], page[11]]),
        image: u64::from(page[0] % 8),
        flags: u32::from(page[1] & 0x1f),
        orig_sig: *crate::probe::SWAPSPACE2,
    });
    load(&h, &mut dev);
}

/// The chunk framing and decompressors: a well-formed map and
/// `swsusp_info` page around chunk pages taken from the input, so the
/// fuzzer spends its time inside the chunks. The first input byte picks
/// LZO or LZ4 and the stream size.
pub fn chunks(data: &[u8]) {
    const DEV_PAGES: usize = 40;
    let Some((&sel, rest)) = data.split_first() else { return };
    let mut dev = [[0u8; PAGE]; DEV_PAGES];
    let chunk_pages = rest.len().div_ceil(PAGE).clamp(1, DEV_PAGES - 3);
    // Page 1: the map; page 2: swsusp_info; pages 3..: the chunk pages.
    for i in 0..=chunk_pages {
        let e = (2 + i) as u64;
        dev[1][i * 8..i * 8 + 8].copy_from_slice(&e.to_le_bytes());
    }
    let stream_pages = 2 + u64::from(sel >> 1) * 3;
    dev[2] = swsusp::info_page(stream_pages, stream_pages - 2);
    for (i, c) in rest.chunks(PAGE).take(chunk_pages).enumerate() {
        dev[3 + i][..c.len()].copy_from_slice(c);
    }
    let flags = swsusp::SF_CRC32_MODE | if sel & 1 != 0 { swsusp::SF_COMPRESSION_ALG_LZ4 } else { 0 };
    let h = swsusp::Header { hw_sig: 0, crc32: 0, image: 1, flags, orig_sig: *crate::probe::SWAPSPACE2 };
    let flat = dev.as_flattened();
    load(&h, &mut Device(flat));
}

/// Our LZO1X decoder against the `lzo` crate: the same bytes out, or
/// both refuse. The first input byte sets the output capacity.
pub fn lzo_diff(data: &[u8]) {
    let Some((&cap, src)) = data.split_first() else { return };
    let cap = usize::from(cap) * 64;
    let mut a = [0u8; 255 * 64];
    let mut b = [0u8; 255 * 64];
    match (crate::lzo::decompress_into(src, &mut a[..cap]), lzo::decompress_into(src, &mut b[..cap])) {
        (Ok(n), Ok(m)) => assert!(n == m && a[..n] == b[..m], "decoders disagree on the output"),
        (Err(_), Err(_)) => {}
        (x, y) => panic!("decoders disagree: ours {x:?}, lzo crate {:?}", y.map_err(|_| ())),
    }
}

/// Our LZ4 decoder against `lz4_flex`'s, on arbitrary blocks (the first
/// byte sizes the output buffer), and on a block `lz4_flex` makes of the
/// input: the same output or both an error.
pub fn lz4_diff(data: &[u8]) {
    let Some((&cap, src)) = data.split_first() else { return };
    let cap = usize::from(cap) * 64;
    let mut a = [0u8; 255 * 64];
    let mut b = [0u8; 255 * 64];
    match (crate::lz4::decompress_into(src, &mut a[..cap]), lz4_flex::block::decompress_into(src, &mut b[..cap])) {
        (Ok(n), Ok(m)) => assert!(n == m && a[..n] == b[..m], "decoders disagree on the output"),
        (Err(_), Err(_)) => {}
        (x, y) => panic!("decoders disagree: ours {x:?}, lz4_flex {:?}", y.map_err(|_| ())),
    }
    let src = &src[..src.len().min(16 * 1024)];
    let mut c = [0u8; 17 * 1024];
    let Ok(n) = lz4_flex::block::compress_into(src, &mut c) else { return };
    let m = crate::lz4::decompress_into(&c[..n], &mut a[..src.len()]).expect("lz4_flex's block decodes");
    assert!(a[..m] == *src, "our LZ4 decoder: a different output");
}

/// Our LZO1X encoder: its output decodes, with our decoder and the `lzo`
/// crate's, to the input (up to one 128 KiB chunk).
pub fn lzo_roundtrip(data: &[u8]) {
    const CHUNK: usize = 128 * 1024;
    let src = &data[..data.len().min(CHUNK)];
    let mut table = crate::lzo_compress::Table::new();
    let mut c = [0u8; crate::lzo_compress::worst_case(CHUNK)];
    let n = crate::lzo_compress::compress_into(src, &mut c, &mut table).expect("worst_case always suffices");
    let mut out = [0u8; CHUNK];
    let m = crate::lzo::decompress_into(&c[..n], &mut out[..src.len()]).expect("our decoder reads our encoder");
    assert!(out[..m] == *src, "our decoder: a different output");
    let m = lzo::decompress_into(&c[..n], &mut out[..src.len()]).expect("the lzo crate reads our encoder");
    assert!(out[..m] == *src, "the lzo crate: a different output");
}

/// The LUKS2 header checks and the JSON metadata parser: the input is a
/// header copy and, as text, metadata; whatever parses gives tables
/// that stay within their bounds.
pub fn luks(data: &[u8]) {
    use crate::luks;
    let _ = luks::version(data);
    if let Some(h) = luks::check_copy(data, 0) {
        let _ = luks::json_text(data, &h);
    }
    let mut toks = [crate::json::Token::EMPTY; 512];
    let meta = luks::parse_luks1(data);
    let meta = match meta {
        Ok(m) => m,
        Err(_) => {
            let Ok(text) = core::str::from_utf8(data) else { return };
            let Ok(meta) = luks::parse_meta(text, &mut toks) else { return };
            meta
        }
    };
    let key = [0x5au8; luks::MAX_KEY];
    for slot in &meta.keyslots {
        assert!(slot.material_len() <= luks::MAX_AF && slot.key_size <= luks::MAX_KEY);
        let _ = luks::area_params(slot, luks::KeyArg::Hex(&key[..slot.area_key_size]), (8, 16));
    }
    let _ = luks::crypt_params(&meta.segment, luks::KeyArg::Hex(&key), (8, 16), u64::MAX, true);
    let _ = luks::crypt_params(&meta.segment, luks::KeyArg::Logon { size: 64, desc: "cryptsetup:x-d0" }, (8, 16), 1 << 30, false);
}

/// LVM2: the label scan, the metadata header, and (as text) the metadata
/// parser and the tables built from what parses.
pub fn lvm(data: &[u8]) {
    use crate::lvm;
    if let Some(l) = lvm::label(data) {
        let _ = lvm::text_at(&l, data.get(512..).unwrap_or(&[]));
    }
    let Ok(text) = core::str::from_utf8(data) else { return };
    let mut toks = [crate::json::Token::EMPTY; 1024];
    let Ok(vg) = lvm::parse(text, &mut toks) else { return };
    for lv in &vg.lvs {
        let _ = lvm::dm_name(&vg.name, &lv.name);
        for s in &lv.segments {
            let _ = lvm::segment_params(s, &|_| Some((8, 1)));
        }
    }
}

#[cfg(test)]
mod tests {
    //! Replays `fuzz/regressions/TARGET/*`: inputs that once crashed a
    //! target, or that the fuzzer kept as new coverage and we kept too.

    fn replay(target: &str, f: fn(&[u8])) -> usize {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(target);
        let mut n = 0;
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let data = std::fs::read(e.path()).unwrap();
                f(&data);
                n += 1;
            }
        }
        n
    }

    #[test]
    fn regressions() {
        let n = replay("cmdline", super::cmdline)
            + replay("devspec", super::devspec)
            + replay("swap_header", super::swap_header)
            + replay("parttable", super::parttable)
            + replay("swap_map", super::swap_map)
            + replay("chunks", super::chunks)
            + replay("lzo_diff", super::lzo_diff)
            + replay("lzo_roundtrip", super::lzo_roundtrip)
            + replay("luks", super::luks)
            + replay("lz4_diff", super::lz4_diff)
            + replay("lvm", super::lvm);
        println!("{n} regression inputs replayed");
    }

    #[test]
    fn smoke() {
        super::cmdline(b"root=\"a b\" resume=UUID=zz --");
        super::devspec(b"PARTUUID=cafe1234-02/PARTNROFF=-1");
        super::swap_header(&[0xff; 4096]);
        let mut disk = vec![3u8, 1, 0];
        disk.extend_from_slice(include_bytes!("../../tests/fixtures/gpt4k-head.bin"));
        super::parttable(&disk);
        super::parttable(&[0x80, 0, 0]);
        super::swap_map(&[0u8; 3 * 4096]);
        super::chunks(&[1u8; 5000]);
        super::chunks(&[0u8; 9000]);
        super::lzo_roundtrip(b"resume-init resume-init resume-init and more");
        super::lz4_diff(b"\x40resume-init resume-init resume-init and more");
        for (dir, f) in [("luks", super::luks as fn(&[u8])), ("lvm", super::lvm)] {
            for seed in std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(dir)).unwrap().flatten() {
                f(&std::fs::read(seed.path()).unwrap());
            }
        }
    }
}
