//! `toy`: a tiny key-value world for testing the runtime and the layers.
//!
//! Tools: `get(key)`, `set(key, value)` and `submit()`. A task gives an
//! initial store and a target store; the episode ends at `submit` and scores
//! 1 when the store equals the target. Tasks are generated deterministically;
//! `train` holds the even-numbered ones and `test` the odd-numbered ones.

use std::collections::BTreeMap;

use async_trait::async_trait;
use lifeharness_core::{
    Action, EnvError, EnvInfo, Environment, EnvironmentFactory, ErrorMeaning, FailureKind, Message,
    Observation, Reward, RewardComponent, StateView, StepOutcome, Task, ToolSpec,
};
use serde_json::{Value, json};

/// The environment's name.
pub const NAME: &str = "toy";
const KEYS: [&str; 6] = ["color", "size", "shape", "owner", "city", "pet"];
const VALUES: [&str; 6] = ["blue", "large", "round", "ada", "paris", "cat"];

/// Makes toy environments and lists their tasks.
#[derive(Debug, Clone)]
pub struct ToyFactory {
    tasks: Vec<Task>,
}

impl ToyFactory {
    /// A factory with `count` generated tasks.
    pub fn new(count: usize) -> Self {
        Self {
            tasks: (0..count).map(make_task).collect(),
        }
    }
}

impl Default for ToyFactory {
    fn default() -> Self {
        Self::new(20)
    }
}

fn make_task(i: usize) -> Task {
    let k = KEYS[i % KEYS.len()];
    let v = VALUES[(i * 5 + 1) % VALUES.len()];
    let k2 = KEYS[(i + 1) % KEYS.len()];
    let v2 = VALUES[(i + 2) % VALUES.len()];
    let (instruction, initial, target, gold) = match i % 3 {
        0 => (
            format!("Set '{k}' to '{v}', then submit."),
            json!({}),
            json!({k: v}),
            json!([{"name": "set", "arguments": {"key": k, "value": v}}]),
        ),
        1 => (
            format!("Copy the value of '{k}' into '{k2}', then submit."),
            json!({k: v}),
            json!({k: v, k2: v}),
            json!([
                {"name": "get", "arguments": {"key": k}},
                {"name": "set", "arguments": {"key": k2, "value": v}}
            ]),
        ),
        _ => (
            format!("Set '{k}' to '{v}' and '{k2}' to '{v2}', then submit."),
            json!({}),
            json!({k: v, k2: v2}),
            json!([
                {"name": "set", "arguments": {"key": k, "value": v}},
                {"name": "set", "arguments": {"key": k2, "value": v2}}
            ]),
        ),
    };
    let mut gold = gold;
    if let Some(list) = gold.as_array_mut() {
        list.push(json!({"name": "submit", "arguments": {}}));
    }
    Task {
        id: format!("toy-{i}"),
        environment: NAME.to_string(),
        instruction,
        data: json!({"initial": initial, "target": target, "gold": gold}),
    }
}

impl EnvironmentFactory for ToyFactory {
    fn info(&self) -> EnvInfo {
        EnvInfo {
            name: NAME.to_string(),
            version: "1".to_string(),
            config: json!({"tasks": self.tasks.len()}),
        }
    }

    fn splits(&self) -> Vec<String> {
        vec!["train".into(), "test".into(), "all".into()]
    }

    fn tasks(&self, split: &str) -> Result<Vec<Task>, EnvError> {
        let keep = |i: usize| match split {
            "train" => Ok(i.is_multiple_of(2)),
            "test" => Ok(!i.is_multiple_of(2)),
            "all" => Ok(true),
            other => Err(EnvError::BadTask(format!(
                "unknown split '{other}' (toy has train, test, all)"
            ))),
        };
        let mut out = Vec::new();
        for (i, task) in self.tasks.iter().enumerate() {
            if keep(i)? {
                out.push(task.clone());
            }
        }
        Ok(out)
    }

    fn create(&self) -> Result<Box<dyn Environment>, EnvError> {
        Ok(Box::new(ToyEnv::default()))
    }

