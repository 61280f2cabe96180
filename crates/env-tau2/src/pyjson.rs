//! Python-compatible JSON text: what `json.dumps(obj, default=str)` prints.
//!
//! The original hashes its database with
//! `json.dumps(model_dump(db), sort_keys=True, default=str)` and serialises
//! tool results with `json.dumps(model_dump(result), default=str)`. Both use
//! the separators `", "` and `": "`, escape every non-ASCII character as
//! `\uXXXX` and print floats with Python's `repr`. [`PyWriter`] reproduces
//! that byte for byte; [`PyDump`] is implemented by every database model.

use indexmap::IndexMap;
use serde_json::Value;
use std::fmt::Write as _;
use std::sync::Arc;

/// Writes Python `json.dumps` text into a buffer.
#[derive(Debug, Default)]
pub struct PyWriter {
    out: String,
    sort_keys: bool,
}

impl PyWriter {
    /// A writer; `sort_keys` sorts the keys of every object (as `sort_keys=True`).
    pub fn new(sort_keys: bool) -> Self {
        Self {
            out: String::new(),
            sort_keys,
        }
    }

    /// A writer with a preallocated buffer.
    pub fn with_capacity(sort_keys: bool, capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity),
            sort_keys,
        }
    }

    /// Whether keys are sorted.
    pub fn sort_keys(&self) -> bool {
        self.sort_keys
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }

    /// The text written so far, borrowed.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// Appends raw, already-formatted JSON text.
    pub fn raw(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// `null`.
    pub fn null(&mut self) {
        self.out.push_str("null");
    }

    /// `true` / `false`.
    pub fn bool(&mut self, value: bool) {
        self.out.push_str(if value { "true" } else { "false" });
    }

    /// A Python int.
    pub fn int(&mut self, value: i64) {
        push_int(&mut self.out, value);
    }

    /// A Python float, printed with `float.__repr__`.
    pub fn float(&mut self, value: f64) {
        push_json_float(&mut self.out, value);
    }

    /// A string with Python's `ensure_ascii` escaping.
    pub fn str(&mut self, value: &str) {
        push_str_escaped(&mut self.out, value);
    }

    /// Writes an object whose members are given in declaration order; with
    /// `sort_keys`, `sorted` gives the member indices in sorted key order.
    /// The keys are field names (printable ASCII, nothing to escape).
    pub fn object(&mut self, fields: &[(&str, &dyn PyDump)], sorted: &[usize]) {
        self.out.push('{');
        if self.sort_keys {
            for (n, &i) in sorted.iter().enumerate() {
                if let Some((key, value)) = fields.get(i) {
                    self.field(n, key, *value);
                }
            }
        } else {
            for (n, (key, value)) in fields.iter().enumerate() {
                self.field(n, key, *value);
            }
        }
        self.out.push('}');
    }

    /// A member whose key needs no escaping.
    fn field(&mut self, n: usize, key: &str, value: &dyn PyDump) {
        debug_assert!(key.bytes().all(|b| !ESCAPE[usize::from(b)]), "{key}");
        self.out.push_str(if n > 0 { ", \"" } else { "\"" });
        self.out.push_str(key);
        self.out.push_str("\": ");
        value.dump(self);
    }

    fn member(&mut self, n: usize, key: &str, value: &dyn PyDump) {
        if n > 0 {
            self.out.push_str(", ");
        }
        self.str(key);
        self.out.push_str(": ");
        value.dump(self);
    }

    /// Writes a dict with string keys, in insertion order or sorted.
    pub fn map<K: AsRef<str>, V: PyDump>(&mut self, map: &IndexMap<K, V>) {
        self.entries(map.iter().map(|(k, v)| (k.as_ref(), v)));
    }

    /// Writes a dict given as (key, value) pairs in insertion order, sorted
    /// by key with `sort_keys`.
    pub fn entries<'a, V: PyDump + 'a>(&mut self, entries: impl Iterator<Item = (&'a str, V)>) {
        self.out.push('{');
        if self.sort_keys {
            let mut entries: Vec<(&str, V)> = entries.collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (n, (key, value)) in entries.iter().enumerate() {
                self.member(n, key, value);
            }
        } else {
            for (n, (key, value)) in entries.enumerate() {
                self.member(n, key, &value);
            }
        }
        self.out.push('}');
    }

    /// Writes a list.
    pub fn list<T: PyDump>(&mut self, items: &[T]) {
        self.out.push('[');
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                self.out.push_str(", ");
            }
            item.dump(self);
        }
        self.out.push(']');
    }
}

