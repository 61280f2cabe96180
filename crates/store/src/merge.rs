//! Merging another store file into this one (e.g. the shards of a matrix,
//! each run in its own store): its runs, episodes, matrices and evolutions
//! that this store lacks are copied, and the cells of a matrix both hold
//! are unioned. One transaction: everything lands or nothing.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::codec::{self, Caches, sql};
use crate::matrix::{MATRIX_COLUMNS, MatrixRow, matrix_row, parse_cells};
use crate::store::{Store, StoreError};

/// What [`Store::merge_from`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct MergeSummary {
    /// Runs this store did not have.
    pub runs_added: usize,
    /// Runs this store had that gained episodes.
    pub runs_extended: usize,
    /// Episodes copied.
    pub episodes_added: usize,
    /// Episodes this store already had (by run and episode id), left as they were.
    pub episodes_skipped: usize,
    /// Matrices this store did not have.
    pub matrices_added: usize,
    /// Matrices both stores had, whose cells were unioned.
    pub matrices_merged: usize,
    /// Evolutions this store did not have.
    pub evolutions_added: usize,
}

/// A run row: run id, created at, status, config (JSON text).
type RunRow = (String, String, String, String);
/// An evolution row: id, created at, status, config, ledger, runs (JSON texts).
type EvolutionRow = (String, String, String, String, String, String);

/// What the other store holds, read in one snapshot.
struct Source {
    runs: Vec<RunRow>,
    /// Run id, episode id, status; in the order they were begun.
    episodes: Vec<(String, String, String)>,
    matrices: Vec<MatrixRow>,
    evolutions: Vec<EvolutionRow>,
}

fn read_rows<T>(
    tx: &Transaction<'_>,
    query: &str,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    tx.prepare(query)
        .and_then(|mut s| s.query_map([], row)?.collect())
        .map_err(sql)
}

impl Source {
    fn read(tx: &Transaction<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            runs: read_rows(
                tx,
                "SELECT run_id, created_at, status, config FROM runs ORDER BY rowid",
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?,
            episodes: read_rows(
                tx,
                "SELECT run_id, episode_id, status FROM episodes ORDER BY id",
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?,
            matrices: read_rows(
                tx,
                &format!("SELECT {MATRIX_COLUMNS} FROM matrices ORDER BY rowid"),
                matrix_row,
            )?,
            evolutions: read_rows(
                tx,
                "SELECT id, created_at, status, config, ledger, runs FROM evolutions ORDER BY rowid",
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )?,
        })
    }
}

fn exists(tx: &Transaction<'_>, query: &str, key: &[&str]) -> Result<bool, StoreError> {
    tx.prepare_cached(query)
        .and_then(|mut s| {
            s.query_row(rusqlite::params_from_iter(key), |_| Ok(()))
                .optional()
        })
        .map(|found| found.is_some())
        .map_err(sql)
}

/// Whether the file at `path` begins with the SQLite header. (An empty
/// file would open as an empty database: it is not taken for a store.)
fn is_sqlite(path: &Path) -> Result<bool, StoreError> {
    use std::io::Read;
    let mut head = [0u8; 16];
    match std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)) {
        Ok(()) => Ok(&head == b"SQLite format 3\0"),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(StoreError::Io(format!("{}: {e}", path.display()))),
    }
}

/// The matrices to write: rows to insert, and (id, unioned cells) to update.
type MatrixPlan = (Vec<MatrixRow>, Vec<(String, String)>);

impl Store {
    /// Copies into this store everything of the store at `other` that this
    /// one lacks: runs (as they are: id, creation time, status, config;
    /// a run both hold keeps this store's row), episodes (each rebuilt from
    /// `other` and written whole, with the status it had there, so an
    /// unfinished episode stays `running` or `interrupted`; an episode both
    /// hold is skipped, whatever its status in either), matrices, and
    /// evolutions. A matrix both hold keeps this store's row with the union
    /// of both cell maps; a cell that names two different runs is an error
    /// naming both. One transaction: on any error nothing is written.
    ///
    /// `other` is opened with [`Store::open`], so an older store is migrated
    /// in place first. Merging a store into itself is refused.
    pub fn merge_from(&self, other: &Path) -> Result<MergeSummary, StoreError> {
        if !other.is_file() {
            return Err(StoreError::NotFound(format!(
                "no store at {} to merge",
                other.display()
            )));
        }
        if !is_sqlite(other)? {
            return Err(StoreError::Malformed(format!(
                "{} is not a lifeharness store (not an SQLite database)",
                other.display()
            )));
        }
        let canonical = |p: &Path| {
            std::fs::canonicalize(p).map_err(|e| StoreError::Io(format!("{}: {e}", p.display())))
        };
        if canonical(other)? == canonical(self.path())? {
            return Err(StoreError::Malformed(format!(
                "cannot merge store {} into itself",
                other.display()
            )));
        }
        let source = Store::open(other)?;
        source.reading(|src| {
            let found = Source::read(src)?;
            self.in_transaction(|tx, caches| {
                let matrices = self.plan_matrices(tx, &source, &found.matrices)?;
                self.write_merge(tx, caches, &source, src, &found, matrices)
            })
        })
    }

