//! Layer 4, trajectory regulation: after each environment response, rule
//! annotations are appended to the tool result, and loop detectors watch for
//! exact repeats (arguments canonicalised), A-B cycles, error streaks of one
//! tool, steps that change nothing, and the step budget. A detector that
//! fires escalates: a soft nudge first, then a hard directive, then a stop
//! as a loop. Backend failures end episodes before regulation sees them, so
//! a timeout or rate limit is never taken for a loop.

use std::sync::Arc;

use lifeharness_core::{
    Action, EpisodeView, FailureKind, FeedbackVerdict, Layer, LayerError, Observation, VerdictKind,
};
use lifeharness_rules::{CallInput, CompiledHarness};
use serde_json::Value;

/// Watches the trajectory and steers it.
#[derive(Debug)]
pub struct RegulationLayer {
    harness: Arc<CompiledHarness>,
}

/// One executed action as the detectors see it.
struct Seen<'a> {
    action: &'a Action,
    error: bool,
    state_version: Option<u64>,
}

impl Seen<'_> {
    fn tool(&self) -> &str {
        match self.action {
            Action::ToolCall(call) => &call.name,
            Action::Message { .. } => "message",
            Action::Finish { .. } => "finish",
        }
    }

    /// The same action again: the same tool with equal arguments (object
    /// key order does not matter), the same message text, or finishing.
    fn same(&self, other: &Seen<'_>) -> bool {
        match (self.action, other.action) {
            (Action::ToolCall(a), Action::ToolCall(b)) => {
                a.name == b.name
                    && match (a.args(), b.args()) {
                        (Some(x), Some(y)) => x == y,
                        (None, None) => a.arguments_raw == b.arguments_raw,
                        _ => false,
                    }
            }
            (Action::Message { content: a }, Action::Message { content: b }) => {
                a.trim() == b.trim()
            }
            (Action::Finish { .. }, Action::Finish { .. }) => true,
            _ => false,
        }
    }
}

impl RegulationLayer {
    /// Regulation under `harness`.
    pub fn new(harness: Arc<CompiledHarness>) -> Self {
        Self { harness }
    }

    /// How many times `rule_id` has nudged or directed so far in this episode.
    fn level(view: &EpisodeView<'_>, rule_id: &str) -> usize {
        view.events
            .iter()
            .filter(|e| {
                !e.observe_only
                    && e.rule_id.as_deref() == Some(rule_id)
                    && matches!(e.verdict, VerdictKind::Nudge | VerdictKind::Directive)
            })
            .count()
    }

    fn escalate(
        &self,
        view: &EpisodeView<'_>,
        rule_id: &str,
        kind: FailureKind,
        soft: String,
        hard: String,
    ) -> FeedbackVerdict {
        let level = if self.harness.harness.regulation.escalate {
            Self::level(view, rule_id)
        } else {
            0
        };
        match level {
            0 => FeedbackVerdict::Nudge {
                rule_id: rule_id.into(),
                message: soft,
            },
            1 => FeedbackVerdict::Directive {
                rule_id: rule_id.into(),
                message: hard,
            },
            _ => FeedbackVerdict::Stop {
                rule_id: rule_id.into(),
                kind,
                reason: format!("{rule_id}: still looping after a nudge and a directive"),
            },
        }
    }

