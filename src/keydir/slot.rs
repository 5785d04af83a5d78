//! A slot's bit layout: the 8-byte hot half lookups read (offset, file number, distance
//! from home, hash tag) and the cold half writes read (full hash, record length), and the
//! `Location` they encode.

/// Where a key's newest record lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file's number in the key directory's file table (not its id).
    pub file: u32,
    pub offset: u32,
    /// Length of the whole record (header, key and value).
    pub rec_len: u32,
    /// The record is a put that expires (its header holds the expiry).
    pub expires: bool,
}

impl Location {
    /// The value's length, for a record of `key_len`-byte key.
    pub fn value_len(&self, key_len: usize) -> usize {
        self.rec_len as usize - crate::record::HEADER_LEN - key_len
    }
}

/// Bits of a hot slot, low to high: the record's offset (31: `MAX_MAX_FILE_SIZE` keeps offsets
/// below 2^31), its file number (17), the slot's distance from its home (6, saturating), and a
/// 10-bit tag of the key's hash. A zero slot is empty: no record sits at offset 0.
pub(super) const OFFSET_BITS: u32 = 31;

pub(super) const FILE_BITS: u32 = 17;

pub(super) const DIST_BITS: u32 = 6;

pub(super) const TAG_BITS: u32 = 10;

pub(super) const FILE_SHIFT: u32 = OFFSET_BITS;

pub(super) const DIST_SHIFT: u32 = FILE_SHIFT + FILE_BITS;

pub(super) const TAG_SHIFT: u32 = DIST_SHIFT + DIST_BITS;

/// A stored distance this large means "at least this": the exact one is then computed from
/// the slot's full hash.
pub(super) const FAR: usize = (1 << DIST_BITS) - 1;

/// How many data files the key directory can number (`FileSet` refuses more).
pub const MAX_FILES: u32 = 1 << FILE_BITS;

/// Record offsets the key directory can hold are below this (`MAX_MAX_FILE_SIZE` keeps every
/// file this handle writes within it; recovery rejects a record beyond it as corruption).
pub const MAX_OFFSET: u64 = 1 << OFFSET_BITS;

const _: () = assert!(crate::options::MAX_MAX_FILE_SIZE <= MAX_OFFSET);

/// What a lookup reads: 8 bytes per slot, so the tables a random get misses in are half the
/// size they would be with the whole entry in one slot (they stay in the CPU cache longer).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(super) struct Hot(pub(super) u64);

/// What only writes and table growth read, in a parallel array: the key's 32-bit hash (which
/// places it in a resized table) and the record's length, whose top bit (`EXPIRES_BIT`; a
/// record is shorter than 2^29 bytes) marks a put that expires, so that stores without
/// expiring keys spend no memory on them.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Cold {
    pub(super) h32: u32,
    len_and_expires: u32,
}

/// The bit of `Cold`'s length word marking a record that expires.
const EXPIRES_BIT: u32 = 1 << 31;

const _: () = assert!(
    (crate::record::HEADER_LEN + crate::options::MAX_KEY_LEN + crate::options::MAX_VALUE_LEN)
        < EXPIRES_BIT as usize
);

impl Cold {
    #[inline]
    pub(super) fn new(h32: u32, loc: Location) -> Cold {
        let mut c = Cold {
            h32,
            len_and_expires: 0,
        };
        c.set(loc);
        c
    }

    /// The record's length (0 for an empty slot).
    #[inline]
    pub(super) fn rec_len(self) -> u32 {
        self.len_and_expires & !EXPIRES_BIT
    }

    #[inline]
    pub(super) fn expires(self) -> bool {
        self.len_and_expires & EXPIRES_BIT != 0
    }

    #[inline]
    pub(super) fn set(&mut self, loc: Location) {
        self.len_and_expires = loc.rec_len | if loc.expires { EXPIRES_BIT } else { 0 };
    }
}

impl Hot {
    #[inline]
    pub(super) fn new(tag: u16, dist: usize, file: u32, offset: u32) -> Hot {
        debug_assert!(file < MAX_FILES && offset < 1 << OFFSET_BITS);
        Hot((tag as u64) << TAG_SHIFT
            | (dist.min(FAR) as u64) << DIST_SHIFT
            | (file as u64) << FILE_SHIFT
            | offset as u64)
    }

    #[inline]
    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }

    #[inline]
    pub(super) fn tag(self) -> u16 {
        (self.0 >> TAG_SHIFT) as u16
    }

    #[inline]
    pub(super) fn stored_dist(self) -> usize {
        (self.0 >> DIST_SHIFT) as usize & FAR
    }

    #[inline]
    pub(super) fn with_dist(self, dist: usize) -> Hot {
        Hot(self.0 & !((FAR as u64) << DIST_SHIFT) | (dist.min(FAR) as u64) << DIST_SHIFT)
    }

    #[inline]
    pub(super) fn file(self) -> u32 {
        (self.0 >> FILE_SHIFT) as u32 & (MAX_FILES - 1)
    }

    #[inline]
    pub(super) fn offset(self) -> u32 {
        self.0 as u32 & ((1 << OFFSET_BITS) - 1)
    }

    #[inline]
    pub(super) fn with_location(self, loc: Location) -> Hot {
        Hot::new(self.tag(), self.stored_dist(), loc.file, loc.offset)
    }
}
