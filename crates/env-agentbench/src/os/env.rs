//! The OS-interaction environment: one sandbox per episode, driven by the
//! text protocol (`Act: bash` / `Act: answer(...)` / `Act: finish`) or the
//! function-calling tools (`bash_action`, `answer_action`, `finish_action`),
//! scored by the task's match rule or check scripts as AgentBench does.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use lifeharness_core::{
    Action, EnvError, Environment, Message, Observation, Reward, RewardComponent, StepOutcome,
    Task, ToolCall, ToolSpec,
};
use serde_json::{Value, json};

use super::data::{Evaluation, Language, OsTask, Script};
use super::protocol::{OsAction, clean_output, parse, render_output};
use super::sandbox::{Sandbox, SandboxConfig, ScriptKind};
use crate::Protocol;
use crate::error::AgentBenchError;

const INTRO: &str = include_str!("../../prompts/os_intro.prompt.md");
const TEXT: &str = include_str!("../../prompts/os_text.prompt.md");
const TOOLS: &str = include_str!("../../prompts/os_tools.prompt.md");
const BOTH: &str = include_str!("../../prompts/os_both.prompt.md");

/// The `bash_action` tool name.
pub const BASH_ACTION: &str = "bash_action";
/// The `answer_action` tool name.
pub const ANSWER_ACTION: &str = "answer_action";
/// The `finish_action` tool name.
pub const FINISH_ACTION: &str = "finish_action";

/// The OS system text for a protocol.
pub fn system_text(protocol: Protocol) -> String {
    let section = match protocol {
        Protocol::Both => BOTH,
        Protocol::Text => TEXT,
        Protocol::Tools => TOOLS,
    };
    format!("{}\n{}", INTRO.trim_end(), section.trim_end())
}

/// The worked example shown before the problem in text mode.
fn one_shot() -> Vec<Message> {
    vec![
        Message::user("How many entries does the directory /etc contain?"),
        Message::assistant(
            "Think: I will list /etc to see its entries.\n\nAct: bash\n\n```bash\nls /etc\n```",
        ),
        Message::user(
            "The output of the OS:\n\nadduser.conf alternatives apt bash.bashrc cron.d default \
             fstab group hostname hosts [truncated because the output is too long]",
        ),
        Message::assistant(
            "Think: The listing was cut short, so I will count the entries with a command.\n\n\
             Act: bash\n\n```bash\nls -1 /etc | wc -l\n```",
        ),
        Message::user("The output of the OS:\n\n220"),
        Message::assistant("Think: /etc holds 220 entries.\n\nAct: answer(220)"),
    ]
}

fn string_param(name: &str, description: &str) -> Value {
    json!({
        "type": "object",
        "properties": {name: {"type": "string", "description": description}},
        "required": [name],
        "additionalProperties": false
    })
}

/// The OS tools (AgentBench's function-calling configuration).
pub fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: BASH_ACTION.into(),
            description: "Execute bash code to perform an operation in the Linux environment."
                .into(),
            parameters: string_param("script", "The bash script to be executed."),
        },
        ToolSpec {
            name: FINISH_ACTION.into(),
            description: "Indicate that the task has been finished or need some additional information to be finished.".into(),
            parameters: string_param("thought", "The thought or reason indicating the task is finished."),
        },
        ToolSpec {
            name: ANSWER_ACTION.into(),
            description: "Provide the answer to the question.".into(),
            parameters: string_param("answer", "The answer to the question."),
        },
    ]
}

#[derive(Debug, Clone, PartialEq)]
enum Ending {
    Answer(Option<String>),
    Invalid,
}

struct Episode {
    task: OsTask,
    sandbox: Sandbox,
    ending: Option<Ending>,
}

/// One OS-interaction episode.
pub struct OsEnv {
    tasks: Arc<Vec<OsTask>>,
    skeleton: PathBuf,
    config: SandboxConfig,
    protocol: Protocol,
    episode: Option<Episode>,
}

fn kind_of(script: &Script) -> Result<ScriptKind, AgentBenchError> {
    match &script.language {
        Language::Bash => Ok(ScriptKind::Bash),
        Language::Python => Ok(ScriptKind::Python),
        Language::Other(other) => Err(AgentBenchError::Data(format!(
            "scripts in {other} are not supported"
        ))),
    }
}

