//! LZO1X decompression (the format of `lzo1x_1_compress`, which every
//! kernel uses for hibernation images), into a caller's buffer.
//!
//! Why not the `lzo` crate alone: it is correct and checks everything,
//! but copies every match one byte at a time, which made it half of all
//! instructions spent loading an LZO image (callgrind, 86 MiB image).
//! This decoder makes the same checks and decodes the same streams — the
//! crate stays as its oracle in the `lzo_diff` fuzz target and the unit
//! tests — but moves matches and literal runs 8 bytes at a time where
//! the buffers have room (`copy`), otherwise non-overlapping ones in one
//! `copy_within`, overlapping ones by doubling, runs with `fill`.
//! Format: Documentation/staging/lzo.rst of the kernel.

/// Why a stream does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The input ended inside an instruction.
    InputOverrun,
    /// The output would not fit the buffer.
    OutputOverrun,
    /// A match reaches back before the start of the output.
    LookbehindOverrun,
    /// Bytes follow the end-of-stream marker.
    InputNotConsumed,
    /// The end marker is malformed.
    Malformed,
}

struct Input<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    #[inline(always)]
    fn byte(&mut self) -> Result<usize, Error> {
        let v = *self.b.get(self.pos).ok_or(Error::InputOverrun)?;
        self.pos += 1;
        Ok(v as usize)
    }

    #[inline(always)]
    fn le16(&mut self) -> Result<usize, Error> {
        Ok(self.byte()? | (self.byte()? << 8))
    }

    /// The zero-byte length extension: 255 per zero byte plus the final one.
    #[inline(always)]
    fn extension(&mut self) -> Result<usize, Error> {
        let start = self.pos;
        let zeros = self.b.get(start..).ok_or(Error::InputOverrun)?.iter().take_while(|&&b| b == 0).count();
        self.pos += zeros;
        let last = self.byte()?;
        Ok(zeros.saturating_mul(255).saturating_add(last))
    }
}

#[inline(always)]
fn literals(inp: &mut Input<'_>, out: &mut [u8], op: &mut usize, n: usize) -> Result<(), Error> {
    if !crate::copy::run_copy(inp.b, inp.pos, out, *op, n) {
        literals_checked(inp.b, inp.pos, out, *op, n)?;
    }
    inp.pos += n;
    *op += n;
    Ok(())
}

/// [`literals`] for long runs and near the ends of the buffers (the
/// cursors passed by value: by reference they would live on the stack
/// for the whole decoder).
#[inline(never)]
fn literals_checked(b: &[u8], ip: usize, out: &mut [u8], op: usize, n: usize) -> Result<(), Error> {
    let src = b.get(ip..ip.checked_add(n).ok_or(Error::InputOverrun)?).ok_or(Error::InputOverrun)?;
    let dst = out.get_mut(op..op.checked_add(n).ok_or(Error::OutputOverrun)?).ok_or(Error::OutputOverrun)?;
    dst.copy_from_slice(src);
    Ok(())
}

/// Copies `len` bytes from `dist` bytes back, overlap allowed (LZ77).
#[inline(always)]
fn back_copy(out: &mut [u8], op: &mut usize, dist: usize, len: usize) -> Result<(), Error> {
    if crate::copy::match_copy(out, *op, dist, len) {
        *op += len;
        return Ok(());
    }
    *op = crate::copy::match_checked(out, *op, dist, len).map_err(|before| if before { Error::LookbehindOverrun } else { Error::OutputOverrun })?;
    Ok(())
}

