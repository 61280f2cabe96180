//! Every failed episode labelled with its bottleneck, its first critical
//! step and the evidence, from deterministic signals only.
//!
//! Signals, each with its step, taxonomy kind and signature:
//!
//! * the model's turn could not be read as an action (format error), the
//!   backend failed or the prompt overflowed the context;
//! * the harness blocked an action (the rule and its label), stopped or
//!   nudged the episode, or failed itself;
//! * the environment returned an error; the environment says what the text
//!   means ([`EnvironmentFactory::explain_error`]), which gives the label;
//! * the same action three or more times in a row (a loop);
//! * the step budget ran out;
//! * for tasks with reference actions, the divergence from them: a write of
//!   the reference done with other arguments, with another tool, not done at
//!   all, a write the reference does not have, a transfer to a human or a
//!   stop while reference writes were still undone.
//!
//! An error is recovered when a later call of the same tool succeeded (a
//! format error: when any later action ran); this is the "first unresolved
//! failure" idea of step-level diagnosis. The primary label follows the
//! paper's priority order: action realization if any realization signal
//! went unrecovered, else environment contract, else trajectory
//! degeneration, else residual reasoning; the first critical step is the
//! earliest unrecovered signal of that category. An episode that ended on a backend, environment or harness
//! failure is labelled `infrastructure` and kept out of the failure mix: it
//! says nothing about the agent.

use std::collections::{BTreeMap, BTreeSet};

use lifeharness_core::{
    Action, EnvironmentFactory, ErrorMeaning, FailureKind, LayerEvent, ModelErrorKind, ToolCall,
    VerdictKind, same_json,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DiagnoseError;
use crate::recorded::Recorded;
use crate::replay::shorten;
use crate::signature;

/// A failure's bottleneck, in the paper's taxonomy (plus `infrastructure`
/// for failures that are not the agent's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The intended action could not be executed as emitted: unreadable
    /// output, an unknown tool, arguments that break the schema.
    ActionRealization,
    /// The call was executable but broke the environment's contract:
    /// inadmissible values, ids that do not exist, unmet state
    /// preconditions, policy.
    EnvironmentContract,
    /// The trajectory degenerated: repetition, cycles, stagnation, the step
    /// budget spent.
    TrajectoryDegeneration,
    /// Every action went through and the outcome was still wrong.
    ResidualReasoning,
    /// The backend, the environment or the harness failed.
    Infrastructure,
}

impl Category {
    /// The four agent categories, in the paper's order.
    pub const AGENT: [Category; 4] = [
        Self::ActionRealization,
        Self::EnvironmentContract,
        Self::TrajectoryDegeneration,
        Self::ResidualReasoning,
    ];

    /// The category of a failure kind.
    pub fn of(kind: FailureKind) -> Self {
        match kind {
            FailureKind::FormatError | FailureKind::UnknownTool | FailureKind::SchemaViolation => {
                Self::ActionRealization
            }
            FailureKind::ContractViolation
            | FailureKind::PolicyDenied
            | FailureKind::EnvironmentError => Self::EnvironmentContract,
            FailureKind::Loop | FailureKind::Stagnation | FailureKind::BudgetExceeded => {
                Self::TrajectoryDegeneration
            }
            FailureKind::ReasoningError => Self::ResidualReasoning,
            FailureKind::BackendError | FailureKind::BackendTimeout | FailureKind::HarnessFault => {
                Self::Infrastructure
            }
        }
    }

    /// The share the Life-Harness paper reports over all its settings.
    pub fn paper_share(self) -> Option<f64> {
        match self {
            Self::ActionRealization => Some(0.34),
            Self::EnvironmentContract => Some(0.27),
            Self::TrajectoryDegeneration => Some(0.22),
            Self::ResidualReasoning => Some(0.17),
            Self::Infrastructure => None,
        }
    }

