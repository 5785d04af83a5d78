//! The fuzz targets (fuzz/targets.rs) as ordinary tests: every input of the committed corpus
//! (fuzz/corpus/<target>/) is replayed, and each target runs a short fixed-seed fuzz.
//!
//! `make fuzz` (fuzz/fuzz.mk) runs `fuzz_run` below for a set time per target;
//! `make_seed_corpus` writes the seed corpus.

mod common;
#[path = "../fuzz/driver.rs"]
mod driver;
#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bitask::hint::{HintEntry, HintWriter};
use bitask::record;
use bitask::vfs::sim::{CrashConfig, Image, Replayer, SimVfs};
use bitask::{Bitask, Options, SyncMode};

fn target(name: &str) -> targets::Target {
    targets::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a target")
        .1
}

fn replay(name: &str) {
    let corpus = driver::load_corpus(name);
    assert!(!corpus.is_empty(), "fuzz/corpus/{name} is empty");
    let t = target(name);
    for (file, data) in &corpus {
        if let Err(msg) = driver::run_one(t, data) {
            panic!("fuzz/corpus/{name}/{file}: {msg}");
        }
    }
}

#[test]
fn replay_record_corpus() {
    replay("record");
}

#[test]
fn replay_hint_corpus() {
    replay("hint");
}

#[test]
fn replay_recovery_corpus() {
    replay("recovery");
}

#[test]
fn replay_api_corpus() {
    replay("api");
}

fn max_len(name: &str) -> usize {
    match name {
        "recovery" => 16 * 1024,
        _ => 4096,
    }
}

/// A few hundred fixed-seed mutations per target, so the driver and targets stay honest.
#[test]
fn short_fuzz_of_each_target() {
    for (name, t) in targets::TARGETS {
        let execs = if name == "api" { 60 } else { 300 };
        let out = driver::fuzz(name, t, 42, Duration::from_secs(30), execs, max_len(name));
        if let Some((msg, path)) = out.crash {
            panic!("fuzz {name}: {msg} (input saved to {})", path.display());
        }
    }
}

/// `FUZZ_SECONDS` (default 60) per target, targets from `FUZZ_TARGETS` (default all),
/// `FUZZ_SEED` (default from the clock); `FUZZ_SAVE=1` adds the inputs that showed new
/// features to the corpus.
#[test]
#[ignore]
fn fuzz_run() {
    let secs: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let only = std::env::var("FUZZ_TARGETS").unwrap_or_default();
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let save = std::env::var("FUZZ_SAVE").is_ok_and(|v| v == "1");
    let mut crashes = Vec::new();
    for (name, t) in targets::TARGETS {
        if !only.is_empty() && !only.split(',').any(|o| o == name) {
            continue;
        }
        let out = driver::fuzz(
            name,
            t,
            seed,
            Duration::from_secs(secs),
            u64::MAX,
            max_len(name),
        );
        common::report(&format!(
            "fuzz {name}: {} executions in {secs} s (seed {seed}), corpus {} inputs, {} features; crashes {}",
            out.execs,
            out.corpus,
            out.features,
            out.crash.is_some() as u8
        ));
        if save {
            for input in &out.added {
                let _ =
                    std::fs::write(driver::corpus_dir(name).join(driver::name_of(input)), input);
            }
        }
        if let Some((msg, path)) = out.crash {
            crashes.push(format!(
                "fuzz {name}: {msg} (input saved to {})",
                path.display()
            ));
        }
    }
    assert!(crashes.is_empty(), "{}", crashes.join("\n"));
}

fn save(target: &str, data: &[u8]) {
    let dir = driver::corpus_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(driver::name_of(data)), data).unwrap();
}

fn rec(seq: u64, tomb: bool, k: &[u8], v: &[u8]) -> Vec<u8> {
    let h = record::encode_header(seq, 1_700_000_000_000, tomb, k, v);
    [&h[..], k, v].concat()
}

