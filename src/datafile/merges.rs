//! Which data files a directory's merges replaced, read from the outputs' headers alone: the
//! one rule the open, `verify` and a reload share.
//!
//! A merge is committed when all of its output parts (the files whose headers name the same
//! merge base, `merge_parts` of them, parts `0..n`) exist. Its inputs were every file whose
//! id lies in `merge_floor..=merge_base` (`FileHeader::replaced`): with floor 0, every file up
//! to the base (`compact`, and an automatic merge of the oldest files); above it, a window of
//! the load order whose older files stayed. Those files are stale once the merge is
//! committed, whatever they hold. The outputs of a merge that is not committed are stale
//! too: its inputs are all still there.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use super::FileHeader;

/// What the merges found in a directory replaced.
#[derive(Debug, Default)]
pub struct Merges {
    /// Ids replaced by committed merges.
    replaced: Vec<RangeInclusive<u64>>,
    /// Ids of the outputs of merges that are not committed.
    abandoned: Vec<u64>,
}

impl Merges {
    /// Reads the merges off the headers of a directory's data files.
    pub fn of<'a>(headers: impl IntoIterator<Item = &'a FileHeader>) -> Merges {
        let mut by_base: BTreeMap<u64, Vec<&FileHeader>> = BTreeMap::new();
        for h in headers {
            if h.is_merge_output() {
                by_base.entry(h.merge_base).or_default().push(h);
            }
        }
        let mut merges = Merges::default();
        for parts in by_base.values() {
            if committed(parts) {
                // All parts carry the same floor; should they not, the largest replaces
                // the fewest files: a file kept by mistake is reported (its sequence
                // numbers repeat the outputs'), one removed by mistake would be lost.
                let floor = parts.iter().map(|p| p.merge_floor).max().unwrap_or(0);
                merges.replaced.push(floor..=parts[0].merge_base);
            } else {
                merges.abandoned.extend(parts.iter().map(|p| p.id));
            }
        }
        merges
    }

    /// The file with this id is stale: an input of a committed merge, or an output of one
    /// that is not committed.
    pub fn left_out(&self, id: u64) -> bool {
        self.replaced.iter().any(|r| r.contains(&id)) || self.abandoned.contains(&id)
    }
}

/// All `n` parts `0..n` of one merge are there.
fn committed(parts: &[&FileHeader]) -> bool {
    let n = parts[0].merge_parts;
    let mut seen: Vec<u32> = parts
        .iter()
        .filter(|p| p.merge_parts == n)
        .map(|p| p.merge_part)
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len() == n as usize && seen.iter().enumerate().all(|(i, &p)| p as usize == i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(id: u64, floor: u64, base: u64, part: u32, parts: u32) -> FileHeader {
        FileHeader {
            id,
            merge_base: base,
            merge_floor: floor,
            merge_part: part,
            merge_parts: parts,
            ..FileHeader::default()
        }
    }

    fn plain(id: u64) -> FileHeader {
        FileHeader {
            id,
            seq_base: 1,
            ..FileHeader::default()
        }
    }

    /// The ids of `files` that the merges among them leave out.
    fn left_out(files: &[FileHeader]) -> Vec<u64> {
        let m = Merges::of(files);
        files
            .iter()
            .map(|f| f.id)
            .filter(|&id| m.left_out(id))
            .collect()
    }

    #[test]
    fn a_committed_window_replaces_its_range_and_nothing_older() {
        let files = [
            plain(64),
            plain(128),
            plain(192),
            output(193, 128, 192, 0, 2),
            output(194, 128, 192, 1, 2),
            plain(256),
        ];
        let out = left_out(&files);
        assert_eq!(out, [128, 192]);
    }

    #[test]
    fn a_merge_missing_a_part_is_abandoned_and_replaces_nothing() {
        let files = [plain(64), plain(128), output(129, 64, 128, 1, 2)];
        let out = left_out(&files);
        assert_eq!(out, [129]);
    }

    #[test]
    fn floor_zero_replaces_every_file_up_to_the_base() {
        let files = [plain(64), plain(128), output(129, 0, 128, 0, 1), plain(192)];
        let out = left_out(&files);
        assert_eq!(out, [64, 128]);
    }
}
