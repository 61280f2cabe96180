//! Evolutions: each one's configuration, its ledger as it grows, and the
//! runs its re-runs were recorded in (by the evolution's own keys), so an
//! interrupted evolution resumes without replaying a finished re-run.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use crate::store::{Store, StoreError};

/// An evolution as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvolutionRecord {
    /// The evolution id.
    pub id: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    /// Its configuration (what `--resume` needs).
    pub config: Value,
    /// Its ledger so far (null before the first decision).
    pub ledger: Value,
    /// Re-run key -> run id.
    pub runs: BTreeMap<String, String>,
}

fn text(value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

fn parse(what: &str, id: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Malformed(format!("evolution {id}: its {what} is not JSON: {e}")))
}

impl Store {
    /// Records a new evolution.
    pub fn create_evolution(
        &self,
        id: &str,
        created_at: &str,
        config: &Value,
    ) -> Result<(), StoreError> {
        let config = text(config)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO evolutions (id, created_at, status, config, ledger, runs)
                 VALUES (?1, ?2, 'running', ?3, 'null', '{}')",
                params![id, created_at, config],
            )
            .map(|_| ())
        })
    }

    /// Saves an evolution's ledger and status.
    pub fn save_evolution(&self, id: &str, status: &str, ledger: &Value) -> Result<(), StoreError> {
        let ledger = text(ledger)?;
        self.with(|c| {
            c.execute(
                "UPDATE evolutions SET status = ?2, ledger = ?3 WHERE id = ?1",
                params![id, status, ledger],
            )
            .map(|_| ())
        })
    }

    /// Records that the evolution's re-run `key` is run `run_id`.
    pub fn set_evolution_run(&self, id: &str, key: &str, run_id: &str) -> Result<(), StoreError> {
        let mut record = self.evolution(id)?;
        record.runs.insert(key.to_string(), run_id.to_string());
        let runs = text(&record.runs)?;
        self.with(|c| {
            c.execute(
                "UPDATE evolutions SET runs = ?2 WHERE id = ?1",
                params![id, runs],
            )
            .map(|_| ())
        })
    }

    /// One evolution.
    pub fn evolution(&self, id: &str) -> Result<EvolutionRecord, StoreError> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT id, created_at, status, config, ledger, runs FROM evolutions WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()
        })?;
        let Some((id, created_at, status, config, ledger, runs)) = row else {
            return Err(StoreError::NotFound(format!(
                "no evolution '{id}' in {}",
                self.path().display()
            )));
        };
        let runs: BTreeMap<String, String> = serde_json::from_str(&runs).map_err(|e| {
            StoreError::Malformed(format!("evolution {id}: its run list is malformed: {e}"))
        })?;
        Ok(EvolutionRecord {
            config: parse("configuration", &id, &config)?,
            ledger: parse("ledger", &id, &ledger)?,
            id,
            created_at,
            status,
            runs,
        })
    }

    /// Every evolution's id and status, oldest first.
    pub fn evolutions(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT id, created_at, status FROM evolutions ORDER BY created_at, id")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use serde_json::json;

    #[test]
    fn evolutions_keep_config_ledger_and_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        store
            .create_evolution("evo-1", "2026-12-03T00:00:00Z", &json!({"env": "toy"}))
            .unwrap();
        store
            .set_evolution_run("evo-1", "r0-baseline", "run-a")
            .unwrap();
        store
            .save_evolution("evo-1", "finished", &json!({"rounds": []}))
            .unwrap();
        let got = store.evolution("evo-1").unwrap();
        assert_eq!(got.status, "finished");
        assert_eq!(got.config["env"], "toy");
        assert_eq!(got.runs["r0-baseline"], "run-a");
        assert_eq!(store.evolutions().unwrap().len(), 1);
        let err = store.evolution("nope").unwrap_err().to_string();
        assert!(err.contains("no evolution 'nope'"), "{err}");
    }
}
