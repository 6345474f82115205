//! Plan actions, selectors, faults, gates and expectations in the runner, and the identity of a
//! recorded run with the same run inside a sweep.

use engine::log::{self, Header, LogWriter, Stop};
use engine::prelude::*;
use scenarios::observer::Observer;
use scenarios::runner::{RunOptions, sim_config};
use scenarios::spec::parse_scenario;

/// One run's metrics (`runner::run` with nothing else watching).
fn run_metrics(
    sc: &scenarios::model::Scenario,
    seed: u64,
    run: u64,
) -> scenarios::metrics::RunMetrics {
    scenarios::runner::run(sc, scenarios::runner::RunOptions::new(seed, run)).metrics
}

const BASE: &str = r#"
[scenario]
name = "t"
[tenant]
subscriptions = { ENTERPRISEPACK = 100, STANDARDPACK = 100, EMS = 100, MCOMEETADV = 100 }
[[users]]
id = "zed"
usage_location = "GB"
attributes = { department = "Finance" }
[[users]]
id = "amy"
usage_location = "US"
attributes = { department = "Sales" }
[[populations]]
name = "staff"
count = 20
id_pattern = "s{:02}"
usage_location = "US"
attributes = { department = "Sales" }
[[groups]]
id = "g"
members = ["population:staff"]
[environment]
processing_latency = { distribution = "fixed", value = "1s" }
"#;

fn run(extra: &str) -> scenarios::metrics::RunMetrics {
    let sc =
        parse_scenario("t.toml", &format!("{BASE}{extra}"), None).unwrap_or_else(|e| panic!("{e}"));
    run_metrics(&sc, 1, 0)
}

fn consumed(m: &scenarios::metrics::RunMetrics, sku: &str) -> u64 {
    m.consumption.get(sku).map_or(0, |c| c.final_)
}

#[test]
fn selectors_pick_the_right_users() {
    let ids = "[[plan]]\naction = \"assign_direct\"\nusers = [\"zed\", \"amy\"]\nadd = [\"EMS\"]\n";
    assert_eq!(consumed(&run(ids), "EMS"), 2);
    let all = "[[plan]]\naction = \"assign_direct\"\nusers = \"all\"\nadd = [\"EMS\"]\n";
    assert_eq!(consumed(&run(all), "EMS"), 22);
    let pop =
        "[[plan]]\naction = \"assign_direct\"\nusers = \"population:staff\"\nadd = [\"EMS\"]\n";
    assert_eq!(consumed(&run(pop), "EMS"), 20);
    let grp = "[[plan]]\naction = \"assign_direct\"\nusers = \"group:g\"\nadd = [\"EMS\"]\n";
    assert_eq!(consumed(&run(grp), "EMS"), 20);
    let attr = "[[plan]]\naction = \"assign_direct\"\nusers = \"attribute:department=finance\"\nadd = [\"EMS\"]\n";
    assert_eq!(consumed(&run(attr), "EMS"), 1);
    let first = "[[plan]]\naction = \"assign_direct\"\nusers = \"first:5:all\"\nadd = [\"EMS\"]\n";
    assert_eq!(consumed(&run(first), "EMS"), 5);
}

#[test]
fn waves_gates_and_on_reject() {
    let waves = "[[plan]]\naction = \"assign_direct\"\nusers = \"population:staff\"\nadd = [\"EMS\"]\nwave_size = 6\nwave_interval = \"1h\"\n";
    let m = run(waves);
    assert_eq!(m.waves.len(), 4);
    assert_eq!(m.waves["step 1 wave 4"].start_ms, 3 * 3_600_000);
    // units_available gate stops before the wave that would run out
    let stop = "[[plan]]\naction = \"set_units\"\nsku = \"EMS\"\nenabled = 10\n[[plan]]\naction = \"assign_direct\"\nusers = \"population:staff\"\nadd = [\"EMS\"]\nwave_size = 5\nwave_interval = \"1h\"\ngate_each_wave = \"units_available:EMS >= 5\"\n";
    let m = run(stop);
    assert_eq!(consumed(&m, "EMS"), 10);
    assert!(m.plan_stopped && m.gate_stops.len() == 1);
    // on_reject = "stop": zed has usage location GB, but a removal of a SKU nobody holds is rejected
    let rej = "[[plan]]\naction = \"remove_direct\"\nusers = \"all\"\nsku = \"EMS\"\non_reject = \"stop\"\n[[plan]]\naction = \"assign_direct\"\nusers = \"all\"\nadd = [\"EMS\"]\n";
    let m = run(rej);
    assert_eq!(m.rejected_calls.get("LicenseNotAssigned"), Some(&1));
    assert!(m.plan_stopped);
    assert_eq!(consumed(&m, "EMS"), 0);
    let gate = "[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n[[plan]]\naction = \"gate\"\nrequire = \"all_members_licensed:g\"\n[[plan]]\naction = \"assign_direct\"\nusers = \"all\"\nadd = [\"EMS\"]\n";
    assert!(run(gate).plan_stopped);
}

