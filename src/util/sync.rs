//! The lock helpers every module uses. A poisoned lock (a thread panicked holding it) is
//! taken over as it is: the engine's state under each lock is kept consistent between
//! statements that can panic, and a panic is reported to the caller at the C boundary, so
//! refusing every later call would turn one bug into a dead handle.

use std::sync::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `m`, taking it over when poisoned.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Takes `l` for reading, taking it over when poisoned.
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

/// Takes `l` for writing, taking it over when poisoned.
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// Waits on `cv`, taking the lock back over when poisoned.
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(|p| p.into_inner())
}

/// Takes the value out of a lock being dropped, poisoned or not.
pub(crate) fn into_inner<T>(l: RwLock<T>) -> T {
    l.into_inner().unwrap_or_else(|p| p.into_inner())
}
