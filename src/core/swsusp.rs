//! The kernel's hibernation header page (`struct swsusp_header`, end of
//! the swap header page) and the image's first stream page (`struct
//! swsusp_info`), as written up in `docs/image-format.md` §1 and §3.

use crate::probe::{HIBERNATE_SIG, SWAP_SIG, SWAP_SPACE, SWAPSPACE2};

pub const PAGE: usize = 4096;
pub type Page = [u8; PAGE];

// `struct swsusp_header` fields, at the end of the swap header page.
const HW_SIG: usize = 4056;
const CRC32: usize = 4060;
const IMAGE: usize = 4064;
const FLAGS: usize = 4072;
const ORIG_SIG: usize = 4076;

/// `SF_*` flag bits (`kernel/power/power.h`).
pub const SF_PLATFORM_MODE: u32 = 1;
pub const SF_NOCOMPRESS_MODE: u32 = 2;
pub const SF_CRC32_MODE: u32 = 4;
pub const SF_HW_SIG: u32 = 8;
pub const SF_COMPRESSION_ALG_LZ4: u32 = 16;
const KNOWN_FLAGS: u32 = SF_PLATFORM_MODE | SF_NOCOMPRESS_MODE | SF_CRC32_MODE | SF_HW_SIG | SF_COMPRESSION_ALG_LZ4;

/// A field of a whole page (every offset here lies inside one).
fn le32(p: &Page, at: usize) -> u32 {
    crate::bytes::le32(p, at).unwrap_or(0)
}

fn le64(p: &Page, at: usize) -> u64 {
    crate::bytes::le64(p, at).unwrap_or(0)
}

/// How the image stream is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lzo,
    Lz4,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lzo => "LZO",
            Compression::Lz4 => "LZ4",
        }
    }
}

/// The fields of a marked header page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub hw_sig: u32,
    pub crc32: u32,
    /// Device page of the first swap-map page.
    pub image: u64,
    pub flags: u32,
    pub orig_sig: [u8; 10],
}

/// Reads the header page: `None` when it carries no `S1SUSPEND` signature.
pub fn parse_header(p: &Page) -> Option<Header> {
    if &p[SWAP_SIG..] != HIBERNATE_SIG {
        return None;
    }
    let mut orig_sig = [0u8; 10];
    orig_sig.copy_from_slice(&p[ORIG_SIG..ORIG_SIG + 10]);
    Some(Header { hw_sig: le32(p, HW_SIG), crc32: le32(p, CRC32), image: le64(p, IMAGE), flags: le32(p, FLAGS), orig_sig })
}

impl Header {
    /// Flag bits no kernel of 6.1–7.2 writes.
    pub fn unknown_flags(&self) -> u32 {
        self.flags & !KNOWN_FLAGS
    }

    pub fn compression(&self) -> Compression {
        if self.flags & SF_NOCOMPRESS_MODE != 0 {
            Compression::None
        } else if self.flags & SF_COMPRESSION_ALG_LZ4 != 0 {
            Compression::Lz4
        } else {
            Compression::Lzo
        }
    }

    /// Whether the stream carries a CRC to check (compressed images only,
    /// as the kernel's own reader does).
    pub fn has_crc(&self) -> bool {
        self.flags & SF_CRC32_MODE != 0 && self.compression() != Compression::None
    }

    pub fn platform_mode(&self) -> bool {
        self.flags & SF_PLATFORM_MODE != 0
    }
}

/// Writes the flags as words into `out`, e.g. `platform, CRC32`.
pub fn flag_words(flags: u32, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
    let names = [
        (SF_PLATFORM_MODE, "platform"),
        (SF_NOCOMPRESS_MODE, "nocompress"),
        (SF_CRC32_MODE, "CRC32"),
        (SF_HW_SIG, "hw-signature"),
        (SF_COMPRESSION_ALG_LZ4, "LZ4"),
    ];
    let mut first = true;
    for (bit, name) in names {
        if flags & bit != 0 {
            out.write_str(if first { "" } else { ", " })?;
            out.write_str(name)?;
            first = false;
        }
    }
    if flags & !KNOWN_FLAGS != 0 {
        write!(out, "{}unknown 0x{:x}", if first { "" } else { ", " }, flags & !KNOWN_FLAGS)?;
        first = false;
    }
    if first {
        out.write_str("none")?;
    }
    Ok(())
}

