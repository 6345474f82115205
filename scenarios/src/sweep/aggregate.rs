//! The sweep's running totals: runs are folded in one at a time, in run order, so a sweep holds
//! a few rows at a time however many runs it makes; what it keeps grows with the distinct
//! figures, failure reasons and users in error, not with the runs. Folding the same rows in the
//! same order gives the same totals, whoever produced the rows.

use super::row::{ChartRow, RunRow};
use crate::figures::{FigureId, Tally};
use std::collections::BTreeMap;

/// Runs listed per failure reason.
pub const RUNS_PER_REASON: usize = 5;
/// Warnings kept (the first ones, in run order).
pub const WARNINGS_KEPT: usize = 20;

/// Runs that failed the same expectations (whatever their figures).
#[derive(Clone, Debug, Default)]
pub struct ReasonTally {
    pub runs: u64,
    /// The first runs with this reason: (run, seed, its messages).
    pub first: Vec<(u64, u64, Vec<String>)>,
}

/// One row of runs.csv, kept compactly: figures as (index into `Aggregate::csv_ids`, value).
#[derive(Clone, Debug)]
pub struct CsvRow {
    pub run: u64,
    pub seed: u64,
    pub state_hash: u64,
    pub failures: String,
    pub figures: Vec<(u32, u64)>,
}

/// Everything a sweep accumulates.
#[derive(Clone, Debug, Default)]
pub struct Aggregate {
    pub runs: u64,
    pub figures: BTreeMap<FigureId, Tally>,
    pub failing_runs: u64,
    /// By the sorted list of failed expectations.
    pub reasons: BTreeMap<Vec<String>, ReasonTally>,
    /// The lowest failing run index.
    pub first_failing: Option<u64>,
    /// User index -> runs in which it ended in error.
    pub user_runs: BTreeMap<u32, u64>,
    /// Per SKU: the first run's plan position at which it fell short of units.
    pub short_from: BTreeMap<String, String>,
    pub warnings: Vec<String>,
    /// Why plans stopped early, with the number of runs.
    pub stop_reasons: BTreeMap<String, u64>,
    /// Timelines of the first [`super::row::CHART_RUNS`] runs.
    pub chart: Vec<ChartRow>,
    /// runs.csv, when kept.
    pub csv: Option<Vec<CsvRow>>,
    pub csv_ids: Vec<FigureId>,
    csv_index: BTreeMap<FigureId, u32>,
    /// The longest run's end.
    pub end_ms: u64,
}

impl Aggregate {
    /// An empty aggregate; `keep_csv` keeps a compact row per run for runs.csv.
    pub fn new(keep_csv: bool) -> Aggregate {
        Aggregate {
            csv: keep_csv.then(Vec::new),
            ..Aggregate::default()
        }
    }

    /// Folds in the next run (runs must come in run order).
    pub fn add(&mut self, mut row: RunRow) {
        self.runs += 1;
        self.end_ms = self.end_ms.max(row.end_ms);
        for f in &row.figures {
            match self.figures.get_mut(&f.id) {
                Some(t) => t.add(f.value),
                None => {
                    let mut t = Tally::default();
                    t.add(f.value);
                    self.figures.insert(f.id.clone(), t);
                }
            }
        }
        if !row.expectation_failures.is_empty() {
            self.failing_runs += 1;
            self.first_failing.get_or_insert(row.run);
            let mut key: Vec<String> = row
                .expectation_failures
                .iter()
                .map(|f| f.expectation.clone())
                .collect();
            key.sort();
            key.dedup();
            let r = self.reasons.entry(key).or_default();
            r.runs += 1;
            if r.first.len() < RUNS_PER_REASON {
                let msgs = row
                    .expectation_failures
                    .iter()
                    .map(|f| f.message.clone())
                    .collect();
                r.first.push((row.run, row.seed, msgs));
            }
        }
        for u in &row.users_in_error {
            *self.user_runs.entry(*u).or_default() += 1;
        }
        for (sku, pos) in std::mem::take(&mut row.short_from) {
            self.short_from.entry(sku).or_insert(pos);
        }
        if let Some(r) = row.stop_reason.take() {
            *self.stop_reasons.entry(r).or_default() += 1;
        }
        for w in &row.warnings {
            if self.warnings.len() < WARNINGS_KEPT {
                self.warnings.push(format!("run {}: {w}", row.run));
            }
        }
        if let Some(c) = row.chart.take() {
            self.chart.push(*c);
        }
        if self.csv.is_some() {
            let figures: Vec<(u32, u64)> = row
                .figures
                .iter()
                .map(|f| (self.csv_id(&f.id), f.value))
                .collect();
            let failures = row
                .expectation_failures
                .iter()
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            if let Some(csv) = &mut self.csv {
                csv.push(CsvRow {
                    run: row.run,
                    seed: row.seed,
                    state_hash: row.state_hash,
                    failures,
                    figures,
                });
            }
        }
    }

    fn csv_id(&mut self, id: &FigureId) -> u32 {
        if let Some(i) = self.csv_index.get(id) {
            return *i;
        }
        let i = self.csv_ids.len() as u32;
        self.csv_ids.push(id.clone());
        self.csv_index.insert(id.clone(), i);
        i
    }
}
