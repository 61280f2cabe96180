//! The SQLite store and its [`TrajectorySink`] implementation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lifeharness_core::{
    EpisodeEnd, EpisodeHeader, SinkError, Step, TRAJECTORY_FORMAT, TRAJECTORY_VERSION, Trajectory,
    TrajectorySink,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use crate::schema::{CREATE, SCHEMA_VERSION};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("store {path}: {source}")]
    Sqlite {
        /// The database path.
        path: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A stored or imported record is malformed.
    #[error("{0}")]
    Malformed(String),
    /// A run or episode does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(String),
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// The run id.
    pub run_id: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// `running`, `finished` or `interrupted`.
    pub status: String,
    /// The run configuration (what `--resume` needs to continue it).
    pub config: Value,
    /// Episodes that ended.
    pub finished: u64,
    /// Of those, solved.
    pub successes: u64,
    /// Mean reward over finished episodes with a reward.
    pub mean_reward: Option<f64>,
}

/// An episode as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeRow {
    /// The episode id.
    pub episode_id: String,
    /// The task id.
    pub task_id: String,
    /// The trial.
    pub trial: u32,
    /// `running`, `finished` or `interrupted`.
    pub status: String,
    /// The exit status, when finished.
    pub exit: Option<String>,
    /// The reward, when scored.
    pub reward: Option<f64>,
    /// Steps recorded.
    pub steps: u64,
}

/// The trajectory store. Cheap to clone; all clones share one connection.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

fn json_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

fn enum_label<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let wrap = |source| StoreError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(wrap)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Malformed(format!(
                "store {} has schema version {version}; this build reads up to {SCHEMA_VERSION}",
                path.display()
            )));
        }
        conn.execute_batch(CREATE).map_err(wrap)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(wrap)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    /// The database path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| StoreError::Malformed("store connection poisoned".into()))?;
        f(&mut conn).map_err(|source| StoreError::Sqlite {
            path: self.path.display().to_string(),
            source,
        })
    }

    /// Records a new run.
    pub fn create_run(
        &self,
        run_id: &str,
        created_at: &str,
        config: &Value,
    ) -> Result<(), StoreError> {
        let config = json_text(config)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (run_id, created_at, status, config) VALUES (?1, ?2, 'running', ?3)",
                params![run_id, created_at, config],
            )
            .map(|_| ())
        })
    }

    /// Sets a run's status.
    pub fn set_run_status(&self, run_id: &str, status: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET status = ?2 WHERE run_id = ?1",
                params![run_id, status],
            )
            .map(|_| ())
        })
    }

    /// Marks the run's unfinished episodes as interrupted (their steps stay).
    pub fn mark_interrupted(&self, run_id: &str) -> Result<usize, StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE episodes SET status = 'interrupted' WHERE run_id = ?1 AND status = 'running'",
                params![run_id],
            )
        })
    }

    /// One run.
    pub fn run(&self, run_id: &str) -> Result<RunRecord, StoreError> {
        self.runs()?
            .into_iter()
            .find(|r| r.run_id == run_id)
            .ok_or_else(|| {
                StoreError::NotFound(format!("no run '{run_id}' in {}", self.path.display()))
            })
    }

    /// All runs, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        let rows = self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT r.run_id, r.created_at, r.status, r.config,
                        COUNT(e.episode_id) FILTER (WHERE e.status = 'finished'),
                        COUNT(e.episode_id) FILTER (WHERE e.exit = 'success'),
                        AVG(e.reward) FILTER (WHERE e.status = 'finished')
                 FROM runs r LEFT JOIN episodes e ON e.run_id = r.run_id
                 GROUP BY r.run_id ORDER BY r.created_at, r.run_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)? as u64,
                    r.get::<_, i64>(5)? as u64,
                    r.get::<_, Option<f64>>(6)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(
                |(run_id, created_at, status, config, finished, successes, mean_reward)| {
                    let config = serde_json::from_str(&config).map_err(|e| {
                        StoreError::Malformed(format!(
                            "run {run_id}: stored config is not JSON: {e}"
                        ))
                    })?;
                    Ok(RunRecord {
                        run_id,
                        created_at,
                        status,
                        config,
                        finished,
                        successes,
                        mean_reward,
                    })
                },
            )
            .collect()
    }

    /// The episodes of a run, in start order.
    pub fn episodes(&self, run_id: &str) -> Result<Vec<EpisodeRow>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT e.episode_id, e.task_id, json_extract(e.header, '$.trial'), e.status, e.exit, e.reward,
                        (SELECT COUNT(*) FROM steps s WHERE s.run_id = e.run_id AND s.episode_id = e.episode_id)
                 FROM episodes e WHERE e.run_id = ?1 ORDER BY e.rowid",
            )?;
            let rows = stmt.query_map(params![run_id], |r| {
                Ok(EpisodeRow {
                    episode_id: r.get(0)?,
                    task_id: r.get(1)?,
                    trial: r.get::<_, Option<u32>>(2)?.unwrap_or(0),
                    status: r.get(3)?,
                    exit: r.get(4)?,
                    reward: r.get(5)?,
                    steps: r.get::<_, i64>(6)? as u64,
                })
            })?;
            rows.collect()
        })
    }

    /// One episode's full trajectory.
    pub fn trajectory(&self, run_id: &str, episode_id: &str) -> Result<Trajectory, StoreError> {
        let found = self.with(|c| {
            let head: Option<(String, Option<String>)> = c
                .query_row(
                    "SELECT header, end_record FROM episodes WHERE run_id = ?1 AND episode_id = ?2",
                    params![run_id, episode_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let mut stmt = c.prepare(
                "SELECT step FROM steps WHERE run_id = ?1 AND episode_id = ?2 ORDER BY idx",
            )?;
            let steps = stmt
                .query_map(params![run_id, episode_id], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(head.map(|h| (h, steps)))
        })?;
        let Some(((header, end), steps)) = found else {
            return Err(StoreError::NotFound(format!(
                "no episode '{episode_id}' in run '{run_id}'"
            )));
        };
        let bad = |what: &str, e: serde_json::Error| {
            StoreError::Malformed(format!(
                "episode {episode_id}: stored {what} is malformed: {e}"
            ))
        };
        let header: EpisodeHeader = serde_json::from_str(&header).map_err(|e| bad("header", e))?;
        let end: Option<EpisodeEnd> = match end {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| bad("end", e))?),
            None => None,
        };
        let steps = steps
            .iter()
            .map(|s| serde_json::from_str::<Step>(s).map_err(|e| bad("step", e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Trajectory {
            format: TRAJECTORY_FORMAT.to_string(),
            version: TRAJECTORY_VERSION,
            header,
            steps,
            end,
        })
    }

    fn begin(&self, header: &EpisodeHeader) -> Result<(), StoreError> {
        let text = json_text(header)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO episodes (run_id, episode_id, task_id, status, header, started_at)
                 VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
                params![
                    header.run_id,
                    header.episode_id,
                    header.task.id,
                    text,
                    header.started_at
                ],
            )?;
            let mut insert = c.prepare_cached(EVENT_INSERT)?;
            for (seq, event) in header.events.iter().enumerate() {
                insert_event(
                    &mut insert,
                    &header.run_id,
                    &header.episode_id,
                    None,
                    seq,
                    event,
                )?;
            }
            Ok(())
        })
    }

    fn step(&self, run_id: &str, episode_id: &str, step: &Step) -> Result<(), StoreError> {
        let text = json_text(step)?;
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO steps (run_id, episode_id, idx, step) VALUES (?1, ?2, ?3, ?4)",
                params![run_id, episode_id, step.index as i64, text],
            )?;
            {
                let mut insert = tx.prepare_cached(EVENT_INSERT)?;
                for (seq, event) in step.events.iter().enumerate() {
                    insert_event(
                        &mut insert,
                        run_id,
                        episode_id,
                        Some(step.index),
                        seq,
                        event,
                    )?;
                }
            }
            tx.commit()
        })
    }

    fn end(&self, run_id: &str, episode_id: &str, end: &EpisodeEnd) -> Result<(), StoreError> {
        let text = json_text(end)?;
        let reward = end.reward.as_ref().and_then(|r| r.value);
        let exit = end.exit.as_str();
        self.with(|c| {
            c.execute(
                "UPDATE episodes SET status = 'finished', exit = ?3, reward = ?4, end_record = ?5, finished_at = ?6
                 WHERE run_id = ?1 AND episode_id = ?2",
                params![run_id, episode_id, exit, reward, text, end.finished_at],
            )
            .map(|_| ())
        })
    }
}

