//! `licsim run` and `licsim validate`.

use crate::{CmdResult, Failure, Format, exit};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scenarios::model::Scenario;
use scenarios::report::human_summary;
use scenarios::sweep::{SweepOptions, SweepReport};
use std::path::{Path, PathBuf};

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
pub fn sweep(
    sc: &Scenario,
    runs: u64,
    seed: u64,
    threads: Option<usize>,
    check: bool,
) -> SweepReport {
    let pb = progress_bar(runs, &sc.name);
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
    let opts = SweepOptions {
        seed,
        runs,
        threads,
        check_invariants: check,
        progress: &progress,
    };
    let report = scenarios::sweep::sweep(sc, &opts);
    pb.finish_and_clear();
    report
}

pub fn run(
    paths: &[PathBuf],
    seeds: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
    out: Option<&Path>,
    format: Format,
    check: bool,
) -> CmdResult {
    let mut scs = Vec::new();
    for p in paths {
        scs.push(load(p)?);
    }
    let mut reports = Vec::new();
    for sc in &scs {
        let runs = seeds.unwrap_or(sc.seeds).max(1);
        let base = seed.unwrap_or(sc.seed);
        reports.push(sweep(sc, runs, base, threads, check));
    }
    if let Some(dir) = out {
        write_reports(dir, &reports)?;
    }
    match format {
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

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes)
        .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))
}

/// Writes report.json, report.md, runs.csv and chart.svg (in a sub-directory per scenario when
/// there are several).
pub fn write_reports(dir: &Path, reports: &[SweepReport]) -> Result<(), Failure> {
    for r in reports {
        let d = if reports.len() == 1 {
            dir.to_path_buf()
        } else {
            dir.join(&r.scenario)
        };
        std::fs::create_dir_all(&d)
            .map_err(|e| Failure::bad_input(format!("cannot create {}: {e}", d.display())))?;
        let json = serde_json::to_string_pretty(&r.to_json())
            .map_err(|e| Failure::internal(e.to_string()))?;
        write_file(&d.join("report.json"), format!("{json}\n").as_bytes())?;
        write_file(&d.join("report.md"), r.to_markdown().as_bytes())?;
        write_file(&d.join("runs.csv"), r.to_csv().as_bytes())?;
        write_file(&d.join("chart.svg"), r.to_svg().as_bytes())?;
    }
    if reports.len() > 1 {
        write_file(&dir.join("summary.txt"), human_summary(reports).as_bytes())?;
    }
    Ok(())
}

pub fn validate(path: &Path) -> CmdResult {
    let sc = load(path)?;
    let warnings = scenarios::spec::warnings(&sc);
    let users: u64 = sc.users.len() as u64 + sc.populations.iter().map(|p| p.count).sum::<u64>();
    say!(
        "{}: ok — {} users, {} groups, {} plan steps, {} runs by default",
        path.display(),
        users,
        sc.groups.len(),
        sc.plan.len(),
        sc.seeds
    );
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(exit::OK)
}
