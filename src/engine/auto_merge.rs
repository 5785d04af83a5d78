//! The automatic merge, as the engine runs it: figures about the sealed files for the policy
//! (`merge_policy::plan`), the checks before a merge starts (the time window, the free
//! space), the merge of the chosen window (`compaction::merge`), and the thread's tick.
//!
//! Unlike `compact`, it leaves the active file alone and takes only sealed files: a window
//! of consecutive files in load order, up to a cut where every file after has a larger id
//! than every file before. The outputs take the free ids right after the inputs' largest
//! (see `filename::ID_STEP`) and below the range every later merge output replaced, so that
//! the range the merge replaces (from its floor to its base) holds exactly its inputs and the
//! stale files of merges it takes the outputs of, and the outputs sort where the inputs did.

use std::sync::{Arc, Weak};

use super::compaction::{merge, MergePlan, OutputIds};
use super::pace::Pace;
use super::state::Engine;
use crate::datafile::hint_map::MappedHint;
use crate::datafile::{DataFile, Found, FILE_HEADER_LEN};
use crate::error::Result;
use crate::filename::ID_STEP;
use crate::merge_policy::{plan, FileFigures, MergeReport, NotDue};
use crate::record;
use crate::util::sync::lock;

/// Free space a merge leaves on the file system at least, beyond what it writes: the
/// writer's next files and their seals must still fit.
const SPARE_SPACE: u64 = 64 << 20;

type Inputs = Vec<(u64, u32, Arc<DataFile>)>;

/// How many looks of the merge thread pass at most between two evaluations of a store with
/// expiring keys (a minute at the default `check_every`): each reads the header of every
/// expiring entry.
const EXPIRY_LOOK_EVERY: u32 = 60;

/// What the merge thread remembers between looks.
#[derive(Default)]
struct Look {
    /// (sealed files, data files, dead bytes without expiry) at the last evaluation.
    last_seen: Option<(u64, u64, u64)>,
    /// Looks since the last evaluation.
    since_full: u32,
}

impl Engine {
    /// Whether a merge is due, and which files it would take (`Bitask::needs_merge`).
    pub(crate) fn needs_merge(&self) -> MergeReport {
        if self.writer.is_none() {
            return MergeReport {
                why_not: Some(NotDue::ReadOnly),
                ..MergeReport::default()
            };
        }
        let (files, _) = self.merge_figures();
        let mut report = plan(&files, &self.opts.merge);
        self.check_may_start(&mut report);
        report
    }

    /// Runs one automatic merge now if one is due (`Bitask::merge_if_due`); returns the
    /// report it decided on.
    pub(crate) fn merge_if_due(&self) -> Result<MergeReport> {
        self.writer()?;
        let _one_at_a_time = lock(&self.merging);
        self.check_running()?;
        let (files, inputs) = self.merge_figures();
        let mut report = plan(&files, &self.opts.merge);
        self.check_may_start(&mut report);
        if !report.due {
            return Ok(report);
        }
        let n = report.files.len();
        let first = files
            .iter()
            .position(|f| f.id == report.files[0].id)
            .expect("a plan takes files of the list");
        let taken = &files[first..first + n];
        let base = taken
            .iter()
            .map(|f| f.id)
            .max()
            .expect("a plan takes a file");
        let room = taken[n - 1].room;
        let inputs = &inputs[first..first + n];
        let plan = MergePlan {
            inputs,
            floor: if first == 0 {
                0
            } else {
                replaced_from(&inputs[0].2)
            },
            ids: OutputIds {
                next: base + 1,
                end: base + 1 + room,
            },
            part_size: self.opts.merge.output_file_size,
        };
        let mut pace = Pace::new(self.opts.merge.bytes_per_sec, &self.merger);
        merge(self, plan, Some(&mut pace))?;
        Ok(report)
    }

