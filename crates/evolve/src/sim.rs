//! A SIMULATED agent for tests: it follows each task's reference solution
//! and injects faults of each failure category at set rates. It is a test
//! double, never a result: its model info says `simulated` in every
//! trajectory, and the CLI never offers it.
//!
//! How it behaves, per episode (task and trial pick the fault, so runs are
//! deterministic):
//! * `realization`: at the fault step it calls a misspelled tool name.
//! * `contract`: it drops the first character of an id-like string argument
//!   that starts with punctuation (`#W123` becomes `W123`).
//! * `degeneration`: it repeats the previous call (or the current one)
//!   until the harness nudges it.
//! * `reasoning`: it leaves out its last state-changing call.
//!
//! A weak agent derails on raw environment errors: after one it repeats the
//! same faulty call. A targeted correction (`Blocked by the harness: ...`)
//! or a harness nudge (`[harness] ...`) puts it back on the reference.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use lifeharness_core::{
    Action, ChatRequest, EnvError, EnvironmentFactory, Message, Model, ModelError, ModelErrorKind,
    ModelInfo, ModelTurn, ToolCall,
};
use serde_json::{Value, json};

/// The fault categories the simulated agent injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A misspelled tool name.
    Realization,
    /// An argument in the wrong format.
    Contract,
    /// A repeated call.
    Degeneration,
    /// A missing state change.
    Reasoning,
}

impl Fault {
    /// Its failure category label.
    pub fn category(self) -> &'static str {
        match self {
            Self::Realization => "action_realization",
            Self::Contract => "environment_contract",
            Self::Degeneration => "trajectory_degeneration",
            Self::Reasoning => "residual_reasoning",
        }
    }
}

/// Fault rates (fractions of episodes, summing to at most 1).
#[derive(Debug, Clone, Copy)]
pub struct FaultRates {
    /// Misspelled tools.
    pub realization: f64,
    /// Malformed arguments.
    pub contract: f64,
    /// Loops.
    pub degeneration: f64,
    /// Missing writes.
    pub reasoning: f64,
}

impl Default for FaultRates {
    fn default() -> Self {
        Self {
            realization: 0.2,
            contract: 0.2,
            degeneration: 0.2,
            reasoning: 0.1,
        }
    }
}

/// What one task's reference solution is, for the agent.
#[derive(Debug, Clone)]
pub struct ScriptedTask {
    /// The task id.
    pub task_id: String,
    /// The reference actions.
    pub actions: Vec<Action>,
    /// Which of them change the state (the last such one is left out by a reasoning fault).
    pub writes: Vec<bool>,
}

