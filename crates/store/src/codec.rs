//! How trajectories become rows and back: content-addressed blobs (deflated
//! JSON keyed by SHA-256), shared event kinds, one compact row per step
//! whose long observation texts are blobs too.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lifeharness_core::{
    ActionRecord, EpisodeEnd, EpisodeHeader, HarnessInfo, LayerEvent, Message, ModelError,
    ModelTurn, Step, Trajectory,
};
use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress_to_output, create_comp_flags_from_zip_params,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::store::StoreError;

/// The most bytes one stored blob may inflate to.
const INFLATE_LIMIT: usize = 256 << 20;
/// Cache entries kept per connection before the caches start over.
const CACHE_LIMIT: usize = 8192;

/// Serialized JSON and its content hash.
#[derive(Debug)]
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
    harness: Arc<Content>,
    system_text: Content,
    events: Vec<EventKind>,
}

/// A step ready to write: deflated JSON without its events and long
/// observation texts, the events, and those texts by action index.
pub(crate) struct EncodedStep {
    run_id: String,
    episode_id: String,
    idx: i64,
    body: Vec<u8>,
    events: Vec<EventKind>,
    contents: Vec<(usize, Content)>,
}

/// Observation texts at least this long are stored as blobs, once however
/// many steps saw them (tool results repeat across trials and episodes); the
/// step's body then holds an empty `content`.
pub(crate) const CONTENT_BLOB_MIN: usize = 512;

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
    /// Row ids of the episodes begun and not yet ended, by (run, episode).
    episodes: HashMap<(String, String), i64>,
}

impl Caches {
    /// Forgets everything (after a rollback, ids may no longer exist).
    pub(crate) fn clear(&mut self) {
        self.blobs.clear();
        self.kinds.clear();
        self.episodes.clear();
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

/// The harnesses a store encoded last. A run's episodes share one harness
/// whose configuration can be large (tens of KB); checking that it is the
/// same costs less than serializing and hashing it again for every episode.
#[derive(Debug, Default)]
pub(crate) struct HarnessMemo(Mutex<Vec<Arc<Remembered>>>);

/// A harness and its encoding.
type Remembered = (Arc<HarnessInfo>, Arc<Content>);

/// Harnesses remembered.
const MEMO_KEEP: usize = 4;

impl HarnessMemo {
    /// The harness serialized and hashed, from the memo when it holds an identical one.
    fn content(&self, harness: &Arc<HarnessInfo>) -> Result<Arc<Content>, StoreError> {
        let seen: Vec<_> = self.0.lock().map(|s| s.clone()).unwrap_or_default();
        // The episodes of a run share one `Arc`: comparing pointers is enough.
        if let Some(entry) = seen.iter().find(|e| Arc::ptr_eq(&e.0, harness)) {
            return Ok(Arc::clone(&entry.1));
        }
        if let Some(entry) = seen.iter().find(|e| same_harness(&e.0, harness)) {
            return Ok(Arc::clone(&entry.1));
        }
        let encoded = Arc::new(content(harness)?);
        if let Ok(mut seen) = self.0.lock() {
            if seen.len() >= MEMO_KEEP {
                seen.remove(0);
            }
            seen.push(Arc::new((Arc::clone(harness), Arc::clone(&encoded))));
        }
        Ok(encoded)
    }
}

fn same_harness(a: &HarnessInfo, b: &HarnessInfo) -> bool {
    a.id == b.id && a.name == b.name && same_json(&a.config, &b.config)
}

/// Whether two values serialize to the same text (key order and the sign of
/// zero included, which `Value`'s own `==` ignores).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_json(va, vb))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Number(x), Value::Number(y)) => {
            x == y && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
        }
        _ => a == b,
    }
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

/// The deflate level of stored records.
const LEVEL: u8 = 6;

thread_local! {
    /// One compressor per thread, reset between records: a fresh one
    /// allocates and zeroes ~300 KB, which cost more than compressing a step.
    static COMPRESSOR: RefCell<Option<Box<CompressorOxide>>> = const { RefCell::new(None) };
}

