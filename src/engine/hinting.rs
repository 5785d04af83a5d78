//! Hint files for sealed files, written on a background thread of their own (`hinter`):
//! after a file's seal is published, and at a writer's open for every sealed file found
//! without a valid version 2 hint. Never on the write path, and never a write's failure: a
//! hint that cannot be written leaves its file unhinted (scanned on the next open).
//!
//! A job holds the engine only while it runs (`me`), and only for a file the engine still
//! has: compaction waits for the jobs queued before it, so no hint is published for a file it
//! deletes. Close waits for the hints of the files this handle sealed (one file's each, so
//! a closed store is fully hinted) and cancels the backlog an open queued, which may be a
//! whole store of an earlier version: the next open queues what is left again.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::state::Engine;
use crate::datafile::hint_file::write_hint;
use crate::datafile::DataFile;
use crate::fileset::SortedRun;
use crate::util::sync::lock;

impl Engine {
    /// Queues the writing of sealed file `file`'s hint (see the module documentation);
    /// `backlog`: for a file found unhinted by the open, which close may cancel.
    pub(crate) fn hint_later(&self, file: Arc<DataFile>, backlog: bool) {
        if backlog && self.hinting.cancelled.load(Ordering::Acquire) {
            return;
        }
        let me = self.me.clone();
        let hinting = self.hinting.clone();
        hinting.jobs.begin();
        let spawned = self.hinter.submit(move || {
            if let Some(db) = me.upgrade() {
                if !(backlog && db.hinting.cancelled.load(Ordering::Acquire)) {
                    db.write_hint_now(&file);
                }
            }
            // Only after letting go of the handle and the file, as a seal does.
            drop(file);
            hinting.jobs.end();
        });
        if spawned.is_err() {
            self.hinting.jobs.end();
        }
    }

    /// Writes `file`'s hint if the engine still has the file and is running; records the
    /// hint's length for `stats`.
    fn write_hint_now(&self, file: &DataFile) {
        let known = lock(&self.files)
            .by_id
            .get(&file.id())
            .is_some_and(|e| !e.active);
        if !known || self.check_running().is_err() {
            return;
        }
        if let Ok(len) = write_hint(self.vfs(), &self.dir, file) {
            if let Some(e) = lock(&self.files).by_id.get_mut(&file.id()) {
                e.hint_len = len;
                e.sorted_run = SortedRun::Checked;
                e.keys_read = None;
            }
        }
    }

    /// Queues hints for the sealed files recovery loaded without one (`ids`).
    pub(crate) fn hint_unhinted(&self, ids: &[u64]) {
        for id in ids {
            let file = lock(&self.files).by_id.get(id).map(|e| e.file.clone());
            if let Some(file) = file {
                self.hint_later(file, true);
            }
        }
    }

    /// Lets the hint jobs queued so far finish (compaction: its inputs' hints are then all
    /// written or abandoned).
    pub(crate) fn wait_for_hints(&self) {
        self.hinting.jobs.wait();
    }

    /// Cancels the backlog's jobs not yet started, waits for the others, stops the thread.
    pub(crate) fn stop_hinting(&self) {
        self.hinting.cancelled.store(true, Ordering::Release);
        self.hinting.jobs.wait();
        self.hinter.shutdown();
    }
}
