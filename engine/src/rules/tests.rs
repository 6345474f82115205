//! The rules called directly, without a simulator: a catalogue, a few paths and the tenant
//! facts a rule reads, and the decision it returns. Named after the rule ids (SPEC 2).

use super::checks::{self, Candidate, ProxyConflict, check_path};
use super::*;
use crate::catalog::RulesProfile;
use crate::event::*;
use std::cell::Cell;

/// A tenant of the built-in catalogue: disabled set 0 (none) and 1 (`disabled1`), `units` of
/// every SKU with `consumed` taken, and the groups' licences.
struct World {
    catalog: Catalog,
    disabled: Vec<PlanSet>,
    subs: Vec<Subscription>,
    groups: Vec<Vec<License>>,
}

impl World {
    fn new(units: u32) -> World {
        let catalog = Catalog::builtin(RulesProfile::Current);
        let s = Subscription {
            exists: true,
            prepaid: PrepaidUnits {
                enabled: units,
                ..Default::default()
            },
            consumed: 0,
        };
        World {
            subs: vec![s; catalog.skus.len()],
            catalog,
            disabled: vec![PlanSet::EMPTY],
            groups: Vec::new(),
        }
    }
    fn sku(&self, name: &str) -> SkuIdx {
        self.catalog.sku_by_name(name).unwrap()
    }
    fn plan(&self, name: &str) -> u16 {
        self.catalog.plan_by_name(name).unwrap()
    }
    /// Runs `f` with the tenant's facts (at time 1,000).
    fn with<R>(&self, f: impl FnOnce(&Tenant) -> R) -> R {
        let groups = |g: GroupIdx| self.groups.get(g as usize).map(|l| l.as_slice());
        let t = Tenant {
            catalog: &self.catalog,
            disabled_sets: &self.disabled,
            subscriptions: &self.subs,
            default_location: Some(*b"US"),
            group_licenses: &groups,
            group_id: &|_| "",
            now: 1_000,
        };
        f(&t)
    }
}

fn path(sku: SkuIdx, source: Source, state: PathState) -> Path {
    Path {
        sku,
        state,
        error: match state {
            PathState::ActiveWithError => ErrorKind::DependencyViolation,
            _ => ErrorKind::None,
        },
        source,
        disabled: 0,
        updated_ms: 0,
    }
}

fn subject<'a>(paths: &'a [Path], groups: &'a [GroupIdx]) -> Subject<'a> {
    Subject {
        user: 7,
        paths,
        groups,
        usage_location: Some(*b"GB"),
        proxy_conflict: &|| false,
    }
}

/// The (SKU, source, state, error) of each path of a decision.
fn shape(d: &Decision) -> Vec<(SkuIdx, Source, PathState, ErrorKind)> {
    d.paths
        .iter()
        .map(|p| (p.sku, p.source, p.state, p.error))
        .collect()
}

#[test]
fn r11_when_one_sku_of_a_group_fails_the_others_carry_other() {
    let mut w = World::new(10);
    let (e3, ems) = (w.sku("ENTERPRISEPACK"), w.sku("EMS"));
    w.subs[ems as usize].prepaid.enabled = 0;
    w.groups = vec![vec![(e3, 0), (ems, 0)]];
    let mut d = Decision::default();
    let r = w.with(|t| process(t, &subject(&[], &[0]), Focus::Group(0), false, &mut d));
    assert_eq!(r.error, Some(ErrorKind::CountViolation));
    let g = Source::Group(0);
    let mut want = vec![
        (e3, g, PathState::Error, ErrorKind::Other),
        (ems, g, PathState::Error, ErrorKind::CountViolation),
    ];
    want.sort_by_key(|x| (x.0, x.1));
    assert_eq!(shape(&d), want);
    assert_eq!(d.group_paths, vec![(0, 1), (0, 1)]);
}

