//! The user side of an episode.
//!
//! * [`UserMode::Simulated`]: the original's LLM user simulator. It gets the
//!   original system prompt (guidelines plus `<scenario>`), sees the agent's
//!   messages as `user` turns and its own as `assistant` turns, and ends the
//!   episode with `###STOP###`, `###TRANSFER###` or `###OUT-OF-SCOPE###`.
//! * [`UserMode::Ticket`]: no user model. The agent gets the scenario up
//!   front as a ticket, which counts as the user's confirmation; it ends the
//!   episode with a message containing `###STOP###` or `Action::Finish`.
//!   Results are not comparable with published τ²-bench numbers.

use std::sync::Arc;

use lifeharness_core::{ChatRequest, Message, Model};

use crate::prompts;

/// The stop markers of the original user simulator.
pub const STOP_MARKERS: [&str; 3] = ["###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###"];

/// The marker an agent writes to end a ticket-mode episode.
pub const TICKET_STOP: &str = "###STOP###";

/// The fixed reply to an agent message in ticket mode.
pub const TICKET_REPLY: &str = "[ticket mode] There is no live user in this episode. The ticket in the first message is everything the user has to say, and it counts as the user's explicit confirmation (yes) for the actions it asks for. Continue with tool calls, or, when the ticket is resolved or cannot be resolved, end the episode with a message that contains ###STOP###.";

/// Who plays the user.
#[derive(Clone)]
pub enum UserMode {
    /// No user model: the scenario is given as a ticket (not comparable with published results).
    Ticket,
    /// The original LLM user simulator, played by `model`.
    Simulated {
        /// The model that plays the user.
        model: Arc<dyn Model>,
        /// Base sampling seed (the episode seed is added to it).
        seed: u64,
    },
}

impl std::fmt::Debug for UserMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ticket => f.write_str("Ticket"),
            Self::Simulated { model, seed } => f
                .debug_struct("Simulated")
                .field("model", &model.info().spec)
                .field("seed", seed)
                .finish(),
        }
    }
}

impl UserMode {
    /// `ticket` or `simulated`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Ticket => "ticket",
            Self::Simulated { .. } => "simulated",
        }
    }
}

/// Whether a user message ends the episode.
pub fn is_user_stop(text: &str) -> bool {
    STOP_MARKERS.iter().any(|m| text.contains(m))
}

/// The opening user message of a ticket-mode episode.
pub fn ticket_message(scenario: &str) -> String {
    format!(
        "[ticket mode: there is no live user; this ticket is the whole request and counts as the user's confirmation]\n\n<ticket>\n{scenario}\n</ticket>\n\nResolve the ticket with the tools, following the policy. When you are done (or the ticket cannot be resolved), send a final message that contains {TICKET_STOP}."
    )
}

/// A running LLM user simulator.
pub struct Simulator {
    model: Arc<dyn Model>,
    seed: u64,
    session: String,
    system: String,
    /// The conversation from the user's side: (is_own_message, text).
    history: Vec<(bool, String)>,
}

impl Simulator {
    /// A simulator for `scenario` (`str(task.user_scenario)`).
    pub fn new(model: Arc<dyn Model>, seed: u64, session: String, scenario: &str) -> Self {
        Self {
            model,
            seed,
            session,
            system: prompts::user_system(scenario),
            history: Vec::new(),
        }
    }

    /// The system prompt it uses.
    pub fn system_prompt(&self) -> &str {
        &self.system
    }

    /// Tells the simulator what the agent said and returns the user's reply
    /// (`None` when the model gave no text).
    pub async fn respond(&mut self, agent_text: &str) -> Result<Option<String>, String> {
        self.history.push((false, agent_text.to_string()));
        let mut messages = vec![Message::system(self.system.clone())];
        for (own, text) in &self.history {
            messages.push(if *own {
                Message::assistant(text.clone())
            } else {
                Message::user(text.clone())
            });
        }
        let request = ChatRequest {
            messages,
            tools: Vec::new(),
            constrain_tool_calls: false,
            seed: Some(self.seed),
            session: Some(self.session.clone()),
            guide: None,
        };
        let turn = self.model.chat(&request).await.map_err(|e| e.to_string())?;
        let text = turn.text.filter(|t| !t.trim().is_empty());
        if let Some(text) = &text {
            self.history.push((true, text.clone()));
        }
        Ok(text)
    }

    /// Releases backend state kept for this episode.
    pub fn end(&self) {
        self.model.end_session(&self.session);
    }
}
