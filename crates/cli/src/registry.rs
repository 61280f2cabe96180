//! Where names become concrete types: environments and model backends.
//! The CLI is the only crate that wires concrete types together.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use lifeharness_core::{ChatRequest, EnvironmentFactory, Model, ModelError, ModelInfo, ModelTurn};
use lifeharness_env_agentbench::AgentBenchFactory;
use lifeharness_env_tau2::{Tau2Factory, UserMode};
use lifeharness_env_toy::ToyFactory;
use lifeharness_models::PullOptions;

/// The environments this build knows, with a one-line description.
pub const ENVIRONMENTS: &[(&str, &str)] = &[
    (
        "toy",
        "a tiny key-value world for testing the runtime (20 tasks: train 10, test 10)",
    ),
    (
        "tau2-retail",
        "tau2-bench retail (train 74, test 40); ticket mode unless --user-model is given",
    ),
    (
        "tau2-airline",
        "tau2-bench airline (train 30, test 20); ticket mode unless --user-model is given",
    ),
    (
        "agentbench-db",
        "AgentBench DBBench on SQLite (dev 60, standard 300)",
    ),
    (
        "agentbench-os",
        "AgentBench OS interaction in a bubblewrap sandbox (dev 26, standard 144)",
    ),
];

/// Options that some environments take.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct EnvOptions {
    /// Model spec of the simulated user (tau2); ticket mode when absent.
    pub user_model: Option<String>,
    /// Model spec of the NL-assertion judge (tau2).
    pub judge: Option<String>,
    /// Seed of the simulated user.
    #[serde(default)]
    pub user_seed: u64,
}

/// The tau2 factory for a name and options.
pub async fn tau2(name: &str, options: &EnvOptions) -> Result<Tau2Factory> {
    let mode = match &options.user_model {
        Some(spec) => UserMode::Simulated {
            model: model(spec).await?,
            seed: options.user_seed,
        },
        None => UserMode::Ticket,
    };
    let mut factory = Tau2Factory::by_name(name, mode)?;
    if let Some(spec) = &options.judge {
        factory = factory.with_judge(model(spec).await?);
    }
    Ok(factory)
}

/// The factory for an environment name.
pub async fn environment(name: &str, options: &EnvOptions) -> Result<Arc<dyn EnvironmentFactory>> {
    match name {
        "tau2-retail" | "tau2-airline" => Ok(Arc::new(tau2(name, options).await?)),
        _ => replay_environment(name),
    }
}

/// The factory an environment's recorded episodes are replayed and
/// diagnosed with: no user model, no judge (tau2 in ticket mode).
pub fn replay_environment(name: &str) -> Result<Arc<dyn EnvironmentFactory>> {
    match name {
        "tau2-retail" | "tau2-airline" => {
            Ok(Arc::new(Tau2Factory::by_name(name, UserMode::Ticket)?))
        }
        "toy" => Ok(Arc::new(ToyFactory::default())),
        "agentbench-db" | "agentbench-os" => Ok(Arc::new(AgentBenchFactory::by_name(name)?)),
        other => {
            let known: Vec<&str> = ENVIRONMENTS.iter().map(|(n, _)| *n).collect();
            bail!(
                "unknown environment '{other}' (known: {})",
                known.join(", ")
            )
        }
    }
}

/// Replay factories by name, each made once.
#[derive(Default)]
pub struct Factories {
    made: std::sync::Mutex<std::collections::BTreeMap<String, Arc<dyn EnvironmentFactory>>>,
}

impl Factories {
    /// The replay factory for `name`.
    pub fn get(&self, name: &str) -> Result<Arc<dyn EnvironmentFactory>> {
        let mut made = self
            .made
            .lock()
            .map_err(|_| anyhow::anyhow!("factory cache poisoned"))?;
        if let Some(f) = made.get(name) {
            return Ok(Arc::clone(f));
        }
        let f = replay_environment(name)?;
        made.insert(name.to_string(), Arc::clone(&f));
        Ok(f)
    }
}

/// The model for a spec string (an embedded model is fetched on first use, with a progress bar).
pub async fn model(spec: &str) -> Result<Arc<dyn Model>> {
    let model = lifeharness_models::load_model(spec, &PullOptions::default())
        .await
        .with_context(|| format!("model '{spec}'"))?;
    Ok(model)
}

/// Waits before every model turn (a test aid for crash-recovery tests).
pub struct Delayed {
    /// The model.
    pub inner: Arc<dyn Model>,
    /// The wait.
    pub delay: Duration,
}

#[async_trait]
impl Model for Delayed {
    fn info(&self) -> ModelInfo {
        self.inner.info()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ModelTurn, ModelError> {
        tokio::time::sleep(self.delay).await;
        self.inner.chat(request).await
    }

    fn end_session(&self, session: &str) {
        self.inner.end_session(session);
    }
}
