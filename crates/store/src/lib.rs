//! The trajectory store: SQLite in WAL mode with tables `runs`, `episodes`,
//! `steps` and `events`.
//!
//! Every step is committed when it happens, so a run killed at any moment
//! keeps every finished step and episode; `--resume` finds the finished
//! episodes of a run and plays only the rest. Trajectories export to and
//! import from JSONL (one [`Trajectory`](lifeharness_core::Trajectory) per line).

mod jsonl;
mod schema;
mod store;

pub use store::{EpisodeRow, RunRecord, Store, StoreError};
