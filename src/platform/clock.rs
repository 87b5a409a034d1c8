//! The one clock: `CLOCK_MONOTONIC`, in nanoseconds for the loader's and
//! writer's phase times and in milliseconds for waits and messages; and
//! sleeping.

/// `CLOCK_MONOTONIC` in nanoseconds, by the system call: it is read a few
/// times per megabyte of image, where the vDSO's saving (some 100 ns a
/// call) is nothing, and rustix's lookup of the vDSO cost 2.5 KiB of binary.
pub fn monotonic_ns() -> u64 {
    use linux_raw_sys::general::{__NR_clock_gettime, __kernel_timespec, CLOCK_MONOTONIC};
    let mut ts = __kernel_timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: the kernel writes one timespec into `ts`, which lives
    // through the call; CLOCK_MONOTONIC always exists.
    let _ = unsafe { crate::arch::syscall5(__NR_clock_gettime, CLOCK_MONOTONIC as usize, &raw mut ts as usize, 0, 0, 0) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
}

/// Monotonic time in milliseconds.
pub fn now_ms() -> u64 {
    monotonic_ns() / 1_000_000
}

/// Sleeps for `ms` milliseconds.
pub fn sleep_ms(ms: u64) {
    let t = rustix::time::Timespec { tv_sec: (ms / 1000) as i64, tv_nsec: ((ms % 1000) * 1_000_000) as i64 };
    let _ = rustix::thread::nanosleep(&t);
}

/// The monotonic clock, for the loader's and writer's phase times.
pub struct Monotonic;

impl resume_init::image::Clock for Monotonic {
    fn now_ns(&self) -> u64 {
        monotonic_ns()
    }
}
