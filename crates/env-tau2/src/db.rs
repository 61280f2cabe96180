//! Shared database plumbing: copy-on-write tables ([`Table`]), numbers that keep their
//! Python type, and the database hash.

use serde::{Deserialize, Deserializer};

use crate::pyjson::{PyDump, PyWriter};

pub use crate::table::{Table, table};

/// Mutable access to one record of a shared table, copying only what is
/// still shared.
pub fn record_mut<'a, T: Clone>(table: &'a mut Table<T>, key: &str) -> Option<&'a mut T> {
    table.get_mut(key)
}

/// A number stored in a model field without validation, so it keeps the
/// Python type it was given (`0` and `0.0` print differently).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PyNum {
    /// A Python int.
    Int(i64),
    /// A Python float.
    Float(f64),
}

impl PyNum {
    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }
}

impl PyDump for PyNum {
    fn dump(&self, w: &mut PyWriter) {
        match self {
            Self::Int(i) => w.int(*i),
            Self::Float(f) => w.float(*f),
        }
    }
}

/// Reads an optional field declared `Optional[float]`.
pub fn opt_float_field<'de, D: Deserializer<'de>>(de: D) -> Result<Option<PyNum>, D::Error> {
    Ok(Option::<f64>::deserialize(de)?.map(PyNum::Float))
}

/// Reads a field declared `int` (pydantic accepts whole floats).
pub fn int_field<'de, D: Deserializer<'de>>(de: D) -> Result<PyNum, D::Error> {
    let value = f64::deserialize(de)?;
    if value.fract() != 0.0 {
        return Err(serde::de::Error::custom("expected an integer"));
    }
    Ok(PyNum::Int(value as i64))
}

/// Reads a field declared `int` into a JSON value holding an integer.
pub fn int_value<'de, D: Deserializer<'de>>(de: D) -> Result<serde_json::Value, D::Error> {
    match int_field(de)? {
        PyNum::Int(i) => Ok(serde_json::Value::from(i)),
        PyNum::Float(f) => Ok(serde_json::Value::from(f)),
    }
}

/// sha256 (lowercase hex) of the sorted Python JSON dump of `value`.
pub fn db_hash<T: PyDump + ?Sized>(value: &T) -> String {
    let mut w = PyWriter::with_capacity(true, 4 << 20);
    value.dump(&mut w);
    lifeharness_core::hash::sha256_hex(w.as_str().as_bytes())
}
