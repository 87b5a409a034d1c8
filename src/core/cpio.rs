//! Finding one member of the uncompressed newc cpio archives an initramfs
//! starts with (early microcode, resume-init's marker), reading headers
//! only: several archives may follow each other, with zero padding
//! between, until the compressed part begins.

/// Most headers walked before giving up (a microcode archive has a few
/// hundred members).
const MAX_MEMBERS: usize = 8192;
const HEADER: usize = 110;

/// The contents (at most `out.len()` bytes) of the member named `name`,
/// read through `read(offset, buf) -> bytes read`; `None` where the
/// uncompressed part ends before it.
pub fn find_member<'o>(mut read: impl FnMut(u64, &mut [u8]) -> Option<usize>, name: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let hex = |b: &[u8]| core::str::from_utf8(b).ok().and_then(|s| u64::from_str_radix(s, 16).ok());
    let mut at = 0u64;
    let mut h = [0u8; 512];
    for _ in 0..MAX_MEMBERS {
        let n = read(at, &mut h)?.min(h.len());
        // Zero padding between archives, skipped in 4-byte steps.
        let zeros = h[..n].iter().position(|&b| b != 0).unwrap_or(n) & !3;
        if zeros > 0 {
            at += zeros as u64;
            continue;
        }
        if n < HEADER || &h[..6] != b"070701" {
            return None;
        }
        let size = hex(&h[54..62])?;
        let namesize = usize::try_from(hex(&h[94..102])?).ok()?;
        let data = (at + (HEADER + namesize) as u64).next_multiple_of(4);
        if namesize == name.len() + 1 && HEADER + namesize <= n && &h[HEADER..HEADER + name.len()] == name {
            let len = usize::try_from(size).ok()?.min(out.len());
            let got = read(data, &mut out[..len])?;
            return Some(&out[..got.min(len)]);
        }
        at = data.checked_add(size)?.next_multiple_of(4);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, data: &[u8]) -> std::vec::Vec<u8> {
        let mut v = format!("070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}", 1, 0o100644, 0, 0, 1, 0, data.len(), 0, 0, 0, 0, name.len() + 1, 0).into_bytes();
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(data);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    fn find(img: &[u8], name: &str) -> Option<std::vec::Vec<u8>> {
        let mut out = [0u8; 64];
        let read = |at: u64, buf: &mut [u8]| {
            let at = usize::try_from(at).ok()?.min(img.len());
            let n = buf.len().min(img.len() - at);
            buf[..n].copy_from_slice(&img[at..at + n]);
            Some(n)
        };
        find_member(read, name.as_bytes(), &mut out).map(<[u8]>::to_vec)
    }

    #[test]
    fn finds_a_member_after_another_archive_and_padding() {
        let mut img = member("kernel/x86/microcode/GenuineIntel.bin", &[0xaa; 3000]);
        img.extend(member("TRAILER!!!", b""));
        img.resize(img.len().next_multiple_of(512), 0);
        img.extend(member("etc", b""));
        img.extend(member("etc/resume-init/initramfs", b"hook\n"));
        img.extend(member("TRAILER!!!", b""));
        img.resize(img.len().next_multiple_of(512), 0);
        img.extend_from_slice(&[0x1f, 0x8b, 8, 0, 1, 2, 3, 4]);
        assert_eq!(find(&img, "etc/resume-init/initramfs").as_deref(), Some(&b"hook\n"[..]));
        // Not there: stops at the compressed part, and a prefix is not a name.
        assert_eq!(find(&img, "etc/resume-init/other"), None);
        assert_eq!(find(&img, "etc/resume-init"), None);
    }

    #[test]
    fn compressed_or_hostile_input_is_no_member() {
        assert_eq!(find(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0], "etc"), None);
        assert_eq!(find(&[], "etc"), None);
        // A size that would wrap the offset.
        let mut m = member("a", b"");
        m[54..62].copy_from_slice(b"ffffffff");
        let mut img = m.clone();
        img.extend(member("etc", b"x"));
        assert_eq!(find(&img, "etc"), None);
        // Truncated inside a header.
        assert_eq!(find(&member("etc", b"x")[..50], "etc"), None);
    }
}
