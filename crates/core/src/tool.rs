//! Tool specifications (OpenAI function schema) and tool calls.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A tool the model may call: an OpenAI function schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The function name.
    pub name: String,
    /// What the tool does, as the model reads it.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
}

impl ToolSpec {
    /// The OpenAI `{"type":"function","function":{...}}` form.
    pub fn to_openai(&self) -> Value {
        json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            }
        })
    }

    /// Reads the OpenAI `{"type":"function","function":{...}}` form (or a bare function object).
    pub fn from_openai(value: &Value) -> Result<Self, String> {
        let function = value.get("function").unwrap_or(value);
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| "tool spec has no string field 'name'".to_string())?;
        let description = function
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let parameters = function
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        Ok(Self {
            name: name.to_string(),
            description: description.to_string(),
            parameters,
        })
    }
}

/// The arguments of a tool call after parsing the raw text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParsedArgs {
    /// The raw text was valid JSON.
    Json(Value),
    /// The raw text was not valid JSON; the parser's message.
    Error(String),
}

/// One tool call as the model wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call id (made up by the backend when the model gave none).
    pub id: String,
    /// The tool name as written (it may not exist).
    pub name: String,
    /// The argument text exactly as the model wrote it.
    pub arguments_raw: String,
    /// The parsed arguments, or the parse error.
    pub arguments: ParsedArgs,
}

impl ToolCall {
    /// Builds a call from raw argument text, parsing it.
    pub fn from_raw(
        id: impl Into<String>,
        name: impl Into<String>,
        raw: impl Into<String>,
    ) -> Self {
        let raw = raw.into();
        let arguments = if raw.trim().is_empty() {
            ParsedArgs::Json(Value::Object(serde_json::Map::new()))
        } else {
            match serde_json::from_str::<Value>(&raw) {
                Ok(value) => ParsedArgs::Json(value),
                Err(err) => ParsedArgs::Error(err.to_string()),
            }
        };
        Self {
            id: id.into(),
            name: name.into(),
            arguments_raw: raw,
            arguments,
        }
    }

    /// Builds a call from already-parsed arguments (raw text is their compact JSON).
    pub fn from_value(id: impl Into<String>, name: impl Into<String>, args: Value) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments_raw: args.to_string(),
            arguments: ParsedArgs::Json(args),
        }
    }

    /// The parsed arguments, if they parsed.
    pub fn args(&self) -> Option<&Value> {
        match &self.arguments {
            ParsedArgs::Json(value) => Some(value),
            ParsedArgs::Error(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_arguments_are_kept_with_the_parse_result() {
        let ok = ToolCall::from_raw("c1", "get", r#"{"key": "a"}"#);
        assert_eq!(ok.args(), Some(&json!({"key": "a"})));
        assert_eq!(ok.arguments_raw, r#"{"key": "a"}"#);
        let bad = ToolCall::from_raw("c2", "get", r#"{"key": "a""#);
        assert!(matches!(bad.arguments, ParsedArgs::Error(_)));
        assert_eq!(bad.args(), None);
        let empty = ToolCall::from_raw("c3", "list", "");
        assert_eq!(empty.args(), Some(&json!({})));
    }

    #[test]
    fn openai_form_round_trips() {
        let spec = ToolSpec {
            name: "get".into(),
            description: "Read a key.".into(),
            parameters: json!({"type": "object", "properties": {"key": {"type": "string"}}}),
        };
        let back = ToolSpec::from_openai(&spec.to_openai());
        assert_eq!(back, Ok(spec));
        assert!(ToolSpec::from_openai(&json!({"function": {}})).is_err());
    }
}