    /// The window and the free space: a merge starts only inside its hours and only when the
    /// file system can hold everything it writes (so it never stops half way for space).
    fn check_may_start(&self, report: &mut MergeReport) {
        if !report.due {
            return;
        }
        if let Some((start, end)) = self.opts.merge.window {
            let hour = (self.opts.merge.hour_now)();
            let inside = if start < end {
                (start..end).contains(&hour)
            } else {
                hour >= start || hour < end
            };
            if !inside {
                report.due = false;
                report.why_not = Some(NotDue::OutsideWindow);
                return;
            }
        }
        let outputs = report.files.len() as u64 + 1;
        // Outputs, their hints (a few bytes per key: at most as much again, for tiny
        // records), their headers and seals.
        let need = report.write_bytes.saturating_mul(2) + outputs * 4096 + SPARE_SPACE;
        if let Ok(Some(free)) = self.vfs().free_space(&self.dir) {
            if free < need {
                report.due = false;
                report.why_not = Some(NotDue::NoSpace);
            }
        }
    }

    /// The sealed files in load order with what the policy weighs them by, and the files
    /// themselves. The room after each is the free ids between the largest id up to it and
    /// the smallest id of every file after it, of every file not sealed yet (active, being
    /// sealed, made ready ahead) and of every id the writer will hand out.
    fn merge_figures(&self) -> (Vec<FileFigures>, Inputs) {
        let live = live_by_file(self);
        let kept = self.kept_bytes_by_id();
        let handed_out = self.writer.as_ref().map_or(0, |w| lock(w).ids.last());
        let files = lock(&self.files);
        let inputs = files.sealed_in_load_order();
        let unsealed = files
            .by_id
            .values()
            .filter(|e| e.active)
            .map(|e| e.file.id());
        let mut later = unsealed.min().unwrap_or(u64::MAX);
        let mut figures = vec![FileFigures::default(); inputs.len()];
        for (i, (id, no, file)) in inputs.iter().enumerate().rev() {
            // A cut between two outputs of one merge would leave that merge incomplete on
            // disk, and recovery removes the outputs of an incomplete merge. Outputs made
            // since ids are reserved never give such a cut room; those of earlier versions'
            // compactions, whose ids could pass the files written meanwhile, might.
            let splits = inputs
                .get(i + 1)
                .is_some_and(|(_, _, next)| same_merge(file, next));
            let continues = i > 0 && same_merge(&inputs[i - 1].2, file);
            let len = file.len().unwrap_or(0);
            let hint = files.by_id.get(id).map_or(0, |e| e.hint_len);
            figures[i] = FileFigures {
                id: *id,
                file_bytes: len + hint,
                record_bytes: len.saturating_sub(FILE_HEADER_LEN as u64 + record::SEAL_LEN),
                live_bytes: live.get(*no as usize).copied().unwrap_or(0),
                kept_bytes: kept.get(id).copied().unwrap_or(0),
                may_start: !continues,
                // The smallest id after this file, for now.
                room: if splits { 0 } else { later },
            };
            later = later.min(replaced_from(file));
        }
        let mut base = 0;
        for f in &mut figures {
            base = base.max(f.id);
            // The writer's next id is at least `handed_out + ID_STEP`; the file with id
            // `handed_out` itself may be the one made ready ahead, in no list.
            let future = if handed_out > base {
                handed_out
            } else {
                base + ID_STEP
            };
            let limit = f.room.min(future);
            f.room = limit.saturating_sub(base + 1);
        }
        (figures, inputs)
    }

    /// One look of the merge thread: a merge if one is due. Cheap when nothing changed: the
    /// key directory is walked only when the file list or the dead bytes did, or, in a store
    /// with expiring keys (whose records turn dead as time passes, with no write), every
    /// `EXPIRY_LOOK_EVERY` looks.
    fn merge_tick(&self, look: &mut Look) {
        if self.check_running().is_err() {
            return;
        }
        let s = self.stats_without_expiry();
        // Sealed files count apart: a file whose background seal ends changes neither the
        // number of files nor the dead bytes, yet becomes a candidate.
        let sealed = lock(&self.files)
            .by_id
            .values()
            .filter(|e| !e.active)
            .count() as u64;
        let now = (sealed, s.data_files, s.dead_bytes);
        look.since_full += 1;
        let expiry_due = look.since_full >= EXPIRY_LOOK_EVERY && self.keydir.has_expiring();
        if !expiry_due && (look.last_seen == Some(now) || s.dead_bytes == 0) {
            return;
        }
        look.last_seen = Some(now);
        look.since_full = 0;
        // A failed merge leaves the store as it was; the next look tries again. So does one
        // held back by the clock or the disk, whose reasons pass without the store changing.
        let held_back = match self.merge_if_due() {
            Ok(r) => matches!(r.why_not, Some(NotDue::OutsideWindow | NotDue::NoSpace)),
            Err(_) => true,
        };
        if held_back {
            look.last_seen = None;
        }
    }

