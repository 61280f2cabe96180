//! Trajectories no one here wrote, read into lifeharness trajectories:
//! tau2-bench results files, τ-bench (v1) trajectory files, and our own
//! JSONL export.
//!
//! * tau2-bench: `{"info", "tasks", "simulations": [{"task_id", "trial",
//!   "seed", "messages", "reward_info", "termination_reason"}]}`, or its
//!   directory form (`results.json` beside `simulations/*.json`). Task ids
//!   are ours. Tool calls carry arguments as objects; tool results follow
//!   their calls, matched by id (else by position).
//! * τ-bench v1: a list of `{task_id, trial, reward, info: {task: {user_id,
//!   actions, instruction}, reward_info}, traj}`, `traj` being OpenAI chat
//!   messages (`tool_calls[].function.{name, arguments}` with arguments as
//!   JSON text, tool results by `tool_call_id`). `task_id` indexes τ-bench's
//!   own task list, so each record's task is matched with one of ours by the
//!   environment ([`EnvironmentFactory::match_foreign_tasks`]); records that
//!   match none are refused (or skipped when asked), never guessed.
//!
//! An imported episode keeps its recorded reward and is marked: its model
//! is `imported:<agent>` with backend `imported` and the source (format,
//! file, its SHA-256, the record) in the model's config, and a setup event
//! of layer `import` says where it came from and how its task was matched.
//! No harness ran (`none (imported)`).

use std::collections::BTreeMap;
use std::sync::Arc;

use lifeharness_core::{
    Action, ActionRecord, EnvironmentFactory, EpisodeEnd, EpisodeHeader, ExitStatus, ForeignTask,
    HarnessInfo, HookPoint, LayerEvent, MatchQuality, ModelInfo, ModelTurn, Observation, Reward,
    RewardComponent, Step, TRAJECTORY_FORMAT, TRAJECTORY_VERSION, Task, TaskMatch, ToolCall,
    Trajectory, Usage, VerdictKind,
};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::DiagnoseError;

/// The formats `runs import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Our JSONL export, one trajectory per line.
    Lifeharness,
    /// A tau2-bench results file (or directory).
    Tau2,
    /// A τ-bench v1 trajectory file.
    TauBench,
}

impl Format {
    /// Reads a `--format` value (`auto` is `None`).
    pub fn parse(text: &str) -> Result<Option<Self>, DiagnoseError> {
        match text {
            "auto" => Ok(None),
            "lifeharness" => Ok(Some(Self::Lifeharness)),
            "tau2" => Ok(Some(Self::Tau2)),
            "tau-bench" => Ok(Some(Self::TauBench)),
            other => Err(DiagnoseError::Input(format!(
                "unknown format '{other}' (expected auto, lifeharness, tau2 or tau-bench)"
            ))),
        }
    }

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lifeharness => "lifeharness",
            Self::Tau2 => "tau2",
            Self::TauBench => "tau-bench",
        }
    }
}

/// One record's task match (τ-bench) or task check (tau2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappingRow {
    /// The record's task id in the source.
    pub source_task: String,
    /// How it matched.
    pub matched: TaskMatch,
    /// Records (trials) with this task.
    pub records: usize,
}

/// What an import produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The format read.
    pub format: Format,
    /// The run the episodes go to (`import-<file hash>`; ours keep theirs).
    pub run_id: String,
    /// The run's config (source, format, file hash, agent).
    pub config: Value,
    /// The episodes.
    pub trajectories: Vec<Trajectory>,
    /// Per source task, how it was matched or checked.
    pub mapping: Vec<MappingRow>,
    /// Records skipped (unmapped, when skipping was asked for), with why.
    pub skipped: Vec<String>,
}

/// Finds the environment for a name (`tau2-airline`, ...).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Result<Arc<dyn EnvironmentFactory>, DiagnoseError>;

/// Options of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The environment, when the file does not say (τ-bench files do not).
    pub env: Option<String>,
    /// Skip records whose task matches none of ours instead of refusing the file.
    pub skip_unmapped: bool,
}

/// SHA-256 hex of `bytes`.
fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads JSON, naming the file, line and column of a syntax error.
fn parse_json(text: &str, file: &str) -> Result<Value, DiagnoseError> {
    serde_json::from_str(text).map_err(|e| {
        let what = if e.is_eof() {
            "the JSON ends too early (truncated?)"
        } else {
            "not valid JSON"
        };
        DiagnoseError::Input(format!("{file}:{}:{}: {what}: {e}", e.line(), e.column()))
    })
}

