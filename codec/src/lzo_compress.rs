//! LZO1X compression into a caller's buffer, for the writer
//! (`resume-init hibernate`): the bitstream the kernel's
//! `lzo1x_decompress_safe` reads (version 0, no lzo-rle marker).
//!
//! Why our own: no maintained crate compresses LZO1X without an
//! allocator (`lzo1x` returns a `Vec`; `lzokay` is an LZO1X-999-style
//! optimiser, many times slower, with a 300 KiB dictionary), and this
//! binary has no heap. The encoder has the shape of the kernel's LZO1X-1
//! (`lib/lzo/lzo1x_compress.c`): the input cut into blocks of 48 KiB, a
//! fresh 8192-entry hash of 4-byte sequences per block holding 16-bit
//! positions in it (so every candidate lies behind the current position
//! and within the farthest offset an M4 reaches, and nothing needs
//! checking but the four bytes), greedy matches of 4 bytes and more,
//! literal runs crossed faster the longer they get. That shape matters
//! under QEMU's TCG, where each conditional branch ends a translated
//! block. Its output is checked by round trips through our decoder and
//! the `lzo` crate's (unit tests, `lzo_roundtrip` fuzz target), and by
//! the kernel's own loader in the QEMU tests.

/// Hash table entries (positions of 4-byte sequences in the block).
const TABLE_BITS: u32 = 13;
/// A block: the farthest back an M4 match reaches (0xBFFF) plus one, so
/// any earlier position in the same block is in reach.
const BLOCK: usize = 0xC000;
/// The last bytes of a block are never the start of a hashed sequence, and
/// a match stops near them, as in the kernel's encoder.
const TAIL: usize = 20;
const M2_MAX_OFFSET: usize = 0x0800;
const M3_MAX_OFFSET: usize = 0x4000;
const M2_MAX_LEN: usize = 8;
const M3_MAX_LEN: usize = 33;
const M4_MAX_LEN: usize = 9;
const M3_MARKER: u8 = 32;
const M4_MARKER: u8 = 16;
/// A first literal run of up to this many bytes has its own short form.
const FIRST_LITERALS_MAX: usize = 238;

/// The encoder's working memory: 16 KiB, reused for every block.
pub struct Table([u16; 1 << TABLE_BITS]);

impl Table {
    pub const fn new() -> Table {
        Table([0; 1 << TABLE_BITS])
    }
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

/// The largest output for `n` input bytes (`lzo1x_worst_compress`).
pub const fn worst_case(n: usize) -> usize {
    n + n / 16 + 64 + 3
}

/// The output buffer is smaller than [`worst_case`] needs for this input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputTooSmall;

struct Out<'a> {
    b: &'a mut [u8],
    pos: usize,
    /// Where the last match keeps the count of up to 3 literals after it;
    /// 0 before the first match (which never starts the stream: the
    /// first instruction is always literals).
    low_bits: usize,
}

