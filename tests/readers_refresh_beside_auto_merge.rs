//! A read-only handle refreshing beside a writer whose merge thread merges all along, with
//! compactions and removes. It failed ("records out of order" in a merge output) while
//! `compact` took its outputs' ids after files written during it: a later merge of a prefix
//! then split that compaction's outputs, or put its own after newer records.
mod common;
use bitask::{Bitask, MergeOptions, Options, SyncMode};
use std::time::Duration;
#[test]
fn a_reader_refreshing_beside_automatic_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let m = MergeOptions {
        check_every: Duration::from_millis(1),
        ..common::eager_merge(2048)
    };
    let opts = Options::default()
        .max_file_size(2048)
        .sync(SyncMode::None)
        .merge(m);
    let w = Bitask::open_with(&dir, opts.clone()).unwrap();
    w.put("a", "b").unwrap();
    let r = Bitask::open_with(&dir, opts.read_only(true)).unwrap();
    let mut rng = common::Rng::new(3);
    for i in 0..200000u64 {
        let k = common::key(rng.below(50));
        match rng.below(1000) {
            0..=4 => w.compact().unwrap(),
            5..=299 => {
                let _ = w.remove(&k);
            }
            _ => w
                .put(&k, common::value(&k, i, rng.below(100) as usize))
                .unwrap(),
        }
        if i % 7 == 0 {
            if let Err(e) = r.refresh() {
                let mut names: Vec<_> = std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect();
                names.sort();
                for n in &names {
                    if n.ends_with(".log") {
                        let b = std::fs::read(dir.join(n)).unwrap();
                        let h = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
                        let h4 = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
                        println!(
                            "{n} seqbase {} mb {} part {}/{}",
                            h(24),
                            h(32),
                            h4(40),
                            h4(44)
                        );
                    } else {
                        println!("{n}");
                    }
                }
                panic!("at {i}: {e}");
            }
        }
    }
    w.sync().unwrap();
    r.refresh().unwrap();
    for k in 0..50 {
        let k = common::key(k);
        assert_eq!(r.ask(&k).ok(), w.ask(&k).ok(), "{k:?}");
    }
}
