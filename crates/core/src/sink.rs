//! The trajectory sink extension point: where steps go as they happen.

use async_trait::async_trait;

use crate::trajectory::{EpisodeEnd, EpisodeHeader, Step};

/// A sink failure. The runtime stops the episode rather than lose data silently.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("trajectory sink error: {0}")]
pub struct SinkError(pub String);

/// Receives an episode as it happens: the header, every step, the end.
#[async_trait]
pub trait TrajectorySink: Send + Sync {
    /// The episode started.
    async fn begin_episode(&self, header: &EpisodeHeader) -> Result<(), SinkError>;

    /// A step finished; it must be durable when this returns.
    async fn record_step(
        &self,
        run_id: &str,
        episode_id: &str,
        step: &Step,
    ) -> Result<(), SinkError>;

    /// The episode ended.
    async fn end_episode(
        &self,
        run_id: &str,
        episode_id: &str,
        end: &EpisodeEnd,
    ) -> Result<(), SinkError>;
}