    fn detect(&self, view: &EpisodeView<'_>, seen: &[Seen<'_>]) -> Vec<FeedbackVerdict> {
        let spec = &self.harness.harness.regulation;
        let mut out = Vec::new();
        let Some(last) = seen.last() else { return out };
        let n = seen.len();

        let repeats = seen.iter().rev().take_while(|s| s.same(last)).count();
        if spec.repeat_threshold > 0 && repeats >= spec.repeat_threshold {
            out.push(self.escalate(
                view,
                "regulation/repeat",
                FailureKind::Loop,
                format!(
                    "You have made the same call ({}) with the same arguments {repeats} times in a row. \
                     Repeating it will not change the result: use what you already have, or do something different.",
                    last.tool()
                ),
                format!(
                    "Stop calling {} with these arguments. Your next action must be different: \
                     another tool, other arguments, or finishing the task.",
                    last.tool()
                ),
            ));
        }

        let cycle_len = 2 * spec.cycle_repeats;
        if spec.cycle_repeats > 0 && n >= cycle_len && n >= 2 {
            let a = &seen[n - 2];
            let b = &seen[n - 1];
            let cycling = !a.same(b)
                && seen[n - cycle_len..]
                    .iter()
                    .enumerate()
                    .all(|(i, s)| s.same(if i % 2 == 0 { a } else { b }));
            if cycling {
                out.push(self.escalate(
                    view,
                    "regulation/cycle",
                    FailureKind::Loop,
                    format!(
                        "You are alternating between {} and {} without making progress. Step back and choose what the task actually needs next.",
                        seen[n - 2].tool(), last.tool()
                    ),
                    format!(
                        "Break the cycle between {} and {}: your next action must be neither of those two calls.",
                        seen[n - 2].tool(), last.tool()
                    ),
                ));
            }
        }

        let errors = seen
            .iter()
            .rev()
            .take_while(|s| s.error && s.tool() == last.tool())
            .count();
        if spec.same_tool_errors > 0 && errors >= spec.same_tool_errors {
            out.push(self.escalate(
                view,
                "regulation/errors",
                FailureKind::Loop,
                format!(
                    "{} failed {errors} times in a row. Read the error messages: fix the arguments (ids, names, formats) \
                     or look the right values up with another tool first.",
                    last.tool()
                ),
                format!(
                    "Do not call {} again until you have new information. Look up the correct values with another tool, or finish.",
                    last.tool()
                ),
            ));
        }

        if spec.no_state_change_steps > 0 && n > spec.no_state_change_steps {
            let window = &seen[n - spec.no_state_change_steps - 1..];
            let flat = window
                .iter()
                .all(|s| s.state_version.is_some() && s.state_version == window[0].state_version);
            if flat {
                out.push(self.escalate(
                    view,
                    "regulation/stagnation",
                    FailureKind::Stagnation,
                    format!(
                        "Your last {} actions changed nothing. If you have what you need, act on it; otherwise say what is blocking you.",
                        spec.no_state_change_steps
                    ),
                    "You are stuck. Take the action the task requires now, or finish.".to_string(),
                ));
            }
        }

        if spec.budget_warning_fraction > 0.0 && view.max_steps > 0 {
            let threshold = (spec.budget_warning_fraction * view.max_steps as f64).ceil() as usize;
            let warned = Self::level(view, "regulation/budget") > 0;
            if view.step + 1 >= threshold && !warned {
                let left = view.max_steps.saturating_sub(view.step + 1);
                out.push(FeedbackVerdict::Nudge {
                    rule_id: "regulation/budget".into(),
                    message: format!(
                        "Only {left} of {} steps are left. Finish the task now.",
                        view.max_steps
                    ),
                });
            }
        }
        out
    }
}

impl Layer for RegulationLayer {
    fn name(&self) -> &str {
        "regulation"
    }

    fn after_observation(
        &self,
        view: &EpisodeView<'_>,
        action: &Action,
        observation: &Observation,
    ) -> Result<Vec<FeedbackVerdict>, LayerError> {
        let mut verdicts = Vec::new();
        if let Action::ToolCall(call) = action
            && self.harness.annotates(&call.name)
        {
            let history = if self.harness.annotations_need_history(&call.name) {
                crate::history::past_calls(view, true)
            } else {
                Vec::new()
            };
            let input = CallInput {
                tool: &call.name,
                args: call.args().unwrap_or(&Value::Null),
                raw_args: &call.arguments_raw,
                history: &history,
                task_id: &view.task.id,
                instruction: &view.task.instruction,
                state: view.state,
            };
            for (rule_id, note) in self
                .harness
                .annotations(&input, !observation.is_error, &observation.content)
                .map_err(LayerError)?
            {
                verdicts.push(FeedbackVerdict::Annotate { rule_id, note });
            }
        }
        let mut seen: Vec<Seen<'_>> = view
            .history
            .iter()
            .filter_map(|entry| {
                let observation = entry.observation.as_ref()?;
                Some(Seen {
                    action: &entry.action,
                    error: observation.is_error,
                    state_version: entry.state_version,
                })
            })
            .collect();
        seen.push(Seen {
            action,
            error: observation.is_error,
            state_version: view.state_version,
        });
        verdicts.extend(self.detect(view, &seen));
        Ok(verdicts)
    }
}
