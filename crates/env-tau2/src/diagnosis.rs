//! What diagnosis needs to know about τ²-bench retail and airline: what the
//! tools' error texts mean, and how a τ-bench (v1) task description maps
//! onto a task of ours.
//!
//! Error texts are the original's exception messages (`Error: <message>`).
//! They fall in a few families, each given a taxonomy label:
//!
//! * the call could not be made at all: unknown tool, arguments that are not
//!   JSON, missing or unexpected arguments, a value of the wrong shape
//!   (`format_error`, `unknown_tool`, `schema_violation`);
//! * an id the database does not hold (`... not found`): the agent named a
//!   record it never looked up or misspelled one (`contract_violation`,
//!   pattern `entity_not_found`);
//! * the call is well formed but the record's state forbids it (a
//!   non-pending order, too little balance, no seats): `policy_denied`;
//! * an argument breaks a rule of the tool (item counts differ, a payment
//!   method that must be the original one): `contract_violation`.
//!
//! τ-bench v1 tasks became τ²'s tasks with most reference actions kept and
//! some fixed (and airline's reordered); they are matched one to one, by
//! the user they are about, then by their write actions, then by how alike
//! their instructions are ([`match_foreign`]).

use std::collections::BTreeSet;

use lifeharness_core::{
    Action, ErrorMeaning, FailureKind, ForeignTask, MatchQuality, TaskMatch, same_json,
};
use serde_json::Value;

use crate::domain::DomainData;
use crate::replay::{gold_actions, to_actions};
use crate::task::Tau2Task;

/// The tool that hands the conversation to a human agent.
pub const TRANSFER_TOOL: &str = "transfer_to_human_agents";

/// Families of error messages: (needle, how it must occur, kind, pattern, meaning).
const FAMILIES: &[(&str, Occurs, FailureKind, &str, &str)] = &[
    (
        "Error: Tool '",
        Occurs::Prefix,
        FailureKind::UnknownTool,
        "unknown_tool",
        "the tool does not exist in this domain",
    ),
    (
        "arguments are not valid JSON",
        Occurs::Anywhere,
        FailureKind::FormatError,
        "arguments_not_json",
        "the call's arguments could not be parsed as JSON",
    ),
    (
        "required positional argument",
        Occurs::Anywhere,
        FailureKind::SchemaViolation,
        "missing_argument",
        "a required argument was left out",
    ),
    (
        "unexpected keyword argument",
        Occurs::Anywhere,
        FailureKind::SchemaViolation,
        "unexpected_argument",
        "an argument the tool does not take was given",
    ),
    (
        "validation error",
        Occurs::Anywhere,
        FailureKind::SchemaViolation,
        "invalid_value_shape",
        "an argument value has the wrong type or shape",
    ),
    (
        "Non-pending order cannot be",
        Occurs::Anywhere,
        FailureKind::PolicyDenied,
        "order_not_pending",
        "only pending orders can be cancelled or modified: check the order's status first",
    ),
    (
        "Non-delivered order cannot be",
        Occurs::Anywhere,
        FailureKind::PolicyDenied,
        "order_not_delivered",
        "only delivered orders can be returned or exchanged: check the order's status first",
    ),
    (
        "nsufficient gift card balance",
        Occurs::Anywhere,
        FailureKind::PolicyDenied,
        "insufficient_balance",
        "the gift card's balance does not cover the amount",
    ),
    (
        "balance",
        Occurs::Anywhere,
        FailureKind::PolicyDenied,
        "insufficient_balance",
        "the payment method's balance does not cover the amount",
    ),
    (
        "Not enough seats",
        Occurs::Anywhere,
        FailureKind::PolicyDenied,
        "no_seats",
        "the flight has too few seats left in that cabin",
    ),
    (
        "not available on date",
        Occurs::Anywhere,
        FailureKind::PolicyDenied,
        "flight_not_available",
        "the flight is not bookable on that date (check its status for the date)",
    ),
    (
        "Certificate cannot be used",
        Occurs::Anywhere,
        FailureKind::PolicyDenied,
        "certificate_not_allowed",
        "a travel certificate cannot pay for a reservation update",
    ),
    (
        "does not add up",
        Occurs::Anywhere,
        FailureKind::ContractViolation,
        "payment_total",
        "the payments must add up to the total price",
    ),
    (
        "Too many",
        Occurs::Anywhere,
        FailureKind::ContractViolation,
        "too_many_payments",
        "more payment methods of one kind than the tool allows",
    ),
    (
        "should match",
        Occurs::Anywhere,
        FailureKind::ContractViolation,
        "count_mismatch",
        "the old and new item lists must have the same length",
    ),
    (
        "does not match",
        Occurs::Anywhere,
        FailureKind::ContractViolation,
        "count_mismatch",
        "the number of passengers must stay the same",
    ),
    (
        "should be different",
        Occurs::Anywhere,
        FailureKind::ContractViolation,
        "same_item",
        "a new item must differ from the item it replaces",
    ),
    (
        "should be the original payment method",
        Occurs::Anywhere,
        FailureKind::ContractViolation,
        "payment_not_original",
        "a refund must go to the order's original payment method (or a gift card)",
    ),
    (
        "exactly one payment",
        Occurs::Anywhere,
        FailureKind::ContractViolation,
        "payment_count",
        "a pending order must have exactly one payment to change it",
    ),
    (
        "Invalid reason",
        Occurs::Anywhere,
        FailureKind::ContractViolation,
        "invalid_enum",
        "the value is not one of the tool's admissible values",
    ),
    (
        "not found",
        Occurs::Anywhere,
        FailureKind::ContractViolation,
        "entity_not_found",
        "no record has that id: use an id the agent looked up (or the user gave) verbatim",
    ),
];

