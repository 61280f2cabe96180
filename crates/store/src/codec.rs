//! How trajectories become rows and back: content-addressed blobs (deflated
//! JSON keyed by SHA-256), shared event kinds, one compact row per step.

use std::collections::HashMap;

use lifeharness_core::{
    ActionRecord, EpisodeEnd, EpisodeHeader, LayerEvent, Message, ModelError, ModelTurn, Step,
    TRAJECTORY_FORMAT, TRAJECTORY_VERSION, Trajectory,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::store::StoreError;

/// The most bytes one stored blob may inflate to.
const INFLATE_LIMIT: usize = 256 << 20;
/// Cache entries kept per connection before the caches start over.
const CACHE_LIMIT: usize = 8192;

/// Serialized JSON and its content hash.
pub(crate) struct Content {
    text: Vec<u8>,
    hash: [u8; 32],
}

/// A layer event as a shared kind: its JSON and the columns the `events` view shows.
pub(crate) struct EventKind {
    body: String,
    layer: String,
    hook: String,
    rule_id: Option<String>,
    verdict: String,
    message: Option<String>,
    failure: Option<&'static str>,
    observe_only: bool,
}

/// An episode header ready to write.
pub(crate) struct EncodedHeader {
    run_id: String,
    episode_id: String,
    task_id: String,
    trial: u32,
    attempt: u32,
    seed: u64,
    started_at: String,
    task: Content,
    environment: Content,
    model: Content,
    harness: Content,
    system_text: Content,
    events: Vec<EventKind>,
}

/// A step ready to write: deflated JSON without its events, and the events.
pub(crate) struct EncodedStep {
    run_id: String,
    episode_id: String,
    idx: i64,
    body: Vec<u8>,
    events: Vec<EventKind>,
}

/// An episode end ready to write.
pub(crate) struct EncodedEnd {
    run_id: String,
    episode_id: String,
    exit: &'static str,
    reward: Option<f64>,
    text: String,
    finished_at: String,
}

/// Ids already known to be stored (valid across transactions: rows are never deleted).
#[derive(Default)]
pub(crate) struct Caches {
    blobs: HashMap<[u8; 32], i64>,
    kinds: HashMap<String, i64>,
}

impl Caches {
    /// Forgets everything (after a rollback, ids may no longer exist).
    pub(crate) fn clear(&mut self) {
        self.blobs.clear();
        self.kinds.clear();
    }
}

fn malformed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Malformed(e.to_string())
}

fn content<T: Serialize + ?Sized>(value: &T) -> Result<Content, StoreError> {
    let text = serde_json::to_vec(value).map_err(malformed)?;
    let hash = Sha256::digest(&text).into();
    Ok(Content { text, hash })
}

fn label<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn event_kind(event: &LayerEvent) -> Result<EventKind, StoreError> {
    Ok(EventKind {
        body: serde_json::to_string(event).map_err(malformed)?,
        layer: event.layer.clone(),
        hook: label(&event.hook),
        rule_id: event.rule_id.clone(),
        verdict: label(&event.verdict),
        message: event.message.clone(),
        failure: event.failure.map(|f| f.as_str()),
        observe_only: event.observe_only,
    })
}

fn event_kinds(events: &[LayerEvent]) -> Result<Vec<EventKind>, StoreError> {
    events.iter().map(event_kind).collect()
}

pub(crate) fn deflate(bytes: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(bytes, 6)
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(bytes, INFLATE_LIMIT)
        .map_err(|e| format!("not deflate data ({:?})", e.status))
}

/// Encodes a header (serializing and hashing its parts).
pub(crate) fn encode_header(h: &EpisodeHeader) -> Result<EncodedHeader, StoreError> {
    Ok(EncodedHeader {
        run_id: h.run_id.clone(),
        episode_id: h.episode_id.clone(),
        task_id: h.task.id.clone(),
        trial: h.trial,
        attempt: h.attempt,
        seed: h.seed,
        started_at: h.started_at.clone(),
        task: content(&h.task)?,
        environment: content(&h.environment)?,
        model: content(&h.model)?,
        harness: content(&h.harness)?,
        system_text: content(&h.system_text)?,
        events: event_kinds(&h.events)?,
    })
}

