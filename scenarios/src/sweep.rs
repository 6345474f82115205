//! Sweeps: many runs of one scenario in parallel (rayon over run indices), results kept in run
//! order whatever the thread count or completion order, and aggregated into a [`SweepReport`]:
//! every per-run figure becomes a distribution (min, p50, p90, p99, max), the share of runs that
//! failed an expectation, each failing run with the command that reproduces it. [`sweep`] is the
//! one way to run many; `report` renders the result.

use crate::figures::{Distribution, Figure, FigureId, SkuField};
use crate::metrics::RunMetrics;
use crate::model::Scenario;
use crate::runner::{self, RunOptions};
use rayon::prelude::*;
use serde::{Serialize, Serializer};
use serde_json::Value;
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

/// One run, as the sweep keeps it.
#[derive(Clone, Debug, Default)]
pub struct RunRow {
    pub run: u64,
    pub seed: u64,
    /// Every integer figure of the run, sorted by id.
    pub figures: Vec<Figure>,
    pub expectation_failures: Vec<String>,
    pub warnings: Vec<String>,
    pub state_hash: u64,
    /// Consumption per SKU part number: (time ms, consumed) at each change.
    pub consumption: BTreeMap<String, Vec<(u64, u64)>>,
    /// Users holding a path in error over time.
    pub errors: Vec<(u64, u64)>,
    pub end_ms: u64,
}

impl RunRow {
    /// The sweep's view of one run's metrics.
    pub fn of(m: &RunMetrics) -> RunRow {
        RunRow {
            run: m.run,
            seed: m.seed,
            figures: m.figures(),
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

    /// The value of one figure in this run (`None` when the run did not measure it).
    pub fn figure(&self, id: &FigureId) -> Option<u64> {
        self.figures
            .binary_search_by(|f| f.id.cmp(id))
            .ok()
            .map(|i| self.figures[i].value)
    }
}

/// How to run a sweep.
pub struct SweepOptions<'a> {
    /// Base seed; run `i` draws from (seed, i).
    pub seed: u64,
    pub runs: u64,
    /// Threads (all cores when `None`); the report is the same for any number.
    pub threads: Option<usize>,
    /// Check SPEC 9 invariants after every engine call of every run (slow).
    pub check_invariants: bool,
    /// Called with the number of runs done so far.
    pub progress: &'a (dyn Fn(u64) + Sync),
}

impl<'a> SweepOptions<'a> {
    /// `runs` runs from `seed` on all cores, no checks, no progress.
    pub fn new(seed: u64, runs: u64) -> SweepOptions<'a> {
        SweepOptions {
            seed,
            runs,
            threads: None,
            check_invariants: false,
            progress: &|_| {},
        }
    }
}

/// Runs a scenario `opts.runs` times and aggregates the runs (in run order) into its report.
pub fn sweep(sc: &Scenario, opts: &SweepOptions<'_>) -> SweepReport {
    let rows = par_runs(
        opts.runs,
        opts.threads,
        |i| {
            let o = RunOptions {
                check_invariants: opts.check_invariants,
                ..RunOptions::new(opts.seed, i)
            };
            RunRow::of(&runner::run(sc, o).metrics)
        },
        opts.progress,
    );
    let mut r = SweepReport::build(sc, opts.seed, rows);
    let users = sc.users.len() as u64 + sc.populations.iter().map(|p| p.count).sum::<u64>();
    if users as usize <= STATE_USERS_LIMIT && r.runs > 0 {
        let first = runner::run(sc, RunOptions::new(opts.seed, 0));
        r.state = Some(first.sim.state_json());
        r.first_run = serde_json::to_value(&first.metrics).ok();
    }
    r
}

#[derive(Clone, Debug, Serialize)]
pub struct FailedRun {
    pub run: u64,
    pub seed: u64,
    pub failures: Vec<String>,
    /// The `licsim record` command that reproduces the run.
    pub replay: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SkuSummary {
    #[serde(rename = "skuId")]
    pub sku_id: String,
    #[serde(rename = "skuPartNumber")]
    pub sku_part_number: String,
    pub assignable_units: u64,
    pub peak: Distribution,
    #[serde(rename = "final")]
    pub final_: Distribution,
    pub shortfall: Distribution,
}

/// Figures serialize as a map from their names, in id order.
fn by_name<S: Serializer>(
    figures: &BTreeMap<FigureId, Distribution>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(figures.iter().map(|(id, d)| (id.name(), d)))
}

/// A scenario's runs, aggregated; `report` renders it.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub scenario: String,
    pub description: String,
    pub source: String,
    pub seed: u64,
    pub runs: u64,
    pub runs_failing_expectations: u64,
    /// Runs failing an expectation, per mille of runs (integer).
    pub expectation_failure_permille: u64,
    pub skus: Vec<SkuSummary>,
    #[serde(serialize_with = "by_name")]
    pub figures: BTreeMap<FigureId, Distribution>,
    pub failed_runs: Vec<FailedRun>,
    pub warnings: Vec<String>,
    /// The final state of the first run, in Graph's shape (SPEC 8); left out above
    /// [`STATE_USERS_LIMIT`] users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// The first run's metrics in full (failures by kind, wave and SKU, consumption timelines,
    /// loss of service per family, ...); the distributions above cover all runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_run: Option<Value>,
    #[serde(skip)]
    pub rows: Vec<RunRow>,
}

/// Largest tenant whose final state is embedded in report.json.
pub const STATE_USERS_LIMIT: usize = 10_000;

