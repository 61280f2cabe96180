//! The episode database: an in-memory SQLite database standing in for
//! AgentBench's MySQL 8 container.
//!
//! As in AgentBench every column is created as `TEXT` and every cell is
//! inserted as Python's `str()` of the JSON value. Columns use a `MYSQL`
//! collation so that `=`, `ORDER BY`, `GROUP BY` and `DISTINCT` ignore case
//! and accents like MySQL's default collation; `LIKE` does the same and
//! statements are rewritten for MySQL's literals (see [`super::mysql`]).
//! A few MySQL functions
//! (`CONCAT`, `CONCAT_WS`, `IF`, `MD5`, `LEFT`, `RIGHT`, `LCASE`, `UCASE`) and
//! statements (`SHOW TABLES`, `DESCRIBE t`, `SHOW COLUMNS FROM t`) are
//! provided. Results are rendered as the Python MySQL driver's
//! `str(list_of_tuples)`, truncated at 800 characters as in AgentBench.

use std::sync::LazyLock;

use md5::{Digest, Md5};
use regex::Regex;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, params_from_iter};

use super::data::DbTable;
use super::pyvalue::PyValue;
use crate::error::AgentBenchError;

/// Longest result text shown to the agent, as in AgentBench.
const MAX_RESULT_CHARS: usize = 800;
/// MySQL's default `group_concat_max_len`.
const GROUP_CONCAT_MAX_LEN: usize = 1024;
/// Page cap of the episode database (4 KiB pages: 64 MiB).
const MAX_PAGES: u32 = 16_384;

/// Quotes an identifier with backticks (doubling inner backticks).
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Builds the episode database holding `table`.
pub fn build(table: &DbTable) -> Result<Connection, AgentBenchError> {
    let conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "max_page_count", MAX_PAGES)?;
    register_mysql_functions(&conn)?;
    let columns: Vec<String> = table
        .table_info
        .columns
        .iter()
        .map(|c| format!("{} TEXT COLLATE MYSQL", quote_ident(&c.name)))
        .collect();
    let name = quote_ident(&table.table_name);
    conn.execute_batch(&format!("CREATE TABLE {name} ({});", columns.join(", ")))?;
    let column_names: Vec<String> = table
        .table_info
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let placeholders = vec!["?"; column_names.len()].join(", ");
    let sql = format!(
        "INSERT INTO {name} ({}) VALUES ({placeholders})",
        column_names.join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    for row in &table.table_info.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|v| PyValue::from_json(v).to_py_str())
            .collect();
        stmt.execute(params_from_iter(cells.iter()))?;
    }
    drop(stmt);
    Ok(conn)
}

