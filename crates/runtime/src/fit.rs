//! The context budget: before each model turn the prompt is fitted inside
//! the budget. The system text, the tools, the task (the messages before the
//! first model turn) and the last turns stay whole; older tool results are
//! abbreviated, oldest first, keeping ids, the fields the harness names and
//! values that appear in the task. Abbreviations are sticky (a message once
//! shortened stays so), which keeps the prompt's prefix stable for backends
//! that cache it.

use std::collections::BTreeMap;

use lifeharness_core::decoding::{id_like_tokens, is_id_like as id_like};
use lifeharness_core::{
    ChatRequest, ContextBudget, ContextPolicy, ContextWindow, HookPoint, LayerEvent, Message,
    Model, VerdictKind,
};
use serde_json::{Map, Value};

/// The rule id of context events.
pub(crate) const RULE: &str = "context/budget";

/// Characters per token assumed when the backend cannot count.
const CHARS_PER_TOKEN: usize = 3;

/// Texts shorter than this are never abbreviated.
const SHORT: usize = 240;

/// The prompt budget in tokens, if one applies.
pub(crate) fn budget_of(policy: &ContextPolicy, window: Option<ContextWindow>) -> Option<usize> {
    let room = window.map(|w| w.tokens.saturating_sub(w.reply_tokens));
    match (policy.budget, room) {
        (ContextBudget::Auto, room) => room,
        (ContextBudget::Tokens(n), Some(room)) => Some(n.min(room)),
        (ContextBudget::Tokens(n), None) => Some(n),
    }
}

/// An estimate of the prompt's tokens for backends that cannot count.
fn estimate(request: &ChatRequest) -> usize {
    let chars: usize = request
        .messages
        .iter()
        .map(|m| match m {
            Message::System { content } | Message::User { content } => content.len(),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                content.as_deref().map_or(0, str::len)
                    + tool_calls
                        .iter()
                        .map(|c| c.name.len() + c.arguments_raw.len())
                        .sum::<usize>()
            }
            Message::Tool { content, .. } => content.len(),
        })
        .sum::<usize>()
        + request
            .tools
            .iter()
            .map(|t| t.name.len() + t.description.len() + t.parameters.to_string().len())
            .sum::<usize>();
    chars.div_ceil(CHARS_PER_TOKEN) + 8 * request.messages.len()
}

async fn count(model: &dyn Model, request: &ChatRequest) -> (usize, bool) {
    match model.prompt_tokens(request).await {
        Some(n) => (n, true),
        None => (estimate(request), false),
    }
}

/// What one fitting did.
pub(crate) struct Fitted {
    /// The request to send.
    pub request: ChatRequest,
    /// The event to record, when something new was cut (or nothing could fit).
    pub event: Option<LayerEvent>,
}

/// Whether a JSON key names an id or a field to keep.
fn keeps_key(key: &str, keep: &[String]) -> bool {
    let lower = key.to_ascii_lowercase();
    keep.iter().any(|k| k == key)
        || lower == "id"
        || lower == "ids"
        || lower.ends_with("_id")
        || lower.ends_with("_ids")
        || id_like(key)
}

/// `value` with only what must survive: ids, kept fields, values the task
/// mentions. Counts what was dropped in `dropped`.
fn abbreviate_json(value: &Value, keep: &[String], task: &str, dropped: &mut usize) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                if keeps_key(key, keep) {
                    match v {
                        Value::Object(_) | Value::Array(_) => {
                            out.insert(key.clone(), abbreviate_json(v, keep, task, dropped));
                        }
                        _ => {
                            out.insert(key.clone(), v.clone());
                        }
                    }
                    continue;
                }
                match v {
                    Value::Object(_) | Value::Array(_) => {
                        let inner = abbreviate_json(v, keep, task, dropped);
                        let empty = match &inner {
                            Value::Object(m) => m.is_empty(),
                            Value::Array(a) => a.is_empty(),
                            _ => false,
                        };
                        if empty {
                            *dropped += 1;
                        } else {
                            out.insert(key.clone(), inner);
                        }
                    }
                    Value::String(s)
                        if id_like(s) || (s.len() >= 3 && task.contains(s.as_str())) =>
                    {
                        out.insert(key.clone(), v.clone());
                    }
                    _ => *dropped += 1,
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| abbreviate_json(item, keep, task, dropped))
                .filter(|item| !matches!(item, Value::Object(m) if m.is_empty()))
                .collect(),
        ),
        Value::String(s) if id_like(s) || task.contains(s.as_str()) => value.clone(),
        Value::String(_) => {
            *dropped += 1;
            Value::String("…".into())
        }
        other => other.clone(),
    }
}

