//! [`Tau2Factory`]: makes retail or airline episodes and lists their tasks.
//!
//! The embedded database is parsed once per factory; every episode starts
//! from a cheap clone of it (tables and records are shared until written),
//! so many concurrent episodes cost little memory.

use std::sync::Arc;

use lifeharness_core::{
    Action, EnvError, EnvInfo, Environment, EnvironmentFactory, ErrorMeaning, ForeignTask, Model,
    ReferenceReplay, Task, TaskMatch,
};
use serde_json::json;

use crate::Tau2Error;
use crate::domain::{Domain, DomainData};
use crate::env::{MAX_TOOL_ERRORS, Tau2Env};
use crate::user::UserMode;

/// The version of the original this crate reproduces.
pub const UPSTREAM: &str = "sierra-research/tau2-bench a2c0247 (tau2 1.0.1)";

/// Makes τ²-bench episodes of one domain.
#[derive(Clone)]
pub struct Tau2Factory {
    data: Arc<DomainData>,
    mode: UserMode,
    judge: Option<Arc<dyn Model>>,
}

impl std::fmt::Debug for Tau2Factory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tau2Factory")
            .field("domain", &self.data.domain)
            .field("mode", &self.mode)
            .field("judge", &self.judge.as_ref().map(|j| j.info().spec))
            .finish()
    }
}

impl Tau2Factory {
    /// A factory for `domain`.
    pub fn new(domain: Domain, mode: UserMode) -> Result<Self, Tau2Error> {
        Ok(Self {
            data: DomainData::load(domain)?,
            mode,
            judge: None,
        })
    }

    /// The retail domain.
    pub fn retail(mode: UserMode) -> Result<Self, Tau2Error> {
        Self::new(Domain::Retail, mode)
    }

    /// The airline domain.
    pub fn airline(mode: UserMode) -> Result<Self, Tau2Error> {
        Self::new(Domain::Airline, mode)
    }

    /// By environment name: `tau2-retail` or `tau2-airline`.
    pub fn by_name(name: &str, mode: UserMode) -> Result<Self, Tau2Error> {
        let domain = Domain::from_name(name)
            .ok_or_else(|| Tau2Error::UnknownEnvironment(name.to_string()))?;
        Self::new(domain, mode)
    }

    /// Sets the LLM judge for `NL_ASSERTION` components (without one they
    /// are reported as not evaluated and the reward is `None`).
    pub fn with_judge(mut self, judge: Arc<dyn Model>) -> Self {
        self.judge = Some(judge);
        self
    }

    /// Same data, another user mode (no re-parse).
    pub fn with_mode(&self, mode: UserMode) -> Self {
        Self {
            data: self.data.clone(),
            mode,
            judge: self.judge.clone(),
        }
    }

    /// The domain.
    pub fn domain(&self) -> Domain {
        self.data.domain
    }

    /// The shared domain data.
    pub fn data(&self) -> &Arc<DomainData> {
        &self.data
    }

    /// The user mode.
    pub fn mode(&self) -> &UserMode {
        &self.mode
    }

    /// The judge, if any.
    pub fn judge(&self) -> Option<&Arc<dyn Model>> {
        self.judge.as_ref()
    }

    /// The hash of the initial database.
    pub fn initial_db_hash(&self) -> &str {
        &self.data.initial_hash
    }

    /// A concrete environment (the trait object of [`EnvironmentFactory::create`]).
    pub fn env(&self) -> Tau2Env {
        Tau2Env::new(self.data.clone(), self.mode.clone(), self.judge.clone())
    }

    /// A task by id.
    pub fn task(&self, id: &str) -> Result<Task, Tau2Error> {
        let (task, raw) = self
            .data
            .task(id)
            .ok_or_else(|| Tau2Error::UnknownTask(id.to_string()))?;
        Ok(self.to_core(task, raw))
    }

    fn to_core(&self, task: &crate::task::Tau2Task, raw: &serde_json::Value) -> Task {
        Task {
            id: task.id.clone(),
            environment: self.data.domain.env_name().to_string(),
            instruction: task.user_scenario.instructions.to_string(),
            data: raw.clone(),
        }
    }

    /// The tasks of a split (`all` for every task), in file order.
    pub fn split_tasks(&self, split: &str) -> Result<Vec<Task>, Tau2Error> {
        if split == "all" {
            return Ok(self
                .data
                .tasks
                .iter()
                .map(|(t, raw)| self.to_core(t, raw))
                .collect());
        }
        let ids = self
            .data
            .splits
            .get(split)
            .ok_or_else(|| Tau2Error::UnknownSplit {
                split: split.to_string(),
                available: self.splits().join(", "),
            })?;
        Ok(self
            .data
            .tasks
            .iter()
            .filter(|(t, _)| ids.contains(&t.id))
            .map(|(t, raw)| self.to_core(t, raw))
            .collect())
    }
}

