//! The record of an evolution: rounds, candidates with their gate steps,
//! step (d) decisions, timing and per-task attribution; as JSON (serde) and
//! as Markdown.

use std::collections::BTreeMap;

use lifeharness_diagnose::Category;
use lifeharness_diagnose::audit::short_id;
use serde::{Deserialize, Serialize};

use crate::candidate::Candidate;
use crate::evolve::EvolveConfig;
use crate::gate::GateStep;

/// One candidate's record in the ledger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateEntry {
    /// The candidate.
    pub candidate: Candidate,
    /// Tasks it should make pass.
    pub predicted_flips: Vec<String>,
    /// The offline gate steps.
    pub gate: Vec<GateStep>,
    /// `accepted`, `rejected`, `void` or `passed-offline` (awaiting step d).
    pub decision: String,
}

/// A re-run's summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Where it is recorded.
    pub run_id: String,
    /// Episodes.
    pub episodes: usize,
    /// Mean reward (unscored count as 0).
    pub mean_reward: f64,
    /// Solved episodes.
    pub solved: usize,
    /// Episodes ended by a backend error or timeout.
    pub backend_errors: usize,
}

/// One step (d) decision over a group of changes of one category.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupEntry {
    /// The category.
    pub category: Category,
    /// The candidate ids.
    pub candidates: Vec<String>,
    /// (d1) targeted tasks plus sentinels, and the baseline on the same tasks.
    pub targeted: Option<(EvalSummary, EvalSummary)>,
    /// (d2) the full split.
    pub full: Option<EvalSummary>,
    /// The gate steps.
    pub gate: Vec<GateStep>,
    /// `accepted`, `rejected` or `void`.
    pub decision: String,
}

/// One round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundEntry {
    /// The round (1-based).
    pub round: u32,
    /// The episodes it learned from.
    pub baseline: EvalSummary,
    /// Failed episodes by primary category.
    pub failure_mix: BTreeMap<String, usize>,
    /// The hypothesis: the categories it targets and why.
    pub hypothesis: String,
    /// Every candidate.
    pub candidates: Vec<CandidateEntry>,
    /// Step (d) per group (online only).
    pub groups: Vec<GroupEntry>,
    /// The harness after the round.
    pub harness_id: String,
    /// Wall-clock seconds of the round.
    pub wall_seconds: f64,
    /// Of those, seconds in model calls of its re-runs.
    pub model_seconds: f64,
    /// The harness side (replay, mining, gating, audits, the runtime's own
    /// work): wall minus model seconds.
    pub harness_seconds: f64,
    /// Episodes the environment could not replay (skipped), with why.
    #[serde(default)]
    pub unreplayable: Vec<String>,
    /// What came of asking the LLM proposer, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposer: Option<String>,
}

/// What happened to one task between the first and the last evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attribution {
    /// The task.
    pub task_id: String,
    /// `flipped`, `still_failing`, `regressed`, `still_passing` (online), or
    /// `predicted_flip` / `failing` / `passing` (offline).
    pub outcome: String,
    /// Success rate before.
    pub before: f64,
    /// Success rate after (offline: none).
    pub after: Option<f64>,
    /// The accepted rules that targeted it.
    pub rules: Vec<String>,
}

/// The record of an evolution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ledger {
    /// The configuration.
    pub config: EvolveConfig,
    /// The environment.
    pub environment: String,
    /// The starting harness (name, id).
    pub parent: (String, String),
    /// Rounds so far.
    pub rounds: Vec<RoundEntry>,
    /// Per task (when finished).
    pub attribution: Vec<Attribution>,
    /// `running`, `finished`.
    pub status: String,
    /// The evolved harness's id (when finished).
    pub result: Option<String>,
}