/// Makes `$RANDOM` (bash) and `random` (python) in init scripts follow the seed.
fn seeded(script: &Script, seed: u64) -> String {
    let seed = seed % (1 << 31);
    match script.language {
        Language::Bash => format!("RANDOM={seed}\n{}", script.code),
        Language::Python => format!("import random; random.seed({seed})\n{}", script.code),
        Language::Other(_) => script.code.clone(),
    }
}

impl OsEnv {
    /// A new environment.
    pub fn new(
        tasks: Arc<Vec<OsTask>>,
        skeleton: PathBuf,
        config: SandboxConfig,
        protocol: Protocol,
    ) -> Self {
        Self {
            tasks,
            skeleton,
            config,
            protocol,
            episode: None,
        }
    }

    fn episode(&mut self) -> Result<&mut Episode, EnvError> {
        self.episode
            .as_mut()
            .ok_or_else(|| EnvError::State("step before reset".into()))
    }

    /// Runs `code` in the agent's shell and renders the output as AgentBench does.
    async fn run_bash(&mut self, code: &str) -> Result<String, EnvError> {
        let episode = self.episode()?;
        let out = episode.sandbox.run(ScriptKind::Shell, code, &[]).await?;
        let mut text = clean_output(&String::from_utf8_lossy(&out.output));
        if out.timed_out {
            text.push_str("\n[the command was killed: time limit reached]");
        }
        Ok(render_output(&text))
    }

    async fn tool_step(&mut self, call: &ToolCall) -> Result<StepOutcome, EnvError> {
        let Some(args) = call.args().and_then(Value::as_object) else {
            let text = "Failed to parse the tool arguments as a JSON object.";
            return Ok(outcome(Observation::tool(call, text, true), false));
        };
        // AgentBench takes the first argument whatever its name.
        let first = args.values().next().map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        match call.name.as_str() {
            BASH_ACTION => {
                let Some(code) = first else {
                    let text = "bash_action needs a 'script' argument.";
                    return Ok(outcome(Observation::tool(call, text, true), false));
                };
                let text = self.run_bash(&code).await?;
                Ok(outcome(Observation::tool(call, text, false), false))
            }
            ANSWER_ACTION | FINISH_ACTION => {
                self.episode()?.ending = Some(Ending::Answer(first));
                Ok(outcome(Observation::tool(call, "Received.", false), true))
            }
            _ => {
                let text = "Invalid function call. Please call a tool instead";
                Ok(outcome(Observation::tool(call, text, true), false))
            }
        }
    }

    /// Judges `answer` with the task's match rule or check scripts.
    async fn judge(&mut self, answer: Option<String>) -> Result<(bool, Value), EnvError> {
        let episode = self.episode()?;
        match episode.task.evaluation.clone() {
            Evaluation::Match {
                answer: expected,
                regex,
                strip,
            } => {
                let given = answer.map(|a| if strip { a.trim().to_string() } else { a });
                let ok = match (&given, expected, regex) {
                    (Some(g), Some(e), _) => *g == e,
                    (Some(g), None, Some(re)) => regex::Regex::new(&re)
                        .map_err(|e| AgentBenchError::Data(format!("bad match regex: {e}")))?
                        .is_match(g),
                    _ => false,
                };
                Ok((ok, json!({"rule": "match", "answer": given})))
            }
            Evaluation::Check(scripts) => {
                // AgentBench passes str(answer): Python's None prints as "None".
                let mut params = vec![answer.clone().unwrap_or_else(|| "None".into())];
                for (i, script) in scripts.iter().enumerate() {
                    let script = match script.as_ref().or(episode.task.example.as_ref()) {
                        Some(s) => s.clone(),
                        None => {
                            return Ok((
                                false,
                                json!({"rule": "check", "failed_at": i, "reason": "no example script"}),
                            ));
                        }
                    };
                    let out = episode
                        .sandbox
                        .run(kind_of(&script)?, &script.code, &params)
                        .await?;
                    if out.exit_code != 0 {
                        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                        return Ok((
                            false,
                            json!({"rule": "check", "answer": answer, "failed_at": i, "exit_code": out.exit_code, "stderr": stderr}),
                        ));
                    }
                    params.push(String::from_utf8_lossy(&out.output).into_owned());
                }
                Ok((true, json!({"rule": "check", "answer": answer})))
            }
        }
    }

    /// Kills the sandbox now (it is also killed when the environment is dropped).
    pub async fn close(&mut self) {
        if let Some(mut episode) = self.episode.take() {
            episode.sandbox.kill().await;
        }
    }

