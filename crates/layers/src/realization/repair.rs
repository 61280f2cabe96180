//! Strict, bounded repair of tool-call arguments: only faults whose fix is
//! unambiguous. Anything else is left for a correction.

use serde_json::Value;

/// Longest argument text we try to repair.
const MAX_LEN: usize = 64 * 1024;
/// Most closing brackets we add.
const MAX_CLOSERS: usize = 3;

/// Walks `text` outside string literals, calling `f(index, byte)`.
fn outside_strings(text: &str, quote: u8, mut f: impl FnMut(usize, u8)) -> bool {
    let bytes = text.as_bytes();
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == quote {
                in_string = false;
            }
        } else if b == quote {
            in_string = true;
        } else {
            f(i, b);
        }
    }
    in_string
}

fn strip_fences(text: &str) -> &str {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

fn python_literals(text: &str) -> String {
    let mut marks = Vec::new();
    outside_strings(text, b'"', |i, _| marks.push(i));
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        let rest = &text[i..];
        let boundary_before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let replaced = [("True", "true"), ("False", "false"), ("None", "null")]
            .iter()
            .find(|(from, _)| {
                boundary_before
                    && marks.binary_search(&i).is_ok()
                    && rest.starts_with(from)
                    && !rest[from.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
            });
        match replaced {
            Some((from, to)) => {
                out.push_str(to);
                i += from.len();
            }
            None => {
                let ch = rest.chars().next().unwrap_or_default();
                out.push(ch);
                i += ch.len_utf8().max(1);
            }
        }
    }
    out
}

fn trailing_commas(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut drop = Vec::new();
    outside_strings(text, b'"', |i, b| {
        if b == b',' {
            let next = bytes[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
            if matches!(next, Some(b'}') | Some(b']')) {
                drop.push(i);
            }
        }
    });
    text.char_indices()
        .filter(|(i, _)| drop.binary_search(i).is_err())
        .map(|(_, c)| c)
        .collect()
}

fn close_brackets(text: &str) -> Option<String> {
    let mut stack = Vec::new();
    let mut balanced = true;
    let in_string = outside_strings(text, b'"', |_, b| match b {
        b'{' => stack.push(b'}'),
        b'[' => stack.push(b']'),
        b'}' | b']' if stack.pop() != Some(b) => balanced = false,
        _ => {}
    });
    if in_string || !balanced || stack.is_empty() || stack.len() > MAX_CLOSERS {
        return None;
    }
    let mut out = text.trim_end().to_string();
    while let Some(c) = stack.pop() {
        out.push(c as char);
    }
    Some(out)
}

fn object(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
}

/// Repairs argument text whose faults are unambiguous: a code fence around
/// it, Python literals (`True`, `False`, `None`), trailing commas, single
/// quotes when no double quote appears, and up to three missing closing
/// brackets at the end. Returns the object and the fixes applied, or `None`.
pub fn repair_json(raw: &str) -> Option<(Value, Vec<&'static str>)> {
    if raw.len() > MAX_LEN {
        return None;
    }
    let mut fixes = Vec::new();
    let mut text = strip_fences(raw).to_string();
    if text != raw.trim() {
        fixes.push("removed a code fence");
    }
    if let Some(v) = object(&text) {
        return Some((v, fixes));
    }
    if !text.contains('"') && text.contains('\'') {
        text = text.replace('\'', "\"");
        fixes.push("replaced single quotes");
    }
    let step = python_literals(&text);
    if step != text {
        fixes.push("replaced Python literals");
        text = step;
    }
    let step = trailing_commas(&text);
    if step != text {
        fixes.push("removed trailing commas");
        text = step;
    }
    if let Some(v) = object(&text) {
        return Some((v, fixes));
    }
    let closed = close_brackets(&text)?;
    fixes.push("closed unclosed brackets");
    object(&closed).map(|v| (v, fixes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn unambiguous_faults_are_repaired() {
        let cases = [
            ("```json\n{\"a\": 1}\n```", json!({"a": 1})),
            ("{'a': 'x'}", json!({"a": "x"})),
            ("{\"a\": True, \"b\": None}", json!({"a": true, "b": null})),
            ("{\"a\": [1, 2,], }", json!({"a": [1, 2]})),
            ("{\"a\": {\"b\": [1, 2", json!({"a": {"b": [1, 2]}})),
            ("{\"s\": \"True, None,}\"", json!({"s": "True, None,}"})),
        ];
        for (raw, want) in cases {
            assert_eq!(repair_json(raw).map(|r| r.0), Some(want), "{raw}");
        }
    }

    #[test]
    fn ambiguous_faults_are_not() {
        for raw in [
            "{\"a\": 'x'}",
            "{\"a\": 1]",
            "{\"a\": \"unterminated",
            "{\"a\": [[[[1",
            "hello",
            "[1, 2]",
            "{a: 1}",
        ] {
            assert_eq!(repair_json(raw), None, "{raw}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_never_invents_keys(raw in ".{0,200}") {
            if let Some((Value::Object(map), _)) = repair_json(&raw) {
                for key in map.keys() {
                    prop_assert!(raw.contains(key.as_str()));
                }
            }
        }
    }
}
