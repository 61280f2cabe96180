//! Diagnoses summed up per environment: the failure mix beside the paper's,
//! the top failure signatures, the steps wasted per category, what the
//! successful episodes did that the failed ones did not, and the LLM
//! judge's agreement where one was asked.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::diagnose::{Category, Diagnosis, DivergenceKind};

/// How many signatures and tools are listed.
const TOP: usize = 10;
/// How many example episode ids a signature lists.
const EXAMPLES: usize = 3;

/// One category's share of the failed episodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixRow {
    /// The category.
    pub category: Category,
    /// Failed episodes with it as their primary label.
    pub count: usize,
    /// Their share of the agent failures (infrastructure excluded).
    pub share: Option<f64>,
    /// The paper's share.
    pub paper_share: Option<f64>,
    /// Steps wasted in failed episodes, by the signal's category.
    pub wasted_steps: usize,
}

/// A failure signature and how often it occurs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignatureRow {
    /// Tool (or source) and normalised pattern.
    pub signature: String,
    /// Its category.
    pub category: Category,
    /// Occurrences.
    pub count: usize,
    /// Episodes it occurs in (up to three).
    pub examples: Vec<String>,
}

/// How often a tool is called in successful and in failed episodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolContrast {
    /// The tool.
    pub tool: String,
    /// Share of successful episodes that call it.
    pub successful: f64,
    /// Share of failed episodes that call it.
    pub failed: f64,
}

/// What the successful episodes did, against the failed ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Contrast {
    /// Successful episodes.
    pub successful: usize,
    /// Mean steps of successful episodes.
    pub mean_steps_successful: Option<f64>,
    /// Mean steps of failed episodes.
    pub mean_steps_failed: Option<f64>,
    /// Mean tool calls of successful episodes.
    pub mean_tool_calls_successful: Option<f64>,
    /// Mean tool calls of failed episodes.
    pub mean_tool_calls_failed: Option<f64>,
    /// Share of tool calls that erred, in successful episodes.
    pub tool_error_rate_successful: Option<f64>,
    /// Share of tool calls that erred, in failed episodes.
    pub tool_error_rate_failed: Option<f64>,
    /// Errors successful episodes recovered from.
    pub recovered_errors_successful: usize,
    /// The tools whose use differs most between the two.
    pub tools: Vec<ToolContrast>,
    /// The first tools successful episodes call, most common first.
    pub first_tools_successful: Vec<(String, usize)>,
}

/// The summary of one environment's diagnoses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvironmentReport {
    /// The environment.
    pub environment: String,
    /// Episodes diagnosed.
    pub episodes: usize,
    /// Successful.
    pub successful: usize,
    /// Failed.
    pub failed: usize,
    /// Not finished (not diagnosed).
    pub unfinished: usize,
    /// Failed episodes labelled infrastructure (not in the mix).
    pub infrastructure: usize,
    /// The failure mix over agent failures.
    pub mix: Vec<MixRow>,
    /// Primary signatures, most common first.
    pub primary_signatures: Vec<SignatureRow>,
    /// Every signal's signature in failed episodes, most common first.
    pub signal_signatures: Vec<SignatureRow>,
    /// Divergences from the reference, by kind.
    pub divergences: BTreeMap<DivergenceKind, usize>,
    /// Failed episodes whose task has reference actions.
    pub failed_with_reference: usize,
    /// What successes did that failures did not.
    pub contrast: Contrast,
    /// Judge agreement, when a judge labelled episodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeAgreement>,
}

/// How often the LLM judge agreed with the deterministic label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgeAgreement {
    /// Episodes the judge labelled.
    pub labelled: usize,
    /// Of those, where it named a category.
    pub named: usize,
    /// Of those, agreeing with the deterministic category.
    pub agreed: usize,
    /// `agreed / named`.
    pub rate: Option<f64>,
}

