//! The seed documents' stories as end-to-end engine tests, and the determinism test.

mod common;
use common::*;
use engine::prelude::*;

/// Folds outcome events: the highest consumption of a SKU and every loss of a family.
struct Watch {
    peak: u32,
    lost: Vec<(UserIdx, u16)>,
}

fn watch(t: &mut T, sku: SkuIdx, w: &mut Watch) {
    for (_, o) in t.outcomes() {
        match o {
            Outcome::Consumed { sku: s, consumed } if s == sku => w.peak = w.peak.max(consumed),
            Outcome::ServiceLost { user, family } => w.lost.push((user, family)),
            _ => {}
        }
    }
}

#[test]
fn story_direct_to_group_1000_users_in_waves() {
    let mut t = T::with(
        RulesProfile::Current,
        Environment {
            concurrency_window_ms: 0,
            ..Environment::default()
        }, // uniform 1-20s latency
    );
    let e3 = t.sku("ENTERPRISEPACK");
    t.units("ENTERPRISEPACK", 1000);
    let users: Vec<UserIdx> = (1..=1000).map(|i| t.user(&format!("user{i:04}"))).collect();
    for u in &users {
        t.direct(*u, &["ENTERPRISEPACK"], &[]).unwrap();
    }
    let mut w = Watch {
        peak: 0,
        lost: Vec::new(),
    };
    watch(&mut t, e3, &mut w);
    assert_eq!(w.peak, 1000);
    let g = t.group("all-users", &users);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    watch(&mut t, e3, &mut w);
    assert_eq!(t.group_state(g), ProcessingState::ProcessingComplete);
    for wave in users.chunks(100) {
        for u in wave {
            t.direct(*u, &[], &["ENTERPRISEPACK"]).unwrap();
        }
        t.wait(HOUR);
        watch(&mut t, e3, &mut w);
    }
    t.settle();
    watch(&mut t, e3, &mut w);
    assert_eq!(w.peak, 1000, "consumption never above 1,000");
    assert!(
        w.lost.is_empty(),
        "no user without Exchange (or anything) at any time: {:?}",
        &w.lost[..w.lost.len().min(5)]
    );
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1000);
    for u in &users {
        assert_eq!(t.path(*u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
        assert_eq!(t.path(*u, "ENTERPRISEPACK", Source::Direct), None);
    }
    assert!(t.sim.state().users.iter().all(|u| !u.in_error()));
    t.check_invariants();
}

fn e1_group(n: usize) -> (T, Vec<UserIdx>, GroupIdx) {
    let mut t = T::new();
    t.units("STANDARDPACK", n as u32);
    t.units("ENTERPRISEPACK", n as u32);
    let users: Vec<UserIdx> = (0..n).map(|i| t.user(&format!("u{i:03}"))).collect();
    let g = t.group("sales", &users);
    t.group_lic(g, &["STANDARDPACK"], &[]).unwrap();
    t.settle();
    t.outcomes();
    (t, users, g)
}

fn errors_and_losses(t: &mut T) -> (usize, usize) {
    let outs = t.outcomes();
    let errors = outs
        .iter()
        .filter(|(_, o)| {
            matches!(
                o,
                Outcome::PathSet {
                    state: PathState::Error,
                    ..
                }
            )
        })
        .count();
    let losses = outs
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::ServiceLost { .. }))
        .count();
    (errors, losses)
}

#[test]
fn story_e1_to_e3_one_call_versus_two_calls() {
    let (mut t, users, g) = e1_group(50);
    t.group_lic(g, &["ENTERPRISEPACK"], &["STANDARDPACK"])
        .unwrap();
    t.settle();
    assert_eq!(errors_and_losses(&mut t), (0, 0));
    assert_eq!(t.consumed("STANDARDPACK"), 0);
    assert_eq!(t.consumed("ENTERPRISEPACK"), 50);

    let (mut t, users2, g) = e1_group(50);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let (errors, _) = errors_and_losses(&mut t);
    assert_eq!(errors, 50);
    assert_eq!(
        t.path(users2[0], "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::MutuallyExclusiveViolation))
    );
    // Then removing E1 from the group heals E3 in the same step (R21): still no gap.
    t.group_lic(g, &[], &["STANDARDPACK"]).unwrap();
    t.settle();
    assert_eq!(errors_and_losses(&mut t).1, 0);
    assert_eq!(
        t.path(users2[0], "ENTERPRISEPACK", Source::Group(g)),
        Some(ACTIVE)
    );

    let (mut t, _, g) = e1_group(50);
    t.group_lic(g, &[], &["STANDARDPACK"]).unwrap();
    t.settle();
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let (errors, losses) = errors_and_losses(&mut t);
    assert_eq!(errors, 0);
    assert!(
        losses >= 50 * 2,
        "every user loses at least exchange and sharepoint: {losses}"
    );
    let _ = users;
}

#[test]
fn story_direct_e1_user_joins_e3_group_then_e1_removed() {
    let mut t = T::new();
    t.units("STANDARDPACK", 10);
    t.units("ENTERPRISEPACK", 10);
    let u = t.user("dave");
    t.direct(u, &["STANDARDPACK"], &[]).unwrap();
    let g = t.group("e3", &[]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    t.ok(Input::AddMembers {
        group: g,
        members: vec![Member::User(u)],
    });
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::MutuallyExclusiveViolation))
    );
    assert_eq!(
        t.sim.state_json()["groups"][0]["membersWithLicenseErrors"][0],
        "dave"
    );
    t.outcomes();
    t.direct(u, &[], &["STANDARDPACK"]).unwrap();
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    assert_eq!(errors_and_losses(&mut t), (0, 0));
}

