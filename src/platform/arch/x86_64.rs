//! x86-64: the ELF entry point, the copying `mem*` functions, the raw
//! system call for what rustix does not wrap, and starting a thread on its
//! own stack. Everything else is the same on every architecture.

use core::arch::{asm, naked_asm};

/// The kernels whose images this build can hand to its kernel.
pub const IMAGE_ARCH: resume_init::swsusp::Arch = resume_init::swsusp::Arch::X86_64;

/// The ELF entry point: clears the frame pointer, passes the initial stack
/// pointer to [`entry`] with the stack aligned for a call.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start() -> ! {
    naked_asm!(
        "xor ebp, ebp",
        "mov rdi, rsp",
        "and rsp, -16",
        "call {entry}",
        "ud2",
        entry = sym crate::rt::entry,
    )
}

// The `mem*` functions the compiler emits calls to, in assembly so the
// optimiser cannot turn them back into calls to themselves. Small copies
// (most matches and literals of LZO and LZ4 streams) use two overlapping
// moves of 1, 2, 4, 8 or 16 bytes; large ones an SSE2 loop (baseline
// x86-64) finished by one overlapping 16-byte move; from 512 bytes on
// (pages), `rep movsq` and that move. No `rep movsb`: QEMU's TCG emulates
// it one byte per iteration, which made LZO and LZ4 loads about twice as
// slow there. Page copies in a TCG guest: `rep movsq` 2.1-2.4 GB/s, the
// SSE loop 1.5 GB/s, `rep movsb` 0.3 GB/s; on the host all about 13-14.

/// # Safety
/// As C `memcpy`: `n` bytes valid at both, not overlapping.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    naked_asm!(
        "mov rax, rdi",
        "cmp rdx, 16",
        "jb 5f",
        // n >= 16: keep the last 16 bytes for the end, copy 64, then 16 at a time.
        "movdqu xmm4, [rsi + rdx - 16]",
        "lea r8, [rdi + rdx - 16]",
        "cmp rdx, 512",
        "jb 2f",
        // n >= 512: whole words by `rep movsq` (DF is clear by the ABI).
        "mov rcx, rdx",
        "shr rcx, 3",
        "rep movsq",
        "jmp 4f",
        "2:",
        "cmp rdx, 64",
        "jb 3f",
        "movdqu xmm0, [rsi]",
        "movdqu xmm1, [rsi + 16]",
        "movdqu xmm2, [rsi + 32]",
        "movdqu xmm3, [rsi + 48]",
        "movdqu [rdi], xmm0",
        "movdqu [rdi + 16], xmm1",
        "movdqu [rdi + 32], xmm2",
        "movdqu [rdi + 48], xmm3",
        "add rsi, 64",
        "add rdi, 64",
        "sub rdx, 64",
        "jmp 2b",
        "3:",
        "cmp rdx, 16",
        "jb 4f",
        "movdqu xmm0, [rsi]",
        "movdqu [rdi], xmm0",
        "add rsi, 16",
        "add rdi, 16",
        "sub rdx, 16",
        "jmp 3b",
        "4:",
        "movdqu [r8], xmm4",
        "ret",
        // n < 16
        "5:",
        "cmp rdx, 8",
        "jb 6f",
        "mov rcx, [rsi]",
        "mov r9, [rsi + rdx - 8]",
        "mov [rdi], rcx",
        "mov [rdi + rdx - 8], r9",
        "ret",
        "6:",
        "cmp rdx, 4",
        "jb 7f",
        "mov ecx, [rsi]",
        "mov r9d, [rsi + rdx - 4]",
        "mov [rdi], ecx",
        "mov [rdi + rdx - 4], r9d",
        "ret",
        "7:",
        "test rdx, rdx",
        "jz 8f",
        "movzx ecx, byte ptr [rsi]",
        "mov [rdi], cl",
        "cmp rdx, 2",
        "jb 8f",
        "movzx ecx, word ptr [rsi + rdx - 2]",
        "mov [rdi + rdx - 2], cx",
        "8:",
        "ret",
    )
}