/// Every environment's summary, plus the diagnoses themselves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Per environment, by name.
    pub environments: Vec<EnvironmentReport>,
    /// Every diagnosis.
    pub episodes: Vec<Diagnosis>,
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn top_signatures<'a>(
    items: impl Iterator<Item = (&'a str, Category, &'a str)>,
) -> Vec<SignatureRow> {
    let mut rows: BTreeMap<String, SignatureRow> = BTreeMap::new();
    for (signature, category, episode) in items {
        let row = rows
            .entry(signature.to_string())
            .or_insert_with(|| SignatureRow {
                signature: signature.to_string(),
                category,
                count: 0,
                examples: Vec::new(),
            });
        row.count += 1;
        if row.examples.len() < EXAMPLES && !row.examples.iter().any(|e| e == episode) {
            row.examples.push(episode.to_string());
        }
    }
    let mut rows: Vec<SignatureRow> = rows.into_values().collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.signature.cmp(&b.signature)));
    rows.truncate(TOP);
    rows
}

impl EnvironmentReport {
    /// Sums up one environment's diagnoses.
    pub fn of(environment: &str, diagnoses: &[&Diagnosis]) -> Self {
        let failed: Vec<&&Diagnosis> = diagnoses.iter().filter(|d| d.failed()).collect();
        let successful: Vec<&&Diagnosis> = diagnoses
            .iter()
            .filter(|d| d.success == Some(true))
            .collect();
        let infrastructure = failed
            .iter()
            .filter(|d| d.category == Some(Category::Infrastructure))
            .count();
        let agent_failures = failed.len() - infrastructure;
        let mut wasted: BTreeMap<Category, usize> = BTreeMap::new();
        for d in &failed {
            for (c, n) in &d.wasted_steps {
                *wasted.entry(*c).or_default() += n;
            }
        }
        let mut mix: Vec<MixRow> = Category::AGENT
            .iter()
            .map(|c| {
                let count = failed.iter().filter(|d| d.category == Some(*c)).count();
                MixRow {
                    category: *c,
                    count,
                    share: ratio(count, agent_failures),
                    paper_share: c.paper_share(),
                    wasted_steps: wasted.get(c).copied().unwrap_or(0),
                }
            })
            .collect();
        mix.push(MixRow {
            category: Category::Infrastructure,
            count: infrastructure,
            share: None,
            paper_share: None,
            wasted_steps: wasted.get(&Category::Infrastructure).copied().unwrap_or(0),
        });
        let primary_signatures =
            top_signatures(failed.iter().filter_map(|d| {
                Some((d.signature.as_deref()?, d.category?, d.episode_id.as_str()))
            }));
        let signal_signatures = top_signatures(failed.iter().flat_map(|d| {
            d.signals
                .iter()
                .map(|s| (s.signature.as_str(), s.category, d.episode_id.as_str()))
        }));
        let mut divergences: BTreeMap<DivergenceKind, usize> = BTreeMap::new();
        for d in &failed {
            for v in &d.divergences {
                *divergences.entry(v.kind).or_default() += 1;
            }
        }
        let judged: Vec<_> = diagnoses.iter().filter_map(|d| d.judge.as_ref()).collect();
        let judge = (!judged.is_empty()).then(|| {
            let named = judged.iter().filter(|j| j.category.is_some()).count();
            let agreed = judged.iter().filter(|j| j.agrees == Some(true)).count();
            JudgeAgreement {
                labelled: judged.len(),
                named,
                agreed,
                rate: ratio(agreed, named),
            }
        });
        Self {
            environment: environment.to_string(),
            episodes: diagnoses.len(),
            successful: successful.len(),
            failed: failed.len(),
            unfinished: diagnoses.iter().filter(|d| d.success.is_none()).count(),
            infrastructure,
            mix,
            primary_signatures,
            signal_signatures,
            divergences,
            failed_with_reference: failed.iter().filter(|d| d.has_reference).count(),
            contrast: contrast(&successful, &failed),
            judge,
        }
    }
}

