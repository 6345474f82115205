//! `licsim bench`: the capacity benchmark (ARCHITECTURE.md, "Performance targets").
//!
//! For each tenant size it runs the workload of `scenarios::bench` and measures: events applied
//! per second, encoding (record) per second, decode-only per second (the codec floor), replay
//! (decode + apply + verify) per second and the ratio replay/decode, bytes per event of the log
//! on disk, and heap memory per user (a counting allocator, switched on only while memory is
//! measured). Then the 1,000-user direct-to-group migration: the time of one run, and a sweep of
//! many seeds on one thread and on all (rayon over seeds, merged in seed order; the digests of the
//! two sweeps must be equal). The wall clock is read only here, never in the engine.

use crate::{CmdResult, Failure, exit};
use engine::prelude::Catalog;
use scenarios::bench::{self, Summary};
use scenarios::model::Scenario;
use serde_json::{Value, json};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A smaller run for CI smoke use (under 30 s): sizes 1k,10k,100k, 1,000 seeds.
    #[arg(long)]
    pub quick: bool,
    /// Write bench.json and bench.md here (bench.md keeps what follows its notes marker).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Tenant sizes in users, comma-separated (default 1000,10000,100000,1000000).
    #[arg(long, value_delimiter = ',')]
    pub sizes: Option<Vec<u32>>,
    /// Seeds of the migration sweep (default 10,000; 1,000 with --quick).
    #[arg(long)]
    pub sweep_seeds: Option<u64>,
    /// Timed single runs of the migration (default 500; 100 with --quick).
    #[arg(long)]
    pub migration_runs: Option<u64>,
    /// Threads of the parallel sweep (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seed of the tenant workloads.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the logs are written (default: the system's temporary directory); removed after.
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
}

// ---- a counting allocator, off unless memory is being measured -------------------------------

struct Counting;

static TRACK: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

#[inline]
fn note(delta: i64) {
    if TRACK.load(Ordering::Relaxed) {
        let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
        if delta > 0 {
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as i64));
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes while `f` runs: (peak above the start, still held at the end of `f`).
fn measure_heap<T>(f: impl FnOnce() -> T) -> (T, i64, i64) {
    LIVE.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    TRACK.store(true, Ordering::SeqCst);
    let r = f();
    TRACK.store(false, Ordering::SeqCst);
    (r, PEAK.load(Ordering::SeqCst), LIVE.load(Ordering::SeqCst))
}

/// Peak resident set size of the process so far (VmHWM), bytes.
fn vm_hwm() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
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

fn per_s(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-12)
}

// ---- the measurements -------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct SizeResult {
    users: u32,
    summary: Summary,
    apply: Duration,
    record: Duration,
    decode: Duration,
    replay: Duration,
    log_bytes: u64,
    /// Stable hash of the log's bytes: equal before and after an optimisation of the engine.
    log_digest: u64,
    checkpoint_every: u64,
    checkpoints: u64,
    heap_peak: i64,
    heap_state: i64,
}

impl SizeResult {
    fn budget_bytes(&self) -> u64 {
        300 * self.summary.users + 40 * self.summary.paths
    }
    fn to_json(&self) -> Value {
        let s = &self.summary;
        json!({
            "users": self.users,
            "users_created": s.users,
            "groups": s.groups,
            "paths": s.paths,
            "inputs": s.inputs,
            "events": s.events,
            "state_hash": format!("{:016x}", s.state_hash),
            "apply_s": self.apply.as_secs_f64(),
            "apply_events_per_s": per_s(s.events, self.apply),
            "record_s": self.record.as_secs_f64(),
            "record_events_per_s": per_s(s.events, self.record),
            "decode_s": self.decode.as_secs_f64(),
            "decode_events_per_s": per_s(s.events, self.decode),
            "replay_s": self.replay.as_secs_f64(),
            "replay_events_per_s": per_s(s.events, self.replay),
            "replay_over_decode": self.replay.as_secs_f64() / self.decode.as_secs_f64().max(1e-12),
            "log_bytes": self.log_bytes,
            "log_digest": format!("{:016x}", self.log_digest),
            "checkpoint_every": self.checkpoint_every,
            "checkpoints_verified": self.checkpoints,
            "bytes_per_event": self.log_bytes as f64 / s.events.max(1) as f64,
            "heap_peak_bytes": self.heap_peak,
            "heap_state_bytes": self.heap_state,
            "heap_peak_bytes_per_user": self.heap_peak as f64 / s.users.max(1) as f64,
            "heap_state_bytes_per_user": self.heap_state as f64 / s.users.max(1) as f64,
            "memory_budget_bytes": self.budget_bytes(),
        })
    }
}

