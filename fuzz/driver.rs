//! A small fuzzing driver for the stable toolchain (cargo-fuzz and libFuzzer need nightly):
//! seeded random mutation of a corpus, with the targets' "features" (see `targets.rs`) as
//! feedback: an input that shows a feature not seen before joins the corpus. Not code
//! coverage, but it steers towards inputs that get further (past a header check, into a
//! second record, into a compaction).
//!
//! A panic is a finding: the input is written to `fuzz/artifacts/<target>/` and the run
//! fails. An input that runs for over `HANG_SECS` is written there too and the process exits.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::targets::Target;

const HANG_SECS: u64 = 20;

/// xorshift64*: the driver's randomness, seeded.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// The corpus directory of a target.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn artifacts_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/artifacts")
        .join(target)
}

/// The files of a target's committed corpus, in name order.
pub fn load_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn name_of(data: &[u8]) -> String {
    let h = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    format!("{h:016x}")
}

/// Runs one input, turning a panic into an error message.
pub fn run_one(target: Target, data: &[u8]) -> Result<Vec<u64>, String> {
    catch_unwind(AssertUnwindSafe(|| target(data))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

const INTERESTING: [u64; 10] = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0xffff_ffff, 52, 29];

fn mutate(rng: &mut Rng, base: &[u8], other: &[u8], max_len: usize) -> Vec<u8> {
    let mut d = base.to_vec();
    for _ in 0..1 + rng.below(6) {
        match rng.below(9) {
            0 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            1 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] = rng.next() as u8;
            }
            2 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] = INTERESTING[rng.below(INTERESTING.len())] as u8;
            }
            3 if d.len() >= 4 => {
                let i = rng.below(d.len() - 3);
                let v = INTERESTING[rng.below(INTERESTING.len())] as u32;
                d[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            4 => {
                let i = rng.below(d.len() + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                d.splice(i..i, bytes);
            }
            5 if !d.is_empty() => {
                let i = rng.below(d.len());
                let n = 1 + rng.below((d.len() - i).min(64));
                d.drain(i..i + n);
            }
            6 if !d.is_empty() => {
                let i = rng.below(d.len());
                let n = 1 + rng.below((d.len() - i).min(64));
                let piece = d[i..i + n].to_vec();
                let j = rng.below(d.len() + 1);
                d.splice(j..j, piece);
            }
            7 if !other.is_empty() => {
                let i = rng.below(d.len() + 1);
                let j = rng.below(other.len());
                let n = 1 + rng.below((other.len() - j).min(256));
                d.splice(i..i, other[j..j + n].iter().copied());
            }
            8 if !d.is_empty() => {
                let i = rng.below(d.len());
                d.truncate(i);
            }
            _ => {}
        }
    }
    d.truncate(max_len);
    d
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub execs: u64,
    pub corpus: usize,
    pub features: usize,
    pub added: Vec<Vec<u8>>,
    pub crash: Option<(String, PathBuf)>,
}

/// Fuzzes `target` for `time` or `max_execs` executions, whichever comes first.
pub fn fuzz(
    name: &str,
    target: Target,
    seed: u64,
    time: Duration,
    max_execs: u64,
    max_len: usize,
) -> Outcome {
    let mut rng = Rng::new(seed);
    let mut corpus: Vec<Vec<u8>> = load_corpus(name).into_iter().map(|(_, d)| d).collect();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mut seen: HashSet<u64> = HashSet::new();
    let mut out = Outcome::default();
    for c in &corpus {
        if let Ok(f) = run_one(target, c) {
            seen.extend(f);
        }
    }
    // A watchdog for hangs: the current input and when it started.
    let current: Arc<Mutex<(Vec<u8>, Instant)>> =
        Arc::new(Mutex::new((Vec::new(), Instant::now())));
    let done = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicU64::new(0));
    let dog = {
        let (current, done, ticks, name) = (
            current.clone(),
            done.clone(),
            ticks.clone(),
            name.to_owned(),
        );
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(200));
                let c = current.lock().unwrap();
                if c.1.elapsed() > Duration::from_secs(HANG_SECS) {
                    let dir = artifacts_dir(&name);
                    let _ = std::fs::create_dir_all(&dir);
                    let p = dir.join(format!("hang-{}", name_of(&c.0)));
                    let _ = std::fs::write(&p, &c.0);
                    eprintln!(
                        "fuzz {name}: an input ran for over {HANG_SECS} s, saved to {}",
                        p.display()
                    );
                    std::process::exit(3);
                }
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let start = Instant::now();
    while out.execs < max_execs && start.elapsed() < time {
        let base = &corpus[rng.below(corpus.len())];
        let other = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, other, max_len);
        *current.lock().unwrap() = (input.clone(), Instant::now());
        let result = run_one(target, &input);
        out.execs += 1;
        match result {
            Ok(features) => {
                let fresh = features.iter().filter(|f| !seen.contains(f)).count();
                if fresh > 0 {
                    seen.extend(features);
                    out.added.push(input.clone());
                    corpus.push(input);
                }
            }
            Err(msg) => {
                let dir = artifacts_dir(name);
                let _ = std::fs::create_dir_all(&dir);
                let p = dir.join(format!("crash-{}", name_of(&input)));
                let _ = std::fs::write(&p, &input);
                out.crash = Some((msg, p));
                break;
            }
        }
    }
    *current.lock().unwrap() = (Vec::new(), Instant::now());
    done.store(true, Ordering::Release);
    let _ = dog.join();
    out.corpus = corpus.len();
    out.features = seen.len();
    out
}
