//! What a harness would have done to recorded episodes: per rule, how many
//! actions it would have blocked, rewritten, nudged, annotated or stopped,
//! separately for successful and failed episodes.
//!
//! Every episode is replayed through its environment from the task's
//! initial state ([`Replayer`]), so rules that read the state see what the
//! agent saw. A block in a successful episode is a false positive: the
//! harness would have broken a run that succeeded; those are listed.

use std::collections::BTreeMap;
use std::sync::Arc;

use lifeharness_core::{
    Action, ActionVerdict, EnvironmentFactory, EpisodeSetup, FeedbackVerdict, Layer, LayerEvent,
    ModelTurn,
};
use lifeharness_layers::{ContractLayer, RealizationLayer, RegulationLayer};
use lifeharness_rules::CompiledHarness;
use serde::Serialize;
use serde_json::Value;

use crate::error::DiagnoseError;
use crate::recorded::Recorded;
use crate::replay::{Replayer, StepDivergence, shorten};

/// How many false positives and divergences are listed (all are counted).
const LISTED: usize = 200;

/// Verdict counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Actions judged.
    pub actions: usize,
    /// Blocked (including aborts).
    pub blocked: usize,
    /// Rewritten.
    pub rewritten: usize,
    /// Nudges and directives after an observation.
    pub nudged: usize,
    /// Notes added to an observation.
    pub annotated: usize,
    /// Episodes the regulation would have stopped.
    pub stopped: usize,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.actions += other.actions;
        self.blocked += other.blocked;
        self.rewritten += other.rewritten;
        self.nudged += other.nudged;
        self.annotated += other.annotated;
        self.stopped += other.stopped;
    }
}

/// One rule's counts by episode outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleRow {
    /// Blocks in successful episodes of calls the environment then ran
    /// without an error: the harness would have broken a run that worked.
    pub false_positives: usize,
    /// Blocks in successful episodes of calls the environment rejected
    /// anyway (the block would have saved a failing call, not broken the run).
    pub blocked_failing_calls: usize,
    /// In successful episodes (blocks here are false positives).
    pub successful: Counts,
    /// In failed episodes.
    pub failed: Counts,
    /// In episodes whose outcome is not known.
    pub unknown: Counts,
}

/// Totals over one outcome class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeTally {
    /// Episodes.
    pub episodes: usize,
    /// Verdict counts over all rules.
    pub counts: Counts,
    /// Episodes with at least one block.
    pub episodes_blocked: usize,
}

/// A block in a successful episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FalsePositive {
    /// The run.
    pub run_id: String,
    /// The episode.
    pub episode_id: String,
    /// The task.
    pub task_id: String,
    /// The step.
    pub step: usize,
    /// The rule.
    pub rule_id: String,
    /// The action it would have blocked.
    pub action: Action,
    /// The correction it would have shown.
    pub correction: String,
}

/// A replayed episode's divergent steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeDivergences {
    /// The episode.
    pub episode_id: String,
    /// The task.
    pub task_id: String,
    /// The steps whose replayed result differed.
    pub steps: Vec<StepDivergence>,
}

/// The audit of a harness over some episodes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AuditReport {
    /// The harness's name.
    pub harness: String,
    /// The harness's id (content hash).
    pub harness_id: String,
    /// Episodes audited.
    pub episodes: usize,
    /// Successful episodes.
    pub successful: OutcomeTally,
    /// Failed episodes.
    pub failed: OutcomeTally,
    /// Episodes with no known outcome.
    pub unknown: OutcomeTally,
    /// Per rule.
    pub rules: BTreeMap<String, RuleRow>,
    /// Blocks in successful episodes of calls that then ran without an
    /// error (first 200; `false_positive_count` counts all).
    pub false_positives: Vec<FalsePositive>,
    /// How many such blocks there were.
    pub false_positive_count: usize,
    /// Blocks in successful episodes of calls the environment rejected anyway.
    pub blocked_failing_calls: usize,
    /// Steps whose replayed result differed from the recording.
    pub divergent_steps: usize,
    /// Episodes with such steps (first 200 listed).
    pub divergences: Vec<EpisodeDivergences>,
    /// Episodes with divergent steps.
    pub divergent_episodes: usize,
    /// Of the divergent steps, those where one result is an error and the other not.
    pub divergent_outcomes: usize,
    /// Episodes whose replayed environment ended before the recording did.
    pub ended_early: usize,
    /// Failed episodes with a first critical step (from their diagnosis).
    pub failed_with_critical_step: usize,
    /// Of those, episodes whose first critical step this harness would
    /// have blocked (the failure it would have caught where it began).
    pub failed_first_critical_blocked: usize,
    /// Calls in imported episodes of tools this environment does not offer
    /// (the source benchmark had them, e.g. τ-bench v1's `think`): neither
    /// judged nor replayed.
    pub foreign_tool_calls: BTreeMap<String, usize>,
}

