//! Sweeps: many runs of one scenario in parallel (rayon over run indices), results kept in run
//! order whatever the thread count or completion order; integer distributions (hdrhistogram).

use crate::metrics::RunMetrics;
use crate::model::Scenario;
use crate::report::{RunRow, SweepReport, flatten};
use hdrhistogram::Histogram;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Runs `f(run)` for `run in 0..runs` on `threads` threads (all cores when `None`) and returns
/// the results in run order. `progress` is called with the number of runs done so far.
pub fn par_runs<T, F>(
    runs: u64,
    threads: Option<usize>,
    f: F,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<T>
where
    T: Send,
    F: Fn(u64) -> T + Sync + Send,
{
    let done = AtomicU64::new(0);
    let work = || {
        (0..runs)
            .into_par_iter()
            .map(|i| {
                let r = f(i);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(n);
                r
            })
            .collect::<Vec<T>>()
    };
    match threads {
        Some(n) => match rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
        {
            Ok(pool) => pool.install(work),
            Err(_) => work(),
        },
        None => work(),
    }
}

/// Distribution of one integer figure across runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Distribution {
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    /// Sum over runs (the mean is `sum / runs`, left to the reader to keep integers exact).
    pub sum: u64,
}

impl Distribution {
    /// Builds the distribution of `values` (in run order; order does not matter for the result).
    pub fn of(values: &[u64]) -> Distribution {
        if values.is_empty() {
            return Distribution::default();
        }
        let mut h = Histogram::<u64>::new(3).expect("3 significant digits is valid");
        h.auto(true);
        let mut sum = 0u64;
        for v in values {
            // Auto-resizing histograms accept any u64 up to their highest trackable value.
            let _ = h.record(*v);
            sum = sum.saturating_add(*v);
        }
        let min = values.iter().copied().min().unwrap_or(0);
        let max = values.iter().copied().max().unwrap_or(0);
        let q = |p: f64| h.value_at_quantile(p).clamp(min, max);
        Distribution {
            min,
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            max,
            sum,
        }
    }
}

/// The report's view of one run's metrics.
pub fn row_of(m: &RunMetrics) -> RunRow {
    let figures = flatten(&serde_json::to_value(m).unwrap_or_default());
    RunRow {
        run: m.run,
        seed: m.seed,
        figures,
        expectation_failures: m.expectation_failures.clone(),
        warnings: m.warnings.clone(),
        state_hash: m.final_state_hash,
        consumption: m
            .consumption
            .iter()
            .map(|(k, c)| (k.clone(), c.timeline.clone()))
            .collect(),
        errors: m.errors_timeline.clone(),
        end_ms: m.end_time_ms,
    }
}

/// Runs `runs` runs of a scenario from `seed` (run index 0..runs) and returns them in run order.
pub fn run_rows(
    sc: &Scenario,
    seed: u64,
    runs: u64,
    threads: Option<usize>,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<RunRow> {
    run_rows_checked(sc, seed, runs, threads, false, progress)
}

/// [`run_rows`], with SPEC 9 invariants checked after every engine call when `check` is set.
pub fn run_rows_checked(
    sc: &Scenario,
    seed: u64,
    runs: u64,
    threads: Option<usize>,
    check: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<RunRow> {
    par_runs(
        runs,
        threads,
        |i| row_of(&crate::runner::run_metrics_checked(sc, seed, i, check)),
        progress,
    )
}

/// The sweep report of a scenario's runs.
pub fn report(sc: &Scenario, seed: u64, rows: Vec<RunRow>) -> SweepReport {
    let mut ids: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for s in &sc.catalog.skus {
        let assignable = sc
            .tenant
            .subscriptions
            .iter()
            .find(|(k, _)| sc.catalog.sku(*k).part_number == s.part_number)
            .map_or(0, |(_, u)| u.assignable() as u64);
        ids.insert(s.part_number.clone(), (s.guid.clone(), assignable));
    }
    let mut r = SweepReport::build(&sc.name, &sc.description, &sc.source, seed, rows, &ids);
    let users = sc.users.len() as u64 + sc.populations.iter().map(|p| p.count).sum::<u64>();
    if users as usize <= crate::report::STATE_USERS_LIMIT && r.runs > 0 {
        let (m, sim) = crate::runner::run_metrics_with(sc, seed, 0, &mut crate::runner::NoObserver);
        r.state = Some(sim.state_json());
        r.first_run = serde_json::to_value(&m).ok();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_runs_keeps_run_order_for_any_thread_count() {
        let a = par_runs(100, Some(1), |i| i * 3, &|_| {});
        let b = par_runs(100, Some(4), |i| i * 3, &|_| {});
        assert_eq!(a, b);
        assert_eq!(a[7], 21);
    }

    #[test]
    fn distributions_are_integers_within_range() {
        let d = Distribution::of(&[5, 1, 9, 3, 7]);
        assert_eq!((d.min, d.max, d.sum), (1, 9, 25));
        assert!(d.p50 >= 3 && d.p50 <= 7);
        assert_eq!(Distribution::of(&[]), Distribution::default());
        let big = Distribution::of(&[u64::MAX / 4, 1]);
        assert_eq!(big.max, u64::MAX / 4);
    }
}