#[test]
fn story_ems_out_of_units_then_freed_seats_do_not_heal_but_reprocess_does() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 10);
    t.units("EMS", 3);
    let users: Vec<UserIdx> = (0..5).map(|i| t.user(&format!("u{i}"))).collect();
    let g = t.group("e3-ems", &users);
    t.group_lic(g, &["ENTERPRISEPACK", "EMS"], &[]).unwrap();
    t.settle();
    assert_eq!(t.consumed("EMS"), 3);
    assert_eq!(t.consumed("ENTERPRISEPACK"), 3);
    assert_eq!(
        t.path(users[4], "EMS", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
    assert_eq!(
        t.path(users[4], "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::Other))
    );
    t.ok(Input::RemoveMembers {
        group: g,
        members: vec![Member::User(users[0])],
    });
    t.units("EMS", 10);
    t.settle();
    assert_eq!(
        t.path(users[4], "EMS", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
    t.ok(Input::ReprocessGroup { group: g });
    t.settle();
    assert_eq!(t.path(users[4], "EMS", Source::Group(g)), Some(ACTIVE));
    assert_eq!(
        t.path(users[4], "ENTERPRISEPACK", Source::Group(g)),
        Some(ACTIVE)
    );
    assert_eq!(t.consumed("EMS"), 4);
    t.check_invariants();
}

/// Builds a mixed run and returns (state hash, outcome sequence).
fn mixed_run(seed: u64) -> (u64, Vec<TimedEvent>) {
    let cat = std::sync::Arc::new(Catalog::builtin(RulesProfile::Current));
    let mut sim = Sim::new(
        cat.clone(),
        SimConfig {
            seed,
            ..SimConfig::default()
        },
    );
    let e3 = cat.sku_by_name("ENTERPRISEPACK").unwrap();
    let ems = cat.sku_by_name("EMS").unwrap();
    sim.apply(
        0,
        Input::SetUnits {
            sku: e3,
            units: PrepaidUnits {
                enabled: 40,
                ..Default::default()
            },
        },
    )
    .unwrap();
    sim.apply(
        0,
        Input::SetUnits {
            sku: ems,
            units: PrepaidUnits {
                enabled: 30,
                ..Default::default()
            },
        },
    )
    .unwrap();
    for i in 0..50 {
        let _ = sim.apply(
            0,
            Input::CreateUser {
                name: format!("u{i:02}"),
                usage_location: Some(*b"US"),
                proxy_addresses: vec![],
                attributes: vec![(
                    "department".into(),
                    if i % 3 == 0 {
                        "Finance".into()
                    } else {
                        "Sales".into()
                    },
                )],
            },
        );
    }
    sim.apply(
        0,
        Input::CreateGroup {
            name: "all".into(),
            security_enabled: true,
            source: GroupSource::Cloud,
            rule: None,
            members: (0..50).map(Member::User).collect(),
            evaluate_now: false,
        },
    )
    .unwrap();
    sim.apply(
        0,
        Input::CreateGroup {
            name: "fin".into(),
            security_enabled: true,
            source: GroupSource::Cloud,
            rule: Some("department == \"Finance\"".into()),
            members: vec![],
            evaluate_now: true,
        },
    )
    .unwrap();
    sim.apply(
        1000,
        Input::AssignGroupLicense {
            group: 0,
            add: vec![LicenseSpec::new(e3)],
            remove: vec![],
        },
    )
    .unwrap();
    sim.apply(
        2000,
        Input::AssignGroupLicense {
            group: 1,
            add: vec![LicenseSpec::new(ems), LicenseSpec::new(e3)],
            remove: vec![],
        },
    )
    .unwrap();
    sim.apply(
        600_000,
        Input::SetAttribute {
            user: 4,
            key: "department".into(),
            value: Some("Finance".into()),
        },
    )
    .unwrap();
    sim.run_until_quiescent(30 * DAY);
    (sim.state_hash(), sim.take_events())
}

#[test]
fn determinism_same_events_same_hash_and_outcomes() {
    let (h1, e1) = mixed_run(7);
    let (h2, e2) = mixed_run(7);
    assert_eq!(h1, h2);
    assert_eq!(e1, e2);
    let (h3, e3) = mixed_run(8);
    // Another seed draws other latencies: the timing differs.
    assert_ne!(e1, e3);
    let _ = h3;
}
