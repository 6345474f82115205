//! Criterion benchmarks of the engine's hot paths (issue 5): one user's evaluation, one group
//! processing step, the codec on one record, the state hash. `cargo bench -p engine`.
//! The tenant-scale figures are `licsim bench`'s.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use engine::prelude::*;
use std::sync::Arc;

/// A tenant of `n` users with direct E3 (half of them), E1 + E3 through groups of 100, settled.
fn tenant(n: u32) -> Sim {
    let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
    let sku = |s: &str| cat.sku_by_name(s).unwrap();
    let (e1, e3, ems) = (sku("STANDARDPACK"), sku("ENTERPRISEPACK"), sku("EMS"));
    let mut sim = Sim::new(cat.clone(), SimConfig::default());
    sim.record_inputs = false;
    for s in [e1, e3, ems] {
        let units = PrepaidUnits {
            enabled: n,
            ..Default::default()
        };
        sim.apply(0, Input::SetUnits { sku: s, units }).unwrap();
    }
    for i in 0..n {
        sim.apply(
            0,
            Input::CreateUser {
                name: format!("user{i:06}"),
                usage_location: Some(*b"US"),
                proxy_addresses: vec![],
                attributes: vec![("department".into(), "Sales".into())],
            },
        )
        .unwrap();
        if i % 2 == 0 {
            let add = vec![LicenseSpec::new(e3)];
            sim.apply(
                0,
                Input::AssignUserLicense {
                    user: i,
                    add,
                    remove: vec![],
                },
            )
            .unwrap();
        }
    }
    for g in 0..n.div_ceil(100) {
        let members = (g * 100..((g + 1) * 100).min(n))
            .map(Member::User)
            .collect();
        sim.apply(
            0,
            Input::CreateGroup {
                name: format!("group{g:04}"),
                security_enabled: true,
                source: GroupSource::Cloud,
                rule: None,
                members,
                evaluate_now: false,
            },
        )
        .unwrap();
        let add = if g % 3 == 2 {
            vec![LicenseSpec::new(e1)]
        } else {
            vec![LicenseSpec::new(e3), LicenseSpec::new(ems)]
        };
        sim.apply(
            0,
            Input::AssignGroupLicense {
                group: g,
                add,
                remove: vec![],
            },
        )
        .unwrap();
    }
    sim.run_until_quiescent(30 * DAY);
    sim.clear_events();
    sim
}

fn user_evaluation(c: &mut Criterion) {
    // `reprocess user` (R22): one processing step of one user over all its groups, with the
    // seat and service-family bookkeeping around it. User 4 holds direct E3 and E3 + EMS from
    // its group; user 204 holds direct E3 and is in an E1 group (its E1 path is in error, R13).
    let mut sim = tenant(1_000);
    for u in [4u32, 204] {
        c.bench_function(&format!("user_evaluation/reprocess_user_{u}"), |b| {
            b.iter(|| {
                let t = sim.now();
                sim.apply(t, Input::ReprocessUser { user: black_box(u) })
                    .unwrap();
                sim.clear_events();
            })
        });
    }
}

fn group_step(c: &mut Criterion) {
    // One group-processing step through the worker: a member re-queued by `reprocess group` on
    // a group of one, then the worker runs (start, the step, complete).
    let mut sim = tenant(1_000);
    sim.apply(
        sim.now(),
        Input::CreateGroup {
            name: "solo".into(),
            security_enabled: true,
            source: GroupSource::Cloud,
            rule: None,
            members: vec![Member::User(4)],
            evaluate_now: false,
        },
    )
    .unwrap();
    let g = sim.state().groups.len() as GroupIdx - 1;
    let e3 = sim.catalog().sku_by_name("ENTERPRISEPACK").unwrap();
    sim.apply(
        sim.now(),
        Input::AssignGroupLicense {
            group: g,
            add: vec![LicenseSpec::new(e3)],
            remove: vec![],
        },
    )
    .unwrap();
    sim.run_until_quiescent(sim.now() + DAY);
    sim.clear_events();
    c.bench_function("group_step/reprocess_group_of_one", |b| {
        b.iter(|| {
            let t = sim.now();
            sim.apply(t, Input::ReprocessGroup { group: g }).unwrap();
            sim.run_until_quiescent(t + DAY);
            sim.clear_events();
        })
    });
}

fn codec(c: &mut Criterion) {
    let outcome = TimedEvent {
        time_ms: 123_456_789,
        event: Event::Outcome(Outcome::PathSet {
            user: 123_456,
            sku: 3,
            source: Source::Group(4_321),
            state: PathState::Active,
            error: ErrorKind::None,
        }),
    };
    let input = TimedEvent {
        time_ms: 123_456_789,
        event: Event::Input(Input::CreateUser {
            name: "u00123456".into(),
            usage_location: Some(*b"US"),
            proxy_addresses: vec![],
            attributes: vec![("department".into(), "Finance".into())],
        }),
    };
    for (name, e) in [("path_set", &outcome), ("create_user", &input)] {
        let mut buf = Vec::with_capacity(256);
        c.bench_function(&format!("codec/encode_{name}"), |b| {
            b.iter(|| {
                buf.clear();
                engine::codec::encode_into(black_box(e), &mut buf);
                black_box(buf.len())
            })
        });
        let bytes = engine::codec::encode(e);
        c.bench_function(&format!("codec/decode_{name}"), |b| {
            b.iter(|| {
                let d: TimedEvent = engine::codec::decode_exact(black_box(&bytes)).unwrap();
                d
            })
        });
    }
}

fn state_hash(c: &mut Criterion) {
    let sim = tenant(1_000);
    c.bench_function("state_hash/1000_users", |b| {
        b.iter(|| black_box(sim.state()).hash())
    });
}

criterion_group!(benches, user_evaluation, group_step, codec, state_hash);
criterion_main!(benches);
