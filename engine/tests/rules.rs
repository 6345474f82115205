//! One test (at least) per rule of SPEC section 2, named after the rule id. Each fails when its
//! rule is broken.

mod common;
use common::*;
use engine::catalog::CatalogSpec;
use engine::prelude::*;
use std::sync::Arc;

fn lost(outs: &[(u64, Outcome)], cat: &Catalog, family: &str) -> usize {
    let f = cat.family_by_name(family).unwrap();
    outs.iter()
        .filter(|(_, o)| matches!(o, Outcome::ServiceLost { family, .. } if *family == f))
        .count()
}

#[test]
fn r01_catalogue_rejects_unknown_skus_and_foreign_disabled_plans() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let bad = Input::AssignUserLicense {
        user: u,
        add: vec![LicenseSpec::new(9999)],
        remove: vec![],
    };
    assert_eq!(t.rejected(bad), CallError::UnknownSku);
    // A plan of EMS disabled in E3: not a plan of that SKU.
    let foreign = LicenseSpec {
        sku: t.sku("ENTERPRISEPACK"),
        disabled: vec![t.plan("INTUNE_A")],
    };
    let r = t
        .apply(Input::AssignUserLicense {
            user: u,
            add: vec![foreign],
            remove: vec![],
        })
        .unwrap_err();
    assert_eq!(r.error, CallError::UnknownPlan);
    assert_eq!(t.sim.state().users[u as usize].paths.len(), 0);
    let g = t.group("g", &[u]);
    let foreign = LicenseSpec {
        sku: t.sku("ENTERPRISEPACK"),
        disabled: vec![t.plan("INTUNE_A")],
    };
    let r = t.apply(Input::AssignGroupLicense {
        group: g,
        add: vec![foreign],
        remove: vec![],
    });
    assert_eq!(r.unwrap_err().error, CallError::UnknownPlan);
    assert!(t.sim.state().groups[g as usize].licenses.is_empty());
}

#[test]
fn r02_assignable_units_are_enabled_plus_warning_and_shrinking_keeps_seats() {
    let mut t = T::new();
    let e3 = t.sku("ENTERPRISEPACK");
    t.ok(Input::SetUnits {
        sku: e3,
        units: PrepaidUnits {
            enabled: 1,
            warning: 1,
            suspended: 5,
            locked_out: 5,
        },
    });
    let us: Vec<UserIdx> = ["a", "b", "c"].iter().map(|n| t.user(n)).collect();
    t.direct(us[0], &["ENTERPRISEPACK"], &[]).unwrap();
    t.direct(us[1], &["ENTERPRISEPACK"], &[]).unwrap(); // a warning unit is assignable
    let e = t.direct(us[2], &["ENTERPRISEPACK"], &[]).unwrap_err();
    assert_eq!(e.error, CallError::License(ErrorKind::CountViolation));
    // Units removed below consumption: existing seats stay, new ones fail.
    t.ok(Input::SetUnits {
        sku: e3,
        units: PrepaidUnits {
            enabled: 0,
            ..Default::default()
        },
    });
    assert_eq!(t.consumed("ENTERPRISEPACK"), 2);
    assert_eq!(
        t.path(us[0], "ENTERPRISEPACK", Source::Direct),
        Some(ACTIVE)
    );
    assert!(t.direct(us[2], &["ENTERPRISEPACK"], &[]).is_err());
}

#[test]
fn r03_one_seat_per_user_per_sku_whatever_the_paths() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 1);
    let u = t.user("alice");
    t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap();
    let g1 = t.group("g1", &[u]);
    let g2 = t.group("g2", &[u]);
    t.group_lic(g1, &["ENTERPRISEPACK"], &[]).unwrap();
    t.group_lic(g2, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g1)), Some(ACTIVE));
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g2)), Some(ACTIVE));
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1);
    t.check_invariants();
}

#[test]
fn r04_enabled_plans_are_the_union_of_applied_paths() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g1 = t.group("g1", &[u]);
    let g2 = t.group("g2", &[u]);
    let a = t.lic_without("ENTERPRISEPACK", &["EXCHANGE_S_ENTERPRISE"]);
    let b = t.lic_without("ENTERPRISEPACK", &["SHAREPOINTENTERPRISE"]);
    t.ok(Input::AssignGroupLicense {
        group: g1,
        add: vec![a],
        remove: vec![],
    });
    t.settle();
    assert!(!t.has_plan(u, "EXCHANGE_S_ENTERPRISE"));
    t.ok(Input::AssignGroupLicense {
        group: g2,
        add: vec![b],
        remove: vec![],
    });
    t.settle();
    assert!(t.has_plan(u, "EXCHANGE_S_ENTERPRISE"));
    assert!(t.has_plan(u, "SHAREPOINTENTERPRISE"));
    // Graph: the user's disabledPlans are the intersection of the paths' disabled plans.
    let j = t.sim.state_json();
    let lic = &j["users"][0]["assignedLicenses"][0];
    assert_eq!(lic["skuPartNumber"], "ENTERPRISEPACK");
    assert_eq!(lic["disabledPlans"].as_array().unwrap().len(), 0);
    assert_eq!(
        j["users"][0]["licenseAssignmentStates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn r05_direct_call_is_atomic_and_readding_replaces_disabled_plans() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    // EMS has no subscription: the whole call fails, E3 is not applied either.
    let e = t.direct(u, &["ENTERPRISEPACK", "EMS"], &[]).unwrap_err();
    assert_eq!(e.error, CallError::License(ErrorKind::CountViolation));
    assert_eq!(e.sku, Some(t.sku("EMS")));
    assert!(t.sim.state().users[u as usize].paths.is_empty());
    assert_eq!(t.consumed("ENTERPRISEPACK"), 0);
    // Errors are never stored on the user for a direct call.
    t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap();
    let l = t.lic_without("ENTERPRISEPACK", &["SWAY"]);
    t.ok(Input::AssignUserLicense {
        user: u,
        add: vec![l],
        remove: vec![],
    });
    assert!(!t.has_plan(u, "SWAY"));
    let l = t.lic("ENTERPRISEPACK");
    t.ok(Input::AssignUserLicense {
        user: u,
        add: vec![l],
        remove: vec![],
    });
    assert!(t.has_plan(u, "SWAY"));
    assert_eq!(t.sim.state().users[u as usize].paths.len(), 1);
}

#[test]
fn r06_direct_add_needs_the_users_own_usage_location() {
    let mut t = T::new(); // tenant default is US, but direct calls do not fall back to it
    t.units("ENTERPRISEPACK", 5);
    let u = t.user_at("nolo", None);
    let e = t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap_err();
    assert_eq!(e.error, CallError::InvalidUsageLocation);
    t.ok(Input::SetUsageLocation {
        user: u,
        location: Some(*b"GB"),
    });
    t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap();
    // A call that only removes needs none.
    t.ok(Input::SetUsageLocation {
        user: u,
        location: None,
    });
    t.direct(u, &[], &["ENTERPRISEPACK"]).unwrap();
}

#[test]
fn r07_removing_an_inherited_only_sku_directly_fails() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let e = t.direct(u, &[], &["ENTERPRISEPACK"]).unwrap_err();
    assert_eq!(e.error, CallError::InheritedLicenseCannotBeRemoved);
    let e = t.direct(u, &[], &["EMS"]).unwrap_err();
    assert_eq!(e.error, CallError::LicenseNotAssigned);
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
}