#[derive(Clone, Copy)]
enum Occurs {
    Prefix,
    Anywhere,
}

/// What one of the domain tools' error texts means (`None` for a text that
/// is not an error of this domain).
pub fn explain_error(text: &str) -> Option<ErrorMeaning> {
    if !text.starts_with("Error") {
        return None;
    }
    // Case aside: τ-bench v1 wrote some of the same messages in lower case.
    let lower = text.to_lowercase();
    for (needle, occurs, kind, pattern, meaning) in FAMILIES {
        let needle = needle.to_lowercase();
        let hit = match occurs {
            Occurs::Prefix => lower.starts_with(&needle),
            Occurs::Anywhere => lower.contains(&needle),
        };
        if hit {
            return Some(ErrorMeaning::new(*kind, pattern, meaning));
        }
    }
    Some(ErrorMeaning::new(
        FailureKind::EnvironmentError,
        "other_error",
        "an error of the tool that no known family covers",
    ))
}

/// The task's gold actions as lifeharness actions.
pub fn reference_actions(task: &Tau2Task) -> Vec<Action> {
    to_actions(&gold_actions(task))
}

fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| w.len() > 2)
        .map(str::to_lowercase)
        .collect()
}

/// Jaccard similarity of the two texts' word sets.
fn similarity(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

type Call = (String, Value);

fn same_call(a: &Call, b: &Call) -> bool {
    a.0 == b.0 && same_json(&a.1, &b.1)
}

/// The tool calls of `actions` as (name, arguments).
fn calls(actions: &[Action]) -> Vec<Call> {
    actions
        .iter()
        .filter_map(Action::as_tool_call)
        .map(|c| (c.name.clone(), c.args().cloned().unwrap_or(Value::Null)))
        .collect()
}

/// The calls of `calls` that write (or hand over), in order.
fn writes(domain: crate::domain::Domain, calls: Vec<Call>) -> Vec<Call> {
    calls
        .into_iter()
        .filter(|(name, _)| domain.is_write_tool(name) || name == TRANSFER_TOOL)
        .collect()
}

fn same_calls(a: &[Call], b: &[Call]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(p, q)| same_call(p, q))
}

