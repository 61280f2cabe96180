//! Cells (one model, environment, harness and layer variant, over one or
//! more runs), their comparison with the null harness of the same model and
//! environment, the settings-improved summary, transfer and ablations.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lifeharness_core::{ActionStats, EnvironmentFactory};
use lifeharness_store::Store;
use serde::{Deserialize, Serialize};

use crate::ReportError;
use crate::facts::{self, EpisodeFacts, LoadCounts};
use crate::stats::{Interval, paired_bootstrap, pass_hat_k, seed_of, wilson};

/// The label of the null harness (no layer on).
pub const NULL_HARNESS: &str = "null";
/// The variant of a harness with its layers as the file sets them.
pub const FULL_VARIANT: &str = "full";
/// Fewer tasks than this get a small-sample note.
const SMALL_SAMPLE_TASKS: usize = 30;

/// What one cell is: which model, environment, split and harness, and the
/// runs that hold its episodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSpec {
    /// The model spec.
    pub model: String,
    /// The environment.
    pub environment: String,
    /// The split.
    pub split: String,
    /// The harness label: `null`, `hand-written`, `evolved`, or another name.
    pub harness: String,
    /// The harness's own name (from its file).
    #[serde(default)]
    pub harness_name: String,
    /// The harness file, when there is one.
    #[serde(default)]
    pub harness_file: Option<String>,
    /// `full`, or the layer ablation (`contract only`, `no skills`, ...).
    #[serde(default = "full")]
    pub variant: String,
    /// The model an evolved harness was evolved from (its lineage).
    #[serde(default)]
    pub source_model: Option<String>,
    /// Notes carried from the environment and the model (comparability).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The runs holding the cell's episodes.
    #[serde(default)]
    pub runs: Vec<String>,
}

fn full() -> String {
    FULL_VARIANT.to_string()
}

impl CellSpec {
    /// The cell's identity within a report.
    pub fn key(&self) -> String {
        format!(
            "{} | {} | {} | {} | {}",
            self.model, self.environment, self.split, self.harness, self.variant
        )
    }

    fn setting(&self) -> (String, String, String) {
        (
            self.model.clone(),
            self.environment.clone(),
            self.split.clone(),
        )
    }

    /// How the cell stands to the others: `baseline` (the null harness),
    /// `source` (an evolved harness on the model it was evolved from),
    /// `transfer` (an evolved harness on another model), `hand-written` or
    /// `other`.
    pub fn role(&self) -> &'static str {
        if self.harness == NULL_HARNESS {
            return "baseline";
        }
        match &self.source_model {
            Some(source) if source_models(source).iter().any(|m| *m == self.model) => "source",
            Some(_) => "transfer",
            None if self.harness == "hand-written" => "hand-written",
            None => "other",
        }
    }
}

/// The model specs named in a lineage's `source_model` (a comma-separated
/// list, each maybe followed by a parenthesised remark).
fn source_models(text: &str) -> Vec<&str> {
    text.split(',')
        .map(|s| s.split(" (").next().unwrap_or("").trim())
        .filter(|s| !s.is_empty())
        .collect()
}

/// One cell's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// What the cell is.
    #[serde(flatten)]
    pub spec: CellSpec,
    /// Its key.
    pub key: String,
    /// `baseline`, `source`, `transfer`, `hand-written` or `other`.
    pub role: String,
    /// Finished episodes counted.
    pub episodes: usize,
    /// Distinct tasks.
    pub tasks: usize,
    /// The most trials any task had.
    pub trials: usize,
    /// Solved episodes.
    pub successes: usize,
    /// Solved / episodes (pass^1 over episodes).
    pub success_rate: Option<f64>,
    /// Its Wilson 95% interval.
    pub success_ci: Option<Interval>,
    /// pass^k for k = 1..trials, as tau2 defines it.
    pub pass_k: Vec<(usize, f64)>,
    /// Mean reward over the scored episodes.
    pub mean_reward: Option<f64>,
    /// Scored episodes (what the mean reward is over).
    pub scored: usize,
    /// What became of the model's actions, summed.
    pub actions: ActionStats,
    /// Executable tool calls / proposed actions.
    pub executable_rate: Option<f64>,
    /// Nudges and directives injected.
    pub nudged: usize,
    /// Annotations appended to tool results.
    pub annotations: usize,
    /// Episodes stopped as loops.
    pub loops_stopped: usize,
    /// Context overflows.
    pub context_overflows: usize,
    /// Other backend errors.
    pub backend_errors: usize,
    /// Failed episodes.
    pub failed: usize,
    /// Failed episodes by diagnosed category.
    pub failure_mix: BTreeMap<String, usize>,
    /// Mean prompt + completion tokens per episode.
    pub tokens_per_episode: Option<f64>,
    /// Mean wall seconds per episode (episodes with both times recorded).
    pub wall_s_per_episode: Option<f64>,
    /// Mean seconds in model calls per episode.
    pub model_s_per_episode: Option<f64>,
    /// Notes: comparability, sample size.
    pub cell_notes: Vec<String>,
    /// Per task: (solved, tried).
    #[serde(skip)]
    pub per_task: BTreeMap<String, (usize, usize)>,
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

