//! The Slurm recipe of `deploy/slurm/` on a real cluster: `submit.sh` runs a sweep as an array
//! of 4 shards and a merge that waits for them (`--dependency=afterok`), and the merged reports
//! must be byte for byte those of `licsim run --out` on one machine.
//!
//! Runs only when a Slurm cluster answers (`sinfo` finds a node that takes jobs, through
//! `SLURM_CONF` or the machine's own configuration); otherwise it prints why it is skipped and
//! passes, so CI needs no Slurm. To run it for real on one machine (as root):
//!
//! ```sh
//! apt-get install -y slurmctld slurmd slurm-client munge
//! eval "$(deploy/slurm/local-cluster.sh start)"      # exports SLURM_CONF
//! cargo test -p sim-cli --test slurm -- --nocapture
//! deploy/slurm/local-cluster.sh stop
//! ```
//!
//! The jobs run the test's own `licsim` binary (sbatch passes `LICSIM` on), from the
//! workspace's root, with their files under the target folder: on one node every path is
//! shared. On a cluster of several nodes, the workspace must be on a shared file system.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SCENARIO: &str = "scenarios/builtin/license-shortage-then-reprocess.toml";
const SEEDS: &str = "40";
const SHARDS: u64 = 4;
const REPORTS: [&str; 5] = [
    "report.json",
    "report.md",
    "runs.csv",
    "findings.csv",
    "chart.svg",
];
/// How long the jobs may take (they take seconds on an idle node).
const JOBS_TIME_LIMIT: Duration = Duration::from_secs(900);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds sim-cli")
        .to_path_buf()
}

/// Runs `program args` with a time limit; `Err` says why it did not give an output.
fn run_for(program: &str, args: &[&str], limit: Duration) -> Result<Output, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} {} did not answer in {limit:?}",
                    args.join(" ")
                ));
            }
            Err(e) => return Err(format!("{program}: {e}")),
        }
    }
    child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))
}

/// A Slurm client command that must succeed; its stdout.
fn slurm(program: &str, args: &[&str]) -> String {
    let out = run_for(program, args, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `Ok` when a controller answers and a node takes jobs; otherwise why the test is skipped.
fn cluster() -> Result<String, String> {
    for program in ["sinfo", "sbatch", "squeue", "scontrol"] {
        run_for(program, &["--version"], Duration::from_secs(20))
            .map_err(|_| format!("Slurm is not installed ({program} is not on PATH)"))?;
    }
    let out = run_for(
        "sinfo",
        &["-h", "-N", "-o", "%N %T"],
        Duration::from_secs(30),
    )?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!(
            "Slurm is not running ({}); start a single-node cluster with \
             `eval \"$(deploy/slurm/local-cluster.sh start)\"`",
            last.trim()
        ));
    }
    let nodes = String::from_utf8_lossy(&out.stdout).into_owned();
    let up = nodes.lines().any(|l| {
        let state = l.split_whitespace().nth(1).unwrap_or("");
        ["idle", "mix", "alloc"]
            .iter()
            .any(|s| state.starts_with(s))
    });
    if !up {
        return Err(format!(
            "Slurm is running but no node takes jobs (sinfo: {})",
            nodes.trim()
        ));
    }
    Ok(nodes.trim().to_string())
}

/// `KEY=value` from one line of `scontrol show job -o`.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or("")
}

