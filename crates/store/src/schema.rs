//! The database schema (versioned with `PRAGMA user_version`).

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// Creates the tables if they are missing.
pub(crate) const CREATE: &str = r#"
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
