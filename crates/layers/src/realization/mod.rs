//! Layer 3, action realization: every action is checked after the model
//! speaks and before the environment runs it. Checks, in order: (a) format
//! and JSON repair, (b) unknown tools, (c) JSON schema, (d) contract
//! constraints and ordering, (e) preconditions over the call, the episode's
//! earlier calls and the environment's state. A blocked action gets a
//! targeted correction; the model never sees a raw validator error.

mod repair;
mod schema;

use std::borrow::Cow;
use std::sync::Arc;

use lifeharness_core::{
    Action, ActionVerdict, ArgGuide, DecodingGuide, EpisodeView, FailureKind, Layer, LayerError,
    ModelTurn, ParsedArgs, ToolCall, ToolSpec,
};
use lifeharness_rules::{CallInput, CompiledHarness, Violation};
use serde_json::{Value, json};

pub use repair::repair_json;
use schema::{SchemaCache, closest};

/// Checks actions before they reach the environment.
pub struct RealizationLayer {
    harness: Arc<CompiledHarness>,
    schemas: SchemaCache,
}

impl std::fmt::Debug for RealizationLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RealizationLayer({})", self.harness.harness.name)
    }
}

fn block(rule_id: &str, kind: FailureKind, correction: String) -> ActionVerdict {
    ActionVerdict::Block {
        rule_id: rule_id.to_string(),
        kind,
        correction,
    }
}

fn placeholder(schema: &Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") | Some("number") => json!(1),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ => json!("..."),
    }
}

/// An example call of `tool` with its required arguments filled with placeholders.
fn example_call(tool: &ToolSpec) -> String {
    let mut args = serde_json::Map::new();
    if let Some(required) = tool.parameters.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            let schema = tool
                .parameters
                .pointer(&format!("/properties/{name}"))
                .cloned()
                .unwrap_or(Value::Null);
            args.insert(name.to_string(), placeholder(&schema));
        }
    }
    json!({"name": tool.name, "arguments": args}).to_string()
}

/// The correction for a turn that should have been a tool call.
fn format_correction(tools: &[ToolSpec], problem: &str) -> String {
    let example = tools
        .first()
        .map(example_call)
        .unwrap_or_else(|| "{\"name\": \"<tool>\", \"arguments\": {}}".into());
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    format!(
        "{problem} To act, call exactly one tool, written as one JSON object \
         {{\"name\": \"<tool name>\", \"arguments\": {{...}}}}, for example {example}. \
         The tools are: {}.",
        names.join(", ")
    )
}

impl RealizationLayer {
    /// Realization under `harness`.
    pub fn new(harness: Arc<CompiledHarness>) -> Self {
        Self {
            harness,
            schemas: SchemaCache::default(),
        }
    }

    fn check_call(
        &self,
        view: &EpisodeView<'_>,
        call: &ToolCall,
        args: &Value,
    ) -> Result<Option<ActionVerdict>, LayerError> {
        let spec = &self.harness.harness.realization;
        let Some(tool) = view.tools.iter().find(|t| t.name == call.name) else {
            if !spec.unknown_tools {
                return Ok(None);
            }
            let names: Vec<&str> = view.tools.iter().map(|t| t.name.as_str()).collect();
            let hint = closest(&call.name, names.iter().copied())
                .map(|c| format!(" Did you mean '{c}'?"))
                .unwrap_or_default();
            return Ok(Some(block(
                "realization/unknown-tool",
                FailureKind::UnknownTool,
                format!(
                    "There is no tool named '{}'.{hint} The tools are: {}.",
                    call.name,
                    names.join(", ")
                ),
            )));
        };
        if spec.schema {
            let problems = self.schemas.problems(tool, args).map_err(LayerError)?;
            if !problems.is_empty() {
                let mut text = problems.join(" ");
                text.push_str(&format!(" A valid call looks like {}.", example_call(tool)));
                return Ok(Some(block(
                    "realization/schema",
                    FailureKind::SchemaViolation,
                    text,
                )));
            }
        }
        let history = if self.harness.needs_history(&call.name) {
            crate::history::past_calls(view, self.harness.needs_history_results(&call.name))
        } else {
            Vec::new()
        };
        let input = CallInput {
            tool: &call.name,
            args,
            raw_args: &call.arguments_raw,
            history: &history,
            task_id: &view.task.id,
            instruction: &view.task.instruction,
            state: view.state,
        };
        let to_verdict = |v: Violation| block(&v.rule_id, v.kind, v.message);
        if spec.contract {
            if let Some(v) = self.harness.check_constraints(&input).map_err(LayerError)? {
                return Ok(Some(to_verdict(v)));
            }
            if let Some(v) = self.harness.check_ordering(&input).map_err(LayerError)? {
                return Ok(Some(to_verdict(v)));
            }
        }
        if let Some(v) = self
            .harness
            .check_preconditions(&input)
            .map_err(LayerError)?
        {
            return Ok(Some(to_verdict(v)));
        }
        Ok(None)
    }
}