    /// Unions the cells of the matrices both stores hold; the first cell
    /// mapped to two runs fails the merge.
    fn plan_matrices(
        &self,
        tx: &Transaction<'_>,
        source: &Store,
        theirs: &[MatrixRow],
    ) -> Result<MatrixPlan, StoreError> {
        let (mut added, mut merged) = (Vec::new(), Vec::new());
        for row in theirs {
            let (id, .., cells) = row;
            let ours: Option<String> = tx
                .prepare_cached("SELECT cells FROM matrices WHERE id = ?1")
                .and_then(|mut s| s.query_row(params![id], |r| r.get(0)).optional())
                .map_err(sql)?;
            let Some(ours) = ours else {
                parse_cells(id, cells)?;
                added.push(row.clone());
                continue;
            };
            let mut union: BTreeMap<String, String> = parse_cells(id, &ours)?;
            for (key, run) in parse_cells(id, cells)? {
                match union.get(&key) {
                    Some(mine) if *mine != run => {
                        return Err(StoreError::Malformed(format!(
                            "matrix {id}: cell '{key}' is run '{mine}' in {} but run '{run}' in {}; \
                             nothing was merged",
                            self.path().display(),
                            source.path().display()
                        )));
                    }
                    Some(_) => {}
                    None => {
                        union.insert(key, run);
                    }
                }
            }
            let text =
                serde_json::to_string(&union).map_err(|e| StoreError::Malformed(e.to_string()))?;
            merged.push((id.clone(), text));
        }
        Ok((added, merged))
    }

    fn write_merge(
        &self,
        tx: &Transaction<'_>,
        caches: &mut Caches,
        source: &Store,
        src: &Transaction<'_>,
        found: &Source,
        (new_matrices, merged_matrices): MatrixPlan,
    ) -> Result<MergeSummary, StoreError> {
        let mut summary = MergeSummary::default();
        let mut new_runs = HashSet::new();
        for (run_id, created_at, status, config) in &found.runs {
            if exists(tx, "SELECT 1 FROM runs WHERE run_id = ?1", &[run_id])? {
                continue;
            }
            tx.execute(
                "INSERT INTO runs (run_id, created_at, status, config) VALUES (?1, ?2, ?3, ?4)",
                params![run_id, created_at, status, config],
            )
            .map_err(sql)?;
            new_runs.insert(run_id.as_str());
            summary.runs_added += 1;
        }
        let mut extended = HashSet::new();
        for (run_id, episode_id, status) in &found.episodes {
            if exists(
                tx,
                "SELECT 1 FROM episodes WHERE run_id = ?1 AND episode_id = ?2",
                &[run_id, episode_id],
            )? {
                summary.episodes_skipped += 1;
                continue;
            }
            let trajectory = crate::read::read_trajectory(src, run_id, episode_id)
                .map_err(|e| source.located(e))?;
            codec::write_trajectory(tx, caches, &trajectory)?;
            // `write_trajectory` leaves an episode without an end `running`.
            tx.execute(
                "UPDATE episodes SET status = ?3 WHERE run_id = ?1 AND episode_id = ?2",
                params![run_id, episode_id, status],
            )
            .map_err(sql)?;
            summary.episodes_added += 1;
            if !new_runs.contains(run_id.as_str()) {
                extended.insert(run_id.as_str());
            }
        }
        summary.runs_extended = extended.len();
        for (id, created_at, status, config, cells) in &new_matrices {
            tx.execute(
                "INSERT INTO matrices (id, created_at, status, config, cells)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, created_at, status, config, cells],
            )
            .map_err(sql)?;
            summary.matrices_added += 1;
        }
        for (id, cells) in &merged_matrices {
            tx.execute(
                "UPDATE matrices SET cells = ?2 WHERE id = ?1",
                params![id, cells],
            )
            .map_err(sql)?;
            summary.matrices_merged += 1;
        }
        for (id, created_at, status, config, ledger, runs) in &found.evolutions {
            if exists(tx, "SELECT 1 FROM evolutions WHERE id = ?1", &[id])? {
                continue;
            }
            tx.execute(
                "INSERT INTO evolutions (id, created_at, status, config, ledger, runs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, created_at, status, config, ledger, runs],
            )
            .map_err(sql)?;
            summary.evolutions_added += 1;
        }
        Ok(summary)
    }
}
