//! One episode: the loop model -> layers -> environment -> trajectory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use lifeharness_core::{
    Action, ActionRecord, ChatRequest, ContextPolicy, DecodingGuide, EnvError, EnvInfo,
    Environment, EpisodeEnd, EpisodeHeader, EpisodeSetup, EpisodeView, ExitStatus, FailureKind,
    HarnessInfo, HistoryEntry, HookPoint, Layer, LayerEvent, Message, Model, ModelTurn,
    ObservationSource, Reward, SinkError, Step, Task, TrajectorySink, Usage, VerdictKind,
};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span};

use crate::config::RuntimeConfig;
use crate::stack::{ActionDecision, judge_action, judge_feedback, prepare};
use lifeharness_core::{BlockPolicy, FaultPolicy};

/// Everything that identifies one episode.
#[derive(Debug, Clone)]
pub struct EpisodeSpec {
    /// The run.
    pub run_id: String,
    /// The episode id (unique within the run).
    pub episode_id: String,
    /// The task.
    pub task: Task,
    /// The trial number.
    pub trial: u32,
    /// The attempt number (a resumed run starts a new attempt for unfinished episodes).
    pub attempt: u32,
    /// The episode seed (see [`crate::episode_seed`]).
    pub seed: u64,
    /// The environment description.
    pub environment: EnvInfo,
    /// The harness description, shared by every episode of a run (its
    /// configuration can be large; the episodes must not each hold a copy).
    pub harness: Arc<HarnessInfo>,
    /// Budgets and switches.
    pub config: RuntimeConfig,
}

/// How a call to [`run_episode`] came back.
#[derive(Debug, Clone, PartialEq)]
pub enum EpisodeOutcome {
    /// The episode ended; its end is recorded.
    Finished(EpisodeEnd),
    /// The run was cancelled before the episode ended; its finished steps are recorded.
    Interrupted {
        /// Steps recorded before the interruption.
        steps: usize,
    },
}

/// A failure of the runtime itself (not of the model, environment or layers,
/// which end the episode with an exit status instead).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The trajectory sink failed: stop rather than lose data.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// An environment could not be created for an episode.
    #[error("cannot create environment: {0}")]
    Env(EnvError),
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The state of one episode in progress.
struct Run<'a> {
    spec: &'a EpisodeSpec,
    layers: &'a [Arc<dyn Layer>],
    sink: &'a dyn TrajectorySink,
    env: Box<dyn Environment>,
    /// The next request to the model: the conversation so far and the
    /// tools, kept here and updated in place (copying them every turn cost
    /// more than the layers' work).
    request: ChatRequest,
    history: Vec<HistoryEntry>,
    past_events: Vec<LayerEvent>,
    usage: Usage,
    latency_ms: f64,
    consecutive_blocks: usize,
    steps: usize,
    /// Whether each turn's decoding is guided by the layers.
    guided: bool,
    /// The summary of the last recorded guide (a guide event is recorded
    /// when it changes).
    last_guide: Option<String>,
    /// The context budget, if the harness sets one.
    policy: Option<ContextPolicy>,
    /// The prompt budget in tokens (from the policy and the model's window).
    budget: Option<usize>,
    /// Sticky abbreviations of older tool results (message index -> text).
    trims: BTreeMap<usize, String>,
    /// The commands the environment admits now, where it lists them.
    admissible: Option<Vec<String>>,
    /// Events of the coming turn recorded before it (guide, context).
    pending: Vec<LayerEvent>,
}

/// How one step ended.
enum StepEnd {
    Continue,
    Exit(ExitStatus, Option<FailureKind>, String),
    Done,
}

/// Plays one episode of `spec.task` with `model` in `env` under `layers`,
/// writing every step to `sink` as it happens.
pub async fn run_episode(
    spec: &EpisodeSpec,
    model: &dyn Model,
    env: Box<dyn Environment>,
    layers: &[Arc<dyn Layer>],
    sink: &dyn TrajectorySink,
    cancel: &CancellationToken,
) -> Result<EpisodeOutcome, RuntimeError> {
    let span =
        info_span!("episode", run = %spec.run_id, episode = %spec.episode_id, task = %spec.task.id);
    async move {
        let outcome = play(spec, model, env, layers, sink, cancel).await;
        model.end_session(&spec.episode_id);
        outcome
    }
    .instrument(span)
    .await
}

