//! Background threads: rotation seals and prepares data files on one long-lived thread each
//! (not one per rotation), and none of them outlives the handle. Alone in its test binary:
//! it counts the process's threads.

use bitask::{Bitask, Options, SyncMode};

/// Names of this process's threads that bitask started, as two looks a moment apart both
/// show them: a thread starts with the name of the thread that made it (the seal thread
/// makes the hint thread when it queues the first hint) and takes its own a moment later,
/// so one look may see a name twice that no two threads keep.
fn bitask_threads() -> Vec<String> {
    let first = look_at_threads();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let mut second = look_at_threads();
    let mut both = Vec::new();
    for name in first {
        if let Some(i) = second.iter().position(|n| *n == name) {
            both.push(second.swap_remove(i));
        }
    }
    both.sort();
    both
}

/// Names of this process's threads that bitask started, as /proc shows them now.
fn look_at_threads() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .filter(|n| n.starts_with("bitask-"))
        .collect();
    names.sort();
    names
}

#[test]
fn one_thread_per_background_job_and_none_after_close() {
    for sync in [SyncMode::None, SyncMode::Always] {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options::default().max_file_size(64 << 10).sync(sync);
        let db = Bitask::open_with(dir.path(), opts).unwrap();
        let value = vec![7u8; 1000];
        let mut most = Vec::new();
        for i in 0..3000u32 {
            db.put(i.to_be_bytes(), &value).unwrap();
            if i % 100 == 0 {
                let now = bitask_threads();
                if now.len() > most.len() {
                    most = now;
                }
            }
        }
        // About 45 rotations.
        assert!(db.stats().data_files > 40, "{sync:?}");
        let count = |name: &str| most.iter().filter(|n| *n == name).count();
        assert!(count("bitask-seal") <= 1, "{sync:?}: {most:?}");
        assert_eq!(count("bitask-prepare"), 1, "{sync:?}: {most:?}");
        db.close().unwrap();
        // Close joins every thread: none may be left, even for a moment.
        assert_eq!(look_at_threads(), Vec::<String>::new(), "{sync:?}");
        let db = Bitask::open(dir.path()).unwrap();
        assert_eq!(db.stats().key_count, 3000, "{sync:?}");
    }
}
