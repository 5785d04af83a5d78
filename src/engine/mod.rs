//! The running store under the handle (`Engine`, in `state`): opening it (`open`), the write
//! and read paths (`write`, `read`), durability (`sync`, and group commit and the interval
//! flusher in `durability`), the writer's rotation of data files with their sealing and
//! preparation on background threads (`rotation`), the hint files of sealed files (`hinting`),
//! compaction, a read-only handle's refresh (`refresh`), and figures (`stats`); atomic write
//! batches (`batch`), conditional writes (`conditional`) and the epoch that keeps readers from
//! seeing half a batch (`visibility`).
//!
//! Within the folder, dependencies point one way: every part uses `state`; `durability` and
//! `visibility` are leaves that take closures or nothing, never the engine.

mod auto_merge;
mod background;
mod batch;
mod batch_bytes;
mod checkpoint;
mod compaction;
mod conditional;
mod durability;
mod expiry;
mod hinting;
mod merger;
mod open;
mod pace;
mod read;
mod refresh;
mod rotation;
mod state;
mod stats;
mod sync;
mod visibility;
mod write;

pub(crate) use durability::Flusher;
pub(crate) use state::Engine;
pub use stats::Stats;
