//! DBBench answer comparison, reproducing AgentBench's `DBResultProcessor`
//! (`compare_results`, `_clean_answer`, `_normalize_special_values`):
//!
//! - answers and expected results are cleaned into lists of strings: a
//!   driver-style `[(v,), ...]` text keeps the one-element tuples' values, a
//!   `[...]` text is read as a Python list literal (or split on commas outside
//!   quotes when that fails), anything else is one value; values are stripped
//!   of whitespace and quotes, a trailing `%` is dropped, thousands separators
//!   are removed and `None`/`null`/`nan`/`inf`/empty become `"0"`;
//! - modification tasks (INSERT/UPDATE/DELETE) compare the lists exactly;
//! - one value each: two `"0"` match, two numbers match within 0.01, else the
//!   strings must be equal;
//! - several values: all numeric -> same length and a greedy one-to-one match
//!   within 0.01; otherwise the two *sets* must be equal (order and
//!   duplicates are ignored).

use super::pyvalue::{PyValue, parse_literal, valid_underscores};

/// Python's `str.strip().strip("'\"")`.
fn strip_quotes(s: &str) -> &str {
    s.trim().trim_matches(|c| c == '\'' || c == '"')
}

/// `_normalize_special_values` for a value already turned into text.
fn normalize(value: &str) -> String {
    let s = value.trim();
    if let Some(rest) = s.strip_suffix('%') {
        return rest.trim().to_string();
    }
    let s = if s.contains(',') && !s.starts_with('[') && !s.ends_with(']') {
        s.replace(',', "")
    } else {
        s.to_string()
    };
    match s.to_lowercase().as_str() {
        "none" | "null" | "undefined" | "nan" | "inf" | "infinity" | "-inf" | "-infinity" | "" => {
            "0".to_string()
        }
        _ => s,
    }
}

/// The text of one list item: a one-element tuple gives its element.
fn item_text(item: &PyValue) -> String {
    match item {
        PyValue::Tuple(inner) if inner.len() == 1 => strip_quotes(&inner[0].to_py_str()).into(),
        other => strip_quotes(&other.to_py_str()).into(),
    }
}

/// `_clean_mysql_result`: `Some` for a driver-style result text.
fn clean_driver_result(text: &str) -> Option<Vec<String>> {
    if !(text.starts_with('[') && text.ends_with(']')) {
        return None;
    }
    if let Some(PyValue::List(items)) = parse_literal(text)
        && items.iter().all(|i| matches!(i, PyValue::Tuple(_)))
    {
        return Some(
            items
                .iter()
                .filter_map(|i| match i {
                    PyValue::Tuple(inner) if inner.len() == 1 => {
                        Some(strip_quotes(&inner[0].to_py_str()).to_string())
                    }
                    _ => None,
                })
                .collect(),
        );
    }
    let stripped = text.trim_matches(|c| c == '[' || c == ']');
    if stripped.matches('(').count() == 1 && stripped.starts_with('(') && stripped.ends_with(",)") {
        let value = &stripped[1..stripped.len() - 2];
        return Some(vec![strip_quotes(value).to_string()]);
    }
    None
}