    /// The task of the current episode.
    pub fn task(&self) -> Option<&OsTask> {
        self.episode.as_ref().map(|e| &e.task)
    }

    /// Runs a script in the episode's sandbox and returns its raw output
    /// (for gold replays and tests; agents go through `step`).
    pub async fn run_raw(
        &mut self,
        kind: ScriptKind,
        code: &str,
    ) -> Result<super::sandbox::RunOutput, AgentBenchError> {
        let episode = self
            .episode
            .as_mut()
            .ok_or_else(|| AgentBenchError::State("run before reset".into()))?;
        episode.sandbox.run(kind, code, &[]).await
    }

    /// The host pid of the episode's sandbox, while one runs.
    pub fn sandbox_pid(&self) -> Option<u32> {
        self.episode.as_ref().and_then(|e| e.sandbox.pid())
    }
}

fn outcome(observation: Observation, done: bool) -> StepOutcome {
    StepOutcome { observation, done }
}

#[async_trait]
impl Environment for OsEnv {
    fn tools(&self) -> Vec<ToolSpec> {
        match self.protocol {
            Protocol::Text => Vec::new(),
            Protocol::Both | Protocol::Tools => tools(),
        }
    }

    fn system_text(&self) -> String {
        system_text(self.protocol)
    }

    async fn reset(&mut self, task: &Task, seed: u64) -> Result<Vec<Message>, EnvError> {
        self.close().await;
        let record = self
            .tasks
            .iter()
            .find(|t| t.id == task.id)
            .cloned()
            .ok_or_else(|| AgentBenchError::UnknownTask(task.id.clone()))?;
        let mut sandbox = Sandbox::start(&self.config, &self.skeleton).await?;
        for (i, script) in record.init.iter().enumerate() {
            let out = sandbox
                .run(kind_of(script)?, &seeded(script, seed), &[])
                .await?;
            if out.exit_code != 0 {
                sandbox.kill().await;
                return Err(EnvError::Internal(format!(
                    "init script {} of {} failed (exit {}): {}",
                    i + 1,
                    record.id,
                    out.exit_code,
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
        }
        if let Some(start) = &record.start {
            // As in AgentBench, the start script runs in the agent's shell and its status is ignored.
            sandbox.run(ScriptKind::Shell, &start.code, &[]).await?;
        }
        let problem = format!(
            "Now, I will start a new problem in a new OS. My problem is:\n\n{}",
            record.description
        );
        self.episode = Some(Episode {
            task: record,
            sandbox,
            ending: None,
        });
        let mut messages = match self.protocol {
            Protocol::Text | Protocol::Both => one_shot(),
            Protocol::Tools => Vec::new(),
        };
        messages.push(Message::user(problem));
        Ok(messages)
    }

    async fn step(&mut self, action: &Action) -> Result<StepOutcome, EnvError> {
        if self.episode()?.ending.is_some() {
            return Err(EnvError::State("the episode is over".into()));
        }
        match action {
            Action::ToolCall(call) => self.tool_step(call).await,
            Action::Message { content } => match parse(content) {
                OsAction::Bash(code) => {
                    let text = self.run_bash(&code).await?;
                    Ok(outcome(Observation::user(text), false))
                }
                OsAction::Commit(answer) => {
                    self.episode()?.ending = Some(Ending::Answer(answer));
                    Ok(outcome(Observation::environment("Received."), true))
                }
                OsAction::Invalid => {
                    self.episode()?.ending = Some(Ending::Invalid);
                    let text =
                        "Invalid reply: no valid 'Act: bash', 'Act: finish' or 'Act: answer(...)'.";
                    Ok(outcome(Observation::environment(text), true))
                }
            },
            Action::Finish { reason } => {
                self.episode()?.ending = Some(Ending::Answer(reason.clone()));
                Ok(outcome(Observation::environment("Received."), true))
            }
        }
    }

    async fn score(&mut self) -> Result<Reward, EnvError> {
        let ending = self.episode()?.ending.clone();
        let (success, detail) = match ending {
            None => (
                false,
                json!({"reason": "no answer committed (round limit)"}),
            ),
            Some(Ending::Invalid) => (false, json!({"reason": "invalid action"})),
            Some(Ending::Answer(answer)) => self.judge(answer).await?,
        };
        let value = if success { 1.0 } else { 0.0 };
        Ok(Reward {
            value: Some(value),
            breakdown: vec![RewardComponent {
                name: "OS".into(),
                score: Some(value),
                detail,
            }],
        })
    }
}