impl Out<'_> {
    #[inline(always)]
    fn push(&mut self, v: u8) -> Result<(), OutputTooSmall> {
        *self.b.get_mut(self.pos).ok_or(OutputTooSmall)? = v;
        self.pos += 1;
        Ok(())
    }

    /// The zero-byte length extension: a 0 per 255, then the rest (≥ 1).
    fn extension(&mut self, mut n: usize) -> Result<(), OutputTooSmall> {
        while n > 255 {
            self.push(0)?;
            n -= 255;
        }
        self.push(n as u8)
    }

    /// The literals `src[from..to]`.
    #[inline(always)]
    fn literals(&mut self, src: &[u8], from: usize, to: usize) -> Result<(), OutputTooSmall> {
        let n = to - from;
        if n == 0 {
            return Ok(());
        }
        // Most runs: up to 16 bytes after a match, with room to copy 8 or
        // 16 whole bytes (as the kernel's COPY4/COPY8: the bytes past the
        // run are overwritten next).
        if n <= 16 && self.low_bits != 0 {
            let s = src.get(from..).and_then(|s| s.first_chunk::<16>());
            let d = self.b.get_mut(self.pos..).and_then(|d| d.first_chunk_mut::<17>());
            if let (Some(s), Some(d)) = (s, d) {
                if n <= 3 {
                    d[..8].copy_from_slice(&s[..8]);
                    self.pos += n;
                    if let Some(b) = self.b.get_mut(self.low_bits) {
                        *b |= n as u8;
                    }
                } else {
                    d[0] = (n - 3) as u8;
                    // Two 8-byte copies kept in registers (one 16-byte SSE
                    // copy runs more slowly under TCG).
                    let (lo, hi) = s.split_at(8);
                    for (to, from) in [(1, lo), (9, hi)] {
                        let v = crate::copy::opaque(u64::from_ne_bytes(from.try_into().unwrap_or_default()));
                        d[to..to + 8].copy_from_slice(&v.to_ne_bytes());
                    }
                    self.pos += n + 1;
                }
                return Ok(());
            }
        }
        match self.low_bits {
            0 if n <= FIRST_LITERALS_MAX => self.push((17 + n) as u8)?,
            at if at != 0 && n <= 3 => {
                if let Some(b) = self.b.get_mut(at) {
                    *b |= n as u8;
                }
            }
            _ if n <= 18 => self.push((n - 3) as u8)?,
            _ => {
                self.push(0)?;
                self.extension(n - 18)?;
            }
        }
        let (Some(s), Some(d)) = (src.get(from..to), self.b.get_mut(self.pos..self.pos + n)) else {
            return Err(OutputTooSmall);
        };
        d.copy_from_slice(s);
        self.pos += n;
        Ok(())
    }

    /// Appends instruction bytes.
    #[inline(always)]
    fn put<const N: usize>(&mut self, bytes: [u8; N]) -> Result<(), OutputTooSmall> {
        let dst = self.b.get_mut(self.pos..).and_then(|d| d.first_chunk_mut::<N>()).ok_or(OutputTooSmall)?;
        *dst = bytes;
        self.pos += N;
        Ok(())
    }

    /// A match of `len` ≥ 4 bytes `off` bytes back (1..=0xBFFF).
    #[inline(always)]
    fn matched(&mut self, off: usize, len: usize) -> Result<(), OutputTooSmall> {
        if len <= M2_MAX_LEN && off <= M2_MAX_OFFSET {
            let o = off - 1;
            self.put([(((len - 1) << 5) | ((o & 7) << 2)) as u8, (o >> 3) as u8])?;
        } else {
            let (marker, o, short_max) = if off <= M3_MAX_OFFSET {
                (M3_MARKER, off - 1, M3_MAX_LEN)
            } else {
                let o = off - 0x4000;
                (M4_MARKER | ((o & 0x4000) >> 11) as u8, o, M4_MAX_LEN)
            };
            let low = ((o & 63) << 2) as u8;
            let high = (o >> 6) as u8;
            if len <= short_max {
                self.put([marker | (len - 2) as u8, low, high])?;
            } else {
                self.push(marker)?;
                self.extension(len - short_max)?;
                self.put([low, high])?;
            }
        }
        self.low_bits = self.pos - 2;
        Ok(())
    }
}

/// The little-endian word at `at`, unchecked: the callers' loop bounds
/// keep `at + 8 <= b.len()` (see [`block`]); checked in test builds.
#[inline(always)]
#[allow(unsafe_code)]
fn read32(b: &[u8], at: usize) -> u32 {
    debug_assert!(at + 4 <= b.len());
    // SAFETY: in bounds, as above; unaligned reads of plain bytes.
    u32::from_le(unsafe { b.as_ptr().add(at).cast::<u32>().read_unaligned() })
}