#[test]
fn r12_a_new_seat_needs_an_assignable_unit_but_a_held_sku_does_not() {
    let mut w = World::new(1);
    let e3 = w.sku("ENTERPRISEPACK");
    w.subs[e3 as usize].consumed = 1;
    w.groups = vec![vec![(e3, 0)]];
    let mut d = Decision::default();
    w.with(|t| process(t, &subject(&[], &[0]), Focus::Group(0), false, &mut d));
    assert_eq!(d.paths[0].error, ErrorKind::CountViolation);
    // The user already consumes E3 (directly): the group path needs no new unit.
    let held = [path(e3, Source::Direct, PathState::Active)];
    w.with(|t| process(t, &subject(&held, &[0]), Focus::Group(0), false, &mut d));
    assert!(d.paths.iter().all(|p| p.state == PathState::Active));
}

#[test]
fn r13_a_path_conflicting_with_another_skus_plan_fails_and_the_applied_one_stays() {
    let mut w = World::new(10);
    let (e1, e3) = (w.sku("STANDARDPACK"), w.sku("ENTERPRISEPACK"));
    w.groups = vec![vec![(e3, 0)]];
    let held = [path(e1, Source::Direct, PathState::Active)];
    let mut d = Decision::default();
    let r = w.with(|t| process(t, &subject(&held, &[0]), Focus::Group(0), false, &mut d));
    assert_eq!(r.error, Some(ErrorKind::MutuallyExclusiveViolation));
    assert_eq!(
        shape(&d),
        vec![
            (e1, Source::Direct, PathState::Active, ErrorKind::None),
            (
                e3,
                Source::Group(0),
                PathState::Error,
                ErrorKind::MutuallyExclusiveViolation
            ),
        ]
    );
    assert_eq!(d.paths[1].updated_ms, 1_000);
}

#[test]
fn r16_a_group_removal_of_the_only_prerequisite_is_blocked() {
    let mut w = World::new(10);
    let (e3, audio) = (w.sku("ENTERPRISEPACK"), w.sku("MCOMEETADV"));
    w.groups = vec![vec![]]; // the group's E3 was removed
    let mut held = [
        path(e3, Source::Group(0), PathState::Active),
        path(audio, Source::Direct, PathState::Active),
    ];
    held.sort_by_key(|p| (p.sku, p.source));
    let mut d = Decision::default();
    let r = w.with(|t| process(t, &subject(&held, &[0]), Focus::Group(0), false, &mut d));
    assert_eq!(r.error, Some(ErrorKind::DependencyViolation));
    let kept = d.paths.iter().find(|p| p.sku == e3).unwrap();
    assert_eq!(kept.state, PathState::ActiveWithError);
    assert!(d.group_paths.is_empty(), "the path stays");
    assert_eq!(
        d.outcomes,
        vec![Outcome::PathSet {
            user: 7,
            sku: e3,
            source: Source::Group(0),
            state: PathState::ActiveWithError,
            error: ErrorKind::DependencyViolation,
        }]
    );
}

#[test]
fn r19_e1_to_e3_in_one_step_swaps_without_a_conflict() {
    let mut w = World::new(10);
    let (e1, e3) = (w.sku("STANDARDPACK"), w.sku("ENTERPRISEPACK"));
    w.groups = vec![vec![(e3, 0)]];
    let held = [path(e1, Source::Group(0), PathState::Active)];
    let mut d = Decision::default();
    let r = w.with(|t| process(t, &subject(&held, &[0]), Focus::Group(0), false, &mut d));
    assert_eq!(r.error, None);
    assert_eq!(
        shape(&d),
        vec![(e3, Source::Group(0), PathState::Active, ErrorKind::None)]
    );
    assert_eq!(d.group_paths, vec![(0, -1), (0, 1)]);
}

#[test]
fn r21_a_retry_step_with_nothing_in_error_writes_nothing() {
    let w = World::new(10);
    let e3 = w.sku("ENTERPRISEPACK");
    let held = [path(e3, Source::Direct, PathState::Active)];
    let mut d = Decision::default();
    let r = w.with(|t| process(t, &subject(&held, &[]), Focus::Retry, false, &mut d));
    assert!(!r.evaluated && !d.write);
}

