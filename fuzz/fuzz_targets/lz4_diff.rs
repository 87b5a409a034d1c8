#![no_main]
// Body shared with the regression tests: resume_init::fuzz_targets::lz4_diff.
libfuzzer_sys::fuzz_target!(|data: &[u8]| resume_init::fuzz_targets::lz4_diff(data));
