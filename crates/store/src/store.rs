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
use tokio::sync::{mpsc, oneshot};

use crate::codec::{self, Caches, HarnessMemo};
use crate::schema::{CREATE, SCHEMA_VERSION, V1_DROP, V1_RENAME, V2_UPGRADE};
use crate::writer::{self, Op, Request};

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

/// The trajectory store. Cheap to clone; all clones share one connection for
/// reads and direct writes, and one writer thread (started on first use)
/// for the [`TrajectorySink`] writes.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    writer: Arc<Mutex<Option<mpsc::Sender<Request>>>>,
    memo: Arc<HarnessMemo>,
    path: PathBuf,
}

fn json_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

/// The settings every connection to a store uses: WAL, `synchronous = NORMAL`
/// (see the crate docs for what that means on power loss), a busy timeout.
pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
}

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        params![name],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

/// Gives a version 2 store the version 3 column (its rows are version 3
/// rows without blob texts), in one transaction.
fn upgrade_v2(conn: &mut Connection, shown: &str) -> Result<(), StoreError> {
    let sql = |e: rusqlite::Error| {
        StoreError::Malformed(format!(
            "store {shown} has schema version 2 and could not be upgraded to version \
             {SCHEMA_VERSION} ({e}); the store was left unchanged"
        ))
    };
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sql)?;
    // Another process may have upgraded the store while this one waited for the lock.
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql)?;
    if version != 2 {
        return Ok(());
    }
    tx.execute_batch(V2_UPGRADE).map_err(sql)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(sql)?;
    tx.commit().map_err(sql)
}

/// Rewrites a version 1 store as the current version in one transaction; on
/// any error nothing changes.
fn migrate_v1(conn: &mut Connection, shown: &str) -> Result<(), StoreError> {
    let fail = |what: String| {
        StoreError::Malformed(format!(
            "store {shown} has schema version 1 and could not be migrated to version \
             {SCHEMA_VERSION} ({what}); the store was left unchanged"
        ))
    };
    let sql = |e: rusqlite::Error| fail(e.to_string());
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sql)?;
    // Another process may have migrated the store while this one waited for the lock.
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql)?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    tx.execute_batch(V1_RENAME).map_err(sql)?;
    tx.execute_batch(CREATE).map_err(sql)?;
    let mut caches = Caches::default();
    {
        let mut episodes = tx
            .prepare("SELECT run_id, episode_id, status, header, end_record FROM episodes_v1 ORDER BY rowid")
            .map_err(sql)?;
        let mut rows = episodes.query([]).map_err(sql)?;
        let mut steps = tx
            .prepare("SELECT step FROM steps_v1 WHERE run_id = ?1 AND episode_id = ?2 ORDER BY idx")
            .map_err(sql)?;
        while let Some(row) = rows.next().map_err(sql)? {
            let run_id: String = row.get(0).map_err(sql)?;
            let episode_id: String = row.get(1).map_err(sql)?;
            let status: String = row.get(2).map_err(sql)?;
            let header: String = row.get(3).map_err(sql)?;
            let end: Option<String> = row.get(4).map_err(sql)?;
            let bad = |what: &str, e: serde_json::Error| {
                fail(format!("episode {episode_id} of run {run_id}: {what}: {e}"))
            };
            let header: EpisodeHeader =
                serde_json::from_str(&header).map_err(|e| bad("header", e))?;
            let end: Option<EpisodeEnd> = match end {
                Some(text) => Some(serde_json::from_str(&text).map_err(|e| bad("end", e))?),
                None => None,
            };
            let texts = steps
                .query_map(params![run_id, episode_id], |r| r.get::<_, String>(0))
                .map_err(sql)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql)?;
            let steps = texts
                .iter()
                .map(|t| serde_json::from_str::<Step>(t).map_err(|e| bad("step", e)))
                .collect::<Result<Vec<_>, _>>()?;
            let trajectory = Trajectory {
                format: TRAJECTORY_FORMAT.to_string(),
                version: TRAJECTORY_VERSION,
                header,
                steps,
                end,
            };
            codec::write_trajectory(&tx, &mut caches, &trajectory)
                .map_err(|e| fail(format!("episode {episode_id} of run {run_id}: {e}")))?;
            tx.execute(
                "UPDATE episodes SET status = ?3 WHERE run_id = ?1 AND episode_id = ?2",
                params![run_id, episode_id, status],
            )
            .map_err(sql)?;
        }
    }
    tx.execute_batch(V1_DROP).map_err(sql)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(sql)?;
    tx.commit().map_err(sql)
}

