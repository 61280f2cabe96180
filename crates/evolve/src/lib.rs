//! Harness evolution: diagnosed failures compiled into harness rules, and
//! accepted only when a regression gate proves them.
//!
//! * [`facts`]: every executed call of the training episodes and reference
//!   solutions, replayed with state, and counterfactual variants of
//!   reference writes executed in fresh environments.
//! * [`miners`]: deterministic proposers (argument formats, ordering, state
//!   preconditions, error annotations, regulation thresholds, realization
//!   checks, skills); [`proposer`]: an optional LLM proposer.
//! * [`gate`]: (a) loads with its examples, (b) no false block of reference
//!   or successful calls replayed with state, (c) anti-leak ([`leak`]);
//!   [`evolve`](mod@evolve) adds (d), model re-runs through an [`Evaluator`].
//! * [`sim`]: a SIMULATED fault-injecting agent for tests.
//!
//! Nothing here names an environment: all it knows comes through
//! [`EnvironmentFactory`](lifeharness_core::EnvironmentFactory).

pub mod candidate;
mod error;
pub mod eval;
pub mod evolve;
pub mod facts;
pub mod gate;
pub mod leak;
pub mod ledger;
pub mod miners;
mod online;
pub mod proposer;
pub mod sim;

pub use candidate::{Candidate, Change};
pub use error::EvolveError;
pub use eval::{EvalRequest, Evaluation, Evaluator, LocalEvaluator, MemorySink, model_seconds};
pub use evolve::{EvolveConfig, Inputs, Outcome, evolve, tomlable, train_tasks};
pub use ledger::Ledger;