/// A value that `json.dumps` can print after pydantic's `model_dump`.
pub trait PyDump {
    /// Writes the value.
    fn dump(&self, w: &mut PyWriter);
}

impl<T: PyDump + ?Sized> PyDump for &T {
    fn dump(&self, w: &mut PyWriter) {
        (**self).dump(w);
    }
}

impl<T: PyDump + ?Sized> PyDump for Arc<T> {
    fn dump(&self, w: &mut PyWriter) {
        (**self).dump(w);
    }
}

impl PyDump for str {
    fn dump(&self, w: &mut PyWriter) {
        w.str(self);
    }
}

impl PyDump for String {
    fn dump(&self, w: &mut PyWriter) {
        w.str(self);
    }
}

impl PyDump for bool {
    fn dump(&self, w: &mut PyWriter) {
        w.bool(*self);
    }
}

impl PyDump for i64 {
    fn dump(&self, w: &mut PyWriter) {
        w.int(*self);
    }
}

impl PyDump for f64 {
    fn dump(&self, w: &mut PyWriter) {
        w.float(*self);
    }
}

impl<T: PyDump> PyDump for Option<T> {
    fn dump(&self, w: &mut PyWriter) {
        match self {
            Some(value) => value.dump(w),
            None => w.null(),
        }
    }
}

impl<T: PyDump> PyDump for Vec<T> {
    fn dump(&self, w: &mut PyWriter) {
        w.list(self);
    }
}

impl<K: AsRef<str>, V: PyDump> PyDump for IndexMap<K, V> {
    fn dump(&self, w: &mut PyWriter) {
        w.map(self);
    }
}

/// A JSON value as Python's `json.loads` would give it back to `json.dumps`
/// (integers stay integers, other numbers are floats).
impl PyDump for Value {
    fn dump(&self, w: &mut PyWriter) {
        match self {
            Value::Null => w.null(),
            Value::Bool(b) => w.bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    w.int(i);
                } else if let Some(u) = n.as_u64() {
                    w.raw(&u.to_string());
                } else {
                    w.float(n.as_f64().unwrap_or(f64::NAN));
                }
            }
            Value::String(s) => w.str(s),
            Value::Array(items) => w.list(items),
            Value::Object(map) => w.entries(map.iter().map(|(k, v)| (k.as_str(), v))),
        }
    }
}

/// `json.dumps(value, default=str)` of something that implements [`PyDump`].
pub fn dumps<T: PyDump + ?Sized>(value: &T) -> String {
    let mut w = PyWriter::new(false);
    value.dump(&mut w);
    w.finish()
}

/// `json.dumps(value, sort_keys=True, default=str)`.
pub fn dumps_sorted<T: PyDump + ?Sized>(value: &T) -> String {
    let mut w = PyWriter::new(true);
    value.dump(&mut w);
    w.finish()
}

/// Bytes that `json.dumps` (ensure_ascii) does not copy as they are:
/// control characters, `"`, `\\`, DEL and every byte of a non-ASCII character.
const ESCAPE: [bool; 256] = {
    let mut table = [true; 256];
    let mut b = b' ';
    while b <= b'~' {
        table[b as usize] = b == b'"' || b == b'\\';
        b += 1;
    }
    table
};

