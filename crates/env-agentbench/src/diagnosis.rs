//! What diagnosis needs to know about AgentBench DB and OS: what their
//! error texts mean, which actions write, and the text protocol's replies
//! read as the tool calls they stand for.
//!
//! Both benchmarks hand the agent the raw error of SQLite or the shell as
//! the observation (not flagged as an error, as in AgentBench), so the
//! meanings below are found by the text alone.

use lifeharness_core::{Action, ErrorMeaning, FailureKind, ToolCall};
use serde_json::json;

use crate::db::env::{COMMIT_FINAL_ANSWER, EXECUTE_SQL};
use crate::db::protocol::{TextAction, parse};
use crate::os::env::{ANSWER_ACTION, BASH_ACTION, FINISH_ACTION};

type Family = (&'static str, FailureKind, &'static str, &'static str);

/// Error families shared by both benchmarks' tool layer.
const PROTOCOL: &[Family] = &[
    (
        "Failed to parse",
        FailureKind::FormatError,
        "arguments_not_json",
        "the tool call's arguments could not be read as a JSON object",
    ),
    (
        "Invalid function call",
        FailureKind::UnknownTool,
        "unknown_tool",
        "the tool does not exist",
    ),
    (
        "Invalid reply",
        FailureKind::FormatError,
        "text_protocol",
        "the reply follows neither the text protocol nor a tool call",
    ),
];

/// SQLite's messages (the DB benchmark runs on SQLite).
const SQL: &[Family] = &[
    (
        "argument must be a string",
        FailureKind::SchemaViolation,
        "query_not_string",
        "execute_sql takes the query as a string",
    ),
    (
        "syntax error",
        FailureKind::SchemaViolation,
        "sql_syntax",
        "the SQL does not parse",
    ),
    (
        "incomplete input",
        FailureKind::SchemaViolation,
        "sql_syntax",
        "the SQL statement is cut off",
    ),
    (
        "unrecognized token",
        FailureKind::SchemaViolation,
        "sql_syntax",
        "the SQL has a token SQLite cannot read (e.g. an unclosed quote)",
    ),
    (
        "no such table",
        FailureKind::ContractViolation,
        "no_such_table",
        "the query names a table the database does not have: use the table name given in the task",
    ),
    (
        "no such column",
        FailureKind::ContractViolation,
        "no_such_column",
        "the query names a column the table does not have: quote column names exactly as listed",
    ),
    (
        "ambiguous column name",
        FailureKind::ContractViolation,
        "ambiguous_column",
        "a column name matches several tables: qualify it",
    ),
    (
        "no such function",
        FailureKind::ContractViolation,
        "no_such_function",
        "SQLite has no such function",
    ),
    (
        "constraint failed",
        FailureKind::PolicyDenied,
        "constraint_failed",
        "the write breaks a table constraint",
    ),
    (
        "timed out",
        FailureKind::EnvironmentError,
        "timeout",
        "the query ran past the time limit",
    ),
];

/// The shell's messages.
const SHELL: &[Family] = &[
    (
        "needs a 'script' argument",
        FailureKind::SchemaViolation,
        "missing_argument",
        "bash_action needs the script to run",
    ),
    (
        "syntax error",
        FailureKind::SchemaViolation,
        "shell_syntax",
        "the script does not parse",
    ),
    (
        "command not found",
        FailureKind::ContractViolation,
        "command_not_found",
        "the sandbox has no such command",
    ),
    (
        "No such file or directory",
        FailureKind::ContractViolation,
        "no_such_file",
        "the path does not exist in the sandbox",
    ),
    (
        "Permission denied",
        FailureKind::PolicyDenied,
        "permission_denied",
        "the sandbox user may not do that",
    ),
    (
        "time limit reached",
        FailureKind::EnvironmentError,
        "timeout",
        "the command ran past the time limit",
    ),
];

fn find(families: &[Family], text: &str) -> Option<ErrorMeaning> {
    families
        .iter()
        .find(|(needle, ..)| text.contains(needle))
        .map(|(_, kind, pattern, meaning)| ErrorMeaning::new(*kind, pattern, meaning))
}

/// What a DB observation's text means, if it reports an error.
pub fn explain_db_error(text: &str) -> Option<ErrorMeaning> {
    find(PROTOCOL, text).or_else(|| {
        // SQLite's messages are short and start lower-case or with `near`.
        let head = text.trim_start();
        let sqlish = head.starts_with("near ")
            || head.starts_with("no such")
            || head.starts_with("Error")
            || head.starts_with("incomplete input")
            || head.starts_with("unrecognized token")
            || head.starts_with("ambiguous column")
            || head.contains("constraint failed");
        if sqlish { find(SQL, text) } else { None }
    })
}

/// What an OS observation's text means, if it reports an error. Shell
/// output is only read as an error when a known message is in it.
pub fn explain_os_error(text: &str) -> Option<ErrorMeaning> {
    find(PROTOCOL, text).or_else(|| find(SHELL, text))
}

/// A DB text-protocol reply as the tool call it stands for.
pub fn interpret_db(action: &Action) -> Option<ToolCall> {
    match action {
        Action::ToolCall(call) => Some(call.clone()),
        Action::Message { content } => match parse(content) {
            TextAction::Operation(sql) => Some(ToolCall::from_value(
                "text",
                EXECUTE_SQL,
                json!({"query": sql}),
            )),
            TextAction::Answer(Some(answer)) => Some(ToolCall::from_value(
                "text",
                COMMIT_FINAL_ANSWER,
                json!({"answers": answer}),
            )),
            TextAction::Answer(None) | TextAction::MissingSql => None,
        },
        Action::Finish { .. } => None,
    }
}

/// A DB text reply that is no action of the protocol: AgentBench reads any
/// reply without `Action: Operation` as the final answer, so prose ends the
/// episode with no answer.
pub fn db_action_problem(action: &Action) -> Option<ErrorMeaning> {
    let Action::Message { content } = action else {
        return None;
    };
    match parse(content) {
        TextAction::MissingSql => Some(ErrorMeaning::new(
            FailureKind::FormatError,
            "operation_without_sql",
            "`Action: Operation` needs the SQL in a ```sql block",
        )),
        TextAction::Answer(None) => Some(ErrorMeaning::new(
            FailureKind::FormatError,
            "no_protocol_action",
            "the reply is neither `Action: Operation` with a ```sql block nor `Action: Answer` with `Final Answer:`; AgentBench ends the episode on it with no answer",
        )),
        _ => None,
    }
}

/// An OS text reply that is no action of the protocol.
pub fn os_action_problem(action: &Action) -> Option<ErrorMeaning> {
    let Action::Message { content } = action else {
        return None;
    };
    matches!(crate::os::protocol::parse(content), crate::os::protocol::OsAction::Invalid).then(|| {
        ErrorMeaning::new(
            FailureKind::FormatError,
            "no_protocol_action",
            "the reply is none of `Act: bash` with a ```bash block, `Act: answer(...)` or `Act: finish`",
        )
    })
}

/// An OS text reply as the tool call it stands for.
pub fn interpret_os(action: &Action) -> Option<ToolCall> {
    match action {
        Action::ToolCall(call) => Some(call.clone()),
        Action::Message { content } => match crate::os::protocol::parse(content) {
            crate::os::protocol::OsAction::Bash(script) => Some(ToolCall::from_value(
                "text",
                BASH_ACTION,
                json!({"script": script}),
            )),
            crate::os::protocol::OsAction::Commit(answer) => Some(ToolCall::from_value(
                "text",
                ANSWER_ACTION,
                json!({"answer": answer}),
            )),
            crate::os::protocol::OsAction::Invalid => None,
        },
        Action::Finish { .. } => None,
    }
}

/// Whether a DB tool writes: the final answer always does (it is what is
/// graded); a query only when it is not a read.
pub fn db_writes(tool: &str) -> Option<bool> {
    match tool {
        COMMIT_FINAL_ANSWER => Some(true),
        EXECUTE_SQL => None,
        _ => Some(false),
    }
}

/// Whether an OS tool writes: answering does; a script may.
pub fn os_writes(tool: &str) -> Option<bool> {
    match tool {
        ANSWER_ACTION | FINISH_ACTION => Some(true),
        BASH_ACTION => None,
        _ => Some(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_messages() {
        let m = explain_db_error("no such table: US").unwrap();
        assert_eq!(m.pattern, "no_such_table");
        let m = explain_db_error("near \"FORM\": syntax error").unwrap();
        assert_eq!(m.kind, FailureKind::SchemaViolation);
        assert!(explain_db_error("[('no such table', 3)]").is_none());
        assert!(explain_db_error("[(1, 'Alice')]").is_none());
    }

    #[test]
    fn text_protocol_reads_as_calls() {
        let op = Action::Message {
            content: "Action: Operation\n```sql\nSELECT 1\n```".into(),
        };
        assert_eq!(interpret_db(&op).unwrap().name, EXECUTE_SQL);
        let answer = Action::Message {
            content: "Action: Answer\nFinal Answer: [\"3\"]".into(),
        };
        assert_eq!(interpret_db(&answer).unwrap().name, COMMIT_FINAL_ANSWER);
    }

    #[test]
    fn prose_is_no_protocol_action() {
        let prose = Action::Message {
            content: "The answer is probably in the table.".into(),
        };
        assert_eq!(
            db_action_problem(&prose).unwrap().pattern,
            "no_protocol_action"
        );
        let op = Action::Message {
            content: "Action: Operation\n```sql\nSELECT 1\n```".into(),
        };
        assert!(db_action_problem(&op).is_none());
        assert!(os_action_problem(&prose).is_some());
    }

    #[test]
    fn shell_messages() {
        let m = explain_os_error("bash: foo: command not found").unwrap();
        assert_eq!(m.pattern, "command_not_found");
        assert!(explain_os_error("total 0\n").is_none());
    }
}
