//! On-disk identification: the ext2/3/4 superblock, the Linux swap header
//! (also when it carries a hibernation signature), GPT and MBR partition
//! tables. Each probe takes the bytes the caller read and never panics on
//! short or hostile input.

use crate::text::fixed_str;

/// Bytes a caller reads from the start of a device for [`identify`]:
/// one page holds both the ext superblock (at 1024) and the swap header.
pub const PROBE_SIZE: usize = 4096;

const EXT_SB: usize = 1024;
const EXT_MAGIC: u16 = 0xEF53;

/// Swap header fields (`include/linux/swap.h` `union swap_header`).
const SWAP_VERSION: usize = 0x400;
const SWAP_UUID: usize = 0x40C;
const SWAP_LABEL: usize = 0x41C;
/// Offset of the 10-byte signature at the end of a 4 KiB header page.
pub const SWAP_SIG: usize = PROBE_SIZE - 10;

/// The swap signatures of mkswap (v1, v0).
pub const SWAPSPACE2: &[u8; 10] = b"SWAPSPACE2";
pub const SWAP_SPACE: &[u8; 10] = b"SWAP-SPACE";
/// The kernel's hibernation signature, trailing NUL included.
pub const HIBERNATE_SIG: &[u8; 10] = b"S1SUSPEND\0";

/// What kind of content a device starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ext2, ext3 or ext4.
    Ext,
    /// A swap area; `hibernated` when the kernel has marked it with an
    /// image (`S1SUSPEND`) or another suspend tool's signature.
    Swap { hibernated: bool },
}

/// The identity of a filesystem or swap area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ident<'a> {
    pub kind: Kind,
    /// UUID in printed byte order, or `None` where the format has none.
    pub uuid: Option<[u8; 16]>,
    pub label: &'a str,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn uuid_at(b: &[u8], at: usize) -> Option<[u8; 16]> {
    let u: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    (u != [0; 16]).then_some(u)
}

/// Signatures that mean "a swap area with a suspend image in it", as
/// util-linux recognises them.
fn is_hibernation_sig(sig: &[u8]) -> bool {
    sig == HIBERNATE_SIG
        || sig.starts_with(b"S2SUSPEND")
        || sig.starts_with(b"ULSUSPEND")
        || sig == b"LINHIB0001"
}

/// Identifies the first [`PROBE_SIZE`] bytes of a device.
pub fn identify(b: &[u8]) -> Option<Ident<'_>> {
    if le16(b, EXT_SB + 0x38) == Some(EXT_MAGIC) {
        return Some(Ident {
            kind: Kind::Ext,
            uuid: uuid_at(b, EXT_SB + 0x68),
            label: fixed_str(b.get(EXT_SB + 0x78..EXT_SB + 0x88)?).unwrap_or(""),
        });
    }
    let sig = b.get(SWAP_SIG..SWAP_SIG + 10)?;
    let hibernated = is_hibernation_sig(sig);
    if sig == SWAPSPACE2 || hibernated {
        if le32(b, SWAP_VERSION) != Some(1) {
            // Swap v0 or a foreign format: a swap area without identity.
            return Some(Ident { kind: Kind::Swap { hibernated }, uuid: None, label: "" });
        }
        return Some(Ident {
            kind: Kind::Swap { hibernated },
            uuid: uuid_at(b, SWAP_UUID),
            label: fixed_str(b.get(SWAP_LABEL..SWAP_LABEL + 16)?).unwrap_or(""),
        });
    }
    if sig == SWAP_SPACE {
        return Some(Ident { kind: Kind::Swap { hibernated: false }, uuid: None, label: "" });
    }
    None
}

/// The GPT header's facts needed to find a partition entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GptHeader {
    pub entries_lba: u64,
    pub num_entries: u32,
    pub entry_size: u32,
}

/// Parses the GPT header at LBA 1 (`sector` is that whole logical block),
/// checking the signature and the header CRC.
pub fn gpt_header(sector: &[u8]) -> Option<GptHeader> {
    if sector.get(..8)? != b"EFI PART" {
        return None;
    }
    let size = le32(sector, 12)? as usize;
    if !(92..=sector.len()).contains(&size) {
        return None;
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&sector[..16]);
    h.update(&[0; 4]);
    h.update(&sector[20..size]);
    if h.finalize() != le32(sector, 16)? {
        return None;
    }
    let entry_size = le32(sector, 84)?;
    if entry_size < 128 || entry_size % 8 != 0 {
        return None;
    }
    Some(GptHeader { entries_lba: le64(sector, 72)?, num_entries: le32(sector, 80)?, entry_size })
}

/// One GPT partition entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GptEntry<'a> {
    /// The unique partition GUID in printed byte order (the first three
    /// fields are stored little-endian on disk).
    pub unique: [u8; 16],
    /// The partition name as stored: 36 UTF-16LE code units.
    pub name_utf16: &'a [u8],
}

/// Parses a GPT partition entry; `None` for an unused (all-zero type) entry.
pub fn gpt_entry(e: &[u8]) -> Option<GptEntry<'_>> {
    if e.get(..16)? == [0; 16] {
        return None;
    }
    let g = e.get(16..32)?;
    let mut u = [0u8; 16];
    u[0..4].copy_from_slice(&[g[3], g[2], g[1], g[0]]);
    u[4..6].copy_from_slice(&[g[5], g[4]]);
    u[6..8].copy_from_slice(&[g[7], g[6]]);
    u[8..].copy_from_slice(&g[8..]);
    Some(GptEntry { unique: u, name_utf16: e.get(56..128)? })
}

