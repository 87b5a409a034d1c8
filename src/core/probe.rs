//! On-disk identification: the ext2/3/4, xfs and btrfs superblocks, the
//! LUKS header and the Linux swap header (also when it carries a
//! hibernation signature). Partition tables
//! are in `parttable`. Each probe takes the bytes the caller read and
//! never panics on short or hostile input.

pub(crate) use crate::bytes::{be32, le16, le32, le64};
use crate::text::fixed_str;

/// Bytes a caller reads from the start of a device for [`identify`]:
/// one page holds both the ext superblock (at 1024) and the swap header.
pub const PROBE_SIZE: usize = 4096;

/// The ext2/3/4 superblock (`struct ext4_super_block`) and its fields.
const EXT_SB: usize = 1024;
const EXT_MAGIC_AT: usize = EXT_SB + 0x38;
const EXT_UUID: usize = EXT_SB + 0x68;
const EXT_LABEL: usize = EXT_SB + 0x78;
const EXT_LABEL_LEN: usize = 16;
const EXT_MAGIC: u16 = 0xEF53;
const EXT_INCOMPAT: usize = EXT_SB + 0x60;
/// `EXT3_FEATURE_INCOMPAT_JOURNAL_DEV`.
const EXT_INCOMPAT_JOURNAL_DEV: u32 = 0x0008;

/// Swap header fields (`include/linux/swap.h` `union swap_header`).
pub(crate) const SWAP_VERSION: usize = 0x400;
const SWAP_UUID: usize = 0x40C;
const SWAP_LABEL: usize = 0x41C;
const SWAP_LABEL_LEN: usize = 16;
/// Offset of the 10-byte signature at the end of a 4 KiB header page.
pub const SWAP_SIG: usize = PROBE_SIZE - 10;

/// The LUKS header's UUID text (`xxxxxxxx-xxxx-…`, NUL-padded); LUKS2's
/// label.
const LUKS_UUID: usize = 168;
const LUKS2_LABEL: usize = 24;

/// The xfs superblock (`struct xfs_dsb`, big-endian, at 0).
const XFS_MAGIC: &[u8; 4] = b"XFSB";
const XFS_BLOCKSIZE: usize = 4;
const XFS_UUID: usize = 32;
const XFS_LABEL: usize = 108;

/// The btrfs superblock (`struct btrfs_super_block`) lies at 64 KiB:
/// [`identify_btrfs`] takes the page read there.
pub const BTRFS_SB_AT: u64 = 0x10000;
const BTRFS_FSID: usize = 0x20;
const BTRFS_BYTENR: usize = 0x30;
const BTRFS_MAGIC_AT: usize = 0x40;
const BTRFS_MAGIC: &[u8; 8] = b"_BHRfS_M";
const BTRFS_LABEL: usize = 0x12b;
const BTRFS_NUM_DEVICES: usize = 0x88;
/// `dev_item.devid`: this device's number in the filesystem.
const BTRFS_DEVID: usize = 0xc9;

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
    /// A LUKS container (version 1 or 2); its UUID is the container's.
    Luks,
    Xfs,
    /// btrfs; its UUID is the filesystem's (`fsid`), the same on every
    /// device of a multi-device filesystem, as blkid reports it.
    Btrfs,
    /// A member of an md RAID array (blkid's `linux_raid_member`): with
    /// metadata 0.90 or 1.0 the superblock is at the end and a RAID1 leg
    /// starts with the array's own filesystem or swap page, which must
    /// never be taken for the array's. Its UUID is the array's.
    MdMember,
    /// An ext3/4 external journal device (`jbd`): an ext superblock with
    /// the journal-device feature, not a filesystem.
    ExtJournal,
    /// The first page of a hibernation file (`hibfile::MARKER`) holding
    /// no image. (With one, it reads as `Swap { hibernated: true }`.)
    HibernationFile,
}

impl Kind {
    /// The filesystem type to mount it as, if it is a filesystem.
    pub fn fstype(self) -> Option<&'static str> {
        match self {
            Kind::Ext => Some("ext4"),
            Kind::Xfs => Some("xfs"),
            Kind::Btrfs => Some("btrfs"),
            _ => None,
        }
    }
}

