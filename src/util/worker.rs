//! A long-lived background thread that runs jobs one after another, in the order they were
//! submitted. Rotation hands it the work that must not stall a put (sealing a full file,
//! preparing the next one). One thread for the life of the handle instead of one per job: a
//! new thread needs a stack mapping, and making one waits for the process's mapping lock,
//! which a prefault of a new data file holds for as long as it runs.

use crate::util::sync::{lock, wait};
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{JoinHandle, ThreadId};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A job queue served by one thread, started on the first job.
pub(crate) struct Worker {
    name: &'static str,
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    thread: Option<JoinHandle<()>>,
    stopping: bool,
}

impl Worker {
    pub fn new(name: &'static str) -> Worker {
        Worker {
            name,
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
            }),
        }
    }

    /// Queues `job`. Fails (and drops the job unrun) when the thread cannot be started or the
    /// worker is shut down: the caller then does the work itself.
    pub fn submit(&self, job: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let mut st = lock(&self.inner.state);
        if st.stopping {
            return Err(io::Error::other("worker shut down"));
        }
        if st.thread.is_none() {
            let inner = self.inner.clone();
            let t = std::thread::Builder::new()
                .name(self.name.into())
                .spawn(move || inner.run())?;
            st.thread = Some(t);
        }
        st.jobs.push_back(Box::new(job));
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Runs the jobs still queued, then stops the thread and waits for it to end. Later
    /// submissions fail. Called from a job of this worker, it does not wait for itself.
    pub fn shutdown(&self) {
        let thread = {
            let mut st = lock(&self.inner.state);
            st.stopping = true;
            self.inner.wake.notify_all();
            st.thread.take()
        };
        if let Some(t) = thread {
            if t.thread().id() != current_id() {
                let _ = t.join();
            }
        }
    }
}

fn current_id() -> ThreadId {
    std::thread::current().id()
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The thread finishes what is queued and ends on its own.
        let mut st = lock(&self.inner.state);
        st.stopping = true;
        self.inner.wake.notify_all();
    }
}

impl Inner {
    fn run(&self) {
        loop {
            let job = {
                let mut st = lock(&self.state);
                loop {
                    if let Some(job) = st.jobs.pop_front() {
                        break job;
                    }
                    if st.stopping {
                        return;
                    }
                    st = wait(&self.wake, st);
                }
            };
            job();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn runs_jobs_in_order_on_one_thread_and_drains_on_shutdown() {
        let w = Worker::new("test-worker");
        let seen = Arc::new(Mutex::new(Vec::new()));
        for i in 0..100 {
            let seen = seen.clone();
            w.submit(move || lock(&seen).push((i, current_id())))
                .unwrap();
        }
        w.shutdown();
        let seen = lock(&seen);
        assert_eq!(seen.len(), 100, "shutdown runs what was queued");
        assert!(seen.iter().enumerate().all(|(i, (j, _))| i == *j));
        assert!(seen.iter().all(|(_, t)| *t == seen[0].1));
        assert_ne!(seen[0].1, current_id());
    }

    #[test]
    fn refuses_jobs_after_shutdown() {
        let w = Worker::new("test-worker");
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        w.submit(move || {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        w.shutdown();
        let r = ran.clone();
        assert!(w
            .submit(move || {
                r.fetch_add(1, Ordering::SeqCst);
            })
            .is_err());
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }
}