/// The first id-like tokens of `text`, at most `limit`.
fn ids_in(text: &str, limit: usize) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for token in id_like_tokens(text) {
        if !out.contains(&token) {
            out.push(token);
            if out.len() == limit {
                break;
            }
        }
    }
    out
}

/// A shorter form of one tool result: ids and named fields kept.
pub(crate) fn abbreviate(content: &str, keep: &[String], task: &str) -> Option<String> {
    if content.len() < SHORT {
        return None;
    }
    if let Ok(value) = serde_json::from_str::<Value>(content)
        && (value.is_object() || value.is_array())
    {
        let mut dropped = 0;
        let short = abbreviate_json(&value, keep, task, &mut dropped);
        let text = short.to_string();
        if dropped > 0 && text.len() < content.len() {
            return Some(format!(
                "{text} [abbreviated to fit the context: {dropped} field(s) left out]"
            ));
        }
        return None;
    }
    let head: String = content.chars().take(160).collect();
    let rest = &content[head.len()..];
    let ids = ids_in(rest, 24);
    let text = if ids.is_empty() {
        format!(
            "{head}… [abbreviated to fit the context: {} more characters]",
            rest.len()
        )
    } else {
        format!(
            "{head}… [abbreviated to fit the context: {} more characters; ids in them: {}]",
            rest.len(),
            ids.join(", ")
        )
    };
    (text.len() < content.len()).then_some(text)
}

/// The last-resort form of one tool result: its ids only.
fn stub(content: &str) -> String {
    let ids = ids_in(content, 24);
    if ids.is_empty() {
        "[result left out to fit the context]".to_string()
    } else {
        format!(
            "[result left out to fit the context; ids in it: {}]",
            ids.join(", ")
        )
    }
}

fn with_trims(request: &ChatRequest, trims: &BTreeMap<usize, String>) -> ChatRequest {
    let mut out = request.clone();
    for (index, text) in trims {
        if let Some(Message::Tool { content, .. }) = out.messages.get_mut(*index) {
            *content = text.clone();
        }
    }
    out
}