const EVENT_INSERT: &str = "INSERT INTO events
    (run_id, episode_id, step_idx, seq, layer, hook, rule_id, verdict, message, failure, observe_only)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

fn insert_event(
    insert: &mut rusqlite::CachedStatement<'_>,
    run_id: &str,
    episode_id: &str,
    step: Option<usize>,
    seq: usize,
    event: &lifeharness_core::LayerEvent,
) -> rusqlite::Result<()> {
    insert.execute(params![
        run_id,
        episode_id,
        step.map(|s| s as i64),
        seq as i64,
        event.layer,
        enum_label(&event.hook),
        event.rule_id,
        enum_label(&event.verdict),
        event.message,
        event.failure.map(|f| f.as_str()),
        event.observe_only,
    ])?;
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SinkError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(|e| SinkError(e.to_string())),
        Err(e) => Err(SinkError(format!("store writer failed: {e}"))),
    }
}

#[async_trait]
impl TrajectorySink for Store {
    async fn begin_episode(&self, header: &EpisodeHeader) -> Result<(), SinkError> {
        let store = self.clone();
        let header = header.clone();
        blocking(move || store.begin(&header)).await
    }

    async fn record_step(
        &self,
        run_id: &str,
        episode_id: &str,
        step: &Step,
    ) -> Result<(), SinkError> {
        let (store, run, episode, step) = (
            self.clone(),
            run_id.to_string(),
            episode_id.to_string(),
            step.clone(),
        );
        blocking(move || store.step(&run, &episode, &step)).await
    }

    async fn end_episode(
        &self,
        run_id: &str,
        episode_id: &str,
        end: &EpisodeEnd,
    ) -> Result<(), SinkError> {
        let (store, run, episode, end) = (
            self.clone(),
            run_id.to_string(),
            episode_id.to_string(),
            end.clone(),
        );
        blocking(move || store.end(&run, &episode, &end)).await
    }
}

impl Store {
    /// Writes a whole trajectory (used by import); fails if the episode exists.
    pub(crate) fn insert_trajectory(&self, t: &Trajectory) -> Result<(), StoreError> {
        self.begin(&t.header)?;
        for step in &t.steps {
            self.step(&t.header.run_id, &t.header.episode_id, step)?;
        }
        if let Some(end) = &t.end {
            self.end(&t.header.run_id, &t.header.episode_id, end)?;
        }
        Ok(())
    }

    /// Whether a run exists.
    pub(crate) fn has_run(&self, run_id: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT 1 FROM runs WHERE run_id = ?1",
                params![run_id],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
        })
    }
}