impl EnvironmentFactory for Tau2Factory {
    fn info(&self) -> EnvInfo {
        let domain = self.data.domain;
        let simulated = matches!(self.mode, UserMode::Simulated { .. });
        let mut notes = Vec::new();
        if !simulated {
            notes.push("ticket mode: no user simulator; the scenario is given up front and counts as the user's confirmation");
        }
        if !domain.upstream_db() {
            notes.push("airline db.json is a reconstruction of upstream's (a few small value edits differ)");
        }
        let (user_model, user_seed) = match &self.mode {
            UserMode::Ticket => (None, None),
            UserMode::Simulated { model, seed } => (Some(model.info().spec), Some(*seed)),
        };
        EnvInfo {
            name: domain.env_name().to_string(),
            version: format!(
                "{} (lifeharness-env-tau2 {})",
                UPSTREAM,
                env!("CARGO_PKG_VERSION")
            ),
            config: json!({
                "domain": domain.name(),
                "user_mode": self.mode.label(),
                "user_model": user_model,
                "user_seed": user_seed,
                "judge": self.judge.as_ref().map(|j| j.info().spec),
                "comparable_with_published": simulated && domain.upstream_db(),
                "comparability_notes": notes,
                "max_tool_errors": MAX_TOOL_ERRORS,
                "initial_db_hash": self.data.initial_hash,
            }),
        }
    }

    fn splits(&self) -> Vec<String> {
        let mut out: Vec<String> = self.data.splits.keys().cloned().collect();
        out.push("all".to_string());
        out
    }

    fn tasks(&self, split: &str) -> Result<Vec<Task>, EnvError> {
        self.split_tasks(split).map_err(EnvError::from)
    }

    fn create(&self) -> Result<Box<dyn Environment>, EnvError> {
        Ok(Box::new(self.env()))
    }

    fn task(&self, id: &str) -> Result<Task, EnvError> {
        Tau2Factory::task(self, id).map_err(EnvError::from)
    }

    /// Ticket mode: no user model runs; a message gets the fixed ticket reply.
    fn create_replay(&self) -> Result<Box<dyn Environment>, EnvError> {
        Ok(Box::new(Tau2Env::new(
            self.data.clone(),
            UserMode::Ticket,
            self.judge.clone(),
        )))
    }

    fn reference_actions(&self, task: &Task) -> Result<Option<Vec<Action>>, EnvError> {
        let parsed = self.data.parse_task(task)?;
        Ok(Some(crate::diagnosis::reference_actions(&parsed)))
    }

    fn writes_state(&self, tool: &str) -> Option<bool> {
        Some(self.data.domain.is_write_tool(tool))
    }

    fn state_collections(&self) -> Vec<String> {
        let tables: &[&str] = match self.data.domain {
            Domain::Retail => &["orders", "users", "products"],
            Domain::Airline => &["reservations", "users", "flights"],
        };
        tables.iter().map(|t| (*t).to_string()).collect()
    }

    fn is_handoff(&self, tool: &str) -> bool {
        tool == crate::diagnosis::TRANSFER_TOOL
    }

    fn explain_error(&self, _tool: &str, text: &str) -> Option<ErrorMeaning> {
        crate::diagnosis::explain_error(text)
    }

    fn reference_replay(&self) -> Option<&dyn ReferenceReplay> {
        Some(self)
    }

    fn match_foreign_tasks(&self, foreign: &[ForeignTask]) -> Vec<TaskMatch> {
        crate::diagnosis::match_foreign(&self.data, foreign)
    }
}

/// `lifeharness replay`: gold solutions (tool calls plus one message stating
/// every `communicate_info` item), or given actions, with database hashes.
#[async_trait::async_trait]
impl ReferenceReplay for Tau2Factory {
    async fn replay_reference(&self, split: &str) -> Result<Vec<serde_json::Value>, EnvError> {
        let reports = self.replay_gold_split(split).await?;
        to_values(&reports)
    }

    async fn replay_actions(&self, jsonl: &str) -> Result<Vec<serde_json::Value>, EnvError> {
        let reports = self.replay_jsonl(jsonl).await?;
        to_values(&reports)
    }
}

fn to_values<T: serde::Serialize>(items: &[T]) -> Result<Vec<serde_json::Value>, EnvError> {
    items
        .iter()
        .map(|r| serde_json::to_value(r).map_err(|e| EnvError::Internal(e.to_string())))
        .collect()
}