#[test]
fn r08_group_assignment_is_accepted_then_processed() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    t.ok(Input::CreateGroup {
        name: "dl".into(),
        security_enabled: false,
        source: GroupSource::Cloud,
        rule: None,
        members: vec![Member::User(u)],
        evaluate_now: false,
    });
    let dl = t.sim.state().group("dl").unwrap();
    assert_eq!(
        t.group_lic(dl, &["ENTERPRISEPACK"], &[]).unwrap_err().error,
        CallError::GroupNotSecurityEnabled
    );
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    // Accepted at once; the member is not licensed until the worker processes it.
    assert_eq!(t.sim.state().groups[g as usize].licenses.len(), 1);
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), None);
    t.settle();
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
}

#[test]
fn r09_members_of_a_member_group_get_nothing() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let a = t.user("a");
    let b = t.user("b");
    let inner = t.group("inner", &[b]);
    let outer = t.group("outer", &[a]);
    t.ok(Input::AddMembers {
        group: outer,
        members: vec![Member::Group(inner)],
    });
    t.group_lic(outer, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(
        t.path(a, "ENTERPRISEPACK", Source::Group(outer)),
        Some(ACTIVE)
    );
    assert!(t.sim.state().users[b as usize].paths.is_empty());
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1);
}

fn with_prohibited(plan: &str, locs: &[&str]) -> Arc<Catalog> {
    let mut spec = CatalogSpec::builtin(RulesProfile::Current);
    spec.prohibited
        .push((plan.into(), locs.iter().map(|s| s.to_string()).collect()));
    Arc::new(Catalog::build(spec).unwrap())
}

fn env() -> Environment {
    Environment {
        processing_latency: Latency::Fixed { value_ms: 1000 },
        concurrency_window_ms: 0,
        ..Environment::default()
    }
}

#[test]
fn r10_group_paths_use_the_tenant_default_location_without_writing_it_back() {
    let cat = with_prohibited("EXCHANGE_S_ENTERPRISE", &["KP"]);
    let tenant = TenantConfig {
        default_usage_location: Some(*b"KP"),
        ..TenantConfig::default()
    };
    let mut t = T::with_catalog(cat, env(), tenant);
    t.units("ENTERPRISEPACK", 5);
    let nolo = t.user_at("nolo", None);
    let gb = t.user_at("gb", Some(*b"GB"));
    let g = t.group("g", &[nolo, gb]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    // The user without a location is evaluated in the tenant's KP; the GB user in GB.
    assert_eq!(
        t.path(nolo, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::ProhibitedInUsageLocationViolation))
    );
    assert_eq!(t.path(gb, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    assert_eq!(t.sim.state().users[nolo as usize].usage_location, None);
}

#[test]
fn r11_all_or_nothing_per_user_per_group() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    t.units("EMS", 0);
    let u = t.user("alice");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK", "EMS"], &[]).unwrap();
    t.settle();
    assert_eq!(
        t.path(u, "EMS", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::Other))
    );
    assert_eq!(t.consumed("ENTERPRISEPACK"), 0);
}

#[test]
fn r11_a_path_already_applied_stays_when_a_later_sku_fails() {
    let mut t = T::new();
    t.units("STANDARDPACK", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["STANDARDPACK"], &[]).unwrap();
    t.settle();
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(t.path(u, "STANDARDPACK", Source::Group(g)), Some(ACTIVE));
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::MutuallyExclusiveViolation))
    );
}