fn contrast(successful: &[&&Diagnosis], failed: &[&&Diagnosis]) -> Contrast {
    let uses = |list: &[&&Diagnosis], tool: &str| {
        ratio(
            list.iter()
                .filter(|d| d.tools_used.iter().any(|t| t == tool))
                .count(),
            list.len(),
        )
        .unwrap_or(0.0)
    };
    let tools: BTreeSet<&str> = successful
        .iter()
        .chain(failed)
        .flat_map(|d| d.tools_used.iter().map(String::as_str))
        .collect();
    let mut rows: Vec<ToolContrast> = tools
        .into_iter()
        .map(|t| ToolContrast {
            tool: t.to_string(),
            successful: uses(successful, t),
            failed: uses(failed, t),
        })
        .collect();
    rows.sort_by(|a, b| {
        (b.successful - b.failed)
            .abs()
            .total_cmp(&(a.successful - a.failed).abs())
            .then(a.tool.cmp(&b.tool))
    });
    rows.truncate(TOP);
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    for d in successful {
        if let Some(t) = d.tools_used.first() {
            *first.entry(t.clone()).or_default() += 1;
        }
    }
    let mut first: Vec<(String, usize)> = first.into_iter().collect();
    first.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    first.truncate(3);
    let error_rate = |list: &[&&Diagnosis]| {
        ratio(
            list.iter().map(|d| d.tool_errors).sum(),
            list.iter().map(|d| d.tool_calls).sum(),
        )
    };
    Contrast {
        successful: successful.len(),
        mean_steps_successful: mean(successful.iter().map(|d| d.steps as f64)),
        mean_steps_failed: mean(failed.iter().map(|d| d.steps as f64)),
        mean_tool_calls_successful: mean(successful.iter().map(|d| d.tool_calls as f64)),
        mean_tool_calls_failed: mean(failed.iter().map(|d| d.tool_calls as f64)),
        tool_error_rate_successful: error_rate(successful),
        tool_error_rate_failed: error_rate(failed),
        recovered_errors_successful: successful
            .iter()
            .map(|d| d.signals.iter().filter(|s| s.recovered).count())
            .sum(),
        tools: rows,
        first_tools_successful: first,
    }
}

impl Report {
    /// Sums up diagnoses, per environment.
    pub fn of(episodes: Vec<Diagnosis>) -> Self {
        let names: BTreeSet<&str> = episodes.iter().map(|d| d.environment.as_str()).collect();
        let environments = names
            .into_iter()
            .map(|name| {
                let mine: Vec<&Diagnosis> =
                    episodes.iter().filter(|d| d.environment == name).collect();
                EnvironmentReport::of(name, &mine)
            })
            .collect();
        Self {
            environments,
            episodes,
        }
    }

    /// The report as text (for a terminal).
    pub fn text(&self, list_episodes: bool) -> String {
        let mut out = String::new();
        for env in &self.environments {
            out.push_str(&env.text());
            out.push('\n');
        }
        if list_episodes {
            out.push_str("failed episodes:\n");
            for d in self.episodes.iter().filter(|d| d.failed()) {
                out.push_str(&episode_line(d));
                out.push('\n');
            }
        }
        out
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::from("# Failure diagnosis\n\n");
        out.push_str("Deterministic labels (format errors, schema and environment errors with the environment's own meaning, layer events, repetition, budgets, divergence from reference actions); an LLM judge's label, where asked, is shown beside them and never replaces them.\n\n");
        for env in &self.environments {
            out.push_str(&env.markdown());
        }
        out.push_str("## Failed episodes\n\n| episode | task | category | step | signature | evidence | judge |\n|---|---|---|---|---|---|---|\n");
        for d in self.episodes.iter().filter(|d| d.failed()) {
            let judge = d
                .judge
                .as_ref()
                .map(|j| {
                    format!(
                        "{} ({})",
                        j.category.map_or("unlabelled", Category::as_str),
                        md_cell(&j.reason)
                    )
                })
                .unwrap_or_default();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                md_cell(&d.episode_id),
                md_cell(&d.task_id),
                d.category.map_or("-", Category::as_str),
                d.first_critical_step.map_or("-".into(), |s| s.to_string()),
                md_cell(d.signature.as_deref().unwrap_or("-")),
                md_cell(d.evidence.as_ref().map_or("", |e| e.detail.as_str())),
                judge
            ));
        }
        out
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.0}%", v * 100.0))
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn md_cell(text: &str) -> String {
    let t = crate::replay::shorten(text, 160);
    t.replace('|', "\\|").replace('\n', " ")
}

fn episode_line(d: &Diagnosis) -> String {
    format!(
        "  {:<30} {:<26} step {:>3}  {}  — {}",
        d.episode_id,
        d.category.map_or("-", Category::as_str),
        d.first_critical_step.map_or("-".into(), |s| s.to_string()),
        d.signature.as_deref().unwrap_or("-"),
        d.evidence
            .as_ref()
            .map_or(String::new(), |e| crate::replay::shorten(&e.detail, 120))
    )
}

