//! An LLM's label for a failed episode, next to the deterministic one.
//!
//! The judge sees the taxonomy, the task, the episode's actions and results
//! (shortened) and the reference actions, and is asked for one JSON object
//! `{"category": ..., "step": ..., "reason": ...}`. A reply that names no
//! category is kept with its text as the reason; the deterministic label
//! is never replaced.

use lifeharness_core::{Action, ChatRequest, Message, Model};
use serde_json::Value;

use crate::diagnose::{Category, Diagnosis, JudgeLabel};
use crate::recorded::Recorded;
use crate::replay::shorten;

/// The most actions shown to the judge (the first ones).
const MAX_ACTIONS: usize = 40;

fn system_prompt() -> String {
    "You label why an AI agent failed a tool-use task. Categories:\n\
     - action_realization: the agent's action could not be executed as emitted (unreadable output, unknown tool, missing or malformed arguments).\n\
     - environment_contract: the call was executable but broke the environment's rules (inadmissible values, ids that do not exist, unmet preconditions such as order status, policy).\n\
     - trajectory_degeneration: the agent repeated itself, cycled or stalled until a budget ran out.\n\
     - residual_reasoning: the actions went through but the plan or the values were wrong (wrong item, wrong amount, missing step, premature stop).\n\
     - infrastructure: the model backend, the environment or the harness failed.\n\
     Reply with one JSON object only: {\"category\": \"...\", \"step\": <first critical step number>, \"reason\": \"one sentence\"}."
        .to_string()
}

fn render_action(action: &Action) -> String {
    match action {
        Action::ToolCall(call) => format!(
            "{}({})",
            call.name,
            call.args()
                .map(|a| shorten(&a.to_string(), 200))
                .unwrap_or_else(|| shorten(&call.arguments_raw, 200))
        ),
        Action::Message { content } => format!("say: {}", shorten(content, 200)),
        Action::Finish { reason } => format!("finish: {}", reason.as_deref().unwrap_or("")),
    }
}

/// The user message the judge reads.
pub fn prompt(episode: &Recorded, reference: Option<&[Action]>) -> String {
    let mut out = format!(
        "Task ({}): {}\n\nEpisode (reward {}, ended {}):\n",
        episode.task.id,
        shorten(&episode.task.instruction, 1500),
        episode.reward.map_or("none".into(), |r| r.to_string()),
        episode.exit.as_deref().unwrap_or("?")
    );
    for (i, step) in episode.steps.iter().enumerate() {
        if let Some(fe) = &step.format_error {
            out.push_str(&format!(
                "step {i}: unreadable output: {}\n",
                shorten(fe, 160)
            ));
        }
        if let Some(err) = &step.model_error {
            out.push_str(&format!(
                "step {i}: backend failed: {}\n",
                shorten(&err.message, 160)
            ));
        }
    }
    for a in episode.actions.iter().take(MAX_ACTIONS) {
        let result = match (&a.executed, &a.observation) {
            (None, _) => format!(
                "BLOCKED by harness: {}",
                shorten(a.correction.as_deref().unwrap_or(""), 160)
            ),
            (Some(_), Some(o)) => shorten(&o.content, 240),
            (Some(_), None) => "(no result)".to_string(),
        };
        out.push_str(&format!(
            "step {}: {}\n  -> {}\n",
            a.step,
            render_action(&a.proposed),
            result
        ));
    }
    if episode.actions.len() > MAX_ACTIONS {
        out.push_str(&format!(
            "({} more actions not shown)\n",
            episode.actions.len() - MAX_ACTIONS
        ));
    }
    if let Some(reference) = reference {
        out.push_str("\nReference solution:\n");
        for a in reference {
            out.push_str(&format!("  {}\n", render_action(a)));
        }
    }
    out
}

/// Reads the judge's reply.
pub fn parse_reply(model: &str, text: &str, deterministic: Option<Category>) -> JudgeLabel {
    let object = text
        .find('{')
        .and_then(|start| text.rfind('}').map(|end| (start, end)))
        .filter(|(s, e)| s < e)
        .and_then(|(s, e)| serde_json::from_str::<Value>(&text[s..=e]).ok());
    let (category, step, reason) = match &object {
        Some(v) => (
            v.get("category")
                .and_then(Value::as_str)
                .and_then(Category::parse),
            v.get("step").and_then(Value::as_u64).map(|s| s as usize),
            v.get("reason")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| shorten(text, 300)),
        ),
        None => {
            // No JSON: take the first category named in the text.
            let lower = text.to_lowercase();
            let named = Category::AGENT
                .into_iter()
                .chain([Category::Infrastructure])
                .filter_map(|c| lower.find(c.as_str()).map(|i| (i, c)))
                .min_by_key(|(i, _)| *i)
                .map(|(_, c)| c);
            (named, None, shorten(text.trim(), 300))
        }
    };
    JudgeLabel {
        model: model.to_string(),
        category,
        step,
        reason,
        agrees: category.zip(deterministic).map(|(a, b)| a == b),
    }
}

/// Asks `model` for a label of a failed episode.
pub async fn judge(
    model: &dyn Model,
    episode: &Recorded,
    reference: Option<&[Action]>,
    diagnosis: &Diagnosis,
) -> JudgeLabel {
    let request = ChatRequest {
        messages: vec![
            Message::system(system_prompt()),
            Message::user(prompt(episode, reference)),
        ],
        session: Some(format!("judge-{}-{}", episode.run_id, episode.episode_id)),
        ..ChatRequest::default()
    };
    let spec = model.info().spec;
    match model.chat(&request).await {
        Ok(turn) => parse_reply(
            &spec,
            turn.text.as_deref().unwrap_or_default(),
            diagnosis.category,
        ),
        Err(e) => JudgeLabel {
            model: spec,
            category: None,
            step: None,
            reason: format!("the judge failed: {e}"),
            agrees: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_leniently() {
        let j = parse_reply(
            "m",
            "Sure. {\"category\": \"environment contract\", \"step\": 3, \"reason\": \"bad id\"}",
            Some(Category::EnvironmentContract),
        );
        assert_eq!(j.category, Some(Category::EnvironmentContract));
        assert_eq!(j.step, Some(3));
        assert_eq!(j.agrees, Some(true));
        let j = parse_reply(
            "m",
            "I think it is trajectory_degeneration.",
            Some(Category::ResidualReasoning),
        );
        assert_eq!(j.category, Some(Category::TrajectoryDegeneration));
        assert_eq!(j.agrees, Some(false));
        let j = parse_reply("m", "no idea", None);
        assert_eq!(j.category, None);
        assert_eq!(j.agrees, None);
    }
}
