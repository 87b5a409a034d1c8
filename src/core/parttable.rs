//! Partition tables: which partition a `PARTUUID=` or `PARTLABEL=` names,
//! from a disk's GPT (UEFI spec §5.3) or MBR signature.
//!
//! All the disk arithmetic lives here, checked: the logical sector size
//! places the GPT header (LBA 1) and its entry array, and a hostile
//! header can only make [`identify`] return `None`. The caller supplies
//! the reads; every read is a small fixed size at a computed offset (as
//! booster's GPT reader does), so the sector size never sizes a buffer
//! and a 4 KiB-sector disk needs no more memory than a 512-byte one.

use crate::devspec::{DevSpec, PartId};
use crate::probe::{le32, le64};

/// Bytes read at offset 0 for the MBR.
pub const MBR_READ: usize = 512;
/// Bytes read at LBA 1 for the GPT header: its `HeaderSize` may not exceed this.
pub const GPT_HEADER_READ: usize = 512;
/// Bytes read of a partition entry: the fields we use all lie in the first 128.
pub const GPT_ENTRY_READ: usize = 128;
/// Largest logical sector size accepted (Linux allows up to the page size; leave room).
pub const MAX_SECTOR_SIZE: u64 = 64 * 1024;

// MBR (`struct _MasterBootRecord` of the kernel's msdos.c).
const MBR_DISK_SIG: usize = 440;
const MBR_PART_TABLE: usize = 446;
const MBR_PART_ENTRY: usize = 16;
const MBR_PART_TYPE: usize = 4;
const MBR_BOOT_SIG: usize = 510;
const MBR_TYPE_GPT_PROTECTIVE: u8 = 0xEE;
const MBR_PART_START: usize = 8;
const MBR_PART_SIZE: usize = 12;
/// The types the kernel walks as extended partitions (`is_extended_partition`).
const MBR_EXTENDED: [u8; 3] = [0x05, 0x0f, 0x85];
/// Links of an extended chain the kernel follows without finding a data
/// partition before it gives up (msdos.c's `loopct`).
const MBR_MAX_LINKS: u32 = 100;
/// The kernel's partition number limit.
const MAX_PARTS: u32 = 256;

// GPT header (`gpt_header` of the kernel's efi.h).
const GPT_SIGNATURE: &[u8; 8] = b"EFI PART";
const GPT_HEADER_SIZE: usize = 12;
const GPT_HEADER_CRC: usize = 16;
const GPT_ENTRIES_LBA: usize = 72;
const GPT_NUM_ENTRIES: usize = 80;
const GPT_ENTRY_SIZE: usize = 84;
/// The smallest header the spec defines (up to and including the entries CRC).
const GPT_HEADER_MIN: usize = 92;
/// Entries are `128 × 2^n` bytes; this bound only keeps nonsense out.
const GPT_ENTRY_MIN: u32 = 128;

// GPT partition entry (`gpt_entry`).
const ENTRY_TYPE: usize = 0;
const ENTRY_UNIQUE: usize = 16;
const ENTRY_NAME: usize = 56;
/// The name: 36 UTF-16LE code units.
const ENTRY_NAME_LEN: usize = 72;

/// Whether `ss` is a logical sector size a disk can report.
pub fn valid_sector_size(ss: u64) -> bool {
    ss.is_power_of_two() && (512..=MAX_SECTOR_SIZE).contains(&ss)
}

/// Byte offset of the GPT header (LBA 1).
pub fn gpt_header_offset(ss: u64) -> Option<u64> {
    valid_sector_size(ss).then_some(ss)
}

/// The GPT header's facts needed to find a partition entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GptHeader {
    pub entries_lba: u64,
    pub num_entries: u32,
    pub entry_size: u32,
}

