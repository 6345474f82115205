//! The benchmark's outputs: the table and verdict lines `licsim bench` prints, `bench.json`, and
//! `bench.md` (which keeps the notes written below [`NOTES_MARKER`] in the previous file).

use super::measure::{Report, SizeResult, Timing};
use super::targets::{targets, verdict};
use super::{mega, ms, per_s};
use serde_json::{Value, json};

/// Everything after this line of `bench.md` is kept when the file is written again.
pub const NOTES_MARKER: &str = "<!-- notes: kept by `licsim bench --out`; edit below -->";

/// The notes of an earlier `bench.md` (what follows its [`NOTES_MARKER`]), if it has any.
pub fn notes_of(old_markdown: &str) -> Option<&str> {
    old_markdown
        .split_once(NOTES_MARKER)
        .map(|(_, n)| n.trim_start_matches('\n'))
}

fn size_json(x: &SizeResult) -> Value {
    let s = &x.summary;
    json!({
        "users": x.users,
        "users_created": s.users,
        "groups": s.groups,
        "paths": s.paths,
        "inputs": s.inputs,
        "events": s.events,
        "state_hash": format!("{:016x}", s.state_hash),
        "apply_s": x.apply.as_secs_f64(),
        "apply_events_per_s": per_s(s.events, x.apply),
        "record_s": x.record.as_secs_f64(),
        "record_events_per_s": per_s(s.events, x.record),
        "decode_s": x.decode.as_secs_f64(),
        "decode_events_per_s": per_s(s.events, x.decode),
        "replay_s": x.replay.as_secs_f64(),
        "replay_events_per_s": per_s(s.events, x.replay),
        "replay_over_decode": x.replay.as_secs_f64() / x.decode.as_secs_f64().max(1e-12),
        "log_bytes": x.log_bytes,
        "log_digest": format!("{:016x}", x.log_digest),
        "checkpoint_every": x.checkpoint_every,
        "checkpoints_verified": x.checkpoints,
        "bytes_per_event": x.log_bytes as f64 / s.events.max(1) as f64,
        "heap_peak_bytes": x.heap_peak,
        "heap_state_bytes": x.heap_state,
        "heap_peak_bytes_per_user": x.heap_peak as f64 / s.users.max(1) as f64,
        "heap_state_bytes_per_user": x.heap_state as f64 / s.users.max(1) as f64,
        "memory_budget_bytes": x.budget_bytes(),
    })
}

fn timing_json(t: &Timing) -> Value {
    json!({"median_ms": ms(t.median), "min_ms": ms(t.min), "mean_ms": ms(t.mean)})
}

