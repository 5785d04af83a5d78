//! The record: the unit appended to a data file. Layout (little-endian), see `docs/format.md`:
//!
//! ```text
//! 0   u32  crc32 of bytes 4..end (crc32fast, IEEE)
//! 4   u64  sequence number: grows over the store's life, decides which record wins
//! 12  u64  timestamp, milliseconds since the Unix epoch (informational only); with the
//!          expires flag, the record's expiry instead (milliseconds since the Unix epoch)
//! 20  u8   flags: bit 0 = tombstone, bit 1 = seal, bit 2 = batch member, bit 3 = batch
//!          commit, bit 4 = expires (a put only); other bits must be zero
//! 21  u32  key length, 1..=MAX_KEY_LEN (0 for the seal and the commit)
//! 25  u32  value length, 0..=MAX_VALUE_LEN (0 for tombstones, 16 for the seal and the commit)
//! 29       key, then value
//! ```
//!
//! The seal is the last record of every sealed data file: no key, and as value the file's
//! id and the seal's own offset (u64 each). A sealed file that does not end with its seal
//! was cut short, even when the cut fell exactly between two records.
//!
//! A write batch is its members (puts and tombstones with the batch bit set) followed by its
//! commit: no key, and as value the first member's sequence number and the member count (u64
//! each). Members count only once their commit follows them (`datafile::committed`).

use crate::options::{MAX_KEY_LEN, MAX_VALUE_LEN};

/// Bytes before the key.
pub const HEADER_LEN: usize = 29;
/// Flag bit marking a deletion.
pub const FLAG_TOMBSTONE: u8 = 1;
/// Flag bit marking the seal: the record that closes a sealed data file.
pub const FLAG_SEAL: u8 = 2;
/// Bytes of the seal's value: the file id and the seal's offset.
pub const SEAL_VALUE_LEN: usize = 16;
/// Bytes of the whole seal record.
pub const SEAL_LEN: u64 = (HEADER_LEN + SEAL_VALUE_LEN) as u64;
/// Flag bit marking a member of a write batch (with or without the tombstone bit).
pub const FLAG_BATCH: u8 = 4;
/// Flag bit marking a batch's commit: the record that makes the members before it count.
pub const FLAG_COMMIT: u8 = 8;
/// Bytes of the commit's value: the first member's sequence number and the member count.
pub const COMMIT_VALUE_LEN: usize = 16;
/// Bytes of the whole commit record.
pub const COMMIT_LEN: u64 = (HEADER_LEN + COMMIT_VALUE_LEN) as u64;
/// Flag bit marking a put that expires: its timestamp field holds the expiry (milliseconds
/// since the Unix epoch) instead of the time of the write. Only on a put, in a batch or not.
/// The expiry sits in the header rather than after it so that every record keeps its key at
/// `HEADER_LEN` and its length as `HEADER_LEN + key + value`: a copy (compaction, backup)
/// carries the expiry unchanged, and a reader of an older version refuses the unknown bit.
pub const FLAG_EXPIRES: u8 = 16;

/// The fixed-size part of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub crc: u32,
    pub seq: u64,
    pub timestamp: u64,
    pub flags: u8,
    pub key_len: u32,
    pub value_len: u32,
}

/// Why a header cannot start a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Every header byte is zero: space that was never written (reserved file tail).
    Zeroed,
    /// Unknown flag bits, an empty key, or a length past the limits.
    Malformed,
}

impl Header {
    pub fn is_tombstone(&self) -> bool {
        self.flags & FLAG_TOMBSTONE != 0
    }

    pub fn is_seal(&self) -> bool {
        self.flags == FLAG_SEAL
    }

    /// A put or tombstone written as part of a batch: it counts once the batch's commit
    /// follows it.
    pub fn is_batch_member(&self) -> bool {
        self.flags & FLAG_BATCH != 0
    }

    /// The record that commits the batch members before it.
    pub fn is_commit(&self) -> bool {
        self.flags == FLAG_COMMIT
    }

