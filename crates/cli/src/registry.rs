//! Where names become concrete types: environments and model backends.
//! The CLI is the only crate that wires concrete types together.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use lifeharness_core::{ChatRequest, EnvironmentFactory, Model, ModelError, ModelInfo, ModelTurn};
use lifeharness_env_agentbench::AgentBenchFactory;
use lifeharness_env_toy::ToyFactory;
use lifeharness_models::ScriptedModel;

/// The environments this build knows, with a one-line description.
pub const ENVIRONMENTS: &[(&str, &str)] = &[
    (
        "toy",
        "a tiny key-value world for testing the runtime (20 tasks: train 10, test 10)",
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

/// The factory for an environment name.
pub fn environment(name: &str) -> Result<Arc<dyn EnvironmentFactory>> {
    match name {
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

/// The model for a spec string.
pub fn model(spec: &str) -> Result<Arc<dyn Model>> {
    if let Some(path) = spec.strip_prefix("scripted:") {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scripted model file '{path}'"))?;
        let model = ScriptedModel::from_json(&text)
            .map_err(|e| anyhow::anyhow!("scripted model file '{path}': {e}"))?;
        return Ok(Arc::new(model));
    }
    bail!("unknown model spec '{spec}' (this build supports scripted:<file.json>)")
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