    /// The snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActionRealization => "action_realization",
            Self::EnvironmentContract => "environment_contract",
            Self::TrajectoryDegeneration => "trajectory_degeneration",
            Self::ResidualReasoning => "residual_reasoning",
            Self::Infrastructure => "infrastructure",
        }
    }

    /// Reads a label (the snake_case one, or words with spaces or dashes).
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim().to_lowercase().replace([' ', '-'], "_");
        [
            Self::ActionRealization,
            Self::EnvironmentContract,
            Self::TrajectoryDegeneration,
            Self::ResidualReasoning,
            Self::Infrastructure,
        ]
        .into_iter()
        .find(|c| t == c.as_str() || t.starts_with(c.as_str().split('_').next().unwrap_or("")))
    }

    fn priority(self) -> u8 {
        match self {
            Self::Infrastructure => 0,
            Self::ActionRealization => 1,
            Self::EnvironmentContract => 2,
            Self::TrajectoryDegeneration => 3,
            Self::ResidualReasoning => 4,
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an episode diverged from the task's reference actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivergenceKind {
    /// A write the reference has, with another tool in its place.
    WrongTool,
    /// A write of the reference's tool with other arguments.
    WrongArguments,
    /// A reference write never done.
    MissingWrite,
    /// A write the reference does not have.
    ExtraWrite,
    /// A hand-off to a human while reference writes were undone.
    PrematureTransfer,
    /// The agent ended the episode while reference writes were undone.
    PrematureStop,
}

impl DivergenceKind {
    /// The snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongTool => "wrong_tool",
            Self::WrongArguments => "wrong_arguments",
            Self::MissingWrite => "missing_write",
            Self::ExtraWrite => "extra_write",
            Self::PrematureTransfer => "premature_transfer",
            Self::PrematureStop => "premature_stop",
        }
    }
}

/// One divergence from the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// What kind.
    pub kind: DivergenceKind,
    /// The step it shows at.
    pub step: usize,
    /// The agent's action, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ToolCall>,
    /// The reference action, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ToolCall>,
}

/// What supports a label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The step's action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The environment's response (shortened), where it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<String>,
    /// What the environment says its error text means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meaning: Option<ErrorMeaning>,
    /// The layer event, where one decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<LayerEvent>,
    /// The reference action diverged from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ToolCall>,
    /// The divergence kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergence: Option<DivergenceKind>,
    /// The explanation in words.
    pub detail: String,
}

/// One deterministic signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The step.
    pub step: usize,
    /// The taxonomy kind.
    pub kind: FailureKind,
    /// Its category.
    pub category: Category,
    /// Tool (or source) and normalised pattern.
    pub signature: String,
    /// Whether the episode got past it.
    pub recovered: bool,
    /// Whether the step it happened at was wasted.
    pub wasted: bool,
    /// The evidence.
    pub evidence: Evidence,
    /// The action index and tool the signal came from (for recovery).
    #[serde(skip)]
    origin: Option<(usize, Option<String>)>,
}

/// An LLM's label, next to the deterministic one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeLabel {
    /// The judge model's spec.
    pub model: String,
    /// The category it named (`None`: its reply named none).
    pub category: Option<Category>,
    /// The step it named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// Its stated reason.
    pub reason: String,
    /// Whether it agrees with the deterministic category.
    pub agrees: Option<bool>,
}

/// The diagnosis of one episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The run.
    pub run_id: String,
    /// The episode.
    pub episode_id: String,
    /// The task.
    pub task_id: String,
    /// The environment.
    pub environment: String,
    /// The trial.
    pub trial: u32,
    /// Where an imported episode came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Whether it succeeded (`None`: unfinished).
    pub success: Option<bool>,
    /// The recorded reward.
    pub reward: Option<f64>,
    /// The exit status.
    pub exit: Option<String>,
    /// Steps (model turns).
    pub steps: usize,
    /// Tool calls that reached the environment.
    pub tool_calls: usize,
    /// Of those, errors.
    pub tool_errors: usize,
    /// The tools called (distinct, in order of first call).
    pub tools_used: Vec<String>,
    /// The primary category (failed episodes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// The primary taxonomy kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FailureKind>,
    /// The first critical step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_critical_step: Option<usize>,
    /// The primary signal's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The primary signal's evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// Every signal, in step order.
    pub signals: Vec<Signal>,
    /// Every divergence from the reference (failed episodes with a reference).
    pub divergences: Vec<Divergence>,
    /// Whether the task has reference actions.
    pub has_reference: bool,
    /// Wasted steps by category.
    pub wasted_steps: BTreeMap<Category, usize>,
    /// The LLM judge's label, when one was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeLabel>,
}

