//! Ticket mode and the LLM user simulator.

use std::sync::Arc;

use lifeharness_core::{Action, EnvironmentFactory, Message, ToolCall};
use lifeharness_env_tau2::{Tau2Factory, UserMode, prompts};

use crate::scripted::Scripted;

#[tokio::test]
async fn ticket_mode_is_labelled_and_ends_on_stop() {
    let factory = Tau2Factory::retail(UserMode::Ticket).unwrap();
    let info = factory.info();
    assert_eq!(info.config["user_mode"], "ticket");
    assert_eq!(info.config["comparable_with_published"], false);
    let task = factory.task("0").unwrap();
    let mut env = factory.create().unwrap();
    assert!(env.system_text().contains("<policy>"));
    let opening = env.reset(&task, 1).await.unwrap();
    assert!(
        matches!(&opening[0], Message::User { content } if content.contains("[ticket mode") && content.contains("<ticket>"))
    );
    let reply = env
        .step(&Action::Message {
            content: "Can you confirm?".into(),
        })
        .await
        .unwrap();
    assert!(!reply.done);
    assert!(reply.observation.content.starts_with("[ticket mode]"));
    let bad = env
        .step(&Action::ToolCall(ToolCall::from_raw(
            "c1",
            "get_order_details",
            "{not json",
        )))
        .await
        .unwrap();
    assert!(bad.observation.is_error);
    let end = env
        .step(&Action::Message {
            content: "Done ###STOP###".into(),
        })
        .await
        .unwrap();
    assert!(end.done);
    assert!(env.step(&Action::Finish { reason: None }).await.is_err());
}

#[tokio::test]
async fn ticket_mode_transfer_ends_the_episode() {
    let factory = Tau2Factory::airline(UserMode::Ticket).unwrap();
    let mut env = factory.create().unwrap();
    env.reset(&factory.task("1").unwrap(), 0).await.unwrap();
    let call = ToolCall::from_value(
        "c",
        "transfer_to_human_agents",
        serde_json::json!({"summary": "s"}),
    );
    let out = env.step(&Action::ToolCall(call)).await.unwrap();
    assert_eq!(&*out.observation.content, "Transfer successful");
    assert!(out.done);
}

#[tokio::test]
async fn simulated_user_sees_the_original_prompt_and_stops() {
    let model = Arc::new(Scripted::new(&[
        "Hi, I want to cancel my order.",
        "Yes please. ###STOP###",
    ]));
    let factory = Tau2Factory::retail(UserMode::Simulated {
        model: model.clone(),
        seed: 7,
    })
    .unwrap();
    assert_eq!(factory.info().config["comparable_with_published"], true);
    let task = factory.task("1").unwrap();
    let mut env = factory.create().unwrap();
    let opening = env.reset(&task, 0).await.unwrap();
    assert_eq!(opening[0], Message::assistant(prompts::FIRST_AGENT_MESSAGE));
    assert_eq!(opening[1], Message::user("Hi, I want to cancel my order."));
    let out = env
        .step(&Action::Message {
            content: "Shall I cancel it?".into(),
        })
        .await
        .unwrap();
    assert!(out.done);
    let requests = model.requests.lock().unwrap().clone();
    let last = &requests[1].messages;
    assert!(matches!(&last[0], Message::System { content } if content.contains("<scenario>")));
    // The agent speaks as `user`, the simulator's own turns as `assistant`.
    assert_eq!(last[1], Message::user(prompts::FIRST_AGENT_MESSAGE));
    assert_eq!(
        last[2],
        Message::assistant("Hi, I want to cancel my order.")
    );
    assert_eq!(last[3], Message::user("Shall I cancel it?"));
    assert_eq!(requests[1].seed, Some(7));
    // Ended by the user: scored (NL assertions unevaluated without a judge => None or a number).
    let reward = env.score().await.unwrap();
    assert!(reward.breakdown.iter().any(|c| c.name == "DB"));
}

#[tokio::test]
async fn episodes_cut_short_score_zero() {
    let factory = Tau2Factory::airline(UserMode::Ticket).unwrap();
    let mut env = factory.create().unwrap();
    env.reset(&factory.task("0").unwrap(), 0).await.unwrap();
    assert_eq!(env.score().await.unwrap().value, Some(0.0));
    for _ in 0..10 {
        let call =
            ToolCall::from_value("c", "get_user_details", serde_json::json!({"user_id": "x"}));
        let out = env.step(&Action::ToolCall(call)).await.unwrap();
        assert!(out.observation.is_error);
    }
    assert_eq!(env.score().await.unwrap().value, Some(0.0));
}

/// A task scored on `ACTION` matches the episode's calls, arguments
/// included, against the gold actions (the turns keep arguments only for
/// such tasks).
#[tokio::test]
async fn action_basis_compares_call_arguments() {
    use lifeharness_core::{Environment, Task};
    use lifeharness_env_tau2::task::Tau2Task;
    use lifeharness_env_tau2::{gold_actions, to_actions};

    let factory = Tau2Factory::retail(UserMode::Ticket).unwrap();
    let mut task: Task = factory.task("0").unwrap();
    task.data["evaluation_criteria"]["reward_basis"] = serde_json::json!(["ACTION"]);
    let parsed: Tau2Task = serde_json::from_value(task.data.clone()).unwrap();
    let gold = to_actions(&gold_actions(&parsed));
    for wrong in [false, true] {
        let mut env = factory.env();
        env.reset(&task, 0).await.unwrap();
        for action in &gold {
            let mut action = action.clone();
            if wrong
                && let Action::ToolCall(call) = &mut action
                && call.name == "exchange_delivered_order_items"
            {
                let mut args = call.args().unwrap().clone();
                args["payment_method_id"] = "gift_card_0000000".into();
                *call = ToolCall::from_value(&call.id, &call.name, args);
            }
            assert!(!env.step(&action).await.unwrap().done);
        }
        let stop = Action::Message {
            content: "Done ###STOP###".into(),
        };
        assert!(env.step(&stop).await.unwrap().done);
        let reward = env.score().await.unwrap();
        let action = reward
            .breakdown
            .iter()
            .find(|c| c.name == "ACTION")
            .unwrap();
        assert_eq!(
            action.score,
            Some(if wrong { 0.0 } else { 1.0 }),
            "wrong={wrong}: {reward:?}"
        );
    }
}