#[test]
fn r11_several_failing_skus_each_carry_their_own_error() {
    let mut t = T::new();
    t.units("STANDARDPACK", 5);
    t.units("EMS", 0);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    t.direct(u, &["STANDARDPACK"], &[]).unwrap();
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK", "EMS", "AAD_PREMIUM_P2"], &[])
        .unwrap();
    t.units("AAD_PREMIUM_P2", 5);
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::MutuallyExclusiveViolation))
    );
    assert_eq!(
        t.path(u, "EMS", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
    assert_eq!(
        t.path(u, "AAD_PREMIUM_P2", Source::Group(g)),
        Some(err(ErrorKind::Other))
    );
}

#[test]
fn r12_count_violation_first_come_first_served_in_byte_wise_id_order() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 2);
    // Declared c, B, a: byte-wise order is "B" < "a" < "c".
    let c = t.user("c");
    let bb = t.user("B");
    let a = t.user("a");
    let g = t.group("g", &[c, bb, a]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(t.path(bb, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    assert_eq!(
        t.path(c, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
    assert_eq!(t.consumed("ENTERPRISEPACK"), 2);
    // A user who already consumes the SKU needs no new unit.
    t.direct(c, &[], &[]).unwrap();
    let d = t.group("d", &[a]);
    t.group_lic(d, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(d)), Some(ACTIVE));
}

#[test]
fn r13_mutually_exclusive_plans_through_different_skus() {
    let mut t = T::new();
    t.units("STANDARDPACK", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    t.direct(u, &["STANDARDPACK"], &[]).unwrap();
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::MutuallyExclusiveViolation))
    );
    assert_eq!(t.path(u, "STANDARDPACK", Source::Direct), Some(ACTIVE));
    assert_eq!(t.consumed("ENTERPRISEPACK"), 0);
    // Direct: the same conflict is a synchronous rejection naming the plans.
    let e = t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap_err();
    assert_eq!(
        e.error,
        CallError::License(ErrorKind::MutuallyExclusiveViolation)
    );
    let names: Vec<&str> = e
        .plans
        .iter()
        .map(|p| t.cat.plan(*p).name.as_str())
        .collect();
    assert!(
        names.contains(&"SHAREPOINTENTERPRISE") && names.contains(&"SHAREPOINTSTANDARD"),
        "{names:?}"
    );
}

#[test]
fn r13_the_same_plan_through_two_skus_is_no_conflict() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    t.units("ENTERPRISEPREMIUM", 5);
    let u = t.user("alice");
    t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap();
    t.direct(u, &["ENTERPRISEPREMIUM"], &[]).unwrap(); // SHAREPOINTENTERPRISE in both
    assert_eq!(t.sim.state().users[u as usize].paths.len(), 2);
}

#[test]
fn r13_profiles_legacy_puts_exchange_plan_2_in_the_exchange_set() {
    for (profile, conflict) in [(RulesProfile::Current, false), (RulesProfile::Legacy, true)] {
        let mut t = T::with(profile, env());
        t.units("EXCHANGESTANDARD", 5);
        t.units("EXCHANGEENTERPRISE", 5);
        let u = t.user("alice");
        t.direct(u, &["EXCHANGESTANDARD"], &[]).unwrap();
        let r = t.direct(u, &["EXCHANGEENTERPRISE"], &[]);
        assert_eq!(r.is_err(), conflict, "{profile:?}");
    }
}

#[test]
fn r14_dependency_violation_on_add() {
    let mut t = T::new();
    t.units("MCOMEETADV", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let e = t.direct(u, &["MCOMEETADV"], &[]).unwrap_err();
    assert_eq!(e.error, CallError::License(ErrorKind::DependencyViolation));
    // With the prerequisite in the same call (end state), it is accepted.
    t.direct(u, &["ENTERPRISEPACK", "MCOMEETADV"], &[]).unwrap();
    // A group path whose dependent plan lacks a prerequisite on the user fails too.
    let v = t.user("victor");
    let g = t.group("g", &[v]);
    let wa = t.lic("WORKPLACE_ANALYTICS");
    let e3 = t.lic_without("ENTERPRISEPACK", &["EXCHANGE_S_ENTERPRISE"]);
    t.units("WORKPLACE_ANALYTICS", 5);
    // R15 rejects it at the group; so give the group Exchange and the user a direct E3 without it.
    let r = t.apply(Input::AssignGroupLicense {
        group: g,
        add: vec![wa, e3],
        remove: vec![],
    });
    assert_eq!(r.unwrap_err().error, CallError::DependentServiceMissing);
}

#[test]
fn r15_add_ons_need_their_prerequisites_in_the_same_group() {
    let mut t = T::new();
    t.units("WORKPLACE_ANALYTICS", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap(); // Exchange on the user does not help
    let g = t.group("g", &[u]);
    let e = t.group_lic(g, &["WORKPLACE_ANALYTICS"], &[]).unwrap_err();
    assert_eq!(e.error, CallError::DependentServiceMissing);
    let names: Vec<&str> = e
        .plans
        .iter()
        .map(|p| t.cat.plan(*p).name.as_str())
        .collect();
    assert_eq!(names[0], "WORKPLACE_ANALYTICS");
    assert!(names[1].starts_with("EXCHANGE_S_"));
    assert!(t.sim.state().groups[g as usize].licenses.is_empty());
    t.group_lic(g, &["WORKPLACE_ANALYTICS", "ENTERPRISEPACK"], &[])
        .unwrap();
    t.settle();
    assert_eq!(
        t.path(u, "WORKPLACE_ANALYTICS", Source::Group(g)),
        Some(ACTIVE)
    );
}

#[test]
fn r16_group_driven_removal_of_a_prerequisite_is_blocked() {
    let mut t = T::new();
    t.units("MCOMEETADV", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    t.direct(u, &["MCOMEETADV"], &[]).unwrap();
    t.ok(Input::RemoveMembers {
        group: g,
        members: vec![Member::User(u)],
    });
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(awe(ErrorKind::DependencyViolation))
    );
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1);
    assert!(t.has_plan(u, "TEAMS1"));
    // Once the dependency is gone, the user is processed again (R21) and the path goes.
    t.direct(u, &[], &["MCOMEETADV"]).unwrap();
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), None);
    assert_eq!(t.consumed("ENTERPRISEPACK"), 0);
}