/// Guesses the format from the text.
pub fn detect(text: &str, file: &str) -> Result<Format, DiagnoseError> {
    let head = text.trim_start();
    if head.starts_with('[') {
        return Ok(Format::TauBench);
    }
    if head.starts_with('{') {
        // One whole JSON object with `simulations` is tau2; JSONL starts with a trajectory.
        let first_line = head.lines().next().unwrap_or_default();
        if let Ok(v) = serde_json::from_str::<Value>(first_line)
            && v.get("format").and_then(Value::as_str) == Some(TRAJECTORY_FORMAT)
        {
            return Ok(Format::Lifeharness);
        }
        if head.contains("\"simulations\"") {
            return Ok(Format::Tau2);
        }
        if head.contains(TRAJECTORY_FORMAT) {
            return Ok(Format::Lifeharness);
        }
    }
    Err(DiagnoseError::Input(format!(
        "{file}: not a lifeharness JSONL export, a tau2-bench results file or a tau-bench trajectory list \
         (say --format if it is one of them)"
    )))
}

/// Reads our own JSONL; every line is checked before anything is returned.
pub fn import_lifeharness(text: &str, file: &str) -> Result<Vec<Trajectory>, DiagnoseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let t: Trajectory = serde_json::from_str(line).map_err(|e| {
            DiagnoseError::Input(format!(
                "{file}:{}: not a lifeharness trajectory: {e}",
                i + 1
            ))
        })?;
        if let Some(why) = t.unreadable() {
            return Err(DiagnoseError::Input(format!("{file}:{}: {why}", i + 1)));
        }
        out.push(t);
    }
    if out.is_empty() {
        return Err(DiagnoseError::Input(format!("{file}: no trajectories")));
    }
    Ok(out)
}

/// One chat message reduced to what import needs.
#[derive(Debug, Clone)]
enum Msg {
    System(String),
    User(String),
    Assistant {
        text: Option<String>,
        calls: Vec<ToolCall>,
        usage: Usage,
    },
    Tool {
        id: String,
        content: String,
        error: Option<bool>,
    },
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Reads a message list (tau2 or OpenAI style). `what` names the record.
fn messages(list: &Value, what: &str) -> Result<Vec<Msg>, DiagnoseError> {
    let Some(list) = list.as_array() else {
        return Err(DiagnoseError::Input(format!(
            "{what}: the messages are not a list"
        )));
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        let content = m.get("content").and_then(text_of);
        match role {
            "system" => out.push(Msg::System(content.unwrap_or_default())),
            "user" => {
                if m.get("tool_calls")
                    .and_then(Value::as_array)
                    .is_some_and(|c| !c.is_empty())
                {
                    return Err(DiagnoseError::Input(format!(
                        "{what}: message {i}: user-side tool calls (telecom) are not supported"
                    )));
                }
                out.push(Msg::User(content.unwrap_or_default()));
            }
            "assistant" => {
                let mut calls = Vec::new();
                for (j, c) in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let function = c.get("function").unwrap_or(c);
                    let name = function
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            DiagnoseError::Input(format!(
                                "{what}: message {i}: tool call {j} has no name"
                            ))
                        })?;
                    let id = c
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("call_{i}_{j}"));
                    let call = match function.get("arguments") {
                        Some(Value::String(raw)) => ToolCall::from_raw(id, name, raw.clone()),
                        Some(args @ Value::Object(_)) => {
                            ToolCall::from_value(id, name, args.clone())
                        }
                        None | Some(Value::Null) => ToolCall::from_value(id, name, json!({})),
                        Some(other) => ToolCall::from_raw(id, name, other.to_string()),
                    };
                    calls.push(call);
                }
                let usage = m
                    .get("usage")
                    .map(|u| Usage {
                        prompt_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
                        completion_tokens: u
                            .get("completion_tokens")
                            .and_then(Value::as_u64)
                            .unwrap_or(0),
                    })
                    .unwrap_or_default();
                out.push(Msg::Assistant {
                    text: content,
                    calls,
                    usage,
                });
            }
            "tool" => out.push(Msg::Tool {
                id: m
                    .get("id")
                    .or_else(|| m.get("tool_call_id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                content: m
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                error: m.get("error").and_then(Value::as_bool),
            }),
            other => {
                return Err(DiagnoseError::Input(format!(
                    "{what}: message {i} has role '{other}' (expected system, user, assistant or tool)"
                )));
            }
        }
    }
    Ok(out)
}

