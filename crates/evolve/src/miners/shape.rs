//! Value shapes: one regular expression for values of one structure.

use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Digit,
    Lower,
    Upper,
    Other(char),
}

fn class_of(c: char) -> Class {
    if c.is_ascii_digit() {
        Class::Digit
    } else if c.is_ascii_lowercase() {
        Class::Lower
    } else if c.is_ascii_uppercase() {
        Class::Upper
    } else {
        Class::Other(c)
    }
}

fn runs(s: &str) -> Vec<(Class, String)> {
    let mut out: Vec<(Class, String)> = Vec::new();
    for c in s.chars() {
        let class = class_of(c);
        match out.last_mut() {
            Some((last, text)) if *last == class && !matches!(class, Class::Other(_)) => {
                text.push(c);
            }
            _ => out.push((class, c.to_string())),
        }
    }
    out
}

/// A regular expression all `values` match, with a description, when they
/// share one structure (same runs of digits, letters and punctuation).
pub fn shape(values: &[&str]) -> Option<(String, String)> {
    let distinct: BTreeSet<&str> = values.iter().copied().collect();
    if distinct.len() < 3 {
        return None;
    }
    let all: Vec<Vec<(Class, String)>> = distinct.iter().map(|v| runs(v)).collect();
    let first = all.first()?;
    if first.is_empty() || first.len() > 8 {
        return None;
    }
    if all
        .iter()
        .any(|r| r.len() != first.len() || r.iter().zip(first).any(|(a, b)| a.0 != b.0))
    {
        return None;
    }
    let mut regex = String::from("^");
    let mut words = Vec::new();
    let mut literal = String::new();
    let mut variable = false;
    for (i, (class, text)) in first.iter().enumerate() {
        let same = all.iter().all(|r| r[i].1 == *text);
        if same {
            regex.push_str(&regex::escape(text));
            literal.push_str(text);
            continue;
        }
        if !literal.is_empty() {
            words.push(format!("'{literal}'"));
            literal.clear();
        }
        variable = true;
        let (re, word) = match class {
            Class::Digit => ("[0-9]+", "digits"),
            Class::Lower => ("[a-z]+", "lower-case letters"),
            Class::Upper => ("[A-Z]+", "capital letters"),
            Class::Other(_) => return None,
        };
        regex.push_str(re);
        words.push(word.to_string());
    }
    if !literal.is_empty() {
        words.push(format!("'{literal}'"));
    }
    if !variable {
        return None;
    }
    regex.push('$');
    Some((regex, words.join(" then ")))
}