/// `bench.json`.
pub fn to_json(r: &Report) -> Value {
    let m = &r.machine;
    json!({
        "machine": {"cores": m.cores, "cpu": m.cpu, "os": m.os},
        "date": m.date,
        "command": m.command,
        "log_format": "engine::log .simlog, checkpoint interval scenarios::bench::checkpoint_every",
        "sizes": r.sizes.iter().map(size_json).collect::<Vec<_>>(),
        "migration": {
            "runs": r.migration.runs,
            "events_per_engine_run": r.migration.events,
            "runner": timing_json(&r.migration.runner),
            "engine": timing_json(&r.migration.engine),
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
        "targets": targets(r).into_iter().map(|t| json!({
            "target": t.target, "measured": t.measured, "verdict": verdict(t.met)
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

/// `bench.md`, with `notes` (from [`notes_of`]) after the marker.
pub fn to_markdown(r: &Report, notes: Option<&str>) -> String {
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
    for t in targets(r) {
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            t.target,
            t.measured,
            verdict(t.met)
        ));
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
         - one run of `scenarios/builtin/direct-to-group-1000.toml` through the plan runner with metrics \
         (`scenarios::runner::run`, what `licsim run` does per run): {:.3} ms median, \
         {:.3} ms min, {:.3} ms mean over {} runs\n\
         - the same migration on the engine alone (as engine/examples/migrate1000.rs): {:.3} ms \
         median, {:.3} ms min; {} events per run ({} events/s)\n\
         - sweep of {} runs (`scenarios::sweep::sweep`, as `licsim run --seeds`): {:.2} s on \
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

/// What `licsim bench` prints: the sizes table, then one verdict line per target.
pub fn human(r: &Report) -> String {
    let mut s = sizes_table(r);
    s.push('\n');
    for t in targets(r) {
        s.push_str(&format!(
            "{:<8} {}: {}\n",
            verdict(t.met),
            t.target,
            t.measured
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::measure::{Machine, Migration, Sweep};
    use crate::bench::workload::Summary;
    use std::time::Duration;

    /// A report with fixed figures: all sizes (every target) or one (the sweep on one thread).
    pub(crate) fn fixed_report(full: bool) -> Report {
        let d = |ms: u64| Duration::from_micros(ms * 1000 + 123);
        let summary = Summary {
            events: 123_456,
            inputs: 3_210,
            state_hash: 0xdead_beef_1234_5678,
            users: 100_000,
            live_users: 99_000,
            groups: 512,
            paths: 180_000,
            end_ms: 777,
        };
        let size = |users: u32, k: u64| SizeResult {
            users,
            summary: Summary {
                users: users as u64,
                events: summary.events * k,
                ..summary
            },
            apply: d(100 * k),
            record: d(150 * k),
            decode: d(20 * k),
            replay: d(45 * k),
            log_bytes: 9_999_999 * k,
            log_digest: 0x0123_4567_89ab_cdef,
            checkpoint_every: 4096,
            checkpoints: 30,
            heap_peak: 25_000_000 * k as i64,
            heap_state: 20_000_000 * k as i64,
        };
        let t = |a: u64, b: u64, c: u64| Timing {
            median: d(a),
            min: d(b),
            mean: d(c),
        };
        let (sizes, threads) = if full {
            (
                vec![size(1000, 1), size(100_000, 3), size(1_000_000, 31)],
                2,
            )
        } else {
            (vec![size(1000, 1)], 1)
        };
        Report {
            machine: Machine {
                cores: 2,
                cpu: "Test CPU".into(),
                os: "linux 6.1".into(),
                date: "2026-01-05T09:00:00Z".into(),
                command: "licsim bench --out results".into(),
            },
            sizes,
            migration: Migration {
                runs: 500,
                events: 12_345,
                runner: t(1, 1, 2),
                engine: t(0, 0, 1),
            },
            sweep: Sweep {
                seeds: 10_000,
                threads,
                one: d(7000),
                many: d(3600),
                digest: 0xfeed_f00d,
            },
            peak_rss: Some(123_456_789),
        }
    }

    /// Every output of a fixed report, byte for byte as `licsim bench` wrote it before the
    /// benchmark moved into this crate (tests/data/bench-render-*.txt).
    #[test]
    fn outputs_keep_their_layout() {
        for (full, expected) in [
            (true, include_str!("../../tests/data/bench-render-full.txt")),
            (
                false,
                include_str!("../../tests/data/bench-render-small.txt"),
            ),
        ] {
            let r = fixed_report(full);
            let out = format!(
                "{}\n=====\n{}\n=====\n{}\n=====\n{}",
                human(&r),
                to_markdown(&r, Some("my notes\n")),
                to_markdown(&r, None),
                serde_json::to_string_pretty(&to_json(&r)).unwrap()
            );
            assert_eq!(out, expected, "full: {full}");
        }
    }

    #[test]
    fn notes_are_what_follows_the_marker() {
        let md = to_markdown(&fixed_report(false), Some("kept\n"));
        assert_eq!(notes_of(&md), Some("kept\n"));
        assert_eq!(notes_of("# no marker"), None);
    }
}
