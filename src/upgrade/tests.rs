//! Upgrades of hand-made 0.1.1 stores on the simulated file system: the reading rules, the
//! refusals, and a crash (a failure that stops the process, or a power cut) at every step.
//! `tests/upgrade_0_1_1.rs` runs the same checks on stores that bitask 0.1.1 itself wrote.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::vfs::fault::{Fault, FaultVfs, Plan};
use crate::vfs::sim::{CrashConfig, Image, Replayer, SimVfs};

type Content = BTreeMap<Vec<u8>, Vec<u8>>;

const T0: u64 = 1_700_000_000_000;

fn dir() -> PathBuf {
    PathBuf::from("/db")
}

/// A record as bitask 0.1.1 wrote it; an empty value is a deletion.
fn rec(key: &[u8], value: &[u8], ts: u64) -> Vec<u8> {
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    h.update(value);
    let mut b = h.finalize().to_le_bytes().to_vec();
    b.extend_from_slice(&ts.to_le_bytes());
    b.extend_from_slice(&(key.len() as u32).to_le_bytes());
    b.extend_from_slice(&(value.len() as u32).to_le_bytes());
    b.extend_from_slice(key);
    b.extend_from_slice(value);
    b
}

/// A disk with the store directory holding `files`.
fn disk(files: &[(&str, Vec<u8>)]) -> Image {
    let mut img = Image::default();
    img.dirs.insert(PathBuf::from("/"));
    img.dirs.insert(dir());
    for (name, data) in files {
        img.files.insert(dir().join(name), data.clone());
    }
    img
}

fn opts(vfs: Arc<dyn Vfs>) -> Options {
    Options::default().vfs(vfs)
}

fn content(vfs: &SimVfs) -> Result<Content> {
    let db = Bitask::open_with(dir(), opts(Arc::new(vfs.clone())).read_only(true))?;
    let mut out = Content::new();
    for item in db.iter() {
        let (k, v) = item?;
        out.insert(k, v);
    }
    Ok(out)
}

fn model(pairs: &[(&str, &str)]) -> Content {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// The files of `img` under `sub` (relative names), for comparing a backup with the store.
fn files_under(img: &Image, sub: &Path) -> BTreeMap<String, Vec<u8>> {
    img.files
        .iter()
        .filter(|(p, _)| p.parent() == Some(sub))
        .map(|(p, d)| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                d.clone(),
            )
        })
        .collect()
}

