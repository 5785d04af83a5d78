//! Which files an automatic merge takes, and why: a pure function of figures about the
//! sealed files (`plan`), so it is tested without a store.
//!
//! The commit protocol decides the shape of the choice. Recovery takes every data file whose
//! id lies in the range a committed merge replaced (`datafile::merges`) for one of its
//! inputs, so a merge takes a *window* of the load order: consecutive files, from a file
//! that starts no other merge's outputs in the middle, up to a *cut*, where every file
//! after the cut has a larger id than every file before it and the ids between leave room
//! for the outputs (see `filename::ID_STEP`). The window starts at the first file worth
//! merging, so files that are mostly live (the outputs of earlier merges, most often) are
//! not copied again; it reaches as far as the cap allows, and files in it that are not worth
//! merging on their own are taken too (`MergeReason::Older`). A window that starts at the
//! oldest file drops tombstones and expired puts; one after it must keep them (files older
//! than it may hold older records of their keys), and the bytes of tombstones it keeps in
//! its outputs (`FileFigures::kept_bytes`) are not dead bytes that a merge could reclaim.

use crate::options::MergeOptions;

/// Figures about one sealed file, in load order, as `plan` weighs it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileFigures {
    /// The number in its name.
    pub id: u64,
    /// Bytes of the file on disk, its hint's included.
    pub file_bytes: u64,
    /// Bytes of its records (header and seal left out).
    pub record_bytes: u64,
    /// Bytes of its records that are live. The bytes of records whose expiry has passed
    /// are dead and are left out of this figure (see `engine::auto_merge::live_by_file`).
    pub live_bytes: u64,
    /// Bytes of tombstones that a merge of a window after the oldest file would copy again:
    /// those of an output of such a merge. Not live, yet not worth merging for.
    pub kept_bytes: u64,
    /// A merge may start at this file: it is not the second or a later output of one merge
    /// (taking only some of a merge's outputs would leave that merge incomplete on disk).
    pub may_start: bool,
    /// Free ids after the prefix that ends with this file: how many outputs a merge cut
    /// here could number; 0 when no merge may end here.
    pub room: u64,
}

impl FileFigures {
    pub fn dead_bytes(&self) -> u64 {
        self.record_bytes.saturating_sub(self.live_bytes)
    }

    /// Dead bytes a merge would give back: its dead bytes less those it keeps.
    fn reclaimable_bytes(&self) -> u64 {
        self.dead_bytes().saturating_sub(self.kept_bytes)
    }
}

/// Why a file is in a merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeReason {
    /// At least `file_fragmentation` of its records is dead. (The numbers are those of
    /// the C interface.)
    Fragmented = 1,
    /// It holds at least `file_dead_bytes` dead bytes.
    DeadBytes = 2,
    /// It is smaller than `small_file_bytes`.
    Small = 3,
    /// Not worth merging on its own, but between files that are: a merge takes consecutive
    /// files of the load order.
    Older = 4,
}

impl MergeReason {
    /// A short name, for reports ("fragmented", "dead-bytes", "small", "older").
    pub fn name(self) -> &'static str {
        match self {
            MergeReason::Fragmented => "fragmented",
            MergeReason::DeadBytes => "dead-bytes",
            MergeReason::Small => "small",
            MergeReason::Older => "older",
        }
    }
}

/// Why no merge is due. The numbers are those of the C interface (`bitask_merge_report`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotDue {
    /// There is no sealed file.
    NoSealedFiles = 1,
    /// The store-wide triggers (`store_fragmentation`, `store_dead_bytes`, at least
    /// `min_dead_bytes`) are not met.
    BelowTriggers = 2,
    /// No file is worth merging at a point where a merge may end.
    NothingWorthMerging = 3,
    /// The hour is outside `MergeOptions::window`.
    OutsideWindow = 4,
    /// The file system has less free space than the merge would write.
    NoSpace = 5,
    /// A read-only handle never merges.
    ReadOnly = 6,
}

impl NotDue {
    /// In words, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            NotDue::NoSealedFiles => "no sealed files",
            NotDue::BelowTriggers => "below the triggers",
            NotDue::NothingWorthMerging => "no file worth merging",
            NotDue::OutsideWindow => "outside the merge window",
            NotDue::NoSpace => "not enough free space",
            NotDue::ReadOnly => "read-only handle",
        }
    }
}

/// One file a merge would take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeFile {
    pub id: u64,
    pub file_bytes: u64,
    pub live_bytes: u64,
    pub dead_bytes: u64,
    pub reason: MergeReason,
}

/// Whether a merge is due, which files it would take and what it would cost
/// (`Bitask::needs_merge`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MergeReport {
    /// A merge would start now (the automatic merge's next look starts it).
    pub due: bool,
    /// Why not, when it is not due.
    pub why_not: Option<NotDue>,
    /// The files it would take, oldest first; listed even when the store-wide triggers are
    /// not met (what a merge would take now).
    pub files: Vec<MergeFile>,
    /// Bytes it would read (the files, hints included), write (the live records) and give
    /// back to the file system (the difference).
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub reclaim_bytes: u64,
    /// Over all sealed files: bytes of records, and of dead records among them.
    pub store_record_bytes: u64,
    pub store_dead_bytes: u64,
}

