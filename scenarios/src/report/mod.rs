//! Renders a [`SweepReport`] (SPEC 6): a human summary on stdout (side by side for several
//! scenarios), and report.json, report.md, runs.csv and chart.svg for `--out`. Everything is
//! produced from the typed figures of `crate::figures`; one file per output.

mod csv;
mod markdown;
mod summary;
mod svg;
mod words;

pub use summary::human_summary;

use crate::sweep::SweepReport;
use serde_json::{Value, json};

impl SweepReport {
    /// report.json (and `licsim run --format json`).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }
}
