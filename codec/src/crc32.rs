//! CRC-32 (the reflected polynomial 0xEDB88320 of zlib, GPT and the
//! kernel's `crc32_le`), by folding: no table, no lookups.
//!
//! Folding (the idea of the Chorba CRC, Russell 2024; the multiple below
//! is our own, found by a search): adding a multiple of the polynomial
//! P(x) to the message does not change its CRC, and
//!
//!   Q(x) = x^340 + x^276 + x^274 + x^181 + x^24 + 1
//!
//! is one (`tests::the_fold_is_a_multiple`). So every bit of the message
//! may be replaced by five bits 64, 66, 159, 316 and 340 places later in
//! the stream (x^d = x^(d-340)·(Q(x) − x^340), as d counts down the
//! stream): a 64-bit word is folded into the next six words with shifts
//! and XORs, which stay in registers, until only the last six words are
//! left, and those are checksummed a bit at a time: the zeros left in
//! front do not change a CRC that starts from 0, and a seed is the same
//! as XORing it into the first four bytes. Per 8 bytes this is one load,
//! eight shifts and nine XORs, against slice-by-16's sixteen table loads:
//! three times as fast under QEMU's TCG, where every load is a TLB
//! lookup, and twice on the host's CPU (`bench/README.md`).
//!
//! Why not crc32fast: without `std` it cannot choose its PCLMUL code at
//! run time and falls back to a table loop that ships a 16 KiB table (a
//! sixth of the binary budget). The hibernation image's CRC covers every
//! byte of a compressed image, so both the loader and the writer spend
//! real time here.

const POLY: u32 = 0xEDB8_8320;

/// How far, in bits, a bit is folded forward: 340 − e for the terms x^e
/// of Q(x) below x^340.
const FOLDS: [u32; 5] = [64, 66, 159, 316, 340];
/// Words a fold reaches past the word it folds (340 bits: into words 5 and 6).
const AHEAD: usize = 6;

/// A bit at a time: for the last 48 to 55 bytes and short inputs.
/// Out of line, so that the tail's fixed length does not unroll it.
#[inline(never)]
fn bits(mut crc: u32, data: &[u8]) -> u32 {
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (POLY & (crc & 1).wrapping_neg());
        }
    }
    crc
}

/// The kernel's `crc32_le(crc, data, len)`: no inversion before or after.
/// In `.text.hot`, as the LZO encoder's block (`lzo_compress`).
#[allow(unsafe_code)]
#[unsafe(link_section = ".text.hot.crc32")]
pub fn update(crc: u32, data: &[u8]) -> u32 {
    let words = data.len() / 8;
    if words <= 2 * AHEAD {
        return bits(crc, data);
    }
    let (body, rest) = data.split_at(words * 8);
    let (folded, last) = body.split_at((words - AHEAD) * 8);
    // p[i]: what is folded into the word i + 1 after the current one.
    let mut p = [u64::from(crc), 0, 0, 0, 0, 0];
    for w in folded.chunks_exact(8) {
        let c = u64::from_le_bytes(w.try_into().unwrap_or_default()) ^ p[0];
        p = [p[1], p[2], p[3], p[4], p[5], 0];
        for d in FOLDS {
            let (q, r) = ((d / 64) as usize, d % 64);
            p[q - 1] ^= c << r;
            if r != 0 {
                p[q] ^= c >> (64 - r);
            }
        }
    }
    let mut tail = [0u8; 8 * AHEAD];
    for ((t, w), pending) in tail.chunks_exact_mut(8).zip(last.chunks_exact(8)).zip(p) {
        t.copy_from_slice(&(u64::from_le_bytes(w.try_into().unwrap_or_default()) ^ pending).to_le_bytes());
    }
    bits(bits(0, &tail), rest)
}

/// a·b modulo the CRC polynomial, in the reflected bit order (bit 31 is x⁰).
fn multmodp(a: u32, mut b: u32) -> u32 {
    let mut m = 1u32 << 31;
    let mut p = 0;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                return p;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
}

/// x^(8·n) modulo the polynomial: the shift over n bytes.
fn x8n(mut n: u64) -> u32 {
    let mut p = 1u32 << 31; // x⁰
    let mut x2k = 1u32 << 30; // x¹, squared at every step: x^(2^k)
    for _ in 0..3 {
        x2k = multmodp(x2k, x2k);
    }
    while n != 0 {
        if n & 1 != 0 {
            p = multmodp(x2k, p);
        }
        x2k = multmodp(x2k, x2k);
        n >>= 1;
    }
    p
}

/// A precomputed shift over a fixed length, for combining many chunks of
/// the same size: `Shift::new(len).combine(a, b)` = `combine(a, b, len)`.
pub struct Shift(u32);

