//! Throughput of the `.simlog` codec on a synthetic ~1,000-user run (ignored; run it in release:
//! `cargo test --release -p engine --test log_measure -- --ignored --nocapture`).

use engine::log::{self, Header, Recorder, Stop};
use engine::prelude::*;
use std::sync::Arc;
use std::time::Instant;

/// 1,000 users with direct E1; four static groups of 250 and a dynamic Finance group get E3;
/// the direct E1s are removed in ten hourly waves; E3 is short by 50 seats.
fn run(seed: u64) -> Vec<u8> {
    let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
    let config = SimConfig {
        seed,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(cat.clone(), config.clone());
    let header = Header {
        checkpoint_every: 4 * 1000,
        ..Header::new("measure-1000", &cat, &config)
    };
    let mut rec = Recorder::new(&header);
    let e3 = cat.sku_by_name("ENTERPRISEPACK").unwrap();
    let e1 = cat.sku_by_name("STANDARDPACK").unwrap();
    let units = |enabled| PrepaidUnits {
        enabled,
        ..Default::default()
    };
    let mut t = 0;
    let apply = |rec: &mut Recorder, sim: &mut Sim, t: &mut u64, i: Input| {
        let _ = rec.apply(sim, *t, i);
        *t += 100;
    };
    apply(
        &mut rec,
        &mut sim,
        &mut t,
        Input::SetUnits {
            sku: e3,
            units: units(950),
        },
    );
    apply(
        &mut rec,
        &mut sim,
        &mut t,
        Input::SetUnits {
            sku: e1,
            units: units(1000),
        },
    );
    for u in 0..1000u32 {
        let dept = if u % 5 == 0 { "Finance" } else { "Sales" };
        apply(
            &mut rec,
            &mut sim,
            &mut t,
            Input::CreateUser {
                name: format!("user{u:04}"),
                usage_location: if u % 97 == 0 { None } else { Some(*b"US") },
                proxy_addresses: vec![],
                attributes: vec![("department".into(), dept.into())],
            },
        );
        apply(
            &mut rec,
            &mut sim,
            &mut t,
            Input::AssignUserLicense {
                user: u,
                add: vec![LicenseSpec::new(e1)],
                remove: vec![],
            },
        );
    }
    for g in 0..4u32 {
        apply(
            &mut rec,
            &mut sim,
            &mut t,
            Input::CreateGroup {
                name: format!("team{g}"),
                security_enabled: true,
                source: GroupSource::Cloud,
                rule: None,
                members: (g * 250..(g + 1) * 250).map(Member::User).collect(),
                evaluate_now: false,
            },
        );
        apply(
            &mut rec,
            &mut sim,
            &mut t,
            Input::AssignGroupLicense {
                group: g,
                add: vec![LicenseSpec::new(e3)],
                remove: vec![],
            },
        );
    }
    apply(
        &mut rec,
        &mut sim,
        &mut t,
        Input::CreateGroup {
            name: "finance".into(),
            security_enabled: true,
            source: GroupSource::Cloud,
            rule: Some("user.department -eq \"Finance\"".into()),
            members: vec![],
            evaluate_now: true,
        },
    );
    apply(
        &mut rec,
        &mut sim,
        &mut t,
        Input::AssignGroupLicense {
            group: 4,
            add: vec![LicenseSpec::new(e3)],
            remove: vec![],
        },
    );
    for wave in 0..10u32 {
        let mut t = (wave as u64 + 1) * HOUR;
        for u in wave * 100..(wave + 1) * 100 {
            apply(
                &mut rec,
                &mut sim,
                &mut t,
                Input::AssignUserLicense {
                    user: u,
                    add: vec![],
                    remove: vec![e1],
                },
            );
        }
    }
    rec.run_until_quiescent(&mut sim, 30 * DAY);
    rec.finish(&sim)
}

/// Best wall time of `n` runs. The clock measures the codec here; the simulation never reads it.
#[allow(clippy::disallowed_methods)]
fn best<T>(n: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..n {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed().as_secs_f64());
        out = Some(v);
    }
    (best, out.unwrap())
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn measure_1000_users() {
    let (rec_s, bytes) = best(5, || run(1));
    let events = log::decode_count(&bytes).unwrap();
    let (dec_s, n) = best(10, || log::decode_count(&bytes).unwrap());
    assert_eq!(n, events);
    let (rep_s, r) = best(5, || log::replay(&bytes, Stop::End).unwrap());
    assert!(
        r.divergence.is_none() && r.final_verified,
        "{:?}",
        r.divergence
    );
    let (read_s, _) = best(10, || log::read_log(&bytes).unwrap());
    println!(
        "1,000 users: {events} events, {} bytes, {:.2} B/event; record {:.2}M ev/s; decode-only {:.2}M ev/s; read_log {:.2}M ev/s; replay {:.2}M ev/s ({} checkpoints verified)",
        bytes.len(),
        bytes.len() as f64 / events as f64,
        events as f64 / rec_s / 1e6,
        events as f64 / dec_s / 1e6,
        events as f64 / read_s / 1e6,
        events as f64 / rep_s / 1e6,
        r.checkpoints_verified,
    );
}