    fn reference_actions(&self, task: &Task) -> Result<Option<Vec<Action>>, EnvError> {
        let Some(gold) = task.data.get("gold").and_then(Value::as_array) else {
            return Err(EnvError::BadTask(format!("task {} has no gold", task.id)));
        };
        Ok(Some(
            gold.iter()
                .enumerate()
                .map(|(i, g)| {
                    Action::ToolCall(lifeharness_core::ToolCall::from_value(
                        format!("call_{i}"),
                        g["name"].as_str().unwrap_or_default(),
                        g["arguments"].clone(),
                    ))
                })
                .collect(),
        ))
    }

    fn writes_state(&self, tool: &str) -> Option<bool> {
        Some(matches!(tool, "set" | "submit"))
    }

    fn explain_error(&self, _tool: &str, text: &str) -> Option<ErrorMeaning> {
        if text.starts_with("Error: unknown tool") {
            Some(ErrorMeaning::new(
                FailureKind::UnknownTool,
                "unknown_tool",
                "no such tool",
            ))
        } else if text.contains("not valid JSON") {
            Some(ErrorMeaning::new(
                FailureKind::FormatError,
                "arguments_not_json",
                "the arguments are not JSON",
            ))
        } else if text.starts_with("Error: missing") {
            Some(ErrorMeaning::new(
                FailureKind::SchemaViolation,
                "bad_arguments",
                "an argument is missing or of the wrong type",
            ))
        } else if text.contains("not found") {
            Some(ErrorMeaning::new(
                FailureKind::ContractViolation,
                "no_such_key",
                "the key holds no value",
            ))
        } else {
            None
        }
    }
}

/// One toy episode.
#[derive(Debug, Default)]
pub struct ToyEnv {
    store: BTreeMap<String, String>,
    target: BTreeMap<String, String>,
    submitted: bool,
    started: bool,
    version: u64,
}

fn string_map(value: &Value, what: &str) -> Result<BTreeMap<String, String>, EnvError> {
    let object = value
        .as_object()
        .ok_or_else(|| EnvError::BadTask(format!("task field '{what}' is not an object")))?;
    object
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.clone(), s.to_string())),
            None => Err(EnvError::BadTask(format!("{what}.{k} is not a string"))),
        })
        .collect()
}

fn string_arg<'a>(args: &'a Value, name: &str) -> Result<&'a str, String> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("Error: missing string argument '{name}'"))
}

impl ToyEnv {
    fn call(&mut self, name: &str, args: Option<&Value>) -> Result<(String, bool), String> {
        let empty = json!({});
        let args = args.ok_or("Error: arguments are not valid JSON")?;
        let args = if args.is_null() { &empty } else { args };
        match name {
            "get" => {
                let key = string_arg(args, "key")?;
                self.store
                    .get(key)
                    .map(|v| (v.clone(), false))
                    .ok_or_else(|| format!("Error: key '{key}' not found"))
            }
            "set" => {
                let key = string_arg(args, "key")?;
                let value = string_arg(args, "value")?;
                self.store.insert(key.to_string(), value.to_string());
                self.version += 1;
                Ok(("ok".to_string(), false))
            }
            "submit" => {
                self.submitted = true;
                Ok(("submitted".to_string(), true))
            }
            other => Err(format!("Error: unknown tool '{other}'")),
        }
    }
}

#[async_trait]
impl Environment for ToyEnv {
    fn tools(&self) -> Vec<ToolSpec> {
        let key = json!({"type": "string", "description": "The key."});
        vec![
            ToolSpec {
                name: "get".into(),
                description: "Read the value stored under a key.".into(),
                parameters: json!({"type": "object", "properties": {"key": key},
                    "required": ["key"], "additionalProperties": false}),
            },
            ToolSpec {
                name: "set".into(),
                description: "Store a value under a key.".into(),
                parameters: json!({"type": "object", "properties": {"key": key,
                    "value": {"type": "string", "description": "The value."}},
                    "required": ["key", "value"], "additionalProperties": false}),
            },
            ToolSpec {
                name: "submit".into(),
                description: "Finish the task.".into(),
                parameters: json!({"type": "object", "properties": {},
                    "additionalProperties": false}),
            },
        ]
    }

    fn system_text(&self) -> String {
        "You manage a key-value store. Use the tools to do what the user asks, then call submit."
            .to_string()
    }