/// Raw deflate of `bytes` (what [`inflate`] reads back).
pub(crate) fn deflate(bytes: &[u8]) -> Vec<u8> {
    COMPRESSOR.with_borrow_mut(|slot| {
        let compressor = slot.get_or_insert_with(|| {
            Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                LEVEL.into(),
                0,
                0,
            )))
        });
        compressor.reset();
        let mut out = Vec::with_capacity(bytes.len() / 3 + 64);
        let (status, _) = compress_to_output(compressor, bytes, TDEFLFlush::Finish, |chunk| {
            out.extend_from_slice(chunk);
            true
        });
        match status {
            TDEFLStatus::Done => out,
            // Not expected with a callback that takes everything; the
            // one-shot path allocates its own compressor.
            _ => miniz_oxide::deflate::compress_to_vec(bytes, LEVEL),
        }
    })
}

pub(crate) fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(bytes, INFLATE_LIMIT)
        .map_err(|e| format!("not deflate data ({:?})", e.status))
}

/// Encodes a header (serializing and hashing its parts).
pub(crate) fn encode_header(
    h: &EpisodeHeader,
    memo: &HarnessMemo,
) -> Result<EncodedHeader, StoreError> {
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
        harness: memo.content(&h.harness)?,
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
    let mut contents = Vec::new();
    let mut kept: Option<Vec<ActionRecord>> = None;
    for (i, record) in actions.iter().enumerate() {
        let Some(observation) = &record.observation else {
            continue;
        };
        if observation.content.len() < CONTENT_BLOB_MIN {
            continue;
        }
        contents.push((i, content(&observation.content)?));
        let kept = kept.get_or_insert_with(|| actions.clone());
        if let Some(o) = kept.get_mut(i).and_then(|r| r.observation.as_mut()) {
            o.content = Arc::from("");
        }
    }
    let body = StepBody {
        index: *index,
        turn: turn.as_ref(),
        model_error: model_error.as_ref(),
        actions: kept.as_deref().unwrap_or(actions),
        injected,
    };
    let text = serde_json::to_vec(&body).map_err(malformed)?;
    Ok(EncodedStep {
        run_id: run_id.to_string(),
        episode_id: episode_id.to_string(),
        idx: *index as i64,
        body: deflate(&text),
        events: event_kinds(events)?,
        contents,
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
fn episode_key(
    c: &Connection,
    caches: &Caches,
    run_id: &str,
    episode_id: &str,
) -> rusqlite::Result<i64> {
    let key = (run_id.to_string(), episode_id.to_string());
    if let Some(id) = caches.episodes.get(&key) {
        return Ok(*id);
    }
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
    if caches.episodes.len() >= CACHE_LIMIT {
        caches.episodes.clear();
    }
    caches.episodes.insert(
        (h.run_id.clone(), h.episode_id.clone()),
        c.last_insert_rowid(),
    );
    Ok(())
}

/// Writes one step.
pub(crate) fn write_step(
    c: &Connection,
    caches: &mut Caches,
    s: &EncodedStep,
) -> Result<(), rusqlite::Error> {
    let ep = episode_key(c, caches, &s.run_id, &s.episode_id)?;
    let events = put_kinds(c, caches, &s.events)?;
    let contents = if s.contents.is_empty() {
        None
    } else {
        let mut list = String::from("[");
        for (n, (action, content)) in s.contents.iter().enumerate() {
            let id = put_blob(c, caches, content)?;
            if n > 0 {
                list.push(',');
            }
            list.push_str(&format!("[{action},{id}]"));
        }
        list.push(']');
        Some(list)
    };
    c.prepare_cached(
        "INSERT INTO step_rows (ep, idx, body, events, contents) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![ep, s.idx, s.body, events, contents])?;
    Ok(())
}

/// Writes an episode's end (status `finished`).
pub(crate) fn write_end(
    c: &Connection,
    caches: &mut Caches,
    e: &EncodedEnd,
) -> rusqlite::Result<()> {
    caches
        .episodes
        .remove(&(e.run_id.clone(), e.episode_id.clone()));
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

/// Writes a whole trajectory (import, migration) in the caller's transaction.
pub(crate) fn write_trajectory(
    c: &Connection,
    caches: &mut Caches,
    t: &Trajectory,
) -> Result<(), StoreError> {
    let (run, episode) = (&t.header.run_id, &t.header.episode_id);
    write_begin(
        c,
        caches,
        &encode_header(&t.header, &HarnessMemo::default())?,
    )
    .map_err(sql)?;
    for step in &t.steps {
        write_step(c, caches, &encode_step(run, episode, step)?).map_err(sql)?;
    }
    if let Some(end) = &t.end {
        write_end(c, caches, &encode_end(run, episode, end)?).map_err(sql)?;
    }
    Ok(())
}