#[test]
fn r17_and_r24_the_usage_location_is_checked_before_the_units() {
    let mut w = World::new(0);
    w.catalog = {
        let mut spec = w.catalog.spec.clone();
        spec.prohibited = vec![("EXCHANGE_S_ENTERPRISE".into(), vec!["GB".into()])];
        Catalog::build(spec).unwrap()
    };
    let e3 = w.sku("ENTERPRISEPACK");
    let plans = w.catalog.skus[e3 as usize].plans;
    let c = Candidate {
        sku: e3,
        plans: &plans,
        other: &PlanSet::EMPTY,
        all: &plans,
        needs_seat: true,
    };
    let never = || panic!("R18 is checked last");
    let got = w.with(|t| check_path(t, &c, Some(*b"GB"), &mut ProxyConflict::new(&never)));
    assert_eq!(
        got,
        Some((
            ErrorKind::ProhibitedInUsageLocationViolation,
            vec![w.plan("EXCHANGE_S_ENTERPRISE")]
        ))
    );
    let got = w.with(|t| check_path(t, &c, Some(*b"US"), &mut ProxyConflict::new(&never)));
    assert_eq!(got, Some((ErrorKind::CountViolation, vec![])));
}

#[test]
fn r18_the_proxy_question_is_asked_once_and_only_for_mailbox_plans() {
    let w = World::new(10);
    let (e3, audio) = (w.sku("ENTERPRISEPACK"), w.sku("MCOSTANDARD"));
    let asked = Cell::new(0);
    let conflict = || {
        asked.set(asked.get() + 1);
        true
    };
    let mut proxy = ProxyConflict::new(&conflict);
    let check = |sku: SkuIdx, proxy: &mut ProxyConflict| {
        let plans = w.catalog.skus[sku as usize].plans;
        let c = Candidate {
            sku,
            plans: &plans,
            other: &PlanSet::EMPTY,
            all: &plans,
            needs_seat: false,
        };
        w.with(|t| check_path(t, &c, None, proxy))
    };
    assert_eq!(check(audio, &mut proxy), None);
    assert_eq!(asked.get(), 0, "no mailbox plan, no question");
    let got = check(e3, &mut proxy).unwrap();
    assert_eq!(got.0, ErrorKind::UniquenessViolation);
    assert_eq!(got.1, vec![w.plan("EXCHANGE_S_ENTERPRISE")]);
    check(e3, &mut proxy);
    assert_eq!(asked.get(), 1);
}

#[test]
fn r06_a_direct_add_needs_the_users_own_usage_location() {
    let w = World::new(10);
    let e3 = w.sku("ENTERPRISEPACK");
    let mut s = subject(&[], &[]);
    s.usage_location = None;
    let mut d = Decision::default();
    let r = w.with(|t| direct_call(t, &s, &[(e3, 0)], &[], &mut d));
    assert_eq!(r.unwrap_err().error, CallError::InvalidUsageLocation);
    assert!(!d.write);
}

#[test]
fn r07_removing_an_inherited_only_sku_directly_fails() {
    let w = World::new(10);
    let e3 = w.sku("ENTERPRISEPACK");
    let held = [path(e3, Source::Group(0), PathState::Active)];
    let mut d = Decision::default();
    let r = w.with(|t| direct_call(t, &subject(&held, &[0]), &[], &[e3], &mut d));
    assert_eq!(
        r.unwrap_err().error,
        CallError::InheritedLicenseCannotBeRemoved
    );
}