/// Marks a swap header page as holding an image, as the kernel's
/// `mark_swapfiles` does: the current signature moves to `orig_sig`, the
/// fields are set (`crc32` only with `SF_CRC32_MODE`, `hw_sig` only with
/// `SF_HW_SIG`), and `S1SUSPEND` takes its place. The rest of the page (the
/// swap header's UUID and label) is left as it is.
pub fn mark(p: &mut Page, image: u64, flags: u32, crc32: u32, hw_sig: u32) {
    let mut sig = [0u8; 10];
    sig.copy_from_slice(&p[SWAP_SIG..]);
    p[ORIG_SIG..ORIG_SIG + 10].copy_from_slice(&sig);
    p[IMAGE..IMAGE + 8].copy_from_slice(&image.to_le_bytes());
    p[FLAGS..FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
    if flags & SF_CRC32_MODE != 0 {
        p[CRC32..CRC32 + 4].copy_from_slice(&crc32.to_le_bytes());
    }
    if flags & SF_HW_SIG != 0 {
        p[HW_SIG..HW_SIG + 4].copy_from_slice(&hw_sig.to_le_bytes());
    }
    p[SWAP_SIG..].copy_from_slice(HIBERNATE_SIG);
}

/// Puts the original signature back in a marked header page, as the
/// kernel does in `swsusp_check`: a swap area's, or a hibernation file's
/// marker. A damaged `orig_sig` is replaced by `SWAPSPACE2`, so a swap
/// area stays usable as swap.
pub fn invalidate(p: &mut Page) {
    let orig = &p[ORIG_SIG..ORIG_SIG + 10];
    let known = orig == SWAPSPACE2 || orig == SWAP_SPACE || orig == crate::hibfile::MARKER;
    let sig: [u8; 10] = if known { orig.try_into().unwrap_or(*SWAPSPACE2) } else { *SWAPSPACE2 };
    p[SWAP_SIG..].copy_from_slice(&sig);
}

/// x86-64 `RESTORE_MAGIC` of the arch header at offset 0x18 of `swsusp_info`.
pub const X86_64_RESTORE_MAGIC: u64 = 0x2345_6789_ABCD_EF02;

// `struct swsusp_info` fields. Both architectures put their own record
// (`arch_hibernation_header_save`) where the utsname would be, at 0:
// x86-64 its restore magic at 0x18, arm64 the kernel's `uts_version`
// string (65 bytes); `docs/image-format.md` §3.
const INFO_RESTORE_MAGIC: usize = 0x18;
const INFO_ARM64_VERSION: usize = 0;
const UTS_LEN: usize = 65;
const INFO_IMAGE_PAGES: usize = 0x1A0;
const INFO_PAGES: usize = 0x1A8;
const INFO_SIZE: usize = 0x1B0;

/// The architecture whose kernel wrote an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    /// Restored only by a kernel of the same build (`build`).
    Arm64,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86-64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// The facts of `struct swsusp_info` a loader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Data pages (the page list counts them).
    pub image_pages: u64,
    /// Total stream pages, this one included.
    pub pages: u64,
    pub arch: Arch,
    /// arm64: the writing kernel's `uts_version` (`uname -v`), NUL-padded.
    build: [u8; UTS_LEN],
}

impl Info {
    /// The build of the kernel that wrote the image, where the image says
    /// (arm64: `#1 SMP Debian 6.1.… (date)`, as `uname -v` prints it).
    pub fn build(&self) -> Option<&str> {
        let n = self.build.iter().position(|&b| b == 0)?;
        core::str::from_utf8(&self.build[..n]).ok().filter(|s| !s.is_empty())
    }
}

/// No image of a machine with up to 16 TiB of RAM has more stream pages.
const MAX_PAGES: u64 = 1 << 32;

