//! Leaves every layer may use: lock helpers (`sync`), the background worker thread
//! (`worker`), running work on two threads (`parallel`), and the few system calls that are
//! not file operations (`sys`: a futex-free prefetch, the coarse clock, heap trimming).

pub(crate) mod parallel;
pub(crate) mod sync;
pub(crate) mod sys;
pub(crate) mod worker;