/// Checks a finished upgrade: the content, the untouched originals in the backup, nothing
/// left of the staging folder, and a second upgrade refused without a change.
fn check_done(vfs: &SimVfs, original: &Image, want: &Content) {
    assert_eq!(&content(vfs).unwrap(), want);
    let img = vfs.image();
    assert_eq!(
        files_under(&img, &dir().join(BACKUP_DIR)),
        files_under(original, &dir()),
        "the backup holds the original files"
    );
    assert!(files_under(&img, &dir().join(STAGING_DIR)).is_empty());
    let err = upgrade_with(dir(), opts(Arc::new(vfs.clone()))).unwrap_err();
    assert!(matches!(err, Error::Incompatible { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("already holds a store of this format"),
        "{err}"
    );
    assert_eq!(vfs.image(), img, "a refused upgrade changes nothing");
}

fn run(img: &Image) -> (SimVfs, Result<UpgradeReport>) {
    let vfs = SimVfs::from_image(img);
    let r = upgrade_with(dir(), opts(Arc::new(vfs.clone())));
    (vfs, r)
}

/// A store with three files: sealed `T0`, sealed `T0+100`, active `T0+200`, with overwrites
/// across files, deletions, an empty file's worth of nothing, and two puts of one key in one
/// millisecond.
fn plain() -> (Image, Content) {
    let a = [
        rec(b"apple", b"red", T0),
        rec(b"pear", b"green", T0 + 1),
        rec(b"plum", b"purple", T0 + 2),
    ]
    .concat();
    let b = [
        rec(b"apple", b"yellow", T0 + 100),
        rec(b"pear", b"", T0 + 101),
        rec(b"fig", b"one", T0 + 102),
        rec(b"fig", b"two", T0 + 102),
    ]
    .concat();
    let c = [
        rec(b"plum", b"", T0 + 200),
        rec(b"kiwi", b"brown", T0 + 201),
        rec(b"apple", b"green", T0 + 201),
    ]
    .concat();
    let img = disk(&[
        (&format!("{T0}.log"), a),
        (&format!("{}.log", T0 + 100), b),
        (&format!("{}.active.log", T0 + 200), c),
    ]);
    let want = model(&[("apple", "green"), ("fig", "two"), ("kiwi", "brown")]);
    (img, want)
}

#[test]
fn the_last_record_in_file_and_offset_order_wins() {
    let (img, want) = plain();
    let (vfs, r) = run(&img);
    let report = r.unwrap();
    assert_eq!(report.records_read, 10);
    assert_eq!(report.tombstones, 2);
    assert_eq!(report.keys_converted, 3);
    assert!(report.regions.is_empty());
    assert!(!report.resumed);
    let order: Vec<String> = report.files.iter().map(|f| f.file.name()).collect();
    assert_eq!(
        order,
        [
            format!("{T0}.log"),
            format!("{}.log", T0 + 100),
            format!("{}.active.log", T0 + 200)
        ]
    );
    assert_eq!(report.backup_dir, dir().join(BACKUP_DIR));
    check_done(&vfs, &img, &want);
}

#[test]
fn the_active_file_comes_after_every_sealed_file() {
    // A sealed file named like the active one (two rotations in one millisecond), and a
    // sealed file with a larger name whose records are newer than its name.
    let img = disk(&[
        (
            &format!("{}.log", T0 + 500),
            rec(b"k", b"sealed-late", T0 + 600),
        ),
        (&format!("{T0}.log"), rec(b"j", b"sealed", T0)),
        (
            &format!("{T0}.active.log"),
            [rec(b"k", b"active", T0), rec(b"j", b"active", T0)].concat(),
        ),
    ]);
    let (vfs, r) = run(&img);
    r.unwrap();
    check_done(&vfs, &img, &model(&[("j", "active"), ("k", "active")]));
}

#[test]
fn a_compaction_output_comes_before_the_file_that_was_active_when_it_was_made() {
    // 0.1.1: rotation made T0+100.active.log; compaction at T0+300 copied the sealed records
    // into T0+300.log; puts went on into T0+100.active.log, which a rotation then sealed
    // under its smaller name; the new active file is T0+400.
    let compacted = [rec(b"a", b"a1", T0), rec(b"b", b"b1", T0 + 50)].concat();
    let was_active = [rec(b"c", b"c1", T0 + 100), rec(b"a", b"a2", T0 + 350)].concat();
    let active = rec(b"b", b"b2", T0 + 400);
    let img = disk(&[
        (&format!("{}.log", T0 + 300), compacted),
        (&format!("{}.log", T0 + 100), was_active),
        (&format!("{}.active.log", T0 + 400), active),
    ]);
    let (vfs, r) = run(&img);
    let report = r.unwrap();
    let order: Vec<u64> = report.files.iter().map(|f| f.file.id).collect();
    assert_eq!(order, [T0 + 300, T0 + 100, T0 + 400]);
    check_done(&vfs, &img, &model(&[("a", "a2"), ("b", "b2"), ("c", "c1")]));
}

#[test]
fn a_torn_tail_is_left_out_and_counted() {
    let good = [rec(b"a", b"1", T0), rec(b"b", b"2", T0 + 1)].concat();
    let last = rec(b"a", b"three", T0 + 2);
    for cut in [1, 19, 20, 21, last.len() - 1] {
        let mut active = good.clone();
        active.extend_from_slice(&last[..cut]);
        let img = disk(&[(&format!("{T0}.active.log"), active.clone())]);
        let (vfs, r) = run(&img);
        let report = r.unwrap();
        assert_eq!(report.records_read, 2, "cut {cut}");
        assert_eq!(
            report.regions,
            [Region {
                file: LegacyFile {
                    id: T0,
                    active: true
                },
                offset: good.len() as u64,
                len: cut as u64,
                torn: true,
            }],
            "cut {cut}"
        );
        assert_eq!(
            (report.torn_bytes(), report.unreadable_bytes()),
            (cut as u64, 0)
        );
        check_done(&vfs, &img, &model(&[("a", "1"), ("b", "2")]));
    }
    // Zeros where a crash left the file's length but not its data.
    let mut active = good.clone();
    active.extend_from_slice(&[0; 100]);
    let img = disk(&[(&format!("{T0}.active.log"), active)]);
    let (vfs, r) = run(&img);
    assert_eq!(r.unwrap().torn_bytes(), 100);
    check_done(&vfs, &img, &model(&[("a", "1"), ("b", "2")]));
}

#[test]
fn a_damaged_value_in_the_middle_is_skipped_reported_and_never_converted() {
    let first = rec(b"a", b"old", T0);
    let mut damaged = rec(b"a", b"new-but-damaged", T0 + 1);
    let last = [rec(b"b", b"after", T0 + 2), rec(b"c", b"end", T0 + 3)].concat();
    let at = damaged.len() - 3;
    damaged[at] ^= 0x20;
    let file = [first.clone(), damaged.clone(), last].concat();
    let img = disk(&[(&format!("{T0}.active.log"), file)]);
    let (vfs, r) = run(&img);
    let report = r.unwrap();
    assert_eq!(report.records_read, 3);
    assert_eq!(
        report.regions,
        [Region {
            file: LegacyFile {
                id: T0,
                active: true
            },
            offset: first.len() as u64,
            len: damaged.len() as u64,
            torn: false,
        }]
    );
    assert_eq!(report.unreadable_bytes(), damaged.len() as u64);
    check_done(
        &vfs,
        &img,
        &model(&[("a", "old"), ("b", "after"), ("c", "end")]),
    );
}

#[test]
fn damaged_lengths_resynchronise_at_the_next_record() {
    let first = rec(b"a", b"1", T0);
    let mut damaged = rec(b"b", b"2222", T0 + 1);
    damaged[18] = 0x7f; // the value length's third byte: far past the end of the file
    let rest = [rec(b"c", b"3", T0 + 2), rec(b"d", b"4", T0 + 3)].concat();
    let sealed = [first.clone(), damaged.clone(), rest].concat();
    let img = disk(&[
        (&format!("{T0}.log"), sealed),
        (&format!("{}.active.log", T0 + 10), Vec::new()),
    ]);
    let (vfs, r) = run(&img);
    let report = r.unwrap();
    assert_eq!(report.records_read, 3);
    assert_eq!(report.regions.len(), 1);
    let region = report.regions[0];
    assert_eq!(
        (region.offset, region.len, region.torn),
        (first.len() as u64, damaged.len() as u64, false)
    );
    check_done(&vfs, &img, &model(&[("a", "1"), ("c", "3"), ("d", "4")]));
}

#[test]
fn a_whole_last_record_that_fails_its_checksum_is_unreadable_not_torn() {
    let first = rec(b"a", b"1", T0);
    let mut last = rec(b"a", b"2", T0 + 1);
    *last.last_mut().unwrap() ^= 1;
    let img = disk(&[(
        &format!("{T0}.active.log"),
        [first.clone(), last.clone()].concat(),
    )]);
    let (vfs, r) = run(&img);
    let report = r.unwrap();
    assert_eq!(report.unreadable_bytes(), last.len() as u64);
    assert_eq!(report.torn_bytes(), 0);
    check_done(&vfs, &img, &model(&[("a", "1")]));
}

#[test]
fn a_store_without_live_keys_becomes_an_empty_store() {
    for files in [
        vec![(format!("{T0}.active.log"), Vec::new())],
        vec![(
            format!("{T0}.active.log"),
            [rec(b"a", b"1", T0), rec(b"a", b"", T0 + 1)].concat(),
        )],
    ] {
        let files: Vec<(&str, Vec<u8>)> =
            files.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        let img = disk(&files);
        let (vfs, r) = run(&img);
        assert_eq!(r.unwrap().keys_converted, 0);
        check_done(&vfs, &img, &Content::new());
        let names = vfs.list_dir(&dir()).unwrap();
        assert!(
            names.iter().any(|n| n.ends_with(".active.log")),
            "{names:?}"
        );
    }
}

#[test]
fn what_is_not_a_store_of_0_1_1_is_refused_and_left_as_it_was() {
    let fine = rec(b"k", b"v", T0);
    let mut ours = crate::datafile::DATA_MAGIC.to_vec();
    ours.extend_from_slice(&[0; 44]);
    // (what, the directory's files, what the refusal says)
    type Case<'a> = (&'a str, Vec<(String, Vec<u8>)>, &'a str);
    let cases: Vec<Case> = vec![
        ("empty", vec![], "no data file of bitask 0.1.1"),
        (
            "another file",
            vec![
                (format!("{T0}.log"), fine.clone()),
                ("notes.txt".into(), b"hi".to_vec()),
            ],
            "writes no file of this name",
        ),
        (
            "a file of this format",
            vec![
                (format!("{T0}.log"), fine.clone()),
                (format!("{T0}.hint"), vec![1]),
            ],
            "a file of a store of this format",
        ),
        (
            "this format's data file",
            vec![(format!("{T0}.log"), ours)],
            "a data file of this format",
        ),
        (
            "two active files",
            vec![
                (format!("{T0}.active.log"), fine.clone()),
                (format!("{}.active.log", T0 + 1), fine.clone()),
            ],
            "a second active file",
        ),
        (
            "garbage",
            vec![
                (format!("{T0}.log"), fine.clone()),
                (format!("{}.log", T0 + 1), vec![7; 64]),
            ],
            "no whole, checksummed record",
        ),
        (
            "a key too long",
            vec![(
                format!("{T0}.log"),
                rec(&vec![b'k'; MAX_KEY_LEN + 1], b"v", T0),
            )],
            "holds a key of 65537 bytes",
        ),
    ];
    for (name, files, says) in cases {
        let files: Vec<(&str, Vec<u8>)> =
            files.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        let img = disk(&files);
        let (vfs, r) = run(&img);
        let err = r.unwrap_err();
        assert!(matches!(err, Error::Incompatible { .. }), "{name}: {err}");
        assert!(err.to_string().contains(says), "{name}: {err}");
        assert!(
            err.to_string().contains("nothing was changed"),
            "{name}: {err}"
        );
        assert_eq!(vfs.image(), img, "{name}");
    }
    // A folder in the way of the backup.
    let mut img = disk(&[(&format!("{T0}.log"), fine.clone())]);
    img.files.insert(dir().join(BACKUP_DIR).join("x"), vec![]);
    img.dirs.insert(dir().join(BACKUP_DIR));
    let (vfs, r) = run(&img);
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("in the way of the backup"));
    assert_eq!(vfs.image(), img);
    // A store of this format.
    let vfs = SimVfs::new();
    vfs.create_dir_all(&dir()).unwrap();
    let db = Bitask::open_with(dir(), opts(Arc::new(vfs.clone()))).unwrap();
    db.put("k", "v").unwrap();
    db.close().unwrap();
    let before = vfs.image();
    let err = upgrade_with(dir(), opts(Arc::new(vfs.clone()))).unwrap_err();
    assert!(
        err.to_string()
            .contains("already holds a store of this format"),
        "{err}"
    );
    assert_eq!(vfs.image(), before);
    // No directory, or a file.
    let err = upgrade_with("/nowhere", opts(Arc::new(vfs.clone()))).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
        "{err}"
    );
    let err = upgrade_with(dir().join(ID_FILE), opts(Arc::new(vfs.clone()))).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.raw_os_error() == Some(libc::ENOTDIR)),
        "{err}"
    );
    assert_eq!(vfs.image(), before);
}