/// Whether any of the 8 bytes of `word` is in [`ESCAPE`] (each test is
/// the classic exact "has a byte less than / equal to" bit trick).
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let quote = has_zero(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(word ^ (ONES * u64::from(b'\\')));
    let del = has_zero(word ^ (ONES * 0x7f));
    (control | quote | backslash | del | (word & HIGH)) != 0
}

/// The position of the first byte at or after `from` that needs escaping
/// (`bytes.len()` if none).
fn next_escape(bytes: &[u8], mut from: usize) -> usize {
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if word_needs_escape(u64::from_le_bytes(word)) {
            break;
        }
        from += 8;
    }
    while let Some(&b) = bytes.get(from) {
        if ESCAPE[usize::from(b)] {
            return from;
        }
        from += 1;
    }
    bytes.len()
}

/// Appends `s` as a JSON string the way Python's `json.dumps` (ensure_ascii) does.
pub fn push_str_escaped(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    loop {
        let at = next_escape(bytes, start);
        out.push_str(&s[start..at]);
        let Some(c) = s[at..].chars().next() else {
            break;
        };
        start = at + c.len_utf8();
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Appends the decimal digits of `value`.
pub fn push_int(out: &mut String, value: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut n = value.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if value < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}

/// A float as `json.dumps` prints it: Python's `repr`, except `NaN`,
/// `Infinity` and `-Infinity` for the non-finite values.
fn push_json_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        lifeharness_core::py::push_float_repr(out, value);
    }
}

/// Python's `round(x, ndigits)` for a float: the nearest value with `ndigits`
/// decimals, computed on the exact binary value (ties to even).
pub fn py_round(value: f64, ndigits: usize) -> f64 {
    if !value.is_finite() {
        return value;
    }
    // Rust's fixed-precision formatting rounds the exact binary value
    // half-to-even, as CPython's `round` does.
    let text = format!("{value:.ndigits$}");
    text.parse::<f64>().unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_dump_as_json_dumps_prints_them() {
        let cases = [
            (2224.04, "2224.04"),
            (1e-05, "1e-05"),
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (value, expected) in cases {
            let mut out = String::new();
            push_json_float(&mut out, value);
            assert_eq!(out, expected, "{value:e}");
        }
    }

    #[test]
    fn strings_are_escaped_like_python() {
        for text in [
            "plain ascii text that is longer than a word",
            "12345678\"",
            "1234567\u{7f}",
            "abcdefgh\u{1f}ijklmnop",
            "abcdefghé",
            "",
        ] {
            let mut fast = String::new();
            push_str_escaped(&mut fast, text);
            let mut slow = String::from("\"");
            for c in text.chars() {
                match c {
                    '"' => slow.push_str("\\\""),
                    ' '..='~' => slow.push(c),
                    _ => slow.push_str(&format!("\\u{:04x}", u32::from(c))),
                }
            }
            slow.push('"');
            assert_eq!(fast, slow);
        }
        let mut out = String::new();
        push_str_escaped(&mut out, "a\"b\\c\nd\u{7f}é😀\u{1}");
        assert_eq!(out, r#""a\"b\\c\nd\u007f\u00e9\ud83d\ude00\u0001""#);
    }

    #[test]
    fn python_round() {
        assert_eq!(py_round(2.675, 2), 2.67);
        assert_eq!(py_round(0.125, 2), 0.12);
        assert_eq!(py_round(0.375, 2), 0.38);
        assert_eq!(py_round(-1.005, 2), -1.0);
        assert_eq!(py_round(1234.5678, 2), 1234.57);
    }

    #[test]
    fn values_dump_like_json_loads_then_dumps() {
        let value: Value =
            serde_json::from_str(r#"{"b": [1, 2.0, null, true], "a": "x"}"#).unwrap_or(Value::Null);
        assert_eq!(dumps(&value), r#"{"b": [1, 2.0, null, true], "a": "x"}"#);
        assert_eq!(
            dumps_sorted(&value),
            r#"{"a": "x", "b": [1, 2.0, null, true]}"#
        );
    }
}
