//! btrfs's chunk tree, read from the results of a `BTRFS_IOC_TREE_SEARCH`
//! of chunk items (as `btrfs inspect-internal map-swapfile` reads it):
//! where a btrfs address lies on a disk, for swap files and hibernation
//! files, whose blocks the kernel and the image address on the disk. The
//! system side makes the searches; the layout is `ioctl.h` and `ctree.h`.

use crate::bytes::le64;

/// `struct btrfs_ioctl_search_header`: transid, objectid, offset (the
/// chunk's btrfs address), type, then the item's length (u32 at 28).
const HEADER: usize = 32;
const HEADER_OFFSET: usize = 16;
const HEADER_LEN: usize = 28;
/// `struct btrfs_chunk`: its length at 0; stripe 0's device id at 48 and
/// its byte on that device at 56.
const CHUNK_LENGTH: usize = 0;
const STRIPE0_DEVID: usize = 48;
const STRIPE0_OFFSET: usize = 56;

/// What one batch of search results says about an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// The chunk holding it: stripe 0's device id and disk byte for it.
    Found { devid: u64, disk: u64 },
    /// Not in this batch: search again from this btrfs address.
    Next(u64),
    /// The batch is empty or damaged.
    End,
}

/// Looks for `logical` among `items` search results in `results` (the
/// buffer after the search key).
pub fn find(results: &[u8], items: u32, logical: u64) -> Chunk {
    let mut at = 0usize;
    let mut next = None;
    for _ in 0..items {
        let (Some(start), Some(len)) = (le64(results, at + HEADER_OFFSET), crate::bytes::le32(results, at + HEADER_LEN)) else { return Chunk::End };
        let item = at + HEADER;
        let Some(length) = le64(results, item + CHUNK_LENGTH) else { return Chunk::End };
        if logical >= start && logical - start < length {
            let (Some(devid), Some(disk)) = (le64(results, item + STRIPE0_DEVID), le64(results, item + STRIPE0_OFFSET)) else { return Chunk::End };
            return disk.checked_add(logical - start).map_or(Chunk::End, |disk| Chunk::Found { devid, disk });
        }
        next = start.checked_add(1);
        at = item + len as usize;
    }
    next.map_or(Chunk::End, Chunk::Next)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Search results as the kernel lays them out: a header, a chunk item.
    fn item(start: u64, length: u64, devid: u64, disk: u64) -> Vec<u8> {
        let mut v = vec![0u8; HEADER + 80];
        v[HEADER_OFFSET..HEADER_OFFSET + 8].copy_from_slice(&start.to_le_bytes());
        v[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&80u32.to_le_bytes());
        v[HEADER..HEADER + 8].copy_from_slice(&length.to_le_bytes());
        v[HEADER + STRIPE0_DEVID..HEADER + STRIPE0_DEVID + 8].copy_from_slice(&devid.to_le_bytes());
        v[HEADER + STRIPE0_OFFSET..HEADER + STRIPE0_OFFSET + 8].copy_from_slice(&disk.to_le_bytes());
        v
    }

    #[test]
    fn finds_the_chunk_or_says_where_to_go_on() {
        let mut r = item(1 << 30, 1 << 28, 1, 22 << 20);
        r.extend(item(2 << 30, 1 << 30, 1, 300 << 20));
        assert_eq!(find(&r, 2, (2 << 30) + 4096), Chunk::Found { devid: 1, disk: (300 << 20) + 4096 });
        assert_eq!(find(&r, 2, 1 << 30), Chunk::Found { devid: 1, disk: 22 << 20 });
        assert_eq!(find(&r, 2, 5 << 30), Chunk::Next((2 << 30) + 1));
        assert_eq!(find(&r, 0, 0), Chunk::End);
        assert_eq!(find(&r[..40], 1, 1 << 30), Chunk::End, "a short buffer");
    }
}