/// As [`read32`], eight bytes.
#[inline(always)]
#[allow(unsafe_code)]
fn read64(b: &[u8], at: usize) -> u64 {
    debug_assert!(at + 8 <= b.len());
    // SAFETY: as for read32.
    u64::from_le(unsafe { b.as_ptr().add(at).cast::<u64>().read_unaligned() })
}

#[inline(always)]
fn hash(v: u32) -> usize {
    // The kernel's multiplier and width.
    (v.wrapping_mul(0x1824_429d) >> (32 - TABLE_BITS)) as usize
}

/// Compresses `src` into `dst` as one LZO1X stream (end marker included);
/// returns its length. `dst` of [`worst_case`]`(src.len())` bytes always suffices.
pub fn compress_into(src: &[u8], dst: &mut [u8], table: &mut Table) -> Result<usize, OutputTooSmall> {
    let mut out = Out { b: dst, pos: 0, low_bits: 0 };
    // The first byte not yet written out (literals carry over blocks).
    let mut lit = 0;
    let mut base = 0;
    while src.len() - base > TAIL {
        let end = base + (src.len() - base).min(BLOCK);
        table.0.fill(0);
        lit = block(src.get(..end).unwrap_or(src), base, lit, &mut out, &mut table.0)?;
        base = end;
    }
    out.literals(src, lit, src.len())?;
    // The end of stream: an M4 with offset 0.
    out.put([M4_MARKER | 1, 0, 0])?;
    Ok(out.pos)
}

