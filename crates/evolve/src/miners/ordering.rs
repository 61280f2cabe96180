//! Ordering: what every solved episode calling a tool did first.

use super::*;

/// Tool B only after tool A: what every reference solution and successful
/// episode calling B did first, where failed episodes did not.
pub(super) fn ordering(input: &MineInput<'_>) -> Vec<Candidate> {
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
pub(super) const ORDERING_SUPPORT: usize = 3;
