//! Which scanned records count: a write batch's members only once its commit has been read.
//!
//! A batch is written as its members (records with the batch flag) followed by one commit
//! record naming the first member's sequence number and the member count. Every reader of a
//! data file in order (recovery, a read-only handle's refresh, a hint written from a scan)
//! feeds each record it scans to a `BatchGate`, which holds members back until their commit
//! and hands them over whole. Where the records end before a commit (a crash, a batch being
//! written), the file counts as ending where that batch starts (`BatchGate::counted_end`):
//! recovery cuts it there, as it cuts a torn record.
//!
//! Compaction copies live records unchanged, batch flag included, and never a commit: in its
//! outputs (merge output files) every record counts as committed, since it copies only
//! records the key directory held, and an output is published whole or not at all.

use super::Scanned;
use crate::record::{self, Header};

/// A batch member held until its commit.
#[derive(Clone, Debug)]
pub struct Member {
    pub offset: u64,
    pub header: Header,
    pub key: Vec<u8>,
}

/// What a scanned record means once the batch rules are applied.
#[derive(Debug)]
pub enum Gate {
    /// It counts now: a record outside any batch, or the seal.
    Counts,
    /// A batch member, held until its commit.
    Held,
    /// The commit of the members returned, in file order: they count now.
    Committed(Vec<Member>),
    /// A record that cannot be where it is: the file is damaged, or not a log this store
    /// wrote (the reason says which rule it breaks).
    Misplaced(&'static str),
}

/// Holds batch members back until their commit; see the module documentation.
#[derive(Debug, Default)]
pub struct BatchGate {
    /// The file is a compaction output: every record counts.
    merged: bool,
    pending: Vec<Member>,
}

impl BatchGate {
    /// A gate for a data file; `merged` for compaction outputs, whose members count as
    /// committed.
    pub fn new(merged: bool) -> BatchGate {
        BatchGate {
            merged,
            pending: Vec::new(),
        }
    }

    /// Decides what the record `r`, the next one in file order, means.
    pub fn admit(&mut self, r: &Scanned<'_>) -> Gate {
        let h = &r.header;
        if self.merged {
            return if h.is_commit() {
                Gate::Misplaced("a batch commit in a compaction output")
            } else {
                Gate::Counts
            };
        }
        if h.is_batch_member() {
            if let Some(last) = self.pending.last() {
                if h.seq != last.header.seq + 1 {
                    return Gate::Misplaced("batch members out of sequence");
                }
            }
            self.pending.push(Member {
                offset: r.offset,
                header: *h,
                key: r.key.to_vec(),
            });
            return Gate::Held;
        }
        if h.is_commit() {
            return self.commit(r.value);
        }
        if self.pending.is_empty() {
            Gate::Counts
        } else {
            Gate::Misplaced("a record inside a batch that is not one of its members")
        }
    }

    fn commit(&mut self, value: &[u8]) -> Gate {
        let Some((first, count)) = record::commit_range(value) else {
            return Gate::Misplaced("malformed batch commit");
        };
        let matches = self.pending.first().map(|m| m.header.seq) == Some(first)
            && self.pending.len() as u64 == count;
        if !matches {
            return Gate::Misplaced("a batch commit that does not match the members before it");
        }
        Gate::Committed(std::mem::take(&mut self.pending))
    }

    /// True while members wait for their commit.
    pub fn holding(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Where the records that count end, for a scan that stopped at `stop` (its end, or the
    /// first bad record): the start of a batch still waiting for its commit, else `stop`.
    pub fn counted_end(&self, stop: u64) -> u64 {
        self.pending.first().map_or(stop, |m| m.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{encode_commit, encode_flagged, flags, record_len, HEADER_LEN};

    fn record(seq: u64, fl: u8, key: &[u8]) -> Vec<u8> {
        let value: &[u8] = if fl & crate::record::FLAG_TOMBSTONE != 0 {
            b""
        } else {
            b"v"
        };
        let mut rec = vec![0u8; record_len(key.len(), value.len()) as usize];
        encode_flagged(&mut rec, seq, 0, fl, key, value);
        rec
    }

    fn scanned(offset: u64, rec: &[u8]) -> Scanned<'_> {
        let header = Header::decode(rec[..HEADER_LEN].try_into().unwrap()).unwrap();
        let key_end = HEADER_LEN + header.key_len as usize;
        Scanned {
            offset,
            header,
            key: &rec[HEADER_LEN..key_end],
            value: &rec[key_end..],
        }
    }

    #[test]
    fn members_count_only_with_their_commit() {
        let mut gate = BatchGate::new(false);
        let (a, b) = (
            record(5, flags(false, true), b"a"),
            record(6, flags(true, true), b"b"),
        );
        assert!(matches!(gate.admit(&scanned(100, &a)), Gate::Held));
        assert!(matches!(gate.admit(&scanned(131, &b)), Gate::Held));
        assert_eq!(gate.counted_end(500), 100);
        let commit = encode_commit(5, 2, 0);
        match gate.admit(&scanned(162, &commit)) {
            Gate::Committed(m) => {
                assert_eq!(m.iter().map(|m| m.offset).collect::<Vec<_>>(), [100, 131]);
                assert!(m[1].header.is_tombstone());
            }
            other => panic!("{other:?}"),
        }
        assert!(!gate.holding());
        assert_eq!(gate.counted_end(500), 500);
        assert!(matches!(
            gate.admit(&scanned(207, &record(7, 0, b"c"))),
            Gate::Counts
        ));
    }

    #[test]
    fn a_commit_or_record_out_of_place_is_reported() {
        let member = record(5, flags(false, true), b"a");
        // A commit with nothing to commit, or naming other members than those before it.
        for (members, first, count) in [(0, 5, 1), (1, 4, 1), (1, 5, 2)] {
            let mut gate = BatchGate::new(false);
            if members == 1 {
                gate.admit(&scanned(100, &member));
            }
            let commit = encode_commit(first, count, 0);
            let found = gate.admit(&scanned(131, &commit));
            assert!(matches!(found, Gate::Misplaced(_)), "{first} {count}");
        }
        let mut gate = BatchGate::new(false);
        gate.admit(&scanned(100, &member));
        let plain = record(6, 0, b"b");
        assert!(matches!(
            gate.admit(&scanned(131, &plain)),
            Gate::Misplaced(_)
        ));
        let mut gate = BatchGate::new(false);
        gate.admit(&scanned(100, &member));
        let gap = record(7, flags(false, true), b"b");
        assert!(matches!(
            gate.admit(&scanned(131, &gap)),
            Gate::Misplaced(_)
        ));
    }

    #[test]
    fn in_a_compaction_output_members_count_at_once() {
        let mut gate = BatchGate::new(true);
        let member = record(5, flags(false, true), b"a");
        assert!(matches!(gate.admit(&scanned(100, &member)), Gate::Counts));
        assert_eq!(gate.counted_end(131), 131);
        let commit = encode_commit(5, 1, 0);
        assert!(matches!(
            gate.admit(&scanned(131, &commit)),
            Gate::Misplaced(_)
        ));
    }
}