#[test]
fn the_writer_lock_is_held_while_upgrading() {
    let (img, want) = plain();
    let vfs = SimVfs::from_image(&img);
    let held = vfs.lock_exclusive(&dir().join(LOCK_FILE)).unwrap();
    let err = upgrade_with(dir(), opts(Arc::new(vfs.clone()))).unwrap_err();
    assert!(matches!(err, Error::WriterLock), "{err}");
    assert_eq!(vfs.image(), img);
    drop(held);
    upgrade_with(dir(), opts(Arc::new(vfs.clone()))).unwrap();
    check_done(&vfs, &img, &want);
}

#[test]
fn the_manifest_round_trips_and_a_damaged_one_is_refused() {
    let m = Manifest {
        old: vec![
            (
                LegacyFile {
                    id: 5,
                    active: false,
                },
                10,
            ),
            (
                LegacyFile {
                    id: 7,
                    active: true,
                },
                0,
            ),
        ],
        new: vec!["1733000000000.active.log".into()],
    };
    let b = m.encode();
    assert_eq!(Manifest::decode(&b), Some(m));
    for i in 0..b.len() {
        let mut d = b.clone();
        d[i] ^= 0x04;
        assert_eq!(Manifest::decode(&d), None, "byte {i}");
    }
    assert_eq!(Manifest::decode(&b[..b.len() - 1]), None);
}

