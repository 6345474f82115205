//! Scenario files: the built-in ones parse and behave as described; errors name file, line,
//! column and key, with a suggestion.

use scenarios::model::*;
use scenarios::spec::{parse_duration, parse_scenario};
use std::path::Path;

/// One run's metrics (`runner::run` with nothing else watching).
fn run_metrics(
    sc: &scenarios::model::Scenario,
    seed: u64,
    run: u64,
) -> scenarios::metrics::RunMetrics {
    scenarios::runner::run(sc, scenarios::runner::RunOptions::new(seed, run)).metrics
}

/// The built-in scenarios' folder.
fn builtin_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("builtin")
}

fn builtin(name: &str) -> Scenario {
    scenarios::spec::load_scenario(&builtin_dir().join(format!("{name}.toml"))).unwrap()
}

#[test]
fn every_builtin_scenario_parses() {
    let mut n = 0;
    for e in std::fs::read_dir(builtin_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            scenarios::spec::load_scenario(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 10, "{n}");
}

#[test]
fn e1_to_e3_one_call_versus_add_first_versus_remove_first() {
    let one = run_metrics(&builtin("e1-to-e3-one-call"), 1, 0);
    assert_eq!(one.failures.total, 0);
    assert!(one.service.values().all(|s| s.outages == 0));
    assert!(
        one.expectation_failures.is_empty(),
        "{:?}",
        one.expectation_failures
    );

    let add = run_metrics(&builtin("e1-to-e3-add-first"), 1, 0);
    assert_eq!(
        add.failures.by_kind.get("MutuallyExclusiveViolation"),
        Some(&100)
    );
    assert!(add.plan_stopped);

    let rem = run_metrics(&builtin("e1-to-e3-remove-first"), 1, 0);
    assert_eq!(rem.failures.total, 0);
    assert_eq!(rem.service["exchange"].users_lost, 100);
    assert!(rem.service["exchange"].user_ms > 0);
    assert!(!rem.expectation_failures.is_empty());
}

/// The README's main job: each of its problems shows up, for the reason the file gives.
#[test]
fn the_main_job_shows_each_of_its_problems() {
    let sc = builtin("m365-e3-rollout-with-problems");
    assert_eq!(
        sc.populations.iter().map(|p| p.count).sum::<u64>() + sc.users.len() as u64,
        1500
    );
    for run in 0..3 {
        let m = run_metrics(&sc, 1, run);
        let kind = |k: &str| m.failures.by_kind.get(k).copied().unwrap_or(0);
        // Wave 1: the six managers are short of units, and blocked in the clean-up (R12, R16).
        assert_eq!(kind("CountViolation"), 6);
        assert_eq!(kind("DependencyViolation"), 6);
        assert_eq!(m.consumption["SPE_E3"].shortfall, 6);
        // ... and keep their old E3 as a direct assignment after the group is deleted (R23).
        assert_eq!(m.consumption["ENTERPRISEPACK"].final_, 1000 + 6);
        // Wave 2: the Calling Plan is prohibited at the tenant's country, E3 fails with it (R11).
        assert!(kind("ProhibitedInUsageLocationViolation") > 0);
        assert_eq!(kind("Other"), kind("ProhibitedInUsageLocationViolation"));
        // Wave 3: duplicate proxy addresses.
        assert!(kind("UniquenessViolation") > 0);
        assert_eq!(
            m.users_in_error_end,
            kind("ProhibitedInUsageLocationViolation") + kind("UniquenessViolation")
        );
        assert!(m.service.values().all(|s| s.outages == 0));
        assert!(!m.expectation_failures.is_empty());
    }
}

#[test]
fn seed_document_stories_through_scenario_files() {
    let m = run_metrics(&builtin("license-shortage-then-reprocess"), 1, 0);
    assert_eq!(m.failures.by_kind.get("CountViolation"), Some(&10));
    assert_eq!(m.failures.by_kind.get("Other"), Some(&10));
    assert_eq!(m.consumption["EMS"].shortfall, 10);
    assert_eq!(m.users_in_error_end, 0);
    let m = run_metrics(&builtin("audio-conferencing-dependency"), 1, 0);
    assert_eq!(m.failures.by_kind.get("DependencyViolation"), Some(&10));
    assert_eq!(m.consumption["ENTERPRISEPACK"].final_, 10);
    assert_eq!(m.users_in_error_end, 0);
    let m = run_metrics(&builtin("workplace-analytics-add-on"), 1, 0);
    assert_eq!(
        m.rejected_other
            .get("assign_group_license: DependentServiceMissing"),
        Some(&1)
    );
    assert_eq!(m.consumption["WORKPLACE_ANALYTICS"].final_, 20);
    let m = run_metrics(&builtin("conflicting-direct-e1"), 1, 0);
    assert_eq!(
        m.failures.by_kind.get("MutuallyExclusiveViolation"),
        Some(&5)
    );
    assert_eq!(m.users_in_error_end, 0);
    assert!(m.service.values().all(|s| s.outages == 0));
    let m = run_metrics(&builtin("usage-location-and-proxy"), 1, 0);
    assert!(
        m.failures
            .by_kind
            .get("ProhibitedInUsageLocationViolation")
            .is_some_and(|n| *n > 0)
    );
    assert!(
        m.failures
            .by_kind
            .get("UniquenessViolation")
            .is_some_and(|n| *n > 0)
    );
    let m = run_metrics(&builtin("direct-to-group-ems-finance"), 1, 0);
    assert!(
        m.expectation_failures.is_empty(),
        "{:?}",
        m.expectation_failures
    );
    assert_eq!(m.consumption["ENTERPRISEPACK"].peak, 200);
}

fn err(text: &str) -> String {
    parse_scenario("s.toml", text, None)
        .unwrap_err()
        .to_string()
}

const BASE: &str = "[scenario]\nname = \"x\"\n[tenant]\nsubscriptions = { ENTERPRISEPACK = 5 }\n[[populations]]\nname = \"staff\"\ncount = 3\n[[groups]]\nid = \"g\"\nmembers = [\"population:staff\"]\n";

#[test]
fn errors_name_file_line_column_key_and_suggest() {
    assert_eq!(
        err("[scenari]\nname = \"x\"\n"),
        "s.toml:1:2: key `scenari`: unknown field `scenari`, expected one of `scenario`, `tenant`, `users`, `populations`, `groups`, `faults`, `environment`, `plan`, `expect` (did you mean `scenario`?)"
    );
    assert_eq!(
        err("[tenant]\nsubscriptions = { ENTERPRISEPAK = 5 }\n"),
        "s.toml:2:19: key `subscriptions`: unknown SKU \"ENTERPRISEPAK\" (did you mean `ENTERPRISEPACK`?)"
    );
    let e = err(&format!(
        "{BASE}[[plan]]\naction = \"asign_group_license\"\ngroup = \"g\"\n"
    ));
    assert!(
        e.starts_with("s.toml:12:11: key `action`: unknown action \"asign_group_license\""),
        "{e}"
    );
    assert!(e.ends_with("(did you mean `assign_group_license`?)"), "{e}");
    let e = err(&format!(
        "{BASE}[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [{{ sku = \"ENTERPRISEPACK\", disabled_plans = [\"INTUNE_A\"] }}]\n"
    ));
    assert!(
        e.starts_with("s.toml:14:")
            && e.contains("key `disabled_plans`")
            && e.contains("not a service plan of ENTERPRISEPACK"),
        "{e}"
    );
    let e = err(&format!(
        "{BASE}[[plan]]\naction = \"wait\"\nduration = \"5 parsecs\"\n"
    ));
    assert!(
        e.starts_with("s.toml:13:13: key `duration`: bad duration unit"),
        "{e}"
    );
    let e = err(&format!(
        "{BASE}[[plan]]\naction = \"remove_direct\"\nsku = \"ENTERPRISEPACK\"\nusers = \"group:gg\"\n"
    ));
    assert!(
        e.starts_with("s.toml:14:")
            && e.contains("unknown group \"gg\" in selector")
            && e.ends_with("(did you mean `g`?)"),
        "{e}"
    );
    let e = err(&format!(
        "{BASE}[faults]\nmissing_usage_location = {{ population = \"staff\", fraction = 1.5 }}\n"
    ));
    assert!(
        e.contains("key `fraction`: fraction 1.5 is outside 0..=1"),
        "{e}"
    );
    let e = err(&format!(
        "{BASE}[[plan]]\naction = \"gate\"\nrequire = \"no_licence_errors\"\n"
    ));
    assert!(
        e.contains("unknown requirement") && e.ends_with("(did you mean `no_license_errors`?)"),
        "{e}"
    );
    let e = err("[[groups]]\nid = \"g\"\nmembrs = []\n");
    assert!(
        e.starts_with("s.toml:3:1: key `membrs`") && e.ends_with("(did you mean `members`?)"),
        "{e}"
    );
    let e = err("[scenario]\nseeds = \"many\"\n");
    assert!(e.starts_with("s.toml:2:9: key `seeds`"), "{e}");
}

#[test]
fn every_action_selector_fault_and_expectation_parses() {
    let text = format!(
        "{BASE}[[users]]\nid = \"alice\"\nusage_location = \"GB\"\nproxy_addresses = [\"smtp:a@x.example\"]\nattributes = {{ department = \"Finance\" }}\ndirect = [\"ENTERPRISEPACK\"]\n\
[faults]\nmissing_usage_location = {{ population = \"staff\", fraction = 0.5 }}\nduplicate_proxy_address = {{ population = \"staff\", fraction = 0.1 }}\nconflicting_direct = {{ population = \"staff\", sku = \"STANDARDPACK\", fraction = 0.01 }}\ndependent_direct = {{ population = \"staff\", sku = \"MCOMEETADV\", fraction = 0.01 }}\n\
[environment]\nqueue_delay = \"10s\"\nprocessing_latency = {{ distribution = \"lognormal\", median = \"2s\", p99 = \"30s\" }}\nsync_interval = \"15m\"\nconcurrency_probability = 0.5\n\
[[plan]]\naction = \"create_group\"\nid = \"h\"\nmembers = [\"alice\", \"g\"]\n\
[[plan]]\naction = \"assign_direct\"\nusers = [\"alice\"]\nadd = [\"EMS\"]\nremove = [\"ENTERPRISEPACK\"]\non_reject = \"stop\"\n\
[[plan]]\naction = \"remove_direct\"\nusers = \"first:2:population:staff\"\nsku = \"EMS\"\nwave_size = 1\nwave_interval = \"1h\"\ngate_each_wave = \"units_available:EMS >= 1\"\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [{{ sku = \"ENTERPRISEPACK\", disabled_plans = [\"SWAY\"] }}]\n\
[[plan]]\naction = \"add_members\"\ngroup = \"g\"\nusers = \"attribute:department=Finance\"\n\
[[plan]]\naction = \"remove_members\"\ngroup = \"g\"\nusers = \"all\"\n\
[[plan]]\naction = \"set_rule\"\ngroup = \"h\"\nrule = 'department == \"Finance\"'\n\
[[plan]]\naction = \"set_usage_location\"\nusers = \"group:g\"\nlocation = \"US\"\n\
[[plan]]\naction = \"set_attribute\"\nusers = \"all\"\nattribute = \"department\"\nvalue = \"Sales\"\n\
[[plan]]\naction = \"set_proxy_addresses\"\nusers = [\"alice\"]\nproxy_addresses = [\"smtp:alice@contoso.example\"]\n\
[[plan]]\naction = \"purchase\"\nsku = \"EMS\"\nunits = 5\n\
[[plan]]\naction = \"set_units\"\nsku = \"EMS\"\nenabled = 3\nwarning = 1\n\
[[plan]]\naction = \"reprocess_user\"\nusers = \"all\"\n\
[[plan]]\naction = \"reprocess_group\"\ngroup = \"g\"\n\
[[plan]]\naction = \"wait\"\nduration = \"1d\"\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"all\"\n\
[[plan]]\naction = \"gate\"\nrequire = \"all_members_licensed:g\"\n\
[[plan]]\naction = \"delete_user\"\nusers = [\"alice\"]\n\
[[plan]]\naction = \"delete_group\"\ngroup = \"h\"\n\
[expect]\nmax_users_in_error = 0\nno_service_loss = true\npeak_units = {{ ENTERPRISEPACK = 5 }}\nmax_rejected_calls = 3\nmax_duration = \"2d\"\n"
    );
    let sc = parse_scenario("all.toml", &text, None).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = sc.plan.iter().map(|s| s.action.name()).collect();
    for a in Action::NAMES {
        assert!(names.contains(&a), "{a} not covered");
    }
    assert_eq!(sc.faults.len(), 4);
    assert!(
        matches!(sc.plan[0].action, Action::CreateGroup(ref g) if g.members.contains(&MemberRef::Group("g".into())))
    );
    assert!(matches!(
        sc.plan[2].action,
        Action::RemoveDirect {
            users: Selector::First(2, _),
            ..
        }
    ));
    assert_eq!(sc.expect.max_duration_ms, Some(2 * 86_400_000));
    // And the whole plan runs without a panic.
    let m = run_metrics(&sc, 1, 0);
    assert!(m.events > 0);
    assert!(
        !scenarios::spec::warnings(&sc).is_empty(),
        "nested group g in h"
    );
}

#[test]
fn durations() {
    assert_eq!(parse_duration("500ms"), Ok(500));
    assert_eq!(parse_duration("30s"), Ok(30_000));
    assert_eq!(parse_duration("5m"), Ok(300_000));
    assert_eq!(parse_duration("2h"), Ok(7_200_000));
    assert_eq!(parse_duration("1d"), Ok(86_400_000));
    assert!(
        parse_duration("1w").is_err()
            && parse_duration("").is_err()
            && parse_duration("99999999999999999999d").is_err()
    );
}

#[test]
fn mutated_scenarios_never_panic() {
    let text = std::fs::read_to_string(builtin_dir().join("direct-to-group-1000.toml")).unwrap();
    let bytes = text.as_bytes();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut b = bytes.to_vec();
        let i = (x as usize) % b.len();
        match x % 3 {
            0 => b[i] = (x >> 8) as u8 % 128,
            1 => b.truncate(i),
            _ => b.insert(i, b"=[]{}\"'#"[(x >> 16) as usize % 8]),
        }
        let t = String::from_utf8_lossy(&b);
        let _ = parse_scenario("m.toml", &t, None);
    }
}

