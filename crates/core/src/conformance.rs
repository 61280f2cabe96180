//! A conformance suite any [`EnvironmentFactory`] can run: for every task of
//! a split, the gold actions must replay to a successful reward, and
//! resetting and replaying again must give the same observations and the
//! same final state (fingerprint of `state_view`, or of the observations
//! when the environment offers no view).

use crate::hash::sha256_hex;
use crate::{Action, EnvironmentFactory, Task};

/// The outcome of the suite.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConformanceReport {
    /// Tasks checked.
    pub tasks: usize,
    /// One line per failure (`task <id>: what went wrong`).
    pub failures: Vec<String>,
}

impl ConformanceReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

struct Run {
    observations: Vec<String>,
    fingerprint: String,
    reward: Option<f64>,
}

async fn run_once<F: EnvironmentFactory + ?Sized>(
    factory: &F,
    task: &Task,
    actions: &[Action],
) -> Result<Run, String> {
    let mut env = factory.create().map_err(|e| e.to_string())?;
    env.reset(task, 0).await.map_err(|e| e.to_string())?;
    let mut observations = Vec::new();
    let mut done = false;
    for action in actions {
        if done {
            // The episode ended itself (a stop, a transfer): the rest is moot.
            break;
        }
        let outcome = env.step(action).await.map_err(|e| e.to_string())?;
        done = outcome.done;
        observations.push(outcome.observation.content.to_string());
    }
    if !done {
        env.step(&Action::Finish { reason: None })
            .await
            .map_err(|e| e.to_string())?;
    }
    let fingerprint = match env.state_view() {
        Some(view) => sha256_hex(view.to_string().as_bytes()),
        None => sha256_hex(observations.join("\u{0}").as_bytes()),
    };
    let reward = env.score().await.map_err(|e| e.to_string())?;
    Ok(Run {
        observations,
        fingerprint,
        reward: reward.value,
    })
}

/// Runs the suite on every task of `split`; `gold` gives each task's gold
/// actions (ending the episode is optional: a `Finish` is sent if needed).
pub async fn run_conformance<F, G>(factory: &F, split: &str, gold: G) -> ConformanceReport
where
    F: EnvironmentFactory + ?Sized,
    G: Fn(&Task) -> Vec<Action>,
{
    let mut report = ConformanceReport::default();
    let tasks = match factory.tasks(split) {
        Ok(tasks) => tasks,
        Err(e) => {
            report.failures.push(format!("split {split}: {e}"));
            return report;
        }
    };
    for task in &tasks {
        report.tasks += 1;
        let actions = gold(task);
        let first = run_once(factory, task, &actions).await;
        let second = run_once(factory, task, &actions).await;
        match (first, second) {
            (Ok(a), Ok(b)) => {
                if a.reward.is_none_or(|r| (r - 1.0).abs() > 1e-9) {
                    report.failures.push(format!(
                        "task {}: gold reward {:?}, expected 1",
                        task.id, a.reward
                    ));
                }
                if a.fingerprint != b.fingerprint {
                    report.failures.push(format!(
                        "task {}: final state differs between two resets",
                        task.id
                    ));
                }
                if a.observations != b.observations {
                    report.failures.push(format!(
                        "task {}: observations differ between two resets",
                        task.id
                    ));
                }
            }
            (Err(e), _) | (_, Err(e)) => report.failures.push(format!("task {}: {e}", task.id)),
        }
    }
    report
}
