//! Argon2i and Argon2id (RFC 9106, version 0x13, no secret, no associated
//! data), as LUKS2 keyslots use them. Own code for size: RustCrypto's
//! `argon2` and `blake2` cost 17 KiB of the binary (unrolled Blake2b,
//! two copies of the compression); this is a few KiB, with the hot
//! compression in `codec` (built for speed) and the rest, Blake2b
//! included, written as loops. The `argon2` crate stays as the oracle:
//! the tests compare every variant over many parameters.

pub use codec::argon2::Block;
use codec::argon2::{address_block, compress};

const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

const SIGMA: [[u8; 16]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

/// Blake2b (RFC 7693), unkeyed, 1..=64 bytes of output.
struct Blake2b {
    h: [u64; 8],
    buf: [u8; 128],
    fill: usize,
    len: u128,
    out: usize,
}

impl Blake2b {
    fn new(out: usize) -> Blake2b {
        let mut h = IV;
        h[0] ^= 0x0101_0000 ^ out as u64;
        Blake2b { h, buf: [0; 128], fill: 0, len: 0, out }
    }

    fn compress(&mut self, last: bool) {
        let mut m = [0u64; 16];
        for (w, c) in m.iter_mut().zip(self.buf.chunks_exact(8)) {
            *w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        }
        let mut v = [0u64; 16];
        v[..8].copy_from_slice(&self.h);
        v[8..].copy_from_slice(&IV);
        v[12] ^= self.len as u64;
        v[13] ^= (self.len >> 64) as u64;
        if last {
            v[14] = !v[14];
        }
        const LANES: [[usize; 4]; 8] = [[0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10, 14], [3, 7, 11, 15], [0, 5, 10, 15], [1, 6, 11, 12], [2, 7, 8, 13], [3, 4, 9, 14]];
        for round in 0..12 {
            let s = &SIGMA[round % 10];
            for (i, &[a, b, c, d]) in LANES.iter().enumerate() {
                let (x, y) = (m[s[2 * i] as usize], m[s[2 * i + 1] as usize]);
                v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
                v[d] = (v[d] ^ v[a]).rotate_right(32);
                v[c] = v[c].wrapping_add(v[d]);
                v[b] = (v[b] ^ v[c]).rotate_right(24);
                v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
                v[d] = (v[d] ^ v[a]).rotate_right(16);
                v[c] = v[c].wrapping_add(v[d]);
                v[b] = (v[b] ^ v[c]).rotate_right(63);
            }
        }
        for i in 0..8 {
            self.h[i] ^= v[i] ^ v[i + 8];
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.fill == 128 {
                self.len += 128;
                self.compress(false);
                self.fill = 0;
            }
            let n = (128 - self.fill).min(data.len());
            self.buf[self.fill..self.fill + n].copy_from_slice(&data[..n]);
            self.fill += n;
            data = &data[n..];
        }
    }

    fn finish(mut self, out: &mut [u8]) {
        self.len += self.fill as u128;
        self.buf[self.fill..].fill(0);
        self.compress(true);
        for (i, o) in out.iter_mut().take(self.out).enumerate() {
            *o = (self.h[i / 8] >> (8 * (i % 8))) as u8;
        }
    }
}

/// The variable-length hash H' (RFC 9106 §3.3) of `parts`, into `out`.
fn h_prime(out: &mut [u8], parts: &[&[u8]]) {
    let t = out.len();
    let mut h = Blake2b::new(t.min(64));
    h.update(&(t as u32).to_le_bytes());
    parts.iter().for_each(|p| h.update(p));
    if t <= 64 {
        h.finish(out);
        return;
    }
    let mut v = [0u8; 64];
    h.finish(&mut v);
    let mut at = 0;
    out[..32].copy_from_slice(&v[..32]);
    at += 32;
    while t - at > 64 {
        let mut h = Blake2b::new(64);
        h.update(&v);
        h.finish(&mut v);
        out[at..at + 32].copy_from_slice(&v[..32]);
        at += 32;
    }
    let mut h = Blake2b::new(t - at);
    h.update(&v);
    let mut last = [0u8; 64];
    h.finish(&mut last);
    out[at..].copy_from_slice(&last[..t - at]);
}

fn block_from_bytes(b: &mut Block, bytes: &[u8; 1024]) {
    for (w, c) in b.iter_mut().zip(bytes.chunks_exact(8)) {
        *w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
    }
}

/// Why Argon2 cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Parameters out of range (RFC 9106 §3.1), or an output above 1 KiB.
    Params,
    /// `memory` holds fewer blocks than the parameters use.
    Memory,
}