impl Diagnosis {
    /// Whether the episode failed (finished and not solved).
    pub fn failed(&self) -> bool {
        self.success == Some(false)
    }
}

fn error_meaning(
    factory: Option<&dyn EnvironmentFactory>,
    tool: &str,
    text: &str,
    is_error: bool,
) -> Option<ErrorMeaning> {
    let meaning = factory.and_then(|f| f.explain_error(tool, text));
    match meaning {
        Some(m) => Some(m),
        None if is_error => Some(ErrorMeaning::new(
            FailureKind::EnvironmentError,
            "other_error",
            "the environment reported an error the environment does not explain",
        )),
        None => None,
    }
}

fn interpret(factory: Option<&dyn EnvironmentFactory>, action: &Action) -> Option<ToolCall> {
    match factory {
        Some(f) => f.interpret_action(action),
        None => action.as_tool_call().cloned(),
    }
}

/// A key for "the same action again".
fn action_key(action: &Action) -> String {
    match action {
        Action::ToolCall(call) => format!(
            "call:{}:{}",
            call.name,
            call.args().map(Value::to_string).unwrap_or_default()
        ),
        Action::Message { content } => format!("say:{}", content.trim()),
        Action::Finish { .. } => "finish".to_string(),
    }
}

/// How many times in a row an identical action makes a loop.
const LOOP_RUN: usize = 3;

