//! One shard: a Robin Hood open-addressing table of hot and cold slots, and the file table
//! its slots' file numbers index.

use std::sync::Arc;

use super::arena::{Arena, Words, SEGMENT_WORDS};
use super::hash::Hash;
use super::slot::*;
use crate::datafile::DataFile;
use crate::error::Result;

/// Grow when more than 7/8 of the slots are full.
pub(super) const MAX_LOAD_NUM: usize = 7;

pub(super) const MAX_LOAD_DEN: usize = 8;

pub(super) const MIN_CAPACITY: usize = 8;

/// A shard's hot slots: one heap block while the table is small, else fixed-size segments
/// from the directory's arena, on huge pages (see `arena`). One more load per probe (the
/// segment's address, from a short array that stays cached) buys a lookup that misses the
/// TLB far less often.
#[derive(Default)]
pub(super) struct HotTable {
    pub(super) segments: Vec<Words>,
    pub(super) len: usize,
}

impl HotTable {
    #[inline]
    pub(super) fn new(arena: &Arena, len: usize) -> HotTable {
        let segments = if len < SEGMENT_WORDS {
            vec![arena.words(len)]
        } else {
            let n = len.div_ceil(SEGMENT_WORDS);
            (0..n).map(|_| arena.words(SEGMENT_WORDS)).collect()
        };
        HotTable { segments, len }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> Hot {
        Hot(self.segments[i / SEGMENT_WORDS][i % SEGMENT_WORDS])
    }

    #[inline]
    pub(super) fn set(&mut self, i: usize, slot: Hot) {
        self.segments[i / SEGMENT_WORDS][i % SEGMENT_WORDS] = slot.0;
    }

    /// Every slot in order, a segment at a time (a whole-table pass without a lookup of the
    /// segment per slot).
    #[inline]
    pub(super) fn iter(&self) -> impl Iterator<Item = Hot> + '_ {
        self.segments
            .iter()
            .flat_map(|s| s.iter())
            .take(self.len)
            .map(|&w| Hot(w))
    }

    /// Where slot `i` is in memory (for a prefetch).
    #[inline]
    pub(super) fn address_of(&self, i: usize) -> *const u8 {
        self.segments[i / SEGMENT_WORDS][i % SEGMENT_WORDS..]
            .as_ptr()
            .cast()
    }

    /// Memory held, in bytes.
    #[cfg(test)]
    #[inline]
    pub(super) fn bytes(&self) -> usize {
        self.segments.iter().map(|s| s.len() * 8).sum()
    }
}

/// Where a probe ended without finding its key: the slot a new entry takes, and its
/// distance from home there.
#[derive(Clone, Copy, Debug)]
pub(super) struct Vacancy {
    pub(super) slot: usize,
    pub(super) dist: usize,
}

/// An entry out of its table: everything a slot pair holds but its distance.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub(super) hash: Hash,
    pub(super) loc: Location,
}

/// One shard: a Robin Hood table (entries sit as close to their home slot as the richer
/// entries around them allow, so a lookup can stop as soon as it passes where its key would
/// be), split into `hot` and `cold` arrays of the same length, plus the file table.
#[derive(Default)]
pub struct Shard {
    pub(super) hot: HotTable,
    pub(super) cold: Vec<Cold>,
    pub(super) arena: Arena,
    pub(super) len: usize,
    /// How many entries are puts that expire: a shard without any is not searched for them.
    pub(super) expiring: usize,
    /// Bytes of the records the entries point at, by file number: kept as entries come, go
    /// and move, so that weighing the files for a merge never walks the table.
    pub(super) live_by_file: Vec<u64>,
    pub(super) files: Vec<Option<Arc<DataFile>>>,
}

impl Shard {
    /// The open file numbered `no`. It stays open at least while this shard is borrowed.
    #[inline]
    pub(super) fn file(&self, no: u32) -> &DataFile {
        self.files
            .get(no as usize)
            .and_then(|f| f.as_deref())
            .expect("every file the key directory points into is in its file table")
    }

    #[inline]
    pub(super) fn capacity(&self) -> usize {
        self.hot.len()
    }

    /// The slot a hash would occupy in an empty table (multiply-shift: any capacity works).
    #[inline]
    pub(super) fn home(&self, h32: u32) -> usize {
        ((h32 as u64 * self.capacity() as u64) >> 32) as usize
    }

    #[inline]
    pub(super) fn next(&self, i: usize) -> usize {
        if i + 1 == self.capacity() {
            0
        } else {
            i + 1
        }
    }

