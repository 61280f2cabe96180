//! The episode-facts cache: what a report derives from each episode
//! (a JSON summary), computed once and kept beside the episode with the
//! version of the code that derived it, so the next report reads it back
//! instead of rebuilding the trajectory. The store drops an episode's
//! facts whenever the episode is written to (see the schema's triggers);
//! whether a version is still current is the caller's to judge.

use std::collections::HashMap;

use rusqlite::params;
use serde_json::Value;

use crate::codec;
use crate::store::{Store, StoreError};

impl Store {
    /// The cached facts of a run's episodes: episode id -> (version, facts).
    pub fn episode_facts(&self, run_id: &str) -> Result<HashMap<String, (i64, Value)>, StoreError> {
        // Parsed straight from SQLite's row buffer: no copy of the text.
        let parsed = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT episode_id, version, facts FROM episode_facts WHERE run_id = ?1",
            )?;
            let mut out = HashMap::new();
            let mut rows = stmt.query(params![run_id])?;
            while let Some(r) = rows.next()? {
                let episode_id: String = r.get(0)?;
                let version: i64 = r.get(1)?;
                let facts = serde_json::from_slice::<Value>(r.get_ref(2)?.as_bytes()?);
                match facts {
                    Ok(facts) => {
                        out.insert(episode_id, (version, facts));
                    }
                    Err(e) => return Ok(Err((episode_id, e))),
                }
            }
            Ok(Ok(out))
        })?;
        parsed.map_err(|(episode_id, e)| {
            StoreError::Malformed(format!(
                "facts of episode '{episode_id}' of run '{run_id}' are not JSON: {e}"
            ))
        })
    }

    /// Saves facts (run id, episode id, version, facts), replacing what
    /// each episode had, in one transaction.
    pub fn save_episode_facts(
        &self,
        rows: &[(String, String, i64, Value)],
    ) -> Result<(), StoreError> {
        let texts = rows
            .iter()
            .map(|(_, _, _, facts)| {
                serde_json::to_string(facts).map_err(|e| StoreError::Malformed(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.in_transaction(|tx, _| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO episode_facts (run_id, episode_id, version, facts)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(codec::sql)?;
            for ((run_id, episode_id, version, _), text) in rows.iter().zip(&texts) {
                stmt.execute(params![run_id, episode_id, version, text])
                    .map_err(codec::sql)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use serde_json::json;

    type FactsRow = (String, String, i64, Value);

    fn row(run: &str, episode: &str, version: i64, facts: Value) -> FactsRow {
        (run.into(), episode.into(), version, facts)
    }

    #[test]
    fn facts_are_saved_loaded_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        assert!(store.episode_facts("r").unwrap().is_empty());
        store
            .save_episode_facts(&[
                row("r", "t1/0", 1, json!({"steps": 3})),
                row("r", "t2/0", 1, json!({"steps": 5})),
                row("other", "t1/0", 1, json!({"steps": 9})),
            ])
            .unwrap();
        let got = store.episode_facts("r").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got["t1/0"], (1, json!({"steps": 3})));
        store
            .save_episode_facts(&[row("r", "t1/0", 2, json!({"steps": 4, "new": true}))])
            .unwrap();
        let got = Store::open(store.path())
            .unwrap()
            .episode_facts("r")
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got["t1/0"], (2, json!({"steps": 4, "new": true})));
        assert_eq!(got["t2/0"], (1, json!({"steps": 5})));
        assert_eq!(store.episode_facts("other").unwrap().len(), 1);
    }

    #[test]
    fn malformed_facts_name_their_episode() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        store
            .with(|c| {
                c.execute(
                    "INSERT INTO episode_facts VALUES ('r', 't1/0', 1, '{not json')",
                    [],
                )
            })
            .unwrap();
        let err = store.episode_facts("r").unwrap_err().to_string();
        assert!(
            err.contains("facts of episode 't1/0' of run 'r' are not JSON"),
            "{err}"
        );
    }

    #[test]
    fn facts_of_many_episodes_load_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let rows: Vec<FactsRow> = (0..4)
            .flat_map(|run| {
                (0..2_500).map(move |e| {
                    row(
                        &format!("run-{run}"),
                        &format!("task-{e}/0"),
                        1,
                        json!({"steps": e, "exit": "success", "tools": ["a", "b"]}),
                    )
                })
            })
            .collect();
        store.save_episode_facts(&rows).unwrap();
        let got = store.episode_facts("run-2").unwrap();
        assert_eq!(got.len(), 2_500);
        assert_eq!(got["task-42/0"].1["steps"], 42);
    }
}
