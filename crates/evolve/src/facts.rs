//! What evolution learns from: every executed call of the training
//! episodes and of the reference solutions, replayed with state, plus
//! counterfactual variants of reference calls executed in fresh copies of
//! the environment.

use std::collections::{BTreeMap, BTreeSet};

use lifeharness_core::{Action, EnvironmentFactory, ErrorMeaning, Task, ToolCall};
use lifeharness_diagnose::{Recorded, Replayer};
use lifeharness_rules::parse_result;
use serde_json::Value;

use crate::error::EvolveError;

/// Where a fact comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A recorded episode of the model (index into the training episodes).
    Episode(usize),
    /// A task's reference solution (index into the references).
    Reference(usize),
    /// A perturbed reference call (index into the references).
    Counterfactual(usize),
}

/// An earlier call, as rule examples record it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prior {
    /// The tool.
    pub tool: String,
    /// Its arguments.
    pub args: Value,
    /// Whether it ran without an error.
    pub ok: bool,
    /// Its parsed result.
    pub result: Value,
}

/// One executed call.
#[derive(Debug, Clone)]
pub struct CallFact {
    /// Where it comes from.
    pub origin: Origin,
    /// `run/episode#step`, for evidence.
    pub evidence: String,
    /// The task.
    pub task_id: String,
    /// The step.
    pub step: usize,
    /// The call.
    pub tool: String,
    /// Its arguments (an object, or null when unparsable).
    pub args: Value,
    /// Whether the environment ran it without an error.
    pub ok: bool,
    /// The result text.
    pub output: String,
    /// What the error means, when the environment knows.
    pub meaning: Option<ErrorMeaning>,
    /// Whether the episode succeeded (references: yes; counterfactuals: unknown).
    pub success: Option<bool>,
    /// Earlier executed calls of the episode, oldest first.
    pub prior: Vec<Prior>,
    /// State records an argument names, before the call: `(arg, collection) -> record`.
    pub bound: BTreeMap<(String, String), Value>,
}

/// Everything learned from replays.
#[derive(Debug, Default)]
pub struct Facts {
    /// Executed calls.
    pub calls: Vec<CallFact>,
    /// Text actions (messages) by origin: `(origin, step)`.
    pub messages: Vec<(Origin, usize)>,
    /// Episodes the environment could not replay (e.g. a task's set-up
    /// failed in this sandbox), with why: their facts end where it failed.
    pub unreplayable: Vec<String>,
}

/// Whether an error is the environment failing to replay one episode (which
/// skips that episode) rather than a fault of the evolution.
pub(crate) fn unreplayable(e: &EvolveError) -> bool {
    matches!(
        e,
        EvolveError::Diagnose(lifeharness_diagnose::DiagnoseError::Env { .. })
    )
}

impl Facts {
    /// Calls from successful episodes and reference solutions.
    pub fn legit(&self) -> impl Iterator<Item = &CallFact> {
        self.calls
            .iter()
            .filter(|c| c.success == Some(true) && !matches!(c.origin, Origin::Counterfactual(_)))
    }
}

fn bind(
    call: &ToolCall,
    collections: &[String],
    state: Option<&dyn lifeharness_core::StateView>,
) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    let (Some(state), Some(Value::Object(args))) = (state, call.args()) else {
        return out;
    };
    for (name, value) in args {
        let Value::String(key) = value else { continue };
        if key.is_empty() || key.contains('/') {
            continue;
        }
        for collection in collections {
            if let Some(record) = state.lookup(&[collection.as_str(), key.as_str()])
                && record.is_object()
            {
                out.insert((name.clone(), collection.clone()), record);
            }
        }
    }
    out
}

struct Walk<'a> {
    factory: &'a dyn EnvironmentFactory,
    collections: Vec<String>,
}

