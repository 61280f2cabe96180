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
            .map(|t| words(t) as u64)
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

/// `text.split_whitespace().count()`, without decoding ASCII text char by
/// char (the prompt is counted again every turn, system text included):
/// 64-byte runs of ASCII count word starts branch-free, others go char by
/// char.
fn words(text: &str) -> usize {
    const RUN: usize = 64;
    let bytes = text.as_bytes();
    let mut count = 0;
    let mut after_space = true;
    let mut i = 0;
    while i < bytes.len() {
        let end = (i + RUN).min(bytes.len());
        let run = bytes.get(i..end).unwrap_or_default();
        if run.is_ascii() {
            let starts: usize = run
                .iter()
                .zip(run.iter().skip(1))
                .map(|(&a, &b)| usize::from(ascii_space(a) & !ascii_space(b)))
                .sum();
            let first = run.first().is_some_and(|&b| !ascii_space(b));
            count += starts + usize::from(after_space && first);
            after_space = run.last().is_some_and(|&b| ascii_space(b));
            i = end;
        } else {
            // Char by char to the first boundary at or past `end`.
            while i < end {
                let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
                    break;
                };
                let space = c.is_whitespace();
                count += usize::from(after_space && !space);
                after_space = space;
                i += c.len_utf8();
            }
        }
    }
    count
}

/// `char::is_whitespace` for an ASCII byte: \t \n \x0B \x0C \r and space.
fn ascii_space(b: u8) -> bool {
    (b.wrapping_sub(b'\t') < 5) | (b == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_counted_as_split_whitespace_counts_them() {
        let texts = [
            "",
            " ",
            "one",
            "  two  words ",
            "tab\tnew\nline\x0bvt\x0cff\rcr",
            "caf\u{e9} na\u{ef}ve\u{a0}nbsp\u{85}nel\u{2028}ls\u{3000}ideo \u{1f600}",
            "\u{200b}zero-width-space-is-no-space\u{feff}",
        ];
        for text in texts {
            assert_eq!(words(text), text.split_whitespace().count(), "{text:?}");
        }
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let text = format!("a{c}b {c}");
            assert_eq!(words(&text), text.split_whitespace().count(), "{c:?}");
        }
        // Runs of 64 bytes: words and multi-byte chars across their ends.
        let mut text = String::new();
        for i in 0..2000 {
            text.push_str(["ab", " ", "\u{e9}", "\u{3000}", "x\ty", "\u{1f600} "][i * 7 % 6]);
            assert_eq!(words(&text), text.split_whitespace().count(), "{text:?}");
        }
    }

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
