//! The database schema (versioned with `PRAGMA user_version`).
//!
//! Version 2 stores what episodes repeat once: task data, environment,
//! model, harness and system text live in `blobs` (deflated JSON,
//! content-addressed by SHA-256) and episodes point at them; layer events
//! live once in `event_kinds` and each step lists the kinds it recorded.
//! `steps` and `events` are views with the columns version 1 had, for SQL
//! queries over a store (`steps.step` is now the step's deflated JSON
//! without its events; read whole trajectories with `Store::trajectory`).
//!
//! Version 3 also stores observation texts of 512 bytes or more as blobs
//! (tool results repeat across trials): the step's body then holds an empty
//! `content` and `step_rows.contents` lists `[[action index, blob id], ...]`
//! (NULL when no text is a blob). A version 2 store is a version 3 store
//! without such texts: it gains the column when opened. Version 1 (every
//! header and step row held its whole JSON) is migrated in place, in one
//! transaction, when a store is opened.

/// Any version 3 store gains the `evolutions` table (harness evolutions:
/// configuration, ledger, and the runs of their re-runs) when opened.
///
/// Likewise, without a version change, any version 3 store gains when opened:
/// - `matrices` (evaluation matrices: configuration, status, and the run of
///   each cell by the matrix's own cell keys, a JSON object);
/// - `episode_facts` (a cache of what reports derive from each episode,
///   tagged with the version of the code that derived them) and the
///   triggers that drop an episode's facts whenever the episode is written
///   to: begun, given a step, ended or its row updated (status included), so
///   cached facts never outlive the episode they describe.
///
/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = 3;

/// Creates the version 3 tables and views if they are missing.
pub(crate) const CREATE: &str = r#"
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    status      TEXT NOT NULL,
    config      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
    id          INTEGER PRIMARY KEY,
    hash        BLOB NOT NULL UNIQUE,
    body        BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS event_kinds (
    id          INTEGER PRIMARY KEY,
    body        TEXT NOT NULL UNIQUE,
    layer       TEXT NOT NULL,
    hook        TEXT NOT NULL,
    rule_id     TEXT,
    verdict     TEXT NOT NULL,
    message     TEXT,
    failure     TEXT,
    observe_only INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS episodes (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs(run_id),
    episode_id  TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    trial       INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    seed        INTEGER NOT NULL,
    status      TEXT NOT NULL,
    task        INTEGER NOT NULL REFERENCES blobs(id),
    environment INTEGER NOT NULL REFERENCES blobs(id),
    model       INTEGER NOT NULL REFERENCES blobs(id),
    harness     INTEGER NOT NULL REFERENCES blobs(id),
    system_text INTEGER NOT NULL REFERENCES blobs(id),
    events      TEXT NOT NULL,
    exit        TEXT,
    reward      REAL,
    end_record  TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (run_id, episode_id)
);
CREATE TABLE IF NOT EXISTS step_rows (
    id          INTEGER PRIMARY KEY,
    ep          INTEGER NOT NULL REFERENCES episodes(id),
    idx         INTEGER NOT NULL,
    body        BLOB NOT NULL,
    events      TEXT NOT NULL,
    contents    TEXT,
    UNIQUE (ep, idx)
);
CREATE TABLE IF NOT EXISTS evolutions (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    status      TEXT NOT NULL,
    config      TEXT NOT NULL,
    ledger      TEXT NOT NULL,
    runs        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS matrices (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    status      TEXT NOT NULL,
    config      TEXT NOT NULL,
    cells       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS episode_facts (
    run_id      TEXT NOT NULL,
    episode_id  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    facts       TEXT NOT NULL,
    PRIMARY KEY (run_id, episode_id)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS episode_facts_on_begin AFTER INSERT ON episodes BEGIN
    DELETE FROM episode_facts WHERE run_id = NEW.run_id AND episode_id = NEW.episode_id;
END;
CREATE TRIGGER IF NOT EXISTS episode_facts_on_update AFTER UPDATE ON episodes BEGIN
    DELETE FROM episode_facts WHERE run_id = OLD.run_id AND episode_id = OLD.episode_id;
    DELETE FROM episode_facts WHERE run_id = NEW.run_id AND episode_id = NEW.episode_id;
END;
CREATE TRIGGER IF NOT EXISTS episode_facts_on_step AFTER INSERT ON step_rows BEGIN
    DELETE FROM episode_facts
    WHERE run_id = (SELECT run_id FROM episodes WHERE id = NEW.ep)
      AND episode_id = (SELECT episode_id FROM episodes WHERE id = NEW.ep);
END;
CREATE VIEW IF NOT EXISTS steps AS
    SELECT e.run_id, e.episode_id, s.idx, s.body AS step
    FROM step_rows s JOIN episodes e ON e.id = s.ep;
CREATE VIEW IF NOT EXISTS events AS
    SELECT e.run_id, e.episode_id, NULL AS step_idx, CAST(j.key AS INTEGER) AS seq,
           k.layer, k.hook, k.rule_id, k.verdict, k.message, k.failure, k.observe_only
    FROM episodes e, json_each(e.events) j JOIN event_kinds k ON k.id = j.value
    UNION ALL
    SELECT e.run_id, e.episode_id, s.idx, CAST(j.key AS INTEGER),
           k.layer, k.hook, k.rule_id, k.verdict, k.message, k.failure, k.observe_only
    FROM step_rows s JOIN episodes e ON e.id = s.ep, json_each(s.events) j
         JOIN event_kinds k ON k.id = j.value;
"#;

/// Turns a version 2 store into a version 3 one.
pub(crate) const V2_UPGRADE: &str = "ALTER TABLE step_rows ADD COLUMN contents TEXT;";

/// Moves the version 1 tables aside before the version 2 ones are created.
pub(crate) const V1_RENAME: &str = r#"
DROP INDEX IF EXISTS events_by_rule;
DROP INDEX IF EXISTS events_by_episode;
ALTER TABLE episodes RENAME TO episodes_v1;
ALTER TABLE steps RENAME TO steps_v1;
ALTER TABLE events RENAME TO events_v1;
"#;

/// Drops the version 1 tables once their content is copied.
pub(crate) const V1_DROP: &str = r#"
DROP TABLE steps_v1;
DROP TABLE events_v1;
DROP TABLE episodes_v1;
"#;
