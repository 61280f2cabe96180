//! The report as one self-contained HTML page: inline CSS and SVG, no
//! script, nothing fetched. A heatmap of relative improvement (models x
//! environment and harness), grouped bars of success with and without each
//! harness with Wilson intervals, stacked failure-mix bars, and the tables
//! of the Markdown report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::markdown::short;
use crate::report::{Cell, Comparison, FULL_VARIANT, NULL_HARNESS, Report};
use crate::{interval, pct, pp, relative};

/// Escapes text for HTML (element content and attribute values).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A model spec short enough for a chart label: a path keeps its file
/// name only, and anything longer than 34 characters is cut with an ellipsis.
fn display_model(spec: &str) -> String {
    let short = match spec.split_once(':') {
        Some((backend, rest)) if rest.contains('/') => {
            format!("{backend}:{}", rest.rsplit('/').next().unwrap_or(rest))
        }
        _ => spec.to_string(),
    };
    if short.chars().count() > 34 {
        let cut: String = short.chars().take(33).collect();
        format!("{cut}\u{2026}")
    } else {
        short
    }
}

const HARNESS_COLOURS: [&str; 6] = [
    "#4c78a8", "#59a14f", "#f28e2b", "#b07aa1", "#e15759", "#76b7b2",
];

fn harness_colour(harness: &str, others: &[String]) -> &'static str {
    match harness {
        NULL_HARNESS => "#9e9e9e",
        "hand-written" => HARNESS_COLOURS[0],
        "evolved" => HARNESS_COLOURS[1],
        other => {
            let i = others.iter().position(|o| o == other).unwrap_or(0);
            HARNESS_COLOURS[2 + i % (HARNESS_COLOURS.len() - 2)]
        }
    }
}

fn category_colour(category: &str) -> &'static str {
    match category {
        "action_realization" => "#e15759",
        "environment_contract" => "#f28e2b",
        "trajectory_degeneration" => "#edc948",
        "residual_reasoning" => "#76b7b2",
        "infrastructure" => "#9e9e9e",
        _ => "#bab0ac",
    }
}

const CATEGORIES: [&str; 6] = [
    "action_realization",
    "environment_contract",
    "trajectory_degeneration",
    "residual_reasoning",
    "infrastructure",
    "unlabelled",
];

/// Red (worse) through white to green (better), for a value in [-1, 1].
fn diverging(v: f64) -> String {
    let v = v.clamp(-1.0, 1.0);
    let (r, g, b) = if v >= 0.0 {
        (
            255.0 - v * (255.0 - 46.0),
            255.0 - v * (255.0 - 160.0),
            255.0 - v * (255.0 - 67.0),
        )
    } else {
        let v = -v;
        (
            255.0 - v * (255.0 - 214.0),
            255.0 - v * (255.0 - 39.0),
            255.0 - v * (255.0 - 40.0),
        )
    };
    format!("rgb({:.0},{:.0},{:.0})", r, g, b)
}

