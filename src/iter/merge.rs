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
}

/// A run's next key. The heap's greatest head is the merge's next key: the smallest key
/// forward, the largest in reverse.
struct Head {
    key: Vec<u8>,
    run: usize,
    reverse: bool,
}

/// Byte order of two keys, as `a.cmp(b)`, deciding most pairs by their first 8 bytes in
/// one integer comparison (a scan compares keys a few times per key it yields; the library
/// call a slice comparison makes costs more than comparing short keys).
#[inline]
pub(super) fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    if let (Some(x), Some(y)) = (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        let (x, y) = (u64::from_be_bytes(*x), u64::from_be_bytes(*y));
        if x != y {
            return x.cmp(&y);
        }
    }
    a.cmp(b)
}

impl Ord for Head {
    fn cmp(&self, other: &Head) -> Ordering {
        let by_key = if self.reverse {
            compare_keys(&self.key, &other.key)
        } else {
            compare_keys(&other.key, &self.key)
        };
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
                    key: head,
                    run: i,
                    reverse: self.reverse,
                });
            }
        }
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
        if !self.runs[run].step(self.reverse, &mut top.key) {
            PeekMut::pop(top);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::compare_keys;

    #[test]
    fn keys_compare_in_byte_order() {
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
                assert_eq!(compare_keys(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }
}
