//! Ordered scans as a merge of sorted runs: the sealed files' hints, mapped once per handle
//! and walked in place, and the active file's keys, kept by the handle and extended by each
//! scan with the records appended since. A hint that changes under its mapping may hide keys
//! from a scan, but never gives a wrong value, an error or keys out of order.

mod common;

use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bitask::{Bitask, Options, ScanOptions, SyncMode};
use common::{key, value};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn opts() -> Options {
    Options::default().max_file_size(8192).sync(SyncMode::None)
}

fn scan(db: &Bitask, scan: ScanOptions) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.range(scan).map(|r| r.unwrap()).collect()
}

fn all(model: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn hints(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hint"))
        .collect();
    v.sort();
    v
}

#[test]
fn scans_between_writes_see_the_active_files_new_keys_and_not_its_removed_ones() {
    let dir = tempfile::tempdir().unwrap();
    // Files large enough that many scans meet the same active file, each after more writes.
    let db = Bitask::open_with(dir.path(), opts().max_file_size(1 << 20)).unwrap();
    let mut model = Model::new();
    for round in 0..40u64 {
        for i in 0..25u64 {
            let k = key((round * 7 + i * 13) % 300);
            if (round + i) % 6 == 0 && model.contains_key(&k) {
                db.remove(&k).unwrap();
                model.remove(&k);
            } else {
                let v = value(&k, round, 12);
                db.put(&k, &v).unwrap();
                model.insert(k, v);
            }
        }
        assert_eq!(scan(&db, ScanOptions::new()), all(&model), "round {round}");
        let mut reverse = all(&model);
        reverse.reverse();
        assert_eq!(
            scan(&db, ScanOptions::new().reverse(true)),
            reverse,
            "round {round}"
        );
    }
    assert_eq!(
        db.stats().data_files,
        1,
        "the writes stayed in one active file"
    );
}

#[test]
fn a_hint_changed_under_its_mapping_gives_no_wrong_value_and_no_disorder() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    {
        let db = Bitask::open_with(dir.path(), opts()).unwrap();
        for i in 0..2000u64 {
            let k = key(i % 700);
            let v = value(&k, i, 30);
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
        db.close().unwrap();
    }
    let db = Bitask::open_with(dir.path(), opts()).unwrap();
    // The first scan maps every hint; all of the keys come back.
    assert_eq!(scan(&db, ScanOptions::new()), all(&model));
    let hints = hints(dir.path());
    assert!(hints.len() >= 4, "{} hints", hints.len());
    for (n, path) in hints.iter().enumerate() {
        let len = std::fs::metadata(path).unwrap().len();
        let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        // Garbage over the entries of one hint, its index of another, its header of a third:
        // in place, as the mapping sees it (never cut: a cut mapping faults).
        let at = match n % 3 {
            0 => len / 2,
            1 => len - 40,
            _ => 20,
        };
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&[0xa5; 24]).unwrap();
    }
    for reverse in [false, true] {
        let mut last: Option<Vec<u8>> = None;
        for item in db.range(ScanOptions::new().reverse(reverse)) {
            let (k, v) = item.unwrap();
            assert_eq!(model.get(&k), Some(&v), "a value that is not the key's");
            if let Some(l) = &last {
                assert_eq!(
                    k.cmp(l),
                    if reverse {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    }
                );
            }
            last = Some(k);
        }
    }
    // Every key still reads, and a new handle sees the damage and scans the data files.
    for (k, v) in &model {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v));
    }
    db.close().unwrap();
    let db = Bitask::open_with(dir.path(), opts()).unwrap();
    assert_eq!(scan(&db, ScanOptions::new()), all(&model));
}

#[test]
fn a_seek_in_every_direction_lands_within_the_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(dir.path(), opts()).unwrap();
    let mut model = Model::new();
    for i in 0..1500u64 {
        let k = key(i % 500);
        let v = value(&k, i, 20);
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    let (lo, hi) = (key(100), key(200));
    let o = ScanOptions::new().from(&lo).until(&hi);
    let want: Vec<Vec<u8>> = model
        .range(lo.clone()..hi.clone())
        .map(|(k, _)| k.clone())
        .collect();
    for reverse in [false, true] {
        let mut it = db.range(o.clone().reverse(reverse).keys_only(true));
        // Below, inside and above the bounds.
        for target in [key(3), key(150), key(450)] {
            it.seek(&target);
            let (mut k, mut v) = (Vec::new(), Vec::new());
            let got = it.next_into(&mut k, &mut v).unwrap().then_some(k);
            let expected = if reverse {
                want.iter().rev().find(|k| **k <= target).cloned()
            } else {
                want.iter().find(|k| **k >= target).cloned()
            };
            assert_eq!(got, expected, "reverse {reverse}, seek {target:?}");
        }
    }
}