fn heatmap(report: &Report) -> String {
    let full: Vec<&Comparison> = report
        .comparisons
        .iter()
        .filter(|c| c.variant == FULL_VARIANT)
        .collect();
    if full.is_empty() {
        return "<p class=\"muted\">No harness cell has a null-harness cell beside it: nothing to compare.</p>".into();
    }
    let models: Vec<String> = full
        .iter()
        .map(|c| c.model.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let columns: Vec<(String, String)> = full
        .iter()
        .map(|c| (c.environment.clone(), c.harness.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (label_w, cell_w, cell_h, head_h) = (230.0, 112.0, 38.0, 64.0);
    let width = label_w + cell_w * columns.len() as f64 + 10.0;
    let height = head_h + cell_h * models.len() as f64 + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"Relative improvement heatmap\">"
    );
    for (j, (env, harness)) in columns.iter().enumerate() {
        let x = label_w + cell_w * j as f64 + cell_w / 2.0;
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"24\" text-anchor=\"middle\" class=\"axis\">{}</text><text x=\"{x:.1}\" y=\"42\" text-anchor=\"middle\" class=\"axis muted\">{}</text>",
            esc(env),
            esc(harness)
        );
    }
    for (i, model) in models.iter().enumerate() {
        let y = head_h + cell_h * i as f64;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"axis\">{}</text>",
            label_w - 8.0,
            y + cell_h / 2.0 + 4.0,
            esc(&display_model(model))
        );
        for (j, (env, harness)) in columns.iter().enumerate() {
            let x = label_w + cell_w * j as f64;
            let Some(c) = full
                .iter()
                .find(|c| &c.model == model && &c.environment == env && &c.harness == harness)
            else {
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#f4f4f4\" stroke=\"#fff\"/>",
                    cell_w, cell_h
                );
                continue;
            };
            let (value, label) = match c.relative {
                Some(r) => (r, format!("{:+.0}%", r * 100.0)),
                None => (
                    c.difference.signum() * f64::from(u8::from(c.difference != 0.0)),
                    format!("{}*", pp(c.difference)),
                ),
            };
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cell_w:.1}\" height=\"{cell_h:.1}\" fill=\"{}\" stroke=\"#fff\"><title>{}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"value\">{}</text>",
                diverging(value),
                esc(&format!(
                    "{model} on {env} with {harness}: off {} on {} ({})",
                    pct(Some(c.off)),
                    pct(Some(c.on)),
                    relative(c)
                )),
                x + cell_w / 2.0,
                y + cell_h / 2.0 + 4.0,
                esc(&label)
            );
        }
    }
    svg.push_str("</svg>");
    svg.push_str("<p class=\"muted\">Colour: relative improvement (on - off) / off, clipped to &plusmn;100%. * the null harness solved nothing: the label is the absolute change in percentage points and the colour its sign.</p>");
    svg
}

fn bars(report: &Report) -> String {
    let full: Vec<&Cell> = report
        .cells
        .iter()
        .filter(|c| c.spec.variant == FULL_VARIANT)
        .collect();
    let others: Vec<String> = full
        .iter()
        .map(|c| c.spec.harness.clone())
        .filter(|h| !matches!(h.as_str(), NULL_HARNESS | "hand-written" | "evolved"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut by_env: BTreeMap<&str, BTreeMap<&str, Vec<&Cell>>> = BTreeMap::new();
    for c in &full {
        by_env
            .entry(c.spec.environment.as_str())
            .or_default()
            .entry(c.spec.model.as_str())
            .or_default()
            .push(c);
    }
    let mut out = String::new();
    for (env, models) in by_env {
        let (bar_w, plot_h, top, left, bottom) = (34.0, 180.0, 16.0, 44.0, 58.0);
        // Each group is wide enough for its model's label.
        let group_widths: Vec<f64> = models
            .iter()
            .map(|(model, cells)| {
                (bar_w * cells.len() as f64 + 30.0)
                    .max(7.0 * display_model(model).len() as f64 + 16.0)
            })
            .collect();
        let width = (left + group_widths.iter().sum::<f64>() + 10.0).max(520.0);
        let height = top + plot_h + bottom;
        let _ = write!(
            out,
            "<figure><figcaption>{}: success rate per harness, 95% Wilson intervals</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"Success per harness on {}\">",
            esc(env),
            esc(env)
        );
        for tick in 0..=4 {
            let v = f64::from(tick) * 0.25;
            let y = top + plot_h * (1.0 - v);
            let _ = write!(
                out,
                "<line x1=\"{left:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"grid\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"axis\">{:.0}%</text>",
                width - 10.0,
                left - 6.0,
                y + 4.0,
                v * 100.0
            );
        }
        let mut group_left = left;
        for ((model, cells), group_w) in models.iter().zip(&group_widths) {
            let mut cells = cells.clone();
            cells.sort_by_key(|c| harness_rank(&c.spec.harness));
            let mut x = group_left + (group_w - bar_w * cells.len() as f64) / 2.0;
            for c in &cells {
                let rate = c.success_rate.unwrap_or(0.0);
                let h = plot_h * rate;
                let _ = write!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}</title></rect>",
                    top + plot_h - h,
                    bar_w - 3.0,
                    harness_colour(&c.spec.harness, &others),
                    esc(&format!(
                        "{model}, {}: {} of {} ({}), 95% CI {}",
                        c.spec.harness,
                        c.successes,
                        c.episodes,
                        pct(c.success_rate),
                        interval(c.success_ci)
                    ))
                );
                if let Some(ci) = c.success_ci {
                    let cx = x + (bar_w - 3.0) / 2.0;
                    let (y1, y2) = (
                        top + plot_h * (1.0 - ci.high),
                        top + plot_h * (1.0 - ci.low),
                    );
                    let _ = write!(
                        out,
                        "<line x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{y1:.1}\" y2=\"{y2:.1}\" class=\"whisker\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y1:.1}\" y2=\"{y1:.1}\" class=\"whisker\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y2:.1}\" y2=\"{y2:.1}\" class=\"whisker\"/>",
                        cx - 4.0,
                        cx + 4.0,
                        cx - 4.0,
                        cx + 4.0
                    );
                }
                x += bar_w;
            }
            let centre = group_left + group_w / 2.0;
            let _ = write!(
                out,
                "<text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"axis\">{}</text>",
                top + plot_h + 18.0,
                esc(&display_model(model))
            );
            group_left += group_w;
        }
        // The legend: every harness in this environment.
        let harnesses: BTreeSet<&str> = models
            .values()
            .flatten()
            .map(|c| c.spec.harness.as_str())
            .collect();
        let mut harnesses: Vec<&str> = harnesses.into_iter().collect();
        harnesses.sort_by_key(|h| harness_rank(h));
        let mut lx = left;
        for h in harnesses {
            let _ = write!(
                out,
                "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\">{}</text>",
                top + plot_h + 32.0,
                harness_colour(h, &others),
                lx + 16.0,
                top + plot_h + 42.0,
                esc(h)
            );
            lx += 24.0 + 7.5 * h.len() as f64;
        }
        out.push_str("</svg></figure>");
    }
    out
}