impl Walk<'_> {
    /// Replays `episode`, adding a fact per executed call.
    async fn episode(
        &self,
        episode: &Recorded,
        origin: Origin,
        facts: &mut Facts,
    ) -> Result<(), EvolveError> {
        let mut replay = Replayer::start(
            self.factory,
            &episode.task,
            episode.seed,
            &episode.context(),
        )
        .await?;
        let mut prior: Vec<Prior> = Vec::new();
        for recorded in &episode.actions {
            let Some(action) = &recorded.executed else {
                replay.skip(recorded.step, &recorded.proposed);
                continue;
            };
            let call = self.factory.interpret_action(action);
            let bound = call
                .as_ref()
                .map(|c| bind(c, &self.collections, replay.view(recorded.step).state))
                .unwrap_or_default();
            let Some(observation) = replay
                .execute(recorded.step, action, recorded.observation.as_ref())
                .await?
            else {
                break;
            };
            let Some(call) = call else {
                if matches!(action, Action::Message { .. }) {
                    facts.messages.push((origin, recorded.step));
                }
                continue;
            };
            let output = observation.content.to_string();
            let ok = !observation.is_error;
            let meaning = (!ok)
                .then(|| self.factory.explain_error(&call.name, &output))
                .flatten();
            let args = call.args().cloned().unwrap_or(Value::Null);
            facts.calls.push(CallFact {
                origin,
                evidence: format!(
                    "{}/{}#{}",
                    episode.run_id, episode.episode_id, recorded.step
                ),
                task_id: episode.task.id.clone(),
                step: recorded.step,
                tool: call.name.clone(),
                args: args.clone(),
                ok,
                output: output.clone(),
                meaning,
                success: episode.success,
                prior: prior.clone(),
                bound,
            });
            prior.push(Prior {
                tool: call.name.clone(),
                args,
                ok,
                result: parse_result(&output),
            });
        }
        Ok(())
    }

    /// Perturbs each state-changing reference call: its id-like arguments
    /// take other values seen for the same argument, and each variant runs
    /// after the reference prefix in a fresh environment.
    async fn counterfactuals(
        &self,
        references: &[Recorded],
        pool: &BTreeMap<(String, String), BTreeSet<String>>,
        per_call: usize,
        facts: &mut Facts,
    ) -> Result<(), EvolveError> {
        for (r, reference) in references.iter().enumerate() {
            for (i, recorded) in reference.actions.iter().enumerate() {
                let Some(call) = recorded.executed.as_ref().and_then(Action::as_tool_call) else {
                    continue;
                };
                if self.factory.writes_state(&call.name) != Some(true) {
                    continue;
                }
                let Some(Value::Object(args)) = call.args() else {
                    continue;
                };
                let mut variants = Vec::new();
                for (name, value) in args {
                    let Value::String(current) = value else {
                        continue;
                    };
                    let Some(values) = pool.get(&(call.name.clone(), name.clone())) else {
                        continue;
                    };
                    // A different, stable sample per reference, so the
                    // variants reach records in many different states.
                    let mut others: Vec<&String> =
                        values.iter().filter(|v| *v != current).collect();
                    others.sort_by_key(|v| spread(&reference.task.id, i, v));
                    for other in others.into_iter().take(per_call) {
                        let mut changed = args.clone();
                        changed.insert(name.clone(), Value::String(other.clone()));
                        variants.push(Value::Object(changed));
                    }
                }
                for (v, variant) in variants.into_iter().enumerate() {
                    let Ok(mut replay) = Replayer::start(
                        self.factory,
                        &reference.task,
                        reference.seed,
                        &reference.context(),
                    )
                    .await
                    else {
                        continue;
                    };
                    let mut prior = Vec::new();
                    let mut alive = true;
                    for earlier in &reference.actions[..i] {
                        let Some(action) = &earlier.executed else {
                            continue;
                        };
                        let Some(obs) = replay.execute(earlier.step, action, None).await? else {
                            alive = false;
                            break;
                        };
                        if let Some(c) = action.as_tool_call() {
                            prior.push(Prior {
                                tool: c.name.clone(),
                                args: c.args().cloned().unwrap_or(Value::Null),
                                ok: !obs.is_error,
                                result: parse_result(&obs.content),
                            });
                        }
                    }
                    if !alive {
                        continue;
                    }
                    let perturbed =
                        ToolCall::from_value(format!("cf_{v}"), call.name.clone(), variant.clone());
                    let bound = bind(&perturbed, &self.collections, replay.view(i).state);
                    let Some(obs) = replay
                        .execute(i, &Action::ToolCall(perturbed.clone()), None)
                        .await?
                    else {
                        continue;
                    };
                    let output = obs.content.to_string();
                    let ok = !obs.is_error;
                    facts.calls.push(CallFact {
                        origin: Origin::Counterfactual(r),
                        evidence: format!("counterfactual/{}#{i}.{v}", reference.task.id),
                        task_id: reference.task.id.clone(),
                        step: i,
                        tool: call.name.clone(),
                        args: variant,
                        ok,
                        meaning: (!ok)
                            .then(|| self.factory.explain_error(&call.name, &output))
                            .flatten(),
                        output,
                        success: None,
                        prior,
                        bound,
                    });
                }
            }
        }
        Ok(())
    }
}

