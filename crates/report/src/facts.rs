//! What a report needs of one episode, computed once from its trajectory
//! (diagnosis included) and cached in the store's `episode_facts` table, so
//! that a report over a hundred thousand episodes reads small rows instead
//! of rebuilding and diagnosing every trajectory again.

use std::collections::{HashMap, HashSet};

use lifeharness_core::{
    ActionStats, EnvironmentFactory, ExitStatus, ModelErrorKind, Trajectory, VerdictKind,
};
use lifeharness_diagnose::{Recorded, diagnose};
use lifeharness_store::Store;
use serde::{Deserialize, Serialize};

use crate::ReportError;

/// The version of [`EpisodeFacts`]; cached facts of another version are
/// computed again.
pub const FACTS_VERSION: i64 = 1;

/// One finished episode, as a report counts it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpisodeFacts {
    /// The task.
    pub task_id: String,
    /// The trial.
    pub trial: u32,
    /// The exit status (`success`, `failure`, `loop`, `budget`, `error`).
    pub exit: String,
    /// Solved.
    pub success: bool,
    /// The reward, when the episode was scored.
    pub reward: Option<f64>,
    /// Model turns.
    pub steps: usize,
    /// What became of the model's actions.
    pub actions: ActionStats,
    /// Nudges the regulation layer injected (soft recovery).
    pub nudges: usize,
    /// Directives (hard recovery).
    pub directives: usize,
    /// Annotations appended to tool results.
    pub annotations: usize,
    /// Steps that ended in a context overflow.
    pub context_overflows: usize,
    /// Other backend failures.
    pub backend_errors: usize,
    /// Prompt tokens over the episode.
    pub prompt_tokens: u64,
    /// Completion tokens over the episode.
    pub completion_tokens: u64,
    /// Seconds from start to end, when both times are recorded.
    pub wall_s: Option<f64>,
    /// Seconds spent in model calls.
    pub model_s: f64,
    /// The diagnosed bottleneck of a failed episode (snake_case category).
    pub category: Option<String>,
}

fn seconds_between(start: &str, end: &str) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let a = time::OffsetDateTime::parse(start, &Rfc3339).ok()?;
    let b = time::OffsetDateTime::parse(end, &Rfc3339).ok()?;
    Some((b - a).as_seconds_f64().max(0.0))
}

impl EpisodeFacts {
    /// The facts of a finished trajectory; `factory` is its environment,
    /// for diagnosis (without it diagnosis uses what the trajectory records).
    /// `None` when the episode did not finish.
    pub fn of(
        trajectory: &Trajectory,
        factory: Option<&dyn EnvironmentFactory>,
    ) -> Result<Option<Self>, ReportError> {
        let Some(end) = &trajectory.end else {
            return Ok(None);
        };
        let mut facts = Self {
            task_id: trajectory.header.task.id.clone(),
            trial: trajectory.header.trial,
            exit: end.exit.as_str().to_string(),
            success: end.exit == ExitStatus::Success,
            reward: end.reward.as_ref().and_then(|r| r.value),
            steps: trajectory.steps.len(),
            actions: ActionStats::of(&trajectory.steps),
            prompt_tokens: end.usage.prompt_tokens,
            completion_tokens: end.usage.completion_tokens,
            wall_s: seconds_between(&trajectory.header.started_at, &end.finished_at),
            model_s: end.model_latency_ms / 1000.0,
            ..Self::default()
        };
        for step in &trajectory.steps {
            match step.model_error.as_ref().map(|e| e.kind) {
                Some(ModelErrorKind::ContextOverflow) => facts.context_overflows += 1,
                Some(_) => facts.backend_errors += 1,
                None => {}
            }
            for event in step.events.iter().filter(|e| !e.observe_only) {
                match event.verdict {
                    VerdictKind::Nudge => facts.nudges += 1,
                    VerdictKind::Directive => facts.directives += 1,
                    _ => {}
                }
            }
            for action in &step.actions {
                if let Some(observation) = &action.observation {
                    facts.annotations += observation.notes.len();
                }
            }
        }
        if !facts.success {
            let recorded = Recorded::from_trajectory(trajectory);
            let diagnosis = diagnose(factory, &recorded)
                .map_err(|e| ReportError::Input(format!("diagnosing: {e}")))?;
            facts.category = diagnosis.category.map(|c| c.as_str().to_string());
        }
        Ok(Some(facts))
    }
}

/// How [`load`] went: episodes read from the cache, computed, and left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LoadCounts {
    /// Facts read from the cache.
    pub cached: usize,
    /// Facts computed (and cached) now.
    pub computed: usize,
    /// Episodes that did not finish (interrupted or running): not counted.
    pub unfinished: usize,
    /// Finished episodes superseded by a later attempt of the same task and trial.
    pub superseded: usize,
}

/// The facts of every finished episode of `run_id` (one per task and trial:
/// the last finished attempt), from the cache where it holds them,
/// otherwise computed and written back. `factory` finds an environment by
/// name for diagnosis; `progress` is called once per episode.
pub fn load(
    store: &Store,
    run_id: &str,
    factory: &dyn Fn(&str) -> Option<std::sync::Arc<dyn EnvironmentFactory>>,
    progress: &dyn Fn(),
    counts: &mut LoadCounts,
) -> Result<Vec<EpisodeFacts>, ReportError> {
    let rows = store.episodes(run_id)?;
    let mut cached = store.episode_facts(run_id)?;
    let mut out: Vec<EpisodeFacts> = Vec::with_capacity(rows.len());
    let mut fresh = Vec::new();
    let mut factories: HashMap<String, Option<std::sync::Arc<dyn EnvironmentFactory>>> =
        HashMap::new();
    for row in &rows {
        progress();
        if row.status != "finished" {
            counts.unfinished += 1;
            continue;
        }
        if let Some((version, value)) = cached.remove(&row.episode_id)
            && version == FACTS_VERSION
            && let Ok(facts) = serde_json::from_value::<EpisodeFacts>(value)
        {
            counts.cached += 1;
            out.push(facts);
            continue;
        }
        let trajectory = store.trajectory(run_id, &row.episode_id)?;
        let env = if trajectory.header.environment.name.is_empty() {
            trajectory.header.task.environment.clone()
        } else {
            trajectory.header.environment.name.clone()
        };
        let env_factory = factories
            .entry(env.clone())
            .or_insert_with(|| factory(&env))
            .clone();
        let Some(facts) = EpisodeFacts::of(&trajectory, env_factory.as_deref())? else {
            counts.unfinished += 1;
            continue;
        };
        counts.computed += 1;
        let value = serde_json::to_value(&facts)
            .map_err(|e| ReportError::Input(format!("episode {}: {e}", row.episode_id)))?;
        fresh.push((
            run_id.to_string(),
            row.episode_id.clone(),
            FACTS_VERSION,
            value,
        ));
        out.push(facts);
    }
    if !fresh.is_empty() {
        store.save_episode_facts(&fresh)?;
    }
    // Resumed runs can hold several finished attempts of one task and
    // trial only if an attempt finished after being marked interrupted;
    // keep the last.
    let mut seen: HashSet<(String, u32)> = HashSet::new();
    let before = out.len();
    let mut kept: Vec<EpisodeFacts> = out
        .into_iter()
        .rev()
        .filter(|f| seen.insert((f.task_id.clone(), f.trial)))
        .collect();
    kept.reverse();
    counts.superseded += before - kept.len();
    Ok(kept)
}
