//! The sections of a harness file: contract, skills, realization,
//! regulation. Plain data (serde + JSON schema); [`crate::compiled`] turns
//! it into checked, compiled rules.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn yes() -> bool {
    true
}

/// Per-layer switches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LayerSwitches {
    /// Environment contract (tool descriptions, constraints, ordering, pitfalls).
    #[serde(default = "yes")]
    pub contract: bool,
    /// Procedural skills injected into the system prompt.
    #[serde(default = "yes")]
    pub skills: bool,
    /// Action realization (checks before the environment).
    #[serde(default = "yes")]
    pub realization: bool,
    /// Trajectory regulation (annotations, loops, stagnation).
    #[serde(default = "yes")]
    pub regulation: bool,
}

impl Default for LayerSwitches {
    fn default() -> Self {
        Self {
            contract: true,
            skills: true,
            realization: true,
            regulation: true,
        }
    }
}

/// What an example expects of its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// The rule must block this call.
    Block,
    /// The rule must let this call through.
    Allow,
    /// The annotation must fire.
    Annotate,
    /// The annotation must not fire.
    Silent,
}

/// An earlier call in an example's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PastCallExample {
    /// The tool.
    pub tool: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Value,
    /// Whether it succeeded.
    #[serde(default = "yes")]
    pub ok: bool,
    /// Its parsed result.
    #[serde(default)]
    pub result: Value,
}

/// A call a rule must match or must not match, with the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleExample {
    /// The tool called (defaults to the rule's first tool).
    #[serde(default)]
    pub tool: Option<String>,
    /// The call's arguments.
    #[serde(default)]
    pub args: Value,
    /// Values of the rule's `bind` names (stand-ins for the environment state).
    #[serde(default)]
    pub state: BTreeMap<String, Value>,
    /// Earlier calls of the episode.
    #[serde(default)]
    pub history: Vec<PastCallExample>,
    /// The tool result (annotation examples).
    #[serde(default)]
    pub result: Option<Value>,
    /// What the rule must do.
    pub expect: Expect,
    /// The trajectory snippet that motivated the rule.
    #[serde(default)]
    pub snippet: String,
}

/// The failure label a rule reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A policy or precondition.
    #[default]
    PolicyDenied,
    /// A contract constraint.
    ContractViolation,
    /// A schema problem.
    SchemaViolation,
}

/// A general pitfall, rendered into the system text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pitfall {
    /// Rule id.
    pub id: String,
    /// The advice.
    pub text: String,
}

/// Extra description for one tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolNote {
    /// Rule id.
    pub id: String,
    /// The tool.
    pub tool: String,
    /// Text appended to its description.
    pub append: String,
}

/// A format an argument must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArgFormat {
    /// Looks like an e-mail address.
    Email,
    /// `YYYY-MM-DD`.
    Date,
    /// A non-empty string or list.
    NonEmpty,
}

/// A constraint on one argument of one tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgConstraint {
    /// Rule id.
    pub id: String,
    /// The tool.
    pub tool: String,
    /// The argument: `name`, or `name[]` for every item of a list argument.
    pub arg: String,
    /// Admissible values.
    #[serde(default, rename = "enum")]
    pub one_of: Option<Vec<Value>>,
    /// A regular expression string values must match.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Smallest admissible number.
    #[serde(default)]
    pub minimum: Option<f64>,
    /// Largest admissible number.
    #[serde(default)]
    pub maximum: Option<f64>,
    /// A value format.
    #[serde(default)]
    pub format: Option<ArgFormat>,
    /// The value must already have appeared in the task or in an earlier
    /// call or result of the episode (an id the model cannot make up).
    /// Guided decoding limits the argument to the id-like values seen so far
    /// (those matching `pattern`, when one is given). `enforce`: realization
    /// also blocks an ungrounded value. `decode`: the whole constraint only
    /// shapes decoding, and realization and the tool schema ignore it (for
    /// arguments whose benchmark gold lists skip the lookups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grounded: Option<Grounded>,
    /// The correction shown when violated (a template; a generated one otherwise).
    #[serde(default)]
    pub message: Option<String>,
    /// Calls that must and must not match.
    #[serde(default)]
    pub examples: Vec<RuleExample>,
}