/// A step as stored: every field but `events` (those are stored as kinds).
#[derive(Serialize)]
struct StepBody<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    turn: Option<&'a ModelTurn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_error: Option<&'a ModelError>,
    actions: &'a [ActionRecord],
    #[serde(skip_serializing_if = "no_messages")]
    injected: &'a [Message],
}

fn no_messages(list: &&[Message]) -> bool {
    list.is_empty()
}

/// Encodes a step: its JSON without `events`, deflated, plus its events.
pub(crate) fn encode_step(
    run_id: &str,
    episode_id: &str,
    step: &Step,
) -> Result<EncodedStep, StoreError> {
    // No `..`: a field added to `Step` must be added to `StepBody` too.
    let Step {
        index,
        turn,
        model_error,
        actions,
        injected,
        events,
    } = step;
    let body = StepBody {
        index: *index,
        turn: turn.as_ref(),
        model_error: model_error.as_ref(),
        actions,
        injected,
    };
    let text = serde_json::to_vec(&body).map_err(malformed)?;
    Ok(EncodedStep {
        run_id: run_id.to_string(),
        episode_id: episode_id.to_string(),
        idx: *index as i64,
        body: deflate(&text),
        events: event_kinds(events)?,
    })
}

/// Encodes an episode end.
pub(crate) fn encode_end(
    run_id: &str,
    episode_id: &str,
    end: &EpisodeEnd,
) -> Result<EncodedEnd, StoreError> {
    Ok(EncodedEnd {
        run_id: run_id.to_string(),
        episode_id: episode_id.to_string(),
        exit: end.exit.as_str(),
        reward: end.reward.as_ref().and_then(|r| r.value),
        text: serde_json::to_string(end).map_err(malformed)?,
        finished_at: end.finished_at.clone(),
    })
}

fn put_blob(c: &Connection, caches: &mut Caches, content: &Content) -> rusqlite::Result<i64> {
    if let Some(id) = caches.blobs.get(&content.hash) {
        return Ok(*id);
    }
    let found: Option<i64> = c
        .prepare_cached("SELECT id FROM blobs WHERE hash = ?1")?
        .query_row(params![&content.hash[..]], |r| r.get(0))
        .optional()?;
    let id = match found {
        Some(id) => id,
        None => {
            c.prepare_cached("INSERT INTO blobs (hash, body) VALUES (?1, ?2)")?
                .execute(params![&content.hash[..], deflate(&content.text)])?;
            c.last_insert_rowid()
        }
    };
    if caches.blobs.len() >= CACHE_LIMIT {
        caches.blobs.clear();
    }
    caches.blobs.insert(content.hash, id);
    Ok(id)
}

fn put_kinds(
    c: &Connection,
    caches: &mut Caches,
    events: &[EventKind],
) -> rusqlite::Result<String> {
    let mut list = String::with_capacity(2 + events.len() * 4);
    list.push('[');
    for (i, kind) in events.iter().enumerate() {
        let id = match caches.kinds.get(&kind.body) {
            Some(id) => *id,
            None => {
                let found: Option<i64> = c
                    .prepare_cached("SELECT id FROM event_kinds WHERE body = ?1")?
                    .query_row(params![kind.body], |r| r.get(0))
                    .optional()?;
                let id = match found {
                    Some(id) => id,
                    None => {
                        c.prepare_cached(
                            "INSERT INTO event_kinds
                             (body, layer, hook, rule_id, verdict, message, failure, observe_only)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        )?
                        .execute(params![
                            kind.body,
                            kind.layer,
                            kind.hook,
                            kind.rule_id,
                            kind.verdict,
                            kind.message,
                            kind.failure,
                            kind.observe_only,
                        ])?;
                        c.last_insert_rowid()
                    }
                };
                if caches.kinds.len() >= CACHE_LIMIT {
                    caches.kinds.clear();
                }
                caches.kinds.insert(kind.body.clone(), id);
                id
            }
        };
        if i > 0 {
            list.push(',');
        }
        list.push_str(&id.to_string());
    }
    list.push(']');
    Ok(list)
}