/// The fallback split of `[a, 'b, c', d]` when it is not a Python literal.
fn split_manually(inner: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    for c in inner.chars() {
        if c == '"' || c == '\'' {
            in_quotes = !in_quotes;
        } else if c == ',' && !in_quotes {
            if !current.is_empty() {
                items.push(normalize(strip_quotes(&current)));
                current.clear();
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        items.push(normalize(strip_quotes(&current)));
    }
    items
}

/// `_clean_answer`: `None` where the original returns `None` (the comparison
/// then fails).
pub fn clean_answer(answer: &PyValue) -> Option<Vec<String>> {
    if *answer == PyValue::None {
        return Some(vec!["0".to_string()]);
    }
    if let PyValue::Str(text) = answer
        && let Some(values) = clean_driver_result(text)
    {
        return Some(values.iter().map(|v| normalize(v)).collect());
    }
    match answer {
        PyValue::Str(text) => {
            let text = text.trim();
            if text.starts_with('[') && text.ends_with(']') {
                match parse_literal(text) {
                    Some(PyValue::List(items)) => {
                        Some(items.iter().map(|i| normalize(&item_text(i))).collect())
                    }
                    // `eval` worked but gave no list: the original falls through and returns None.
                    Some(_) => None,
                    None => Some(split_manually(&text[1..text.len() - 1])),
                }
            } else {
                Some(vec![normalize(strip_quotes(text))])
            }
        }
        PyValue::List(items) | PyValue::Tuple(items) => {
            Some(items.iter().map(|i| normalize(&item_text(i))).collect())
        }
        other => Some(vec![normalize(strip_quotes(&other.to_py_str()))]),
    }
}

/// Python's `float(text)`, where it succeeds.
pub fn py_float(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() || !valid_underscores(t) {
        return None;
    }
    let clean = t.replace('_', "");
    let body = clean.trim_start_matches(['+', '-']);
    if body.len() + 1 < clean.len() {
        return None; // more than one sign
    }
    clean.parse::<f64>().ok()
}

fn float_equal(a: &str, b: &str) -> bool {
    match (py_float(a), py_float(b)) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-2,
        _ => false,
    }
}

/// Whether a task type is a modification (scored by the table hash).
pub fn is_modification(kind: &str) -> bool {
    matches!(kind, "INSERT" | "DELETE" | "UPDATE")
}

/// `compare_results(answer, ground_truth, query_type)`.
pub fn compare(answer: &PyValue, ground_truth: &PyValue, kind: &str) -> bool {
    let (Some(ans), Some(gt)) = (clean_answer(answer), clean_answer(ground_truth)) else {
        return false;
    };
    if is_modification(kind) {
        return ans == gt;
    }
    if ans.len() == 1 && gt.len() == 1 {
        let (a, g) = (&ans[0], &gt[0]);
        if a == "0" && g == "0" {
            return true;
        }
        if py_float(a).is_some() && py_float(g).is_some() {
            return float_equal(a, g);
        }
        return a == g;
    }
    let all_float = |v: &[String]| v.iter().all(|x| py_float(x).is_some());
    if all_float(&ans) && all_float(&gt) {
        if ans.len() != gt.len() {
            return false;
        }
        let mut matched = vec![false; gt.len()];
        for a in &ans {
            let Some(i) = (0..gt.len()).find(|&i| !matched[i] && float_equal(a, &gt[i])) else {
                return false;
            };
            matched[i] = true;
        }
        return matched.iter().all(|m| *m);
    }
    let a: std::collections::BTreeSet<&String> = ans.iter().collect();
    let g: std::collections::BTreeSet<&String> = gt.iter().collect();
    a == g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> PyValue {
        PyValue::Str(text.to_string())
    }

    fn list(items: &[&str]) -> PyValue {
        PyValue::List(items.iter().map(|i| s(i)).collect())
    }

    #[test]
    fn cleaning_follows_the_original() {
        assert_eq!(clean_answer(&s("[(293.0,)]")), Some(vec!["293.0".into()]));
        assert_eq!(
            clean_answer(&s(" [\"a\", 'b'] ")),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            clean_answer(&s("[a, 'b, c']")),
            Some(vec!["a".into(), "b c".into()])
        );
        assert_eq!(clean_answer(&s("1,234")), Some(vec!["1234".into()]));
        assert_eq!(clean_answer(&s("45 %")), Some(vec!["45".into()]));
        assert_eq!(clean_answer(&s("NULL")), Some(vec!["0".into()]));
        assert_eq!(clean_answer(&s("[]")), Some(vec![]));
        assert_eq!(clean_answer(&PyValue::None), Some(vec!["0".into()]));
    }

    #[test]
    fn comparison_follows_the_original() {
        assert!(compare(
            &list(&["293"]),
            &list(&["293.0"]),
            "aggregation-SUM"
        ));
        assert!(compare(&list(&["3.004"]), &list(&["3"]), "other"));
        assert!(!compare(&list(&["3.02"]), &list(&["3"]), "other"));
        assert!(compare(
            &list(&["b", "a", "a"]),
            &list(&["a", "b"]),
            "other"
        ));
        assert!(!compare(
            &list(&["1", "2"]),
            &list(&["1", "2", "2"]),
            "other"
        ));
        assert!(compare(&s("[\"x\"]"), &list(&["x"]), "ranking"));
        assert!(!compare(&s("X"), &list(&["x"]), "ranking"));
        assert!(compare(&s("abc12"), &s("[('abc12',)]"), "INSERT"));
        assert!(!compare(&s("abc13"), &s("[('abc12',)]"), "UPDATE"));
    }

    #[test]
    fn python_float_rules() {
        assert_eq!(py_float(" 1_000.5 "), Some(1000.5));
        assert_eq!(py_float("1__0"), None);
        assert_eq!(py_float("--1"), None);
        assert!(py_float("Infinity").is_some());
        assert_eq!(py_float("0x10"), None);
    }
}
