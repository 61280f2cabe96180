//! The crate's error type.

use lifeharness_core::{EnvError, LayerError};

/// What can go wrong in a replay, an audit, a diagnosis or an import.
#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    /// The environment failed (not a tool error: those are observations).
    #[error("{context}: {source}")]
    Env {
        /// Which episode or task.
        context: String,
        /// The failure.
        source: EnvError,
    },
    /// A harness layer failed.
    #[error("{context}: {source}")]
    Layer {
        /// Which episode and step.
        context: String,
        /// The failure.
        source: LayerError,
    },
    /// An input file or record is malformed.
    #[error("{0}")]
    Input(String),
}

impl DiagnoseError {
    /// An environment failure in `context`.
    pub fn env(context: impl Into<String>, source: EnvError) -> Self {
        Self::Env {
            context: context.into(),
            source,
        }
    }

    /// A layer failure in `context`.
    pub fn layer(context: impl Into<String>, source: LayerError) -> Self {
        Self::Layer {
            context: context.into(),
            source,
        }
    }
}
