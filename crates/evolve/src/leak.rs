//! The anti-leak scan: an evolved rule or skill must hold generic patterns
//! only, never the concrete ids, names, e-mails, dates or gold argument
//! values of the training tasks, nor task ids or split names.

use std::collections::BTreeSet;

use lifeharness_core::{Action, Task};
use serde_json::Value;

/// The training tasks' concrete values.
#[derive(Debug, Default)]
pub struct LeakScan {
    /// Values matched as substrings (case-insensitive).
    values: BTreeSet<String>,
    /// Words matched whole (split names, short task ids).
    words: BTreeSet<String>,
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

fn concrete(s: &str) -> bool {
    let s = s.trim();
    s.len() >= 4
        && (s.contains('@')
            || is_date(s)
            || (s.chars().any(|c| c.is_ascii_digit())
                && s.chars().any(|c| c.is_ascii_alphabetic()))
            || (s.len() >= 6 && s.chars().all(|c| c.is_ascii_digit())))
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

impl LeakScan {
    /// What to look for, from the training tasks, their reference actions,
    /// the split names and the public contract text (values stated there are
    /// part of the environment's contract, not leaks).
    pub fn new(
        tasks: &[Task],
        references: &[(String, Vec<Action>)],
        splits: &[String],
        contract_text: &str,
    ) -> Self {
        let mut scan = Self::default();
        let contract = contract_text.to_lowercase();
        let public = |s: &str| contract.contains(&s.to_lowercase());
        // Words many tasks use are the domain's vocabulary, not a task's values.
        let mut spread: std::collections::BTreeMap<String, usize> = Default::default();
        for task in tasks {
            let words: BTreeSet<String> = task
                .instruction
                .split(|c: char| !c.is_ascii_alphanumeric())
                .map(str::to_lowercase)
                .collect();
            for w in words {
                *spread.entry(w).or_default() += 1;
            }
        }
        let common = |w: &str| {
            spread.get(&w.to_lowercase()).copied().unwrap_or(0) > (tasks.len() / 10).max(2)
        };
        for task in tasks {
            if task.id.len() >= 4 || !task.id.chars().all(|c| c.is_ascii_digit()) {
                scan.words.insert(task.id.to_lowercase());
            }
            let mut found = Vec::new();
            strings(&task.data, &mut found);
            for s in found {
                if concrete(s) && !public(s) {
                    scan.values.insert(s.trim().to_lowercase());
                }
            }
            // Names: capitalised words inside sentences that the contract never uses.
            for sentence in task.instruction.split(['.', '!', '?', '\n']) {
                for word in sentence.split_whitespace().skip(1) {
                    let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
                    if w.len() >= 3
                        && w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                        && w.chars().skip(1).all(|c| c.is_ascii_lowercase())
                        && !public(w)
                        && !common(w)
                    {
                        scan.words.insert(w.to_lowercase());
                    }
                }
                for word in sentence.split_whitespace() {
                    let w = word
                        .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '@' && c != '#');
                    if concrete(w) && !public(w) {
                        scan.values.insert(w.to_lowercase());
                    }
                }
            }
        }
        for (_, actions) in references {
            for action in actions {
                if let Some(args) = action.as_tool_call().and_then(|c| c.args()) {
                    let mut found = Vec::new();
                    strings(args, &mut found);
                    for s in found {
                        if s.trim().len() >= 4 && !public(s) {
                            scan.values.insert(s.trim().to_lowercase());
                        }
                    }
                }
            }
        }
        for split in splits {
            scan.words.insert(split.to_lowercase());
        }
        scan
    }

    /// The concrete values `text` holds (empty: clean).
    pub fn find(&self, text: &str) -> Vec<String> {
        let lower = text.to_lowercase();
        let mut hits: Vec<String> = self
            .values
            .iter()
            .filter(|v| lower.contains(v.as_str()))
            .cloned()
            .collect();
        let words: BTreeSet<&str> = lower
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-')
            .collect();
        hits.extend(
            self.words
                .iter()
                .filter(|w| words.contains(w.as_str()))
                .cloned(),
        );
        hits
    }
}

/// The parts of a change the model would see or a rule would match on:
/// everything but its examples (evidence, never shown to the model).
pub fn scanned_text(change: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(m) => {
                for (k, x) in m {
                    if k != "examples" && k != "kind" {
                        walk(x, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(change, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn concrete_values_names_and_splits_are_found_and_contract_values_are_not() {
        let task = Task {
            id: "task_0042".into(),
            environment: "e".into(),
            instruction: "You are Yusuf Rossi, e-mail yusuf.rossi@example.com, order #W2611340."
                .into(),
            data: json!({"user_id": "yusuf_rossi_9620", "date": "2024-05-01"}),
        };
        let refs = vec![(
            "task_0042".to_string(),
            vec![Action::ToolCall(lifeharness_core::ToolCall::from_value(
                "c",
                "cancel",
                json!({"reason": "no longer needed", "order_id": "#W2611340"}),
            ))],
        )];
        let scan = LeakScan::new(
            &[task],
            &refs,
            &["train".into()],
            "reason: 'no longer needed' or 'ordered by mistake'",
        );
        assert!(
            !scan
                .find("order ids look like ^#W[0-9]+$")
                .iter()
                .any(|h| h.contains("w26"))
        );
        assert!(
            !scan
                .find("reason must be 'no longer needed'")
                .iter()
                .any(|h| h.contains("needed"))
        );
        for leaky in [
            "call it with #W2611340",
            "user yusuf_rossi_9620",
            "ask Rossi",
            "on 2024-05-01",
            "task_0042",
            "the train split",
        ] {
            assert!(!scan.find(leaky).is_empty(), "{leaky}");
        }
    }
}