/// A stable pseudo-random key of a value for one reference call (FNV-1a).
fn spread(task: &str, step: usize, value: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in task.bytes().chain(step.to_le_bytes()).chain(value.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The reference solutions of `tasks`, as recorded episodes.
pub fn references(
    factory: &dyn EnvironmentFactory,
    tasks: &[Task],
) -> Result<Vec<Recorded>, EvolveError> {
    let mut out = Vec::new();
    for task in tasks {
        if let Some(actions) = factory
            .reference_actions(task)
            .map_err(|e| EvolveError::Input(format!("reference of task {}: {e}", task.id)))?
            && !actions.is_empty()
        {
            out.push(Recorded::reference(task, actions));
        }
    }
    Ok(out)
}

/// Replays the episodes and references, then explores counterfactuals
/// (`per_call` variants per id-like argument of each reference write).
pub async fn collect(
    factory: &dyn EnvironmentFactory,
    episodes: &[Recorded],
    references: &[Recorded],
    per_call: usize,
) -> Result<Facts, EvolveError> {
    let walk = Walk {
        factory,
        collections: factory.state_collections(),
    };
    let mut facts = Facts::default();
    let runs = episodes
        .iter()
        .enumerate()
        .map(|(i, e)| (e, Origin::Episode(i)))
        .chain(
            references
                .iter()
                .enumerate()
                .map(|(i, r)| (r, Origin::Reference(i))),
        );
    for (episode, origin) in runs {
        if let Err(e) = walk.episode(episode, origin, &mut facts).await {
            if !unreplayable(&e) {
                return Err(e);
            }
            facts.unreplayable.push(e.to_string());
        }
    }
    if per_call > 0 && !walk.collections.is_empty() {
        // Values seen per (tool, argument) that name a state record.
        let mut pool: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for fact in &facts.calls {
            for (arg, _) in fact.bound.keys() {
                if let Some(Value::String(v)) = fact.args.get(arg) {
                    pool.entry((fact.tool.clone(), arg.clone()))
                        .or_default()
                        .insert(v.clone());
                }
            }
        }
        // Any id of the same collection fits any tool's argument of that collection.
        let mut by_collection: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for fact in &facts.calls {
            for (arg, collection) in fact.bound.keys() {
                if let Some(Value::String(v)) = fact.args.get(arg) {
                    by_collection
                        .entry(collection.clone())
                        .or_default()
                        .insert(v.clone());
                }
            }
        }
        for fact in &facts.calls {
            for (arg, collection) in fact.bound.keys() {
                if let Some(ids) = by_collection.get(collection) {
                    pool.entry((fact.tool.clone(), arg.clone()))
                        .or_default()
                        .extend(ids.iter().cloned());
                }
            }
        }
        walk.counterfactuals(references, &pool, per_call, &mut facts)
            .await?;
    }
    Ok(facts)
}