/// The identity of a filesystem or swap area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ident<'a> {
    pub kind: Kind,
    /// UUID in printed byte order, or `None` where the format has none.
    pub uuid: Option<[u8; 16]>,
    pub label: &'a str,
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

/// TuxOnIce's image magic at byte 0 of its swap area (util-linux
/// `TOI_MAGIC_STRING`): an image of another format, not plain swap.
const TOI_MAGIC: &[u8; 8] = b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c";

/// The md RAID superblock's magic (`MD_SB_MAGIC`), little-endian on disk
/// for metadata 1.x and in the writer's byte order for 0.90.
const MD_MAGIC: u32 = 0xa92b_4efc;
/// `struct mdp_superblock_1`: `major_version` and `super_offset` (in
/// 512-byte sectors from the device start).
const MD1_MAJOR: usize = 4;
const MD1_SUPER_OFFSET: usize = 144;
/// Bytes a caller reads at each of [`md_superblock_places`] for
/// [`is_md_superblock`].
pub const MD_SB_READ: usize = 512;

/// Where an md RAID member's superblock may lie on a device of `size`
/// bytes, with its metadata version, as blkid looks for
/// `linux_raid_member`: 0.90 in the last 64 KiB-aligned 64 KiB, 1.0 8 KiB
/// before the end (4 KiB-aligned), 1.1 at 0, 1.2 at 4 KiB.
pub fn md_superblock_places(size: u64) -> [(u64, &'static str); 4] {
    let v090 = (size & !0xffff).saturating_sub(0x10000);
    let v10 = (size.saturating_sub(8192)) & !4095;
    [(v090, "0.90"), (v10, "1.0"), (0, "1.1"), (4096, "1.2")]
}

/// Whether the [`MD_SB_READ`] bytes read at `at` hold the md superblock
/// of `version` (a place from [`md_superblock_places`]).
pub fn is_md_superblock(b: &[u8], at: u64, version: &str) -> bool {
    if version == "0.90" {
        // major_version 0 right after the magic, in either byte order.
        return (le32(b, 0) == Some(MD_MAGIC) && le32(b, 4) == Some(0)) || (be32(b, 0) == Some(MD_MAGIC) && be32(b, 4) == Some(0));
    }
    le32(b, 0) == Some(MD_MAGIC) && le32(b, MD1_MAJOR) == Some(1) && le64(b, MD1_SUPER_OFFSET) == Some(at / 512)
}

/// Identifies the first [`PROBE_SIZE`] bytes of a device.
pub fn identify(b: &[u8]) -> Option<Ident<'_>> {
    if crate::luks::version(b).is_some() {
        // LUKS1 and LUKS2 keep the UUID as text at the same offset.
        let uuid = fixed_str(b.get(LUKS_UUID..LUKS_UUID + 40)?).and_then(crate::text::parse_uuid);
        let label = if crate::luks::version(b) == Some(2) { fixed_str(b.get(LUKS2_LABEL..LUKS2_LABEL + 48)?) } else { None };
        return Some(Ident { kind: Kind::Luks, uuid, label: label.unwrap_or("") });
    }
    if b.get(..4)? == XFS_MAGIC {
        let bs = be32(b, XFS_BLOCKSIZE)?;
        if bs.is_power_of_two() && (512..=65536).contains(&bs) {
            return Some(Ident { kind: Kind::Xfs, uuid: uuid_at(b, XFS_UUID), label: fixed_str(b.get(XFS_LABEL..XFS_LABEL + 12)?).unwrap_or("") });
        }
    }
    if le16(b, EXT_MAGIC_AT) == Some(EXT_MAGIC) {
        let journal_dev = le32(b, EXT_INCOMPAT)? & EXT_INCOMPAT_JOURNAL_DEV != 0;
        return Some(Ident {
            kind: if journal_dev { Kind::ExtJournal } else { Kind::Ext },
            uuid: uuid_at(b, EXT_UUID),
            label: fixed_str(b.get(EXT_LABEL..EXT_LABEL + EXT_LABEL_LEN)?).unwrap_or(""),
        });
    }
    let sig = b.get(SWAP_SIG..SWAP_SIG + 10)?;
    let hibernated = is_hibernation_sig(sig) || b.get(..8)? == TOI_MAGIC;
    if sig == SWAPSPACE2 || hibernated {
        // A header written on a machine of the other byte order keeps its
        // UUID and label (byte arrays) as they are (blkid reads them too).
        if le32(b, SWAP_VERSION) != Some(1) && be32(b, SWAP_VERSION) != Some(1) {
            // Swap v0 or a foreign format: a swap area without identity.
            return Some(Ident { kind: Kind::Swap { hibernated }, uuid: None, label: "" });
        }
        return Some(Ident {
            kind: Kind::Swap { hibernated },
            uuid: uuid_at(b, SWAP_UUID),
            label: fixed_str(b.get(SWAP_LABEL..SWAP_LABEL + SWAP_LABEL_LEN)?).unwrap_or(""),
        });
    }
    if sig == SWAP_SPACE {
        return Some(Ident { kind: Kind::Swap { hibernated: false }, uuid: None, label: "" });
    }
    if sig == crate::hibfile::MARKER {
        return Some(Ident { kind: Kind::HibernationFile, uuid: None, label: "" });
    }
    None
}

