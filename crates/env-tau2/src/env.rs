//! One τ²-bench episode as an [`Environment`].
//!
//! Tool calls run against the episode's copy-on-write database exactly as
//! the original's `Environment.get_response` runs them; messages go to the
//! user side ([`UserMode`]); `score` runs the original's evaluator. As in the
//! original orchestrator, the tenth tool error ends the episode
//! (`too_many_errors`, reward 0).

use std::sync::Arc;

use async_trait::async_trait;
use lifeharness_core::{
    Action, EnvError, Environment, Message, Model, Observation, ParsedArgs, Reward, StateView,
    StepOutcome, Task, ToolSpec,
};
use serde_json::Value;

use crate::domain::{Db, DomainData};
use crate::evaluator::{self, Termination, Turn};
use crate::prompts;
use crate::task::Tau2Task;
use crate::text::Text;
use crate::user::{self, Simulator, UserMode};

/// The original orchestrator's `max_errors`.
pub const MAX_TOOL_ERRORS: usize = 10;

/// A τ²-bench retail or airline episode.
pub struct Tau2Env {
    data: Arc<DomainData>,
    mode: UserMode,
    judge: Option<Arc<dyn Model>>,
    episode: Option<Episode>,
}

struct Episode {
    task: Tau2Task,
    db: Db,
    turns: Vec<Turn>,
    simulator: Option<Simulator>,
    tool_errors: usize,
    /// Successful calls of write tools (the `state_version`).
    writes: u64,
    termination: Option<Termination>,
    /// Whether the reward reads the calls' arguments (an `ACTION` basis);
    /// otherwise the turns keep only names and results.
    keep_arguments: bool,
}

impl Tau2Env {
    /// A fresh environment over shared domain data.
    pub fn new(data: Arc<DomainData>, mode: UserMode, judge: Option<Arc<dyn Model>>) -> Self {
        Self {
            data,
            mode,
            judge,
            episode: None,
        }
    }

    /// The current database hash (the original's `get_db_hash()`).
    pub fn db_hash(&self) -> Option<String> {
        self.episode.as_ref().map(|e| self.data.db_hash(&e.db))
    }

    /// Why the episode ended, if it did.
    pub fn termination(&self) -> Option<Termination> {
        self.episode.as_ref().and_then(|e| e.termination)
    }

    fn episode_mut(&mut self) -> Result<&mut Episode, EnvError> {
        self.episode
            .as_mut()
            .ok_or_else(|| EnvError::State("step before reset".to_string()))
    }

    fn end(&mut self, termination: Termination) {
        if let Some(ep) = self.episode.as_mut() {
            ep.termination = Some(termination);
            if let Some(sim) = &ep.simulator {
                sim.end();
            }
        }
    }
}

fn ended(ep: &Episode) -> Result<(), EnvError> {
    match ep.termination {
        Some(t) => Err(EnvError::State(format!(
            "episode already ended ({})",
            t.as_str()
        ))),
        None => Ok(()),
    }
}

#[async_trait]
impl Environment for Tau2Env {
    fn tools(&self) -> Vec<ToolSpec> {
        self.data.tools.clone()
    }

    fn system_text(&self) -> String {
        prompts::agent_system(&self.data.policy)
    }

    async fn reset(&mut self, task: &Task, seed: u64) -> Result<Vec<Message>, EnvError> {
        let parsed: Tau2Task = self.data.parse_task(task)?;
        let mut db = self.data.db.clone();
        db.apply_initial_state(parsed.initial_state.as_ref())
            .map_err(|e| EnvError::BadTask(format!("task {}: {e}", task.id)))?;
        let scenario = parsed.user_scenario.to_string();
        let keep_arguments = parsed
            .evaluation_criteria
            .as_ref()
            .is_some_and(|c| c.reward_basis.iter().any(|b| b == "ACTION"));
        let mut episode = Episode {
            keep_arguments,
            task: parsed,
            db,
            turns: Vec::with_capacity(16),
            simulator: None,
            tool_errors: 0,
            writes: 0,
            termination: None,
        };
        let opening = match &self.mode {
            UserMode::Ticket => {
                let ticket = user::ticket_message(&scenario);
                episode.turns.push(Turn::User(ticket.clone()));
                vec![Message::user(ticket)]
            }
            UserMode::Simulated { model, seed: base } => {
                let session = format!("tau2-user-{}-{}-{seed}", self.data.domain.name(), task.id);
                let mut sim =
                    Simulator::new(model.clone(), base.wrapping_add(seed), session, &scenario);
                let first = sim
                    .respond(prompts::FIRST_AGENT_MESSAGE)
                    .await
                    .map_err(|e| EnvError::Unavailable(format!("user simulator: {e}")))?;
                let first = first.unwrap_or_default();
                if first.is_empty() {
                    episode.termination = Some(Termination::UserError);
                } else if user::is_user_stop(&first) {
                    episode.termination = Some(Termination::UserStop);
                }
                episode.turns.push(Turn::User(first.clone()));
                episode.simulator = Some(sim);
                vec![
                    Message::assistant(prompts::FIRST_AGENT_MESSAGE),
                    Message::user(first),
                ]
            }
        };
        self.episode = Some(episode);
        Ok(opening)
    }