async fn play(
    spec: &EpisodeSpec,
    model: &dyn Model,
    mut env: Box<dyn Environment>,
    layers: &[Arc<dyn Layer>],
    sink: &dyn TrajectorySink,
    cancel: &CancellationToken,
) -> Result<EpisodeOutcome, RuntimeError> {
    let reset = env.reset(&spec.task, spec.seed).await;
    let mut setup = EpisodeSetup {
        task: spec.task.clone(),
        system_text: env.system_text(),
        tools: env.tools(),
    };
    let prepared = match &reset {
        Ok(_) => prepare(layers, &mut setup, spec.config.observe_only),
        Err(_) => Ok(Vec::new()),
    };
    let (events, prepare_fault) = match prepared {
        Ok(events) => (events, None),
        Err(events) => {
            let message = events
                .last()
                .and_then(|e| e.message.clone())
                .unwrap_or_default();
            // The layers may have half-applied the harness: the header
            // records what the environment offered instead.
            setup.system_text = env.system_text();
            (events, Some(message))
        }
    };
    let header = EpisodeHeader {
        run_id: spec.run_id.clone(),
        episode_id: spec.episode_id.clone(),
        task: spec.task.clone(),
        trial: spec.trial,
        attempt: spec.attempt,
        seed: spec.seed,
        environment: spec.environment.clone(),
        model: model.info(),
        harness: Arc::clone(&spec.harness),
        system_text: setup.system_text.clone(),
        events: events.clone(),
        started_at: now_rfc3339(),
    };
    sink.begin_episode(&header).await?;
    let opening = match reset {
        Ok(opening) => opening,
        Err(err) => {
            let end = end_record(
                ExitStatus::Error,
                Some(FailureKind::EnvironmentError),
                format!("reset failed: {err}"),
                None,
                0,
                Usage::default(),
                0.0,
            );
            sink.end_episode(&spec.run_id, &spec.episode_id, &end)
                .await?;
            return Ok(EpisodeOutcome::Finished(end));
        }
    };
    if let Some(message) = prepare_fault {
        let end = end_record(
            ExitStatus::Error,
            Some(FailureKind::HarnessFault),
            format!("harness failed before the episode: {message}"),
            None,
            0,
            Usage::default(),
            0.0,
        );
        sink.end_episode(&spec.run_id, &spec.episode_id, &end)
            .await?;
        return Ok(EpisodeOutcome::Finished(end));
    }
    let mut messages = vec![Message::system(setup.system_text.clone())];
    messages.extend(opening);
    let constrain_tool_calls = match spec.config.constrained_decoding {
        Some(forced) => forced,
        None => layers.iter().any(|l| l.wants_constrained_decoding()) && !spec.config.observe_only,
    };
    let guided = constrain_tool_calls
        && !spec.config.observe_only
        && spec.config.guided_decoding.unwrap_or(true);
    let policy = if spec.config.observe_only {
        None
    } else {
        layers.iter().find_map(|l| l.context_policy())
    };
    let budget = policy
        .as_ref()
        .and_then(|p| crate::fit::budget_of(p, model.context_window()));
    let mut pending = Vec::new();
    if policy.is_some() && budget.is_none() {
        let mut event = LayerEvent::new("context", HookPoint::Runtime, VerdictKind::Trim);
        event.rule_id = Some(crate::fit::RULE.to_string());
        event.message = Some(
            "context budget 'auto' is off: the backend does not say its window; give the harness a token budget".to_string(),
        );
        pending.push(event);
    }
    let mut run = Run {
        spec,
        layers,
        sink,
        env,
        request: ChatRequest {
            messages,
            tools: setup.tools,
            constrain_tool_calls,
            seed: None,
            session: Some(spec.episode_id.clone()),
            guide: None,
        },
        history: Vec::new(),
        past_events: events,
        usage: Usage::default(),
        latency_ms: 0.0,
        consecutive_blocks: 0,
        steps: 0,
        guided,
        last_guide: None,
        policy,
        budget,
        trims: BTreeMap::new(),
        admissible: None,
        pending,
    };
    run.play(model, cancel).await
}

