//! The key directory: for every live key, where its newest record lives.
//!
//! Memory is the headline cost of Bitcask, so the directory keeps no keys at all: the key is
//! in the record it points at, and a lookup confirms a candidate by reading that record's key
//! (from the page cache; a get reads the record anyway). What stays in memory is 16 bytes per
//! slot, in two parallel arrays: an 8-byte hot slot (the record's file number and offset, the
//! slot's distance from its home, a 10-bit tag of the key's hash) that lookups read, and an
//! 8-byte cold one (the key's 32-bit hash and the record's length) that only writes and table
//! growth need. A random get thus misses in half the memory, which matters once the tables
//! outgrow the CPU cache. The slots live in 64 shards, each a Robin Hood open-addressing
//! table kept between 58% and 88% full (capacity grows by half, so the table is never mostly
//! empty): 18-28 bytes per key in all, where Riak's bitcask spends about 91 plus the key.
//! Ordered iteration reads the keys back from the data files (see `iter`).
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
use crate::util::parallel::both;
use crate::util::sync::{into_inner, read, write};
use arena::Arena;

pub(crate) mod arena;
mod batch;
mod hash;
mod slot;
mod table;

pub use batch::Batch;
pub use hash::Hash;
use hash::*;
use slot::*;
pub use slot::{Location, MAX_FILES, MAX_OFFSET};
use table::*;

/// A slot a lookup's tag matched, as `KeyDir::find_map` hands it out: the record it points
/// at, which may be another key's.
pub struct Candidate<'a> {
    pub file: &'a DataFile,
    pub offset: u32,
    shard: &'a Shard,
    slot: usize,
    h32: u32,
}

impl Candidate<'_> {
    /// Length of the whole record, from the table's cold half (one more memory access).
    pub fn rec_len(&self) -> u32 {
        self.shard.cold[self.slot].rec_len()
    }

    /// True when the record is a put that expires (from the cold half, like `rec_len`).
    pub fn expires(&self) -> bool {
        self.shard.cold[self.slot].expires()
    }

    /// True when the slot carries the looked-up key's whole 32-bit hash, not just its tag
    /// (from the cold half: one more memory access).
    pub fn same_hash(&self) -> bool {
        self.shard.cold[self.slot].h32 == self.h32
    }
}

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

impl KeyDir {
    pub fn new() -> KeyDir {
        // A per-handle random seed keeps adversarial keys from forcing long probe chains.
        let rs = RandomState::new();
        let seed = (rs.hash_one(0x5eed_u64) | 1, rs.hash_one(0xfeed_u64) | 1);
        KeyDir::with_seed(seed, Arena::default())
    }

    fn with_seed(seed: (u64, u64), arena: Arena) -> KeyDir {
        let shard = || Shard {
            arena: arena.clone(),
            ..Shard::default()
        };
        KeyDir {
            shards: (0..SHARDS).map(|_| Padded(RwLock::new(shard()))).collect(),
            seed,
        }
    }

    /// An empty directory hashing like this one, to be filled and swapped in by `replace_with`.
    /// The two share their arena, so the tables this one frees serve the new one.
    pub fn new_like(&self) -> KeyDir {
        let arena = read(&self.shards[0].0).arena.clone();
        KeyDir::with_seed(self.seed, arena)
    }

    pub fn hash(&self, key: &[u8]) -> Hash {
        Hash::of(self.seed, key)
    }