    /// How far the occupied slot `i` is from its home.
    #[inline]
    pub(super) fn dist(&self, i: usize) -> usize {
        let stored = self.hot.get(i).stored_dist();
        if stored < FAR {
            return stored;
        }
        let home = self.home(self.cold[i].h32);
        if i >= home {
            i - home
        } else {
            i + self.capacity() - home
        }
    }

    #[inline]
    pub(super) fn location(&self, i: usize) -> Location {
        let hot = self.hot.get(i);
        Location {
            file: hot.file(),
            offset: hot.offset(),
            rec_len: self.cold[i].rec_len(),
            expires: self.cold[i].expires(),
        }
    }

    /// Counts `bytes` in (`add`) or out of file `file`'s live bytes.
    #[inline]
    fn count_live(&mut self, file: u32, bytes: u32, add: bool) {
        let no = file as usize;
        if self.live_by_file.len() <= no {
            self.live_by_file.resize(no + 1, 0);
        }
        let live = &mut self.live_by_file[no];
        if add {
            *live += bytes as u64;
        } else {
            *live -= bytes as u64;
        }
    }

    /// Whether any entry is in a file `files` (indexed by file number) marks.
    pub(super) fn has_live_in(&self, files: &[bool]) -> bool {
        self.live_by_file
            .iter()
            .zip(files)
            .any(|(&bytes, &marked)| marked && bytes > 0)
    }

    #[inline]
    pub(super) fn set_location(&mut self, i: usize, loc: Location) {
        let old = self.hot.get(i);
        self.count_live(old.file(), self.cold[i].rec_len(), false);
        self.count_live(loc.file, loc.rec_len, true);
        self.hot.set(i, old.with_location(loc));
        self.expiring -= self.cold[i].expires() as usize;
        self.expiring += loc.expires as usize;
        self.cold[i].set(loc);
    }

    /// Probes the slots that could hold hash `h`, in order, until `hit` accepts one whose tag
    /// matches. Reads only `hot`: what `hit` reads is up to it.
    #[inline]
    pub(super) fn probe(
        &self,
        h: Hash,
        hit: impl FnMut(usize) -> Result<bool>,
    ) -> Result<Option<usize>> {
        Ok(self.probe_to_end(h, hit)?.ok())
    }

    /// `probe`, telling where it stopped when no slot matched: where Robin Hood insertion
    /// would put an entry of hash `h` (valid while the table is not resized or changed).
    #[inline]
    pub(super) fn probe_to_end(
        &self,
        h: Hash,
        mut hit: impl FnMut(usize) -> Result<bool>,
    ) -> Result<Result<usize, Vacancy>> {
        let mut slot = self.home(h.h32);
        if self.len == 0 {
            return Ok(Err(Vacancy { slot, dist: 0 }));
        }
        let mut dist = 0;
        loop {
            let s = self.hot.get(slot);
            // An empty slot, or a resident nearer its home than we are to ours, means the key
            // is not here. A saturated distance needs the exact one (from the cold half), which
            // only chains longer than `FAR` ever ask for.
            let sd = s.stored_dist();
            if s.is_empty() || (sd < dist && (sd < FAR || self.dist(slot) < dist)) {
                return Ok(Err(Vacancy { slot, dist }));
            }
            if s.tag() == h.tag && hit(slot)? {
                return Ok(Ok(slot));
            }
            slot = self.next(slot);
            dist += 1;
        }
    }

    /// The slot of `key`: candidates with its whole 32-bit hash are confirmed by reading
    /// their record's key.
    #[inline]
    pub(super) fn find(&self, key: &[u8], h: Hash) -> Result<Option<usize>> {
        Ok(self.find_or_vacancy(key, h)?.ok())
    }

    /// `find`, or where the key would go.
    #[inline]
    pub(super) fn find_or_vacancy(&self, key: &[u8], h: Hash) -> Result<Result<usize, Vacancy>> {
        self.probe_to_end(h, |i| {
            Ok(self.cold[i].h32 == h.h32 && self.record_has_key(i, key)?)
        })
    }

    /// True when slot `i`'s record is one of `key` (read from its data file).
    #[inline]
    pub(super) fn record_has_key(&self, i: usize, key: &[u8]) -> Result<bool> {
        let at = self.hot.get(i);
        self.file(at.file()).key_matches(at.offset() as u64, key)
    }