impl Cell {
    /// Sums up a cell's episodes.
    pub fn of(spec: CellSpec, episodes: &[EpisodeFacts]) -> Self {
        let mut actions = ActionStats::default();
        let mut per_task: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut failure_mix: BTreeMap<String, usize> = BTreeMap::new();
        let (mut nudged, mut annotations, mut loops, mut overflows, mut backend) = (0, 0, 0, 0, 0);
        for e in episodes {
            actions.merge(&e.actions);
            let entry = per_task.entry(e.task_id.clone()).or_default();
            entry.1 += 1;
            if e.success {
                entry.0 += 1;
            } else {
                let category = e.category.clone().unwrap_or_else(|| "unlabelled".into());
                *failure_mix.entry(category).or_default() += 1;
            }
            nudged += e.nudges + e.directives;
            annotations += e.annotations;
            loops += usize::from(e.exit == "loop");
            overflows += e.context_overflows;
            backend += e.backend_errors;
        }
        let n = episodes.len();
        let successes = episodes.iter().filter(|e| e.success).count();
        let trials = per_task.values().map(|(_, t)| *t).max().unwrap_or(0);
        let pass_k = (1..=trials)
            .filter_map(|k| pass_hat_k(&per_task, k).map(|v| (k, v)))
            .collect();
        let scored: Vec<f64> = episodes.iter().filter_map(|e| e.reward).collect();
        let mut cell_notes = spec.notes.clone();
        if per_task.len() < SMALL_SAMPLE_TASKS && n > 0 {
            cell_notes.push(format!(
                "small sample: {} task{}; read the intervals, not the point estimates",
                per_task.len(),
                if per_task.len() == 1 { "" } else { "s" }
            ));
        }
        Self {
            key: spec.key(),
            role: spec.role().to_string(),
            spec,
            episodes: n,
            tasks: per_task.len(),
            trials,
            successes,
            success_rate: (n > 0).then(|| successes as f64 / n as f64),
            success_ci: wilson(successes, n),
            pass_k,
            mean_reward: mean(scored.iter().copied()),
            scored: scored.len(),
            executable_rate: actions.executable_fraction(),
            actions,
            nudged,
            annotations,
            loops_stopped: loops,
            context_overflows: overflows,
            backend_errors: backend,
            failed: n - successes,
            failure_mix,
            tokens_per_episode: mean(
                episodes
                    .iter()
                    .map(|e| (e.prompt_tokens + e.completion_tokens) as f64),
            ),
            wall_s_per_episode: mean(episodes.iter().filter_map(|e| e.wall_s)),
            model_s_per_episode: mean(episodes.iter().map(|e| e.model_s)),
            cell_notes,
            per_task,
        }
    }
}

/// A harness cell against the null harness of the same model, environment
/// and split.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The harness cell.
    pub cell: String,
    /// The null cell.
    pub baseline: String,
    /// The model.
    pub model: String,
    /// The environment.
    pub environment: String,
    /// The harness label.
    pub harness: String,
    /// The variant.
    pub variant: String,
    /// The cell's role.
    pub role: String,
    /// Success rate with the harness.
    pub on: f64,
    /// Success rate without.
    pub off: f64,
    /// on - off.
    pub difference: f64,
    /// Paired bootstrap 95% interval of the difference over tasks in both cells.
    pub difference_ci: Option<Interval>,
    /// Tasks in both cells.
    pub paired_tasks: usize,
    /// (on - off) / off; `None` when off is 0.
    pub relative: Option<f64>,
    /// What to read instead of the relative improvement, when there is none.
    pub relative_note: Option<String>,
    /// on > off.
    pub improved: bool,
    /// Mean reward with and without, when both were scored.
    pub reward_on: Option<f64>,
    /// Mean reward without.
    pub reward_off: Option<f64>,
}

