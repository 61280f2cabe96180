//! The report as Markdown: the summary, every cell, comparisons (source and
//! transfer apart), ablations and the failure mix.

use std::fmt::Write;

use crate::report::{Cell, Comparison, Report, Tally};
use crate::{interval, pct, pp, relative};

fn tally_line(name: &str, t: &Tally) -> String {
    format!(
        "| {name} | {} / {} | {} | {} | {} |",
        t.improved,
        t.settings,
        t.worse,
        t.mean_relative
            .map_or("n/a".into(), |r| format!("{:+.1}%", r * 100.0)),
        t.zero_baseline
    )
}

fn per_episode(value: Option<f64>, unit: &str) -> String {
    value.map_or("-".into(), |v| format!("{v:.1}{unit}"))
}

fn mix(cell: &Cell) -> String {
    if cell.failed == 0 {
        return "-".into();
    }
    cell.failure_mix
        .iter()
        .map(|(k, n)| {
            format!(
                "{} {:.0}%",
                short(k),
                *n as f64 * 100.0 / cell.failed as f64
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The short label of a failure category.
pub(crate) fn short(category: &str) -> &str {
    match category {
        "action_realization" => "AR",
        "environment_contract" => "EC",
        "trajectory_degeneration" => "TD",
        "residual_reasoning" => "RR",
        "infrastructure" => "infra",
        other => other,
    }
}

fn comparison_row(c: &Comparison) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        c.model,
        c.environment,
        c.harness,
        pct(Some(c.off)),
        pct(Some(c.on)),
        pp(c.difference),
        c.difference_ci.map_or("-".into(), |i| format!(
            "[{:+.1}, {:+.1}]",
            i.low * 100.0,
            i.high * 100.0
        )),
        relative(c),
        c.paired_tasks
    )
}

impl Report {
    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# lifeharness evaluation report\n");
        let _ = writeln!(out, "Sources: {}\n", self.sources.join(", "));
        for note in &self.notes {
            let _ = writeln!(out, "- **Note:** {note}");
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "## Settings improved\n");
        let _ = writeln!(
            out,
            "A setting is one model x environment x harness (full layers) with a null-harness cell \
             beside it; improved means a higher success rate. The relative improvement is \
             (on - off) / off, averaged over settings whose null harness solved something.\n"
        );
        let _ = writeln!(
            out,
            "| settings | improved / total | worse | mean relative improvement | baseline 0 (left out of the mean) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        let _ = writeln!(out, "{}", tally_line("all", &self.summary));
        for (role, tally) in &self.by_role {
            let _ = writeln!(out, "{}", tally_line(role, tally));
        }
        out.push('\n');
        for (title, roles) in [
            (
                "Harness on vs off: evolved harnesses on their source model",
                &["source"][..],
            ),
            (
                "Harness on vs off: evolved harnesses transferred unchanged to other models",
                &["transfer"][..],
            ),
            (
                "Harness on vs off: hand-written and other harnesses",
                &["hand-written", "other"][..],
            ),
        ] {
            let rows: Vec<&Comparison> = self
                .comparisons
                .iter()
                .filter(|c| c.variant == crate::FULL_VARIANT && roles.contains(&c.role.as_str()))
                .collect();
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(out, "## {title}\n");
            let _ = writeln!(
                out,
                "| model | environment | harness | off | on | change | 95% CI (paired bootstrap) | relative | paired tasks |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
            for c in rows {
                let _ = writeln!(out, "{}", comparison_row(c));
            }
            out.push('\n');
        }
        let _ = writeln!(out, "## Cells\n");
        let _ = writeln!(
            out,
            "| model | environment | split | harness | variant | role | evolved from | episodes | success | 95% CI (Wilson) | pass^k | mean reward (scored) | executable | blocked | rewritten | nudged | loops | overflows | failure mix | tokens/ep | wall s/ep |"
        );
        let _ = writeln!(
            out,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for c in &self.cells {
            let pass_k = if c.pass_k.len() > 1 {
                c.pass_k
                    .iter()
                    .map(|(k, v)| format!("^{k} {:.2}", v))
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                "-".into()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.spec.model,
                c.spec.environment,
                c.spec.split,
                c.spec.harness,
                c.spec.variant,
                c.role,
                c.spec.source_model.as_deref().unwrap_or("-"),
                c.episodes,
                c.successes,
                pct(c.success_rate),
                interval(c.success_ci),
                pass_k,
                c.mean_reward
                    .map_or("-".into(), |m| format!("{m:.3} ({})", c.scored)),
                pct(c.executable_rate),
                c.actions.blocked,
                c.actions.rewritten,
                c.nudged,
                c.loops_stopped,
                c.context_overflows,
                mix(c),
                per_episode(c.tokens_per_episode, ""),
                per_episode(c.wall_s_per_episode, ""),
            );
        }
        out.push('\n');
        let cell_notes: Vec<String> = self
            .cells
            .iter()
            .flat_map(|c| c.cell_notes.iter().map(move |n| format!("{}: {n}", c.key)))
            .filter(|n| n.contains("small sample"))
            .collect();
        if !cell_notes.is_empty() {
            let _ = writeln!(out, "Sample sizes:\n");
            for n in cell_notes {
                let _ = writeln!(out, "- {n}");
            }
            out.push('\n');
        }
        if !self.ablations.is_empty() {
            let _ = writeln!(out, "## Layer ablations\n");
            for g in &self.ablations {
                let _ = writeln!(
                    out,
                    "### {} on {} ({})\n",
                    g.harness, g.environment, g.model
                );
                let _ = writeln!(out, "| variant | success | 95% CI | vs full | executable |");
                let _ = writeln!(out, "|---|---|---|---|---|");
                for v in &g.variants {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} |",
                        v.variant,
                        pct(v.success_rate),
                        interval(v.success_ci),
                        v.vs_full.map_or("-".into(), pp),
                        pct(v.executable_rate)
                    );
                }
                out.push('\n');
            }
        }
        let _ = writeln!(
            out,
            "Failure mix: AR action realization, EC environment contract, TD trajectory \
             degeneration, RR residual reasoning, infra backend/environment failures (shares of \
             failed episodes, from `lifeharness diagnose`)."
        );
        let _ = writeln!(
            out,
            "\nEpisode facts: {} read from the cache, {} computed now, {} unfinished left out.",
            self.load.cached, self.load.computed, self.load.unfinished
        );
        out
    }
}
