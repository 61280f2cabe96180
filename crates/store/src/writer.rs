//! The writer thread: one connection that commits sink writes.
//!
//! Episodes hand their (already serialized and deflated) records to the
//! writer over a channel and wait for its answer, which comes only after
//! the transaction holding the record committed. Writes that arrive while a
//! transaction is being written join the next one (group commit); each is
//! wrapped in a savepoint, so one failing write fails alone.

use std::path::Path;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::codec::{self, Caches, EncodedEnd, EncodedHeader, EncodedStep};
use crate::store::StoreError;

/// Most writes committed together.
const MAX_BATCH: usize = 512;
/// Writes queued before senders wait (each episode has at most one in flight).
const QUEUE: usize = 1024;

/// One write.
pub(crate) enum Op {
    Begin(Box<EncodedHeader>),
    Step(EncodedStep),
    End(EncodedEnd),
}

/// A write and where its result goes.
pub(crate) struct Request {
    pub(crate) op: Op,
    pub(crate) reply: oneshot::Sender<Result<(), StoreError>>,
}

/// Starts the writer thread on its own connection to `path`.
pub(crate) fn spawn(path: &Path) -> Result<mpsc::Sender<Request>, StoreError> {
    let shown = path.display().to_string();
    let wrap = |source| StoreError::Sqlite {
        path: shown.clone(),
        source,
    };
    let conn = Connection::open(path).map_err(wrap)?;
    crate::store::configure(&conn).map_err(wrap)?;
    let (tx, rx) = mpsc::channel::<Request>(QUEUE);
    std::thread::Builder::new()
        .name("lifeharness-store-writer".into())
        .spawn(move || serve(conn, rx, &shown))
        .map_err(|e| StoreError::Io(format!("store writer thread: {e}")))?;
    Ok(tx)
}

fn serve(conn: Connection, mut rx: mpsc::Receiver<Request>, path: &str) {
    let mut caches = Caches::default();
    // Ends when every sender is gone (the last `Store` clone was dropped).
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let results = commit(&conn, &mut caches, &batch, path);
        for (request, result) in batch.into_iter().zip(results) {
            // The waiting episode may have been dropped (cancelled): nothing to tell.
            let _ = request.reply.send(result);
        }
    }
}

fn apply(c: &Connection, caches: &mut Caches, op: &Op) -> rusqlite::Result<()> {
    match op {
        Op::Begin(h) => codec::write_begin(c, caches, h),
        Op::Step(s) => codec::write_step(c, caches, s),
        Op::End(e) => codec::write_end(c, caches, e),
    }
}

fn describe(op: &Op, source: rusqlite::Error, path: &str) -> StoreError {
    match (op, &source) {
        (Op::Step(_) | Op::End(_), rusqlite::Error::QueryReturnedNoRows) => StoreError::NotFound(
            format!("store {path}: the episode was not begun before this write"),
        ),
        _ => StoreError::Sqlite {
            path: path.to_string(),
            source,
        },
    }
}

/// Runs one cached statement (transaction control: parsed once per connection).
fn run(c: &Connection, sql: &str) -> rusqlite::Result<()> {
    c.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Commits `batch` in one transaction, each write in its own savepoint so
/// that one failing write fails alone; returns each write's result.
fn commit(
    conn: &Connection,
    caches: &mut Caches,
    batch: &[Request],
    path: &str,
) -> Vec<Result<(), StoreError>> {
    let all_fail = |caches: &mut Caches, source: rusqlite::Error| {
        // Ids cached during the transaction may have been rolled back.
        caches.clear();
        let _ = run(conn, "ROLLBACK");
        let text = source.to_string();
        batch
            .iter()
            .map(|_| {
                Err(StoreError::Io(format!(
                    "store {path}: commit failed: {text}"
                )))
            })
            .collect()
    };
    if let Err(e) = run(conn, "BEGIN IMMEDIATE") {
        return all_fail(caches, e);
    }
    let mut results = Vec::with_capacity(batch.len());
    for request in batch {
        let outcome =
            run(conn, "SAVEPOINT write").and_then(|()| match apply(conn, caches, &request.op) {
                Ok(()) => run(conn, "RELEASE write").map(|()| Ok(())),
                Err(e) => {
                    caches.clear();
                    run(conn, "ROLLBACK TO write")?;
                    run(conn, "RELEASE write")?;
                    Ok(Err(e))
                }
            });
        match outcome {
            Ok(Ok(())) => results.push(Ok(())),
            Ok(Err(e)) => results.push(Err(describe(&request.op, e, path))),
            // The transaction itself is broken: nothing of it stands.
            Err(e) => return all_fail(caches, e),
        }
    }
    match run(conn, "COMMIT") {
        Ok(()) => results,
        Err(e) => all_fail(caches, e),
    }
}
