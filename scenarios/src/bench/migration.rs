//! The 1,000-user direct-to-group migration, the benchmark's second workload: on the engine alone
//! (as `engine/examples/migrate1000.rs`) and as the built-in scenario
//! `scenarios/builtin/direct-to-group-1000.toml` through the plan runner, one run and a sweep.

use super::workload::config;
use engine::prelude::*;
use std::sync::Arc;

/// One run of the 1,000-user direct-to-group migration (as `engine/examples/migrate1000.rs`):
/// 1,000 users with direct E3, one group of all of them gets E3, then the direct paths are
/// removed in ten hourly waves of 100. Events are kept as a run would keep them and handed over
/// in bulk (cleared, capacity kept). Returns (final state hash, events).
pub fn migration_run(cat: &Arc<Catalog>, seed: u64) -> (u64, u64) {
    let e3 = cat.sku_by_name("ENTERPRISEPACK").expect("built-in SKU");
    let mut sim = Sim::new(cat.clone(), config(seed));
    let mut n = 0u64;
    let mut take = |sim: &mut Sim| {
        n += sim.pending_events().len() as u64;
        sim.clear_events();
    };
    let ok = |r: Result<(), Rejection>| r.expect("the migration's inputs are valid");
    ok(sim.apply(
        0,
        Input::SetUnits {
            sku: e3,
            units: PrepaidUnits {
                enabled: 1000,
                ..Default::default()
            },
        },
    ));
    for i in 1..=1000u32 {
        ok(sim.apply(
            0,
            Input::CreateUser {
                name: format!("user{i:04}"),
                usage_location: Some(*b"US"),
                proxy_addresses: vec![],
                attributes: vec![],
            },
        ));
        ok(sim.apply(
            0,
            Input::AssignUserLicense {
                user: i - 1,
                add: vec![LicenseSpec::new(e3)],
                remove: vec![],
            },
        ));
    }
    ok(sim.apply(
        0,
        Input::CreateGroup {
            name: "all-users".into(),
            security_enabled: true,
            source: GroupSource::Cloud,
            rule: None,
            members: (0..1000).map(Member::User).collect(),
            evaluate_now: false,
        },
    ));
    ok(sim.apply(
        0,
        Input::AssignGroupLicense {
            group: 0,
            add: vec![LicenseSpec::new(e3)],
            remove: vec![],
        },
    ));
    sim.run_until_quiescent(30 * DAY);
    take(&mut sim);
    let mut t = sim.now();
    for w in 0..10u32 {
        for u in w * 100..(w + 1) * 100 {
            ok(sim.apply(
                t,
                Input::AssignUserLicense {
                    user: u,
                    add: vec![],
                    remove: vec![e3],
                },
            ));
        }
        t += HOUR;
        take(&mut sim);
    }
    sim.run_until_quiescent(t + 30 * DAY);
    take(&mut sim);
    (sim.state_hash(), n)
}

/// The built-in scenario `scenarios/builtin/direct-to-group-1000.toml` (the same migration as a scenario
/// file: population, group, gates before each wave, expectations).
pub fn migration_scenario() -> crate::model::Scenario {
    crate::spec::parse_scenario(
        "direct-to-group-1000.toml",
        include_str!("../../builtin/direct-to-group-1000.toml"),
        None,
    )
    .expect("the built-in scenario parses")
}

/// One run of a scenario through the plan runner with metrics, as `licsim run` does for each run
/// index. Returns (final state hash, end time).
pub fn scenario_run(sc: &crate::model::Scenario, seed: u64, run: u64) -> (u64, u64) {
    let m = crate::runner::run(sc, crate::runner::RunOptions::new(seed, run)).metrics;
    (m.final_state_hash, m.end_time_ms)
}

/// A sweep of `runs` runs as `licsim run --seeds --out` does it (runs folded in run order, a
/// row kept per run for runs.csv); returns a digest of the rows' (state hash, run).
pub fn scenario_sweep(sc: &crate::model::Scenario, seed: u64, runs: u64, threads: usize) -> u64 {
    let opts = crate::sweep::SweepOptions {
        threads: Some(threads),
        keep_rows: true,
        ..crate::sweep::SweepOptions::new(seed, runs)
    };
    let report = crate::sweep::sweep(sc, &opts);
    let r: Vec<(u64, u64)> = report
        .agg
        .csv
        .iter()
        .flatten()
        .map(|r| (r.state_hash, r.run))
        .collect();
    digest(&r)
}

/// A digest of per-seed results in seed order (for comparing sweeps across thread counts).
pub fn digest(results: &[(u64, u64)]) -> u64 {
    let mut h = engine::hash::StableHasher::new();
    for (a, b) in results {
        h.word(*a);
        h.word(*b);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::workload::catalog;

    #[test]
    fn migration_run_is_deterministic() {
        let cat = catalog();
        assert_eq!(migration_run(&cat, 3), migration_run(&cat, 3));
        let sc = migration_scenario();
        assert_eq!(scenario_run(&sc, 1, 2), scenario_run(&sc, 1, 2));
        assert_eq!(scenario_sweep(&sc, 1, 4, 1), scenario_sweep(&sc, 1, 4, 2));
    }
}
