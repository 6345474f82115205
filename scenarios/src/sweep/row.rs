//! One run as a sweep keeps it: its figures, verdict, warnings and the users in error at the
//! end (a few words a run), and, for the runs drawn in the chart, its timelines (bounded in
//! points). Everything the aggregation needs and nothing more, so a sweep's memory does not grow
//! with the tenant's events.

use crate::figures::{Figure, FigureId, is_main_family};
use crate::metrics::{ExpectationFailure, RunMetrics};
use std::collections::BTreeMap;

/// Runs drawn in the chart: the first ones of the sweep.
pub const CHART_RUNS: u64 = 500;
/// Points kept per timeline of a charted run.
const CHART_POINTS: u64 = 2_048;

/// The timelines of one run, for the chart.
#[derive(Clone, Debug, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct ChartRow {
    /// consumedUnits per SKU part number: (time ms, value) at each change.
    pub consumption: BTreeMap<String, Vec<(u64, u64)>>,
    /// Assignable units per SKU, where they changed during the run.
    pub assignable: BTreeMap<String, Vec<(u64, u64)>>,
    /// Users holding a path in error.
    pub errors: Vec<(u64, u64)>,
    /// Users without each named service family, and (key "any service") without any.
    pub without: BTreeMap<String, Vec<(u64, u64)>>,
    /// Wave starts: (label "step 5 wave 2", time ms).
    pub waves: Vec<(String, u64)>,
    /// When the plan stopped early.
    pub stopped_ms: Option<u64>,
    pub end_ms: u64,
}

/// One run, as the sweep keeps it (and as a shard of a sweep stores it for the merge).
#[derive(Clone, Debug, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct RunRow {
    pub run: u64,
    pub seed: u64,
    /// Every integer figure of the run, sorted by id.
    pub figures: Vec<Figure>,
    pub expectation_failures: Vec<ExpectationFailure>,
    pub warnings: Vec<String>,
    pub state_hash: u64,
    pub end_ms: u64,
    /// Users in error at the end (dense indices, ascending).
    pub users_in_error: Vec<u32>,
    /// Per SKU: the plan position at which it first fell short of units.
    pub short_from: BTreeMap<String, String>,
    /// Why the plan stopped early, if it did.
    pub stop_reason: Option<String>,
    /// Timelines, for the runs the chart draws.
    pub chart: Option<Box<ChartRow>>,
}

/// A step function reduced to at most about [`CHART_POINTS`] points: the last value of each of
/// that many equal slices of `0..=end`. The chart samples 240 times over the whole sweep's
/// end, so this loses nothing it draws.
fn thin(tl: &[(u64, u64)], end: u64) -> Vec<(u64, u64)> {
    if tl.len() as u64 <= CHART_POINTS {
        return tl.to_vec();
    }
    let slice = end.div_ceil(CHART_POINTS).max(1);
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(CHART_POINTS as usize + 1);
    for &(t, v) in tl {
        let b = t / slice * slice;
        match out.last_mut() {
            Some(last) if last.0 == b => last.1 = v,
            _ => out.push((b, v)),
        }
    }
    out
}

impl RunRow {
    /// The sweep's view of one run's metrics (with timelines when `chart` is set).
    pub fn of(m: &RunMetrics, chart: bool) -> RunRow {
        let end = m.end_time_ms;
        let chart = chart.then(|| {
            let mut without: BTreeMap<String, Vec<(u64, u64)>> = m
                .service
                .iter()
                .filter(|(f, s)| is_main_family(f) && !s.timeline.is_empty())
                .map(|(f, s)| (f.clone(), thin(&s.timeline, end)))
                .collect();
            if !m.service_total.timeline.is_empty() {
                without.insert("any service".into(), thin(&m.service_total.timeline, end));
            }
            Box::new(ChartRow {
                consumption: m
                    .consumption
                    .iter()
                    .map(|(k, c)| (k.clone(), thin(&c.timeline, end)))
                    .collect(),
                assignable: m
                    .consumption
                    .iter()
                    .filter(|(_, c)| !c.assignable_timeline.is_empty())
                    .map(|(k, c)| (k.clone(), thin(&c.assignable_timeline, end)))
                    .collect(),
                errors: thin(&m.errors_timeline, end),
                without,
                waves: m
                    .waves
                    .iter()
                    .map(|(k, w)| (k.clone(), w.start_ms))
                    .collect(),
                stopped_ms: m.plan_stopped_ms,
                end_ms: end,
            })
        });
        RunRow {
            run: m.run,
            seed: m.seed,
            figures: m.figures(),
            expectation_failures: m.expectation_failures.clone(),
            warnings: m.warnings.clone(),
            state_hash: m.final_state_hash,
            end_ms: end,
            users_in_error: m.users_in_error.clone(),
            short_from: m
                .consumption
                .iter()
                .filter_map(|(k, c)| c.short_from.clone().map(|s| (k.clone(), s)))
                .collect(),
            stop_reason: m
                .gate_stops
                .first()
                .map(|g| format!("step {}: {}", g.step, g.reason)),
            chart,
        }
    }

    /// The value of one figure in this run (`None` when the run did not measure it).
    pub fn figure(&self, id: &FigureId) -> Option<u64> {
        self.figures
            .binary_search_by(|f| f.id.cmp(id))
            .ok()
            .map(|i| self.figures[i].value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_short_timelines_and_the_last_value_of_each_slice() {
        let short = vec![(0, 1), (5, 2)];
        assert_eq!(thin(&short, 10), short);
        let long: Vec<(u64, u64)> = (0..10_000).map(|i| (i, i)).collect();
        let t = thin(&long, 10_000);
        assert!(t.len() as u64 <= CHART_POINTS + 1, "{}", t.len());
        assert_eq!(t.last(), Some(&(9_995, 9_999)));
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
