//! The model extension point: a frozen chat model that may call tools.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::decoding::{ContextWindow, DecodingGuide};
use crate::failure::FailureKind;
use crate::message::Message;
use crate::tool::{ToolCall, ToolSpec};

/// Token counts of one model call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens read (prompt).
    pub prompt_tokens: u64,
    /// Tokens written (completion).
    pub completion_tokens: u64,
}

impl Usage {
    /// Adds another call's usage.
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

/// What the model said in one turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelTurn {
    /// The text part, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Tool calls, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Token usage of the call.
    pub usage: Usage,
    /// Wall-clock latency of the call in milliseconds.
    pub latency_ms: f64,
    /// A protocol-level fault found while reading the model's output (text
    /// mode: no parseable action). The realization layer corrects it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_error: Option<String>,
}

impl ModelTurn {
    /// A text-only turn.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }

    /// A turn with tool calls only.
    pub fn calls(tool_calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls,
            ..Self::default()
        }
    }

    /// The assistant message that this turn adds to the conversation.
    pub fn to_message(&self) -> Message {
        Message::Assistant {
            content: self.text.clone(),
            tool_calls: self.tool_calls.clone(),
        }
    }
}

/// One request to a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far, system message first.
    pub messages: Vec<Message>,
    /// The tools offered.
    pub tools: Vec<ToolSpec>,
    /// Ask the backend to constrain decoding to a valid call of one of the
    /// offered tools, where it can.
    #[serde(default)]
    pub constrain_tool_calls: bool,
    /// Sampling seed; a deterministic backend must give the same turn for the
    /// same request and seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Identifies the episode so a backend may keep state (a KV cache) between turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// What decoding may produce this turn beyond the tool schemas (used
    /// with `constrain_tool_calls`, by backends that can constrain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guide: Option<DecodingGuide>,
}

/// Describes a model backend for trajectories and reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model spec as given by the user, e.g. `embedded:smollm2-135m`.
    pub spec: String,
    /// Backend kind, e.g. `scripted`, `openai`, `embedded`.
    pub backend: String,
    /// Backend settings (temperature, max tokens, ...). Never holds secrets.
    #[serde(default)]
    pub config: Value,
}

/// What kind of backend failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelErrorKind {
    /// The call timed out.
    Timeout,
    /// The server said 429.
    RateLimited,
    /// The server failed (5xx) or could not be reached.
    Server,
    /// The request was refused (4xx other than 429), e.g. a bad model name.
    Request,
    /// The prompt does not fit the model's context.
    ContextOverflow,
    /// The response could not be understood.
    InvalidResponse,
    /// A scripted model ran out of turns.
    Exhausted,
    /// Anything else inside the backend.
    Internal,
}

/// A backend failure: never a loop and never the model's reasoning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("model backend error ({kind:?}): {message}")]
pub struct ModelError {
    /// The kind of failure.
    pub kind: ModelErrorKind,
    /// What went wrong.
    pub message: String,
}

impl ModelError {
    /// A new error.
    pub fn new(kind: ModelErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The taxonomy label of this failure.
    pub fn failure_kind(&self) -> FailureKind {
        match self.kind {
            ModelErrorKind::Timeout | ModelErrorKind::RateLimited => FailureKind::BackendTimeout,
            _ => FailureKind::BackendError,
        }
    }
}

/// A chat model with tools.
#[async_trait]
pub trait Model: Send + Sync {
    /// Describes the backend.
    fn info(&self) -> ModelInfo;

    /// One chat turn.
    async fn chat(&self, request: &ChatRequest) -> Result<ModelTurn, ModelError>;

    /// Says the episode `session` is over so state kept for it can be dropped.
    fn end_session(&self, _session: &str) {}

    /// The model's context window, if the backend knows it.
    fn context_window(&self) -> Option<ContextWindow> {
        None
    }

    /// The tokens the prompt of `request` takes, counted with the model's
    /// own tokenizer over the prompt exactly as it would be sent (`None`:
    /// the backend cannot count; callers then estimate).
    async fn prompt_tokens(&self, _request: &ChatRequest) -> Option<usize> {
        None
    }
}
