//! JSONL export and import: one trajectory per line.

use std::io::{BufRead, Write};

use lifeharness_core::{TRAJECTORY_FORMAT, TRAJECTORY_VERSION, Trajectory};
use serde_json::json;

use crate::store::{Store, StoreError};

impl Store {
    /// Writes every episode of `run_id` as one JSON trajectory per line; returns the count.
    pub fn export_jsonl(&self, run_id: &str, out: &mut dyn Write) -> Result<usize, StoreError> {
        self.run(run_id)?;
        let episodes = self.episodes(run_id)?;
        for row in &episodes {
            let trajectory = self.trajectory(run_id, &row.episode_id)?;
            let line = serde_json::to_string(&trajectory)
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            writeln!(out, "{line}").map_err(|e| StoreError::Io(format!("export: {e}")))?;
        }
        Ok(episodes.len())
    }

    /// Reads trajectories (one per line) into the store. Every line is checked
    /// before anything is written; an error names the line. Runs that do not
    /// exist are created. Returns the number of trajectories imported.
    pub fn import_jsonl(&self, input: &mut dyn BufRead, origin: &str) -> Result<usize, StoreError> {
        let mut trajectories = Vec::new();
        for (index, line) in input.lines().enumerate() {
            let line_no = index + 1;
            let line = line.map_err(|e| StoreError::Io(format!("{origin}:{line_no}: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            let t: Trajectory = serde_json::from_str(&line).map_err(|e| {
                StoreError::Malformed(format!("{origin}:{line_no}: not a trajectory: {e}"))
            })?;
            if t.format != TRAJECTORY_FORMAT || t.version > TRAJECTORY_VERSION {
                return Err(StoreError::Malformed(format!(
                    "{origin}:{line_no}: format '{}' version {} is not readable \
                     (expected '{TRAJECTORY_FORMAT}' up to version {TRAJECTORY_VERSION})",
                    t.format, t.version
                )));
            }
            trajectories.push(t);
        }
        for t in &trajectories {
            let run_id = &t.header.run_id;
            if !self.has_run(run_id)? {
                let config = json!({"imported_from": origin});
                self.create_run(run_id, &t.header.started_at, &config)?;
                self.set_run_status(run_id, "imported")?;
            }
            self.insert_trajectory(t)?;
        }
        Ok(trajectories.len())
    }
}
