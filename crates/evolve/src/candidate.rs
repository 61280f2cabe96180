//! A proposed harness change and how it applies.

use std::collections::BTreeMap;

use lifeharness_diagnose::Category;
use lifeharness_rules::spec::{
    Annotation, ArgConstraint, LayerSwitches, OrderingRule, Precondition, Skill,
};
use lifeharness_rules::{Harness, Provenance};
use serde::{Deserialize, Serialize};

/// What a candidate changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Turn on the realization layer's schema, unknown-tool and JSON-repair checks.
    RealizationChecks,
    /// Every turn must be a tool call.
    RequireToolCall,
    /// Ask the backend for schema-constrained tool calls.
    ConstrainedDecoding,
    /// An argument constraint.
    Constraint(ArgConstraint),
    /// An ordering constraint.
    Ordering(OrderingRule),
    /// A realization precondition.
    Precondition(Precondition),
    /// An observation annotation.
    Annotation(Annotation),
    /// A procedural skill.
    Skill(Skill),
    /// Regulation thresholds (and the layer on).
    Regulation {
        /// Identical calls in a row that make a loop.
        repeat_threshold: usize,
        /// A-B cycle repeats that make a loop.
        cycle_repeats: usize,
        /// Same-tool errors in a row that make a loop.
        same_tool_errors: usize,
    },
}

/// A proposed change with its motivation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The rule id (or setting path) it adds.
    pub id: String,
    /// `miner` or `proposer`.
    pub source: String,
    /// The miner or proposer model.
    pub by: String,
    /// The failure category it targets.
    pub category: Category,
    /// The failure signature it targets.
    pub signature: String,
    /// Why it should help.
    pub hypothesis: String,
    /// The change.
    pub change: Change,
    /// Failed episodes it targets (`run/episode` -> (task, evidence step)).
    pub targets: BTreeMap<String, (String, String)>,
}

impl Candidate {
    /// A miner's candidate.
    pub fn new(
        id: &str,
        by: &str,
        category: Category,
        signature: &str,
        hypothesis: String,
        change: Change,
        targets: BTreeMap<String, (String, String)>,
    ) -> Self {
        Self {
            id: id.to_string(),
            source: "miner".to_string(),
            by: by.to_string(),
            category,
            signature: signature.to_string(),
            hypothesis,
            change,
            targets,
        }
    }

    /// The tasks it targets.
    pub fn target_tasks(&self) -> std::collections::BTreeSet<String> {
        self.targets.values().map(|(t, _)| t.clone()).collect()
    }

    /// Adds the change to `harness`, switching on the layer it needs; a
    /// layer that was off comes on with its other checks off, so the change
    /// brings nothing but itself.
    pub fn apply(&self, harness: &mut Harness) {
        if !harness.layers.realization
            && !matches!(
                self.change,
                Change::Annotation(_) | Change::Skill(_) | Change::Regulation { .. }
            )
        {
            let r = &mut harness.realization;
            r.unknown_tools = false;
            r.schema = false;
            r.repair_json = false;
            r.contract = false;
            r.require_tool_call = false;
        }
        if !harness.layers.regulation
            && matches!(
                self.change,
                Change::Annotation(_) | Change::Regulation { .. }
            )
        {
            let g = &mut harness.regulation;
            g.repeat_threshold = 0;
            g.cycle_repeats = 0;
            g.same_tool_errors = 0;
            g.no_state_change_steps = 0;
            g.budget_warning_fraction = 0.0;
        }
        match &self.change {
            Change::RealizationChecks => {
                harness.layers.realization = true;
                harness.realization.unknown_tools = true;
                harness.realization.schema = true;
                harness.realization.repair_json = true;
            }
            Change::RequireToolCall => {
                harness.layers.realization = true;
                harness.realization.require_tool_call = true;
            }
            Change::ConstrainedDecoding => {
                harness.layers.realization = true;
                harness.realization.constrained_decoding = true;
            }
            Change::Constraint(c) => {
                harness.layers.realization = true;
                harness.realization.contract = true;
                harness.contract.constraints.push(c.clone());
            }
            Change::Ordering(o) => {
                harness.layers.realization = true;
                harness.realization.contract = true;
                harness.contract.ordering.push(o.clone());
            }
            Change::Precondition(p) => {
                harness.layers.realization = true;
                harness.realization.rules.push(p.clone());
            }
            Change::Annotation(a) => {
                harness.layers.regulation = true;
                harness.regulation.annotations.push(a.clone());
            }
            Change::Skill(s) => {
                harness.layers.skills = true;
                harness.skills.skills.push(s.clone());
            }
            Change::Regulation {
                repeat_threshold,
                cycle_repeats,
                same_tool_errors,
            } => {
                harness.layers.regulation = true;
                harness.regulation.repeat_threshold = *repeat_threshold;
                harness.regulation.cycle_repeats = *cycle_repeats;
                harness.regulation.same_tool_errors = *same_tool_errors;
            }
        }
    }

    /// A harness holding only this change (every built-in check off), so an
    /// audit attributes every block to it.
    pub fn isolated(&self) -> Harness {
        let mut h = Harness::null();
        h.name = format!("candidate {}", self.id);
        h.layers = LayerSwitches {
            contract: false,
            skills: false,
            realization: false,
            regulation: false,
        };
        self.apply(&mut h);
        h
    }

    /// Its provenance record for round `round`.
    pub fn provenance(&self, round: u32) -> Provenance {
        Provenance {
            source: self.source.clone(),
            by: self.by.clone(),
            signature: self.signature.clone(),
            category: self.category.as_str().to_string(),
            round,
            evidence: self
                .targets
                .values()
                .take(5)
                .map(|(_, e)| e.clone())
                .collect(),
            fired: 0,
        }
    }
}