    async fn step(&mut self, action: &Action) -> Result<StepOutcome, EnvError> {
        let ticket = matches!(self.mode, UserMode::Ticket);
        let domain = self.data.domain;
        let ep = self.episode_mut()?;
        ended(ep)?;
        match action {
            Action::ToolCall(call) => {
                let (result, args) = match &call.arguments {
                    ParsedArgs::Json(args) => (
                        ep.db.call(&call.name, args),
                        ep.keep_arguments
                            .then(|| serde_json::to_string(args).ok())
                            .flatten(),
                    ),
                    ParsedArgs::Error(e) => (
                        crate::domain::ToolResult {
                            content: Text::Owned(format!(
                                "Error: the arguments are not valid JSON: {e}"
                            )),
                            is_error: true,
                        },
                        None,
                    ),
                };
                // The observation and the trajectory share one text (a
                // record's stored text is not copied at all).
                let content: Arc<str> = result.content.into();
                ep.turns.push(Turn::Tool {
                    name: call.name.clone(),
                    arguments: args,
                    result: Text::Shared(content.clone()),
                });
                if result.is_error {
                    ep.tool_errors += 1;
                } else if domain.is_write_tool(&call.name) {
                    ep.writes += 1;
                }
                let too_many = ep.tool_errors >= MAX_TOOL_ERRORS;
                // Ticket mode: nobody answers a transfer, so it ends the episode
                // the way the simulated user's ###TRANSFER### would.
                let transferred =
                    ticket && call.name == "transfer_to_human_agents" && !result.is_error;
                let observation = Observation::tool(call, content, result.is_error);
                if too_many {
                    self.end(Termination::TooManyErrors);
                } else if transferred {
                    self.end(Termination::UserStop);
                }
                Ok(StepOutcome {
                    observation,
                    done: too_many || transferred,
                })
            }
            Action::Message { content } => {
                ep.turns.push(Turn::Agent(content.clone()));
                if ticket {
                    if content.contains(user::TICKET_STOP) {
                        self.end(Termination::AgentStop);
                        return Ok(StepOutcome {
                            observation: Observation::environment(
                                "[ticket mode] episode ended by the agent",
                            ),
                            done: true,
                        });
                    }
                    return Ok(StepOutcome {
                        observation: Observation::user(user::TICKET_REPLY),
                        done: false,
                    });
                }
                let Some(sim) = ep.simulator.as_mut() else {
                    return Err(EnvError::State("no user simulator".to_string()));
                };
                let reply = sim
                    .respond(content)
                    .await
                    .map_err(|e| EnvError::Unavailable(format!("user simulator: {e}")))?;
                let Some(reply) = reply else {
                    self.end(Termination::UserError);
                    return Ok(StepOutcome {
                        observation: Observation::environment(
                            "the user simulator produced an empty message",
                        ),
                        done: true,
                    });
                };
                ep.turns.push(Turn::User(reply.clone()));
                let stop = user::is_user_stop(&reply);
                if stop {
                    self.end(Termination::UserStop);
                }
                Ok(StepOutcome {
                    observation: Observation::user(reply),
                    done: stop,
                })
            }
            Action::Finish { .. } => {
                self.end(Termination::AgentStop);
                Ok(StepOutcome {
                    observation: Observation::environment("episode ended by the agent"),
                    done: true,
                })
            }
        }
    }

    async fn score(&mut self) -> Result<Reward, EnvError> {
        let ep = self
            .episode
            .as_ref()
            .ok_or_else(|| EnvError::State("score before reset".to_string()))?;
        evaluator::evaluate(
            &ep.task,
            &self.data,
            &ep.db,
            &ep.turns,
            ep.termination,
            self.judge.as_deref(),
        )
        .await
        .map_err(EnvError::Internal)
    }

    fn state_view(&self) -> Option<Value> {
        self.episode.as_ref().map(|e| e.db.to_value())
    }

    fn state(&self) -> Option<&dyn StateView> {
        Some(self)
    }

    fn state_version(&self) -> Option<u64> {
        self.episode.as_ref().map(|e| e.writes)
    }
}

/// Looks up one record of the episode's database (see [`crate::state`]);
/// nothing before `reset`.
impl StateView for Tau2Env {
    fn lookup(&self, path: &[&str]) -> Option<Value> {
        self.episode.as_ref()?.db.lookup(path)
    }
}
