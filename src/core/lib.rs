//! The pure core of resume-init: parsers and on-disk probes, no system calls.
//!
//! Everything here works on byte slices handed in by the caller, so it is
//! `#![no_std]`, free of `unsafe`, and unit-tested on the host
//! (`cargo hosttest`). The binary (`src/main.rs`) is the thin shell around it
//! that performs the system calls.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod btrfs;
pub mod bytes;
pub mod cmdline;
pub mod cpio;
pub use codec::{crc32, lz4, lzo, lzo_compress};
pub mod devspec;
pub mod efi;
pub mod hibfile;
pub mod errno;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz_targets;
pub mod image;
pub mod json;
pub mod luks;
pub mod lvm;
pub mod modlist;
pub mod par;
pub mod parttable;
pub mod probe;
pub mod resume_source;
pub mod swsusp;
pub mod text;
pub mod writer;
