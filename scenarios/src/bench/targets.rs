//! The performance targets (`../shared/ARCHITECTURE.md`) against what was measured: one row per
//! target with its verdict.

use super::measure::Report;
use super::{mega, ms, per_s};
use std::time::Duration;

/// One target, what was measured, and whether it is met (`None`: cannot be judged here, e.g.
/// parallel efficiency on one core).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub target: String,
    pub measured: String,
    pub met: Option<bool>,
}

/// "met", "NOT met" or "n/a".
pub fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "n/a",
    }
}

/// One row per target, in the order of the report.
pub fn targets(r: &Report) -> Vec<Target> {
    let mut v = Vec::new();
    let mut row = |target: String, measured: String, met: Option<bool>| {
        v.push(Target {
            target,
            measured,
            met,
        })
    };
    if let Some(big) = r.sizes.iter().max_by_key(|s| s.users) {
        let rate = per_s(big.summary.events, big.replay);
        row(
            "Replay (decode + apply + verify) >= 5M events/s on one core".to_string(),
            format!("{} events/s ({} users)", mega(rate), big.users),
            Some(rate >= 5e6),
        );
        let ratio = big.replay.as_secs_f64() / big.decode.as_secs_f64();
        row(
            "Replay within 3x of decode alone".to_string(),
            format!("{ratio:.2}x ({} users)", big.users),
            Some(ratio <= 3.0),
        );
    }
    let g = &r.migration;
    row(
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
    );
    let s = &r.sweep;
    row(
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
    );
    let by = |n: u32| r.sizes.iter().find(|x| x.users == n);
    if let (Some(a), Some(b)) = (by(100_000), by(1_000_000)) {
        let ratio = b.replay.as_secs_f64() / a.replay.as_secs_f64();
        let apply = b.apply.as_secs_f64() / a.apply.as_secs_f64();
        let mem = b.heap_peak as f64 / a.heap_peak as f64;
        row(
            "1M users cost at most 12x of 100k".to_string(),
            format!("replay {ratio:.1}x, apply {apply:.1}x, peak heap {mem:.1}x"),
            Some(ratio <= 12.0 && apply <= 12.0 && mem <= 12.0),
        );
    }
    for x in &r.sizes {
        if x.users >= 100_000 {
            let b = x.budget_bytes();
            row(
                format!("Memory < 300 B/user + 40 B/path ({} users)", x.users),
                format!(
                    "{:.0} MB peak heap vs {:.0} MB budget ({:.0} B/user; state {:.0} B/user)",
                    x.heap_peak as f64 / 1e6,
                    b as f64 / 1e6,
                    x.heap_peak as f64 / x.summary.users as f64,
                    x.heap_state as f64 / x.summary.users as f64
                ),
                Some(x.heap_peak as u64 <= b),
            );
        }
    }
    v
}
