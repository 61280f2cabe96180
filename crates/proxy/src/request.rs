//! Reads an OpenAI chat-completions request into a [`ChatRequest`], naming
//! the field at fault when it cannot.

use lifeharness_core::{ChatRequest, Message, ToolCall, ToolSpec};
use serde_json::Value;

use crate::ProxyError;

/// A request as the proxy understood it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRequest {
    /// The request for the model.
    pub request: ChatRequest,
    /// The model name the client asked for (informational).
    pub model: Option<String>,
}

fn text_of(content: Option<&Value>, param: &str) -> Result<Option<String>, ProxyError> {
    match content {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for (i, part) in parts.iter().enumerate() {
                match (
                    part.get("type").and_then(Value::as_str),
                    part.get("text").and_then(Value::as_str),
                ) {
                    (Some("text"), Some(text)) => out.push_str(text),
                    _ => {
                        return Err(ProxyError::invalid(
                            &format!("{param}[{i}]"),
                            "only text content parts are supported",
                        ));
                    }
                }
            }
            Ok(Some(out))
        }
        Some(_) => Err(ProxyError::invalid(
            param,
            "content must be a string or an array of text parts",
        )),
    }
}

fn message(value: &Value, i: usize) -> Result<Message, ProxyError> {
    let param = format!("messages[{i}]");
    let role = value.get("role").and_then(Value::as_str).ok_or_else(|| {
        ProxyError::invalid(
            &format!("{param}.role"),
            "each message needs a string 'role'",
        )
    })?;
    let content_param = format!("{param}.content");
    let content = text_of(value.get("content"), &content_param)?;
    let need = |content: Option<String>| {
        content.ok_or_else(|| {
            ProxyError::invalid(&content_param, format!("a {role} message needs 'content'"))
        })
    };
    Ok(match role {
        "system" | "developer" => Message::system(need(content)?),
        "user" => Message::user(need(content)?),
        "assistant" => {
            let mut calls = Vec::new();
            if let Some(list) = value.get("tool_calls").filter(|v| !v.is_null()) {
                let list = list.as_array().ok_or_else(|| {
                    ProxyError::invalid(
                        &format!("{param}.tool_calls"),
                        "tool_calls must be an array",
                    )
                })?;
                for (j, call) in list.iter().enumerate() {
                    let at = format!("{param}.tool_calls[{j}]");
                    let id = call.get("id").and_then(Value::as_str).unwrap_or_default();
                    let function = call.get("function").unwrap_or(call);
                    let name = function
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            ProxyError::invalid(
                                &format!("{at}.function.name"),
                                "a tool call needs a function name",
                            )
                        })?;
                    calls.push(match function.get("arguments") {
                        Some(Value::String(raw)) => ToolCall::from_raw(id, name, raw.clone()),
                        None | Some(Value::Null) => ToolCall::from_raw(id, name, ""),
                        Some(other) => ToolCall::from_value(id, name, other.clone()),
                    });
                }
            }
            Message::Assistant {
                content,
                tool_calls: calls,
            }
        }
        "tool" => {
            let id = value
                .get("tool_call_id")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ProxyError::invalid(
                        &format!("{param}.tool_call_id"),
                        "a tool message needs 'tool_call_id'",
                    )
                })?;
            let name = value
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Message::tool(id, name, need(content)?)
        }
        other => {
            return Err(ProxyError::invalid(
                &format!("{param}.role"),
                format!("unknown role '{other}'"),
            ));
        }
    })
}

/// Parses a chat-completions request body.
pub fn parse_chat_request(body: &Value) -> Result<ParsedRequest, ProxyError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ProxyError::invalid("body", "the request body must be a JSON object"))?;
    if obj.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(ProxyError::invalid("stream", "streaming is not supported"));
    }
    if obj.get("n").and_then(Value::as_u64).is_some_and(|n| n != 1) {
        return Err(ProxyError::invalid("n", "only n=1 is supported"));
    }
    let list = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ProxyError::invalid("messages", "'messages' must be an array"))?;
    if list.is_empty() {
        return Err(ProxyError::invalid(
            "messages",
            "'messages' must not be empty",
        ));
    }
    let messages = list
        .iter()
        .enumerate()
        .map(|(i, m)| message(m, i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tools = Vec::new();
    if let Some(raw) = obj.get("tools").filter(|v| !v.is_null()) {
        let raw = raw
            .as_array()
            .ok_or_else(|| ProxyError::invalid("tools", "'tools' must be an array"))?;
        for (i, tool) in raw.iter().enumerate() {
            tools.push(
                ToolSpec::from_openai(tool)
                    .map_err(|e| ProxyError::invalid(&format!("tools[{i}]"), e))?,
            );
        }
    }
    let mut constrain = false;
    match obj.get("tool_choice") {
        None | Some(Value::Null) => {}
        Some(Value::String(choice)) => match choice.as_str() {
            "auto" => {}
            "none" => tools.clear(),
            "required" => constrain = true,
            other => {
                return Err(ProxyError::invalid(
                    "tool_choice",
                    format!("unknown tool_choice '{other}'"),
                ));
            }
        },
        Some(choice) => {
            let name = choice
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ProxyError::invalid(
                        "tool_choice",
                        "expected {\"type\":\"function\",\"function\":{\"name\":...}}",
                    )
                })?;
            tools.retain(|t| t.name == name);
            if tools.is_empty() {
                return Err(ProxyError::invalid(
                    "tool_choice",
                    format!("tool_choice names '{name}', which is not in 'tools'"),
                ));
            }
            constrain = true;
        }
    }
    if constrain && tools.is_empty() {
        return Err(ProxyError::invalid(
            "tool_choice",
            "tool_choice requires a non-empty 'tools'",
        ));
    }
    let seed =
        match obj.get("seed") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                ProxyError::invalid("seed", "'seed' must be a non-negative integer")
            })?),
        };
    let session = obj.get("user").and_then(Value::as_str).map(str::to_string);
    Ok(ParsedRequest {
        request: ChatRequest {
            messages,
            tools,
            constrain_tool_calls: constrain,
            seed,
            session,
            guide: None,
        },
        model: obj.get("model").and_then(Value::as_str).map(str::to_string),
    })
}
