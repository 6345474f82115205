//! The pre-flight of `licsim validate`: one test per check, each asserting the step, the users
//! and the fix, and that a run (run 0) shows the same failure; the built-in scenarios get
//! exactly the findings their runs confirm.

use scenarios::metrics::RunMetrics;
use scenarios::preflight::{Certainty, Finding, Preflight, preflight};
use scenarios::runner::{RunOptions, run};
use scenarios::spec::{load_scenario, parse_scenario};
use std::path::Path;

fn check(text: &str) -> (Preflight, RunMetrics) {
    let sc = parse_scenario("t.toml", text, None).unwrap_or_else(|e| panic!("{e}"));
    let p = preflight(&sc);
    let m = run(&sc, RunOptions::new(sc.seed, 0)).metrics;
    (p, m)
}

/// The one finding of a check.
fn only<'a>(p: &'a Preflight, check: &str) -> &'a Finding {
    let v: Vec<&Finding> = p.findings.iter().filter(|f| f.check == check).collect();
    assert_eq!(v.len(), 1, "{check}: {:#?}", p.findings);
    v[0]
}

/// Users who entered an error of `kind`, in the baseline (the tenant before the plan) or in
/// the plan.
fn users_by_kind(m: &RunMetrics, kind: &str) -> u64 {
    let plan = m.failures.users_by_kind.get(kind).copied().unwrap_or(0);
    plan + m.baseline.users_by_kind.get(kind).copied().unwrap_or(0)
}

/// Rejected calls of `input` with error `e`, in the baseline or in the plan.
fn rejected(m: &RunMetrics, input: &str, e: &str) -> u64 {
    let key = format!("{input}: {e}");
    let baseline = m.baseline.rejected_calls.get(&key).copied().unwrap_or(0);
    let plan = if input == "assign_user_license" {
        m.rejected_calls.get(e).copied().unwrap_or(0)
    } else {
        m.rejected_other.get(&key).copied().unwrap_or(0)
    };
    baseline + plan
}

const E3_STAFF: &str = r#"
[[populations]]
name = "emea"
count = 25
id_pattern = "emea{:02}"
usage_location = "GB"
direct = ["ENTERPRISEPACK"]
[[groups]]
id = "emea"
members = ["population:emea"]
"#;

#[test]
fn r15_an_add_on_alone_on_a_group_is_rejected_at_once() {
    let text = format!(
        "[tenant]\nsubscriptions = {{ ENTERPRISEPACK = 30, MCOMEETADV = 30 }}\n{E3_STAFF}\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nadd = [\"MCOMEETADV\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nadd = [\"ENTERPRISEPACK\", \"MCOMEETADV\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nremove = [\"ENTERPRISEPACK\"]\n"
    );
    let (p, m) = check(&text);
    let r15: Vec<&Finding> = p.findings.iter().filter(|f| f.rule == "R15").collect();
    assert_eq!(r15.len(), 2, "{:#?}", p.findings);
    let (alone, removal) = (r15[0], r15[1]);
    assert_eq!(alone.step, Some(1));
    assert_eq!(alone.action, "assign_group_license emea +MCOMEETADV");
    assert_eq!(alone.error, "DependentServiceMissing");
    assert_eq!(alone.users, 25);
    assert_eq!(alone.examples[0], "emea01");
    assert!(
        alone.reason.starts_with("rejected at once (R15)"),
        "{}",
        alone.reason
    );
    assert!(
        alone
            .fix
            .contains("add = [\"ENTERPRISEPACK\", \"MCOMEETADV\"]"),
        "{}",
        alone.fix
    );
    assert_eq!(alone.certainty, Certainty::Certain);
    // Removing the prerequisite and keeping the add-on is rejected too (decisions.md 2).
    assert_eq!(removal.step, Some(3));
    assert!(
        removal.fix.contains("remove MCOMEETADV from group emea"),
        "{}",
        removal.fix
    );
    assert_eq!(p.findings.len(), 2, "step 2 is accepted: {:#?}", p.findings);
    assert_eq!(
        rejected(&m, "assign_group_license", "DependentServiceMissing"),
        2
    );
    // At setup ([[groups]] licenses) and in create_group as well.
    let setup = "[tenant]\nsubscriptions = { MCOMEETADV = 5 }\n[[users]]\nid = \"u\"\n[[groups]]\nid = \"g\"\nmembers = [\"u\"]\nlicenses = [\"MCOMEETADV\"]\n\
[[plan]]\naction = \"create_group\"\nid = \"h\"\nmembers = [\"u\"]\nlicenses = [\"MCOMEETADV\"]\n";
    let (p, m) = check(setup);
    let steps: Vec<Option<u32>> = p.findings.iter().map(|f| f.step).collect();
    assert_eq!(steps, [None, Some(1)], "{:#?}", p.findings);
    assert!(p.findings.iter().all(|f| f.rule == "R15" && f.users == 1));
    assert_eq!(
        rejected(&m, "assign_group_license", "DependentServiceMissing"),
        2
    );
}