    /// The expiry of a put that expires (milliseconds since the Unix epoch).
    pub fn expiry(&self) -> Option<u64> {
        (self.flags & FLAG_EXPIRES != 0).then_some(self.timestamp)
    }

    /// The header's bytes, exactly as stored (a merge copies records without recomputing).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut buf = [0u8; HEADER_LEN];
        buf[0..4].copy_from_slice(&self.crc.to_le_bytes());
        buf[4..12].copy_from_slice(&self.seq.to_le_bytes());
        buf[12..20].copy_from_slice(&self.timestamp.to_le_bytes());
        buf[20] = self.flags;
        buf[21..25].copy_from_slice(&self.key_len.to_le_bytes());
        buf[25..29].copy_from_slice(&self.value_len.to_le_bytes());
        buf
    }

    /// Total bytes of the record this header starts.
    pub fn record_len(&self) -> u64 {
        record_len(self.key_len as usize, self.value_len as usize)
    }

    /// Parses and range-checks a header. The lengths are checked against the limits before
    /// anyone allocates or reads by them.
    pub fn decode(buf: &[u8; HEADER_LEN]) -> Result<Header, HeaderError> {
        if buf.iter().all(|&b| b == 0) {
            return Err(HeaderError::Zeroed);
        }
        let h = Header {
            crc: u32::from_le_bytes(buf[0..4].try_into().unwrap()),
            seq: u64::from_le_bytes(buf[4..12].try_into().unwrap()),
            timestamp: u64::from_le_bytes(buf[12..20].try_into().unwrap()),
            flags: buf[20],
            key_len: u32::from_le_bytes(buf[21..25].try_into().unwrap()),
            value_len: u32::from_le_bytes(buf[25..29].try_into().unwrap()),
        };
        let well_formed = match h.flags & !FLAG_BATCH & !FLAG_EXPIRES {
            _ if h.flags & FLAG_EXPIRES != 0 && h.flags & !FLAG_BATCH != FLAG_EXPIRES => false,
            FLAG_SEAL if h.flags == FLAG_SEAL => {
                h.key_len == 0 && h.value_len as usize == SEAL_VALUE_LEN
            }
            FLAG_COMMIT if h.flags == FLAG_COMMIT => {
                h.key_len == 0 && h.value_len as usize == COMMIT_VALUE_LEN
            }
            0 | FLAG_TOMBSTONE => {
                let key_ok = h.key_len >= 1 && h.key_len as usize <= MAX_KEY_LEN;
                let value_ok = h.value_len as usize <= MAX_VALUE_LEN
                    && !(h.is_tombstone() && h.value_len != 0);
                key_ok && value_ok
            }
            _ => false,
        };
        if !well_formed {
            return Err(HeaderError::Malformed);
        }
        Ok(h)
    }
}

/// The key and value lengths a header gives, unchecked (`Header::decode` checks them).
pub fn lengths(header: &[u8; HEADER_LEN]) -> (usize, usize) {
    let field = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap()) as usize;
    (field(21), field(25))
}

/// True when the header is a value record's, in a batch or not (not a tombstone's, a seal's
/// nor a commit's); for a header whose record's CRC has been checked.
pub fn is_value(header: &[u8; HEADER_LEN]) -> bool {
    header[20] & !FLAG_BATCH & !FLAG_EXPIRES == 0
}

/// The expiry a header of a checked record carries, if any (see `FLAG_EXPIRES`).
pub fn expiry_of(header: &[u8; HEADER_LEN]) -> Option<u64> {
    (header[20] & FLAG_EXPIRES != 0).then(|| u64::from_le_bytes(header[12..20].try_into().unwrap()))
}

/// True when a record expiring at `expiry` is expired at `now` (both in milliseconds since
/// the Unix epoch): from its expiry on, a key is absent.
pub fn is_expired(expiry: Option<u64>, now: u64) -> bool {
    expiry.is_some_and(|at| at <= now)
}