impl ScriptedTask {
    /// The reference solution of every task of `factory` that has one.
    pub fn all(factory: &dyn EnvironmentFactory) -> Result<Vec<Self>, EnvError> {
        let mut out = Vec::new();
        for task in factory.tasks("all")? {
            if let Some(actions) = factory.reference_actions(&task)? {
                let writes = actions
                    .iter()
                    .map(|a| {
                        a.as_tool_call()
                            .is_some_and(|c| factory.writes_state(&c.name) == Some(true))
                    })
                    .collect();
                out.push(Self {
                    task_id: task.id,
                    actions,
                    writes,
                });
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Default)]
struct Session {
    /// Index of the next reference action.
    next: usize,
    /// The fault of this episode and the action index it hits.
    fault: Option<(Fault, usize)>,
    /// The fault has been corrected or played out.
    fault_done: bool,
    /// The faulty call the agent keeps repeating after a raw error.
    derailed: Option<ToolCall>,
    /// Calls made, for ids.
    calls: usize,
}

/// The simulated agent.
pub struct FaultyAgent {
    tasks: HashMap<String, ScriptedTask>,
    rates: FaultRates,
    seed: u64,
    stop_text: String,
    sessions: Mutex<HashMap<String, Session>>,
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn hash(text: &str, seed: u64) -> u64 {
    text.bytes()
        .fold(mix(seed ^ 0x9e37_79b9_7f4a_7c15), |h, b| {
            mix(h ^ u64::from(b))
        })
}

/// The task id of an episode id (`task/trial` or `task/trial/aN`).
fn task_of(session: &str) -> &str {
    let mut parts: Vec<&str> = session.rsplitn(3, '/').collect();
    parts.reverse();
    match parts.as_slice() {
        [task, _, attempt] if attempt.starts_with('a') => task,
        [head, task_tail, _trial] if !task_tail.starts_with('a') => {
            // `a/b/trial`: the task id itself holds a '/'.
            let end = head.len() + 1 + task_tail.len();
            &session[..end]
        }
        [task, _trial] => task,
        _ => session,
    }
}

impl FaultyAgent {
    /// An agent over these tasks' reference solutions; `stop_text` is the
    /// message it ends an episode with.
    pub fn new(tasks: Vec<ScriptedTask>, rates: FaultRates, seed: u64, stop_text: &str) -> Self {
        Self {
            tasks: tasks.into_iter().map(|t| (t.task_id.clone(), t)).collect(),
            rates,
            seed,
            stop_text: stop_text.to_string(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn pick_fault(&self, session: &str, task: &ScriptedTask) -> Option<(Fault, usize)> {
        let calls: Vec<usize> = (0..task.actions.len())
            .filter(|i| task.actions[*i].as_tool_call().is_some())
            .collect();
        if calls.is_empty() {
            return None;
        }
        let roll = (hash(session, self.seed) % 10_000) as f64 / 10_000.0;
        let r = self.rates;
        let fault = if roll < r.realization {
            Fault::Realization
        } else if roll < r.realization + r.contract {
            Fault::Contract
        } else if roll < r.realization + r.contract + r.degeneration {
            Fault::Degeneration
        } else if roll < r.realization + r.contract + r.degeneration + r.reasoning {
            Fault::Reasoning
        } else {
            return None;
        };
        let at = match fault {
            Fault::Contract => *calls.iter().find(|i| {
                task.actions[**i]
                    .as_tool_call()
                    .is_some_and(|c| corrupt_args(c).is_some())
            })?,
            Fault::Reasoning => *calls.iter().rev().find(|i| task.writes[**i])?,
            _ => calls[(hash(session, self.seed ^ 7) as usize) % calls.len()],
        };
        Some((fault, at))
    }
}

/// The call with its first punctuation-led string argument's first character dropped.
fn corrupt_args(call: &ToolCall) -> Option<Value> {
    let Value::Object(args) = call.args()? else {
        return None;
    };
    let mut out = args.clone();
    for (key, value) in args {
        if let Value::String(s) = value
            && s.chars().next().is_some_and(|c| c.is_ascii_punctuation())
            && s.len() > 2
        {
            out.insert(key.clone(), json!(s[1..].to_string()));
            return Some(Value::Object(out));
        }
    }
    None
}

fn misspell(name: &str) -> String {
    let mut out = name.to_string();
    out.pop();
    if out.is_empty() {
        out.push('x');
    }
    out
}

fn turn_for(action: &Action, id: String, stop: &str) -> ModelTurn {
    match action {
        Action::ToolCall(call) => ModelTurn::calls(vec![ToolCall::from_value(
            id,
            call.name.clone(),
            call.args().cloned().unwrap_or(Value::Null),
        )]),
        Action::Message { content } => ModelTurn::text(content.clone()),
        Action::Finish { .. } => ModelTurn::text(stop.to_string()),
    }
}

#[async_trait]
impl Model for FaultyAgent {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            spec: "simulated:faulty-reference".to_string(),
            backend: "simulated".to_string(),
            config: json!({
                "simulated": true,
                "note": "SIMULATED agent: follows reference solutions with injected faults; never a result",
                "rates": {
                    "realization": self.rates.realization,
                    "contract": self.rates.contract,
                    "degeneration": self.rates.degeneration,
                    "reasoning": self.rates.reasoning,
                },
                "seed": self.seed,
            }),
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ModelTurn, ModelError> {
        let session_id = request.session.clone().unwrap_or_default();
        let task_id = task_of(&session_id);
        let Some(task) = self.tasks.get(task_id) else {
            return Err(ModelError::new(
                ModelErrorKind::Internal,
                format!("simulated agent has no reference solution for task '{task_id}'"),
            ));
        };
        let mut sessions = self
            .sessions
            .lock()
            .map_err(|_| ModelError::new(ModelErrorKind::Internal, "session state poisoned"))?;
        let fresh = !sessions.contains_key(&session_id);
        let session = sessions.entry(session_id.clone()).or_default();
        if fresh {
            session.fault = self.pick_fault(&session_id, task);
        }
        session.calls += 1;
        let id = format!("sim_{}", session.calls);
        let last = request.messages.last();
        let corrected = matches!(last, Some(Message::Tool { content, .. }) if content.starts_with("Blocked by the harness:"));
        let nudged = request
            .messages
            .iter()
            .rev()
            .take(3)
            .any(|m| matches!(m, Message::User { content } if content.starts_with("[harness")));
        let raw_error = matches!(last, Some(Message::Tool { content, .. }) if !content.starts_with("Blocked by the harness:") && looks_like_error(content));
        if corrected || nudged {
            session.derailed = None;
            session.fault_done = true;
        }
        if let Some(call) = &session.derailed {
            return Ok(ModelTurn::calls(vec![ToolCall::from_value(
                id,
                call.name.clone(),
                call.args().cloned().unwrap_or(Value::Null),
            )]));
        }
        // A corrected fault: the model redoes the reference action.
        loop {
            let Some(action) = task.actions.get(session.next) else {
                return Ok(ModelTurn::text(self.stop_text.clone()));
            };
            let index = session.next;
            match session.fault {
                Some((fault, at)) if at == index && !session.fault_done => match fault {
                    Fault::Reasoning => {
                        session.fault_done = true;
                        session.next += 1;
                        continue;
                    }
                    Fault::Realization | Fault::Contract => {
                        let Some(call) = action.as_tool_call() else {
                            session.fault_done = true;
                            continue;
                        };
                        let faulty = if fault == Fault::Realization {
                            ToolCall::from_value(
                                id,
                                misspell(&call.name),
                                call.args().cloned().unwrap_or(Value::Null),
                            )
                        } else {
                            ToolCall::from_value(
                                id,
                                call.name.clone(),
                                corrupt_args(call).unwrap_or(Value::Null),
                            )
                        };
                        if raw_error {
                            session.derailed = Some(faulty.clone());
                        }
                        return Ok(ModelTurn::calls(vec![faulty]));
                    }
                    Fault::Degeneration => {
                        // Repeat the previous reference call (or this one) until nudged.
                        let repeat = task.actions[..index]
                            .iter()
                            .rev()
                            .find_map(Action::as_tool_call)
                            .or(action.as_tool_call());
                        if let Some(call) = repeat {
                            return Ok(ModelTurn::calls(vec![ToolCall::from_value(
                                id,
                                call.name.clone(),
                                call.args().cloned().unwrap_or(Value::Null),
                            )]));
                        }
                        session.fault_done = true;
                        continue;
                    }
                },
                _ => {
                    session.next += 1;
                    return Ok(turn_for(action, id, &self.stop_text));
                }
            }
        }
    }

    fn end_session(&self, session: &str) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(session);
        }
    }
}

/// Whether a tool result reads as an error (the agent cannot see the flag).
fn looks_like_error(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower.starts_with("error") || lower.contains("not found") || lower.starts_with("unknown tool")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_come_from_episode_ids() {
        assert_eq!(task_of("12/0"), "12");
        assert_eq!(task_of("12/3/a1"), "12");
        assert_eq!(task_of("toy-1/0"), "toy-1");
        assert_eq!(task_of("a/b/0"), "a/b");
    }
}
