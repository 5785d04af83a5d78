//! The engine's side of a hot backup: a snapshot of the store's files taken under its locks
//! (`checkpoint::write` does the rest).
//!
//! Holding the compaction mutex for the whole backup is what keeps every sealed file listed
//! alive until it is linked or copied: only a compaction deletes sealed files. The writer
//! mutex is held only to take the snapshot: background seals are waited for (so every file
//! but the active one has its sealed name), then the active file and the end of its records
//! are noted. Writes go on meanwhile; what they append lies past that end, and a rotation
//! that seals the active file leaves those bytes as they were.

use std::path::Path;

use super::state::Engine;
use crate::checkpoint::{self, CheckpointReport, Snapshot};
use crate::error::Result;
use crate::identity::{self, Identity};
use crate::util::sync::lock;

impl Engine {
    /// Writes a consistent copy of the store as of this call into `dest`: every write
    /// acknowledged before the call, none begun after it.
    pub(crate) fn checkpoint(&self, dest: &Path) -> Result<CheckpointReport> {
        let writer = self.writer()?;
        let _no_compaction = lock(&self.merging);
        self.check_running()?;
        let identity = identity::read(self.vfs(), &self.dir)?.unwrap_or(Identity::UNTAGGED);
        let snap = {
            let w = lock(writer);
            self.sealing.wait();
            self.check_running()?;
            let files = lock(&self.files);
            let active = w.active.as_ref().map(|a| (a.file.clone(), a.end));
            let active_id = active.as_ref().map(|(f, _)| f.id());
            let sealed = files
                .by_id
                .keys()
                .copied()
                .filter(|id| Some(*id) != active_id)
                .collect();
            Snapshot {
                dir: self.dir.clone(),
                identity,
                sealed,
                active,
            }
        };
        // The copy's records must be durable in the store too before the copy is reported
        // made: a crash of the store must not leave the backup ahead of it.
        self.sync_now()?;
        checkpoint::write(self.vfs(), &snap, dest)
    }
}

impl Engine {
    /// Verifies the store's files (`verify::verify_with`) as of this call: on a writer
    /// handle under the compaction mutex, with background seals finished, the active file
    /// read to the end of its records, and files made since left out.
    pub(crate) fn verify(&self) -> Result<crate::verify::VerifyReport> {
        let Some(writer) = &self.writer else {
            return crate::verify::verify_with(self.vfs(), &self.dir, None);
        };
        let _no_compaction = lock(&self.merging);
        let live = {
            let w = lock(writer);
            self.sealing.wait();
            let newest = lock(&self.files).by_id.keys().max().copied().unwrap_or(0);
            crate::verify::Live {
                active: w.active.as_ref().map(|a| (a.file.id(), a.end)),
                newest,
            }
        };
        crate::verify::verify_with(self.vfs(), &self.dir, Some(live))
    }
}
