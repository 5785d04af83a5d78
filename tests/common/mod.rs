//! Helpers shared by the reliability tests: a seeded random generator, the model a store is
//! checked against, and reading a store's whole content.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use bitask::{Bitask, Error};

/// SplitMix64: small, seedable, good enough to pick operations.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `pct` percent.
    pub fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// The seed for a test run: `SEED=<n>` reproduces a run, otherwise `default`.
pub fn seed(default: u64) -> u64 {
    std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// True when the long versions of the tests were asked for (`SOAK=1`).
pub fn soak() -> bool {
    std::env::var("SOAK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A store's content.
pub type Content = BTreeMap<Vec<u8>, Vec<u8>>;

/// The key with number `n`.
pub fn key(n: u64) -> Vec<u8> {
    format!("key{n:03}").into_bytes()
}

/// A value that names its key and version, so any value read can be told apart from every
/// other one; `len` pads it.
pub fn value(key: &[u8], version: u64, len: usize) -> Vec<u8> {
    let mut v = format!("{}@{version}:", String::from_utf8_lossy(key)).into_bytes();
    let mut x = version.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ key.len() as u64;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(b'a' + (x % 26) as u8);
    }
    v
}

/// Reads every key and value through the iterator, and checks each with `get` as well.
pub fn read_all(db: &Bitask) -> Result<Content, Error> {
    let mut out = Content::new();
    for item in db.iter() {
        let (k, v) = item?;
        out.insert(k, v);
    }
    for (k, v) in &out {
        match db.get(k)? {
            Some(got) if &got == v => {}
            other => panic!(
                "get({:?}) = {other:?} disagrees with the iterator",
                String::from_utf8_lossy(k)
            ),
        }
    }
    Ok(out)
}

/// An operation of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Put(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    Compact,
    Sync,
    Reopen,
    /// An atomic write batch: puts (`Some` value) and removes, in order.
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
}

impl Step {
    pub fn apply(&self, c: &mut Content) {
        match self {
            Step::Put(k, v) => {
                c.insert(k.clone(), v.clone());
            }
            Step::Remove(k) => {
                c.remove(k);
            }
            Step::Batch(ops) => {
                for (k, v) in ops {
                    match v {
                        Some(v) => c.insert(k.clone(), v.clone()),
                        None => c.remove(k),
                    };
                }
            }
            _ => {}
        }
    }

    /// The keys the step writes.
    pub fn keys(&self) -> Vec<&[u8]> {
        match self {
            Step::Put(k, _) | Step::Remove(k) => vec![k],
            Step::Batch(ops) => ops.iter().map(|(k, _)| &k[..]).collect(),
            _ => Vec::new(),
        }
    }

    /// The step's batch, for the library.
    pub fn write_batch(&self) -> bitask::WriteBatch {
        let mut b = bitask::WriteBatch::new();
        if let Step::Batch(ops) = self {
            for (k, v) in ops {
                match v {
                    Some(v) => b.put(k, v).unwrap(),
                    None => b.remove(k).unwrap(),
                }
            }
        }
        b
    }
}

/// Content after each prefix of a history: `states[i]` is the content after steps `0..i`.
pub fn prefix_states(steps: &[Step]) -> Vec<Content> {
    let mut c = Content::new();
    let mut out = vec![c.clone()];
    for s in steps {
        s.apply(&mut c);
        out.push(c.clone());
    }
    out
}

/// Keys whose acknowledged, durable value is missing or different (lost), and keys removed
/// durably that are back (resurrected), given that steps `0..durable` are durable and no step
/// after `started` began.
pub fn lost_and_resurrected(
    steps: &[Step],
    durable: usize,
    started: usize,
    got: &Content,
) -> (Vec<String>, Vec<String>) {
    let mut lost = Vec::new();
    let mut back = Vec::new();
    let sure = &prefix_states(&steps[..durable])[durable];
    let mut touched_later = std::collections::BTreeSet::new();
    for s in &steps[durable..started.min(steps.len())] {
        for k in s.keys() {
            touched_later.insert(k.to_vec());
        }
    }
    let mut ever = std::collections::BTreeSet::new();
    for s in &steps[..durable] {
        for k in s.keys() {
            ever.insert(k.to_vec());
        }
    }
    for k in ever {
        if touched_later.contains(&k) {
            continue;
        }
        let name = String::from_utf8_lossy(&k).into_owned();
        match (sure.get(&k), got.get(&k)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(_), _) => lost.push(name),
            (None, Some(_)) => back.push(name),
            (None, None) => {}
        }
    }
    (lost, back)
}

/// Runs `f` on another thread and fails the test if it takes longer than `limit` (a hang).
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = h.join();
            v
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("hang: {what} took over {limit:?}")
        }
        Err(_) => match h.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!(),
        },
    }
}

/// Appends a line to the figures file named by `BITASK_FIGURES` (used to fill in
/// docs/reliability.md), and prints it.
/// Fails the test with every failure a loop collected, one per line.
pub fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

pub fn report(line: &str) {
    println!("FIGURE {line}");
    if let Ok(path) = std::env::var("BITASK_FIGURES") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Automatic-merge options that fire on stores of a few kilobytes with data files of
/// `file_size` bytes: any dead byte counts, a merge reads at most four files' worth and
/// writes outputs of two files' size (so merges have several parts), at full speed.
pub fn eager_merge(file_size: u64) -> bitask::MergeOptions {
    bitask::MergeOptions {
        min_dead_bytes: 0,
        store_fragmentation: 0.2,
        file_fragmentation: 0.3,
        small_file_bytes: 0,
        max_merge_bytes: 4 * file_size,
        output_file_size: 2 * file_size,
        bytes_per_sec: 0,
        ..bitask::MergeOptions::default()
    }
}
