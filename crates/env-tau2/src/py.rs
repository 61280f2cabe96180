//! Python semantics the original's tools rely on: how a call's keyword
//! arguments bind (and the `TypeError` text when they do not), `str()` and
//! `repr()` of JSON-loaded values, `==` between them, and pydantic's
//! validation-error text.
//!
//! The original calls `tool(**arguments)` with the arguments exactly as the
//! model wrote them (no schema validation), so ill-typed arguments reach the
//! tool code; these helpers reproduce what Python then does for the common
//! cases.

use serde_json::{Map, Value};

use lifeharness_core::py::{float_repr, str_repr};

/// The pydantic minor version whose documentation URL appears in validation
/// errors (`https://errors.pydantic.dev/<version>/v/<type>`).
pub const PYDANTIC_DOCS_VERSION: &str = "2.14";

/// A method's qualified name (`RetailTools.get_order_details`), printed
/// only when an error needs it.
#[derive(Debug, Clone, Copy)]
pub struct Qualname<'a>(pub &'a str, pub &'a str);

impl std::fmt::Display for Qualname<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Binds keyword `args` to the required parameters `params` of the bound
/// method `qualname` (e.g. `RetailTools.get_order_details`), returning the
/// values in parameter order or Python's `TypeError` text.
pub fn bind<'a, const N: usize>(
    qualname: impl std::fmt::Display,
    params: [&str; N],
    args: &'a Value,
) -> Result<[&'a Value; N], String> {
    let map = match args {
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "{qualname}() argument after ** must be a mapping, not {}",
                type_name(other)
            ));
        }
    };
    bind_map(qualname, params, map)
}

