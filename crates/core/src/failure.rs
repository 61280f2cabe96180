//! The failure taxonomy used by layers, the runtime and diagnosis.

use serde::{Deserialize, Serialize};

/// Why an action or an episode failed, as a typed label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The model's output could not be read as an action.
    FormatError,
    /// The model called a tool that does not exist.
    UnknownTool,
    /// The arguments break the tool's JSON schema.
    SchemaViolation,
    /// The arguments break a contract constraint (enum, pattern, range, ordering).
    ContractViolation,
    /// The call breaks a policy or precondition.
    PolicyDenied,
    /// The environment executed the call and returned an error.
    EnvironmentError,
    /// Repetition or cycles.
    Loop,
    /// No progress for too long.
    Stagnation,
    /// A step or retry budget ran out.
    BudgetExceeded,
    /// The model backend failed (server error, bad response).
    BackendError,
    /// The model backend timed out or was rate limited.
    BackendTimeout,
    /// A harness layer failed internally.
    HarnessFault,
    /// The episode ran but the outcome was wrong.
    ReasoningError,
}

impl FailureKind {
    /// Every kind, in a stable order (for reports).
    pub const ALL: [FailureKind; 13] = [
        Self::FormatError,
        Self::UnknownTool,
        Self::SchemaViolation,
        Self::ContractViolation,
        Self::PolicyDenied,
        Self::EnvironmentError,
        Self::Loop,
        Self::Stagnation,
        Self::BudgetExceeded,
        Self::BackendError,
        Self::BackendTimeout,
        Self::HarnessFault,
        Self::ReasoningError,
    ];

    /// The snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FormatError => "format_error",
            Self::UnknownTool => "unknown_tool",
            Self::SchemaViolation => "schema_violation",
            Self::ContractViolation => "contract_violation",
            Self::PolicyDenied => "policy_denied",
            Self::EnvironmentError => "environment_error",
            Self::Loop => "loop",
            Self::Stagnation => "stagnation",
            Self::BudgetExceeded => "budget_exceeded",
            Self::BackendError => "backend_error",
            Self::BackendTimeout => "backend_timeout",
            Self::HarnessFault => "harness_fault",
            Self::ReasoningError => "reasoning_error",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