fn compare(cell: &Cell, baseline: &Cell) -> Option<Comparison> {
    let on = cell.success_rate?;
    let off = baseline.success_rate?;
    let rate = |(c, n): &(usize, usize)| *c as f64 / (*n).max(1) as f64;
    let differences: Vec<f64> = cell
        .per_task
        .iter()
        .filter_map(|(task, counts)| baseline.per_task.get(task).map(|b| rate(counts) - rate(b)))
        .collect();
    let difference = on - off;
    let (relative, relative_note) = if off > 0.0 {
        (Some(difference / off), None)
    } else {
        (
            None,
            Some(format!(
                "the null harness solved nothing: absolute change {:+.1} pp, no relative improvement",
                difference * 100.0
            )),
        )
    };
    Some(Comparison {
        cell: cell.key.clone(),
        baseline: baseline.key.clone(),
        model: cell.spec.model.clone(),
        environment: cell.spec.environment.clone(),
        harness: cell.spec.harness.clone(),
        variant: cell.spec.variant.clone(),
        role: cell.role.clone(),
        on,
        off,
        difference,
        difference_ci: paired_bootstrap(&differences, seed_of(&cell.key)),
        paired_tasks: differences.len(),
        relative,
        relative_note,
        improved: difference > 0.0,
        reward_on: cell.mean_reward,
        reward_off: baseline.mean_reward,
    })
}

/// Settings improved, per role and over all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Settings (full-harness cells with a baseline).
    pub settings: usize,
    /// Of those, improved (success rate above the null harness's).
    pub improved: usize,
    /// Of those, worse.
    pub worse: usize,
    /// Mean relative improvement over settings whose baseline solved something.
    pub mean_relative: Option<f64>,
    /// Settings left out of the mean because the baseline solved nothing.
    pub zero_baseline: usize,
    /// Mean absolute change in success rate (percentage points / 100).
    pub mean_difference: Option<f64>,
}

impl Tally {
    fn of<'a>(comparisons: impl Iterator<Item = &'a Comparison>) -> Self {
        let list: Vec<&Comparison> = comparisons.collect();
        Self {
            settings: list.len(),
            improved: list.iter().filter(|c| c.improved).count(),
            worse: list.iter().filter(|c| c.difference < 0.0).count(),
            mean_relative: mean(list.iter().filter_map(|c| c.relative)),
            zero_baseline: list.iter().filter(|c| c.relative.is_none()).count(),
            mean_difference: mean(list.iter().map(|c| c.difference)),
        }
    }
}

/// One harness's layer ablations on one model and environment.
#[derive(Debug, Clone, Serialize)]
pub struct AblationGroup {
    /// The model.
    pub model: String,
    /// The environment.
    pub environment: String,
    /// The harness label.
    pub harness: String,
    /// (variant, cell key, success rate, difference from the full harness).
    pub variants: Vec<AblationRow>,
}

/// One variant of an ablation group.
#[derive(Debug, Clone, Serialize)]
pub struct AblationRow {
    /// The variant.
    pub variant: String,
    /// The cell.
    pub cell: String,
    /// Its success rate.
    pub success_rate: Option<f64>,
    /// Its Wilson interval.
    pub success_ci: Option<Interval>,
    /// Its executable-action rate.
    pub executable_rate: Option<f64>,
    /// Success rate minus the full harness's.
    pub vs_full: Option<f64>,
}

/// A whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was reported on (matrix or run ids).
    pub sources: Vec<String>,
    /// Notes that hold for the whole report.
    pub notes: Vec<String>,
    /// Every cell.
    pub cells: Vec<Cell>,
    /// Every non-null cell against its baseline.
    pub comparisons: Vec<Comparison>,
    /// Full-harness settings improved, over all.
    pub summary: Tally,
    /// The same per role (`source`, `transfer`, `hand-written`, `other`).
    pub by_role: BTreeMap<String, Tally>,
    /// Layer ablations.
    pub ablations: Vec<AblationGroup>,
    /// How the episode facts were read.
    pub load: LoadCounts,
}

