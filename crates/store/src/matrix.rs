//! Evaluation matrices: each one's configuration, its status, and the run
//! each of its cells was recorded in (by the matrix's own cell keys), so an
//! interrupted matrix resumes without replaying a finished cell, and the
//! shards of one matrix, run in separate stores, can be merged back.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use crate::store::{Store, StoreError};

/// A matrix as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixRecord {
    /// The matrix id.
    pub id: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// `running`, `finished`, `interrupted` or `failed`.
    pub status: String,
    /// Its configuration (what `--resume` needs).
    pub config: Value,
    /// Cell key -> run id.
    pub cells: BTreeMap<String, String>,
}

/// A matrix row as SQLite holds it (JSON columns still text).
pub(crate) type MatrixRow = (String, String, String, String, String);

pub(crate) const MATRIX_COLUMNS: &str = "id, created_at, status, config, cells";

pub(crate) fn matrix_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MatrixRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// Parses a matrix's cell map.
pub(crate) fn parse_cells(id: &str, text: &str) -> Result<BTreeMap<String, String>, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Malformed(format!("matrix {id}: its cell list is malformed: {e}")))
}

fn record((id, created_at, status, config, cells): MatrixRow) -> Result<MatrixRecord, StoreError> {
    let config = serde_json::from_str(&config).map_err(|e| {
        StoreError::Malformed(format!("matrix {id}: its configuration is not JSON: {e}"))
    })?;
    Ok(MatrixRecord {
        cells: parse_cells(&id, &cells)?,
        config,
        id,
        created_at,
        status,
    })
}

impl Store {
    /// Records a new matrix (status `running`, no cells).
    pub fn create_matrix(
        &self,
        id: &str,
        created_at: &str,
        config: &Value,
    ) -> Result<(), StoreError> {
        let config =
            serde_json::to_string(config).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.with(|c| {
            c.execute(
                "INSERT INTO matrices (id, created_at, status, config, cells)
                 VALUES (?1, ?2, 'running', ?3, '{}')",
                params![id, created_at, config],
            )
            .map(|_| ())
        })
    }

    /// Sets a matrix's status.
    pub fn set_matrix_status(&self, id: &str, status: &str) -> Result<(), StoreError> {
        let changed = self.with(|c| {
            c.execute(
                "UPDATE matrices SET status = ?2 WHERE id = ?1",
                params![id, status],
            )
        })?;
        self.found(id, changed)
    }

    /// Records that the matrix's cell `key` is run `run_id`. One statement
    /// (a JSON merge patch of `{key: run_id}`), so cells recorded at the
    /// same time, by clones of this store or by other processes, all stay;
    /// any key text is safe (dots, slashes, quotes).
    pub fn set_matrix_cell(&self, id: &str, key: &str, run_id: &str) -> Result<(), StoreError> {
        let changed = self.with(|c| {
            c.execute(
                "UPDATE matrices SET cells = json_patch(cells, json_object(?2, ?3)) WHERE id = ?1",
                params![id, key, run_id],
            )
        })?;
        self.found(id, changed)
    }

    /// One matrix.
    pub fn matrix(&self, id: &str) -> Result<MatrixRecord, StoreError> {
        let row = self.with(|c| {
            c.query_row(
                &format!("SELECT {MATRIX_COLUMNS} FROM matrices WHERE id = ?1"),
                params![id],
                matrix_row,
            )
            .optional()
        })?;
        match row {
            Some(row) => record(row),
            None => Err(self.no_matrix(id)),
        }
    }

    /// Every matrix, oldest first.
    pub fn matrices(&self) -> Result<Vec<MatrixRecord>, StoreError> {
        let rows = self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {MATRIX_COLUMNS} FROM matrices ORDER BY created_at, id"
            ))?;
            let rows = stmt
                .query_map([], matrix_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        rows.into_iter().map(record).collect()
    }

    fn found(&self, id: &str, changed: usize) -> Result<(), StoreError> {
        if changed == 0 {
            return Err(self.no_matrix(id));
        }
        Ok(())
    }

    fn no_matrix(&self, id: &str) -> StoreError {
        StoreError::NotFound(format!("no matrix '{id}' in {}", self.path().display()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use serde_json::json;

    const KEY: &str = "embedded:smollm2-135m|tau2-retail|evolved/x.toml|full";

    #[test]
    fn matrices_keep_config_status_and_cells() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        store
            .create_matrix("m-1", "2026-12-03T00:00:00Z", &json!({"envs": ["toy"]}))
            .unwrap();
        let fresh = store.matrix("m-1").unwrap();
        assert_eq!(fresh.status, "running");
        assert!(fresh.cells.is_empty());
        store.set_matrix_cell("m-1", KEY, "run-a").unwrap();
        store.set_matrix_cell("m-1", "a.b", "run-b").unwrap();
        store.set_matrix_cell("m-1", "say \"hi\"", "run-c").unwrap();
        // Setting a cell again replaces its run.
        store.set_matrix_cell("m-1", "a.b", "run-d").unwrap();
        store.set_matrix_status("m-1", "finished").unwrap();
        let got = store.matrix("m-1").unwrap();
        assert_eq!(got.status, "finished");
        assert_eq!(got.config, json!({"envs": ["toy"]}));
        let want: BTreeMap<String, String> =
            [(KEY, "run-a"), ("a.b", "run-d"), ("say \"hi\"", "run-c")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(got.cells, want);
        // A reopened store reads the same.
        let reopened = Store::open(store.path()).unwrap();
        assert_eq!(reopened.matrices().unwrap(), vec![got]);
    }

    #[test]
    fn matrices_are_listed_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        store
            .create_matrix("m-b", "2026-12-04T00:00:00Z", &json!({}))
            .unwrap();
        store
            .create_matrix("m-a", "2026-12-05T00:00:00Z", &json!({}))
            .unwrap();
        store
            .create_matrix("m-c", "2026-12-03T00:00:00Z", &json!({}))
            .unwrap();
        let ids: Vec<String> = store
            .matrices()
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, ["m-c", "m-b", "m-a"]);
    }

    #[test]
    fn cells_set_at_once_from_two_clones_all_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        store
            .create_matrix("m", "2026-12-03T00:00:00Z", &json!({}))
            .unwrap();
        // A second connection too (another process, as far as SQLite knows).
        let other = Store::open(store.path()).unwrap();
        let handles: Vec<_> = [store.clone(), store.clone(), other]
            .into_iter()
            .enumerate()
            .map(|(t, s)| {
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let key = format!("{KEY}|{t}/{i}");
                        s.set_matrix_cell("m", &key, &format!("run-{t}-{i}"))
                            .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let cells = store.matrix("m").unwrap().cells;
        assert_eq!(cells.len(), 150);
        assert_eq!(cells[&format!("{KEY}|2/49")], "run-2-49");
    }

    #[test]
    fn a_missing_matrix_is_named_with_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        for err in [
            store.matrix("nope").unwrap_err(),
            store.set_matrix_status("nope", "finished").unwrap_err(),
            store.set_matrix_cell("nope", "k", "r").unwrap_err(),
        ] {
            let text = err.to_string();
            assert!(matches!(err, StoreError::NotFound(_)), "{text}");
            assert!(text.contains("no matrix 'nope' in "), "{text}");
            assert!(text.contains("s.db"), "{text}");
        }
    }
}
