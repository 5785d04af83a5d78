//! One writer process and several read-only reader processes (this test binary, re-run with
//! `BITASK_MP_ROLE` set). The writer puts, removes and compacts, reporting each operation
//! before it starts. Each reader alternates `refresh` with opening a fresh read-only handle
//! and, each time, reads every key and value (iteration, then `get` of some keys) and reports
//! what it saw. The parent checks that every reader's view equals the writer's content after
//! some prefix of its history, that those prefixes never go backwards for one reader, that
//! every value read is intact, and that no reader call ever failed (a file vanishing under a
//! reader is the writer's business, not the reader's error).
//!
//! 8 seconds per run, 2 minutes with `SOAK=1`.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bitask::{Bitask, Options, SyncMode};
use common::{key, value, Rng};

const KEYS: u64 = 60;
const READERS: usize = 3;

fn seconds() -> u64 {
    if common::soak() {
        120
    } else {
        8
    }
}

fn role() -> Option<(String, String)> {
    Some((
        std::env::var("BITASK_MP_ROLE").ok()?,
        std::env::var("BITASK_MP_DIR").ok()?,
    ))
}

/// A state's digest: a sum of per-entry hashes, so puts and removes update it in O(1).
fn entry_hash(k: u64, ver: u64) -> u64 {
    let mut x = k.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ver.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^ (x >> 29)
}

/// The key number and version of a value, checking that the value is intact.
fn decode(k: &[u8], v: &[u8]) -> Result<(u64, u64), String> {
    let ks = std::str::from_utf8(k).map_err(|_| format!("key {k:?} is not one of ours"))?;
    let kn: u64 = ks
        .strip_prefix("key")
        .and_then(|n| n.parse().ok())
        .ok_or(format!("key {ks}"))?;
    let vs = String::from_utf8_lossy(v);
    let ver: u64 = vs
        .strip_prefix(&format!("{ks}@"))
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("{ks} = {vs}: not a value of this key"))?;
    if value(k, ver, v.len()) != v {
        return Err(format!("{ks} = {vs}: damaged value"));
    }
    Ok((kn, ver))
}

#[test]
fn multiprocess_child() {
    let Some((role, dir)) = role() else { return };
    let deadline = Instant::now() + Duration::from_secs(seconds());
    let id: u64 = std::env::var("BITASK_MP_ID").unwrap().parse().unwrap();
    let mut rng = Rng::new(common::seed(8) ^ id);
    let opts = Options::default().max_file_size(2048).sync(SyncMode::None);
    if role == "writer" {
        let db = Bitask::open_with(&dir, opts).expect("writer open");
        println!("\n@@ O");
        let mut i = 0u64;
        while Instant::now() < deadline {
            let k = rng.below(KEYS);
            match rng.below(1000) {
                0..=4 => {
                    println!("@@ C {i}");
                    db.compact().expect("compact");
                }
                5..=299 => {
                    println!("@@ D {i} {k}");
                    match db.remove(key(k)) {
                        Ok(()) | Err(bitask::Error::KeyNotFound) => {}
                        Err(e) => panic!("remove: {e}"),
                    }
                }
                _ => {
                    let len = rng.below(120) as usize;
                    println!("@@ P {i} {k} {len}");
                    db.put(key(k), value(&key(k), i, len)).expect("put");
                }
            }
            i += 1;
        }
        db.close().expect("close");
        println!("@@ END {i}");
        return;
    }
    let ro = opts.read_only(true);
    let mut db = Bitask::open_with(&dir, ro.clone()).expect("reader open");
    let mut views = 0u64;
    while Instant::now() < deadline {
        if rng.below(4) == 0 {
            db = Bitask::open_with(&dir, ro.clone())
                .unwrap_or_else(|e| panic!("reader reopen: {e}"));
        } else {
            db.refresh().unwrap_or_else(|e| panic!("refresh: {e}"));
        }
        let mut seen = BTreeMap::new();
        for item in db.iter() {
            let (k, v) = item.unwrap_or_else(|e| panic!("iterate: {e}"));
            let (kn, ver) = decode(&k, &v).unwrap_or_else(|e| panic!("{e}"));
            seen.insert(kn, ver);
        }
        for _ in 0..5 {
            let kn = rng.below(KEYS);
            let got = db.get(key(kn)).unwrap_or_else(|e| panic!("get: {e}"));
            let ver = got.map(|v| decode(&key(kn), &v).unwrap_or_else(|e| panic!("{e}")).1);
            assert_eq!(
                ver,
                seen.get(&kn).copied(),
                "get disagrees with the iteration for key {kn}"
            );
        }
        let list: Vec<String> = seen.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        println!("@@ S {}", list.join(","));
        views += 1;
    }
    println!("@@ END {views}");
}