/// The row id of a begun episode; `QueryReturnedNoRows` if it was not begun.
fn episode_key(c: &Connection, run_id: &str, episode_id: &str) -> rusqlite::Result<i64> {
    c.prepare_cached("SELECT id FROM episodes WHERE run_id = ?1 AND episode_id = ?2")?
        .query_row(params![run_id, episode_id], |r| r.get(0))
}

/// Writes an episode's header (status `running`).
pub(crate) fn write_begin(
    c: &Connection,
    caches: &mut Caches,
    h: &EncodedHeader,
) -> rusqlite::Result<()> {
    let task = put_blob(c, caches, &h.task)?;
    let environment = put_blob(c, caches, &h.environment)?;
    let model = put_blob(c, caches, &h.model)?;
    let harness = put_blob(c, caches, &h.harness)?;
    let system_text = put_blob(c, caches, &h.system_text)?;
    let events = put_kinds(c, caches, &h.events)?;
    c.prepare_cached(
        "INSERT INTO episodes (run_id, episode_id, task_id, trial, attempt, seed, status,
             task, environment, model, harness, system_text, events, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        h.run_id,
        h.episode_id,
        h.task_id,
        h.trial,
        h.attempt,
        h.seed as i64,
        task,
        environment,
        model,
        harness,
        system_text,
        events,
        h.started_at,
    ])?;
    Ok(())
}

/// Writes one step.
pub(crate) fn write_step(
    c: &Connection,
    caches: &mut Caches,
    s: &EncodedStep,
) -> Result<(), rusqlite::Error> {
    let ep = episode_key(c, &s.run_id, &s.episode_id)?;
    let events = put_kinds(c, caches, &s.events)?;
    c.prepare_cached("INSERT INTO step_rows (ep, idx, body, events) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![ep, s.idx, s.body, events])?;
    Ok(())
}

/// Writes an episode's end (status `finished`).
pub(crate) fn write_end(c: &Connection, e: &EncodedEnd) -> rusqlite::Result<()> {
    let changed = c
        .prepare_cached(
            "UPDATE episodes SET status = 'finished', exit = ?3, reward = ?4, end_record = ?5,
                 finished_at = ?6
             WHERE run_id = ?1 AND episode_id = ?2",
        )?
        .execute(params![
            e.run_id,
            e.episode_id,
            e.exit,
            e.reward,
            e.text,
            e.finished_at
        ])?;
    if changed == 0 {
        return Err(rusqlite::Error::QueryReturnedNoRows);
    }
    Ok(())
}

/// A SQLite error whose store path [`Store`](crate::Store) fills in.
pub(crate) fn sql(source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: String::new(),
        source,
    }
}

/// Inflates a blob, checks it against its hash and parses it.
fn open_blob<T: DeserializeOwned>(hash: &[u8], body: &[u8]) -> Result<T, String> {
    let text = inflate(body)?;
    if Sha256::digest(&text)[..] != *hash {
        return Err("its content does not match its hash".to_string());
    }
    serde_json::from_slice(&text).map_err(|e| format!("not the JSON expected: {e}"))
}