fn harness_rank(harness: &str) -> (u8, String) {
    let rank = match harness {
        NULL_HARNESS => 0,
        "hand-written" => 1,
        "evolved" => 2,
        _ => 3,
    };
    (rank, harness.to_string())
}

fn failure_mix(report: &Report) -> String {
    let mut rows: Vec<&Cell> = report
        .cells
        .iter()
        .filter(|c| c.spec.variant == FULL_VARIANT && c.failed > 0)
        .collect();
    if rows.is_empty() {
        return "<p class=\"muted\">No failed episode.</p>".into();
    }
    rows.sort_by_key(|c| {
        (
            c.spec.environment.clone(),
            c.spec.model.clone(),
            harness_rank(&c.spec.harness),
        )
    });
    let label = |c: &Cell| {
        format!(
            "{} · {} · {} ({} failed)",
            c.spec.environment,
            display_model(&c.spec.model),
            c.spec.harness,
            c.failed
        )
    };
    // Wide enough for the longest label (about 6.6 px per character at 11.5 px).
    let longest = rows
        .iter()
        .map(|c| label(c).chars().count())
        .max()
        .unwrap_or(0);
    let label_w = (longest as f64 * 6.6 + 16.0).max(200.0);
    let (bar_w, row_h, top) = (420.0, 24.0, 8.0);
    let legend_h = 30.0;
    let width = label_w + bar_w + 20.0;
    let height = top + row_h * rows.len() as f64 + legend_h;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"Failure mix per cell\">"
    );
    for (i, c) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"axis\">{}</text>",
            label_w - 8.0,
            y + 15.0,
            esc(&label(c))
        );
        let mut x = label_w;
        for category in CATEGORIES {
            let n = c.failure_mix.get(category).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let w = bar_w * n as f64 / c.failed as f64;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>",
                y + 2.0,
                row_h - 6.0,
                category_colour(category),
                esc(&format!(
                    "{category}: {n} of {} ({:.0}%)",
                    c.failed,
                    n as f64 * 100.0 / c.failed as f64
                ))
            );
            if w > 34.0 {
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"inbar\">{}</text>",
                    x + w / 2.0,
                    y + 15.0,
                    short(category)
                );
            }
            x += w;
        }
    }
    let mut lx = label_w;
    let ly = top + row_h * rows.len() as f64 + 10.0;
    for category in CATEGORIES {
        let _ = write!(
            svg,
            "<rect x=\"{lx:.1}\" y=\"{ly:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\">{}</text>",
            category_colour(category),
            lx + 16.0,
            ly + 10.0,
            short(category)
        );
        lx += 24.0 + 8.0 * short(category).len() as f64;
    }
    svg.push_str("</svg>");
    svg
}