impl Layer for RealizationLayer {
    fn name(&self) -> &str {
        "realization"
    }

    fn wants_constrained_decoding(&self) -> bool {
        self.harness.harness.realization.constrained_decoding
    }

    fn guide(&self, view: &EpisodeView<'_>, guide: &mut DecodingGuide) -> Result<(), LayerError> {
        let spec = &self.harness.harness.realization;
        if !spec.guided_decoding {
            return Ok(());
        }
        if let Some(admissible) = view.admissible {
            guide.texts = Some(admissible.to_vec());
        }
        if !spec.contract {
            return Ok(());
        }
        let offered: Vec<String> = view.tools.iter().map(|t| t.name.clone()).collect();
        for (rule_id, tools, after) in self.harness.ordering_rules() {
            let satisfied = view.history.iter().any(|entry| match &entry.action {
                Action::ToolCall(call) => {
                    after.contains(&call.name)
                        && entry.observation.as_ref().is_some_and(|o| !o.is_error)
                }
                _ => false,
            });
            if !satisfied {
                for tool in tools {
                    guide.exclude(&offered, tool, rule_id);
                }
            }
        }
        let sources = std::iter::once(view.task.instruction.as_str()).chain(
            view.history.iter().flat_map(|entry| {
                let args = match &entry.action {
                    Action::ToolCall(call) => Some(call.arguments_raw.as_str()),
                    _ => None,
                };
                args.into_iter()
                    .chain(entry.observation.iter().map(|o| &*o.content))
            }),
        );
        for (tool, arg, schema, rule_id) in self.harness.decoding_fragments(sources) {
            if offered.contains(&tool) && guide.allows(&tool) {
                guide.args.push(ArgGuide {
                    tool,
                    arg,
                    schema,
                    rule_id,
                });
            }
        }
        Ok(())
    }

    fn after_turn(
        &self,
        view: &EpisodeView<'_>,
        turn: &ModelTurn,
        action: &Action,
    ) -> Result<ActionVerdict, LayerError> {
        let spec = &self.harness.harness.realization;
        match action {
            Action::Message { .. } => {
                if let Some(problem) = &turn.format_error {
                    let short: String = problem.chars().take(160).collect();
                    return Ok(block(
                        "realization/format",
                        FailureKind::FormatError,
                        format_correction(
                            view.tools,
                            &format!("Your reply could not be read as an action ({short})."),
                        ),
                    ));
                }
                if spec.require_tool_call {
                    return Ok(block(
                        "realization/free-text",
                        FailureKind::FormatError,
                        format_correction(
                            view.tools,
                            "Your reply was free text, but this task needs a tool call.",
                        ),
                    ));
                }
                Ok(ActionVerdict::Allow)
            }
            Action::Finish { .. } => Ok(ActionVerdict::Allow),
            Action::ToolCall(call) => {
                let (args, repaired) = match &call.arguments {
                    ParsedArgs::Json(v) => (Cow::Borrowed(v), None),
                    ParsedArgs::Error(err) => match spec
                        .repair_json
                        .then(|| repair_json(&call.arguments_raw))
                        .flatten()
                    {
                        Some((v, fixes)) => (Cow::Owned(v), Some(fixes)),
                        None => {
                            let short: String = err.chars().take(120).collect();
                            let example = view
                                .tools
                                .iter()
                                .find(|t| t.name == call.name)
                                .map(example_call);
                            let hint = example
                                .map(|e| format!(" A valid call looks like {e}."))
                                .unwrap_or_default();
                            return Ok(block(
                                "realization/json",
                                FailureKind::FormatError,
                                format!(
                                    "The arguments of your call to '{}' are not valid JSON ({short}). Write them as one JSON object.{hint}",
                                    call.name
                                ),
                            ));
                        }
                    },
                };
                if let Some(verdict) = self.check_call(view, call, &args)? {
                    return Ok(verdict);
                }
                Ok(match repaired {
                    Some(fixes) => ActionVerdict::Rewrite {
                        rule_id: "realization/json-repair".to_string(),
                        action: Action::ToolCall(ToolCall::from_value(
                            call.id.clone(),
                            call.name.clone(),
                            args.into_owned(),
                        )),
                        message: format!("repaired the arguments: {}", fixes.join(", ")),
                    },
                    None => ActionVerdict::Allow,
                })
            }
        }
    }
}
