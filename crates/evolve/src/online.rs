//! Step (d) of the gate: the model re-runs a category's changes, first on
//! the targeted train tasks plus untargeted solved ones (which can only
//! reject), then on the whole split with the same seeds and trials.

use std::collections::{BTreeMap, BTreeSet};

use lifeharness_diagnose::{Category, Recorded};
use lifeharness_rules::Harness;

use crate::error::EvolveError;
use crate::eval::{EvalRequest, Evaluation, Evaluator};
use crate::evolve::EvolveConfig;
use crate::gate::GateStep;
use crate::ledger::{EvalSummary, GroupEntry};

/// What step (d) needs besides the changes.
pub(crate) struct GroupRun<'a> {
    /// Plays the model.
    pub evaluator: &'a dyn Evaluator,
    /// The evolution's settings.
    pub config: &'a EvolveConfig,
    /// Every train task.
    pub all_ids: &'a [String],
    /// Progress lines.
    pub progress: &'a (dyn Fn(&str) + Sync),
}

fn void(step: &str, s: &EvalSummary) -> GateStep {
    GateStep {
        step: step.into(),
        passed: false,
        detail: format!(
            "void: {} of {} episodes hit backend errors or timeouts",
            s.backend_errors, s.episodes
        ),
    }
}

fn names(lost: &[String]) -> String {
    if lost.is_empty() {
        "none".to_string()
    } else {
        lost.join(", ")
    }
}

impl GroupRun<'_> {
    fn is_void(&self, s: &EvalSummary) -> bool {
        s.backend_errors as f64 > self.config.void_share * s.episodes.max(1) as f64
    }

    /// Gates `trial` (the harness with one category's changes): the
    /// group's record, the seconds its re-runs spent in model calls, and the
    /// full re-run when the changes are accepted.
    pub(crate) async fn gate(
        &self,
        round: u32,
        category: Category,
        trial: &Harness,
        candidates: Vec<String>,
        targeted: &BTreeSet<String>,
        baseline: &Evaluation,
    ) -> Result<(GroupEntry, f64, Option<Evaluation>), EvolveError> {
        let config = self.config;
        let mut model_seconds = 0.0;
        let base_rates = rates(&baseline.episodes);
        let sentinels: BTreeSet<String> = self
            .all_ids
            .iter()
            .filter(|t| !targeted.contains(*t) && rate(&base_rates, t) > 0.0)
            .take(config.sentinels)
            .cloned()
            .collect();
        let mut group = GroupEntry {
            category,
            candidates,
            targeted: None,
            full: None,
            gate: Vec::new(),
            decision: "rejected".to_string(),
        };
        let key = format!("r{round}-{}", category.as_str());
        // (d1) Targeted tasks and sentinels: can only reject.
        if !targeted.is_empty() && targeted.len() < self.all_ids.len() {
            let d1_tasks: BTreeSet<String> = targeted.union(&sentinels).cloned().collect();
            (self.progress)(&format!(
                "round {round}: {} re-run on {} targeted + {} sentinel task(s)",
                category.as_str(),
                targeted.len(),
                sentinels.len()
            ));
            let d1 = self
                .evaluator
                .evaluate(&EvalRequest {
                    key: format!("{key}-targeted"),
                    harness: trial.clone(),
                    task_ids: d1_tasks.iter().cloned().collect(),
                    trials: config.trials,
                })
                .await?;
            model_seconds += d1.model_seconds;
            let s1 = summary(&d1);
            let sb = summary(&subset(baseline, &d1_tasks));
            if self.is_void(&s1) {
                group.gate.push(void("d1-targeted", &s1));
                group.decision = "void".into();
                group.targeted = Some((s1, sb));
                return Ok((group, model_seconds, None));
            }
            let (lost, noise) = lost_and_noise(
                &subset(baseline, &sentinels).episodes,
                &subset(&d1, &sentinels).episodes,
            );
            let t_before = summary(&subset(baseline, targeted)).mean_reward;
            let t_after = summary(&subset(&d1, targeted)).mean_reward;
            let ok = t_after > t_before && lost.len() <= noise;
            group.gate.push(GateStep {
                step: "d1-targeted".into(),
                passed: ok,
                detail: format!(
                    "targeted mean reward {t_before:.3} -> {t_after:.3}; sentinel solved tasks lost: {} (noise allowance {noise})",
                    names(&lost)
                ),
            });
            group.targeted = Some((s1, sb));
            if !ok {
                return Ok((group, model_seconds, None));
            }
        }
        // (d2) The whole split.
        (self.progress)(&format!(
            "round {round}: {} re-run on the full split ({} tasks)",
            category.as_str(),
            self.all_ids.len()
        ));
        let d2 = self
            .evaluator
            .evaluate(&EvalRequest {
                key: format!("{key}-full"),
                harness: trial.clone(),
                task_ids: self.all_ids.to_vec(),
                trials: config.trials,
            })
            .await?;
        model_seconds += d2.model_seconds;
        let s2 = summary(&d2);
        if self.is_void(&s2) {
            group.gate.push(void("d2-full", &s2));
            group.decision = "void".into();
            group.full = Some(s2);
            return Ok((group, model_seconds, None));
        }
        let sb = summary(baseline);
        let (lost, noise) = lost_and_noise(&baseline.episodes, &d2.episodes);
        let pass = s2.mean_reward > sb.mean_reward && lost.len() <= noise;
        group.gate.push(GateStep {
            step: "d2-full".into(),
            passed: pass,
            detail: format!(
                "mean reward {:.3} -> {:.3} ({} -> {} solved); solved tasks lost: {} (noise allowance {noise})",
                sb.mean_reward,
                s2.mean_reward,
                sb.solved,
                s2.solved,
                names(&lost)
            ),
        });
        group.full = Some(s2);
        if !pass {
            return Ok((group, model_seconds, None));
        }
        group.decision = "accepted".into();
        Ok((group, model_seconds, Some(d2)))
    }
}

