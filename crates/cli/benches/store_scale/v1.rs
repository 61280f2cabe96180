//! The store's write path as it was at schema version 1, kept here (and only
//! here) so the benchmark measures today's figures instead of quoting them:
//! one row per step holding the step's whole JSON, an episode header with
//! everything inline (task data, harness config, system text), one indexed
//! row per layer event, and a `spawn_blocking` per write behind one mutex.
//! Copied from `crates/store/src/{schema,store}.rs` before version 2; do not
//! improve it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use async_trait::async_trait;
use lifeharness_core::{EpisodeEnd, EpisodeHeader, LayerEvent, SinkError, Step, TrajectorySink};
use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::Value;

/// The version 1 schema, verbatim.
pub const CREATE: &str = r#"
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    status      TEXT NOT NULL,
    config      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS episodes (
    run_id      TEXT NOT NULL REFERENCES runs(run_id),
    episode_id  TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    header      TEXT NOT NULL,
    exit        TEXT,
    reward      REAL,
    end_record  TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (run_id, episode_id)
);
CREATE TABLE IF NOT EXISTS steps (
    run_id      TEXT NOT NULL,
    episode_id  TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    step        TEXT NOT NULL,
    PRIMARY KEY (run_id, episode_id, idx)
);
CREATE TABLE IF NOT EXISTS events (
    run_id      TEXT NOT NULL,
    episode_id  TEXT NOT NULL,
    step_idx    INTEGER,
    seq         INTEGER NOT NULL,
    layer       TEXT NOT NULL,
    hook        TEXT NOT NULL,
    rule_id     TEXT,
    verdict     TEXT NOT NULL,
    message     TEXT,
    failure     TEXT,
    observe_only INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_by_rule ON events(rule_id);
CREATE INDEX IF NOT EXISTS events_by_episode ON events(run_id, episode_id);
"#;

/// The version 1 store: one connection behind a mutex.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

fn json_text<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

fn enum_label<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

impl Store {
    /// Opens (creating) a version 1 store.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(CREATE)?;
        conn.pragma_update(None, "user_version", 1)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| anyhow::anyhow!("store connection poisoned"))?;
        Ok(f(&mut conn)?)
    }

    /// Records a new run.
    pub fn create_run(&self, run_id: &str, created_at: &str, config: &Value) -> Result<()> {
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
    pub fn set_run_status(&self, run_id: &str, status: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE runs SET status = ?2 WHERE run_id = ?1",
                params![run_id, status],
            )
            .map(|_| ())
        })
    }

    /// Marks the run's unfinished episodes as interrupted.
    pub fn mark_interrupted(&self, run_id: &str) -> Result<usize> {
        self.with(|c| {
            c.execute(
                "UPDATE episodes SET status = 'interrupted' WHERE run_id = ?1 AND status = 'running'",
                params![run_id],
            )
        })
    }

    fn begin(&self, header: &EpisodeHeader) -> Result<()> {
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

    fn step(&self, run_id: &str, episode_id: &str, step: &Step) -> Result<()> {
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

    fn end(&self, run_id: &str, episode_id: &str, end: &EpisodeEnd) -> Result<()> {
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
    event: &LayerEvent,
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
    f: impl FnOnce() -> Result<T> + Send + 'static,
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

/// `run_many` as it was: every job in a `Vec` built up front, every episode
/// polled inside this one task (so episodes take turns on one thread).
/// Copied from `crates/runtime/src/many.rs` before the change; only the
/// summary and progress events are left out.
pub async fn run_many(
    jobs: Vec<lifeharness_runtime::EpisodeSpec>,
    model: Arc<dyn lifeharness_core::Model>,
    factory: Arc<dyn lifeharness_core::EnvironmentFactory>,
    layers: Arc<[Arc<dyn lifeharness_core::Layer>]>,
    sink: Arc<dyn TrajectorySink>,
    concurrency: usize,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<()> {
    use futures::StreamExt;
    use lifeharness_runtime::{EpisodeOutcome, RuntimeError, run_episode};
    let mut stream = futures::stream::iter(jobs)
        .map(|job| {
            let model = Arc::clone(&model);
            let factory = Arc::clone(&factory);
            let layers = Arc::clone(&layers);
            let sink = Arc::clone(&sink);
            let cancel = cancel.clone();
            async move {
                if cancel.is_cancelled() {
                    return Ok(EpisodeOutcome::Interrupted { steps: 0 });
                }
                let env = match factory.create() {
                    Ok(env) => env,
                    Err(err) => return Err(RuntimeError::Env(err)),
                };
                run_episode(&job, model.as_ref(), env, &layers, sink.as_ref(), &cancel).await
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(outcome) = stream.next().await {
        outcome?;
    }
    Ok(())
}