/// Builds stores on the simulated disk and returns images of them at interesting moments.
fn store_images() -> Vec<Image> {
    let mut out = Vec::new();
    let vfs = SimVfs::recording();
    let dir = Path::new("/db");
    let opts = || {
        Options::default()
            .max_file_size(200)
            .sync(SyncMode::Always)
            .vfs(Arc::new(vfs.clone()))
    };
    let db = Bitask::open_with(dir, opts()).unwrap();
    out.push(vfs.image());
    for i in 0..6u32 {
        db.put(format!("k{i}"), format!("value-{i}")).unwrap();
    }
    out.push(vfs.image());
    db.remove("k2").unwrap();
    db.compact().unwrap();
    out.push(vfs.image());
    for i in 3..9u32 {
        db.put(format!("k{i}"), format!("again-{i}")).unwrap();
    }
    db.remove("k4").unwrap();
    out.push(vfs.image());
    drop(db);
    out.push(vfs.image());
    // Crash images along the way: torn records, undone renames, leftover temporary files.
    let trace = vfs.trace();
    let mut rep = Replayer::new(&trace, vfs.image().dirs);
    let cfg = CrashConfig {
        cuts_per_write: 3,
        garbage_and_zeros: true,
        dir_prefixes: 2,
    };
    let mut step = 0;
    while rep.step().is_some() {
        step += 1;
        if step % 9 == 0 {
            out.extend(
                rep.crash_images(&cfg)
                    .into_iter()
                    .map(|(_, i)| i)
                    .step_by(5)
                    .take(2),
            );
        }
    }
    out
}

#[test]
#[ignore]
fn make_seed_corpus() {
    // record: whole, torn, zeroed and damaged records.
    let a = rec(1, false, b"key", b"value");
    let b = rec(2, true, b"key", b"");
    let c = rec(3, false, b"k2", &[7u8; 40]);
    let all = [a.clone(), b.clone(), c.clone()].concat();
    save("record", &a);
    save("record", &all);
    save("record", &all[..all.len() - 5]);
    save("record", &[all.clone(), vec![0; 64]].concat());
    let mut bad = all.clone();
    bad[a.len() + 3] ^= 0x40;
    save("record", &bad);
    save("record", &[0u8; 29]);
    let sealed = [&all[..], &record::encode_seal(7, all.len() as u64, 3)].concat();
    save("record", &sealed);
    save("record", &rec(u64::MAX, false, &[0xff; 200], &[]));
    // hint: written by HintWriter, and from real merges.
    let mut w = HintWriter::new(7);
    w.push(&HintEntry {
        seq: 1,
        offset: 52,
        value_len: 5,
        tombstone: false,
        expiry: None,
        key: b"key",
    });
    w.push(&HintEntry {
        seq: 2,
        offset: 89,
        value_len: 0,
        tombstone: true,
        expiry: None,
        key: b"gone",
    });
    save("hint", &w.finish(200));
    save("hint", &HintWriter::new(9).finish(52));
    let mut w = bitask::hint::v1::HintWriter::new(7);
    w.push(&HintEntry {
        seq: 1,
        offset: 52,
        value_len: 5,
        tombstone: false,
        expiry: None,
        key: b"key",
    });
    save("hint", &w.finish(200));
    // recovery: real stores and their crash images.
    let images = store_images();
    for img in &images {
        save("recovery", &targets::encode_dir(img));
        for (p, data) in &img.files {
            if p.to_string_lossy().ends_with(".hint") {
                save("hint", data);
            }
            if p.to_string_lossy().ends_with(".log") && data.len() > 52 {
                save("record", &data[52..]);
            }
        }
    }
    save("recovery", &[]);
    // api: operation bytes.
    let mut r = driver::Rng::new(5);
    for len in [0usize, 8, 32, 64, 128, 256, 400] {
        for cfg in [0u8, 0x41, 0x05] {
            let mut ops: Vec<u8> = (0..len).map(|_| r.next() as u8).collect();
            ops.insert(0, cfg);
            save("api", &ops);
        }
    }
}
