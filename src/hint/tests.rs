//! The version 2 format: what the writer makes, the reader accepts, and every kind of damage
//! the reader refuses.

use super::entry::{HintEntry, HINT_MAGIC};
use super::sorted::{HEADER_LEN, INDEX_EVERY};
use super::{HintWriter, SortedHint};
use crate::record::{record_len, SEAL_LEN};

const ID: u64 = 9;
const DATA_LEN: u64 = 1 << 20;

fn put(seq: u64, offset: u64, key: &[u8]) -> HintEntry<'_> {
    HintEntry {
        seq,
        offset,
        value_len: 3,
        tombstone: false,
        expiry: None,
        key,
    }
}

/// Bytes of a version 2 hint with exactly these entries in this order (no sorting, no
/// deduplication), and this sequence range: for hints the writer would never make.
fn raw(entries: &[HintEntry<'_>], min_seq: u64, max_seq: u64) -> Vec<u8> {
    let mut b = HINT_MAGIC.to_vec();
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    for w in [ID, DATA_LEN, entries.len() as u64, min_seq, max_seq] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    let mut index = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if i % INDEX_EVERY == 0 {
            index.extend_from_slice(&((b.len() - HEADER_LEN) as u32).to_le_bytes());
        }
        e.encode(&mut b);
    }
    let index_at = b.len() as u64;
    b.extend_from_slice(&index);
    b.extend_from_slice(&index_at.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

fn keys(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("key{:05}", i * 2).into_bytes())
        .collect()
}

/// `n` keys pushed in reverse order, each twice (an older put, then a newer one).
fn written(keys: &[Vec<u8>]) -> Vec<u8> {
    let mut w = HintWriter::new(ID);
    let mut seq = 100;
    for (i, k) in keys.iter().enumerate().rev() {
        w.push(&put(seq, 1000 + 100 * i as u64, k));
        seq += 1;
    }
    for (i, k) in keys.iter().enumerate().rev() {
        w.push(&put(seq, 500_000 + 100 * i as u64, k));
        seq += 1;
    }
    w.finish(DATA_LEN)
}

#[test]
fn entries_come_out_sorted_with_the_newest_of_each_key() {
    let ks = keys(40);
    let bytes = written(&ks);
    let h = SortedHint::parse(&bytes, ID, DATA_LEN).expect("the writer's hint parses");
    assert_eq!(h.len(), 40);
    assert_eq!((h.min_seq(), h.max_seq()), (100, 179));
    let got: Vec<_> = h.iter().collect();
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.key, &ks[i][..]);
        assert_eq!(e.offset, 500_000 + 100 * i as u64, "the newer put wins");
        assert_eq!(e.seq, 179 - i as u64);
    }
}

#[test]
fn tombstones_expiry_and_an_empty_hint_round_trip() {
    let mut w = HintWriter::new(ID);
    w.push(&HintEntry {
        value_len: 0,
        tombstone: true,
        ..put(7, 200, b"gone")
    });
    w.push(&HintEntry {
        expiry: Some(1_700_000_000_000),
        ..put(5, 100, b"ttl")
    });
    let bytes = w.finish(DATA_LEN);
    let h = SortedHint::parse(&bytes, ID, DATA_LEN).unwrap();
    let got: Vec<_> = h.iter().collect();
    assert_eq!(got[0].key, b"gone");
    assert!(got[0].tombstone);
    assert_eq!(got[1].expiry, Some(1_700_000_000_000));
    assert_eq!((h.min_seq(), h.max_seq()), (5, 7));
    let empty = HintWriter::new(ID).finish(DATA_LEN);
    let h = SortedHint::parse(&empty, ID, DATA_LEN).unwrap();
    assert!(h.is_empty());
    assert!(h.iter().next().is_none() && h.seek(b"a").next().is_none());
}

#[test]
fn seek_finds_the_first_key_not_below_and_cursors_move_both_ways() {
    for n in [0, 1, 15, 16, 17, 33, 100] {
        let ks = keys(n);
        let bytes = written(&ks);
        let h = SortedHint::parse(&bytes, ID, DATA_LEN).unwrap();
        // Every key, and every gap between keys (odd numbers), and past both ends.
        for probe in 0..=(2 * n + 1) {
            let k = format!("key{probe:05}").into_bytes();
            let want = ks.iter().position(|x| *x >= k).unwrap_or(n);
            let c = h.seek(&k);
            assert_eq!(c.position(), want, "n {n} probe {probe}");
            assert_eq!(c.peek().map(|e| e.key.to_vec()), ks.get(want).cloned());
        }
        assert_eq!(h.seek(b"").position(), 0);
        let mut c = h.cursor_at(n);
        let mut back = Vec::new();
        while let Some(e) = c.prev() {
            back.push(e.key.to_vec());
        }
        back.reverse();
        assert_eq!(back, ks, "n {n}: backwards");
        for (pos, k) in ks.iter().enumerate() {
            assert_eq!(h.entry(pos).unwrap().key, &k[..]);
        }
        assert!(h.entry(n).is_none());
    }
}

