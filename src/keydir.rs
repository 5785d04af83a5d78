//! The key directory: for every live key, where its newest record lives.
//!
//! Memory is the headline cost of Bitcask, so the directory keeps no keys at all: the key is
//! in the record it points at, and a lookup confirms a candidate by reading that record's key
//! (from the page cache; a get reads the record anyway). What stays in memory is one 16-byte
//! slot per key: a 32-bit hash, the file number, the record's offset and its length. The slots
//! live in 64 shards, each a Robin Hood open-addressing table kept between 58% and 88% full
//! (capacity grows by half, so the table is never mostly empty): 18-28 bytes per key in all,
//! where Riak's bitcask spends about 91 plus the key. Ordered iteration reads the keys back
//! from the data files (see `iter`).
//!
//! Concurrency: each shard has its own `RwLock`, on its own cache line, so readers of
//! different keys share no memory; a reader holds its shard's read lock while it copies the
//! value out, which keeps the data file it reads alive (see `Shard::file`). Slots move only
//! under the shard's write lock.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::datafile::DataFile;
use crate::error::Result;
use crate::parallel::both;

/// Where a key's newest record lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file's number in the key directory's file table (not its id).
    pub file: u32,
    pub offset: u32,
    /// Length of the whole record (header, key and value).
    pub rec_len: u32,
}

impl Location {
    /// The value's length, for a record of `key_len`-byte key.
    pub fn value_len(&self, key_len: usize) -> usize {
        self.rec_len as usize - crate::record::HEADER_LEN - key_len
    }
}

const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;
/// Grow when more than 7/8 of the slots are full.
const MAX_LOAD_NUM: usize = 7;
const MAX_LOAD_DEN: usize = 8;
const MIN_CAPACITY: usize = 8;

#[repr(align(128))]
struct Padded(RwLock<Shard>);

/// The sharded directory.
pub struct KeyDir {
    shards: Box<[Padded]>,
    seed: (u64, u64),
}

impl Default for KeyDir {
    fn default() -> Self {
        KeyDir::new()
    }
}

/// A key's hash, split: which shard, and the 32 bits kept in the slot (never 0, which marks
/// an empty slot). Valid for every directory made by `new_like` from the one that made it.
#[derive(Clone, Copy)]
pub struct Hash {
    shard: usize,
    h32: u32,
}

impl Hash {
    /// `key`'s hash under `seed`: the shard is the top bits, the slot keeps the low 32.
    fn of(seed: (u64, u64), key: &[u8]) -> Hash {
        let h = hash_key(seed, key);
        Hash {
            shard: (h >> (64 - SHARD_BITS)) as usize,
            h32: (h as u32).max(1),
        }
    }
}

impl KeyDir {
    pub fn new() -> KeyDir {
        // A per-handle random seed keeps adversarial keys from forcing long probe chains.
        let rs = RandomState::new();
        let seed = (rs.hash_one(0x5eed_u64) | 1, rs.hash_one(0xfeed_u64) | 1);
        KeyDir::with_seed(seed)
    }

    fn with_seed(seed: (u64, u64)) -> KeyDir {
        KeyDir {
            shards: (0..SHARDS)
                .map(|_| Padded(RwLock::new(Shard::default())))
                .collect(),
            seed,
        }
    }

    /// An empty directory hashing like this one, to be filled and swapped in by `replace_with`.
    pub fn new_like(&self) -> KeyDir {
        KeyDir::with_seed(self.seed)
    }

    fn hash(&self, key: &[u8]) -> Hash {
        Hash::of(self.seed, key)
    }