/// How a grounded argument is held to the values seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grounded {
    /// Guided decoding offers only the values seen; realization does not
    /// check the constraint at all.
    Decode,
    /// Guided decoding offers only the values seen, and realization blocks others.
    Enforce,
}

/// Tool B only after a successful tool A in this episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderingRule {
    /// Rule id.
    pub id: String,
    /// The tools this constrains (B).
    pub tools: Vec<String>,
    /// Any one of these must have succeeded earlier (A).
    pub after: Vec<String>,
    /// Optionally, the earlier call must have had the same value of this argument.
    #[serde(default)]
    pub same_arg: Option<String>,
    /// The correction (a template; a generated one otherwise).
    #[serde(default)]
    pub message: Option<String>,
    /// Calls that must and must not match.
    #[serde(default)]
    pub examples: Vec<RuleExample>,
}

/// The environment contract: C' = C + delta.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ContractSpec {
    /// Text appended to the system text.
    pub system_append: String,
    /// General pitfalls.
    pub pitfalls: Vec<Pitfall>,
    /// Per-tool description additions.
    pub tools: Vec<ToolNote>,
    /// Per-argument constraints.
    pub constraints: Vec<ArgConstraint>,
    /// Ordering constraints.
    pub ordering: Vec<OrderingRule>,
}

/// A procedural skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Skill {
    /// Rule id.
    pub id: String,
    /// A short title.
    pub title: String,
    /// Environments it applies to (all when empty).
    #[serde(default)]
    pub environments: Vec<String>,
    /// Tools it concerns.
    #[serde(default)]
    pub tools: Vec<String>,
    /// The strategy.
    pub body: String,
    /// Where it came from (trajectory ids, notes).
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// Procedural skills.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SkillsSpec {
    /// At most this many skills per task.
    pub top_k: usize,
    /// At most this many tokens (estimated as characters / 4) of skills.
    pub token_budget: usize,
    /// The skills.
    pub skills: Vec<Skill>,
}

impl Default for SkillsSpec {
    fn default() -> Self {
        Self {
            top_k: 3,
            token_budget: 600,
            skills: Vec::new(),
        }
    }
}

/// A precondition checked before a call reaches the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Precondition {
    /// Rule id.
    pub id: String,
    /// Tools it applies to (every tool when empty).
    #[serde(default)]
    pub tools: Vec<String>,
    /// Names bound to state paths, e.g. `order = "orders/{args.order_id}"` (null when absent).
    #[serde(default)]
    pub bind: BTreeMap<String, String>,
    /// The rule applies only when this is true.
    #[serde(default)]
    pub when: Option<String>,
    /// Must be true, or the call is blocked.
    pub require: String,
    /// The correction (a template).
    pub message: String,
    /// The failure label.
    #[serde(default)]
    pub kind: RuleKind,
    /// Calls that must and must not match.
    #[serde(default)]
    pub examples: Vec<RuleExample>,
}

/// Action realization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RealizationSpec {
    /// Every turn must be a tool call (free text is corrected).
    pub require_tool_call: bool,
    /// Repair unambiguous JSON faults in arguments.
    pub repair_json: bool,
    /// Block unknown tools with the nearest names.
    pub unknown_tools: bool,
    /// Validate arguments against the tool's JSON schema.
    pub schema: bool,
    /// Check the contract's constraints and ordering.
    pub contract: bool,
    /// Ask the model backend for schema-constrained tool calls.
    pub constrained_decoding: bool,
    /// With constrained decoding, build each turn's grammar from the harness
    /// too: contract constraints, grounded arguments, ordering (tools not yet
    /// allowed are left out) and admissible commands. Realization still
    /// checks every action.
    #[serde(default = "yes")]
    pub guided_decoding: bool,
    /// Preconditions.
    pub rules: Vec<Precondition>,
}

