//! Many episodes at once, with a concurrency bound and clean cancellation.

use std::sync::Arc;

use futures::StreamExt;
use lifeharness_core::{EnvironmentFactory, EpisodeEnd, ExitStatus, Layer, Model, TrajectorySink};
use tokio_util::sync::CancellationToken;

use crate::episode::{EpisodeOutcome, EpisodeSpec, RuntimeError, run_episode};

/// One episode to play.
pub type EpisodeJob = EpisodeSpec;

/// A spawned episode that is aborted if `run_many` stops waiting for it (its
/// caller dropped it, or another episode failed), as an episode future
/// polled in place would be dropped.
struct Abortable<T>(tokio::task::JoinHandle<T>);

impl<T> Future for Abortable<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for Abortable<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

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
/// Each episode runs as a task of its own (on a multi-threaded runtime,
/// episodes run in parallel); a panic in one is resumed here.
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
                let episode_id = job.episode_id.clone();
                on_event(RunEvent::Started {
                    episode_id: episode_id.clone(),
                });
                // Each episode is a task of its own, so episodes use every
                // worker thread rather than taking turns on this one.
                let task = Abortable(tokio::spawn(async move {
                    let env = factory.create().map_err(RuntimeError::Env)?;
                    run_episode(&job, model.as_ref(), env, &layers, sink.as_ref(), &cancel).await
                }));
                let outcome = match task.await {
                    Ok(outcome) => outcome,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    // Cancelled: the runtime is shutting down.
                    Err(_) => Ok(EpisodeOutcome::Interrupted { steps: 0 }),
                };
                (episode_id, outcome)
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use lifeharness_core::{
        ChatRequest, EpisodeHeader, HarnessInfo, ModelError, ModelErrorKind, ModelInfo, ModelTurn,
        SinkError, Step,
    };
    use lifeharness_env_toy::ToyFactory;

    use super::*;
    use crate::RuntimeConfig;

    /// A model whose every call fails (each episode ends after one step).
    struct Failing;

    #[async_trait::async_trait]
    impl Model for Failing {
        fn info(&self) -> ModelInfo {
            ModelInfo::default()
        }

        async fn chat(&self, _: &ChatRequest) -> Result<ModelTurn, ModelError> {
            tokio::task::yield_now().await;
            Err(ModelError::new(ModelErrorKind::Internal, "no model"))
        }
    }

    /// Records how far job building ran ahead of finished episodes.
    #[derive(Default)]
    struct Counting {
        built: Arc<AtomicUsize>,
        ended: AtomicUsize,
        most_ahead: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl TrajectorySink for Counting {
        async fn begin_episode(&self, _: &EpisodeHeader) -> Result<(), SinkError> {
            let ahead = self.built.load(Ordering::SeqCst) - self.ended.load(Ordering::SeqCst);
            self.most_ahead.fetch_max(ahead, Ordering::SeqCst);
            Ok(())
        }

        async fn record_step(&self, _: &str, _: &str, _: &Step) -> Result<(), SinkError> {
            Ok(())
        }

        async fn end_episode(&self, _: &str, _: &str, _: &EpisodeEnd) -> Result<(), SinkError> {
            self.ended.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_are_built_only_as_episode_slots_free_up() {
        let factory = ToyFactory::default();
        let task = factory.tasks("all").unwrap()[0].clone();
        let environment = factory.info();
        let harness = Arc::new(HarnessInfo::default());
        let sink = Arc::new(Counting::default());
        let built = Arc::clone(&sink.built);
        let jobs = (0..200u32).map(move |trial| {
            built.fetch_add(1, Ordering::SeqCst);
            EpisodeSpec {
                run_id: "r".into(),
                episode_id: format!("{}/{trial}", task.id),
                task: task.clone(),
                trial,
                attempt: 0,
                seed: u64::from(trial),
                environment: environment.clone(),
                harness: Arc::clone(&harness),
                config: RuntimeConfig::default(),
            }
        });
        let summary = run_many(
            jobs,
            Arc::new(Failing),
            Arc::new(factory),
            Arc::from(Vec::<Arc<dyn Layer>>::new()),
            sink.clone(),
            4,
            CancellationToken::new(),
            &|_| {},
        )
        .await
        .unwrap();
        assert_eq!((summary.finished, summary.errors), (200, 200));
        let ahead = sink.most_ahead.load(Ordering::SeqCst);
        assert!(ahead <= 4, "{ahead} jobs were built ahead of the 4 slots");
    }
}
