//! The database hash, incrementally: the sorted Python dump of the initial
//! database is kept once per loaded domain, with the sha256 state at regular
//! offsets, so hashing an episode's database costs only what it changed.
//!
//! The value is exactly [`Db::hash`] (sha256 of
//! `json.dumps(model_dump(db), sort_keys=True, default=str)`); only the work
//! differs. Tables and records are copy-on-write (see [`crate::db::Table`]):
//! a record an episode never wrote is the very `Arc` of the initial
//! database, so its bytes are already in the stored dump. Hashing walks the
//! tables, serialises only records that are not that `Arc` (or new), and
//! splices them into the stored dump; the hash resumes from the last stored
//! state before the first change and feeds the untouched stretches straight
//! from the stored bytes. A database no write touched hashes in no time.
//!
//! The hash is a function of the stored dump and the list of splices alone,
//! so hashes already computed are remembered by that list (bounded, see
//! [`MEMO_BYTES`]): every trial of a task replays the same gold actions and
//! makes the same splices, and so do episodes that end in the same state.
//! Only the SHA-256 work is skipped; the splices are found as before.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::airline::model::{Flight, FlightDb, Reservation, User as AirlineUser};
use crate::db::Table;
use crate::domain::Db;
use crate::pyjson::{PyDump, PyWriter};
use crate::retail::model::{Order, Product, RetailDb, User as RetailUser};

/// Bytes of dump between two stored sha256 states (each state is about
/// 110 bytes, so about 27 bytes of memory per KiB of dump; resuming hashes
/// at most this many bytes twice).
const STRIDE: usize = 4096;

/// The most bytes of splices the memo of computed hashes keeps (it starts
/// over when full).
const MEMO_BYTES: usize = 8 << 20;
/// Splice lists longer than this (a rewritten table) are not remembered.
const MEMO_ENTRY_BYTES: usize = 256 << 10;

/// A span of the stored dump and the bytes that replace it.
type Edit = (Range<usize>, Vec<u8>);

/// The initial database's sorted dump, its record spans and sha256 states.
pub struct HashCache {
    /// `json.dumps(model_dump(initial), sort_keys=True)` as bytes.
    stream: Vec<u8>,
    /// `checkpoints[k]`: the sha256 state after `stream[..k * STRIDE]`.
    checkpoints: Vec<Sha256>,
    /// Lowercase hex sha256 of `stream`.
    initial_hex: String,
    /// The tables, in the dump's (sorted) order.
    tables: Tables,
    /// Hashes computed, by their splices.
    memo: Mutex<Memo>,
}

/// Hex digests by the exact list of splices that produced them.
#[derive(Default)]
struct Memo {
    hashes: HashMap<Vec<Edit>, String>,
    /// Bytes of splices held.
    bytes: usize,
}

impl Memo {
    fn get(&self, edits: &[Edit]) -> Option<String> {
        self.hashes.get(edits).cloned()
    }

    fn insert(&mut self, edits: Vec<Edit>, hash: &str) {
        let bytes: usize = edits.iter().map(|(_, b)| b.len() + 16).sum();
        if bytes > MEMO_ENTRY_BYTES {
            return;
        }
        if self.bytes + bytes > MEMO_BYTES {
            self.hashes.clear();
            self.bytes = 0;
        }
        if self.hashes.insert(edits, hash.to_string()).is_none() {
            self.bytes += bytes;
        }
    }
}

enum Tables {
    Retail {
        orders: TableCache<Order>,
        products: TableCache<Product>,
        users: TableCache<RetailUser>,
    },
    Airline {
        flights: TableCache<Flight>,
        reservations: TableCache<Reservation>,
        users: TableCache<AirlineUser>,
    },
}

/// One table of the initial database and where its records sit in the dump.
struct TableCache<T> {
    /// The initial table (held, so its records' addresses stay theirs).
    initial: Table<T>,
    /// The table's text in the dump, braces included.
    region: Range<usize>,
    /// Sorted position -> index in `initial`.
    order: Vec<usize>,
    /// Index in `initial` -> sorted position.
    rank: Vec<usize>,
    /// Sorted position -> span of `"key": value` in the dump.
    spans: Vec<Range<usize>>,
}

impl std::fmt::Debug for HashCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashCache")
            .field("dump_bytes", &self.stream.len())
            .field("checkpoints", &self.checkpoints.len())
            .field("initial_hash", &self.initial_hex)
            .field("remembered", &self.remembered())
            .finish_non_exhaustive()
    }
}