fn bind_map<'a, const N: usize>(
    qualname: impl std::fmt::Display,
    params: [&str; N],
    map: &'a Map<String, Value>,
) -> Result<[&'a Value; N], String> {
    for key in map.keys() {
        if !params.contains(&key.as_str()) {
            return Err(format!(
                "{qualname}() got an unexpected keyword argument '{key}'"
            ));
        }
    }
    let missing: Vec<&str> = params
        .iter()
        .copied()
        .filter(|p| !map.contains_key(*p))
        .collect();
    if !missing.is_empty() {
        let quoted: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
        let list = match quoted.len() {
            1 => quoted[0].clone(),
            2 => format!("{} and {}", quoted[0], quoted[1]),
            n => format!("{}, and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
        };
        let noun = if missing.len() == 1 {
            "argument"
        } else {
            "arguments"
        };
        return Err(format!(
            "{qualname}() missing {} required positional {noun}: {list}",
            missing.len()
        ));
    }
    let mut out = [&Value::Null; N];
    for (slot, param) in out.iter_mut().zip(params) {
        if let Some(value) = map.get(param) {
            *slot = value;
        }
    }
    Ok(out)
}

/// Python's type name of a JSON-loaded value.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Python's `str()` of a JSON-loaded value.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of a JSON-loaded value.
pub fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => match n.as_u64() {
                Some(u) => u.to_string(),
                None => float_repr(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        Value::String(s) => str_repr(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", str_repr(k), py_repr(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// Python's `==` between JSON-loaded values (`1 == 1.0 == True`).
pub fn py_eq(a: &Value, b: &Value) -> bool {
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn num(value: &Value) -> Option<f64> {
    match value {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// A dict lookup key: `Ok(Some(s))` for a string, `Ok(None)` for another
/// hashable value (it can never match a string key), `Err` with Python's
/// `TypeError` for unhashable values (lists, dicts).
pub fn key(value: &Value) -> Result<Option<&str>, String> {
    match value {
        Value::String(s) => Ok(Some(s)),
        Value::Array(_) | Value::Object(_) => {
            Err(format!("unhashable type: '{}'", type_name(value)))
        }
        _ => Ok(None),
    }
}

/// The elements Python sees when iterating `value` (a list's items, a
/// string's characters), or the `TypeError` for a non-iterable.
pub fn iter_items(value: &Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => Ok(items.clone()),
        Value::String(s) => Ok(s.chars().map(|c| Value::String(c.to_string())).collect()),
        Value::Object(map) => Ok(map.keys().map(|k| Value::String(k.clone())).collect()),
        other => Err(format!("'{}' object is not iterable", type_name(other))),
    }
}

/// Python's `sorted()` of strings; `TypeError` text if some item is not a string.
pub fn sorted_strings(items: &[Value]) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(s) => out.push(s.clone()),
            other => {
                return Err(format!(
                    "'<' not supported between instances of '{}' and 'str'",
                    type_name(other)
                ));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `value.lower()` for a string argument, or Python's `AttributeError` text.
pub fn lower(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.to_lowercase()),
        other => Err(format!(
            "'{}' object has no attribute 'lower'",
            type_name(other)
        )),
    }
}

/// `text.lower() == lowered` (with `lowered` already lowercase), without
/// allocating when `text` is ASCII.
pub fn lower_eq(text: &str, lowered: &str) -> bool {
    if text.is_ascii() {
        text.len() == lowered.len()
            && text
                .bytes()
                .zip(lowered.bytes())
                .all(|(a, b)| a.to_ascii_lowercase() == b)
    } else {
        text.to_lowercase() == lowered
    }
}

/// A Python int or float taken from a JSON argument, with Python's mixed
/// arithmetic (int op int stays int).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An int (bools count as ints).
    Int(i64),
    /// A float.
    Float(f64),
}

impl Number {
    /// The number in `value`, if it is one.
    pub fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(Self::Int(i64::from(*b))),
            Value::Number(n) => Some(match n.as_i64() {
                Some(i) => Self::Int(i),
                None => Self::Float(n.as_f64().unwrap_or(f64::NAN)),
            }),
            _ => None,
        }
    }

    /// As a float.
    pub fn as_f64(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }

    /// As a JSON value (for storing it as Python would).
    pub fn to_value(self) -> Value {
        match self {
            Self::Int(i) => Value::from(i),
            Self::Float(f) => Value::from(f),
        }
    }

    fn op(self, other: Self, int: fn(i64, i64) -> Option<i64>, float: fn(f64, f64) -> f64) -> Self {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => match int(a, b) {
                Some(v) => Self::Int(v),
                None => Self::Float(float(a as f64, b as f64)),
            },
            (a, b) => Self::Float(float(a.as_f64(), b.as_f64())),
        }
    }

    /// `self > other`.
    pub fn gt(self, other: Self) -> bool {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => a > b,
            (a, b) => a.as_f64() > b.as_f64(),
        }
    }

    /// Python's `str()`.
    pub fn py_str(self) -> String {
        match self {
            Self::Int(i) => i.to_string(),
            Self::Float(f) => float_repr(f),
        }
    }
}

impl std::ops::Add for Number {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        self.op(other, i64::checked_add, |a, b| a + b)
    }
}

impl std::ops::Sub for Number {
    type Output = Self;
    fn sub(self, other: Self) -> Self {
        self.op(other, i64::checked_sub, |a, b| a - b)
    }
}

impl std::ops::Mul for Number {
    type Output = Self;
    fn mul(self, other: Self) -> Self {
        self.op(other, i64::checked_mul, |a, b| a * b)
    }
}

/// One line item of a pydantic `ValidationError`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field path, e.g. `amount` or `flights.0.date`.
    pub loc: String,
    /// The message, e.g. `Input should be a valid string`.
    pub msg: String,
    /// The error type, e.g. `string_type`.
    pub kind: &'static str,
    /// The offending input.
    pub input: Value,
}

impl FieldError {
    /// A missing required field (`input` is the whole object).
    pub fn missing(loc: &str, whole: &Value) -> Self {
        Self {
            loc: loc.to_string(),
            msg: "Field required".to_string(),
            kind: "missing",
            input: whole.clone(),
        }
    }
}

/// The text of a pydantic `ValidationError` for `model` with `errors`.
pub fn validation_error(model: &str, errors: &[FieldError]) -> String {
    let n = errors.len();
    let mut out = format!(
        "{n} validation error{} for {model}",
        if n == 1 { "" } else { "s" }
    );
    for e in errors {
        out.push_str(&format!(
            "\n{}\n  {} [type={}, input_value={}, input_type={}]\n    For further information visit https://errors.pydantic.dev/{}/v/{}",
            e.loc,
            e.msg,
            e.kind,
            truncated_repr(&e.input),
            type_name(&e.input),
            PYDANTIC_DOCS_VERSION,
            e.kind
        ));
    }
    out
}

