//! Running a job on every element of a batch, on worker threads or in
//! turn: the seam between the pure loader and writer, which say what to
//! do with each chunk, and the system side, which has the threads.

/// Runs a job on every element of a batch.
pub trait ForEach<T> {
    /// How many elements to hand over at once.
    fn threads(&self) -> usize;
    /// Calls `f` on every element, possibly at once; returns when all are done.
    fn for_each(&self, items: &mut [T], f: &(dyn Fn(&mut T) + Sync));
    /// [`for_each`](Self::for_each), with the calling thread running
    /// `beside` first (while the other threads start on the elements),
    /// then helping with what is left.
    fn for_each_beside(&self, items: &mut [T], f: &(dyn Fn(&mut T) + Sync), beside: &mut dyn FnMut()) {
        beside();
        self.for_each(items, f)
    }
}

/// Every element in turn, on the calling thread.
pub struct Serial;

impl<T> ForEach<T> for Serial {
    fn threads(&self) -> usize {
        1
    }
    fn for_each(&self, items: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
        items.iter_mut().for_each(f)
    }
}

/// For tests: every element on a thread of its own (std threads).
#[cfg(test)]
pub(crate) struct Threads(pub usize);

#[cfg(test)]
impl<T: Send> ForEach<T> for Threads {
    fn threads(&self) -> usize {
        self.0
    }
    fn for_each(&self, items: &mut [T], f: &(dyn Fn(&mut T) + Sync)) {
        std::thread::scope(|s| {
            for it in items.iter_mut() {
                s.spawn(|| f(it));
            }
        });
    }
}