/// The flags of a put (`tombstone` false) or a deletion, alone or as a batch member.
pub fn flags(tombstone: bool, in_batch: bool) -> u8 {
    let mut f = if tombstone { FLAG_TOMBSTONE } else { 0 };
    if in_batch {
        f |= FLAG_BATCH;
    }
    f
}

/// The flags of a put that expires, alone or as a batch member; its timestamp field is then
/// the expiry.
pub fn expiring_flags(in_batch: bool) -> u8 {
    flags(false, in_batch) | FLAG_EXPIRES
}

/// Total bytes of a record with these lengths.
pub fn record_len(key_len: usize, value_len: usize) -> u64 {
    (HEADER_LEN + key_len + value_len) as u64
}

/// Builds the header of a record, computing its CRC over everything after the CRC field.
// For the tests, which build files record by record (with `testkit`).
#[cfg_attr(not(feature = "testkit"), allow(dead_code))]
pub fn encode_header(
    seq: u64,
    timestamp: u64,
    tombstone: bool,
    key: &[u8],
    value: &[u8],
) -> [u8; HEADER_LEN] {
    encode_flagged_header(seq, timestamp, flags(tombstone, false), key, value)
}

/// `encode_header` with the flags byte given (see `flags`).
pub fn encode_flagged_header(
    seq: u64,
    timestamp: u64,
    flags: u8,
    key: &[u8],
    value: &[u8],
) -> [u8; HEADER_LEN] {
    let mut buf = [0u8; HEADER_LEN];
    buf[4..12].copy_from_slice(&seq.to_le_bytes());
    buf[12..20].copy_from_slice(&timestamp.to_le_bytes());
    buf[20] = flags;
    buf[21..25].copy_from_slice(&(key.len() as u32).to_le_bytes());
    buf[25..29].copy_from_slice(&(value.len() as u32).to_le_bytes());
    let crc = checksum(&buf, key, value);
    buf[0..4].copy_from_slice(&crc.to_le_bytes());
    buf
}