#[test]
fn r02_a_sku_without_a_subscription_fails_for_everyone() {
    let text = "[tenant]\nsubscriptions = { ENTERPRISEPACK = 10 }\n\
[[populations]]\nname = \"p\"\ncount = 8\nid_pattern = \"p{:02}\"\nusage_location = \"US\"\n\
[[groups]]\nid = \"g\"\nmembers = [\"population:p\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"assign_direct\"\nusers = [\"p01\", \"p02\"]\nadd = [\"PROJECTPREMIUM\"]\n\
[[plan]]\naction = \"purchase\"\nsku = \"PROJECTPREMIUM\"\nunits = 5\n\
[[plan]]\naction = \"assign_direct\"\nusers = [\"p03\"]\nadd = [\"PROJECTPREMIUM\"]\n";
    let (p, m) = check(text);
    let v: Vec<&Finding> = p
        .findings
        .iter()
        .filter(|f| f.check == "no_subscription")
        .collect();
    assert_eq!(v.len(), 2, "{:#?}", p.findings);
    assert_eq!((v[0].step, v[0].users), (Some(1), 8));
    assert_eq!(v[0].error, "CountViolation");
    assert!(
        v[0].fix.starts_with("buy EMS before step 1"),
        "{}",
        v[0].fix
    );
    assert_eq!((v[1].step, v[1].users), (Some(2), 2));
    assert!(
        v[1].reason.contains("step 3 buys it, later"),
        "{}",
        v[1].reason
    );
    assert!(v[1].fix.contains("PROJECTPREMIUM"), "{}", v[1].fix);
    assert_eq!(p.findings.len(), 2, "step 4 comes after the purchase");
    assert_eq!(users_by_kind(&m, "CountViolation"), 8);
    assert_eq!(m.rejected_calls.get("CountViolation"), Some(&2));
}

