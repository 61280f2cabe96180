//! The episode's earlier calls as rules see them.

use lifeharness_core::{Action, EpisodeView};
use lifeharness_rules::{PastCall, parse_result};
use serde_json::Value;

/// Executed tool calls of the episode, oldest first.
pub(crate) fn past_calls(view: &EpisodeView<'_>) -> Vec<PastCall> {
    view.history
        .iter()
        .filter_map(|entry| {
            let Action::ToolCall(call) = &entry.action else {
                return None;
            };
            let observation = entry.observation.as_ref()?;
            Some(PastCall {
                tool: call.name.clone(),
                args: call.args().cloned().unwrap_or(Value::Null),
                ok: !observation.is_error,
                result: parse_result(&observation.content),
            })
        })
        .collect()
}
