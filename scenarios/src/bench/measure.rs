//! Measuring the workloads: for each tenant size, events applied per second, encoding (record),
//! decode alone (the codec floor), replay (decode + apply + verify), bytes per event of the log
//! on disk and heap bytes per user (through the caller's [`HeapMeter`]); then the 1,000-user
//! migration (one run, engine alone and through the plan runner) and a sweep of many seeds on one
//! thread and on all (the digests of the two sweeps must be equal).
//!
//! The one module of the scenarios crate that reads the wall clock (`now`, and the report's
//! date in [`Machine::detect`]); nothing that simulates, runs a plan or writes a scenario report
//! imports it, so no time reaches state, logs or reports.

use super::migration::{migration_run, scenario_run, scenario_sweep};
use super::workload::{
    Summary, apply_only, catalog, checkpoint_every, config, decode_only, drive_sim, record, replay,
};
use crate::model::Scenario;
use engine::prelude::Catalog;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Heap bytes counted by the caller (`licsim` counts them in its global allocator).
pub trait HeapMeter {
    /// Sets both counters to zero and starts counting.
    fn start(&self);
    /// Stops counting.
    fn stop(&self);
    /// Bytes allocated and not freed since [`HeapMeter::start`].
    fn live(&self) -> i64;
    /// The highest [`HeapMeter::live`] since [`HeapMeter::start`].
    fn peak(&self) -> i64;
}

/// No heap counting (every figure 0): for tests and callers without a counting allocator.
pub struct NoHeap;

impl HeapMeter for NoHeap {
    fn start(&self) {}
    fn stop(&self) {}
    fn live(&self) -> i64 {
        0
    }
    fn peak(&self) -> i64 {
        0
    }
}

/// What went wrong, for the caller's exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A bad option or a file that cannot be written or read.
    Input,
    /// Two passes that must agree do not (apply / record, 1 / n threads, replay).
    Divergence,
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchError {
    pub kind: ErrorKind,
    pub message: String,
}

impl BenchError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> BenchError {
        BenchError {
            kind,
            message: message.into(),
        }
    }
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// Shorter time budgets per size (and the smaller defaults of [`Options::new`]).
    pub quick: bool,
    /// Tenant sizes in users.
    pub sizes: Vec<u32>,
    /// Seeds of the migration sweep.
    pub sweep_seeds: u64,
    /// Timed single runs of the migration.
    pub migration_runs: u64,
    /// Threads of the parallel sweep (`None`: all cores).
    pub threads: Option<usize>,
    /// Seed of the tenant workloads.
    pub seed: u64,
    /// Where the logs are written (and removed after).
    pub log_dir: PathBuf,
    /// The command as typed, for the report.
    pub command: String,
}

impl Options {
    /// The defaults: sizes 1k..1M, 10,000 seeds, 500 runs; with `quick`, sizes 1k..100k, 1,000
    /// seeds, 100 runs.
    pub fn new(quick: bool) -> Options {
        Options {
            quick,
            sizes: if quick {
                vec![1_000, 10_000, 100_000]
            } else {
                vec![1_000, 10_000, 100_000, 1_000_000]
            },
            sweep_seeds: if quick { 1_000 } else { 10_000 },
            migration_runs: if quick { 100 } else { 500 },
            threads: None,
            seed: 1,
            log_dir: std::env::temp_dir(),
            command: "licsim bench".into(),
        }
    }
}

// ---- timing -----------------------------------------------------------------------------------

#[allow(clippy::disallowed_methods)] // the benchmark's own clock, outside the simulation
fn now() -> Instant {
    Instant::now()
}

