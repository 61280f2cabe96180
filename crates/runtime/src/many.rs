//! Many episodes at once, with a concurrency bound and clean cancellation.

use std::sync::Arc;

use futures::StreamExt;
use lifeharness_core::{EnvironmentFactory, EpisodeEnd, ExitStatus, Layer, Model, TrajectorySink};
use tokio_util::sync::CancellationToken;

use crate::episode::{EpisodeOutcome, EpisodeSpec, RuntimeError, run_episode};

/// One episode to play.
pub type EpisodeJob = EpisodeSpec;

/// Progress reported while a run goes on.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// An episode started.
    Started {
        /// The episode id.
        episode_id: String,
    },
    /// An episode ended.
    Finished {
        /// The episode id.
        episode_id: String,
        /// How it ended.
        end: Box<EpisodeEnd>,
    },
    /// An episode was cut off by cancellation.
    Interrupted {
        /// The episode id.
        episode_id: String,
    },
}

/// Counts of a finished (or interrupted) run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Episodes that ended.
    pub finished: usize,
    /// Of those, solved.
    pub successes: usize,
    /// Of those, ended by an error exit.
    pub errors: usize,
    /// Episodes cut off or never started because of cancellation.
    pub interrupted: usize,
}

/// Plays `jobs`, at most `concurrency` at a time, each in a fresh environment
/// from `factory`. Cancelling `cancel` stops new episodes from starting and
/// cuts off running ones after their last finished step.
///
/// A job is taken from `jobs` only when a slot frees up, so a lazy iterator
/// keeps memory flat however many episodes the run has; nothing is kept of
/// an episode once it has ended and been reported.
#[expect(
    clippy::too_many_arguments,
    reason = "the run's wiring is explicit by design"
)]
pub async fn run_many(
    jobs: impl IntoIterator<Item = EpisodeJob>,
    model: Arc<dyn Model>,
    factory: Arc<dyn EnvironmentFactory>,
    layers: Arc<[Arc<dyn Layer>]>,
    sink: Arc<dyn TrajectorySink>,
    concurrency: usize,
    cancel: CancellationToken,
    on_event: &(dyn Fn(RunEvent) + Send + Sync),
) -> Result<RunSummary, RuntimeError> {
    let mut summary = RunSummary::default();
    let mut stream = futures::stream::iter(jobs)
        .map(|job| {
            let model = Arc::clone(&model);
            let factory = Arc::clone(&factory);
            let layers = Arc::clone(&layers);
            let sink = Arc::clone(&sink);
            let cancel = cancel.clone();
            async move {
                if cancel.is_cancelled() {
                    return (job.episode_id, Ok(EpisodeOutcome::Interrupted { steps: 0 }));
                }
                on_event(RunEvent::Started {
                    episode_id: job.episode_id.clone(),
                });
                let env = match factory.create() {
                    Ok(env) => env,
                    Err(err) => return (job.episode_id, Err(RuntimeError::Env(err))),
                };
                let outcome =
                    run_episode(&job, model.as_ref(), env, &layers, sink.as_ref(), &cancel).await;
                (job.episode_id, outcome)
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((episode_id, outcome)) = stream.next().await {
        match outcome? {
            EpisodeOutcome::Finished(end) => {
                summary.finished += 1;
                match end.exit {
                    ExitStatus::Success => summary.successes += 1,
                    ExitStatus::Error => summary.errors += 1,
                    _ => {}
                }
                on_event(RunEvent::Finished {
                    episode_id,
                    end: Box::new(end),
                });
            }
            EpisodeOutcome::Interrupted { .. } => {
                summary.interrupted += 1;
                on_event(RunEvent::Interrupted { episode_id });
            }
        }
    }
    Ok(summary)
}
