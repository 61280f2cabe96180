//! DBBench's text protocol (AgentBench v0.2): `Action: Operation` followed
//! by a ```sql block runs SQL; any other reply ends the episode, and its
//! answer is what follows `Final Answer:` on a new line.

use std::sync::LazyLock;

use regex::Regex;

/// What a text reply asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextAction {
    /// Run this SQL (newlines replaced by spaces, as in AgentBench).
    Operation(String),
    /// `Action: Operation` without a ```sql block: the episode fails.
    MissingSql,
    /// The episode ends with this answer text (`None` when there is no
    /// `Final Answer:` line).
    Answer(Option<String>),
}

static ACTION: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"Action: (.*?)\n").ok());
static SQL_BLOCK: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"```sql\n([\s\S]*?)\n```").ok());
static FINAL_ANSWER: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\nFinal Answer:(.*)").ok());

fn first_group(re: &LazyLock<Option<Regex>>, text: &str) -> Option<String> {
    let re = re.as_ref()?;
    Some(re.captures(text)?.get(1)?.as_str().to_string())
}

/// Parses one text reply.
pub fn parse(reply: &str) -> TextAction {
    if first_group(&ACTION, reply).as_deref() == Some("Operation") {
        return match first_group(&SQL_BLOCK, reply) {
            Some(sql) => TextAction::Operation(sql.trim().replace('\n', " ")),
            None => TextAction::MissingSql,
        };
    }
    TextAction::Answer(first_group(&FINAL_ANSWER, reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_answers() {
        let op = "I will look.\nAction: Operation\n```sql\nSELECT *\nFROM t;\n```\n";
        assert_eq!(parse(op), TextAction::Operation("SELECT * FROM t;".into()));
        assert_eq!(parse("Action: Operation\nSELECT 1"), TextAction::MissingSql);
        let answer = "Done.\nAction: Answer\nFinal Answer: [\"a\"]";
        assert_eq!(parse(answer), TextAction::Answer(Some(" [\"a\"]".into())));
        assert_eq!(parse("Final Answer: 3"), TextAction::Answer(None));
        assert_eq!(
            parse("Action: Operation \n```sql\nx\n```"),
            TextAction::Answer(None)
        );
    }
}