/// The messages as steps: one step per assistant message; its tool calls
/// get the tool results that follow (by id, else in order), a text reply
/// gets the next user message.
fn steps_of(msgs: &[Msg]) -> (Vec<Step>, Option<String>, Usage) {
    let mut steps: Vec<Step> = Vec::new();
    let mut system = None;
    let mut usage = Usage::default();
    let mut i = 0;
    while i < msgs.len() {
        match &msgs[i] {
            Msg::System(text) => {
                system = Some(text.clone());
                i += 1;
            }
            Msg::User(_) | Msg::Tool { .. } => i += 1,
            Msg::Assistant {
                text,
                calls,
                usage: u,
            } => {
                usage.add(*u);
                let mut turn = ModelTurn {
                    text: text.clone(),
                    tool_calls: calls.clone(),
                    usage: *u,
                    ..ModelTurn::default()
                };
                let mut actions = Vec::new();
                i += 1;
                if calls.is_empty() {
                    let content = text.clone().unwrap_or_default();
                    let reply = match msgs.get(i) {
                        Some(Msg::User(reply)) => {
                            i += 1;
                            Some(Observation::user(reply.clone()))
                        }
                        _ => None,
                    };
                    actions.push(ActionRecord {
                        proposed: Action::Message {
                            content: content.clone(),
                        },
                        executed: Some(Action::Message { content }),
                        observation: reply,
                        correction: None,
                        done: false,
                    });
                } else {
                    // The tool results that follow this message.
                    let mut results: Vec<(String, String, Option<bool>)> = Vec::new();
                    while let Some(Msg::Tool { id, content, error }) = msgs.get(i) {
                        results.push((id.clone(), content.clone(), *error));
                        i += 1;
                    }
                    let mut used = vec![false; results.len()];
                    for (k, call) in calls.iter().enumerate() {
                        let by_id = results
                            .iter()
                            .enumerate()
                            .position(|(j, r)| !used[j] && !r.0.is_empty() && r.0 == call.id);
                        let slot = by_id.or_else(|| (k < results.len() && !used[k]).then_some(k));
                        let observation = slot.map(|j| {
                            used[j] = true;
                            let (_, content, error) = &results[j];
                            let is_error = error.unwrap_or_else(|| content.starts_with("Error"));
                            Observation::tool(call, content.clone(), is_error)
                        });
                        actions.push(ActionRecord {
                            proposed: Action::ToolCall(call.clone()),
                            executed: Some(Action::ToolCall(call.clone())),
                            observation,
                            correction: None,
                            done: false,
                        });
                    }
                    turn.text = text.clone();
                }
                steps.push(Step {
                    index: steps.len(),
                    turn: Some(turn),
                    model_error: None,
                    actions,
                    injected: Vec::new(),
                    events: Vec::new(),
                });
            }
        }
    }
    if let Some(last) = steps.last_mut().and_then(|s| s.actions.last_mut()) {
        last.done = true;
    }
    (steps, system, usage)
}

fn import_event(message: String) -> LayerEvent {
    let mut e = LayerEvent::new("import", HookPoint::BeforeEpisode, VerdictKind::Setup);
    e.message = Some(message);
    e
}

struct Source<'a> {
    format: Format,
    file: &'a str,
    hash: &'a str,
    agent: String,
    extra: Value,
}

