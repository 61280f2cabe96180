//! The prompt texts of the original (see `data/prompts/README.md`) and
//! their strict rendering: every placeholder must be filled, once.

use lifeharness_core::py::str_repr;

/// The agent's greeting that opens every original conversation.
pub const FIRST_AGENT_MESSAGE: &str = "Hi! How can I help you today?";

/// The NL-assertion judge's system prompt.
pub const NL_JUDGE_SYSTEM: &str = include_str!("../data/prompts/nl_judge_system.txt");
const NL_JUDGE_USER: &str = include_str!("../data/prompts/nl_judge_user.txt");
const AGENT_SYSTEM: &str = include_str!("../data/prompts/agent_system.txt");
const USER_SYSTEM: &str = include_str!("../data/prompts/user_system.txt");
const USER_GUIDELINES: &str = include_str!("../data/user_simulator/simulation_guidelines.md");

/// Replaces each `{name}` placeholder by its value; every placeholder of
/// `vars` must occur exactly once in `template`.
fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in vars {
        let placeholder = format!("{{{name}}}");
        debug_assert_eq!(out.matches(&placeholder).count(), 1, "{placeholder}");
        out = out.replacen(&placeholder, value, 1);
    }
    out
}

/// The original agent's system prompt: instructions plus `<policy>`.
pub fn agent_system(policy: &str) -> String {
    render(AGENT_SYSTEM, &[("domain_policy", policy)])
}

/// The user simulator's system prompt for a scenario (`str(user_scenario)`).
pub fn user_system(scenario: &str) -> String {
    let guidelines = USER_GUIDELINES.replace("<PERSONA_GUIDELINES>", "");
    render(
        USER_SYSTEM,
        &[
            ("global_user_sim_guidelines_with_persona", &guidelines),
            ("instructions", scenario),
        ],
    )
}

/// The judge's user prompt: the conversation and Python's `repr` of the
/// assertion list.
pub fn nl_judge_user(trajectory: &str, assertions: &[String]) -> String {
    let list: Vec<String> = assertions.iter().map(|a| str_repr(a)).collect();
    render(
        NL_JUDGE_USER,
        &[
            ("trajectory_str", trajectory),
            ("nl_assertions", &format!("[{}]", list.join(", "))),
        ],
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn agent_prompt_wraps_policy() {
        let text = super::agent_system("POLICY");
        assert!(text.starts_with("<instructions>\nYou are a customer service agent"));
        assert!(text.ends_with("<policy>\nPOLICY\n</policy>"));
    }
}