/// arm64's record: a printable, NUL-terminated `uts_version`, which
/// starts with `#` (the build number).
fn arm64_build(p: &Page) -> Option<[u8; UTS_LEN]> {
    let v: [u8; UTS_LEN] = p[INFO_ARM64_VERSION..INFO_ARM64_VERSION + UTS_LEN].try_into().ok()?;
    let n = v.iter().position(|&b| b == 0)?;
    (v[0] == b'#' && v[..n].iter().all(|b| (0x20..0x7f).contains(b))).then_some(v)
}

/// Parses and sanity-checks the `swsusp_info` page (stream page 0).
pub fn parse_info(p: &Page) -> Result<Info, &'static str> {
    let (arch, build) = if le64(p, INFO_RESTORE_MAGIC) == X86_64_RESTORE_MAGIC {
        (Arch::X86_64, [0; UTS_LEN])
    } else if let Some(b) = arm64_build(p) {
        (Arch::Arm64, b)
    } else {
        return Err("the image header is from no architecture resume-init knows (neither x86-64's restore magic nor arm64's kernel version)");
    };
    let info = Info { image_pages: le64(p, INFO_IMAGE_PAGES), pages: le64(p, INFO_PAGES), arch, build };
    if info.pages < 2 || info.pages > MAX_PAGES || info.image_pages >= info.pages {
        return Err("the image header has impossible page counts");
    }
    if le64(p, INFO_SIZE) != info.pages << 12 {
        return Err("the image header's size does not match its page count");
    }
    Ok(info)
}