/// pydantic shortens long input reprs to their first and last 24 characters.
fn truncated_repr(value: &Value) -> String {
    let repr = py_repr(value);
    let chars: Vec<char> = repr.chars().collect();
    if chars.len() <= 50 {
        return repr;
    }
    let head: String = chars[..24].iter().collect();
    let tail: String = chars[chars.len() - 24..].iter().collect();
    format!("{head}...{tail}")
}

/// Validates a `str` field (pydantic strict about non-strings).
pub fn check_str(loc: &str, value: &Value, errors: &mut Vec<FieldError>) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => {
            errors.push(FieldError {
                loc: loc.to_string(),
                msg: "Input should be a valid string".to_string(),
                kind: "string_type",
                input: other.clone(),
            });
            String::new()
        }
    }
}

/// Validates an `int` field in pydantic's lax mode (whole floats and
/// numeric strings are accepted).
pub fn check_int(loc: &str, value: &Value, errors: &mut Vec<FieldError>) -> i64 {
    let fail = |msg: &str, kind: &'static str, errors: &mut Vec<FieldError>| {
        errors.push(FieldError {
            loc: loc.to_string(),
            msg: msg.to_string(),
            kind,
            input: value.clone(),
        });
        0
    };
    match value {
        Value::Bool(b) => i64::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i,
            None => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    f as i64
                } else {
                    fail(
                        "Input should be a valid integer, got a number with a fractional part",
                        "int_from_float",
                        errors,
                    )
                }
            }
        },
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => i,
            Err(_) => fail(
                "Input should be a valid integer, unable to parse string as an integer",
                "int_parsing",
                errors,
            ),
        },
        _ => fail("Input should be a valid integer", "int_type", errors),
    }
}

/// Validates a `float` field in pydantic's lax mode.
pub fn check_float(loc: &str, value: &Value, errors: &mut Vec<FieldError>) -> f64 {
    match value {
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(f) => f,
            Err(_) => {
                errors.push(FieldError {
                    loc: loc.to_string(),
                    msg: "Input should be a valid number, unable to parse string as a number"
                        .to_string(),
                    kind: "float_parsing",
                    input: value.clone(),
                });
                0.0
            }
        },
        _ => {
            errors.push(FieldError {
                loc: loc.to_string(),
                msg: "Input should be a valid number".to_string(),
                kind: "float_type",
                input: value.clone(),
            });
            0.0
        }
    }
}

/// Validates a `Literal[...]` string field.
pub fn check_literal(
    loc: &str,
    value: &Value,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) -> String {
    if let Value::String(s) = value
        && allowed.contains(&s.as_str())
    {
        return s.clone();
    }
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    let expected = match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    };
    errors.push(FieldError {
        loc: loc.to_string(),
        msg: format!("Input should be {expected}"),
        kind: "literal_error",
        input: value.clone(),
    });
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binding_errors_read_like_python() {
        let q = "RetailTools.modify_user_address";
        let params = ["user_id", "address1", "zip"];
        assert_eq!(
            bind(q, params, &json!({})).err().as_deref(),
            Some(
                "RetailTools.modify_user_address() missing 3 required positional arguments: 'user_id', 'address1', and 'zip'"
            )
        );
        assert_eq!(
            bind(q, params, &json!({"user_id": "a", "zip": "1"}))
                .err()
                .as_deref(),
            Some(
                "RetailTools.modify_user_address() missing 1 required positional argument: 'address1'"
            )
        );
        assert_eq!(
            bind(q, params, &json!({"bad": 1})).err().as_deref(),
            Some("RetailTools.modify_user_address() got an unexpected keyword argument 'bad'")
        );
    }

    #[test]
    fn reprs() {
        assert_eq!(
            py_repr(&json!({"a": [1, 2.5, null, true, "it's"]})),
            r#"{'a': [1, 2.5, None, True, "it's"]}"#
        );
        assert_eq!(py_str(&json!("x")), "x");
    }
}
