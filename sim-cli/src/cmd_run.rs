//! `licsim run`.

use crate::{CmdResult, Failure, Format, exit};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scenarios::model::Scenario;
use scenarios::report::human_summary;
use scenarios::sweep::{SweepOptions, SweepReport};
use std::path::{Path, PathBuf};

/// Most runs of one sweep (each run's figures are folded in as it ends, so memory does not
/// grow with runs; time does).
pub const MAX_SEEDS: u64 = 10_000_000;
/// Most worker threads.
pub const MAX_THREADS: usize = 1_024;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Number of runs (default: the scenario's `seeds`; at most 10,000,000).
    #[arg(long)]
    seeds: Option<u64>,
    /// Base seed (default: the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (default: all cores; at most 1,024). Results are identical for any value.
    #[arg(long)]
    threads: Option<usize>,
    /// Write report.json, report.md, runs.csv, findings.csv and chart.svg here.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Check SPEC 9 invariants after every engine call (slow); a violation fails the run.
    #[arg(long)]
    check: bool,
    /// List the findings (who fails, why, what to do) of this run index (default: the first
    /// run that failed an expectation).
    #[arg(long)]
    findings_run: Option<u64>,
    /// Run only shard K of N of the runs (0-based; `auto/N` reads JOB_COMPLETION_INDEX or
    /// SLURM_ARRAY_TASK_ID) and write a part for `licsim merge` to --out.
    #[arg(long, requires = "out")]
    shard: Option<String>,
}

pub fn load(path: &Path) -> Result<Scenario, Failure> {
    scenarios::spec::load_scenario(path).map_err(|e| Failure::bad_input(e.to_string()))
}

fn progress_bar(total: u64, name: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix} [{bar:40}] {pos}/{len} runs {elapsed_precise} eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(name.to_string());
    pb
}

/// Runs one scenario's sweep and builds its report. The progress bar goes to stderr only (and
/// indicatif draws nothing when stderr is not a terminal).
fn sweep(sc: &Scenario, opts: SweepOptions<'_>) -> SweepReport {
    let pb = progress_bar(opts.runs, &sc.name);
    // Shown only once the sweep has taken more than a moment.
    pb.set_draw_target(ProgressDrawTarget::hidden());
    #[allow(clippy::disallowed_methods)] // the CLI's own clock, for the progress bar only
    let start = std::time::Instant::now();
    let shown = std::sync::atomic::AtomicBool::new(false);
    let progress = |n: u64| {
        if !shown.load(std::sync::atomic::Ordering::Relaxed)
            && start.elapsed() > std::time::Duration::from_millis(500)
        {
            shown.store(true, std::sync::atomic::Ordering::Relaxed);
            pb.set_draw_target(ProgressDrawTarget::stderr());
        }
        pb.set_position(n);
    };
    let report = scenarios::sweep::sweep(
        sc,
        &SweepOptions {
            progress: &progress,
            ..opts
        },
    );
    pb.finish_and_clear();
    report
}

/// Checks the run count and thread count before anything is allocated.
fn check_limits(runs: u64, threads: Option<usize>, what: &str) -> Result<(), Failure> {
    if runs == 0 {
        return Err(Failure::bad_input(format!(
            "{what}: seeds must be at least 1"
        )));
    }
    if runs > MAX_SEEDS {
        return Err(Failure::bad_input(format!(
            "{what}: {runs} seeds is more than the limit of {MAX_SEEDS} per sweep"
        )));
    }
    match threads {
        Some(0) => Err(Failure::bad_input("--threads must be at least 1")),
        Some(t) if t > MAX_THREADS => Err(Failure::bad_input(format!(
            "--threads {t} is more than the limit of {MAX_THREADS}"
        ))),
        _ => Ok(()),
    }
}

