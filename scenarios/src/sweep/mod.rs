//! Sweeps: many runs of one scenario in parallel (rayon over run indices, a chunk at a time),
//! folded in run order into an [`Aggregate`] whatever the thread count or completion order, so
//! the report is byte-identical on any number of threads and a sweep's memory does not grow with
//! its runs (only runs.csv, when asked for, keeps a compact row per run). [`sweep`] is the one
//! way to run many; `report` renders the result.
//!
//! Files: `row` (one run as the sweep keeps it), `aggregate` (the running totals), `summary`
//! (the report's content, built from the totals).

pub mod aggregate;
pub mod row;
pub mod shard;
pub mod summary;

pub use aggregate::Aggregate;
pub use row::{ChartRow, RunRow};
pub use summary::*;

use crate::model::Scenario;
use crate::runner::{self, RunOptions};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// A pool of `threads` threads (`None`: the global pool).
fn pool(threads: Option<usize>) -> Option<rayon::ThreadPool> {
    threads.and_then(|n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .ok()
    })
}

/// `f` on `pool` (the global pool when `None`).
fn install<R: Send>(pool: &Option<rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

fn par_range<T: Send>(
    range: std::ops::Range<u64>,
    f: &(dyn Fn(u64) -> T + Sync),
    done: &AtomicU64,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<T> {
    range
        .into_par_iter()
        .map(|i| {
            let r = f(i);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(n);
            r
        })
        .collect()
}

/// Runs computed in parallel before they are folded in, per thread.
const CHUNK_PER_THREAD: u64 = 64;

/// How to run a sweep.
pub struct SweepOptions<'a> {
    /// Base seed; run `i` draws from (seed, i).
    pub seed: u64,
    pub runs: u64,
    /// Threads (all cores when `None`); the report is the same for any number.
    pub threads: Option<usize>,
    /// Check SPEC 9 invariants after every engine call of every run (slow).
    pub check_invariants: bool,
    /// Keep a compact row per run for runs.csv.
    pub keep_rows: bool,
    /// The run whose findings the report lists (default: the first run that failed an
    /// expectation, else none).
    pub findings_run: Option<u64>,
    /// Called with the number of runs done so far.
    pub progress: &'a (dyn Fn(u64) + Sync),
}

impl<'a> SweepOptions<'a> {
    /// `runs` runs from `seed` on all cores, no checks, no rows, no progress.
    pub fn new(seed: u64, runs: u64) -> SweepOptions<'a> {
        SweepOptions {
            seed,
            runs,
            threads: None,
            check_invariants: false,
            keep_rows: false,
            findings_run: None,
            progress: &|_| {},
        }
    }
}

/// Runs `range` of a scenario's runs (in parallel, a chunk at a time) and hands each run's row
/// to `sink` in run order: what `sweep` folds into an aggregate, and what a shard of a sweep
/// writes to its part file.
pub fn run_range(
    sc: &Scenario,
    opts: &SweepOptions<'_>,
    range: std::ops::Range<u64>,
    sink: &mut dyn FnMut(RunRow),
) {
    let threads = opts
        .threads
        .unwrap_or_else(rayon::current_num_threads)
        .max(1) as u64;
    let chunk = threads * CHUNK_PER_THREAD;
    let done = AtomicU64::new(0);
    let one = |i: u64| {
        let o = RunOptions {
            check_invariants: opts.check_invariants,
            ..RunOptions::new(opts.seed, i)
        };
        RunRow::of(&runner::run(sc, o).metrics, i < row::CHART_RUNS)
    };
    let pool = pool(opts.threads);
    let mut start = range.start;
    while start < range.end {
        let end = range.end.min(start.saturating_add(chunk));
        for r in install(&pool, || par_range(start..end, &one, &done, opts.progress)) {
            sink(r);
        }
        start = end;
    }
}

/// Runs a scenario `opts.runs` times and aggregates the runs (in run order) into its report,
/// with the findings of the first failing run (or `opts.findings_run`) and, for small tenants,
/// the final state of run 0.
pub fn sweep(sc: &Scenario, opts: &SweepOptions<'_>) -> SweepReport {
    let mut agg = Aggregate::new(opts.keep_rows);
    run_range(sc, opts, 0..opts.runs, &mut |r| agg.add(r));
    finish(sc, opts.seed, agg, opts.findings_run)
}

/// The report of an aggregate: re-runs (deterministically) the run whose findings it lists and
/// run 0 for the embedded state.
pub fn finish(sc: &Scenario, seed: u64, agg: Aggregate, findings_run: Option<u64>) -> SweepReport {
    let runs = agg.runs;
    let findings_run = findings_run.or(agg.first_failing);
    let detailed = findings_run.map(|run| {
        let o = RunOptions {
            findings: true,
            ..RunOptions::new(seed, run)
        };
        (run, runner::run(sc, o))
    });
    let users = sc.users.len() as u64 + sc.populations.iter().map(|p| p.count).sum::<u64>();
    let first = (users as usize <= STATE_USERS_LIMIT && runs > 0).then(|| match &detailed {
        Some((0, r)) => (r.sim.state_json(), serde_json::to_value(&r.metrics).ok()),
        _ => {
            let r = runner::run(sc, RunOptions::new(seed, 0));
            (r.sim.state_json(), serde_json::to_value(&r.metrics).ok())
        }
    });
    let user_name = |u: u32| sc.user_id(u).unwrap_or_else(|| format!("#{u}"));
    let mut report = SweepReport::build(sc, seed, agg, &user_name);
    if let Some((run, r)) = detailed {
        report.set_findings(run, seed, r.metrics.findings);
    }
    if let Some((state, metrics)) = first {
        report.state = Some(state);
        report.first_run = metrics;
    }
    report
}