/// Diagnoses one episode. `factory` is the episode's environment (for its
/// reference actions and error meanings); without it only what the
/// trajectory itself records is used.
pub fn diagnose(
    factory: Option<&dyn EnvironmentFactory>,
    episode: &Recorded,
) -> Result<Diagnosis, DiagnoseError> {
    let last_step = episode.step_count().saturating_sub(1);
    let mut signals: Vec<Signal> = Vec::new();
    let mut push = |step: usize,
                    kind: FailureKind,
                    signature: String,
                    wasted: bool,
                    evidence: Evidence,
                    origin: Option<(usize, Option<String>)>| {
        signals.push(Signal {
            step,
            kind,
            category: Category::of(kind),
            signature,
            recovered: false,
            wasted,
            evidence,
            origin,
        });
    };

    // Step-level facts: backend failures, format errors, layer events.
    for (index, step) in episode.steps.iter().enumerate() {
        if let Some(err) = &step.model_error {
            let signature = match err.kind {
                ModelErrorKind::ContextOverflow => "model: context_overflow".to_string(),
                other => format!("model: {}", format!("{other:?}").to_lowercase()),
            };
            push(
                index,
                err.failure_kind(),
                signature,
                true,
                Evidence {
                    detail: shorten(&err.message, 300),
                    ..Evidence::default()
                },
                None,
            );
        }
        if let Some(fe) = &step.format_error {
            push(
                index,
                FailureKind::FormatError,
                format!("format: {}", signature::normalise(fe)),
                true,
                Evidence {
                    detail: format!(
                        "the model's output could not be read as an action: {}",
                        shorten(fe, 200)
                    ),
                    ..Evidence::default()
                },
                None,
            );
        }
        for event in &step.events {
            if event.observe_only {
                continue;
            }
            let rule = event.rule_id.clone().unwrap_or_else(|| event.layer.clone());
            let message = event.message.clone().unwrap_or_default();
            let (kind, signature, detail) = match event.verdict {
                VerdictKind::Fault => (
                    FailureKind::HarnessFault,
                    format!("harness_fault: {rule}"),
                    format!("a harness layer failed: {}", shorten(&message, 200)),
                ),
                VerdictKind::Stop => (
                    event.failure.unwrap_or(FailureKind::Loop),
                    format!("stopped: {rule}"),
                    format!("regulation stopped the episode: {}", shorten(&message, 200)),
                ),
                VerdictKind::Nudge | VerdictKind::Directive => (
                    event.failure.unwrap_or(FailureKind::Stagnation),
                    format!("nudged: {rule}"),
                    format!(
                        "regulation saw the trajectory degenerate: {}",
                        shorten(&message, 200)
                    ),
                ),
                VerdictKind::Abort => (
                    event.failure.unwrap_or(FailureKind::PolicyDenied),
                    format!("aborted: {rule}"),
                    format!("a rule aborted the episode: {}", shorten(&message, 200)),
                ),
                _ => continue,
            };
            push(
                index,
                kind,
                signature,
                false,
                Evidence {
                    event: Some(event.clone()),
                    detail,
                    ..Evidence::default()
                },
                None,
            );
        }
    }

    // Action-level facts: blocks, environment errors, repetition.
    let mut tool_calls = 0usize;
    let mut tool_errors = 0usize;
    let mut tools_used: Vec<String> = Vec::new();
    // (action index, tool, succeeded) of executed actions, for recovery.
    let mut executed: Vec<(usize, usize, Option<String>, bool)> = Vec::new();
    // The current run of identical actions: key, start step, start index, length.
    let mut run: Option<(String, usize, usize, usize)> = None;
    for (index, record) in episode.actions.iter().enumerate() {
        if let Some(block) = &record.block {
            let rule = block.rule_id.clone().unwrap_or_default();
            let kind = block.failure.unwrap_or(FailureKind::ContractViolation);
            let tool = interpret(factory, &record.proposed).map(|c| c.name);
            push(
                record.step,
                kind,
                format!("blocked: {rule}"),
                true,
                Evidence {
                    action: Some(record.proposed.clone()),
                    event: Some(block.clone()),
                    detail: format!(
                        "the harness blocked {} ({rule}): {}",
                        record.proposed.label(),
                        shorten(record.correction.as_deref().unwrap_or_default(), 200)
                    ),
                    ..Evidence::default()
                },
                Some((index, tool)),
            );
        }
        let Some(action) = &record.executed else {
            continue;
        };
        if let Some(problem) = factory.and_then(|f| f.action_problem(action)) {
            push(
                record.step,
                problem.kind,
                format!("{}: {}", action.label(), problem.pattern),
                true,
                Evidence {
                    action: Some(action.clone()),
                    detail: format!(
                        "the reply is no action the environment can run: {}",
                        problem.meaning
                    ),
                    meaning: Some(problem),
                    ..Evidence::default()
                },
                Some((index, None)),
            );
        }
        let call = interpret(factory, action);
        let tool = call.as_ref().map(|c| c.name.clone());
        if let Some(name) = &tool
            && !tools_used.contains(name)
        {
            tools_used.push(name.clone());
        }
        let mut ok = true;
        if let Some(obs) = &record.observation {
            let label = tool.as_deref().unwrap_or(action.label());
            if call.is_some() {
                tool_calls += 1;
            }
            if let Some(meaning) = error_meaning(factory, label, &obs.content, obs.is_error) {
                ok = false;
                if call.is_some() {
                    tool_errors += 1;
                }
                push(
                    record.step,
                    meaning.kind,
                    signature::of_error(label, Some(&meaning.pattern), &obs.content),
                    true,
                    Evidence {
                        action: Some(action.clone()),
                        observation: Some(shorten(&obs.content, 300)),
                        detail: format!("{label} returned an error: {}", meaning.meaning),
                        meaning: Some(meaning),
                        ..Evidence::default()
                    },
                    Some((index, tool.clone())),
                );
            }
        }
        executed.push((index, record.step, tool.clone(), ok));
        let key = action_key(action);
        run = match run.take() {
            Some((k, start, start_index, n)) if k == key => {
                if n + 1 == LOOP_RUN {
                    push(
                        start,
                        FailureKind::Loop,
                        format!("repeat: {}", tool.as_deref().unwrap_or(action.label())),
                        false,
                        Evidence {
                            action: Some(action.clone()),
                            detail: format!(
                                "the same {} {LOOP_RUN} times in a row from step {start}",
                                action.label()
                            ),
                            ..Evidence::default()
                        },
                        Some((start_index, Some(key.clone()))),
                    );
                }
                Some((k, start, start_index, n + 1))
            }
            _ => Some((key, record.step, index, 1)),
        };
    }

    // Recovery: a later success of the same tool (a format error: any later success).
    let exit = episode.exit.as_deref();
    let ended_degenerate = matches!(exit, Some("loop" | "budget"));
    for signal in signals.iter_mut() {
        let origin = signal.origin.clone();
        signal.recovered = match signal.category {
            Category::Infrastructure => false,
            Category::TrajectoryDegeneration => {
                if signal.signature.starts_with("stopped") {
                    false
                } else if signal.signature.starts_with("repeat") {
                    let (start, key) = origin
                        .map(|(i, k)| (i, k.unwrap_or_default()))
                        .unwrap_or_default();
                    !ended_degenerate
                        && executed.iter().any(|(i, _, _, ok)| {
                            *i > start
                                && *ok
                                && episode.actions[*i]
                                    .executed
                                    .as_ref()
                                    .is_some_and(|a| action_key(a) != key)
                        })
                } else {
                    !ended_degenerate
                }
            }
            _ => match origin {
                Some((index, Some(tool))) => executed
                    .iter()
                    .any(|(i, _, t, ok)| *i > index && *ok && t.as_deref() == Some(tool.as_str())),
                Some((index, None)) => executed.iter().any(|(i, _, _, ok)| *i > index && *ok),
                None => {
                    // Step-level (format errors): any later successful action.
                    executed
                        .iter()
                        .any(|(_, step, _, ok)| *step > signal.step && *ok)
                }
            },
        };
    }

    // The exit itself.
    match (exit, episode.exit_failure) {
        (Some("loop"), _) if !signals.iter().any(|s| s.signature.starts_with("stopped")) => {
            signals.push(exit_signal(
                last_step,
                FailureKind::Loop,
                "exit: loop",
                episode,
            ));
        }
        (Some("budget"), kind) => {
            let kind = kind.unwrap_or(FailureKind::BudgetExceeded);
            signals.push(exit_signal(last_step, kind, "exit: budget", episode));
        }
        (Some("error"), Some(kind))
            if (Category::of(kind) == Category::Infrastructure
                || kind == FailureKind::EnvironmentError)
                && !signals
                    .iter()
                    .any(|s| s.category == Category::Infrastructure) =>
        {
            let mut s = exit_signal(last_step, kind, "exit: error", episode);
            s.category = Category::Infrastructure;
            signals.push(s);
        }
        _ => {}
    }

    // Divergence from the reference.
    let reference = match factory {
        Some(f) => f
            .reference_actions(&episode.task)
            .map_err(|e| DiagnoseError::env(episode.context(), e))?,
        None => None,
    };
    let mut divergences = Vec::new();
    if episode.success == Some(false)
        && let (Some(f), Some(reference)) = (factory, reference.as_ref())
    {
        divergences = diverge(f, episode, reference, last_step);
        for d in &divergences {
            let tool = d
                .reference
                .as_ref()
                .or(d.action.as_ref())
                .map(|c| c.name.clone())
                .unwrap_or_default();
            signals.push(Signal {
                step: d.step,
                kind: FailureKind::ReasoningError,
                category: Category::ResidualReasoning,
                signature: format!("divergence: {} {tool}", d.kind.as_str()),
                recovered: false,
                wasted: false,
                origin: None,
                evidence: Evidence {
                    action: d.action.clone().map(Action::ToolCall),
                    reference: d.reference.clone(),
                    divergence: Some(d.kind),
                    detail: divergence_detail(d),
                    ..Evidence::default()
                },
            });
        }
    }
    signals.sort_by_key(|s| (s.step, s.category.priority()));

    let mut wasted_steps: BTreeMap<Category, usize> = BTreeMap::new();
    if episode.success == Some(false) {
        let mut seen: BTreeSet<usize> = BTreeSet::new();
        for s in signals.iter().filter(|s| s.wasted) {
            if seen.insert(s.step) {
                *wasted_steps.entry(s.category).or_default() += 1;
            }
        }
        // Repeats beyond the first of a loop are wasted too.
        let mut previous: Option<String> = None;
        for record in &episode.actions {
            let Some(action) = &record.executed else {
                continue;
            };
            let key = action_key(action);
            if previous.as_deref() == Some(key.as_str()) && seen.insert(record.step) {
                *wasted_steps
                    .entry(Category::TrajectoryDegeneration)
                    .or_default() += 1;
            }
            previous = Some(key);
        }
    }

    let mut diagnosis = Diagnosis {
        run_id: episode.run_id.clone(),
        episode_id: episode.episode_id.clone(),
        task_id: episode.task.id.clone(),
        environment: episode.task.environment.clone(),
        trial: episode.trial,
        source: episode.source.clone(),
        success: episode.success,
        reward: episode.reward,
        exit: episode.exit.clone(),
        steps: episode.step_count(),
        tool_calls,
        tool_errors,
        tools_used,
        category: None,
        kind: None,
        first_critical_step: None,
        signature: None,
        evidence: None,
        signals,
        divergences,
        has_reference: reference.is_some(),
        wasted_steps,
        judge: None,
    };
    if episode.success == Some(false) {
        choose_primary(&mut diagnosis, episode, last_step);
    }
    Ok(diagnosis)
}