#[test]
fn slurm_array_and_merge_give_the_reports_of_one_run() {
    let nodes = match cluster() {
        Ok(n) => n,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let root = workspace();
    let licsim = env!("CARGO_BIN_EXE_licsim");
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("slurm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let (parts, merged, whole) = (tmp.join("parts"), tmp.join("merged"), tmp.join("whole"));
    println!("Slurm nodes: {nodes}");

    // One machine: the reference.
    let t = Instant::now();
    let one = Command::new(licsim)
        .args(["run", SCENARIO, "--seeds", SEEDS, "--out"])
        .arg(&whole)
        .current_dir(&root)
        .output()
        .unwrap();
    let one_code = one.status.code().expect("licsim run exits");
    assert!(
        one_code == 0 || one_code == 1,
        "licsim run: {}",
        String::from_utf8_lossy(&one.stderr)
    );
    println!(
        "licsim run {SCENARIO} --seeds {SEEDS}: exit {one_code} in {:.2?}",
        t.elapsed()
    );

    // The cluster: 4 shards, then the merge.
    let t = Instant::now();
    let submit = Command::new(root.join("deploy/slurm/submit.sh"))
        .args([SCENARIO, merged.to_str().unwrap(), "--seeds", SEEDS])
        .env("SHARDS", SHARDS.to_string())
        .env("PARTS", &parts)
        .env("LICSIM", licsim)
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        submit.status.success(),
        "submit.sh: {}",
        String::from_utf8_lossy(&submit.stderr)
    );
    let ids = String::from_utf8_lossy(&submit.stdout).into_owned();
    let [array, merge] = ids.split_whitespace().collect::<Vec<_>>()[..] else {
        panic!("submit.sh printed {ids:?}, expected two job ids");
    };
    println!("submit.sh: array job {array} ({SHARDS} shards), merge job {merge} (afterok:{array})");

    // Wait until both jobs have left the queue.
    let mut shards_done = None;
    loop {
        // Pending and running jobs only (`squeue -j` refuses ids purged after MinJobAge).
        let listed = slurm("squeue", &["-h", "-o", "%i %T"]);
        let of = |id: &str, l: &str| {
            let job = l.split_whitespace().next().unwrap_or("");
            job == id || job.starts_with(&format!("{id}_"))
        };
        let queued: Vec<&str> = listed
            .lines()
            .filter(|l| of(array, l) || of(merge, l))
            .collect();
        if !queued.iter().any(|l| of(array, l)) && shards_done.is_none() {
            shards_done = Some(t.elapsed());
        }
        if queued.is_empty() {
            break;
        }
        assert!(
            t.elapsed() < JOBS_TIME_LIMIT,
            "the jobs are still queued after {JOBS_TIME_LIMIT:?}: {queued:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let all_done = t.elapsed();

    // Every shard completed, and the merge exited as `licsim run` did.
    let tasks = slurm("scontrol", &["show", "job", "-o", array]);
    let tasks: Vec<&str> = tasks.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(tasks.len() as u64, SHARDS, "{tasks:#?}");
    for l in &tasks {
        assert_eq!(field(l, "JobState"), "COMPLETED", "{l}");
        assert_eq!(field(l, "ExitCode"), "0:0", "{l}");
    }
    let m = slurm("scontrol", &["show", "job", "-o", merge]);
    let want = if one_code == 0 { "COMPLETED" } else { "FAILED" };
    assert_eq!(field(&m, "JobState"), want, "{m}");
    assert_eq!(field(&m, "ExitCode"), format!("{one_code}:0"), "{m}");
    for k in 0..SHARDS {
        let p = parts.join(format!("part-{k}/shard-{k}-of-{SHARDS}.licsimpart"));
        assert!(p.exists(), "{} is missing", p.display());
    }

    // The reports, byte for byte, and the summary the merge printed.
    for f in REPORTS {
        let a = std::fs::read(whole.join(f)).unwrap();
        let b = std::fs::read(merged.join(f))
            .unwrap_or_else(|e| panic!("{}: {e}", merged.join(f).display()));
        assert!(a == b, "{f} differs between licsim run and the Slurm merge");
    }
    let printed = std::fs::read(parts.join(format!("slurm-merge-{merge}.out"))).unwrap();
    assert!(
        printed == one.stdout,
        "the merge job's output differs from licsim run's:\n{}",
        String::from_utf8_lossy(&printed)
    );
    println!(
        "shards done {:.1?} after submission, merge done {:.1?} after submission; \
         {} reports identical to licsim run's, and the printed summary",
        shards_done.unwrap_or(all_done),
        all_done,
        REPORTS.len()
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