/// Parses the GPT header (the [`GPT_HEADER_READ`] bytes at LBA 1),
/// checking the signature, the header size and CRC, and the entry size.
pub fn gpt_header(b: &[u8]) -> Option<GptHeader> {
    if b.get(..8)? != GPT_SIGNATURE {
        return None;
    }
    let size = usize::try_from(le32(b, GPT_HEADER_SIZE)?).ok()?;
    if !(GPT_HEADER_MIN..=b.len().min(GPT_HEADER_READ)).contains(&size) {
        return None;
    }
    // The CRC covers the header with its own CRC field taken as zero.
    let mut copy = [0u8; GPT_HEADER_READ];
    copy[..size].copy_from_slice(&b[..size]);
    copy[GPT_HEADER_CRC..GPT_HEADER_CRC + 4].fill(0);
    if crate::crc32::standard(&copy[..size]) != le32(b, GPT_HEADER_CRC)? {
        return None;
    }
    let entry_size = le32(b, GPT_ENTRY_SIZE)?;
    if entry_size < GPT_ENTRY_MIN || entry_size % 8 != 0 {
        return None;
    }
    Some(GptHeader { entries_lba: le64(b, GPT_ENTRIES_LBA)?, num_entries: le32(b, GPT_NUM_ENTRIES)?, entry_size })
}

/// Byte offset of partition `partn`'s entry (numbered from 1), or `None`
/// when it does not exist or the offset does not fit in 64 bits.
pub fn gpt_entry_offset(h: &GptHeader, ss: u64, partn: u32) -> Option<u64> {
    if !valid_sector_size(ss) || partn == 0 || partn > h.num_entries {
        return None;
    }
    let index = u64::from(partn - 1).checked_mul(u64::from(h.entry_size))?;
    h.entries_lba.checked_mul(ss)?.checked_add(index)
}

/// One GPT partition entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GptEntry {
    /// The unique partition GUID in printed byte order (the first three
    /// fields are stored little-endian on disk).
    pub unique: [u8; 16],
    /// The partition name as stored: 36 UTF-16LE code units.
    pub name_utf16: [u8; ENTRY_NAME_LEN],
}

/// Parses a GPT partition entry; `None` for an unused (all-zero type) entry.
pub fn gpt_entry(e: &[u8]) -> Option<GptEntry> {
    if e.get(ENTRY_TYPE..ENTRY_TYPE + 16)? == [0; 16] {
        return None;
    }
    let g = e.get(ENTRY_UNIQUE..ENTRY_UNIQUE + 16)?;
    let mut u = [0u8; 16];
    u[0..4].copy_from_slice(&[g[3], g[2], g[1], g[0]]);
    u[4..6].copy_from_slice(&[g[5], g[4]]);
    u[6..8].copy_from_slice(&[g[7], g[6]]);
    u[8..].copy_from_slice(&g[8..]);
    Some(GptEntry { unique: u, name_utf16: e.get(ENTRY_NAME..ENTRY_NAME + ENTRY_NAME_LEN)?.try_into().ok()? })
}

impl GptEntry {
    /// Whether the partition name equals `label`.
    pub fn name_is(&self, label: &str) -> bool {
        let units = self
            .name_utf16
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0);
        let mut want = label.chars();
        for c in core::char::decode_utf16(units) {
            match (c, want.next()) {
                (Ok(c), Some(w)) if c == w => {}
                _ => return false,
            }
        }
        want.next().is_none()
    }
}

/// The MBR disk signature of a disk's first sector, if it has a DOS
/// partition table (and is not a GPT protective MBR, which the kernel
/// names by GUID instead).
pub fn mbr_signature(sector0: &[u8]) -> Option<u32> {
    if sector0.get(MBR_BOOT_SIG..MBR_BOOT_SIG + 2)? != [0x55, 0xAA] {
        return None;
    }
    let protective =
        (0..4).any(|i| sector0.get(MBR_PART_TABLE + i * MBR_PART_ENTRY + MBR_PART_TYPE) == Some(&MBR_TYPE_GPT_PROTECTIVE));
    if protective { None } else { le32(sector0, MBR_DISK_SIG) }
}

/// What a partition table says about one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartIdent {
    Gpt(GptEntry),
    /// A DOS partition: the disk's signature and the partition's number.
    Mbr { disk: u32, part: u32 },
}

impl PartIdent {
    /// Whether a `PARTUUID=` or `PARTLABEL=` spec names this partition.
    pub fn matches(&self, spec: &DevSpec) -> bool {
        match (self, spec) {
            (PartIdent::Gpt(g), DevSpec::PartUuid { id: PartId::Gpt(u), .. }) => g.unique == *u,
            (PartIdent::Gpt(g), DevSpec::PartLabel(l)) => g.name_is(l),
            (PartIdent::Mbr { disk, part }, DevSpec::PartUuid { id: PartId::Mbr { disk: d, part: p }, .. }) => {
                disk == d && part == p
            }
            _ => false,
        }
    }
}