fn text_of(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(lifeharness_core::py::float_repr(f)),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

fn args_text(ctx: &Context<'_>) -> Vec<Option<String>> {
    (0..ctx.len()).map(|i| text_of(ctx.get_raw(i))).collect()
}

fn register_mysql_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_collation("MYSQL", super::mysql::collate)?;
    for n_arg in [2, 3] {
        conn.create_scalar_function("like", n_arg, flags, |ctx| {
            let (Some(pattern), Some(value)) = (text_of(ctx.get_raw(0)), text_of(ctx.get_raw(1)))
            else {
                return Ok(None);
            };
            let escape = if ctx.len() > 2 {
                text_of(ctx.get_raw(2))
                    .and_then(|e| e.chars().next())
                    .unwrap_or('\\')
            } else {
                '\\'
            };
            Ok(Some(super::mysql::like(&pattern, &value, escape)))
        })?;
    }
    conn.create_scalar_function("concat", -1, flags, |ctx| {
        let parts: Option<Vec<String>> = args_text(ctx).into_iter().collect();
        Ok(parts.map(|p| p.concat()))
    })?;
    conn.create_scalar_function("concat_ws", -1, flags, |ctx| {
        let mut args = args_text(ctx).into_iter();
        let Some(Some(sep)) = args.next() else {
            return Ok(None);
        };
        let parts: Vec<String> = args.flatten().collect();
        Ok(Some(parts.join(&sep)))
    })?;
    conn.create_scalar_function("md5", 1, flags, |ctx| {
        Ok(text_of(ctx.get_raw(0)).map(|t| md5_hex(t.as_bytes())))
    })?;
    conn.create_scalar_function("if", 3, flags, |ctx| {
        let truthy = match ctx.get_raw(0) {
            ValueRef::Null => false,
            ValueRef::Integer(i) => i != 0,
            ValueRef::Real(f) => f != 0.0,
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                let text = String::from_utf8_lossy(t);
                super::compare::py_float(&text).is_some_and(|f| f != 0.0)
            }
        };
        let chosen = if truthy { 1 } else { 2 };
        ctx.get::<SqlValue>(chosen)
    })?;
    conn.create_scalar_function("left", 2, flags, |ctx| {
        let n = ctx.get::<i64>(1).unwrap_or(0).max(0) as usize;
        Ok(text_of(ctx.get_raw(0)).map(|t| t.chars().take(n).collect::<String>()))
    })?;
    conn.create_scalar_function("right", 2, flags, |ctx| {
        let n = ctx.get::<i64>(1).unwrap_or(0).max(0) as usize;
        Ok(text_of(ctx.get_raw(0)).map(|t| {
            let chars: Vec<char> = t.chars().collect();
            chars[chars.len().saturating_sub(n)..]
                .iter()
                .collect::<String>()
        }))
    })?;
    conn.create_scalar_function("lcase", 1, flags, |ctx| {
        Ok(text_of(ctx.get_raw(0)).map(|t| t.to_lowercase()))
    })?;
    conn.create_scalar_function("ucase", 1, flags, |ctx| {
        Ok(text_of(ctx.get_raw(0)).map(|t| t.to_uppercase()))
    })?;
    Ok(())
}

/// Lowercase hex MD5.
pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