    /// Starts the automatic merge's thread of a writer's handle that asks for one.
    pub(crate) fn start_merger(engine: &Arc<Engine>) {
        if engine.writer.is_none() || !engine.opts.auto_merge {
            return;
        }
        let weak: Weak<Engine> = Arc::downgrade(engine);
        let mut look = Look::default();
        engine.merger.start(engine.opts.merge.check_every, move || {
            match weak.upgrade() {
                Some(e) => {
                    e.merge_tick(&mut look);
                    true
                }
                None => false,
            }
        });
    }
}

/// The smallest id a merge starting at `file` replaces: the file's own, or for an output of
/// a window merge, the smallest its merge replaced (stale files of that merge may still be
/// on disk there, and must stay covered).
fn replaced_from(file: &DataFile) -> u64 {
    match file.header.merge_floor {
        0 => file.id(),
        floor => floor.min(file.id()),
    }
}

/// Both files are outputs of one merge.
fn same_merge(a: &DataFile, b: &DataFile) -> bool {
    let (a, b) = (&a.header, &b.header);
    a.is_merge_output() && b.is_merge_output() && a.merge_base == b.merge_base
}

impl Engine {
    /// Bytes of tombstones in each output of a window merge, by id (see
    /// `FileFigures::kept_bytes`): counted once per file and handle, from its hint, or from
    /// its records when the hint is not usable.
    fn kept_bytes_by_id(&self) -> std::collections::HashMap<u64, u64> {
        let uncounted: Vec<Arc<DataFile>> = lock(&self.files)
            .by_id
            .values()
            .filter(|e| !e.active && e.file.header.merge_floor > 0 && e.kept_bytes.is_none())
            .map(|e| e.file.clone())
            .collect();
        let counted: Vec<(u64, u64)> = uncounted
            .iter()
            .map(|f| (f.id(), tombstone_bytes(self, f)))
            .collect();
        let mut files = lock(&self.files);
        for (id, bytes) in counted {
            if let Some(e) = files.by_id.get_mut(&id) {
                e.kept_bytes = Some(bytes);
            }
        }
        files
            .by_id
            .iter()
            .filter_map(|(&id, e)| e.kept_bytes.map(|b| (id, b)))
            .collect()
    }
}

/// Bytes of the tombstones in sealed file `file` (0 when it cannot be read: the merge that
/// reads it then fails and says why).
fn tombstone_bytes(engine: &Engine, file: &DataFile) -> u64 {
    let len = file.len().unwrap_or(0);
    let vfs = engine.vfs();
    if let Some(hint) = MappedHint::open(vfs, &engine.dir, file, len, false) {
        return hint
            .view()
            .iter()
            .filter(|e| e.tombstone)
            .map(|e| record::record_len(e.key.len(), 0))
            .sum();
    }
    let Ok(mut scanner) = file.scan() else {
        return 0;
    };
    let mut bytes = 0;
    while let Ok(Found::Record(r)) = scanner.next_record() {
        if r.header.is_tombstone() {
            bytes += r.header.record_len();
        }
    }
    bytes
}

/// Live bytes per file number. The bytes of records whose expiry has passed are dead, and
/// are left out (their expiries are read from the records' headers: only the entries marked
/// as expiring, in the shards that hold any; one that cannot be read counts as live).
fn live_by_file(engine: &Engine) -> Vec<u64> {
    let mut live = engine.keydir.live_bytes_by_file();
    let now = engine.now();
    let _ = engine.keydir.for_each_expiring(|loc, file| {
        if record::is_expired(file.expiry_at(loc.offset as u64)?, now) {
            if let Some(bytes) = live.get_mut(loc.file as usize) {
                *bytes = bytes.saturating_sub(loc.rec_len as u64);
            }
        }
        Ok(())
    });
    live
}
