//! The k-way merge of a scan's sorted runs: a heap of each run's next key, so a step costs
//! the logarithm of the runs (a few dozen per GiB of data files) and the memory is one key
//! per run. The same key in several runs comes out once per run, one after another.

use std::cmp::Ordering;
use std::collections::binary_heap::{BinaryHeap, PeekMut};

use super::runs::Run;

pub(super) struct Merge {
    runs: Vec<Run>,
    heap: BinaryHeap<Head>,
    reverse: bool,
    /// The length of the prefix every key of every run shares (the common prefix of the
    /// smallest and the largest key): heads compare by the 8 bytes after it first.
    shared: usize,
}

/// A run's next key. The heap's greatest head is the merge's next key: the smallest key
/// forward, the largest in reverse.
struct Head {
    /// The 8 bytes of the key after the prefix all keys share (zero-padded), big-endian:
    /// compared first, as one integer and without a visit to the key's buffer.
    digits: u64,
    key: Vec<u8>,
    run: usize,
    reverse: bool,
}

/// The 8 bytes of `key` from `from` on as a big-endian integer, zero-padded. Between keys
/// that share their first `from` bytes, a difference here orders them as the keys are
/// ordered (a pad is below any byte, and a key that is a prefix of another sorts first); an
/// equality leaves the order to the whole keys.
#[inline]
fn digits_of(key: &[u8], from: usize) -> u64 {
    let rest = key.get(from..).unwrap_or_default();
    let mut b = [0u8; 8];
    let n = rest.len().min(8);
    b[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(b)
}

/// The length of the common prefix of the smallest and the largest key of `runs`.
fn shared_prefix(runs: &[Run]) -> usize {
    let ranges = runs.iter().filter_map(Run::key_range);
    let (Some(lo), Some(hi)) = (ranges.clone().map(|r| r.0).min(), ranges.map(|r| r.1).max())
    else {
        return 0;
    };
    lo.iter().zip(hi).take_while(|(a, b)| a == b).count()
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> Ordering {
        let (a, b) = if self.reverse {
            (self, other)
        } else {
            (other, self)
        };
        let by_key = a.digits.cmp(&b.digits).then_with(|| a.key.cmp(&b.key));
        by_key.then(other.run.cmp(&self.run))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl Merge {
    /// A merge of `runs`, in descending order when `reverse`; `position` starts it.
    pub(super) fn new(runs: Vec<Run>, reverse: bool) -> Merge {
        Merge {
            shared: shared_prefix(&runs),
            runs,
            heap: BinaryHeap::new(),
            reverse,
        }
    }

    /// Positions every run before the first key `>= key` (`after`: `> key`), from where a
    /// forward merge goes up and a reverse one down; at the start (forward) or the end
    /// (reverse) when `key` is `None`.
    pub(super) fn position(&mut self, key: Option<&[u8]>, after: bool) {
        self.heap.clear();
        for (i, run) in self.runs.iter_mut().enumerate() {
            match key {
                Some(k) => run.seek(k, after),
                None => run.rewind(self.reverse),
            }
            let mut head = Vec::new();
            if run.step(self.reverse, &mut head) {
                self.heap.push(Head {
                    digits: digits_of(&head, self.shared),
                    key: head,
                    run: i,
                    reverse: self.reverse,
                });
            }
        }
    }

    /// Byte order of two keys the merge yielded, as `a.cmp(b)`, mostly settled by one
    /// integer comparison (see `Head::digits`).
    #[inline]
    pub(super) fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        let (x, y) = (digits_of(a, self.shared), digits_of(b, self.shared));
        x.cmp(&y).then_with(|| a.cmp(b))
    }

    /// Ends the merge: `next_key` returns false from now on (until `position`).
    pub(super) fn finish(&mut self) {
        self.heap.clear();
    }

    /// The merge's next key, into `out` (whose buffer the merge keeps for reuse); false at
    /// the end.
    pub(super) fn next_key(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut top) = self.heap.peek_mut() else {
            return false;
        };
        std::mem::swap(out, &mut top.key);
        let run = top.run;
        if self.runs[run].step(self.reverse, &mut top.key) {
            top.digits = digits_of(&top.key, self.shared);
        } else {
            PeekMut::pop(top);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::digits_of;

    #[test]
    fn keys_compare_by_their_digits_past_a_shared_prefix_as_in_byte_order() {
        let keys: [&[u8]; 9] = [
            b"",
            b"\x00",
            b"abc",
            b"abcdefgh",
            b"abcdefgh\x00",
            b"abcdefgi",
            b"abcdefh",
            b"\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\x01",
        ];
        for a in keys {
            for b in keys {
                // Past a prefix both share: here, of length 0 and 3.
                for from in [0, 3] {
                    if a.get(..from) == b.get(..from) && a.len() >= from && b.len() >= from {
                        let by_digits = digits_of(a, from).cmp(&digits_of(b, from));
                        if by_digits.is_ne() {
                            assert_eq!(by_digits, a.cmp(b), "{a:?} {b:?} from {from}");
                        }
                    }
                }
            }
        }
    }
}
