//! Reading a trajectory back: the episode row, its blobs (inflated and
//! checked against their hashes), its step rows and the event kinds they
//! list, put together into the [`Trajectory`] that was written. Anything
//! missing or malformed is an error naming the episode and the record.

use std::collections::HashMap;

use lifeharness_core::{
    EpisodeEnd, EpisodeHeader, LayerEvent, Step, TRAJECTORY_FORMAT, TRAJECTORY_VERSION, Trajectory,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::codec::{inflate, sql};
use crate::store::StoreError;

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
    type Row = (i64, Vec<u8>, String, Option<String>);
    let rows: Vec<Row> = c
        .prepare_cached(
            "SELECT idx, body, events, contents FROM step_rows WHERE ep = ?1 ORDER BY idx",
        )
        .and_then(|mut s| {
            s.query_map(params![ep], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect()
        })
        .map_err(sql)?;
    let mut steps = Vec::with_capacity(rows.len());
    for (idx, body, events, contents) in rows {
        let what = format!("step {idx}");
        let text = inflate(&body).map_err(|e| bad(&what, &e))?;
        let mut step: Step = serde_json::from_slice(&text)
            .map_err(|e| bad(&what, &format!("not the JSON expected: {e}")))?;
        if let Some(list) = contents {
            fill_contents(&mut step, &list, &blob, &what, &bad)?;
        }
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

/// Puts back the observation texts a step row lists as blobs
/// (`[[action index, blob id], ...]`).
fn fill_contents(
    step: &mut Step,
    list: &str,
    blob: &BlobReader<'_>,
    what: &str,
    bad: &dyn Fn(&str, &str) -> StoreError,
) -> Result<(), StoreError> {
    let pairs: Vec<(usize, i64)> = serde_json::from_str(list).map_err(|e| {
        bad(
            what,
            &format!("not a list of [action, blob] observation texts: {e}"),
        )
    })?;
    for (action, id) in pairs {
        let observation = step
            .actions
            .get_mut(action)
            .and_then(|a| a.observation.as_mut())
            .ok_or_else(|| {
                bad(
                    what,
                    &format!(
                        "its observation texts name action {action}, which has no observation"
                    ),
                )
            })?;
        observation.content = blob.read(id, &format!("{what} observation text"), bad)?;
    }
    Ok(())
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