impl Default for RealizationSpec {
    fn default() -> Self {
        Self {
            require_tool_call: false,
            repair_json: true,
            unknown_tools: true,
            schema: true,
            contract: true,
            constrained_decoding: false,
            guided_decoding: true,
            rules: Vec::new(),
        }
    }
}

/// A note appended to a tool result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Annotation {
    /// Rule id.
    pub id: String,
    /// Tools whose results it annotates (every tool when empty).
    #[serde(default)]
    pub tools: Vec<String>,
    /// Names bound to state paths.
    #[serde(default)]
    pub bind: BTreeMap<String, String>,
    /// Annotate only when this is true (may use `result` and `ok`).
    #[serde(default)]
    pub when: Option<String>,
    /// The note (a template).
    pub note: String,
    /// Results that must and must not be annotated.
    #[serde(default)]
    pub examples: Vec<RuleExample>,
}

/// Trajectory regulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RegulationSpec {
    /// The same call (canonical arguments) this many times in a row is a loop (0: off).
    pub repeat_threshold: usize,
    /// An A-B cycle repeated this many times (A B A B = 2) is a loop (0: off).
    pub cycle_repeats: usize,
    /// This many consecutive errors of the same tool is a loop (0: off).
    pub same_tool_errors: usize,
    /// This many executed calls without a state change is stagnation (0: off).
    pub no_state_change_steps: usize,
    /// Warn when this fraction of the step budget is spent (0: off).
    pub budget_warning_fraction: f64,
    /// Escalate: soft nudge, then hard directive, then stop as a loop.
    pub escalate: bool,
    /// Observation annotations.
    pub annotations: Vec<Annotation>,
}

impl Default for RegulationSpec {
    fn default() -> Self {
        Self {
            repeat_threshold: 3,
            cycle_repeats: 2,
            same_tool_errors: 3,
            no_state_change_steps: 0,
            budget_warning_fraction: 0.8,
            escalate: true,
            annotations: Vec::new(),
        }
    }
}

/// How large a prompt may grow (`budget`): `"off"`, `"auto"` (the model's
/// window less its reply) or a token count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BudgetSetting {
    /// No budget: prompts grow until the backend refuses them.
    #[default]
    Off,
    /// The model's context window less the tokens of one reply.
    Auto,
    /// At most this many prompt tokens (and never more than `auto`).
    Tokens(usize),
}

impl Serialize for BudgetSetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Off => s.serialize_str("off"),
            Self::Auto => s.serialize_str("auto"),
            Self::Tokens(n) => s.serialize_u64(*n as u64),
        }
    }
}

impl<'de> Deserialize<'de> for BudgetSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) if t == "off" => Ok(Self::Off),
            Raw::Text(t) if t == "auto" => Ok(Self::Auto),
            Raw::Number(n) if n >= 64 => Ok(Self::Tokens(n as usize)),
            Raw::Number(n) => Err(serde::de::Error::custom(format!(
                "context.budget {n} is too small (at least 64 tokens)"
            ))),
            Raw::Text(t) => Err(serde::de::Error::custom(format!(
                "context.budget '{t}' is not \"off\", \"auto\" or a token count"
            ))),
        }
    }
}

fn budget_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "\"off\", \"auto\" or a token count (at least 64)",
        "anyOf": [
            {"type": "string", "enum": ["off", "auto"]},
            {"type": "integer", "minimum": 64}
        ],
        "default": "off"
    })
}

/// The context budget: keeps every prompt inside the model's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ContextSpec {
    /// `"off"`, `"auto"` or a token count. Counted with the model's own
    /// tokenizer where the backend offers one (embedded), else estimated.
    #[schemars(schema_with = "budget_schema")]
    pub budget: BudgetSetting,
    /// The last this-many model turns, with their results, stay whole.
    pub keep_last_turns: usize,
    /// Fields of JSON tool results kept when older results are abbreviated
    /// (ids, fields the rules name and values in the task are kept anyway).
    pub keep_fields: Vec<String>,
}

impl Default for ContextSpec {
    fn default() -> Self {
        Self {
            budget: BudgetSetting::Off,
            keep_last_turns: 2,
            keep_fields: Vec::new(),
        }
    }
}
