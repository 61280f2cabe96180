//! The crate's error type.

use lifeharness_core::EnvError;

/// Everything that can go wrong in the AgentBench environments.
#[derive(Debug, thiserror::Error)]
pub enum AgentBenchError {
    /// The embedded data set is malformed (a bug in the shipped data).
    #[error("bad embedded data: {0}")]
    Data(String),
    /// The split name is not known.
    #[error("unknown split '{0}' (expected one of: {1})")]
    UnknownSplit(String, String),
    /// The task id is not known.
    #[error("unknown task '{0}'")]
    UnknownTask(String),
    /// SQLite failed while building or reading the episode database.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The OS sandbox cannot be created on this host; the environment refuses to run.
    #[error("sandbox unavailable: {0}")]
    SandboxUnavailable(String),
    /// The OS sandbox failed during an episode.
    #[error("sandbox failure: {0}")]
    Sandbox(String),
    /// An I/O error on the host side.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// `step` or `score` used out of order.
    #[error("out of order: {0}")]
    State(String),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Join(String),
}

impl From<AgentBenchError> for EnvError {
    fn from(err: AgentBenchError) -> Self {
        match err {
            AgentBenchError::UnknownTask(_) | AgentBenchError::UnknownSplit(..) => {
                EnvError::BadTask(err.to_string())
            }
            AgentBenchError::SandboxUnavailable(_) => EnvError::Unavailable(err.to_string()),
            AgentBenchError::State(_) => EnvError::State(err.to_string()),
            other => EnvError::Internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for AgentBenchError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::Join(err.to_string())
    }
}
