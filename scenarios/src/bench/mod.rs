//! The capacity benchmark (`licsim bench`, ARCHITECTURE.md "Performance targets").
//!
//! - `workload`: the tenant workload of any size (eight simulated days of a realistic mix) and
//!   its `.simlog`; pure functions of (size, seed).
//! - `migration`: the 1,000-user direct-to-group migration, on the engine alone and as the
//!   built-in scenario through the plan runner (one run, a sweep).
//! - `measure`: times, heap bytes (counted by the caller, [`HeapMeter`]), log sizes, the sweep on
//!   one thread and on all; the only wall clock of this crate.
//! - `targets`: the targets and their verdicts. `render`: the printed table and verdict lines,
//!   `bench.json`, `bench.md`.
//!
//! The caller (the `licsim` binary) parses options, hands in its allocator's counters, prints
//! the progress lines and writes the files.

pub mod measure;
pub mod migration;
pub mod render;
pub mod targets;
pub mod workload;

pub use measure::{BenchError, ErrorKind, HeapMeter, NoHeap, Options, Report, run};
pub use migration::{digest, migration_run, migration_scenario, scenario_run, scenario_sweep};
pub use workload::{
    CHUNK, END_LIMIT_MS, SITE_SIZE, Sink, Skus, Summary, TEAM_SIZE, apply_only, catalog,
    checkpoint_every, config, decode_only, drive, drive_sim, inputs, record, replay,
};

use std::time::Duration;

/// Events (or anything) per second.
fn per_s(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-12)
}

/// Milliseconds, fractional.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// "1.23M".
fn mega(x: f64) -> String {
    format!("{:.2}M", x / 1e6)
}
