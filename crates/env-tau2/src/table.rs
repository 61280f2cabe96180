//! [`Table`]: a database table (id -> record, in file order) that episodes
//! share until they write it, and whose writes cost only what they touch.
//!
//! The records sit in fixed-size chunks behind `Arc`s, and the keys of the
//! loaded table in one shared index; cloning a table copies three pointers.
//! Writing a record copies the list of chunk pointers, the one chunk that
//! holds the record and the record itself; appending a key copies only the
//! (small) list of appended keys. Operations that move or remove keys
//! rebuild the table ([`Table::rebuild`]).
//!
//! The table also remembers each loaded record's tool-result text (its
//! `json.dumps(model_dump(record))`), so a read tool on a record no one
//! wrote copies a string instead of serialising. A record is served from
//! that store only while it is the very `Arc` that was loaded: a written
//! record is always a fresh copy (the loaded one stays referenced by the
//! table's base, so `Arc::make_mut` cannot write it in place), so a stale
//! text can never be returned.

use std::sync::{Arc, OnceLock};

use indexmap::{IndexMap, IndexSet};
use serde::{Deserialize, Deserializer};

use crate::pyjson::{self, PyDump, PyWriter};

/// Records per chunk: a write copies one chunk of this many pointers.
const CHUNK: usize = 32;

/// A table: id -> record, in insertion order, copy-on-write.
pub struct Table<T> {
    /// The keys and records the table was built with.
    base: Arc<Base<T>>,
    /// Keys appended since (none of them in `base.keys`), in order.
    extra: Option<Arc<IndexSet<Arc<str>>>>,
    /// The current records by index, `CHUNK` to a chunk.
    chunks: Arc<Vec<Arc<Vec<Arc<T>>>>>,
}

/// What a table was built with.
struct Base<T> {
    keys: IndexSet<Arc<str>>,
    records: Vec<Arc<T>>,
    /// `records[i]`'s unsorted dump, once computed.
    dumps: Vec<OnceLock<Box<str>>>,
}

impl<T> Clone for Table<T> {
    fn clone(&self) -> Self {
        Self {
            base: self.base.clone(),
            extra: self.extra.clone(),
            chunks: self.chunks.clone(),
        }
    }
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self::from_entries(std::iter::empty())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Equal as maps (same keys with equal records, in any order), as
/// `IndexMap`'s equality is.
impl<T: PartialEq> PartialEq for Table<T> {
    fn eq(&self, other: &Self) -> bool {
        if self.same_as(other) {
            return true;
        }
        self.len() == other.len()
            && self.iter().all(|(key, record)| {
                other
                    .get(key)
                    .is_some_and(|o| Arc::ptr_eq(o, record) || **o == **record)
            })
    }
}

impl<T> Table<T> {
    /// A table of `entries`; a repeated key keeps its first position and
    /// its last record (as collecting into an `IndexMap` does).
    pub fn from_entries(entries: impl IntoIterator<Item = (Arc<str>, Arc<T>)>) -> Self {
        let map: IndexMap<Arc<str>, Arc<T>> = entries.into_iter().collect();
        let mut keys = IndexSet::with_capacity(map.len());
        let mut records = Vec::with_capacity(map.len());
        for (key, record) in map {
            keys.insert(key);
            records.push(record);
        }
        let chunks = records
            .chunks(CHUNK)
            .map(|chunk| Arc::new(chunk.to_vec()))
            .collect();
        let dumps = records.iter().map(|_| OnceLock::new()).collect();
        Self {
            base: Arc::new(Base {
                keys,
                records,
                dumps,
            }),
            extra: None,
            chunks: Arc::new(chunks),
        }
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.base.keys.len() + self.extra.as_ref().map_or(0, |e| e.len())
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `other` is this very table (a clone nothing wrote since).
    pub fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.base, &other.base)
            && Arc::ptr_eq(&self.chunks, &other.chunks)
            && match (&self.extra, &other.extra) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }

    /// The position of `key`.
    pub fn index_of(&self, key: &str) -> Option<usize> {
        match self.base.keys.get_index_of(key) {
            Some(i) => Some(i),
            None => {
                let extra = self.extra.as_ref()?;
                extra.get_index_of(key).map(|i| i + self.base.keys.len())
            }
        }
    }

    fn key_at(&self, index: usize) -> Option<&Arc<str>> {
        let n = self.base.keys.len();
        if index < n {
            self.base.keys.get_index(index)
        } else {
            self.extra.as_ref()?.get_index(index - n)
        }
    }

    fn record_at(&self, index: usize) -> Option<&Arc<T>> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK)
    }

    /// The record at `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<T>> {
        self.record_at(self.index_of(key)?)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.index_of(key).is_some()
    }

    /// The key and record at position `index`.
    pub fn get_index(&self, index: usize) -> Option<(&Arc<str>, &Arc<T>)> {
        Some((self.key_at(index)?, self.record_at(index)?))
    }

    /// The first entry.
    pub fn first(&self) -> Option<(&Arc<str>, &Arc<T>)> {
        self.get_index(0)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &Arc<str>> {
        self.base
            .keys
            .iter()
            .chain(self.extra.iter().flat_map(|e| e.iter()))
    }

    /// The records, in order.
    pub fn values(&self) -> impl Iterator<Item = &Arc<T>> {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<T>)> {
        self.keys().zip(self.values())
    }

    /// Sets the record at `key`: in place when present, else appended.
    pub fn insert(&mut self, key: Arc<str>, record: Arc<T>) {
        if let Some(index) = self.index_of(&key) {
            *self.slot_mut(index) = record;
            return;
        }
        let index = self.len();
        let extra = self.extra.get_or_insert_with(Default::default);
        Arc::make_mut(extra).insert(key);
        let chunks = Arc::make_mut(&mut self.chunks);
        match chunks.last_mut() {
            Some(last) if !index.is_multiple_of(CHUNK) => Arc::make_mut(last).push(record),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(record);
                chunks.push(Arc::new(chunk));
            }
        }
    }

    /// The record pointer at `index` (which must exist), unshared.
    fn slot_mut(&mut self, index: usize) -> &mut Arc<T> {
        let chunks = Arc::make_mut(&mut self.chunks);
        let chunk = Arc::make_mut(&mut chunks[index / CHUNK]);
        &mut chunk[index % CHUNK]
    }

    /// Applies an arbitrary change to the entries (removals, re-orderings)
    /// by rebuilding the table; records keep their `Arc`s.
    pub fn rebuild(&mut self, change: impl FnOnce(&mut IndexMap<Arc<str>, Arc<T>>)) {
        let mut map: IndexMap<Arc<str>, Arc<T>> =
            self.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        change(&mut map);
        *self = Self::from_entries(map);
    }
}

impl<T: Clone> Table<T> {
    /// Mutable access to the record at `key`, copying what is shared.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        let index = self.index_of(key)?;
        Some(Arc::make_mut(self.slot_mut(index)))
    }
}

impl<T: PyDump> Table<T> {
    /// `json.dumps(model_dump(record))` of the record at `key` (the text
    /// the read tools return).
    pub fn dumps(&self, key: &str) -> Option<String> {
        let index = self.index_of(key)?;
        let record = self.record_at(index)?;
        if let (Some(loaded), Some(text)) =
            (self.base.records.get(index), self.base.dumps.get(index))
            && Arc::ptr_eq(loaded, record)
        {
            return Some(text.get_or_init(|| dump_text(record)).to_string());
        }
        Some(pyjson::dumps(&**record))
    }

    /// Computes every loaded record's text now (the domain's shared tables
    /// do this once, so no episode pays for it).
    pub fn prime_dumps(&self) {
        for (record, text) in self.base.records.iter().zip(&self.base.dumps) {
            text.get_or_init(|| dump_text(record));
        }
    }
}

fn dump_text<T: PyDump>(record: &T) -> Box<str> {
    pyjson::dumps(record).into_boxed_str()
}