impl GptEntry<'_> {
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
    if sector0.get(510..512)? != [0x55, 0xAA] {
        return None;
    }
    let protective = (0..4).any(|i| sector0.get(446 + i * 16 + 4) == Some(&0xEE));
    if protective { None } else { le32(sector0, 440) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ext4 superblock as `mkfs.ext4 -L rootfs -U 0a1b…` writes the
    /// fields we read, in an otherwise zero first page.
    fn ext4_page() -> Vec<u8> {
        let mut p = vec![0u8; PROBE_SIZE];
        p[EXT_SB + 0x38..EXT_SB + 0x3a].copy_from_slice(&EXT_MAGIC.to_le_bytes());
        p[EXT_SB + 0x68..EXT_SB + 0x78].copy_from_slice(&[0xa5; 16]);
        p[EXT_SB + 0x78..EXT_SB + 0x7e].copy_from_slice(b"rootfs");
        p
    }

    fn swap_page(sig: &[u8; 10]) -> Vec<u8> {
        let mut p = vec![0u8; PROBE_SIZE];
        p[SWAP_VERSION..SWAP_VERSION + 4].copy_from_slice(&1u32.to_le_bytes());
        p[SWAP_UUID..SWAP_UUID + 16].copy_from_slice(&[0x5a; 16]);
        p[SWAP_LABEL..SWAP_LABEL + 4].copy_from_slice(b"swap");
        p[SWAP_SIG..].copy_from_slice(sig);
        p
    }

    #[test]
    fn ext4() {
        let p = ext4_page();
        let id = identify(&p).unwrap();
        assert_eq!(id, Ident { kind: Kind::Ext, uuid: Some([0xa5; 16]), label: "rootfs" });
    }

    #[test]
    fn swap_plain_and_hibernated() {
        let p = swap_page(SWAPSPACE2);
        let id = identify(&p).unwrap();
        assert_eq!(id, Ident { kind: Kind::Swap { hibernated: false }, uuid: Some([0x5a; 16]), label: "swap" });
        // Marking keeps UUID and label: resume=UUID= must still find it.
        let p = swap_page(HIBERNATE_SIG);
        let id = identify(&p).unwrap();
        assert_eq!(id, Ident { kind: Kind::Swap { hibernated: true }, uuid: Some([0x5a; 16]), label: "swap" });
        let p = swap_page(b"SWAP-SPACE");
        assert_eq!(identify(&p).unwrap().kind, Kind::Swap { hibernated: false });
    }

    #[test]
    fn nothing_and_short_input() {
        assert_eq!(identify(&[0u8; PROBE_SIZE]), None);
        assert_eq!(identify(&[0u8; 100]), None);
        assert_eq!(identify(&[]), None);
        let mut p = ext4_page();
        p.truncate(EXT_SB + 0x40);
        assert_eq!(identify(&p), None);
    }

    #[test]
    fn real_fixtures() {
        // Made by tests/fixtures/make.sh with mkfs.ext4 and mkswap.
        let ext = include_bytes!("../tests/fixtures/ext4-head.bin");
        let id = identify(ext).unwrap();
        assert_eq!(id.kind, Kind::Ext);
        assert_eq!(id.label, "fixture-root");
        assert_eq!(id.uuid, crate::text::parse_uuid("6f2b4a1e-3c5d-4e7f-8a9b-0c1d2e3f4a5b"));
        let swap = include_bytes!("../tests/fixtures/swap-head.bin");
        let id = identify(swap).unwrap();
        assert_eq!(id.kind, Kind::Swap { hibernated: false });
        assert_eq!(id.label, "fixture-swap");
        assert_eq!(id.uuid, crate::text::parse_uuid("11111111-2222-4333-8444-555555555555"));
        let gpt = include_bytes!("../tests/fixtures/gpt-head.bin");
        let h = gpt_header(&gpt[512..1024]).unwrap();
        assert_eq!(h, GptHeader { entries_lba: 2, num_entries: 128, entry_size: 128 });
        let e1 = gpt_entry(&gpt[1024..1152]).unwrap();
        assert_eq!(e1.unique, crate::text::parse_uuid("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee").unwrap());
        assert!(e1.name_is("fixture-part"));
        assert!(!e1.name_is("fixture-par"));
        assert!(!e1.name_is("fixture-parts"));
        assert_eq!(gpt_entry(&gpt[1024 + 128 * 3..1024 + 128 * 4]), None);
        assert_eq!(mbr_signature(&gpt[..512]), None, "protective MBR");
        let mbr = include_bytes!("../tests/fixtures/mbr-head.bin");
        assert_eq!(mbr_signature(mbr), Some(0xcafe1234));
    }

    #[test]
    fn gpt_crc_guards_header() {
        let gpt = include_bytes!("../tests/fixtures/gpt-head.bin");
        let mut s = gpt[512..1024].to_vec();
        s[80] ^= 1;
        assert_eq!(gpt_header(&s), None);
        assert_eq!(gpt_header(&[0u8; 512]), None);
        assert_eq!(gpt_header(b"EFI PART"), None);
    }
}
