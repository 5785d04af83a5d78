//! Conditional writes: put-if-absent and compare-and-set. The condition is checked and the
//! record appended under one hold of the writer mutex, so no other writer of the handle can
//! come between them.

use super::state::Engine;
use crate::error::Result;
use crate::options::SyncMode;
use crate::util::sync::lock;

impl Engine {
    /// Writes `new` (a value, or `None` for a deletion) under `key` when the key's current
    /// value is `expected` (`None`: absent). Returns false, writing nothing, when it is not.
    /// Deleting a key that is absent, as expected, writes nothing and returns true.
    pub(crate) fn compare_and_set(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        crate::batch::check_limits(key, new.unwrap_or(&[]))?;
        let hash = self.keydir.prefetch(key);
        let arrival = (self.opts.sync == SyncMode::Always).then(|| self.commit.arrive());
        let mut w = lock(self.writer()?);
        self.check_running()?;
        let current = self.get(key)?;
        if current.as_deref() != expected {
            return Ok(false);
        }
        if new.is_none() && current.is_none() {
            return Ok(true);
        }
        let (value, tombstone) = match new {
            Some(v) => (v, false),
            None => (&[][..], true),
        };
        let seq = self.append_one(&mut w, hash, key, value, tombstone)?;
        drop(arrival);
        drop(w);
        self.wait_if_always(seq)?;
        Ok(true)
    }

    /// Stores `value` under `key` only when the key is absent; returns false, writing
    /// nothing, when it has a value.
    pub(crate) fn put_if_absent(&self, key: &[u8], value: &[u8]) -> Result<bool> {
        crate::batch::check_limits(key, value)?;
        let hash = self.keydir.prefetch(key);
        let arrival = (self.opts.sync == SyncMode::Always).then(|| self.commit.arrive());
        let mut w = lock(self.writer()?);
        self.check_running()?;
        if self.with_live_entry(key, |_, _| Ok(()))?.is_some() {
            return Ok(false);
        }
        let seq = self.append_one(&mut w, hash, key, value, false)?;
        drop(arrival);
        drop(w);
        self.wait_if_always(seq)?;
        Ok(true)
    }
}
