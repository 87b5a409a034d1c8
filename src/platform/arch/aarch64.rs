//! arm64: the ELF entry point, the copying `mem*` functions, the raw
//! system call for what rustix does not wrap, and starting a thread on its
//! own stack. The same interface as `x86_64.rs`; system calls are `svc 0`
//! with the number in x8 and arguments in x0–x5, and the kernel keeps
//! every register but x0.

use core::arch::{asm, naked_asm};

/// The kernels whose images this build can hand to its kernel (of its
/// own build only: `resume::foreign_kernel`).
pub const IMAGE_ARCH: resume_init::swsusp::Arch = resume_init::swsusp::Arch::Arm64;

/// The ELF entry point: clears the frame pointer and link register,
/// passes the initial stack pointer (16-byte aligned by the kernel) to
/// [`entry`].
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "mov x29, xzr",
        "mov x30, xzr",
        "mov x0, sp",
        "bl {entry}",
        "brk #0",
        entry = sym crate::rt::entry,
    )
}

// The `mem*` functions the compiler emits calls to, in assembly so the
// optimiser cannot turn them back into calls to themselves. Small copies
// use two overlapping loads and stores of 1, 2, 4 or 8 bytes; from 16
// bytes on, 64-byte blocks of `ldp`/`stp` pairs, then 16 at a time, and
// the last 16 bytes (loaded first) stored over the end.

/// # Safety
/// As C `memcpy`: `n` bytes valid at both, not overlapping.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    naked_asm!(
        "mov x3, x0",
        "cmp x2, #16",
        "b.lo 5f",
        // n >= 16: the last 16 bytes kept for the end.
        "add x4, x1, x2",
        "ldp x6, x7, [x4, #-16]",
        "add x5, x0, x2",
        "cmp x2, #64",
        "b.lo 3f",
        "2:",
        "ldp x8, x9, [x1]",
        "ldp x10, x11, [x1, #16]",
        "ldp x12, x13, [x1, #32]",
        "ldp x14, x15, [x1, #48]",
        "stp x8, x9, [x3]",
        "stp x10, x11, [x3, #16]",
        "stp x12, x13, [x3, #32]",
        "stp x14, x15, [x3, #48]",
        "add x1, x1, #64",
        "add x3, x3, #64",
        "sub x2, x2, #64",
        "cmp x2, #64",
        "b.hs 2b",
        "3:",
        "cmp x2, #16",
        "b.lo 4f",
        "ldp x8, x9, [x1], #16",
        "stp x8, x9, [x3], #16",
        "sub x2, x2, #16",
        "b 3b",
        "4:",
        "stp x6, x7, [x5, #-16]",
        "ret",
        // n < 16
        "5:",
        "add x4, x1, x2",
        "add x5, x0, x2",
        "cmp x2, #8",
        "b.lo 6f",
        "ldr x6, [x1]",
        "ldur x7, [x4, #-8]",
        "str x6, [x0]",
        "stur x7, [x5, #-8]",
        "ret",
        "6:",
        "cmp x2, #4",
        "b.lo 7f",
        "ldr w6, [x1]",
        "ldur w7, [x4, #-4]",
        "str w6, [x0]",
        "stur w7, [x5, #-4]",
        "ret",
        "7:",
        "cbz x2, 8f",
        "ldrb w6, [x1]",
        "strb w6, [x0]",
        "cmp x2, #2",
        "b.lo 8f",
        "ldurh w7, [x4, #-2]",
        "sturh w7, [x5, #-2]",
        "8:",
        "ret",
    )
}

/// # Safety
/// As C `memmove`. Forward in 16-byte blocks (each loaded before it is
/// stored) when the destination lies before the source or apart from it,
/// else backward from the end; single bytes for the rest.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    naked_asm!(
        "sub x3, x0, x1",
        "cmp x3, x2",
        "b.lo 4f",
        "mov x3, x0",
        "2:",
        "cmp x2, #16",
        "b.lo 3f",
        "ldp x4, x5, [x1], #16",
        "stp x4, x5, [x3], #16",
        "sub x2, x2, #16",
        "b 2b",
        "3:",
        "cbz x2, 6f",
        "ldrb w4, [x1], #1",
        "strb w4, [x3], #1",
        "sub x2, x2, #1",
        "b 3b",
        // dst inside [src, src + n): backward.
        "4:",
        "add x1, x1, x2",
        "add x3, x0, x2",
        "5:",
        "cmp x2, #16",
        "b.lo 7f",
        "ldp x4, x5, [x1, #-16]!",
        "stp x4, x5, [x3, #-16]!",
        "sub x2, x2, #16",
        "b 5b",
        "7:",
        "cbz x2, 6f",
        "ldrb w4, [x1, #-1]!",
        "strb w4, [x3, #-1]!",
        "sub x2, x2, #1",
        "b 7b",
        "6:",
        "ret",
    )
}

