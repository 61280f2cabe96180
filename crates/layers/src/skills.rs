//! Layer 2, procedural skills: BM25 over the skills, queried with the task's
//! text; the top K that fit the token budget are appended to the system prompt.

use bm25::{Document, Language, SearchEngine, SearchEngineBuilder};
use lifeharness_core::{EpisodeSetup, Layer, LayerError, TaskConditioning};
use lifeharness_rules::spec::{Skill, SkillsSpec};

/// Picks skills for each task.
pub struct SkillsLayer {
    skills: Vec<Skill>,
    engine: SearchEngine<usize>,
    top_k: usize,
    token_budget: usize,
}

impl std::fmt::Debug for SkillsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SkillsLayer({} skills)", self.skills.len())
    }
}

/// Estimated tokens of a text (characters / 4, rounded up).
fn tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

fn render(skill: &Skill) -> String {
    format!("### {}\n{}", skill.title.trim(), skill.body.trim())
}

impl SkillsLayer {
    /// Indexes the skills of `spec`.
    pub fn new(spec: &SkillsSpec) -> Self {
        let documents: Vec<Document<usize>> = spec
            .skills
            .iter()
            .enumerate()
            .map(|(i, s)| Document::new(i, format!("{} {} {}", s.title, s.tools.join(" "), s.body)))
            .collect();
        let engine =
            SearchEngineBuilder::<usize>::with_documents(Language::English, documents).build();
        Self {
            skills: spec.skills.clone(),
            engine,
            top_k: spec.top_k,
            token_budget: spec.token_budget,
        }
    }

    /// The skill ids chosen for a task of `environment` described by `query`, best first.
    pub fn select(&self, environment: &str, query: &str) -> Vec<&Skill> {
        let mut chosen = Vec::new();
        let mut used = 0;
        for hit in self.engine.search(query, self.skills.len()) {
            if chosen.len() >= self.top_k || hit.score <= 0.0 {
                break;
            }
            let Some(skill) = self.skills.get(hit.document.id) else {
                continue;
            };
            if !skill.environments.is_empty()
                && !skill.environments.iter().any(|e| e == environment)
            {
                continue;
            }
            let cost = tokens(&render(skill));
            if used + cost > self.token_budget {
                continue;
            }
            used += cost;
            chosen.push(skill);
        }
        chosen
    }
}

impl Layer for SkillsLayer {
    fn name(&self) -> &str {
        "skills"
    }

    fn condition_task(&self, setup: &EpisodeSetup) -> Result<Option<TaskConditioning>, LayerError> {
        let chosen = self.select(&setup.task.environment, &setup.task.instruction);
        if chosen.is_empty() {
            return Ok(None);
        }
        let body: Vec<String> = chosen.iter().map(|s| render(s)).collect();
        Ok(Some(TaskConditioning {
            rule_ids: chosen.iter().map(|s| s.id.clone()).collect(),
            text: format!("## Skills for tasks like this one\n{}", body.join("\n\n")),
        }))
    }
}
