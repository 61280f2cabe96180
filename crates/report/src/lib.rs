//! Evaluation reports: every (model, environment, harness, layer variant)
//! cell of a matrix or a set of runs with the paper's statistics, as JSON
//! for machines, Markdown, and one self-contained HTML page with inline SVG
//! charts (no script, no network).
//!
//! * [`facts`]: what a report needs of one episode (outcome, actions,
//!   interventions, tokens, time, diagnosed failure category), computed
//!   once and cached in the store.
//! * [`stats`]: Wilson intervals, tau2's pass^k, the paired bootstrap.
//! * [`report`](mod@report): cells, comparisons with the null harness,
//!   settings improved (overall and per role: source, transfer,
//!   hand-written), ablations.
//! * [`markdown`] and [`html`]: the renderings.

pub mod facts;
pub mod html;
pub mod markdown;
pub mod report;
pub mod stats;

pub use facts::{EpisodeFacts, FACTS_VERSION, LoadCounts};
pub use report::{
    ABLATIONS, AblationGroup, Cell, CellSpec, Comparison, DECODINGS, FULL_VARIANT, NULL_HARNESS,
    Report, Tally, assemble, build,
};

/// A report failure.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] lifeharness_store::StoreError),
    /// Something recorded could not be read.
    #[error("{0}")]
    Input(String),
}

/// Formats a rate as a percentage with one decimal, `-` when absent.
pub(crate) fn pct(rate: Option<f64>) -> String {
    rate.map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}

/// Formats an interval of rates, `-` when absent.
pub(crate) fn interval(ci: Option<stats::Interval>) -> String {
    ci.map_or("-".into(), |i| {
        format!("[{:.1}, {:.1}]", i.low * 100.0, i.high * 100.0)
    })
}

/// A signed change in percentage points.
pub(crate) fn pp(difference: f64) -> String {
    format!("{:+.1} pp", difference * 100.0)
}

/// The relative improvement, or what stands in for it.
pub(crate) fn relative(c: &Comparison) -> String {
    match c.relative {
        Some(r) => format!("{:+.1}%", r * 100.0),
        None => format!("n/a (off = 0; {})", pp(c.difference)),
    }
}
