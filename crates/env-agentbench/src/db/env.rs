//! The DBBench environment: one fresh SQLite database per episode, driven
//! either by AgentBench's text protocol (`Action::Message`) or by its two
//! function-calling tools (`execute_sql`, `commit_final_answer`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lifeharness_core::{
    Action, EnvError, Environment, Message, Observation, Reward, RewardComponent, StepOutcome,
    Task, ToolCall, ToolSpec,
};
use rusqlite::{Connection, InterruptHandle};
use serde_json::{Value, json};

use super::compare::{compare, is_modification};
use super::data::{DbData, DbTaskRecord};
use super::protocol::{TextAction, parse};
use super::pyvalue::PyValue;
use super::sqlite;
use crate::Protocol;
use crate::error::AgentBenchError;

/// The SQL statement time limit (AgentBench: 60 s).
pub const SQL_TIMEOUT: Duration = Duration::from_secs(60);

/// The `execute_sql` tool name.
pub const EXECUTE_SQL: &str = "execute_sql";
/// The `commit_final_answer` tool name.
pub const COMMIT_FINAL_ANSWER: &str = "commit_final_answer";

const INTRO: &str = include_str!("../../prompts/db_intro.prompt.md");
const TEXT: &str = include_str!("../../prompts/db_text.prompt.md");
const TOOLS: &str = include_str!("../../prompts/db_tools.prompt.md");
const BOTH: &str = include_str!("../../prompts/db_both.prompt.md");

/// The DBBench system text for a protocol.
pub fn system_text(protocol: Protocol) -> String {
    let section = match protocol {
        Protocol::Both => BOTH,
        Protocol::Text => TEXT,
        Protocol::Tools => TOOLS,
    };
    format!("{}\n{}", INTRO.trim_end(), section.trim_end())
}

/// The DBBench tools (AgentBench's function-calling configuration).
pub fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: EXECUTE_SQL.into(),
            description: "Executes a given SQL statement on the database and returns the result."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {"query": {"type": "string", "description": "The SQL query to be executed."}},
                "required": ["query"],
                "additionalProperties": false
            }),
        },
        ToolSpec {
            name: COMMIT_FINAL_ANSWER.into(),
            description: "Commits the final answer after all operations are completed.".into(),
            parameters: json!({
                "type": "object",
                "properties": {"answers": {
                    "type": "array", "items": {"type": "string"},
                    "description": "The list of final answers to commit."
                }},
                "required": ["answers"],
                "additionalProperties": false
            }),
        },
    ]
}

/// How the episode ended.
#[derive(Debug, Clone, PartialEq)]
enum Ending {
    /// An answer was committed (tool) or a text reply ended the episode.
    Answer(Option<PyValue>),
    /// The reply broke the text protocol.
    Invalid(String),
    /// The agent finished without answering.
    Finished,
}

struct Episode {
    record: DbTaskRecord,
    conn: Arc<Mutex<Connection>>,
    interrupt: Arc<InterruptHandle>,
    ending: Option<Ending>,
}

/// One DBBench episode.
pub struct DbEnv {
    data: Arc<DbData>,
    protocol: Protocol,
    episode: Option<Episode>,
}

impl DbEnv {
    /// A new environment over `data`.
    pub fn new(data: Arc<DbData>, protocol: Protocol) -> Self {
        Self {
            data,
            protocol,
            episode: None,
        }
    }

    fn episode(&mut self) -> Result<&mut Episode, EnvError> {
        self.episode
            .as_mut()
            .ok_or_else(|| EnvError::State("step before reset".into()))
    }

    async fn run_sql(&mut self, sql: String) -> Result<String, EnvError> {
        let episode = self.episode()?;
        let conn = Arc::clone(&episode.conn);
        let interrupt = Arc::clone(&episode.interrupt);
        let job = tokio::task::spawn_blocking(move || {
            let guard = conn
                .lock()
                .map_err(|_| AgentBenchError::State("database lock poisoned".into()))?;
            Ok::<_, AgentBenchError>(sqlite::execute(&guard, &sql))
        });
        match tokio::time::timeout(SQL_TIMEOUT, job).await {
            Ok(joined) => Ok(joined.map_err(AgentBenchError::from)??),
            Err(_) => {
                interrupt.interrupt();
                Ok("Error: SQL execution timed out.".into())
            }
        }
    }

    async fn tool_step(&mut self, call: &ToolCall) -> Result<StepOutcome, EnvError> {
        let Some(args) = call.args().and_then(Value::as_object) else {
            let text = "Error: Failed to parse tool call. Tool call format is incorrect.";
            return Ok(outcome(Observation::tool(call, text, true), false));
        };
        // AgentBench takes the first argument whatever its name; prefer the documented one.
        let pick = |key: &str| args.get(key).or_else(|| args.values().next()).cloned();
        match call.name.as_str() {
            EXECUTE_SQL => {
                let Some(Value::String(sql)) = pick("query") else {
                    let text = "Error executing query: the 'query' argument must be a string.";
                    return Ok(outcome(Observation::tool(call, text, true), false));
                };
                let mut result = self.run_sql(sql).await?;
                if result.is_empty() {
                    result = "No response from database.".into();
                }
                Ok(outcome(Observation::tool(call, result, false), false))
            }
            COMMIT_FINAL_ANSWER => {
                let answer = pick("answers").map(|v| PyValue::from_json(&v));
                self.episode()?.ending = Some(Ending::Answer(answer));
                Ok(outcome(
                    Observation::tool(call, "Answer committed.", false),
                    true,
                ))
            }
            _ => {
                let text = "Invalid function call. Please call a tool instead.";
                Ok(outcome(Observation::tool(call, text, true), false))
            }
        }
    }