#[test]
fn a_rerun_starts_over_when_0_1_1_wrote_after_an_interrupted_upgrade() {
    let (img, _) = plain();
    let vfs = SimVfs::from_image(&img);
    // Steps 2 to 5, as an upgrade stopped by a crash right after its manifest.
    let up = Upgrade {
        vfs: &vfs,
        dir: dir(),
        staging: dir().join(STAGING_DIR),
        backup: dir().join(BACKUP_DIR),
        opts: opts(Arc::new(vfs.clone())),
    };
    let files = up.classify().unwrap();
    let located: Vec<_> = files.iter().map(|f| (*f, dir().join(f.name()))).collect();
    let read = read_legacy(&vfs, &located, true).unwrap();
    let new = up.build(&read, &files).unwrap();
    up.write_manifest(&Manifest {
        old: read.files.iter().map(|f| (f.file, f.len)).collect(),
        new,
    })
    .unwrap();
    drop(read);
    // 0.1.1 opens its store (the staging folder's name does not stop it) and writes.
    let active = dir().join(format!("{}.active.log", T0 + 200));
    let mut data = img.files[&active].clone();
    data.extend(rec(b"late", b"write", T0 + 900));
    vfs.overwrite(&active, data).unwrap();
    let original = vfs.image();
    let report = upgrade_with(dir(), opts(Arc::new(vfs.clone()))).unwrap();
    assert!(!report.resumed);
    let want = model(&[
        ("apple", "green"),
        ("fig", "two"),
        ("kiwi", "brown"),
        ("late", "write"),
    ]);
    let original = Image {
        files: original
            .files
            .into_iter()
            .filter(|(p, _)| !p.starts_with(dir().join(STAGING_DIR)))
            .collect(),
        ..original
    };
    check_done(&vfs, &original, &want);
}

