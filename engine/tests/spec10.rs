//! SPEC section 10, "Readings pinned where the rules above leave room": the engine-level readings
//! that had no test of their own (issue 13). Each test says which sentence it pins and fails if
//! the engine read it otherwise. `docs/spec10-coverage.md` maps every reading to its test(s).

mod common;
use common::*;
use engine::catalog::CatalogSpec;
use engine::prelude::*;
use std::sync::Arc;

fn fixed(latency_ms: u64) -> Environment {
    Environment {
        processing_latency: Latency::Fixed {
            value_ms: latency_ms,
        },
        concurrency_window_ms: 0,
        ..Environment::default()
    }
}

fn with_prohibited(plan: &str, locs: &[&str]) -> Arc<Catalog> {
    let mut spec = CatalogSpec::builtin(RulesProfile::Current);
    spec.prohibited
        .push((plan.into(), locs.iter().map(|s| s.to_string()).collect()));
    Arc::new(Catalog::build(spec).unwrap())
}

/// (time, user, SKU, source, state, error) of every `PathSet` outcome, in order.
type Set = (u64, UserIdx, SkuIdx, Source, PathState, ErrorKind);

fn path_sets(outs: &[(u64, Outcome)]) -> Vec<Set> {
    outs.iter()
        .filter_map(|(t, o)| match o {
            Outcome::PathSet {
                user,
                sku,
                source,
                state,
                error,
            } => Some((*t, *user, *sku, *source, *state, *error)),
            _ => None,
        })
        .collect()
}

/// Users of the `PathRemoved` outcomes, in order.
fn removed_users(outs: &[(u64, Outcome)]) -> Vec<UserIdx> {
    outs.iter()
        .filter_map(|(_, o)| match o {
            Outcome::PathRemoved { user, .. } => Some(*user),
            _ => None,
        })
        .collect()
}

/// Times at which the group reached `ProcessingComplete`.
fn completions(outs: &[(u64, Outcome)], g: GroupIdx) -> Vec<u64> {
    outs.iter()
        .filter_map(|(t, o)| match o {
            Outcome::GroupState {
                group,
                state: ProcessingState::ProcessingComplete,
            } if *group == g => Some(*t),
            _ => None,
        })
        .collect()
}

fn add_members(t: &mut T, g: GroupIdx, users: &[UserIdx]) {
    t.ok(Input::AddMembers {
        group: g,
        members: users.iter().map(|u| Member::User(*u)).collect(),
    });
}

fn remove_members(t: &mut T, g: GroupIdx, users: &[UserIdx]) {
    t.ok(Input::RemoveMembers {
        group: g,
        members: users.iter().map(|u| Member::User(*u)).collect(),
    });
}

// ---- Workers ------------------------------------------------------------------------------------

#[test]
fn spec10_workers_are_fifo_and_an_items_latency_runs_from_when_the_worker_starts_it() {
    // Pins "FIFO per group" and "one latency draw per item when the worker starts it": items
    // queued one after another are taken in the order queued (not in id order), and an item that
    // waited behind another finishes its latency after it started, not after it became ready.
    let mut t = T::with(RulesProfile::Current, fixed(20_000));
    t.units("ENTERPRISEPACK", 2);
    let c = t.user("c");
    let b = t.user("b");
    let a = t.user("a");
    let g = t.group("g", &[]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.outcomes();
    add_members(&mut t, g, &[c]); // ready at 30s, runs 30s..50s
    t.wait(SECOND);
    add_members(&mut t, g, &[b]); // ready at 31s, starts at 50s, done at 70s
    t.wait(SECOND);
    add_members(&mut t, g, &[a]); // ready at 32s, starts at 70s, done at 90s
    t.settle();
    let e3 = t.sku("ENTERPRISEPACK");
    let g_ = Source::Group(g);
    assert_eq!(
        path_sets(&t.outcomes()),
        vec![
            (50_000, c, e3, g_, PathState::Active, ErrorKind::None),
            (70_000, b, e3, g_, PathState::Active, ErrorKind::None),
            (
                90_000,
                a,
                e3,
                g_,
                PathState::Error,
                ErrorKind::CountViolation
            ),
        ]
    );
}

#[test]
fn spec10_workers_membership_changes_become_ready_after_the_queue_delay() {
    // Pins "an item becomes ready `queue_delay` after it is queued (membership changes too)":
    // with a 30s queue delay and 1s latency, a member added (or removed) at T is processed at
    // T + 31s, not before.
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let a = t.user("a");
    let g = t.group("g", &[]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.wait(HOUR);
    add_members(&mut t, g, &[a]);
    t.wait(30 * SECOND + 999);
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), None);
    t.wait(1);
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    t.wait(HOUR);
    remove_members(&mut t, g, &[a]);
    t.wait(30 * SECOND + 999);
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    t.wait(1);
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), None);
}

