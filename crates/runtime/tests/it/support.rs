//! Test doubles: a model that plays from a per-turn function, a memory sink,
//! and layers that return one fixed verdict kind each.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lifeharness_core::{
    Action, ActionVerdict, ChatRequest, EnvironmentFactory, EpisodeEnd, EpisodeHeader,
    EpisodeSetup, EpisodeView, FailureKind, FeedbackVerdict, HookPoint, Layer, LayerError,
    LayerEvent, Message, Model, ModelError, ModelInfo, ModelTurn, Observation, SinkError, Step,
    TaskConditioning, ToolCall, TrajectorySink, VerdictKind,
};
use lifeharness_env_toy::ToyFactory;
use lifeharness_runtime::{EpisodeSpec, RuntimeConfig, episode_seed};
use serde_json::Value;

type TurnFn = dyn Fn(usize, &ChatRequest) -> Result<ModelTurn, ModelError> + Send + Sync;

/// A stateless model: the turn is a function of the turn index (the number
/// of assistant messages so far) and the request.
pub struct FnModel(pub Box<TurnFn>);

#[async_trait]
impl Model for FnModel {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            spec: "test".into(),
            backend: "scripted".into(),
            config: Value::Null,
        }
    }
    async fn chat(&self, request: &ChatRequest) -> Result<ModelTurn, ModelError> {
        let index = request
            .messages
            .iter()
            .filter(|m| matches!(m, Message::Assistant { .. }))
            .count();
        (self.0)(index, request)
    }
}

pub fn call(name: &str, args: Value) -> ModelTurn {
    ModelTurn::calls(vec![ToolCall::from_value("c", name, args)])
}

/// A model that plays the gold solution of whichever toy task it is given.
pub fn gold_model() -> FnModel {
    let tasks = ToyFactory::default().tasks("all").unwrap_or_default();
    FnModel(Box::new(move |index, request| {
        let instruction = request.messages.iter().find_map(|m| match m {
            Message::User { content } => Some(content.clone()),
            _ => None,
        });
        let task = tasks
            .iter()
            .find(|t| Some(&t.instruction) == instruction.as_ref());
        let gold = task
            .and_then(|t| t.data["gold"].as_array().cloned())
            .unwrap_or_default();
        let next = gold.get(index).cloned().unwrap_or(Value::Null);
        Ok(call(
            next["name"].as_str().unwrap_or("submit"),
            next["arguments"].clone(),
        ))
    }))
}

/// A model that replays a fixed list of turns, then submits.
pub fn script(turns: Vec<ModelTurn>) -> FnModel {
    FnModel(Box::new(move |index, _| {
        Ok(turns
            .get(index)
            .cloned()
            .unwrap_or_else(|| call("submit", serde_json::json!({}))))
    }))
}

/// Collects everything a run writes.
#[derive(Default)]
pub struct MemorySink {
    pub headers: Mutex<Vec<EpisodeHeader>>,
    pub steps: Mutex<Vec<(String, Step)>>,
    pub ends: Mutex<Vec<(String, EpisodeEnd)>>,
}

impl MemorySink {
    pub fn steps(&self) -> Vec<Step> {
        self.steps
            .lock()
            .unwrap()
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }
    pub fn events(&self) -> Vec<LayerEvent> {
        self.steps().into_iter().flat_map(|s| s.events).collect()
    }
}

#[async_trait]
impl TrajectorySink for MemorySink {
    async fn begin_episode(&self, header: &EpisodeHeader) -> Result<(), SinkError> {
        self.headers.lock().unwrap().push(header.clone());
        Ok(())
    }
    async fn record_step(&self, _: &str, episode: &str, step: &Step) -> Result<(), SinkError> {
        self.steps
            .lock()
            .unwrap()
            .push((episode.into(), step.clone()));
        Ok(())
    }
    async fn end_episode(&self, _: &str, episode: &str, end: &EpisodeEnd) -> Result<(), SinkError> {
        self.ends
            .lock()
            .unwrap()
            .push((episode.into(), end.clone()));
        Ok(())
    }
}

pub fn spec(task_index: usize, config: RuntimeConfig) -> EpisodeSpec {
    let factory = ToyFactory::default();
    let task = factory.tasks("all").unwrap()[task_index].clone();
    EpisodeSpec {
        run_id: "run".into(),
        episode_id: format!("{}#0", task.id),
        seed: episode_seed(1, &task.id, 0),
        task,
        trial: 0,
        attempt: 0,
        environment: factory.info(),
        harness: Default::default(),
        config,
    }
}