/// Runs a harness's contract, realization and regulation over recorded episodes.
pub struct Auditor {
    harness: Arc<CompiledHarness>,
    contract: ContractLayer,
    realization: RealizationLayer,
    regulation: RegulationLayer,
    report: AuditReport,
}

enum Outcome {
    Successful,
    Failed,
    Unknown,
}

impl Auditor {
    /// An auditor for `harness`.
    pub fn new(harness: Arc<CompiledHarness>) -> Self {
        let report = AuditReport {
            harness: harness.harness.name.clone(),
            harness_id: harness.harness.content_hash(),
            ..AuditReport::default()
        };
        Self {
            contract: ContractLayer::new(Arc::clone(&harness)),
            realization: RealizationLayer::new(Arc::clone(&harness)),
            regulation: RegulationLayer::new(Arc::clone(&harness)),
            harness,
            report,
        }
    }

    /// Audits one episode, replaying it in `factory`'s environment.
    pub async fn audit(
        &mut self,
        factory: &dyn EnvironmentFactory,
        episode: &Recorded,
    ) -> Result<(), DiagnoseError> {
        let context = episode.context();
        let mut replay = Replayer::start(factory, &episode.task, episode.seed, &context).await?;
        if self.harness.harness.layers.contract {
            let mut setup = EpisodeSetup {
                task: episode.task.clone(),
                system_text: String::new(),
                tools: replay.tools().to_vec(),
            };
            self.contract
                .before_episode(&mut setup)
                .map_err(|e| DiagnoseError::layer(&context, e))?;
            replay.set_tools(setup.tools);
        }
        let outcome = match episode.success {
            Some(true) => Outcome::Successful,
            Some(false) => Outcome::Failed,
            None => Outcome::Unknown,
        };
        let critical = match outcome {
            Outcome::Failed => {
                crate::diagnose::diagnose(Some(factory), episode)
                    .or_else(|_| crate::diagnose::diagnose(None, episode))?
                    .first_critical_step
            }
            _ => None,
        };
        let mut critical_blocked = false;
        let mut counts = Counts::default();
        let mut per_rule: BTreeMap<String, Counts> = BTreeMap::new();
        let mut stopped = false;
        // Per rule: (false positives, blocked failing calls) in this episode.
        let mut fp_rows: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let offered: Vec<String> = replay.tools().iter().map(|t| t.name.clone()).collect();
        for action in &episode.actions {
            if episode.source.is_some()
                && let Action::ToolCall(call) = &action.proposed
                && !offered.contains(&call.name)
            {
                *self
                    .report
                    .foreign_tool_calls
                    .entry(call.name.clone())
                    .or_default() += 1;
                continue;
            }
            counts.actions += 1;
            let mut candidate: Option<FalsePositive> = None;
            let verdict = if self.harness.harness.layers.realization {
                self.realization
                    .after_turn(
                        &replay.view(action.step),
                        &ModelTurn::default(),
                        &action.proposed,
                    )
                    .map_err(|e| {
                        DiagnoseError::layer(format!("{context} step {}", action.step), e)
                    })?
            } else {
                ActionVerdict::Allow
            };
            match &verdict {
                ActionVerdict::Allow => {}
                ActionVerdict::Rewrite { rule_id, .. } => {
                    counts.rewritten += 1;
                    per_rule.entry(rule_id.clone()).or_default().rewritten += 1;
                }
                ActionVerdict::Block {
                    rule_id,
                    correction: text,
                    ..
                }
                | ActionVerdict::Abort {
                    rule_id,
                    reason: text,
                    ..
                } => {
                    counts.blocked += 1;
                    per_rule.entry(rule_id.clone()).or_default().blocked += 1;
                    critical_blocked |= critical == Some(action.step);
                    if matches!(outcome, Outcome::Successful) {
                        candidate = Some(FalsePositive {
                            run_id: episode.run_id.clone(),
                            episode_id: episode.episode_id.clone(),
                            task_id: episode.task.id.clone(),
                            step: action.step,
                            rule_id: rule_id.clone(),
                            action: action.proposed.clone(),
                            correction: shorten(text, 300),
                        });
                    }
                }
            }
            if !matches!(verdict, ActionVerdict::Allow) {
                replay.push_event(LayerEvent::from_action_verdict("realization", &verdict));
            }
            // What really ran is replayed, whatever this harness would have done.
            let Some(executed) = &action.executed else {
                replay.skip(action.step, &action.proposed);
                continue;
            };
            let observation = replay
                .execute(action.step, executed, action.observation.as_ref())
                .await?;
            if let Some(fp) = candidate.take() {
                // A block of a call the environment rejects anyway breaks nothing.
                let failed = observation
                    .as_ref()
                    .or(action.observation.as_ref())
                    .is_some_and(|o| {
                        o.is_error
                            || factory
                                .explain_error(executed.label(), &o.content)
                                .is_some()
                    });
                let row = fp_rows.entry(fp.rule_id.clone()).or_default();
                if failed {
                    self.report.blocked_failing_calls += 1;
                    row.1 += 1;
                } else {
                    self.report.false_positive_count += 1;
                    row.0 += 1;
                    if self.report.false_positives.len() < LISTED {
                        self.report.false_positives.push(fp);
                    }
                }
            }
            let Some(observation) = observation else {
                continue;
            };
            if !self.harness.harness.layers.regulation || stopped {
                continue;
            }
            // The runtime judges an observation before the action joins the
            // history; the replay has already recorded it, so it is left out
            // here (else every call would count twice towards a repeat).
            let mut view = replay.view(action.step);
            view.history = &view.history[..view.history.len().saturating_sub(1)];
            let verdicts = self
                .regulation
                .after_observation(&view, executed, &observation)
                .map_err(|e| DiagnoseError::layer(format!("{context} step {}", action.step), e))?;
            for v in &verdicts {
                match v {
                    FeedbackVerdict::Continue => continue,
                    FeedbackVerdict::Annotate { rule_id, .. } => {
                        counts.annotated += 1;
                        per_rule.entry(rule_id.clone()).or_default().annotated += 1;
                    }
                    FeedbackVerdict::Nudge { rule_id, .. }
                    | FeedbackVerdict::Directive { rule_id, .. } => {
                        counts.nudged += 1;
                        per_rule.entry(rule_id.clone()).or_default().nudged += 1;
                    }
                    FeedbackVerdict::Stop { rule_id, .. } => {
                        counts.stopped += 1;
                        stopped = true;
                        per_rule.entry(rule_id.clone()).or_default().stopped += 1;
                    }
                }
                replay.push_event(LayerEvent::from_feedback_verdict("regulation", v));
            }
        }
        if replay.ended_at().is_some()
            && episode
                .actions
                .last()
                .is_some_and(|a| replay.ended_at() < Some(a.step))
        {
            self.report.ended_early += 1;
        }
        let divergences = replay.into_divergences();
        if !divergences.is_empty() {
            self.report.divergent_steps += divergences.len();
            self.report.divergent_outcomes += divergences
                .iter()
                .filter(|d| d.class == crate::replay::DivergenceClass::Outcome)
                .count();
            self.report.divergent_episodes += 1;
            if self.report.divergences.len() < LISTED {
                self.report.divergences.push(EpisodeDivergences {
                    episode_id: episode.episode_id.clone(),
                    task_id: episode.task.id.clone(),
                    steps: divergences,
                });
            }
        }
        self.report.episodes += 1;
        if critical.is_some() {
            self.report.failed_with_critical_step += 1;
            if critical_blocked {
                self.report.failed_first_critical_blocked += 1;
            }
        }
        let tally = match outcome {
            Outcome::Successful => &mut self.report.successful,
            Outcome::Failed => &mut self.report.failed,
            Outcome::Unknown => &mut self.report.unknown,
        };
        tally.episodes += 1;
        if counts.blocked > 0 {
            tally.episodes_blocked += 1;
        }
        tally.counts.add(&counts);
        for (rule, (fp, failing)) in fp_rows {
            let row = self.report.rules.entry(rule).or_default();
            row.false_positives += fp;
            row.blocked_failing_calls += failing;
        }
        for (rule, c) in per_rule {
            let row = self.report.rules.entry(rule).or_default();
            match outcome {
                Outcome::Successful => row.successful.add(&c),
                Outcome::Failed => row.failed.add(&c),
                Outcome::Unknown => row.unknown.add(&c),
            }
        }
        Ok(())
    }