/// Appends a whole record (header, key, value) to `buf`, its CRC one call over contiguous
/// bytes; the caller reserves the room (no byte is zeroed first, as a fixed buffer would be).
pub fn push_flagged(
    buf: &mut Vec<u8>,
    seq: u64,
    timestamp: u64,
    flags: u8,
    key: &[u8],
    value: &[u8],
) {
    let from = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&timestamp.to_le_bytes());
    buf.push(flags);
    buf.extend_from_slice(&(key.len() as u32).to_le_bytes());
    buf.extend_from_slice(&(value.len() as u32).to_le_bytes());
    buf.extend_from_slice(key);
    buf.extend_from_slice(value);
    let crc = crc32fast::hash(&buf[from + 4..]);
    buf[from..from + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Writes a whole record (header, key, value) into `rec`, which is exactly its length.
#[cfg_attr(not(feature = "testkit"), allow(dead_code))]
pub fn encode_contiguous(
    rec: &mut [u8],
    seq: u64,
    timestamp: u64,
    tombstone: bool,
    key: &[u8],
    value: &[u8],
) {
    encode_flagged(rec, seq, timestamp, flags(tombstone, false), key, value)
}

/// `encode_contiguous` with the flags byte given (see `flags`).
pub fn encode_flagged(
    rec: &mut [u8],
    seq: u64,
    timestamp: u64,
    flags: u8,
    key: &[u8],
    value: &[u8],
) {
    let (header, rest) = rec.split_at_mut(HEADER_LEN);
    header[4..12].copy_from_slice(&seq.to_le_bytes());
    header[12..20].copy_from_slice(&timestamp.to_le_bytes());
    header[20] = flags;
    header[21..25].copy_from_slice(&(key.len() as u32).to_le_bytes());
    header[25..29].copy_from_slice(&(value.len() as u32).to_le_bytes());
    rest[..key.len()].copy_from_slice(key);
    rest[key.len()..].copy_from_slice(value);
    let crc = crc32fast::hash(&rec[4..]);
    rec[0..4].copy_from_slice(&crc.to_le_bytes());
}

/// The seal of data file `file_id`, to be written at `offset` (the end of its records), with
/// the sequence number of the file's last record (informational: a seal applies nothing).
pub fn encode_seal(file_id: u64, offset: u64, last_seq: u64) -> [u8; SEAL_LEN as usize] {
    let mut value = [0u8; SEAL_VALUE_LEN];
    value[0..8].copy_from_slice(&file_id.to_le_bytes());
    value[8..16].copy_from_slice(&offset.to_le_bytes());
    let mut rec = [0u8; SEAL_LEN as usize];
    rec[4..12].copy_from_slice(&last_seq.to_le_bytes());
    rec[20] = FLAG_SEAL;
    rec[25..29].copy_from_slice(&(SEAL_VALUE_LEN as u32).to_le_bytes());
    rec[HEADER_LEN..].copy_from_slice(&value);
    let crc = crc32fast::hash(&rec[4..]);
    rec[0..4].copy_from_slice(&crc.to_le_bytes());
    rec
}

/// The commit of the batch whose members carry sequence numbers `first..first + count`; as
/// its own sequence number, that of the last member (informational, like the seal's).
pub fn encode_commit(first: u64, count: u64, timestamp: u64) -> [u8; COMMIT_LEN as usize] {
    let mut rec = [0u8; COMMIT_LEN as usize];
    rec[4..12].copy_from_slice(&(first + count - 1).to_le_bytes());
    rec[12..20].copy_from_slice(&timestamp.to_le_bytes());
    rec[20] = FLAG_COMMIT;
    rec[25..29].copy_from_slice(&(COMMIT_VALUE_LEN as u32).to_le_bytes());
    rec[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&first.to_le_bytes());
    rec[HEADER_LEN + 8..].copy_from_slice(&count.to_le_bytes());
    let crc = crc32fast::hash(&rec[4..]);
    rec[0..4].copy_from_slice(&crc.to_le_bytes());
    rec
}

/// The first sequence number and the member count a commit's value gives.
pub fn commit_range(value: &[u8]) -> Option<(u64, u64)> {
    if value.len() != COMMIT_VALUE_LEN {
        return None;
    }
    let first = u64::from_le_bytes(value[0..8].try_into().unwrap());
    let count = u64::from_le_bytes(value[8..16].try_into().unwrap());
    Some((first, count))
}

/// True when a seal's value names file `file_id` and the offset it was found at.
pub fn seal_matches(value: &[u8], file_id: u64, offset: u64) -> bool {
    value.len() == SEAL_VALUE_LEN
        && value[0..8] == file_id.to_le_bytes()
        && value[8..16] == offset.to_le_bytes()
}

/// True when a whole record held in one buffer carries the right CRC.
pub fn verify_contiguous(rec: &[u8]) -> bool {
    u32::from_le_bytes(rec[0..4].try_into().unwrap()) == crc32fast::hash(&rec[4..])
}

/// The CRC a record with this header, key and value must carry.
pub fn checksum(header: &[u8; HEADER_LEN], key: &[u8], value: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[4..]);
    hasher.update(key);
    hasher.update(value);
    hasher.finalize()
}