#[test]
fn spec10_workers_draw_one_latency_per_item() {
    // Pins "one latency draw per item": with a uniform 1s..20s latency, members of one licence
    // change are finished one after the other, each its own draw after the previous one (a draw
    // per batch would space them all equally).
    let mut t = T::with(
        RulesProfile::Current,
        Environment {
            concurrency_window_ms: 0,
            ..Environment::default()
        },
    );
    t.units("ENTERPRISEPACK", 50);
    let users: Vec<UserIdx> = (0..30).map(|i| t.user(&format!("u{i:02}"))).collect();
    let g = t.group("g", &users);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let times: Vec<u64> = path_sets(&t.outcomes()).iter().map(|s| s.0).collect();
    assert_eq!(times.len(), 30);
    assert!((31_000..=50_000).contains(&times[0]), "{times:?}");
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|d| (1_000..=20_000).contains(d)),
        "{gaps:?}"
    );
    let mut distinct = gaps.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 5, "one draw per item: {gaps:?}");
}

#[test]
fn spec10_workers_a_user_already_queued_is_not_queued_twice() {
    // Pins "a user already queued on that worker is not queued twice": two licence changes and a
    // reprocess before the worker starts give each member one item (and one step that sees both
    // changes), so three members take 30s + 3 x 1s.
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    t.units("EMS", 5);
    let us: Vec<UserIdx> = ["a", "b", "c"].iter().map(|n| t.user(n)).collect();
    let g = t.group("g", &us);
    t.outcomes();
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.group_lic(g, &["EMS"], &[]).unwrap();
    t.ok(Input::ReprocessGroup { group: g });
    t.settle();
    let outs = t.outcomes();
    assert_eq!(completions(&outs, g), vec![33_000]);
    let steps = outs
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Audit(Audit::ChangeUserLicense { .. })))
        .count();
    assert_eq!(steps, 3);
    for u in us {
        assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
        assert_eq!(t.path(u, "EMS", Source::Group(g)), Some(ACTIVE));
    }
}