    async fn text_step(&mut self, content: &str) -> Result<StepOutcome, EnvError> {
        match parse(content) {
            TextAction::Operation(sql) => {
                let result = self.run_sql(sql).await?;
                Ok(outcome(Observation::user(result), false))
            }
            TextAction::MissingSql => {
                let why = "Action: Operation without a ```sql code block";
                self.episode()?.ending = Some(Ending::Invalid(why.into()));
                Ok(outcome(
                    Observation::environment(format!("Invalid reply: {why}.")),
                    true,
                ))
            }
            TextAction::Answer(answer) => {
                self.episode()?.ending = Some(Ending::Answer(answer.map(PyValue::Str)));
                Ok(outcome(Observation::environment("Answer received."), true))
            }
        }
    }
}

fn outcome(observation: Observation, done: bool) -> StepOutcome {
    StepOutcome { observation, done }
}

#[async_trait]
impl Environment for DbEnv {
    fn tools(&self) -> Vec<ToolSpec> {
        match self.protocol {
            Protocol::Text => Vec::new(),
            Protocol::Both | Protocol::Tools => tools(),
        }
    }

    fn system_text(&self) -> String {
        system_text(self.protocol)
    }

    async fn reset(&mut self, task: &Task, _seed: u64) -> Result<Vec<Message>, EnvError> {
        let record = self.data.get(&task.id)?.clone();
        let table = record.entry.table.clone();
        let conn = tokio::task::spawn_blocking(move || sqlite::build(&table))
            .await
            .map_err(AgentBenchError::from)??;
        let prompt = record.entry.prompt();
        self.episode = Some(Episode {
            record,
            interrupt: Arc::new(conn.get_interrupt_handle()),
            conn: Arc::new(Mutex::new(conn)),
            ending: None,
        });
        Ok(vec![Message::user(prompt)])
    }

    async fn step(&mut self, action: &Action) -> Result<StepOutcome, EnvError> {
        if self.episode()?.ending.is_some() {
            return Err(EnvError::State("the episode is over".into()));
        }
        match action {
            Action::ToolCall(call) => self.tool_step(call).await,
            Action::Message { content } => self.text_step(content).await,
            Action::Finish { .. } => {
                self.episode()?.ending = Some(Ending::Finished);
                Ok(outcome(
                    Observation::environment("Episode finished without an answer."),
                    true,
                ))
            }
        }
    }

    async fn score(&mut self) -> Result<Reward, EnvError> {
        let episode = self
            .episode
            .as_ref()
            .ok_or_else(|| EnvError::State("score before reset".into()))?;
        let entry = &episode.record.entry;
        let kind = entry.kind().to_string();
        let (success, detail) = match &episode.ending {
            None => (false, json!({"reason": "no answer committed"})),
            Some(Ending::Finished) => (false, json!({"reason": "finished without an answer"})),
            Some(Ending::Invalid(why)) => (false, json!({"reason": why})),
            Some(Ending::Answer(answer)) if is_modification(&kind) => {
                let conn = Arc::clone(&episode.conn);
                let table = entry.table.clone();
                let hash = tokio::task::spawn_blocking(move || {
                    let guard = conn
                        .lock()
                        .map_err(|_| AgentBenchError::State("database lock poisoned".into()))?;
                    sqlite::table_hash(&guard, &table)
                })
                .await
                .map_err(AgentBenchError::from)??;
                let expected = entry.answer_md5.clone().unwrap_or_default();
                let ok = compare(
                    &PyValue::Str(hash.clone()),
                    &PyValue::Str(expected.clone()),
                    &kind,
                );
                let answer = answer.as_ref().map(PyValue::repr);
                (
                    ok,
                    json!({"table_hash": hash, "expected": expected, "answer": answer}),
                )
            }
            Some(Ending::Answer(answer)) => {
                let expected = PyValue::List(entry.label.iter().map(PyValue::from_json).collect());
                let ok = answer
                    .as_ref()
                    .is_some_and(|a| compare(a, &expected, &kind));
                let shown = answer.as_ref().map(PyValue::repr);
                (ok, json!({"answer": shown, "expected": expected.repr()}))
            }
        };
        let value = if success { 1.0 } else { 0.0 };
        Ok(Reward {
            value: Some(value),
            breakdown: vec![RewardComponent {
                name: if is_modification(&kind) {
                    "TABLE_HASH"
                } else {
                    "ANSWER"
                }
                .into(),
                score: Some(value),
                detail: json!({"type": kind, "detail": detail}),
            }],
        })
    }
}
