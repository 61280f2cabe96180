//! The OpenAI chat-completions wire format: request bodies and tolerant
//! response parsing.
//!
//! Real servers differ: Ollama returns `arguments` as an object, some servers
//! omit tool-call ids or types, small models put the call in the text content
//! (`<tool_call>{...}</tool_call>` or a bare JSON object). All of these are
//! read here; ids that are missing are made up deterministically.

use lifeharness_core::{
    ChatRequest, Message, ModelError, ModelErrorKind, ModelTurn, ToolCall, ToolSpec, Usage,
};
use serde_json::{Map, Value, json};

use crate::textmode;

/// Settings that shape the request body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BodySettings {
    /// The model name sent to the server.
    pub model: String,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Default seed (the request's seed wins).
    pub seed: Option<u64>,
    /// Maximum completion tokens.
    pub max_tokens: Option<u32>,
    /// Stop strings.
    pub stop: Vec<String>,
    /// Send `tool_choice: "required"` when the request asks for constrained calls.
    pub tool_choice_required: bool,
    /// Also send a `response_format` JSON schema when constraining.
    pub response_format: bool,
}

/// One message in the OpenAI shape.
pub fn message_to_openai(message: &Message) -> Value {
    match message {
        Message::System { content } => json!({"role": "system", "content": content}),
        Message::User { content } => json!({"role": "user", "content": content}),
        Message::Assistant {
            content,
            tool_calls,
        } => {
            let mut out = Map::new();
            out.insert("role".into(), json!("assistant"));
            out.insert("content".into(), json!(content));
            if !tool_calls.is_empty() {
                let calls: Vec<Value> = tool_calls.iter().map(call_to_openai).collect();
                out.insert("tool_calls".into(), Value::Array(calls));
            }
            Value::Object(out)
        }
        Message::Tool {
            tool_call_id,
            name,
            content,
        } => {
            json!({"role": "tool", "tool_call_id": tool_call_id, "name": name, "content": content})
        }
    }
}

/// One tool call in the OpenAI shape (arguments as the raw text).
pub fn call_to_openai(call: &ToolCall) -> Value {
    json!({
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments_raw},
    })
}

/// The JSON schema of "a call of one of these tools", for `response_format`.
pub fn calls_schema(tools: &[ToolSpec]) -> Value {
    let options: Vec<Value> = tools
        .iter()
        .map(|tool| {
            json!({
                "type": "object",
                "properties": {
                    "name": {"const": tool.name},
                    "arguments": tool.parameters,
                },
                "required": ["name", "arguments"],
                "additionalProperties": false,
            })
        })
        .collect();
    json!({"anyOf": options})
}

/// The request body for `request`. `constrain` says whether to ask the
/// server for constrained tool calls (the caller turns it off after the
/// server refused it once).
pub fn request_body(settings: &BodySettings, request: &ChatRequest, constrain: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(settings.model));
    let messages: Vec<Value> = request.messages.iter().map(message_to_openai).collect();
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request.tools.iter().map(ToolSpec::to_openai).collect();
        body.insert("tools".into(), Value::Array(tools));
        if constrain && request.constrain_tool_calls {
            if settings.tool_choice_required {
                body.insert("tool_choice".into(), json!("required"));
            }
            if settings.response_format {
                // Under a guide, the schema holds only the tools allowed now,
                // with grounded values and constraints applied.
                let guided = request
                    .guide
                    .as_ref()
                    .map(|g| crate::grammar::guided_tools(&request.tools, g).0)
                    .filter(|tools| !tools.is_empty());
                let tools = guided.as_deref().unwrap_or(&request.tools);
                body.insert(
                    "response_format".into(),
                    json!({"type": "json_schema", "json_schema": {
                        "name": "tool_call", "strict": true, "schema": calls_schema(tools)}}),
                );
            }
        }
    }
    if let Some(t) = settings.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(seed) = request.seed.or(settings.seed) {
        body.insert("seed".into(), json!(seed));
    }
    if let Some(max) = settings.max_tokens {
        body.insert("max_tokens".into(), json!(max));
    }
    if !settings.stop.is_empty() {
        body.insert("stop".into(), json!(settings.stop));
    }
    Value::Object(body)
}

