//! LZ4 block decompression (the format of the kernel's `LZ4_compress_fast`
//! for hibernation images with `hibernate.compressor=lz4`), safe Rust,
//! into a caller's buffer.
//!
//! Why not `lz4_flex` alone: its safe decoder ran at 0.45× the kernel's C
//! on the host (`bench/pipeline.sh`), copying short literals and matches
//! with length-checked slice copies. This one takes the kernel's short
//! cut in safe Rust: where both sides have room, a short literal run or
//! match moves as one fixed 16-byte copy (two loads, two stores), the
//! cursor advancing only by its length; the rest goes through the same
//! block copies as the LZO decoder. `lz4_flex` stays as the oracle (unit
//! tests and the `lz4_diff` fuzz target).

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
pub fn decompress_into(src: &[u8], dst: &mut [u8]) -> Result<usize, Error> {
    let (mut ip, mut op) = (0usize, 0usize);
    loop {
        let token = *src.get(ip).ok_or(Error::InputOverrun)? as usize;
        ip += 1;
        let lit = token >> 4;
        if lit < 15 && ip + WILD <= src.len() && op + WILD <= dst.len() {
            // A short run: 16 bytes copied, `lit` of them kept.
            dst[op..op + WILD].copy_from_slice(&src[ip..ip + WILD]);
            ip += lit;
            op += lit;
        } else {
            let lit = length(src, &mut ip, lit)?;
            let from = src.get(ip..ip.checked_add(lit).ok_or(Error::InputOverrun)?).ok_or(Error::InputOverrun)?;
            dst.get_mut(op..op.checked_add(lit).ok_or(Error::OutputOverrun)?).ok_or(Error::OutputOverrun)?.copy_from_slice(from);
            ip += lit;
            op += lit;
            // (A long run: one block copy is as good as any.)
        }
        if ip == src.len() {
            return Ok(op); // the last sequence has literals only
        }
        (ip, op) = match_step(src, dst, ip, op, token)?;
    }
}

#[inline(always)]
fn match_step(src: &[u8], dst: &mut [u8], mut ip: usize, op: usize, token: usize) -> Result<(usize, usize), Error> {
    let off = src.get(ip..ip + 2).ok_or(Error::InputOverrun)?;
    let dist = usize::from(off[0]) | usize::from(off[1]) << 8;
    ip += 2;
    let len = length(src, &mut ip, token & 15)? + 4;
    if dist == 0 || dist > op {
        return Err(Error::LookbehindOverrun);
    }
    let from = op - dist;
    if dist >= WILD && op + len + WILD <= dst.len() {
        // 16 bytes at a time; each source chunk is complete before it is
        // read (dist ≥ 16), so overlapping matches come out right too.
        let mut k = 0;
        while k < len {
            dst.copy_within(from + k..from + k + WILD, op + k);
            k += WILD;
        }
        return Ok((ip, op + len));
    }
    let end = op.checked_add(len).filter(|&e| e <= dst.len()).ok_or(Error::OutputOverrun)?;
    if dist >= len {
        dst.copy_within(from..from + len, op);
    } else if dist == 1 {
        let b = dst[from];
        dst[op..end].fill(b);
    } else {
        // Periodic with period `dist`: copies that double in size.
        let mut done = 0;
        while done < len {
            let span = (done + dist) / dist * dist;
            let n = span.min(len - done);
            let s = op + done - span;
            dst.copy_within(s..s + n, op + done);
            done += n;
        }
    }
    Ok((ip, end))
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
