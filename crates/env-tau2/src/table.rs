//! [`Table`]: a database table (id -> record, in file order) that episodes
//! share until they write it, and whose writes cost only what they touch.
//!
//! The keys and records of the loaded table sit in one shared base; an
//! episode's table adds only the records it wrote or appended (a short
//! list sorted by position) and the keys it appended. Cloning a table that
//! wrote nothing copies two pointers; writing a record copies that record
//! alone. Operations that move or remove keys rebuild the table
//! ([`Table::rebuild`]).
//!
//! The table also keeps each record's tool-result text (its
//! `json.dumps(model_dump(record))`), so a read tool copies a pointer
//! instead of serialising: the loaded records' texts in the base (computed
//! once, shared by every episode), a written record's next to it, dropped
//! whenever the record is written again.

use std::any::Any;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use indexmap::{IndexMap, IndexSet};
use serde::{Deserialize, Deserializer};

use crate::pyjson::{self, PyDump, PyWriter};

/// A fast hasher for the short ids of the tables (FxHash's mixing, then a
/// folded multiply so that the low bits, which pick the bucket, depend on
/// every byte: ids such as `HAT001`..`HAT299` share their first bytes and
/// would otherwise all land in one bucket group; the ids come from the
/// data, so flooding is not a concern).
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
const FOLD: u64 = 0x9e_37_79_b9_7f_4a_7c_15;

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        let full = u128::from(self.0) * u128::from(FOLD);
        (full as u64) ^ ((full >> 64) as u64)
    }
}

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

/// The hasher of the tables' key indexes.
pub type IdBuild = BuildHasherDefault<IdHasher>;

/// A set of ids, in insertion order, hashed with [`IdHasher`].
pub type IdSet = IndexSet<Arc<str>, IdBuild>;

/// A table: id -> record, in insertion order, copy-on-write.
pub struct Table<T> {
    /// The keys and records the table was built with.
    base: Arc<Base<T>>,
    /// Keys appended since (none of them in `base.keys`), in order.
    extra: Option<Arc<IdSet>>,
    /// The records that are not the base's (written or appended), sorted
    /// by position.
    changed: Vec<Slot<T>>,
}

/// What a table was built with.
struct Base<T> {
    keys: IdSet,
    records: Vec<Arc<T>>,
    /// `records[i]`'s unsorted dump, once computed.
    texts: Vec<OnceLock<Arc<str>>>,
    /// A lookup structure over `records`, built once (see [`Table::base_index`]).
    index: OnceLock<Box<dyn Any + Send + Sync>>,
}

/// A record that differs from the base's, and its text once computed.
struct Slot<T> {
    index: usize,
    record: Arc<T>,
    text: OnceLock<Arc<str>>,
}

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Self {
            index: self.index,
            record: self.record.clone(),
            text: self.text.clone(),
        }
    }
}

