//! The original's evaluator: the reward is 0 unless the episode ended by a
//! stop; otherwise the product of the task's `reward_basis` components
//! (`DB`, `COMMUNICATE`, `ACTION`, `NL_ASSERTION`, `ENV_ASSERTION`).
//!
//! `DB` compares the final database hash with the hash after replaying the
//! gold actions on a fresh database (both hashed incrementally, see
//! [`crate::hash_cache`]); `COMMUNICATE` looks for each
//! `communicate_info` string in the agent's messages (lowercased, commas
//! removed); `ACTION` matches gold actions against tool calls;
//! `NL_ASSERTION` asks an LLM judge and is `None` when no judge is set.

use lifeharness_core::{ChatRequest, Message, Model, Reward, RewardComponent};
use serde_json::{Value, json};

use crate::domain::{Db, DomainData};
use crate::prompts;
use crate::py;
use crate::task::Tau2Task;
use crate::text::Text;

/// One entry of an episode's trajectory, as the evaluator needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// The agent's text to the user.
    Agent(String),
    /// The user's (or the ticket's) text.
    User(String),
    /// A tool call and its result.
    Tool {
        /// The tool name.
        name: String,
        /// The arguments as compact JSON text (`None` when they were not
        /// valid JSON, or when the task's reward has no `ACTION` basis and
        /// so never reads them); text, because copying it is one
        /// allocation where copying the parsed value is one per string.
        arguments: Option<String>,
        /// The tool message content.
        result: Text,
    },
}

/// Why an episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// The agent stopped (`Action::Finish`, `###STOP###` in ticket mode).
    AgentStop,
    /// The user simulator stopped (`###STOP###`, `###TRANSFER###`, `###OUT-OF-SCOPE###`).
    UserStop,
    /// Too many tool errors (the original's `max_errors`).
    TooManyErrors,
    /// The user simulator produced an invalid (empty) message.
    UserError,
}

impl Termination {
    /// The original's `TerminationReason` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentStop => "agent_stop",
            Self::UserStop => "user_stop",
            Self::TooManyErrors => "too_many_errors",
            Self::UserError => "user_error",
        }
    }
}

/// The database the gold actions lead to (errors in gold actions are ignored,
/// as in the original).
pub fn gold_db(task: &Tau2Task, initial: &Db) -> Result<Db, String> {
    let mut db = initial.clone();
    db.apply_initial_state(task.initial_state.as_ref())?;
    let actions = task
        .evaluation_criteria
        .as_ref()
        .and_then(|c| c.actions.as_ref());
    for action in actions.into_iter().flatten() {
        let _ = db.call(&action.name, &action.arguments);
    }
    Ok(db)
}

/// Scores an episode; `data` is the domain (its initial database, and the
/// incremental hash that gives the same value as [`Db::hash`]).
pub async fn evaluate(
    task: &Tau2Task,
    data: &DomainData,
    final_db: &Db,
    turns: &[Turn],
    termination: Option<Termination>,
    judge: Option<&dyn Model>,
) -> Result<Reward, String> {
    match termination {
        Some(Termination::AgentStop | Termination::UserStop) => {}
        other => {
            let reason = other.map_or("max_steps", Termination::as_str);
            return Ok(Reward {
                value: Some(0.0),
                breakdown: vec![RewardComponent {
                    name: "TERMINATION".to_string(),
                    score: Some(0.0),
                    detail: json!({"note": format!("Simulation terminated prematurely. Termination reason: {reason}")}),
                }],
            });
        }
    }
    let Some(criteria) = &task.evaluation_criteria else {
        return Ok(Reward::simple(1.0));
    };
    let mut breakdown = Vec::new();
    for basis in &criteria.reward_basis {
        let component = match basis.as_str() {
            "DB" => {
                if criteria.actions.is_none() && criteria.env_assertions.is_none() {
                    component(
                        "DB",
                        Some(1.0),
                        json!({"note": "No expected actions or env assertions"}),
                    )
                } else {
                    let gold = gold_db(task, &data.db)?;
                    let gold_hash = data.db_hash(&gold);
                    let hash = data.db_hash(final_db);
                    let matched = gold_hash == hash;
                    component(
                        "DB",
                        Some(if matched { 1.0 } else { 0.0 }),
                        json!({"db_match": matched, "db_hash": hash, "gold_db_hash": gold_hash}),
                    )
                }
            }
            "COMMUNICATE" => {
                communicate(criteria.communicate_info.as_deref().unwrap_or(&[]), turns)
            }
            "ACTION" => actions(criteria.actions.as_deref().unwrap_or(&[]), turns),
            "ENV_ASSERTION" => match criteria.env_assertions.as_deref() {
                None | Some([]) => component("ENV_ASSERTION", Some(1.0), json!({})),
                Some(_) => component(
                    "ENV_ASSERTION",
                    None,
                    json!({"note": "env assertions are not implemented for this domain"}),
                ),
            },
            "NL_ASSERTION" => {
                nl_assertions(
                    criteria.nl_assertions.as_deref().unwrap_or(&[]),
                    turns,
                    judge,
                )
                .await
            }
            other => component(other, None, json!({"note": "unknown reward type"})),
        };
        breakdown.push(component);
    }
    let value = breakdown
        .iter()
        .try_fold(1.0, |acc, c| c.score.map(|s| acc * s));
    Ok(Reward { value, breakdown })
}