static SHOW_TABLES: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?is)^\s*show\s+(full\s+)?tables\s*;?\s*$").ok());
static DESCRIBE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?is)^\s*(?:describe|desc|show\s+(?:full\s+)?(?:columns|fields)\s+(?:from|in))\s+(`[^`]+`|\S+?)\s*;?\s*$",
    )
    .ok()
});

fn unquote_ident(raw: &str) -> String {
    let t = raw.trim();
    for (open, close) in [('`', '`'), ('"', '"'), ('\'', '\''), ('[', ']')] {
        if let Some(inner) = t.strip_prefix(open).and_then(|s| s.strip_suffix(close)) {
            return inner.to_string();
        }
    }
    t.to_string()
}

/// Rewrites the few MySQL-only statements into SQLite ones giving the same rows.
fn translate(sql: &str) -> String {
    let sql = super::mysql::translate(sql);
    let sql = sql.as_str();
    if SHOW_TABLES.as_ref().is_some_and(|re| re.is_match(sql)) {
        return "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name".to_string();
    }
    if let Some(caps) = DESCRIBE.as_ref().and_then(|re| re.captures(sql))
        && let Some(table) = caps.get(1)
    {
        let name = unquote_ident(table.as_str()).replace('\'', "''");
        // MySQL's columns: Field, Type, Null, Key, Default, Extra.
        return format!(
            "SELECT name, lower(type), CASE WHEN \"notnull\" THEN 'NO' ELSE 'YES' END, '', \
             dflt_value, '' FROM pragma_table_info('{name}') ORDER BY cid"
        );
    }
    sql.to_string()
}

fn py_of(value: ValueRef<'_>) -> PyValue {
    match value {
        ValueRef::Null => PyValue::None,
        ValueRef::Integer(i) => PyValue::Int(i.to_string()),
        ValueRef::Real(f) => PyValue::Float(f),
        ValueRef::Text(t) => PyValue::Str(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => PyValue::Bytes(b.to_vec()),
    }
}

/// Runs one statement and returns its rows (empty for statements without rows).
pub fn query(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<Vec<PyValue>>> {
    let sql = translate(sql);
    let mut stmt = conn.prepare(&sql)?;
    let width = stmt.column_count();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(py_of(row.get_ref(i)?));
        }
        out.push(values);
    }
    Ok(out)
}

/// Runs one statement and renders the result the way AgentBench shows it.
pub fn execute(conn: &Connection, sql: &str) -> String {
    let text = match query(conn, sql) {
        Ok(rows) => PyValue::List(rows.into_iter().map(PyValue::Tuple).collect()).repr(),
        Err(err) => err.to_string(),
    };
    truncate(&text)
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_RESULT_CHARS) {
        Some((cut, _)) => format!("{}[TRUNCATED]", &text[..cut]),
        None => text.to_string(),
    }
}

/// AgentBench's table hash, computed as MySQL computes
/// `md5(group_concat(rowhash order by rowhash))` over
/// `substring(md5(concat_ws(',', cols...)), 1, 5)`; `None` (printed by Python
/// as `None`) for an empty table.
pub fn table_hash(conn: &Connection, table: &DbTable) -> Result<String, AgentBenchError> {
    let columns: Vec<String> = table
        .table_info
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let sql = format!(
        "SELECT {} FROM {}",
        columns.join(", "),
        quote_ident(&table.table_name)
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.raw_query();
    let mut hashes = Vec::new();
    while let Some(row) = rows.next()? {
        let mut parts = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            if let Some(text) = text_of(row.get_ref(i)?) {
                parts.push(text);
            }
        }
        let mut h = md5_hex(parts.join(",").as_bytes());
        h.truncate(5);
        hashes.push(h);
    }
    if hashes.is_empty() {
        return Ok("None".to_string());
    }
    hashes.sort();
    let mut joined = hashes.join(",");
    joined.truncate(GROUP_CONCAT_MAX_LEN);
    Ok(md5_hex(joined.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::data::{Column, TableInfo};
    use serde_json::json;

    fn table() -> DbTable {
        DbTable {
            table_name: "My Table".into(),
            table_info: TableInfo {
                columns: vec![
                    Column {
                        name: "Name".into(),
                    },
                    Column {
                        name: "Points".into(),
                    },
                ],
                rows: vec![
                    vec![json!("Alice"), json!(10)],
                    vec![json!("bob"), json!(2.0)],
                ],
            },
        }
    }

    #[test]
    fn results_render_like_the_python_driver() {
        let conn = build(&table()).expect("build");
        assert_eq!(
            execute(&conn, "SELECT * FROM `My Table`"),
            "[('Alice', '10'), ('bob', '2.0')]"
        );
        assert_eq!(execute(&conn, "SELECT COUNT(*) FROM `My Table`"), "[(2,)]");
        assert_eq!(
            execute(&conn, "SELECT Name FROM `My Table` WHERE Name = 'BOB'"),
            "[('bob',)]"
        );
        assert_eq!(execute(&conn, "UPDATE `My Table` SET Points = '3'"), "[]");
        assert_eq!(execute(&conn, "show tables"), "[('My Table',)]");
        assert_eq!(
            execute(&conn, "DESCRIBE `My Table`"),
            "[('Name', 'text', 'YES', '', None, ''), ('Points', 'text', 'YES', '', None, '')]"
        );
        assert_eq!(
            execute(
                &conn,
                "SELECT CONCAT(Name, '-', Points), IF(1 > 2, 'y', 'n') FROM `My Table` LIMIT 1"
            ),
            "[('Alice-3', 'n')]"
        );
        assert!(execute(&conn, "SELEC 1").contains("syntax error"));
    }

    #[test]
    fn long_results_are_truncated() {
        let conn = build(&table()).expect("build");
        let out = execute(
            &conn,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 500) SELECT x FROM c",
        );
        assert!(out.ends_with("[TRUNCATED]"));
        assert_eq!(out.chars().count(), 800 + "[TRUNCATED]".len());
    }

    #[test]
    fn hash_matches_mysql_definition() {
        let conn = build(&table()).expect("build");
        let mut rows = [
            md5_hex(b"Alice,10")[..5].to_string(),
            md5_hex(b"bob,2.0")[..5].to_string(),
        ];
        rows.sort();
        assert_eq!(
            table_hash(&conn, &table()).expect("hash"),
            md5_hex(rows.join(",").as_bytes())
        );
        conn.execute_batch("DELETE FROM `My Table`")
            .expect("delete");
        assert_eq!(table_hash(&conn, &table()).expect("hash"), "None");
    }
}
