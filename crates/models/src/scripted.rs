//! A scripted model: replays given turns, for tests and dry runs.
//!
//! Scripts are keyed by session (episode) so concurrent episodes each get
//! their own copy of the script. Every turn it produces says it is scripted
//! (the backend kind in [`ModelInfo`] is `scripted`).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use lifeharness_core::{
    ChatRequest, Model, ModelError, ModelErrorKind, ModelInfo, ModelTurn, ToolCall,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One scripted turn in a simple file-friendly shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScriptedTurn {
    /// Say text.
    Text {
        /// The text.
        text: String,
    },
    /// Call a tool; `arguments` is the raw argument text as the model would write it.
    Call {
        /// The tool name.
        name: String,
        /// The raw argument text.
        arguments: String,
    },
    /// Fail like a backend would.
    Error {
        /// The failure kind.
        kind: ModelErrorKind,
        /// The message.
        message: String,
    },
}

impl ScriptedTurn {
    /// A tool call with JSON arguments.
    pub fn call(name: &str, arguments: Value) -> Self {
        Self::Call {
            name: name.to_string(),
            arguments: arguments.to_string(),
        }
    }

    /// A text turn.
    pub fn text(text: &str) -> Self {
        Self::Text {
            text: text.to_string(),
        }
    }
}

/// Replays a fixed list of turns for each session, then fails with `Exhausted`.
#[derive(Debug)]
pub struct ScriptedModel {
    script: Vec<ScriptedTurn>,
    cursors: Mutex<HashMap<String, usize>>,
}

impl ScriptedModel {
    /// A model that replays `script` in every session.
    pub fn new(script: Vec<ScriptedTurn>) -> Self {
        Self {
            script,
            cursors: Mutex::new(HashMap::new()),
        }
    }

    /// Reads a script from JSON: an array of turns.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let script: Vec<ScriptedTurn> =
            serde_json::from_str(text).map_err(|e| format!("bad script: {e}"))?;
        Ok(Self::new(script))
    }

    fn next_index(&self, session: &str) -> Result<usize, ModelError> {
        let mut cursors = self
            .cursors
            .lock()
            .map_err(|_| ModelError::new(ModelErrorKind::Internal, "script cursor poisoned"))?;
        let cursor = cursors.entry(session.to_string()).or_insert(0);
        let index = *cursor;
        *cursor += 1;
        Ok(index)
    }
}

#[async_trait]
impl Model for ScriptedModel {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            spec: "scripted".to_string(),
            backend: "scripted".to_string(),
            config: json!({"turns": self.script.len(), "simulated": true}),
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ModelTurn, ModelError> {
        let session = request.session.as_deref().unwrap_or("");
        let index = self.next_index(session)?;
        let Some(turn) = self.script.get(index) else {
            return Err(ModelError::new(
                ModelErrorKind::Exhausted,
                format!(
                    "scripted model has no turn {} (script has {})",
                    index + 1,
                    self.script.len()
                ),
            ));
        };
        let prompt_tokens = request
            .messages
            .iter()
            .filter_map(|m| m.text())
            .map(|t| t.split_whitespace().count() as u64)
            .sum();
        let mut out = match turn {
            ScriptedTurn::Text { text } => ModelTurn::text(text.clone()),
            ScriptedTurn::Call { name, arguments } => ModelTurn::calls(vec![ToolCall::from_raw(
                format!("call_{index}"),
                name.clone(),
                arguments.clone(),
            )]),
            ScriptedTurn::Error { kind, message } => {
                return Err(ModelError::new(*kind, message.clone()));
            }
        };
        out.usage.prompt_tokens = prompt_tokens;
        out.usage.completion_tokens = 1;
        Ok(out)
    }

    fn end_session(&self, session: &str) {
        if let Ok(mut cursors) = self.cursors.lock() {
            cursors.remove(session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(session: &str) -> ChatRequest {
        ChatRequest {
            session: Some(session.to_string()),
            ..ChatRequest::default()
        }
    }

    #[tokio::test]
    async fn replays_per_session_then_exhausts() {
        let model = ScriptedModel::new(vec![
            ScriptedTurn::call("get", json!({"key": "a"})),
            ScriptedTurn::text("done"),
        ]);
        let first = model.chat(&request("a")).await;
        assert_eq!(
            first.map(|t| t.tool_calls[0].name.clone()),
            Ok("get".into())
        );
        let other = model.chat(&request("b")).await;
        assert!(other.is_ok_and(|t| t.tool_calls.len() == 1));
        let second = model.chat(&request("a")).await;
        assert_eq!(second.map(|t| t.text), Ok(Some("done".into())));
        let third = model.chat(&request("a")).await;
        assert!(third.is_err_and(|e| e.kind == ModelErrorKind::Exhausted));
    }

    #[test]
    fn bad_script_is_an_error() {
        assert!(ScriptedModel::from_json("[{\"type\":\"nope\"}]").is_err());
        assert!(ScriptedModel::from_json("[{\"type\":\"text\",\"text\":\"hi\"}]").is_ok());
    }
}
