//! The original's task format (`tasks.json`): user scenario, initial state
//! and evaluation criteria, plus the text renderings the user simulator sees.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One task as stored in `tasks.json` (fields the harness uses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tau2Task {
    /// The task id.
    pub id: String,
    /// What the user simulator role-plays.
    pub user_scenario: UserScenario,
    /// State to set up before the episode.
    #[serde(default)]
    pub initial_state: Option<InitialState>,
    /// How the episode is scored.
    #[serde(default)]
    pub evaluation_criteria: Option<EvaluationCriteria>,
}

/// The user's persona and instructions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserScenario {
    /// The persona, if any.
    #[serde(default)]
    pub persona: Option<String>,
    /// The instructions.
    pub instructions: Instructions,
}

/// Structured or free-text instructions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Instructions {
    /// The structured form.
    Structured {
        /// The domain.
        domain: String,
        /// Why the user calls.
        reason_for_call: String,
        /// What the user knows.
        #[serde(default)]
        known_info: Option<String>,
        /// What the user does not know.
        #[serde(default)]
        unknown_info: Option<String>,
        /// How the user behaves.
        task_instructions: String,
    },
    /// Plain text.
    Text(String),
}

/// `initial_state` of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitialState {
    /// Data merged into the database.
    #[serde(default)]
    pub initialization_data: Option<InitializationData>,
    /// Tool functions run before the episode.
    #[serde(default)]
    pub initialization_actions: Option<Vec<EnvFunctionCall>>,
    /// Earlier messages (not supported by this crate; must be empty).
    #[serde(default)]
    pub message_history: Option<Vec<Value>>,
}

/// `initialization_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitializationData {
    /// Deep-merged into the agent database.
    #[serde(default)]
    pub agent_data: Option<Value>,
    /// User-side database data (no user database in retail or airline).
    #[serde(default)]
    pub user_data: Option<Value>,
}

/// A function call on the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvFunctionCall {
    /// `assistant` or `user`.
    pub env_type: String,
    /// The function (tool) name.
    pub func_name: String,
    /// Its keyword arguments.
    #[serde(default)]
    pub arguments: Map<String, Value>,
}

/// One gold action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldAction {
    /// Its id within the task.
    pub action_id: String,
    /// `assistant` or `user`.
    #[serde(default = "assistant")]
    pub requestor: String,
    /// The tool name.
    pub name: String,
    /// The arguments.
    pub arguments: Value,
    /// Which arguments the ACTION check compares (`None`: all of the call's).
    #[serde(default)]
    pub compare_args: Option<Vec<String>>,
}

fn assistant() -> String {
    "assistant".to_string()
}

/// `evaluation_criteria` of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationCriteria {
    /// The gold actions.
    #[serde(default)]
    pub actions: Option<Vec<GoldAction>>,
    /// Environment assertions (none in retail or airline).
    #[serde(default)]
    pub env_assertions: Option<Vec<Value>>,
    /// Strings the agent must say.
    #[serde(default)]
    pub communicate_info: Option<Vec<String>>,
    /// Assertions for an LLM judge.
    #[serde(default)]
    pub nl_assertions: Option<Vec<String>>,
    /// The components multiplied into the reward.
    #[serde(default = "default_basis")]
    pub reward_basis: Vec<String>,
}

fn default_basis() -> Vec<String> {
    vec!["DB".to_string(), "COMMUNICATE".to_string()]
}

/// Python's `textwrap.indent(text, prefix)`: prefixes every line that is not
/// blank, keeping line ends.
pub fn indent(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        if !line.trim().is_empty() {
            out.push_str(prefix);
        }
        out.push_str(line);
    }
    out
}

impl std::fmt::Display for Instructions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(text) => f.write_str(text),
            Self::Structured {
                domain,
                reason_for_call,
                known_info,
                unknown_info,
                task_instructions,
            } => {
                let mut lines = vec![
                    format!("Domain: {domain}"),
                    format!("Reason for call:\n{}", indent(reason_for_call, "\t")),
                ];
                if let Some(known) = known_info {
                    lines.push(format!("Known info:\n{}", indent(known, "\t")));
                }
                if let Some(unknown) = unknown_info {
                    lines.push(format!("Unknown info:\n{}", indent(unknown, "\t")));
                }
                lines.push(format!(
                    "Task instructions:\n{}",
                    indent(task_instructions, "\t")
                ));
                f.write_str(&lines.join("\n"))
            }
        }
    }
}

impl std::fmt::Display for UserScenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut lines = Vec::new();
        if let Some(persona) = &self.persona {
            lines.push("Persona:".to_string());
            lines.push(indent(persona, "\t"));
        }
        lines.push("Instructions:".to_string());
        lines.push(indent(&self.instructions.to_string(), "\t"));
        f.write_str(&lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::indent;

    #[test]
    fn indent_skips_blank_lines() {
        assert_eq!(indent("a\n\n b\n", "\t"), "\ta\n\n\t b\n");
    }
}
