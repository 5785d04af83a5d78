//! Hashing a key: which shard it lives in, its 32-bit hash and the tag its hot slot keeps.

use super::slot::*;

pub(super) const SHARD_BITS: u32 = 6;

pub(super) const SHARDS: usize = 1 << SHARD_BITS;

/// A key's hash, split: which shard, the 32 bits that place it in the shard's table, and
/// the tag a lookup compares first. Valid for every directory made by `new_like` from the
/// one that made it.
#[derive(Clone, Copy, Debug)]
pub struct Hash {
    pub(super) shard: usize,
    pub(super) h32: u32,
    pub(super) tag: u16,
}

impl Hash {
    /// `key`'s hash under `seed`: the shard is the top bits, the table position the low 32,
    /// the tag the bits above them.
    #[inline]
    pub(super) fn of(seed: (u64, u64), key: &[u8]) -> Hash {
        let h = hash_key(seed, key);
        Hash {
            shard: (h >> (64 - SHARD_BITS)) as usize,
            h32: h as u32,
            tag: (h >> 32) as u16 & ((1 << TAG_BITS) - 1),
        }
    }
}

/// A seeded multiply-fold hash (in the style of wyhash): fast on short keys, and keyed so a
/// caller cannot predict collisions.
#[inline]
pub(super) fn hash_key(seed: (u64, u64), key: &[u8]) -> u64 {
    #[inline]
    pub(super) fn fold(a: u64, b: u64) -> u64 {
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
