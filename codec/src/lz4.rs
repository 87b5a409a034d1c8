//! LZ4 block decompression (the format of the kernel's `LZ4_compress_fast`
//! for hibernation images with `hibernate.compressor=lz4`), into a
//! caller's buffer.
//!
//! Why not `lz4_flex` alone: its safe decoder ran at 0.45× the kernel's C
//! on the host (`bench/pipeline.sh`), copying short literals and matches
//! with length-checked slice copies. This one takes the kernel's
//! two-stage shortcut: where both buffers have room for it (one check),
//! up to 14 literals move as 16 bytes and a match of up to 18 bytes at
//! least 8 back as 8 + 8 + 2, the cursors advancing by the real lengths;
//! the rest goes through the block copies shared with the LZO decoder
//! (`copy`). `lz4_flex` stays as the oracle (unit tests and the
//! `lz4_diff` fuzz target).

/// Why a block does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The input ended inside a sequence.
    InputOverrun,
    /// The output would not fit the buffer.
    OutputOverrun,
    /// A match reaches back before the start of the output (or offset 0).
    LookbehindOverrun,
}

const WILD: usize = 16;

#[inline(always)]
fn length(src: &[u8], ip: &mut usize, mut n: usize) -> Result<usize, Error> {
    if n == 15 {
        loop {
            let b = *src.get(*ip).ok_or(Error::InputOverrun)?;
            *ip += 1;
            n = n.checked_add(b as usize).ok_or(Error::OutputOverrun)?;
            if b != 255 {
                break;
            }
        }
    }
    Ok(n)
}

/// Decompresses a whole LZ4 block from `src` into `dst`; returns the
/// number of bytes written.
#[inline(never)]
#[allow(unsafe_code)]
pub fn decompress_into(src: &[u8], dst: &mut [u8]) -> Result<usize, Error> {
    let (mut ip, mut op) = (0usize, 0usize);
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
    loop {
        let token = *src.get(ip).ok_or(Error::InputOverrun)? as usize;
        ip += 1;
        let lit = token >> 4;
        // The kernel's two-stage shortcut for the commonest sequence, under
        // one check: up to 14 literals moved as 16 bytes, then a match of
        // up to 18 bytes at least 8 back moved as 8 + 8 + 2.
        if (lit < 15) & (src.len().saturating_sub(ip) > WILD + 2) & (dst.len().saturating_sub(op) >= WILD + 18) {
            // SAFETY: `ip + 18 < src.len()` and `op + 34 <= dst.len()`
            // (checked just above). Literals: 16 bytes read from `ip` and
            // written at `op`. Offset: 2 bytes at `ip + lit <= ip + 14`.
            // Match (only when 8 <= dist <= op + lit): reads from
            // `op + lit - dist >= 0`, each 8-byte block ending by the start
            // of the block it fills (dist >= 8: already written), writes
            // up to `op + lit + 18 <= op + 32`.
            unsafe {
                for k in [0, 8] {
                    let v = crate::copy::opaque(s.add(ip + k).cast::<u64>().read_unaligned());
                    d.add(op + k).cast::<u64>().write_unaligned(v);
                }
                ip += lit;
                op += lit;
                let dist = usize::from(u16::from_le(s.add(ip).cast::<u16>().read_unaligned()));
                let ml = token & 15;
                if (ml != 15) & (dist >= 8) & (dist <= op) {
                    let m = op - dist;
                    for k in [0, 8] {
                        let v = crate::copy::opaque(d.add(m + k).cast::<u64>().read_unaligned());
                        d.add(op + k).cast::<u64>().write_unaligned(v);
                    }
                    let v = d.add(m + 16).cast::<u16>().read_unaligned();
                    d.add(op + 16).cast::<u16>().write_unaligned(v);
                    ip += 2;
                    op += ml + 4;
                    continue;
                }
            }
            // Otherwise the match below, its offset at `ip`.
        } else {
            let lit = length(src, &mut ip, lit)?;
            if !crate::copy::run_copy(src, ip, dst, op, lit) {
                // A long run, or near the end.
                let from = src.get(ip..ip.checked_add(lit).ok_or(Error::InputOverrun)?).ok_or(Error::InputOverrun)?;
                dst.get_mut(op..op.checked_add(lit).ok_or(Error::OutputOverrun)?).ok_or(Error::OutputOverrun)?.copy_from_slice(from);
            }
            ip += lit;
            op += lit;
            if ip == src.len() {
                return Ok(op); // the last sequence has literals only
            }
        }
        (ip, op) = match_step(src, dst, ip, op, token)?;
    }
}

/// The match of `token`, its offset at `ip`.
#[inline(always)]
fn match_step(src: &[u8], dst: &mut [u8], mut ip: usize, op: usize, token: usize) -> Result<(usize, usize), Error> {
    let off = src.get(ip..ip + 2).ok_or(Error::InputOverrun)?;
    let dist = usize::from(off[0]) | usize::from(off[1]) << 8;
    ip += 2;
    let len = length(src, &mut ip, token & 15)? + 4;
    if crate::copy::match_copy(dst, op, dist, len) {
        return Ok((ip, op + len));
    }
    match crate::copy::match_checked(dst, op, dist, len) {
        Ok(end) => Ok((ip, end)),
        Err(true) => Err(Error::LookbehindOverrun),
        Err(false) => Err(Error::OutputOverrun),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agree(data: &[u8]) {
        let c = lz4_flex::block::compress(data);
        let mut a = vec![0u8; data.len()];
        let n = decompress_into(&c, &mut a).unwrap_or_else(|e| panic!("{e:?} on {} bytes", data.len()));
        assert_eq!(&a[..n], data);
        // Truncated or bit-flipped input: an error or some output, never a panic.
        for cut in [0, 1, c.len() / 2, c.len().saturating_sub(1)] {
            let _ = decompress_into(&c[..cut], &mut a);
        }
        let mut bad = c.clone();
        for i in (0..bad.len()).step_by(7) {
            bad[i] ^= 0x55;
            let _ = decompress_into(&bad, &mut a);
        }
        // Too small an output buffer: an error.
        if !data.is_empty() {
            assert!(decompress_into(&c, &mut vec![0u8; data.len() - 1]).is_err());
        }
    }

    #[test]
    fn roundtrips_with_lz4_flex() {
        agree(b"");
        agree(b"a");
        agree(b"hello hello hello hello hello hello, world");
        for period in 1..40usize {
            let d: Vec<u8> = (0..5000).map(|i| ((i % period) * 7) as u8).collect();
            agree(&d);
        }
        let mut x = 12345u32;
        for n in [10usize, 100, 4096, 65536, 131072] {
            let d: Vec<u8> = (0..n)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    if i % 97 < 60 { (x & 3) as u8 } else { x as u8 }
                })
                .collect();
            agree(&d);
        }
    }

    #[test]
    fn errors() {
        let mut out = [0u8; 64];
        assert_eq!(decompress_into(&[], &mut out), Err(Error::InputOverrun));
        // A match at offset 0, and one before the start.
        assert_eq!(decompress_into(&[0x10, b'a', 0, 0, 0x00], &mut out), Err(Error::LookbehindOverrun));
        assert_eq!(decompress_into(&[0x10, b'a', 2, 0, 0x00], &mut out), Err(Error::LookbehindOverrun));
        assert_eq!(decompress_into(&[0x50, b'a'], &mut out), Err(Error::InputOverrun));
    }
}
