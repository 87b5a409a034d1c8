//! The one clock: `CLOCK_MONOTONIC` (through the vDSO, which rustix finds
//! from the auxiliary vector `rt::entry` hands it), in nanoseconds for the
//! loader's and writer's phase times and in milliseconds for waits and
//! messages; and sleeping.

/// `CLOCK_MONOTONIC` in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
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
