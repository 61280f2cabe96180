//! A small model of the Python values AgentBench's DBBench code prints and
//! `eval`s: `str()`/`repr()` rendering (the database driver's result rows are
//! shown to the agent as `str(list_of_tuples)`) and a parser for Python
//! literals (the scorer `eval`s answers and expected results).

use lifeharness_core::py::{float_repr, str_repr};
use serde_json::Value;

/// A Python value, as far as DBBench needs one.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int`, kept as its decimal text (Python ints are unbounded).
    Int(String),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `bytes`.
    Bytes(Vec<u8>),
    /// A `list`.
    List(Vec<PyValue>),
    /// A `tuple`.
    Tuple(Vec<PyValue>),
}

impl PyValue {
    /// Python's `repr(value)`.
    pub fn repr(&self) -> String {
        match self {
            Self::None => "None".to_string(),
            Self::Bool(true) => "True".to_string(),
            Self::Bool(false) => "False".to_string(),
            Self::Int(digits) => digits.clone(),
            Self::Float(f) => float_repr(*f),
            Self::Str(s) => str_repr(s),
            Self::Bytes(b) => bytes_repr(b),
            Self::List(items) => {
                let inner: Vec<String> = items.iter().map(Self::repr).collect();
                format!("[{}]", inner.join(", "))
            }
            Self::Tuple(items) if items.len() == 1 => format!("({},)", items[0].repr()),
            Self::Tuple(items) => {
                let inner: Vec<String> = items.iter().map(Self::repr).collect();
                format!("({})", inner.join(", "))
            }
        }
    }

    /// Python's `str(value)`: the text itself for strings, `repr` otherwise.
    pub fn to_py_str(&self) -> String {
        match self {
            Self::Str(s) => s.clone(),
            other => other.repr(),
        }
    }