fn component(name: &str, score: Option<f64>, detail: Value) -> RewardComponent {
    RewardComponent {
        name: name.to_string(),
        score,
        detail,
    }
}

fn communicate(infos: &[String], turns: &[Turn]) -> RewardComponent {
    let mut checks = Vec::new();
    let mut all = true;
    for info in infos {
        let needle = info.to_lowercase();
        let found = turns.iter().find_map(|t| match t {
            Turn::Agent(text)
                if !text.trim().is_empty()
                    && text.to_lowercase().replace(',', "").contains(&needle) =>
            {
                Some(text)
            }
            _ => None,
        });
        all &= found.is_some();
        checks.push(json!({"info": info, "met": found.is_some()}));
    }
    component(
        "COMMUNICATE",
        Some(if all { 1.0 } else { 0.0 }),
        json!({"checks": checks}),
    )
}

fn actions(gold: &[crate::task::GoldAction], turns: &[Turn]) -> RewardComponent {
    let parsed: Vec<(&str, Option<Value>)> = turns
        .iter()
        .filter_map(|t| match t {
            Turn::Tool {
                name, arguments, ..
            } => Some((
                name.as_str(),
                arguments
                    .as_deref()
                    .and_then(|a| serde_json::from_str(a).ok()),
            )),
            _ => None,
        })
        .collect();
    let mut checks = Vec::new();
    let mut all = true;
    for action in gold {
        let found = parsed.iter().any(|t| match t {
            (name, Some(Value::Object(args))) if *name == action.name => {
                let keys: Vec<&String> = match &action.compare_args {
                    Some(keys) => keys.iter().collect(),
                    None => args.keys().collect(),
                };
                if keys.is_empty() {
                    return true;
                }
                let empty = serde_json::Map::new();
                let gold_args = action.arguments.as_object().unwrap_or(&empty);
                let pick = |m: &serde_json::Map<String, Value>| -> Vec<(String, Value)> {
                    let mut v: Vec<(String, Value)> = m
                        .iter()
                        .filter(|(k, _)| keys.contains(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    v.sort_by(|a, b| a.0.cmp(&b.0));
                    v
                };
                let (a, b) = (pick(args), pick(gold_args));
                a.len() == b.len()
                    && a.iter()
                        .zip(&b)
                        .all(|(x, y)| x.0 == y.0 && deep_eq(&x.1, &y.1))
            }
            _ => false,
        });
        all &= found;
        checks.push(json!({"action_id": action.action_id, "met": found}));
    }
    component(
        "ACTION",
        Some(if all { 1.0 } else { 0.0 }),
        json!({"checks": checks}),
    )
}

/// Python's `==` on JSON-loaded values, recursively.
fn deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| deep_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_eq(v, w)))
        }
        _ => py::py_eq(a, b),
    }
}

async fn nl_assertions(
    assertions: &[String],
    turns: &[Turn],
    judge: Option<&dyn Model>,
) -> RewardComponent {
    if assertions.is_empty() {
        return component(
            "NL_ASSERTION",
            Some(1.0),
            json!({"note": "No nl_assertions to evaluate"}),
        );
    }
    let Some(judge) = judge else {
        return component(
            "NL_ASSERTION",
            None,
            json!({"note": "not evaluated: no LLM judge configured", "nl_assertions": assertions}),
        );
    };
    let request = ChatRequest {
        messages: vec![
            Message::system(prompts::NL_JUDGE_SYSTEM),
            Message::user(prompts::nl_judge_user(&trajectory_text(turns), assertions)),
        ],
        ..ChatRequest::default()
    };
    let reply = match judge.chat(&request).await {
        Ok(turn) => turn.text.unwrap_or_default(),
        Err(e) => {
            return component("NL_ASSERTION", None, json!({"error": e.to_string()}));
        }
    };
    let parsed: Result<Value, _> = serde_json::from_str(&reply);
    let Ok(parsed) = parsed else {
        return component(
            "NL_ASSERTION",
            None,
            json!({"error": "judge reply is not JSON", "reply": reply}),
        );
    };
    let results = parsed
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let met = results
        .iter()
        .all(|r| r.get("metExpectation").and_then(Value::as_bool) == Some(true));
    component(
        "NL_ASSERTION",
        Some(if met { 1.0 } else { 0.0 }),
        json!({"results": results}),
    )
}

/// The judge's view of the conversation: `role: content` per message, as
/// the original prints its message list (tool calls have no content).
fn trajectory_text(turns: &[Turn]) -> String {
    let mut lines = vec![format!("assistant: {}", prompts::FIRST_AGENT_MESSAGE)];
    for turn in turns {
        match turn {
            Turn::Agent(text) => lines.push(format!("assistant: {text}")),
            Turn::User(text) => lines.push(format!("user: {text}")),
            Turn::Tool { result, .. } => {
                lines.push("assistant: None".to_string());
                lines.push(format!("tool: {result}"));
            }
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Domain;

    /// The hashes the evaluator uses (incremental) are the from-scratch
    /// ones, for every task's gold database.
    #[test]
    fn scoring_hashes_equal_from_scratch_hashes() {
        for domain in [Domain::Retail, Domain::Airline] {
            let data = DomainData::load(domain).unwrap();
            for (task, _) in &data.tasks {
                let gold = gold_db(task, &data.db).unwrap();
                assert_eq!(data.db_hash(&gold), gold.hash(), "{domain:?} {}", task.id);
            }
        }
    }
}