#[test]
fn r16_direct_removal_of_a_prerequisite_is_rejected() {
    let mut t = T::new();
    t.units("MCOMEETADV", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    t.direct(u, &["ENTERPRISEPACK", "MCOMEETADV"], &[]).unwrap();
    let e = t.direct(u, &[], &["ENTERPRISEPACK"]).unwrap_err();
    assert_eq!(e.error, CallError::License(ErrorKind::DependencyViolation));
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Direct), Some(ACTIVE));
    // Removing both in one call is fine.
    t.direct(u, &[], &["ENTERPRISEPACK", "MCOMEETADV"]).unwrap();
}

#[test]
fn r17_prohibited_in_usage_location() {
    let cat = with_prohibited("EXCHANGE_S_ENTERPRISE", &["kp"]);
    let mut t = T::with_catalog(cat, env(), TenantConfig::default());
    t.units("ENTERPRISEPACK", 5);
    t.units("EMS", 5);
    let u = t.user_at("kim", Some(*b"KP"));
    let e = t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap_err();
    assert_eq!(
        e.error,
        CallError::License(ErrorKind::ProhibitedInUsageLocationViolation)
    );
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK", "EMS"], &[]).unwrap();
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::ProhibitedInUsageLocationViolation))
    );
    assert_eq!(
        t.path(u, "EMS", Source::Group(g)),
        Some(err(ErrorKind::Other))
    );
    // Fixing the location does not heal by itself (R21); a reprocess does (R22).
    t.ok(Input::SetUsageLocation {
        user: u,
        location: Some(*b"US"),
    });
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::ProhibitedInUsageLocationViolation))
    );
    t.ok(Input::ReprocessUser { user: u });
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
}

#[test]
fn r18_uniqueness_violation_on_duplicate_proxy_address() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    t.units("EMS", 5);
    let a = t.user("alice");
    t.ok(Input::CreateUser {
        name: "alicia".into(),
        usage_location: Some(*b"US"),
        proxy_addresses: vec!["SMTP:Alice@Contoso.example".into()],
        attributes: vec![],
    });
    let b = t.sim.state().user("alicia").unwrap();
    let e = t.direct(b, &["ENTERPRISEPACK"], &[]).unwrap_err();
    assert_eq!(e.error, CallError::License(ErrorKind::UniquenessViolation));
    t.direct(b, &["EMS"], &[]).unwrap(); // no mailbox plan: no check
    let g = t.group("g", &[a]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(
        t.path(a, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::UniquenessViolation))
    );
    t.ok(Input::SetProxyAddresses {
        user: b,
        addresses: vec!["smtp:alicia@contoso.example".into()],
    });
    t.ok(Input::ReprocessUser { user: a });
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
}

#[test]
fn r19_simultaneous_swap_one_call_has_no_gap_two_calls_do() {
    // One call: E1 -> E3 on the group.
    let mut t = T::new();
    t.units("STANDARDPACK", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["STANDARDPACK"], &[]).unwrap();
    t.settle();
    t.outcomes();
    t.group_lic(g, &["ENTERPRISEPACK"], &["STANDARDPACK"])
        .unwrap();
    t.settle();
    let outs = t.outcomes();
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    assert_eq!(t.path(u, "STANDARDPACK", Source::Group(g)), None);
    assert_eq!(
        lost(&outs, &t.cat, "sharepoint") + lost(&outs, &t.cat, "exchange"),
        0
    );
    assert!(
        !outs
            .iter()
            .any(|(_, o)| matches!(o, Outcome::ServiceLost { .. })),
        "{outs:?}"
    );

    // Two calls, add first: MutuallyExclusiveViolation.
    let mut t = T::new();
    t.units("STANDARDPACK", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["STANDARDPACK"], &[]).unwrap();
    t.settle();
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::MutuallyExclusiveViolation))
    );

    // Two calls, remove first: a gap (loss of service).
    let mut t = T::new();
    t.units("STANDARDPACK", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["STANDARDPACK"], &[]).unwrap();
    t.settle();
    t.outcomes();
    t.group_lic(g, &[], &["STANDARDPACK"]).unwrap();
    t.settle();
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let outs = t.outcomes();
    assert_eq!(lost(&outs, &t.cat, "exchange"), 1);
    assert_eq!(lost(&outs, &t.cat, "sharepoint"), 1);
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
}

#[test]
fn r20_membership_changes_and_user_deletion() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let a = t.user("a");
    let b = t.user("b");
    let g = t.group("g", &[a]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    t.ok(Input::AddMembers {
        group: g,
        members: vec![Member::User(b)],
    });
    t.settle();
    assert_eq!(t.path(b, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    t.ok(Input::RemoveMembers {
        group: g,
        members: vec![Member::User(a)],
    });
    t.settle();
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), None);
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1);
    t.ok(Input::DeleteUser { user: b });
    assert_eq!(t.consumed("ENTERPRISEPACK"), 0);
    assert!(t.sim.state().groups[g as usize].members.is_empty());
    let outs = t.outcomes();
    assert!(
        !outs
            .iter()
            .any(|(_, o)| matches!(o, Outcome::ServiceLost { user, .. } if *user == b))
    );
    t.check_invariants();
}

#[test]
fn r21_errors_are_evaluated_again_when_the_users_paths_change() {
    let mut t = T::new();
    t.units("STANDARDPACK", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    t.direct(u, &["STANDARDPACK"], &[]).unwrap();
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::MutuallyExclusiveViolation))
    );
    t.outcomes();
    t.direct(u, &[], &["STANDARDPACK"]).unwrap();
    // Same step: no gap in SharePoint or Exchange.
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    let outs = t.outcomes();
    assert!(
        !outs
            .iter()
            .any(|(_, o)| matches!(o, Outcome::ServiceLost { .. })),
        "{outs:?}"
    );
}