/// Fits `request` inside `budget` tokens. `trims` holds the abbreviations
/// of earlier turns (message index -> shortened text) and gains the new ones.
pub(crate) async fn fit(
    model: &dyn Model,
    request: &ChatRequest,
    policy: &ContextPolicy,
    budget: usize,
    task: &str,
    trims: &mut BTreeMap<usize, String>,
) -> Fitted {
    let mut current = with_trims(request, trims);
    let (mut tokens, exact) = count(model, &current).await;
    let before = tokens;
    if tokens <= budget {
        return Fitted {
            request: current,
            event: None,
        };
    }
    let messages = &request.messages;
    // The task: everything before the first model turn.
    let first_turn = messages
        .iter()
        .position(|m| matches!(m, Message::Assistant { .. }))
        .unwrap_or(messages.len());
    // The last `keep_last_turns` model turns and what follows them.
    let mut protected_from = messages.len();
    let mut seen = 0;
    for (i, m) in messages.iter().enumerate().rev() {
        if matches!(m, Message::Assistant { .. }) {
            seen += 1;
            protected_from = i;
            if seen == policy.keep_last_turns {
                break;
            }
        }
    }
    if policy.keep_last_turns == 0 {
        protected_from = messages.len();
    }
    let tools_at = |from: usize, to: usize| -> Vec<usize> {
        (from..to)
            .filter(|i| matches!(messages[*i], Message::Tool { .. }))
            .collect()
    };
    let mut added = Vec::new();
    // Rounds: abbreviate the older results, then stub them, then the
    // protected turns' results (oldest first), keeping the latest result.
    let older = tools_at(first_turn, protected_from);
    let last_tool = tools_at(first_turn, messages.len()).last().copied();
    let recent: Vec<usize> = tools_at(protected_from, messages.len())
        .into_iter()
        .filter(|i| Some(*i) != last_tool)
        .collect();
    let rounds: [(&[usize], bool); 4] = [
        (&older, false),
        (&older, true),
        (&recent, false),
        (&recent, true),
    ];
    for (indices, hard) in rounds {
        for &i in indices {
            if tokens <= budget {
                break;
            }
            let Message::Tool { content, .. } = &messages[i] else {
                continue;
            };
            let now = trims.get(&i).map_or(content.as_str(), String::as_str);
            let shorter = if hard {
                let s = stub(content);
                (s.len() < now.len()).then_some(s)
            } else if trims.contains_key(&i) {
                None
            } else {
                abbreviate(content, &policy.keep_fields, task)
            };
            let Some(shorter) = shorter else { continue };
            trims.insert(i, shorter);
            if !added.contains(&i) {
                added.push(i);
            }
            current = with_trims(request, trims);
            tokens = count(model, &current).await.0;
        }
    }
    if tokens > budget
        && let Some(i) = last_tool
        && let Message::Tool { content, .. } = &messages[i]
    {
        // The latest result, cut to what is left.
        let excess_chars = (tokens - budget) * CHARS_PER_TOKEN * 2;
        let keep = content.len().saturating_sub(excess_chars).max(200);
        let head: String = content.chars().take(keep).collect();
        if head.len() < content.len() {
            trims.insert(
                i,
                format!(
                    "{head}… [cut to fit the context: {} more characters]",
                    content.len() - head.len()
                ),
            );
            added.push(i);
            current = with_trims(request, trims);
            tokens = count(model, &current).await.0;
        }
    }
    let overflow = (tokens > budget).then(|| {
        format!(
            "; still over: the system text, tools, task and the latest turn need {tokens} tokens"
        )
    });
    added.sort_unstable();
    let mut event = LayerEvent::new("context", HookPoint::Runtime, VerdictKind::Trim);
    event.rule_id = Some(RULE.to_string());
    let how = if exact { "counted" } else { "estimated" };
    let list: Vec<String> = added.iter().map(usize::to_string).collect();
    event.message = Some(format!(
        "prompt {before} -> {tokens} tokens ({how}; budget {budget}): abbreviated {} tool result(s) (messages {}){}",
        added.len(),
        if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        },
        overflow.as_deref().unwrap_or_default()
    ));
    Fitted {
        request: current,
        event: (!added.is_empty() || overflow.is_some()).then_some(event),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use serde_json::json;

    #[test]
    fn json_results_keep_ids_named_fields_and_task_values() {
        let content = json!({
            "order_id": "#W2378156",
            "user_id": "yusuf_rossi_9620",
            "status": "delivered",
            "address": {"city": "Fort Worth", "zip": "76165", "line": "a long street name here"},
            "items": [
                {"item_id": "1008292230", "name": "Headphones", "price": 253.08, "options": {"color": "black"}},
                {"item_id": "4983901480", "name": "Keyboard", "price": 71.5}
            ],
            "payment_history": [{"payment_method_id": "credit_card_9513926", "amount": 1200.3}],
            "variants": {"1008292230": {"available": true, "note": "x"}}
        })
        .to_string();
        let keep = vec!["status".to_string()];
        let short = abbreviate(&content, &keep, "I want to return the Keyboard").unwrap();
        for kept in [
            "#W2378156",
            "yusuf_rossi_9620",
            "delivered",
            "1008292230",
            "4983901480",
            "credit_card_9513926",
            "Keyboard",
            "76165",
        ] {
            assert!(short.contains(kept), "{kept} lost: {short}");
        }
        assert!(
            !short.contains("Headphones") && !short.contains("Fort Worth"),
            "{short}"
        );
        assert!(short.len() < content.len());
        assert!(short.contains("left out"));
    }

    #[test]
    fn text_results_keep_their_head_and_ids() {
        let content = format!(
            "{} order #W1234567 and user ab_cd_1234 {}",
            "x".repeat(200),
            "y".repeat(300)
        );
        let short = abbreviate(&content, &[], "").unwrap();
        assert!(short.starts_with(&"x".repeat(160)));
        assert!(
            short.contains("#W1234567") && short.contains("ab_cd_1234"),
            "{short}"
        );
        assert!(abbreviate("short", &[], "").is_none());
    }

    /// A model that counts prompts as the estimate does and never answers.
    struct Counting(Option<usize>);

    #[async_trait::async_trait]
    impl Model for Counting {
        fn info(&self) -> lifeharness_core::ModelInfo {
            lifeharness_core::ModelInfo::default()
        }
        async fn chat(
            &self,
            _request: &ChatRequest,
        ) -> Result<lifeharness_core::ModelTurn, lifeharness_core::ModelError> {
            Err(lifeharness_core::ModelError::new(
                lifeharness_core::ModelErrorKind::Exhausted,
                "no turns",
            ))
        }
        async fn prompt_tokens(&self, request: &ChatRequest) -> Option<usize> {
            self.0.map(|extra| estimate(request) + extra)
        }
    }

    fn conversation(turns: usize) -> ChatRequest {
        let mut messages = vec![
            Message::system("You are an agent.".repeat(10)),
            Message::user("Return order #W0000007 for user mei_kovacs_8020."),
        ];
        for turn in 0..turns {
            let id = format!("c{turn}");
            messages.push(Message::Assistant {
                content: None,
                tool_calls: vec![lifeharness_core::ToolCall::from_raw(
                    &id,
                    "get_order_details",
                    r##"{"order_id":"#W0000007"}"##,
                )],
            });
            let items: Vec<Value> = (0..20)
                .map(|i| json!({"item_id": format!("10{turn}{i:05}"), "name": "a long product name", "price": 10.5}))
                .collect();
            let result = json!({"order_id": format!("#W000000{turn}"), "status": "delivered", "items": items});
            messages.push(Message::tool(id, "get_order_details", result.to_string()));
        }
        ChatRequest {
            messages,
            ..ChatRequest::default()
        }
    }

    #[tokio::test]
    async fn older_results_are_cut_first_and_cuts_are_sticky() {
        let request = conversation(4);
        let policy = ContextPolicy {
            budget: ContextBudget::Auto,
            keep_last_turns: 1,
            keep_fields: vec!["status".into()],
        };
        for model in [Counting(None), Counting(Some(5))] {
            let full = count(&model, &request).await.0;
            let budget = full * 17 / 20;
            let mut trims = BTreeMap::new();
            let fitted = fit(&model, &request, &policy, budget, "", &mut trims).await;
            let after = count(&model, &fitted.request).await.0;
            assert!(after <= budget, "{after} > {budget}");
            let event = fitted.event.expect("a trim event");
            assert_eq!(event.verdict, VerdictKind::Trim);
            let message = event.message.unwrap();
            assert!(
                message.contains(&format!("prompt {full} -> {after} tokens")),
                "{message}"
            );
            // The system text, the task and the last turn stay whole.
            assert_eq!(fitted.request.messages[0], request.messages[0]);
            assert_eq!(fitted.request.messages[1], request.messages[1]);
            assert_eq!(fitted.request.messages.last(), request.messages.last());
            // The oldest result went first and keeps its ids.
            assert!(trims.contains_key(&3), "{trims:?}");
            let Message::Tool { content, .. } = &fitted.request.messages[3] else {
                panic!("not a tool message")
            };
            assert!(
                content.contains("#W0000000") && content.contains("1000000"),
                "{content}"
            );
            assert!(content.contains("delivered") && !content.contains("a long product name"));
            // Same request again: the same prompt, nothing new to record.
            let again = fit(&model, &request, &policy, budget, "", &mut trims).await;
            assert_eq!(again.request, fitted.request);
            assert!(again.event.is_none());
        }
    }

    #[tokio::test]
    async fn a_prompt_that_cannot_fit_says_so() {
        let request = conversation(2);
        let policy = ContextPolicy {
            budget: ContextBudget::Tokens(64),
            keep_last_turns: 1,
            keep_fields: Vec::new(),
        };
        let mut trims = BTreeMap::new();
        let fitted = fit(&Counting(None), &request, &policy, 64, "", &mut trims).await;
        let message = fitted.event.and_then(|e| e.message).unwrap_or_default();
        assert!(message.contains("still over"), "{message}");
    }

    #[test]
    fn budgets() {
        let policy = |budget| ContextPolicy {
            budget,
            keep_last_turns: 2,
            keep_fields: Vec::new(),
        };
        let window = Some(ContextWindow {
            tokens: 8192,
            reply_tokens: 256,
        });
        assert_eq!(budget_of(&policy(ContextBudget::Auto), window), Some(7936));
        assert_eq!(budget_of(&policy(ContextBudget::Auto), None), None);
        assert_eq!(
            budget_of(&policy(ContextBudget::Tokens(4000)), window),
            Some(4000)
        );
        assert_eq!(
            budget_of(&policy(ContextBudget::Tokens(9000)), window),
            Some(7936)
        );
        assert_eq!(
            budget_of(&policy(ContextBudget::Tokens(900)), None),
            Some(900)
        );
    }
}