/// True when the stored CRC matches the record's bytes.
pub fn verify(header: &[u8; HEADER_LEN], key: &[u8], value: &[u8]) -> bool {
    let stored = u32::from_le_bytes(header[0..4].try_into().unwrap());
    stored == checksum(header, key, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(seq: u64, tomb: bool, key: &[u8], value: &[u8]) -> Vec<u8> {
        let h = encode_header(seq, 1234, tomb, key, value);
        [&h[..], key, value].concat()
    }

    #[test]
    fn round_trip() {
        let rec = encode(7, false, b"key", b"value");
        let hdr: [u8; HEADER_LEN] = rec[..HEADER_LEN].try_into().unwrap();
        let h = Header::decode(&hdr).unwrap();
        assert_eq!(
            (h.seq, h.timestamp, h.key_len, h.value_len),
            (7, 1234, 3, 5)
        );
        assert!(!h.is_tombstone());
        assert_eq!(h.record_len(), rec.len() as u64);
        assert_eq!(h.encode(), hdr);
        assert!(verify(&hdr, b"key", b"value"));
    }

    #[test]
    fn contiguous_encoding_matches_the_split_one() {
        let split = encode(9, false, b"key", b"a value");
        let mut whole = vec![0u8; split.len()];
        encode_contiguous(&mut whole, 9, 1234, false, b"key", b"a value");
        assert_eq!(whole, split);
        assert!(verify_contiguous(&whole));
        whole[35] ^= 1;
        assert!(!verify_contiguous(&whole));
    }

    #[test]
    fn tombstone_and_empty_value_differ() {
        let t = encode(1, true, b"k", b"");
        let e = encode(1, false, b"k", b"");
        let th = Header::decode(t[..HEADER_LEN].try_into().unwrap()).unwrap();
        let eh = Header::decode(e[..HEADER_LEN].try_into().unwrap()).unwrap();
        assert!(th.is_tombstone());
        assert!(!eh.is_tombstone());
        assert_eq!(eh.value_len, 0);
    }

    #[test]
    fn every_flipped_bit_fails_the_crc_or_the_header() {
        let rec = encode(42, false, b"some key", b"some value");
        for i in 0..rec.len() {
            for bit in 0..8 {
                let mut bad = rec.clone();
                bad[i] ^= 1 << bit;
                let hdr: [u8; HEADER_LEN] = bad[..HEADER_LEN].try_into().unwrap();
                let ok = match Header::decode(&hdr) {
                    Err(_) => false,
                    Ok(h) => {
                        let k = HEADER_LEN + h.key_len as usize;
                        let end = k + h.value_len as usize;
                        end == bad.len() && verify(&hdr, &bad[HEADER_LEN..k], &bad[k..end])
                    }
                };
                assert!(!ok, "flip of byte {i} bit {bit} went unnoticed");
            }
        }
    }

    #[test]
    fn the_seal_decodes_and_names_its_file_and_offset() {
        let seal = encode_seal(77, 4096, 12);
        let hdr: [u8; HEADER_LEN] = seal[..HEADER_LEN].try_into().unwrap();
        let h = Header::decode(&hdr).unwrap();
        assert!(h.is_seal() && !h.is_tombstone());
        assert_eq!((h.seq, h.key_len, h.record_len()), (12, 0, SEAL_LEN));
        assert!(verify_contiguous(&seal));
        assert!(seal_matches(&seal[HEADER_LEN..], 77, 4096));
        assert!(!seal_matches(&seal[HEADER_LEN..], 78, 4096));
        assert!(!seal_matches(&seal[HEADER_LEN..], 77, 4097));
        // A seal with a key, another value length, or other flags is no seal.
        for (at, byte) in [(21, 1u8), (25, 15), (20, FLAG_SEAL | FLAG_TOMBSTONE)] {
            let mut bad = hdr;
            bad[at] = byte;
            assert_eq!(Header::decode(&bad), Err(HeaderError::Malformed));
        }
    }

    #[test]
    fn members_and_commits_decode_and_nothing_else_combines_with_them() {
        let mut rec = vec![0u8; record_len(1, 2) as usize];
        encode_flagged(&mut rec, 5, 0, flags(false, true), b"k", b"vv");
        let h = Header::decode(rec[..HEADER_LEN].try_into().unwrap()).unwrap();
        assert!(h.is_batch_member() && !h.is_tombstone());
        assert!(is_value(rec[..HEADER_LEN].try_into().unwrap()));
        let t = encode_flagged_header(6, 0, flags(true, true), b"k", b"");
        let th = Header::decode(&t).unwrap();
        assert!(th.is_batch_member() && th.is_tombstone() && !is_value(&t));
        let c = encode_commit(5, 2, 0);
        let ch = Header::decode(c[..HEADER_LEN].try_into().unwrap()).unwrap();
        assert!(ch.is_commit() && !ch.is_batch_member() && verify_contiguous(&c));
        assert_eq!((ch.seq, ch.record_len()), (6, COMMIT_LEN));
        assert_eq!(commit_range(&c[HEADER_LEN..]), Some((5, 2)));
        assert!(!is_value(c[..HEADER_LEN].try_into().unwrap()));
        for bad in [
            FLAG_COMMIT | FLAG_BATCH,
            FLAG_SEAL | FLAG_BATCH,
            FLAG_COMMIT | FLAG_TOMBSTONE,
        ] {
            let mut hb: [u8; HEADER_LEN] = c[..HEADER_LEN].try_into().unwrap();
            hb[20] = bad;
            assert_eq!(Header::decode(&hb), Err(HeaderError::Malformed), "{bad}");
        }
        let mut hb: [u8; HEADER_LEN] = c[..HEADER_LEN].try_into().unwrap();
        hb[21] = 1;
        assert_eq!(Header::decode(&hb), Err(HeaderError::Malformed));
    }

    #[test]
    fn an_expiring_put_carries_its_expiry_and_nothing_else_combines_with_it() {
        let mut rec = vec![0u8; record_len(1, 2) as usize];
        encode_flagged(&mut rec, 5, 777, expiring_flags(false), b"k", b"vv");
        let hb: [u8; HEADER_LEN] = rec[..HEADER_LEN].try_into().unwrap();
        let h = Header::decode(&hb).unwrap();
        assert_eq!((h.expiry(), expiry_of(&hb)), (Some(777), Some(777)));
        assert!(is_value(&hb) && verify_contiguous(&rec));
        let mut in_batch = hb;
        in_batch[20] = expiring_flags(true);
        assert_eq!(Header::decode(&in_batch).unwrap().expiry(), Some(777));
        let plain = encode_header(5, 777, false, b"k", b"vv");
        assert_eq!(Header::decode(&plain).unwrap().expiry(), None);
        for bad in [
            FLAG_EXPIRES | FLAG_TOMBSTONE,
            FLAG_EXPIRES | FLAG_TOMBSTONE | FLAG_BATCH,
            FLAG_EXPIRES | FLAG_SEAL,
            FLAG_EXPIRES | FLAG_COMMIT,
        ] {
            let mut b = hb;
            b[20] = bad;
            assert_eq!(Header::decode(&b), Err(HeaderError::Malformed), "{bad}");
        }
        assert!(!is_expired(None, u64::MAX));
        assert!(!is_expired(Some(10), 9) && is_expired(Some(10), 10));
    }

    #[test]
    fn zeroes_and_bad_lengths_are_rejected() {
        assert_eq!(Header::decode(&[0; HEADER_LEN]), Err(HeaderError::Zeroed));
        let mut h = encode_header(1, 0, false, b"k", b"v");
        h[21..25].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(Header::decode(&h), Err(HeaderError::Malformed));
        let mut h = encode_header(1, 0, false, b"k", b"v");
        h[25..29].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Header::decode(&h), Err(HeaderError::Malformed));
        let mut h = encode_header(1, 0, false, b"k", b"v");
        h[20] = 0x80;
        assert_eq!(Header::decode(&h), Err(HeaderError::Malformed));
        let mut h = encode_header(1, 0, true, b"k", b"");
        h[25..29].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(Header::decode(&h), Err(HeaderError::Malformed));
    }

    #[test]
    fn a_record_pushed_onto_a_buffer_is_the_record_encoded_in_place() {
        let mut buf = b"before".to_vec();
        push_flagged(&mut buf, 9, 123, expiring_flags(true), b"key", b"value");
        let mut rec = vec![0u8; record_len(3, 5) as usize];
        encode_flagged(&mut rec, 9, 123, expiring_flags(true), b"key", b"value");
        assert_eq!(&buf[..6], b"before");
        assert_eq!(&buf[6..], &rec[..]);
        assert!(verify_contiguous(&buf[6..]));
    }
}
