//! The `mem*` functions the compiler emits calls to that need no
//! assembly (`memcmp`, `bcmp`, `strlen`), and the self-test of all of them;
//! the copying ones are per architecture (`arch`).

/// # Safety
/// As C `memcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees n readable bytes at both.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// # Safety
/// As C `strlen`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller guarantees a NUL-terminated string at s.
    while unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    n
}

/// # Safety
/// As C `bcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// Checks `memcpy`, `memmove` and `memset` above: every size 0..=300 and
/// some from 511 to 880 (`rep movsq`), at several alignments, overlapping
/// both ways, against a byte-by-byte reference.
/// Run by `resume-init selftest` in the test suite.
#[cfg(feature = "selftest")]
pub fn selftest_mem() -> bool {
    let mut a = [0u8; 1024];
    let mut b = [0u8; 1024];
    let mut ok = true;
    for n in (0..=300usize).chain([511, 512, 513, 520, 527, 640, 879, 880]) {
        for (so, d) in [(0usize, 0usize), (1, 3), (7, 0), (15, 9), (3, 64)] {
            for (i, x) in a.iter_mut().enumerate() {
                *x = (i * 7 + n) as u8;
            }
            b.fill(0xEE);
            // SAFETY: both ranges lie inside the arrays and do not overlap.
            unsafe { core::ptr::copy_nonoverlapping(a.as_ptr().add(so), b.as_mut_ptr().add(d), core::hint::black_box(n)) };
            ok &= (0..1024).all(|i| {
                let want = if i >= d && i < d + n { a[so + i - d] } else { 0xEE };
                core::hint::black_box(b[i]) == want
            });
            for shift in [1usize, 5, 16, 33] {
                for (i, x) in b.iter_mut().enumerate() {
                    *x = (i * 13) as u8;
                }
                let orig = b;
                // SAFETY: source and destination lie inside b (overlapping).
                unsafe { core::ptr::copy(b.as_ptr().add(100), b.as_mut_ptr().add(100 + shift), core::hint::black_box(n)) };
                ok &= (0..n).all(|i| core::hint::black_box(b[100 + shift + i]) == orig[100 + i]);
                b = orig;
                // SAFETY: as above, the other direction.
                unsafe { core::ptr::copy(b.as_ptr().add(100 + shift), b.as_mut_ptr().add(100), core::hint::black_box(n)) };
                ok &= (0..n).all(|i| core::hint::black_box(b[100 + i]) == orig[100 + shift + i]);
            }
            for (i, x) in b.iter_mut().enumerate() {
                *x = i as u8 | 1;
            }
            // SAFETY: d + n <= 944 lies inside b.
            unsafe { core::ptr::write_bytes(b.as_mut_ptr().add(d), core::hint::black_box(0xA4), core::hint::black_box(n)) };
            ok &= (0..1024).all(|i| core::hint::black_box(b[i]) == if i >= d && i < d + n { 0xA4 } else { i as u8 | 1 });
        }
    }
    ok
}