/// The sketch of SPEC section 5, verbatim: it parses and runs.
#[test]
fn the_spec_sketch_parses_and_runs() {
    let text = r##"[scenario]
name = "direct-to-group-1000"
description = "Move 1,000 users from direct E3 to an All users group, then remove direct in waves"
seeds = 200                      # default number of runs for `licsim run`
start = "2026-01-05T09:00:00Z"   # display only

[tenant]
default_usage_location = "US"
rules = "current"                # or "legacy"; catalogue = "path/to/file.csv" to load another
on_group_delete = "convert_to_direct"
subscriptions = { ENTERPRISEPACK = 1000, EMS = 1000 }
prohibited_locations = { EXCHANGE_S_ENTERPRISE = ["KP"] }

[[users]]                        # explicit users (for small, exact cases) ...
id = "alice"
usage_location = "GB"
direct = ["STANDARDPACK"]
[[populations]]                  # ... and generated ones
name = "staff"
count = 1000
id_pattern = "user{:04}"
usage_location = "US"
attributes = { department = "Sales" }
direct = [{ sku = "ENTERPRISEPACK", disabled_plans = [] }]

[[groups]]
id = "all-users"
members = ["population:staff"]
# rule = 'department == "Finance"'   # dynamic; source = "on_premises"

[faults]                         # applied per run by the seeded RNG; each names a fraction
missing_usage_location = { population = "staff", fraction = 0.02 }
duplicate_proxy_address = { population = "staff", fraction = 0.005 }
conflicting_direct = { population = "staff", sku = "STANDARDPACK", fraction = 0.01 }
dependent_direct = { population = "staff", sku = "MCOMEETADV", fraction = 0.01 }

[environment]
queue_delay = "30s"
processing_latency = { distribution = "uniform", min = "1s", max = "20s" }
sync_interval = "30m"

[[plan]]
action = "assign_group_license"
group = "all-users"
add = [{ sku = "ENTERPRISEPACK" }]
[[plan]]
action = "wait_until_processed"
group = "all-users"
[[plan]]
action = "gate"                  # stop the plan here if the condition fails
require = "no_license_errors"    # or "all_members_licensed", "units_available >= N", ...
[[plan]]
action = "remove_direct"
sku = "ENTERPRISEPACK"
users = "group:all-users"
wave_size = 100
wave_interval = "1h"
gate_each_wave = "no_service_loss"

[expect]                         # checked after each run; violation = exit status 1
max_users_in_error = 0
no_service_loss = true
peak_units = { ENTERPRISEPACK = 1000 }
"##;
    let sc = parse_scenario("sketch.toml", text, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.name, "direct-to-group-1000");
    assert_eq!(sc.faults.len(), 4);
    assert_eq!(sc.plan.len(), 4);
    let m = run_metrics(&sc, 1, 0);
    assert!(m.events > 1000);
    // alice's direct STANDARDPACK has no subscription: a rejected call of the baseline.
    assert!(
        m.baseline
            .rejected_calls
            .get("assign_user_license: CountViolation")
            .is_some_and(|n| *n >= 1),
        "{:?}",
        m.baseline
    );
}

#[test]
fn ids_of_a_large_population_can_be_referenced() {
    // Above 200,000 users the parser no longer lists every generated id; it still knows them.
    let text = "[scenario]\nname = \"big\"\n[tenant]\nsubscriptions = { ENTERPRISEPACK = 5 }\n\
[[populations]]\nname = \"staff\"\ncount = 250000\nid_pattern = \"u{:06}\"\n\
[[groups]]\nid = \"g\"\nmembers = [\"u000123\", \"u250000\"]\n";
    let sc = parse_scenario("big.toml", text, None).expect("generated ids are known");
    assert_eq!(sc.groups[0].members.len(), 2);
    let e = err(&text.replace("u250000", "u250001"));
    assert!(e.contains("u250001"), "{e}");
}
