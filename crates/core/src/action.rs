//! Actions the runtime sends to an environment, and what comes back.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::tool::ToolCall;

/// What the agent does in one environment step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Call a tool.
    ToolCall(ToolCall),
    /// Say something to the user.
    Message {
        /// The text.
        content: String,
    },
    /// End the episode.
    Finish {
        /// Why, in the agent's words, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Action {
    /// The tool call, if this is one.
    pub fn as_tool_call(&self) -> Option<&ToolCall> {
        match self {
            Self::ToolCall(call) => Some(call),
            _ => None,
        }
    }

    /// A short label: the tool name, `message` or `finish`.
    pub fn label(&self) -> &str {
        match self {
            Self::ToolCall(call) => &call.name,
            Self::Message { .. } => "message",
            Self::Finish { .. } => "finish",
        }
    }
}

/// Where an observation came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ObservationSource {
    /// The result of a tool call.
    Tool {
        /// The call id.
        call_id: String,
        /// The tool name.
        name: String,
    },
    /// A reply from the user (simulated or scripted).
    User,
    /// The environment itself (e.g. the episode ended).
    Environment,
}

/// What the environment returned for an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The origin of the text.
    pub source: ObservationSource,
    /// The text exactly as the environment produced it (shared, so an
    /// environment that keeps its result texts hands out a pointer, not a copy).
    pub content: Arc<str>,
    /// Whether the environment reports an error (e.g. a tool raised).
    #[serde(default)]
    pub is_error: bool,
    /// Notes appended by the harness (regulation annotations), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Observation {
    /// A tool result.
    pub fn tool(call: &ToolCall, content: impl Into<Arc<str>>, is_error: bool) -> Self {
        Self {
            source: ObservationSource::Tool {
                call_id: call.id.clone(),
                name: call.name.clone(),
            },
            content: content.into(),
            is_error,
            notes: Vec::new(),
        }
    }

    /// A user reply.
    pub fn user(content: impl Into<Arc<str>>) -> Self {
        Self {
            source: ObservationSource::User,
            content: content.into(),
            is_error: false,
            notes: Vec::new(),
        }
    }

    /// An environment notice.
    pub fn environment(content: impl Into<Arc<str>>) -> Self {
        Self {
            source: ObservationSource::Environment,
            content: content.into(),
            is_error: false,
            notes: Vec::new(),
        }
    }

    /// The text the model sees: the content with the harness notes appended.
    pub fn rendered(&self) -> String {
        if self.notes.is_empty() {
            return self.content.to_string();
        }
        let mut out = self.content.to_string();
        for note in &self.notes {
            out.push_str("\n[harness note] ");
            out.push_str(note);
        }
        out
    }
}

/// The result of one environment step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    /// What came back.
    pub observation: Observation,
    /// Whether the episode is over (e.g. the user said stop).
    pub done: bool,
}
