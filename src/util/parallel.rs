//! Work split over two threads, at most: opening a store is the one place where independent
//! work is large enough to be worth a second thread, and its work (opening files, checking
//! hints, applying shards) is bounded by memory bandwidth and the disk well before a third
//! thread would help. With one CPU available (`available_parallelism`), everything runs on
//! the calling thread.

use crate::util::sync::lock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `f` and `g`, on two threads when `parallel` (and a thread can be had), returning both
/// results.
pub fn both<A: Send, B: Send>(
    parallel: bool,
    f: impl FnOnce() -> A + Send,
    g: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !parallel || !second_cpu() {
        return (f(), g());
    }
    let g = std::sync::Mutex::new(Some(g));
    let take_g = || lock(&g).take();
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new().spawn_scoped(scope, || take_g().map(|g| g()));
        let a = f();
        let b = spawned
            .ok()
            .and_then(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        // Without a second thread (or if it never ran), run `g` here.
        let b = b.unwrap_or_else(|| (take_g().expect("g runs exactly once"))());
        (a, b)
    })
}

/// Whether the process may run on more than one CPU (its affinity and quota allow it).
fn second_cpu() -> bool {
    static MANY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MANY.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// Maps `f` over `items`, two at a time when there are at least `parallel_min` of them: each
/// thread takes the next item nobody has claimed, so uneven items still share out evenly.
/// The results come back in `items`' order.
pub fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    parallel_min: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let (mut a, b) = both(items.len() >= parallel_min, work, work);
    a.extend(b);
    a.sort_unstable_by_key(|&(i, _)| i);
    a.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_in_order_keeps_the_order_on_two_threads_and_on_one() {
        let items: Vec<u64> = (0..1000).collect();
        for parallel_min in [0, usize::MAX] {
            let squares = map_in_order(&items, parallel_min, |&x| {
                if x % 7 == 0 {
                    std::thread::yield_now(); // uneven work: the threads interleave
                }
                x * x
            });
            assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
        }
    }

    #[test]
    fn both_runs_each_closure_once() {
        for parallel in [false, true] {
            let (a, b) = both(parallel, || 1, || 2);
            assert_eq!((a, b), (1, 2));
        }
    }
}