#[test]
fn spec10_add_and_remove_members_queue_the_changed_users_in_byte_wise_id_order() {
    // Pins "`add_members`/`remove_members` queue the changed users in byte-wise id order": users
    // declared c, B, a and named in that order are processed B, a, c (so under scarcity c is the
    // one short of a unit); a member already in the group is not changed and not queued.
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 2);
    let c = t.user("c");
    let bb = t.user("B");
    let a = t.user("a");
    let g = t.group("g", &[]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.outcomes();
    add_members(&mut t, g, &[c, bb, a]);
    t.settle();
    let order: Vec<UserIdx> = path_sets(&t.outcomes()).iter().map(|s| s.1).collect();
    assert_eq!(order, vec![bb, a, c]);
    assert_eq!(
        t.path(c, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
    // Adding members who are members already changes nothing and queues nobody.
    add_members(&mut t, g, &[c, a]);
    assert_eq!(t.group_state(g), ProcessingState::ProcessingComplete);
    assert_eq!(t.sim.next_job_time(), None);
    remove_members(&mut t, g, &[c, bb, a]);
    t.settle();
    assert_eq!(removed_users(&t.outcomes()), vec![bb, a, c]);
}

// ---- One processing step ------------------------------------------------------------------------

#[test]
fn spec10_a_step_changes_nothing_when_the_groups_intents_equal_the_users_paths() {
    // Pins "One processing step for (user, group) changes nothing when the group's intents for
    // the user equal the user's paths from it": a member removed and added back before its group
    // processes it keeps its path untouched (no path event, no audit, no loss, same
    // lastUpdatedDateTime).
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("u");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let before = t.sim.state().users[u as usize].paths.clone();
    t.wait(HOUR);
    t.outcomes();
    remove_members(&mut t, g, &[u]);
    add_members(&mut t, g, &[u]);
    assert_eq!(t.group_state(g), ProcessingState::QueuedForProcessing);
    t.settle();
    let outs = t.outcomes();
    assert_eq!(completions(&outs, g).len(), 1, "the worker ran");
    assert!(
        !outs.iter().any(|(_, o)| matches!(
            o,
            Outcome::PathSet { .. }
                | Outcome::PathRemoved { .. }
                | Outcome::ServiceLost { .. }
                | Outcome::Consumed { .. }
                | Outcome::Audit(Audit::ChangeUserLicense { .. })
        )),
        "{outs:?}"
    );
    assert_eq!(t.sim.state().users[u as usize].paths, before);
}

#[test]
fn r21_errors_of_several_groups_retried_in_one_step_go_in_group_id_order() {
    // Pins "when errors from several groups are retried in one step (R21), groups go in id
    // order": group "b" (created first) and group "a" hold conflicting SKUs (E3, E1) in error for
    // want of units; units are bought, then a direct call retries both in one step. "a" goes
    // first by id, so its E1 is applied and b's E3 fails with MutuallyExclusiveViolation (the
    // order of creation would give the opposite).
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 0);
    t.units("STANDARDPACK", 0);
    t.units("EMS", 5);
    let u = t.user("u");
    let b = t.group("b", &[u]);
    let a = t.group("a", &[u]);
    t.group_lic(b, &["ENTERPRISEPACK"], &[]).unwrap();
    t.group_lic(a, &["STANDARDPACK"], &[]).unwrap();
    t.settle();
    let cv = Some(err(ErrorKind::CountViolation));
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(b)), cv);
    assert_eq!(t.path(u, "STANDARDPACK", Source::Group(a)), cv);
    t.units("ENTERPRISEPACK", 5);
    t.units("STANDARDPACK", 5);
    t.direct(u, &["EMS"], &[]).unwrap();
    assert_eq!(t.path(u, "STANDARDPACK", Source::Group(a)), Some(ACTIVE));
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(b)),
        Some(err(ErrorKind::MutuallyExclusiveViolation))
    );
    t.check_invariants();
}

#[test]
fn r16_a_blocked_removal_is_kept_and_the_rest_of_the_step_evaluated_again_with_it() {
    // Pins "a removal that would leave an enabled dependent plan without a prerequisite is
    // blocked (R16) and the rest is evaluated again with it kept": the group swaps E3 for
    // SharePoint Plan 1 while the user's Audio Conferencing needs E3's Teams/Skype. E3 stays
    // (ActiveWithError), and SharePoint Plan 1, fine against the end state without E3, is
    // evaluated again with E3 kept and fails against its SharePoint Plan 2.
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    t.units("MCOMEETADV", 5);
    t.units("SHAREPOINTSTANDARD", 5);
    let u = t.user("u");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    t.direct(u, &["MCOMEETADV"], &[]).unwrap();
    t.group_lic(g, &["SHAREPOINTSTANDARD"], &["ENTERPRISEPACK"])
        .unwrap();
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(awe(ErrorKind::DependencyViolation))
    );
    assert_eq!(
        t.path(u, "SHAREPOINTSTANDARD", Source::Group(g)),
        Some(err(ErrorKind::MutuallyExclusiveViolation))
    );
    assert!(t.has_plan(u, "SHAREPOINTENTERPRISE") && !t.has_plan(u, "SHAREPOINTSTANDARD"));
    t.check_invariants();
}

#[test]
fn r11_a_retried_path_that_fails_gives_the_new_sibling_other() {
    // Pins "R11 also covers a path retried in the same step as a newly added sibling: if the
    // retried one fails, the new one gets `Other`": the group's EMS is in error (no units); E3
    // added to the group is evaluated with EMS retried, EMS fails again, E3 carries Other.
    let mut t = T::new();
    t.units("EMS", 0);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("u");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["EMS"], &[]).unwrap();
    t.settle();
    let cv = Some(err(ErrorKind::CountViolation));
    assert_eq!(t.path(u, "EMS", Source::Group(g)), cv);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(t.path(u, "EMS", Source::Group(g)), cv);
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::Other))
    );
    assert_eq!(t.consumed("ENTERPRISEPACK"), 0);
}

