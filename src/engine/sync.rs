//! Making writes durable outside the write path (`sync`, the interval flusher, close), and
//! the `fdatasync` of the active file that group commit runs.

use std::sync::atomic::Ordering;

use super::state::Engine;
use crate::error::Result;
use crate::options::SyncMode;
use crate::util::sync::lock;

impl Engine {
    /// Returns once record `seq` is durable, through group commit.
    pub(super) fn wait_durable(&self, seq: u64) -> Result<()> {
        self.commit
            .wait_durable(seq, || self.check_running(), || self.sync_active())
    }

    /// `fdatasync`s the active file; returns the last sequence number it covers. A failure
    /// stops writes: the kernel may have dropped the dirty pages, so retrying proves nothing.
    ///
    /// Records in earlier files were made durable when those were sealed, under the writer
    /// mutex; if such a seal failed, or failed while this `fdatasync` ran on the same file
    /// (the kernel reports a writeback error to one caller only), the handle is stopped by the
    /// time the writer mutex is free again, and this fails too.
    pub(crate) fn sync_active(&self) -> Result<u64> {
        let (file, upto) = {
            let w = lock(self.writer()?);
            (w.active.as_ref().map(|a| a.file.clone()), w.next_seq - 1)
        };
        if let Some(f) = file {
            if let Err(err) = f.sync() {
                self.stop(&err);
                return Err(err);
            }
        }
        let _w = lock(self.writer()?);
        self.check_running()?;
        Ok(upto)
    }

    pub(crate) fn sync_now(&self) -> Result<()> {
        if self.writer.is_none() {
            return Ok(());
        }
        self.sealing.wait();
        self.check_running()?;
        if self.opts.sync == SyncMode::Always {
            // Through group commit: never an `fdatasync` of the active file beside another.
            let upto = lock(self.writer()?).next_seq - 1;
            self.wait_durable(upto)?;
            return self.sync_dir().inspect_err(|e| self.stop(e));
        }
        let _one_at_a_time = lock(&self.syncing);
        self.check_running()?;
        let upto = self.sync_active()?;
        // Without SyncMode::Always a new active file's directory entry is not synced when the
        // file is made; this makes it (and anything else in the directory) durable.
        self.sync_dir().inspect_err(|e| self.stop(e))?;
        self.commit.mark_durable(upto);
        Ok(())
    }

    /// Trims the active file's reserved tail and syncs it when durability was asked for.
    pub(crate) fn finish(&self) -> Result<()> {
        let Some(w) = &self.writer else { return Ok(()) };
        // First: a merge in progress abandons at its next record, and none starts after.
        self.merger.shutdown();
        self.preparer.discard(self.vfs(), true);
        self.sealing.wait();
        // Seals queue hints: stopped after them.
        self.stop_hinting();
        // Nothing is queued any more: stop the threads, so none outlives the handle.
        self.preparer.worker.shutdown();
        self.sealer.shutdown();
        let w = lock(w);
        let Some(a) = &w.active else { return Ok(()) };
        if self.stopped.load(Ordering::Acquire) {
            return Ok(());
        }
        let f = &a.file;
        f.truncate(a.end, "truncate")?;
        if self.opts.sync != SyncMode::None {
            f.sync()?;
        }
        Ok(())
    }
}
