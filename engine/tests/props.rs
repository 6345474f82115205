//! Property tests over random event sequences: SPEC section 9 invariants 1-4 hold after every
//! event, and no seat is ever granted while `consumed >= enabled + warning`.

use engine::prelude::*;
use proptest::prelude::*;
use std::sync::Arc;

const SKUS: [&str; 6] = [
    "STANDARDPACK",
    "ENTERPRISEPACK",
    "EMS",
    "MCOMEETADV",
    "WORKPLACE_ANALYTICS",
    "ENTERPRISEPREMIUM",
];
const USERS: u32 = 6;
const GROUPS: u32 = 3;

#[derive(Clone, Debug)]
enum Op {
    Units(usize, u32),
    Direct(u32, Vec<usize>, Vec<usize>),
    GroupLic(u32, Vec<usize>, Vec<usize>),
    Add(u32, u32),
    Remove(u32, u32),
    Reprocess(u32),
    ReprocessGroup(u32),
    Location(u32, bool),
    DeleteUser(u32),
    DeleteGroup(u32),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let sku = 0..SKUS.len();
    let skus = proptest::collection::vec(0..SKUS.len(), 1..3);
    let one = proptest::collection::vec(0..SKUS.len(), 1..2);
    let none = Just(Vec::<usize>::new());
    prop_oneof![
        1 => (sku.clone(), 0u32..6).prop_map(|(s, n)| Op::Units(s, n)),
        3 => (0..USERS, skus.clone(), none.clone()).prop_map(|(u, a, r)| Op::Direct(u, a, r)),
        1 => (0..USERS, none.clone(), one.clone()).prop_map(|(u, a, r)| Op::Direct(u, a, r)),
        1 => (0..USERS, one.clone(), one.clone()).prop_map(|(u, a, r)| Op::Direct(u, a, r)),
        3 => (0..GROUPS, skus.clone(), none.clone()).prop_map(|(g, a, r)| Op::GroupLic(g, a, r)),
        1 => (0..GROUPS, none, one.clone()).prop_map(|(g, a, r)| Op::GroupLic(g, a, r)),
        1 => (0..GROUPS, one.clone(), one).prop_map(|(g, a, r)| Op::GroupLic(g, a, r)),
        2 => (0..GROUPS, 0..USERS).prop_map(|(g, u)| Op::Add(g, u)),
        1 => (0..GROUPS, 0..USERS).prop_map(|(g, u)| Op::Remove(g, u)),
        1 => (0..USERS).prop_map(Op::Reprocess),
        1 => (0..GROUPS).prop_map(Op::ReprocessGroup),
        1 => (0..USERS, any::<bool>()).prop_map(|(u, b)| Op::Location(u, b)),
        1 => (0..USERS).prop_map(Op::DeleteUser),
        1 => (0..GROUPS).prop_map(Op::DeleteGroup),
        1 => (0u64..120_000).prop_map(Op::Wait),
    ]
}

fn to_input(cat: &Catalog, op: &Op) -> Option<Input> {
    let sku = |i: &usize| cat.sku_by_name(SKUS[*i]).unwrap();
    let lic = |v: &Vec<usize>| -> Vec<LicenseSpec> {
        let mut v: Vec<SkuIdx> = v.iter().map(sku).collect();
        v.sort();
        v.dedup();
        v.into_iter().map(LicenseSpec::new).collect()
    };
    let rem = |v: &Vec<usize>| -> Vec<SkuIdx> {
        let mut v: Vec<SkuIdx> = v.iter().map(sku).collect();
        v.sort();
        v.dedup();
        v
    };
    Some(match op {
        Op::Units(s, n) => Input::SetUnits {
            sku: sku(s),
            units: PrepaidUnits {
                enabled: *n,
                ..Default::default()
            },
        },
        Op::Direct(u, a, r) => Input::AssignUserLicense {
            user: *u,
            add: lic(a),
            remove: rem(r),
        },
        Op::GroupLic(g, a, r) => Input::AssignGroupLicense {
            group: *g,
            add: lic(a),
            remove: rem(r),
        },
        Op::Add(g, u) => Input::AddMembers {
            group: *g,
            members: vec![Member::User(*u)],
        },
        Op::Remove(g, u) => Input::RemoveMembers {
            group: *g,
            members: vec![Member::User(*u)],
        },
        Op::Reprocess(u) => Input::ReprocessUser { user: *u },
        Op::ReprocessGroup(g) => Input::ReprocessGroup { group: *g },
        Op::Location(u, b) => Input::SetUsageLocation {
            user: *u,
            location: if *b { Some(*b"US") } else { None },
        },
        Op::DeleteUser(u) => Input::DeleteUser { user: *u },
        Op::DeleteGroup(g) => Input::DeleteGroup { group: *g },
        Op::Wait(_) => return None,
    })
}