    /// The report so far.
    pub fn report(&self) -> &AuditReport {
        &self.report
    }

    /// The finished report.
    pub fn finish(self) -> AuditReport {
        self.report
    }
}

impl AuditReport {
    /// The report as text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, name: &str, t: &OutcomeTally| {
            out.push_str(&format!(
                "  {name:<11} {:>6} episodes  {:>7} actions  {:>6} blocked ({} episodes)  {:>5} rewritten  {:>5} nudged  {:>5} annotated  {:>4} stopped\n",
                t.episodes,
                t.counts.actions,
                t.counts.blocked,
                t.episodes_blocked,
                t.counts.rewritten,
                t.counts.nudged,
                t.counts.annotated,
                t.counts.stopped
            ));
        };
        out.push_str(&format!(
            "audit of harness {} ({}) over {} episodes, replayed with state\n",
            self.harness,
            short_id(&self.harness_id),
            self.episodes
        ));
        line(&mut out, "successful", &self.successful);
        line(&mut out, "failed", &self.failed);
        if self.unknown.episodes > 0 {
            line(&mut out, "unfinished", &self.unknown);
        }
        if !self.rules.is_empty() {
            out.push_str(&format!(
                "\n  {:<36} {:>22} {:>22}\n",
                "rule", "successful b/r/n/a", "failed b/r/n/a"
            ));
            for (rule, row) in &self.rules {
                let f = |c: &Counts| {
                    format!("{}/{}/{}/{}", c.blocked, c.rewritten, c.nudged, c.annotated)
                };
                out.push_str(&format!(
                    "  {:<36} {:>22} {:>22}\n",
                    rule,
                    f(&row.successful),
                    f(&row.failed)
                ));
            }
        }
        out.push_str(&format!(
            "\n  false positives (blocks in successful episodes of calls that then ran without an error): {}; \
             blocks in successful episodes of calls the environment rejected anyway: {}\n",
            self.false_positive_count, self.blocked_failing_calls
        ));
        if self.failed_with_critical_step > 0 {
            out.push_str(&format!(
                "  failed episodes whose first critical step would be blocked: {} of {}\n",
                self.failed_first_critical_blocked, self.failed_with_critical_step
            ));
        }
        let by_rule: Vec<String> = self
            .rules
            .iter()
            .filter(|(_, r)| r.false_positives > 0)
            .map(|(id, r)| format!("{id} {}", r.false_positives))
            .collect();
        if !by_rule.is_empty() {
            out.push_str(&format!("    by rule: {}\n", by_rule.join(", ")));
        }
        for fp in self.false_positives.iter().take(10) {
            out.push_str(&format!(
                "    {} step {} {} blocked {}: {}\n",
                fp.episode_id,
                fp.step,
                fp.rule_id,
                fp.action.label(),
                shorten(&fp.correction, 100)
            ));
        }
        out.push_str(&format!(
            "  replay: {} steps in {} episodes returned a result different from the recording ({} of them error vs success, the rest other content); {} episodes ended early in replay\n",
            self.divergent_steps, self.divergent_episodes, self.divergent_outcomes, self.ended_early
        ));
        if !self.foreign_tool_calls.is_empty() {
            let list: Vec<String> = self
                .foreign_tool_calls
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect();
            out.push_str(&format!(
                "  calls of tools the source had and this environment does not (not judged, not replayed): {}\n",
                list.join(", ")
            ));
        }
        out
    }

    /// The report as JSON.
    pub fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The first 12 characters of a hash.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