    async fn reset(&mut self, task: &Task, _seed: u64) -> Result<Vec<Message>, EnvError> {
        self.store = string_map(&task.data["initial"], "initial")?;
        self.target = string_map(&task.data["target"], "target")?;
        self.submitted = false;
        self.started = true;
        self.version = 0;
        Ok(vec![Message::user(task.instruction.clone())])
    }

    async fn step(&mut self, action: &Action) -> Result<StepOutcome, EnvError> {
        if !self.started {
            return Err(EnvError::State("step before reset".into()));
        }
        if self.submitted {
            return Err(EnvError::State("step after submit".into()));
        }
        Ok(match action {
            Action::ToolCall(call) => {
                let (text, is_error, done) = match self.call(&call.name, call.args()) {
                    Ok((text, done)) => (text, false, done),
                    Err(text) => (text, true, false),
                };
                StepOutcome {
                    observation: Observation::tool(call, text, is_error),
                    done,
                }
            }
            Action::Message { .. } => StepOutcome {
                observation: Observation::user(
                    "(toy environment: nobody reads messages; use the tools, then call submit)",
                ),
                done: false,
            },
            Action::Finish { .. } => {
                self.submitted = true;
                StepOutcome {
                    observation: Observation::environment("finished"),
                    done: true,
                }
            }
        })
    }

    async fn score(&mut self) -> Result<Reward, EnvError> {
        let state_ok = self.submitted && self.store == self.target;
        Ok(Reward {
            value: Some(if state_ok { 1.0 } else { 0.0 }),
            breakdown: vec![RewardComponent {
                name: "state".into(),
                score: Some(if self.store == self.target { 1.0 } else { 0.0 }),
                detail: json!({"submitted": self.submitted}),
            }],
        })
    }

    fn state_view(&self) -> Option<Value> {
        Some(json!(self.store))
    }

    fn state(&self) -> Option<&dyn StateView> {
        Some(self)
    }

    fn state_version(&self) -> Option<u64> {
        Some(self.version)
    }
}

impl StateView for ToyEnv {
    fn lookup(&self, path: &[&str]) -> Option<Value> {
        match path {
            [] => self.state_view(),
            [key] => self.store.get(*key).map(|v| json!(v)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeharness_core::ToolCall;

    async fn replay(task: &Task) -> Reward {
        let mut env = ToyFactory::default().create().unwrap();
        env.reset(task, 0).await.unwrap();
        for (i, call) in task.data["gold"].as_array().unwrap().iter().enumerate() {
            let call = ToolCall::from_value(
                format!("c{i}"),
                call["name"].as_str().unwrap(),
                call["arguments"].clone(),
            );
            let out = env.step(&Action::ToolCall(call)).await.unwrap();
            assert!(!out.observation.is_error, "{}", out.observation.content);
        }
        env.score().await.unwrap()
    }

    #[tokio::test]
    async fn every_gold_solution_scores_one() {
        let factory = ToyFactory::default();
        for task in factory.tasks("all").unwrap() {
            assert!(replay(&task).await.is_success(), "{}", task.id);
        }
        assert_eq!(factory.tasks("train").unwrap().len(), 10);
        assert!(factory.tasks("nope").is_err());
    }

    #[tokio::test]
    async fn errors_are_observations_and_wrong_state_scores_zero() {
        let factory = ToyFactory::default();
        let task = &factory.tasks("all").unwrap()[0];
        let mut env = factory.create().unwrap();
        env.reset(task, 0).await.unwrap();
        let bad = ToolCall::from_raw("c", "get", r#"{"key":"missing"}"#);
        let out = env.step(&Action::ToolCall(bad)).await.unwrap();
        assert_eq!(&*out.observation.content, "Error: key 'missing' not found");
        assert!(out.observation.is_error);
        let unknown = ToolCall::from_raw("c", "fly", "{}");
        let out = env.step(&Action::ToolCall(unknown)).await.unwrap();
        assert_eq!(&*out.observation.content, "Error: unknown tool 'fly'");
        let submit = ToolCall::from_raw("c", "submit", "{}");
        assert!(env.step(&Action::ToolCall(submit)).await.unwrap().done);
        assert_eq!(env.score().await.unwrap().value, Some(0.0));
    }
}