impl EnvironmentReport {
    /// The summary as text.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{}: {} episodes, {} successful, {} failed ({} infrastructure, not in the mix), {} unfinished\n",
            self.environment,
            self.episodes,
            self.successful,
            self.failed,
            self.infrastructure,
            self.unfinished
        );
        out.push_str(&format!(
            "  {:<26} {:>6} {:>7} {:>7} {:>13}\n",
            "failure mix", "count", "share", "paper", "wasted steps"
        ));
        for row in &self.mix {
            out.push_str(&format!(
                "  {:<26} {:>6} {:>7} {:>7} {:>13}\n",
                row.category.as_str(),
                row.count,
                pct(row.share),
                pct(row.paper_share),
                row.wasted_steps
            ));
        }
        if !self.primary_signatures.is_empty() {
            out.push_str("  top failure signatures (primary):\n");
            for s in &self.primary_signatures {
                out.push_str(&format!(
                    "    {:>4}  {:<60} e.g. {}\n",
                    s.count,
                    s.signature,
                    s.examples.join(", ")
                ));
            }
        }
        if !self.divergences.is_empty() {
            let list: Vec<String> = self
                .divergences
                .iter()
                .map(|(k, n)| format!("{} {n}", k.as_str()))
                .collect();
            out.push_str(&format!(
                "  divergence from reference ({} failed episodes have one): {}\n",
                self.failed_with_reference,
                list.join(", ")
            ));
        }
        let c = &self.contrast;
        out.push_str(&format!(
            "  successes vs failures: steps {} vs {}, tool calls {} vs {}, tool error rate {} vs {}, {} errors recovered in successes\n",
            num(c.mean_steps_successful),
            num(c.mean_steps_failed),
            num(c.mean_tool_calls_successful),
            num(c.mean_tool_calls_failed),
            pct(c.tool_error_rate_successful),
            pct(c.tool_error_rate_failed),
            c.recovered_errors_successful
        ));
        if c.successful > 0 {
            let tools: Vec<String> = c
                .tools
                .iter()
                .take(5)
                .map(|t| {
                    format!(
                        "{} {}/{}",
                        t.tool,
                        pct(Some(t.successful)),
                        pct(Some(t.failed))
                    )
                })
                .collect();
            out.push_str(&format!(
                "  tools used by successes/failures: {}\n",
                tools.join(", ")
            ));
        }
        if let Some(j) = &self.judge {
            out.push_str(&format!(
                "  judge: labelled {}, named a category {}, agreed {} ({})\n",
                j.labelled,
                j.named,
                j.agreed,
                pct(j.rate)
            ));
        }
        out
    }

    /// The summary as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## {}\n\n{} episodes: {} successful, {} failed ({} infrastructure, kept out of the mix), {} unfinished.\n\n",
            self.environment,
            self.episodes,
            self.successful,
            self.failed,
            self.infrastructure,
            self.unfinished
        );
        out.push_str("| category | failed episodes | share | paper | wasted steps |\n|---|---:|---:|---:|---:|\n");
        for row in &self.mix {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                row.category.as_str(),
                row.count,
                pct(row.share),
                pct(row.paper_share),
                row.wasted_steps
            ));
        }
        out.push_str(
            "\n| top failure signatures | category | count | examples |\n|---|---|---:|---|\n",
        );
        for s in &self.primary_signatures {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                md_cell(&s.signature),
                s.category.as_str(),
                s.count,
                md_cell(&s.examples.join(", "))
            ));
        }
        let c = &self.contrast;
        out.push_str(&format!(
            "\nSuccesses vs failures: mean steps {} vs {}, tool calls {} vs {}, tool error rate {} vs {}.\n\n",
            num(c.mean_steps_successful),
            num(c.mean_steps_failed),
            num(c.mean_tool_calls_successful),
            num(c.mean_tool_calls_failed),
            pct(c.tool_error_rate_successful),
            pct(c.tool_error_rate_failed),
        ));
        if let Some(j) = &self.judge {
            out.push_str(&format!(
                "Judge: {} labelled, {} named a category, {} agreed ({}).\n\n",
                j.labelled,
                j.named,
                j.agreed,
                pct(j.rate)
            ));
        }
        out
    }
}
