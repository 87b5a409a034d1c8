//! Start-up and the few things libc would otherwise provide: `_start`, the
//! `mem*` functions the compiler calls, `execve`, `exit_group`, the panic
//! handler. With `ioctl.rs` and `sys.rs` this is one of the only modules
//! allowed `unsafe` (`main.rs` denies it everywhere else).
//!
//! Follows origin's three steps: a naked `_start` hands the stack pointer
//! to `entry`, which finds argc/argv/envp and calls the program.

use core::arch::{asm, naked_asm};

/// The process arguments as the kernel laid them out on the stack. Made
/// only by [`entry`] from the real stack, so its pointers are always valid.
#[derive(Clone, Copy)]
pub struct Args {
    argc: usize,
    /// NULL-terminated array of `argc` NUL-terminated strings.
    argv: *const *const u8,
    /// NULL-terminated array of environment strings.
    envp: *const *const u8,
}

/// The kernel passes at most 32 arguments to init (`MAX_INIT_ARGS`).
pub const MAX_INIT_ARGS: usize = 32;

impl Args {
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// Argument `i` as bytes, if present.
    pub fn arg(&self, i: usize) -> Option<&'static [u8]> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: `Args` comes only from `entry`, and the kernel guarantees
        // argv[0..argc] are valid pointers to NUL-terminated strings that
        // live for the whole process.
        unsafe { Some(cstr_bytes(*self.argv.add(i))) }
    }

    /// Execs `path` with these arguments (argv[0] replaced by `path`, at
    /// most [`MAX_INIT_ARGS`]) and this environment, as the kernel starts
    /// init. Returns only on failure.
    pub fn exec(&self, path: &core::ffi::CStr) -> rustix::io::Errno {
        let mut argv = [core::ptr::null::<u8>(); MAX_INIT_ARGS + 1];
        argv[0] = path.as_ptr().cast();
        for (i, slot) in argv.iter_mut().enumerate().take(self.argc.min(MAX_INIT_ARGS)).skip(1) {
            // SAFETY: i < argc: a valid pointer to a NUL-terminated string (see `arg`).
            *slot = unsafe { *self.argv.add(i) };
        }
        // SAFETY: path is NUL-terminated; argv holds valid strings and
        // ends with NULL (its last slot is never filled); envp is the
        // kernel-given environment.
        unsafe { execve(path.as_ptr().cast(), argv.as_ptr(), self.envp) }
    }
}

/// The bytes of a NUL-terminated string, without the NUL.
///
/// # Safety
/// `p` must point to a NUL-terminated string that lives for `'static`.
unsafe fn cstr_bytes(p: *const u8) -> &'static [u8] {
    // SAFETY: per the contract, every byte up to the NUL is readable.
    unsafe { core::slice::from_raw_parts(p, strlen(p)) }
}

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
        entry = sym entry,
    )
}

/// Reads argc/argv/envp from the initial stack, hands the auxiliary vector
/// to rustix, and runs the program.
unsafe extern "C" fn entry(sp: *const usize) -> ! {
    // SAFETY: at process start `sp` points at argc, followed by argc argv
    // pointers, a NULL, the environment pointers, a NULL and the auxv.
    let args = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        let envp = argv.add(argc + 1);
        rustix::param::init(envp as *mut *mut u8);
        Args { argc, argv, envp }
    };
    crate::main(args)
}

/// `execve(2)`; returns only on failure.
///
/// # Safety
/// `path` must be a NUL-terminated string, `argv` and `envp` NULL-terminated
/// arrays of NUL-terminated strings, all valid for the call.
unsafe fn execve(path: *const u8, argv: *const *const u8, envp: *const *const u8) -> rustix::io::Errno {
    let ret: isize;
    // SAFETY: per this function's contract; execve reads them and only
    // returns on failure.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") linux_raw_sys::general::__NR_execve as isize => ret,
            in("rdi") path,
            in("rsi") argv,
            in("rdx") envp,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    rustix::io::Errno::from_raw_os_error(resume_init::errno::Errno::new(ret as i32).raw())
}

/// `exit_group(2)`: for the command-line modes only, never for PID 1.
pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes an int and does not return.
    unsafe {
        asm!(
            "syscall",
            in("rax") linux_raw_sys::general::__NR_exit_group,
            in("rdi") code,
            options(noreturn, nostack),
        );
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::log::error_args(format_args!("internal error, please report: {}", info.message()));
    if let Some(l) = info.location() {
        crate::log::error_args(format_args!("  at {}:{}", l.file(), l.line()));
    }
    // A command (inspect, hibernate) exits: closing /dev/snapshot thaws a
    // frozen system. Only PID 1 may not exit; nor may the writer with a
    // committed image on disk: it powers off, and the image is restored.
    if crate::sys::image_pending() {
        crate::log::error_args(format_args!("a committed hibernation image is on disk: powering off instead of going on"));
        crate::sys::power_off_for_good();
    }
    if rustix::process::getpid() != rustix::process::Pid::INIT {
        exit(101);
    }
    crate::hold()
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
