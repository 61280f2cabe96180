//! The OS-interaction text protocol (AgentBench v0.2): the last `Act:` line
//! that names a known action wins; `bash` runs every ```bash block of the
//! reply (joined by blank lines), `finish` ends the episode without an
//! answer, `answer(...)` ends it with the text between the first `(` and the
//! last `)`. Also the output clean-up applied to what the shell prints.

use std::sync::LazyLock;

use regex::Regex;

/// What a reply asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OsAction {
    /// Run this bash code in the agent's shell.
    Bash(String),
    /// End the episode, with the answer if one was given.
    Commit(Option<String>),
    /// No valid action: the episode fails.
    Invalid,
}

static ACT: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"Act:\s*(.+)").ok());
static BASH_BLOCK: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?s)```bash\n(.*?)\n```").ok());

/// Parses one text reply.
pub fn parse(reply: &str) -> OsAction {
    let Some(act) = ACT.as_ref() else {
        return OsAction::Invalid;
    };
    let acts: Vec<&str> = act
        .captures_iter(reply)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
        .collect();
    for action in acts.iter().rev() {
        let lower = action.to_lowercase();
        if lower.starts_with("bash") {
            let blocks: Vec<&str> = BASH_BLOCK
                .as_ref()
                .map(|re| {
                    re.captures_iter(reply)
                        .filter_map(|c| c.get(1).map(|m| m.as_str()))
                        .collect()
                })
                .unwrap_or_default();
            return OsAction::Bash(blocks.join("\n\n"));
        }
        if lower.starts_with("finish") {
            return OsAction::Commit(None);
        }
        if lower.starts_with("answer") {
            let content = action.get(6..).unwrap_or("").trim();
            if let (Some(l), Some(r)) = (content.find('('), content.rfind(')'))
                && l < r
            {
                return OsAction::Commit(Some(content[l + 1..r].to_string()));
            }
        }
    }
    OsAction::Invalid
}

static TERMINAL_NOISE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"\x1b\[[0-9;]*[a-zA-Z]",
        r"\x1b\][0-9]*;[^\x07]*\x07",
        r"\x1b\[\?2004[hl]",
        r"\x07",
    ]
    .iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

/// Removes terminal control sequences as AgentBench does.
pub fn clean_output(text: &str) -> String {
    let mut out = text.to_string();
    for re in TERMINAL_NOISE.iter() {
        out = re.replace_all(&out, "").into_owned();
    }
    out
}

/// The observation text for a command's output, truncated as in AgentBench.
pub fn render_output(output: &str) -> String {
    if output.is_empty() {
        return "The output of the OS is empty.".to_string();
    }
    let shown = match output.char_indices().nth(800) {
        Some(_) => {
            let cut = output
                .char_indices()
                .nth(780)
                .map_or(output.len(), |(i, _)| i);
            format!(
                "{}\n[truncated because the output is too long]",
                &output[..cut]
            )
        }
        None => output.to_string(),
    };
    format!("The output of the OS:\n\n{shown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions() {
        let bash = "Think: look.\n\nAct: bash\n\n```bash\nls /etc\n```";
        assert_eq!(parse(bash), OsAction::Bash("ls /etc".into()));
        assert_eq!(
            parse("Think: x\nAct: answer(220)"),
            OsAction::Commit(Some("220".into()))
        );
        assert_eq!(parse("Act: finish"), OsAction::Commit(None));
        assert_eq!(parse("Act: answer 3"), OsAction::Invalid);
        assert_eq!(parse("no action"), OsAction::Invalid);
        let two = "Act: bash\n```bash\necho 1\n```\n```bash\necho 2\n```";
        assert_eq!(parse(two), OsAction::Bash("echo 1\n\necho 2".into()));
    }

    #[test]
    fn output_is_cleaned_and_truncated() {
        assert_eq!(clean_output("\x1b[01;34mdir\x1b[0m\x07"), "dir");
        assert_eq!(render_output(""), "The output of the OS is empty.");
        let long = "x".repeat(900);
        let shown = render_output(&long);
        assert!(shown.ends_with("\n[truncated because the output is too long]"));
        assert_eq!(shown.matches('x').count(), 780);
    }
}
