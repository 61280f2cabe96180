//! The trajectory store: SQLite in WAL mode with tables `runs`, `episodes`,
//! `step_rows`, `blobs` and `event_kinds`, and the views `steps` and `events`.
//!
//! What episodes repeat is stored once: task data, environment, model,
//! harness (with its whole configuration) and system text are deflated JSON
//! blobs addressed by their SHA-256; every distinct layer event is stored
//! once and steps list the events they recorded. [`Store::trajectory`] and
//! JSONL export rebuild each trajectory whole, with the same JSON shape as
//! it was written; import takes such trajectories back.
//!
//! # Durability
//!
//! Every step is committed before [`TrajectorySink::record_step`]
//! (lifeharness_core::TrajectorySink) returns, so a run killed at any
//! moment (`kill -9`, a panic, an OOM kill) keeps every finished step and
//! episode; `--resume` finds the finished episodes of a run and plays only
//! the rest. Sink writes go to one writer thread that commits whatever
//! arrived together in one transaction (group commit).
//!
//! The store runs with `synchronous = NORMAL`: a commit reaches the WAL file
//! (the OS) but is not fsynced. On power loss or an OS crash the store stays
//! consistent (never corrupted), but the commits since the last checkpoint
//! may be rolled back, so the last steps (up to about the last 1,000 WAL
//! pages) of a run can be lost; rerun with `--resume` to redo them.
//!
//! # Schema versions
//!
//! The schema version is `PRAGMA user_version` (now 2). A version 1 store
//! (whole JSON per header and step) is migrated in place, in one
//! transaction, when opened; if anything in it cannot be read the migration
//! is rolled back and opening fails with an error naming the version. A
//! store from a newer build is refused.

mod codec;
mod jsonl;
mod schema;
mod store;
mod writer;

pub use store::{EpisodeRow, RunRecord, Store, StoreError};