#[test]
fn r12_more_group_members_than_units_fail_last_in_id_order() {
    let text = "[tenant]\nsubscriptions = { ENTERPRISEPACK = 55, EMS = 40 }\n\
[[populations]]\nname = \"staff\"\ncount = 50\nid_pattern = \"user{:03}\"\nusage_location = \"US\"\n\
[[populations]]\nname = \"new\"\ncount = 5\nid_pattern = \"zz{:02}\"\nusage_location = \"US\"\n\
[[groups]]\nid = \"e3-ems\"\nmembers = [\"population:staff\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"e3-ems\"\nadd = [\"ENTERPRISEPACK\", \"EMS\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"e3-ems\"\n\
[[plan]]\naction = \"purchase\"\nsku = \"EMS\"\nunits = 10\n\
[[plan]]\naction = \"add_members\"\ngroup = \"e3-ems\"\nusers = \"population:new\"\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"e3-ems\"\n\
[[plan]]\naction = \"set_units\"\nsku = \"EMS\"\nenabled = 52\n\
[[plan]]\naction = \"reprocess_group\"\ngroup = \"e3-ems\"\n";
    let (p, m) = check(text);
    let f = only(&p, "not_enough_units");
    assert_eq!(f.step, Some(1));
    assert_eq!(f.action, "assign_group_license e3-ems +ENTERPRISEPACK +EMS");
    assert_eq!(f.users, 10);
    assert_eq!(
        f.examples,
        ["user041", "user042", "user043", "user044", "user045"]
    );
    assert!(f.reason.contains("fail with Other"), "R11: {}", f.reason);
    assert!(f.reason.contains("step 3 buys more later"), "{}", f.reason);
    assert!(
        f.fix.starts_with("buy 10 more EMS units before step 1"),
        "{}",
        f.fix
    );
    assert!(f.fix.contains("reprocess_group e3-ems"), "{}", f.fix);
    // Step 4: the 10 users in error hold no seat (units bought retry nothing, R21), so the five
    // new members fit in the 50 units; step 7's reprocess then finds 7 free units for 10.
    assert_eq!(p.findings.len(), 1, "{:#?}", p.findings);
    assert_eq!(users_by_kind(&m, "CountViolation"), 10);
    assert_eq!(m.users_in_error_end, 3);
    // Members added beyond the units fail as well (add_members): 40 + 5 > 42.
    let more = text.replace("units = 10", "units = 2");
    let (p, m) = check(&more);
    let v: Vec<&Finding> = p
        .findings
        .iter()
        .filter(|f| f.check == "not_enough_units")
        .collect();
    assert_eq!(v.len(), 2, "{:#?}", p.findings);
    assert_eq!((v[1].step, v[1].users), (Some(4), 3));
    assert_eq!(v[1].examples, ["zz03", "zz04", "zz05"]);
    assert!(
        v[1].fix.starts_with("buy 3 more EMS units before step 4"),
        "{}",
        v[1].fix
    );
    assert_eq!(users_by_kind(&m, "CountViolation"), 13);
    assert_eq!(m.users_in_error_end, 3, "step 7 heals 10 of the 13");
}

#[test]
fn r23_delete_group_with_licences_is_rejected() {
    let base = format!(
        "[tenant]\nsubscriptions = {{ ENTERPRISEPACK = 30 }}\n{E3_STAFF}\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nadd = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"emea\"\n"
    );
    let text = format!("{base}[[plan]]\naction = \"delete_group\"\ngroup = \"emea\"\n");
    let (p, m) = check(&text);
    let f = only(&p, "group_has_licenses");
    assert_eq!((f.step, f.rule.as_str()), (Some(3), "R23"));
    assert_eq!(f.action, "delete_group emea");
    assert_eq!(f.error, "GroupHasLicenses");
    assert_eq!(f.users, 25);
    assert!(f.fix.contains("remove = [\"ENTERPRISEPACK\"]"), "{}", f.fix);
    assert_eq!(
        m.rejected_other.get("delete_group: GroupHasLicenses"),
        Some(&1)
    );
    // The licence removed but not waited for: its processing is still under way.
    let text = format!(
        "{base}[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nremove = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"delete_group\"\ngroup = \"emea\"\n"
    );
    let (p, m) = check(&text);
    let f = only(&p, "group_processing_in_progress");
    assert_eq!((f.step, f.users), (Some(4), 25));
    assert!(
        f.fix.contains("wait_until_processed step for emea"),
        "{}",
        f.fix
    );
    assert_eq!(
        m.rejected_other
            .get("delete_group: GroupProcessingInProgress"),
        Some(&1)
    );
    // Removed and waited for: deleted.
    let text = format!(
        "{base}[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nremove = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"emea\"\n[[plan]]\naction = \"delete_group\"\ngroup = \"emea\"\n"
    );
    let (p, m) = check(&text);
    assert!(p.findings.is_empty(), "{:#?}", p.findings);
    assert!(m.rejected_other.is_empty(), "{:?}", m.rejected_other);
}