impl HashCache {
    /// Dumps `db` (the initial database of a domain) and stores what
    /// [`HashCache::hash`] needs.
    pub fn build(db: &Db) -> Self {
        let mut w = PyWriter::with_capacity(true, 8 << 20);
        w.raw("{");
        let tables = match db {
            Db::Retail(RetailDb {
                products,
                users,
                orders,
            }) => {
                let orders = TableCache::write(&mut w, "orders", orders, true);
                let products = TableCache::write(&mut w, "products", products, false);
                let users = TableCache::write(&mut w, "users", users, false);
                Tables::Retail {
                    orders,
                    products,
                    users,
                }
            }
            Db::Airline(FlightDb {
                flights,
                users,
                reservations,
            }) => {
                let flights = TableCache::write(&mut w, "flights", flights, true);
                let reservations = TableCache::write(&mut w, "reservations", reservations, false);
                let users = TableCache::write(&mut w, "users", users, false);
                Tables::Airline {
                    flights,
                    reservations,
                    users,
                }
            }
        };
        w.raw("}");
        let mut stream = w.finish().into_bytes();
        stream.shrink_to_fit();
        let mut hasher = Sha256::new();
        let mut checkpoints = Vec::with_capacity(stream.len() / STRIDE + 1);
        for chunk in stream.chunks(STRIDE) {
            checkpoints.push(hasher.clone());
            hasher.update(chunk);
        }
        if stream.len().is_multiple_of(STRIDE) {
            checkpoints.push(hasher.clone());
        }
        Self {
            initial_hex: hex(hasher),
            stream,
            checkpoints,
            tables,
            memo: Mutex::default(),
        }
    }

    /// How many computed hashes are remembered.
    pub fn remembered(&self) -> usize {
        self.memo.lock().map_or(0, |m| m.hashes.len())
    }

    /// The hash of the initial database.
    pub fn initial_hash(&self) -> &str {
        &self.initial_hex
    }

    /// The bytes hashed for the initial database.
    pub fn initial_dump(&self) -> &[u8] {
        &self.stream
    }

    /// The original's `get_db_hash()` of `db`, equal to [`Db::hash`].
    pub fn hash(&self, db: &Db) -> String {
        let mut splice = Splice::default();
        match (&self.tables, db) {
            (
                Tables::Retail {
                    orders,
                    products,
                    users,
                },
                Db::Retail(d),
            ) => {
                orders.splice(&d.orders, &self.stream, &mut splice);
                products.splice(&d.products, &self.stream, &mut splice);
                users.splice(&d.users, &self.stream, &mut splice);
            }
            (
                Tables::Airline {
                    flights,
                    reservations,
                    users,
                },
                Db::Airline(d),
            ) => {
                flights.splice(&d.flights, &self.stream, &mut splice);
                reservations.splice(&d.reservations, &self.stream, &mut splice);
                users.splice(&d.users, &self.stream, &mut splice);
            }
            // Another domain's database: nothing to reuse.
            _ => return db.hash(),
        }
        self.finish(splice.edits)
    }

    /// The hash of the stored dump with `edits` applied, from the memo when
    /// it was computed before.
    fn finish(&self, edits: Vec<Edit>) -> String {
        if edits.is_empty() {
            return self.initial_hex.clone();
        }
        if let Some(hash) = self.memo.lock().ok().and_then(|m| m.get(&edits)) {
            return hash;
        }
        let hash = self.spliced_hash(&edits);
        if let Ok(mut memo) = self.memo.lock() {
            memo.insert(edits, &hash);
        }
        hash
    }

    /// Hashes the stored dump with `edits` (in dump order, each at or after
    /// the ones before) applied, starting from the last stored state before
    /// the first of them.
    fn spliced_hash(&self, edits: &[Edit]) -> String {
        let stream = self.stream.as_slice();
        let Some((first, _)) = edits.first() else {
            return self.initial_hex.clone();
        };
        // Everything before the first edit is the initial dump: resume there.
        let k = (first.start / STRIDE).min(self.checkpoints.len().saturating_sub(1));
        let mut hasher = self.checkpoints.get(k).cloned().unwrap_or_default();
        let mut cursor = k * STRIDE;
        for (span, bytes) in edits {
            let start = span.start.max(cursor);
            hasher.update(stream.get(cursor..start).unwrap_or_default());
            hasher.update(bytes);
            cursor = span.end.max(start);
        }
        hasher.update(stream.get(cursor..).unwrap_or_default());
        hex(hasher)
    }
}