impl<T> Clone for Table<T> {
    fn clone(&self) -> Self {
        Self {
            base: self.base.clone(),
            extra: self.extra.clone(),
            changed: self.changed.clone(),
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
        let map: IndexMap<Arc<str>, Arc<T>, IdBuild> = entries.into_iter().collect();
        let mut keys = IdSet::with_capacity_and_hasher(map.len(), IdBuild::default());
        let mut records = Vec::with_capacity(map.len());
        for (key, record) in map {
            keys.insert(key);
            records.push(record);
        }
        let texts = records.iter().map(|_| OnceLock::new()).collect();
        Self {
            base: Arc::new(Base {
                keys,
                records,
                texts,
                index: OnceLock::new(),
            }),
            extra: None,
            changed: Vec::new(),
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
            && match (&self.extra, &other.extra) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
            && self.changed.len() == other.changed.len()
            && self
                .changed
                .iter()
                .zip(&other.changed)
                .all(|(a, b)| a.index == b.index && Arc::ptr_eq(&a.record, &b.record))
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

    /// Where `index` is (or would go) in `changed`.
    fn slot_of(&self, index: usize) -> Result<usize, usize> {
        if self.changed.is_empty() {
            return Err(0);
        }
        self.changed.binary_search_by_key(&index, |s| s.index)
    }

    fn record_at(&self, index: usize) -> Option<&Arc<T>> {
        match self.slot_of(index) {
            Ok(slot) => self.changed.get(slot).map(|s| &s.record),
            Err(_) => self.base.records.get(index),
        }
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
        let mut next = 0;
        (0..self.len()).filter_map(move |index| match self.changed.get(next) {
            Some(slot) if slot.index == index => {
                next += 1;
                Some(&slot.record)
            }
            _ => self.base.records.get(index),
        })
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<T>)> {
        self.keys().zip(self.values())
    }

    /// The positions of the records that are not the base's, in order.
    pub fn changed_indices(&self) -> impl Iterator<Item = usize> {
        self.changed.iter().map(|s| s.index)
    }

    /// A lookup structure over the records the table was built with (and
    /// that every clone shares), built by `build` on first use; `None` if
    /// a structure of another type was built first. Records written or
    /// appended since are not in it: see [`Table::changed_indices`].
    pub fn base_index<I: Any + Send + Sync>(
        &self,
        build: impl FnOnce(&mut dyn Iterator<Item = &T>) -> I,
    ) -> Option<&I> {
        self.base
            .index
            .get_or_init(|| Box::new(build(&mut self.base.records.iter().map(|r| &**r))))
            .downcast_ref()
    }

    /// Merges `positions` (ascending positions of base records) with the
    /// positions of the changed records, in ascending order without repeats:
    /// the records a query answered by a [`Table::base_index`] must look at.
    pub fn candidates(&self, positions: &[usize]) -> Vec<usize> {
        let mut out = Vec::with_capacity(positions.len() + self.changed.len());
        out.extend_from_slice(positions);
        if !self.changed.is_empty() {
            out.extend(self.changed_indices());
            out.sort_unstable();
            out.dedup();
        }
        out
    }

    /// Whether `other` was built with the same base (so equal positions
    /// below the base's length hold equal keys).
    pub fn shares_base(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.base, &other.base)
    }

    /// Sets the record at `key`: in place when present, else appended.
    pub fn insert(&mut self, key: Arc<str>, record: Arc<T>) {
        if let Some(index) = self.index_of(&key) {
            self.set(index, record);
            return;
        }
        let index = self.len();
        let extra = self.extra.get_or_insert_with(Default::default);
        Arc::make_mut(extra).insert(key);
        self.set(index, record);
    }

    /// Puts `record` at `index` (an existing position or the next one).
    fn set(&mut self, index: usize, record: Arc<T>) -> &mut Slot<T> {
        let slot = Slot {
            index,
            record,
            text: OnceLock::new(),
        };
        let at = match self.slot_of(index) {
            Ok(at) => {
                self.changed[at] = slot;
                at
            }
            Err(at) => {
                self.changed.insert(at, slot);
                at
            }
        };
        &mut self.changed[at]
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
        let slot = match self.slot_of(index) {
            Ok(at) => {
                let slot = &mut self.changed[at];
                slot.text = OnceLock::new();
                slot
            }
            Err(_) => {
                let record = self.base.records.get(index)?.clone();
                self.set(index, record)
            }
        };
        Some(Arc::make_mut(&mut slot.record))
    }
}

impl<T: PyDump> Table<T> {
    /// `json.dumps(model_dump(record))` of the record at `key` (the text
    /// the tools return), shared with the table's store.
    pub fn text(&self, key: &str) -> Option<Arc<str>> {
        let index = self.index_of(key)?;
        let (record, text) = match self.slot_of(index) {
            Ok(at) => {
                let slot = self.changed.get(at)?;
                (&slot.record, &slot.text)
            }
            Err(_) => (self.base.records.get(index)?, self.base.texts.get(index)?),
        };
        Some(text.get_or_init(|| dump_text(record)).clone())
    }

    /// [`Table::text`], as a `String`.
    pub fn dumps(&self, key: &str) -> Option<String> {
        self.text(key).map(|t| t.to_string())
    }

    /// Computes every loaded record's text now (the domain's shared tables
    /// do this once, so no episode pays for it).
    pub fn prime_dumps(&self) {
        for (record, text) in self.base.records.iter().zip(&self.base.texts) {
            text.get_or_init(|| dump_text(record));
        }
    }
}

fn dump_text<T: PyDump>(record: &T) -> Arc<str> {
    Arc::from(pyjson::dumps(record))
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

    #[test]
    fn ids_with_a_shared_prefix_spread_over_the_low_bits() {
        use std::hash::BuildHasher;
        let build = IdBuild::default();
        for prefix in ["HAT", "#W", "2024-05-"] {
            let buckets: std::collections::HashSet<u64> = (0..300)
                .map(|i| build.hash_one(format!("{prefix}{i:03}")) & 511)
                .collect();
            // 300 ids in 512 buckets: about 225 distinct when the low bits
            // are uniform; a prefix-only hash gives a handful.
            assert!(buckets.len() > 180, "{prefix}: {} buckets", buckets.len());
        }
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
