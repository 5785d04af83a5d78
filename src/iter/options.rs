//! What a scan covers: key bounds, a prefix, the direction, and whether values are read.

use std::ops::Bound;

/// The options of an ordered scan, for [`crate::Bitask::range`]. The default covers every
/// key, in ascending byte order, with values.
///
/// A key is in the scan when it is within both bounds and starts with the prefix; bounds and
/// prefix combine (a prefix is the same as the bounds it implies). Keys compare as unsigned
/// bytes, a shorter key first on a tie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanOptions {
    pub(crate) lower: Bound<Vec<u8>>,
    pub(crate) upper: Bound<Vec<u8>>,
    pub(crate) prefix: Vec<u8>,
    pub(crate) reverse: bool,
    pub(crate) keys_only: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
            prefix: Vec::new(),
            reverse: false,
            keys_only: false,
        }
    }
}

impl ScanOptions {
    /// Every key, ascending, with values.
    pub fn new() -> ScanOptions {
        ScanOptions::default()
    }

    /// Only keys that start with `prefix` (every key when it is empty).
    pub fn prefix(mut self, prefix: impl AsRef<[u8]>) -> ScanOptions {
        self.prefix = prefix.as_ref().to_vec();
        self
    }

    /// The lower bound: `Included(k)` keeps keys `>= k`, `Excluded(k)` keys `> k`.
    pub fn lower(mut self, bound: Bound<&[u8]>) -> ScanOptions {
        self.lower = bound.map(<[u8]>::to_vec);
        self
    }

    /// The upper bound: `Included(k)` keeps keys `<= k`, `Excluded(k)` keys `< k`.
    pub fn upper(mut self, bound: Bound<&[u8]>) -> ScanOptions {
        self.upper = bound.map(<[u8]>::to_vec);
        self
    }

    /// Keys `>= key` (an inclusive lower bound).
    pub fn from(self, key: impl AsRef<[u8]>) -> ScanOptions {
        self.lower(Bound::Included(key.as_ref()))
    }

    /// Keys `< key` (an exclusive upper bound).
    pub fn until(self, key: impl AsRef<[u8]>) -> ScanOptions {
        self.upper(Bound::Excluded(key.as_ref()))
    }

    /// Descending order when `reverse` is true.
    pub fn reverse(mut self, reverse: bool) -> ScanOptions {
        self.reverse = reverse;
        self
    }

    /// When true, the scan yields keys with empty values and never reads a value.
    pub fn keys_only(mut self, keys_only: bool) -> ScanOptions {
        self.keys_only = keys_only;
        self
    }

    /// The smallest key the scan could cover (empty: any): its lower bound or its prefix,
    /// whichever is larger. A sorted run is searched from here.
    pub(crate) fn start(&self) -> &[u8] {
        let lower = match &self.lower {
            Bound::Included(k) | Bound::Excluded(k) => k.as_slice(),
            Bound::Unbounded => &[],
        };
        lower.max(self.prefix.as_slice())
    }

    /// Where a reverse scan starts: before the first key `>= k` (`after`: `> k`) for the
    /// returned `(k, after)`, from its upper bound or its prefix, whichever is tighter;
    /// `None`: at the end. Keys past it are not covered.
    pub(crate) fn reverse_start(&self) -> Option<(Vec<u8>, bool)> {
        let upper = match &self.upper {
            Bound::Included(k) => Some((k.clone(), true)),
            Bound::Excluded(k) => Some((k.clone(), false)),
            Bound::Unbounded => None,
        };
        let past_prefix = prefix_successor(&self.prefix).map(|k| (k, false));
        match (upper, past_prefix) {
            (Some(u), Some(p)) => Some(if p.0 <= u.0 { p } else { u }),
            (u, p) => u.or(p),
        }
    }

    /// True when no key from `key` on (in byte order) is covered: `key` is past the upper
    /// bound, or past every key with the prefix.
    pub(crate) fn past_end(&self, key: &[u8]) -> bool {
        !self.below_upper(key) || (!self.has_prefix(key) && key > self.prefix.as_slice())
    }

    /// True when `key` is within the bounds and has the prefix.
    pub(crate) fn covers(&self, key: &[u8]) -> bool {
        self.has_prefix(key) && self.above_lower(key) && self.below_upper(key)
    }

    /// `key.starts_with(prefix)`, without a call to compare nothing when the prefix is
    /// empty (a scan asks this of every key).
    #[inline]
    fn has_prefix(&self, key: &[u8]) -> bool {
        self.prefix.is_empty() || key.starts_with(&self.prefix)
    }

    fn above_lower(&self, key: &[u8]) -> bool {
        match &self.lower {
            Bound::Included(k) => key >= k.as_slice(),
            Bound::Excluded(k) => key > k.as_slice(),
            Bound::Unbounded => true,
        }
    }

    fn below_upper(&self, key: &[u8]) -> bool {
        match &self.upper {
            Bound::Included(k) => key <= k.as_slice(),
            Bound::Excluded(k) => key < k.as_slice(),
            Bound::Unbounded => true,
        }
    }
}

/// The smallest key above every key that starts with `prefix`; `None` when there is none
/// (an empty prefix, or one of 0xff bytes only).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut k = prefix[..=last].to_vec();
    k[last] += 1;
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_prefix_combine() {
        let o = ScanOptions::new().prefix("b").from("b2").until("b5");
        assert!(!o.covers(b"b1"));
        assert!(o.covers(b"b2"));
        assert!(o.covers(b"b4zz"));
        assert!(!o.covers(b"b5"));
        assert!(!o.covers(b"c3"));
        let o = ScanOptions::new()
            .lower(Bound::Excluded(b"a"))
            .upper(Bound::Included(b"c"));
        assert!(!o.covers(b"a"));
        assert!(o.covers(b"a\0"));
        assert!(o.covers(b"c"));
        assert!(!o.covers(b"c\0"));
    }

    #[test]
    fn a_reverse_scan_starts_at_the_tighter_of_its_upper_bound_and_prefix() {
        let start = |o: ScanOptions| {
            o.reverse_start()
                .map(|(k, after)| (String::from_utf8(k).unwrap(), after))
        };
        assert_eq!(start(ScanOptions::new()), None);
        assert_eq!(
            start(ScanOptions::new().prefix("b")),
            Some(("c".into(), false))
        );
        assert_eq!(
            start(ScanOptions::new().prefix("b").until("z")),
            Some(("c".into(), false))
        );
        assert_eq!(
            start(ScanOptions::new().prefix("b").until("b5")),
            Some(("b5".into(), false))
        );
        let o = ScanOptions::new().prefix("a").upper(Bound::Included(b"a7"));
        assert_eq!(start(o), Some(("a7".into(), true)));
        assert_eq!(prefix_successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn a_run_is_searched_from_the_start_and_stopped_at_the_end() {
        let o = ScanOptions::new().prefix("b").from("a9");
        assert_eq!(o.start(), b"b");
        assert!(!o.past_end(b"a"));
        assert!(!o.past_end(b"bzz"));
        assert!(o.past_end(b"c"));
        let o = ScanOptions::new().prefix("b").from("b5").until("b7");
        assert_eq!(o.start(), b"b5");
        assert!(!o.past_end(b"b6"));
        assert!(o.past_end(b"b7"));
        let o = ScanOptions::new();
        assert_eq!(o.start(), b"");
        assert!(!o.past_end(b"\xff\xff"));
    }
}