/// After a crash left `img`: an ordinary open refuses the directory without changing it, or
/// (once the upgrade is committed) opens it with the whole content; and a rerun of the
/// upgrade finishes, with nothing lost.
fn check_after_crash(img: &Image, original: &Image, want: &Content, what: &str) {
    let committed = img.files.contains_key(&dir().join(ID_FILE));
    let vfs = SimVfs::from_image(img);
    match Bitask::open_with(dir(), opts(Arc::new(vfs.clone()))) {
        Ok(db) => {
            assert!(committed, "{what}: opened an uncommitted upgrade");
            drop(db);
            assert_eq!(&content(&vfs).unwrap(), want, "{what}: the committed store");
        }
        Err(Error::Incompatible { .. }) => {
            assert!(!committed, "{what}: refused a committed upgrade");
            assert_eq!(&vfs.image(), img, "{what}: a refused open changed the disk");
        }
        Err(e) => panic!("{what}: an ordinary open failed otherwise: {e}"),
    }
    let vfs = SimVfs::from_image(img);
    match upgrade_with(dir(), opts(Arc::new(vfs.clone()))) {
        Ok(report) => {
            // The same report as an upgrade that nothing interrupted, from the same files.
            let manifest = img
                .files
                .contains_key(&dir().join(STAGING_DIR).join(MANIFEST));
            assert_eq!(report.resumed, manifest, "{what}");
            let (_, whole) = run(original);
            let whole = whole.unwrap();
            assert_eq!(
                report,
                UpgradeReport {
                    resumed: manifest,
                    ..whole
                },
                "{what}"
            );
        }
        // A crash after the manifest's removal, which leaves only an empty staging folder.
        Err(e @ Error::Incompatible { .. }) if committed => {
            assert!(
                e.to_string().contains("already holds a store"),
                "{what}: {e}"
            );
            assert!(!img
                .files
                .contains_key(&dir().join(STAGING_DIR).join(MANIFEST)));
        }
        Err(e) => panic!("{what}: the rerun failed: {e}"),
    }
    check_done(&vfs, original, want);
}