/// A `swsusp_info` page with the fields the loader reads, for tests and
/// fuzzing.
#[cfg(any(test, feature = "fuzzing"))]
pub fn info_page(pages: u64, image_pages: u64) -> Page {
    let mut p = [0u8; PAGE];
    p[INFO_RESTORE_MAGIC..INFO_RESTORE_MAGIC + 8].copy_from_slice(&X86_64_RESTORE_MAGIC.to_le_bytes());
    p[INFO_IMAGE_PAGES..INFO_IMAGE_PAGES + 8].copy_from_slice(&image_pages.to_le_bytes());
    p[INFO_PAGES..INFO_PAGES + 8].copy_from_slice(&pages.to_le_bytes());
    p[INFO_SIZE..INFO_SIZE + 8].copy_from_slice(&(pages << 12).to_le_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(flags: u32) -> Page {
        let mut p = [0u8; PAGE];
        p[crate::probe::SWAP_VERSION] = 1;
        p[HW_SIG..HW_SIG + 4].copy_from_slice(&0xdeadbeefu32.to_le_bytes());
        p[CRC32..CRC32 + 4].copy_from_slice(&0x12345678u32.to_le_bytes());
        p[IMAGE..IMAGE + 8].copy_from_slice(&583u64.to_le_bytes());
        p[FLAGS..FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
        p[ORIG_SIG..ORIG_SIG + 10].copy_from_slice(SWAPSPACE2);
        p[SWAP_SIG..].copy_from_slice(HIBERNATE_SIG);
        p
    }

    #[test]
    fn header_fields() {
        let h = parse_header(&marked(0x5)).unwrap();
        assert_eq!(h.hw_sig, 0xdeadbeef);
        assert_eq!(h.crc32, 0x12345678);
        assert_eq!(h.image, 583);
        assert_eq!(h.compression(), Compression::Lzo);
        assert!(h.platform_mode() && h.has_crc());
        assert_eq!(h.unknown_flags(), 0);
        let h = parse_header(&marked(0x3)).unwrap();
        assert_eq!(h.compression(), Compression::None);
        assert!(!h.has_crc());
        assert_eq!(parse_header(&marked(0x15)).unwrap().compression(), Compression::Lz4);
        assert_eq!(parse_header(&marked(0x45)).unwrap().unknown_flags(), 0x40);
        assert_eq!(KNOWN_FLAGS, 0x1f);
    }

    #[test]
    fn not_marked() {
        let mut p = marked(0);
        p[SWAP_SIG..].copy_from_slice(SWAPSPACE2);
        assert_eq!(parse_header(&p), None);
        // The NUL is part of the signature.
        p[SWAP_SIG..].copy_from_slice(b"S1SUSPENDX");
        assert_eq!(parse_header(&p), None);
    }

    #[test]
    fn invalidation_restores_the_swap_signature() {
        let mut p = marked(0x5);
        let before = p;
        invalidate(&mut p);
        assert_eq!(&p[SWAP_SIG..], SWAPSPACE2);
        assert_eq!(&p[..SWAP_SIG], &before[..SWAP_SIG], "nothing else changes");
        assert_eq!(parse_header(&p), None);
        let mut p = marked(0x5);
        p[ORIG_SIG..ORIG_SIG + 10].copy_from_slice(b"garbage!!!");
        invalidate(&mut p);
        assert_eq!(&p[SWAP_SIG..], SWAPSPACE2);
        let mut p = marked(0x5);
        p[ORIG_SIG..ORIG_SIG + 10].copy_from_slice(SWAP_SPACE);
        invalidate(&mut p);
        assert_eq!(&p[SWAP_SIG..], SWAP_SPACE);
    }

    #[test]
    fn mark_is_what_parse_reads_and_invalidate_undoes() {
        let mut p = marked(0x5);
        invalidate(&mut p);
        let plain = p;
        mark(&mut p, 77, SF_PLATFORM_MODE | SF_CRC32_MODE, 0xabcd, 0);
        let h = parse_header(&p).unwrap();
        assert_eq!((h.image, h.flags, h.crc32, &h.orig_sig), (77, 5, 0xabcd, SWAPSPACE2));
        invalidate(&mut p);
        assert_eq!(&p[SWAP_SIG..], SWAPSPACE2);
        assert_eq!(&p[..HW_SIG], &plain[..HW_SIG], "the swap header's own fields are kept");
    }

    #[test]
    fn words() {
        let mut s = String::new();
        flag_words(0x5, &mut s).unwrap();
        assert_eq!(s, "platform, CRC32");
        s.clear();
        flag_words(0x0, &mut s).unwrap();
        assert_eq!(s, "none");
        s.clear();
        flag_words(0x1a2, &mut s).unwrap();
        assert_eq!(s, "nocompress, unknown 0x1a0");
    }

    #[test]
    fn info() {
        let i = parse_info(&info_page(20273, 20232)).unwrap();
        assert_eq!((i.pages, i.image_pages), (20273, 20232));
        assert!(parse_info(&info_page(1, 0)).is_err());
        assert!(parse_info(&info_page(10, 10)).is_err());
        assert!(parse_info(&info_page(1 << 40, 5)).is_err());
        let mut p = info_page(100, 90);
        p[INFO_RESTORE_MAGIC] ^= 1;
        assert!(parse_info(&p).unwrap_err().contains("x86-64"));
        // arm64: the kernel's version string where x86-64 has its record.
        p.fill(0);
        let v = b"#1 SMP Debian 6.1.192-3 (2026-11-20)";
        p[..v.len()].copy_from_slice(v);
        p[0x48] = 0x40;
        p[INFO_IMAGE_PAGES..INFO_IMAGE_PAGES + 8].copy_from_slice(&100u64.to_le_bytes());
        p[INFO_PAGES..INFO_PAGES + 8].copy_from_slice(&120u64.to_le_bytes());
        p[INFO_SIZE..INFO_SIZE + 8].copy_from_slice(&(120u64 << 12).to_le_bytes());
        let i = parse_info(&p).unwrap();
        assert_eq!((i.arch, i.build(), i.pages), (Arch::Arm64, Some("#1 SMP Debian 6.1.192-3 (2026-11-20)"), 120));
        // Not printable, or not NUL-terminated within 65 bytes: neither.
        p[3] = 0x07;
        assert!(parse_info(&p).is_err());
        p[3] = b'S';
        p[..UTS_LEN].fill(b'#');
        assert!(parse_info(&p).is_err());
        let mut p = info_page(100, 90);
        p[INFO_SIZE] ^= 1;
        assert!(parse_info(&p).is_err());
    }
}