#[test]
fn faults_apply_their_fraction_from_the_seeded_rng() {
    let f = "[faults]\nmissing_usage_location = { population = \"staff\", fraction = 1.0 }\n[[plan]]\naction = \"assign_direct\"\nusers = \"population:staff\"\nadd = [\"EMS\"]\n";
    let m = run(f);
    assert_eq!(m.rejected_calls.get("InvalidUsageLocation"), Some(&20));
    let f = "[faults]\nconflicting_direct = { population = \"staff\", sku = \"STANDARDPACK\", fraction = 0.5 }\n[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"ENTERPRISEPACK\"]\n";
    let m = run(f);
    let conflicts = m
        .failures
        .by_kind
        .get("MutuallyExclusiveViolation")
        .copied()
        .unwrap_or(0);
    assert_eq!(conflicts, consumed(&m, "STANDARDPACK"));
    assert!(conflicts > 0 && conflicts < 20, "{conflicts}");
    // Faults belong to the baseline: their rejected calls are the baseline's.
    let f = "[faults]\ndependent_direct = { population = \"staff\", sku = \"MCOMEETADV\", fraction = 1.0 }\n";
    assert_eq!(
        run(f)
            .baseline
            .rejected_calls
            .get("assign_user_license: DependencyViolation"),
        Some(&20)
    );
    let f = "[faults]\nduplicate_proxy_address = { population = \"staff\", fraction = 0.2 }\n[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"ENTERPRISEPACK\"]\n";
    assert!(
        run(f)
            .failures
            .by_kind
            .get("UniquenessViolation")
            .is_some_and(|n| *n >= 2)
    );
}

/// Every failed expectation's message, one per line.
fn messages(m: &scenarios::metrics::RunMetrics) -> String {
    let v: Vec<String> = m
        .expectation_failures
        .iter()
        .map(|f| f.to_string())
        .collect();
    v.join("\n")
}

#[test]
fn every_expectation_can_fail() {
    let plan = "[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"STANDARDPACK\"]\n[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nremove = [\"STANDARDPACK\"]\n[[plan]]\naction = \"remove_direct\"\nusers = [\"amy\"]\nsku = \"EMS\"\n";
    let m = run(&format!(
        "{plan}[expect]\nmax_users_in_error = 0\nno_service_loss = true\npeak_units = {{ STANDARDPACK = 19 }}\nmax_rejected_calls = 0\nmax_duration = \"1m\"\n"
    ));
    let f = messages(&m);
    assert!(f.contains("loss of service"), "{f}");
    assert!(f.contains("peak units of STANDARDPACK 20 > 19"), "{f}");
    assert!(f.contains("rejected calls > max_rejected_calls 0"), "{f}");
    assert!(f.contains("> max_duration"), "{f}");
    let m = run(
        "[[plan]]\naction = \"assign_direct\"\nusers = [\"amy\"]\nadd = [\"STANDARDPACK\"]\n[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"ENTERPRISEPACK\"]\n[[plan]]\naction = \"add_members\"\ngroup = \"g\"\nusers = [\"amy\"]\n[expect]\nmax_users_in_error = 0\n",
    );
    assert!(
        messages(&m).contains("1 users in error at the end > max_users_in_error 0"),
        "{:?}",
        m.expectation_failures
    );
}

struct LogObs(LogWriter);
impl Observer for LogObs {
    fn on_events(&mut self, sim: &Sim, events: &[TimedEvent], after_input: bool) {
        self.0.observe(sim, events, after_input);
    }
}

