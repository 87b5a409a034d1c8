//! On-disk identification: the ext2/3/4, xfs and btrfs superblocks, the
//! LUKS header and the Linux swap header (also when it carries a
//! hibernation signature). Partition tables
//! are in `parttable`. Each probe takes the bytes the caller read and
//! never panics on short or hostile input.

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

pub(crate) fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn le64(b: &[u8], at: usize) -> Option<u64> {
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
    if crate::luks::version(b).is_some() {
        // LUKS1 and LUKS2 keep the UUID as text at the same offset.
        let uuid = fixed_str(b.get(LUKS_UUID..LUKS_UUID + 40)?).and_then(crate::text::parse_uuid);
        let label = if crate::luks::version(b) == Some(2) { fixed_str(b.get(LUKS2_LABEL..LUKS2_LABEL + 48)?) } else { None };
        return Some(Ident { kind: Kind::Luks, uuid, label: label.unwrap_or("") });
    }
    if b.get(..4)? == XFS_MAGIC {
        let bs = u32::from_be_bytes(b.get(XFS_BLOCKSIZE..XFS_BLOCKSIZE + 4)?.try_into().ok()?);
        if bs.is_power_of_two() && (512..=65536).contains(&bs) {
            return Some(Ident { kind: Kind::Xfs, uuid: uuid_at(b, XFS_UUID), label: fixed_str(b.get(XFS_LABEL..XFS_LABEL + 12)?).unwrap_or("") });
        }
    }
    if le16(b, EXT_MAGIC_AT) == Some(EXT_MAGIC) {
        return Some(Ident {
            kind: Kind::Ext,
            uuid: uuid_at(b, EXT_UUID),
            label: fixed_str(b.get(EXT_LABEL..EXT_LABEL + EXT_LABEL_LEN)?).unwrap_or(""),
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
            label: fixed_str(b.get(SWAP_LABEL..SWAP_LABEL + SWAP_LABEL_LEN)?).unwrap_or(""),
        });
    }
    if sig == SWAP_SPACE {
        return Some(Ident { kind: Kind::Swap { hibernated: false }, uuid: None, label: "" });
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
}
