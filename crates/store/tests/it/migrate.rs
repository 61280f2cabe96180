//! Stores written by earlier builds: versions 1 and 2 are migrated in
//! place, a version it cannot read is refused with its number.

use std::path::Path;

use lifeharness_core::Trajectory;
use lifeharness_store::Store;
use rusqlite::{Connection, params};
use serde_json::json;

use crate::rich::{harness, long_result, record, rich, with_result};

/// The version 1 schema, as the build before version 2 created it.
const V1: &str = r#"
CREATE TABLE runs (run_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, status TEXT NOT NULL, config TEXT NOT NULL);
CREATE TABLE episodes (
    run_id TEXT NOT NULL REFERENCES runs(run_id), episode_id TEXT NOT NULL, task_id TEXT NOT NULL,
    status TEXT NOT NULL, header TEXT NOT NULL, exit TEXT, reward REAL, end_record TEXT,
    started_at TEXT NOT NULL, finished_at TEXT, PRIMARY KEY (run_id, episode_id));
CREATE TABLE steps (run_id TEXT NOT NULL, episode_id TEXT NOT NULL, idx INTEGER NOT NULL,
    step TEXT NOT NULL, PRIMARY KEY (run_id, episode_id, idx));
CREATE TABLE events (run_id TEXT NOT NULL, episode_id TEXT NOT NULL, step_idx INTEGER,
    seq INTEGER NOT NULL, layer TEXT NOT NULL, hook TEXT NOT NULL, rule_id TEXT,
    verdict TEXT NOT NULL, message TEXT, failure TEXT, observe_only INTEGER NOT NULL DEFAULT 0);
CREATE INDEX events_by_rule ON events(rule_id);
CREATE INDEX events_by_episode ON events(run_id, episode_id);
PRAGMA user_version = 1;
"#;

fn label<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// Writes `t` the way the version 1 store did.
fn write_v1(conn: &Connection, t: &Trajectory, status: &str) {
    let h = &t.header;
    let end = t.end.as_ref();
    conn.execute(
        "INSERT INTO episodes (run_id, episode_id, task_id, status, header, exit, reward, end_record, started_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            h.run_id,
            h.episode_id,
            h.task.id,
            status,
            serde_json::to_string(h).unwrap(),
            end.map(|e| e.exit.as_str()),
            end.and_then(|e| e.reward.as_ref()).and_then(|r| r.value),
            end.map(|e| serde_json::to_string(e).unwrap()),
            h.started_at,
            end.map(|e| e.finished_at.clone()),
        ],
    )
    .unwrap();
    let events = h
        .events
        .iter()
        .enumerate()
        .map(|(seq, e)| (None, seq, e))
        .chain(t.steps.iter().flat_map(|s| {
            s.events
                .iter()
                .enumerate()
                .map(move |(seq, e)| (Some(s.index as i64), seq, e))
        }));
    for (step, seq, e) in events {
        conn.execute(
            "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                h.run_id,
                h.episode_id,
                step,
                seq as i64,
                e.layer,
                label(&e.hook),
                e.rule_id,
                label(&e.verdict),
                e.message,
                e.failure.map(|f| f.as_str()),
                e.observe_only
            ],
        )
        .unwrap();
    }
    for s in &t.steps {
        conn.execute(
            "INSERT INTO steps VALUES (?1, ?2, ?3, ?4)",
            params![
                h.run_id,
                h.episode_id,
                s.index as i64,
                serde_json::to_string(s).unwrap()
            ],
        )
        .unwrap();
    }
}

/// A version 1 store with one finished and one interrupted episode.
pub fn v1_store(db: &Path) -> (Trajectory, Trajectory) {
    let conn = Connection::open(db).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(V1).unwrap();
    conn.execute(
        "INSERT INTO runs VALUES ('r', '2026-01-01T00:00:00Z', 'interrupted', ?1)",
        params![json!({"env": "tau2-retail", "trials": 2}).to_string()],
    )
    .unwrap();
    let mut finished = rich("r", "5/0", harness("h"));
    with_result(&mut finished, &long_result("v1"));
    let mut cut = rich("r", "5/1", harness("h"));
    cut.end = None;
    cut.steps.truncate(2);
    write_v1(&conn, &finished, "finished");
    write_v1(&conn, &cut, "interrupted");
    (finished, cut)
}