#[test]
fn r04_a_group_licence_with_fewer_plans_than_the_direct_one_loses_them() {
    let base = format!(
        "[tenant]\nsubscriptions = {{ ENTERPRISEPACK = 30 }}\n{E3_STAFF}\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nadd = [{{ sku = \"ENTERPRISEPACK\", disabled_plans = [\"SWAY\", \"YAMMER_ENTERPRISE\"] }}]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"emea\"\n"
    );
    let text = format!(
        "{base}[[plan]]\naction = \"remove_direct\"\nusers = \"first:10:group:emea\"\nsku = \"ENTERPRISEPACK\"\n"
    );
    let (p, m) = check(&text);
    let v: Vec<&Finding> = p
        .findings
        .iter()
        .filter(|f| f.check == "fewer_plans_than_direct")
        .collect();
    assert_eq!(v.len(), 2, "{:#?}", p.findings);
    // Step 1 keeps the 15 members whose direct licence the plan does not remove (likely).
    assert_eq!(
        (v[0].step, v[0].users, v[0].certainty),
        (Some(1), 15, Certainty::Likely)
    );
    let f = v[1];
    assert_eq!((f.step, f.users), (Some(3), 10));
    assert_eq!(f.certainty, Certainty::Certain);
    assert!(
        f.reason.contains("SWAY, YAMMER_ENTERPRISE")
            || f.reason.contains("YAMMER_ENTERPRISE, SWAY"),
        "{}",
        f.reason
    );
    assert!(f.fix.contains("ENTERPRISEPACK of group emea"), "{}", f.fix);
    assert_eq!(m.service_total.users_lost, 10);
    assert_eq!(m.service["yammer"].users_lost, 10);
    // Without a removal in the plan, the group step says what a removal would do (likely).
    let (p, m) = check(&base);
    let f = only(&p, "fewer_plans_than_direct");
    assert_eq!((f.step, f.users), (Some(1), 25));
    assert_eq!(f.certainty, Certainty::Likely);
    assert_eq!(m.service_total.users_lost, 0);
}

#[test]
fn waves_that_cannot_finish_within_max_duration() {
    let plan = |limit: &str, expect: &str| {
        format!(
            "[scenario]\nmax_duration = \"{limit}\"\n[tenant]\nsubscriptions = {{ ENTERPRISEPACK = 30 }}\n{E3_STAFF}\
[[plan]]\naction = \"wait\"\nduration = \"2h\"\n\
[[plan]]\naction = \"remove_direct\"\nusers = \"population:emea\"\nsku = \"ENTERPRISEPACK\"\nwave_size = 5\nwave_interval = \"6h\"\n\
[[plan]]\naction = \"gate\"\nrequire = \"no_license_errors\"\n{expect}"
        )
    };
    // 25 users in waves of 5: waves at 2h, 8h, 14h, 20h, 26h; the fifth is past 1d.
    let (p, m) = check(&plan("1d", ""));
    let f = only(&p, "max_duration");
    assert_eq!(f.step, Some(2));
    assert_eq!(f.users, 5);
    assert_eq!(f.examples[0], "emea21");
    assert!(f.reason.contains("at least 1d 02h00"), "{}", f.reason);
    assert!(f.reason.contains("wave 5 never starts"), "{}", f.reason);
    assert!(f.reason.contains("step 3 never runs"), "{}", f.reason);
    assert!(f.fix.contains("max_duration in [scenario]"), "{}", f.fix);
    assert_eq!(m.waves.len(), 4);
    assert!(m.plan_stopped || m.timed_out);
    // [expect] max_duration below the plan's least time fails every run.
    let (p, m) = check(&plan("2d", "[expect]\nmax_duration = \"12h\"\n"));
    let f = only(&p, "expect_max_duration");
    assert_eq!((f.step, f.rule.as_str()), (Some(2), "expect"));
    assert!(f.reason.contains("at least 1d 02h00"), "{}", f.reason);
    assert!(f.fix.contains("[expect]"), "{}", f.fix);
    assert!(
        m.expectation_failures
            .iter()
            .any(|e| e.expectation == "max_duration"),
        "{:?}",
        m.expectation_failures
    );
}

#[test]
fn an_empty_scenario_is_an_error_and_users_without_a_plan_are_valid() {
    let e = parse_scenario(
        "empty.toml",
        "[tenant]\nsubscriptions = { EMS = 5 }\n",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("empty.toml:1:1: the scenario has no users"),
        "{e}"
    );
    let (p, _) = check("[[users]]\nid = \"alice\"\nusage_location = \"US\"\n");
    assert!(p.findings.is_empty() && p.steps == 0 && p.users == 1);
}

