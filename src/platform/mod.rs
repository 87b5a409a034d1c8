//! The platform layer: what libc would otherwise be. The architecture's
//! own code (`arch`: entry point, copying `mem*`, raw system calls, thread
//! start), the portable `mem*` functions, start-up and exit (`rt`), the
//! clock, the descriptors and mappings kept for the whole run and the
//! KDF's child process (`sys`), and worker threads. The only place besides
//! `ioctl.rs` where `unsafe` is allowed; everything it offers is safe.

#[allow(unsafe_code)]
pub mod arch;
#[allow(unsafe_code)]
pub mod clock;
#[allow(unsafe_code)]
pub mod mem;
#[allow(unsafe_code)]
pub mod rt;
#[allow(unsafe_code)]
pub mod sys;
#[allow(unsafe_code)]
pub mod thread;
