//! The text-mode action protocol, for models and servers without native tool
//! calling.
//!
//! Tools are rendered into the system prompt from a template file
//! ([`template::TEXT_MODE_PROMPT`]); the model answers with one JSON object
//! `{"name":..., "arguments":{...}}` (bare, fenced, or in `<tool_call>` tags)
//! or with plain text, which is a message to the user. [`parse::parse_output`]
//! reads the answer back and never fails: a malformed action becomes a
//! `format_error` for the realization layer.

pub mod parse;
pub mod template;

use lifeharness_core::{Message, ToolCall, ToolSpec};

use crate::error::ModelsError;

pub use parse::{ParsedOutput, parse_output};

/// A message reduced to a role and text, for chat templates without tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainMessage {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    /// The text.
    pub content: String,
}

/// The canonical compact text of one action: `{"name":"...","arguments":...}`.
/// The arguments are written exactly as the model wrote them.
pub fn render_action(call: &ToolCall) -> String {
    let name = serde_json::to_string(&call.name).unwrap_or_else(|_| "\"\"".to_string());
    let raw = call.arguments_raw.trim();
    let args = if raw.is_empty() { "{}" } else { raw };
    format!("{{\"name\":{name},\"arguments\":{args}}}")
}

/// The tool list as the text-mode prompt shows it.
pub fn render_tools(tools: &[ToolSpec]) -> String {
    tools
        .iter()
        .map(|tool| {
            format!(
                "## {}\n{}\nArguments schema: {}",
                tool.name,
                tool.description.trim(),
                tool.parameters
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The text-mode system prompt for `system` and `tools`.
pub fn render_system(system: &str, tools: &[ToolSpec]) -> Result<String, ModelsError> {
    if tools.is_empty() {
        return Ok(system.to_string());
    }
    let rendered = template::render(
        template::TEXT_MODE_PROMPT,
        &[("system", system.trim()), ("tools", &render_tools(tools))],
    )?;
    Ok(rendered.trim().to_string())
}

/// Rewrites a conversation for a model that reads only plain role/text
/// messages: tools go into the system prompt, the assistant's calls become
/// action JSON, and tool results become user messages.
pub fn to_plain_messages(
    messages: &[Message],
    tools: &[ToolSpec],
) -> Result<Vec<PlainMessage>, ModelsError> {
    let mut out = Vec::with_capacity(messages.len() + 1);
    let mut rest = messages;
    let system = match messages.first() {
        Some(Message::System { content }) => {
            rest = &messages[1..];
            content.as_str()
        }
        _ => "",
    };
    let system = render_system(system, tools)?;
    if !system.is_empty() {
        out.push(PlainMessage {
            role: "system",
            content: system,
        });
    }
    for message in rest {
        let plain = match message {
            Message::System { content } => PlainMessage {
                role: "system",
                content: content.clone(),
            },
            Message::User { content } => PlainMessage {
                role: "user",
                content: content.clone(),
            },
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut parts: Vec<String> = content
                    .iter()
                    .filter(|t| !t.trim().is_empty())
                    .cloned()
                    .collect();
                parts.extend(tool_calls.iter().map(render_action));
                PlainMessage {
                    role: "assistant",
                    content: parts.join("\n"),
                }
            }
            Message::Tool { name, content, .. } => PlainMessage {
                role: "user",
                content: template::render(
                    template::TOOL_RESULT_PROMPT,
                    &[("name", name), ("content", content)],
                )?
                .trim_end()
                .to_string(),
            },
        };
        out.push(plain);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tools() -> Vec<ToolSpec> {
        vec![
            ToolSpec {
                name: "get_order".into(),
                description: "Look up an order by id.".into(),
                parameters: json!({"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}),
            },
            ToolSpec {
                name: "cancel".into(),
                description: "Cancel an order.".into(),
                parameters: json!({"type":"object","properties":{"order_id":{"type":"string"},"reason":{"type":"string","enum":["no longer needed","ordered by mistake"]}},"required":["order_id","reason"]}),
            },
        ]
    }

    #[test]
    fn system_prompt_snapshot() {
        let rendered = render_system("You are a retail agent.", &tools());
        insta::assert_snapshot!(rendered.unwrap_or_else(|e| e.to_string()));
    }

    #[test]
    fn conversation_snapshot() {
        let messages = vec![
            Message::system("You are a retail agent."),
            Message::user("Where is order #W1?"),
            Message::Assistant {
                content: None,
                tool_calls: vec![ToolCall::from_raw(
                    "c1",
                    "get_order",
                    r##"{"order_id":"#W1"}"##,
                )],
            },
            Message::tool("c1", "get_order", r#"{"status":"shipped"}"#),
        ];
        let plain = to_plain_messages(&messages, &tools());
        let shown = match plain {
            Ok(list) => list
                .iter()
                .map(|m| format!("<{}>\n{}", m.role, m.content))
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => e.to_string(),
        };
        insta::assert_snapshot!(shown);
    }

    #[test]
    fn no_tools_keeps_the_system_prompt() {
        assert_eq!(
            render_system("Be brief.", &[]).ok(),
            Some("Be brief.".into())
        );
    }

    #[test]
    fn actions_render_compactly() {
        let call = ToolCall::from_raw("c", "get", "");
        assert_eq!(render_action(&call), r#"{"name":"get","arguments":{}}"#);
    }
}
