//! State preconditions: a status-like field that separates accepted calls
//! from one whole kind of rejection.

use super::*;

/// The pattern of accepted writes that destroyed the reward.
pub(super) const REWARD_DESTROYING: &str = "reward_destroying_write";

/// State preconditions: a field of the record an argument names whose
/// values separate the calls the environment accepted from those it
/// rejected (recorded, reference and counterfactual calls).
pub(super) fn state_preconditions(input: &MineInput<'_>) -> Vec<Candidate> {
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
                    // Counterfactual variants change one argument and keep
                    // the others (a payment method of the original user,
                    // say), so their rejections can follow from that
                    // mismatch while the field differs by chance: a group
                    // made of them alone must show the field outside the
                    // admissible values in at least two values.
                    let recorded = group
                        .iter()
                        .any(|f| !matches!(f.origin, Origin::Counterfactual(_)));
                    let values: BTreeSet<String> = group.iter().filter_map(&get).collect();
                    group.len() >= 3
                        && (recorded || values.len() >= 2)
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
