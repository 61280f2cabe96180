//! Argument constraints (pattern, non-empty, enum) and grounded ids.

use super::*;

/// Argument formats (pattern, non-empty, enum) separating the values the
/// environment accepted from those it rejected in failed episodes.
pub(super) fn argument_constraints(input: &MineInput<'_>) -> Vec<Candidate> {
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
                    grounded: None,
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
                        grounded: None,
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
                        grounded: None,
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

/// Whether `value` was seen before the call: in the task or in an earlier
/// call's arguments or result.
pub(super) fn seen_before(input: &MineInput<'_>, fact: &CallFact, value: &str) -> bool {
    input
        .instructions
        .get(&fact.task_id)
        .is_some_and(|t| t.contains(value))
        || fact
            .prior
            .iter()
            .any(|p| p.result.to_string().contains(value) || p.args.to_string().contains(value))
}

pub(super) fn id_like(arg: &str, value: &str) -> bool {
    (arg.ends_with("_id") || arg == "id")
        && value.len() >= 3
        && value.chars().any(|c| c.is_ascii_digit())
}

/// Grounded arguments: an id argument whose value appeared nowhere in the
/// task or the earlier results, where every accepted value had.
pub(super) fn grounded_arguments(input: &MineInput<'_>) -> Vec<Candidate> {
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
