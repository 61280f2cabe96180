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
        let _ = write!(self.out, "{value}");
    }

    /// A Python float, printed with `float.__repr__`.
    pub fn float(&mut self, value: f64) {
        push_float_repr(&mut self.out, value);
    }

    /// A string with Python's `ensure_ascii` escaping.
    pub fn str(&mut self, value: &str) {
        push_str_escaped(&mut self.out, value);
    }

    /// Writes an object whose members are given in declaration order; with
    /// `sort_keys`, `sorted` gives the member indices in sorted key order.
    pub fn object(&mut self, fields: &[(&str, &dyn PyDump)], sorted: &[usize]) {
        self.out.push('{');
        if self.sort_keys {
            for (n, &i) in sorted.iter().enumerate() {
                if let Some((key, value)) = fields.get(i) {
                    self.member(n, key, *value);
                }
            }
        } else {
            for (n, (key, value)) in fields.iter().enumerate() {
                self.member(n, key, *value);
            }
        }
        self.out.push('}');
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
        self.out.push('{');
        if self.sort_keys {
            let mut entries: Vec<(&str, &V)> = map.iter().map(|(k, v)| (k.as_ref(), v)).collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (n, (key, value)) in entries.into_iter().enumerate() {
                self.member(n, key, value);
            }
        } else {
            for (n, (key, value)) in map.iter().enumerate() {
                self.member(n, key.as_ref(), value);
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
            Value::Object(map) => {
                w.out.push('{');
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                if w.sort_keys {
                    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                }
                for (n, (key, value)) in entries.into_iter().enumerate() {
                    w.member(n, key, value);
                }
                w.out.push('}');
            }
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

/// Appends `s` as a JSON string the way Python's `json.dumps` (ensure_ascii) does.
pub fn push_str_escaped(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let simple = (' '..='~').contains(&c) && c != '"' && c != '\\';
        if simple {
            continue;
        }
        out.push_str(&s[start..i]);
        start = i + c.len_utf8();
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
    out.push_str(&s[start..]);
    out.push('"');
}

/// Python's `repr(float)`: the shortest digits that round-trip, in
/// positional notation when the decimal exponent is in `-4..16`, else
/// scientific (`1e-05`, `1.5e+16`); `NaN`, `Infinity`, `-Infinity` as
/// `json.dumps` prints them.
pub fn push_float_repr(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if value == 0.0 {
        out.push_str(if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "d.ddde<exp>".
    let sci = format!("{value:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // Python: decpt = exp + 1; scientific when decpt <= -4 or decpt > 16.
    let decpt = exp + 1;
    if negative {
        out.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exp.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..(-decpt) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let decpt = decpt as usize;
        if digits.len() <= decpt {
            out.push_str(&digits);
            for _ in digits.len()..decpt {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..decpt]);
            out.push('.');
            out.push_str(&digits[decpt..]);
        }
    }
}

/// Python's `repr(float)` as a string.
pub fn float_repr(value: f64) -> String {
    let mut out = String::new();
    push_float_repr(&mut out, value);
    out
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
    fn float_repr_matches_python() {
        let cases = [
            (100.0, "100.0"),
            (0.1, "0.1"),
            (1e-05, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (1.5e16, "1.5e+16"),
            (-2.5, "-2.5"),
            (0.30000000000000004, "0.30000000000000004"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-0.0, "-0.0"),
            (2224.04, "2224.04"),
            (9999999999999998.0, "9999999999999998.0"),
        ];
        for (value, expected) in cases {
            assert_eq!(float_repr(value), expected, "{value:e}");
        }
    }

    #[test]
    fn strings_are_escaped_like_python() {
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