#[test]
fn r21_freed_seats_and_bought_units_do_not_heal() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 1);
    let a = t.user("a");
    let b = t.user("b");
    let g = t.group("g", &[a, b]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(
        t.path(b, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
    t.ok(Input::DeleteUser { user: a });
    t.units("ENTERPRISEPACK", 10);
    t.wait(DAY);
    assert_eq!(
        t.path(b, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
    // Re-assigning an unchanged licence retries nothing.
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(
        t.path(b, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
}

#[test]
fn r22_reprocess_user_and_group() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 0);
    let a = t.user("a");
    let b = t.user("b");
    let g = t.group("g", &[a, b]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    t.units("ENTERPRISEPACK", 10);
    t.ok(Input::ReprocessUser { user: a }); // synchronous
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    assert_eq!(
        t.path(b, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
    t.ok(Input::ReprocessGroup { group: g }); // queued
    assert_eq!(t.group_state(g), ProcessingState::QueuedForProcessing);
    assert_eq!(
        t.path(b, "ENTERPRISEPACK", Source::Group(g)),
        Some(err(ErrorKind::CountViolation))
    );
    t.settle();
    assert_eq!(t.path(b, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
}

#[test]
fn r22_reprocess_group_covers_that_groups_paths_only() {
    // SPEC 10: each member's step re-evaluates the reprocessed group's paths; another group's
    // Error path of the same user waits for its own group.
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 0);
    t.units("EMS", 0);
    let a = t.user("a");
    let g = t.group("g", &[a]);
    let h = t.group("h", &[a]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.group_lic(h, &["EMS"], &[]).unwrap();
    t.settle();
    let cv = Some(err(ErrorKind::CountViolation));
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), cv);
    assert_eq!(t.path(a, "EMS", Source::Group(h)), cv);
    t.units("ENTERPRISEPACK", 5);
    t.units("EMS", 5);
    t.ok(Input::ReprocessGroup { group: g });
    t.settle();
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    assert_eq!(
        t.path(a, "EMS", Source::Group(h)),
        cv,
        "h's path waits for h"
    );
    t.ok(Input::ReprocessGroup { group: h });
    t.settle();
    assert_eq!(t.path(a, "EMS", Source::Group(h)), Some(ACTIVE));
}

#[test]
fn r08_group_call_removing_an_unheld_sku_is_ignored_and_its_adds_apply() {
    // SPEC 10: R08 checks only R15 synchronously; removing a SKU the group does not hold is
    // ignored (no rejection), and the call's adds apply.
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let a = t.user("a");
    let g = t.group("g", &[a]);
    t.group_lic(g, &["ENTERPRISEPACK"], &["STANDARDPACK"])
        .expect("accepted");
    t.settle();
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    // A call that only removes an unheld SKU leaves the licences unchanged: nothing is queued.
    t.group_lic(g, &[], &["STANDARDPACK"]).expect("accepted");
    assert_eq!(t.group_state(g), ProcessingState::ProcessingComplete);
}

#[test]
fn r08_group_call_that_leaves_licences_unchanged_queues_no_member() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let a = t.user("a");
    let g = t.group("g", &[a]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let before = t.sim.state().users[a as usize].paths.clone();
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    assert_eq!(t.group_state(g), ProcessingState::ProcessingComplete);
    assert_eq!(t.sim.next_job_time(), None, "no member queued");
    assert_eq!(t.sim.state().users[a as usize].paths, before);
}

#[test]
fn r20_membership_and_direct_calls_naming_a_deleted_user_are_rejected() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let a = t.user("a");
    let b = t.user("b");
    let g = t.group("g", &[]);
    t.ok(Input::DeleteUser { user: b });
    assert_eq!(
        t.rejected(Input::AddMembers {
            group: g,
            members: vec![Member::User(b)]
        }),
        CallError::UnknownUser
    );
    let e3 = t.sku("ENTERPRISEPACK");
    assert_eq!(
        t.rejected(Input::AssignUserLicense {
            user: b,
            add: vec![LicenseSpec::new(e3)],
            remove: vec![]
        }),
        CallError::UnknownUser
    );
    t.ok(Input::AddMembers {
        group: g,
        members: vec![Member::User(a)],
    });
}

fn audio_setup(on_delete: OnGroupDelete) -> (T, UserIdx, GroupIdx) {
    let tenant = TenantConfig {
        on_group_delete: on_delete,
        ..TenantConfig::default()
    };
    let mut t = T::with_catalog(
        Arc::new(Catalog::builtin(RulesProfile::Current)),
        env(),
        tenant,
    );
    t.units("MCOMEETADV", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    t.direct(u, &["MCOMEETADV"], &[]).unwrap();
    (t, u, g)
}

#[test]
fn r23_group_with_licenses_or_processing_cannot_be_deleted_and_paths_convert_to_direct() {
    let (mut t, u, g) = audio_setup(OnGroupDelete::ConvertToDirect);
    assert_eq!(
        t.rejected(Input::DeleteGroup { group: g }),
        CallError::GroupHasLicenses
    );
    t.group_lic(g, &[], &["ENTERPRISEPACK"]).unwrap();
    // Removal still being processed.
    assert_eq!(
        t.rejected(Input::DeleteGroup { group: g }),
        CallError::GroupProcessingInProgress
    );
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(awe(ErrorKind::DependencyViolation))
    );
    t.ok(Input::DeleteGroup { group: g });
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Direct), Some(ACTIVE));
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), None);
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1);
    t.check_invariants();
}

#[test]
fn r23_keep_error_leaves_the_path_active_with_error() {
    let (mut t, u, g) = audio_setup(OnGroupDelete::KeepError);
    t.group_lic(g, &[], &["ENTERPRISEPACK"]).unwrap();
    t.settle();
    t.ok(Input::DeleteGroup { group: g });
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(awe(ErrorKind::DependencyViolation))
    );
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Direct), None);
}