impl MergeReport {
    /// How many output files a merge of these files needs at most, with outputs of `size`
    /// bytes: one more than the live bytes fill, since records do not split across files.
    pub fn outputs_needed(write_bytes: u64, size: u64) -> u64 {
        write_bytes / size.max(1) + 2
    }
}

/// Why `file` is worth merging on its own, if it is.
fn reason(f: &FileFigures, o: &MergeOptions) -> Option<MergeReason> {
    let dead = f.reclaimable_bytes();
    if f.record_bytes > 0 && dead as f64 >= o.file_fragmentation * f.record_bytes as f64 {
        Some(MergeReason::Fragmented)
    } else if dead >= o.file_dead_bytes {
        Some(MergeReason::DeadBytes)
    } else if f.file_bytes < o.small_file_bytes {
        Some(MergeReason::Small)
    } else {
        None
    }
}

/// Chooses the merge: a window of `files` (the sealed files in load order) from the first
/// file worth merging where a merge may start, to the last file worth merging after it at a
/// cut with room for its outputs, within `max_merge_bytes` of input (the first file is
/// taken even when larger); when no cut after that start has room, the next start is tried.
/// `due` says whether the store-wide triggers are met; the window of hours and the free
/// space are the caller's checks.
pub fn plan(files: &[FileFigures], o: &MergeOptions) -> MergeReport {
    let store_record_bytes: u64 = files.iter().map(|f| f.record_bytes).sum();
    let store_dead_bytes: u64 = files.iter().map(|f| f.dead_bytes()).sum();
    let mut report = MergeReport {
        store_record_bytes,
        store_dead_bytes,
        ..MergeReport::default()
    };
    if files.is_empty() {
        report.why_not = Some(NotDue::NoSealedFiles);
        return report;
    }
    let starts = files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.may_start && reason(f, o).is_some());
    let Some((first, last, read, write)) = starts
        .filter_map(|(i, _)| window_from(files, i, o).map(|(last, r, w)| (i, last, r, w)))
        .next()
    else {
        report.why_not = Some(NotDue::NothingWorthMerging);
        return report;
    };
    report.files = files[first..=last]
        .iter()
        .map(|f| MergeFile {
            id: f.id,
            file_bytes: f.file_bytes,
            live_bytes: f.live_bytes,
            dead_bytes: f.dead_bytes(),
            reason: reason(f, o).unwrap_or(MergeReason::Older),
        })
        .collect();
    report.read_bytes = read;
    report.write_bytes = write;
    report.reclaim_bytes = read.saturating_sub(write);
    let fragmented = store_dead_bytes as f64 >= o.store_fragmentation * store_record_bytes as f64;
    report.due = store_dead_bytes > 0
        && store_dead_bytes >= o.min_dead_bytes
        && (fragmented || store_dead_bytes >= o.store_dead_bytes);
    if !report.due {
        report.why_not = Some(NotDue::BelowTriggers);
    }
    report
}