#[test]
fn r12_does_not_already_consume_is_read_at_the_start_of_the_step() {
    // Pins "R12 'does not already consume' means at the start of the step": every unit is taken;
    // the group re-assigns E3 with SWAY disabled, which removes the old path and adds the new one
    // in one step. The user consumed E3 at the start of the step, so the new path needs no unit
    // (read after the removal, it would fail with CountViolation).
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 1);
    let u = t.user("u");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1);
    let l = t.lic_without("ENTERPRISEPACK", &["SWAY"]);
    t.ok(Input::AssignGroupLicense {
        group: g,
        add: vec![l],
        remove: vec![],
    });
    t.settle();
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    assert!(!t.has_plan(u, "SWAY") && t.has_plan(u, "EXCHANGE_S_ENTERPRISE"));
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1);
}

#[test]
fn spec10_a_group_re_assigning_a_sku_with_other_disabled_plans_removes_old_and_adds_new_in_one_step()
 {
    // Pins "A group re-assigning a SKU with other disabled plans is remove-old plus add-new in one
    // step": the user keeps one path of the SKU, loses only the newly disabled plan (no gap in
    // anything else), and keeps its seat; and when the new path fails, the old one is gone with
    // it (it is a removal, not a fallback).
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("u");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    t.outcomes();
    let l = t.lic_without("ENTERPRISEPACK", &["SWAY"]);
    t.ok(Input::AssignGroupLicense {
        group: g,
        add: vec![l],
        remove: vec![],
    });
    t.settle();
    let outs = t.outcomes();
    let sway = t.cat.family_by_name("SWAY").unwrap();
    let lost: Vec<u16> = outs
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::ServiceLost { family, .. } => Some(*family),
            _ => None,
        })
        .collect();
    assert_eq!(lost, vec![sway]);
    let step_times: Vec<u64> = outs
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::PathSet { .. } | Outcome::PathRemoved { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(step_times.len(), 2, "one removal and one new path");
    assert_eq!(step_times[0], step_times[1], "in one step");
    assert!(
        !outs
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Consumed { .. }))
    );
    assert_eq!(t.sim.state().users[u as usize].paths.len(), 1);
    assert!(!t.has_plan(u, "SWAY"));

    // The new path fails (the user moved to a country where Exchange is prohibited, which
    // nothing re-checked): the old path is removed in the same step.
    let cat = with_prohibited("EXCHANGE_S_ENTERPRISE", &["KP"]);
    let mut t = T::with_catalog(cat, fixed(1000), TenantConfig::default());
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("u");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    t.ok(Input::SetUsageLocation {
        user: u,
        location: Some(*b"KP"),
    });
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    let l = t.lic_without("ENTERPRISEPACK", &["SWAY"]);
    t.ok(Input::AssignGroupLicense {
        group: g,
        add: vec![l],
        remove: vec![],
    });
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::ProhibitedInUsageLocationViolation))
    );
    assert_eq!(t.consumed("ENTERPRISEPACK"), 0);
}

// ---- R05 order ----------------------------------------------------------------------------------

#[test]
fn r05_order_usage_location_comes_before_the_removals() {
    // Pins "R05 order: R06 (only if the call adds), then R07 and `LicenseNotAssigned`": a user
    // without a usage location whose call adds EMS and removes an inherited-only E3 gets
    // InvalidUsageLocation; with a location, the same call fails on R07.
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    t.units("EMS", 5);
    let u = t.user_at("nolo", None);
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let e = t.direct(u, &["EMS"], &["ENTERPRISEPACK"]).unwrap_err();
    assert_eq!(e.error, CallError::InvalidUsageLocation);
    t.ok(Input::SetUsageLocation {
        user: u,
        location: Some(*b"US"),
    });
    let e = t.direct(u, &["EMS"], &["ENTERPRISEPACK"]).unwrap_err();
    assert_eq!(e.error, CallError::InheritedLicenseCannotBeRemoved);
}

#[test]
fn r05_order_removals_come_before_the_checks_of_the_added_skus() {
    // Pins "then R07 and `LicenseNotAssigned` (removing a SKU the user does not hold at all),
    // then per added SKU": EMS has no unit to give, but the call's removal is reported first.
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    t.units("EMS", 0);
    let u = t.user("u");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let e = t.direct(u, &["EMS"], &["STANDARDPACK"]).unwrap_err();
    assert_eq!(e.error, CallError::LicenseNotAssigned);
    let e = t.direct(u, &["EMS"], &["ENTERPRISEPACK"]).unwrap_err();
    assert_eq!(e.error, CallError::InheritedLicenseCannotBeRemoved);
    let e = t.direct(u, &["EMS"], &[]).unwrap_err();
    assert_eq!(e.error, CallError::License(ErrorKind::CountViolation));
}

