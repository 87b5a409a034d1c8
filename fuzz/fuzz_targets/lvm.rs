#![no_main]
// Body shared with the regression tests: resume_init::fuzz_targets::lvm.
libfuzzer_sys::fuzz_target!(|data: &[u8]| resume_init::fuzz_targets::lvm(data));
