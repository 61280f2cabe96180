//! The DBBench data set, embedded from `data/dbbench/` (AgentBench's
//! `dev.jsonl` and `standard.jsonl`, Apache-2.0).

use serde::Deserialize;
use serde_json::Value;

use crate::error::AgentBenchError;

const DEV: &str = include_str!("../../data/dbbench/dbbench-dev.jsonl");
const STANDARD: &str = include_str!("../../data/dbbench/dbbench-standard.jsonl");

/// The split names, in order.
pub const SPLITS: [&str; 2] = ["dev", "standard"];

/// One column of a task table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Column {
    /// The column name.
    pub name: String,
}

/// The columns and rows of a task table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TableInfo {
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows, as JSON values.
    pub rows: Vec<Vec<Value>>,
}

/// A task table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DbTable {
    /// The table name.
    pub table_name: String,
    /// Its columns and rows.
    pub table_info: TableInfo,
}

/// The reference SQL of a query task.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DbSql {
    /// The query.
    pub query: String,
}

/// One DBBench task, as in the data file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DbEntry {
    /// The question.
    pub description: String,
    /// The table description appended to the question.
    #[serde(default)]
    pub add_description: String,
    /// The expected answer (query tasks) or the gold SQL (modification tasks).
    #[serde(default)]
    pub label: Vec<Value>,
    /// `[('<hash>',)]` after the gold SQL ran (modification tasks).
    #[serde(default)]
    pub answer_md5: Option<String>,
    /// The task type, e.g. `["counting"]`, `["INSERT"]`.
    #[serde(rename = "type")]
    pub kind: Vec<String>,
    /// The table.
    pub table: DbTable,
    /// The reference query (query tasks).
    #[serde(default)]
    pub sql: Option<DbSql>,
    /// The source data set (wikisql, wikitq, ...).
    #[serde(default)]
    pub source: Option<String>,
}

impl DbEntry {
    /// The task type (`other` when missing).
    pub fn kind(&self) -> &str {
        self.kind.first().map_or("other", String::as_str)
    }

    /// The first user message, as AgentBench builds it.
    pub fn prompt(&self) -> String {
        format!("{}\n{}", self.description, self.add_description)
    }
}

/// One task of a split.
#[derive(Debug, Clone, PartialEq)]
pub struct DbTaskRecord {
    /// The task id (`<split>-<index>`).
    pub id: String,
    /// The split.
    pub split: &'static str,
    /// The index in the split's data file.
    pub index: usize,
    /// The data.
    pub entry: DbEntry,
}

/// All DBBench tasks.
#[derive(Debug, Clone)]
pub struct DbData {
    /// Tasks in split order, then file order.
    pub tasks: Vec<DbTaskRecord>,
}

impl DbData {
    /// Parses the embedded data set.
    pub fn load() -> Result<Self, AgentBenchError> {
        let mut tasks = Vec::new();
        for (split, text) in [("dev", DEV), ("standard", STANDARD)] {
            for (index, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                let entry: DbEntry = serde_json::from_str(line).map_err(|e| {
                    AgentBenchError::Data(format!("dbbench {split} line {}: {e}", index + 1))
                })?;
                tasks.push(DbTaskRecord {
                    id: format!("{split}-{index:03}"),
                    split,
                    index,
                    entry,
                });
            }
        }
        Ok(Self { tasks })
    }

    /// The tasks of `split` (`all` for every task).
    pub fn split(&self, split: &str) -> Result<Vec<&DbTaskRecord>, AgentBenchError> {
        if split == "all" {
            return Ok(self.tasks.iter().collect());
        }
        if !SPLITS.contains(&split) {
            return Err(AgentBenchError::UnknownSplit(
                split.to_string(),
                "dev, standard, all".to_string(),
            ));
        }
        Ok(self.tasks.iter().filter(|t| t.split == split).collect())
    }

    /// The task with id `id`.
    pub fn get(&self, id: &str) -> Result<&DbTaskRecord, AgentBenchError> {
        self.tasks
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| AgentBenchError::UnknownTask(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_has_the_published_sizes() {
        let data = DbData::load().expect("load");
        assert_eq!(data.split("dev").expect("dev").len(), 60);
        assert_eq!(data.split("standard").expect("standard").len(), 300);
        assert!(data.split("test").is_err());
        let modifications = data
            .tasks
            .iter()
            .filter(|t| super::super::compare::is_modification(t.entry.kind()))
            .filter(|t| t.entry.answer_md5.is_some())
            .count();
        assert_eq!(modifications, 240);
    }
}
