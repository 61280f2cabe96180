//! The optional LLM proposer (as Self-Harness does): it receives the
//! weakness summary and a bounded sample of failed and successful steps,
//! and answers with minimal additions to the harness file, which are gated
//! exactly like the miners' output.

use std::collections::BTreeMap;
use std::fmt::Write;

use lifeharness_core::{ChatRequest, Message, Model};
use lifeharness_diagnose::{Category, Recorded};
use lifeharness_rules::Harness;

use crate::candidate::{Candidate, Change};
use crate::miners::MineInput;

/// Steps of failed and of successful episodes shown, at most.
const SAMPLE: usize = 12;

/// The prompt.
pub fn prompt(input: &MineInput<'_>, episodes: &[Recorded]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "You improve a runtime harness for a tool-use agent on the environment '{}'. The harness checks each tool call before it runs and explains errors; it never changes the model.",
        input.environment
    );
    let mut signatures: BTreeMap<String, usize> = BTreeMap::new();
    for d in input.diagnoses.iter().filter(|d| d.failed()) {
        if let Some(sig) = &d.signature {
            *signatures
                .entry(format!("{} {sig}", d.category.map_or("?", |c| c.as_str())))
                .or_default() += 1;
        }
    }
    let mut top: Vec<(String, usize)> = signatures.into_iter().collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.1));
    let _ = writeln!(
        s,
        "\nWeaknesses (failed episodes by category and signature):"
    );
    for (sig, n) in top.iter().take(10) {
        let _ = writeln!(s, "- {n} x {sig}");
    }
    let _ = writeln!(s, "\nFailed calls (tool, arguments, environment answer):");
    for f in input
        .facts
        .calls
        .iter()
        .filter(|f| !f.ok && f.success == Some(false))
        .take(SAMPLE)
    {
        let _ = writeln!(
            s,
            "- {} {} -> {}",
            f.tool,
            f.args,
            f.output.chars().take(160).collect::<String>()
        );
    }
    let _ = writeln!(s, "\nCalls of successful episodes:");
    for f in input.facts.legit().take(SAMPLE) {
        let _ = writeln!(s, "- {} {}", f.tool, f.args);
    }
    let _ = writeln!(
        s,
        "\n{} episodes seen. Answer with TOML only: new [[contract.constraints]] (id, tool, arg, and enum / pattern / format = \"non_empty\", message) or [[contract.ordering]] (id, tools, after, message) entries. Use generic patterns, never concrete ids, names or values from the calls above.",
        episodes.len()
    );
    s
}

/// Asks `model` and turns its answer into candidates (none when it is not
/// valid TOML of the harness format), with a line for the ledger saying
/// what came of the request.
pub async fn propose(
    model: &dyn Model,
    input: &MineInput<'_>,
    episodes: &[Recorded],
    round: u32,
) -> (Vec<Candidate>, String) {
    let spec = model.info().spec;
    let request = ChatRequest {
        messages: vec![Message::user(prompt(input, episodes))],
        session: Some(format!("evolve-proposer-{round}")),
        ..ChatRequest::default()
    };
    let turn = match model.chat(&request).await {
        Ok(turn) => turn,
        Err(e) => return (Vec::new(), format!("proposer {spec} failed: {e}")),
    };
    let text = turn.text.unwrap_or_default();
    let candidates = parse(&text, &spec);
    let note = if candidates.is_empty() {
        let start: String = text.chars().take(120).collect();
        format!(
            "proposer {spec} answered {} characters with no harness rule entries (starting: {:?})",
            text.chars().count(),
            start
        )
    } else {
        format!("proposer {spec} proposed {} change(s)", candidates.len())
    };
    (candidates, note)
}

/// Reads a proposer's TOML answer (code fences allowed).
pub fn parse(answer: &str, by: &str) -> Vec<Candidate> {
    let body: String = answer
        .lines()
        .filter(|l| !l.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = format!("format_version = 1\nname = \"proposal\"\n{body}\n");
    let Ok(h) = Harness::from_toml(&text, "proposal") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |id: &str, category: Category, change: Change| {
        let mut c = Candidate::new(
            id,
            by,
            category,
            "proposer",
            format!("proposed by {by}"),
            change,
            BTreeMap::new(),
        );
        c.source = "proposer".to_string();
        out.push(c);
    };
    for c in h.contract.constraints {
        push(
            &c.id.clone(),
            Category::EnvironmentContract,
            Change::Constraint(c),
        );
    }
    for o in h.contract.ordering {
        push(
            &o.id.clone(),
            Category::EnvironmentContract,
            Change::Ordering(o),
        );
    }
    for p in h.realization.rules {
        push(
            &p.id.clone(),
            Category::EnvironmentContract,
            Change::Precondition(p),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_candidates_or_nothing() {
        let answer = "```toml\n[[contract.constraints]]\nid = \"x-format\"\ntool = \"t\"\narg = \"a\"\npattern = \"^[0-9]+$\"\n```";
        let got = parse(answer, "m");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].source, "proposer");
        assert!(parse("I think you should be careful.", "m").is_empty());
    }
}