    fn read_shard(&self, h: Hash) -> RwLockReadGuard<'_, Shard> {
        read(&self.shards[h.shard].0)
    }

    fn write_shard(&self, h: Hash) -> RwLockWriteGuard<'_, Shard> {
        write(&self.shards[h.shard].0)
    }

    fn write_all(&self) -> impl Iterator<Item = RwLockWriteGuard<'_, Shard>> {
        self.shards.iter().map(|s| write(&s.0))
    }

    fn read_all(&self) -> impl Iterator<Item = RwLockReadGuard<'_, Shard>> {
        self.shards.iter().map(|s| read(&s.0))
    }

    /// Runs `f` with the key's location and its open data file, under the shard's read lock:
    /// the file stays open and the location valid until `f` returns. `Ok(None)` when absent.
    pub fn with_entry<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Location, &DataFile) -> Result<R>,
    ) -> Result<Option<R>> {
        self.with_entry_hashed(self.hash(key), key, f)
    }

    /// `with_entry` of a key whose hash `prefetch` returned.
    #[inline]
    pub fn with_entry_hashed<R>(
        &self,
        h: Hash,
        key: &[u8],
        f: impl FnOnce(Location, &DataFile) -> Result<R>,
    ) -> Result<Option<R>> {
        let shard = self.read_shard(h);
        match shard.find(key, h)? {
            Some(i) => {
                let loc = shard.location(i);
                f(loc, shard.file(loc.file)).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Like `with_entry`, but `f` itself tells whether a candidate is the key (`Ok(None)`: a
    /// tag collision, keep looking), so a caller that reads the record anyway confirms the
    /// key with the same read. Until `f` asks for the record's length, a lookup reads only
    /// the hot half of the table. `h` is the key's hash (`hash`, or `prefetch`).
    #[inline]
    pub fn find_map<R>(
        &self,
        h: Hash,
        mut f: impl FnMut(Candidate<'_>) -> Result<Option<R>>,
    ) -> Result<Option<R>> {
        let shard = self.read_shard(h);
        let mut out = None;
        shard.probe(h, |slot| {
            let at = shard.hot.get(slot);
            out = f(Candidate {
                file: shard.file(at.file()),
                offset: at.offset(),
                shard: &shard,
                slot,
                h32: h.h32,
            })?;
            Ok(out.is_some())
        })?;
        Ok(out)
    }

    #[cfg(test)]
    pub fn get(&self, key: &[u8]) -> Result<Option<Location>> {
        self.with_entry(key, |loc, _| Ok(loc))
    }

    /// Hashes `key` and starts loading into the cache the slot its lookup starts at, so that
    /// an `insert_hashed` made a little later (after the writer has written the record)
    /// finds the slot's line there instead of waiting for memory.
    pub fn prefetch(&self, key: &[u8]) -> Hash {
        let h = self.hash(key);
        let shard = self.read_shard(h);
        if shard.capacity() > 0 {
            let home = shard.home(h.h32);
            crate::util::sys::prefetch_line(shard.hot.address_of(home));
            crate::util::sys::prefetch_line((&shard.cold[home] as *const Cold).cast());
        }
        h
    }

    /// Starts loading the record of the first slot whose tag matches `h` (the key's, most
    /// likely), after `prefetch` has started loading the slot: a multi-get does this for every
    /// key before reading any, so the misses overlap.
    pub fn prefetch_record(&self, h: Hash) {
        let shard = self.read_shard(h);
        let _ = shard.probe(h, |slot| {
            let at = shard.hot.get(slot);
            shard.file(at.file()).prefetch_record(at.offset() as u64);
            Ok(true)
        });
    }

    /// Sets the key's location, returning the one it replaces.
    pub fn insert(&self, key: &[u8], loc: Location) -> Result<Option<Location>> {
        self.insert_hashed(self.hash(key), key, loc)
    }

    /// `insert` of a key whose hash `prefetch` returned.
    pub fn insert_hashed(&self, h: Hash, key: &[u8], loc: Location) -> Result<Option<Location>> {
        let mut shard = self.write_shard(h);
        // Room first: growing the table after the probe would move the vacancy it finds.
        shard.reserve(1);
        match shard.find_or_vacancy(key, h)? {
            Ok(i) => {
                let old = shard.location(i);
                shard.set_location(i, loc);
                Ok(Some(old))
            }
            Err(vacancy) => {
                shard.place_from(Entry { hash: h, loc }, vacancy);
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
        match shard.find(key, h)? {
            Some(i) => {
                let old = shard.location(i);
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
        self.read_shard(h).find_at(h, file, offset).is_some()
    }

    /// The locations of every live key whose file passes `keep`, shard by shard: one
    /// sequential pass over the tables instead of a lookup per record.
    pub fn locations(&self, keep: impl Fn(u32) -> bool) -> Vec<Location> {
        let mut out = Vec::new();
        for shard in self.read_all() {
            out.extend(
                shard
                    .occupied()
                    .filter(|&i| keep(shard.hot.get(i).file()))
                    .map(|i| shard.location(i)),
            );
        }
        out
    }

    /// The bytes of live records in each file, indexed by file number (what the merge policy
    /// weighs files by), from the counts each shard keeps: no pass over the tables. Numbers
    /// mean the same file in every shard on a writer's handle, the only one that merges.
    pub fn live_bytes_by_file(&self) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for shard in self.read_all() {
            if out.len() < shard.live_by_file.len() {
                out.resize(shard.live_by_file.len(), 0);
            }
            for (total, bytes) in out.iter_mut().zip(&shard.live_by_file) {
                *total += bytes;
            }
        }
        out
    }

    /// Rewrites the locations of the entries in the files `files` marks (indexed by file
    /// number), in one sequential pass, shard by shard under each write lock: `f` returns the
    /// new location of such an entry, or `None` to leave it. Shards holding no entry in those
    /// files are skipped, and the others' entries elsewhere cost one look at their hot half.
    pub fn remap(&self, files: &[bool], f: impl Fn(Location) -> Option<Location>) {
        for mut shard in self.write_all() {
            if !shard.has_live_in(files) {
                continue;
            }
            for i in 0..shard.capacity() {
                let hot = shard.hot.get(i);
                if hot.is_empty() || !marked(files, hot.file()) {
                    continue;
                }
                if let Some(new) = f(shard.location(i)) {
                    shard.set_location(i, new);
                }
            }
        }
    }

    /// Whether any entry is a put that expires.
    pub fn has_expiring(&self) -> bool {
        self.read_all().any(|shard| shard.expiring > 0)
    }

    /// Runs `f` on the location and file of every entry that is a put that expires, shard by
    /// shard under each read lock (shards without any are skipped at once).
    pub fn for_each_expiring(
        &self,
        mut f: impl FnMut(Location, &DataFile) -> Result<()>,
    ) -> Result<()> {
        for shard in self.read_all() {
            if shard.expiring == 0 {
                continue;
            }
            for i in shard.occupied() {
                if shard.cold[i].expires() {
                    let loc = shard.location(i);
                    f(loc, shard.file(loc.file))?;
                }
            }
        }
        Ok(())
    }

    /// Removes the entries in the files `files` marks (indexed by file number), shard by
    /// shard under each write lock; returns the bytes of the records they pointed at. Shards
    /// holding no entry in those files are skipped without a pass.
    pub fn remove_in(&self, files: &[bool]) -> u64 {
        let mut removed = 0;
        for mut shard in self.write_all() {
            if !shard.has_live_in(files) {
                continue;
            }
            let mut i = 0;
            while i < shard.capacity() {
                let hot = shard.hot.get(i);
                if !hot.is_empty() && marked(files, hot.file()) {
                    removed += shard.cold[i].rec_len() as u64;
                    // Shifts the following entries back into slot `i`: look at it again.
                    // A shrink re-places everything: start over (rare, and each pass
                    // removes at least one entry).
                    let cap = shard.capacity();
                    shard.remove_at(i);
                    if shard.capacity() != cap {
                        i = 0;
                    }
                    continue;
                }
                i += 1;
            }
        }
        removed
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
            // An empty slot's cold half is all zeros, so no slot needs telling apart.
            .map(|s| s.cold.iter().map(|c| c.rec_len() as u64).sum::<u64>())
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
                let mut shard = write(&self.shards[s].0);
                shard.reserve(batches.iter().map(|(_, b)| b.by_shard[s].len()).sum());
                for (file, batch) in batches {
                    for r in &batch.by_shard[s] {
                        let hash = Hash {
                            shard: s,
                            h32: r.h32,
                            tag: r.tag,
                        };
                        let loc = Location {
                            file: *file,
                            offset: r.offset,
                            rec_len: r.rec_len & !batch::EXPIRES,
                            expires: r.rec_len & batch::EXPIRES != 0,
                        };
                        // Records are read only to tell apart keys whose 32-bit hashes match:
                        // rare, unless a key is in more than one batch. The batch's record is
                        // read whole, once: a damaged key must not pass for another key (a
                        // check that, like `key_matches`, happens only on such a match).
                        let mut key_read = false;
                        shard.reserve(1); // before the probe, whose vacancy an insert uses
                        let found = shard.probe_to_end(hash, |i| {
                            if shard.cold[i].h32 != r.h32 {
                                return Ok(false);
                            }
                            if !key_read {
                                shard
                                    .file(*file)
                                    .read_checked_key(r.offset as u64, &mut key)?;
                                key_read = true;
                            }
                            shard.record_has_key(i, &key)
                        })?;
                        match found {
                            Ok(slot) if r.tombstone => shard.remove_at(slot),
                            Ok(slot) => shard.set_location(slot, loc),
                            Err(_) if r.tombstone => {}
                            Err(vacancy) => shard.place_from(Entry { hash, loc }, vacancy),
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
            *mine = into_inner(new.0);
        }
    }

    /// Bytes of memory the tables use.
    #[cfg(test)]
    pub fn memory_bytes(&self) -> usize {
        self.read_all()
            .map(|s| s.hot.bytes() + s.cold.capacity() * std::mem::size_of::<Cold>())
            .sum()
    }
}

/// Whether `files` (indexed by file number) marks file `no`.
fn marked(files: &[bool], no: u32) -> bool {
    files.get(no as usize).copied().unwrap_or(false)
}

/// Below this many records, `apply_batches` does not start a second thread.
const PARALLEL_MIN: usize = 64 * 1024;

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
                expires: false,
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
    fn live_bytes_by_file_follow_inserts_removes_moves_and_resizes() {
        let mut fx = Fixture::new();
        // File 1 is file 0 again under another number: remapped entries still read their key.
        fx.kd.add_file(1, fx.file.clone());
        let mut model: HashMap<Vec<u8>, Location> = HashMap::new();
        let by_file = |m: &HashMap<Vec<u8>, Location>| {
            let mut want = vec![0u64; 2];
            for l in m.values() {
                want[l.file as usize] += l.rec_len as u64;
            }
            want
        };
        let got = |kd: &KeyDir| {
            let mut v = kd.live_bytes_by_file();
            v.resize(2, 0);
            v
        };
        let mut x: u64 = 99;
        for round in 0..6u64 {
            // Grows the tables, then (every other round) removes most keys, which shrinks them.
            let keys = if round % 2 == 0 { 20_000 } else { 500 };
            for step in 0..30_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = format!("key-{}", x % keys).into_bytes();
                if round % 2 == 1 || x % 4 == 0 {
                    fx.kd.remove(&key).unwrap();
                    model.remove(&key);
                } else {
                    let loc = fx.record(&key, (step % 40) as usize);
                    fx.kd.insert(&key, loc).unwrap();
                    model.insert(key, loc);
                }
            }
            assert_eq!(got(&fx.kd), by_file(&model), "round {round}");
            // A merge's moves, then the removal of what it dropped.
            let moved = |l: Location| {
                (l.file == 0 && l.offset % 2 == 0).then_some(Location { file: 1, ..l })
            };
            fx.kd.remap(&[true], moved);
            for l in model.values_mut() {
                if let Some(m) = moved(*l) {
                    *l = m;
                }
            }
            // Removes what is left in file 0 every third round.
            if round % 3 == 2 {
                let bytes = fx.kd.remove_in(&[true]);
                let before = by_file(&model)[0];
                model.retain(|_, l| l.file != 0);
                assert_eq!(bytes, before);
            }
            assert_eq!(got(&fx.kd), by_file(&model), "round {round}, after moves");
        }
        assert!(model.is_empty() || got(&fx.kd)[1] > 0);
    }

    #[test]
    fn colliding_hashes_are_told_apart_by_the_stored_key() {
        // Force every key onto one hash: collisions must still resolve, and the chain
        // grows past the distance a slot can store (the saturated distances).
        let mut fx = Fixture::new();
        let mut shard = Shard {
            files: vec![Some(fx.file.clone())],
            ..Default::default()
        };
        let h = Hash {
            shard: 0,
            h32: 42,
            tag: 5,
        };
        let keys: Vec<Vec<u8>> = (0..100).map(|i| format!("k{i}").into_bytes()).collect();
        let locs: Vec<Location> = keys.iter().map(|k| fx.record(k, 3)).collect();
        for (k, l) in keys.iter().zip(&locs) {
            assert_eq!(shard.find(k, h).unwrap(), None);
            shard.insert_new(Entry { hash: h, loc: *l });
        }
        assert!((0..shard.capacity()).any(|i| shard.hot.get(i).stored_dist() == FAR));
        for (k, l) in keys.iter().zip(&locs) {
            let i = shard.find(k, h).unwrap().expect("present");
            assert_eq!(shard.location(i), *l);
        }
        for k in keys.iter().step_by(2) {
            let i = shard.find(k, h).unwrap().unwrap();
            shard.remove_at(i);
        }
        for (n, k) in keys.iter().enumerate() {
            assert_eq!(shard.find(k, h).unwrap().is_some(), n % 2 == 1, "{n}");
        }
        assert_distances_exact(&shard);
    }

    /// Every occupied slot stores its exact distance from home (saturated at `FAR`).
    fn assert_distances_exact(shard: &Shard) {
        for i in shard.occupied() {
            let home = shard.home(shard.cold[i].h32);
            let exact = (i + shard.capacity() - home) % shard.capacity();
            assert_eq!(shard.hot.get(i).stored_dist(), exact.min(FAR), "slot {i}");
        }
    }

    #[test]
    fn a_table_spanning_arena_segments_keeps_every_entry() {
        let mut shard = Shard::default();
        let mut x: u64 = 99;
        let entries: Vec<Entry> = (0..20_000u32)
            .map(|n| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let hash = Hash {
                    shard: 0,
                    h32: x as u32,
                    tag: (x >> 32) as u16 & ((1 << TAG_BITS) - 1),
                };
                let loc = Location {
                    file: n % 3,
                    offset: 100 + n * 40,
                    rec_len: 40,
                    // Some expire: the bit must follow its entry through every move.
                    expires: n % 5 == 0,
                };
                Entry { hash, loc }
            })
            .collect();
        for e in &entries {
            shard.insert_new(*e);
        }
        assert!(shard.hot.segments.len() > 1);
        assert!(shard.hot.segments.iter().all(|s| s.in_arena()));
        assert_eq!(shard.expiring, 4000);
        let at = |shard: &Shard, e: &Entry| shard.find_at(e.hash, e.loc.file, e.loc.offset);
        for e in &entries {
            let i = at(&shard, e).expect("present");
            assert_eq!(shard.location(i), e.loc);
        }
        for e in entries.iter().step_by(2) {
            let i = at(&shard, e).unwrap();
            shard.remove_at(i);
        }
        assert_distances_exact(&shard);
        for (n, e) in entries.iter().enumerate() {
            assert_eq!(at(&shard, e).is_some(), n % 2 == 1, "{n}");
        }
        assert_eq!(shard.len, 10_000);
        assert_eq!(shard.expiring, 2000);
        let e = entries[1];
        let i = at(&shard, &e).unwrap();
        shard.set_location(
            i,
            Location {
                expires: true,
                ..e.loc
            },
        );
        assert_eq!((shard.expiring, shard.location(i).rec_len), (2001, 40));
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
            expires: a.expires,
        };
        fx.kd
            .remap(&[false, true], |_| panic!("no entry is in file 1"));
        fx.kd.remap(&[true], |loc| (loc == a).then_some(moved));
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
