//! Start-up and the few things libc would otherwise provide: the program's
//! arguments and environment, `execve`, `exit_group`, the panic handler.
//! The architecture's `_start` (`arch`) hands the stack pointer to
//! [`entry`], which finds argc/argv/envp and calls the program (origin's
//! three steps).


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

    /// The value of environment variable `name`, if set.
    pub fn env(&self, name: &[u8]) -> Option<&'static [u8]> {
        let mut i = 0;
        loop {
            // SAFETY: `envp` is the kernel's NULL-terminated array of
            // NUL-terminated strings that live for the whole process.
            let p = unsafe { *self.envp.add(i) };
            if p.is_null() {
                return None;
            }
            // SAFETY: as above.
            let var = unsafe { cstr_bytes(p) };
            if let Some(v) = var.strip_prefix(name).and_then(|r| r.strip_prefix(b"=")) {
                return Some(v);
            }
            i += 1;
        }
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
        let r = unsafe { crate::arch::syscall5(linux_raw_sys::general::__NR_execve, path.as_ptr() as usize, argv.as_ptr() as usize, self.envp as usize, 0, 0) };
        r.err().unwrap_or(rustix::io::Errno::NOEXEC)
    }
}

/// The bytes of a NUL-terminated string, without the NUL.
///
/// # Safety
/// `p` must point to a NUL-terminated string that lives for `'static`.
unsafe fn cstr_bytes(p: *const u8) -> &'static [u8] {
    // SAFETY: per the contract, every byte up to the NUL is readable.
    unsafe { core::slice::from_raw_parts(p, crate::mem::strlen(p)) }
}

/// `exit_group(2)`: for the command-line modes only, never for PID 1.
pub fn exit(code: i32) -> ! {
    crate::arch::exit_group(code)
}

/// Reads argc/argv/envp from the initial stack, hands the auxiliary vector
/// to rustix, and runs the program.
pub(crate) unsafe extern "C" fn entry(sp: *const usize) -> ! {
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