fn exit_signal(step: usize, kind: FailureKind, signature: &str, episode: &Recorded) -> Signal {
    Signal {
        step,
        kind,
        category: Category::of(kind),
        signature: signature.to_string(),
        recovered: false,
        wasted: false,
        origin: None,
        evidence: Evidence {
            detail: format!(
                "the episode ended {}: {}",
                episode.exit.as_deref().unwrap_or("?"),
                shorten(
                    episode
                        .exit_reason
                        .as_deref()
                        .unwrap_or("no reason recorded"),
                    200
                )
            ),
            ..Evidence::default()
        },
    }
}

fn choose_primary(d: &mut Diagnosis, episode: &Recorded, last_step: usize) {
    let infra_exit = d
        .signals
        .iter()
        .find(|s| s.category == Category::Infrastructure && !s.recovered)
        .filter(|_| episode.exit.as_deref() == Some("error"))
        .cloned();
    // The paper's order: the highest-priority category with an unrecovered
    // signal; its earliest such signal is the first critical step.
    let primary = infra_exit.or_else(|| {
        d.signals
            .iter()
            .filter(|s| !s.recovered && s.category != Category::Infrastructure)
            .min_by_key(|s| (s.category.priority(), s.step))
            .cloned()
    });
    let primary = primary.unwrap_or_else(|| Signal {
        step: last_step,
        kind: FailureKind::ReasoningError,
        category: Category::ResidualReasoning,
        signature: if d.has_reference {
            "outcome: reference writes done, still graded wrong".to_string()
        } else {
            "outcome: no interface signal, graded wrong".to_string()
        },
        recovered: false,
        wasted: false,
        origin: None,
        evidence: Evidence {
            detail: if d.has_reference {
                "every executed action went through and every reference write was done; the grade failed on something else (e.g. what was told to the user)".to_string()
            } else {
                "every executed action went through and nothing degenerated; the task has no reference actions to compare with".to_string()
            },
            ..Evidence::default()
        },
    });
    d.category = Some(primary.category);
    d.kind = Some(primary.kind);
    d.first_critical_step = Some(primary.step);
    d.signature = Some(primary.signature.clone());
    d.evidence = Some(primary.evidence);
}