#[test]
fn r23_conversion_merges_with_an_existing_direct_path() {
    let (mut t, u, g) = audio_setup(OnGroupDelete::ConvertToDirect);
    let l = t.lic_without("ENTERPRISEPACK", &["SWAY", "YAMMER_ENTERPRISE"]);
    t.ok(Input::AssignUserLicense {
        user: u,
        add: vec![l],
        remove: vec![],
    });
    t.ok(Input::AssignGroupLicense {
        group: g,
        add: vec![t.lic_without("ENTERPRISEPACK", &["SWAY"])],
        remove: vec![],
    });
    t.settle();
    t.group_lic(g, &[], &["ENTERPRISEPACK"]).unwrap();
    t.settle();
    // The direct E3 still provides Teams: no blocked removal, nothing to convert.
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), None);
    // Now remove the direct E3's prerequisite role: block via group, then delete.
    let (mut t, u, g) = audio_setup(OnGroupDelete::ConvertToDirect);
    t.group_lic(g, &[], &["ENTERPRISEPACK"]).unwrap();
    t.settle();
    // Give the user a direct E3 without Teams and Skype: it cannot satisfy Audio Conferencing.
    let l = t.lic_without("ENTERPRISEPACK", &["SWAY", "TEAMS1", "MCOSTANDARD"]);
    t.ok(Input::AssignUserLicense {
        user: u,
        add: vec![l],
        remove: vec![],
    });
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(awe(ErrorKind::DependencyViolation))
    );
    t.ok(Input::DeleteGroup { group: g });
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), None);
    // Intersection of disabled plans: the group path disabled nothing, so nothing is disabled.
    assert!(t.has_plan(u, "SWAY") && t.has_plan(u, "TEAMS1"));
    assert_eq!(
        t.sim.state().users[u as usize]
            .paths
            .iter()
            .filter(|p| p.source == Source::Direct)
            .count(),
        2
    );
}

#[test]
fn r24_order_of_checks_first_failure_wins() {
    // location before units
    let cat = with_prohibited("EXCHANGE_S_ENTERPRISE", &["KP"]);
    let mut t = T::with_catalog(cat, env(), TenantConfig::default());
    t.units("ENTERPRISEPACK", 0);
    let u = t.user_at("kim", Some(*b"KP"));
    assert_eq!(
        t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap_err().error,
        CallError::License(ErrorKind::ProhibitedInUsageLocationViolation)
    );
    // units before mutual exclusion
    let mut t = T::new();
    t.units("STANDARDPACK", 5);
    t.units("ENTERPRISEPACK", 0);
    let u = t.user("a");
    t.direct(u, &["STANDARDPACK"], &[]).unwrap();
    assert_eq!(
        t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap_err().error,
        CallError::License(ErrorKind::CountViolation)
    );
    // mutual exclusion before dependency (E1 + Audio conferencing would be fine; E3 conflicts)
    t.units("ENTERPRISEPACK", 5);
    assert_eq!(
        t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap_err().error,
        CallError::License(ErrorKind::MutuallyExclusiveViolation)
    );
    // dependency before uniqueness
    let mut t = T::new();
    t.units("WORKPLACE_ANALYTICS", 5);
    let a = t.user("a");
    t.ok(Input::CreateUser {
        name: "b".into(),
        usage_location: Some(*b"US"),
        proxy_addresses: vec!["a@contoso.example".into()],
        attributes: vec![],
    });
    let _ = a;
    let b = t.sim.state().user("b").unwrap();
    // WORKPLACE_ANALYTICS has no mailbox plan, so build the case with E1 + missing units instead:
    assert_eq!(
        t.direct(b, &["WORKPLACE_ANALYTICS"], &[])
            .unwrap_err()
            .error,
        CallError::License(ErrorKind::DependencyViolation)
    );
    t.units("STANDARDPACK", 5);
    assert_eq!(
        t.direct(b, &["STANDARDPACK"], &[]).unwrap_err().error,
        CallError::License(ErrorKind::UniquenessViolation)
    );
}

#[test]
fn r25_concurrent_group_processing_is_retried_and_ends_as_if_in_order() {
    let environment = Environment {
        processing_latency: Latency::Fixed { value_ms: 1000 },
        concurrency_window_ms: 5000,
        retry_delay_ms: 60_000,
        concurrency_ppm: 1_000_000,
        ..Environment::default()
    };
    let mut t = T::with(RulesProfile::Current, environment);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g1 = t.group("g1", &[u]);
    let g2 = t.group("g2", &[u]);
    t.group_lic(g1, &["ENTERPRISEPACK"], &[]).unwrap();
    t.group_lic(g2, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let outs = t.outcomes();
    let retries: Vec<&(u64, Outcome)> = outs
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::ConcurrencyRetry { .. }))
        .collect();
    assert_eq!(retries.len(), 1, "{outs:?}");
    assert!(outs.iter().any(|(_, o)| matches!(
        o,
        Outcome::Audit(Audit::ChangeUserLicense {
            result: AuditResult::ConcurrencyException,
            ..
        })
    )));
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g1)), Some(ACTIVE));
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g2)), Some(ACTIVE));
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1);
    // Without a window there is no retry.
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g1 = t.group("g1", &[u]);
    let g2 = t.group("g2", &[u]);
    t.group_lic(g1, &["ENTERPRISEPACK"], &[]).unwrap();
    t.group_lic(g2, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert!(
        !t.outcomes()
            .iter()
            .any(|(_, o)| matches!(o, Outcome::ConcurrencyRetry { .. }))
    );
}