pub(crate) fn summary(eval: &Evaluation) -> EvalSummary {
    let n = eval.episodes.len();
    EvalSummary {
        run_id: eval.run_id.clone(),
        episodes: n,
        mean_reward: if n == 0 {
            0.0
        } else {
            eval.episodes
                .iter()
                .map(|e| e.reward.unwrap_or(0.0))
                .sum::<f64>()
                / n as f64
        },
        solved: eval
            .episodes
            .iter()
            .filter(|e| e.success == Some(true))
            .count(),
        backend_errors: eval
            .episodes
            .iter()
            .filter(|e| {
                matches!(
                    e.exit_failure,
                    Some(
                        lifeharness_core::FailureKind::BackendError
                            | lifeharness_core::FailureKind::BackendTimeout
                    )
                )
            })
            .count(),
    }
}

pub(crate) fn rates(episodes: &[Recorded]) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for e in episodes {
        let entry = out.entry(e.task.id.clone()).or_default();
        entry.1 += 1;
        if e.success == Some(true) {
            entry.0 += 1;
        }
    }
    out
}

pub(crate) fn rate(r: &BTreeMap<String, (usize, usize)>, task: &str) -> f64 {
    r.get(task).map_or(
        0.0,
        |(s, n)| if *n == 0 { 0.0 } else { *s as f64 / *n as f64 },
    )
}

pub(crate) fn subset(eval: &Evaluation, tasks: &BTreeSet<String>) -> Evaluation {
    Evaluation {
        run_id: eval.run_id.clone(),
        episodes: eval
            .episodes
            .iter()
            .filter(|e| tasks.contains(&e.task.id))
            .cloned()
            .collect(),
        model_seconds: 0.0,
    }
}

/// Solved tasks lost (solved in every baseline trial, in no candidate trial),
/// and the noise allowance (tasks whose baseline outcome varied).
pub(crate) fn lost_and_noise(before: &[Recorded], after: &[Recorded]) -> (Vec<String>, usize) {
    let b = rates(before);
    let a = rates(after);
    let noise = b.values().filter(|(s, n)| *s > 0 && s < n).count();
    let lost = b
        .iter()
        .filter(|(t, (s, n))| *s == *n && *n > 0 && a.get(*t).is_some_and(|(s2, _)| *s2 == 0))
        .map(|(t, _)| t.clone())
        .collect();
    (lost, noise)
}