/// Adds the directories a crash image's files are in (the simulated file system keeps
/// directories apart from its log, and an empty one may or may not survive a crash).
fn with_dirs(mut img: Image) -> Image {
    let parents: Vec<PathBuf> = img
        .files
        .keys()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    img.dirs.extend(parents);
    img
}

#[test]
fn a_failure_at_any_step_leaves_what_a_rerun_finishes() {
    let (img, want) = plain();
    for (fault, sticky) in [
        (Fault::Eio, true),
        (Fault::Eio, false),
        (Fault::SyncFail, false),
        (Fault::Enospc, true),
        (Fault::ShortWrite, false),
        (Fault::Full, true),
    ] {
        let mut n = 1;
        loop {
            let sim = SimVfs::from_image(&img);
            let f = FaultVfs::new(Arc::new(sim.clone()));
            f.arm(Plan {
                fault,
                at: n,
                sticky,
            });
            let r = upgrade_with(dir(), opts(Arc::new(f.clone())));
            f.disarm();
            if f.injected() == 0 {
                r.unwrap();
                check_done(&sim, &img, &want);
                // Each fault fails its kind of operation: writes, syncs, or any of dozens.
                let least = match fault {
                    Fault::ShortWrite => 5,
                    Fault::SyncFail => 15,
                    Fault::Enospc => 20,
                    Fault::Full => 5,
                    Fault::Eio => 50,
                };
                assert!(n > least, "{fault:?}: only {n} operations");
                break;
            }
            let what = format!("{fault:?} at operation {n} (sticky {sticky})");
            match r {
                // Failed syncs the upgrade made no use of, or a failure it got past.
                Ok(_) => check_done(&sim, &img, &want),
                Err(_) => check_after_crash(&with_dirs(sim.image()), &img, &want, &what),
            }
            assert_eq!(f.open_files(), 0, "{what}: files left open");
            assert_eq!(f.held_locks(), 0, "{what}: a lock left held");
            n += 1;
        }
    }
}

#[test]
fn a_power_cut_at_any_point_leaves_what_a_rerun_finishes() {
    let (img, want) = plain();
    let sim = SimVfs::recording_from(&img);
    upgrade_with(dir(), opts(Arc::new(sim.clone()))).unwrap();
    check_done(&sim, &img, &want);
    let trace = sim.trace();
    let mut rep = Replayer::from_image(&trace, &img);
    let cfg = CrashConfig {
        cuts_per_write: 4,
        garbage_and_zeros: true,
        dir_prefixes: 8,
    };
    let mut seen = HashSet::new();
    let mut points = 0;
    loop {
        for (desc, crash) in rep.crash_images(&cfg) {
            let crash = with_dirs(crash);
            if seen.insert(crash.digest()) {
                let what = format!("power cut at operation {}: {desc}", rep.position());
                check_after_crash(&crash, &img, &want, &what);
            }
        }
        points += 1;
        if rep.step().is_none() {
            break;
        }
    }
    assert!(
        points > 20 && seen.len() > 20,
        "{points} points, {} disks",
        seen.len()
    );
}

#[test]
fn legacy_names_are_only_0_1_1_data_files() {
    assert_eq!(
        LegacyFile::parse("12.log"),
        Some(LegacyFile {
            id: 12,
            active: false
        })
    );
    assert_eq!(
        LegacyFile::parse("12.active.log"),
        Some(LegacyFile {
            id: 12,
            active: true
        })
    );
    for n in [
        "db.lock",
        ".log",
        "x.log",
        "12.hint",
        "12.log.tmp",
        "1.2.log",
        "-1.log",
    ] {
        assert_eq!(LegacyFile::parse(n), None, "{n}");
    }
    let names: BTreeSet<String> = [STAGING_DIR, BACKUP_DIR]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for n in &names {
        assert_eq!(filename::parse(n), None, "this format's open ignores {n}");
        assert_eq!(LegacyFile::parse(n), None);
        // 0.1.1 reads the name up to its first dot as a number: only the staging folder's
        // name passes, so 0.1.1 still opens its store beside an unfinished build.
        let number = n.split('.').next().unwrap().parse::<u64>().is_ok();
        assert_eq!(number, n == STAGING_DIR, "{n}");
    }
}
