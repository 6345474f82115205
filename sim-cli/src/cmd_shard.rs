//! `licsim run --shard K/N` (one shard of a sweep, written as a part file) and `licsim merge`
//! (the parts of one sweep, merged into exactly the reports `licsim run --out` writes).

use crate::{CmdResult, Failure, exit};
use scenarios::model::Scenario;
use scenarios::sweep::SweepOptions;
use scenarios::sweep::shard::{self, PartHeader, PartReader};
use std::path::{Path, PathBuf};

/// Variables that carry the shard index on the schedulers we know (0-based).
const INDEX_VARIABLES: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

/// Parses `K/N` or `auto/N` (the index from `JOB_COMPLETION_INDEX` or `SLURM_ARRAY_TASK_ID`).
pub fn parse_shard(s: &str) -> Result<(u64, u64), Failure> {
    let bad = || {
        Failure::bad_input(format!(
            "--shard {s}: expected K/N or auto/N (K from 0 to N-1)"
        ))
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    let k: u64 = if k.trim() == "auto" {
        let (var, v) = INDEX_VARIABLES
            .iter()
            .find_map(|v| std::env::var(v).ok().map(|x| (*v, x)))
            .ok_or_else(|| {
                Failure::bad_input(format!(
                    "--shard auto/{n}: neither {} is set",
                    INDEX_VARIABLES.join(" nor ")
                ))
            })?;
        v.trim()
            .parse()
            .map_err(|_| Failure::bad_input(format!("{var}={v} is not a shard index")))?
    } else {
        k.trim().parse().map_err(|_| bad())?
    };
    if n == 0 || k >= n {
        return Err(Failure::bad_input(format!(
            "--shard {k}/{n}: the index must be from 0 to {}",
            n.saturating_sub(1)
        )));
    }
    Ok((k, n))
}

fn fingerprint(sc: &Scenario, path: &Path) -> Result<u64, Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
    Ok(shard::scenario_fingerprint(
        &bytes,
        sc.catalog.fingerprint(),
    ))
}

/// The part file of shard `k` of `n` in `dir`.
fn part_name(k: u64, n: u64) -> PathBuf {
    PathBuf::from(format!("shard-{k}-of-{n}.licsimpart"))
}

/// Runs one shard and writes its part under `out`.
pub fn run_shard(
    sc: &Scenario,
    path: &Path,
    (k, n): (u64, u64),
    opts: SweepOptions<'_>,
    out: &Path,
) -> CmdResult {
    let header = PartHeader {
        licsim_version: env!("CARGO_PKG_VERSION").into(),
        scenario_source: sc.source.clone(),
        scenario_name: sc.name.clone(),
        fingerprint: fingerprint(sc, path)?,
        seed: opts.seed,
        runs: opts.runs,
        shard: k,
        shards: n,
        check_invariants: opts.check_invariants,
        findings_run: opts.findings_run,
    };
    let bytes = shard::run_part(sc, &opts, &header, Vec::new())
        .map_err(|e| Failure::internal(e.to_string()))?;
    let name = part_name(k, n);
    crate::files::write_all(out, &[(name.clone(), bytes)])?;
    let r = shard::Shard { index: k, count: n }.range(opts.runs);
    say!(
        "{}: shard {k} of {n}, runs {} to {} of {} (seed {}), written to {}",
        sc.name,
        r.start,
        r.end.saturating_sub(1),
        opts.runs,
        opts.seed,
        out.join(name).display()
    );
    Ok(exit::OK)
}

/// The part files named: files as given, folders by their `*.licsimpart` files.
fn part_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut files = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Failure::bad_input(format!("{}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "licsimpart"))
                .collect();
            if found.is_empty() {
                return Err(Failure::bad_input(format!(
                    "{}: no .licsimpart file in this folder",
                    p.display()
                )));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Part files, or folders holding them (`licsim run --shard K/N --out FOLDER`).
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    /// Where to write the reports (as `licsim run --out`).
    #[arg(long)]
    out: PathBuf,
    /// The scenario file (default: the path recorded in the parts, from the current folder).
    #[arg(long)]
    scenario: Option<PathBuf>,
}

pub fn merge(a: MergeArgs) -> CmdResult {
    let mut readers = Vec::new();
    for f in part_files(&a.parts)? {
        let file = std::fs::File::open(&f)
            .map_err(|e| Failure::bad_input(format!("{}: {e}", f.display())))?;
        let r = PartReader::new(std::io::BufReader::new(file), &f.display().to_string())
            .map_err(Failure::bad_input)?;
        readers.push(r);
    }
    let Some(first) = readers.first() else {
        return Err(Failure::bad_input("no parts to merge"));
    };
    let h = first.header.clone();
    let path = a
        .scenario
        .unwrap_or_else(|| PathBuf::from(&h.scenario_source));
    let sc = crate::cmd_run::load(&path)?;
    if fingerprint(&sc, &path)? != h.fingerprint {
        return Err(Failure::bad_input(format!(
            "{}: this scenario (or its catalogue) is not the one the parts were run with",
            path.display()
        )));
    }
    if h.licsim_version != env!("CARGO_PKG_VERSION") {
        return Err(Failure::bad_input(format!(
            "the parts were written by licsim {}, this is {}",
            h.licsim_version,
            env!("CARGO_PKG_VERSION")
        )));
    }
    let report = shard::merge(&sc, readers).map_err(Failure::bad_input)?;
    crate::cmd_run::write_reports(&a.out, std::slice::from_ref(&report))?;
    say_raw!(
        "{}",
        scenarios::report::human_summary(std::slice::from_ref(&report))
    );
    Ok(if report.runs_failing_expectations > 0 {
        exit::EXPECTATION_FAILED
    } else {
        exit::OK
    })
}
