//! The key directory: for every live key, where its newest value lives.
//!
//! Memory is the headline cost of Bitcask, so the directory is built for it: keys are
//! hash-sharded into 64 shards, each an open-addressing table of one control byte (a 7-bit
//! hash tag) and one 32-bit arena offset per slot, over an arena of packed entries
//! `[file u32][offset u32][value length u32][seq u64][key length varint][key]`. That is about
//! 21 bytes per entry beyond the key plus 5 bytes per slot at 57-87% load: under 32 bytes per
//! key, where a `HashMap<Vec<u8>, _>` spends over 80. Ordered iteration sorts a snapshot of the
//! keys (see `keys_with_prefix`).
//!
//! Concurrency: each shard has its own `RwLock`, on its own cache line, so readers of
//! different keys touch no shared memory; a reader holds its shard's read lock while it copies
//! the value out, which is what keeps the data file it reads alive (see `Shard::file`).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::datafile::DataFile;

/// Where a key's newest record lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file's number in the key directory's file table (not its id).
    pub file: u32,
    pub offset: u32,
    pub value_len: u32,
    pub seq: u64,
}

const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;
const EMPTY: u8 = 0;
const DELETED: u8 = 1;
const META_LEN: usize = 20;
const CHUNK_BITS: u32 = 18;
const CHUNK_SIZE: usize = 1 << CHUNK_BITS;

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