/// # Safety
/// As C `memset`: 16-byte pair stores and one overlapping pair for the
/// tail, 8-byte ones below 16 bytes, single bytes below 8.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    naked_asm!(
        "and w1, w1, #0xff",
        "orr w1, w1, w1, lsl #8",
        "orr w1, w1, w1, lsl #16",
        "orr x1, x1, x1, lsl #32",
        "mov x3, x0",
        "add x5, x0, x2",
        "cmp x2, #16",
        "b.lo 3f",
        "stp x1, x1, [x5, #-16]",
        "2:",
        "stp x1, x1, [x3], #16",
        "sub x2, x2, #16",
        "cmp x2, #16",
        "b.hs 2b",
        "ret",
        "3:",
        "cmp x2, #8",
        "b.lo 4f",
        "str x1, [x0]",
        "stur x1, [x5, #-8]",
        "ret",
        "4:",
        "cbz x2, 5f",
        "strb w1, [x3], #1",
        "sub x2, x2, #1",
        "b 4b",
        "5:",
        "ret",
    )
}

/// A raw system call of up to five arguments, for the few calls rustix
/// does not wrap (the kernel keyring's `add_key` and `keyctl`, `execve`
/// with the kernel's own argument vectors). Returns the result or the
/// error.
///
/// # Safety
/// The arguments must be what call `nr` expects: pointers valid for what
/// it reads and writes.
pub unsafe fn syscall5(nr: u32, a: usize, b: usize, c: usize, d: usize, e: usize) -> Result<usize, rustix::io::Errno> {
    let ret: isize;
    // SAFETY: per this function's contract.
    unsafe {
        asm!(
            "svc 0",
            in("x8") nr as usize,
            inlateout("x0") a as isize => ret,
            in("x1") b,
            in("x2") c,
            in("x3") d,
            in("x4") e,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) { Err(rustix::io::Errno::from_raw_os_error(-ret as i32)) } else { Ok(ret as usize) }
}

/// `clone(2)` of a thread onto the stack whose top is `top` (16-byte
/// aligned), running `entry(arg)` there; returns the new thread's id, or
/// the negated error. arm64's order: flags, stack, parent_tid, tls,
/// child_tid.
///
/// # Safety
/// `top` is the top of a mapped stack nothing else uses; `tid` is valid
/// for the thread's life (`CLONE_CHILD_CLEARTID`); `entry` never returns.
pub unsafe fn clone_thread(flags: usize, top: usize, tid: *mut u32, entry: extern "C" fn(usize) -> !, arg: usize) -> isize {
    let ret: isize;
    // SAFETY: the child starts on its fresh stack with x0 = 0 and never
    // returns into this frame: frame pointer and link register cleared,
    // it branches to `entry` with `arg` in x0. x9 and x10 survive the call.
    unsafe {
        asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x10",
            "br x9",
            "2:",
            in("x8") linux_raw_sys::general::__NR_clone as usize,
            inlateout("x0") flags as isize => ret,
            in("x1") top,
            in("x2") 0usize,
            in("x3") 0usize,
            in("x4") tid,
            in("x9") entry as usize,
            in("x10") arg,
            options(nostack),
        );
    }
    ret
}

/// `getauxval(3)`, which RustCrypto's `cpufeatures` asks libc for on
/// arm64 (`AT_HWCAP`: the SHA-2 instructions); from the auxiliary vector
/// rustix was handed at start-up. Other entries read as absent (0).
#[unsafe(no_mangle)]
pub extern "C" fn getauxval(kind: core::ffi::c_ulong) -> core::ffi::c_ulong {
    const AT_HWCAP: core::ffi::c_ulong = 16;
    const AT_HWCAP2: core::ffi::c_ulong = 26;
    let (hwcap, hwcap2) = rustix::param::linux_hwcap();
    match kind {
        AT_HWCAP => hwcap as core::ffi::c_ulong,
        AT_HWCAP2 => hwcap2 as core::ffi::c_ulong,
        _ => 0,
    }
}

/// `exit_group(2)`: the whole process.
pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group takes an int and does not return.
    unsafe {
        asm!("svc 0", in("x8") linux_raw_sys::general::__NR_exit_group as usize, in("x0") code as isize, options(noreturn, nostack));
    }
}

/// `exit(2)` of the calling thread only; the kernel then clears its tid
/// and wakes the joiner.
pub fn exit_thread() -> ! {
    // SAFETY: exit(2) takes an int and does not return.
    unsafe {
        asm!("svc 0", in("x8") linux_raw_sys::general::__NR_exit as usize, in("x0") 0isize, options(noreturn, nostack));
    }
}
