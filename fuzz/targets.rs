//! Fuzz targets: each takes arbitrary bytes, must never panic or hang, and checks properties
//! of what the engine made of them. Each returns "features": small numbers naming what the
//! input made the code do (which check stopped a scan, how many records, which operations
//! failed how), which the driver uses as feedback in place of code coverage.
//!
//! - `record`: the record decoder and the data-file scanner, on the bytes of a data file.
//! - `hint`: the hint-file decoder.
//! - `recovery`: opening an arbitrary directory (data, hint and temporary files, valid,
//!   damaged or made up), then reading, writing, compacting and reopening it. Without hint
//!   files the content must survive; with them (an intact hint is trusted, and the fuzzer
//!   easily makes one that disagrees with its data file) only errors, never panics.
//! - `api`: random sequences of API calls (put, remove, get, iterate, compact, sync, reopen,
//!   crash of the process) on a simulated disk, checked against a `BTreeMap`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bitask::datafile::{FileHeader, Found, Scanner};
use bitask::filename::{self, FileKind};
use bitask::hint::{self, HintEntry, HintWriter};
use bitask::record::{self, Header, HEADER_LEN};
use bitask::vfs::sim::{Image, SimVfs};
use bitask::vfs::{OpenMode, Vfs};
use bitask::{Bitask, Error, Options, SyncMode};

pub type Target = fn(&[u8]) -> Vec<u64>;

/// The targets by name.
pub const TARGETS: [(&str, Target); 4] = [
    ("record", record),
    ("hint", hint),
    ("recovery", recovery),
    ("api", api),
];

fn feature(tag: u64, value: u64) -> u64 {
    (tag << 48) ^ value
}

fn bucket(n: u64) -> u64 {
    64 - n.leading_zeros() as u64
}

/// A message's class: its text up to the first digit (numbers vary, the message does not).
fn text_id(s: &str) -> u64 {
    s.bytes()
        .take_while(|b| !b.is_ascii_digit())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        })
        & 0xffff_ffff
}

/// A file system holding one file with `bytes`.
fn one_file(bytes: &[u8]) -> (SimVfs, PathBuf) {
    let mut img = Image::default();
    img.dirs.insert(PathBuf::from("/d"));
    let p = PathBuf::from("/d/f");
    img.files.insert(p.clone(), bytes.to_vec());
    (SimVfs::from_image(&img), p)
}

