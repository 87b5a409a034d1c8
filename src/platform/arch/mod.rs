//! What differs by architecture, one file each: the ELF entry point, the
//! copying `mem*` functions, the raw system call for the few calls rustix
//! does not wrap, and starting a thread on its own stack.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;
