//! After the environment answers: error annotations and regulation
//! thresholds.

use super::*;

/// Frequent environment errors in failed episodes, explained with the
/// environment's own meaning next to the raw error.
pub(super) fn error_annotations(input: &MineInput<'_>) -> Vec<Candidate> {
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

pub(super) fn longest_runs(calls: &[&CallFact]) -> (usize, usize, usize) {
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
pub(super) fn regulation(input: &MineInput<'_>) -> Vec<Candidate> {
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
