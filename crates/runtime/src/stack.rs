//! Applying the layer stack at each lifecycle point and recording every verdict.

use std::sync::Arc;

use lifeharness_core::{
    Action, ActionVerdict, EpisodeSetup, EpisodeView, FailureKind, FeedbackVerdict, HookPoint,
    Layer, LayerEvent, ModelTurn, Observation, VerdictKind,
};

/// The rule id used when a layer fails internally.
pub(crate) fn fault_rule(layer: &str) -> String {
    format!("{layer}/internal-fault")
}

fn fault_event(layer: &str, hook: HookPoint, message: String) -> LayerEvent {
    let mut event = LayerEvent::new(layer, hook, VerdictKind::Fault);
    event.rule_id = Some(fault_rule(layer));
    event.message = Some(message);
    event.failure = Some(FailureKind::HarnessFault);
    event
}

fn mark(mut event: LayerEvent, observe_only: bool) -> LayerEvent {
    event.observe_only = observe_only && event.verdict != VerdictKind::Fault;
    event
}

/// Runs `before_episode` and `condition_task` of every layer.
///
/// In observe-only mode the layers work on a copy and the changes are
/// discarded; otherwise on `setup` itself (copying its tool specs cost more
/// than any layer's work). A layer fault is returned as `Err` with the
/// events so far, and `setup` may then be half-applied: the episode must
/// not start with it (the caller rebuilds it to record what the
/// environment offered).
pub(crate) fn prepare(
    layers: &[Arc<dyn Layer>],
    setup: &mut EpisodeSetup,
    observe_only: bool,
) -> Result<Vec<LayerEvent>, Vec<LayerEvent>> {
    if observe_only {
        let mut working = setup.clone();
        return apply(layers, &mut working, true);
    }
    apply(layers, setup, false)
}

/// [`prepare`] on `working`, in place.
fn apply(
    layers: &[Arc<dyn Layer>],
    working: &mut EpisodeSetup,
    observe_only: bool,
) -> Result<Vec<LayerEvent>, Vec<LayerEvent>> {
    let mut events = Vec::new();
    for layer in layers {
        match layer.before_episode(working) {
            Ok(changes) => events.extend(changes.into_iter().map(|e| mark(e, observe_only))),
            Err(err) => {
                events.push(fault_event(layer.name(), HookPoint::BeforeEpisode, err.0));
                return Err(events);
            }
        }
    }
    let mut additions = Vec::new();
    for layer in layers {
        match layer.condition_task(working) {
            Ok(Some(conditioning)) => {
                let mut event = LayerEvent::new(
                    layer.name(),
                    HookPoint::ConditionTask,
                    VerdictKind::Condition,
                );
                event.rule_id = Some(conditioning.rule_ids.join(","));
                event.message = Some(conditioning.text.clone());
                events.push(mark(event, observe_only));
                additions.push(conditioning.text);
            }
            Ok(None) => {}
            Err(err) => {
                events.push(fault_event(layer.name(), HookPoint::ConditionTask, err.0));
                return Err(events);
            }
        }
    }
    for text in additions {
        working.system_text.push_str("\n\n");
        working.system_text.push_str(&text);
    }
    Ok(events)
}

/// The runtime's decision on one action after every layer has judged it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ActionDecision {
    /// Send this (possibly rewritten) action to the environment.
    Execute(Action),
    /// Keep it from the environment; show the model this correction.
    Block {
        /// The correction text.
        correction: String,
    },
    /// A layer failed internally while judging the action. The layers after
    /// it have still judged `action` (unless one blocked or aborted, which
    /// wins); the runtime applies the harness's fault policy.
    Fault {
        /// The failing layer.
        layer: String,
        /// What failed.
        message: String,
        /// The action as far as the working layers took it.
        action: Action,
    },
    /// End the episode.
    Abort {
        /// The taxonomy label.
        kind: FailureKind,
        /// Why.
        reason: String,
    },
}

