//! The decoders' fast copies: a match or a literal run moved 8 bytes at a
//! time, inline, where the buffers have room for the last block to run
//! over (checked once per copy, before it starts). Under QEMU's TCG a call
//! to `memmove` and its return (an indirect jump: a translation-block
//! lookup) cost more than a short copy itself, and the per-block bounds
//! checks of safe slice copies each end a translated block. Anything
//! without the room is left to the callers' checked copies (`false`).

/// `v`, through an empty `asm!` the optimiser cannot see into: it stays
/// a whole 8-byte value in a register. Without it the compiler merges
/// two 8-byte copies into one 16-byte SSE copy, which TCG runs more
/// slowly (through the vector registers in memory), and reads words it
/// takes apart one byte at a time (the CRC).
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn opaque(mut v: u64) -> u64 {
    // SAFETY: an empty instruction string: nothing is read or written.
    unsafe {
        core::arch::asm!("/* {0} */", inout(reg) v, options(pure, nomem, nostack, preserves_flags));
    }
    v
}

/// Copies `len` bytes from `dist` bytes back to `op` in `dst`, overlap
/// allowed (LZ77: the output repeats with period `dist`). Does nothing
/// and returns `false` unless `1 <= dist <= op` and `op + len + 8 <=
/// dst.len()`.
#[inline(always)]
#[allow(unsafe_code)]
pub fn match_copy(dst: &mut [u8], op: usize, dist: usize, len: usize) -> bool {
    // One test of everything (no short-circuit: each branch would end a
    // translated block): 1 <= dist <= op, op + len + 8 <= dst.len().
    let room = dst.len().saturating_sub(op);
    if !((dist.wrapping_sub(1) < op) & (len <= room) & (room.wrapping_sub(len) >= 8)) {
        return false;
    }
    let p = dst.as_mut_ptr();
    // Below 8 bytes back, the first bytes go one at a time until the copy
    // can read 8-byte blocks a whole number of periods back, every byte
    // of which is already written.
    // (The smallest multiple of `dist` from 8 on, looked up: a division
    // is a helper call under TCG.)
    const BACK: [u8; 8] = [8, 8, 8, 9, 8, 10, 12, 14];
    let (mut k, back) = if dist >= 8 { (0, dist) } else { let back = BACK[dist] as usize; (back - dist, back) };
    // SAFETY: `dist <= op` and `op + len + 8 <= dst.len()` (checked
    // above). The byte loop reads `op + i - dist >= 0` and writes `op + i`
    // for i < k < 8 <= len + 8. The block loop, for k < len, reads 8 bytes
    // at `op + k - back`, which is at least `op - dist` (k >= back - dist)
    // and ends at `op + k - back + 8 <= op + k` (back >= 8): in `dst`, and
    // written already; it writes 8 bytes at `op + k`, ending before
    // `op + len + 8 <= dst.len()`. Unaligned accesses of plain bytes.
    unsafe {
        for i in 0..k.min(len) {
            *p.add(op + i) = *p.add(op + i - dist);
        }
        while k < len {
            let v = opaque(p.add(op + k - back).cast::<u64>().read_unaligned());
            p.add(op + k).cast::<u64>().write_unaligned(v);
            k += 8;
        }
    }
    true
}

/// [`match_copy`]'s checked form, for the rest (near the end of `dst`),
/// shared by the decoders: the new end of the output, or why not —
/// `Err(true)` for a distance of 0 or before the start, `Err(false)` for
/// a match running past the end.
#[inline(never)]
pub fn match_checked(dst: &mut [u8], op: usize, dist: usize, len: usize) -> Result<usize, bool> {
    if dist == 0 || dist > op {
        return Err(true);
    }
    let end = op.checked_add(len).filter(|&e| e <= dst.len()).ok_or(false)?;
    let from = op - dist;
    if dist >= len {
        dst.copy_within(from..from + len, op);
    } else if dist == 1 {
        let b = dst[from];
        dst[op..end].fill(b);
    } else {
        // The output is periodic with period `dist` from `from` on: each
        // step may copy as much as has been written since `from`, a
        // multiple of `dist`, so the copies double in size.
        let mut done = 0;
        while done < len {
            let span = (done + dist) / dist * dist;
            let n = span.min(len - done);
            let src = op + done - span;
            dst.copy_within(src..src + n, op + done);
            done += n;
        }
    }
    Ok(end)
}

/// Copies a short run (`n <= 64`) from `src` at `ip` to `dst` at `op`,
/// 8 bytes at a time (the values kept in registers: no SSE, and no loop
/// the compiler could turn back into a `memcpy` call). Does nothing and
/// returns `false` unless `n <= 64` and both sides have `n + 8` bytes
/// from there.
#[inline(always)]
#[allow(unsafe_code)]
pub fn run_copy(src: &[u8], ip: usize, dst: &mut [u8], op: usize, n: usize) -> bool {
    // One test, as in `match_copy` (n + 8 cannot wrap where n <= 64).
    let need = n.wrapping_add(8);
    if !((n <= 64) & (src.len().saturating_sub(ip) >= need) & (dst.len().saturating_sub(op) >= need)) {
        return false;
    }
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
    let mut k = 0;
    // SAFETY: every block read starts at `ip + k` with k < max(n, 1) and
    // ends by `ip + n + 8 <= src.len()`; every block written likewise
    // ends by `op + n + 8 <= dst.len()` (checked above, without
    // overflow). `src` and `dst` are distinct slices.
    unsafe {
        loop {
            let v = opaque(s.add(ip + k).cast::<u64>().read_unaligned());
            d.add(op + k).cast::<u64>().write_unaligned(v);
            k += 8;
            if k >= n {
                break;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_agree_with_a_byte_loop() {
        for dist in 1..40 {
            for len in 0..70 {
                for op in [dist, dist + 3, 50] {
                    let mut a: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
                    let mut b = a.clone();
                    let done = match_copy(&mut a, op, dist, len);
                    assert_eq!(done, op >= dist && op + len + 8 <= 200, "dist {dist} len {len} op {op}");
                    if done {
                        for i in 0..len {
                            b[op + i] = b[op + i - dist];
                        }
                        assert_eq!(a[..op + len], b[..op + len], "dist {dist} len {len} op {op}");
                    }
                }
            }
        }
        let mut a = [0u8; 32];
        assert!(!match_copy(&mut a, 4, 0, 4), "distance 0");
        assert!(!match_copy(&mut a, 4, 5, 4), "before the start");
        assert!(!match_copy(&mut a, 20, 4, 5), "no room for the last block");
        assert!(!match_copy(&mut a, 30, 4, usize::MAX - 3), "a length that wraps");
    }

    #[test]
    fn runs_copy_and_refuse_without_room() {
        let src: Vec<u8> = (0..100u8).collect();
        let mut dst = [0u8; 100];
        for n in 0..=64 {
            let mut dst = [0u8; 100];
            assert!(run_copy(&src, 5, &mut dst, 7, n));
            assert_eq!(dst[7..7 + n], src[5..5 + n]);
        }
        assert!(!run_copy(&src, 5, &mut dst, 7, 65), "more than 64");
        assert!(!run_copy(&src, 85, &mut dst, 0, 10), "source too short");
        assert!(!run_copy(&src, 0, &mut dst, 85, 10), "no room in the output");
        assert!(!run_copy(&src, 101, &mut dst, 0, 1), "start past the end");
        assert!(!run_copy(&src, 0, &mut dst, 0, usize::MAX - 4), "a length that wraps");
    }
}
