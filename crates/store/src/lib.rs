//! The trajectory store: SQLite in WAL mode with tables `runs`, `episodes`,
//! `step_rows`, `blobs` and `event_kinds`, and the views `steps` and `events`.
//!
//! What episodes repeat is stored once: task data, environment, model,
//! harness (with its whole configuration), system text and observation
//! texts of 512 bytes or more are deflated JSON blobs addressed by their
//! SHA-256; every distinct layer event is stored once and steps list the
//! events they recorded. [`Store::trajectory`] and
//! JSONL export rebuild each trajectory whole, with the same JSON shape as
//! it was written; import takes such trajectories back.
//!
//! # Durability
//!
//! Every sink write (an episode's begin, each step, its end) is committed
//! before the [`TrajectorySink`](lifeharness_core::TrajectorySink) call
//! returns, so a process killed at any moment (`kill -9`, a panic, an OOM
//! kill) keeps every finished step and episode; `--resume` finds the
//! finished episodes of a run and plays only the rest. Callers serialize and
//! compress their records themselves and hand them to one writer thread over
//! a bounded queue; the writer commits whatever has arrived in one
//! transaction (group commit), each write in its own savepoint so that one
//! failing write fails alone, and answers each caller after the commit.
//!
//! The store runs in WAL mode with `synchronous = NORMAL`: a commit is
//! written to the WAL file (the OS has it) but not fsynced; the WAL is
//! fsynced when it is checkpointed into the database (SQLite's default,
//! every 1,000 pages, about 4 MB of WAL). So on power loss or an OS crash
//! the store stays consistent (never corrupted, no half-written step), but
//! the commits since the last checkpoint may be rolled back: at most the last
//! ~4 MB of writes (about 80 episodes of the tau2 benchmark workload) are
//! lost, and `--resume` plays those episodes again.
//!
//! # Schema versions
//!
//! The schema version is `PRAGMA user_version` (now 3). A version 1 store
//! (whole JSON per header and step) is migrated in place, in one
//! transaction, when opened; if anything in it cannot be read the migration
//! is rolled back and opening fails with an error naming the version. A
//! version 2 store (observation texts always inline) gains the column that
//! lists blob texts. A store from a newer build is refused.
//!
//! # Beside the trajectories
//!
//! Evolutions and evaluation matrices keep their configuration, status and
//! the runs of their parts ([`Store::evolution`], [`Store::matrix`]), so an
//! interrupted one resumes. Reports cache what they derive from each
//! episode ([`Store::episode_facts`]); the store drops an episode's facts
//! whenever the episode is written to. [`Store::merge_from`] copies another
//! store (one shard of a matrix, say) into this one in one transaction.

mod codec;
mod evolution;
mod facts;
mod jsonl;
mod matrix;
mod merge;
mod read;
mod schema;
mod store;
mod writer;

pub use evolution::EvolutionRecord;
pub use matrix::MatrixRecord;
pub use merge::MergeSummary;
pub use store::{EpisodeRow, RunRecord, Store, StoreError};