impl SweepReport {
    /// Aggregates runs (given in run order) of a scenario from base seed `seed`.
    pub fn build(sc: &Scenario, seed: u64, rows: Vec<RunRow>) -> SweepReport {
        let mut figures: BTreeMap<FigureId, Distribution> = BTreeMap::new();
        let mut ids: Vec<&FigureId> = rows
            .iter()
            .flat_map(|r| r.figures.iter().map(|f| &f.id))
            .collect();
        ids.sort();
        ids.dedup();
        let column = |id: &FigureId| -> Vec<u64> {
            rows.iter().map(|r| r.figure(id).unwrap_or(0)).collect()
        };
        for id in ids {
            figures.insert(id.clone(), Distribution::of(&column(id)));
        }
        let (scenario, source) = (&sc.name, &sc.source);
        let failed_runs: Vec<FailedRun> = rows
            .iter()
            .filter(|r| !r.expectation_failures.is_empty())
            .map(|r| FailedRun {
                run: r.run,
                seed: r.seed,
                failures: r.expectation_failures.clone(),
                replay: format!(
                    "licsim record {source} --seed {} --run {} -o {scenario}-run{}.simlog",
                    r.seed, r.run, r.run
                ),
            })
            .collect();
        let mut sku_names: Vec<&String> = rows.iter().flat_map(|r| r.consumption.keys()).collect();
        sku_names.sort();
        sku_names.dedup();
        let mut skus = Vec::new();
        for part in sku_names {
            let id = |field| FigureId::Consumption {
                sku: part.clone(),
                field,
            };
            let col = |field| Distribution::of(&column(&id(field)));
            let sku = sc.catalog.sku_by_name(part);
            // Assignable units at the end of the runs (purchases change it), else at the start.
            let initial = sku
                .and_then(|k| sc.tenant.subscriptions.iter().find(|(s, _)| *s == k))
                .map_or(0, |(_, u)| u.assignable() as u64);
            let assignable = rows
                .iter()
                .filter_map(|r| r.figure(&id(SkuField::Assignable)))
                .max()
                .unwrap_or(initial);
            skus.push(SkuSummary {
                sku_id: sku
                    .map(|k| sc.catalog.sku(k).guid.clone())
                    .unwrap_or_default(),
                sku_part_number: part.clone(),
                assignable_units: assignable,
                peak: col(SkuField::Peak),
                final_: col(SkuField::Final),
                shortfall: col(SkuField::Shortfall),
            });
        }
        let warnings: Vec<String> = rows
            .iter()
            .flat_map(|r| {
                r.warnings
                    .iter()
                    .map(move |w| format!("run {}: {w}", r.run))
            })
            .take(20)
            .collect();
        let runs = rows.len() as u64;
        SweepReport {
            scenario: scenario.clone(),
            description: sc.description.clone(),
            source: source.clone(),
            seed,
            runs,
            runs_failing_expectations: failed_runs.len() as u64,
            expectation_failure_permille: (failed_runs.len() as u64 * 1000)
                .checked_div(runs)
                .unwrap_or(0),
            skus,
            figures,
            failed_runs,
            warnings,
            state: None,
            first_run: None,
            rows,
        }
    }

    /// The distribution of one figure across the runs.
    pub fn figure(&self, id: &FigureId) -> Option<&Distribution> {
        self.figures.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::figures::FigureId::*;
    use engine::catalog::{Catalog, RulesProfile};

    fn row(run: u64, errs: u64, fail: bool) -> RunRow {
        let c = |field| Consumption {
            sku: "ENTERPRISEPACK".into(),
            field,
        };
        let mut figures = vec![
            Figure {
                id: FailuresByKind("CountViolation".into()),
                value: errs,
            },
            Figure {
                id: c(SkuField::Final),
                value: 10,
            },
            Figure {
                id: c(SkuField::Peak),
                value: 10 + run,
            },
        ];
        figures.sort_by(|a, b| a.id.cmp(&b.id));
        RunRow {
            run,
            seed: 1,
            figures,
            expectation_failures: if fail { vec!["x".into()] } else { vec![] },
            consumption: [("ENTERPRISEPACK".to_string(), vec![(0, 10 + run)])]
                .into_iter()
                .collect(),
            end_ms: 1000,
            ..RunRow::default()
        }
    }

    #[test]
    fn report_aggregates_in_run_order_and_lists_failed_runs() {
        let cat = std::sync::Arc::new(Catalog::builtin(RulesProfile::Current));
        let sc = Scenario::new("s", cat);
        let r = SweepReport::build(&sc, 1, vec![row(0, 0, false), row(1, 4, true)]);
        assert_eq!(r.runs_failing_expectations, 1);
        assert_eq!(r.expectation_failure_permille, 500);
        assert_eq!(
            r.failed_runs[0].replay,
            "licsim record s.toml --seed 1 --run 1 -o s-run1.simlog"
        );
        assert_eq!(r.figures[&FailuresByKind("CountViolation".into())].max, 4);
        assert_eq!(r.skus[0].peak.max, 11);
        assert_eq!(r.skus[0].sku_id, "6fd2c87f-b296-42f0-b197-1e91e994b900");
        let csv = r.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "run,seed,state_hash,expectation_failures,consumption.ENTERPRISEPACK.final,\
consumption.ENTERPRISEPACK.peak,failures.by_kind.CountViolation"
        );
        assert_eq!(lines[2], "1,1,0000000000000000,\"x\",10,11,4");
        let human = crate::report::human_summary(std::slice::from_ref(&r));
        assert!(human.contains("CountViolation"));
        assert!(crate::report::human_summary(&[r.clone(), r]).contains(" | "));
    }

    #[test]
    fn par_runs_keeps_run_order_for_any_thread_count() {
        let a = par_runs(100, Some(1), |i| i * 3, &|_| {});
        let b = par_runs(100, Some(4), |i| i * 3, &|_| {});
        assert_eq!(a, b);
        assert_eq!(a[7], 21);
    }
}