impl Store {
    /// Opens (creating if needed) the store at `path`. A version 1 or 2
    /// store is migrated to the current schema in place (one transaction); a
    /// store written by a newer build is refused.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let wrap = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        let mut conn = Connection::open(path).map_err(wrap)?;
        configure(&conn).map_err(wrap)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(wrap)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Malformed(format!(
                "store {shown} has schema version {version}; this build reads up to {SCHEMA_VERSION}"
            )));
        }
        let legacy =
            version == 1 || (version == 0 && has_table(&conn, "episodes").map_err(wrap)?);
        if legacy {
            migrate_v1(&mut conn, &shown)?;
        } else if version == 2 {
            upgrade_v2(&mut conn, &shown)?;
        }
        conn.execute_batch(CREATE).map_err(wrap)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(wrap)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            writer: Arc::new(Mutex::new(None)),
            memo: Arc::default(),
            path: path.to_path_buf(),
        })
    }

    /// The database path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shared connection.
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Malformed("store connection poisoned".into()))
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock()?;
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
                "SELECT e.episode_id, e.task_id, e.trial, e.status, e.exit, e.reward,
                        (SELECT COUNT(*) FROM step_rows s WHERE s.ep = e.id)
                 FROM episodes e WHERE e.run_id = ?1 ORDER BY e.id",
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

    /// One episode's full trajectory (self-contained, as it was written).
    pub fn trajectory(&self, run_id: &str, episode_id: &str) -> Result<Trajectory, StoreError> {
        let conn = self.lock()?;
        crate::read::read_trajectory(&conn, run_id, episode_id).map_err(|e| self.located(e))
    }

    /// Fills in this store's path in a SQLite error that has none.
    pub(crate) fn located(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Sqlite { path, source } if path.is_empty() => StoreError::Sqlite {
                path: self.path.display().to_string(),
                source,
            },
            other => other,
        }
    }

    /// Sends one write to the writer thread and waits until it is committed.
    async fn write(&self, op: Op) -> Result<(), SinkError> {
        let sender = {
            let mut slot = self
                .writer
                .lock()
                .map_err(|_| SinkError("store writer poisoned".into()))?;
            match &*slot {
                Some(sender) => sender.clone(),
                None => {
                    let sender = writer::spawn(&self.path).map_err(|e| SinkError(e.to_string()))?;
                    *slot = Some(sender.clone());
                    sender
                }
            }
        };
        let (reply, answer) = oneshot::channel();
        sender
            .send(Request { op, reply })
            .await
            .map_err(|_| SinkError("store writer stopped".into()))?;
        match answer.await {
            Ok(result) => result.map_err(|e| SinkError(e.to_string())),
            Err(_) => Err(SinkError("store writer stopped before answering".into())),
        }
    }
}

fn sink_error(e: StoreError) -> SinkError {
    SinkError(e.to_string())
}

#[async_trait]
impl TrajectorySink for Store {
    async fn begin_episode(&self, header: &EpisodeHeader) -> Result<(), SinkError> {
        let encoded = codec::encode_header(header, &self.memo).map_err(sink_error)?;
        self.write(Op::Begin(Box::new(encoded))).await
    }

    async fn record_step(
        &self,
        run_id: &str,
        episode_id: &str,
        step: &Step,
    ) -> Result<(), SinkError> {
        let encoded = codec::encode_step(run_id, episode_id, step).map_err(sink_error)?;
        self.write(Op::Step(encoded)).await
    }

    async fn end_episode(
        &self,
        run_id: &str,
        episode_id: &str,
        end: &EpisodeEnd,
    ) -> Result<(), SinkError> {
        let encoded = codec::encode_end(run_id, episode_id, end).map_err(sink_error)?;
        self.write(Op::End(encoded)).await
    }
}

impl Store {
    /// Runs `f` in one transaction: all of its writes land, or none. The
    /// transaction takes the write lock when it begins (waiting up to the
    /// busy timeout for other writers), so a write inside it never fails
    /// because another connection wrote after `f` began reading.
    pub(crate) fn in_transaction<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &mut Caches) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.located(codec::sql(e)))?;
        let out = f(&tx, &mut Caches::default()).map_err(|e| self.located(e))?;
        tx.commit().map_err(|e| self.located(codec::sql(e)))?;
        Ok(out)
    }

    /// Runs `f` in one read transaction: everything it reads is one
    /// snapshot of the store, whatever other connections write meanwhile.
    pub(crate) fn reading<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction()
            .map_err(|e| self.located(codec::sql(e)))?;
        // Dropping the transaction rolls it back: nothing was written.
        f(&tx).map_err(|e| self.located(e))
    }
}