fn divergence_detail(d: &Divergence) -> String {
    let name = |c: &Option<ToolCall>| c.as_ref().map(|c| c.name.clone()).unwrap_or_default();
    let args = |c: &Option<ToolCall>| {
        c.as_ref()
            .and_then(|c| c.args().map(|a| shorten(&a.to_string(), 160)))
            .unwrap_or_default()
    };
    match d.kind {
        DivergenceKind::WrongTool => format!(
            "called {} where the reference calls {} {}",
            name(&d.action),
            name(&d.reference),
            args(&d.reference)
        ),
        DivergenceKind::WrongArguments => format!(
            "called {} with {} where the reference has {}",
            name(&d.action),
            args(&d.action),
            args(&d.reference)
        ),
        DivergenceKind::MissingWrite => format!(
            "never did the reference's {} {}",
            name(&d.reference),
            args(&d.reference)
        ),
        DivergenceKind::ExtraWrite => format!(
            "did {} {}, which the reference does not",
            name(&d.action),
            args(&d.action)
        ),
        DivergenceKind::PrematureTransfer => format!(
            "handed over to a human before the reference's {} {}",
            name(&d.reference),
            args(&d.reference)
        ),
        DivergenceKind::PrematureStop => format!(
            "ended the episode before the reference's {} {}",
            name(&d.reference),
            args(&d.reference)
        ),
    }
}

