//! Re-running the model under a candidate harness: the [`Evaluator`] trait
//! (the CLI implements it over the store, so a re-run is a recorded run
//! that `--resume` can finish) and [`LocalEvaluator`], which plays episodes
//! in memory through the runtime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lifeharness_core::{
    EnvironmentFactory, EpisodeEnd, EpisodeHeader, Layer, Model, SinkError, Step, Task, Trajectory,
    TrajectorySink,
};
use lifeharness_diagnose::Recorded;
use lifeharness_rules::Harness;
use lifeharness_runtime::{EpisodeSpec, RuntimeConfig, episode_seed, run_many};
use tokio_util::sync::CancellationToken;

use crate::error::EvolveError;

/// One re-run the gate asks for.
#[derive(Debug, Clone)]
pub struct EvalRequest {
    /// A key unique within the evolution (the same request on resume has the same key).
    pub key: String,
    /// The harness to run under.
    pub harness: Harness,
    /// The tasks.
    pub task_ids: Vec<String>,
    /// Trials per task.
    pub trials: u32,
}

/// The episodes of one re-run.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Where they are recorded (a run id, or `memory`).
    pub run_id: String,
    /// The episodes.
    pub episodes: Vec<Recorded>,
    /// Seconds spent in model calls (the sum of the turns' latencies).
    pub model_seconds: f64,
}

/// Seconds spent in model calls in `trajectories`.
pub fn model_seconds(trajectories: &[Trajectory]) -> f64 {
    trajectories
        .iter()
        .flat_map(|t| &t.steps)
        .filter_map(|s| s.turn.as_ref())
        .map(|t| t.latency_ms / 1000.0)
        .sum()
}

/// Plays the model under a harness.
#[async_trait]
pub trait Evaluator: Send + Sync {
    /// The model's spec (recorded in the lineage).
    fn model_spec(&self) -> String;

    /// Plays `request` and returns its episodes.
    async fn evaluate(&self, request: &EvalRequest) -> Result<Evaluation, EvolveError>;
}

/// Collects trajectories in memory.
#[derive(Default)]
pub struct MemorySink {
    episodes: Mutex<HashMap<String, Trajectory>>,
}

impl MemorySink {
    /// Takes every finished trajectory out, in episode id order.
    pub fn take(&self) -> Vec<Trajectory> {
        let mut out: Vec<Trajectory> = self
            .episodes
            .lock()
            .map(|mut m| m.drain().map(|(_, t)| t).collect())
            .unwrap_or_default();
        out.sort_by(|a, b| a.header.episode_id.cmp(&b.header.episode_id));
        out
    }
}

fn poisoned() -> SinkError {
    SinkError("memory sink poisoned".to_string())
}

#[async_trait]
impl TrajectorySink for MemorySink {
    async fn begin_episode(&self, header: &EpisodeHeader) -> Result<(), SinkError> {
        self.episodes
            .lock()
            .map_err(|_| poisoned())?
            .insert(header.episode_id.clone(), Trajectory::new(header.clone()));
        Ok(())
    }

    async fn record_step(&self, _: &str, episode_id: &str, step: &Step) -> Result<(), SinkError> {
        if let Some(t) = self
            .episodes
            .lock()
            .map_err(|_| poisoned())?
            .get_mut(episode_id)
        {
            t.steps.push(step.clone());
        }
        Ok(())
    }

    async fn end_episode(
        &self,
        _: &str,
        episode_id: &str,
        end: &EpisodeEnd,
    ) -> Result<(), SinkError> {
        if let Some(t) = self
            .episodes
            .lock()
            .map_err(|_| poisoned())?
            .get_mut(episode_id)
        {
            t.end = Some(end.clone());
        }
        Ok(())
    }
}

/// The runtime settings a harness asks for (capped by the benchmark's round limit).
pub fn runtime_config(harness: &Harness, factory: &dyn EnvironmentFactory) -> RuntimeConfig {
    let round_limit = factory
        .info()
        .config
        .get("round_limit")
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| usize::try_from(n).ok());
    RuntimeConfig {
        max_steps: round_limit.map_or(harness.runtime.max_steps, |l| {
            l.min(harness.runtime.max_steps)
        }),
        max_blocked_per_step: harness.runtime.max_blocked_per_step,
        on_block_budget: harness.runtime.on_block_budget,
        on_fault: harness.runtime.on_fault,
        observe_only: harness.observe_only,
        constrained_decoding: None,
        guided_decoding: None,
    }
}

/// Plays episodes in memory (tests, and offline experiments).
pub struct LocalEvaluator {
    /// The model.
    pub model: Arc<dyn Model>,
    /// The environment.
    pub factory: Arc<dyn EnvironmentFactory>,
    /// The run seed.
    pub seed: u64,
    /// Episodes at once.
    pub concurrency: usize,
    /// Overrides the harness's step limit.
    pub max_steps: Option<usize>,
}

#[async_trait]
impl Evaluator for LocalEvaluator {
    fn model_spec(&self) -> String {
        self.model.info().spec
    }

    async fn evaluate(&self, request: &EvalRequest) -> Result<Evaluation, EvolveError> {
        let compiled = Arc::new(lifeharness_rules::CompiledHarness::compile(
            request.harness.clone(),
            None,
            &request.key,
        )?);
        let layers: Arc<[Arc<dyn Layer>]> = Arc::from(lifeharness_layers::build(&compiled));
        let mut config = runtime_config(&compiled.harness, self.factory.as_ref());
        if let Some(n) = self.max_steps {
            config.max_steps = n;
        }
        let info = Arc::new(compiled.harness.info());
        let env = self.factory.info();
        let tasks: Vec<Task> = request
            .task_ids
            .iter()
            .map(|id| self.factory.task(id))
            .collect::<Result<_, _>>()
            .map_err(|e| EvolveError::Evaluation(e.to_string()))?;
        let jobs: Vec<EpisodeSpec> = (0..request.trials)
            .flat_map(|trial| tasks.iter().map(move |task| (trial, task)))
            .map(|(trial, task)| EpisodeSpec {
                run_id: request.key.clone(),
                episode_id: format!("{}/{trial}", task.id),
                task: task.clone(),
                trial,
                attempt: 0,
                seed: episode_seed(self.seed, &task.id, trial),
                environment: env.clone(),
                harness: Arc::clone(&info),
                config: config.clone(),
            })
            .collect();
        let sink = Arc::new(MemorySink::default());
        run_many(
            jobs,
            Arc::clone(&self.model),
            Arc::clone(&self.factory),
            layers,
            sink.clone(),
            self.concurrency,
            CancellationToken::new(),
            &|_| {},
        )
        .await
        .map_err(|e| EvolveError::Evaluation(e.to_string()))?;
        let trajectories = sink.take();
        Ok(Evaluation {
            run_id: format!("memory:{}", request.key),
            episodes: trajectories.iter().map(Recorded::from_trajectory).collect(),
            model_seconds: model_seconds(&trajectories),
        })
    }
}