fn measure_size(
    cat: &Arc<Catalog>,
    users: u32,
    seed: u64,
    quick: bool,
    log_dir: &Path,
) -> Result<SizeResult, Failure> {
    let budget = Duration::from_millis(if quick { 150 } else { 600 });
    let max_reps = if quick { 5 } else { 20 };
    // Memory: the engine alone, events dropped chunk by chunk; the state is measured while the
    // engine is still alive.
    let ((summary, state), heap_peak, _) = measure_heap(|| {
        let mut sim = engine::sim::Sim::new(cat.clone(), bench::config(seed));
        let s = bench::drive_sim(&mut sim, users, seed, &mut |sim, _| sim.clear_events());
        sim.clear_events();
        let state = LIVE.load(Ordering::SeqCst);
        drop(sim);
        (s, state)
    });
    eprintln!(
        "  {users} users: {} events, {} paths; heap peak {:.0} B/user",
        summary.events,
        summary.paths,
        heap_peak as f64 / summary.users.max(1) as f64
    );
    let (apply, s) = best_of(budget, max_reps, || bench::apply_only(cat, users, seed));
    check_same(&summary, &s, "apply")?;
    let every = bench::checkpoint_every(users);
    let (record, (s, log)) = best_of(budget, max_reps, || bench::record(cat, users, seed, every));
    check_same(&summary, &s, "record")?;
    let path = log_dir.join(format!(
        "licsim-bench-{users}-{}.simlog",
        std::process::id()
    ));
    engine::log::write_atomic(&path, &log)
        .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))?;
    drop(log);
    let log = std::fs::read(&path)
        .map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", path.display())))?;
    let _ = std::fs::remove_file(&path);
    let log_bytes = log.len() as u64;
    let log_digest = engine::hash::hash_bytes(&log);
    eprintln!(
        "  log {log_bytes} bytes, digest {log_digest:016x}, state hash {:016x}",
        summary.state_hash
    );
    let (decode, n) = best_of(budget, max_reps, || bench::decode_only(&log));
    let n = n.map_err(Failure::internal)?;
    let (replay, m) = best_of(budget, max_reps, || bench::replay(&log));
    let (m, checkpoints) = m.map_err(|e| Failure {
        status: exit::DIVERGENCE,
        message: format!("replay of the {users}-user log: {e}"),
    })?;
    if n != summary.events || m != summary.events {
        return Err(Failure::internal(format!(
            "{users} users: {} events recorded, {n} decoded, {m} replayed",
            summary.events
        )));
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
        heap_state: state,
    })
}

