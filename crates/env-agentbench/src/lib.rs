//! AgentBench's DBBench and OS-interaction environments for lifeharness.
//!
//! - `agentbench-db` ([`db`]): each episode gets a fresh SQLite database
//!   built from the task's table; the agent works through AgentBench's text
//!   protocol (`Action: Operation` / `Action: Answer`) or its function-calling
//!   tools (`execute_sql`, `commit_final_answer`), and is scored as AgentBench
//!   scores it (answer matching or the MySQL table hash).
//! - `agentbench-os` ([`os`]): each episode gets a bubblewrap sandbox (no
//!   network, private writable root, resource limits) standing in for
//!   AgentBench's Ubuntu container; scored by the task's match rule or check
//!   scripts.
//!
//! [`AgentBenchFactory`] makes both; [`replay::replay_gold`] replays the gold
//! solutions and reports one [`replay::ReplayReport`] per task.

pub mod db;
pub mod diagnosis;
pub mod error;
mod factory;
pub mod os;
pub mod replay;

pub use error::AgentBenchError;
pub use factory::{AgentBenchFactory, Benchmark};
pub use replay::{ReplayReport, db_gold_actions, replay_gold};

/// How the agent is told to act: AgentBench's text protocol, its tools, or
/// both (the default: text replies and tool calls are always accepted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Describe both ways and offer the tools.
    #[default]
    Both,
    /// Describe the text protocol only and offer no tools.
    Text,
    /// Describe the tools only.
    Tools,
}