pub fn run(a: RunArgs) -> CmdResult {
    let mut scs = Vec::new();
    for p in &a.scenarios {
        scs.push(load(p)?);
    }
    for sc in &scs {
        let runs = a.seeds.unwrap_or(sc.seeds);
        check_limits(runs, a.threads, &sc.source)?;
        if let Some(i) = a.findings_run
            && i >= runs
        {
            return Err(Failure::bad_input(format!(
                "--findings-run {i}: the sweep has runs 0 to {}",
                runs - 1
            )));
        }
    }
    if let Some(s) = &a.shard {
        let (k, n) = crate::cmd_shard::parse_shard(s)?;
        let [sc] = &scs[..] else {
            return Err(Failure::bad_input("--shard runs one scenario at a time"));
        };
        let opts = SweepOptions {
            threads: a.threads,
            check_invariants: a.check,
            keep_rows: true,
            findings_run: a.findings_run,
            ..SweepOptions::new(a.seed.unwrap_or(sc.seed), a.seeds.unwrap_or(sc.seeds))
        };
        let out = a.out.as_deref().unwrap_or(Path::new("."));
        return crate::cmd_shard::run_shard(sc, &a.scenarios[0], (k, n), opts, out);
    }
    let mut reports = Vec::new();
    for sc in &scs {
        let opts = SweepOptions {
            threads: a.threads,
            check_invariants: a.check,
            keep_rows: a.out.is_some(),
            findings_run: a.findings_run,
            ..SweepOptions::new(a.seed.unwrap_or(sc.seed), a.seeds.unwrap_or(sc.seeds))
        };
        reports.push(sweep(sc, opts));
    }
    if let Some(dir) = &a.out {
        write_reports(dir, &reports)?;
    }
    match a.format {
        Format::Human => say_raw!("{}", human_summary(&reports)),
        Format::Json => {
            let v = if reports.len() == 1 {
                reports[0].to_json()
            } else {
                serde_json::Value::Array(reports.iter().map(|r| r.to_json()).collect())
            };
            say!(
                "{}",
                serde_json::to_string_pretty(&v).map_err(|e| Failure::internal(e.to_string()))?
            );
        }
    }
    let failed = reports.iter().any(|r| r.runs_failing_expectations > 0);
    Ok(if failed {
        exit::EXPECTATION_FAILED
    } else {
        exit::OK
    })
}

/// The folder of each report under `--out`: the scenario's name, or, with several scenarios,
/// one folder each, `name-2`, `name-3`, ... when names repeat.
pub fn folders(reports: &[SweepReport]) -> Vec<PathBuf> {
    if reports.len() == 1 {
        return vec![PathBuf::new()];
    }
    let mut used: Vec<String> = Vec::new();
    reports
        .iter()
        .map(|r| {
            let mut name = r.scenario.clone();
            let mut k = 1;
            while used.contains(&name) {
                k += 1;
                name = format!("{}-{k}", r.scenario);
            }
            used.push(name.clone());
            PathBuf::from(name)
        })
        .collect()
}

/// Writes report.json, report.md, runs.csv, findings.csv and chart.svg (in a folder per
/// scenario when there are several, with summary.txt), each file atomically.
pub fn write_reports(dir: &Path, reports: &[SweepReport]) -> Result<(), Failure> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for (r, d) in reports.iter().zip(folders(reports)) {
        let json = serde_json::to_string_pretty(&r.to_json())
            .map_err(|e| Failure::internal(e.to_string()))?;
        files.push((d.join("report.json"), format!("{json}\n").into_bytes()));
        files.push((d.join("report.md"), r.to_markdown().into_bytes()));
        files.push((d.join("runs.csv"), r.to_csv().into_bytes()));
        files.push((d.join("findings.csv"), r.findings_csv().into_bytes()));
        files.push((d.join("chart.svg"), r.to_svg().into_bytes()));
    }
    if reports.len() > 1 {
        files.push(("summary.txt".into(), human_summary(reports).into_bytes()));
    }
    crate::files::write_all(dir, &files)
}
