//! Keys with a time to live. A put that expires carries its expiry in its record (see
//! `record::FLAG_EXPIRES`), and its key directory entry carries one bit saying so; from the
//! expiry on (as the handle's `Clock` reads it), every read treats the key as absent, while
//! its record stays where it is until a compaction drops it. Expiring and persisting a key
//! rewrite its record with the new expiry: one record, as atomic and durable as any put.

use std::time::Duration;

use super::state::Engine;
use crate::datafile::DataFile;
use crate::error::{Error, Result};
use crate::keydir::Location;
use crate::options::SyncMode;
use crate::record;
use crate::util::sync::lock;

impl Engine {
    /// The time expiry is compared with (milliseconds since the Unix epoch).
    pub(crate) fn now(&self) -> u64 {
        self.opts.clock.now_millis()
    }

    /// True when the entry `loc` (in `file`) is a put whose expiry has passed. An entry
    /// without the bit is never read for it.
    #[inline]
    pub(crate) fn expired(&self, loc: Location, file: &DataFile) -> Result<bool> {
        if !loc.expires {
            return Ok(false);
        }
        Ok(record::is_expired(
            file.expiry_at(loc.offset as u64)?,
            self.now(),
        ))
    }

    /// `KeyDir::with_entry`, with a key whose expiry has passed treated as absent.
    #[inline]
    pub(crate) fn with_live_entry<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Location, &DataFile) -> Result<R>,
    ) -> Result<Option<R>> {
        self.with_live_entry_hashed(self.keydir.hash(key), key, f)
    }

    /// `with_live_entry` of a key whose hash `KeyDir::prefetch` returned.
    pub(crate) fn with_live_entry_hashed<R>(
        &self,
        h: crate::keydir::Hash,
        key: &[u8],
        f: impl FnOnce(Location, &DataFile) -> Result<R>,
    ) -> Result<Option<R>> {
        let found = self.keydir.with_entry_hashed(h, key, |loc, file| {
            if self.expired(loc, file)? {
                return Ok(None);
            }
            f(loc, file).map(Some)
        })?;
        Ok(found.flatten())
    }

    /// The expiry of `key`'s live value: `Some(None)` when it has none, `None` when the key
    /// is absent (or expired).
    pub(crate) fn expiry(&self, key: &[u8]) -> Result<Option<Option<u64>>> {
        super::write::check_key(key)?;
        let now = self.now();
        let found = self.keydir.with_entry(key, |loc, file| {
            if !loc.expires {
                return Ok(Some(None));
            }
            let at = file.expiry_at(loc.offset as u64)?;
            Ok((!record::is_expired(at, now)).then_some(at))
        })?;
        Ok(found.flatten())
    }

    /// The time `key` has left: `None` when it does not expire; [`Error::KeyNotFound`] when
    /// it is absent.
    pub(crate) fn ttl(&self, key: &[u8]) -> Result<Option<Duration>> {
        let now = self.now();
        match self.expiry(key)? {
            None => Err(Error::KeyNotFound),
            Some(None) => Ok(None),
            Some(Some(at)) => Ok(Some(Duration::from_millis(at.saturating_sub(now)))),
        }
    }

    /// An expiry `ttl` from now, in milliseconds since the Unix epoch.
    pub(crate) fn expiry_after(&self, ttl: Duration) -> u64 {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.now().saturating_add(ms)
    }

    /// Rewrites `key`'s live value with expiry `at` (`None`: never). With `only_if_expiring`,
    /// writes nothing for a key without an expiry and returns false. [`Error::KeyNotFound`]
    /// (nothing written) when the key is absent.
    pub(crate) fn set_expiry(
        &self,
        key: &[u8],
        at: Option<u64>,
        only_if_expiring: bool,
    ) -> Result<bool> {
        super::write::check_key(key)?;
        let hash = self.keydir.prefetch(key);
        let arrival = (self.opts.sync == SyncMode::Always).then(|| self.commit.arrive());
        let mut w = lock(self.writer()?);
        self.check_running()?;
        let Some(current) = self.expiry(key)? else {
            return Err(Error::KeyNotFound);
        };
        if only_if_expiring && current.is_none() {
            return Ok(false);
        }
        let Some(value) = self.get(key)? else {
            return Err(Error::KeyNotFound);
        };
        let seq = self.append_expiring(&mut w, hash, key, &value, at)?;
        drop(arrival);
        drop(w);
        self.wait_if_always(seq)?;
        Ok(true)
    }

    /// The number of live entries that have expired as of now, and their bytes: what
    /// `stats` leaves out of the live figures.
    pub(crate) fn expired_totals(&self) -> Result<(u64, u64)> {
        let now = self.now();
        let (mut keys, mut bytes) = (0u64, 0u64);
        self.keydir.for_each_expiring(|loc, file| {
            if record::is_expired(file.expiry_at(loc.offset as u64)?, now) {
                keys += 1;
                bytes += loc.rec_len as u64;
            }
            Ok(())
        })?;
        Ok((keys, bytes))
    }
}