impl<T: PyDump> TableCache<T> {
    /// Writes `"name": {table}` (preceded by `", "` unless `first`) and
    /// records where each record landed.
    fn write(w: &mut PyWriter, name: &str, table: &Table<T>, first: bool) -> Self {
        if !first {
            w.raw(", ");
        }
        w.str(name);
        w.raw(": ");
        let mut order: Vec<usize> = (0..table.len()).collect();
        order.sort_unstable_by(|&a, &b| key_at(table, a).cmp(key_at(table, b)));
        let mut rank = vec![0; table.len()];
        let mut spans = Vec::with_capacity(table.len());
        let start = w.as_str().len();
        w.raw("{");
        for (position, &index) in order.iter().enumerate() {
            if position > 0 {
                w.raw(", ");
            }
            if let Some(slot) = rank.get_mut(index) {
                *slot = position;
            }
            let begin = w.as_str().len();
            if let Some((key, record)) = table.get_index(index) {
                write_entry(w, key, record);
            }
            spans.push(begin..w.as_str().len());
        }
        w.raw("}");
        Self {
            initial: table.clone(),
            region: start..w.as_str().len(),
            order,
            rank,
            spans,
        }
    }

    /// Hands `splice` this table's changes against `stream`, the dump of
    /// the initial database.
    fn splice(&self, current: &Table<T>, stream: &[u8], splice: &mut Splice) {
        if current.same_as(&self.initial) {
            return;
        }
        match self.edits(current, stream) {
            Some(edits) => {
                for (span, bytes) in edits {
                    splice.replace(span, bytes);
                }
            }
            None => {
                // Keys moved or went away: rewrite the whole table.
                let mut w = PyWriter::new(true);
                current.dump(&mut w);
                let fresh = w.finish().into_bytes();
                if stream.get(self.region.clone()) != Some(fresh.as_slice()) {
                    splice.replace(self.region.clone(), fresh);
                }
            }
        }
    }

    /// The changes of `current`, as (span of the dump, new bytes) in dump
    /// order; `None` unless every initial key is still at its index (true
    /// for tools that only update and append).
    fn edits(&self, current: &Table<T>, stream: &[u8]) -> Option<Vec<(Range<usize>, Vec<u8>)>> {
        let n = self.initial.len();
        if current.len() < n {
            return None;
        }
        let mut edits = Vec::new();
        for (index, ((key0, record0), (key1, record1))) in
            self.initial.iter().zip(current.iter()).enumerate()
        {
            if !(Arc::ptr_eq(key0, key1) || key0 == key1) {
                return None;
            }
            if Arc::ptr_eq(record0, record1) {
                continue;
            }
            let span = self
                .rank
                .get(index)
                .and_then(|&position| self.spans.get(position))?;
            let fresh = entry_bytes(key1, record1);
            if stream.get(span.clone()) != Some(fresh.as_slice()) {
                edits.push((span.clone(), fresh));
            }
        }
        // New keys (indices past the initial ones), grouped by the gap of
        // the sorted initial keys they fall into.
        let mut added: Vec<(&str, &T)> = current
            .iter()
            .skip(n)
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect();
        added.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut gaps: Vec<(usize, Vec<u8>)> = Vec::new();
        for (key, record) in added {
            let gap = self
                .order
                .partition_point(|&i| key_at(&self.initial, i) < key);
            let entry = entry_bytes(key, record);
            match gaps.last_mut() {
                Some((g, bytes)) if *g == gap => {
                    if gap == n {
                        bytes.extend_from_slice(b", ");
                        bytes.extend_from_slice(&entry);
                    } else {
                        bytes.extend_from_slice(&entry);
                        bytes.extend_from_slice(b", ");
                    }
                }
                _ => {
                    let mut bytes = Vec::with_capacity(entry.len() + 2);
                    if gap == n {
                        if n > 0 {
                            bytes.extend_from_slice(b", ");
                        }
                        bytes.extend_from_slice(&entry);
                    } else {
                        bytes.extend_from_slice(&entry);
                        bytes.extend_from_slice(b", ");
                    }
                    gaps.push((gap, bytes));
                }
            }
        }
        for (gap, bytes) in gaps {
            let at = match self.spans.get(gap) {
                Some(span) => span.start,
                None => match self.spans.last() {
                    Some(span) => span.end,
                    // An empty table: between its braces.
                    None => self.region.start + 1,
                },
            };
            edits.push((at..at, bytes));
        }
        // An insertion before a record sorts before that record's rewrite.
        edits.sort_by_key(|(span, _)| (span.start, span.end));
        Some(edits)
    }
}