fn spawn(role: &str, dir: &std::path::Path, id: u64) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "multiprocess_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BITASK_MP_ROLE", role)
        .env("BITASK_MP_DIR", dir)
        .env("BITASK_MP_ID", id.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Lines starting with "@@ " from a child, as they come; all of its stderr at the end.
fn collect(mut child: std::process::Child) -> std::thread::JoinHandle<(Vec<String>, String, bool)> {
    std::thread::spawn(move || {
        let out = child.stdout.take().unwrap();
        let lines: Vec<String> = BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.find("@@ ").map(|at| l[at + 3..].to_owned()))
            .collect();
        let mut err = String::new();
        use std::io::Read;
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        let ok = child.wait().unwrap().success();
        (lines, err, ok)
    })
}

#[test]
fn one_writer_and_readers_in_other_processes() {
    if role().is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    // Start the writer, and the readers once the store exists.
    let mut writer = spawn("writer", &dir, 0);
    let wout = writer.stdout.take().unwrap();
    let mut wlines = BufReader::new(wout).lines();
    for l in wlines.by_ref() {
        if l.unwrap().contains("@@ O") {
            break;
        }
    }
    let readers: Vec<_> = (1..=READERS as u64)
        .map(|id| collect(spawn("reader", &dir, id)))
        .collect();
    let wthread = std::thread::spawn(move || {
        let lines: Vec<String> = wlines
            .map_while(Result::ok)
            .filter_map(|l| l.find("@@ ").map(|at| l[at + 3..].to_owned()))
            .collect();
        let mut err = String::new();
        use std::io::Read;
        let _ = writer.stderr.take().unwrap().read_to_string(&mut err);
        (lines, err, writer.wait().unwrap().success())
    });
    let (wl, werr, wok) = wthread.join().unwrap();
    assert!(wok, "the writer failed:\n{werr}");

    // The writer's history, as digests of each prefix's content.
    let mut state: BTreeMap<u64, u64> = BTreeMap::new();
    let mut digest = 0u64;
    let mut at: HashMap<u64, Vec<usize>> = HashMap::new();
    at.entry(0).or_default().push(0);
    let mut n = 0usize;
    for l in &wl {
        let f: Vec<&str> = l.split(' ').collect();
        match f[0] {
            "P" => {
                let (i, k): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                if let Some(old) = state.insert(k, i) {
                    digest = digest.wrapping_sub(entry_hash(k, old));
                }
                digest = digest.wrapping_add(entry_hash(k, i));
            }
            "D" => {
                let k: u64 = f[2].parse().unwrap();
                if let Some(old) = state.remove(&k) {
                    digest = digest.wrapping_sub(entry_hash(k, old));
                }
            }
            "C" => {}
            _ => continue,
        }
        n += 1;
        at.entry(digest).or_default().push(n);
    }
    let compactions = wl.iter().filter(|l| l.starts_with("C ")).count();

    let mut views = 0u64;
    let mut failures = Vec::new();
    for (r, h) in readers.into_iter().enumerate() {
        let (lines, err, ok) = h.join().unwrap();
        if !ok {
            failures.push(format!("reader {r} failed:\n{err}"));
            continue;
        }
        let mut last = 0usize;
        for l in lines.iter().filter_map(|l| l.strip_prefix("S ")) {
            let mut d = 0u64;
            for kv in l.split(',').filter(|s| !s.is_empty()) {
                let (k, v) = kv.split_once(':').unwrap();
                d = d.wrapping_add(entry_hash(k.parse().unwrap(), v.parse().unwrap()));
            }
            match at
                .get(&d)
                .and_then(|ix| ix.iter().copied().find(|&i| i >= last))
            {
                Some(i) => last = i,
                None => {
                    failures.push(format!(
                        "reader {r}, view {views}: no moment of the writer's history at or after step {last} had this content: {l}"
                    ));
                    break;
                }
            }
            views += 1;
        }
    }
    common::report(&format!(
        "multi-process: 1 writer ({n} operations, {compactions} compactions) and {READERS} reader processes for {} s: {views} reader views checked against the writer's history; failures {}",
        seconds(),
        failures.len()
    ));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        views > 20 && compactions > 2,
        "too little happened: {views} views, {compactions} compactions"
    );
}
