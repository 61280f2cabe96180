//! JSONL export and import: one trajectory per line.

use std::io::{BufRead, Write};

use lifeharness_core::Trajectory;
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

use crate::codec;

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
            if let Some(why) = t.unreadable() {
                return Err(StoreError::Malformed(format!("{origin}:{line_no}: {why}")));
            }
            trajectories.push(t);
        }
        self.import_trajectories(&trajectories, &json!({"imported_from": origin}))
    }

    /// Writes trajectories in one transaction: a run that does not exist is
    /// created (status `imported`, with `config`), and an episode already
    /// in the store fails the whole import, naming it. Returns the count.
    pub fn import_trajectories(
        &self,
        trajectories: &[Trajectory],
        config: &Value,
    ) -> Result<usize, StoreError> {
        let config_text =
            serde_json::to_string(config).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.in_transaction(|tx, caches| {
            for t in trajectories {
                let (run_id, episode_id) = (&t.header.run_id, &t.header.episode_id);
                let exists = tx
                    .query_row("SELECT 1 FROM runs WHERE run_id = ?1", params![run_id], |_| {
                        Ok(())
                    })
                    .optional()
                    .map_err(codec::sql)?
                    .is_some();
                if !exists {
                    tx.execute(
                        "INSERT INTO runs (run_id, created_at, status, config) VALUES (?1, ?2, 'imported', ?3)",
                        params![run_id, t.header.started_at, config_text],
                    )
                    .map_err(codec::sql)?;
                }
                let dup = tx
                    .query_row(
                        "SELECT 1 FROM episodes WHERE run_id = ?1 AND episode_id = ?2",
                        params![run_id, episode_id],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(codec::sql)?
                    .is_some();
                if dup {
                    return Err(StoreError::Malformed(format!(
                        "run {run_id} already has episode {episode_id} (was this file imported before?); nothing was imported"
                    )));
                }
                codec::write_trajectory(tx, caches, t)?;
            }
            Ok(trajectories.len())
        })
    }
}