/// Builds a report over the cells `specs` (specs with the same key are one
/// cell over all their runs). `factory` finds an environment by name for
/// diagnosing episodes not diagnosed before; `progress` is called once per
/// episode read.
pub fn build(
    store: &Store,
    sources: Vec<String>,
    specs: Vec<CellSpec>,
    factory: &dyn Fn(&str) -> Option<Arc<dyn EnvironmentFactory>>,
    progress: &dyn Fn(),
) -> Result<Report, ReportError> {
    let mut merged: BTreeMap<String, CellSpec> = BTreeMap::new();
    for spec in specs {
        match merged.get_mut(&spec.key()) {
            Some(existing) => {
                for run in spec.runs {
                    if !existing.runs.contains(&run) {
                        existing.runs.push(run);
                    }
                }
                for note in spec.notes {
                    if !existing.notes.contains(&note) {
                        existing.notes.push(note);
                    }
                }
            }
            None => {
                merged.insert(spec.key(), spec);
            }
        }
    }
    let mut load = LoadCounts::default();
    let mut cells = Vec::with_capacity(merged.len());
    for spec in merged.into_values() {
        let mut episodes = Vec::new();
        for run in &spec.runs {
            episodes.extend(facts::load(store, run, factory, progress, &mut load)?);
        }
        cells.push(Cell::of(spec, &episodes));
    }
    Ok(assemble(sources, cells, load))
}

/// The comparisons, tallies and ablations of `cells`.
pub fn assemble(sources: Vec<String>, cells: Vec<Cell>, load: LoadCounts) -> Report {
    let baselines: BTreeMap<(String, String, String), &Cell> = cells
        .iter()
        .filter(|c| c.spec.harness == NULL_HARNESS && c.spec.variant == FULL_VARIANT)
        .map(|c| (c.spec.setting(), c))
        .collect();
    let comparisons: Vec<Comparison> = cells
        .iter()
        .filter(|c| c.spec.harness != NULL_HARNESS)
        .filter_map(|c| baselines.get(&c.spec.setting()).and_then(|b| compare(c, b)))
        .collect();
    let full: Vec<&Comparison> = comparisons
        .iter()
        .filter(|c| c.variant == FULL_VARIANT)
        .collect();
    let summary = Tally::of(full.iter().copied());
    let roles: BTreeSet<&str> = full.iter().map(|c| c.role.as_str()).collect();
    let by_role = roles
        .into_iter()
        .map(|role| {
            (
                role.to_string(),
                Tally::of(full.iter().copied().filter(|c| c.role == role)),
            )
        })
        .collect();
    let mut groups: BTreeMap<(String, String, String), Vec<&Cell>> = BTreeMap::new();
    for c in cells.iter().filter(|c| c.spec.harness != NULL_HARNESS) {
        groups
            .entry((
                c.spec.model.clone(),
                c.spec.environment.clone(),
                c.spec.harness.clone(),
            ))
            .or_default()
            .push(c);
    }
    let ablations = groups
        .into_iter()
        .filter(|(_, cells)| cells.iter().any(|c| c.spec.variant != FULL_VARIANT))
        .map(|((model, environment, harness), cells)| {
            let full_rate = cells
                .iter()
                .find(|c| c.spec.variant == FULL_VARIANT)
                .and_then(|c| c.success_rate);
            let mut variants: Vec<AblationRow> = cells
                .iter()
                .map(|c| AblationRow {
                    variant: c.spec.variant.clone(),
                    cell: c.key.clone(),
                    success_rate: c.success_rate,
                    success_ci: c.success_ci,
                    executable_rate: c.executable_rate,
                    vs_full: c.success_rate.zip(full_rate).map(|(a, b)| a - b),
                })
                .collect();
            variants.sort_by_key(|v| variant_order(&v.variant));
            AblationGroup {
                model,
                environment,
                harness,
                variants,
            }
        })
        .collect();
    let mut notes: Vec<String> = Vec::new();
    for c in &cells {
        for note in &c.spec.notes {
            if !notes.contains(note) {
                notes.push(note.clone());
            }
        }
    }
    let empty: Vec<&str> = cells
        .iter()
        .filter(|c| c.episodes == 0)
        .map(|c| c.key.as_str())
        .collect();
    if !empty.is_empty() {
        notes.push(format!(
            "{} cell(s) have no finished episode yet and are left out of every comparison: {}",
            empty.len(),
            empty.join("; ")
        ));
    }
    Report {
        sources,
        notes,
        cells,
        comparisons,
        summary,
        by_role,
        ablations,
        load,
    }
}

/// Ablation variants in the paper's order: the full harness, each layer
/// alone, each layer off.
pub const ABLATIONS: [(&str, [bool; 4]); 8] = [
    ("contract only", [true, false, false, false]),
    ("skills only", [false, true, false, false]),
    ("realization only", [false, false, true, false]),
    ("regulation only", [false, false, false, true]),
    ("no contract", [false, true, true, true]),
    ("no skills", [true, false, true, true]),
    ("no realization", [true, true, false, true]),
    ("no regulation", [true, true, true, false]),
];