#[test]
fn any_flip_or_cut_is_refused() {
    let bytes = written(&keys(20));
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        assert!(
            SortedHint::parse(&bad, ID, DATA_LEN).is_none(),
            "flip at {i}"
        );
    }
    for cut in 0..bytes.len() {
        assert!(
            SortedHint::parse(&bytes[..cut], ID, DATA_LEN).is_none(),
            "cut {cut}"
        );
    }
    assert!(
        SortedHint::parse(&bytes, ID + 1, DATA_LEN).is_none(),
        "another file"
    );
    assert!(
        SortedHint::parse(&bytes, ID, DATA_LEN - 1).is_none(),
        "another length"
    );
}

#[test]
fn hints_with_valid_checksums_that_break_a_rule_are_refused() {
    let (a, b, c) = (put(10, 100, b"a"), put(11, 200, b"b"), put(12, 300, b"c"));
    assert!(SortedHint::parse(&raw(&[a, b, c], 10, 12), ID, DATA_LEN).is_some());
    let last = DATA_LEN - SEAL_LEN - record_len(1, 3);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unsorted", raw(&[a, c, b], 10, 12)),
        (
            "duplicate key",
            raw(&[a, HintEntry { seq: 12, ..a }, b], 10, 12),
        ),
        ("seq below the range", raw(&[a, b, c], 11, 12)),
        ("seq above the range", raw(&[a, b, c], 10, 11)),
        ("largest seq not reached", raw(&[a, b, c], 10, 13)),
        (
            "record over the seal",
            raw(
                &[HintEntry {
                    offset: last + 1,
                    ..a
                }],
                10,
                10,
            ),
        ),
        (
            "tombstone with a value",
            raw(
                &[HintEntry {
                    tombstone: true,
                    ..a
                }],
                10,
                10,
            ),
        ),
        ("range without entries", raw(&[], 1, 1)),
    ];
    assert!(SortedHint::parse(
        &raw(&[HintEntry { offset: last, ..a }], 10, 10),
        ID,
        DATA_LEN
    )
    .is_some());
    for (name, bytes) in cases {
        assert!(SortedHint::parse(&bytes, ID, DATA_LEN).is_none(), "{name}");
    }
    // Unknown flag bits, in the header or an entry.
    let mut flagged = raw(&[a], 10, 10);
    flagged[12] = 1;
    let n = flagged.len() - 4;
    let crc = crc32fast::hash(&flagged[..n]);
    flagged[n..].copy_from_slice(&crc.to_le_bytes());
    assert!(
        SortedHint::parse(&flagged, ID, DATA_LEN).is_none(),
        "header flags"
    );
    let mut flagged = raw(&[a], 10, 10);
    flagged[HEADER_LEN + 24] = 4;
    let crc = crc32fast::hash(&flagged[..n]);
    flagged[n..].copy_from_slice(&crc.to_le_bytes());
    assert!(
        SortedHint::parse(&flagged, ID, DATA_LEN).is_none(),
        "entry flags"
    );
}

#[test]
fn a_wrong_index_or_count_is_refused() {
    let entries: Vec<Vec<u8>> = keys(20);
    let es: Vec<HintEntry> = entries
        .iter()
        .enumerate()
        .map(|(i, k)| put(10 + i as u64, 100 + 100 * i as u64, k))
        .collect();
    let good = raw(&es, 10, 29);
    assert!(SortedHint::parse(&good, ID, DATA_LEN).is_some());
    let refix = |mut b: Vec<u8>| {
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]);
        b[n..].copy_from_slice(&crc.to_le_bytes());
        b
    };
    // The second index word points one entry late.
    let index_at = u64::from_le_bytes(good[good.len() - 12..good.len() - 4].try_into().unwrap());
    let mut bad = good.clone();
    let w = index_at as usize + 4;
    let moved = u32::from_le_bytes(bad[w..w + 4].try_into().unwrap()) + 33;
    bad[w..w + 4].copy_from_slice(&moved.to_le_bytes());
    assert!(
        SortedHint::parse(&refix(bad), ID, DATA_LEN).is_none(),
        "index"
    );
    for count in [19u64, 21, u64::MAX] {
        let mut bad = good.clone();
        bad[32..40].copy_from_slice(&count.to_le_bytes());
        assert!(
            SortedHint::parse(&refix(bad), ID, DATA_LEN).is_none(),
            "count {count}"
        );
    }
}
