//! What a run's headline numbers are over, said the same way by `run`,
//! `runs list` and `runs show`.
//!
//! `success_rate` is over every finished episode (an episode that was not
//! scored, or whose reward is null because an assertion could not be
//! evaluated, counts as not solved); `mean_reward` is over the finished
//! episodes that have a reward. The two can disagree; each says what it is
//! over, with the counts.

use lifeharness_store::{EpisodeRow, RunRecord};
use serde_json::{Value, json};

/// A run's counts and rates.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCounts {
    /// Episodes recorded (any status).
    pub episodes: usize,
    /// Episodes that ended.
    pub finished: usize,
    /// Finished episodes with exit `success`.
    pub successes: usize,
    /// Finished episodes with a (non-null) reward.
    pub scored: usize,
    /// The mean of those rewards.
    pub mean_reward: Option<f64>,
}

impl RunCounts {
    /// Counts `episodes` (the rows of one run).
    pub fn of(episodes: &[EpisodeRow]) -> Self {
        let finished: Vec<&EpisodeRow> =
            episodes.iter().filter(|e| e.status == "finished").collect();
        let rewards: Vec<f64> = finished.iter().filter_map(|e| e.reward).collect();
        Self {
            episodes: episodes.len(),
            finished: finished.len(),
            successes: finished
                .iter()
                .filter(|e| e.exit.as_deref() == Some("success"))
                .count(),
            scored: rewards.len(),
            mean_reward: (!rewards.is_empty())
                .then(|| rewards.iter().sum::<f64>() / rewards.len() as f64),
        }
    }

    /// Successes over finished episodes (`None` when none finished).
    pub fn success_rate(&self) -> Option<f64> {
        (self.finished > 0).then(|| self.successes as f64 / self.finished as f64)
    }

    /// One line: `3/40 solved (7.5% of 40 finished) | mean reward 0.081 over 37 scored (3 unscored)`.
    pub fn line(&self) -> String {
        let rate = self
            .success_rate()
            .map_or("n/a".to_string(), |r| format!("{:.1}%", r * 100.0));
        let reward = match self.mean_reward {
            Some(m) => format!(
                "mean reward {m:.3} over {} scored episode{} ({} unscored: reward null)",
                self.scored,
                plural(self.scored),
                self.finished - self.scored
            ),
            None => "mean reward n/a (no scored episode)".to_string(),
        };
        format!(
            "{}/{} solved ({rate} of {} finished episode{}) | {reward}",
            self.successes,
            self.finished,
            self.finished,
            plural(self.finished)
        )
    }

    /// The JSON fields, each with what it is over.
    pub fn json(&self) -> Value {
        json!({
            "episodes": self.episodes,
            "episodes_finished": self.finished,
            "successes": self.successes,
            "success_rate": self.success_rate(),
            "success_rate_over": "finished episodes (unscored ones count as not solved)",
            "episodes_scored": self.scored,
            "mean_reward": self.mean_reward,
            "mean_reward_over": "finished episodes with a reward (reward null excluded)",
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A readable one-screen summary of a run's configuration (the full
/// configuration, with the harness file, is in `--json`).
pub fn config_lines(record: &RunRecord, harness: Option<(&str, &str)>) -> Vec<String> {
    let c = &record.config;
    let text = |key: &str| -> String {
        match c.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => "-".to_string(),
            Some(other) => other.to_string(),
        }
    };
    let mut lines = Vec::new();
    if let Some(origin) = c.get("imported_from").and_then(Value::as_str) {
        lines.push(format!("imported from {origin}"));
        return lines;
    }
    let tasks = c
        .get("task_ids")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    lines.push(format!(
        "env {} | split {} ({tasks} task{}) | model {}",
        text("env"),
        text("split"),
        plural(tasks),
        text("model")
    ));
    let harness_line = match (harness, c.get("harness_origin").and_then(Value::as_str)) {
        (Some((name, id)), origin) => format!(
            "harness {name} (id {}, from {})",
            &id[..id.len().min(12)],
            origin.unwrap_or("the null harness")
        ),
        (None, _) => "harness null (built-in)".to_string(),
    };
    lines.push(harness_line);
    let mut extra = format!(
        "seed {} | trials {} | concurrency {} | max steps {}",
        text("seed"),
        text("trials"),
        text("concurrency"),
        c.get("max_steps")
            .and_then(Value::as_u64)
            .map_or("harness default".to_string(), |n| n.to_string())
    );
    if let Some(constrained) = c.get("constrained").and_then(Value::as_bool) {
        extra.push_str(&format!(
            " | constrained decoding {}",
            if constrained { "on" } else { "off" }
        ));
    }
    lines.push(extra);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(exit: &str, reward: Option<f64>) -> EpisodeRow {
        EpisodeRow {
            episode_id: "t/0".into(),
            task_id: "t".into(),
            trial: 0,
            status: "finished".into(),
            exit: Some(exit.into()),
            reward,
            steps: 1,
        }
    }

    /// Regression (issue 11.8): success rate 0.053 vs mean reward 0.081 with
    /// nothing saying the mean skips unscored episodes.
    #[test]
    fn rates_say_what_they_are_over() {
        let rows = vec![
            row("success", Some(1.0)),
            row("failure", Some(0.0)),
            row("failure", None),
            row("error", None),
        ];
        let counts = RunCounts::of(&rows);
        assert_eq!(
            (counts.finished, counts.successes, counts.scored),
            (4, 1, 2)
        );
        assert_eq!(counts.success_rate(), Some(0.25));
        assert_eq!(counts.mean_reward, Some(0.5));
        let line = counts.line();
        assert!(
            line.contains("1/4 solved (25.0% of 4 finished episodes)"),
            "{line}"
        );
        assert!(
            line.contains("mean reward 0.500 over 2 scored episodes (2 unscored"),
            "{line}"
        );
        let json = counts.json();
        assert_eq!(json["episodes_scored"], 2);
        assert!(
            json["mean_reward_over"]
                .as_str()
                .unwrap()
                .contains("null excluded")
        );
    }
}