fn check_same(a: &Summary, b: &Summary, what: &str) -> Result<(), Failure> {
    if a != b {
        return Err(Failure {
            status: exit::DIVERGENCE,
            message: format!("the {what} pass differs from the first: {a:?} vs {b:?}"),
        });
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
struct Timing {
    median: Duration,
    min: Duration,
    mean: Duration,
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

impl Timing {
    fn json(&self) -> Value {
        json!({"median_ms": ms(self.median), "min_ms": ms(self.min), "mean_ms": ms(self.mean)})
    }
}

#[derive(Clone, Debug)]
struct Migration {
    runs: u64,
    /// Events of one engine-only run.
    events: u64,
    /// `scenarios::runner::run_metrics` on the built-in scenario: what `licsim run` does per run.
    runner: Timing,
    /// The engine alone, driven as engine/examples/migrate1000.rs.
    engine: Timing,
}

fn measure_migration(cat: &Arc<Catalog>, sc: &Scenario, runs: u64) -> Migration {
    let mut events = 0;
    let engine = timing(runs, |s| events = bench::migration_run(cat, s).1);
    let runner = timing(runs, |s| {
        std::hint::black_box(bench::scenario_run(sc, 1, s));
    });
    Migration {
        runs,
        events,
        runner,
        engine,
    }
}

#[derive(Clone, Debug)]
struct Sweep {
    seeds: u64,
    threads: usize,
    one: Duration,
    many: Duration,
    digest: u64,
}

impl Sweep {
    /// Parallel time over the ideal (one-thread time / threads); the target is <= 1.1.
    fn over_ideal(&self) -> f64 {
        self.many.as_secs_f64() / (self.one.as_secs_f64() / self.threads as f64)
    }
}

fn measure_sweep(sc: &Scenario, seeds: u64, threads: usize) -> Result<Sweep, Failure> {
    let sweep = |th: usize| {
        let t = now();
        let d = bench::scenario_sweep(sc, 1, seeds, th);
        (t.elapsed(), d)
    };
    let (one, d1) = sweep(1);
    let (many, dn) = sweep(threads);
    if d1 != dn {
        return Err(Failure {
            status: exit::DIVERGENCE,
            message: format!("the sweep on {threads} threads differs from the one on 1 thread"),
        });
    }
    Ok(Sweep {
        seeds,
        threads,
        one,
        many,
        digest: d1,
    })
}

// ---- the report -------------------------------------------------------------------------------

struct Machine {
    cores: usize,
    cpu: String,
    os: String,
    date: String,
    command: String,
}

fn machine() -> Machine {
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu,
        os,
        date: engine::view::iso_time(unix, 0),
        command: format!("licsim {}", args.join(" ")),
    }
}

struct Report {
    machine: Machine,
    sizes: Vec<SizeResult>,
    migration: Migration,
    sweep: Sweep,
    peak_rss: Option<u64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mega(x: f64) -> String {
    format!("{:.2}M", x / 1e6)
}

/// One row per target: (target, measured, met).
fn targets(r: &Report) -> Vec<(String, String, Option<bool>)> {
    let mut v = Vec::new();
    if let Some(big) = r.sizes.iter().max_by_key(|s| s.users) {
        let rate = per_s(big.summary.events, big.replay);
        v.push((
            "Replay (decode + apply + verify) >= 5M events/s on one core".to_string(),
            format!("{} events/s ({} users)", mega(rate), big.users),
            Some(rate >= 5e6),
        ));
        let ratio = big.replay.as_secs_f64() / big.decode.as_secs_f64();
        v.push((
            "Replay within 3x of decode alone".to_string(),
            format!("{ratio:.2}x ({} users)", big.users),
            Some(ratio <= 3.0),
        ));
    }
    let g = &r.migration;
    v.push((
        "One 1,000-user direct-to-group migration run < 2 ms on one core".to_string(),
        format!(
            "{:.3} ms median through the plan runner with metrics ({:.3} ms min, {} runs); \
             engine alone {:.3} ms",
            ms(g.runner.median),
            ms(g.runner.min),
            g.runs,
            ms(g.engine.median),
        ),
        Some(g.runner.median < Duration::from_millis(2)),
    ));
    let s = &r.sweep;
    v.push((
        format!(
            "{}-seed sweep on {} cores within 1.1x of (1-core time / {})",
            s.seeds, s.threads, s.threads
        ),
        format!(
            "{:.2}x ({:.2} s on 1, {:.2} s on {})",
            s.over_ideal(),
            s.one.as_secs_f64(),
            s.many.as_secs_f64(),
            s.threads
        ),
        (s.threads > 1).then(|| s.over_ideal() <= 1.1),
    ));
    let by = |n: u32| r.sizes.iter().find(|x| x.users == n);
    if let (Some(a), Some(b)) = (by(100_000), by(1_000_000)) {
        let ratio = b.replay.as_secs_f64() / a.replay.as_secs_f64();
        let apply = b.apply.as_secs_f64() / a.apply.as_secs_f64();
        let mem = b.heap_peak as f64 / a.heap_peak as f64;
        v.push((
            "1M users cost at most 12x of 100k".to_string(),
            format!("replay {ratio:.1}x, apply {apply:.1}x, peak heap {mem:.1}x"),
            Some(ratio <= 12.0 && apply <= 12.0 && mem <= 12.0),
        ));
    }
    for x in &r.sizes {
        if x.users >= 100_000 {
            let b = x.budget_bytes();
            v.push((
                format!("Memory < 300 B/user + 40 B/path ({} users)", x.users),
                format!(
                    "{:.0} MB peak heap vs {:.0} MB budget ({:.0} B/user; state {:.0} B/user)",
                    x.heap_peak as f64 / 1e6,
                    b as f64 / 1e6,
                    x.heap_peak as f64 / x.summary.users as f64,
                    x.heap_state as f64 / x.summary.users as f64
                ),
                Some(x.heap_peak as u64 <= b),
            ));
        }
    }
    v
}

fn verdict(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "n/a",
    }
}

fn to_json(r: &Report) -> Value {
    let m = &r.machine;
    json!({
        "machine": {"cores": m.cores, "cpu": m.cpu, "os": m.os},
        "date": m.date,
        "command": m.command,
        "log_format": "engine::log .simlog, checkpoint interval scenarios::bench::checkpoint_every",
        "sizes": r.sizes.iter().map(SizeResult::to_json).collect::<Vec<_>>(),
        "migration": {
            "runs": r.migration.runs,
            "events_per_engine_run": r.migration.events,
            "runner": r.migration.runner.json(),
            "engine": r.migration.engine.json(),
        },
        "sweep": {
            "seeds": r.sweep.seeds,
            "threads": r.sweep.threads,
            "one_thread_s": r.sweep.one.as_secs_f64(),
            "all_threads_s": r.sweep.many.as_secs_f64(),
            "over_ideal": r.sweep.over_ideal(),
            "parallel_efficiency": 1.0 / r.sweep.over_ideal(),
            "digest": format!("{:016x}", r.sweep.digest),
        },
        "peak_rss_bytes": r.peak_rss,
        "targets": targets(r).into_iter().map(|(t, m, ok)| json!({
            "target": t, "measured": m, "verdict": verdict(ok)
        })).collect::<Vec<_>>(),
    })
}

fn sizes_table(r: &Report) -> String {
    let mut s = String::new();
    s.push_str("| users | events | paths | apply ev/s | record ev/s | decode ev/s | replay ev/s | replay/decode | B/event | heap peak B/user | state B/user | budget B/user |\n");
    s.push_str(
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for x in &r.sizes {
        let u = x.summary.users.max(1) as f64;
        let e = x.summary.events;
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0} |\n",
            x.users,
            e,
            x.summary.paths,
            mega(per_s(e, x.apply)),
            mega(per_s(e, x.record)),
            mega(per_s(e, x.decode)),
            mega(per_s(e, x.replay)),
            x.replay.as_secs_f64() / x.decode.as_secs_f64(),
            x.log_bytes as f64 / e.max(1) as f64,
            x.heap_peak as f64 / u,
            x.heap_state as f64 / u,
            x.budget_bytes() as f64 / u,
        ));
    }
    s
}

