//! The episode runtime: the loop model -> layers -> environment -> trajectory.
//!
//! [`run_episode`] plays one task: it lets the layers prepare the tool specs
//! and system text, asks the model for a turn, passes each action through the
//! layers' `after_turn` verdicts (blocked actions never reach the
//! environment), executes the rest, passes each observation through the
//! layers' `after_observation` verdicts, and writes every step to the sink as
//! it happens. [`run_many`] plays many episodes concurrently with a bound,
//! stopping cleanly when cancelled.

mod config;
mod episode;
mod fit;
mod many;
mod stack;

pub use config::{RuntimeConfig, episode_seed};
pub use episode::{EpisodeOutcome, EpisodeSpec, RuntimeError, run_episode};
pub use lifeharness_core::{BlockPolicy, FaultPolicy};
pub use many::{EpisodeJob, RunEvent, RunSummary, run_many};
