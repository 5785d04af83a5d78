//! The read path: one key directory lookup, then the record read from its file (a copy out
//! of the mapping), its checksum and key verified. Every read first waits for a batch being
//! published (`visibility`), so it never sees half of one. A multi-get loads every key's
//! slot, then every record, before it reads any, overlapping their cache and TLB misses.

use super::state::Engine;
use super::write::check_key;
use crate::error::{Error, Result};
use crate::record;

/// The least room a scan's value buffer gets before a read: small values fit.
const MIN_ROOM: usize = 128;

impl Engine {
    /// Waits for a batch being published; fails once one failed half way (the handle is
    /// stopped: see `visibility`).
    #[inline]
    fn settled(&self) -> Result<u64> {
        match self.visibility.settled() {
            Some(epoch) => Ok(epoch),
            None => Err(self.check_running().err().unwrap_or_else(|| {
                Error::Stopped("a write batch failed half way through publishing".into())
            })),
        }
    }

    /// The value of `key`, or `None` when absent. No memory for the value (up to
    /// `MAX_VALUE_LEN`) is an [`Error::Io`] of kind `OutOfMemory`, not an abort.
    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        self.settled()?;
        self.with_live_entry(key, |loc, file| {
            let mut buf = crate::datafile::zeroed(loc.value_len(key.len()))
                .map_err(|e| Error::io("read", file.path(), e))?;
            file.read_value(loc.offset as u64, key, &mut buf)?;
            Ok(buf)
        })
    }

    /// Reads the value of `key` into a buffer made by `make(value_len)` (at least that long),
    /// and returns it; `None` when the key is absent. One index lookup and one copy.
    #[inline]
    pub(crate) fn get_with_buffer<B: AsMut<[u8]>>(
        &self,
        key: &[u8],
        make: impl FnOnce(usize) -> B,
    ) -> Result<Option<B>> {
        check_key(key)?;
        self.settled()?;
        self.with_live_entry(key, |loc, file| {
            let len = loc.value_len(key.len());
            let mut buf = make(len);
            file.read_value(loc.offset as u64, key, &mut buf.as_mut()[..len])?;
            Ok(buf)
        })
    }

    /// Copies the value of `key` into `buf` when it fits. Returns the value's length (`None`
    /// when absent); when the length exceeds `buf.len()`, nothing is copied.
    #[inline]
    pub(crate) fn get_into(&self, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
        check_key(key)?;
        self.settled()?;
        self.get_into_hashed(self.keydir.hash(key), key, buf)
    }

    /// `get_into` of a key whose hash is known.
    #[inline(always)]
    fn get_into_hashed(
        &self,
        hash: crate::keydir::Hash,
        key: &[u8],
        buf: &mut [u8],
    ) -> Result<Option<usize>> {
        self.keydir.find_map(hash, |c| {
            let offset = c.offset as u64;
            if c.expires() && record::is_expired(c.file.expiry_at(offset)?, self.now()) {
                // Absent if it is the key's; if another key's, keep looking.
                return Ok(None);
            }
            if let Some(found) = c.file.read_in_place(offset, key, buf, || c.same_hash()) {
                return found;
            }
            if !c.same_hash() {
                return Ok(None); // another key's record under the same tag
            }
            let Some(len) = (c.rec_len() as usize).checked_sub(record::HEADER_LEN + key.len())
            else {
                return Ok(None);
            };
            if len > buf.len() {
                // Too small: confirm the key without the value, and report the length.
                return Ok(c.file.key_matches(offset, key)?.then_some(len));
            }
            Ok(c.file
                .read_if_key(offset, key, &mut buf[..len])?
                .then_some(len))
        })
    }

    /// For a scan: the live value of `key` (whose hash `KeyDir::prefetch` returned) into
    /// `value`, resized to fit; false when the key is absent. `get_into` into the length
    /// `value` has (the previous value's), so that where the values of a scan are of one size
    /// each is read once, in place; a larger one is looked up again with room for it.
    pub(crate) fn read_live_into(
        &self,
        hash: crate::keydir::Hash,
        key: &[u8],
        value: &mut Vec<u8>,
    ) -> Result<bool> {
        let mut room = value.len().max(MIN_ROOM);
        loop {
            crate::datafile::resize_zeroed(value, room)
                .map_err(|e| Error::io("read", &self.dir, e))?;
            match self.get_into_hashed(hash, key, value)? {
                None => return Ok(false),
                Some(len) if len <= value.len() => {
                    value.truncate(len);
                    return Ok(true);
                }
                Some(len) => room = len,
            }
        }
    }

    /// True when `key` has a value.
    #[inline]
    pub(crate) fn contains(&self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        self.settled()?;
        Ok(self.with_live_entry(key, |_, _| Ok(()))?.is_some())
    }

    /// The values of `keys`, in order (`None` for an absent key), as of one moment between
    /// batches: all of a batch's writes, or none of them.
    pub(crate) fn multi_get<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(keys.len());
        self.multi_get_with(keys.iter().map(|k| k.as_ref()), |i, key, hash| {
            if i == 0 {
                out.clear();
            }
            let found = self.keydir.with_entry_hashed(hash, key, |loc, file| {
                if self.expired(loc, file)? {
                    return Ok(None);
                }
                let mut buf = crate::datafile::zeroed(loc.value_len(key.len()))
                    .map_err(|e| Error::io("read", file.path(), e))?;
                file.read_value(loc.offset as u64, key, &mut buf)?;
                Ok(Some(buf))
            })?;
            out.push(found.flatten());
            Ok(())
        })?;
        Ok(out)
    }

    /// Runs `read(i, key, hash)` for every key in order, after prefetching every slot and
    /// then every record. When a batch was published meanwhile, all the reads run again (from
    /// `i` = 0, where `read` forgets what it read before), so that together they see one state.
    pub(crate) fn multi_get_with<'k>(
        &self,
        keys: impl Iterator<Item = &'k [u8]> + Clone,
        mut read: impl FnMut(usize, &'k [u8], crate::keydir::Hash) -> Result<()>,
    ) -> Result<()> {
        for key in keys.clone() {
            check_key(key)?;
        }
        let hashes: Vec<_> = keys.clone().map(|k| self.keydir.prefetch(k)).collect();
        for &h in &hashes {
            self.keydir.prefetch_record(h);
        }
        loop {
            let epoch = self.settled()?;
            for (i, (key, &h)) in keys.clone().zip(&hashes).enumerate() {
                read(i, key, h)?;
            }
            if self.visibility.unchanged_since(epoch) {
                return Ok(());
            }
        }
    }

    /// `get_into` for a multi-get, with the key's hash known.
    pub(crate) fn get_into_prefetched(
        &self,
        hash: crate::keydir::Hash,
        key: &[u8],
        buf: &mut [u8],
    ) -> Result<Option<usize>> {
        self.get_into_hashed(hash, key, buf)
    }
}
