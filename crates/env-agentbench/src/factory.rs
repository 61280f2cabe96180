//! [`AgentBenchFactory`]: makes DBBench or OS environments and lists their tasks.

use std::sync::{Arc, OnceLock};

use lifeharness_core::{
    Action, EnvError, EnvInfo, Environment, EnvironmentFactory, ErrorMeaning, ReferenceReplay,
    Task, ToolCall,
};
use serde_json::json;
use tempfile::TempDir;

use crate::Protocol;
use crate::db::{DbData, DbEnv};
use crate::error::AgentBenchError;
use crate::os::{OsEnv, OsTask, SandboxConfig, etc};

/// Which AgentBench environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Benchmark {
    /// DBBench (`agentbench-db`).
    Db,
    /// OS interaction (`agentbench-os`).
    Os,
}

impl Benchmark {
    /// The environment name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Db => "agentbench-db",
            Self::Os => "agentbench-os",
        }
    }
}

pub(crate) struct OsShared {
    pub(crate) tasks: Arc<Vec<OsTask>>,
    pub(crate) config: SandboxConfig,
    skeleton: OnceLock<Result<TempDir, String>>,
}

impl OsShared {
    /// The `/etc` skeleton, built on first use.
    pub(crate) fn skeleton(&self) -> Result<std::path::PathBuf, AgentBenchError> {
        match self
            .skeleton
            .get_or_init(|| etc::build_skeleton().map_err(|e| e.to_string()))
        {
            Ok(dir) => Ok(dir.path().to_path_buf()),
            Err(e) => Err(AgentBenchError::SandboxUnavailable(e.clone())),
        }
    }
}

pub(crate) enum Inner {
    Db(Arc<DbData>),
    Os(Arc<OsShared>),
}

/// Makes AgentBench environments of one kind.
pub struct AgentBenchFactory {
    pub(crate) inner: Inner,
    protocol: Protocol,
}

impl AgentBenchFactory {
    /// DBBench, with the embedded data.
    pub fn db() -> Result<Self, AgentBenchError> {
        Ok(Self {
            inner: Inner::Db(Arc::new(DbData::load()?)),
            protocol: Protocol::default(),
        })
    }

    /// OS interaction, with the embedded data and default sandbox limits.
    pub fn os() -> Result<Self, AgentBenchError> {
        Self::os_with(SandboxConfig::default())
    }

    /// OS interaction with the given sandbox limits.
    pub fn os_with(config: SandboxConfig) -> Result<Self, AgentBenchError> {
        Ok(Self {
            inner: Inner::Os(Arc::new(OsShared {
                tasks: Arc::new(crate::os::data::load()?),
                config,
                skeleton: OnceLock::new(),
            })),
            protocol: Protocol::default(),
        })
    }

    /// The factory for an environment name (`agentbench-db`, `agentbench-os`).
    pub fn by_name(name: &str) -> Result<Self, AgentBenchError> {
        match name {
            "agentbench-db" => Self::db(),
            "agentbench-os" => Self::os(),
            other => Err(AgentBenchError::UnknownTask(format!("environment {other}"))),
        }
    }

    /// Sets how agents are told to act (tool calls and text are always accepted).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Which environment this makes.
    pub fn benchmark(&self) -> Benchmark {
        match self.inner {
            Inner::Db(_) => Benchmark::Db,
            Inner::Os(_) => Benchmark::Os,
        }
    }

    /// The protocol agents are told to use.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// A concrete DBBench environment (`None` for the OS factory).
    pub fn create_db(&self) -> Option<DbEnv> {
        match &self.inner {
            Inner::Db(data) => Some(DbEnv::new(Arc::clone(data), self.protocol)),
            Inner::Os(_) => None,
        }
    }

    /// A concrete OS environment (`None` for the DB factory).
    pub fn create_os(&self) -> Result<Option<OsEnv>, AgentBenchError> {
        match &self.inner {
            Inner::Db(_) => Ok(None),
            Inner::Os(shared) => Ok(Some(OsEnv::new(
                Arc::clone(&shared.tasks),
                shared.skeleton()?,
                shared.config.clone(),
                self.protocol,
            ))),
        }
    }

    /// Starts a sandbox and runs `true` in it: `Err` with the reason when
    /// sandboxes cannot be created here (OS only; DB always succeeds).
    pub async fn check_available(&self) -> Result<(), AgentBenchError> {
        let Inner::Os(shared) = &self.inner else {
            return Ok(());
        };
        let mut sandbox = crate::os::Sandbox::start(&shared.config, &shared.skeleton()?).await?;
        let out = sandbox.run(crate::os::ScriptKind::Shell, "true", &[]).await;
        sandbox.kill().await;
        match out {
            Ok(o) if o.exit_code == 0 => Ok(()),
            Ok(o) => Err(AgentBenchError::SandboxUnavailable(format!(
                "a trivial command failed in the sandbox (exit {})",
                o.exit_code
            ))),
            Err(e) => Err(AgentBenchError::SandboxUnavailable(e.to_string())),
        }
    }