fn key_at<T>(table: &Table<T>, index: usize) -> &str {
    table.get_index(index).map_or("", |(k, _)| k.as_ref())
}

fn write_entry<T: PyDump>(w: &mut PyWriter, key: &str, record: &T) {
    w.str(key);
    w.raw(": ");
    record.dump(w);
}

fn entry_bytes<T: PyDump>(key: &str, record: &T) -> Vec<u8> {
    let mut w = PyWriter::new(true);
    write_entry(&mut w, key, record);
    w.finish().into_bytes()
}

/// The spans of the stored dump that a database replaces, in dump order.
#[derive(Default)]
struct Splice {
    edits: Vec<Edit>,
}

impl Splice {
    /// Replaces `span` of the stored dump (at or after everything replaced
    /// so far) with `bytes`.
    fn replace(&mut self, span: Range<usize>, bytes: Vec<u8>) {
        self.edits.push((span, bytes));
    }
}

fn hex(hasher: Sha256) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = hasher.finalize();
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Domain, DomainData};
    use crate::pyjson;
    use indexmap::IndexMap;
    use serde_json::{Value, json};

    fn reference() -> Value {
        serde_json::from_str(include_str!("../tests/it/fixtures/python_reference.json")).unwrap()
    }

    #[test]
    fn the_stored_dump_is_the_full_dump() {
        for domain in [Domain::Retail, Domain::Airline] {
            let data = DomainData::load(domain).unwrap();
            let cache = HashCache::build(&data.db);
            assert_eq!(
                cache.initial_dump(),
                pyjson::dumps_sorted(&data.db).as_bytes()
            );
            assert_eq!(cache.initial_hash(), data.db.hash());
            assert_eq!(cache.hash(&data.db), data.db.hash());
            assert_eq!(cache.hash(&data.db.clone()), data.initial_hash);
        }
    }

    /// After every gold action of every task, the incremental hash equals
    /// the from-scratch one; after the last, it equals Python's.
    #[test]
    fn incremental_hash_equals_from_scratch_after_every_gold_write() {
        let reference = reference();
        for domain in [Domain::Retail, Domain::Airline] {
            let data = DomainData::load(domain).unwrap();
            let tasks = reference[domain.name()]["tasks"].as_object().unwrap();
            let mut changed = 0;
            for (task, _) in &data.tasks {
                let mut db = data.db.clone();
                let actions = task.evaluation_criteria.as_ref().unwrap().actions.iter();
                for action in actions.flatten() {
                    db.call(&action.name, &action.arguments);
                    assert_eq!(
                        data.db_hash(&db),
                        db.hash(),
                        "{domain:?} task {} after {}",
                        task.id,
                        action.name
                    );
                }
                let hash = data.db_hash(&db);
                assert_eq!(tasks[&task.id]["final_hash"], hash.as_str(), "{}", task.id);
                changed += usize::from(hash != data.initial_hash);
            }
            assert!(changed > 10, "{domain:?}: only {changed} tasks write");
        }
    }

    #[test]
    fn python_probes_hash_the_same_incrementally() {
        let reference = reference();
        for domain in [Domain::Retail, Domain::Airline] {
            let data = DomainData::load(domain).unwrap();
            let mut db = data.db.clone();
            for probe in reference[domain.name()]["probes"].as_array().unwrap() {
                db.call(probe["name"].as_str().unwrap(), &probe["arguments"]);
                assert_eq!(data.db_hash(&db), probe["hash_after"].as_str().unwrap());
            }
        }
    }

    fn retail(data: &DomainData) -> RetailDb {
        match &data.db {
            Db::Retail(db) => db.clone(),
            Db::Airline(_) => unreachable!(),
        }
    }

    /// Inserts at the start, middle and end of a table, a removal, a
    /// re-ordering, a re-built table and a rewrite with equal content.
    #[test]
    fn inserts_removals_and_rebuilt_tables_hash_like_from_scratch() {
        let data = DomainData::load(Domain::Retail).unwrap();
        let base = retail(&data);
        let check = |db: RetailDb| {
            let db = Db::Retail(db);
            assert_eq!(data.db_hash(&db), db.hash());
        };
        let first = base.orders.get_index(0).unwrap().1.clone();
        // Appended keys that sort first, in the middle, last, and twice in one gap.
        let mut db = base.clone();
        for key in ["!first", "#W5", "#W50", "~last", "~~later"] {
            db.orders.insert(Arc::from(key), first.clone());
        }
        let Tables::Retail { orders, users, .. } = &data.hashes.tables else {
            unreachable!()
        };
        // Appends are spliced in (not a rewrite of the table): three gaps
        // (first, between `#W5` and the `#W5...` orders, last).
        let edits = orders
            .edits(&db.orders, data.hashes.initial_dump())
            .unwrap();
        assert_eq!(edits.len(), 3);
        check(db);
        // An appended key plus a changed record right after its gap.
        let mut db = base.clone();
        let (key, _) = base.orders.get_index(3).unwrap();
        let mut before = key.to_string();
        before.pop();
        db.orders.insert(Arc::from(before.as_str()), first.clone());
        crate::db::record_mut(&mut db.orders, key).unwrap().status = "changed".to_string();
        check(db);
        // Removed and re-ordered keys.
        let mut db = base.clone();
        db.users.rebuild(|m| {
            m.shift_remove_index(7);
        });
        assert!(users.edits(&db.users, data.hashes.initial_dump()).is_none());
        check(db);
        let mut db = base.clone();
        db.products.rebuild(|m| m.swap_indices(0, 5));
        check(db);
        // Everything re-read (as `update_db` does), and records cloned but unchanged.
        let mut db = Db::Retail(base.clone());
        db.merge(&json!({"users": {}})).unwrap();
        assert_eq!(data.db_hash(&db), data.initial_hash);
        let mut db = base.clone();
        let key = db.users.get_index(0).unwrap().0.clone();
        crate::db::record_mut(&mut db.users, &key).unwrap();
        let db = Db::Retail(db);
        assert_eq!(data.db_hash(&db), data.initial_hash);
        // An emptied table, then one record put back.
        let mut db = base.clone();
        db.products.rebuild(IndexMap::clear);
        check(db.clone());
        let empty = Db::Retail(db.clone());
        let empty_cache = HashCache::build(&empty);
        let product = |i: usize| base.products.get_index(i).unwrap().1.clone();
        db.products.insert(Arc::from("p1"), product(0));
        db.products.insert(Arc::from("p0"), product(1));
        let db = Db::Retail(db);
        assert_eq!(empty_cache.hash(&db), db.hash());
        assert_eq!(empty_cache.hash(&empty), empty.hash());
    }

    /// A second database with the same changes is hashed from the memo, to
    /// the same value; a different change is not mistaken for it.
    #[test]
    fn the_same_changes_hash_once() {
        let data = DomainData::load(Domain::Retail).unwrap();
        let cache = HashCache::build(&data.db);
        let base = retail(&data);
        let changed = |status: &str| {
            let mut db = base.clone();
            let key = db.orders.get_index(3).unwrap().0.clone();
            crate::db::record_mut(&mut db.orders, &key).unwrap().status = status.to_string();
            Db::Retail(db)
        };
        let (a, b, c) = (changed("x"), changed("x"), changed("y"));
        assert_eq!(cache.hash(&data.db), data.initial_hash);
        assert_eq!(cache.remembered(), 0);
        let first = cache.hash(&a);
        assert_eq!(cache.remembered(), 1);
        assert_eq!(cache.hash(&b), first);
        assert_eq!(cache.remembered(), 1);
        assert_eq!(first, a.hash());
        assert_eq!(cache.hash(&c), c.hash());
        assert_ne!(cache.hash(&c), first);
        assert_eq!(cache.remembered(), 2);
    }

    #[test]
    fn the_memo_is_bounded() {
        let mut memo = Memo::default();
        let edit = |i: usize| vec![(i..i + 1, vec![b'x'; MEMO_ENTRY_BYTES / 2])];
        memo.insert(vec![(0..1, vec![0; MEMO_ENTRY_BYTES + 1])], "big");
        assert!(memo.hashes.is_empty());
        for i in 0..4 * MEMO_BYTES / MEMO_ENTRY_BYTES {
            memo.insert(edit(i), "h");
            assert!(memo.bytes <= MEMO_BYTES);
        }
        assert!(!memo.hashes.is_empty());
    }

    #[test]
    fn another_domains_database_hashes_from_scratch() {
        let retail = DomainData::load(Domain::Retail).unwrap();
        let airline = DomainData::load(Domain::Airline).unwrap();
        assert_eq!(retail.db_hash(&airline.db), airline.initial_hash);
    }
}