#[test]
fn r13_r17_r18_r16_r19_what_else_a_run_confirms() {
    // R13: add E3 while the group still gives E1 (two calls).
    let e1 = "[tenant]\nsubscriptions = { STANDARDPACK = 10, ENTERPRISEPACK = 10 }\n\
[[populations]]\nname = \"s\"\ncount = 10\nid_pattern = \"s{:02}\"\nusage_location = \"US\"\n\
[[groups]]\nid = \"g\"\nmembers = [\"population:s\"]\nlicenses = [\"STANDARDPACK\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n";
    let (p, m) = check(&format!(
        "{e1}[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"ENTERPRISEPACK\"]\n"
    ));
    let f = only(&p, "exclusive_conflict");
    assert_eq!((f.step, f.users, f.rule.as_str()), (Some(2), 10, "R13"));
    assert!(f.fix.contains("one assign_group_license call"), "{}", f.fix);
    assert_eq!(users_by_kind(&m, "MutuallyExclusiveViolation"), 10);
    // R19: remove E1 first, add E3 later: a gap.
    let (p, m) = check(&format!(
        "{e1}[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nremove = [\"STANDARDPACK\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"ENTERPRISEPACK\"]\n"
    ));
    let f = only(&p, "service_gap");
    assert_eq!((f.step, f.users), (Some(2), 10));
    assert!(
        f.reason.contains("until step 4 gives ENTERPRISEPACK back"),
        "{}",
        f.reason
    );
    assert!(
        f.fix
            .contains("add = [\"ENTERPRISEPACK\"], remove = [\"STANDARDPACK\"]"),
        "{}",
        f.fix
    );
    assert_eq!(m.service_total.users_lost, 10);
    // One call: nothing to say.
    let (p, _) = check(&format!(
        "{e1}[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"ENTERPRISEPACK\"]\nremove = [\"STANDARDPACK\"]\n"
    ));
    assert!(p.findings.is_empty(), "{:#?}", p.findings);
    // R17 and R18 from the users' data: an explicit user without a location (tenant default
    // KP, where Exchange is prohibited) and two users sharing an address.
    let data = "[tenant]\ndefault_usage_location = \"KP\"\nsubscriptions = { ENTERPRISEPACK = 10 }\nprohibited_locations = { EXCHANGE_S_ENTERPRISE = [\"KP\"] }\n\
[[users]]\nid = \"nowhere\"\n[[users]]\nid = \"ann\"\nusage_location = \"US\"\n\
[[users]]\nid = \"bob\"\nusage_location = \"US\"\nproxy_addresses = [\"SMTP:bob@contoso.example\", \"smtp:ann@contoso.example\"]\n\
[[groups]]\nid = \"g\"\nmembers = [\"nowhere\", \"ann\", \"bob\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"ENTERPRISEPACK\"]\n";
    let (p, m) = check(data);
    let f = only(&p, "prohibited_location");
    assert_eq!(
        (f.step, f.users, f.examples[0].as_str()),
        (Some(1), 1, "nowhere")
    );
    assert!(f.reason.contains("tenant's default KP"), "{}", f.reason);
    assert!(f.fix.contains("reprocess_group g"), "{}", f.fix);
    let f = only(&p, "shared_proxy_address");
    assert_eq!(
        (f.users, f.examples.clone()),
        (2, vec!["ann".to_string(), "bob".into()])
    );
    assert_eq!(users_by_kind(&m, "ProhibitedInUsageLocationViolation"), 1);
    assert_eq!(users_by_kind(&m, "UniquenessViolation"), 2);
    // R16: members removed while their direct Audio Conferencing needs the group's Teams.
    let r16 = "[tenant]\nsubscriptions = { ENTERPRISEPACK = 5, MCOMEETADV = 5 }\n\
[[populations]]\nname = \"s\"\ncount = 5\nid_pattern = \"s{:02}\"\nusage_location = \"US\"\n\
[[groups]]\nid = \"g\"\nmembers = [\"population:s\"]\nlicenses = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"population:s\"\nadd = [\"MCOMEETADV\"]\n\
[[plan]]\naction = \"remove_members\"\ngroup = \"g\"\nusers = [\"s01\", \"s02\"]\n";
    let (p, m) = check(r16);
    let f = only(&p, "removal_blocked");
    assert_eq!((f.step, f.users, f.rule.as_str()), (Some(3), 2, "R16"));
    assert!(f.fix.contains("MCOSTANDARD or TEAMS1"), "{}", f.fix);
    assert_eq!(users_by_kind(&m, "DependencyViolation"), 2);
}