fn invalid(message: impl Into<String>) -> ModelError {
    ModelError::new(ModelErrorKind::InvalidResponse, message)
}

/// Reads a chat-completions response. `turn_index` (the number of messages
/// in the request) makes up deterministic ids for calls that have none;
/// `tools_offered` allows reading calls out of the text content.
pub fn parse_response(
    body: &Value,
    turn_index: usize,
    tools_offered: bool,
) -> Result<ModelTurn, ModelError> {
    let choice = body
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|choices| choices.first())
        .ok_or_else(|| invalid("the response has no choices"))?;
    let message = choice
        .get("message")
        .ok_or_else(|| invalid("the first choice has no message"))?;
    let text = content_text(message.get("content"));
    let mut calls = Vec::new();
    if let Some(list) = message.get("tool_calls").and_then(Value::as_array) {
        for (i, raw) in list.iter().enumerate() {
            calls.push(read_call(raw, turn_index, i)?);
        }
    } else if let Some(legacy) = message.get("function_call").filter(|v| v.is_object()) {
        calls.push(read_call(&json!({"function": legacy}), turn_index, 0)?);
    }
    let mut turn = ModelTurn {
        text: text.filter(|t| !t.trim().is_empty()),
        tool_calls: calls,
        ..ModelTurn::default()
    };
    if turn.tool_calls.is_empty()
        && tools_offered
        && let Some(content) = turn.text.clone()
    {
        let parsed = textmode::parse_output(&content, &format!("call_{turn_index}_"));
        let tagged = content.contains("<tool_call>");
        if !parsed.calls.is_empty() && parsed.format_error.is_none() {
            turn.tool_calls = parsed.calls;
            turn.text = parsed.text;
        } else if tagged && parsed.format_error.is_some() {
            turn.format_error = parsed.format_error;
        }
    }
    turn.usage = read_usage(body.get("usage"));
    Ok(turn)
}

/// Text content: a string, or an array of `{"type":"text","text":...}` parts.
pub fn content_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let joined: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str).or(p.as_str()))
                .collect();
            Some(joined.join(""))
        }
        _ => None,
    }
}

fn read_call(raw: &Value, turn_index: usize, index: usize) -> Result<ToolCall, ModelError> {
    let function = raw.get("function").unwrap_or(raw);
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("tool call {index} has no function name")))?;
    let id = raw
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map_or_else(|| format!("call_{turn_index}_{index}"), str::to_string);
    Ok(match function.get("arguments") {
        None | Some(Value::Null) => ToolCall::from_raw(id, name, ""),
        Some(Value::String(raw_args)) => ToolCall::from_raw(id, name, raw_args.clone()),
        Some(other) => ToolCall::from_value(id, name, other.clone()),
    })
}

fn read_usage(usage: Option<&Value>) -> Usage {
    let get = |key: &str| {
        usage
            .and_then(|u| u.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Usage {
        prompt_tokens: get("prompt_tokens"),
        completion_tokens: get("completion_tokens"),
    }
}

/// The error message inside an OpenAI-style error body, or the body itself.
pub fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            let err = v.get("error")?;
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| err.as_str().map(str::to_string))?;
            Some(match err.get("code").and_then(Value::as_str) {
                Some(code) => format!("{message} (code: {code})"),
                None => message,
            })
        })
        .unwrap_or_else(|| body.chars().take(500).collect())
}

/// Whether a 400 says the prompt is too long.
pub fn is_context_overflow(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("context_length_exceeded")
        || lower.contains("context length")
        || lower.contains("maximum context")
        || lower.contains("too many tokens")
        || lower.contains("exceeds the context")
}