/// Blocks Argon2 uses for `m_kib` KiB and `lanes` lanes: rounded down to
/// a multiple of 4 × lanes.
pub fn blocks(m_kib: u32, lanes: u32) -> usize {
    let q = 4 * lanes.max(1) as usize;
    (m_kib as usize / q) * q
}

/// Argon2i (`id` false) or Argon2id of `pass` and `salt` with `t` passes,
/// `m_kib` KiB and `lanes` lanes, into `out`, working in `memory`.
#[allow(clippy::too_many_arguments)]
pub fn hash(id: bool, pass: &[u8], salt: &[u8], t: u32, m_kib: u32, lanes: u32, memory: &mut [Block], out: &mut [u8]) -> Result<(), Error> {
    if t == 0 || lanes == 0 || lanes > 0xff_ffff || m_kib < 8 * lanes || salt.len() < 8 || out.len() < 4 || out.len() > 1024 {
        return Err(Error::Params);
    }
    let total = blocks(m_kib, lanes);
    let memory = memory.get_mut(..total).ok_or(Error::Memory)?;
    let lanes = lanes as usize;
    let q = total / lanes;
    let sl = q / 4;
    let kind: u32 = if id { 2 } else { 1 };

    let mut h0 = [0u8; 64];
    let mut h = Blake2b::new(64);
    for v in [lanes as u32, out.len() as u32, m_kib, t, 0x13, kind, pass.len() as u32] {
        h.update(&v.to_le_bytes());
    }
    h.update(pass);
    h.update(&(salt.len() as u32).to_le_bytes());
    h.update(salt);
    h.update(&[0; 8]); // no secret, no associated data
    h.finish(&mut h0);

    let mut bytes = [0u8; 1024];
    for l in 0..lanes {
        for i in 0..2u32 {
            h_prime(&mut bytes, &[&h0, &i.to_le_bytes(), &(l as u32).to_le_bytes()]);
            block_from_bytes(&mut memory[l * q + i as usize], &bytes);
        }
    }

    let mut input: Block = [0; 128];
    let mut addr: Block = [0; 128];
    for pass in 0..t as usize {
        for s in 0..4 {
            for l in 0..lanes {
                let independent = !id || (pass == 0 && s < 2);
                if independent {
                    input = [0; 128];
                    input[..6].copy_from_slice(&[pass as u64, l as u64, s as u64, total as u64, u64::from(t), u64::from(kind)]);
                }
                let first = if pass == 0 && s == 0 { 2 } else { 0 };
                if independent && first == 2 {
                    input[6] += 1;
                    address_block(&input, &mut addr);
                }
                for i in first..sl {
                    let cur = l * q + s * sl + i;
                    let prev = if s * sl + i == 0 { l * q + q - 1 } else { cur - 1 };
                    let rand = if independent {
                        if i % 128 == 0 {
                            input[6] += 1;
                            address_block(&input, &mut addr);
                        }
                        addr[i % 128]
                    } else {
                        memory[prev][0]
                    };
                    let ref_lane = if pass == 0 && s == 0 { l } else { (rand >> 32) as usize % lanes };
                    let same = ref_lane == l;
                    let area = if pass == 0 {
                        if same { s * sl + i - 1 } else { s * sl - usize::from(i == 0) }
                    } else if same {
                        q - sl + i - 1
                    } else {
                        q - sl - usize::from(i == 0)
                    } as u64;
                    let x = ((rand & 0xffff_ffff) * (rand & 0xffff_ffff)) >> 32;
                    let rel = area - 1 - ((area * x) >> 32);
                    let start = if pass != 0 && s != 3 { (s + 1) * sl } else { 0 };
                    let refb = ref_lane * q + (start + rel as usize) % q;
                    compress(memory, prev, refb, cur, pass > 0);
                }
            }
        }
    }

    let mut last: Block = memory[q - 1];
    for l in 1..lanes {
        for (a, b) in last.iter_mut().zip(memory[l * q + q - 1].iter()) {
            *a ^= b;
        }
    }
    for (c, w) in bytes.chunks_exact_mut(8).zip(last.iter()) {
        c.copy_from_slice(&w.to_le_bytes());
    }
    h_prime(out, &[&bytes]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oracle(id: bool, pass: &[u8], salt: &[u8], t: u32, m: u32, p: u32, len: usize) -> Vec<u8> {
        let alg = if id { ::argon2::Algorithm::Argon2id } else { ::argon2::Algorithm::Argon2i };
        let params = ::argon2::Params::new(m, t, p, Some(len)).unwrap();
        let mut out = vec![0u8; len];
        ::argon2::Argon2::new(alg, ::argon2::Version::V0x13, params).hash_password_into(pass, salt, &mut out).unwrap();
        out
    }

    fn ours(id: bool, pass: &[u8], salt: &[u8], t: u32, m: u32, p: u32, len: usize) -> Vec<u8> {
        let mut mem = vec![[0u64; 128]; blocks(m, p)];
        let mut out = vec![0u8; len];
        hash(id, pass, salt, t, m, p, &mut mem, &mut out).unwrap();
        out
    }

    pub(super) fn ours_pub(id: bool, pass: &[u8], salt: &[u8], t: u32, m: u32, p: u32, len: usize) -> Vec<u8> {
        ours(id, pass, salt, t, m, p, len)
    }

    pub(super) fn oracle_pub(id: bool, pass: &[u8], salt: &[u8], t: u32, m: u32, p: u32, len: usize) -> Vec<u8> {
        oracle(id, pass, salt, t, m, p, len)
    }

    #[test]
    fn rfc9106_without_secret_and_data() {
        let hex = |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
        assert_eq!(ours(true, &[1; 32], &[2; 16], 3, 32, 4, 32), hex("03aab965c12001c9d7d0d2de33192c0494b684bb148196d73c1df1acaf6d0c2e"));
        assert_eq!(ours(false, &[1; 32], &[2; 16], 3, 32, 4, 32), hex("a9a7510e6db4d588ba3414cd0e094d480d683f97b9ccb612a544fe8ef65ba8e0"));
    }

    #[test]
    fn agrees_with_the_argon2_crate() {
        let mut n = 0u32;
        for id in [true, false] {
            for (t, m, p) in [(1, 8, 1), (2, 64, 1), (1, 100, 3), (4, 256, 4), (3, 1024, 2), (1, 520, 1), (2, 33, 2)] {
                for len in [4, 16, 32, 64, 65, 100, 128] {
                    n += 1;
                    let pass: Vec<u8> = (0..n as usize % 40).map(|i| i as u8 ^ 0x5c).collect();
                    let salt = [n as u8; 32];
                    assert_eq!(ours(id, &pass, &salt, t, m, p, len), oracle(id, &pass, &salt, t, m, p, len), "id={id} t={t} m={m} p={p} len={len}");
                }
            }
        }
    }

    #[test]
    fn refusals() {
        let mut mem = vec![[0u64; 128]; 8];
        let mut out = [0u8; 32];
        assert_eq!(hash(true, b"p", b"saltsalt", 0, 8, 1, &mut mem, &mut out), Err(Error::Params));
        assert_eq!(hash(true, b"p", b"short", 1, 8, 1, &mut mem, &mut out), Err(Error::Params));
        assert_eq!(hash(true, b"p", b"saltsalt", 1, 7, 1, &mut mem, &mut out), Err(Error::Params));
        assert_eq!(hash(true, b"p", b"saltsalt", 1, 16, 1, &mut mem, &mut out), Err(Error::Memory));
    }
}

/// `cargo test --release --lib --target x86_64-unknown-linux-gnu -- --ignored argon2::speed --nocapture`
#[cfg(test)]
mod speed {
    #[test]
    #[ignore]
    fn against_the_argon2_crate() {
        let (t, m, p) = (2, 256 * 1024, 1);
        let start = std::time::Instant::now();
        let a = super::tests::ours_pub(true, b"pw", &[7; 32], t, m, p, 64);
        let ours = start.elapsed();
        let start = std::time::Instant::now();
        let b = super::tests::oracle_pub(true, b"pw", &[7; 32], t, m, p, 64);
        let crate_time = start.elapsed();
        assert_eq!(a, b);
        println!("argon2id t={t} m={} MiB p={p}: ours {ours:?}, the argon2 crate {crate_time:?}", m / 1024);
    }
}
