//! The OS-interaction data set, embedded from `data/os_interaction/`
//! (AgentBench's `data/os_interaction/data` and the scripts the tasks refer
//! to, Apache-2.0). Task ids follow AgentBench v0.2:
//! `<prefix><file stem>-<index:05>`, e.g. `std-001-stock-00000`.

use include_dir::{Dir, include_dir};
use serde_json::Value;

use crate::error::AgentBenchError;

static OS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/data/os_interaction");

/// The split names, in order.
pub const SPLITS: [&str; 2] = ["dev", "standard"];

/// The language of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Language {
    /// `bash -c`.
    Bash,
    /// `python3 -c`.
    Python,
    /// Anything else (AgentBench also knows C and C++; no task uses them).
    Other(String),
}

/// A script of a task (init, start, check or example).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Its language.
    pub language: Language,
    /// Its code.
    pub code: String,
}

/// How a task is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluation {
    /// The (optionally stripped) answer must equal `answer` or match `regex`.
    Match {
        /// The exact answer.
        answer: Option<String>,
        /// A regular expression the answer must contain a match of.
        regex: Option<String>,
        /// Whether the answer is stripped first.
        strip: bool,
    },
    /// Scripts run in turn; `None` runs the example script. Each gets the
    /// answer and the stdout of the earlier ones as arguments; all must exit 0.
    Check(Vec<Option<Script>>),
}

/// One OS task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsTask {
    /// The task id.
    pub id: String,
    /// `dev` or `standard`.
    pub split: &'static str,
    /// The problem statement.
    pub description: String,
    /// Scripts run (as fresh processes) before the episode; each must exit 0.
    pub init: Vec<Script>,
    /// A script run in the agent's shell before the episode.
    pub start: Option<Script>,
    /// The judge.
    pub evaluation: Evaluation,
    /// The example solution, if any.
    pub example: Option<Script>,
    /// AgentBench's labels (`file`, `user`, ...).
    pub labels: Vec<String>,
}

fn script(obj: &Value, script_dir: &str) -> Result<Option<Script>, AgentBenchError> {
    match obj {
        Value::Null => Ok(None),
        Value::String(code) => Ok(Some(Script {
            language: Language::Bash,
            code: code.clone(),
        })),
        Value::Object(map) => {
            let language = match map
                .get("language")
                .and_then(Value::as_str)
                .unwrap_or("bash")
            {
                "bash" => Language::Bash,
                "python" => Language::Python,
                other => Language::Other(other.to_string()),
            };
            let code = if let Some(file) = map.get("file").and_then(Value::as_str) {
                let path = format!("{script_dir}{file}");
                OS_DIR
                    .get_file(&path)
                    .and_then(|f| f.contents_utf8())
                    .ok_or_else(|| AgentBenchError::Data(format!("missing script {path}")))?
                    .to_string()
            } else if let Some(code) = map.get("code").and_then(Value::as_str) {
                code.to_string()
            } else {
                return Err(AgentBenchError::Data(format!(
                    "invalid script object {obj}"
                )));
            };
            Ok(Some(Script { language, code }))
        }
        other => Err(AgentBenchError::Data(format!(
            "invalid script object {other}"
        ))),
    }
}

fn scripts(obj: Option<&Value>, dir: &str) -> Result<Vec<Option<Script>>, AgentBenchError> {
    match obj {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|i| script(i, dir)).collect(),
        Some(one) => Ok(vec![script(one, dir)?]),
    }
}

fn parse_task(
    item: &Value,
    id: String,
    split: &'static str,
    dir: &str,
) -> Result<OsTask, AgentBenchError> {
    let bad = |what: &str| AgentBenchError::Data(format!("{id}: {what}"));
    let description = item
        .get("description")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no description"))?
        .to_string();
    let init = scripts(item.get("create").and_then(|c| c.get("init")), dir)?
        .into_iter()
        .flatten()
        .collect();
    let start = match item.get("start") {
        Some(s) => script(s, dir)?,
        None => None,
    };
    let eval = item.get("evaluation").ok_or_else(|| bad("no evaluation"))?;
    let evaluation = if let Some(m) = eval.get("match") {
        match m {
            Value::String(answer) => Evaluation::Match {
                answer: Some(answer.clone()),
                regex: None,
                strip: true,
            },
            Value::Object(map) => Evaluation::Match {
                answer: map
                    .get("answer")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                regex: map.get("regex").and_then(Value::as_str).map(str::to_string),
                strip: map.get("strip").and_then(Value::as_bool).unwrap_or(false),
            },
            _ => return Err(bad("invalid match")),
        }
    } else if let Some(check) = eval.get("check") {
        Evaluation::Check(scripts(Some(check), dir)?)
    } else {
        return Err(bad("check or match must exist"));
    };
    // AgentBench reads `evaluation.example`; a few tasks keep it at the top level.
    let example = match eval.get("example").or_else(|| item.get("example")) {
        Some(e) => script(e, dir)?,
        None => None,
    };
    let labels = item
        .get("labels")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(OsTask {
        id,
        split,
        description,
        init,
        start,
        evaluation,
        example,
        labels,
    })
}

/// All OS tasks, dev first, then the standard files in path order.
pub fn load() -> Result<Vec<OsTask>, AgentBenchError> {
    let mut files: Vec<(String, &'static str, String, String)> = vec![(
        "data/dev.json".into(),
        "dev",
        "scripts/dev/".into(),
        "dev-001-".into(),
    )];
    for n in 1..=7 {
        let dir = format!("data/{n}");
        let Some(sub) = OS_DIR.get_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = sub
            .files()
            .map(|f| f.path().to_string_lossy().into_owned())
            .filter(|p| p.ends_with(".json"))
            .collect();
        names.sort();
        for path in names {
            files.push((
                path,
                "standard",
                format!("scripts/{n}/"),
                format!("std-{n:03}-"),
            ));
        }
    }
    let mut tasks = Vec::new();
    for (path, split, script_dir, prefix) in files {
        let text = OS_DIR
            .get_file(&path)
            .and_then(|f| f.contents_utf8())
            .ok_or_else(|| AgentBenchError::Data(format!("missing {path}")))?;
        let raw: Value = serde_json::from_str(text)
            .map_err(|e| AgentBenchError::Data(format!("{path}: {e}")))?;
        let items = match raw {
            Value::Array(items) => items,
            one => vec![one],
        };
        let stem = path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".json")
            .to_string();
        for (index, item) in items.iter().enumerate() {
            let id = format!("{prefix}{stem}-{index:05}");
            tasks.push(parse_task(item, id, split, &script_dir)?);
        }
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_tasks_load() {
        let tasks = super::load().expect("load");
        assert_eq!(tasks.iter().filter(|t| t.split == "dev").count(), 26);
        assert_eq!(tasks.iter().filter(|t| t.split == "standard").count(), 144);
        assert!(tasks.iter().any(|t| t.id == "std-001-stock-00000"));
    }
}