/// Identifies a btrfs superblock in the page read at [`BTRFS_SB_AT`]
/// (the place [`identify`]'s first page does not reach).
pub fn identify_btrfs(b: &[u8]) -> Option<Ident<'_>> {
    if b.get(BTRFS_MAGIC_AT..BTRFS_MAGIC_AT + 8)? != BTRFS_MAGIC || le64(b, BTRFS_BYTENR)? != BTRFS_SB_AT {
        return None;
    }
    Some(Ident { kind: Kind::Btrfs, uuid: uuid_at(b, BTRFS_FSID), label: fixed_str(b.get(BTRFS_LABEL..BTRFS_LABEL + 256)?).unwrap_or("") })
}

/// For a btrfs superblock read at [`BTRFS_SB_AT`]: how many devices its
/// filesystem spans, and which one this is. Devices of one multi-device
/// btrfs all carry its UUID; a copy of a device carries its number too.
pub fn btrfs_member(b: &[u8]) -> Option<(u64, u64)> {
    identify_btrfs(b)?;
    Some((le64(b, BTRFS_NUM_DEVICES)?, le64(b, BTRFS_DEVID)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ext4 superblock as `mkfs.ext4 -L rootfs -U 0a1b…` writes the
    /// fields we read, in an otherwise zero first page.
    fn ext4_page() -> Vec<u8> {
        let mut p = vec![0u8; PROBE_SIZE];
        p[EXT_MAGIC_AT..EXT_MAGIC_AT + 2].copy_from_slice(&EXT_MAGIC.to_le_bytes());
        p[EXT_UUID..EXT_UUID + 16].copy_from_slice(&[0xa5; 16]);
        p[EXT_LABEL..EXT_LABEL + 6].copy_from_slice(b"rootfs");
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
        p.truncate(EXT_MAGIC_AT + 8);
        assert_eq!(identify(&p), None);
    }

    #[test]
    fn real_fixtures() {
        // Made by tests/fixtures/make.sh with mkfs.ext4 and mkswap.
        let ext = include_bytes!("../../tests/fixtures/ext4-head.bin");
        let id = identify(ext).unwrap();
        assert_eq!(id.kind, Kind::Ext);
        assert_eq!(id.label, "fixture-root");
        assert_eq!(id.uuid, crate::text::parse_uuid("6f2b4a1e-3c5d-4e7f-8a9b-0c1d2e3f4a5b"));
        let swap = include_bytes!("../../tests/fixtures/swap-head.bin");
        let id = identify(swap).unwrap();
        assert_eq!(id.kind, Kind::Swap { hibernated: false });
        assert_eq!(id.label, "fixture-swap");
        assert_eq!(id.uuid, crate::text::parse_uuid("11111111-2222-4333-8444-555555555555"));
    }

    #[test]
    fn xfs_btrfs_and_a_luks2_label() {
        // Made by tests/fixtures/make.sh with mkfs.xfs, mkfs.btrfs, cryptsetup.
        let id = identify(include_bytes!("../../tests/fixtures/xfs-head.bin")).unwrap();
        assert_eq!((id.kind, id.label, id.kind.fstype()), (Kind::Xfs, "fixture-xfs", Some("xfs")));
        assert_eq!(id.uuid, crate::text::parse_uuid("7a7a7a7a-0000-4000-8000-00000000f5f5"));
        let sb = include_bytes!("../../tests/fixtures/btrfs-sb.bin");
        let id = identify_btrfs(sb).unwrap();
        assert_eq!((id.kind, id.label, id.kind.fstype()), (Kind::Btrfs, "fixture-btrfs", Some("btrfs")));
        assert_eq!(id.uuid, crate::text::parse_uuid("b7b7b7b7-0000-4000-8000-00000000f5f5"));
        assert_eq!(identify(sb), None, "the btrfs page is not a first page");
        assert_eq!(btrfs_member(sb), Some((1, 1)), "a one-device filesystem, device 1");
        let mut moved = sb.to_vec();
        moved[BTRFS_BYTENR] ^= 1; // a copy that does not say it lies at 64 KiB
        assert_eq!(identify_btrfs(&moved), None);
        assert_eq!(identify_btrfs(&sb[..BTRFS_MAGIC_AT + 4]), None);
        let id = identify(include_bytes!("../../tests/fixtures/luks2-head.bin")).unwrap();
        assert_eq!((id.kind, id.label, id.kind.fstype()), (Kind::Luks, "fixture-luks", None));
        assert_eq!(id.uuid, crate::text::parse_uuid("1c1c1c1c-0000-4000-8000-00000000f5f5"));
        let mut bad = include_bytes!("../../tests/fixtures/xfs-head.bin").to_vec();
        bad[XFS_BLOCKSIZE + 2] = 3; // block size not a power of two
        assert_eq!(identify(&bad), None);
    }

    #[test]
    fn ext_journal_device_is_not_a_filesystem() {
        let mut p = ext4_page();
        p[EXT_INCOMPAT] |= EXT_INCOMPAT_JOURNAL_DEV as u8;
        let id = identify(&p).unwrap();
        assert_eq!((id.kind, id.kind.fstype()), (Kind::ExtJournal, None));
    }

    #[test]
    fn tuxonice_and_byte_swapped_swap() {
        // TuxOnIce's magic at byte 0 over a swap signature: an image.
        let mut p = swap_page(SWAPSPACE2);
        p[..8].copy_from_slice(TOI_MAGIC);
        assert_eq!(identify(&p).unwrap().kind, Kind::Swap { hibernated: true });
        // mkswap on a big-endian machine: version 1 byte-swapped; UUID
        // and label are byte arrays and still found.
        let mut p = swap_page(SWAPSPACE2);
        p[SWAP_VERSION..SWAP_VERSION + 4].copy_from_slice(&1u32.to_be_bytes());
        let id = identify(&p).unwrap();
        assert_eq!((id.uuid, id.label), (Some([0x5a; 16]), "swap"));
    }

    #[test]
    fn md_superblocks_where_blkid_looks() {
        let size = 100 * 1024 * 1024 + 12345;
        let places = md_superblock_places(size);
        // 0.90: the last whole 64 KiB before the 64 KiB-aligned end.
        assert_eq!(places[0], ((size & !0xffff) - 0x10000, "0.90"));
        // 1.0: 8 KiB before the end, 4 KiB-aligned.
        assert_eq!(places[1], ((size - 8192) & !4095, "1.0"));
        assert_eq!((places[2], places[3]), ((0, "1.1"), (4096, "1.2")));
        for (at, v) in places {
            let mut sb = [0u8; MD_SB_READ];
            sb[..4].copy_from_slice(&MD_MAGIC.to_le_bytes());
            if v == "0.90" {
                assert!(is_md_superblock(&sb, at, v));
                sb[4] = 1; // major_version 1 at the 0.90 place
                assert!(!is_md_superblock(&sb, at, v));
                continue;
            }
            sb[MD1_MAJOR] = 1;
            sb[MD1_SUPER_OFFSET..MD1_SUPER_OFFSET + 8].copy_from_slice(&(at / 512).to_le_bytes());
            assert!(is_md_superblock(&sb, at, v), "{v}");
            // A copy that does not say it lies here (a stale one, or data).
            assert!(!is_md_superblock(&sb, at + 512, v), "{v}");
            assert!(!is_md_superblock(&sb[..100], at, v), "{v} short");
        }
        assert_eq!(md_superblock_places(1000)[0].0, 0, "a tiny device does not wrap");
    }
}
