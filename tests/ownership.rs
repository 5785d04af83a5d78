//! Recovery deletes, truncates or rewrites only files it has proved are the store's own. On
//! real directories: a store of bitask 0.1.1, folders of other programs that use the same
//! file names, files copied in from another store. Each refused open must leave the
//! directory byte for byte as it was, and leave nothing behind (no lock file, no identity).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use bitask::datafile::{FileHeader, FILE_HEADER_LEN};
use bitask::db::{Bitask, Error};
use bitask::Options;

/// Every file of a directory (not recursive) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            let name = e.file_name().into_string().unwrap();
            (name, fs::read(e.path()).unwrap())
        })
        .collect()
}

fn read_only() -> Options {
    Options::default().read_only(true)
}

/// Opens `dir` as a writer and as a reader; both must fail as incompatible, naming `file`,
/// with the directory unchanged.
fn assert_refused_unchanged(dir: &Path, file: &str) {
    let before = snapshot(dir);
    for (who, opts) in [("writer", Options::default()), ("reader", read_only())] {
        match Bitask::open_with(dir, opts) {
            Err(Error::Incompatible { path, reason }) => {
                let named = path.file_name().unwrap().to_str().unwrap().to_owned();
                assert_eq!(named, file, "{who}: refused {path:?}: {reason}");
            }
            Err(e) => panic!("{who}: expected Incompatible naming {file}, got {e}"),
            Ok(_) => panic!("{who}: opened a directory that is not a store ({file})"),
        }
        assert_eq!(snapshot(dir), before, "{who} changed the directory");
    }
}

/// A record as bitask 0.1.1 wrote it: crc32 of key and value, timestamp in milliseconds,
/// key length, value length (all little-endian), key, value; an empty value is a deletion.
fn legacy_record(ts: u64, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut kv = key.to_vec();
    kv.extend_from_slice(value);
    let mut r = crc32fast::hash(&kv).to_le_bytes().to_vec();
    r.extend_from_slice(&ts.to_le_bytes());
    r.extend_from_slice(&(key.len() as u32).to_le_bytes());
    r.extend_from_slice(&(value.len() as u32).to_le_bytes());
    r.extend_from_slice(&kv);
    r
}

#[test]
fn a_directory_written_by_bitask_0_1_1_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut sealed = legacy_record(1_700_000_000_000, b"apple", b"red");
    sealed.extend(legacy_record(1_700_000_000_001, b"pear", b"green"));
    fs::write(dir.path().join("1700000000000.log"), &sealed).unwrap();
    let active = legacy_record(1_700_000_000_002, b"plum", b"purple");
    fs::write(dir.path().join("1700000000005.active.log"), &active).unwrap();
    assert_refused_unchanged(dir.path(), "1700000000000.log");
    let err = Bitask::open(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("0.1.1"),
        "the message should say what the file is: {err}"
    );

    // The active file alone (0.1.1 before its first rotation), and an empty one.
    let only_active = tempfile::tempdir().unwrap();
    let name = "1700000000005.active.log";
    fs::write(only_active.path().join(name), &active).unwrap();
    assert_refused_unchanged(only_active.path(), name);
    fs::write(only_active.path().join(name), b"").unwrap();
    assert_refused_unchanged(only_active.path(), name);
}

#[test]
fn files_of_another_program_named_as_a_stores_are_refused_and_left_unchanged() {
    let cases: &[(&str, &[u8])] = &[
        ("2024.active.log", b"2024-01-01 server started\n"),
        ("7.log.tmp", b"partial download"),
        ("7.log", b"rotated log of another program\n"),
        ("3.hint", b"not a hint"),
        ("9.hint.tmp", &[0u8; 64]),
        ("12.active.log", &[0u8; 4096]),
    ];
    for (name, content) in cases {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(name), content).unwrap();
        fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        assert_refused_unchanged(dir.path(), name);
        assert!(
            !dir.path().join("db.lock").exists(),
            "{name}: a lock file was left"
        );
    }
}

#[test]
fn a_foreign_temporary_file_beside_an_untagged_store_is_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open(dir.path()).unwrap();
    db.put("k", "v").unwrap();
    db.close().unwrap();
    fs::remove_file(dir.path().join("db.id")).unwrap();
    for p in data_files(dir.path()) {
        set_store_tag(&p, 0);
    }
    fs::write(dir.path().join("5.log.tmp"), b"someone else's").unwrap();
    let before = snapshot(dir.path());
    match Bitask::open(dir.path()) {
        Err(Error::Incompatible { path, .. }) => assert!(path.ends_with("5.log.tmp")),
        other => panic!("expected Incompatible, got {:?}", other.map(|_| ())),
    }
    assert_eq!(snapshot(dir.path()), before);
    // A reader ignores temporary files, and changes nothing either.
    let reader = Bitask::open_with(dir.path(), read_only()).unwrap();
    assert_eq!(reader.get("k").unwrap().unwrap(), b"v");
    drop(reader);
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_new_store_gets_an_identity_and_tags_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(dir.path(), Options::default().max_file_size(256)).unwrap();
    for i in 0..50u32 {
        db.put(i.to_le_bytes(), [7u8; 40]).unwrap();
    }
    db.compact().unwrap();
    db.put("after", "compaction").unwrap();
    db.close().unwrap();
    assert_eq!(fs::read(dir.path().join("db.id")).unwrap().len(), 24);
    let tags: Vec<u32> = data_files(dir.path())
        .iter()
        .map(|p| header_of(p).store)
        .collect();
    assert!(tags.len() > 1 && tags[0] != 0, "{tags:?}");
    assert!(tags.iter().all(|&t| t == tags[0]), "{tags:?}");
}

