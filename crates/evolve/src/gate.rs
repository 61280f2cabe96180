//! The offline steps of the regression gate: (a) the harness with the
//! change loads and the change's examples pass; (b) the change alone blocks
//! no call of any reference solution or successful training episode that
//! the environment then ran, replayed with state, and stops none of them;
//! (c) the anti-leak scan. Step (d), the model re-run, is in
//! [`crate::evolve`].

use std::sync::Arc;

use lifeharness_core::EnvironmentFactory;
use lifeharness_diagnose::{Auditor, Recorded};
use lifeharness_rules::{CompiledHarness, Harness};
use serde::{Deserialize, Serialize};

use crate::candidate::{Candidate, Change};
use crate::error::EvolveError;
use crate::leak::{LeakScan, scanned_text};

/// One gate step's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateStep {
    /// `a-load`, `b-no-false-blocks`, `c-anti-leak`, `d1-targeted`, `d2-full`.
    pub step: String,
    /// Whether it passed.
    pub passed: bool,
    /// What it found.
    pub detail: String,
}

impl GateStep {
    fn new(step: &str, passed: bool, detail: String) -> Self {
        Self {
            step: step.to_string(),
            passed,
            detail,
        }
    }
}

/// Runs steps (a)-(c) for `candidate` on top of `current`; stops at the
/// first failing step.
pub async fn offline(
    candidate: &Candidate,
    current: &Harness,
    factory: &dyn EnvironmentFactory,
    legit: &[Recorded],
    leaks: &LeakScan,
) -> Result<Vec<GateStep>, EvolveError> {
    let mut steps = Vec::new();
    // (a)
    let mut with = current.clone();
    candidate.apply(&mut with);
    let isolated = candidate.isolated();
    let loaded = CompiledHarness::compile(with, None, &candidate.id)
        .and_then(|_| CompiledHarness::compile(isolated, None, &candidate.id));
    let compiled = match loaded {
        Ok(c) => {
            steps.push(GateStep::new(
                "a-load",
                true,
                format!("loads; {} example(s) checked", c.example_count()),
            ));
            c
        }
        Err(e) => {
            steps.push(GateStep::new("a-load", false, e.to_string()));
            return Ok(steps);
        }
    };
    // (b)
    let can_block = !matches!(
        candidate.change,
        Change::Skill(_) | Change::Annotation(_) | Change::ConstrainedDecoding
    );
    if can_block {
        let mut auditor = Auditor::new(Arc::new(compiled));
        let mut unchecked = 0;
        for episode in legit {
            if let Err(e) = auditor.audit(factory, episode).await {
                let e = EvolveError::from(e);
                if !crate::facts::unreplayable(&e) {
                    return Err(e);
                }
                unchecked += 1;
            }
        }
        let report = auditor.finish();
        let unchecked = if unchecked == 0 {
            String::new()
        } else {
            format!(" ({unchecked} episode(s) the environment could not replay were not checked)")
        };
        let stopped = report.successful.counts.stopped;
        let fp = report.false_positive_count;
        let passed = fp == 0 && stopped == 0;
        let detail = if passed {
            format!(
                "{} reference/successful episodes replayed with state, {} actions judged: no false block, no stop{unchecked}",
                report.episodes, report.successful.counts.actions
            )
        } else {
            let first = report
                .false_positives
                .first()
                .map(|f| {
                    format!(
                        "; first: {} step {} ({})",
                        f.episode_id, f.step, f.correction
                    )
                })
                .unwrap_or_default();
            let by_rule: Vec<String> = report
                .rules
                .iter()
                .filter(|(_, r)| r.false_positives > 0 || r.successful.stopped > 0)
                .map(|(id, r)| {
                    format!(
                        "{id}: {} false block(s), {} stop(s)",
                        r.false_positives, r.successful.stopped
                    )
                })
                .collect();
            format!(
                "{fp} call(s) the environment ran in reference/successful episodes would be blocked, {stopped} such episode(s) stopped ({}){first}{unchecked}",
                by_rule.join("; ")
            )
        };
        steps.push(GateStep::new("b-no-false-blocks", passed, detail));
        if !passed {
            return Ok(steps);
        }
    } else {
        steps.push(GateStep::new(
            "b-no-false-blocks",
            true,
            "adds text or decoding constraints only; it cannot block or stop".to_string(),
        ));
    }
    // (c)
    let text = scanned_text(&serde_json::to_value(&candidate.change).unwrap_or_default());
    let hits = leaks.find(&text);
    steps.push(if hits.is_empty() {
        GateStep::new("c-anti-leak", true, "generic: no task values".to_string())
    } else {
        GateStep::new(
            "c-anti-leak",
            false,
            format!("holds training-task values: {}", hits.join(", ")),
        )
    });
    Ok(steps)
}

/// Whether every step passed.
pub fn passed(steps: &[GateStep]) -> bool {
    steps.iter().all(|s| s.passed)
}