fn table(head: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(&cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1320px;color:#222;padding:0 16px}\
h1{font-size:24px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px}\
table{border-collapse:collapse;font-size:12.5px;margin:8px 0;display:block;overflow-x:auto}\
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;white-space:nowrap}th{background:#f4f6f8}\
tbody tr:nth-child(even){background:#fafafa}.muted{color:#777;font-size:12.5px}\
.note{background:#fff8e1;border-left:4px solid #f2b600;padding:6px 10px;margin:6px 0;font-size:13.5px}\
.tally{font-size:15px}.tally b{font-size:20px}\
svg .axis{font-size:11.5px;fill:#333}svg .muted{fill:#777}svg .value{font-size:13px;font-weight:600;fill:#111}\
svg .inbar{font-size:10.5px;fill:#fff;font-weight:600}svg .grid{stroke:#e5e5e5}svg .whisker{stroke:#222;stroke-width:1.2}\
figure{margin:12px 0 22px}figcaption{font-size:13.5px;font-weight:600;margin-bottom:4px}";

impl Report {
    /// The report as one self-contained HTML page.
    pub fn html(&self) -> String {
        let mut out = String::from(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>lifeharness evaluation report</title>",
        );
        let _ = write!(out, "<style>{STYLE}</style></head><body>");
        out.push_str("<h1>lifeharness evaluation report</h1>");
        let _ = write!(
            out,
            "<p class=\"muted\">Sources: {}. {} cells, {} finished episodes.</p>",
            esc(&self.sources.join(", ")),
            self.cells.len(),
            self.cells.iter().map(|c| c.episodes).sum::<usize>()
        );
        for note in &self.notes {
            let _ = write!(out, "<div class=\"note\">{}</div>", esc(note));
        }
        let s = &self.summary;
        let _ = write!(
            out,
            "<p class=\"tally\"><b>{} / {}</b> settings improved ({} worse); mean relative improvement {} over the {} settings whose null harness solved something; mean change {}.</p>",
            s.improved,
            s.settings,
            s.worse,
            s.mean_relative
                .map_or("n/a".into(), |r| format!("{:+.1}%", r * 100.0)),
            s.settings - s.zero_baseline,
            s.mean_difference.map_or("n/a".into(), pp)
        );
        let tally_rows = self
            .by_role
            .iter()
            .map(|(role, t)| {
                vec![
                    role.clone(),
                    format!("{} / {}", t.improved, t.settings),
                    t.worse.to_string(),
                    t.mean_relative
                        .map_or("n/a".into(), |r| format!("{:+.1}%", r * 100.0)),
                    t.mean_difference.map_or("n/a".into(), pp),
                    t.zero_baseline.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "role",
                "improved / settings",
                "worse",
                "mean relative improvement",
                "mean change",
                "null harness at 0",
            ],
            tally_rows,
        ));
        out.push_str("<p class=\"muted\">source: an evolved harness on the model whose trajectories it was evolved from; transfer: the same harness frozen on another model. They are counted apart.</p>");
        out.push_str("<h2>Relative improvement over the null harness</h2>");
        out.push_str(&heatmap(self));
        out.push_str("<h2>Success with and without each harness</h2>");
        out.push_str(&bars(self));
        out.push_str("<h2>Failure mix (shares of failed episodes)</h2>");
        out.push_str(&failure_mix(self));
        out.push_str("<p class=\"muted\">AR action realization, EC environment contract, TD trajectory degeneration, RR residual reasoning, infra backend or environment failures; from lifeharness diagnose.</p>");
        for (title, roles) in [
            (
                "On vs off: evolved harnesses on their source model",
                &["source"][..],
            ),
            (
                "On vs off: evolved harnesses transferred to other models",
                &["transfer"][..],
            ),
            (
                "On vs off: hand-written and other harnesses",
                &["hand-written", "other"][..],
            ),
        ] {
            let rows: Vec<Vec<String>> = self
                .comparisons
                .iter()
                .filter(|c| c.variant == FULL_VARIANT && roles.contains(&c.role.as_str()))
                .map(|c| {
                    vec![
                        c.model.clone(),
                        c.environment.clone(),
                        c.harness.clone(),
                        pct(Some(c.off)),
                        pct(Some(c.on)),
                        pp(c.difference),
                        c.difference_ci.map_or("-".into(), |i| {
                            format!("[{:+.1}, {:+.1}]", i.low * 100.0, i.high * 100.0)
                        }),
                        relative(c),
                        c.paired_tasks.to_string(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            let _ = write!(out, "<h2>{}</h2>", esc(title));
            out.push_str(&table(
                &[
                    "model",
                    "environment",
                    "harness",
                    "off",
                    "on",
                    "change",
                    "95% CI (paired bootstrap over tasks)",
                    "relative",
                    "paired tasks",
                ],
                rows,
            ));
        }
        out.push_str("<h2>Cells</h2>");
        let rows = self
            .cells
            .iter()
            .map(|c| {
                vec![
                    c.spec.model.clone(),
                    c.spec.environment.clone(),
                    c.spec.split.clone(),
                    c.spec.harness.clone(),
                    c.spec.variant.clone(),
                    c.role.clone(),
                    c.spec.source_model.clone().unwrap_or_else(|| "-".into()),
                    c.episodes.to_string(),
                    format!("{} ({})", c.successes, pct(c.success_rate)),
                    interval(c.success_ci),
                    if c.pass_k.len() > 1 {
                        c.pass_k
                            .iter()
                            .map(|(k, v)| format!("^{k} {v:.2}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    } else {
                        "-".into()
                    },
                    c.mean_reward
                        .map_or("-".into(), |m| format!("{m:.3} over {}", c.scored)),
                    pct(c.executable_rate),
                    c.actions.blocked.to_string(),
                    c.actions.rewritten.to_string(),
                    c.nudged.to_string(),
                    c.loops_stopped.to_string(),
                    c.context_overflows.to_string(),
                    c.tokens_per_episode
                        .map_or("-".into(), |t| format!("{t:.0}")),
                    c.wall_s_per_episode
                        .map_or("-".into(), |t| format!("{t:.1}")),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "model",
                "environment",
                "split",
                "harness",
                "variant",
                "role",
                "evolved from",
                "episodes",
                "success",
                "95% CI (Wilson)",
                "pass^k",
                "mean reward",
                "executable",
                "blocked",
                "rewritten",
                "nudged",
                "loops",
                "overflows",
                "tokens/episode",
                "wall s/episode",
            ],
            rows,
        ));
        if !self.ablations.is_empty() {
            out.push_str("<h2>Layer ablations</h2>");
            for g in &self.ablations {
                let _ = write!(
                    out,
                    "<h3>{} on {} ({})</h3>",
                    esc(&g.harness),
                    esc(&g.environment),
                    esc(&g.model)
                );
                let rows = g
                    .variants
                    .iter()
                    .map(|v| {
                        vec![
                            v.variant.clone(),
                            pct(v.success_rate),
                            interval(v.success_ci),
                            v.vs_full.map_or("-".into(), pp),
                            pct(v.executable_rate),
                        ]
                    })
                    .collect();
                out.push_str(&table(
                    &["variant", "success", "95% CI", "vs full", "executable"],
                    rows,
                ));
            }
        }
        let small: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| c.cell_notes.iter().any(|n| n.contains("small sample")))
            .collect();
        if let Some(fewest) = small.iter().map(|c| c.tasks).min() {
            let _ = write!(
                out,
                "<p class=\"muted\">Small samples: {} of {} cells have under 30 tasks (the fewest {}); read the intervals, not the point estimates.</p>",
                small.len(),
                self.cells.len(),
                fewest
            );
        }
        let _ = write!(
            out,
            "<p class=\"muted\">Episode facts: {} from the cache, {} computed now, {} unfinished left out. Generated by lifeharness report.</p></body></html>",
            self.load.cached, self.load.computed, self.load.unfinished
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_labels_are_short() {
        assert_eq!(
            display_model("scripted:/a/b/toy-script.json"),
            "scripted:toy-script.json"
        );
        assert_eq!(
            display_model("embedded:smollm2-135m"),
            "embedded:smollm2-135m"
        );
        assert_eq!(display_model(&"x".repeat(50)).chars().count(), 34);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn colours_run_from_red_to_green() {
        assert_eq!(diverging(0.0), "rgb(255,255,255)");
        assert_eq!(diverging(1.0), "rgb(46,160,67)");
        assert_eq!(diverging(-3.0), "rgb(214,39,40)");
    }
}