fn data_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".log"))
        .collect();
    out.sort();
    out
}

fn header_of(path: &Path) -> FileHeader {
    let bytes = fs::read(path).unwrap();
    FileHeader::decode(bytes[..FILE_HEADER_LEN].try_into().unwrap(), path).unwrap()
}

fn set_store_tag(path: &Path, tag: u32) {
    let mut bytes = fs::read(path).unwrap();
    let mut h = header_of(path);
    h.store = tag;
    bytes[..FILE_HEADER_LEN].copy_from_slice(&h.encode());
    fs::write(path, bytes).unwrap();
}

#[test]
fn a_store_of_an_earlier_version_is_adopted_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open_with(dir.path(), Options::default().max_file_size(256)).unwrap();
    for i in 0..30u32 {
        db.put(i.to_le_bytes(), i.to_be_bytes()).unwrap();
    }
    db.close().unwrap();
    // As written before stores had an identity: no db.id, tag 0 in every header.
    fs::remove_file(dir.path().join("db.id")).unwrap();
    for p in data_files(dir.path()) {
        set_store_tag(&p, 0);
    }
    let before = snapshot(dir.path());
    let reader = Bitask::open_with(dir.path(), read_only()).unwrap();
    assert_eq!(reader.stats().key_count, 30);
    drop(reader);
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a reader changed the directory"
    );
    let db = Bitask::open(dir.path()).unwrap();
    for i in 0..30u32 {
        assert_eq!(db.get(i.to_le_bytes()).unwrap().unwrap(), i.to_be_bytes());
    }
    db.put("new", "file").unwrap();
    db.compact().unwrap();
    db.close().unwrap();
    assert!(dir.path().join("db.id").exists());
    let db = Bitask::open(dir.path()).unwrap();
    assert_eq!(db.stats().key_count, 31);
}

/// Store `a` holds keys, `b` is another store whose merge outputs have larger ids and merge
/// bases than every file of `a`: copied into `a`, they made every file of `a` look like a
/// stale merge input, and a writer's open deleted them all.
#[test]
fn files_copied_from_another_store_are_refused_not_answered_by_deleting() {
    let a = tempfile::tempdir().unwrap();
    let small = || Options::default().max_file_size(512);
    let db = Bitask::open_with(a.path(), small()).unwrap();
    for i in 0..40u32 {
        db.put(format!("a{i}"), [1u8; 30]).unwrap();
    }
    db.close().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let b = tempfile::tempdir().unwrap();
    let other = Bitask::open_with(b.path(), small()).unwrap();
    for i in 0..40u32 {
        other.put(format!("b{i}"), [2u8; 30]).unwrap();
    }
    other.compact().unwrap();
    other.close().unwrap();
    let mut copied = Vec::new();
    for p in data_files(b.path()) {
        if header_of(&p).merge_parts > 0 {
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            fs::copy(&p, a.path().join(&name)).unwrap();
            let hint = name.replace(".log", ".hint");
            fs::copy(b.path().join(&hint), a.path().join(&hint)).unwrap();
            copied.push(name);
        }
    }
    assert!(!copied.is_empty());
    assert_refused_unchanged(a.path(), &copied[0]);
    for name in &copied {
        fs::remove_file(a.path().join(name)).unwrap();
        fs::remove_file(a.path().join(name.replace(".log", ".hint"))).unwrap();
    }
    let db = Bitask::open(a.path()).unwrap();
    assert_eq!(db.stats().key_count, 40);
    assert_eq!(db.get("a7").unwrap().unwrap(), [1u8; 30]);
}

#[test]
fn a_refused_open_leaves_no_lock_file_identity_or_directory() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("store");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("1.active.log"), b"not ours").unwrap();
    assert!(Bitask::open(&dir).is_err());
    assert_eq!(snapshot(&dir).len(), 1, "{:?}", snapshot(&dir).keys());
}

