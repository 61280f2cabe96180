//! What decoding may produce in one turn, beyond the tool schemas, and what
//! a prompt may cost.
//!
//! A [`DecodingGuide`] is built by the layers from the harness before each
//! model turn (see [`crate::Layer::guide`]): the tools an ordering rule
//! allows now, schema fragments for arguments (contract constraints, and the
//! values a grounded argument may take given the task and the observations
//! so far), and, in text worlds, the admissible commands. A backend that can
//! constrain decoding compiles it into its grammar; realization still checks
//! every action afterwards, so correctness never rests on the guide.
//!
//! A [`ContextPolicy`] keeps every prompt inside the model's window.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A schema fragment merged into one argument's schema for decoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArgGuide {
    /// The tool.
    pub tool: String,
    /// The argument: `name`, or `name[]` for every item of a list argument.
    pub arg: String,
    /// JSON Schema keywords to merge into the argument's schema (`enum`,
    /// `pattern`, `minLength`, `minItems`, ...). An empty `enum` means no
    /// value is admissible now.
    pub schema: Value,
    /// The rule that asked for it.
    pub rule_id: String,
}

/// What decoding may produce in one turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecodingGuide {
    /// The tools that may be called now, in offered order (`None`: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// Tools left out, each with the rule that left it out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<(String, String)>,
    /// Schema fragments for arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgGuide>,
    /// When set, the reply is exactly one of these texts (the admissible
    /// commands of a text world).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub texts: Option<Vec<String>>,
}

impl DecodingGuide {
    /// Whether the guide adds nothing to the tool schemas.
    pub fn is_empty(&self) -> bool {
        self.tools.is_none() && self.args.is_empty() && self.texts.is_none()
    }

    /// Leaves `tool` out of this turn's alternatives because of `rule_id`.
    pub fn exclude(&mut self, offered: &[String], tool: &str, rule_id: &str) {
        let allowed = self.tools.get_or_insert_with(|| offered.to_vec());
        if let Some(at) = allowed.iter().position(|t| t == tool) {
            allowed.remove(at);
            self.excluded.push((tool.to_string(), rule_id.to_string()));
        }
    }

    /// Whether `tool` may be called under this guide.
    pub fn allows(&self, tool: &str) -> bool {
        self.tools
            .as_ref()
            .is_none_or(|tools| tools.iter().any(|t| t == tool))
    }

    /// One line saying what the guide does, for the record.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(tools) = &self.tools {
            let out: Vec<String> = self
                .excluded
                .iter()
                .map(|(tool, rule)| format!("{tool} ({rule})"))
                .collect();
            parts.push(format!(
                "{} tool(s) allowed; left out: {}",
                tools.len(),
                if out.is_empty() {
                    "none".to_string()
                } else {
                    out.join(", ")
                }
            ));
        }
        for arg in &self.args {
            let what = match arg.schema.get("enum").and_then(Value::as_array) {
                Some(values) => format!("{} value(s)", values.len()),
                None => arg
                    .schema
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>().join("+"))
                    .unwrap_or_default(),
            };
            parts.push(format!(
                "{}.{}: {what} ({})",
                arg.tool, arg.arg, arg.rule_id
            ));
        }
        if let Some(texts) = &self.texts {
            parts.push(format!("{} admissible command(s)", texts.len()));
        }
        parts.join("; ")
    }
}

/// How large prompts may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextBudget {
    /// The model's window less the tokens its reply may take.
    Auto,
    /// At most this many prompt tokens (and never more than `Auto`).
    Tokens(usize),
}

/// Keeps every prompt inside the model's window: the system text, the
/// tools, the task and the last turns stay whole; older tool results are
/// abbreviated, keeping ids and the fields named here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextPolicy {
    /// The budget.
    pub budget: ContextBudget,
    /// The last this-many model turns (with their tool results) stay whole.
    pub keep_last_turns: usize,
    /// Fields of JSON tool results kept whole when a result is abbreviated
    /// (besides ids and values that appear in the task).
    pub keep_fields: Vec<String>,
}

/// A model's context window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextWindow {
    /// Tokens the context holds (prompt and reply together).
    pub tokens: usize,
    /// The most tokens one reply may take.
    pub reply_tokens: usize,
}

/// The characters an id may hold besides letters and digits.
const ID_PUNCTUATION: &str = "_#@.-:/";

/// Whether `text` looks like an id: 3 to 64 letters, digits and `_#@.-:/`,
/// at least one of them a digit (`#W2378156`, `mei_kovacs_8020`, `1008292230`).
pub fn is_id_like(text: &str) -> bool {
    (3..=64).contains(&text.len())
        && text.bytes().any(|b| b.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ID_PUNCTUATION.contains(c))
}

/// The id-like tokens of `text`, in order (trailing punctuation trimmed).
pub fn id_like_tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || ID_PUNCTUATION.contains(c)))
        .map(|t| t.trim_end_matches(['.', ':', '/', '-']))
        .filter(|t| is_id_like(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn id_like_tokens_are_found_in_prose_and_json() {
        let text = r##"User mei_kovacs_8020 (zip 28236) asks about #W6390527. {"item_id":"1008292230","name":"Lamp 2"}"##;
        let found: Vec<&str> = id_like_tokens(text).collect();
        assert_eq!(
            found,
            ["mei_kovacs_8020", "28236", "#W6390527", "1008292230"]
        );
        assert!(!is_id_like("ab") && !is_id_like("no digits") && !is_id_like("a 1b"));
    }

    #[test]
    fn exclusion_keeps_offered_order_and_says_why() {
        let offered: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut guide = DecodingGuide::default();
        assert!(guide.is_empty() && guide.allows("b"));
        guide.exclude(&offered, "b", "order-b");
        guide.exclude(&offered, "b", "order-b");
        assert_eq!(guide.tools, Some(vec!["a".to_string(), "c".to_string()]));
        assert!(!guide.allows("b") && guide.allows("c"));
        guide.args.push(ArgGuide {
            tool: "a".into(),
            arg: "id".into(),
            schema: json!({"enum": ["x1", "x2"]}),
            rule_id: "a-id-grounded".into(),
        });
        assert_eq!(
            guide.summary(),
            "2 tool(s) allowed; left out: b (order-b); a.id: 2 value(s) (a-id-grounded)"
        );
    }
}