/// What `apply_if_newer` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// The record is older than what the directory has: ignored.
    Stale,
    /// The record became the key's entry (or removed it); the replaced entry, if any.
    Replaced(Option<Location>),
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
                .map(|_| Padded(RwLock::new(Shard::new(seed))))
                .collect(),
            seed,
        }
    }

    /// An empty directory hashing like this one, to be filled and swapped in by `replace_with`.
    pub fn new_like(&self) -> KeyDir {
        KeyDir::with_seed(self.seed)
    }

    fn hash(&self, key: &[u8]) -> u64 {
        hash_key(self.seed, key)
    }

    fn shard_of(&self, h: u64) -> &RwLock<Shard> {
        &self.shards[(h >> (64 - SHARD_BITS)) as usize].0
    }

    fn read_shard(&self, h: u64) -> RwLockReadGuard<'_, Shard> {
        self.shard_of(h).read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_shard(&self, h: u64) -> RwLockWriteGuard<'_, Shard> {
        self.shard_of(h).write().unwrap_or_else(|p| p.into_inner())
    }

    fn write_all(&self) -> impl Iterator<Item = RwLockWriteGuard<'_, Shard>> {
        self.shards
            .iter()
            .map(|s| s.0.write().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs `f` with the key's location and the shard (for its file table) under the shard's
    /// read lock: the file stays open and the location valid until `f` returns.
    pub fn with_entry<R>(&self, key: &[u8], f: impl FnOnce(Option<(Location, &Shard)>) -> R) -> R {
        let h = self.hash(key);
        let shard = self.read_shard(h);
        match shard.find(key, h) {
            Some(slot) => {
                let loc = shard.location(slot);
                f(Some((loc, &shard)))
            }
            None => f(None),
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<Location> {
        self.with_entry(key, |e| e.map(|(loc, _)| loc))
    }

    /// Sets the key's location, returning the one it replaces.
    pub fn insert(&self, key: &[u8], loc: Location) -> Option<Location> {
        let h = self.hash(key);
        self.write_shard(h).insert(key, h, loc)
    }

    /// Removes the key, returning its location.
    pub fn remove(&self, key: &[u8]) -> Option<Location> {
        let h = self.hash(key);
        self.write_shard(h).remove(key, h)
    }

    /// Applies a record found while loading files: it wins only with a greater sequence number
    /// than the entry it would replace.
    pub fn apply_if_newer(&self, key: &[u8], loc: Location, tombstone: bool) -> Applied {
        let h = self.hash(key);
        let mut shard = self.write_shard(h);
        let current = shard.find(key, h).map(|slot| shard.location(slot));
        if current.is_some_and(|c| c.seq > loc.seq) {
            return Applied::Stale;
        }
        if tombstone {
            Applied::Replaced(shard.remove(key, h))
        } else {
            Applied::Replaced(shard.insert(key, h, loc))
        }
    }

    /// Points the key at `new` if it still points at (`file`, `offset`): a merge moving a record
    /// must not undo a put or remove that happened while it copied.
    pub fn relocate_if_at(&self, key: &[u8], file: u32, offset: u32, new: Location) -> bool {
        let h = self.hash(key);
        let mut shard = self.write_shard(h);
        match shard.find(key, h) {
            Some(slot) => {
                let cur = shard.location(slot);
                let hit = cur.file == file && cur.offset == offset;
                if hit {
                    shard.set_location(slot, new);
                }
                hit
            }
            None => false,
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
        self.shards
            .iter()
            .map(|s| s.0.read().unwrap_or_else(|p| p.into_inner()).items)
            .sum()
    }

    /// Sizes the tables for about `n` more keys, so loading does not rehash repeatedly.
    pub fn reserve(&self, n: usize) {
        let per_shard = n / SHARDS + n / SHARDS / 8 + 1;
        for mut shard in self.write_all() {
            shard.reserve(per_shard);
        }
    }

    /// The keys starting with `prefix`, in byte order: a snapshot, taken one shard at a time.
    pub fn keys_with_prefix(&self, prefix: &[u8]) -> KeySnapshot {
        let mut snap = KeySnapshot::default();
        for s in self.shards.iter() {
            let shard = s.0.read().unwrap_or_else(|p| p.into_inner());
            for slot in shard.full_slots() {
                let key = shard.key(slot);
                if key.starts_with(prefix) {
                    let start = snap.bytes.len();
                    snap.bytes.extend_from_slice(key);
                    snap.spans.push((start, key.len() as u32));
                }
            }
        }
        let bytes = &snap.bytes;
        snap.spans.sort_unstable_by(|a, b| {
            bytes[a.0..a.0 + a.1 as usize].cmp(&bytes[b.0..b.0 + b.1 as usize])
        });
        snap
    }

    /// Every (key, location), shard by shard, under each shard's read lock in turn.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], Location)) {
        for s in self.shards.iter() {
            let shard = s.0.read().unwrap_or_else(|p| p.into_inner());
            for slot in shard.full_slots() {
                f(shard.key(slot), shard.location(slot));
            }
        }
    }

    /// Replaces every shard's entries and files with `other`'s, shard by shard (a reader sees
    /// each key either before or after, never a mix within one key).
    /// `other` must come from `new_like` on this directory (same hash seed).
    pub fn replace_with(&self, other: KeyDir) {
        assert_eq!(
            self.seed, other.seed,
            "replace_with needs a directory from new_like"
        );
        for (mut mine, new) in self.write_all().zip(other.shards.into_vec()) {
            *mine = new.0.into_inner().unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Sorted keys, stored back to back.
#[derive(Default, Debug)]
pub struct KeySnapshot {
    bytes: Vec<u8>,
    spans: Vec<(usize, u32)>,
}

impl KeySnapshot {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.spans
            .get(i)
            .map(|&(s, l)| &self.bytes[s..s + l as usize])
    }
}

/// One shard: an open-addressing table over an arena of entries, plus the file table.
pub struct Shard {
    seed: (u64, u64),
    ctrl: Vec<u8>,
    slots: Vec<u32>,
    items: usize,
    deleted: usize,
    arena: Arena,
    files: Vec<Option<Arc<DataFile>>>,
}

impl Shard {
    fn new(seed: (u64, u64)) -> Shard {
        Shard {
            seed,
            ctrl: Vec::new(),
            slots: Vec::new(),
            items: 0,
            deleted: 0,
            arena: Arena::default(),
            files: Vec::new(),
        }
    }

    /// The open file numbered `no`. It stays open at least while this shard is borrowed.
    pub fn file(&self, no: u32) -> Option<&DataFile> {
        self.files.get(no as usize).and_then(|f| f.as_deref())
    }

    fn mask(&self) -> usize {
        self.ctrl.len().wrapping_sub(1)
    }

    fn find(&self, key: &[u8], h: u64) -> Option<usize> {
        if self.ctrl.is_empty() {
            return None;
        }
        let tag = tag_of(h);
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let c = self.ctrl[i];
            if c == EMPTY {
                return None;
            }
            if c == tag && self.arena.key(self.slots[i]) == key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    fn location(&self, slot: usize) -> Location {
        self.arena.location(self.slots[slot])
    }

    fn set_location(&mut self, slot: usize, loc: Location) {
        self.arena.set_location(self.slots[slot], loc);
    }

    fn key(&self, slot: usize) -> &[u8] {
        self.arena.key(self.slots[slot])
    }

    fn full_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.ctrl
            .iter()
            .enumerate()
            .filter(|(_, &c)| c >= 0x80)
            .map(|(i, _)| i)
    }

    fn insert(&mut self, key: &[u8], h: u64, loc: Location) -> Option<Location> {
        if let Some(slot) = self.find(key, h) {
            let old = self.location(slot);
            self.set_location(slot, loc);
            return Some(old);
        }
        self.reserve(1);
        let mask = self.mask();
        let mut i = h as usize & mask;
        while self.ctrl[i] >= 0x80 {
            i = (i + 1) & mask;
        }
        if self.ctrl[i] == DELETED {
            self.deleted -= 1;
        }
        self.ctrl[i] = tag_of(h);
        self.slots[i] = self.arena.push(key, loc);
        self.items += 1;
        None
    }

    fn remove(&mut self, key: &[u8], h: u64) -> Option<Location> {
        let slot = self.find(key, h)?;
        let old = self.location(slot);
        self.arena.release(self.slots[slot]);
        // A slot followed by an empty one ends no probe chain, so it can become empty again.
        if self.ctrl[(slot + 1) & self.mask()] == EMPTY {
            self.ctrl[slot] = EMPTY;
        } else {
            self.ctrl[slot] = DELETED;
            self.deleted += 1;
        }
        self.items -= 1;
        if self.arena.garbage > 64 * 1024 && self.arena.garbage > self.arena.live() {
            self.compact_arena();
        }
        Some(old)
    }

    /// Makes room for `extra` more entries at a load of at most 7/8.
    fn reserve(&mut self, extra: usize) {
        let need = self.items + self.deleted + extra;
        if need * 8 <= self.ctrl.len() * 7 {
            return;
        }
        let mut cap = self.ctrl.len().max(16);
        while (self.items + extra) * 8 > cap * 7 {
            cap *= 2;
        }
        self.rehash(cap);
    }

    fn rehash(&mut self, cap: usize) {
        let old_ctrl = std::mem::replace(&mut self.ctrl, vec![EMPTY; cap]);
        let old_slots = std::mem::replace(&mut self.slots, vec![0; cap]);
        self.deleted = 0;
        let mask = cap - 1;
        for (c, off) in old_ctrl.into_iter().zip(old_slots) {
            if c < 0x80 {
                continue;
            }
            let mut i = hash_key(self.seed, self.arena.key(off)) as usize & mask;
            while self.ctrl[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.ctrl[i] = c;
            self.slots[i] = off;
        }
    }

    fn compact_arena(&mut self) {
        let mut fresh = Arena::default();
        for i in 0..self.ctrl.len() {
            if self.ctrl[i] >= 0x80 {
                let off = self.slots[i];
                self.slots[i] = fresh.push(self.arena.key(off), self.arena.location(off));
            }
        }
        self.arena = fresh;
    }
}

/// Entries packed into fixed-size chunks (no reallocation slack, no per-key allocation).
/// An entry's address is `chunk << CHUNK_BITS | offset`.
#[derive(Default)]
struct Arena {
    chunks: Vec<Vec<u8>>,
    garbage: usize,
    used: usize,
}

impl Arena {
    fn push(&mut self, key: &[u8], loc: Location) -> u32 {
        let mut varint = [0u8; 5];
        let vlen = encode_varint(key.len() as u32, &mut varint);
        let need = META_LEN + vlen + key.len();
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= need);
        if !fits {
            self.chunks.push(Vec::with_capacity(CHUNK_SIZE));
        }
        let idx = self.chunks.len() - 1;
        let chunk = self.chunks.last_mut().unwrap();
        let off = chunk.len();
        chunk.extend_from_slice(&meta_bytes(loc));
        chunk.extend_from_slice(&varint[..vlen]);
        chunk.extend_from_slice(key);
        self.used += need;
        ((idx as u32) << CHUNK_BITS) | off as u32
    }

    fn entry(&self, addr: u32) -> &[u8] {
        let chunk = &self.chunks[(addr >> CHUNK_BITS) as usize];
        &chunk[(addr as usize) & (CHUNK_SIZE - 1)..]
    }

    fn key(&self, addr: u32) -> &[u8] {
        let e = self.entry(addr);
        let (len, vlen) = decode_varint(&e[META_LEN..]);
        &e[META_LEN + vlen..META_LEN + vlen + len as usize]
    }

    fn location(&self, addr: u32) -> Location {
        let e = self.entry(addr);
        let u32_at = |i: usize| u32::from_le_bytes(e[i..i + 4].try_into().unwrap());
        Location {
            file: u32_at(0),
            offset: u32_at(4),
            value_len: u32_at(8),
            seq: u64::from_le_bytes(e[12..20].try_into().unwrap()),
        }
    }

    fn set_location(&mut self, addr: u32, loc: Location) {
        let chunk = &mut self.chunks[(addr >> CHUNK_BITS) as usize];
        let at = (addr as usize) & (CHUNK_SIZE - 1);
        chunk[at..at + META_LEN].copy_from_slice(&meta_bytes(loc));
    }

    fn release(&mut self, addr: u32) {
        let e = self.entry(addr);
        let (len, vlen) = decode_varint(&e[META_LEN..]);
        let size = META_LEN + vlen + len as usize;
        self.garbage += size;
        self.used -= size;
    }

    fn live(&self) -> usize {
        self.used
    }
}

fn meta_bytes(loc: Location) -> [u8; META_LEN] {
    let mut m = [0u8; META_LEN];
    m[0..4].copy_from_slice(&loc.file.to_le_bytes());
    m[4..8].copy_from_slice(&loc.offset.to_le_bytes());
    m[8..12].copy_from_slice(&loc.value_len.to_le_bytes());
    m[12..20].copy_from_slice(&loc.seq.to_le_bytes());
    m
}

fn encode_varint(mut v: u32, out: &mut [u8; 5]) -> usize {
    let mut n = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out[n] = byte;
            return n + 1;
        }
        out[n] = byte | 0x80;
        n += 1;
    }
}

fn decode_varint(b: &[u8]) -> (u32, usize) {
    let mut v = 0u32;
    for (i, &byte) in b.iter().enumerate().take(5) {
        v |= ((byte & 0x7f) as u32) << (7 * i);
        if byte & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    (v, 5)
}

fn tag_of(h: u64) -> u8 {
    0x80 | ((h >> (57 - SHARD_BITS)) as u8 & 0x7f)
}

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
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap());
        h = fold(h ^ w ^ P1, seed.1 ^ P0);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 8];
        tail[..rest.len()].copy_from_slice(rest);
        h = fold(h ^ u64::from_le_bytes(tail) ^ P0, seed.1 ^ P1);
    }
    fold(h ^ P1, P0 ^ seed.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn loc(n: u64) -> Location {
        Location {
            file: n as u32 % 7,
            offset: n as u32,
            value_len: (n * 3) as u32,
            seq: n,
        }
    }

    #[test]
    fn insert_get_remove_against_a_hashmap() {
        let kd = KeyDir::new();
        let mut model = HashMap::new();
        let mut x: u64 = 12345;
        for step in 0..60_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = format!("key-{}", x % 5000).into_bytes();
            if x % 3 == 0 {
                assert_eq!(kd.remove(&key), model.remove(&key), "step {step}");
            } else {
                assert_eq!(
                    kd.insert(&key, loc(step)),
                    model.insert(key.clone(), loc(step))
                );
            }
        }
        assert_eq!(kd.len(), model.len());
        for (k, v) in &model {
            assert_eq!(kd.get(k), Some(*v));
        }
        assert_eq!(kd.get(b"absent"), None);
    }

    #[test]
    fn long_keys_and_varints() {
        let kd = KeyDir::new();
        for len in [1usize, 127, 128, 300, 16_383, 16_384, 65_536] {
            let key = vec![len as u8; len];
            kd.insert(&key, loc(len as u64));
            assert_eq!(kd.get(&key), Some(loc(len as u64)), "len {len}");
        }
    }

    #[test]
    fn newer_sequence_wins_and_tombstones_remove() {
        let kd = KeyDir::new();
        let l = |seq| Location {
            file: 1,
            offset: 0,
            value_len: 0,
            seq,
        };
        assert_eq!(
            kd.apply_if_newer(b"k", l(5), false),
            Applied::Replaced(None)
        );
        assert_eq!(kd.apply_if_newer(b"k", l(3), false), Applied::Stale);
        assert_eq!(kd.get(b"k"), Some(l(5)));
        assert_eq!(
            kd.apply_if_newer(b"k", l(9), true),
            Applied::Replaced(Some(l(5)))
        );
        assert_eq!(kd.get(b"k"), None);
    }

    #[test]
    fn relocation_only_moves_unchanged_entries() {
        let kd = KeyDir::new();
        let a = Location {
            file: 1,
            offset: 10,
            value_len: 1,
            seq: 1,
        };
        let b = Location {
            file: 2,
            offset: 20,
            value_len: 1,
            seq: 1,
        };
        kd.insert(b"k", a);
        assert!(kd.relocate_if_at(b"k", 1, 10, b));
        assert_eq!(kd.get(b"k"), Some(b));
        assert!(!kd.relocate_if_at(b"k", 1, 10, a));
        assert!(!kd.relocate_if_at(b"gone", 1, 10, a));
    }

    #[test]
    fn prefix_snapshot_is_sorted() {
        let kd = KeyDir::new();
        for k in ["b2", "a", "b1", "c", "b", "ab"] {
            kd.insert(k.as_bytes(), loc(1));
        }
        let all = kd.keys_with_prefix(b"");
        let got: Vec<&[u8]> = (0..all.len()).map(|i| all.get(i).unwrap()).collect();
        assert_eq!(got, vec![&b"a"[..], b"ab", b"b", b"b1", b"b2", b"c"]);
        let bs = kd.keys_with_prefix(b"b");
        assert_eq!(bs.len(), 3);
        assert_eq!(bs.get(0), Some(&b"b"[..]));
    }

    #[test]
    fn arena_compaction_keeps_entries() {
        let kd = KeyDir::new();
        for i in 0..20_000u64 {
            kd.insert(format!("{i:08}").as_bytes(), loc(i));
        }
        for i in 0..19_000u64 {
            kd.remove(format!("{i:08}").as_bytes());
        }
        for i in 19_000..20_000u64 {
            assert_eq!(kd.get(format!("{i:08}").as_bytes()), Some(loc(i)));
        }
        assert_eq!(kd.len(), 1000);
    }
}
