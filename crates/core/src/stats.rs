//! What became of the model's actions in recorded steps: how many were
//! executable, blocked, rewritten or format errors.

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::layer::VerdictKind;
use crate::trajectory::Step;

/// Counts over the actions of some steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionStats {
    /// Model turns.
    pub turns: usize,
    /// Turns whose text could not be read as an action.
    pub format_errors: usize,
    /// Actions the model proposed (a turn may propose several, and a
    /// blocked action is followed by a retry).
    pub proposed: usize,
    /// Proposed actions that were tool calls.
    pub proposed_tool_calls: usize,
    /// Actions blocked before the environment.
    pub blocked: usize,
    /// Actions the harness rewrote before they ran.
    pub rewritten: usize,
    /// Tool calls that reached the environment.
    pub executed_tool_calls: usize,
    /// Tool calls that reached the environment and did not fail there.
    pub executable: usize,
    /// Layer faults (a layer that could not judge an action or observation).
    #[serde(default)]
    pub harness_faults: usize,
    /// Actions that ran although a layer could not check them.
    #[serde(default)]
    pub unchecked: usize,
}

impl ActionStats {
    /// Counts the actions of `steps`.
    pub fn of(steps: &[Step]) -> Self {
        let mut stats = Self::default();
        for step in steps {
            stats.add_step(step);
        }
        stats
    }

    fn add_step(&mut self, step: &Step) {
        if let Some(turn) = &step.turn {
            self.turns += 1;
            if turn.format_error.is_some() {
                self.format_errors += 1;
            }
        }
        for event in &step.events {
            match event.verdict {
                VerdictKind::Fault => self.harness_faults += 1,
                VerdictKind::Unchecked => self.unchecked += 1,
                _ => {}
            }
        }
        for action in &step.actions {
            self.proposed += 1;
            if matches!(action.proposed, Action::ToolCall(_)) {
                self.proposed_tool_calls += 1;
            }
            match &action.executed {
                None => {
                    if action.correction.is_some() {
                        self.blocked += 1;
                    }
                }
                Some(executed) => {
                    if *executed != action.proposed {
                        self.rewritten += 1;
                    }
                    if matches!(executed, Action::ToolCall(_)) {
                        self.executed_tool_calls += 1;
                        if action.observation.as_ref().is_some_and(|o| !o.is_error) {
                            self.executable += 1;
                        }
                    }
                }
            }
        }
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &Self) {
        self.turns += other.turns;
        self.format_errors += other.format_errors;
        self.proposed += other.proposed;
        self.proposed_tool_calls += other.proposed_tool_calls;
        self.blocked += other.blocked;
        self.rewritten += other.rewritten;
        self.executed_tool_calls += other.executed_tool_calls;
        self.executable += other.executable;
        self.harness_faults += other.harness_faults;
        self.unchecked += other.unchecked;
    }

    /// Executable tool calls over proposed actions (`None` when there were none).
    pub fn executable_fraction(&self) -> Option<f64> {
        (self.proposed > 0).then(|| self.executable as f64 / self.proposed as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Observation;
    use crate::model::ModelTurn;
    use crate::tool::ToolCall;
    use crate::trajectory::ActionRecord;
    use serde_json::json;

    fn call(name: &str) -> Action {
        Action::ToolCall(ToolCall::from_value("c", name, json!({})))
    }

    fn record(proposed: Action, executed: Option<Action>, error: Option<bool>) -> ActionRecord {
        ActionRecord {
            proposed,
            executed,
            observation: error.map(|e| {
                let mut o = Observation::environment("x");
                o.is_error = e;
                o
            }),
            correction: None,
            done: false,
        }
    }

    #[test]
    fn counts_every_kind_of_outcome() {
        let mut blocked = record(call("a"), None, None);
        blocked.correction = Some("fix it".into());
        let step = Step {
            index: 0,
            turn: Some(ModelTurn::default()),
            model_error: None,
            actions: vec![
                record(call("a"), Some(call("a")), Some(false)),
                record(call("a"), Some(call("a")), Some(true)),
                blocked,
                record(call("a"), Some(call("b")), Some(false)),
                record(
                    Action::Message {
                        content: "hi".into(),
                    },
                    Some(Action::Message {
                        content: "hi".into(),
                    }),
                    Some(false),
                ),
            ],
            injected: Vec::new(),
            events: Vec::new(),
        };
        let stats = ActionStats::of(&[step]);
        assert_eq!(stats.turns, 1);
        assert_eq!(stats.proposed, 5);
        assert_eq!(stats.proposed_tool_calls, 4);
        assert_eq!(stats.blocked, 1);
        assert_eq!(stats.rewritten, 1);
        assert_eq!(stats.executed_tool_calls, 3);
        assert_eq!(stats.executable, 2);
        assert_eq!(stats.executable_fraction(), Some(0.4));
        let mut total = stats;
        total.merge(&stats);
        assert_eq!(total.executable, 4);
        assert_eq!(ActionStats::default().executable_fraction(), None);
    }
}
