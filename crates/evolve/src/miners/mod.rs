//! Deterministic miners: each turns facts and diagnoses into candidate
//! harness changes, with the trajectory steps that motivate them as rule
//! examples and the failure signature they target.
//!
//! Nothing here knows an environment: tools, arguments, state collections
//! and error meanings all come from the facts and the environment's
//! declarations.

use std::collections::{BTreeMap, BTreeSet};

use lifeharness_core::FailureKind;
use lifeharness_diagnose::{Category, Diagnosis};
use lifeharness_rules::Harness;
use lifeharness_rules::spec::{
    Annotation, ArgConstraint, ArgFormat, Expect, OrderingRule, PastCallExample, Precondition,
    RuleExample, RuleKind, Skill,
};
use serde_json::{Value, json};

use crate::candidate::{Candidate, Change};
use crate::facts::{CallFact, Facts, Origin};

/// What the miners read.
pub struct MineInput<'a> {
    /// The environment.
    pub environment: &'a str,
    /// Replayed facts.
    pub facts: &'a Facts,
    /// Diagnoses of the training episodes (same order as the episodes).
    pub diagnoses: &'a [Diagnosis],
    /// The harness being evolved.
    pub harness: &'a Harness,
    /// The environment's public contract: tool descriptions and system text.
    pub contract_text: &'a str,
    /// Train task instructions by id.
    pub instructions: &'a BTreeMap<String, String>,
    /// Which tools write (`None`: unknown).
    pub writes: &'a dyn Fn(&str) -> Option<bool>,
    /// The tools the environment offers (calls of others, e.g. another
    /// benchmark's tools in imported episodes, teach nothing but realization).
    pub tools: &'a BTreeSet<String>,
}

pub(super) fn in_failed_episode(fact: &CallFact) -> bool {
    matches!(fact.origin, Origin::Episode(_)) && fact.success == Some(false)
}

pub(super) fn episode_key(input: &MineInput<'_>, fact: &CallFact) -> Option<String> {
    match fact.origin {
        Origin::Episode(i) => input
            .diagnoses
            .get(i)
            .map(|d| format!("{}/{}", d.run_id, d.episode_id)),
        _ => None,
    }
}

pub(super) fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

pub(super) fn past(prior: &[crate::facts::Prior]) -> Vec<PastCallExample> {
    prior
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(|p| PastCallExample {
            tool: p.tool.clone(),
            args: p.args.clone(),
            ok: p.ok,
            result: p.result.clone(),
        })
        .collect()
}

pub(super) fn example(
    fact: &CallFact,
    expect: Expect,
    note: &str,
    with_history: bool,
) -> RuleExample {
    RuleExample {
        tool: Some(fact.tool.clone()),
        args: fact.args.clone(),
        state: BTreeMap::new(),
        history: if with_history {
            past(&fact.prior)
        } else {
            Vec::new()
        },
        result: None,
        expect,
        snippet: format!("{} ({note})", fact.evidence),
    }
}

mod arguments;
mod feedback;
mod ordering;
mod realization;
mod shape;
mod skills;
mod state;

use arguments::{argument_constraints, grounded_arguments};
use feedback::{error_annotations, regulation};
use ordering::ordering;
use realization::realization_switches;
pub use shape::shape;
use skills::skills;
use state::state_preconditions;

/// Every deterministic miner, in a stable order.
pub fn mine(input: &MineInput<'_>) -> Vec<Candidate> {
    let mut out = Vec::new();
    out.extend(realization_switches(input));
    out.extend(argument_constraints(input));
    out.extend(grounded_arguments(input));
    out.extend(ordering(input));
    out.extend(state_preconditions(input));
    out.extend(error_annotations(input));
    out.extend(regulation(input));
    out.extend(skills(input));
    out
}

