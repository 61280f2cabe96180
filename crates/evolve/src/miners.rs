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

fn in_failed_episode(fact: &CallFact) -> bool {
    matches!(fact.origin, Origin::Episode(_)) && fact.success == Some(false)
}

fn episode_key(input: &MineInput<'_>, fact: &CallFact) -> Option<String> {
    match fact.origin {
        Origin::Episode(i) => input
            .diagnoses
            .get(i)
            .map(|d| format!("{}/{}", d.run_id, d.episode_id)),
        _ => None,
    }
}

fn slug(text: &str) -> String {
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

fn past(prior: &[crate::facts::Prior]) -> Vec<PastCallExample> {
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

fn example(fact: &CallFact, expect: Expect, note: &str, with_history: bool) -> RuleExample {
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

// ---------------------------------------------------------------------------
// Value shapes
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Digit,
    Lower,
    Upper,
    Other(char),
}

fn class_of(c: char) -> Class {
    if c.is_ascii_digit() {
        Class::Digit
    } else if c.is_ascii_lowercase() {
        Class::Lower
    } else if c.is_ascii_uppercase() {
        Class::Upper
    } else {
        Class::Other(c)
    }
}

fn runs(s: &str) -> Vec<(Class, String)> {
    let mut out: Vec<(Class, String)> = Vec::new();
    for c in s.chars() {
        let class = class_of(c);
        match out.last_mut() {
            Some((last, text)) if *last == class && !matches!(class, Class::Other(_)) => {
                text.push(c);
            }
            _ => out.push((class, c.to_string())),
        }
    }
    out
}

/// A regular expression all `values` match, with a description, when they
/// share one structure (same runs of digits, letters and punctuation).
pub fn shape(values: &[&str]) -> Option<(String, String)> {
    let distinct: BTreeSet<&str> = values.iter().copied().collect();
    if distinct.len() < 3 {
        return None;
    }
    let all: Vec<Vec<(Class, String)>> = distinct.iter().map(|v| runs(v)).collect();
    let first = all.first()?;
    if first.is_empty() || first.len() > 8 {
        return None;
    }
    if all
        .iter()
        .any(|r| r.len() != first.len() || r.iter().zip(first).any(|(a, b)| a.0 != b.0))
    {
        return None;
    }
    let mut regex = String::from("^");
    let mut words = Vec::new();
    let mut literal = String::new();
    let mut variable = false;
    for (i, (class, text)) in first.iter().enumerate() {
        let same = all.iter().all(|r| r[i].1 == *text);
        if same {
            regex.push_str(&regex::escape(text));
            literal.push_str(text);
            continue;
        }
        if !literal.is_empty() {
            words.push(format!("'{literal}'"));
            literal.clear();
        }
        variable = true;
        let (re, word) = match class {
            Class::Digit => ("[0-9]+", "digits"),
            Class::Lower => ("[a-z]+", "lower-case letters"),
            Class::Upper => ("[A-Z]+", "capital letters"),
            Class::Other(_) => return None,
        };
        regex.push_str(re);
        words.push(word.to_string());
    }
    if !literal.is_empty() {
        words.push(format!("'{literal}'"));
    }
    if !variable {
        return None;
    }
    regex.push('$');
    Some((regex, words.join(" then ")))
}

// ---------------------------------------------------------------------------
// Miners
// ---------------------------------------------------------------------------

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
fn episodes_with(
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

/// Action-realization failures with the realization layer (or its checks) off.
fn realization_switches(input: &MineInput<'_>) -> Vec<Candidate> {
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

fn existing_ids(h: &Harness) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    ids.extend(h.contract.constraints.iter().map(|c| c.id.clone()));
    ids.extend(h.contract.ordering.iter().map(|c| c.id.clone()));
    ids.extend(h.realization.rules.iter().map(|c| c.id.clone()));
    ids.extend(h.regulation.annotations.iter().map(|c| c.id.clone()));
    ids.extend(h.skills.skills.iter().map(|c| c.id.clone()));
    ids
}

fn string_args(fact: &CallFact) -> Vec<(&str, &str)> {
    match &fact.args {
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Argument formats (pattern, non-empty, enum) separating the values the
/// environment accepted from those it rejected in failed episodes.
fn argument_constraints(input: &MineInput<'_>) -> Vec<Candidate> {
    let existing = existing_ids(input.harness);
    let mut accepted: BTreeMap<(String, String), Vec<&CallFact>> = BTreeMap::new();
    let mut rejected: BTreeMap<(String, String), Vec<&CallFact>> = BTreeMap::new();
    for fact in &input.facts.calls {
        if matches!(fact.origin, Origin::Counterfactual(_)) || !input.tools.contains(&fact.tool) {
            continue;
        }
        for (arg, _) in string_args(fact) {
            let key = (fact.tool.clone(), arg.to_string());
            if fact.ok {
                accepted.entry(key).or_default().push(fact);
            } else if in_failed_episode(fact) {
                rejected.entry(key).or_default().push(fact);
            }
        }
    }
    let mut out = Vec::new();
    for ((tool, arg), bad) in &rejected {
        let Some(good) = accepted.get(&(tool.clone(), arg.clone())) else {
            continue;
        };
        let value = |f: &&CallFact| {
            f.args
                .get(arg)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let good_values: Vec<String> = good.iter().map(value).collect();
        let refs: Vec<&str> = good_values.iter().map(String::as_str).collect();
        // Non-empty.
        let id = format!("{}-{}-non-empty", slug(tool), slug(arg));
        let empties: Vec<&&CallFact> = bad.iter().filter(|f| value(f).trim().is_empty()).collect();
        if !empties.is_empty()
            && refs.iter().all(|v| !v.trim().is_empty())
            && !existing.contains(&id)
        {
            let targets = targets_of(input, &empties);
            out.push(Candidate::new(
                &id,
                "argument-constraints",
                Category::EnvironmentContract,
                &format!("{tool}:{arg}:empty"),
                format!("{tool} was called with an empty {arg} and the environment rejected it; it never accepted an empty one"),
                Change::Constraint(ArgConstraint {
                    id: id.clone(),
                    tool: tool.clone(),
                    arg: arg.clone(),
                    one_of: None,
                    pattern: None,
                    minimum: None,
                    maximum: None,
                    format: Some(ArgFormat::NonEmpty),
                    message: Some(format!("{arg} is empty: {tool} needs a value for it.")),
                    examples: vec![
                        example(empties[0], Expect::Block, "rejected by the environment", false),
                        example(good[0], Expect::Allow, "accepted by the environment", false),
                    ],
                }),
                targets,
            ));
        }
        // Pattern.
        if let Some((pattern, description)) = shape(&refs) {
            let Ok(re) = regex::Regex::new(&pattern) else {
                continue;
            };
            let misses: Vec<&&CallFact> = bad
                .iter()
                .filter(|f| {
                    let v = value(f);
                    !v.trim().is_empty() && !re.is_match(&v)
                })
                .collect();
            let id = format!("{}-{}-format", slug(tool), slug(arg));
            if !misses.is_empty() && !existing.contains(&id) {
                let meaning = misses
                    .iter()
                    .find_map(|f| f.meaning.as_ref())
                    .map(|m| m.pattern.clone())
                    .unwrap_or_else(|| "error".to_string());
                out.push(Candidate::new(
                    &id,
                    "argument-constraints",
                    Category::EnvironmentContract,
                    &format!("{tool}:{arg}:{meaning}"),
                    format!(
                        "every {arg} {tool} accepted ({} values) is {description}; {} rejected call(s) in failed episodes were not",
                        good_values.len(),
                        misses.len()
                    ),
                    Change::Constraint(ArgConstraint {
                        id: id.clone(),
                        tool: tool.clone(),
                        arg: arg.clone(),
                        one_of: None,
                        pattern: Some(pattern),
                        minimum: None,
                        maximum: None,
                        format: None,
                        message: Some(format!(
                            "'{{value}}' is not a valid {arg} for {tool}: it must be {description}. Copy it exactly as the task or an earlier result gives it."
                        )),
                        examples: vec![
                            example(misses[0], Expect::Block, "rejected by the environment", false),
                            example(good[0], Expect::Allow, "accepted by the environment", false),
                        ],
                    }),
                    targets_of(input, &misses),
                ));
            }
        }
        // Enum: few accepted values, each stated in the public contract.
        let distinct: BTreeSet<&str> = refs.iter().copied().collect();
        if !distinct.is_empty()
            && distinct.len() <= 6
            && refs.len() >= 2 * distinct.len()
            && distinct
                .iter()
                .all(|v| v.len() >= 3 && input.contract_text.contains(v))
        {
            let outside: Vec<&&CallFact> = bad
                .iter()
                .filter(|f| !distinct.contains(value(f).as_str()))
                .collect();
            let id = format!("{}-{}-enum", slug(tool), slug(arg));
            if !outside.is_empty() && !existing.contains(&id) {
                let list: Vec<String> = distinct.iter().map(|v| format!("'{v}'")).collect();
                out.push(Candidate::new(
                    &id,
                    "argument-constraints",
                    Category::EnvironmentContract,
                    &format!("{tool}:{arg}:not-admissible"),
                    format!(
                        "{tool} accepted only {} for {arg} (all stated in the tool contract); {} call(s) in failed episodes used other values",
                        list.join(", "),
                        outside.len()
                    ),
                    Change::Constraint(ArgConstraint {
                        id: id.clone(),
                        tool: tool.clone(),
                        arg: arg.clone(),
                        one_of: Some(distinct.iter().map(|v| json!(v)).collect()),
                        pattern: None,
                        minimum: None,
                        maximum: None,
                        format: None,
                        message: Some(format!(
                            "{arg} must be exactly one of {} (got '{{value}}').",
                            list.join(", ")
                        )),
                        examples: vec![
                            example(outside[0], Expect::Block, "rejected by the environment", false),
                            example(good[0], Expect::Allow, "accepted by the environment", false),
                        ],
                    }),
                    targets_of(input, &outside),
                ));
            }
        }
    }
    out
}

fn targets_of(input: &MineInput<'_>, facts: &[&&CallFact]) -> BTreeMap<String, (String, String)> {
    facts
        .iter()
        .filter_map(|f| episode_key(input, f).map(|k| (k, (f.task_id.clone(), f.evidence.clone()))))
        .collect()
}

/// Whether `value` was seen before the call: in the task or in an earlier
/// call's arguments or result.
fn seen_before(input: &MineInput<'_>, fact: &CallFact, value: &str) -> bool {
    input
        .instructions
        .get(&fact.task_id)
        .is_some_and(|t| t.contains(value))
        || fact
            .prior
            .iter()
            .any(|p| p.result.to_string().contains(value) || p.args.to_string().contains(value))
}

fn id_like(arg: &str, value: &str) -> bool {
    (arg.ends_with("_id") || arg == "id")
        && value.len() >= 3
        && value.chars().any(|c| c.is_ascii_digit())
}

/// Grounded arguments: an id argument whose value appeared nowhere in the
/// task or the earlier results, where every accepted value had.
fn grounded_arguments(input: &MineInput<'_>) -> Vec<Candidate> {
    let existing = existing_ids(input.harness);
    let mut legit: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for fact in input.facts.legit() {
        for (arg, value) in string_args(fact) {
            if id_like(arg, value) {
                let e = legit
                    .entry((fact.tool.clone(), arg.to_string()))
                    .or_default();
                e.0 += 1;
                if seen_before(input, fact, value) {
                    e.1 += 1;
                }
            }
        }
    }
    let mut out = Vec::new();
    for ((tool, arg), (n, grounded)) in legit {
        if n < 2 || grounded < n {
            continue;
        }
        let id = format!("{}-{}-grounded", slug(&tool), slug(&arg));
        if existing.contains(&id) {
            continue;
        }
        let bad: Vec<&CallFact> = input
            .facts
            .calls
            .iter()
            .filter(|f| in_failed_episode(f) && !f.ok && f.tool == tool)
            .filter(|f| {
                f.args
                    .get(&arg)
                    .and_then(Value::as_str)
                    .is_some_and(|v| !seen_before(input, f, v))
            })
            .collect();
        let Some(blocked) = bad.first() else { continue };
        // An allowed example whose evidence is inside the example's history.
        let allowed = input.facts.legit().find(|f| {
            f.tool == tool
                && f.args.get(&arg).and_then(Value::as_str).is_some_and(|v| {
                    past(&f.prior)
                        .iter()
                        .any(|p| p.result.to_string().contains(v) || p.args.to_string().contains(v))
                })
        });
        let Some(allowed) = allowed else { continue };
        let refs: Vec<&&CallFact> = bad.iter().collect();
        out.push(Candidate::new(
            &id,
            "grounded-arguments",
            Category::EnvironmentContract,
            &format!("{tool}:{arg}:ungrounded"),
            format!(
                "all {n} {arg} values {tool} got in solved tasks had appeared in the task or an earlier result; {} rejected call(s) in failed episodes used a value seen nowhere",
                bad.len()
            ),
            Change::Precondition(Precondition {
                id: id.clone(),
                tools: vec![tool.clone()],
                bind: BTreeMap::new(),
                when: Some(format!("has(args.{arg}) && type(args.{arg}) == string")),
                require: format!(
                    "mentions(task.instruction, args.{arg}) || mentions(history, args.{arg})"
                ),
                message: format!(
                    "'{{args.{arg}}}' appears nowhere in the task or in any earlier result: take the {arg} from a lookup result or from what the user said; do not make one up."
                ),
                kind: RuleKind::ContractViolation,
                examples: vec![
                    example(blocked, Expect::Block, "a value seen nowhere before", true),
                    example(allowed, Expect::Allow, "the value came from an earlier result", true),
                ],
            }),
            targets_of(input, &refs),
        ));
    }
    out
}

/// Per episode (by origin), its calls in order.
fn by_episode(facts: &Facts) -> BTreeMap<(u8, usize), Vec<&CallFact>> {
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

/// Tool B only after tool A: what every reference solution and successful
/// episode calling B did first, where failed episodes did not.
fn ordering(input: &MineInput<'_>) -> Vec<Candidate> {
    let existing = existing_ids(input.harness);
    let episodes = by_episode(input.facts);
    let mut tools: BTreeSet<&str> = BTreeSet::new();
    for calls in episodes.values() {
        tools.extend(
            calls
                .iter()
                .map(|c| c.tool.as_str())
                .filter(|t| input.tools.contains(*t)),
        );
    }
    let mut out = Vec::new();
    for b in tools {
        // What each solved episode calling B had called successfully first.
        let mut befores: Vec<BTreeSet<String>> = Vec::new();
        for calls in episodes.values() {
            if calls.first().is_none_or(|c| c.success != Some(true)) {
                continue;
            }
            let Some(first_b) = calls.iter().position(|c| c.tool == b) else {
                continue;
            };
            befores.push(
                calls[..first_b]
                    .iter()
                    .filter(|c| c.ok && c.tool != b && input.tools.contains(&c.tool))
                    .map(|c| c.tool.clone())
                    .collect(),
            );
        }
        if befores.len() < ORDERING_SUPPORT {
            continue;
        }
        // Single tools every one of them called first; else the pair of
        // alternatives (either one, e.g. two ways to authenticate) that
        // covers them all, the most used pair first.
        let common: BTreeSet<String> = befores.iter().skip(1).fold(befores[0].clone(), |acc, s| {
            acc.intersection(s).cloned().collect()
        });
        let mut sets: Vec<Vec<String>> = common.into_iter().map(|a| vec![a]).collect();
        if sets.is_empty() {
            let union: BTreeSet<&String> = befores.iter().flatten().collect();
            let count = |t: &String| befores.iter().filter(|s| s.contains(t)).count();
            let mut best: Option<(usize, Vec<String>)> = None;
            for (i, a1) in union.iter().enumerate() {
                for a2 in union.iter().skip(i + 1) {
                    let covers = befores.iter().all(|s| s.contains(*a1) || s.contains(*a2));
                    let used = count(a1) + count(a2);
                    if covers && best.as_ref().is_none_or(|(u, _)| used > *u) {
                        best = Some((used, vec![(*a1).clone(), (*a2).clone()]));
                    }
                }
            }
            sets.extend(best.map(|(_, set)| set));
        }
        for after in sets {
            let id = format!(
                "{}-after-{}",
                slug(b),
                after
                    .iter()
                    .map(|a| slug(a))
                    .collect::<Vec<_>>()
                    .join("-or-")
            );
            if existing.contains(&id) {
                continue;
            }
            let any = after.join(" or ");
            let mut targets = BTreeMap::new();
            let mut block_example = None;
            for calls in episodes.values() {
                if calls.first().is_none_or(|c| c.success != Some(false)) {
                    continue;
                }
                for (i, c) in calls.iter().enumerate() {
                    if c.tool == b && !calls[..i].iter().any(|p| after.contains(&p.tool) && p.ok) {
                        if let Some(k) = episode_key(input, c) {
                            targets.insert(k, (c.task_id.clone(), c.evidence.clone()));
                        }
                        block_example.get_or_insert(*c);
                        break;
                    }
                }
            }
            let Some(blocked) = block_example else {
                continue;
            };
            let allowed = input
                .facts
                .legit()
                .find(|c| c.tool == b && c.prior.iter().any(|p| after.contains(&p.tool) && p.ok));
            let mut examples = vec![example(
                blocked,
                Expect::Block,
                &format!("{b} before any {any}"),
                true,
            )];
            if let Some(ok) = allowed {
                let mut ex = example(ok, Expect::Allow, "a successful episode", false);
                // The earlier call that made it admissible.
                ex.history = ok
                    .prior
                    .iter()
                    .rev()
                    .find(|p| after.contains(&p.tool) && p.ok)
                    .map(|p| past(std::slice::from_ref(p)))
                    .unwrap_or_default();
                examples.push(ex);
            }
            out.push(Candidate::new(
                &id,
                "ordering",
                Category::EnvironmentContract,
                &format!("{b}:before:{}", after.join("|")),
                format!(
                    "all {} successful episodes and reference solutions that call {b} call {any} successfully first; {} failed episode(s) did not",
                    befores.len(),
                    targets.len()
                ),
                Change::Ordering(OrderingRule {
                    id: id.clone(),
                    tools: vec![b.to_string()],
                    after: after.clone(),
                    same_arg: None,
                    message: Some(format!(
                        "Call {any} (and read its result) before {b}: every solved task did."
                    )),
                    examples,
                }),
                targets,
            ));
        }
    }
    out
}

/// Solved episodes calling a tool that an ordering rule needs.
const ORDERING_SUPPORT: usize = 3;

fn singular(collection: &str) -> String {
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

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.len() <= 40 && !s.chars().any(|c| c.is_ascii_digit()) => {
            Some(s.clone())
        }
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn cel_literal(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The pattern of accepted writes that destroyed the reward.
const REWARD_DESTROYING: &str = "reward_destroying_write";

/// State preconditions: a field of the record an argument names whose
/// values separate the calls the environment accepted from those it
/// rejected (recorded, reference and counterfactual calls).
fn state_preconditions(input: &MineInput<'_>) -> Vec<Candidate> {
    let existing = existing_ids(input.harness);
    let mut groups: BTreeMap<(String, String, String), Vec<&CallFact>> = BTreeMap::new();
    for fact in &input.facts.calls {
        for (arg, collection) in fact.bound.keys() {
            groups
                .entry((fact.tool.clone(), arg.clone(), collection.clone()))
                .or_default()
                .push(fact);
        }
    }
    // Writes the environment accepted but that the reference does not make,
    // in failed episodes: reward-destroying calls (a policy the
    // environment does not enforce itself).
    let mut extra: BTreeSet<(usize, usize, String)> = BTreeSet::new();
    for (i, d) in input.diagnoses.iter().enumerate() {
        if !d.failed() {
            continue;
        }
        for v in &d.divergences {
            if v.kind == lifeharness_diagnose::DivergenceKind::ExtraWrite
                && let Some(call) = &v.action
            {
                extra.insert((i, v.step, call.name.clone()));
            }
        }
    }
    let destroying = |f: &CallFact| match f.origin {
        Origin::Episode(i) => f.ok && extra.contains(&(i, f.step, f.tool.clone())),
        _ => false,
    };
    let mut out = Vec::new();
    for ((tool, arg, collection), facts) in &groups {
        let key = (arg.clone(), collection.clone());
        let ok: Vec<&&CallFact> = facts.iter().filter(|f| f.ok && !destroying(f)).collect();
        let bad: Vec<&&CallFact> = facts.iter().filter(|f| !f.ok || destroying(f)).collect();
        if ok.len() < 5 || bad.len() < 3 {
            continue;
        }
        let mut fields: BTreeSet<String> = BTreeSet::new();
        for f in &ok {
            if let Some(Value::Object(rec)) = f.bound.get(&key) {
                fields.extend(rec.keys().cloned());
            }
        }
        let mut best: Option<(String, BTreeSet<String>, Vec<&&CallFact>)> = None;
        for field in fields {
            if !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let get = |f: &&&CallFact| {
                f.bound
                    .get(&key)
                    .and_then(|r| r.get(&field))
                    .and_then(scalar_text)
            };
            let Some(good): Option<BTreeSet<String>> = ok.iter().map(get).collect() else {
                continue;
            };
            // Status-like fields: one or two admissible values.
            if good.is_empty() || good.len() > 2 {
                continue;
            }
            // The predicate must explain one kind of rejection whole: every
            // rejected call with that error has the field outside the
            // accepted values (a field that merely differs by chance, such
            // as an airport, explains no error kind whole).
            let mut by_pattern: BTreeMap<String, Vec<&&CallFact>> = BTreeMap::new();
            for f in &bad {
                let pattern = if f.ok {
                    REWARD_DESTROYING
                } else {
                    f.meaning.as_ref().map_or("error", |m| m.pattern.as_str())
                };
                by_pattern.entry(pattern.to_string()).or_default().push(*f);
            }
            let Some(separated) = by_pattern
                .into_values()
                .filter(|group| {
                    group.len() >= 3
                        && group
                            .iter()
                            .all(|f| get(f).is_some_and(|v| !good.contains(&v)))
                })
                .max_by_key(Vec::len)
            else {
                continue;
            };
            if best.as_ref().is_none_or(|(_, g, s)| {
                separated.len() > s.len() || (separated.len() == s.len() && good.len() < g.len())
            }) {
                best = Some((field, good, separated));
            }
        }
        let Some((field, good, separated)) = best else {
            continue;
        };
        let name = singular(collection);
        let id = format!("{}-{}-{}", slug(tool), slug(&name), slug(&field));
        if existing.contains(&id) {
            continue;
        }
        let list: Vec<String> = good.iter().map(|v| cel_literal(v)).collect();
        let words: Vec<String> = good.iter().map(|v| format!("'{v}'")).collect();
        let policy = separated[0].ok;
        let meaning = if policy {
            REWARD_DESTROYING.to_string()
        } else {
            separated
                .iter()
                .find_map(|f| f.meaning.as_ref())
                .map(|m| m.pattern.clone())
                .unwrap_or_else(|| "error".to_string())
        };
        let mut block = example(
            separated[0],
            Expect::Block,
            if policy {
                "accepted by the environment, but a write the reference does not make, in a failed episode"
            } else {
                "rejected by the environment"
            },
            false,
        );
        block.state.insert(
            name.clone(),
            separated[0].bound.get(&key).cloned().unwrap_or(Value::Null),
        );
        let mut allow = example(ok[0], Expect::Allow, "accepted by the environment", false);
        allow.state.insert(
            name.clone(),
            ok[0].bound.get(&key).cloned().unwrap_or(Value::Null),
        );
        let counterfactual = separated
            .iter()
            .filter(|f| matches!(f.origin, Origin::Counterfactual(_)))
            .count();
        let targets = targets_of(input, &separated.to_vec());
        out.push(Candidate::new(
            &id,
            "state-preconditions",
            Category::EnvironmentContract,
            &format!("{tool}:{meaning}"),
            if policy {
                format!(
                    "every accepted {tool} outside failed episodes' extra writes ({} calls) had the {name}'s {field} in {{{}}}; {} writes the reference does not make, in failed episodes, had another {field}",
                    ok.len(),
                    words.join(", "),
                    separated.len()
                )
            } else {
                format!(
                    "{tool} succeeded only when the {name} named by {arg} had {field} in {{{}}} ({} accepted calls); {} rejected calls had another {field} ({counterfactual} of them counterfactual variants of reference calls)",
                    words.join(", "),
                    ok.len(),
                    separated.len()
                )
            },
            Change::Precondition(Precondition {
                id: id.clone(),
                tools: vec![tool.clone()],
                bind: BTreeMap::from([(name.clone(), format!("{collection}/{{args.{arg}}}"))]),
                when: Some(format!("{name} != null")),
                require: format!("{name}.{field} in [{}]", list.join(", ")),
                message: format!(
                    "{tool} needs the {name}'s {field} to be {}, but {{args.{arg}}} has '{{{name}.{field}}}'. Check it with a lookup first and tell the user if it cannot be done.",
                    words.join(" or ")
                ),
                kind: RuleKind::PolicyDenied,
                examples: vec![block, allow],
            }),
            targets,
        ));
    }
    out
}

fn safe_prefix(texts: &[&str]) -> Option<String> {
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

/// Frequent environment errors in failed episodes, explained with the
/// environment's own meaning next to the raw error.
fn error_annotations(input: &MineInput<'_>) -> Vec<Candidate> {
    let existing = existing_ids(input.harness);
    let mut groups: BTreeMap<(String, String), Vec<&CallFact>> = BTreeMap::new();
    for fact in input.facts.calls.iter().filter(|f| !f.ok) {
        if !in_failed_episode(fact) || !input.tools.contains(&fact.tool) {
            continue;
        }
        if let Some(m) = &fact.meaning {
            groups
                .entry((fact.tool.clone(), m.pattern.clone()))
                .or_default()
                .push(fact);
        }
    }
    let mut out = Vec::new();
    for ((tool, pattern), facts) in groups {
        if facts.len() < 2 {
            continue;
        }
        let texts: Vec<&str> = facts.iter().map(|f| f.output.as_str()).collect();
        let Some(prefix) = safe_prefix(&texts) else {
            continue;
        };
        let id = format!("explain-{}-{}", slug(&tool), slug(&pattern));
        if existing.contains(&id) {
            continue;
        }
        let Some(meaning) = facts[0].meaning.as_ref().map(|m| m.meaning.clone()) else {
            continue;
        };
        let mut examples = vec![RuleExample {
            tool: Some(tool.clone()),
            args: facts[0].args.clone(),
            state: BTreeMap::new(),
            history: Vec::new(),
            result: Some(Value::String(facts[0].output.clone())),
            expect: Expect::Annotate,
            snippet: format!("{} (environment error)", facts[0].evidence),
        }];
        if let Some(ok) = input.facts.calls.iter().find(|c| c.tool == tool && c.ok) {
            examples.push(RuleExample {
                tool: Some(tool.clone()),
                args: ok.args.clone(),
                state: BTreeMap::new(),
                history: Vec::new(),
                result: Some(Value::String(ok.output.clone())),
                expect: Expect::Silent,
                snippet: format!("{} (accepted)", ok.evidence),
            });
        }
        let refs: Vec<&&CallFact> = facts.iter().collect();
        out.push(Candidate::new(
            &id,
            "error-annotations",
            Category::EnvironmentContract,
            &format!("{tool}:{pattern}"),
            format!(
                "{} calls of {tool} in failed episodes got '{prefix}...' ({pattern}); the error is explained where it happens",
                facts.len()
            ),
            Change::Annotation(Annotation {
                id: id.clone(),
                tools: vec![tool.clone()],
                bind: BTreeMap::new(),
                when: Some(format!("output.startsWith({})", cel_literal(&prefix))),
                note: format!("What this error means: {meaning}"),
                examples,
            }),
            targets_of(input, &refs),
        ));
    }
    out
}

fn longest_runs(calls: &[&CallFact]) -> (usize, usize, usize) {
    let key = |c: &CallFact| format!("{}:{}", c.tool, c.args);
    let (mut repeat, mut run) = (0, 0);
    let (mut errors, mut err_run) = (0, 0);
    let mut cycles = 0;
    for i in 0..calls.len() {
        run = if i > 0 && key(calls[i]) == key(calls[i - 1]) {
            run + 1
        } else {
            1
        };
        repeat = usize::max(repeat, run);
        err_run = if !calls[i].ok && i > 0 && calls[i - 1].tool == calls[i].tool && !calls[i - 1].ok
        {
            err_run + 1
        } else if calls[i].ok {
            0
        } else {
            1
        };
        errors = usize::max(errors, err_run);
        // A-B cycles: count repeats of the pair ending here.
        let mut n = 0;
        let mut j = i + 1;
        while j >= 4
            && key(calls[j - 1]) == key(calls[j - 3])
            && key(calls[j - 2]) == key(calls[j - 4])
            && key(calls[j - 1]) != key(calls[j - 2])
        {
            n += 1;
            j -= 2;
        }
        cycles = usize::max(cycles, if n > 0 { n + 1 } else { 0 });
    }
    (repeat, cycles, errors)
}

/// Loops and stagnation in failed episodes with regulation off or loose:
/// thresholds one above the longest legitimate repeat in successes.
fn regulation(input: &MineInput<'_>) -> Vec<Candidate> {
    let targets = episodes_with(
        input,
        &[
            FailureKind::Loop,
            FailureKind::Stagnation,
            FailureKind::BudgetExceeded,
        ],
    );
    if targets.is_empty() {
        return Vec::new();
    }
    let (mut repeat, mut cycles, mut errors) = (0, 0, 0);
    for calls in by_episode(input.facts).values() {
        if calls.first().is_none_or(|c| c.success != Some(true)) {
            continue;
        }
        let (r, c, e) = longest_runs(calls);
        repeat = repeat.max(r);
        cycles = cycles.max(c);
        errors = errors.max(e);
    }
    let reg = &input.harness.regulation;
    let want = (
        (repeat + 1).max(2),
        (cycles + 1).max(2),
        (errors + 1).max(2),
    );
    let current = (
        reg.repeat_threshold,
        reg.cycle_repeats,
        reg.same_tool_errors,
    );
    if input.harness.layers.regulation
        && current.0 != 0
        && current.0 <= want.0
        && current.1 != 0
        && current.2 != 0
    {
        return Vec::new();
    }
    vec![Candidate::new(
        "regulation.thresholds",
        "regulation-thresholds",
        Category::TrajectoryDegeneration,
        "loop|stagnation",
        format!(
            "{} failed episode(s) looped or stalled; the longest legitimate repeat in successes is {repeat} identical call(s) in a row ({cycles} A-B cycle repeats, {errors} same-tool errors), so regulation steps in one above that",
            targets.len()
        ),
        Change::Regulation {
            repeat_threshold: want.0,
            cycle_repeats: want.1,
            same_tool_errors: want.2,
        },
        targets,
    )]
}

const STOP: &[&str] = &[
    "that", "this", "with", "from", "your", "have", "will", "they", "them", "their", "there",
    "what", "when", "which", "would", "should", "could", "about", "into", "only", "also", "then",
    "than", "want", "wants", "like", "know", "does", "been", "were", "being", "make", "sure",
    "each", "other", "some", "more", "most", "very", "just", "tell", "task", "user", "agent",
    "please",
];

fn keywords(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_lowercase()))
        .filter(|w| !STOP.contains(w))
        .map(str::to_string)
        .collect()
}

/// A solved task and the tools it called, in order.
type Solved = (String, Vec<String>);

/// Most skills mined per round.
const MAX_SKILLS: usize = 5;

/// Skills: per cluster of solved tasks (same state-changing tools), the
/// order of tools that solved them, with the words those tasks share.
fn skills(input: &MineInput<'_>) -> Vec<Candidate> {
    let existing = existing_ids(input.harness);
    let mut clusters: BTreeMap<Vec<String>, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for calls in by_episode(input.facts).values() {
        if calls.first().is_none_or(|c| c.success != Some(true)) {
            continue;
        }
        let mut sequence: Vec<String> = Vec::new();
        for c in calls.iter().filter(|c| c.ok) {
            if sequence.last() != Some(&c.tool) {
                sequence.push(c.tool.clone());
            }
        }
        let mut key: Vec<String> = sequence
            .iter()
            .filter(|t| (input.writes)(t) == Some(true))
            .cloned()
            .collect();
        key.dedup();
        if key.is_empty() {
            key = sequence.clone();
        }
        if key.is_empty() {
            continue;
        }
        clusters
            .entry(key)
            .or_default()
            .push((calls[0].task_id.clone(), sequence));
    }
    let mut out = Vec::new();
    // The largest clusters with a state change, at most MAX_SKILLS of them.
    let mut clusters: Vec<(Vec<String>, Vec<Solved>)> = clusters
        .into_iter()
        .filter(|(key, members)| {
            key.iter().any(|t| (input.writes)(t) != Some(false))
                && members
                    .iter()
                    .map(|(t, _)| t)
                    .collect::<BTreeSet<_>>()
                    .len()
                    >= 3
        })
        .collect();
    clusters.sort_by_key(|(key, members)| (std::cmp::Reverse(members.len()), key.clone()));
    clusters.truncate(MAX_SKILLS);
    for (key, members) in clusters {
        let tasks: BTreeSet<&str> = members.iter().map(|(t, _)| t.as_str()).collect();
        let id = format!("skill-{}", slug(&key.join("-")));
        if existing.contains(&id) {
            continue;
        }
        // The most common sequence.
        let mut counts: BTreeMap<&Vec<String>, usize> = BTreeMap::new();
        for (_, s) in &members {
            *counts.entry(s).or_default() += 1;
        }
        let Some((sequence, _)) = counts
            .iter()
            .max_by_key(|(s, n)| (**n, std::cmp::Reverse(s.len())))
        else {
            continue;
        };
        // Words most of the cluster's tasks share.
        let mut words: BTreeMap<String, usize> = BTreeMap::new();
        for t in &tasks {
            if let Some(text) = input.instructions.get(*t) {
                for w in keywords(&text.to_lowercase()) {
                    *words.entry(w).or_default() += 1;
                }
            }
        }
        let mut shared: Vec<(String, usize)> = words
            .into_iter()
            .filter(|(_, n)| *n * 5 >= tasks.len() * 3)
            .collect();
        shared.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let shared: Vec<String> = shared.into_iter().take(5).map(|(w, _)| w).collect();
        let steps: Vec<String> = sequence
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{}. {t}", i + 1))
            .collect();
        let title = if shared.is_empty() {
            format!("Tasks that end in {}", key.join(", "))
        } else {
            format!("{} ({})", shared.join(" "), key.join(", "))
        };
        let body = format!(
            "Solved {} such tasks in this order: {}. Read each result before the next call and take every id from a result or the task.",
            tasks.len(),
            steps.join(" ")
        );
        let targets: BTreeMap<String, (String, String)> = input
            .diagnoses
            .iter()
            .filter(|d| d.failed())
            .filter(|d| {
                input.instructions.get(&d.task_id).is_some_and(|text| {
                    let k = keywords(&text.to_lowercase());
                    shared.iter().filter(|w| k.contains(*w)).count() >= 2.min(shared.len().max(1))
                }) && !key.iter().all(|t| d.tools_used.contains(t))
            })
            .map(|d| {
                (
                    format!("{}/{}", d.run_id, d.episode_id),
                    (d.task_id.clone(), d.episode_id.clone()),
                )
            })
            .collect();
        out.push(Candidate::new(
            &id,
            "skills",
            Category::ResidualReasoning,
            &format!("procedure:{}", key.join("+")),
            format!(
                "{} solved tasks (successful episodes and reference solutions) share the procedure {}",
                tasks.len(),
                sequence.join(" -> ")
            ),
            Change::Skill(Skill {
                id: id.clone(),
                title,
                environments: vec![input.environment.to_string()],
                tools: key.clone(),
                body,
                evidence: vec![format!("mined from {} solved tasks", tasks.len())],
            }),
            targets,
        ));
    }
    out
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
        let tools: BTreeSet<String> = ["auth_a", "auth_b", "lookup", "cancel"]
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