/// Runs `after_turn` of every layer in order. A rewrite feeds the next
/// layer; the first block or abort ends the chain. A layer fault is recorded
/// as a fault (never as the model's error) and the remaining layers still
/// judge the action, so the runtime can apply the fault policy to an action
/// that every working layer accepted.
pub(crate) fn judge_action(
    layers: &[Arc<dyn Layer>],
    view: &EpisodeView<'_>,
    turn: &ModelTurn,
    action: &Action,
    observe_only: bool,
    events: &mut Vec<LayerEvent>,
) -> ActionDecision {
    let mut current = action.clone();
    let mut fault: Option<(String, String)> = None;
    for layer in layers {
        let verdict = match layer.after_turn(view, turn, &current) {
            Ok(verdict) => verdict,
            Err(err) => {
                events.push(fault_event(
                    layer.name(),
                    HookPoint::AfterTurn,
                    err.0.clone(),
                ));
                fault.get_or_insert((layer.name().to_string(), err.0));
                continue;
            }
        };
        events.push(mark(
            LayerEvent::from_action_verdict(layer.name(), &verdict),
            observe_only,
        ));
        if observe_only {
            continue;
        }
        match verdict {
            ActionVerdict::Allow => {}
            ActionVerdict::Rewrite { action, .. } => current = action,
            ActionVerdict::Block { correction, .. } => return ActionDecision::Block { correction },
            ActionVerdict::Abort { kind, reason, .. } => {
                return ActionDecision::Abort { kind, reason };
            }
        }
    }
    match fault {
        Some((layer, message)) => ActionDecision::Fault {
            layer,
            message,
            action: current,
        },
        None => ActionDecision::Execute(current),
    }
}

/// What the layers decided after an observation.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FeedbackDecision {
    /// Notes to append to the observation.
    pub notes: Vec<String>,
    /// Recovery messages to inject (nudges and directives), in order.
    pub injections: Vec<(VerdictKind, String)>,
    /// Stop the episode with this label and reason.
    pub stop: Option<(FailureKind, String)>,
    /// The first layer that failed internally, and what failed.
    pub fault: Option<(String, String)>,
}

/// Runs `after_observation` of every layer and gathers the verdicts.
pub(crate) fn judge_feedback(
    layers: &[Arc<dyn Layer>],
    view: &EpisodeView<'_>,
    action: &Action,
    observation: &Observation,
    observe_only: bool,
    events: &mut Vec<LayerEvent>,
) -> FeedbackDecision {
    let mut decision = FeedbackDecision::default();
    for layer in layers {
        let verdicts = match layer.after_observation(view, action, observation) {
            Ok(verdicts) => verdicts,
            Err(err) => {
                events.push(fault_event(
                    layer.name(),
                    HookPoint::AfterObservation,
                    err.0.clone(),
                ));
                decision
                    .fault
                    .get_or_insert((layer.name().to_string(), err.0));
                continue;
            }
        };
        if verdicts.is_empty() {
            events.push(mark(
                LayerEvent::from_feedback_verdict(layer.name(), &FeedbackVerdict::Continue),
                observe_only,
            ));
        }
        for verdict in verdicts {
            events.push(mark(
                LayerEvent::from_feedback_verdict(layer.name(), &verdict),
                observe_only,
            ));
            if observe_only {
                continue;
            }
            match verdict {
                FeedbackVerdict::Continue => {}
                FeedbackVerdict::Annotate { note, .. } => decision.notes.push(note),
                FeedbackVerdict::Nudge { message, .. } => {
                    decision.injections.push((VerdictKind::Nudge, message));
                }
                FeedbackVerdict::Directive { message, .. } => {
                    decision.injections.push((VerdictKind::Directive, message));
                }
                FeedbackVerdict::Stop { kind, reason, .. } => {
                    if decision.stop.is_none() {
                        decision.stop = Some((kind, reason));
                    }
                }
            }
        }
    }
    decision
}