impl<T: PyDump> PyDump for Table<T> {
    fn dump(&self, w: &mut PyWriter) {
        let entries = self.iter().map(|(k, v)| (&**k, &**v));
        w.entries(entries);
    }
}

/// Reads a JSON object into a [`Table`].
pub fn table<'de, D, T>(de: D) -> Result<Table<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let raw: IndexMap<String, T> = IndexMap::deserialize(de)?;
    Ok(Table::from_entries(
        raw.into_iter()
            .map(|(k, v)| (Arc::from(k.as_str()), Arc::new(v))),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Table<String> {
        Table::from_entries((0..n).map(|i| (Arc::from(format!("k{i}")), Arc::new(format!("v{i}")))))
    }

    fn entries(t: &Table<String>) -> Vec<(String, String)> {
        t.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn behaves_like_an_index_map() {
        let mut t = table(70);
        let mut m: IndexMap<String, String> = entries(&t).into_iter().collect();
        let shared = t.clone();
        for i in [0, 31, 32, 69] {
            *t.get_mut(&format!("k{i}")).unwrap() = format!("w{i}");
            m.insert(format!("k{i}"), format!("w{i}"));
        }
        for i in [3, 70, 71, 95, 96, 97] {
            t.insert(Arc::from(format!("k{i}")), Arc::new(format!("n{i}")));
            m.insert(format!("k{i}"), format!("n{i}"));
        }
        *t.get_mut("k96").unwrap() = "x".to_string();
        m.insert("k96".to_string(), "x".to_string());
        assert_eq!(entries(&t), m.clone().into_iter().collect::<Vec<_>>());
        assert_eq!(t.len(), m.len());
        for (i, (k, v)) in m.iter().enumerate() {
            assert_eq!(t.index_of(k), Some(i));
            assert_eq!(t.get(k).map(|v| v.as_str()), Some(v.as_str()));
            assert_eq!(t.get_index(i).map(|(k, _)| k.to_string()), Some(k.clone()));
        }
        assert!(t.get("k98").is_none() && t.get_index(m.len()).is_none());
        // The clone taken before the writes is untouched.
        assert_eq!(entries(&shared), entries(&table(70)));
        assert!(shared.same_as(&shared.clone()) && !shared.same_as(&t));
        assert_ne!(shared, t);
        t.rebuild(|m| {
            m.shift_remove("k5");
        });
        m.shift_remove("k5");
        assert_eq!(entries(&t), m.into_iter().collect::<Vec<_>>());
        assert_eq!(Table::<String>::default().len(), 0);
    }

    #[test]
    fn equality_is_map_equality() {
        let a = table(40);
        let mut b = a.clone();
        b.rebuild(|m| m.swap_indices(0, 39));
        assert_eq!(a, b);
        *b.get_mut("k1").unwrap() = "v1".to_string();
        assert_eq!(a, b);
        *b.get_mut("k1").unwrap() = "other".to_string();
        assert_ne!(a, b);
    }

    #[test]
    fn stored_texts_follow_writes() {
        let mut t = table(40);
        t.prime_dumps();
        assert_eq!(t.dumps("k33").as_deref(), Some("\"v33\""));
        let before = t.clone();
        *t.get_mut("k33").unwrap() = "changed".to_string();
        assert_eq!(t.dumps("k33").as_deref(), Some("\"changed\""));
        assert_eq!(before.dumps("k33").as_deref(), Some("\"v33\""));
        t.insert(Arc::from("k34"), Arc::new("new".to_string()));
        assert_eq!(t.dumps("k34").as_deref(), Some("\"new\""));
        t.insert(Arc::from("k99"), Arc::new("appended".to_string()));
        assert_eq!(t.dumps("k99").as_deref(), Some("\"appended\""));
        t.rebuild(|m| m.swap_indices(33, 34));
        assert_eq!(t.dumps("k33").as_deref(), Some("\"changed\""));
        assert_eq!(t.dumps("k34").as_deref(), Some("\"new\""));
        assert_eq!(t.dumps("nope"), None);
    }
}