/// Decompresses a whole LZO1X stream from `src` into `dst`; returns the
/// number of bytes written.
#[inline(never)]
pub fn decompress_into(src: &[u8], dst: &mut [u8]) -> Result<usize, Error> {
    if src.len() < 3 {
        return Err(Error::InputOverrun);
    }
    let mut inp = Input { b: src, pos: 0 };
    let mut op = 0usize;
    // Literals that followed the previous instruction (0–3), or 4 after a
    // literal run: it decides how the next instruction below 16 reads.
    let mut state;
    if src[0] > 17 {
        inp.pos = 1;
        let n = src[0] as usize - 17;
        literals_checked(src, 1, dst, 0, n)?;
        inp.pos += n;
        op = n;
        state = n.min(4);
    } else {
        state = 0;
    }
    loop {
        let t = inp.byte()?;
        let (dist, len, next);
        if t < 16 {
            if state == 0 {
                let n = if t == 0 { inp.extension()?.saturating_add(18) } else { t + 3 };
                literals(&mut inp, dst, &mut op, n)?;
                state = 4;
                continue;
            }
            next = t & 3;
            if state == 4 {
                dist = 1 + 2048 + (t >> 2) + (inp.byte()? << 2);
                len = 3;
            } else {
                dist = 1 + (t >> 2) + (inp.byte()? << 2);
                len = 2;
            }
        } else if t >= 64 {
            next = t & 3;
            dist = 1 + ((t >> 2) & 7) + (inp.byte()? << 3);
            len = (t >> 5) + 1;
        } else if t >= 32 {
            len = if t & 31 == 0 { inp.extension()?.saturating_add(33) } else { (t & 31) + 2 };
            let d = inp.le16()?;
            dist = 1 + (d >> 2);
            next = d & 3;
        } else {
            let hi = (t & 8) << 11;
            len = if t & 7 == 0 { inp.extension()?.saturating_add(9) } else { (t & 7) + 2 };
            let d = inp.le16()?;
            next = d & 3;
            if hi == 0 && d >> 2 == 0 {
                if len != 3 {
                    return Err(Error::Malformed);
                }
                if inp.pos < src.len() {
                    return Err(Error::InputNotConsumed);
                }
                return Ok(op);
            }
            dist = hi + (d >> 2) + 0x4000;
        }
        back_copy(dst, &mut op, dist, len)?;
        literals(&mut inp, dst, &mut op, next)?;
        state = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compares with the `lzo` crate on a stream: same bytes, or both fail.
    pub fn agree(src: &[u8], cap: usize) {
        let mut a = vec![0u8; cap];
        let mut b = vec![0u8; cap];
        let ra = decompress_into(src, &mut a);
        let rb = lzo::decompress_into(src, &mut b);
        match (ra, rb) {
            (Ok(n), Ok(m)) => {
                assert_eq!(n, m, "lengths differ");
                assert_eq!(a[..n], b[..m], "bytes differ");
            }
            (Err(_), Err(_)) => {}
            (x, y) => panic!("disagree: ours {x:?}, lzo crate {y:?}"),
        }
    }

    #[test]
    fn hello() {
        let block = [34, 104, 101, 108, 108, 111, 44, 32, 108, 122, 111, 32, 119, 111, 114, 108, 100, 33, 17, 0, 0];
        let mut out = [0u8; 17];
        assert_eq!(decompress_into(&block, &mut out), Ok(17));
        assert_eq!(&out, b"hello, lzo world!");
        agree(&block, 17);
        agree(&block, 16);
    }

    #[test]
    fn overlapping_matches_of_every_distance() {
        // Hand-made streams: 1..=8 literals, then an M3 match of length 40
        // at distance = the literal count (overlapping), then the end.
        for d in 1..=8usize {
            let lits: Vec<u8> = (0..d as u8).map(|i| b'a' + i).collect();
            let mut s = vec![17 + d as u8];
            s.extend_from_slice(&lits);
            s.extend_from_slice(&[32, 7]); // M3, length 33 + 7 by extension
            s.extend_from_slice(&(((d - 1) << 2) as u16).to_le_bytes());
            s.extend_from_slice(&[17, 0, 0]);
            let mut out = vec![0u8; d + 40];
            let n = decompress_into(&s, &mut out).unwrap();
            assert_eq!(n, d + 40);
            for (i, &c) in out.iter().enumerate() {
                assert_eq!(c, lits[i % d], "distance {d} byte {i}");
            }
            agree(&s, d + 40);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(decompress_into(&[], &mut [0u8; 8]), Err(Error::InputOverrun));
        // Output too small.
        let block = [34, 104, 101, 108, 108, 111, 44, 32, 108, 122, 111, 32, 119, 111, 114, 108, 100, 33, 17, 0, 0];
        assert_eq!(decompress_into(&block, &mut [0u8; 10]), Err(Error::OutputOverrun));
        // Trailing garbage after the end marker.
        let mut b = block.to_vec();
        b.push(0);
        assert_eq!(decompress_into(&b, &mut [0u8; 32]), Err(Error::InputNotConsumed));
        // A match before the start of the output.
        assert_eq!(decompress_into(&[18, b'x', 32 | 5, 0xfc, 0xff, 17, 0, 0], &mut [0u8; 64]), Err(Error::LookbehindOverrun));
    }

    #[test]
    fn random_streams_agree_with_the_lzo_crate() {
        let mut x = 0x2545F4914F6CDD1Du64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seed = [34u8, 104, 101, 108, 108, 111, 44, 32, 108, 122, 111, 32, 119, 111, 114, 108, 100, 33, 17, 0, 0];
        for _ in 0..20000 {
            let mut s = seed.to_vec();
            for _ in 0..rnd() % 6 {
                let i = (rnd() % s.len() as u64) as usize;
                match rnd() % 3 {
                    0 => s[i] = rnd() as u8,
                    1 => s.insert(i, rnd() as u8),
                    _ => {
                        s.remove(i);
                    }
                }
                if s.is_empty() {
                    break;
                }
            }
            agree(&s, (rnd() % 64) as usize);
        }
    }
}