    /// The splits' tasks, as core tasks.
    fn task_list(&self, split: &str) -> Result<Vec<Task>, AgentBenchError> {
        let name = self.benchmark().name();
        match &self.inner {
            Inner::Db(data) => Ok(data
                .split(split)?
                .into_iter()
                .map(|t| Task {
                    id: t.id.clone(),
                    environment: name.into(),
                    instruction: t.entry.prompt(),
                    data: json!({"split": t.split, "index": t.index, "type": t.entry.kind(), "source": t.entry.source}),
                })
                .collect()),
            Inner::Os(shared) => {
                if split != "all" && !crate::os::data::SPLITS.contains(&split) {
                    return Err(AgentBenchError::UnknownSplit(
                        split.into(),
                        "dev, standard, all".into(),
                    ));
                }
                Ok(shared
                    .tasks
                    .iter()
                    .filter(|t| split == "all" || t.split == split)
                    .map(|t| Task {
                        id: t.id.clone(),
                        environment: name.into(),
                        instruction: t.description.clone(),
                        data: json!({"split": t.split, "labels": t.labels}),
                    })
                    .collect())
            }
        }
    }
}

impl EnvironmentFactory for AgentBenchFactory {
    fn info(&self) -> EnvInfo {
        let config = match &self.inner {
            // `round_limit`: the original's default number of agent turns
            // (AgentBench DBBench 5, OS interaction 8); runs stop there
            // unless told otherwise, so scores stay comparable.
            Inner::Db(_) => {
                json!({"protocol": self.protocol, "backend": "sqlite", "round_limit": 5})
            }
            Inner::Os(shared) => json!({
                "protocol": self.protocol,
                "round_limit": 8,
                "sandbox": "bubblewrap",
                "disk_bytes": shared.config.disk_bytes,
                "command_timeout_s": shared.config.command_timeout.as_secs(),
                "max_processes": shared.config.max_processes,
                "memory_bytes": shared.config.memory_bytes,
            }),
        };
        EnvInfo {
            name: self.benchmark().name().into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config,
        }
    }

    fn splits(&self) -> Vec<String> {
        vec!["dev".into(), "standard".into()]
    }

    fn tasks(&self, split: &str) -> Result<Vec<Task>, EnvError> {
        Ok(self.task_list(split)?)
    }

    fn reference_actions(&self, task: &Task) -> Result<Option<Vec<Action>>, EnvError> {
        match self.benchmark() {
            // DBBench's label is the answer (and its SQL): reference actions.
            Benchmark::Db => Ok(Some(crate::replay::db_gold_actions(self, &task.id)?)),
            // OS tasks are checked by scripts; there is no reference action list.
            Benchmark::Os => Ok(None),
        }
    }

    fn reference_replay(&self) -> Option<&dyn ReferenceReplay> {
        Some(self)
    }

    fn interpret_action(&self, action: &Action) -> Option<ToolCall> {
        match self.benchmark() {
            Benchmark::Db => crate::diagnosis::interpret_db(action),
            Benchmark::Os => crate::diagnosis::interpret_os(action),
        }
    }

    fn action_problem(&self, action: &Action) -> Option<ErrorMeaning> {
        match self.benchmark() {
            Benchmark::Db => crate::diagnosis::db_action_problem(action),
            Benchmark::Os => crate::diagnosis::os_action_problem(action),
        }
    }

    /// AgentBench's `standard` sets are its test sets; `dev` is the input
    /// evolution may learn from.
    fn held_out_splits(&self) -> Vec<String> {
        vec!["standard".to_string()]
    }

    fn writes_state(&self, tool: &str) -> Option<bool> {
        match self.benchmark() {
            Benchmark::Db => crate::diagnosis::db_writes(tool),
            Benchmark::Os => crate::diagnosis::os_writes(tool),
        }
    }

    fn explain_error(&self, _tool: &str, text: &str) -> Option<ErrorMeaning> {
        match self.benchmark() {
            Benchmark::Db => crate::diagnosis::explain_db_error(text),
            Benchmark::Os => crate::diagnosis::explain_os_error(text),
        }
    }

    fn create(&self) -> Result<Box<dyn Environment>, EnvError> {
        if let Some(db) = self.create_db() {
            return Ok(Box::new(db));
        }
        match self.create_os()? {
            Some(os) => Ok(Box::new(os)),
            None => Err(EnvError::Internal("no environment".into())),
        }
    }
}

/// `lifeharness replay`: DB gold SQL and answers, OS example solutions,
/// each scored by the benchmark's own checks; excluded tasks say why.
#[async_trait::async_trait]
impl ReferenceReplay for AgentBenchFactory {
    async fn replay_reference(&self, split: &str) -> Result<Vec<serde_json::Value>, EnvError> {
        let reports = crate::replay::replay_gold(self, split).await?;
        reports
            .iter()
            .map(|r| serde_json::to_value(r).map_err(|e| EnvError::Internal(e.to_string())))
            .collect()
    }
}