impl Source<'_> {
    fn run_id(&self) -> String {
        format!("import-{}", &self.hash[..12.min(self.hash.len())])
    }

    fn model(&self, record: &str) -> ModelInfo {
        ModelInfo {
            spec: format!("imported:{}", self.agent),
            backend: "imported".to_string(),
            config: json!({
                "source": {"format": self.format.as_str(), "file": self.file, "sha256": self.hash, "record": record},
                "agent": self.agent,
                "recorded": self.extra,
            }),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn trajectory(
    src: &Source<'_>,
    factory: &dyn EnvironmentFactory,
    task: Task,
    episode_id: String,
    record: String,
    trial: u32,
    seed: u64,
    msgs: &[Msg],
    reward: Option<Reward>,
    termination: Option<&str>,
    started_at: String,
    note: String,
) -> Trajectory {
    let (steps, system, usage) = steps_of(msgs);
    let mut environment = factory.info();
    if let Value::Object(map) = &mut environment.config {
        map.insert("imported_from".into(), json!(src.file));
    }
    let solved = reward.as_ref().is_some_and(Reward::is_success);
    let exit = match termination {
        _ if solved => ExitStatus::Success,
        Some("max_steps") => ExitStatus::Budget,
        Some("agent_error" | "user_error" | "infrastructure_error" | "unexpected_error") => {
            ExitStatus::Error
        }
        _ => ExitStatus::Failure,
    };
    let header = EpisodeHeader {
        run_id: src.run_id(),
        episode_id,
        task,
        trial,
        attempt: 0,
        seed,
        environment,
        model: src.model(&record),
        harness: HarnessInfo {
            id: "none".to_string(),
            name: "none (imported)".to_string(),
            config: Value::Null,
        }
        .into(),
        system_text: system.unwrap_or_default(),
        events: vec![import_event(note)],
        started_at: started_at.clone(),
    };
    let n = steps.len();
    Trajectory {
        format: TRAJECTORY_FORMAT.to_string(),
        version: TRAJECTORY_VERSION,
        header,
        steps,
        end: Some(EpisodeEnd {
            exit,
            failure: match exit {
                ExitStatus::Budget => Some(lifeharness_core::FailureKind::BudgetExceeded),
                _ => None,
            },
            reason: termination.map(|t| format!("recorded termination: {t}")),
            reward,
            steps: n,
            usage,
            model_latency_ms: 0.0,
            finished_at: started_at,
        }),
    }
}

/// Unique episode ids: `<task>-t<trial>`, with `-<n>` for repeats.
fn unique_id(seen: &mut BTreeMap<String, usize>, base: String) -> String {
    let n = seen.entry(base.clone()).or_default();
    *n += 1;
    if *n == 1 { base } else { format!("{base}-{n}") }
}

/// Reads a tau2-bench results file (the whole JSON value).
pub fn import_tau2(
    value: &Value,
    file: &str,
    hash: &str,
    options: &ImportOptions,
    lookup: EnvLookup<'_>,
) -> Result<Imported, DiagnoseError> {
    let sims = value
        .get("simulations")
        .and_then(Value::as_array)
        .ok_or_else(|| DiagnoseError::Input(format!("{file}: no 'simulations' list")))?;
    let info = value.get("info").cloned().unwrap_or(Value::Null);
    let domain = info
        .pointer("/environment_info/domain_name")
        .and_then(Value::as_str);
    let env_name = match (&options.env, domain) {
        (Some(e), _) => e.clone(),
        (None, Some(d)) => format!("tau2-{d}"),
        (None, None) => {
            return Err(DiagnoseError::Input(format!(
                "{file}: info.environment_info.domain_name is missing; say --env"
            )));
        }
    };
    let factory = lookup(&env_name)?;
    let agent = info
        .pointer("/agent_info/llm")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let src = Source {
        format: Format::Tau2,
        file,
        hash,
        agent: agent.clone(),
        extra: json!({
            "user": info.pointer("/user_info/llm"),
            "git_commit": info.get("git_commit"),
            "timestamp": value.get("timestamp"),
        }),
    };
    // The file's own copy of each task, to tell where ours was revised since.
    let theirs: BTreeMap<String, &Value> = value
        .get("tasks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| Some((id_text(t.get("id")?)?, t)))
        .collect();
    let mut out = Vec::with_capacity(sims.len());
    let mut mapping: BTreeMap<String, MappingRow> = BTreeMap::new();
    let mut seen = BTreeMap::new();
    let started = value
        .get("timestamp")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for (index, sim) in sims.iter().enumerate() {
        let what = format!("{file}: simulation {index}");
        let task_id = sim
            .get("task_id")
            .and_then(id_text)
            .ok_or_else(|| DiagnoseError::Input(format!("{what}: no task_id")))?;
        let task = factory.task(&task_id).map_err(|_| {
            DiagnoseError::Input(format!("{what}: task '{task_id}' is not a {env_name} task"))
        })?;
        let revised = match (theirs.get(&task_id), factory.reference_actions(&task)) {
            (Some(t), Ok(Some(ours))) => {
                let recorded: Vec<Value> = t
                    .pointer("/evaluation_criteria/actions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                !same_reference(&recorded, &ours)
            }
            _ => false,
        };
        let matched = TaskMatch {
            task_id: Some(task_id.clone()),
            quality: if revised {
                MatchQuality::Revised
            } else {
                MatchQuality::Exact
            },
            note: if revised {
                "the file's copy of this task has other reference actions than ours: its reward was graded against the old task".to_string()
            } else {
                "same task id; the file's reference actions equal ours (or it has no copy)"
                    .to_string()
            },
        };
        let row = mapping
            .entry(task_id.clone())
            .or_insert_with(|| MappingRow {
                source_task: task_id.clone(),
                matched: matched.clone(),
                records: 0,
            });
        row.records += 1;
        let trial = sim.get("trial").and_then(Value::as_u64).unwrap_or(0) as u32;
        let seed = sim.get("seed").and_then(Value::as_u64).unwrap_or(0);
        let msgs = messages(sim.get("messages").unwrap_or(&Value::Null), &what)?;
        let reward = tau2_reward(sim.get("reward_info"));
        let termination = sim.get("termination_reason").and_then(Value::as_str);
        let episode_id = unique_id(&mut seen, format!("{task_id}-t{trial}"));
        let note = format!(
            "imported from {file} (tau2 simulation {index}, agent {agent}); task {task_id}: {}",
            matched.note
        );
        let started_at = sim
            .get("start_time")
            .or_else(|| sim.get("timestamp"))
            .and_then(Value::as_str)
            .map_or_else(|| started.clone(), str::to_string);
        out.push(trajectory(
            &src,
            factory.as_ref(),
            task,
            episode_id,
            format!("simulation {index}"),
            trial,
            seed,
            &msgs,
            reward,
            termination,
            started_at,
            note,
        ));
    }
    Ok(Imported {
        format: Format::Tau2,
        run_id: src.run_id(),
        config: run_config(&src, &env_name),
        trajectories: out,
        mapping: mapping.into_values().collect(),
        skipped: Vec::new(),
    })
}

fn run_config(src: &Source<'_>, env: &str) -> Value {
    json!({
        "env": env,
        "model": format!("imported:{}", src.agent),
        "harness": "none (imported)",
        "imported_from": src.file,
        "import": {"format": src.format.as_str(), "file": src.file, "sha256": src.hash, "agent": src.agent, "recorded": src.extra},
    })
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether a file's gold actions (`{name, arguments}`) equal ours.
fn same_reference(recorded: &[Value], ours: &[Action]) -> bool {
    let ours: Vec<&ToolCall> = ours.iter().filter_map(Action::as_tool_call).collect();
    recorded.len() == ours.len()
        && recorded.iter().zip(&ours).all(|(r, o)| {
            r.get("name").and_then(Value::as_str) == Some(o.name.as_str())
                && o.args()
                    .zip(r.get("arguments"))
                    .is_some_and(|(a, b)| lifeharness_core::same_json(a, b))
        })
}

fn tau2_reward(info: Option<&Value>) -> Option<Reward> {
    let info = info?;
    let value = info.get("reward").and_then(Value::as_f64);
    let breakdown = info
        .get("reward_breakdown")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| RewardComponent {
                    name: k.clone(),
                    score: v.as_f64(),
                    detail: Value::Null,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Reward { value, breakdown })
}

/// Reads the directory form: `results.json` (or the directory holding it)
/// with `simulations/*.json` beside it, into the monolithic form.
pub fn read_tau2_dir(path: &std::path::Path) -> Result<(Value, Vec<u8>), DiagnoseError> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(|p| p.to_path_buf()).unwrap_or_default()
    };
    let results = dir.join("results.json");
    let read = |p: &std::path::Path| {
        std::fs::read(p)
            .map_err(|e| DiagnoseError::Input(format!("cannot read {}: {e}", p.display())))
    };
    let bytes = read(&results)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut value = parse_json(&text, &results.display().to_string())?;
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir.join("simulations"))
        .map_err(|e| {
            DiagnoseError::Input(format!("cannot list {}/simulations: {e}", dir.display()))
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    let mut all = bytes;
    let mut sims = Vec::with_capacity(names.len());
    for p in names {
        let b = read(&p)?;
        let sim = parse_json(&String::from_utf8_lossy(&b), &p.display().to_string())?;
        all.extend_from_slice(&b);
        sims.push(sim);
    }
    if let Value::Object(map) = &mut value {
        map.insert("simulations".into(), Value::Array(sims));
    }
    Ok((value, all))
}

/// The domain a τ-bench record's tools belong to.
fn tau_bench_domain(record: &Value) -> Option<&'static str> {
    let names: Vec<&str> = record
        .pointer("/info/task/actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("name").and_then(Value::as_str))
        .collect();
    let traj_tools = record
        .get("traj")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("tool_calls").and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.pointer("/function/name").and_then(Value::as_str));
    let all: Vec<&str> = names.into_iter().chain(traj_tools).collect();
    let airline = [
        "book_reservation",
        "get_reservation_details",
        "search_direct_flight",
        "cancel_reservation",
        "update_reservation_flights",
    ];
    let retail = [
        "get_order_details",
        "find_user_id_by_email",
        "find_user_id_by_name_zip",
        "cancel_pending_order",
        "get_product_details",
    ];
    if all.iter().any(|n| airline.contains(n)) {
        Some("tau2-airline")
    } else if all.iter().any(|n| retail.contains(n)) {
        Some("tau2-retail")
    } else {
        None
    }
}

/// Reads a τ-bench v1 trajectory list.
pub fn import_tau_bench(
    value: &Value,
    file: &str,
    hash: &str,
    options: &ImportOptions,
    lookup: EnvLookup<'_>,
) -> Result<Imported, DiagnoseError> {
    let records = value
        .as_array()
        .ok_or_else(|| DiagnoseError::Input(format!("{file}: not a list of records")))?;
    if records.is_empty() {
        return Err(DiagnoseError::Input(format!("{file}: no records")));
    }
    let env_name = match &options.env {
        Some(e) => e.clone(),
        None => records
            .iter()
            .find_map(tau_bench_domain)
            .ok_or_else(|| {
                DiagnoseError::Input(format!(
                    "{file}: cannot tell airline from retail by the records' tools; say --env"
                ))
            })?
            .to_string(),
    };
    let factory = lookup(&env_name)?;
    // One foreign task per distinct task id, matched all at once.
    let mut order: Vec<String> = Vec::new();
    let mut foreign: Vec<ForeignTask> = Vec::new();
    for (index, r) in records.iter().enumerate() {
        let what = format!("{file}: record {index}");
        let id = r
            .get("task_id")
            .and_then(id_text)
            .ok_or_else(|| DiagnoseError::Input(format!("{what}: no task_id")))?;
        if r.get("traj").and_then(Value::as_array).is_none() {
            return Err(DiagnoseError::Input(format!(
                "{what}: no 'traj' message list"
            )));
        }
        if order.contains(&id) {
            continue;
        }
        let task = r.pointer("/info/task").ok_or_else(|| {
            DiagnoseError::Input(format!(
                "{what}: no info.task (user_id, actions, instruction)"
            ))
        })?;
        let actions = task
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, a)| {
                Action::ToolCall(ToolCall::from_value(
                    format!("ref_{i}"),
                    a.get("name").and_then(Value::as_str).unwrap_or_default(),
                    a.get("kwargs")
                        .or_else(|| a.get("arguments"))
                        .cloned()
                        .unwrap_or(json!({})),
                ))
            })
            .collect();
        foreign.push(ForeignTask {
            source: "tau-bench".to_string(),
            id: id.clone(),
            user_id: task
                .get("user_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            instruction: task
                .get("instruction")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            actions,
        });
        order.push(id);
    }
    let matches = factory.match_foreign_tasks(&foreign);
    let by_id: BTreeMap<&str, &TaskMatch> =
        order.iter().map(String::as_str).zip(&matches).collect();
    let unmapped: Vec<String> = order
        .iter()
        .zip(&matches)
        .filter(|(_, m)| m.task_id.is_none())
        .map(|(id, m)| format!("tau-bench task {id}: {}", m.note))
        .collect();
    if !unmapped.is_empty() && !options.skip_unmapped {
        return Err(DiagnoseError::Input(format!(
            "{file}: {} of {} tau-bench tasks match no {env_name} task (nothing imported; --skip-unmapped imports the rest):\n  {}",
            unmapped.len(),
            order.len(),
            unmapped.join("\n  ")
        )));
    }
    let agent = file_agent(file);
    let src = Source {
        format: Format::TauBench,
        file,
        hash,
        agent,
        extra: Value::Null,
    };
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut seen = BTreeMap::new();
    for (index, r) in records.iter().enumerate() {
        let what = format!("{file}: record {index}");
        let id = r.get("task_id").and_then(id_text).unwrap_or_default();
        let Some(m) = by_id.get(id.as_str()) else {
            continue;
        };
        let Some(ours) = &m.task_id else {
            skipped.push(format!("record {index} (tau-bench task {id}): {}", m.note));
            continue;
        };
        *counts
            .entry(by_id.get_key_value(id.as_str()).map_or("", |(k, _)| k))
            .or_default() += 1;
        let task = factory
            .task(ours)
            .map_err(|e| DiagnoseError::Input(format!("{what}: {e}")))?;
        let trial = r.get("trial").and_then(Value::as_u64).unwrap_or(0) as u32;
        let msgs = messages(r.get("traj").unwrap_or(&Value::Null), &what)?;
        let reward = r.get("reward").and_then(Value::as_f64).map(|v| Reward {
            value: Some(v),
            breakdown: r
                .pointer("/info/reward_info/info")
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| k.starts_with("r_"))
                        .map(|(k, v)| RewardComponent {
                            name: k.trim_start_matches("r_").to_uppercase(),
                            score: v.as_f64(),
                            detail: Value::Null,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
        // No termination is recorded; a missing reward_info is the step limit.
        let termination = match r.pointer("/info/reward_info") {
            None | Some(Value::Null) => Some("max_steps"),
            _ => None,
        };
        let episode_id = unique_id(&mut seen, format!("{ours}-t{trial}"));
        let note = format!(
            "imported from {file} (tau-bench record {index}); tau-bench task {id} -> {env_name} task {ours} ({:?}: {})",
            m.quality, m.note
        );
        out.push(trajectory(
            &src,
            factory.as_ref(),
            task,
            episode_id,
            format!("record {index}"),
            trial,
            0,
            &msgs,
            reward,
            termination,
            String::new(),
            note,
        ));
    }
    let mapping = order
        .iter()
        .zip(matches)
        .map(|(id, m)| MappingRow {
            source_task: id.clone(),
            records: counts.get(id.as_str()).copied().unwrap_or(0),
            matched: m,
        })
        .collect();
    Ok(Imported {
        format: Format::TauBench,
        run_id: src.run_id(),
        config: run_config(&src, &env_name),
        trajectories: out,
        mapping,
        skipped,
    })
}

/// The agent named by a historical file's name (`gpt-4o-airline.json`).
fn file_agent(file: &str) -> String {
    let name = std::path::Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("unknown");
    let name = name
        .trim_end_matches("-airline")
        .trim_end_matches("-retail");
    format!("{name} (from the file name)")
}

/// Reads `path` in `format` (or the detected one).
pub fn import_path(
    path: &std::path::Path,
    format: Option<Format>,
    options: &ImportOptions,
    lookup: EnvLookup<'_>,
) -> Result<Imported, DiagnoseError> {
    let file = path.display().to_string();
    let dir_form = path.is_dir()
        || (path.file_name().is_some_and(|n| n == "results.json")
            && path
                .parent()
                .is_some_and(|p| p.join("simulations").is_dir()));
    if dir_form {
        if format.is_some_and(|f| f != Format::Tau2) {
            return Err(DiagnoseError::Input(format!(
                "{file}: a tau2 results directory, not {}",
                format.map_or("", Format::as_str)
            )));
        }
        let (value, bytes) = read_tau2_dir(path)?;
        return import_tau2(&value, &file, &sha256(&bytes), options, lookup);
    }
    let bytes = std::fs::read(path)
        .map_err(|e| DiagnoseError::Input(format!("cannot read {file}: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| DiagnoseError::Input(format!("{file}: not UTF-8 text: {e}")))?;
    let hash = sha256(text.as_bytes());
    let format = match format {
        Some(f) => f,
        None => detect(&text, &file)?,
    };
    match format {
        Format::Lifeharness => {
            let trajectories = import_lifeharness(&text, &file)?;
            Ok(Imported {
                format,
                run_id: trajectories[0].header.run_id.clone(),
                config: json!({"imported_from": file, "import": {"format": "lifeharness", "sha256": hash}}),
                trajectories,
                mapping: Vec::new(),
                skipped: Vec::new(),
            })
        }
        Format::Tau2 => {
            let value = parse_json(&text, &file)?;
            import_tau2(&value, &file, &hash, options, lookup)
        }
        Format::TauBench => {
            let value = parse_json(&text, &file)?;
            import_tau_bench(&value, &file, &hash, options, lookup)
        }
    }
}