#[test]
fn r05_order_each_added_sku_in_r24_order_then_r16_on_the_removals() {
    // Pins "then per added SKU in R24's order, then R16 on what the call removes": the first
    // added SKU that fails is reported with its own first failing check (EMS short of units
    // listed first: CountViolation, although E3 fails the earlier location check), and an added
    // SKU's failure comes before the call's removal of a prerequisite (R16).
    let cat = with_prohibited("EXCHANGE_S_ENTERPRISE", &["KP"]);
    let mut t = T::with_catalog(cat, fixed(1000), TenantConfig::default());
    t.units("ENTERPRISEPACK", 5);
    t.units("EMS", 0);
    let kim = t.user_at("kim", Some(*b"KP"));
    let e = t.direct(kim, &["EMS", "ENTERPRISEPACK"], &[]).unwrap_err();
    assert_eq!(
        (e.error, e.sku),
        (
            CallError::License(ErrorKind::CountViolation),
            Some(t.sku("EMS"))
        )
    );
    let e = t.direct(kim, &["ENTERPRISEPACK", "EMS"], &[]).unwrap_err();
    assert_eq!(
        (e.error, e.sku),
        (
            CallError::License(ErrorKind::ProhibitedInUsageLocationViolation),
            Some(t.sku("ENTERPRISEPACK"))
        )
    );
    // R16 last: removing E3 would leave Audio Conferencing without Teams or Skype.
    t.units("MCOMEETADV", 5);
    let u = t.user("u");
    t.direct(u, &["ENTERPRISEPACK", "MCOMEETADV"], &[]).unwrap();
    let e = t.direct(u, &["EMS"], &["ENTERPRISEPACK"]).unwrap_err();
    assert_eq!(e.error, CallError::License(ErrorKind::CountViolation));
    t.units("EMS", 5);
    let e = t.direct(u, &["EMS"], &["ENTERPRISEPACK"]).unwrap_err();
    assert_eq!(e.error, CallError::License(ErrorKind::DependencyViolation));
    assert!(t.sim.state().users[u as usize].paths.len() == 2);
}

// ---- R23, R26 -------------------------------------------------------------------------------------

#[test]
fn r23_conversion_keeps_disabled_only_the_plans_both_paths_disabled() {
    // Pins "R23: converting to direct merges with an existing direct path of the SKU
    // (intersection of disabled plans)" with two non-empty sets: direct E3 without {SWAY, TEAMS1,
    // MCOSTANDARD}, the group's E3 without {SWAY, YAMMER_ENTERPRISE}: the merged direct path
    // disables SWAY only.
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    t.units("MCOMEETADV", 5);
    let u = t.user("u");
    let g = t.group("g", &[u]);
    let l = t.lic_without("ENTERPRISEPACK", &["SWAY", "YAMMER_ENTERPRISE"]);
    t.ok(Input::AssignGroupLicense {
        group: g,
        add: vec![l],
        remove: vec![],
    });
    t.settle();
    t.direct(u, &["MCOMEETADV"], &[]).unwrap();
    t.group_lic(g, &[], &["ENTERPRISEPACK"]).unwrap();
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(awe(ErrorKind::DependencyViolation))
    );
    let l = t.lic_without("ENTERPRISEPACK", &["SWAY", "TEAMS1", "MCOSTANDARD"]);
    t.ok(Input::AssignUserLicense {
        user: u,
        add: vec![l],
        remove: vec![],
    });
    t.ok(Input::DeleteGroup { group: g });
    let e3 = t.sku("ENTERPRISEPACK");
    let paths: Vec<&Path> = t.sim.state().users[u as usize]
        .paths
        .iter()
        .filter(|p| p.sku == e3)
        .collect();
    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0].source, Source::Direct);
    assert_eq!(paths[0].state, PathState::Active);
    assert!(!t.has_plan(u, "SWAY"));
    for p in ["TEAMS1", "MCOSTANDARD", "YAMMER_ENTERPRISE"] {
        assert!(t.has_plan(u, p), "{p}");
    }
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1);
    t.check_invariants();
}

