//! The crate's error type.

use lifeharness_core::EnvError;

/// What can go wrong outside an episode (loading, lookups, replay input).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Tau2Error {
    /// The embedded data did not parse (a build problem, not a user error).
    #[error("embedded tau2 data is malformed: {0}")]
    Data(String),
    /// The environment name is not `tau2-retail` or `tau2-airline`.
    #[error("unknown tau2 environment '{0}' (expected tau2-retail or tau2-airline)")]
    UnknownEnvironment(String),
    /// The split does not exist.
    #[error("unknown split '{split}' (available: {available})")]
    UnknownSplit {
        /// The split asked for.
        split: String,
        /// The splits there are.
        available: String,
    },
    /// No task has this id.
    #[error("unknown task id '{0}'")]
    UnknownTask(String),
    /// The task could not be set up.
    #[error("task {task_id}: {message}")]
    BadTask {
        /// The task.
        task_id: String,
        /// What is wrong.
        message: String,
    },
    /// A line of an actions file is malformed.
    #[error("actions file line {line}: {message}")]
    BadActionsLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The environment failed during a replay or an episode.
    #[error(transparent)]
    Env(#[from] EnvError),
}

impl From<Tau2Error> for EnvError {
    fn from(e: Tau2Error) -> Self {
        match e {
            Tau2Error::Env(inner) => inner,
            Tau2Error::UnknownTask(_) | Tau2Error::BadTask { .. } => {
                EnvError::BadTask(e.to_string())
            }
            other => EnvError::Internal(other.to_string()),
        }
    }
}