    /// The Python object `json.loads` would give for a JSON value (objects
    /// become their JSON text; DBBench never passes one).
    pub fn from_json(value: &Value) -> Self {
        match value {
            Value::Null => Self::None,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => {
                if n.is_i64() || n.is_u64() {
                    Self::Int(n.to_string())
                } else {
                    Self::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Self::Str(s.clone()),
            Value::Array(items) => Self::List(items.iter().map(Self::from_json).collect()),
            Value::Object(_) => Self::Str(value.to_string()),
        }
    }
}

fn bytes_repr(b: &[u8]) -> String {
    let mut out = String::from("b'");
    for &byte in b {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('\'');
    out
}

/// Parses a Python literal (what `eval` would give for literals only):
/// lists, tuples, strings, numbers, `None`, `True`, `False`. Anything else
/// (names, operators other than a unary sign, dicts, sets) gives `None`.
pub fn parse_literal(text: &str) -> Option<PyValue> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    let value = parser.value()?;
    parser.skip_ws();
    (parser.pos == parser.chars.len()).then_some(value)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Option<PyValue> {
        self.skip_ws();
        match self.peek()? {
            '[' => {
                self.pos += 1;
                let (items, _) = self.sequence(']')?;
                Some(PyValue::List(items))
            }
            '(' => {
                self.pos += 1;
                let (items, trailing_comma) = self.sequence(')')?;
                if items.len() == 1 && !trailing_comma {
                    items.into_iter().next()
                } else {
                    Some(PyValue::Tuple(items))
                }
            }
            '\'' | '"' => self.string(),
            '-' | '+' => {
                let negative = self.peek() == Some('-');
                self.pos += 1;
                match self.value()? {
                    PyValue::Int(d) if negative => Some(PyValue::Int(negate_int(&d))),
                    PyValue::Float(f) if negative => Some(PyValue::Float(-f)),
                    v @ (PyValue::Int(_) | PyValue::Float(_)) => Some(v),
                    PyValue::Bool(b) => {
                        let n = i64::from(b);
                        Some(PyValue::Int((if negative { -n } else { n }).to_string()))
                    }
                    _ => None,
                }
            }
            c if c.is_ascii_digit() || c == '.' => self.number(),
            c if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "None" => Some(PyValue::None),
                    "True" => Some(PyValue::Bool(true)),
                    "False" => Some(PyValue::Bool(false)),
                    "r" | "R" | "u" | "U" | "b" | "B" | "rb" | "br"
                        if matches!(self.peek(), Some('\'' | '"')) =>
                    {
                        let raw = word.to_lowercase().contains('r');
                        let bytes = word.to_lowercase().contains('b');
                        let s = self.string_body(raw)?;
                        Some(if bytes {
                            PyValue::Bytes(s.into_bytes())
                        } else {
                            PyValue::Str(s)
                        })
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Items up to `close`; also says whether a trailing comma was seen.
    fn sequence(&mut self, close: char) -> Option<(Vec<PyValue>, bool)> {
        let mut items = Vec::new();
        let mut trailing_comma = false;
        loop {
            self.skip_ws();
            if self.peek()? == close {
                self.pos += 1;
                return Some((items, trailing_comma));
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek()? {
                ',' => {
                    self.pos += 1;
                    trailing_comma = true;
                }
                c if c == close => {
                    self.pos += 1;
                    return Some((items, false));
                }
                _ => return None,
            }
        }
    }

    fn string(&mut self) -> Option<PyValue> {
        self.string_body(false).map(PyValue::Str)
    }

    fn string_body(&mut self, raw: bool) -> Option<String> {
        let quote = self.peek()?;
        let triple = self.chars.get(self.pos..self.pos + 3) == Some(&[quote, quote, quote][..]);
        self.pos += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            if c == quote {
                if !triple {
                    self.pos += 1;
                    return Some(out);
                }
                if self.chars.get(self.pos..self.pos + 3) == Some(&[quote, quote, quote][..]) {
                    self.pos += 3;
                    return Some(out);
                }
            }
            if c == '\n' && !triple {
                return None;
            }
            self.pos += 1;
            if c != '\\' {
                out.push(c);
                continue;
            }
            let e = self.peek()?;
            self.pos += 1;
            if raw {
                out.push('\\');
                out.push(e);
                continue;
            }
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                '\n' => {}
                'x' => out.push(self.hex_escape(2)?),
                'u' => out.push(self.hex_escape(4)?),
                'U' => out.push(self.hex_escape(8)?),
                '\\' | '\'' | '"' => out.push(e),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex_escape(&mut self, len: usize) -> Option<char> {
        let digits: String = self.chars.get(self.pos..self.pos + len)?.iter().collect();
        self.pos += len;
        char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
    }

    fn number(&mut self) -> Option<PyValue> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            || (matches!(self.peek(), Some('+' | '-'))
                && matches!(self.chars.get(self.pos.wrapping_sub(1)), Some('e' | 'E')))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if !valid_underscores(&text) {
            return None;
        }
        let clean = text.replace('_', "");
        if clean.chars().all(|c| c.is_ascii_digit()) {
            let trimmed = clean.trim_start_matches('0');
            if trimmed.len() != clean.len() && !trimmed.is_empty() {
                return None; // Python 3 rejects leading zeros such as 007.
            }
            return Some(PyValue::Int(if trimmed.is_empty() {
                "0".to_string()
            } else {
                trimmed.to_string()
            }));
        }
        let lower = clean.to_ascii_lowercase();
        if lower.contains("inf") || lower.contains("nan") || lower.contains('x') {
            return None;
        }
        clean.parse::<f64>().ok().map(PyValue::Float)
    }
}

fn negate_int(digits: &str) -> String {
    if digits == "0" {
        digits.to_string()
    } else if let Some(rest) = digits.strip_prefix('-') {
        rest.to_string()
    } else {
        format!("-{digits}")
    }
}

/// Python accepts `_` only between two digits in numbers.
pub(crate) fn valid_underscores(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().all(|(i, &c)| {
        c != '_'
            || (i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_render_like_python() {
        let cases = [
            (293.0, "293.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789012345.6, "123456789012345.6"),
            (-2.5, "-2.5"),
            (1e22, "1e+22"),
            (f64::INFINITY, "inf"),
        ];
        for (f, want) in cases {
            assert_eq!(float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn strings_render_like_python() {
        assert_eq!(str_repr("abc"), "'abc'");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(str_repr("x\ny\\"), "'x\\ny\\\\'");
        assert_eq!(str_repr("caf\u{e9}\u{a0}"), "'caf\u{e9}\\xa0'");
    }

    #[test]
    fn rows_render_like_python() {
        let rows = PyValue::List(vec![
            PyValue::Tuple(vec![PyValue::Str("a".into())]),
            PyValue::Tuple(vec![PyValue::Int("3".into()), PyValue::None]),
        ]);
        assert_eq!(rows.repr(), "[('a',), (3, None)]");
    }

    #[test]
    fn literals_parse() {
        assert_eq!(
            parse_literal("[('x',), (2.5,)]"),
            Some(PyValue::List(vec![
                PyValue::Tuple(vec![PyValue::Str("x".into())]),
                PyValue::Tuple(vec![PyValue::Float(2.5)]),
            ]))
        );
        assert_eq!(parse_literal("(5)"), Some(PyValue::Int("5".into())));
        assert_eq!(
            parse_literal("[-1, 1_000]").map(|v| v.repr()),
            Some("[-1, 1000]".into())
        );
        assert_eq!(parse_literal("[007]"), None);
        assert_eq!(parse_literal("[a b]"), None);
        assert_eq!(
            parse_literal("['a' , \"b\",]").map(|v| v.repr()),
            Some("['a', 'b']".into())
        );
    }
}
