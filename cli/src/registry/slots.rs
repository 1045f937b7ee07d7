//! A counting semaphore, bounding how much work is in flight at once.

use std::sync::{Condvar, Mutex};

/// A counting semaphore: [`Slots::take`] waits for a free slot, held until dropped.
pub struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A slot of [`Slots`], given back when dropped.
pub struct Slot<'a>(&'a Slots);

impl Slots {
    /// A semaphore with `n` slots.
    pub fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot and takes it.
    pub fn take(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}
