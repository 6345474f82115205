//! Times the 1,000-user direct-to-group migration through the engine API (no scenario parsing).
//! `cargo run --release -p engine --example migrate1000`
use engine::prelude::*;
use std::sync::Arc;

fn run(cat: &Arc<Catalog>, seed: u64, record: bool) -> (u64, usize) {
    let mut sim = Sim::new(
        cat.clone(),
        SimConfig {
            seed,
            ..SimConfig::default()
        },
    );
    sim.record_inputs = record;
    sim.record_outcomes = record;
    let e3 = cat.sku_by_name("ENTERPRISEPACK").unwrap();
    let mut n = 0;
    sim.apply(
        0,
        Input::SetUnits {
            sku: e3,
            units: PrepaidUnits {
                enabled: 1000,
                ..Default::default()
            },
        },
    )
    .unwrap();
    for i in 1..=1000u32 {
        sim.apply(
            0,
            Input::CreateUser {
                name: format!("user{i:04}"),
                usage_location: Some(*b"US"),
                proxy_addresses: vec![],
                attributes: vec![],
            },
        )
        .unwrap();
        sim.apply(
            0,
            Input::AssignUserLicense {
                user: i - 1,
                add: vec![LicenseSpec::new(e3)],
                remove: vec![],
            },
        )
        .unwrap();
    }
    sim.apply(
        0,
        Input::CreateGroup {
            name: "all-users".into(),
            security_enabled: true,
            source: GroupSource::Cloud,
            rule: None,
            members: (0..1000).map(Member::User).collect(),
            evaluate_now: false,
        },
    )
    .unwrap();
    sim.apply(
        0,
        Input::AssignGroupLicense {
            group: 0,
            add: vec![LicenseSpec::new(e3)],
            remove: vec![],
        },
    )
    .unwrap();
    sim.run_until_quiescent(30 * DAY);
    let mut t = sim.now();
    for w in 0..10u32 {
        for u in w * 100..(w + 1) * 100 {
            sim.apply(
                t,
                Input::AssignUserLicense {
                    user: u,
                    add: vec![],
                    remove: vec![e3],
                },
            )
            .unwrap();
        }
        t += HOUR;
        n += sim.take_events().len();
    }
    sim.run_until_quiescent(30 * DAY);
    n += sim.take_events().len();
    (sim.state_hash(), n)
}

#[allow(clippy::disallowed_methods)] // timing a benchmark, outside the simulation
fn main() {
    let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
    for record in [true, false] {
        let start = std::time::Instant::now();
        let mut events = 0;
        let runs = std::env::var("RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200);
        for s in 0..runs {
            events = run(&cat, s, record).1;
        }
        let el = start.elapsed();
        println!(
            "record={record}: {:.3} ms per run, {} events per run, {:.0} events/s",
            el.as_secs_f64() * 1000.0 / runs as f64,
            events,
            (events * runs as usize) as f64 / el.as_secs_f64()
        );
    }
}