#[test]
fn a_missing_directory_is_created_only_when_asked_and_only_its_last_component() {
    let parent = tempfile::tempdir().unwrap();
    let deep = parent.path().join("a/b/c");
    match Bitask::open(&deep) {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!("a missing parent should fail, got {:?}", other.map(|_| ())),
    }
    assert!(!parent.path().join("a").exists(), "created the parents");
    let dir = parent.path().join("store");
    let no_create = Options::default().create_if_missing(false);
    assert!(Bitask::open_with(&dir, no_create.clone()).is_err());
    assert!(!dir.exists());
    assert!(Bitask::open_with(&dir, read_only()).is_err());
    assert!(!dir.exists(), "a read-only open created the directory");
    Bitask::open(&dir).unwrap().close().unwrap();
    Bitask::open_with(&dir, no_create).unwrap().close().unwrap();
}

#[test]
fn error_if_exists_refuses_a_store_and_changes_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("store");
    let fresh = || Options::default().error_if_exists(true);
    let db = Bitask::open_with(&dir, fresh()).unwrap();
    db.put("k", "v").unwrap();
    db.close().unwrap();
    let before = snapshot(&dir);
    match Bitask::open_with(&dir, fresh()) {
        Err(e @ Error::Exists(_)) => assert!(e.to_string().contains("store"), "{e}"),
        other => panic!("expected Exists, got {:?}", other.map(|_| ())),
    }
    assert_eq!(snapshot(&dir), before);
    // An existing empty directory is not a store yet.
    let empty = parent.path().join("empty");
    fs::create_dir(&empty).unwrap();
    Bitask::open_with(&empty, fresh()).unwrap().close().unwrap();
}

#[test]
fn errors_use_the_operating_systems_words_and_name_the_path_once() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("missing");
    let err = Bitask::open_with(&missing, read_only()).err().unwrap();
    let msg = err.to_string();
    let shown = missing.display().to_string();
    assert!(msg.contains("No such file or directory"), "{msg}");
    assert_eq!(msg.matches(&shown).count(), 1, "{msg}");
    assert!(
        !msg.contains("os error") && !msg.contains("entity"),
        "{msg}"
    );
    let file = parent.path().join("plain");
    fs::write(&file, b"x").unwrap();
    for opts in [Options::default(), read_only()] {
        let msg = Bitask::open_with(&file, opts).err().unwrap().to_string();
        assert!(msg.contains("Not a directory"), "{msg}");
    }
}

#[test]
fn a_directory_without_permission_is_a_permission_error() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("locked");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read_dir(&dir).is_ok() {
        // Privileged (root, CAP_DAC_OVERRIDE): permissions do not apply to this process.
        eprintln!("SKIPPED a_directory_without_permission_is_a_permission_error: privileged");
        return;
    }
    for opts in [Options::default(), read_only()] {
        match Bitask::open_with(&dir, opts) {
            Err(e @ Error::Io { .. }) => {
                let Error::Io { source, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
                assert!(e.to_string().contains("Permission denied"), "{e}");
            }
            other => panic!("expected a permission error, got {:?}", other.map(|_| ())),
        }
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_next_active_file_prepared_ahead_is_not_named_as_a_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open(dir.path()).unwrap();
    let value = vec![42u8; 4 * 1024 * 1024];
    db.put("large_key", &value).unwrap();
    db.put("large_key2", &value).unwrap();
    // The first file may still be sealing in the background (named active until then): two
    // data files either way, and nothing else named as one.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let logs = names.iter().filter(|n| n.ends_with(".log")).count();
    assert_eq!(logs, 2, "{names:?}");
    db.close().unwrap();
}

#[test]
fn a_prepared_file_holding_records_is_recovered_as_the_active_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = Bitask::open(dir.path()).unwrap();
    db.put("k", "v").unwrap();
    db.close().unwrap();
    // A power cut after records reached the prepared file but before its rename did.
    let active = data_files(dir.path())
        .into_iter()
        .find(|p| p.to_str().unwrap().ends_with(".active.log"))
        .unwrap();
    let prepared = active.to_str().unwrap().replace(".active.log", ".next");
    fs::rename(&active, &prepared).unwrap();
    let reader = Bitask::open_with(dir.path(), read_only()).unwrap();
    assert_eq!(reader.get("k").unwrap().unwrap(), b"v");
    drop(reader);
    let db = Bitask::open(dir.path()).unwrap();
    assert_eq!(db.get("k").unwrap().unwrap(), b"v");
    assert!(active.exists() && !Path::new(&prepared).exists());
    db.put("k2", "v2").unwrap();
    db.close().unwrap();
    // One holding nothing is removed.
    let empty = dir.path().join("99999999999999.next");
    let db = Bitask::open(dir.path()).unwrap();
    drop(db);
    let h = FileHeader {
        store: header_of(&active).store,
        id: 99999999999999,
        ..FileHeader::default()
    };
    fs::write(&empty, h.encode()).unwrap();
    let db = Bitask::open(dir.path()).unwrap();
    assert!(!empty.exists());
    assert_eq!(db.stats().key_count, 2);
}
