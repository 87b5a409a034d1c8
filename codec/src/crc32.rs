//! CRC-32 (the reflected polynomial 0xEDB88320 of zlib, GPT and the
//! kernel's `crc32_le`), slice-by-16 with its 16 KiB table built when a
//! hasher is made (about 20 µs) instead of shipped in the binary.
//!
//! Why not crc32fast: without `std` it cannot choose its PCLMUL code at
//! run time and falls back to a table loop that ships a 16 KiB table (a
//! sixth of the binary budget) and the same loop as here. The
//! hibernation image's CRC covers every byte of a compressed image, so
//! both the loader and the writer spend real time here.

const POLY: u32 = 0xEDB8_8320;

/// The lookup tables of slice-by-16, built once and shared (read-only)
/// by every thread that checksums.
/// Table k is at `256 * k`.
pub struct Table([u32; 16 * 256]);

impl Table {
    /// Built by one plain loop (it runs once; unrolled it cost 0.6 KiB).
    pub fn new() -> Table {
        let mut t = [0u32; 16 * 256];
        for i in 0..t.len() {
            t[i] = if i < 256 {
                let mut c = i as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
                }
                c
            } else {
                let prev = t[i - 256];
                (prev >> 8) ^ t[(prev & 0xff) as usize]
            };
        }
        Table(t)
    }

    /// The kernel's `crc32_le(crc, data, len)`: no inversion before or after.
    pub fn update(&self, mut crc: u32, data: &[u8]) -> u32 {
        let t = &self.0;
        let mut words = data.chunks_exact(16);
        let at = |k: usize, v: u32, shift: u32| t[256 * k + ((v >> shift) & 0xff) as usize];
        for w in &mut words {
            // Two 8-byte loads: left alone, the compiler reads 12 of the
            // 16 bytes one at a time, which costs more than the shifts under
            // QEMU's TCG, where every load is a TLB lookup.
            let lo = crate::copy::opaque(u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]));
            let hi = crate::copy::opaque(u64::from_le_bytes([w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15]]));
            let (a, b, c, d) = (lo as u32 ^ crc, (lo >> 32) as u32, hi as u32, (hi >> 32) as u32);
            crc = at(15, a, 0) ^ at(14, a, 8) ^ at(13, a, 16) ^ at(12, a, 24)
                ^ at(11, b, 0) ^ at(10, b, 8) ^ at(9, b, 16) ^ at(8, b, 24)
                ^ at(7, c, 0) ^ at(6, c, 8) ^ at(5, c, 16) ^ at(4, c, 24)
                ^ at(3, d, 0) ^ at(2, d, 8) ^ at(1, d, 16) ^ at(0, d, 24);
        }
        for &byte in words.remainder() {
            crc = t[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
        }
        crc
    }
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

/// A running `crc32_le` with its own table.
pub struct Crc32 {
    table: Table,
    crc: u32,
}

impl Crc32 {
    /// A hasher starting from `seed` (the kernel's hibernation CRC starts from 0).
    pub fn new(seed: u32) -> Crc32 {
        Crc32 { table: Table::new(), crc: seed }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.crc = self.table.update(self.crc, data);
    }

    pub fn value(&self) -> u32 {
        self.crc
    }
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
        let mut c = Crc32::new(0);
        c.update(data);
        c.value()
    }

    #[test]
    fn combining_chunks_is_checksumming_the_stream() {
        let data: Vec<u8> = (0..3 * 131072u32 + 4096).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        let t = Table::new();
        let whole = t.update(0, &data);
        let combined = data.chunks(131072).fold(0, |crc, c| combine(crc, t.update(0, c), c.len() as u64));
        assert_eq!(combined, whole);
        assert_eq!(combine(0x1234_5678, 0, 0), 0x1234_5678, "a shift over nothing");
        let full = Shift::new(131072);
        let shifted = data.chunks(131072).fold(0, |crc, c| {
            if c.len() == 131072 { full.combine(crc, t.update(0, c)) } else { combine(crc, t.update(0, c), c.len() as u64) }
        });
        assert_eq!(shifted, whole);
    }

    #[test]
    fn known_values() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(standard(b"123456789"), 0xCBF4_3926);
        let mut c = Crc32::new(!0);
        c.update(b"123456789");
        assert_eq!(!c.value(), 0xCBF4_3926);
        assert_eq!(kernel(b""), 0);
    }

    /// Against crc32fast, which the loader used before (and whose rule
    /// for the kernel's variant was confirmed on real images).
    #[test]
    fn matches_crc32fast_at_every_length_and_split() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in (0..64).chain([100, 4095, 4096, 4097, 5000]) {
            let d = &data[..len];
            let mut h = crc32fast::Hasher::new_with_initial(0xFFFF_FFFF);
            h.update(d);
            assert_eq!(kernel(d), h.finalize() ^ 0xFFFF_FFFF, "length {len}");
            assert_eq!(standard(d), crc32fast::hash(d), "length {len}");
            let mut split = Crc32::new(0);
            split.update(&d[..len / 3]);
            split.update(&d[len / 3..]);
            assert_eq!(split.value(), kernel(d), "split at {}", len / 3);
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
        let mut c = super::Crc32::new(0);
        c.update(&data);
        let ours = t.elapsed();
        let t = std::time::Instant::now();
        let mut h = crc32fast::Hasher::new_with_initial(0xFFFF_FFFF);
        h.update(&data);
        let theirs = t.elapsed();
        assert_eq!(c.value(), h.finalize() ^ 0xFFFF_FFFF);
        println!("64 MiB: slice-by-16 {ours:?}, crc32fast {theirs:?}");
    }
}