    fn read_shard(&self, h: Hash) -> RwLockReadGuard<'_, Shard> {
        self.shards[h.shard]
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn write_shard(&self, h: Hash) -> RwLockWriteGuard<'_, Shard> {
        self.shards[h.shard]
            .0
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn write_all(&self) -> impl Iterator<Item = RwLockWriteGuard<'_, Shard>> {
        self.shards
            .iter()
            .map(|s| s.0.write().unwrap_or_else(|p| p.into_inner()))
    }

    fn read_all(&self) -> impl Iterator<Item = RwLockReadGuard<'_, Shard>> {
        self.shards
            .iter()
            .map(|s| s.0.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs `f` with the key's location and its open data file, under the shard's read lock:
    /// the file stays open and the location valid until `f` returns. `Ok(None)` when absent.
    pub fn with_entry<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Location, &DataFile) -> Result<R>,
    ) -> Result<Option<R>> {
        let h = self.hash(key);
        let shard = self.read_shard(h);
        match shard.find(key, h.h32)? {
            Some(i) => {
                let loc = shard.slots[i].location();
                f(loc, shard.file(loc.file)).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Like `with_entry`, but `f` itself tells whether a candidate is the key (`Ok(None)`: a
    /// hash collision, keep looking), so a caller that reads the record anyway confirms the
    /// key with the same read.
    pub fn find_map<R>(
        &self,
        key: &[u8],
        mut f: impl FnMut(Location, &DataFile) -> Result<Option<R>>,
    ) -> Result<Option<R>> {
        let h = self.hash(key);
        let shard = self.read_shard(h);
        let mut out = None;
        shard.probe(h.h32, |s| {
            let loc = s.location();
            out = f(loc, shard.file(loc.file))?;
            Ok(out.is_some())
        })?;
        Ok(out)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Location>> {
        self.with_entry(key, |loc, _| Ok(loc))
    }

    /// Hashes `key` and starts loading into the cache the slot its lookup starts at, so that
    /// an `insert_hashed` made a little later (after the writer has written the record)
    /// finds the slot's line there instead of waiting for memory.
    pub fn prefetch(&self, key: &[u8]) -> Hash {
        let h = self.hash(key);
        let shard = self.read_shard(h);
        if !shard.slots.is_empty() {
            let slot: *const Slot = &shard.slots[shard.home(h.h32)];
            crate::sys::prefetch_line(slot.cast());
        }
        h
    }

    /// Sets the key's location, returning the one it replaces.
    pub fn insert(&self, key: &[u8], loc: Location) -> Result<Option<Location>> {
        self.insert_hashed(self.hash(key), key, loc)
    }

    /// `insert` of a key whose hash `prefetch` returned.
    pub fn insert_hashed(&self, h: Hash, key: &[u8], loc: Location) -> Result<Option<Location>> {
        let mut shard = self.write_shard(h);
        match shard.find(key, h.h32)? {
            Some(i) => {
                let old = shard.slots[i].location();
                shard.slots[i].set_location(loc);
                Ok(Some(old))
            }
            None => {
                shard.insert_new(Slot::new(h.h32, loc));
                Ok(None)
            }
        }
    }

    /// Removes the key, returning its location.
    pub fn remove(&self, key: &[u8]) -> Result<Option<Location>> {
        self.remove_hashed(self.hash(key), key)
    }

    /// `remove` of a key whose hash `prefetch` returned.
    pub fn remove_hashed(&self, h: Hash, key: &[u8]) -> Result<Option<Location>> {
        let mut shard = self.write_shard(h);
        match shard.find(key, h.h32)? {
            Some(i) => {
                let old = shard.slots[i].location();
                shard.remove_at(i);
                Ok(Some(old))
            }
            None => Ok(None),
        }
    }

    /// True when the key's entry is exactly the record at (`file`, `offset`).
    #[cfg(test)]
    pub fn is_at(&self, key: &[u8], file: u32, offset: u32) -> bool {
        let h = self.hash(key);
        self.read_shard(h).find_at(h.h32, file, offset).is_some()
    }

    /// The locations of every live key whose file passes `keep`, shard by shard: one
    /// sequential pass over the tables instead of a lookup per record.
    pub fn locations(&self, keep: impl Fn(u32) -> bool) -> Vec<Location> {
        let mut out = Vec::new();
        for shard in self.read_all() {
            out.extend(
                shard
                    .slots
                    .iter()
                    .filter(|s| s.h32 != 0 && keep(s.file))
                    .map(Slot::location),
            );
        }
        out
    }

    /// Rewrites locations in one sequential pass, shard by shard under each write lock:
    /// `f` returns the new location of an entry, or `None` to leave it.
    pub fn remap(&self, f: impl Fn(Location) -> Option<Location>) {
        for mut shard in self.write_all() {
            for slot in shard.slots.iter_mut().filter(|s| s.h32 != 0) {
                if let Some(new) = f(slot.location()) {
                    slot.set_location(new);
                }
            }
        }
    }

    /// Adds an open data file under number `no` to every shard's file table.
    pub fn add_file(&self, no: u32, file: Arc<DataFile>) {
        for mut shard in self.write_all() {
            let i = no as usize;
            if shard.files.len() <= i {
                shard.files.resize(i + 1, None);
            }
            shard.files[i] = Some(file.clone());
        }
    }

    /// Drops file `no` from every shard; the file closes when the last reader is done.
    pub fn remove_file(&self, no: u32) {
        for mut shard in self.write_all() {
            if let Some(slot) = shard.files.get_mut(no as usize) {
                *slot = None;
            }
        }
    }

    /// Number of live keys.
    pub fn len(&self) -> usize {
        self.read_all().map(|s| s.len).sum()
    }

    /// Sum of the record lengths of all live keys.
    pub fn live_bytes(&self) -> u64 {
        self.read_all()
            .map(|s| {
                s.slots
                    .iter()
                    .filter(|x| x.h32 != 0)
                    .map(|x| x.rec_len as u64)
                    .sum::<u64>()
            })
            .sum()
    }

    /// An empty batch of records for `apply_batches`, hashing like this directory.
    pub fn new_batch(&self, expected: usize) -> Batch {
        let per_shard = expected / SHARDS + expected / (4 * SHARDS);
        Batch {
            seed: self.seed,
            by_shard: (0..SHARDS).map(|_| Vec::with_capacity(per_shard)).collect(),
        }
    }

    /// Applies batches of records, with the same result as applying them one by one in order
    /// (the batches in order, each in the order its records were pushed): a batch keeps its
    /// records grouped by shard, so each shard's table is sized once and filled while it sits
    /// in the CPU cache. Each batch comes with the number of the file its records are in,
    /// which must be in the file table. Opening a store from hint files is dominated by this.
    pub fn apply_batches(&self, batches: &[(u32, Batch)]) -> Result<()> {
        self.apply_batches_from(batches, PARALLEL_MIN)
    }

    /// `apply_batches`, on two threads from `parallel_min` records on.
    fn apply_batches_from(&self, batches: &[(u32, Batch)], parallel_min: usize) -> Result<()> {
        assert!(
            batches.iter().all(|(_, b)| b.seed == self.seed),
            "batches come from new_batch on this directory"
        );
        let fill = |shards: std::ops::Range<usize>| -> Result<()> {
            let mut key = Vec::new();
            for s in shards {
                let mut shard = self.shards[s].0.write().unwrap_or_else(|p| p.into_inner());
                shard.reserve(batches.iter().map(|(_, b)| b.by_shard[s].len()).sum());
                for (file, batch) in batches {
                    for r in &batch.by_shard[s] {
                        let loc = Location {
                            file: *file,
                            offset: r.offset,
                            rec_len: r.rec_len,
                        };
                        // Records are read only to tell apart keys whose 32-bit hashes match:
                        // rare, unless a key is in more than one batch. The batch's record is
                        // read whole, once: a damaged key must not pass for another key (a
                        // check that, like `key_matches`, happens only on such a match).
                        let mut key_read = false;
                        let found = shard.probe(r.h32, |s| {
                            if !key_read {
                                shard
                                    .file(*file)
                                    .read_checked_key(r.offset as u64, &mut key)?;
                                key_read = true;
                            }
                            shard.file(s.file).key_matches(s.offset as u64, &key)
                        })?;
                        match found {
                            Some(slot) if r.tombstone => shard.remove_at(slot),
                            Some(slot) => shard.slots[slot].set_location(loc),
                            None if r.tombstone => {}
                            None => shard.insert_new(Slot::new(r.h32, loc)),
                        }
                    }
                }
            }
            Ok(())
        };
        let records: usize = batches.iter().map(|(_, b)| b.len()).sum();
        let (a, b) = both(
            records >= parallel_min,
            || fill(0..SHARDS / 2),
            || fill(SHARDS / 2..SHARDS),
        );
        a.and(b)
    }

    /// Replaces every shard's entries and files with `other`'s, shard by shard (a reader sees
    /// each key either before or after, never a mix within one key). `other` must come from
    /// `new_like` on this directory (same hash seed).
    pub fn replace_with(&self, other: KeyDir) {
        assert_eq!(
            self.seed, other.seed,
            "replace_with needs a directory from new_like"
        );
        for (mut mine, new) in self.write_all().zip(other.shards.into_vec()) {
            *mine = new.0.into_inner().unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Bytes of memory the tables use.
    #[cfg(test)]
    pub fn memory_bytes(&self) -> usize {
        self.read_all()
            .map(|s| s.slots.capacity() * std::mem::size_of::<Slot>())
            .sum()
    }
}

/// Records waiting to be applied by `KeyDir::apply_batches`, hashed and grouped by shard as
/// they are pushed: a batch can be built on any thread, apart from the directory.
pub struct Batch {
    seed: (u64, u64),
    by_shard: Vec<Vec<BatchRecord>>,
}

struct BatchRecord {
    h32: u32,
    offset: u32,
    rec_len: u32,
    tombstone: bool,
}

impl Batch {
    /// Adds a record of `key`, at `offset` in the batch's file and `rec_len` bytes long (the
    /// record must be there when the batch is applied: its key may be read back).
    pub fn push(&mut self, key: &[u8], offset: u32, rec_len: u32, tombstone: bool) {
        let h = Hash::of(self.seed, key);
        self.by_shard[h.shard].push(BatchRecord {
            h32: h.h32,
            offset,
            rec_len,
            tombstone,
        });
    }

    pub fn len(&self) -> usize {
        self.by_shard.iter().map(Vec::len).sum()
    }
}

/// One 16-byte table slot. `h32 == 0` marks an empty slot.
#[derive(Clone, Copy, Default, Debug)]
struct Slot {
    h32: u32,
    file: u32,
    offset: u32,
    rec_len: u32,
}

impl Slot {
    fn new(h32: u32, loc: Location) -> Slot {
        Slot {
            h32,
            file: loc.file,
            offset: loc.offset,
            rec_len: loc.rec_len,
        }
    }

    fn location(&self) -> Location {
        Location {
            file: self.file,
            offset: self.offset,
            rec_len: self.rec_len,
        }
    }

    fn set_location(&mut self, loc: Location) {
        self.file = loc.file;
        self.offset = loc.offset;
        self.rec_len = loc.rec_len;
    }
}

/// One shard: a Robin Hood table (entries sit as close to their home slot as the richer
/// entries around them allow, so a lookup can stop as soon as it passes where its key would
/// be), plus the file table.
#[derive(Default)]
pub struct Shard {
    slots: Vec<Slot>,
    len: usize,
    files: Vec<Option<Arc<DataFile>>>,
}

impl Shard {
    /// The open file numbered `no`. It stays open at least while this shard is borrowed.
    fn file(&self, no: u32) -> &DataFile {
        self.files
            .get(no as usize)
            .and_then(|f| f.as_deref())
            .expect("every file the key directory points into is in its file table")
    }

    /// The slot a hash would occupy in an empty table (multiply-shift: any capacity works).
    fn home(&self, h32: u32) -> usize {
        ((h32 as u64 * self.slots.len() as u64) >> 32) as usize
    }

    fn distance(&self, i: usize, h32: u32) -> usize {
        let home = self.home(h32);
        if i >= home {
            i - home
        } else {
            i + self.slots.len() - home
        }
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    /// Probes the slots that could hold hash `h32`, in order, until `hit` accepts one.
    fn probe(&self, h32: u32, mut hit: impl FnMut(&Slot) -> Result<bool>) -> Result<Option<usize>> {
        if self.len == 0 {
            return Ok(None);
        }
        let mut i = self.home(h32);
        let mut d = 0;
        loop {
            let s = &self.slots[i];
            if s.h32 == 0 || self.distance(i, s.h32) < d {
                return Ok(None);
            }
            if s.h32 == h32 && hit(s)? {
                return Ok(Some(i));
            }
            i = self.next(i);
            d += 1;
        }
    }

    /// The slot of `key`: candidates with its hash are confirmed by reading their record's key.
    fn find(&self, key: &[u8], h32: u32) -> Result<Option<usize>> {
        self.probe(h32, |s| self.file(s.file).key_matches(s.offset as u64, key))
    }

    /// The slot with hash `h32` pointing exactly at (`file`, `offset`).
    #[cfg(test)]
    fn find_at(&self, h32: u32, file: u32, offset: u32) -> Option<usize> {
        self.probe(h32, |s| Ok(s.file == file && s.offset == offset))
            .unwrap_or(None)
    }

    fn insert_new(&mut self, slot: Slot) {
        self.reserve(1);
        let mut carry = slot;
        let mut i = self.home(carry.h32);
        let mut d = 0;
        loop {
            if self.slots[i].h32 == 0 {
                self.slots[i] = carry;
                self.len += 1;
                return;
            }
            let resident = self.distance(i, self.slots[i].h32);
            if resident < d {
                std::mem::swap(&mut carry, &mut self.slots[i]);
                d = resident;
            }
            i = self.next(i);
            d += 1;
        }
    }

    /// Removes slot `i`, shifting the following displaced entries back (no tombstones).
    fn remove_at(&mut self, mut i: usize) {
        let mut j = self.next(i);
        while self.slots[j].h32 != 0 && self.distance(j, self.slots[j].h32) > 0 {
            self.slots[i] = self.slots[j];
            i = j;
            j = self.next(j);
        }
        self.slots[i] = Slot::default();
        self.len -= 1;
        let cap = self.slots.len();
        if cap > MIN_CAPACITY && self.len * 4 < cap {
            self.resize((self.len * 2).max(MIN_CAPACITY));
        }
    }

    fn reserve(&mut self, extra: usize) {
        let need = self.len + extra;
        if need * MAX_LOAD_DEN <= self.slots.len() * MAX_LOAD_NUM {
            return;
        }
        let mut cap = self.slots.len().max(MIN_CAPACITY);
        while need * MAX_LOAD_DEN > cap * MAX_LOAD_NUM {
            cap += cap / 2;
        }
        self.resize(cap);
    }

    fn resize(&mut self, cap: usize) {
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); cap]);
        self.len = 0;
        for s in old.into_iter().filter(|s| s.h32 != 0) {
            self.insert_new(s);
        }
    }
}

/// Below this many records, `apply_batches` does not start a second thread.
const PARALLEL_MIN: usize = 64 * 1024;

/// A seeded multiply-fold hash (in the style of wyhash): fast on short keys, and keyed so a
/// caller cannot predict collisions.
fn hash_key(seed: (u64, u64), key: &[u8]) -> u64 {
    #[inline]
    fn fold(a: u64, b: u64) -> u64 {
        let r = (a as u128).wrapping_mul(b as u128);
        (r as u64) ^ ((r >> 64) as u64)
    }
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    let mut h = seed.0 ^ (key.len() as u64).wrapping_mul(P0);
    let mut chunks = key.chunks_exact(16);
    for c in &mut chunks {
        let a = u64::from_le_bytes(c[..8].try_into().unwrap());
        let b = u64::from_le_bytes(c[8..].try_into().unwrap());
        h = fold(a ^ h ^ P1, b ^ seed.1);
    }
    let rest = chunks.remainder();
    let (a, b) = match rest.len() {
        0 => (0, 0),
        1..=8 => {
            let mut t = [0u8; 8];
            t[..rest.len()].copy_from_slice(rest);
            (u64::from_le_bytes(t), 0)
        }
        _ => {
            let mut t = [0u8; 8];
            t[..rest.len() - 8].copy_from_slice(&rest[8..]);
            (
                u64::from_le_bytes(rest[..8].try_into().unwrap()),
                u64::from_le_bytes(t),
            )
        }
    };
    h = fold(a ^ h ^ P0, b ^ seed.1 ^ P1);
    fold(h ^ P1, P0 ^ seed.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datafile::{FileHeader, FILE_HEADER_LEN};
    use crate::record;
    use crate::vfs::PosixVfs;
    use std::collections::HashMap;

    /// A key directory over one real data file holding a record per key.
    struct Fixture {
        kd: KeyDir,
        file: Arc<DataFile>,
        end: u64,
        _dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("1.active.log");
            let file = DataFile::create(
                &PosixVfs,
                &path,
                FileHeader {
                    id: 1,
                    ..Default::default()
                },
                None,
            )
            .unwrap();
            let file = Arc::new(file);
            let kd = KeyDir::new();
            kd.add_file(0, file.clone());
            Fixture {
                kd,
                file,
                end: FILE_HEADER_LEN as u64,
                _dir: dir,
            }
        }

        /// Appends a record for `key` and returns its location.
        fn record(&mut self, key: &[u8], value_len: usize) -> Location {
            let value = vec![7u8; value_len];
            let h = record::encode_header(1, 0, false, key, &value);
            self.file.write_record(self.end, &h, key, &value).unwrap();
            let loc = Location {
                file: 0,
                offset: self.end as u32,
                rec_len: record::record_len(key.len(), value_len) as u32,
            };
            self.end += loc.rec_len as u64;
            loc
        }
    }

    #[test]
    fn insert_get_remove_against_a_hashmap() {
        let mut fx = Fixture::new();
        let mut model = HashMap::new();
        let mut x: u64 = 12345;
        for step in 0..30_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = format!("key-{}", x % 3000).into_bytes();
            if x % 3 == 0 {
                assert_eq!(
                    fx.kd.remove(&key).unwrap(),
                    model.remove(&key),
                    "step {step}"
                );
            } else {
                let loc = fx.record(&key, (step % 50) as usize);
                assert_eq!(
                    fx.kd.insert(&key, loc).unwrap(),
                    model.insert(key.clone(), loc)
                );
            }
        }
        assert_eq!(fx.kd.len(), model.len());
        for (k, v) in &model {
            assert_eq!(fx.kd.get(k).unwrap(), Some(*v));
            assert!(fx.kd.is_at(k, v.file, v.offset));
        }
        assert_eq!(fx.kd.get(b"absent").unwrap(), None);
        let live: u64 = model.values().map(|l| l.rec_len as u64).sum();
        assert_eq!(fx.kd.live_bytes(), live);
        assert!(fx.file.file.len().unwrap() > 0);
    }

    #[test]
    fn colliding_hashes_are_told_apart_by_the_stored_key() {
        // Force every key into one shard slot hash: h32 collisions must still resolve.
        let mut fx = Fixture::new();
        let mut shard = Shard {
            files: vec![Some(fx.file.clone())],
            ..Default::default()
        };
        let keys: Vec<Vec<u8>> = (0..100).map(|i| format!("k{i}").into_bytes()).collect();
        let locs: Vec<Location> = keys.iter().map(|k| fx.record(k, 3)).collect();
        for (k, l) in keys.iter().zip(&locs) {
            assert_eq!(shard.find(k, 42).unwrap(), None);
            shard.insert_new(Slot::new(42, *l));
        }
        for (k, l) in keys.iter().zip(&locs) {
            let i = shard.find(k, 42).unwrap().expect("present");
            assert_eq!(shard.slots[i].location(), *l);
        }
        for k in keys.iter().step_by(2) {
            let i = shard.find(k, 42).unwrap().unwrap();
            shard.remove_at(i);
        }
        for (n, k) in keys.iter().enumerate() {
            assert_eq!(shard.find(k, 42).unwrap().is_some(), n % 2 == 1, "{n}");
        }
    }

    #[test]
    fn bulk_apply_equals_applying_in_order() {
        let mut fx = Fixture::new();
        let one_by_one = fx.kd.new_like();
        one_by_one.add_file(0, fx.file.clone());
        let mut keys = Vec::new();
        for i in 0..5000u32 {
            let key = format!("k{}", i % 1300).into_bytes();
            let loc = fx.record(&key, (i % 7) as usize);
            keys.push((key, loc, i % 11 == 3));
        }
        for (key, loc, tomb) in &keys {
            if *tomb {
                one_by_one.remove(key).unwrap();
            } else {
                one_by_one.insert(key, *loc).unwrap();
            }
        }
        // Three batches, as three hint files would give; filled on one thread and on two.
        for parallel_min in [usize::MAX, 0] {
            let kd = fx.kd.new_like();
            kd.add_file(0, fx.file.clone());
            let batches: Vec<(u32, Batch)> = keys
                .chunks(2000)
                .map(|chunk| {
                    let mut batch = kd.new_batch(chunk.len());
                    for (key, loc, tomb) in chunk {
                        batch.push(key, loc.offset, loc.rec_len, *tomb);
                    }
                    (0, batch)
                })
                .collect();
            kd.apply_batches_from(&batches, parallel_min).unwrap();
            assert_eq!(kd.len(), one_by_one.len());
            for i in 0..1300 {
                let key = format!("k{i}").into_bytes();
                assert_eq!(kd.get(&key).unwrap(), one_by_one.get(&key).unwrap(), "k{i}");
            }
        }
    }

    #[test]
    fn remap_moves_only_the_entries_it_names() {
        let mut fx = Fixture::new();
        let a = fx.record(b"a", 1);
        let b = fx.record(b"b", 1);
        fx.kd.insert(b"a", a).unwrap();
        fx.kd.insert(b"b", b).unwrap();
        let moved = Location {
            file: 0,
            offset: 9999,
            rec_len: a.rec_len,
        };
        fx.kd.remap(|loc| (loc == a).then_some(moved));
        assert_eq!(fx.kd.locations(|_| true).len(), 2);
        assert!(fx.kd.is_at(b"a", 0, 9999));
        assert!(fx.kd.is_at(b"b", 0, b.offset));
        assert_eq!(fx.kd.locations(|f| f == 1), vec![]);
    }

    #[test]
    fn tables_stay_dense() {
        let mut fx = Fixture::new();
        for i in 0..20_000u32 {
            let key = format!("{i:08}").into_bytes();
            let loc = fx.record(&key, 0);
            fx.kd.insert(&key, loc).unwrap();
        }
        let per_key = fx.kd.memory_bytes() as f64 / 20_000.0;
        assert!(per_key <= 28.0, "{per_key} bytes per key");
        for i in 0..19_000u32 {
            assert!(fx
                .kd
                .remove(format!("{i:08}").as_bytes())
                .unwrap()
                .is_some());
        }
        assert_eq!(fx.kd.len(), 1000);
        assert!(
            fx.kd.memory_bytes() <= 1000 * 16 * 5,
            "tables shrink after removals"
        );
        for i in 19_000..20_000u32 {
            assert!(fx.kd.get(format!("{i:08}").as_bytes()).unwrap().is_some());
        }
    }
}