impl Shift {
    pub fn new(len: u64) -> Shift {
        Shift(x8n(len))
    }
    pub fn combine(&self, crc_a: u32, crc_b: u32) -> u32 {
        multmodp(self.0, crc_a) ^ crc_b
    }
}

/// The CRC of A‖B from the CRCs of A and of B (B's computed from 0), for
/// the kernel's variant (no inversion): the CRC is linear, so A's part is
/// shifted over B's `len_b` bytes. Lets threads checksum chunks apart.
pub fn combine(crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
    multmodp(x8n(len_b), crc_a) ^ crc_b
}

/// The standard CRC-32 (zlib, GPT headers) of a small input, bit by bit:
/// no table for a few hundred bytes.
pub fn standard(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLY } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(data: &[u8]) -> u32 {
        update(0, data)
    }

    #[test]
    fn combining_chunks_is_checksumming_the_stream() {
        let data: Vec<u8> = (0..3 * 131072u32 + 4096).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        let whole = update(0, &data);
        let combined = data.chunks(131072).fold(0, |crc, c| combine(crc, update(0, c), c.len() as u64));
        assert_eq!(combined, whole);
        assert_eq!(combine(0x1234_5678, 0, 0), 0x1234_5678, "a shift over nothing");
        let full = Shift::new(131072);
        let shifted = data.chunks(131072).fold(0, |crc, c| {
            if c.len() == 131072 { full.combine(crc, update(0, c)) } else { combine(crc, update(0, c), c.len() as u64) }
        });
        assert_eq!(shifted, whole);
    }

    /// Q(x) = x^340 + x^(340−64) + … + 1, from the folds, leaves no
    /// remainder by P(x): folding changes no CRC.
    #[test]
    fn the_fold_is_a_multiple() {
        // x^n mod P(x), P in its normal (not reflected) form.
        let (mut x_n, mut rem) = (1u64, 0u64);
        for n in 0..=340 {
            if n == 340 || FOLDS.contains(&(340 - n)) {
                rem ^= x_n;
            }
            x_n <<= 1;
            if x_n >> 32 != 0 {
                x_n ^= 0x1_04C1_1DB7;
            }
        }
        assert_eq!(rem, 0);
        assert_eq!(FOLDS.iter().map(|d| d.div_ceil(64)).max(), Some(AHEAD as u32));
    }

    #[test]
    fn known_values() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(standard(b"123456789"), 0xCBF4_3926);
        assert_eq!(!update(!0, b"123456789"), 0xCBF4_3926);
        assert_eq!(kernel(b""), 0);
    }

    /// Against crc32fast, which the loader used before (and whose rule
    /// for the kernel's variant was confirmed on real images).
    #[test]
    fn matches_crc32fast_at_every_length_and_split() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in (0..300).chain([1000, 4095, 4096, 4097, 5000]) {
            let d = &data[..len];
            for seed in [1u32, 0x8000_0000, 0xF597_A6CF] {
                let mut h = crc32fast::Hasher::new_with_initial(!seed);
                h.update(d);
                assert_eq!(update(seed, d), !h.finalize(), "length {len}, seed {seed:#x}");
            }
            let mut h = crc32fast::Hasher::new_with_initial(0xFFFF_FFFF);
            h.update(d);
            assert_eq!(kernel(d), h.finalize() ^ 0xFFFF_FFFF, "length {len}");
            assert_eq!(standard(d), crc32fast::hash(d), "length {len}");
            let split = update(update(0, &d[..len / 3]), &d[len / 3..]);
            assert_eq!(split, kernel(d), "split at {}", len / 3);
            let (a, b) = d.split_at(len / 3);
            assert_eq!(combine(kernel(a), kernel(b), b.len() as u64), kernel(d), "combined at {}", len / 3);
        }
    }
}

#[cfg(test)]
mod speed {
    /// Throughput against crc32fast's no-std table loop, same build
    /// profile: `cargo test --release --lib --target x86_64-unknown-linux-gnu crc32::speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn against_crc32fast() {
        let data: Vec<u8> = (0..64u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let t = std::time::Instant::now();
        let ours_crc = super::update(0, &data);
        let ours = t.elapsed();
        let t = std::time::Instant::now();
        let mut h = crc32fast::Hasher::new_with_initial(0xFFFF_FFFF);
        h.update(&data);
        let theirs = t.elapsed();
        assert_eq!(ours_crc, h.finalize() ^ 0xFFFF_FFFF);
        println!("64 MiB: folding {ours:?}, crc32fast {theirs:?}");
    }
}