/// Decoding variants (`matrix --decoding`): name, constrained, guided. The
/// harness as written is the full variant.
pub const DECODINGS: [(&str, bool, bool); 2] = [
    ("schema-only decoding", true, false),
    ("free decoding", false, false),
];

fn variant_order(variant: &str) -> usize {
    if variant == FULL_VARIANT {
        return 0;
    }
    if let Some(i) = DECODINGS.iter().position(|(name, ..)| *name == variant) {
        return i + 1;
    }
    ABLATIONS
        .iter()
        .position(|(name, _)| *name == variant)
        .map_or(usize::MAX, |i| i + 1 + DECODINGS.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    fn spec(model: &str, harness: &str, variant: &str, source: Option<&str>) -> CellSpec {
        CellSpec {
            model: model.into(),
            environment: "env".into(),
            split: "test".into(),
            harness: harness.into(),
            harness_name: harness.into(),
            harness_file: None,
            variant: variant.into(),
            source_model: source.map(str::to_string),
            notes: Vec::new(),
            runs: Vec::new(),
        }
    }

    fn episodes(solved: &[bool]) -> Vec<EpisodeFacts> {
        solved
            .iter()
            .enumerate()
            .map(|(i, s)| EpisodeFacts {
                task_id: format!("t{i}"),
                success: *s,
                exit: if *s { "success" } else { "failure" }.into(),
                reward: Some(f64::from(u8::from(*s))),
                category: (!*s).then(|| "action_realization".to_string()),
                ..EpisodeFacts::default()
            })
            .collect()
    }

    #[test]
    fn comparisons_roles_and_tallies() {
        let off = Cell::of(
            spec("m1", NULL_HARNESS, FULL_VARIANT, None),
            &episodes(&[true, false, false, false]),
        );
        let on = Cell::of(
            spec("m1", "evolved", FULL_VARIANT, Some("m1 (from runs)")),
            &episodes(&[true, true, false, false]),
        );
        let off2 = Cell::of(
            spec("m2", NULL_HARNESS, FULL_VARIANT, None),
            &episodes(&[false, false]),
        );
        let on2 = Cell::of(
            spec("m2", "evolved", FULL_VARIANT, Some("m1")),
            &episodes(&[true, false]),
        );
        let ablated = Cell::of(
            spec("m1", "evolved", "no skills", Some("m1")),
            &episodes(&[true, false, false, false]),
        );
        let report = assemble(
            vec!["x".into()],
            vec![off, on, off2, on2, ablated],
            LoadCounts::default(),
        );
        let c = report
            .comparisons
            .iter()
            .find(|c| c.model == "m1" && c.variant == FULL_VARIANT)
            .unwrap();
        assert_eq!(c.role, "source");
        assert!((c.relative.unwrap() - 1.0).abs() < 1e-12);
        assert!(c.improved);
        let t = report.comparisons.iter().find(|c| c.model == "m2").unwrap();
        assert_eq!(t.role, "transfer");
        assert!(t.relative.is_none());
        assert!(t.relative_note.as_deref().unwrap().contains("+50.0 pp"));
        assert_eq!(report.summary.settings, 2);
        assert_eq!(report.summary.improved, 2);
        assert_eq!(report.summary.zero_baseline, 1);
        assert_eq!(report.by_role["transfer"].settings, 1);
        assert_eq!(report.ablations.len(), 1);
        let rows = &report.ablations[0].variants;
        assert_eq!(rows[0].variant, FULL_VARIANT);
        assert!((rows[1].vs_full.unwrap() + 0.25).abs() < 1e-12);
        // The ablated cell is not a setting of its own.
        assert_eq!(report.comparisons.len(), 3);
        let cell = &report.cells[0];
        assert!(cell.cell_notes.iter().any(|n| n.contains("small sample")));
    }

    #[test]
    fn failure_mix_and_rates() {
        let cell = Cell::of(
            spec("m", "hand-written", FULL_VARIANT, None),
            &episodes(&[true, false, false]),
        );
        assert_eq!(cell.failure_mix["action_realization"], 2);
        assert_eq!(cell.role, "hand-written");
        assert_eq!(cell.scored, 3);
        assert!((cell.mean_reward.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(cell.pass_k.len(), 1);
    }
}