impl Run<'_> {
    async fn play(
        &mut self,
        model: &dyn Model,
        cancel: &CancellationToken,
    ) -> Result<EpisodeOutcome, RuntimeError> {
        for index in 0..self.spec.config.max_steps {
            if cancel.is_cancelled() {
                return Ok(EpisodeOutcome::Interrupted { steps: self.steps });
            }
            self.request.seed = Some(self.spec.seed.wrapping_add(index as u64));
            self.admissible = self.env.admissible_actions();
            if self.guided {
                self.guide(index);
            }
            let fitted = match (&self.policy, self.budget) {
                (Some(policy), Some(budget)) => {
                    let fitted = crate::fit::fit(
                        model,
                        &self.request,
                        policy,
                        budget,
                        &self.spec.task.instruction,
                        &mut self.trims,
                    )
                    .await;
                    self.pending.extend(fitted.event);
                    Some(fitted.request)
                }
                _ => None,
            };
            let prompt = fitted.as_ref().unwrap_or(&self.request);
            let started = Instant::now();
            let reply = tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    return Ok(EpisodeOutcome::Interrupted { steps: self.steps });
                }
                reply = model.chat(prompt) => reply,
            };
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            let end = match reply {
                Ok(mut turn) => {
                    if turn.latency_ms <= 0.0 {
                        turn.latency_ms = elapsed_ms;
                    }
                    self.usage.add(turn.usage);
                    self.latency_ms += turn.latency_ms;
                    let span = info_span!("step", index);
                    self.step(index, turn).instrument(span).await?
                }
                Err(err) => {
                    let step = Step {
                        index,
                        turn: None,
                        model_error: Some(err.clone()),
                        actions: Vec::new(),
                        injected: Vec::new(),
                        events: std::mem::take(&mut self.pending),
                    };
                    self.record(step).await?;
                    StepEnd::Exit(ExitStatus::Error, Some(err.failure_kind()), err.to_string())
                }
            };
            match end {
                StepEnd::Continue => {}
                StepEnd::Done => return self.finish(None).await,
                StepEnd::Exit(exit, failure, reason) => {
                    return self.finish(Some((exit, failure, reason))).await;
                }
            }
        }
        let reason = format!("step budget of {} turns spent", self.spec.config.max_steps);
        self.finish(Some((
            ExitStatus::Budget,
            Some(FailureKind::BudgetExceeded),
            reason,
        )))
        .await
    }

    /// Asks the layers for this turn's decoding guide and records it when it changed.
    fn guide(&mut self, index: usize) {
        let mut guide = DecodingGuide::default();
        let mut fault = None;
        {
            let view = EpisodeView {
                task: &self.spec.task,
                tools: &self.request.tools,
                history: &self.history,
                events: &self.past_events,
                step: index,
                max_steps: self.spec.config.max_steps,
                state: self.env.state(),
                state_version: self.env.state_version(),
                admissible: self.admissible.as_deref(),
            };
            for layer in self.layers {
                if let Err(err) = layer.guide(&view, &mut guide) {
                    // Decoding falls back to the schemas; realization still
                    // checks every action, so nothing unchecked runs.
                    fault = Some((layer.name().to_string(), err.0));
                    guide = DecodingGuide::default();
                    break;
                }
            }
        }
        if let Some((layer, message)) = fault {
            let mut event = LayerEvent::new(layer.as_str(), HookPoint::Runtime, VerdictKind::Fault);
            event.rule_id = Some(crate::stack::fault_rule(&layer));
            event.message = Some(format!(
                "decoding guide failed, schema-only this turn: {message}"
            ));
            self.pending.push(event);
        }
        let summary = guide.summary();
        if !guide.is_empty() && self.last_guide.as_deref() != Some(summary.as_str()) {
            let mut event = LayerEvent::new("decoding", HookPoint::Runtime, VerdictKind::Guide);
            event.rule_id = Some("decoding/guide".to_string());
            event.message = Some(summary.clone());
            self.pending.push(event);
        }
        self.last_guide = Some(summary);
        self.request.guide = (!guide.is_empty()).then_some(guide);
    }

    async fn record(&mut self, step: Step) -> Result<(), RuntimeError> {
        self.sink
            .record_step(&self.spec.run_id, &self.spec.episode_id, &step)
            .await?;
        self.past_events.extend(step.events.iter().cloned());
        self.steps += 1;
        Ok(())
    }

    /// Handles one model turn: judges and executes each of its actions.
    async fn step(&mut self, index: usize, turn: ModelTurn) -> Result<StepEnd, RuntimeError> {
        self.request.messages.push(turn.to_message());
        let actions: Vec<Action> = if turn.tool_calls.is_empty() {
            vec![Action::Message {
                content: turn.text.clone().unwrap_or_default(),
            }]
        } else {
            turn.tool_calls
                .iter()
                .cloned()
                .map(Action::ToolCall)
                .collect()
        };
        let mut step = Step {
            index,
            turn: Some(turn.clone()),
            model_error: None,
            actions: Vec::new(),
            injected: Vec::new(),
            events: std::mem::take(&mut self.pending),
        };
        let mut after = Vec::new();
        let mut end = StepEnd::Continue;
        for proposed in actions {
            if !matches!(end, StepEnd::Continue) {
                break;
            }
            let decision = {
                let view = EpisodeView {
                    task: &self.spec.task,
                    tools: &self.request.tools,
                    history: &self.history,
                    events: &self.past_events,
                    step: index,
                    max_steps: self.spec.config.max_steps,
                    state: self.env.state(),
                    state_version: self.env.state_version(),
                    admissible: self.admissible.as_deref(),
                };
                let observe_only = self.spec.config.observe_only;
                judge_action(
                    self.layers,
                    &view,
                    &turn,
                    &proposed,
                    observe_only,
                    &mut step.events,
                )
            };
            let to_execute = match decision {
                ActionDecision::Execute(action) => action,
                ActionDecision::Fault {
                    layer,
                    message,
                    action,
                } => match self.fault(&layer, &message, &proposed, &mut step) {
                    Some(end_now) => {
                        end = end_now;
                        continue;
                    }
                    None => action,
                },
                ActionDecision::Abort { kind, reason } => {
                    step.actions.push(ActionRecord {
                        proposed,
                        executed: None,
                        observation: None,
                        correction: None,
                        done: false,
                    });
                    let exit = if matches!(kind, FailureKind::Loop | FailureKind::Stagnation) {
                        ExitStatus::Loop
                    } else {
                        ExitStatus::Failure
                    };
                    end = StepEnd::Exit(exit, Some(kind), reason);
                    continue;
                }
                ActionDecision::Block { correction } => {
                    self.consecutive_blocks += 1;
                    if self.consecutive_blocks <= self.spec.config.max_blocked_per_step {
                        self.block(index, &proposed, correction, &mut step, &mut after);
                        continue;
                    }
                    let mut event =
                        LayerEvent::new("runtime", HookPoint::Runtime, VerdictKind::PassThrough);
                    event.failure = Some(FailureKind::BudgetExceeded);
                    match self.spec.config.on_block_budget {
                        BlockPolicy::PassThrough => {
                            event.message = Some(format!(
                                "block budget of {} spent: action passed through",
                                self.spec.config.max_blocked_per_step
                            ));
                            step.events.push(event);
                            proposed.clone()
                        }
                        BlockPolicy::Abort => {
                            event.verdict = VerdictKind::Abort;
                            let reason = format!(
                                "block budget of {} spent",
                                self.spec.config.max_blocked_per_step
                            );
                            event.message = Some(reason.clone());
                            step.events.push(event);
                            self.block(index, &proposed, correction, &mut step, &mut after);
                            end = StepEnd::Exit(
                                ExitStatus::Budget,
                                Some(FailureKind::BudgetExceeded),
                                reason,
                            );
                            continue;
                        }
                    }
                }
            };
            end = self
                .execute(index, proposed, to_execute, &mut step, &mut after)
                .await;
        }
        for (kind, text) in &after {
            let prefix = if *kind == VerdictKind::Directive {
                "[harness directive]"
            } else {
                "[harness]"
            };
            step.injected
                .push(Message::user(format!("{prefix} {text}")));
        }
        self.request.messages.extend(step.injected.iter().cloned());
        self.record(step).await?;
        Ok(end)
    }

    /// Applies the fault policy to an action a layer could not judge. The
    /// fault is never shown to the model and never counts as a block.
    /// Returns how the episode ends, or `None` when the action runs unchecked.
    fn fault(
        &mut self,
        layer: &str,
        message: &str,
        proposed: &Action,
        step: &mut Step,
    ) -> Option<StepEnd> {
        let mut event = LayerEvent::new("runtime", HookPoint::Runtime, VerdictKind::Unchecked);
        event.rule_id = Some("runtime/harness-fault".to_string());
        event.failure = Some(FailureKind::HarnessFault);
        if self.spec.config.observe_only {
            event.message = Some(format!(
                "layer '{layer}' failed ({message}); observe-only: the action ran unchecked"
            ));
            step.events.push(event);
            return None;
        }
        match self.spec.config.on_fault {
            FaultPolicy::AllowUnchecked => {
                event.message = Some(format!(
                    "layer '{layer}' failed ({message}); on_fault = allow_unchecked: the action ran unchecked"
                ));
                step.events.push(event);
                None
            }
            FaultPolicy::EndEpisode => {
                let reason = format!("harness fault in layer '{layer}': {message}");
                event.verdict = VerdictKind::Abort;
                event.message = Some(format!("{reason}; on_fault = end_episode"));
                step.events.push(event);
                step.actions.push(ActionRecord {
                    proposed: proposed.clone(),
                    executed: None,
                    observation: None,
                    correction: None,
                    done: false,
                });
                Some(StepEnd::Exit(
                    ExitStatus::Error,
                    Some(FailureKind::HarnessFault),
                    reason,
                ))
            }
        }
    }

    fn block(
        &mut self,
        index: usize,
        proposed: &Action,
        correction: String,
        step: &mut Step,
        after: &mut Vec<(VerdictKind, String)>,
    ) {
        match proposed {
            Action::ToolCall(call) => {
                let text = format!("Blocked by the harness: {correction}");
                self.request
                    .messages
                    .push(Message::tool(call.id.clone(), call.name.clone(), text));
            }
            _ => after.push((VerdictKind::Block, correction.clone())),
        }
        step.actions.push(ActionRecord {
            proposed: proposed.clone(),
            executed: None,
            observation: None,
            correction: Some(correction),
            done: false,
        });
        self.history.push(HistoryEntry {
            step: index,
            action: proposed.clone(),
            observation: None,
            state_version: self.env.state_version(),
        });
    }

    async fn execute(
        &mut self,
        index: usize,
        proposed: Action,
        action: Action,
        step: &mut Step,
        after: &mut Vec<(VerdictKind, String)>,
    ) -> StepEnd {
        self.consecutive_blocks = 0;
        let outcome = match self.env.step(&action).await {
            Ok(outcome) => outcome,
            Err(err) => {
                step.actions.push(ActionRecord {
                    proposed,
                    executed: Some(action),
                    observation: None,
                    correction: None,
                    done: false,
                });
                return StepEnd::Exit(
                    ExitStatus::Error,
                    Some(FailureKind::EnvironmentError),
                    format!("environment failed: {err}"),
                );
            }
        };
        let mut observation = outcome.observation;
        debug!(
            action = action.label(),
            error = observation.is_error,
            "executed"
        );
        let decision = {
            let view = EpisodeView {
                task: &self.spec.task,
                tools: &self.request.tools,
                history: &self.history,
                events: &self.past_events,
                step: index,
                max_steps: self.spec.config.max_steps,
                state: self.env.state(),
                state_version: self.env.state_version(),
                admissible: self.admissible.as_deref(),
            };
            let observe_only = self.spec.config.observe_only;
            judge_feedback(
                self.layers,
                &view,
                &action,
                &observation,
                observe_only,
                &mut step.events,
            )
        };
        observation.notes.extend(decision.notes);
        let rendered = observation.rendered();
        match (&observation.source, &action) {
            (ObservationSource::Tool { .. }, Action::ToolCall(call)) => self
                .request
                .messages
                .push(Message::tool(call.id.clone(), call.name.clone(), rendered)),
            (_, Action::ToolCall(call)) => {
                // A tool call must always be answered with a tool message.
                self.request.messages.push(Message::tool(
                    call.id.clone(),
                    call.name.clone(),
                    rendered,
                ));
            }
            _ => self.request.messages.push(Message::user(rendered)),
        }
        after.extend(decision.injections);
        self.history.push(HistoryEntry {
            step: index,
            action: action.clone(),
            observation: Some(observation.clone()),
            state_version: self.env.state_version(),
        });
        step.actions.push(ActionRecord {
            proposed,
            executed: Some(action),
            observation: Some(observation),
            correction: None,
            done: outcome.done,
        });
        if let Some((layer, message)) = decision.fault
            && !self.spec.config.observe_only
            && self.spec.config.on_fault == FaultPolicy::EndEpisode
        {
            let reason =
                format!("harness fault in layer '{layer}' after the observation: {message}");
            let mut event = LayerEvent::new("runtime", HookPoint::Runtime, VerdictKind::Abort);
            event.rule_id = Some("runtime/harness-fault".to_string());
            event.failure = Some(FailureKind::HarnessFault);
            event.message = Some(format!("{reason}; on_fault = end_episode"));
            step.events.push(event);
            return StepEnd::Exit(ExitStatus::Error, Some(FailureKind::HarnessFault), reason);
        }
        if let Some((kind, reason)) = decision.stop {
            let exit = if matches!(kind, FailureKind::Loop | FailureKind::Stagnation) {
                ExitStatus::Loop
            } else {
                ExitStatus::Failure
            };
            return StepEnd::Exit(exit, Some(kind), reason);
        }
        if outcome.done {
            StepEnd::Done
        } else {
            StepEnd::Continue
        }
    }

    async fn finish(
        &mut self,
        exit: Option<(ExitStatus, Option<FailureKind>, String)>,
    ) -> Result<EpisodeOutcome, RuntimeError> {
        let scored: Result<Reward, EnvError> = self.env.score().await;
        let (reward, score_error) = match scored {
            Ok(reward) => (Some(reward), None),
            Err(err) => (None, Some(err.to_string())),
        };
        let (exit, failure, reason) = match exit {
            Some(exit) => exit,
            None => match (&reward, score_error) {
                (_, Some(err)) => (
                    ExitStatus::Error,
                    Some(FailureKind::EnvironmentError),
                    format!("scoring failed: {err}"),
                ),
                (Some(r), None) if r.is_success() => {
                    (ExitStatus::Success, None, "solved".to_string())
                }
                (Some(r), None) if r.value.is_none() => (
                    ExitStatus::Failure,
                    None,
                    "ended; reward not fully evaluated".to_string(),
                ),
                _ => (ExitStatus::Failure, None, "ended unsolved".to_string()),
            },
        };
        let end = end_record(
            exit,
            failure,
            reason,
            reward,
            self.steps,
            self.usage,
            self.latency_ms,
        );
        self.sink
            .end_episode(&self.spec.run_id, &self.spec.episode_id, &end)
            .await?;
        Ok(EpisodeOutcome::Finished(end))
    }
}

fn end_record(
    exit: ExitStatus,
    failure: Option<FailureKind>,
    reason: String,
    reward: Option<Reward>,
    steps: usize,
    usage: Usage,
    model_latency_ms: f64,
) -> EpisodeEnd {
    EpisodeEnd {
        exit,
        failure,
        reason: Some(reason),
        reward,
        steps,
        usage,
        model_latency_ms,
        finished_at: now_rfc3339(),
    }
}