/// Reads the partition table of a disk with logical sector size `ss` and
/// returns what it says of partition `partn` (numbered from 1). `read`
/// fills its buffer from a byte offset of the disk and returns whether
/// it could read all of it.
pub fn identify(ss: u64, partn: u32, read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> Option<PartIdent> {
    let mut buf = [0u8; GPT_HEADER_READ];
    if partn == 0 {
        return None;
    }
    if read(gpt_header_offset(ss)?, &mut buf)
        && let Some(h) = gpt_header(&buf) {
            let mut ent = [0u8; GPT_ENTRY_READ];
            if !read(gpt_entry_offset(&h, ss, partn)?, &mut ent) {
                return None;
            }
            return gpt_entry(&ent).map(PartIdent::Gpt);
        }
    let mut mbr = [0u8; MBR_READ];
    if !read(0, &mut mbr) {
        return None;
    }
    let disk = mbr_signature(&mbr)?;
    mbr_has_uuid(ss, partn, &mbr, read).then_some(PartIdent::Mbr { disk, part: partn })
}

/// One DOS partition table entry: type, start and size in 512-byte
/// units of the disk's logical sectors (`ss / 512` each).
fn mbr_entry(sector: &[u8], i: usize) -> Option<(u8, u64, u64)> {
    let e = MBR_PART_TABLE + i * MBR_PART_ENTRY;
    Some((*sector.get(e + MBR_PART_TYPE)?, u64::from(le32(sector, e + MBR_PART_START)?), u64::from(le32(sector, e + MBR_PART_SIZE)?)))
}

/// Whether the kernel gives DOS partition `partn` a PARTUUID: a primary
/// data partition (1–4), or a logical one of an extended partition's
/// chain (numbered from 5 on, as msdos.c's `parse_extended` walks it).
/// The extended partition itself, and the BSD, Solaris, Minix or
/// UnixWare slices inside a primary (numbered after the logical ones),
/// have none: `PARTUUID=SSSSSSSS-07` must not name a BSD slice.
fn mbr_has_uuid(ss: u64, partn: u32, mbr: &[u8], read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> bool {
    if partn <= 4 {
        return mbr_entry(mbr, partn as usize - 1).is_some_and(|(t, _, size)| size > 0 && !MBR_EXTENDED.contains(&t));
    }
    let unit = ss / 512; // msdos.c's sector_size
    let mut next = 5u32;
    for i in 0..4 {
        let Some((t, start, size)) = mbr_entry(mbr, i) else { return false };
        if size == 0 || !MBR_EXTENDED.contains(&t) {
            continue;
        }
        let (Some(first), Some(first_size)) = (start.checked_mul(unit), size.checked_mul(unit)) else { continue };
        let (mut this, mut this_size, mut links) = (first, first_size, 0);
        let mut ebr = [0u8; MBR_READ];
        loop {
            links += 1;
            if links > MBR_MAX_LINKS || next >= MAX_PARTS || !this.checked_mul(512).is_some_and(|at| read(at, &mut ebr)) || ebr[MBR_BOOT_SIG..] != [0x55, 0xAA] {
                break;
            }
            for j in 0..4 {
                let Some((t, offs, len)) = mbr_entry(&ebr, j) else { break };
                if len == 0 || MBR_EXTENDED.contains(&t) {
                    continue;
                }
                let (Some(offs), Some(len)) = (offs.checked_mul(unit), len.checked_mul(unit)) else { continue };
                let Some(at) = this.checked_add(offs) else { continue };
                // The third and fourth entries often hold garbage: the
                // kernel takes them only inside the extended partition.
                let inside = offs.checked_add(len).is_some_and(|e| e <= this_size)
                    && at >= first
                    && at.checked_add(len).is_some_and(|e| e <= first + first_size);
                if j >= 2 && !inside {
                    continue;
                }
                if next == partn {
                    return true;
                }
                next += 1;
                links = 0;
                if next >= MAX_PARTS {
                    return false;
                }
            }
            let Some((_, start, size)) = (0..4).filter_map(|j| mbr_entry(&ebr, j)).find(|&(t, _, len)| len > 0 && MBR_EXTENDED.contains(&t)) else { break };
            let (Some(s), Some(n)) = (start.checked_mul(unit), size.checked_mul(unit)) else { break };
            let Some(s) = first.checked_add(s) else { break };
            (this, this_size) = (s, n);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::parse_uuid;

    /// A disk image's first bytes as a reader (reads past them fail).
    fn reader(disk: &[u8]) -> impl FnMut(u64, &mut [u8]) -> bool + '_ {
        move |off, buf| {
            let Some(src) = usize::try_from(off).ok().and_then(|o| disk.get(o..o.checked_add(buf.len())?)) else {
                return false;
            };
            buf.copy_from_slice(src);
            true
        }
    }

    const FIXTURE_PART: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

    fn spec_uuid(s: &str) -> DevSpec<'static> {
        DevSpec::PartUuid { id: PartId::Gpt(parse_uuid(s).unwrap()), offset: 0 }
    }

    /// The same table (made by tests/fixtures/make.sh with sfdisk) on a
    /// 512-byte and a 4096-byte sector disk.
    #[test]
    fn gpt_fixtures_both_sector_sizes() {
        for (ss, disk) in [
            (512u64, &include_bytes!("../../tests/fixtures/gpt-head.bin")[..]),
            (4096, &include_bytes!("../../tests/fixtures/gpt4k-head.bin")[..]),
        ] {
            let hdr = gpt_header(&disk[ss as usize..ss as usize + GPT_HEADER_READ]).unwrap();
            assert_eq!(hdr, GptHeader { entries_lba: 2, num_entries: 128, entry_size: 128 }, "sector size {ss}");
            assert_eq!(gpt_entry_offset(&hdr, ss, 1), Some(2 * ss));
            let p1 = identify(ss, 1, &mut reader(disk)).unwrap();
            assert!(p1.matches(&spec_uuid(FIXTURE_PART)), "sector size {ss}");
            assert!(p1.matches(&DevSpec::PartLabel("fixture-part")));
            assert!(!p1.matches(&DevSpec::PartLabel("fixture-par")));
            assert!(!p1.matches(&DevSpec::PartLabel("fixture-parts")));
            let p2 = identify(ss, 2, &mut reader(disk)).unwrap();
            assert!(p2.matches(&DevSpec::PartLabel("second")));
            assert!(!p2.matches(&spec_uuid(FIXTURE_PART)));
            assert_eq!(identify(ss, 4, &mut reader(disk)), None, "unused entry");
            assert_eq!(identify(ss, 129, &mut reader(disk)), None, "beyond the table");
            assert_eq!(identify(ss, 0, &mut reader(disk)), None);
            assert_eq!(mbr_signature(&disk[..MBR_READ]), None, "protective MBR");
        }
    }

    /// The bug this module fixes: a 4 KiB-sector disk read as if its
    /// sectors were 512 bytes finds no GPT (and must not panic).
    #[test]
    fn wrong_sector_size_finds_nothing() {
        let disk = include_bytes!("../../tests/fixtures/gpt4k-head.bin");
        assert_eq!(identify(512, 1, &mut reader(disk)), None);
        assert_eq!(identify(1000, 1, &mut reader(disk)), None, "not a power of two");
        assert_eq!(identify(1 << 20, 1, &mut reader(disk)), None, "too large");
    }

    /// A DOS table as sfdisk writes it: a Linux primary, an extended one
    /// with two logical partitions, and a FreeBSD primary (whose slices
    /// the kernel would number 7 on, without PARTUUID).
    #[test]
    fn mbr_logical_partitions_and_what_has_no_partuuid() {
        let path = std::env::temp_dir().join(format!("resume-init-mbr-{}.img", std::process::id()));
        std::fs::write(&path, vec![0u8; 64 << 20]).unwrap();
        let script = "label: dos\nlabel-id: 0x0badcafe\nstart=2048, size=8192, type=83\nstart=10240, size=40960, type=5\nstart=51200, size=8192, type=a5\nstart=12288, size=4096, type=82\nstart=18432, size=4096, type=83\n";
        let mut child = std::process::Command::new("sfdisk").args(["-q", "--no-reread", "--no-tell-kernel"]).arg(&path).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::null()).spawn().expect("sfdisk (fdisk package)");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
        let disk = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let has = |n: u32| identify(512, n, &mut reader(&disk)).is_some();
        assert_eq!((1..=8).map(has).collect::<Vec<_>>(), [true, false, true, false, true, true, false, false], "1 Linux, 2 extended, 3 FreeBSD, 5 and 6 logical, 7 on slices");
        assert_eq!(identify(512, 6, &mut reader(&disk)), Some(PartIdent::Mbr { disk: 0x0badcafe, part: 6 }));
    }

    #[test]
    fn mbr() {
        let disk = include_bytes!("../../tests/fixtures/mbr-head.bin");
        assert_eq!(mbr_signature(disk), Some(0xcafe1234));
        let p = identify(512, 1, &mut reader(disk)).unwrap();
        assert_eq!(p, PartIdent::Mbr { disk: 0xcafe1234, part: 1 });
        assert!(p.matches(&DevSpec::PartUuid { id: PartId::Mbr { disk: 0xcafe1234, part: 1 }, offset: 0 }));
        assert!(!p.matches(&DevSpec::PartUuid { id: PartId::Mbr { disk: 0xcafe1234, part: 2 }, offset: 0 }));
        assert!(!p.matches(&DevSpec::PartLabel("x")));
    }

    /// A header with a valid CRC and hostile numbers: no overflow, no panic.
    #[test]
    fn hostile_header_arithmetic() {
        let gpt = include_bytes!("../../tests/fixtures/gpt-head.bin");
        let mut s = gpt[512..1024].to_vec();
        let set = |s: &mut Vec<u8>, at: usize, v: &[u8]| {
            s[at..at + v.len()].copy_from_slice(v);
            s[GPT_HEADER_CRC..GPT_HEADER_CRC + 4].fill(0);
            let size = (le32(s, GPT_HEADER_SIZE).unwrap() as usize).min(s.len());
            let crc = crate::crc32::standard(&s[..size]);
            s[GPT_HEADER_CRC..GPT_HEADER_CRC + 4].copy_from_slice(&crc.to_le_bytes());
        };
        set(&mut s, GPT_ENTRIES_LBA, &u64::MAX.to_le_bytes());
        set(&mut s, GPT_NUM_ENTRIES, &u32::MAX.to_le_bytes());
        set(&mut s, GPT_ENTRY_SIZE, &(u32::MAX - 7).to_le_bytes());
        let h = gpt_header(&s).unwrap();
        assert_eq!(gpt_entry_offset(&h, 4096, u32::MAX), None);
        assert_eq!(gpt_entry_offset(&h, 512, 1), None);
        set(&mut s, GPT_ENTRY_SIZE, &64u32.to_le_bytes());
        assert_eq!(gpt_header(&s), None, "entry size below 128");
        set(&mut s, GPT_ENTRY_SIZE, &130u32.to_le_bytes());
        assert_eq!(gpt_header(&s), None, "entry size not a multiple of 8");
        set(&mut s, GPT_ENTRY_SIZE, &128u32.to_le_bytes());
        set(&mut s, GPT_HEADER_SIZE, &4096u32.to_le_bytes());
        assert_eq!(gpt_header(&s), None, "header size beyond what is read");
    }

    #[test]
    fn gpt_crc_guards_header() {
        let gpt = include_bytes!("../../tests/fixtures/gpt-head.bin");
        let mut s = gpt[512..1024].to_vec();
        s[GPT_NUM_ENTRIES] ^= 1;
        assert_eq!(gpt_header(&s), None);
        assert_eq!(gpt_header(&[0u8; 512]), None);
        assert_eq!(gpt_header(GPT_SIGNATURE), None);
    }

    #[test]
    fn sector_sizes() {
        for ss in [512, 1024, 2048, 4096, 65536] {
            assert_eq!(gpt_header_offset(ss), Some(ss));
        }
        for ss in [0, 256, 511, 4095, 1 << 17, u64::MAX] {
            assert_eq!(gpt_header_offset(ss), None);
        }
    }
}