fn dynamic(t: &mut T, name: &str, rule: &str) -> GroupIdx {
    t.ok(Input::CreateGroup {
        name: name.into(),
        security_enabled: true,
        source: GroupSource::Cloud,
        rule: Some(rule.into()),
        members: vec![],
        evaluate_now: true,
    });
    t.sim.state().group(name).unwrap()
}

#[test]
fn r26_an_attribute_change_is_evaluated_by_every_dynamic_group_whose_rule_uses_it() {
    // Pins "An attribute change schedules the evaluation of every dynamic group whose rule uses
    // it" (after `dynamic_evaluation_delay`): one change moves the user out of one group and into
    // another, both after the delay.
    let mut t = T::new();
    let f = t.user_attrs("f", &[("department", "Finance"), ("country", "US")]);
    let fin = dynamic(&mut t, "fin", r#"user.department -eq "Finance""#);
    let sales = dynamic(&mut t, "sales", r#"user.department -eq "Sales""#);
    let us = dynamic(&mut t, "us", r#"user.country -eq "US""#);
    let members = |t: &T, g: GroupIdx| t.sim.state().groups[g as usize].members.contains(&f);
    assert!(members(&t, fin) && !members(&t, sales) && members(&t, us));
    t.ok(Input::SetAttribute {
        user: f,
        key: "department".into(),
        value: Some("Sales".into()),
    });
    t.wait(5 * MINUTE - 1);
    assert!(members(&t, fin) && !members(&t, sales));
    t.wait(1);
    assert!(!members(&t, fin) && members(&t, sales) && members(&t, us));
}

#[test]
fn r26_add_and_remove_members_on_a_dynamic_group_are_rejected() {
    // Pins "`add_members`/`remove_members` on a dynamic group are rejected".
    let mut t = T::new();
    let f = t.user_attrs("f", &[("department", "Finance")]);
    let s = t.user_attrs("s", &[("department", "Sales")]);
    let fin = dynamic(&mut t, "fin", r#"user.department -eq "Finance""#);
    for (add, who) in [(true, s), (false, f)] {
        let members = vec![Member::User(who)];
        let i = if add {
            Input::AddMembers {
                group: fin,
                members,
            }
        } else {
            Input::RemoveMembers {
                group: fin,
                members,
            }
        };
        assert_eq!(t.rejected(i), CallError::DynamicGroupMembership);
    }
    let m = &t.sim.state().groups[fin as usize].members;
    assert!(m.contains(&f) && !m.contains(&s));
}

// ---- JSON ---------------------------------------------------------------------------------------

#[test]
fn spec10_json_subscribed_skus_and_members_with_license_errors() {
    // Pins "JSON: `subscribedSkus` lists the tenant's subscriptions [...] by part number;
    // `membersWithLicenseErrors` lists users holding an `Error`/`ActiveWithError` path from the
    // group": a subscription with no unit is listed, a SKU without one is not; a user in Error
    // and a former member still holding an ActiveWithError path are listed, by id.
    let mut t = T::new();
    t.units("STANDARDPACK", 5);
    t.units("ENTERPRISEPACK", 5);
    t.units("MCOMEETADV", 5);
    t.units("EMS", 0);
    let zoe = t.user("zoe");
    let bob = t.user("bob");
    let al = t.user("al");
    t.direct(bob, &["STANDARDPACK"], &[]).unwrap();
    let g = t.group("g", &[zoe, bob, al]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    t.direct(zoe, &["MCOMEETADV"], &[]).unwrap();
    remove_members(&mut t, g, &[zoe]);
    t.settle();
    assert_eq!(
        t.path(zoe, "ENTERPRISEPACK", Source::Group(g)),
        Some(awe(ErrorKind::DependencyViolation))
    );
    let j = t.sim.state_json();
    let skus: Vec<&str> = j["subscribedSkus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["skuPartNumber"].as_str().unwrap())
        .collect();
    assert_eq!(
        skus,
        ["EMS", "ENTERPRISEPACK", "MCOMEETADV", "STANDARDPACK"]
    );
    assert_eq!(j["subscribedSkus"][0]["consumedUnits"], 0);
    assert_eq!(j["groups"][0]["id"], "g");
    assert_eq!(
        j["groups"][0]["membersWithLicenseErrors"],
        serde_json::json!(["bob", "zoe"])
    );
}
