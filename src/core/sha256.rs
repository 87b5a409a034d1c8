//! SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and PBKDF2-HMAC-SHA256
//! (RFC 8018), for LUKS2's header checksums, anti-forensic merge and
//! digests. Own code, written as loops, for size: RustCrypto's `sha2`,
//! `hmac` and `pbkdf2` (with their `digest` plumbing and a SHA-NI path)
//! cost about 5 KiB of the binary, this about 1.5. They stay as the
//! oracle in the tests. No SHA-NI: PBKDF2 of a LUKS2 digest (some 100 000
//! iterations) takes a few tenths of a second instead of a few hundredths.

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];
const H0: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// A running SHA-256.
#[derive(Clone)]
pub struct Sha256 {
    h: [u32; 8],
    buf: [u8; 64],
    fill: usize,
    len: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256 { h: H0, buf: [0; 64], fill: 0, len: 0 }
    }

    fn block(&mut self) {
        let mut w = [0u32; 64];
        for (i, c) in self.buf.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let mut v = self.h;
        for i in 0..64 {
            let [a, b, c, d, e, f, g, h] = v;
            let t1 = h
                .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
                .wrapping_add((e & f) ^ (!e & g))
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22)).wrapping_add((a & b) ^ (a & c) ^ (b & c));
            v = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
        }
        for (h, x) in self.h.iter_mut().zip(v) {
            *h = h.wrapping_add(x);
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let n = (64 - self.fill).min(data.len());
            self.buf[self.fill..self.fill + n].copy_from_slice(&data[..n]);
            self.fill += n;
            data = &data[n..];
            if self.fill == 64 {
                self.block();
                self.fill = 0;
            }
        }
    }

    pub fn finish(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        self.update(&[0x80]);
        while self.fill != 56 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        let mut out = [0u8; 32];
        for (o, h) in out.chunks_exact_mut(4).zip(self.h) {
            o.copy_from_slice(&h.to_be_bytes());
        }
        out
    }
}

/// SHA-256 of the concatenated parts.
pub fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    parts.iter().for_each(|p| h.update(p));
    h.finish()
}

/// HMAC-SHA256 with a key prepared once: the hashes after the inner and
/// outer pads.
#[derive(Clone)]
struct Hmac {
    inner: Sha256,
    outer: Sha256,
}

impl Hmac {
    fn new(key: &[u8]) -> Hmac {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&digest(&[key]));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let (mut inner, mut outer) = (Sha256::new(), Sha256::new());
        inner.update(&k.map(|b| b ^ 0x36));
        outer.update(&k.map(|b| b ^ 0x5c));
        k.fill(0);
        Hmac { inner, outer }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut i = self.inner.clone();
        parts.iter().for_each(|p| i.update(p));
        let mut o = self.outer.clone();
        o.update(&i.finish());
        o.finish()
    }
}

/// PBKDF2-HMAC-SHA256 of `pass` and `salt`, `rounds` iterations, into `out`.
pub fn pbkdf2(pass: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    let prf = Hmac::new(pass);
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut u = prf.mac(&[salt, &(i as u32 + 1).to_be_bytes()]);
        let mut t = u;
        for _ in 1..rounds {
            u = prf.mac(&[&u]);
            t.iter_mut().zip(u).for_each(|(a, b)| *a ^= b);
        }
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn agrees_with_rustcrypto() {
        for n in [0usize, 1, 55, 56, 63, 64, 65, 119, 120, 1000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 31 + n) as u8).collect();
            assert_eq!(digest(&[&data]), <[u8; 32]>::from(sha2::Sha256::digest(&data)), "{n} bytes");
            let (a, b) = data.split_at(n / 3);
            assert_eq!(digest(&[a, b]), digest(&[&data]));
        }
        for (pass, rounds, len) in [(&b"passwd"[..], 1u32, 64usize), (b"", 3, 20), (&[7u8; 100], 50, 33), (b"Password", 1000, 32)] {
            let mut ours = vec![0u8; len];
            let mut theirs = vec![0u8; len];
            pbkdf2(pass, b"salt NaCl", rounds, &mut ours);
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pass, b"salt NaCl", rounds, &mut theirs);
            assert_eq!(ours, theirs, "{rounds} rounds, {len} bytes");
        }
    }
}
