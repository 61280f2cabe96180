//! Realization checks, `require_tool_call` and constrained decoding for
//! unreadable or unknown calls.

use super::*;

/// Action-realization failures with the realization layer (or its checks) off.
pub(super) fn realization_switches(input: &MineInput<'_>) -> Vec<Candidate> {
    let h = input.harness;
    let mut out = Vec::new();
    let r = &h.realization;
    let layer_on = h.layers.realization;
    let targets = episodes_with(
        input,
        &[FailureKind::UnknownTool, FailureKind::SchemaViolation],
    );
    let complete = layer_on && r.unknown_tools && r.schema && r.repair_json;
    if !targets.is_empty() && !complete {
        out.push(Candidate::new(
            "realization.checks",
            "realization-switches",
            Category::ActionRealization,
            "unknown_tool|schema_violation",
            format!(
                "{} failed episode(s) called unknown tools or broke a tool schema; with the realization layer's schema, unknown-tool and JSON-repair checks those calls are corrected before they reach the environment",
                targets.len()
            ),
            Change::RealizationChecks,
            targets,
        ));
    }
    let format = episodes_with(input, &[FailureKind::FormatError]);
    let required = layer_on && r.require_tool_call;
    if !format.is_empty() && !required {
        out.push(Candidate::new(
            "realization.require_tool_call",
            "realization-switches",
            Category::ActionRealization,
            "format_error",
            format!(
                "{} failed episode(s) answered in prose where the environment needed an action; requiring a tool call turns such a turn into a correction",
                format.len()
            ),
            Change::RequireToolCall,
            format.clone(),
        ));
    }
    let constrained = layer_on && r.constrained_decoding;
    if !format.is_empty() && !constrained {
        out.push(Candidate::new(
            "realization.constrained_decoding",
            "realization-switches",
            Category::ActionRealization,
            "format_error",
            format!(
                "{} failed episode(s) produced turns that were not tool calls; schema-constrained decoding makes the backend emit only well-formed calls of the offered tools",
                format.len()
            ),
            Change::ConstrainedDecoding,
            format.clone(),
        ));
    }
    out
}
