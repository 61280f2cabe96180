//! Turns plain role/text messages into the prompt text an embedded model reads.
//!
//! Chat models get their chat template: chatml-like templates (SmolLM2's) are
//! rendered here exactly, other templates go through llama.cpp's built-in
//! template engine (in the engine, which has the model). Base models without
//! a chat template get a plain completion-style transcript.

use crate::textmode::PlainMessage;

/// How prompts are written for a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptStyle {
    /// `<|im_start|>role\n...<|im_end|>\n`, ending with an open assistant turn.
    ChatMl,
    /// llama.cpp's template engine with the model's own template.
    Template(String),
    /// `User: ...\nAssistant: ...` transcript for base models.
    Completion,
}

impl PromptStyle {
    /// Picks a style from the model's template (if any) and whether the model
    /// is meant for chat.
    pub fn detect(template: Option<&str>, chat: bool) -> Self {
        match template {
            _ if !chat => Self::Completion,
            Some(t) if t.contains("<|im_start|>") => Self::ChatMl,
            Some(t) if !t.trim().is_empty() => Self::Template(t.to_string()),
            _ => Self::Completion,
        }
    }

    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ChatMl => "chatml",
            Self::Template(_) => "gguf-template",
            Self::Completion => "completion",
        }
    }

    /// Stop strings the style needs on top of end-of-generation tokens.
    pub fn stops(&self) -> Vec<String> {
        match self {
            Self::ChatMl => vec!["<|im_end|>".into(), "<|im_start|>".into()],
            Self::Template(_) => Vec::new(),
            Self::Completion => vec!["\nUser:".into(), "\nAssistant:".into()],
        }
    }
}

/// The chatml rendering of `messages`, ending with an open assistant turn.
pub fn render_chatml(messages: &[PlainMessage]) -> String {
    let mut out = String::new();
    for m in messages {
        out.push_str(&format!(
            "<|im_start|>{}\n{}<|im_end|>\n",
            m.role, m.content
        ));
    }
    out.push_str("<|im_start|>assistant\n");
    out
}

/// The completion-style transcript of `messages`, ending with `Assistant:`.
pub fn render_completion(messages: &[PlainMessage]) -> String {
    let mut out = String::new();
    for m in messages {
        match m.role {
            "system" => {
                out.push_str(m.content.trim());
                out.push_str("\n\n");
            }
            "assistant" => out.push_str(&format!("Assistant: {}\n", m.content.trim())),
            _ => out.push_str(&format!("User: {}\n", m.content.trim())),
        }
    }
    out.push_str("Assistant:");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages() -> Vec<PlainMessage> {
        vec![
            PlainMessage {
                role: "system",
                content: "Be brief.".into(),
            },
            PlainMessage {
                role: "user",
                content: "Hi".into(),
            },
            PlainMessage {
                role: "assistant",
                content: "{\"name\":\"get\",\"arguments\":{}}".into(),
            },
            PlainMessage {
                role: "user",
                content: "Result of tool get:\nok".into(),
            },
        ]
    }

    #[test]
    fn chatml_snapshot() {
        insta::assert_snapshot!(render_chatml(&messages()));
    }

    #[test]
    fn completion_snapshot() {
        insta::assert_snapshot!(render_completion(&messages()));
    }

    #[test]
    fn styles_are_detected() {
        assert_eq!(
            PromptStyle::detect(Some("{{'<|im_start|>'}}"), true),
            PromptStyle::ChatMl
        );
        assert_eq!(
            PromptStyle::detect(Some("<start_of_turn>"), false),
            PromptStyle::Completion
        );
        assert_eq!(PromptStyle::detect(None, true), PromptStyle::Completion);
        assert!(matches!(
            PromptStyle::detect(Some("<start_of_turn>"), true),
            PromptStyle::Template(_)
        ));
    }
}