#[test]
fn r05_and_r16_a_direct_call_is_checked_whole_and_applied_in_one_decision() {
    let w = World::new(10);
    let (e1, e3, audio) = (
        w.sku("STANDARDPACK"),
        w.sku("ENTERPRISEPACK"),
        w.sku("MCOMEETADV"),
    );
    let mut held = [
        path(e1, Source::Direct, PathState::Active),
        path(audio, Source::Direct, PathState::Active),
    ];
    held.sort_by_key(|p| (p.sku, p.source));
    // E1 -> E3 in one call: no conflict, one decision.
    let mut d = Decision::default();
    w.with(|t| direct_call(t, &subject(&held, &[]), &[(e3, 0)], &[e1], &mut d))
        .unwrap();
    let skus: Vec<SkuIdx> = d.paths.iter().map(|p| p.sku).collect();
    let mut want = vec![audio, e3];
    want.sort();
    assert_eq!(skus, want);
    // Removing E1 alone would leave Audio Conferencing without Skype or Teams (R16): rejected,
    // nothing to write.
    let r = w.with(|t| direct_call(t, &subject(&held, &[]), &[], &[e1], &mut d));
    assert_eq!(
        r.unwrap_err().error,
        CallError::License(ErrorKind::DependencyViolation)
    );
    assert!(!d.write);
}

#[test]
fn r23_converted_paths_merge_with_the_direct_path_of_the_sku() {
    let w = World::new(10);
    let (e3, audio) = (w.sku("ENTERPRISEPACK"), w.sku("MCOMEETADV"));
    let mut direct = path(e3, Source::Direct, PathState::Active);
    direct.disabled = 1;
    let mut held = [
        direct,
        path(e3, Source::Group(4), PathState::ActiveWithError),
        path(audio, Source::Group(4), PathState::ActiveWithError),
    ];
    held[1].disabled = 2;
    held.sort_by_key(|p| (p.sku, p.source));
    let mut d = Decision::default();
    w.with(|t| convert_to_direct(t, &subject(&held, &[]), 4, &mut d));
    assert_eq!(
        shape(&d)
            .iter()
            .map(|x| (x.0, x.1, x.2))
            .collect::<Vec<_>>(),
        {
            let mut v = vec![
                (e3, Source::Direct, PathState::Active),
                (audio, Source::Direct, PathState::Active),
            ];
            v.sort_by_key(|x| (x.0, x.1));
            v
        }
    );
    assert_eq!(d.merges, vec![(e3, 2, 1)]);
    assert_eq!(d.group_paths, vec![(4, -2)]);
    assert!(d.outcomes.contains(&Outcome::PathConverted {
        user: 7,
        sku: e3,
        group: 4
    }));
}

#[test]
fn r15_a_groups_add_on_needs_its_prerequisite_in_the_same_group() {
    let w = World::new(10);
    let (e3, audio) = (w.sku("ENTERPRISEPACK"), w.sku("MCOMEETADV"));
    let r = w.with(|t| checks::group_dependencies(t, &[(audio, 0)]));
    let rej = r.unwrap_err();
    assert_eq!(rej.error, CallError::DependentServiceMissing);
    assert_eq!(rej.sku, Some(audio));
    assert!(
        w.with(|t| checks::group_dependencies(t, &[(e3, 0), (audio, 0)]))
            .is_ok()
    );
}

#[test]
fn r01_disabled_plans_must_belong_to_the_sku() {
    let w = World::new(10);
    let e3 = w.sku("ENTERPRISEPACK");
    let foreign = LicenseSpec {
        sku: e3,
        disabled: vec![w.plan("INTUNE_A")],
    };
    let r = checks::license_disabled(&w.catalog, &foreign);
    assert_eq!(r.unwrap_err().error, CallError::UnknownPlan);
    let own = LicenseSpec {
        sku: e3,
        disabled: vec![w.plan("SWAY")],
    };
    let set = checks::license_disabled(&w.catalog, &own).unwrap();
    assert!(set.contains(w.plan("SWAY")) && set.len() == 1);
    assert_eq!(
        checks::license_disabled(&w.catalog, &LicenseSpec::new(9999))
            .unwrap_err()
            .error,
        CallError::UnknownSku
    );
}