const NOTES_MARKER: &str = "<!-- notes: kept by `licsim bench --out`; edit below -->";

fn to_markdown(r: &Report, notes: Option<&str>) -> String {
    let m = &r.machine;
    let mut s = String::from("# licsim capacity benchmark\n\n");
    s.push_str(&format!(
        "- date: {}\n- machine: {} cores, {} ({})\n- command: `{}`\n- log: {}\n\n",
        m.date,
        m.cores,
        m.cpu,
        m.os,
        m.command,
        "`engine::log`'s `.simlog`, state-hash checkpoints every max(4,096, 16 x users) events"
    ));
    s.push_str("## Targets (../shared/ARCHITECTURE.md)\n\n| target | measured | verdict |\n| --- | --- | --- |\n");
    for (t, v, ok) in targets(r) {
        s.push_str(&format!("| {t} | {v} | {} |\n", verdict(ok)));
    }
    s.push_str("\n## Tenant workloads (`scenarios::bench`)\n\n");
    s.push_str(&sizes_table(r));
    s.push_str(&format!(
        "\nBest of several repetitions for small sizes. Memory: heap bytes counted by an \
         allocator while the workload runs (peak) and held by the engine at its end (state); \
         process peak RSS {}.\n",
        r.peak_rss
            .map_or("unknown".into(), |b| format!("{:.0} MB", b as f64 / 1e6))
    ));
    let g = &r.migration;
    let w = &r.sweep;
    s.push_str(&format!(
        "\n## 1,000-user direct-to-group migration\n\n\
         - one run of `scenarios/direct-to-group-1000.toml` through the plan runner with metrics \
         (`scenarios::runner::run_metrics`, what `licsim run` does per run): {:.3} ms median, \
         {:.3} ms min, {:.3} ms mean over {} runs\n\
         - the same migration on the engine alone (as engine/examples/migrate1000.rs): {:.3} ms \
         median, {:.3} ms min; {} events per run ({} events/s)\n\
         - sweep of {} runs (`scenarios::sweep::run_rows`, as `licsim run --seeds`): {:.2} s on \
         1 thread, {:.2} s on {} threads: {:.2}x of the ideal (parallel efficiency {:.0}%); rows \
         in run order, digest {:016x} on both\n",
        ms(g.runner.median),
        ms(g.runner.min),
        ms(g.runner.mean),
        g.runs,
        ms(g.engine.median),
        ms(g.engine.min),
        g.events,
        mega(per_s(g.events, g.engine.median)),
        w.seeds,
        w.one.as_secs_f64(),
        w.many.as_secs_f64(),
        w.threads,
        w.over_ideal(),
        100.0 / w.over_ideal(),
        w.digest
    ));
    s.push('\n');
    s.push_str(NOTES_MARKER);
    s.push('\n');
    if let Some(n) = notes {
        s.push_str(n);
    }
    s
}