/// Compares the episode's successful writes with the reference's.
fn diverge(
    factory: &dyn EnvironmentFactory,
    episode: &Recorded,
    reference: &[Action],
    last_step: usize,
) -> Vec<Divergence> {
    let writes = |name: &str| factory.writes_state(name) == Some(true);
    let ref_calls: Vec<ToolCall> = reference
        .iter()
        .filter_map(|a| factory.interpret_action(a))
        .collect();
    let ref_writes: Vec<&ToolCall> = ref_calls.iter().filter(|c| writes(&c.name)).collect();
    let ref_handoff = ref_calls.iter().any(|c| factory.is_handoff(&c.name));
    let mut agent_writes: Vec<(usize, ToolCall)> = Vec::new();
    let mut handoff: Option<usize> = None;
    for record in &episode.actions {
        let Some(action) = &record.executed else {
            continue;
        };
        let Some(call) = factory.interpret_action(action) else {
            continue;
        };
        let failed = record
            .observation
            .as_ref()
            .is_some_and(|o| o.is_error || factory.explain_error(&call.name, &o.content).is_some());
        if failed {
            continue;
        }
        if factory.is_handoff(&call.name) && handoff.is_none() {
            handoff = Some(record.step);
        }
        if writes(&call.name) {
            agent_writes.push((record.step, call));
        }
    }
    let same = |a: &ToolCall, b: &ToolCall| {
        a.name == b.name
            && match (a.args(), b.args()) {
                (Some(x), Some(y)) => same_json(x, y),
                _ => false,
            }
    };
    let mut used = vec![false; agent_writes.len()];
    let mut missing: Vec<&ToolCall> = Vec::new();
    for rw in &ref_writes {
        match agent_writes
            .iter()
            .enumerate()
            .position(|(j, (_, c))| !used[j] && same(c, rw))
        {
            Some(j) => used[j] = true,
            None => missing.push(rw),
        }
    }
    let mut out = Vec::new();
    let mut unpaired: Vec<&ToolCall> = Vec::new();
    for rw in missing {
        match agent_writes
            .iter()
            .enumerate()
            .position(|(j, (_, c))| !used[j] && c.name == rw.name)
        {
            Some(j) => {
                used[j] = true;
                out.push(Divergence {
                    kind: DivergenceKind::WrongArguments,
                    step: agent_writes[j].0,
                    action: Some(agent_writes[j].1.clone()),
                    reference: Some((*rw).clone()),
                });
            }
            None => unpaired.push(rw),
        }
    }
    let mut unpaired = unpaired.into_iter();
    for (j, (step, call)) in agent_writes.iter().enumerate() {
        if used[j] {
            continue;
        }
        match unpaired.next() {
            Some(rw) => out.push(Divergence {
                kind: DivergenceKind::WrongTool,
                step: *step,
                action: Some(call.clone()),
                reference: Some(rw.clone()),
            }),
            None => out.push(Divergence {
                kind: DivergenceKind::ExtraWrite,
                step: *step,
                action: Some(call.clone()),
                reference: None,
            }),
        }
    }
    let agent_ended = matches!(episode.exit.as_deref(), Some("failure" | "success"));
    for rw in unpaired {
        let (kind, step) = match handoff {
            Some(step) if !ref_handoff => (DivergenceKind::PrematureTransfer, step),
            _ if agent_ended => (DivergenceKind::PrematureStop, last_step),
            _ => (DivergenceKind::MissingWrite, last_step),
        };
        out.push(Divergence {
            kind,
            step,
            action: None,
            reference: Some(rw.clone()),
        });
    }
    out.sort_by_key(|d| d.step);
    out
}
