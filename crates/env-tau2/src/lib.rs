//! τ²-bench retail and airline as lifeharness environments.
//!
//! A faithful re-implementation of sierra-research/tau2-bench's `retail` and
//! `airline` domains (commit a2c0247): the same tools with the same argument
//! binding, result text, error text (`Error: <exception>`) and database
//! effects; the same database hash (sha256 of Python's
//! `json.dumps(model_dump(db), sort_keys=True, default=str)`, reproduced
//! byte for byte by [`pyjson`]); the same fixed clock and ids; the same
//! evaluator. The user is either the original LLM user simulator
//! ([`UserMode::Simulated`]) or a ticket ([`UserMode::Ticket`], labelled as
//! not comparable with published results).
//!
//! Entry points: [`Tau2Factory`] (an `EnvironmentFactory`), its replay
//! methods ([`Tau2Factory::replay_gold`], [`Tau2Factory::replay_actions`],
//! [`Tau2Factory::replay_jsonl`]), [`conformance::run_conformance`] and
//! [`bench`].

pub mod airline;
pub mod bench;
mod calc;
pub mod conformance;
pub mod db;
pub mod diagnosis;
pub mod domain;
mod env;
mod error;
pub mod evaluator;
mod factory;
pub mod hash_cache;
mod macros;
pub mod prompts;
pub mod py;
pub mod pyjson;
mod replay;
pub mod retail;
pub mod state;
pub mod table;
pub mod task;
pub mod text;
pub mod user;

pub use domain::{Db, Domain};
pub use env::{MAX_TOOL_ERRORS, Tau2Env};
pub use error::Tau2Error;
pub use evaluator::Termination;
pub use factory::{Tau2Factory, UPSTREAM};
pub use replay::{RESPOND, ReplayAction, ReplayReport, ReplayRequest, gold_actions, to_actions};
pub use user::UserMode;