/// Reads one episode's trajectory, rebuilt whole from its rows and blobs.
pub(crate) fn read_trajectory(
    c: &Connection,
    run_id: &str,
    episode_id: &str,
) -> Result<Trajectory, StoreError> {
    type Head = (i64, u32, u32, i64, [i64; 5], String, Option<String>, String);
    let head: Option<Head> = c
        .prepare_cached(
            "SELECT id, trial, attempt, seed, task, environment, model, harness, system_text,
                    events, end_record, started_at
             FROM episodes WHERE run_id = ?1 AND episode_id = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![run_id, episode_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    [r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?],
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                ))
            })
            .optional()
        })
        .map_err(sql)?;
    let Some((
        ep,
        trial,
        attempt,
        seed,
        [task, environment, model, harness, system],
        events,
        end,
        started_at,
    )) = head
    else {
        return Err(StoreError::NotFound(format!(
            "no episode '{episode_id}' in run '{run_id}'"
        )));
    };
    let bad = |what: &str, e: &str| {
        StoreError::Malformed(format!(
            "episode '{episode_id}' of run '{run_id}': stored {what} is malformed: {e}"
        ))
    };
    let mut kinds = KindReader {
        c,
        known: HashMap::new(),
    };
    let blob = BlobReader { c };
    let header = EpisodeHeader {
        run_id: run_id.to_string(),
        episode_id: episode_id.to_string(),
        task: blob.read(task, "task", &bad)?,
        trial,
        attempt,
        seed: seed as u64,
        environment: blob.read(environment, "environment", &bad)?,
        model: blob.read(model, "model", &bad)?,
        harness: blob.read(harness, "harness", &bad)?,
        system_text: blob.read(system, "system text", &bad)?,
        events: kinds.read(&events, "header event list", &bad)?,
        started_at,
    };
    let rows: Vec<(i64, Vec<u8>, String)> = c
        .prepare_cached("SELECT idx, body, events FROM step_rows WHERE ep = ?1 ORDER BY idx")
        .and_then(|mut s| {
            s.query_map(params![ep], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(sql)?;
    let mut steps = Vec::with_capacity(rows.len());
    for (idx, body, events) in rows {
        let what = format!("step {idx}");
        let text = inflate(&body).map_err(|e| bad(&what, &e))?;
        let mut step: Step = serde_json::from_slice(&text)
            .map_err(|e| bad(&what, &format!("not the JSON expected: {e}")))?;
        step.events = kinds.read(&events, &format!("event list of step {idx}"), &bad)?;
        steps.push(step);
    }
    let end = match end {
        Some(text) => Some(
            serde_json::from_str::<EpisodeEnd>(&text)
                .map_err(|e| bad("end", &format!("not the JSON expected: {e}")))?,
        ),
        None => None,
    };
    Ok(Trajectory {
        format: TRAJECTORY_FORMAT.to_string(),
        version: TRAJECTORY_VERSION,
        header,
        steps,
        end,
    })
}

/// Reads blobs by id.
struct BlobReader<'a> {
    c: &'a Connection,
}

impl BlobReader<'_> {
    fn read<T: DeserializeOwned>(
        &self,
        id: i64,
        what: &str,
        bad: &dyn Fn(&str, &str) -> StoreError,
    ) -> Result<T, StoreError> {
        let row: Option<(Vec<u8>, Vec<u8>)> = self
            .c
            .prepare_cached("SELECT hash, body FROM blobs WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(sql)?;
        let (hash, body) = row.ok_or_else(|| bad(what, &format!("blob {id} is missing")))?;
        open_blob(&hash, &body).map_err(|e| bad(what, &format!("blob {id}: {e}")))
    }
}

/// Reads event lists (`[id, ...]`), remembering the kinds it has read.
struct KindReader<'a> {
    c: &'a Connection,
    known: HashMap<i64, LayerEvent>,
}

impl KindReader<'_> {
    fn read(
        &mut self,
        list: &str,
        what: &str,
        bad: &dyn Fn(&str, &str) -> StoreError,
    ) -> Result<Vec<LayerEvent>, StoreError> {
        let ids: Vec<i64> = serde_json::from_str(list)
            .map_err(|e| bad(what, &format!("not a list of event ids: {e}")))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(event) = self.known.get(&id) {
                out.push(event.clone());
                continue;
            }
            let body: Option<String> = self
                .c
                .prepare_cached("SELECT body FROM event_kinds WHERE id = ?1")
                .and_then(|mut s| s.query_row(params![id], |r| r.get(0)).optional())
                .map_err(sql)?;
            let body = body.ok_or_else(|| bad(what, &format!("event kind {id} is missing")))?;
            let event: LayerEvent = serde_json::from_str(&body)
                .map_err(|e| bad(what, &format!("event kind {id}: {e}")))?;
            self.known.insert(id, event.clone());
            out.push(event);
        }
        Ok(out)
    }
}

/// Writes a whole trajectory (import, migration) in the caller's transaction.
pub(crate) fn write_trajectory(
    c: &Connection,
    caches: &mut Caches,
    t: &Trajectory,
) -> Result<(), StoreError> {
    let (run, episode) = (&t.header.run_id, &t.header.episode_id);
    write_begin(c, caches, &encode_header(&t.header)?).map_err(sql)?;
    for step in &t.steps {
        write_step(c, caches, &encode_step(run, episode, step)?).map_err(sql)?;
    }
    if let Some(end) = &t.end {
        write_end(c, &encode_end(run, episode, end)?).map_err(sql)?;
    }
    Ok(())
}