/// How many of `a`'s calls occur in `b` (as a multiset).
fn overlap(a: &[Call], b: &[Call]) -> usize {
    let mut rest: Vec<&Call> = b.iter().collect();
    let mut n = 0;
    for call in a {
        if let Some(i) = rest.iter().position(|c| same_call(c, call)) {
            rest.remove(i);
            n += 1;
        }
    }
    n
}

/// Whether one of our tasks is about `user`: its text names the user id or
/// the user's full name (from the database), or its reference actions
/// name the user id or an order or reservation of the user's. (Retail
/// tasks name users by name and zip code, never by id.)
fn about_user(
    data: &DomainData,
    text: &str,
    reference: &[Call],
    user: &str,
    full_name: Option<&str>,
) -> bool {
    if text.contains(user) || full_name.is_some_and(|n| text.contains(n)) {
        return true;
    }
    reference.iter().any(|(_, args)| {
        let Some(map) = args.as_object() else {
            return false;
        };
        map.iter().any(|(key, value)| {
            let Some(v) = value.as_str() else {
                return false;
            };
            match key.as_str() {
                "user_id" => v == user,
                "order_id" => owner(data, "orders", v).as_deref() == Some(user),
                "reservation_id" => owner(data, "reservations", v).as_deref() == Some(user),
                _ => false,
            }
        })
    })
}

/// The user id a record of `table` belongs to.
fn owner(data: &DomainData, table: &str, id: &str) -> Option<String> {
    use lifeharness_core::StateView;
    data.db
        .lookup(&[table, id, "user_id"])
        .and_then(|v| v.as_str().map(str::to_string))
}

/// "First Last" of a user in the database.
fn full_name(data: &DomainData, user: &str) -> Option<String> {
    use lifeharness_core::StateView;
    let name = data.db.lookup(&["users", user, "name"])?;
    Some(format!(
        "{} {}",
        name.get("first_name")?.as_str()?,
        name.get("last_name")?.as_str()?
    ))
}

/// One of our tasks, as matching sees it.
struct Ours<'a> {
    task: &'a Tau2Task,
    text: String,
    all: Vec<Call>,
    writes: Vec<Call>,
    words: BTreeSet<String>,
}

/// Likeness within which two candidates count as equally good.
const TIE: f64 = 0.03;

