//! Skills: the tool order of the largest clusters of solved tasks.

use super::*;

pub(super) const STOP: &[&str] = &[
    "that", "this", "with", "from", "your", "have", "will", "they", "them", "their", "there",
    "what", "when", "which", "would", "should", "could", "about", "into", "only", "also", "then",
    "than", "want", "wants", "like", "know", "does", "been", "were", "being", "make", "sure",
    "each", "other", "some", "more", "most", "very", "just", "tell", "task", "user", "agent",
    "please",
];

pub(super) fn keywords(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_lowercase()))
        .filter(|w| !STOP.contains(w))
        .map(str::to_string)
        .collect()
}

/// A solved task and the tools it called, in order.
pub(super) type Solved = (String, Vec<String>);

/// Most skills mined per round.
pub(super) const MAX_SKILLS: usize = 5;

/// Skills: per cluster of solved tasks (same state-changing tools), the
/// order of tools that solved them, with the words those tasks share.
pub(super) fn skills(input: &MineInput<'_>) -> Vec<Candidate> {
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