fn run(ops: &[Op], concurrency: bool) -> Result<(), TestCaseError> {
    let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
    let environment = Environment {
        concurrency_window_ms: if concurrency { 5_000 } else { 0 },
        ..Environment::default()
    };
    let mut sim = Sim::new(
        cat.clone(),
        SimConfig {
            environment,
            ..SimConfig::default()
        },
    );
    for i in 0..USERS {
        sim.apply(
            0,
            Input::CreateUser {
                name: format!("u{i}"),
                usage_location: Some(*b"US"),
                proxy_addresses: vec![],
                attributes: vec![],
            },
        )
        .unwrap();
    }
    for g in 0..GROUPS {
        sim.apply(
            0,
            Input::CreateGroup {
                name: format!("g{g}"),
                security_enabled: true,
                source: GroupSource::Cloud,
                rule: None,
                members: vec![],
                evaluate_now: false,
            },
        )
        .unwrap();
    }
    let mut assignable: Vec<u32> = vec![0; cat.skus.len()];
    for s in SKUS {
        let sku = cat.sku_by_name(s).unwrap();
        sim.apply(
            0,
            Input::SetUnits {
                sku,
                units: PrepaidUnits {
                    enabled: 3,
                    ..Default::default()
                },
            },
        )
        .unwrap();
        assignable[sku as usize] = 3;
    }
    sim.clear_events();
    let mut t = 0u64;
    let mut last_consumed: Vec<u32> = vec![0; cat.skus.len()];
    for op in ops {
        if let Op::Wait(ms) = op {
            t += ms;
            sim.advance_to(t);
        } else if let Some(i) = to_input(&cat, op) {
            let _ = sim.apply(t, i);
        }
        // Seats: every increase of consumedUnits must stay within assignable units.
        for e in sim.pending_events() {
            match &e.event {
                Event::Input(Input::SetUnits { sku, units }) => {
                    assignable[*sku as usize] = units.assignable()
                }
                Event::Outcome(Outcome::Consumed { sku, consumed }) => {
                    let s = *sku as usize;
                    if *consumed > last_consumed[s] {
                        prop_assert!(
                            *consumed <= assignable[s],
                            "seat granted beyond assignable units: {} > {}",
                            consumed,
                            assignable[s]
                        );
                    }
                    last_consumed[s] = *consumed;
                }
                _ => {}
            }
        }
        sim.clear_events();
        let v = engine::invariants::check(&cat, sim.state());
        prop_assert!(v.is_empty(), "after {:?}: {:?}", op, v);
    }
    sim.run_until_quiescent(t + 30 * DAY);
    let v = engine::invariants::check(&cat, sim.state());
    prop_assert!(v.is_empty(), "at quiescence: {:?}", v);
    // Intent is never lost: at quiescence every group is complete, so R30 covers every member.
    for g in &sim.state().groups {
        if g.alive {
            prop_assert_eq!(g.state, ProcessingState::ProcessingComplete);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn invariants_hold_after_every_event(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops, false)?;
    }

    #[test]
    fn invariants_hold_with_concurrency_retries(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops, true)?;
    }
}