/// Failed episodes whose signals include any of `kinds` (unrecovered).
pub(super) fn episodes_with(
    input: &MineInput<'_>,
    kinds: &[FailureKind],
) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for d in input.diagnoses.iter().filter(|d| d.failed()) {
        if let Some(s) = d
            .signals
            .iter()
            .find(|s| kinds.contains(&s.kind) && !s.recovered)
        {
            out.insert(
                format!("{}/{}", d.run_id, d.episode_id),
                (
                    d.task_id.clone(),
                    format!("{}#{} {}", d.episode_id, s.step, s.signature),
                ),
            );
        }
    }
    out
}

pub(super) fn existing_ids(h: &Harness) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    ids.extend(h.contract.constraints.iter().map(|c| c.id.clone()));
    ids.extend(h.contract.ordering.iter().map(|c| c.id.clone()));
    ids.extend(h.realization.rules.iter().map(|c| c.id.clone()));
    ids.extend(h.regulation.annotations.iter().map(|c| c.id.clone()));
    ids.extend(h.skills.skills.iter().map(|c| c.id.clone()));
    ids
}

pub(super) fn string_args(fact: &CallFact) -> Vec<(&str, &str)> {
    match &fact.args {
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)))
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn targets_of(
    input: &MineInput<'_>,
    facts: &[&&CallFact],
) -> BTreeMap<String, (String, String)> {
    facts
        .iter()
        .filter_map(|f| episode_key(input, f).map(|k| (k, (f.task_id.clone(), f.evidence.clone()))))
        .collect()
}

/// Per episode (by origin), its calls in order.
pub(super) fn by_episode(facts: &Facts) -> BTreeMap<(u8, usize), Vec<&CallFact>> {
    let mut out: BTreeMap<(u8, usize), Vec<&CallFact>> = BTreeMap::new();
    for fact in &facts.calls {
        let key = match fact.origin {
            Origin::Episode(i) => (0, i),
            Origin::Reference(i) => (1, i),
            Origin::Counterfactual(_) => continue,
        };
        out.entry(key).or_default().push(fact);
    }
    out
}

pub(super) fn singular(collection: &str) -> String {
    let base = collection.strip_suffix('s').unwrap_or(collection);
    let name: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("rec_{name}")
    } else {
        name
    }
}