fn human(r: &Report) -> String {
    let mut s = sizes_table(r);
    s.push('\n');
    for (t, v, ok) in targets(r) {
        s.push_str(&format!("{:<8} {t}: {v}\n", verdict(ok)));
    }
    s
}

pub fn bench(args: BenchArgs) -> CmdResult {
    let quick = args.quick;
    let sizes = args.sizes.clone().unwrap_or_else(|| {
        if quick {
            vec![1_000, 10_000, 100_000]
        } else {
            vec![1_000, 10_000, 100_000, 1_000_000]
        }
    });
    if sizes.iter().any(|n| *n == 0 || *n > 10_000_000) {
        return Err(Failure::bad_input(
            "sizes must be between 1 and 10,000,000 users",
        ));
    }
    let seeds = args
        .sweep_seeds
        .unwrap_or(if quick { 1_000 } else { 10_000 })
        .max(1);
    let runs = args
        .migration_runs
        .unwrap_or(if quick { 100 } else { 500 })
        .max(1);
    let machine = machine();
    let threads = args.threads.unwrap_or(machine.cores).max(1);
    let log_dir = args.log_dir.clone().unwrap_or_else(std::env::temp_dir);
    let cat = bench::catalog();

    let mut results = Vec::new();
    for &n in &sizes {
        eprintln!("bench: tenant of {n} users");
        results.push(measure_size(&cat, n, args.seed, quick, &log_dir)?);
    }
    eprintln!("bench: {runs} migration runs");
    let sc = bench::migration_scenario();
    let migration = measure_migration(&cat, &sc, runs);
    eprintln!("bench: sweep of {seeds} seeds on 1 and {threads} threads");
    let sweep = measure_sweep(&sc, seeds, threads)?;
    let report = Report {
        machine,
        sizes: results,
        migration,
        sweep,
        peak_rss: vm_hwm(),
    };
    say_raw!("{}", human(&report));
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::bad_input(format!("cannot create {}: {e}", dir.display())))?;
        let md_path = dir.join("bench.md");
        let old = std::fs::read_to_string(&md_path).unwrap_or_default();
        let notes = old
            .split_once(NOTES_MARKER)
            .map(|(_, n)| n.trim_start_matches('\n'));
        let json = serde_json::to_string_pretty(&to_json(&report))
            .map_err(|e| Failure::internal(e.to_string()))?;
        write(&dir.join("bench.json"), &format!("{json}\n"))?;
        write(&md_path, &to_markdown(&report, notes))?;
    }
    Ok(exit::OK)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text)
        .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))
}