/// What a [`TestLayer`] does.
#[derive(Clone)]
pub enum Behaviour {
    /// Block calls to this tool.
    BlockTool(&'static str),
    /// Rewrite `set` calls' value to this.
    RewriteValue(&'static str),
    /// Abort on calls to this tool.
    AbortTool(&'static str),
    /// Fail internally on every action.
    FaultOnAction,
    /// Fail internally after every observation.
    FaultOnObservation,
    /// Annotate every tool result.
    Annotate(&'static str),
    /// Nudge after the n-th observation, directive after the next, stop after the one after.
    Escalate(usize),
    /// Rewrite tools and system text, and condition the task.
    Setup,
    /// Fail internally before the episode.
    FaultOnSetup,
}

pub struct TestLayer(pub Behaviour);

impl TestLayer {
    pub fn arc(b: Behaviour) -> Arc<dyn Layer> {
        Arc::new(TestLayer(b))
    }
}

impl Layer for TestLayer {
    fn name(&self) -> &str {
        "test"
    }

    fn before_episode(&self, setup: &mut EpisodeSetup) -> Result<Vec<LayerEvent>, LayerError> {
        match self.0 {
            Behaviour::Setup => {
                setup
                    .system_text
                    .push_str("\nCONTRACT: keys are lowercase.");
                for tool in &mut setup.tools {
                    tool.description.push_str(" (checked)");
                }
                let mut e = LayerEvent::new("test", HookPoint::BeforeEpisode, VerdictKind::Setup);
                e.rule_id = Some("contract-1".into());
                Ok(vec![e])
            }
            Behaviour::FaultOnSetup => Err(LayerError("setup broke".into())),
            _ => Ok(vec![]),
        }
    }

    fn condition_task(&self, _: &EpisodeSetup) -> Result<Option<TaskConditioning>, LayerError> {
        Ok(match self.0 {
            Behaviour::Setup => Some(TaskConditioning {
                rule_ids: vec!["skill-1".into()],
                text: "SKILL: read before you write.".into(),
            }),
            _ => None,
        })
    }

    fn after_turn(
        &self,
        _: &EpisodeView<'_>,
        _: &ModelTurn,
        action: &Action,
    ) -> Result<ActionVerdict, LayerError> {
        let name = action.label().to_string();
        Ok(match &self.0 {
            Behaviour::BlockTool(tool) if name == *tool => ActionVerdict::Block {
                rule_id: "block-1".into(),
                kind: FailureKind::PolicyDenied,
                correction: format!("do not call {tool}"),
            },
            Behaviour::AbortTool(tool) if name == *tool => ActionVerdict::Abort {
                rule_id: "abort-1".into(),
                kind: FailureKind::PolicyDenied,
                reason: "forbidden".into(),
            },
            Behaviour::RewriteValue(value) if name == "set" => {
                let mut args = action
                    .as_tool_call()
                    .and_then(|c| c.args().cloned())
                    .unwrap_or_default();
                args["value"] = Value::String((*value).into());
                ActionVerdict::Rewrite {
                    rule_id: "rewrite-1".into(),
                    action: Action::ToolCall(ToolCall::from_value("c", "set", args)),
                    message: "normalised value".into(),
                }
            }
            Behaviour::FaultOnAction => return Err(LayerError("checker crashed".into())),
            _ => ActionVerdict::Allow,
        })
    }

    fn after_observation(
        &self,
        view: &EpisodeView<'_>,
        _: &Action,
        _: &Observation,
    ) -> Result<Vec<FeedbackVerdict>, LayerError> {
        Ok(match self.0 {
            Behaviour::Annotate(note) => vec![FeedbackVerdict::Annotate {
                rule_id: "note-1".into(),
                note: note.into(),
            }],
            Behaviour::Escalate(n) => {
                let seen = view.history.len();
                if seen == n {
                    vec![FeedbackVerdict::Nudge {
                        rule_id: "loop".into(),
                        message: "try something else".into(),
                    }]
                } else if seen == n + 1 {
                    vec![FeedbackVerdict::Directive {
                        rule_id: "loop".into(),
                        message: "call submit now".into(),
                    }]
                } else if seen >= n + 2 {
                    vec![FeedbackVerdict::Stop {
                        rule_id: "loop".into(),
                        kind: FailureKind::Loop,
                        reason: "repeating".into(),
                    }]
                } else {
                    vec![]
                }
            }
            Behaviour::FaultOnObservation => {
                return Err(LayerError("annotator crashed".into()));
            }
            _ => vec![],
        })
    }
}