pub(super) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.len() <= 40 && !s.chars().any(|c| c.is_ascii_digit()) => {
            Some(s.clone())
        }
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn cel_literal(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

pub(super) fn safe_prefix(texts: &[&str]) -> Option<String> {
    let first = texts.first()?;
    let mut len = first.len();
    for t in texts {
        len = len.min(
            first
                .bytes()
                .zip(t.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let prefix: String = first[..len]
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == ' ' || *c == ':' || *c == ',')
        .collect();
    let prefix = prefix.trim_end().to_string();
    (prefix.len() >= 8).then_some(prefix)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

    use super::*;

    #[test]
    fn shapes_keep_shared_literals_and_generalise_the_rest() {
        let (re, words) = shape(&["#W2611340", "#W1000001", "#W77"]).unwrap_or_default();
        assert_eq!(re, "^\\#W[0-9]+$");
        assert_eq!(words, "'#W' then digits");
        let (re, _) = shape(&["yusuf_rossi_9620", "mei_kim_1", "a_b_22"]).unwrap_or_default();
        assert_eq!(re, "^[a-z]+_[a-z]+_[0-9]+$");
        assert!(shape(&["no longer needed", "ordered by mistake", "x"]).is_none());
        assert!(shape(&["a", "a", "a"]).is_none(), "too few distinct values");
    }

    fn fact(
        episode: usize,
        success: bool,
        tool: &str,
        args: Value,
        ok: bool,
        prior: &[(&str, &str)],
    ) -> CallFact {
        CallFact {
            origin: Origin::Episode(episode),
            evidence: format!("r/e{episode}#0"),
            task_id: format!("t{episode}"),
            step: prior.len(),
            tool: tool.into(),
            args,
            ok,
            output: if ok {
                "{}".into()
            } else {
                "Error: not found".into()
            },
            meaning: None,
            success: Some(success),
            prior: prior
                .iter()
                .map(|(t, result)| crate::facts::Prior {
                    tool: (*t).into(),
                    args: json!({}),
                    ok: true,
                    result: json!(result),
                })
                .collect(),
            bound: BTreeMap::new(),
        }
    }

    fn mined(facts: Facts) -> Vec<Candidate> {
        let harness = Harness::null();
        let instructions = BTreeMap::new();
        let tools: BTreeSet<String> = ["auth_a", "auth_b", "lookup", "cancel", "book"]
            .map(String::from)
            .into();
        let writes = |t: &str| Some(t == "cancel");
        mine(&MineInput {
            environment: "e",
            facts: &facts,
            diagnoses: &[],
            harness: &harness,
            contract_text: "",
            instructions: &instructions,
            writes: &writes,
            tools: &tools,
        })
    }

    #[test]
    fn ordering_finds_a_pair_of_alternatives_and_grounding_finds_made_up_ids() {
        let mut facts = Facts::default();
        for (e, auth) in [(0, "auth_a"), (1, "auth_b"), (2, "auth_a"), (3, "auth_b")] {
            facts.calls.push(fact(e, true, auth, json!({}), true, &[]));
            facts
                .calls
                .push(fact(e, true, "lookup", json!({}), true, &[(auth, "u1")]));
            facts.calls.push(fact(
                e,
                true,
                "cancel",
                json!({"order_id": format!("#W{e}1")}),
                true,
                &[(auth, "u1"), ("lookup", &format!("orders: #W{e}1"))],
            ));
        }
        facts
            .calls
            .push(fact(4, false, "lookup", json!({}), true, &[]));
        facts.calls.push(fact(
            4,
            false,
            "cancel",
            json!({"order_id": "#W999"}),
            false,
            &[("lookup", "orders: #W41")],
        ));
        let got = mined(facts);
        let ids: Vec<&str> = got.iter().map(|c| c.id.as_str()).collect();
        assert!(ids.contains(&"lookup-after-auth-a-or-auth-b"), "{ids:?}");
        let grounded = got
            .iter()
            .find(|c| c.id == "cancel-order-id-grounded")
            .unwrap_or_else(|| panic!("{ids:?}"));
        let mut h = Harness::null();
        grounded.apply(&mut h);
        // Its examples (the made-up id blocked, the looked-up one allowed) pass at load.
        assert!(lifeharness_rules::CompiledHarness::compile(h, None, "t").is_ok());
    }

    #[test]
    fn counterfactual_rejections_alone_need_two_values_of_the_field() {
        let with = |episode, ok, membership: &str, counterfactual| {
            let mut f = fact(
                episode,
                true,
                "book",
                json!({"user_id": format!("u{episode}")}),
                ok,
                &[],
            );
            if counterfactual {
                f.origin = Origin::Counterfactual(episode);
                f.success = None;
            }
            f.bound.insert(
                ("user_id".into(), "users".into()),
                json!({"membership": membership}),
            );
            f
        };
        let mined_with = |rejected: &[&str]| {
            let mut facts = Facts::default();
            for e in 0..5 {
                facts.calls.push(with(
                    e,
                    true,
                    if e % 2 == 0 { "gold" } else { "regular" },
                    false,
                ));
            }
            for (i, m) in rejected.iter().enumerate() {
                facts.calls.push(with(10 + i, false, m, true));
            }
            mined(facts)
                .into_iter()
                .any(|c| c.id == "book-user-membership")
        };
        // One other value, all from variants: the rejection may come from the
        // arguments the variant kept, not from the field.
        assert!(!mined_with(&["silver", "silver", "silver"]));
        assert!(mined_with(&["silver", "bronze", "silver"]));
    }

    #[test]
    fn slugs_names_literals_and_shared_prefixes() {
        assert_eq!(slug("get_order_details"), "get-order-details");
        assert_eq!(singular("orders"), "order");
        assert_eq!(cel_literal("it's"), "'it\\'s'");
        assert_eq!(
            safe_prefix(&["Error: order not found #W1", "Error: order not found #W2"]),
            Some("Error: order not found".to_string())
        );
    }
}