    /// The slot with hash `h` pointing exactly at (`file`, `offset`).
    #[cfg(test)]
    #[inline]
    pub(super) fn find_at(&self, h: Hash, file: u32, offset: u32) -> Option<usize> {
        self.probe(h, |i| {
            let at = self.hot.get(i);
            Ok(self.cold[i].h32 == h.h32 && at.file() == file && at.offset() == offset)
        })
        .unwrap_or(None)
    }

    /// Adds `entry`, whose key is not in the table (for tests: it asks no record).
    #[cfg(test)]
    #[inline]
    pub(super) fn insert_new(&mut self, entry: Entry) {
        self.reserve(1);
        let vacancy = self.probe_to_end(entry.hash, |_| Ok(false)).unwrap();
        self.place_from(entry, vacancy.unwrap_err());
    }

    /// Puts `entry`, which is not in the table, where a probe for it ended (the table has a
    /// free slot, and has not changed since that probe): the probe's walk is not repeated.
    #[inline]
    pub(super) fn place_from(&mut self, entry: Entry, v: Vacancy) {
        let hot = Hot::new(entry.hash.tag, 0, entry.loc.file, entry.loc.offset);
        let cold = Cold::new(entry.hash.h32, entry.loc);
        self.place_pair(hot, cold, v);
    }

    /// `place_from` of a slot pair as the table stores it (its distance is rewritten): an
    /// evicted resident is carried on as the words it was, nothing decoded.
    #[inline]
    pub(super) fn place_pair(&mut self, mut hot: Hot, mut cold: Cold, v: Vacancy) {
        self.expiring += cold.expires() as usize;
        self.count_live(hot.file(), cold.rec_len(), true);
        let (mut i, mut d) = (v.slot, v.dist);
        loop {
            let resident = self.hot.get(i);
            if resident.is_empty() {
                self.hot.set(i, hot.with_dist(d));
                self.cold[i] = cold;
                self.len += 1;
                return;
            }
            let resident_dist = self.dist(i);
            if resident_dist < d {
                self.hot.set(i, hot.with_dist(d));
                hot = resident;
                cold = std::mem::replace(&mut self.cold[i], cold);
                d = resident_dist;
            }
            i = self.next(i);
            d += 1;
        }
    }

    /// Removes slot `i`, shifting the following displaced entries back (no tombstones).
    #[inline]
    pub(super) fn remove_at(&mut self, mut i: usize) {
        self.expiring -= self.cold[i].expires() as usize;
        self.count_live(self.hot.get(i).file(), self.cold[i].rec_len(), false);
        let mut j = self.next(i);
        while !self.hot.get(j).is_empty() && self.hot.get(j).stored_dist() > 0 {
            let dist = self.dist(j);
            self.hot.set(i, self.hot.get(j).with_dist(dist - 1));
            self.cold[i] = self.cold[j];
            i = j;
            j = self.next(j);
        }
        self.hot.set(i, Hot::default());
        self.cold[i] = Cold::default();
        self.len -= 1;
        let cap = self.capacity();
        if cap > MIN_CAPACITY && self.len * 4 < cap {
            self.resize((self.len * 2).max(MIN_CAPACITY));
        }
    }

    #[inline]
    pub(super) fn reserve(&mut self, extra: usize) {
        let need = self.len + extra;
        if need * MAX_LOAD_DEN <= self.capacity() * MAX_LOAD_NUM {
            return;
        }
        let mut cap = self.capacity().max(MIN_CAPACITY);
        while need * MAX_LOAD_DEN > cap * MAX_LOAD_NUM {
            cap += cap / 2;
        }
        self.resize(cap);
    }

    #[inline]
    pub(super) fn resize(&mut self, cap: usize) {
        let old_hot = std::mem::replace(&mut self.hot, HotTable::new(&self.arena, cap));
        let old_cold = std::mem::replace(&mut self.cold, vec![Cold::default(); cap]);
        self.len = 0;
        self.expiring = 0;
        self.live_by_file.clear();
        let old = old_hot.iter();
        for (hot, cold) in old.zip(old_cold).filter(|(h, _)| !h.is_empty()) {
            let slot = self.home(cold.h32);
            self.place_pair(hot, cold, Vacancy { slot, dist: 0 });
        }
    }

    /// The occupied slots' indexes.
    #[inline]
    pub(super) fn occupied(&self) -> impl Iterator<Item = usize> + '_ {
        let hot = self.hot.iter().enumerate();
        hot.filter(|(_, h)| !h.is_empty()).map(|(i, _)| i)
    }
}