/// What a run counted of each kind of failure against what the findings predict (summed by
/// kind; `certain_only`: the numbers of likely ones vary from run to run).
fn confirm(p: &Preflight, m: &RunMetrics, certain_only: bool, name: &str) {
    use std::collections::BTreeMap;
    let mut predicted: BTreeMap<String, u64> = BTreeMap::new();
    for f in &p.findings {
        if certain_only && f.certainty != Certainty::Certain {
            continue;
        }
        let key = match f.check {
            "max_duration" | "expect_max_duration" => continue,
            // A warning about a removal the plan does not make.
            "fewer_plans_than_direct" if f.certainty == Certainty::Likely => continue,
            "setup_direct_rejected" => format!("call {}", f.error),
            "dependent_without_prerequisite"
            | "group_has_licenses"
            | "group_processing_in_progress" => {
                *predicted
                    .entry(format!("rejected {}", f.error))
                    .or_default() += 1;
                continue;
            }
            _ => f.error.clone(),
        };
        *predicted.entry(key).or_default() += f.users;
    }
    for (key, n) in predicted {
        let seen = if let Some(e) = key.strip_prefix("call ") {
            rejected(m, "assign_user_license", e)
        } else if let Some(e) = key.strip_prefix("rejected ") {
            m.rejected_other
                .iter()
                .chain(m.baseline.rejected_calls.iter())
                .filter(|(k, _)| {
                    k.ends_with(&format!(": {e}")) && !k.starts_with("assign_user_license")
                })
                .map(|(_, v)| *v)
                .sum()
        } else if key == "ServiceLost" {
            m.service_total.users_lost
        } else {
            users_by_kind(m, &key)
        };
        assert_eq!(seen, n, "{name} run {}: {key}: {:#?}", m.run, p.findings);
    }
}

#[test]
fn group_changes_are_seen_when_the_group_processes_its_members() {
    let base = format!(
        "[tenant]\nsubscriptions = {{ ENTERPRISEPACK = 30, STANDARDPACK = 30 }}\n{E3_STAFF}"
    );
    // E1 added and removed before anything waits: the members never see it (no R13 with
    // the direct E3... nor a gap).
    let text = format!(
        "{base}[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nadd = [\"STANDARDPACK\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nremove = [\"STANDARDPACK\"]\n"
    );
    let (p, m) = check(&text);
    assert!(p.findings.is_empty(), "{:#?}", p.findings);
    assert_eq!(m.failures.total, 0);
    // The same with a wait between: the conflict happens.
    let text = text.replace(
        "[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nremove",
        "[[plan]]\naction = \"wait_until_processed\"\ngroup = \"emea\"\n[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nremove",
    );
    let (p, m) = check(&text);
    assert_eq!(summary(&p), [("exclusive_conflict", Some(1), 25)]);
    assert_eq!(users_by_kind(&m, "MutuallyExclusiveViolation"), 25);
    // Direct licences removed before the group that replaces them has processed anyone: a gap.
    let text = format!(
        "{base}[[plan]]\naction = \"assign_group_license\"\ngroup = \"emea\"\nadd = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"remove_direct\"\nusers = \"group:emea\"\nsku = \"ENTERPRISEPACK\"\n"
    );
    let (p, m) = check(&text);
    let f = only(&p, "group_path_in_error");
    assert_eq!((f.step, f.users), (Some(2), 25));
    assert!(f.fix.contains("wait_until_processed emea"), "{}", f.fix);
    assert_eq!(m.service_total.users_lost, 25);
}

