//! Opening a store: resolving and preparing its directory, the writer lock, recovery, and
//! the engine built from what recovery loaded. A refused open leaves nothing behind.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, Weak};

use super::durability::{Flusher, GroupCommit};
use super::state::{Engine, Writer};
use crate::error::{Error, Result};
use crate::filename::IdGen;
use crate::keydir::KeyDir;
use crate::options::{Options, SyncMode};
use crate::recovery;
use crate::util::sync::lock;
use crate::util::worker::Worker;
use crate::vfs::Vfs;
use crate::writer_lock::WriterLock;

impl Engine {
    /// Opens the store in `path` with `opts` (see `Bitask::open_with`); returns it with the
    /// interval flusher's thread when there is one.
    pub(crate) fn open(path: &Path, opts: Options) -> Result<(Arc<Engine>, Option<Flusher>)> {
        opts.validate()?;
        let dir = std::path::absolute(path).map_err(|e| Error::io("resolve", path, e))?;
        let vfs = opts.vfs.clone();
        let created_dir = prepare_dir(&*vfs, &dir, &opts)?;
        let writer_lock = match (!opts.read_only).then(|| WriterLock::take(&*vfs, &dir)) {
            Some(Err(e)) => {
                undo_created_dir(&*vfs, &dir, created_dir);
                return Err(e);
            }
            Some(Ok(lock)) => Some(lock),
            None => None,
        };
        let loaded = check_not_exists(&*vfs, &dir, &opts)
            .and_then(|()| load_retrying(&*vfs, &dir, opts.read_only, KeyDir::new));
        let (keydir, rec) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                // A refused open leaves nothing behind: not the lock file it made, nor the
                // directory.
                if let Some(l) = writer_lock {
                    l.abandon(&*vfs);
                }
                undo_created_dir(&*vfs, &dir, created_dir);
                return Err(e);
            }
        };
        let lock_file = writer_lock.map(|l| l.held);
        let live = keydir.live_bytes();
        let writer = if opts.read_only {
            None
        } else {
            Some(Mutex::new(Writer {
                active: None,
                next_seq: rec.next_seq,
                ids: IdGen::new(rec.max_id.max(opts.min_file_id)),
                last_fill: None,
                batch_buf: Vec::new(),
            }))
        };
        let engine = Arc::new_cyclic(|me| Engine {
            me: me.clone(),
            sealing: Arc::default(),
            sealer: Worker::new("bitask-seal"),
            hinting: Arc::default(),
            hinter: Worker::new("bitask-hint"),
            preparer: Arc::default(),
            dir,
            store_tag: rec.identity.tag,
            opts,
            keydir,
            files: Mutex::new(rec.files),
            writer,
            live_bytes: AtomicU64::new(live),
            torn_bytes: AtomicU64::new(rec.torn_bytes),
            loaded_seq: AtomicU64::new(rec.next_seq - 1),
            commit: GroupCommit::default(),
            visibility: Default::default(),
            stopped: AtomicBool::new(false),
            stop_reason: Mutex::new(String::new()),
            merging: Mutex::new(()),
            merger: Arc::default(),
            refreshing: Mutex::new(()),
            syncing: Mutex::new(()),
            _lock: lock_file,
        });
        if let Some(w) = &engine.writer {
            let mut w = lock(w);
            // Without an active file, the first write creates one: opening works on a full disk.
            if let Some((id, end)) = rec.active {
                engine.resume_active(&mut w, id, end);
            }
            drop(w);
            engine.hint_unhinted(&rec.unhinted);
        }
        Engine::start_merger(&engine);
        let flusher = match engine.opts.sync {
            SyncMode::Interval(every) if !engine.opts.read_only => {
                Some(Flusher::start(every, Engine::flush_tick(&engine)))
            }
            _ => None,
        };
        Ok((engine, flusher))
    }

    /// What the interval flusher runs each period: a sync, while the engine lives.
    fn flush_tick(engine: &Arc<Engine>) -> impl Fn() -> bool + Send + 'static {
        let weak: Weak<Engine> = Arc::downgrade(engine);
        move || match weak.upgrade() {
            Some(e) => {
                let _ = e.sync_now();
                true
            }
            None => false,
        }
    }
}

/// Makes sure the store's directory exists (creating it for a writer when
/// `create_if_missing`); returns whether this open created it.
fn prepare_dir(vfs: &dyn Vfs, dir: &Path, opts: &Options) -> Result<bool> {
    match vfs.is_dir(dir) {
        Ok(true) => Ok(false),
        Ok(false) => Err(Error::io(
            "open",
            dir,
            std::io::Error::from_raw_os_error(libc::ENOTDIR),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if opts.read_only || !opts.create_if_missing {
                return Err(Error::io("open", dir, e));
            }
            vfs.create_dir(dir)
                .map_err(|e| Error::io("create directory", dir, e))?;
            // The new directory's entry in its parent must be durable before anything in it is.
            if let Some(parent) = dir.parent() {
                vfs.sync_dir(parent)
                    .map_err(|e| Error::io("sync directory", parent, e))?;
            }
            Ok(true)
        }
        Err(e) => Err(Error::io("open", dir, e)),
    }
}

fn undo_created_dir(vfs: &dyn Vfs, dir: &Path, created: bool) {
    if created {
        let _ = vfs.remove_dir(dir);
    }
}

fn check_not_exists(vfs: &dyn Vfs, dir: &Path, opts: &Options) -> Result<()> {
    if opts.error_if_exists && recovery::holds_store(vfs, dir)? {
        return Err(Error::Exists(dir.to_path_buf()));
    }
    Ok(())
}

/// Loads the directory; a read-only handle retries when the writer renamed or deleted a file
/// between listing and opening it.
pub(crate) fn load_retrying(
    vfs: &dyn Vfs,
    dir: &Path,
    read_only: bool,
    new_keydir: impl Fn() -> KeyDir,
) -> Result<(KeyDir, recovery::Recovered)> {
    let mut attempts = 0;
    loop {
        let keydir = new_keydir();
        match recovery::recover(vfs, dir, read_only, &keydir) {
            Err(e) if read_only && recovery::is_vanished(&e) && attempts < 100 => attempts += 1,
            other => return other.map(|rec| (keydir, rec)),
        }
    }
}
