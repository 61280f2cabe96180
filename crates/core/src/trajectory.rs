//! Steps and trajectories: the versioned, self-describing record of an episode.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{Action, Observation};
use crate::env::{EnvInfo, Reward, Task};
use crate::failure::FailureKind;
use crate::layer::LayerEvent;
use crate::message::Message;
use crate::model::{ModelError, ModelInfo, ModelTurn, Usage};

/// The `format` field of every trajectory.
pub const TRAJECTORY_FORMAT: &str = "lifeharness.trajectory";
/// The current trajectory format version.
pub const TRAJECTORY_VERSION: u32 = 1;

/// Identifies the harness an episode ran under.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HarnessInfo {
    /// The content hash of the harness file (`null` harness: hash of its canonical form).
    pub id: String,
    /// A human name.
    pub name: String,
    /// The whole harness configuration.
    #[serde(default)]
    pub config: Value,
}

/// How an episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// Ended and scored as solved.
    Success,
    /// Ended and scored as not solved (or aborted by a rule).
    Failure,
    /// Stopped by trajectory regulation.
    Loop,
    /// A step or block budget ran out.
    Budget,
    /// The backend or the environment failed.
    Error,
}

impl ExitStatus {
    /// The snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Loop => "loop",
            Self::Budget => "budget",
            Self::Error => "error",
        }
    }
}

/// What became of one action of a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// The action as the model proposed it.
    pub proposed: Action,
    /// The action sent to the environment (after any rewrite); `None` if blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed: Option<Action>,
    /// The environment's response (with harness notes), if executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
    /// The correction shown to the model, if blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<String>,
    /// Whether the environment said the episode is over.
    #[serde(default)]
    pub done: bool,
}

/// One model turn and everything that followed from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// 0-based index within the episode.
    pub index: usize,
    /// What the model said (absent when the backend failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<ModelTurn>,
    /// The backend failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_error: Option<ModelError>,
    /// The turn's actions, in order.
    #[serde(default)]
    pub actions: Vec<ActionRecord>,
    /// Messages the harness added to the conversation after this step
    /// (nudges, directives, format corrections).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub injected: Vec<Message>,
    /// Every verdict recorded during this step.
    #[serde(default)]
    pub events: Vec<LayerEvent>,
}

/// Everything known about an episode when it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeHeader {
    /// The run this episode belongs to.
    pub run_id: String,
    /// The episode id (unique within the run).
    pub episode_id: String,
    /// The task.
    pub task: Task,
    /// The trial number (0-based) when a task is played several times.
    #[serde(default)]
    pub trial: u32,
    /// The attempt number (0-based): resuming an interrupted run starts a new attempt.
    #[serde(default)]
    pub attempt: u32,
    /// The episode seed.
    pub seed: u64,
    /// The environment.
    pub environment: EnvInfo,
    /// The model.
    pub model: ModelInfo,
    /// The harness, shared: it holds the whole configuration (tens of KB) and is the
    /// same for every episode of a run. Serialized as the `HarnessInfo` itself.
    pub harness: Arc<HarnessInfo>,
    /// The system text and tools the model saw, after the contract and skills layers.
    pub system_text: String,
    /// Setup and conditioning events.
    #[serde(default)]
    pub events: Vec<LayerEvent>,
    /// Start time (RFC 3339).
    pub started_at: String,
}

/// How an episode ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeEnd {
    /// The exit status.
    pub exit: ExitStatus,
    /// The failure label, when not successful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureKind>,
    /// A human explanation of the exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The score, if the episode was scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<Reward>,
    /// Number of steps (model turns).
    pub steps: usize,
    /// Total token usage.
    pub usage: Usage,
    /// Total model latency in milliseconds.
    pub model_latency_ms: f64,
    /// End time (RFC 3339).
    pub finished_at: String,
}

/// A complete episode record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    /// Always [`TRAJECTORY_FORMAT`].
    pub format: String,
    /// The format version.
    pub version: u32,
    /// The episode header.
    pub header: EpisodeHeader,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The end, absent if the episode did not finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EpisodeEnd>,
}

impl Trajectory {
    /// Why this build cannot read the trajectory (another format, or a
    /// newer version), if it cannot.
    pub fn unreadable(&self) -> Option<String> {
        (self.format != TRAJECTORY_FORMAT || self.version > TRAJECTORY_VERSION).then(|| {
            format!(
                "format '{}' version {} is not readable (expected '{TRAJECTORY_FORMAT}' up to version {TRAJECTORY_VERSION})",
                self.format, self.version
            )
        })
    }

    /// A new trajectory with the current format and version.
    pub fn new(header: EpisodeHeader) -> Self {
        Self {
            format: TRAJECTORY_FORMAT.to_string(),
            version: TRAJECTORY_VERSION,
            header,
            steps: Vec::new(),
            end: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shared harness is written as the object itself, byte for byte as
    /// before it was shared, and read back from that object.
    #[test]
    fn the_shared_harness_serializes_inline() {
        let text = concat!(
            r#"{"run_id":"r","episode_id":"e","#,
            r#""task":{"id":"1","environment":"toy","instruction":"do it","data":null},"#,
            r#""trial":0,"attempt":0,"seed":7,"#,
            r#""environment":{"name":"toy","version":"1","config":null},"#,
            r#""model":{"spec":"s","backend":"scripted","config":null},"#,
            r#""harness":{"id":"sha256:ab","name":"h","config":{"rules":[1,2]}},"#,
            r#""system_text":"sys","events":[],"started_at":"2026-01-01T00:00:00Z"}"#
        );
        let header: EpisodeHeader = serde_json::from_str(text).unwrap();
        assert_eq!(header.harness.config, json!({"rules": [1, 2]}));
        assert_eq!(serde_json::to_string(&header).unwrap(), text);
        assert_eq!(
            serde_json::to_value(&header).unwrap()["harness"],
            serde_json::to_value(HarnessInfo::clone(&header.harness)).unwrap()
        );
    }
}