/// The record decoder and scanner: every record handed out is whole, within the file, and
/// re-encodes to its own bytes; a stop is inside the file; nothing panics. The input is
/// scanned as it is, and again with the CRC of every record that fits recomputed, so that
/// mutations get past the checksum to the checks behind it.
pub fn record(data: &[u8]) -> Vec<u64> {
    let mut out = scan_records(data);
    let mut fixed = data.to_vec();
    let mut at = 0;
    while at + HEADER_LEN <= fixed.len() {
        let h: [u8; HEADER_LEN] = fixed[at..at + HEADER_LEN].try_into().unwrap();
        let Ok(hd) = Header::decode(&h) else { break };
        let end = at + hd.record_len() as usize;
        if end > fixed.len() {
            break;
        }
        let crc = crc32fast::hash(&fixed[at + 4..end]);
        fixed[at..at + 4].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
    if fixed != data {
        out.extend(scan_records(&fixed).into_iter().map(|f| f ^ (1 << 63)));
    }
    out
}

fn scan_records(data: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    if data.len() >= HEADER_LEN {
        let h: [u8; HEADER_LEN] = data[..HEADER_LEN].try_into().unwrap();
        match Header::decode(&h) {
            Ok(hd) => {
                assert_eq!(hd.encode(), h, "a decoded header re-encodes to its bytes");
                out.push(feature(1, 1));
            }
            Err(e) => out.push(feature(
                1,
                2 + matches!(e, record::HeaderError::Zeroed) as u64,
            )),
        }
    }
    let (vfs, p) = one_file(data);
    let f = vfs.open(&p, OpenMode::ReadShared).unwrap();
    let len = data.len() as u64;
    let mut sc = Scanner::new(&*f, 0, len);
    let mut n = 0u64;
    let mut prev_end = 0;
    loop {
        match sc.next_record().expect("in-memory reads do not fail") {
            Found::Record(r) => {
                let end = r.offset + r.header.record_len();
                assert!(r.offset == prev_end && end <= len, "a record out of place");
                let bytes = &data[r.offset as usize..end as usize];
                assert!(
                    record::verify_contiguous(bytes),
                    "a record with a bad CRC was handed out"
                );
                assert_eq!(r.key, &bytes[HEADER_LEN..HEADER_LEN + r.key.len()]);
                assert!(
                    r.key.is_empty() == r.header.is_seal(),
                    "only the seal has no key"
                );
                prev_end = end;
                n += 1;
            }
            Found::End => {
                out.push(feature(2, 0));
                break;
            }
            Found::Bad(stop) => {
                assert!(
                    stop.offset == prev_end && stop.offset <= len,
                    "a stop out of place"
                );
                out.push(feature(3, text_id(stop.reason)));
                out.push(feature(4, stop.zeroed as u64));
                let later = sc
                    .valid_record_after(stop.offset, 0)
                    .expect("in-memory reads do not fail");
                out.push(feature(5, later as u64));
                break;
            }
        }
    }
    out.push(feature(6, bucket(n)));
    out
}

/// The hint decoder: what it accepts is consistent with its own checks and re-encodes to the
/// same bytes. The input is decoded as it is, and again with its checksum recomputed.
pub fn hint(data: &[u8]) -> Vec<u64> {
    let mut out = parse_hint(data);
    if data.len() >= 4 {
        let mut fixed = data.to_vec();
        let n = fixed.len() - 4;
        let crc = crc32fast::hash(&fixed[..n]);
        fixed[n..].copy_from_slice(&crc.to_le_bytes());
        if fixed != data {
            out.extend(parse_hint(&fixed).into_iter().map(|f| f ^ (1 << 63)));
        }
    }
    out
}

fn parse_hint(data: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let u64_at = |i: usize| {
        data.get(i..i + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    let (id, len) = (u64_at(16).unwrap_or(0), u64_at(24).unwrap_or(0));
    out.push(feature(1, hint::described_len(data, id).is_some() as u64));
    match hint::v1::parse(data, id, len) {
        None => out.push(feature(2, 0)),
        Some((count, entries)) => {
            let mut w = hint::v1::HintWriter::new(id);
            let mut n = 0;
            for e in entries {
                assert!(!e.key.is_empty() && e.key.len() <= bitask::MAX_KEY_LEN);
                assert!(
                    e.offset + e.value_len as u64 <= len,
                    "an entry past the data file"
                );
                w.push(&HintEntry { ..e });
                out.push(feature(3, e.tombstone as u64));
                n += 1;
            }
            assert_eq!(n, count, "the entry count");
            assert_eq!(
                w.finish(len),
                data,
                "an accepted hint re-encodes to its bytes"
            );
            out.push(feature(4, bucket(n)));
        }
    }
    if let Some(h) = hint::SortedHint::parse(data, id, len) {
        let mut w = HintWriter::new(id);
        let mut prev: Option<Vec<u8>> = None;
        for e in h.iter() {
            assert!(prev.as_deref() < Some(e.key), "keys in strict order");
            assert!((h.min_seq()..=h.max_seq()).contains(&e.seq));
            prev = Some(e.key.to_vec());
            w.push(&e);
            assert_eq!(h.seek(e.key).peek(), Some(e), "seek finds every key");
            out.push(feature(
                5,
                e.tombstone as u64 | (e.expiry.is_some() as u64) << 1,
            ));
        }
        let again = w.finish(len);
        let h2 = hint::SortedHint::parse(&again, id, len).expect("a re-encoded hint parses");
        assert!(
            h.iter().eq(h2.iter()),
            "an accepted hint re-encodes to its entries"
        );
        assert_eq!(h.max_seq(), h2.max_seq());
        out.push(feature(6, bucket(h.len() as u64)));
    }
    out
}

/// The directory a recovery input describes: entries of `[kind u8][id u64][len u16][bytes]`.
/// Kind 0-5 names an active, sealed, hint, temporary data, temporary hint or prepared file;
/// 6 and 7 a file the store does not own; kinds 8-15 are the same with a valid data-file header (built from
/// the next 32 bytes: seq base, merge base, merge part and parts) put before the bytes.
pub fn decode_dir(data: &[u8]) -> Image {
    let mut img = Image::default();
    img.dirs.insert(PathBuf::from("/"));
    img.dirs.insert(PathBuf::from("/db"));
    let mut at = 0;
    while at + 11 <= data.len() {
        let tag = data[at];
        let id = u64::from_le_bytes(data[at + 1..at + 9].try_into().unwrap());
        let len = u16::from_le_bytes(data[at + 9..at + 11].try_into().unwrap()) as usize;
        at += 11;
        let mut body = Vec::new();
        if tag & 8 != 0 && at + 24 <= data.len() {
            let g = |i: usize| u64::from_le_bytes(data[at + i..at + i + 8].try_into().unwrap());
            let parts = g(16);
            let h = FileHeader {
                store: 0,
                id,
                seq_base: g(0),
                merge_base: g(8),
                // Sometimes a window merge's floor (written in place of the seq base).
                merge_floor: if tag & 16 != 0 {
                    g(0) % g(8).saturating_add(1)
                } else {
                    0
                },
                merge_part: (parts & 0xffff_ffff) as u32 % 4,
                merge_parts: (parts >> 32) as u32 % 4,
            };
            body.extend_from_slice(&h.encode());
            at += 24;
        }
        let end = (at + len).min(data.len());
        body.extend_from_slice(&data[at..end]);
        at = end;
        let kind = match tag & 7 {
            0 => Some(FileKind::Active),
            1 => Some(FileKind::Sealed),
            2 => Some(FileKind::Hint),
            3 => Some(FileKind::TempData),
            4 => Some(FileKind::TempHint),
            5 => Some(FileKind::Prepared),
            _ => None,
        };
        let name = match kind {
            Some(k) => filename::name(id, k),
            None => format!("other-{id}"),
        };
        img.files.insert(Path::new("/db").join(name), body);
    }
    img
}

/// The inverse of `decode_dir` for a real store (kinds 0-5, bytes as they are).
pub fn encode_dir(img: &Image) -> Vec<u8> {
    let mut out = Vec::new();
    for (p, body) in &img.files {
        let name = p.file_name().unwrap().to_string_lossy();
        let (tag, id) = match filename::parse(&name) {
            Some((id, FileKind::Active)) => (0, id),
            Some((id, FileKind::Sealed)) => (1, id),
            Some((id, FileKind::Hint)) => (2, id),
            Some((id, FileKind::TempData)) => (3, id),
            Some((id, FileKind::TempHint)) => (4, id),
            Some((id, FileKind::Prepared)) => (5, id),
            None => continue,
        };
        for chunk in body.chunks(u16::MAX as usize).take(1) {
            out.push(tag);
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
            out.extend_from_slice(chunk);
        }
    }
    out
}

fn err_feature(tag: u64, e: &Error) -> u64 {
    let kind = match e {
        Error::Corruption { reason, .. } => 100 + (text_id(reason) & 0xffff),
        Error::Incompatible { .. } => 2,
        Error::Io { source, .. } => 3 + source.raw_os_error().unwrap_or(0) as u64 * 1000,
        Error::Stopped(_) => 4,
        Error::KeyNotFound => 5,
        Error::InvalidArgument(_) => 6,
        _ => 7,
    };
    feature(tag, kind)
}

fn read_everything(db: &Bitask) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, Error> {
    let mut all = BTreeMap::new();
    for item in db.iter() {
        let (k, v) = item?;
        all.insert(k, v);
    }
    for (k, v) in &all {
        if let Some(got) = db.get(k)? {
            assert_eq!(&got, v, "get disagrees with iteration");
        } else {
            panic!("an iterated key is absent");
        }
    }
    Ok(all)
}

/// Opening an arbitrary directory: errors are fine, panics and hangs are not. A store that
/// opens and reads must take a write, keep its content through a compaction and a reopen.
pub fn recovery(data: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let img = decode_dir(data);
    out.push(feature(1, bucket(img.files.len() as u64)));
    let dir = Path::new("/db");
    let ro = SimVfs::from_image(&img);
    match Bitask::open_with(dir, Options::default().read_only(true).vfs(Arc::new(ro))) {
        Ok(db) => {
            out.push(feature(2, 0));
            if let Err(e) = read_everything(&db) {
                out.push(err_feature(3, &e));
            }
        }
        Err(e) => out.push(err_feature(2, &e)),
    }
    let vfs = SimVfs::from_image(&img);
    let opts = || {
        Options::default()
            .max_file_size(256)
            .vfs(Arc::new(vfs.clone()))
    };
    let db = match Bitask::open_with(dir, opts()) {
        Ok(db) => db,
        Err(e) => {
            out.push(err_feature(4, &e));
            return out;
        }
    };
    out.push(feature(4, 0));
    let before = match read_everything(&db) {
        Ok(c) => c,
        Err(e) => {
            out.push(err_feature(5, &e));
            return out;
        }
    };
    out.push(feature(6, bucket(before.len() as u64)));
    if let Err(e) = db.put(b"fuzz-key", b"fuzz-value") {
        out.push(err_feature(7, &e));
        return out;
    }
    let mut expect = before;
    expect.insert(b"fuzz-key".to_vec(), b"fuzz-value".to_vec());
    match db.compact() {
        Ok(()) => out.push(feature(8, 0)),
        Err(e) => {
            out.push(err_feature(8, &e));
            return out;
        }
    }
    drop(db);
    // A hint file is trusted when it is intact: one that disagrees with an intact data file
    // (files mixed up between stores, which the fuzzer makes easily) misleads the key
    // directory, and the damage may only show after the merge. Without hint files every
    // record was checked, and the store must come back whole.
    let hints = img
        .files
        .keys()
        .any(|p| p.to_string_lossy().ends_with(".hint"));
    let db = match Bitask::open_with(dir, opts()) {
        Ok(db) => db,
        Err(e @ Error::Corruption { .. }) if hints => {
            out.push(err_feature(9, &e));
            return out;
        }
        Err(e) => panic!("a store that compacted does not reopen: {e:?}"),
    };
    let after = match read_everything(&db) {
        Ok(a) => a,
        Err(e @ Error::Corruption { .. }) if hints => {
            out.push(err_feature(10, &e));
            return out;
        }
        Err(e) => panic!("a compacted store does not read: {e:?}"),
    };
    if hints && after != expect {
        out.push(feature(11, 0));
        return out;
    }
    assert_eq!(
        after, expect,
        "content changed across a write, a compaction and a reopen"
    );
    out
}

/// Random API calls against a model.
pub fn api(data: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let Some((&cfg, mut ops)) = data.split_first() else {
        return out;
    };
    let max_file = 64 + (cfg as u64 & 0x3f) * 8;
    let sync = if cfg & 0x40 != 0 {
        SyncMode::Always
    } else {
        SyncMode::None
    };
    let dir = Path::new("/db");
    let mut vfs = SimVfs::new();
    let opts = |v: &SimVfs| {
        Options::default()
            .max_file_size(max_file)
            .sync(sync)
            .vfs(Arc::new(v.clone()))
    };
    let mut db = Some(Bitask::open_with(dir, opts(&vfs)).expect("open an empty store"));
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut prev = 0u64;
    let mut n = 0;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        n += 1;
        if n > 200 {
            break;
        }
        let k = format!("k{}", op >> 4).into_bytes();
        let kind = (op & 0x0f) as u64;
        out.push(feature(1, prev * 16 + kind));
        prev = kind;
        let h = db.as_ref().unwrap();
        match kind {
            0..=4 => {
                let len = ops.first().map_or(0, |&b| b as usize % 96);
                let v: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(op)).collect();
                h.put(&k, &v).expect("put");
                model.insert(k, v);
            }
            5 | 6 => match h.remove(&k) {
                Ok(()) => assert!(model.remove(&k).is_some(), "removed an absent key"),
                Err(Error::KeyNotFound) => {
                    assert!(!model.contains_key(&k), "KeyNotFound for a present key")
                }
                Err(e) => panic!("remove: {e}"),
            },
            7 | 8 => assert_eq!(h.get(&k).expect("get"), model.get(&k).cloned(), "get"),
            9 => {
                let all = read_everything(h).expect("iterate");
                assert_eq!(all, model, "iteration");
            }
            10 => h.compact().expect("compact"),
            11 => h.sync().expect("sync"),
            12 | 13 => {
                db.take().unwrap().close().expect("close");
                db = Some(Bitask::open_with(dir, opts(&vfs)).expect("reopen"));
            }
            _ => {
                // The process dies: the disk stays as it is, nothing is closed.
                let img = vfs.image();
                drop(db.take());
                vfs = SimVfs::from_image(&img);
                db = Some(Bitask::open_with(dir, opts(&vfs)).expect("open after a crash"));
            }
        }
        let s = db.as_ref().unwrap().stats();
        out.push(feature(2, bucket(s.data_files)));
        assert_eq!(s.key_count, model.len() as u64, "key count");
    }
    let h = db.unwrap();
    assert_eq!(
        read_everything(&h).expect("final read"),
        model,
        "final content"
    );
    out
}