/// Matches foreign tasks with `data`'s tasks, one to one: a foreign task
/// is matched only with tasks about the same user; pairs whose write
/// actions (and transfers) are equal in order come first, then pairs by
/// shared writes and by how alike the instructions are (word overlap); each
/// of our tasks is used once.
pub fn match_foreign(data: &DomainData, foreign: &[ForeignTask]) -> Vec<TaskMatch> {
    let domain = data.domain;
    let ours: Vec<Ours<'_>> = data
        .tasks
        .iter()
        .map(|(t, _)| {
            let text = t.user_scenario.to_string();
            let words = words(&text);
            let all = calls(&reference_actions(t));
            let writes = writes(domain, all.clone());
            Ours {
                task: t,
                text,
                all,
                writes,
                words,
            }
        })
        .collect();
    // Every admissible pair with its score.
    struct Pair {
        foreign: usize,
        ours: usize,
        exact: bool,
        shared: usize,
        alike: f64,
    }
    let mut pairs: Vec<Pair> = Vec::new();
    let mut results: Vec<Option<TaskMatch>> = vec![None; foreign.len()];
    for (fi, f) in foreign.iter().enumerate() {
        let Some(user) = f.user_id.as_deref().filter(|u| !u.is_empty()) else {
            results[fi] = Some(TaskMatch::unmapped(format!(
                "{} task {} names no user, and tasks are matched by their user",
                f.source, f.id
            )));
            continue;
        };
        let theirs = writes(domain, calls(&f.actions));
        let their_words = words(&f.instruction);
        let name = full_name(data, user);
        let mut any = false;
        for (oi, o) in ours.iter().enumerate() {
            if !about_user(data, &o.text, &o.all, user, name.as_deref()) {
                continue;
            }
            let (our_writes, our_words) = (&o.writes, &o.words);
            any = true;
            pairs.push(Pair {
                foreign: fi,
                ours: oi,
                exact: same_calls(&theirs, our_writes),
                shared: overlap(&theirs, our_writes),
                alike: similarity(&their_words, our_words),
            });
        }
        if !any {
            results[fi] = Some(TaskMatch::unmapped(format!(
                "no {} task is about user {user}",
                domain.env_name()
            )));
        }
    }
    pairs.sort_by(|a, b| {
        b.exact
            .cmp(&a.exact)
            .then(b.alike.total_cmp(&a.alike))
            .then(b.shared.cmp(&a.shared))
            .then(a.foreign.cmp(&b.foreign))
    });
    let mut taken = vec![false; ours.len()];
    for (i, p) in pairs.iter().enumerate() {
        if results[p.foreign].is_some() || taken[p.ours] {
            continue;
        }
        let f = &foreign[p.foreign];
        let user = f.user_id.as_deref().unwrap_or_default();
        // Another free task that fits as well makes the choice ambiguous.
        let rival = pairs[i + 1..].iter().find(|q| {
            q.foreign == p.foreign
                && !taken[q.ours]
                && q.exact == p.exact
                && (p.alike - q.alike).abs() < TIE
        });
        let id = ours[p.ours].task.id.clone();
        let mut m = if p.exact {
            TaskMatch {
                task_id: Some(id),
                quality: MatchQuality::Exact,
                note: format!(
                    "user {user}, the same write actions in order (instruction likeness {:.2})",
                    p.alike
                ),
            }
        } else if p.shared == 0 && p.alike < 0.2 {
            continue;
        } else {
            TaskMatch {
                task_id: Some(id),
                quality: MatchQuality::Revised,
                note: format!(
                    "user {user}, instruction likeness {:.2}, but the write actions differ ({} shared): tau2 revised the task, so the recorded reward was graded against the old one",
                    p.alike, p.shared
                ),
            }
        };
        if let Some(q) = rival {
            m.quality = MatchQuality::Ambiguous;
            m.note = format!(
                "{}; task {} fits as well (likeness {:.2})",
                m.note, ours[q.ours].task.id, q.alike
            );
        }
        taken[p.ours] = true;
        results[p.foreign] = Some(m);
    }
    results
        .into_iter()
        .zip(foreign)
        .map(|(r, f)| {
            r.unwrap_or_else(|| {
                TaskMatch::unmapped(format!(
                    "every {} task about user {} is taken by a better match or shares nothing with task {}",
                    domain.env_name(),
                    f.user_id.as_deref().unwrap_or("?"),
                    f.id
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_families() {
        let cases = [
            (
                "Error: Tool 'get_orders' not found.",
                FailureKind::UnknownTool,
                "unknown_tool",
            ),
            (
                "Error: Non-pending order cannot be cancelled",
                FailureKind::PolicyDenied,
                "order_not_pending",
            ),
            (
                "Error: Order not found",
                FailureKind::ContractViolation,
                "entity_not_found",
            ),
            (
                "Error: RetailTools.modify_user_address() missing 1 required positional argument: 'address1'",
                FailureKind::SchemaViolation,
                "missing_argument",
            ),
            (
                "Error: Insufficient gift card balance to pay for the order",
                FailureKind::PolicyDenied,
                "insufficient_balance",
            ),
            (
                "Error: non-delivered order cannot be exchanged",
                FailureKind::PolicyDenied,
                "order_not_delivered",
            ),
            (
                "Error: payment amount does not add up, total price is 305, but paid 255",
                FailureKind::ContractViolation,
                "payment_total",
            ),
            (
                "Error: something new",
                FailureKind::EnvironmentError,
                "other_error",
            ),
        ];
        for (text, kind, pattern) in cases {
            let m = explain_error(text).expect(text);
            assert_eq!((m.kind, m.pattern.as_str()), (kind, pattern), "{text}");
        }
        assert!(explain_error("{\"order_id\": \"#W1\"}").is_none());
    }
}