/// Matches in `src[base..]` (at most [`BLOCK`] bytes, more than [`TAIL`]),
/// with literals pending from `lit`; returns the first byte not written.
///
/// In `.text.hot`, which the linker puts at the start of `.text`: QEMU's
/// TCG chains a jump straight to its target only within one 4 KiB page,
/// and every other jump looks its target up. Where this function lay
/// across a page boundary (wherever the rest of the binary put it), its
/// loops took 8 % longer on a whole image (the writer's idle image: 495
/// against 531–563 ms for compressing and CRC).
#[inline(never)]
#[allow(unsafe_code)]
#[unsafe(link_section = ".text.hot.lzo_block")]
fn block(src: &[u8], base: usize, mut lit: usize, out: &mut Out, table: &mut [u16; 1 << TABLE_BITS]) -> Result<usize, OutputTooSmall> {
    // The writer's state in registers while the block runs.
    let mut o = Out { b: &mut *out.b, pos: out.pos, low_bits: out.low_bits };
    let ip_end = src.len() - TAIL;
    // The first positions are not tried when no literals are pending.
    let mut ip = base + 4usize.saturating_sub(base - lit);
    loop {
        // No match here: on, faster the longer the literal run.
        ip += 1 + ((ip - lit) >> 5);
        loop {
            if ip >= ip_end {
                (out.pos, out.low_bits) = (o.pos, o.low_bits);
                return Ok(lit);
            }
            let v = read32(src, ip);
            let h = hash(v) & ((1 << TABLE_BITS) - 1);
            let cand = base + table[h] as usize;
            table[h] = (ip - base) as u16;
            if read32(src, cand) != v {
                break;
            }
            // A match: how far it goes, eight bytes at a time.
            let mut len = 4;
            let mut d = read64(src, ip + len) ^ read64(src, cand + len);
            while d == 0 {
                len += 8;
                if ip + len >= ip_end {
                    break;
                }
                d = read64(src, ip + len) ^ read64(src, cand + len);
            }
            if d != 0 {
                len += (d.trailing_zeros() / 8) as usize;
            }
            o.literals(src, lit, ip)?;
            o.matched(ip - cand, len)?;
            ip += len;
            lit = ip;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(src: &[u8]) -> usize {
        let mut t = Table::new();
        let mut c = vec![0u8; worst_case(src.len())];
        let n = compress_into(src, &mut c, &mut t).unwrap();
        let mut a = vec![0u8; src.len() + 16];
        let m = crate::lzo::decompress_into(&c[..n], &mut a).unwrap();
        assert_eq!(&a[..m], src, "our decoder");
        let mut b = vec![0u8; src.len() + 16];
        let m = lzo::decompress_into(&c[..n], &mut b).unwrap();
        assert_eq!(&b[..m], src, "the lzo crate's decoder");
        assert!(src.is_empty() || c[0] != 17, "a first byte 17 would read as an lzo-rle marker");
        n
    }

    /// Data with every kind of instruction: short and long literal runs,
    /// near (M2), middle (M3) and far (M4) matches, long matches.
    fn mixed(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut v: Vec<u8> = Vec::with_capacity(len);
        while v.len() < len {
            let r = rnd();
            match r % 6 {
                0 => v.extend((0..(r >> 8) % 40).map(|_| rnd() as u8)),
                1 | 2 if v.len() > 64 => {
                    let back = 1 + ((r >> 8) as usize % v.len().min(if r % 6 == 1 { 2048 } else { 60000 }));
                    let n = 3 + (r >> 32) as usize % 300;
                    for _ in 0..n {
                        let b = v[v.len() - back];
                        v.push(b);
                    }
                }
                3 => v.extend(core::iter::repeat_n((r >> 8) as u8, (r >> 16) as usize % 600)),
                _ => v.push(r as u8),
            }
        }
        v.truncate(len);
        v
    }

    #[test]
    fn roundtrips() {
        for len in [0, 1, 2, 3, 4, 5, 12, 13, 17, 18, 19, 100, 238, 239, 240, 4096, 131072] {
            roundtrip(&mixed(len, len as u64 + 7));
            roundtrip(&vec![0u8; len]);
            let random: Vec<u8> = mixed(len * 2, 99).iter().step_by(2).copied().collect();
            roundtrip(&random);
        }
        for seed in 1..40 {
            roundtrip(&mixed(131072, seed));
        }
    }

    #[test]
    fn compresses() {
        assert!(roundtrip(&[0u8; 131072]) < 700, "a zero page set shrinks to almost nothing");
        let text = b"resume-init restores hibernation images. ".repeat(3000);
        assert!(roundtrip(&text) < text.len() / 20);
    }

    #[test]
    fn worst_case_holds_for_incompressible_data() {
        let mut x = 0x1234_5678_9abc_def1u64;
        let src: Vec<u8> = (0..131072)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let n = roundtrip(&src);
        assert!(n <= worst_case(src.len()));
        assert!(n <= crate::MAX_CMP_LEN, "within what every loader accepts");
    }

    #[test]
    fn too_small_output_is_an_error() {
        let mut t = Table::new();
        let src = mixed(5000, 3);
        let mut c = vec![0u8; 100];
        assert_eq!(compress_into(&src, &mut c, &mut t), Err(OutputTooSmall));
    }
}

#[cfg(test)]
mod speed {
    /// Compression speed on a file (`LZO_SPEED_FILE`, default the test
    /// binary itself): `cargo test --release -p resume-init-codec --target
    /// x86_64-unknown-linux-gnu lzo_compress::speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn on_a_file() {
        let path = std::env::var("LZO_SPEED_FILE").unwrap_or_else(|_| std::env::args().next().unwrap());
        let data = std::fs::read(&path).unwrap();
        let mut t = super::Table::new();
        let mut out = vec![0u8; super::worst_case(131072)];
        let start = std::time::Instant::now();
        let mut total = 0;
        for _ in 0..10 {
            for c in data.chunks(131072) {
                total += super::compress_into(c, &mut out, &mut t).unwrap();
            }
        }
        let s = start.elapsed().as_secs_f64();
        println!("{path}: {:.0} MB/s, ratio {:.3}", 10.0 * data.len() as f64 / s / 1e6, total as f64 / (10 * data.len()) as f64);
    }
}
