//! The episode's earlier calls as rules see them.

use std::borrow::Cow;

use lifeharness_core::{Action, EpisodeView};
use lifeharness_rules::{PastCall, parse_result};
use serde_json::Value;

/// Executed tool calls of the episode, oldest first. Results are parsed only
/// when `with_results` (ordering rules need just tools, arguments and
/// success); otherwise they are null.
pub(crate) fn past_calls<'a>(view: &EpisodeView<'a>, with_results: bool) -> Vec<PastCall<'a>> {
    view.history
        .iter()
        .filter_map(|entry| {
            let Action::ToolCall(call) = &entry.action else {
                return None;
            };
            let observation = entry.observation.as_ref()?;
            Some(PastCall {
                tool: Cow::Borrowed(call.name.as_str()),
                args: call.args().map_or(Cow::Owned(Value::Null), Cow::Borrowed),
                ok: !observation.is_error,
                result: if with_results {
                    parse_result(&observation.content)
                } else {
                    Value::Null
                },
            })
        })
        .collect()
}