/// Runs `f` at least once and until `budget` is spent (at most `max_reps` times); returns the
/// fastest time and the last result.
fn best_of<T>(budget: Duration, max_reps: u32, mut f: impl FnMut() -> T) -> (Duration, T) {
    let start = now();
    let mut best = Duration::MAX;
    let mut reps = 0;
    loop {
        let t = now();
        let r = f();
        best = best.min(t.elapsed());
        reps += 1;
        if reps >= max_reps || start.elapsed() >= budget {
            return (best, r);
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub median: Duration,
    pub min: Duration,
    pub mean: Duration,
}

fn timing(runs: u64, mut f: impl FnMut(u64)) -> Timing {
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|s| {
            let t = now();
            f(s);
            t.elapsed()
        })
        .collect();
    let total: Duration = times.iter().sum();
    times.sort();
    Timing {
        median: times[times.len() / 2],
        min: times[0],
        mean: total / times.len() as u32,
    }
}

// ---- the measurements -------------------------------------------------------------------------

/// One tenant size.
#[derive(Clone, Debug)]
pub struct SizeResult {
    pub users: u32,
    pub summary: Summary,
    pub apply: Duration,
    pub record: Duration,
    pub decode: Duration,
    pub replay: Duration,
    pub log_bytes: u64,
    /// Stable hash of the log's bytes: equal before and after an optimisation of the engine.
    pub log_digest: u64,
    pub checkpoint_every: u64,
    pub checkpoints: u64,
    pub heap_peak: i64,
    pub heap_state: i64,
}

impl SizeResult {
    /// The memory target: 300 bytes a user and 40 a path.
    pub fn budget_bytes(&self) -> u64 {
        300 * self.summary.users + 40 * self.summary.paths
    }
}

fn measure_size(
    cat: &Arc<Catalog>,
    users: u32,
    seed: u64,
    quick: bool,
    log_dir: &Path,
    heap: &dyn HeapMeter,
    progress: &mut dyn FnMut(&str),
) -> Result<SizeResult, BenchError> {
    let budget = Duration::from_millis(if quick { 150 } else { 600 });
    let max_reps = if quick { 5 } else { 20 };
    // Memory: the engine alone, events dropped chunk by chunk; the state is measured while the
    // engine is still alive.
    heap.start();
    let mut sim = engine::sim::Sim::new(cat.clone(), config(seed));
    let summary = drive_sim(&mut sim, users, seed, &mut |sim, _| sim.clear_events());
    sim.clear_events();
    let heap_state = heap.live();
    drop(sim);
    heap.stop();
    let heap_peak = heap.peak();
    progress(&format!(
        "  {users} users: {} events, {} paths; heap peak {:.0} B/user",
        summary.events,
        summary.paths,
        heap_peak as f64 / summary.users.max(1) as f64
    ));
    let (apply, s) = best_of(budget, max_reps, || apply_only(cat, users, seed));
    check_same(&summary, &s, "apply")?;
    let every = checkpoint_every(users);
    let (record, (s, log)) = best_of(budget, max_reps, || record(cat, users, seed, every));
    check_same(&summary, &s, "record")?;
    let path = log_dir.join(format!(
        "licsim-bench-{users}-{}.simlog",
        std::process::id()
    ));
    engine::log::write_atomic(&path, &log).map_err(|e| {
        BenchError::new(
            ErrorKind::Input,
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    drop(log);
    let log = std::fs::read(&path).map_err(|e| {
        BenchError::new(
            ErrorKind::Input,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let _ = std::fs::remove_file(&path);
    let log_bytes = log.len() as u64;
    let log_digest = engine::hash::hash_bytes(&log);
    progress(&format!(
        "  log {log_bytes} bytes, digest {log_digest:016x}, state hash {:016x}",
        summary.state_hash
    ));
    let (decode, n) = best_of(budget, max_reps, || decode_only(&log));
    let n = n.map_err(|e| BenchError::new(ErrorKind::Internal, e))?;
    let (replay, m) = best_of(budget, max_reps, || replay(&log));
    let (m, checkpoints) = m.map_err(|e| {
        BenchError::new(
            ErrorKind::Divergence,
            format!("replay of the {users}-user log: {e}"),
        )
    })?;
    if n != summary.events || m != summary.events {
        return Err(BenchError::new(
            ErrorKind::Internal,
            format!(
                "{users} users: {} events recorded, {n} decoded, {m} replayed",
                summary.events
            ),
        ));
    }
    Ok(SizeResult {
        users,
        summary,
        apply,
        record,
        decode,
        replay,
        log_bytes,
        log_digest,
        checkpoint_every: every,
        checkpoints,
        heap_peak,
        heap_state,
    })
}

fn check_same(a: &Summary, b: &Summary, what: &str) -> Result<(), BenchError> {
    if a != b {
        return Err(BenchError::new(
            ErrorKind::Divergence,
            format!("the {what} pass differs from the first: {a:?} vs {b:?}"),
        ));
    }
    Ok(())
}

/// The 1,000-user migration, one run at a time.
#[derive(Clone, Debug)]
pub struct Migration {
    pub runs: u64,
    /// Events of one engine-only run.
    pub events: u64,
    /// `scenarios::runner::run` on the built-in scenario: what `licsim run` does per run.
    pub runner: Timing,
    /// The engine alone, driven as engine/examples/migrate1000.rs.
    pub engine: Timing,
}

fn measure_migration(cat: &Arc<Catalog>, sc: &Scenario, runs: u64) -> Migration {
    let mut events = 0;
    let engine = timing(runs, |s| events = migration_run(cat, s).1);
    let runner = timing(runs, |s| {
        std::hint::black_box(scenario_run(sc, 1, s));
    });
    Migration {
        runs,
        events,
        runner,
        engine,
    }
}

/// The migration's sweep on one thread and on `threads`.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub seeds: u64,
    pub threads: usize,
    pub one: Duration,
    pub many: Duration,
    pub digest: u64,
}

impl Sweep {
    /// Parallel time over the ideal (one-thread time / threads); the target is <= 1.1.
    pub fn over_ideal(&self) -> f64 {
        self.many.as_secs_f64() / (self.one.as_secs_f64() / self.threads as f64)
    }
}

fn measure_sweep(sc: &Scenario, seeds: u64, threads: usize) -> Result<Sweep, BenchError> {
    let sweep = |th: usize| {
        let t = now();
        let d = scenario_sweep(sc, 1, seeds, th);
        (t.elapsed(), d)
    };
    let (one, d1) = sweep(1);
    let (many, dn) = sweep(threads);
    if d1 != dn {
        return Err(BenchError::new(
            ErrorKind::Divergence,
            format!("the sweep on {threads} threads differs from the one on 1 thread"),
        ));
    }
    Ok(Sweep {
        seeds,
        threads,
        one,
        many,
        digest: d1,
    })
}

// ---- the machine and the whole run --------------------------------------------------------------

/// Where and when the benchmark ran.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub os: String,
    pub date: String,
    pub command: String,
}

impl Machine {
    /// This machine, now; `command` is the command as typed.
    pub fn detect(command: String) -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let os = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("{} {}", std::env::consts::OS, s.trim()))
            .unwrap_or_else(|_| std::env::consts::OS.into());
        #[allow(clippy::disallowed_methods)] // the report's date, outside the simulation
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            os,
            date: engine::view::iso_time(unix, 0),
            command,
        }
    }
}

/// Peak resident set size of the process so far (VmHWM), bytes.
fn vm_hwm() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Everything one `licsim bench` measured.
#[derive(Clone, Debug)]
pub struct Report {
    pub machine: Machine,
    pub sizes: Vec<SizeResult>,
    pub migration: Migration,
    pub sweep: Sweep,
    pub peak_rss: Option<u64>,
}

/// Runs the benchmark. `progress` gets one line at each stage (and the digests and state hashes
/// of the logs); the results are in the [`Report`].
pub fn run(
    opts: &Options,
    heap: &dyn HeapMeter,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, BenchError> {
    if opts.sizes.iter().any(|n| *n == 0 || *n > 10_000_000) {
        return Err(BenchError::new(
            ErrorKind::Input,
            "sizes must be between 1 and 10,000,000 users",
        ));
    }
    let seeds = opts.sweep_seeds.max(1);
    let runs = opts.migration_runs.max(1);
    let machine = Machine::detect(opts.command.clone());
    let threads = opts.threads.unwrap_or(machine.cores).max(1);
    let cat = catalog();

    let mut sizes = Vec::new();
    for &n in &opts.sizes {
        progress(&format!("bench: tenant of {n} users"));
        sizes.push(measure_size(
            &cat,
            n,
            opts.seed,
            opts.quick,
            &opts.log_dir,
            heap,
            progress,
        )?);
    }
    progress(&format!("bench: {runs} migration runs"));
    let sc = super::migration::migration_scenario();
    let migration = measure_migration(&cat, &sc, runs);
    progress(&format!(
        "bench: sweep of {seeds} seeds on 1 and {threads} threads"
    ));
    let sweep = measure_sweep(&sc, seeds, threads)?;
    Ok(Report {
        machine,
        sizes,
        migration,
        sweep,
        peak_rss: vm_hwm(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_measures_every_part_and_checks_its_sizes() {
        let opts = Options {
            sizes: vec![300],
            sweep_seeds: 4,
            migration_runs: 2,
            threads: Some(2),
            quick: true,
            ..Options::new(true)
        };
        let mut lines = Vec::new();
        let r = run(&opts, &NoHeap, &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(r.sizes.len(), 1);
        let s = &r.sizes[0];
        assert_eq!(s.summary.users, 300 + 6, "{s:?}");
        assert!(s.log_bytes > 0 && s.checkpoints > 0);
        assert_eq!(
            (r.migration.runs, r.sweep.seeds, r.sweep.threads),
            (2, 4, 2)
        );
        assert_eq!(lines[0], "bench: tenant of 300 users");
        assert!(lines[2].starts_with("  log ") && lines[2].contains(" digest "));
        assert_eq!(
            lines.last().unwrap(),
            "bench: sweep of 4 seeds on 1 and 2 threads"
        );

        let bad = Options {
            sizes: vec![0],
            ..opts
        };
        let e = run(&bad, &NoHeap, &mut |_| {}).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Input);
        assert_eq!(e.message, "sizes must be between 1 and 10,000,000 users");
    }
}