#[test]
fn r26_dynamic_groups_follow_attributes_after_the_delay() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let f = t.user_attrs("fin", &[("department", "Finance")]);
    let s = t.user_attrs("sal", &[("department", "Sales")]);
    t.ok(Input::CreateGroup {
        name: "finance".into(),
        security_enabled: true,
        source: GroupSource::Cloud,
        rule: Some(r#"user.department -eq "finance""#.into()),
        members: vec![],
        evaluate_now: true,
    });
    let g = t.sim.state().group("finance").unwrap();
    assert!(t.sim.state().groups[g as usize].members.contains(&f));
    assert!(!t.sim.state().groups[g as usize].members.contains(&s));
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert_eq!(t.path(f, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    // add_members on a dynamic group is rejected
    assert_eq!(
        t.rejected(Input::AddMembers {
            group: g,
            members: vec![Member::User(s)]
        }),
        CallError::DynamicGroupMembership
    );
    // An attribute change changes membership after dynamic_evaluation_delay (5m).
    t.ok(Input::SetAttribute {
        user: f,
        key: "department".into(),
        value: Some("Sales".into()),
    });
    t.wait(4 * MINUTE);
    assert!(t.sim.state().groups[g as usize].members.contains(&f));
    t.wait(2 * MINUTE);
    assert!(!t.sim.state().groups[g as usize].members.contains(&f));
    t.settle();
    assert_eq!(t.path(f, "ENTERPRISEPACK", Source::Group(g)), None);
    // Turning a static group dynamic first removes every member.
    let st = t.group("static", &[s, f]);
    t.ok(Input::SetRule {
        group: st,
        rule: Some(r#"department == "Sales""#.into()),
    });
    assert!(t.sim.state().groups[st as usize].members.is_empty());
    t.wait(5 * MINUTE);
    let m = &t.sim.state().groups[st as usize].members;
    assert!(m.contains(&s) && m.contains(&f));
}

#[test]
fn r26_new_users_and_attribute_changes_reach_only_groups_that_have_a_rule_now() {
    let mut t = T::new();
    let fin_rule = r#"user.department -eq "finance""#;
    t.ok(Input::CreateGroup {
        name: "finance".into(),
        security_enabled: true,
        source: GroupSource::Cloud,
        rule: Some(fin_rule.into()),
        members: vec![],
        evaluate_now: true,
    });
    let fin = t.sim.state().group("finance").unwrap();
    let st = t.group("static", &[]);
    // Rules change hands: "finance" becomes static, "static" becomes dynamic (Sales).
    t.ok(Input::SetRule {
        group: fin,
        rule: None,
    });
    t.ok(Input::SetRule {
        group: st,
        rule: Some(r#"department == "Sales""#.into()),
    });
    let f = t.user_attrs("fin2", &[("department", "Finance")]);
    let s = t.user_attrs("sal2", &[("department", "Sales")]);
    t.wait(6 * MINUTE);
    assert!(t.sim.state().groups[fin as usize].members.is_empty());
    let m = &t.sim.state().groups[st as usize].members;
    assert!(m.contains(&s) && !m.contains(&f));
    // An attribute change reaches the dynamic group that reads it.
    t.ok(Input::SetAttribute {
        user: f,
        key: "Department".into(),
        value: Some("Sales".into()),
    });
    t.wait(6 * MINUTE);
    assert!(t.sim.state().groups[st as usize].members.contains(&f));
    assert!(t.sim.state().groups[fin as usize].members.is_empty());
    // A deleted dynamic group evaluates nobody.
    t.settle();
    t.ok(Input::DeleteGroup { group: st });
    let later = t.user_attrs("sal3", &[("department", "Sales")]);
    t.wait(6 * MINUTE);
    assert!(!t.sim.state().groups[st as usize].members.contains(&later));
}

#[test]
fn r27_on_premises_membership_changes_wait_for_the_sync_cycle() {
    let mut t = T::new(); // sync every 30m, phase 0
    t.units("ENTERPRISEPACK", 5);
    let a = t.user("a");
    t.ok(Input::CreateGroup {
        name: "onprem".into(),
        security_enabled: true,
        source: GroupSource::OnPremises,
        rule: None,
        members: vec![],
        evaluate_now: false,
    });
    let g = t.sim.state().group("onprem").unwrap();
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.wait(MINUTE);
    t.ok(Input::AddMembers {
        group: g,
        members: vec![Member::User(a)],
    });
    t.wait(20 * MINUTE);
    assert!(t.sim.state().groups[g as usize].members.is_empty());
    t.wait(10 * MINUTE); // 31m: past the 30m cycle
    assert!(t.sim.state().groups[g as usize].members.contains(&a));
    t.settle();
    assert_eq!(t.path(a, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
}

#[test]
fn r28_subscriptions_purchase_set_units_and_unassignable_units() {
    let mut t = T::new();
    let e3 = t.sku("ENTERPRISEPACK");
    t.ok(Input::SetUnits {
        sku: e3,
        units: PrepaidUnits {
            enabled: 0,
            warning: 0,
            suspended: 3,
            locked_out: 3,
        },
    });
    let u = t.user("a");
    assert!(t.direct(u, &["ENTERPRISEPACK"], &[]).is_err()); // suspended/lockedOut are not assignable
    t.ok(Input::Purchase { sku: e3, units: 1 });
    assert_eq!(t.sim.state().subscriptions[e3 as usize].prepaid.enabled, 1);
    t.direct(u, &["ENTERPRISEPACK"], &[]).unwrap();
    t.ok(Input::Purchase { sku: e3, units: -5 });
    assert_eq!(t.sim.state().subscriptions[e3 as usize].prepaid.enabled, 0);
}

#[test]
fn r29_audit_records_use_graph_activity_names() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 1);
    let a = t.user("a");
    let b = t.user("b");
    let g = t.group("g", &[a, b]);
    t.outcomes();
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    let outs = t.outcomes();
    let audits: Vec<&Audit> = outs
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Audit(a) => Some(a),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = audits.iter().map(|a| a.activity()).collect();
    assert_eq!(
        names,
        vec![
            "Set group license",
            "Start applying group based license to users",
            "Change user license",
            "Change user license",
            "Finish applying group based license to users",
        ]
    );
    assert!(matches!(
        audits[3],
        Audit::ChangeUserLicense {
            result: AuditResult::Failure(ErrorKind::CountViolation),
            ..
        }
    ));
    assert!(matches!(
        audits[4],
        Audit::FinishApplying {
            succeeded: 1,
            failed: 1,
            ..
        }
    ));
}

#[test]
fn r30_intent_is_never_lost() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 2);
    t.units("EMS", 1);
    let us: Vec<UserIdx> = (0..5).map(|i| t.user(&format!("u{i}"))).collect();
    let g = t.group("g", &us);
    t.group_lic(g, &["ENTERPRISEPACK", "EMS"], &[]).unwrap();
    t.settle();
    assert_eq!(t.group_state(g), ProcessingState::ProcessingComplete);
    for u in &us {
        for s in ["ENTERPRISEPACK", "EMS"] {
            assert!(
                t.path(*u, s, Source::Group(g)).is_some(),
                "{u} lost intent for {s}"
            );
        }
    }
    t.check_invariants();
}

#[test]
fn r31_new_users_have_no_licenses_and_may_lack_a_location() {
    let mut t = T::new();
    let u = t.user_at("nobody", None);
    let user = &t.sim.state().users[u as usize];
    assert!(user.paths.is_empty() && user.usage_location.is_none());
    let j = t.sim.state_json();
    assert_eq!(j["users"][0]["usageLocation"], serde_json::Value::Null);
    assert_eq!(
        j["users"][0]["assignedLicenses"].as_array().unwrap().len(),
        0
    );
}

#[test]
fn r32_group_processing_state_transitions() {
    let mut t = T::new(); // queue delay 30s, latency 1s
    t.units("ENTERPRISEPACK", 5);
    let a = t.user("a");
    let b = t.user("b");
    let g = t.group("g", &[a, b]);
    assert_eq!(t.group_state(g), ProcessingState::ProcessingComplete);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    assert_eq!(t.group_state(g), ProcessingState::QueuedForProcessing);
    t.wait(30 * SECOND);
    assert_eq!(t.group_state(g), ProcessingState::ProcessingInProgress);
    t.wait(1500);
    assert_eq!(t.group_state(g), ProcessingState::ProcessingInProgress);
    t.wait(1000);
    assert_eq!(t.group_state(g), ProcessingState::ProcessingComplete);
    let states: Vec<ProcessingState> = t
        .outcomes()
        .into_iter()
        .filter_map(|(_, o)| match o {
            Outcome::GroupState { state, .. } => Some(state),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ProcessingState::QueuedForProcessing,
            ProcessingState::ProcessingInProgress,
            ProcessingState::ProcessingComplete
        ]
    );
}

#[test]
fn r33_removing_one_of_several_paths_keeps_the_seat_and_recomputes_plans() {
    let mut t = T::new();
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let l = t.lic_without("ENTERPRISEPACK", &["SWAY"]);
    t.ok(Input::AssignUserLicense {
        user: u,
        add: vec![l],
        remove: vec![],
    });
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    assert!(t.has_plan(u, "SWAY"));
    t.outcomes();
    t.ok(Input::RemoveMembers {
        group: g,
        members: vec![Member::User(u)],
    });
    t.settle();
    assert_eq!(t.consumed("ENTERPRISEPACK"), 1);
    assert!(!t.has_plan(u, "SWAY"));
    assert!(t.has_plan(u, "EXCHANGE_S_ENTERPRISE"));
    let outs = t.outcomes();
    let sway = t.cat.family_by_name("SWAY").unwrap();
    assert!(
        outs.iter()
            .any(|(_, o)| matches!(o, Outcome::ServiceLost { family, .. } if *family == sway))
    );
    assert!(
        !outs
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Consumed { .. }))
    );
}