/// The farthest end of a window starting at `files[first]`: (index of its last file, bytes
/// read, bytes written), `None` when no file worth merging within the cap ends at a cut
/// with room.
fn window_from(files: &[FileFigures], first: usize, o: &MergeOptions) -> Option<(usize, u64, u64)> {
    let (mut read, mut write, mut end) = (0u64, 0u64, None);
    for (i, f) in files.iter().enumerate().skip(first) {
        read += f.file_bytes;
        write += f.live_bytes + f.kept_bytes;
        if i > first && read > o.max_merge_bytes {
            break;
        }
        let fits = f.room >= MergeReport::outputs_needed(write, o.output_file_size);
        if fits && reason(f, o).is_some() {
            end = Some((i, read, write));
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn file(id: u64, mib: u64, live_mib: u64) -> FileFigures {
        FileFigures {
            id,
            file_bytes: mib * MIB,
            record_bytes: mib * MIB,
            live_bytes: live_mib * MIB,
            room: 63,
            may_start: true,
            ..FileFigures::default()
        }
    }

    #[test]
    fn a_store_below_the_triggers_is_not_due_but_lists_what_a_merge_would_take() {
        let files = [file(1, 4, 4), file(2, 4, 1), file(3, 4, 4)];
        let r = plan(&files, &MergeOptions::default());
        assert!(!r.due);
        assert_eq!(r.why_not, Some(NotDue::BelowTriggers));
        let ids: Vec<u64> = r.files.iter().map(|f| f.id).collect();
        assert_eq!(
            ids,
            [2],
            "from the fragmented file, not before it or past it"
        );
        assert_eq!(r.files[0].reason, MergeReason::Fragmented);
        assert_eq!((r.read_bytes, r.write_bytes), (4 * MIB, MIB));
        assert_eq!(r.reclaim_bytes, 3 * MIB);
    }

    #[test]
    fn a_window_takes_the_live_files_between_two_worth_merging_and_none_before() {
        let files = [file(1, 4, 4), file(2, 4, 1), file(3, 4, 4), file(4, 4, 0)];
        let r = plan(&files, &MergeOptions::default());
        let ids: Vec<u64> = r.files.iter().map(|f| f.id).collect();
        assert_eq!(ids, [2, 3, 4]);
        let reasons: Vec<MergeReason> = r.files.iter().map(|f| f.reason).collect();
        use MergeReason::*;
        assert_eq!(reasons, [Fragmented, Older, Fragmented]);
        assert_eq!(r.write_bytes, 5 * MIB);
    }

    #[test]
    fn a_window_never_starts_inside_a_merges_outputs_and_tries_the_next_start() {
        let mut files = [file(1, 4, 4), file(2, 4, 1), file(3, 4, 1), file(4, 4, 1)];
        files[1].may_start = false;
        let r = plan(&files, &MergeOptions::default());
        let ids: Vec<u64> = r.files.iter().map(|f| f.id).collect();
        assert_eq!(ids, [3, 4], "2 is the second output of a merge");
        // No cut after 3 has room, so the window starting there ends nowhere: the next
        // start, 4, has.
        files[1].may_start = true;
        files[1].room = 0;
        files[2].room = 0;
        let r = plan(&files, &MergeOptions::default());
        let ids: Vec<u64> = r.files.iter().map(|f| f.id).collect();
        assert_eq!(ids, [2, 3, 4]);
        files[3].room = 0;
        let r = plan(&files, &MergeOptions::default());
        assert_eq!(r.why_not, Some(NotDue::NothingWorthMerging), "{r:?}");
    }

    #[test]
    fn tombstones_a_window_would_copy_again_are_no_reason_to_merge() {
        let mut kept = file(2, 4, 1);
        kept.kept_bytes = 3 * MIB;
        let r = plan(&[file(1, 4, 4), kept], &MergeOptions::default());
        assert_eq!(r.why_not, Some(NotDue::NothingWorthMerging), "{r:?}");
        kept.kept_bytes = MIB;
        let r = plan(&[file(1, 4, 4), kept], &MergeOptions::default());
        assert_eq!(r.files.len(), 1, "2 MiB of 4 are dead and not kept: {r:?}");
        assert_eq!(r.write_bytes, 2 * MIB, "the live and the kept bytes");
    }

    #[test]
    fn store_wide_fragmentation_or_dead_bytes_make_a_merge_due() {
        let half_dead = [file(1, 4, 1), file(2, 4, 3)];
        let r = plan(&half_dead, &MergeOptions::default());
        assert!(!r.due, "4 MiB dead are below min_dead_bytes: {r:?}");
        let eager = MergeOptions {
            min_dead_bytes: 0,
            ..MergeOptions::default()
        };
        let r = plan(&half_dead, &eager);
        assert!(r.due, "{r:?}");
        assert_eq!(
            r.files.len(),
            1,
            "file 2 is not worth it, so the prefix ends at 1"
        );
        let o = MergeOptions {
            store_fragmentation: 1.0,
            store_dead_bytes: 2 * MIB,
            min_dead_bytes: 0,
            ..MergeOptions::default()
        };
        let r = plan(&[file(1, 4, 2), file(2, 4, 4)], &o);
        assert!(r.due, "2 MiB dead reach store_dead_bytes: {r:?}");
    }

    #[test]
    fn the_window_stops_at_the_cap_and_at_cuts_without_room() {
        let o = MergeOptions {
            max_merge_bytes: 8 * MIB,
            ..MergeOptions::default()
        };
        let files = [file(1, 4, 0), file(2, 4, 0), file(3, 4, 0)];
        let r = plan(&files, &o);
        assert_eq!(r.files.len(), 2, "12 MiB would pass the 8 MiB cap");
        assert_eq!(r.files[0].id, 1);
        let mut crowded = files;
        crowded[1].room = 0;
        let r = plan(&crowded, &o);
        assert_eq!(r.files.len(), 1, "no merge may end at file 2");
        // The first file is taken even when it alone passes the cap.
        let r = plan(&[file(1, 64, 0)], &o);
        assert_eq!(r.files.len(), 1);
    }

    #[test]
    fn small_files_and_dead_bytes_are_reasons_of_their_own() {
        let o = MergeOptions {
            file_dead_bytes: 2 * MIB,
            ..MergeOptions::default()
        };
        let small = FileFigures {
            file_bytes: MIB / 2,
            record_bytes: MIB / 2,
            live_bytes: MIB / 2,
            ..file(1, 0, 0)
        };
        let r = plan(&[small, file(2, 10, 7)], &o);
        assert_eq!(r.files[0].reason, MergeReason::Small);
        assert_eq!(r.files[1].reason, MergeReason::DeadBytes);
    }

    #[test]
    fn nothing_to_merge_says_why() {
        let r = plan(&[], &MergeOptions::default());
        assert_eq!(r.why_not, Some(NotDue::NoSealedFiles));
        let r = plan(&[file(1, 4, 4)], &MergeOptions::default());
        assert_eq!(r.why_not, Some(NotDue::NothingWorthMerging));
        assert!(r.files.is_empty());
    }
}