/// # Safety
/// As C `memmove`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // dst before src, or past its end: 16-byte blocks loaded before
        // they are stored, then single bytes, all forward.
        // SAFETY: as the caller guarantees for memmove.
        unsafe {
            asm!(
                "2:",
                "cmp rcx, 16",
                "jb 3f",
                "movdqu xmm0, [rsi]",
                "movdqu [rdi], xmm0",
                "add rsi, 16",
                "add rdi, 16",
                "sub rcx, 16",
                "jmp 2b",
                "3:",
                "test rcx, rcx",
                "jz 4f",
                "mov al, [rsi]",
                "mov [rdi], al",
                "inc rsi",
                "inc rdi",
                "dec rcx",
                "jmp 3b",
                "4:",
                inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _,
                out("xmm0") _, out("al") _,
                options(nostack),
            );
        }
    } else if n > 0 {
        // SAFETY: copy backwards from the last byte with the direction flag
        // set, and clear it again as the ABI requires.
        unsafe {
            asm!("std", "rep movsb", "cld",
                 inout("rcx") n => _, inout("rdi") dst.add(n - 1) => _, inout("rsi") src.add(n - 1) => _,
                 options(nostack));
        }
    }
    dst
}

/// # Safety
/// As C `memset`. 16-byte SSE2 stores and one overlapping store for the
/// tail, 8-byte ones below 16 bytes, single bytes below 8; no `rep stosb`
/// (TCG runs it a byte per iteration, see above).
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    naked_asm!(
        "mov rax, rdi",
        "movzx ecx, sil",
        "movabs r8, 0x0101010101010101",
        "imul rcx, r8",
        "cmp rdx, 16",
        "jb 3f",
        "movq xmm0, rcx",
        "punpcklqdq xmm0, xmm0",
        "movdqu [rdi + rdx - 16], xmm0",
        "2:",
        "movdqu [rdi], xmm0",
        "add rdi, 16",
        "sub rdx, 16",
        "cmp rdx, 16",
        "jae 2b",
        "ret",
        "3:",
        "cmp rdx, 8",
        "jb 4f",
        "mov [rdi], rcx",
        "mov [rdi + rdx - 8], rcx",
        "ret",
        "4:",
        "test rdx, rdx",
        "jz 5f",
        "mov [rdi], cl",
        "inc rdi",
        "dec rdx",
        "jmp 4b",
        "5:",
        "ret",
    )
}


/// A raw system call of up to five arguments, for the few calls rustix
/// does not wrap (the kernel keyring's `add_key` and `keyctl`). Returns
/// the result or the error.
///
/// # Safety
/// The arguments must be what call `nr` expects: pointers valid for what
/// it reads and writes.
pub unsafe fn syscall5(nr: u32, a: usize, b: usize, c: usize, d: usize, e: usize) -> Result<usize, rustix::io::Errno> {
    let ret: isize;
    // SAFETY: per this function's contract.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            in("r8") e,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) { Err(rustix::io::Errno::from_raw_os_error(-ret as i32)) } else { Ok(ret as usize) }
}

/// `clone(2)` of a thread onto the stack whose top is `top` (16-byte
/// aligned), running `entry(arg)` there; returns the new thread's id, or
/// the negated error.
///
/// # Safety
/// `top` is the top of a mapped stack nothing else uses; `tid` is valid
/// for the thread's life (`CLONE_CHILD_CLEARTID`); `entry` never returns.
pub unsafe fn clone_thread(flags: usize, top: usize, tid: *mut u32, entry: extern "C" fn(usize) -> !, arg: usize) -> isize {
    let ret: isize;
    // SAFETY: the child starts on its fresh stack with rax = 0 and never
    // returns into this frame: it pushes a zero return address (the ABI's
    // alignment at a call) and jumps to `entry` with `arg` in rdi. r9 and
    // r12 survive the syscall.
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "push 0",
            "jmp r9",
            "2:",
            inlateout("rax") linux_raw_sys::general::__NR_clone as isize => ret,
            in("rdi") flags,
            in("rsi") top,
            in("rdx") 0usize,
            in("r10") tid,
            in("r8") 0usize,
            in("r9") entry as usize,
            in("r12") arg,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// `exit_group(2)`: the whole process.
pub fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group takes an int and does not return.
    unsafe {
        asm!("syscall", in("rax") linux_raw_sys::general::__NR_exit_group, in("rdi") code, options(noreturn, nostack));
    }
}

/// `exit(2)` of the calling thread only; the kernel then clears its tid
/// and wakes the joiner.
pub fn exit_thread() -> ! {
    // SAFETY: exit(2) takes an int and does not return.
    unsafe {
        asm!("syscall", in("rax") linux_raw_sys::general::__NR_exit, in("rdi") 0, options(noreturn, nostack));
    }
}