#[test]
fn r16_blocked_removal_when_a_group_changes_disabled_plans_keeps_one_path() {
    let mut t = T::new();
    t.units("MCOMEETADV", 5);
    t.units("ENTERPRISEPACK", 5);
    let u = t.user("alice");
    let g = t.group("g", &[u]);
    t.group_lic(g, &["ENTERPRISEPACK"], &[]).unwrap();
    t.settle();
    t.direct(u, &["MCOMEETADV"], &[]).unwrap();
    // The group now disables both prerequisites of Audio Conferencing.
    let l = t.lic_without("ENTERPRISEPACK", &["TEAMS1", "MCOSTANDARD"]);
    t.ok(Input::AssignGroupLicense {
        group: g,
        add: vec![l],
        remove: vec![],
    });
    t.settle();
    assert_eq!(
        t.path(u, "ENTERPRISEPACK", Source::Group(g)),
        Some(awe(ErrorKind::DependencyViolation))
    );
    assert!(t.has_plan(u, "TEAMS1"));
    t.check_invariants();
    // Once Audio Conferencing goes, the new intent applies in the same step (R21).
    t.direct(u, &[], &["MCOMEETADV"]).unwrap();
    assert_eq!(t.path(u, "ENTERPRISEPACK", Source::Group(g)), Some(ACTIVE));
    assert!(!t.has_plan(u, "TEAMS1"));
    t.check_invariants();
}