fn builtin(name: &str) -> scenarios::model::Scenario {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("builtin")
        .join(format!("{name}.toml"));
    load_scenario(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// (check, step, users) of a finding.
type Brief = (&'static str, Option<u32>, u64);

/// (check, step, users) of each finding.
fn summary(p: &Preflight) -> Vec<Brief> {
    p.findings
        .iter()
        .map(|f| (f.check, f.step, f.users))
        .collect()
}

#[test]
fn every_check_in_one_plan() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/preflight-every-check.toml");
    let sc = load_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
    let p = preflight(&sc);
    assert_eq!(
        summary(&p),
        [
            ("setup_direct_rejected", None, 1),
            ("prohibited_location", None, 1),
            ("shared_proxy_address", None, 1),
            ("fewer_plans_than_direct", None, 10),
            ("dependent_without_prerequisite", Some(2), 60),
            ("no_subscription", Some(3), 60),
            ("not_enough_units", Some(4), 10),
            ("exclusive_conflict", Some(5), 40),
            ("service_gap", Some(7), 40),
            ("group_has_licenses", Some(8), 62),
            ("fewer_plans_than_direct", Some(10), 50),
            ("max_duration", Some(10), 10),
            ("expect_max_duration", Some(10), 0),
        ],
        "{:#?}",
        p.findings
    );
    for r in 0..3 {
        let m = run(&sc, RunOptions::new(sc.seed, r)).metrics;
        confirm(&p, &m, false, "preflight-every-check");
        assert!(m.timed_out, "the sixth wave is past max_duration");
    }
}

#[test]
fn builtin_scenarios_get_the_findings_their_runs_confirm() {
    let expected: [(&str, Vec<Brief>); 11] = [
        (
            "audio-conferencing-dependency",
            vec![("removal_blocked", Some(2), 10)],
        ),
        (
            "conflicting-direct-e1",
            vec![("exclusive_conflict", Some(1), 5)],
        ),
        ("direct-to-group-1000", vec![]),
        ("direct-to-group-ems-finance", vec![]),
        (
            "e1-to-e3-add-first",
            vec![("exclusive_conflict", Some(1), 100)],
        ),
        ("e1-to-e3-one-call", vec![]),
        ("e1-to-e3-remove-first", vec![("service_gap", Some(1), 100)]),
        (
            "license-shortage-then-reprocess",
            vec![("not_enough_units", Some(1), 10)],
        ),
        (
            "m365-e3-rollout-with-problems",
            vec![
                ("not_enough_units", Some(1), 6),
                ("removal_blocked", Some(3), 6),
                ("prohibited_location", Some(11), 8),
                ("shared_proxy_address", Some(14), 4),
            ],
        ),
        (
            "usage-location-and-proxy",
            vec![
                ("prohibited_location", Some(1), 10),
                ("shared_proxy_address", Some(1), 4),
            ],
        ),
        (
            "workplace-analytics-add-on",
            vec![("dependent_without_prerequisite", Some(1), 20)],
        ),
    ];
    for (name, want) in expected {
        let sc = builtin(name);
        let p = preflight(&sc);
        assert_eq!(summary(&p), want, "{name}: {:#?}", p.findings);
        // Run 0 (whose tenant the pre-flight reads) shows each one with the same count; the
        // certain ones show it in other runs too.
        for r in 0..4 {
            let m = run(&sc, RunOptions::new(sc.seed, r)).metrics;
            confirm(&p, &m, r > 0, name);
        }
        // The fault-made ones say so.
        for f in &p.findings {
            let faulty = matches!(f.check, "prohibited_location" | "shared_proxy_address");
            assert_eq!(f.certainty == Certainty::Likely, faulty, "{name}: {f:?}");
        }
    }
}

#[test]
fn extreme_numbers_do_not_panic_the_pre_flight() {
    let text = "[tenant]\nsubscriptions = { EMS = 5 }\n[[users]]\nid = \"u\"\nusage_location = \"US\"\n\
[[plan]]\naction = \"purchase\"\nsku = \"EMS\"\nunits = 9223372036854775807\n\
[[plan]]\naction = \"purchase\"\nsku = \"EMS\"\nunits = -9223372036854775808\n\
[[plan]]\naction = \"wait\"\nduration = \"9999999d\"\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"all\"\nadd = [\"EMS\"]\nwave_size = 1\nwave_interval = \"9999999d\"\n";
    let sc = parse_scenario("t.toml", text, None).unwrap_or_else(|e| panic!("{e}"));
    let p = preflight(&sc);
    assert_eq!(
        summary(&p),
        [("max_duration", Some(3), 1)],
        "{:#?}",
        p.findings
    );
}