/// Whether a 400 says constrained tool calls are not supported.
pub fn is_constraint_unsupported(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("tool_choice")
        || lower.contains("response_format")
        || lower.contains("json_schema")
        || lower.contains("grammar")
        || lower.contains("structured_outputs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_snapshot() {
        let settings = BodySettings {
            model: "m".into(),
            temperature: Some(0.0),
            seed: Some(1),
            max_tokens: Some(64),
            stop: vec!["</s>".into()],
            tool_choice_required: true,
            response_format: true,
        };
        let request = ChatRequest {
            messages: vec![
                Message::system("sys"),
                Message::user("hi"),
                Message::Assistant {
                    content: None,
                    tool_calls: vec![ToolCall::from_raw("c1", "get", r#"{"k":"a"}"#)],
                },
                Message::tool("c1", "get", "v"),
            ],
            tools: vec![ToolSpec {
                name: "get".into(),
                description: "Get.".into(),
                parameters: json!({"type":"object","properties":{"k":{"type":"string"}}}),
            }],
            constrain_tool_calls: true,
            seed: Some(9),
            session: None,
            guide: None,
        };
        insta::assert_json_snapshot!(request_body(&settings, &request, true));
    }

    #[test]
    fn a_guide_narrows_the_response_schema() {
        let settings = BodySettings {
            model: "m".into(),
            response_format: true,
            ..BodySettings::default()
        };
        let tool = |name: &str| ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters: json!({"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}),
        };
        let mut guide = lifeharness_core::DecodingGuide::default();
        let offered = vec!["get".to_string(), "cancel".to_string()];
        guide.exclude(&offered, "cancel", "cancel-after-get");
        guide.args.push(lifeharness_core::ArgGuide {
            tool: "get".into(),
            arg: "id".into(),
            schema: json!({"enum": ["#W1"]}),
            rule_id: "get-id-grounded".into(),
        });
        let request = ChatRequest {
            messages: vec![Message::user("hi")],
            tools: vec![tool("get"), tool("cancel")],
            constrain_tool_calls: true,
            guide: Some(guide),
            ..ChatRequest::default()
        };
        let body = request_body(&settings, &request, true);
        let options = body
            .pointer("/response_format/json_schema/schema/anyOf")
            .and_then(Value::as_array)
            .expect("a schema");
        assert_eq!(options.len(), 1, "{body}");
        assert_eq!(
            options[0].pointer("/properties/arguments/properties/id/enum"),
            Some(&json!(["#W1"]))
        );
        // Every tool is still offered: only the reply's schema narrows.
        assert_eq!(body["tools"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn quirks_are_tolerated() {
        let ollama = json!({"choices":[{"message":{"content":"","tool_calls":[
            {"function":{"name":"get","arguments":{"k":"a"}}}]}}]});
        let turn = parse_response(&ollama, 3, true);
        let turn = turn.unwrap_or_default();
        assert_eq!(turn.tool_calls[0].id, "call_3_0");
        assert_eq!(turn.tool_calls[0].args(), Some(&json!({"k":"a"})));
        assert_eq!(turn.text, None);
        let in_text = json!({"choices":[{"message":{"content":"<tool_call>{\"name\":\"get\",\"arguments\":{}}</tool_call>"}}]});
        let turn = parse_response(&in_text, 1, true).unwrap_or_default();
        assert_eq!(turn.tool_calls.len(), 1);
        let bad_tag = json!({"choices":[{"message":{"content":"<tool_call>{oops</tool_call>"}}]});
        let turn = parse_response(&bad_tag, 1, true).unwrap_or_default();
        assert!(turn.format_error.is_some());
        let empty = json!({"choices":[]});
        assert!(
            parse_response(&empty, 1, true)
                .is_err_and(|e| e.kind == ModelErrorKind::InvalidResponse)
        );
    }
}
