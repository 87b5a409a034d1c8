//! The hot loops of resume-init, in a crate of their own so that the
//! release profile can build them for speed (`opt-level = 3`) while the
//! rest of the binary is built for size: LZO1X decoding (`lzo`) and
//! encoding (`lzo_compress`) and CRC-32 (`crc32`). `#![no_std]`, no
//! allocation; the core
//! re-exports them under its own name.
//!
//! `unsafe` is denied but for a few marked places where bounds checks cost
//! most under QEMU's TCG, each after one check that covers everything it
//! touches: the decoders' 8-byte block copies (`copy`, and LZ4's two-stage
//! shortcut), the encoder's reads inside a block, an empty `asm!` that
//! keeps values in registers, and the `link_section` that puts the
//! encoder's block and the CRC in `.text.hot` (see `lzo_compress::block`).
//! The decoders read untrusted bytes: their checks are exercised against
//! reference decoders by the `lzo_diff` and `lz4_diff` fuzz targets (with
//! AddressSanitizer), and by unit tests.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

mod copy;
pub mod crc32;
pub mod lz4;
pub mod lzo;
pub mod lzo_compress;

/// The largest compressed chunk a hibernation-image loader accepts
/// (`lzo1x_worst_compress(131072)`), for the encoder's tests.
#[cfg(test)]
const MAX_CMP_LEN: usize = 139_333;
