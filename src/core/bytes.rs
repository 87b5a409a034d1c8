//! Reading integers at a byte offset of an on-disk or in-memory
//! structure, for every parser here: `None` when the bytes are not all
//! there (a short read, a hostile offset), never a panic.

fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

pub fn le16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_le_bytes)
}

pub fn le32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_le_bytes)
}

pub fn le64(b: &[u8], at: usize) -> Option<u64> {
    array(b, at).map(u64::from_le_bytes)
}

pub fn be16(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_be_bytes)
}

pub fn be32(b: &[u8], at: usize) -> Option<u32> {
    array(b, at).map(u32::from_be_bytes)
}

pub fn be64(b: &[u8], at: usize) -> Option<u64> {
    array(b, at).map(u64::from_be_bytes)
}

/// Native byte order (device-mapper's ioctl structures).
pub fn ne64(b: &[u8], at: usize) -> Option<u64> {
    array(b, at).map(u64::from_ne_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_order() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(le16(&b, 0), Some(0x0201));
        assert_eq!(le32(&b, 1), Some(0x05040302));
        assert_eq!(be32(&b, 0), Some(0x01020304));
        assert_eq!(le64(&b, 1), Some(0x0908070605040302));
        assert_eq!(be64(&b, 1), Some(0x0203040506070809));
        assert_eq!((le64(&b, 2), le32(&b, usize::MAX), le16(&[], 0)), (None, None, None));
    }
}