#[test]
fn a_recorded_run_is_the_same_run_as_in_a_sweep_and_replays_to_its_hash() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("builtin");
    let sc = scenarios::spec::load_scenario(&dir.join("direct-to-group-ems-finance.toml")).unwrap();
    let opts = scenarios::sweep::SweepOptions {
        threads: Some(2),
        keep_rows: true,
        ..scenarios::sweep::SweepOptions::new(5, 3)
    };
    let report = scenarios::sweep::sweep(&sc, &opts);
    let rows = report.agg.csv.as_ref().unwrap();
    let cfg = sim_config(&sc, 5, 2);
    let record = || {
        let mut obs = LogObs(LogWriter::new(&Header::new(&sc.name, &sc.catalog, &cfg)));
        let r = scenarios::runner::run(&sc, RunOptions::new(5, 2).observed(&mut obs));
        let (m, sim) = (r.metrics, r.sim);
        (m, obs.0.finish(sim.now(), sim.state_hash()))
    };
    let (m, bytes) = record();
    assert_eq!(m.final_state_hash, rows[2].state_hash);
    assert_eq!(bytes, record().1, "same scenario, seed and run: same bytes");
    let r = log::replay(&bytes, Stop::End).unwrap();
    assert!(r.divergence.is_none(), "{:?}", r.divergence);
    assert_eq!(r.final_state_hash, rows[2].state_hash);
}

#[test]
fn check_mode_finds_no_invariant_violation_in_the_builtin_migrations() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("builtin");
    for name in [
        "direct-to-group-ems-finance",
        "audio-conferencing-dependency",
        "e1-to-e3-remove-first",
    ] {
        let sc = scenarios::spec::load_scenario(&dir.join(format!("{name}.toml"))).unwrap();
        let opts = RunOptions {
            check_invariants: true,
            ..RunOptions::new(1, 0)
        };
        let m = scenarios::runner::run(&sc, opts).metrics;
        assert!(
            !m.expectation_failures
                .iter()
                .any(|f| f.expectation == "invariants"),
            "{name}: {:?}",
            m.expectation_failures
        );
    }
}

#[test]
fn custom_skus_family_overrides_and_rule_sets_from_the_tenant() {
    let text = r#"
[tenant]
subscriptions = { CONTOSO_MAIL = 5, ENTERPRISEPACK = 5 }
service_families = { CONTOSO_MAILBOX = "exchange" }
exclusive_sets = { Mail = ["CONTOSO_MAILBOX", "EXCHANGE_S_ENTERPRISE"] }
[[tenant.skus]]
part_number = "CONTOSO_MAIL"
guid = "00000000-0000-0000-0000-000000000001"
plans = [{ name = "CONTOSO_MAILBOX", guid = "00000000-0000-0000-0000-000000000002" }]
[[users]]
id = "alice"
usage_location = "US"
direct = ["CONTOSO_MAIL"]
[[plan]]
action = "assign_direct"
users = ["alice"]
add = ["ENTERPRISEPACK"]
[[plan]]
action = "remove_direct"
users = ["alice"]
sku = "CONTOSO_MAIL"
"#;
    let sc = parse_scenario("custom.toml", text, None).unwrap_or_else(|e| panic!("{e}"));
    let mbx = sc.catalog.plan_by_name("CONTOSO_MAILBOX").unwrap();
    assert_eq!(
        sc.catalog.family_name(sc.catalog.plan(mbx).family),
        "exchange"
    );
    let m = run_metrics(&sc, 1, 0);
    // The custom exclusive set rejects E3 next to the custom mailbox plan (R13)...
    assert_eq!(m.rejected_calls.get("MutuallyExclusiveViolation"), Some(&1));
    // ... and removing the only mailbox is a loss of the overridden family "exchange".
    assert_eq!(m.service["exchange"].users_lost, 1);
    assert_eq!(m.service["exchange"].still_lost_end, 1);
}

#[test]
fn a_restored_service_closes_the_outage_and_counts_its_minutes() {
    let text = "[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"STANDARDPACK\"]\n[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nremove = [\"STANDARDPACK\"]\n[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n[[plan]]\naction = \"wait\"\nduration = \"1h\"\n[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"STANDARDPACK\"]\n";
    let m = run(text);
    let ex = &m.service["exchange"];
    assert_eq!(ex.users_lost, 20);
    assert_eq!(ex.outages, 20);
    assert_eq!(ex.still_lost_end, 0);
    assert!(
        ex.longest_outage_ms >= 3_600_000,
        "{}",
        ex.longest_outage_ms
    );
    assert!(ex.user_minutes >= 20 * 60, "{}", ex.user_minutes);
    assert_eq!(ex.by_step.get("step 3"), Some(&20));
}
