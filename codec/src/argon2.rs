//! The hot loop of Argon2 (RFC 9106 §3.5): the compression function G
//! over 1 KiB blocks, with the BlaMka permutation, applied in place in
//! the KDF's memory. Built at opt-level 3 with the other hot codecs; the
//! rest of Argon2 (Blake2b, H', indexing) is in `resume_init::argon2`.

/// One Argon2 block: 128 little-endian 64-bit words.
pub type Block = [u64; 128];

#[inline(always)]
fn blamka(x: u64, y: u64) -> u64 {
    x.wrapping_add(y).wrapping_add(2u64.wrapping_mul(x & 0xffff_ffff).wrapping_mul(y & 0xffff_ffff))
}

#[inline(always)]
fn gb(v: &mut [u64; 16], a: usize, b: usize, c: usize, d: usize) {
    v[a] = blamka(v[a], v[b]);
    v[d] = (v[d] ^ v[a]).rotate_right(32);
    v[c] = blamka(v[c], v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(24);
    v[a] = blamka(v[a], v[b]);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = blamka(v[c], v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(63);
}

/// The permutation P on sixteen words (a Blake2b round with BlaMka).
#[inline(always)]
fn p(v: &mut [u64; 16]) {
    gb(v, 0, 4, 8, 12);
    gb(v, 1, 5, 9, 13);
    gb(v, 2, 6, 10, 14);
    gb(v, 3, 7, 11, 15);
    gb(v, 0, 5, 10, 15);
    gb(v, 1, 6, 11, 12);
    gb(v, 2, 7, 8, 13);
    gb(v, 3, 4, 9, 14);
}

/// `mem[cur] = G(mem[prev], mem[refb])`, or XORed into `mem[cur]` when
/// `xor` (passes after the first, Argon2 v1.3). Indices out of range do
/// nothing (the caller computes them within the memory).
pub fn compress(mem: &mut [Block], prev: usize, refb: usize, cur: usize, xor: bool) {
    let (Some(a), Some(b)) = (mem.get(prev), mem.get(refb)) else { return };
    let mut r = [0u64; 128];
    for i in 0..128 {
        r[i] = a[i] ^ b[i];
    }
    g_on(&mut r, mem.get_mut(cur), xor);
}

/// The address block of data-independent addressing: G(0, G(0, input)).
pub fn address_block(input: &Block, out: &mut Block) {
    let mut r = *input;
    let mut t = [0u64; 128];
    g_on(&mut r, Some(&mut t), false);
    let mut r2 = t;
    g_on(&mut r2, Some(out), false);
}

/// Q = P(rows) then P(columns) of R; `out` = Q ^ R (^ `out` if `xor`).
fn g_on(r: &mut Block, out: Option<&mut Block>, xor: bool) {
    let mut q = *r;
    for row in 0..8 {
        let mut v = [0u64; 16];
        v.copy_from_slice(&q[row * 16..row * 16 + 16]);
        p(&mut v);
        q[row * 16..row * 16 + 16].copy_from_slice(&v);
    }
    for col in 0..8 {
        let mut v = [0u64; 16];
        for k in 0..8 {
            v[2 * k] = q[2 * col + 16 * k];
            v[2 * k + 1] = q[2 * col + 16 * k + 1];
        }
        p(&mut v);
        for k in 0..8 {
            q[2 * col + 16 * k] = v[2 * k];
            q[2 * col + 16 * k + 1] = v[2 * k + 1];
        }
    }
    let Some(out) = out else { return };
    if xor {
        for i in 0..128 {
            out[i] ^= q[i] ^ r[i];
        }
    } else {
        for i in 0..128 {
            out[i] = q[i] ^ r[i];
        }
    }
}