fn version(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn rows(db: &Path, sql: &str) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, Option<String>>(0))
        .unwrap()
        .map(|r| r.unwrap().unwrap_or_default())
        .collect()
}

const EVENTS: &str = "SELECT episode_id || ':' || COALESCE(step_idx, '-') || ':' || seq || ':' ||
    layer || ':' || hook || ':' || COALESCE(rule_id, '') || ':' || verdict || ':' ||
    COALESCE(message, '') || ':' || COALESCE(failure, '') || ':' || observe_only
    FROM events ORDER BY 1";

#[test]
fn a_version_1_store_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    let (finished, cut) = v1_store(&db);
    let events_before = rows(&db, EVENTS);
    assert_eq!(events_before.len(), 6 + 5);

    let store = Store::open(&db).unwrap();
    assert_eq!(version(&db), 3);
    assert_eq!(store.trajectory("r", "5/0").unwrap(), finished);
    assert_eq!(store.trajectory("r", "5/1").unwrap(), cut);
    let episodes = store.episodes("r").unwrap();
    let listed: Vec<_> = episodes
        .iter()
        .map(|e| (e.episode_id.as_str(), e.status.as_str(), e.trial, e.steps))
        .collect();
    assert_eq!(
        listed,
        vec![("5/0", "finished", 3, 3), ("5/1", "interrupted", 3, 2)]
    );
    let run = store.run("r").unwrap();
    assert_eq!((run.status.as_str(), run.finished), ("interrupted", 1));
    assert_eq!(run.config["trials"], 2);
    // The events view answers the old queries with the same rows.
    assert_eq!(rows(&db, EVENTS), events_before);
    // The old tables are gone; the harness is stored once.
    assert!(rows(&db, "SELECT name FROM sqlite_master WHERE name LIKE '%_v1'").is_empty());
    assert_eq!(
        rows(&db, "SELECT DISTINCT CAST(harness AS TEXT) FROM episodes").len(),
        1
    );
    // Opening again is a no-op.
    drop(store);
    let again = Store::open(&db).unwrap();
    assert_eq!(again.trajectory("r", "5/0").unwrap(), finished);
}

#[test]
fn a_version_1_store_that_cannot_be_read_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    v1_store(&db);
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE steps SET step = '{\"index\": 1, \"actions\": [' WHERE episode_id = '5/1' AND idx = 1",
        [],
    )
    .unwrap();
    drop(conn);
    let err = Store::open(&db).unwrap_err().to_string();
    assert!(
        err.contains("schema version 1")
            && err.contains("could not be migrated to version 3")
            && err.contains("episode 5/1 of run r")
            && err.contains("left unchanged"),
        "{err}"
    );
    assert_eq!(version(&db), 1);
    assert_eq!(rows(&db, "SELECT step FROM steps").len(), 5);
    assert_eq!(rows(&db, "SELECT header FROM episodes").len(), 2);
}

#[test]
fn a_store_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v9.db");
    Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 9)
        .unwrap();
    let err = Store::open(&db).unwrap_err().to_string();
    assert!(
        err.contains("schema version 9") && err.contains("reads up to 3"),
        "{err}"
    );
    assert_eq!(version(&db), 9);
}

/// A version 2 store (every observation text inline, no `contents` column)
/// gains the column when opened; what it held reads back unchanged and new
/// episodes store their long texts as blobs.
#[tokio::test]
async fn a_version_2_store_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v2.db");
    let old = rich("r", "5/0", harness("h"));
    {
        let store = Store::open(&db).unwrap();
        store
            .create_run("r", "2026-01-01T00:00:00Z", &json!({}))
            .unwrap();
        record(&store, &old).await;
    }
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch("ALTER TABLE step_rows DROP COLUMN contents; PRAGMA user_version = 2;")
        .unwrap();
    drop(conn);
    let store = Store::open(&db).unwrap();
    assert_eq!(version(&db), 3);
    assert_eq!(store.trajectory("r", "5/0").unwrap(), old);
    let mut new = rich("r", "5/1", harness("h"));
    with_result(&mut new, &long_result("v3"));
    record(&store, &new).await;
    assert_eq!(store.trajectory("r", "5/1").unwrap(), new);
    assert_eq!(
        rows(
            &db,
            "SELECT contents FROM step_rows WHERE contents IS NOT NULL"
        )
        .len(),
        1
    );
    drop(store);
    let again = Store::open(&db).unwrap();
    assert_eq!(again.trajectory("r", "5/0").unwrap(), old);
}