impl Ledger {
    /// The ledger as markdown.
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let c = &self.config;
        let _ = writeln!(s, "# Evolution {}\n", c.id);
        let _ = writeln!(
            s,
            "Environment `{}`, split `{}`, source model `{}`, parent `{}` ({}), {} round(s) at most, {} trial(s), {}.\n",
            self.environment,
            c.split,
            c.source_model,
            self.parent.0,
            short_id(&self.parent.1),
            c.rounds,
            c.trials,
            if c.offline {
                "offline (gate steps a-c; no model re-runs)"
            } else {
                "online (gate steps a-d)"
            }
        );
        if let Some(r) = &self.result {
            let _ = writeln!(
                s,
                "Result: harness `{}`; status {}.\n",
                short_id(r),
                self.status
            );
        }
        for round in &self.rounds {
            let b = &round.baseline;
            let _ = writeln!(s, "## Round {}\n", round.round);
            let _ = writeln!(
                s,
                "Learned from {} episode(s) ({}): mean reward {:.3}, {} solved. Failed episodes by category: {}.\n",
                b.episodes,
                b.run_id,
                b.mean_reward,
                b.solved,
                round
                    .failure_mix
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(s, "Hypothesis: {}.\n", round.hypothesis);
            if let Some(note) = &round.proposer {
                let _ = writeln!(s, "LLM proposer: {note}.\n");
            }
            if !round.unreplayable.is_empty() {
                let _ = writeln!(
                    s,
                    "Not replayable here, skipped ({}): {}\n",
                    round.unreplayable.len(),
                    round.unreplayable.join("; ")
                );
            }
            if round.wall_seconds > 0.0 {
                let _ = writeln!(
                    s,
                    "Time: {:.1} s wall, {:.1} s in model calls, {:.1} s harness side ({:.1}% of the round).\n",
                    round.wall_seconds,
                    round.model_seconds,
                    round.harness_seconds,
                    100.0 * round.harness_seconds / round.wall_seconds
                );
            }
            let _ = writeln!(
                s,
                "| candidate | by | category | signature | predicted flips | gate | decision |"
            );
            let _ = writeln!(s, "|---|---|---|---|---:|---|---|");
            for e in &round.candidates {
                let gate: Vec<String> = e
                    .gate
                    .iter()
                    .map(|g| format!("{} {}", g.step, if g.passed { "ok" } else { "FAIL" }))
                    .collect();
                let _ = writeln!(
                    s,
                    "| `{}` | {} | {} | `{}` | {} | {} | **{}** |",
                    e.candidate.id,
                    e.candidate.by,
                    e.candidate.category.as_str(),
                    e.candidate.signature.replace('|', "\\|"),
                    e.predicted_flips.len(),
                    gate.join(", "),
                    e.decision
                );
            }
            s.push('\n');
            for e in &round.candidates {
                let _ = writeln!(s, "- `{}`: {}", e.candidate.id, e.candidate.hypothesis);
                for g in e.gate.iter().filter(|g| !g.passed) {
                    let _ = writeln!(s, "  - {} failed: {}", g.step, g.detail);
                }
            }
            if !round.groups.is_empty() {
                let _ = writeln!(s, "\n### Step (d): model re-runs\n");
                for g in &round.groups {
                    let _ = writeln!(
                        s,
                        "- {} ({}): **{}**",
                        g.category.as_str(),
                        g.candidates.join(", "),
                        g.decision
                    );
                    for step in &g.gate {
                        let _ = writeln!(s, "  - {}: {}", step.step, step.detail);
                    }
                }
            }
            s.push('\n');
        }
        if !self.attribution.is_empty() {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for a in &self.attribution {
                *counts.entry(a.outcome.as_str()).or_default() += 1;
            }
            let _ = writeln!(s, "## Per-task attribution\n");
            let _ = writeln!(
                s,
                "{}\n",
                counts
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(
                s,
                "| task | outcome | before | after | rules that targeted it |"
            );
            let _ = writeln!(s, "|---|---|---:|---:|---|");
            for a in &self.attribution {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.2} | {} | {} |",
                    a.task_id,
                    a.outcome,
                    a.before,
                    a.after.map_or("-".to_string(), |x| format!("{x:.2}")),
                    a.rules.join(", ")
                );
            }
        }
        s
    }
}
