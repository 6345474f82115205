//! Every plan action, selector, gate and expectation of the runner on small scenarios (tens of
//! users, fixed latency), the observer contract, setup order, the E1 -> E3 comparison built in
//! Rust, and determinism.

use engine::prelude::*;
use scenarios::metrics::{RunMetrics, check_expectations};
use scenarios::model::*;
use scenarios::observer::{Observer, Tee};
use scenarios::runner::RunOptions;
use scenarios::spec::parse_scenario;
use std::sync::Arc;

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
name = "actions"
[tenant]
subscriptions = { ENTERPRISEPACK = 100, STANDARDPACK = 100, EMS = 100 }
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

fn scenario(extra: &str) -> Scenario {
    parse_scenario("actions.toml", &format!("{BASE}{extra}"), None)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the scenario (seed 1, run 0): its metrics and the engine at the end.
fn run(extra: &str) -> (RunMetrics, Sim) {
    let r = scenarios::runner::run(&scenario(extra), RunOptions::new(1, 0));
    (r.metrics, r.sim)
}

fn consumed(m: &RunMetrics, sku: &str) -> u64 {
    m.consumption.get(sku).map_or(0, |c| c.final_)
}

/// SKUs a user holds by an applied path from the named group ("" = direct).
fn held(sim: &Sim, user: &str, source: &str) -> Vec<String> {
    let st = sim.state();
    let u = &st.users[st.user(user).unwrap() as usize];
    u.paths
        .iter()
        .filter(|p| p.state.applied())
        .filter(|p| match p.source {
            Source::Direct => source.is_empty(),
            Source::Group(g) => st.groups[g as usize].name == source,
        })
        .map(|p| sim.catalog().sku(p.sku).part_number.clone())
        .collect()
}

fn members(sim: &Sim, group: &str) -> Vec<String> {
    let st = sim.state();
    let g = st.group(group).unwrap();
    st.members_in_name_order(g)
        .into_iter()
        .map(|u| st.users[u as usize].name.to_string())
        .collect()
}

/// Records every batch an observer receives.
#[derive(Default)]
struct Recorder {
    batches: Vec<(bool, Vec<TimedEvent>)>,
    finished: u32,
}
impl Observer for Recorder {
    fn on_events(&mut self, _sim: &Sim, events: &[TimedEvent], after_input: bool) {
        self.batches.push((after_input, events.to_vec()));
    }
    fn on_finish(&mut self, _sim: &Sim) {
        self.finished += 1;
    }
}
impl Recorder {
    fn inputs(&self) -> Vec<(u64, Input)> {
        self.batches
            .iter()
            .flat_map(|(_, b)| b.iter())
            .filter_map(|e| match &e.event {
                Event::Input(i) => Some((e.time_ms, i.clone())),
                Event::Outcome(_) => None,
            })
            .collect()
    }
}

fn recorded(extra: &str) -> (Recorder, Sim) {
    let mut r = Recorder::default();
    let sim = scenarios::runner::run(&scenario(extra), RunOptions::new(1, 0).observed(&mut r)).sim;
    (r, sim)
}

fn name_of(sim: &Sim, u: UserIdx) -> String {
    sim.state().users[u as usize].name.to_string()
}

// ---- actions -------------------------------------------------------------------------------------

#[test]
fn assign_group_license_and_wait_until_processed() {
    let (m, sim) = run(
        "[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"gate\"\nrequire = \"all_members_licensed:g\"\n",
    );
    assert_eq!(consumed(&m, "EMS"), 20);
    assert!(!m.plan_stopped, "{:?}", m.gate_stops);
    // Queue delay 30 s, then 20 users at 1 s each.
    assert_eq!(m.group_complete_ms["g"], 50_000);
    assert_eq!(m.plan_duration_ms, 50_000);
    assert_eq!(m.end_time_ms, 50_000);
    assert_eq!(held(&sim, "s01", "g"), ["EMS"]);
    assert_eq!(m.failures.total, 0);
    assert_eq!(m.consumption["EMS"].peak, 20);
    assert_eq!(m.consumption["EMS"].peak_time_ms, 50_000);
    // One point per change, times increasing.
    let tl = &m.consumption["EMS"].timeline;
    assert_eq!(tl.len(), 20);
    assert!(tl.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
    assert_eq!(tl[0], (31_000, 1));
}

#[test]
fn assign_direct_and_remove_direct() {
    let (m, sim) = run(
        "[[plan]]\naction = \"assign_direct\"\nusers = [\"amy\", \"zed\"]\nadd = [\"ENTERPRISEPACK\", \"EMS\"]\n\
[[plan]]\naction = \"assign_direct\"\nusers = [\"amy\"]\nadd = [\"STANDARDPACK\"]\nremove = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"remove_direct\"\nusers = [\"zed\"]\nsku = \"EMS\"\n",
    );
    let mut amy = held(&sim, "amy", "");
    amy.sort();
    assert_eq!(amy, ["EMS", "STANDARDPACK"]);
    assert_eq!(held(&sim, "zed", ""), ["ENTERPRISEPACK"]);
    assert_eq!(consumed(&m, "ENTERPRISEPACK"), 1);
    assert_eq!(consumed(&m, "EMS"), 1);
    assert_eq!(m.rejected_calls_total, 0);
    // The one-call swap E3 -> E1 keeps amy's Exchange (R19); zed lost EMS's families.
    assert!(m.service.get("exchange").is_none_or(|s| s.outages == 0));
    assert!(m.service.values().any(|s| s.by_step.contains_key("step 3")));
}

#[test]
fn add_members_and_remove_members_in_waves() {
    let (m, sim) = run(
        "[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"add_members\"\ngroup = \"g\"\nusers = [\"zed\", \"amy\"]\nwave_size = 1\nwave_interval = \"10m\"\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"remove_members\"\ngroup = \"g\"\nusers = \"first:5:group:g\"\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n",
    );
    // first:5 of amy, s01..s20, zed in byte-wise order: amy, s01, s02, s03, s04.
    let left = members(&sim, "g");
    assert_eq!(left.len(), 17);
    assert_eq!(left[0], "s05");
    assert_eq!(left[16], "zed");
    assert_eq!(consumed(&m, "EMS"), 17);
    assert_eq!(m.consumption["EMS"].peak, 22);
    assert_eq!(m.waves.len(), 2);
    assert_eq!(m.waves["step 2 wave 2"].start_ms, 600_000);
    // Removing members is a deliberate loss of service, attributed to step 4.
    let intune = &m.service["intune"];
    assert_eq!(intune.users_lost, 5);
    assert_eq!(intune.by_step.get("step 4"), Some(&5));
    assert_eq!(intune.still_lost_end, 5);
}

#[test]
fn create_group_and_delete_group() {
    let (m, sim) = run(
        "[[plan]]\naction = \"create_group\"\nid = \"h\"\nmembers = [\"amy\", \"population:staff\"]\nlicenses = [\"EMS\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"h\"\n\
[[plan]]\naction = \"delete_group\"\ngroup = \"h\"\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"h\"\nremove = [\"EMS\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"h\"\n\
[[plan]]\naction = \"delete_group\"\ngroup = \"h\"\n",
    );
    assert_eq!(m.consumption["EMS"].peak, 21);
    // A licensed group cannot be deleted (R23): rejected, counted apart from direct calls.
    assert_eq!(m.rejected_calls_total, 0);
    assert_eq!(
        m.rejected_other
            .iter()
            .filter(|(k, _)| k.starts_with("delete_group: "))
            .map(|(_, n)| *n)
            .sum::<u64>(),
        1,
        "{:?}",
        m.rejected_other
    );
    assert!(sim.state().group("h").is_none());
    assert_eq!(consumed(&m, "EMS"), 0);
}

#[test]
fn set_rule_makes_a_static_group_dynamic() {
    let (m, sim) = run(
        "[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"set_rule\"\ngroup = \"g\"\nrule = 'department == \"Finance\"'\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n",
    );
    assert_eq!(members(&sim, "g"), ["zed"]);
    assert_eq!(consumed(&m, "EMS"), 1);
    assert_eq!(m.service["intune"].users_lost, 20);
}

#[test]
fn set_attribute_moves_users_into_a_dynamic_group() {
    let (m, sim) = run(
        "[[groups]]\nid = \"finance\"\nrule = 'department == \"Finance\"'\nlicenses = [\"EMS\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"finance\"\n\
[[plan]]\naction = \"set_attribute\"\nusers = [\"amy\", \"s01\"]\nattribute = \"department\"\nvalue = \"finance\"\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"finance\"\n",
    );
    // Evaluated at setup with no delay (zed), then after the change (amy, s01).
    assert_eq!(members(&sim, "finance"), ["amy", "s01", "zed"]);
    assert_eq!(consumed(&m, "EMS"), 3);
    // The attribute selector sees the new value (case-insensitively).
    let (m, _) = run(
        "[[plan]]\naction = \"set_attribute\"\nusers = [\"amy\", \"s01\"]\nattribute = \"department\"\nvalue = \"Finance\"\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"attribute:Department=FINANCE\"\nadd = [\"EMS\"]\n",
    );
    assert_eq!(consumed(&m, "EMS"), 3);
}

#[test]
fn set_usage_location_repairs_a_missing_location() {
    let fault = "[faults]\nmissing_usage_location = { population = \"staff\", fraction = 1.0 }\n";
    let (m, _) = run(&format!(
        "{fault}[[plan]]\naction = \"assign_direct\"\nusers = \"population:staff\"\nadd = [\"EMS\"]\n"
    ));
    assert_eq!(m.rejected_calls.get("InvalidUsageLocation"), Some(&20));
    let (m, sim) = run(&format!(
        "{fault}[[plan]]\naction = \"set_usage_location\"\nusers = \"population:staff\"\nlocation = \"DE\"\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"population:staff\"\nadd = [\"EMS\"]\n"
    ));
    assert_eq!(m.rejected_calls_total, 0);
    assert_eq!(consumed(&m, "EMS"), 20);
    let st = sim.state();
    assert_eq!(
        st.users[st.user("s07").unwrap() as usize].usage_location,
        Some(*b"DE")
    );
}

#[test]
fn set_proxy_addresses_and_reprocess_user() {
    let plan = "[[plan]]\naction = \"set_proxy_addresses\"\nusers = [\"zed\"]\nproxy_addresses = [\"SMTP:zed@contoso.example\", \"smtp:s01@contoso.example\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"set_proxy_addresses\"\nusers = [\"zed\"]\nproxy_addresses = [\"SMTP:zed@contoso.example\"]\n";
    let (m, _) = run(plan);
    assert_eq!(m.failures.by_kind.get("UniquenessViolation"), Some(&1));
    assert_eq!(m.failures.by_sku.get("ENTERPRISEPACK"), Some(&1));
    assert_eq!(m.failures.by_wave.get("step 2"), Some(&1));
    // Fixing the address retries nothing (R21); a reprocess does (R22).
    assert_eq!(m.users_in_error_end, 1);
    assert_eq!(m.errors_timeline.last().map(|p| p.1), Some(1));
    let (m, sim) = run(&format!(
        "{plan}[[plan]]\naction = \"reprocess_user\"\nusers = [\"s01\"]\n"
    ));
    assert_eq!(m.users_in_error_end, 0);
    assert_eq!(m.errors_timeline.last().map(|p| p.1), Some(0));
    assert_eq!(consumed(&m, "ENTERPRISEPACK"), 20);
    assert_eq!(held(&sim, "s01", "g"), ["ENTERPRISEPACK"]);
}

#[test]
fn set_units_purchase_reprocess_group_and_shortfall() {
    let (m, _) = run(
        "[[plan]]\naction = \"set_units\"\nsku = \"EMS\"\nenabled = 8\nwarning = 2\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"gate\"\nrequire = \"units_available:EMS >= 0\"\n\
[[plan]]\naction = \"purchase\"\nsku = \"EMS\"\nunits = 20\n\
[[plan]]\naction = \"reprocess_group\"\ngroup = \"g\"\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"assign_direct\"\nusers = [\"amy\", \"zed\"]\nadd = [\"EMS\"]\n",
    );
    assert_eq!(m.failures.by_kind.get("CountViolation"), Some(&10));
    let ems = &m.consumption["EMS"];
    // enabled 8 + warning 2 assignable; 10 users waited on a unit.
    assert_eq!(ems.shortfall, 10);
    assert_eq!(ems.assignable, 30);
    assert_eq!(ems.final_, 22);
    assert_eq!(ems.peak, 22);
    assert_eq!(m.users_in_error_end, 0);
    assert!(!m.plan_stopped);
}

#[test]
fn delete_user_frees_seats_without_a_loss_of_service() {
    let (m, sim) = run(
        "[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"delete_user\"\nusers = \"first:5:population:staff\"\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"all\"\nadd = [\"STANDARDPACK\"]\n\
[[plan]]\naction = \"remove_direct\"\nusers = \"population:staff\"\nsku = \"STANDARDPACK\"\n",
    );
    assert_eq!(consumed(&m, "EMS"), 15);
    // Deleting a user is not a loss of service (removing E1 in step 5 is).
    assert!(
        m.service
            .values()
            .all(|s| !s.by_step.contains_key("step 3"))
    );
    assert_eq!(m.service["exchange"].users_lost, 15);
    // Deleted users are no longer selected by "all" or by their population.
    assert_eq!(m.consumption["STANDARDPACK"].peak, 17);
    assert_eq!(consumed(&m, "STANDARDPACK"), 2);
    assert_eq!(m.rejected_calls_total, 0);
    assert!(sim.state().user("s01").is_none());
    assert_eq!(members(&sim, "g").len(), 15);
}

#[test]
fn wait_advances_time_and_is_bounded_by_max_duration() {
    let (m, sim) = run("[[plan]]\naction = \"wait\"\nduration = \"2h\"\n");
    assert_eq!(sim.now(), 7_200_000);
    assert_eq!(m.plan_duration_ms, 7_200_000);
    assert!(!m.timed_out);
    // The run stops at max_duration: a warning, not a panic.
    let sc = scenario(
        "[[plan]]\naction = \"wait\"\nduration = \"2h\"\n[[plan]]\naction = \"assign_direct\"\nusers = \"all\"\nadd = [\"EMS\"]\n",
    );
    let mut sc = sc;
    sc.max_duration_ms = 3_600_000;
    let m = run_metrics(&sc, 1, 0);
    assert!(m.timed_out);
    assert_eq!(m.end_time_ms, 3_600_000);
    assert!(m.warnings.iter().any(|w| w.contains("max_duration")));
    assert_eq!(consumed(&m, "EMS"), 0, "the step after the limit never ran");
}

#[test]
fn an_empty_plan_ends_at_time_zero() {
    let (m, _) = run("");
    assert_eq!(m.plan_duration_ms, 0);
    assert_eq!(m.end_time_ms, 0);
    assert!(!m.timed_out && !m.plan_stopped);
    // The baseline's group licences are processed before the plan, with no delay: nothing is
    // left to do after an empty plan.
    let (m, sim) = run("[[groups]]\nid = \"h\"\nmembers = [\"amy\"]\nlicenses = [\"EMS\"]\n");
    assert_eq!(m.plan_duration_ms, 0);
    assert_eq!(m.end_time_ms, 0);
    assert_eq!(m.failures.total, 0);
    assert!(held(&sim, "amy", "h").contains(&"EMS".to_string()));
}

#[test]
fn wait_until_processed_is_bounded_and_waits_for_every_group() {
    let mut sc = scenario(
        "[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"assign_direct\"\nusers = [\"amy\"]\nadd = [\"EMS\"]\n",
    );
    sc.max_duration_ms = 40_000;
    let m = run_metrics(&sc, 1, 0);
    assert!(m.timed_out);
    assert_eq!(m.end_time_ms, 40_000);
    assert_eq!(consumed(&m, "EMS"), 10);
    assert!(
        !m.plan_stopped,
        "a time-out is a warning, not a failed gate"
    );

    // group = "all": both groups complete before the next step; on-premises changes wait for
    // the directory sync (R27).
    let (m, _) = run(
        "[[groups]]\nid = \"onprem\"\nsource = \"on_premises\"\nmembers = [\"zed\"]\nlicenses = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"add_members\"\ngroup = \"onprem\"\nusers = [\"amy\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"all\"\n\
[[plan]]\naction = \"gate\"\nrequire = \"all_members_licensed:g\"\n\
[[plan]]\naction = \"gate\"\nrequire = \"all_members_licensed:onprem\"\n",
    );
    assert!(!m.plan_stopped, "{:?}", m.gate_stops);
    assert_eq!(consumed(&m, "ENTERPRISEPACK"), 2);
    assert!(m.group_complete_ms["onprem"] >= 1_800_000);
    assert_eq!(m.plan_duration_ms, m.group_complete_ms["onprem"]);
}

// ---- gates and on_reject --------------------------------------------------------------------------

#[test]
fn gate_no_license_errors_stops_the_plan() {
    let plan = "[[plan]]\naction = \"assign_direct\"\nusers = [\"s01\"]\nadd = [\"STANDARDPACK\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n\
[[plan]]\naction = \"gate\"\nrequire = \"no_license_errors\"\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"all\"\nadd = [\"EMS\"]\n";
    let (m, _) = run(plan);
    assert!(m.plan_stopped);
    assert_eq!(m.gate_stops.len(), 1);
    assert_eq!(m.gate_stops[0].step, 4);
    assert!(m.gate_stops[0].reason.contains("no_license_errors"));
    assert_eq!(consumed(&m, "EMS"), 0);
    assert_eq!(
        m.failures.by_kind.get("MutuallyExclusiveViolation"),
        Some(&1)
    );
    // Without the conflicting direct licence the gate passes.
    let (m, _) = run(&plan.replacen("[\"s01\"]", "[\"amy\"]", 1));
    assert!(!m.plan_stopped);
    assert_eq!(consumed(&m, "EMS"), 22);
}

#[test]
fn gate_each_wave_no_service_loss_stops_after_the_first_losing_wave() {
    let plan = "[[plan]]\naction = \"assign_direct\"\nusers = \"population:staff\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"remove_direct\"\nusers = \"population:staff\"\nsku = \"EMS\"\nwave_size = 5\nwave_interval = \"1h\"\n";
    let (m, _) = run(&format!("{plan}gate_each_wave = \"no_service_loss\"\n"));
    assert!(m.plan_stopped);
    assert_eq!(consumed(&m, "EMS"), 15);
    assert_eq!(m.waves.len(), 1);
    assert_eq!(m.gate_stops[0].step, 2);
    // The gate is checked once the interval has elapsed.
    assert_eq!(m.plan_duration_ms, 3_600_000);
    assert_eq!(m.service["intune"].by_step.get("step 2 wave 1"), Some(&5));
    // Without the gate, all four waves run, each at its own time, and outages are attributed to
    // the wave that opened them.
    let (m, _) = run(plan);
    assert!(!m.plan_stopped);
    assert_eq!(consumed(&m, "EMS"), 0);
    assert_eq!(m.waves.len(), 4);
    assert_eq!(m.service["intune"].by_step.get("step 2 wave 4"), Some(&5));
    assert_eq!(m.service["intune"].users_lost, 20);
    assert_eq!(m.plan_duration_ms, 3 * 3_600_000);
    // Outages still open at the end run until the end of the run.
    assert_eq!(
        m.service["intune"].user_ms,
        5 * (3 + 2 + 1) * 3_600_000,
        "{:?}",
        m.service["intune"]
    );
    assert_eq!(m.service["intune"].user_minutes, 5 * 6 * 60);
    assert_eq!(m.service["intune"].longest_outage_ms, 3 * 3_600_000);
}

#[test]
fn gate_all_members_licensed_and_units_available() {
    // all_members_licensed fails while processing is still under way.
    let (m, _) = run(
        "[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"wait\"\nduration = \"40s\"\n\
[[plan]]\naction = \"gate\"\nrequire = \"all_members_licensed:g\"\n",
    );
    assert!(m.plan_stopped);
    assert!(m.gate_stops[0].reason.contains("all_members_licensed:g"));
    assert_eq!(m.plan_duration_ms, 40_000);
    // units_available: 100 - 20 = 80 available.
    let ok = "[[plan]]\naction = \"assign_direct\"\nusers = \"population:staff\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"gate\"\nrequire = \"units_available:EMS >= 80\"\n";
    assert!(!run(ok).0.plan_stopped);
    let (m, _) = run(&ok.replace(">= 80", ">= 81"));
    assert!(m.plan_stopped);
    assert!(m.gate_stops[0].reason.contains("units_available:EMS >= 81"));
}

#[test]
fn on_reject_stop_on_a_group_call_and_on_a_direct_call() {
    let plan = "[[groups]]\nid = \"mail\"\nsecurity_enabled = false\nmembers = [\"amy\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"mail\"\nadd = [\"EMS\"]\n";
    let next = "[[plan]]\naction = \"assign_direct\"\nusers = [\"amy\"]\nadd = [\"EMS\"]\n";
    let (m, _) = run(&format!("{plan}{next}"));
    assert!(!m.plan_stopped);
    assert_eq!(consumed(&m, "EMS"), 1);
    assert_eq!(m.rejected_calls_total, 0);
    assert_eq!(m.rejected_other.values().sum::<u64>(), 1);
    let (m, _) = run(&format!("{plan}on_reject = \"stop\"\n{next}"));
    assert!(m.plan_stopped);
    assert_eq!(m.gate_stops[0].step, 1);
    assert_eq!(consumed(&m, "EMS"), 0);
    // A direct step stops at its first rejected call: zed does not hold EMS (LicenseNotAssigned).
    let (r, _) = recorded(
        "[[plan]]\naction = \"assign_direct\"\nusers = [\"amy\"]\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"remove_direct\"\nusers = [\"amy\", \"zed\", \"s01\"]\nsku = \"EMS\"\non_reject = \"stop\"\n",
    );
    let calls: Vec<Input> = r
        .inputs()
        .into_iter()
        .map(|(_, i)| i)
        .filter(|i| matches!(i, Input::AssignUserLicense { remove, .. } if !remove.is_empty()))
        .collect();
    assert_eq!(
        calls.len(),
        2,
        "amy removed, zed rejected, s01 never called"
    );
}

// ---- selectors, ordering, setup, observer ---------------------------------------------------------

#[test]
fn explicit_lists_run_in_the_order_listed_others_in_byte_wise_id_order() {
    let (r, sim) = recorded(
        "[[plan]]\naction = \"assign_direct\"\nusers = [\"zed\", \"s03\", \"amy\"]\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"first:3:all\"\nadd = [\"STANDARDPACK\"]\n\
[[plan]]\naction = \"reprocess_user\"\nusers = \"attribute:department=sales\"\n",
    );
    let order = |sku: &str| -> Vec<String> {
        let s = sim.catalog().sku_by_name(sku).unwrap();
        r.inputs()
            .into_iter()
            .filter_map(|(_, i)| match i {
                Input::AssignUserLicense { user, add, .. } if add.iter().any(|l| l.sku == s) => {
                    Some(name_of(&sim, user))
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(order("EMS"), ["zed", "s03", "amy"]);
    assert_eq!(order("STANDARDPACK"), ["amy", "s01", "s02"]);
    let reprocessed: Vec<String> = r
        .inputs()
        .into_iter()
        .filter_map(|(_, i)| match i {
            Input::ReprocessUser { user } => Some(name_of(&sim, user)),
            _ => None,
        })
        .collect();
    assert_eq!(reprocessed.len(), 21);
    assert_eq!(reprocessed[0], "amy");
    assert_eq!(reprocessed[20], "s20");
    // All calls of one step happen at the same simulated time.
    let times: Vec<u64> = r.inputs().iter().map(|(t, _)| *t).collect();
    assert!(times.iter().all(|t| *t == 0));
}

#[test]
fn selector_group_is_resolved_when_the_step_runs() {
    let (m, _) = run(
        "[[plan]]\naction = \"add_members\"\ngroup = \"g\"\nusers = [\"amy\"]\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"group:g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"first:2:population:staff\"\nadd = [\"STANDARDPACK\"]\n",
    );
    assert_eq!(consumed(&m, "EMS"), 21);
    assert_eq!(consumed(&m, "STANDARDPACK"), 2);
}

#[test]
fn setup_order_and_rejected_setup_calls() {
    let (r, sim) = recorded(
        "[[users]]\nid = \"nolocation\"\ndirect = [\"EMS\"]\n\
[[groups]]\nid = \"h\"\nmembers = [\"amy\"]\nlicenses = [\"ENTERPRISEPACK\"]\n",
    );
    // The baseline (SPEC 10, issue 9): subscriptions, users, groups, the groups' licences, then
    // the direct licences (so an add-on on a group's prerequisite is valid), all at time 0.
    let kinds: Vec<&str> = r.inputs().iter().map(|(_, i)| i.kind()).collect();
    let first = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
    let last = |k: &str| kinds.iter().rposition(|x| *x == k).unwrap();
    assert_eq!(first("baseline_start"), 0);
    assert!(last("set_units") < first("create_user"));
    assert!(last("create_user") < first("create_group"));
    assert!(last("create_group") < first("assign_group_license"));
    assert!(last("assign_group_license") < first("assign_user_license"));
    assert!(last("assign_user_license") < first("baseline_end"));
    assert!(
        first("baseline_end") < first("marker"),
        "the plan starts after the baseline"
    );
    assert!(r.inputs().iter().all(|(t, _)| *t == 0));
    // Explicit users first, then the population (ids from the pattern, 1-based).
    let created: Vec<String> = r
        .inputs()
        .into_iter()
        .filter_map(|(_, i)| match i {
            Input::CreateUser { name, .. } => Some(name),
            _ => None,
        })
        .collect();
    assert_eq!(&created[..4], ["zed", "amy", "nolocation", "s01"]);
    assert_eq!(created.last().map(String::as_str), Some("s20"));
    assert!(held(&sim, "amy", "h").contains(&"ENTERPRISEPACK".to_string()));

    let m = run_metrics(
        &scenario("[[users]]\nid = \"nolocation\"\ndirect = [\"EMS\"]\n"),
        1,
        0,
    );
    // A rejected call of the baseline is the baseline's, not the plan's.
    assert_eq!(
        m.baseline
            .rejected_calls
            .get("assign_user_license: InvalidUsageLocation"),
        Some(&1)
    );
    assert_eq!(m.rejected_calls_total, 0);
    // A baseline in error is reported as such, and not as the plan's failures.
    let (m, _) = run(
        "[[groups]]\nid = \"h\"\nmembers = [\"population:staff\"]\nlicenses = [\"EMS\"]\n\
[[plan]]\naction = \"set_units\"\nsku = \"EMS\"\nenabled = 5\n\
[[plan]]\naction = \"reprocess_group\"\ngroup = \"h\"\n\
[[plan]]\naction = \"wait\"\nduration = \"1h\"\n",
    );
    assert_eq!(m.baseline.users_in_error, 0, "100 units for 20 users");
    assert_eq!(m.failures.total, 0, "held seats survive a cut in units");
    let sc = parse_scenario(
        "short.toml",
        "[tenant]\nsubscriptions = { EMS = 5 }\n\
[[populations]]\nname = \"staff\"\ncount = 20\nid_pattern = \"s{:02}\"\n\
[[groups]]\nid = \"h\"\nmembers = [\"population:staff\"]\nlicenses = [\"EMS\"]\n",
        None,
    )
    .unwrap();
    let m = run_metrics(&sc, 1, 0);
    assert_eq!(m.baseline.users_in_error, 15);
    assert_eq!(m.baseline.users_by_kind.get("CountViolation"), Some(&15));
    assert_eq!(m.failures.total, 0);
    assert_eq!(m.users_in_error_end, 15);
}

#[test]
fn observer_contract_after_input_tee_and_finish() {
    let sc = scenario(
        "[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"EMS\"]\n\
[[plan]]\naction = \"wait\"\nduration = \"10s\"\n\
[[plan]]\naction = \"remove_members\"\ngroup = \"g\"\nusers = \"first:2:group:g\"\nwave_size = 1\nwave_interval = \"1m\"\n",
    );
    let (mut a, mut b) = (Recorder::default(), Recorder::default());
    let (m, sim) = {
        let mut tee = Tee(&mut a, &mut b);
        let r = scenarios::runner::run(&sc, RunOptions::new(1, 0).observed(&mut tee));
        (r.metrics, r.sim)
    };
    assert_eq!(a.batches, b.batches);
    assert_eq!((a.finished, b.finished), (1, 1));
    let mut total = 0;
    let mut last_t = 0;
    for (after_input, batch) in &a.batches {
        let inputs = batch
            .iter()
            .filter(|e| matches!(e.event, Event::Input(_)))
            .count();
        if *after_input {
            assert_eq!(inputs, 1);
            assert!(matches!(batch[0].event, Event::Input(_)));
        } else {
            assert_eq!(inputs, 0);
        }
        for e in batch {
            assert!(e.time_ms >= last_t);
            last_t = e.time_ms;
        }
        total += batch.len() as u64;
    }
    assert_eq!(total, m.events);
    assert!(a.batches.iter().any(|(ai, _)| !ai), "engine job batches");
    assert_eq!(m.final_state_hash, sim.state_hash());
    // Markers: Step for each step, WaveStart per wave, PlanEnd last.
    let markers: Vec<Marker> = a
        .inputs()
        .into_iter()
        .filter_map(|(_, i)| match i {
            Input::Marker(mk) => Some(mk),
            _ => None,
        })
        .collect();
    assert_eq!(markers.len(), 3 + 2 + 1);
    assert!(matches!(markers[0], Marker::Step { step: 1, .. }));
    assert!(matches!(
        markers[3],
        Marker::WaveStart {
            step: 3,
            wave: 1,
            users: 1
        }
    ));
    assert!(matches!(markers[5], Marker::PlanEnd));
}

// ---- faults ------------------------------------------------------------------------------------------

#[test]
fn faults_are_deterministic_per_seed_and_run() {
    let sc = scenario(
        "[faults]\nmissing_usage_location = { population = \"staff\", fraction = 0.5 }\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"population:staff\"\nadd = [\"EMS\"]\n",
    );
    let picked = |seed, run| {
        run_metrics(&sc, seed, run)
            .rejected_calls
            .get("InvalidUsageLocation")
            .copied()
            .unwrap_or(0)
    };
    let a = picked(1, 0);
    assert_eq!(a, picked(1, 0));
    let all: Vec<(u64, u64)> = (0..8).map(|r| (r, picked(1, r))).collect();
    assert!(all.iter().any(|(_, n)| *n != a), "{all:?}");
    assert!(all.iter().all(|(_, n)| *n <= 20));
    // A fraction of 0 picks nobody.
    let m = run_metrics(
        &scenario(
            "[faults]\nconflicting_direct = { population = \"staff\", sku = \"STANDARDPACK\", fraction = 0.0 }\n",
        ),
        1,
        0,
    );
    assert_eq!(consumed(&m, "STANDARDPACK"), 0);
}

#[test]
fn dependent_direct_on_users_who_have_the_prerequisite_succeeds() {
    let m = run_metrics(
        &scenario(
            "[[populations]]\nname = \"conf\"\ncount = 4\nid_pattern = \"c{}\"\nusage_location = \"US\"\ndirect = [\"ENTERPRISEPACK\"]\n\
[faults]\ndependent_direct = { population = \"conf\", sku = \"MCOMEETADV\", fraction = 1.0 }\n",
        )
        .with_units("MCOMEETADV", 10),
        1,
        0,
    );
    assert_eq!(m.rejected_calls_total, 0);
    assert_eq!(consumed(&m, "MCOMEETADV"), 4);
}

trait WithUnits {
    fn with_units(self, sku: &str, n: u32) -> Self;
}
impl WithUnits for Scenario {
    fn with_units(mut self, sku: &str, n: u32) -> Scenario {
        let s = self.catalog.sku_by_name(sku).unwrap();
        self.tenant.subscriptions.push((
            s,
            PrepaidUnits {
                enabled: n,
                ..Default::default()
            },
        ));
        self
    }
}

// ---- expectations --------------------------------------------------------------------------------

#[test]
fn each_expectation_passes_at_its_bound_and_fails_beyond() {
    let cat = Catalog::builtin(RulesProfile::Current);
    let e3 = cat.sku_by_name("ENTERPRISEPACK").unwrap();
    let mut m = RunMetrics {
        users_in_error_end: 2,
        rejected_calls_total: 1,
        end_time_ms: 1000,
        ..RunMetrics::default()
    };
    m.rejected_other
        .insert("delete_group: UnknownGroup".into(), 1);
    m.consumption
        .entry("ENTERPRISEPACK".into())
        .or_default()
        .peak = 1000;
    let at = Expectations {
        max_users_in_error: Some(2),
        no_service_loss: Some(true),
        peak_units: vec![(e3, 1000)],
        max_rejected_calls: Some(2),
        max_duration_ms: Some(1000),
        ..Expectations::default()
    };
    assert!(check_expectations(&at, &m, &cat).is_empty());
    let below = Expectations {
        max_users_in_error: Some(1),
        no_service_loss: Some(true),
        peak_units: vec![(e3, 999)],
        max_rejected_calls: Some(1),
        max_duration_ms: Some(999),
        ..Expectations::default()
    };
    m.service.entry("exchange".into()).or_default().outages = 1;
    m.service.get_mut("exchange").unwrap().users_lost = 1;
    let f: Vec<String> = check_expectations(&below, &m, &cat)
        .iter()
        .map(|f| format!("{}: {}", f.expectation, f.message))
        .collect();
    assert_eq!(f.len(), 5, "{f:?}");
    assert_eq!(
        f[0],
        "max_users_in_error: 2 users in error at the end > max_users_in_error 1"
    );
    assert_eq!(f[1], "no_service_loss: loss of service: exchange (1 users)");
    assert_eq!(
        f[2],
        "peak_units.ENTERPRISEPACK: peak units of ENTERPRISEPACK 1000 > 999"
    );
    assert_eq!(
        f[3],
        "max_rejected_calls: 2 rejected calls > max_rejected_calls 1"
    );
    assert_eq!(
        f[4],
        "max_duration: run lasted 1s of simulated time > max_duration 999 ms"
    );
    // Nothing expected: the defaults apply (no user in error, nobody still without a service).
    let d = check_expectations(&Expectations::default(), &m, &cat);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].expectation, "max_users_in_error");
    m.service_total.still_lost_end = 1;
    m.service.get_mut("exchange").unwrap().still_lost_end = 1;
    let d = check_expectations(&Expectations::default(), &m, &cat);
    assert_eq!(d[1].expectation, "no_service_loss_at_end");
    assert_eq!(
        d[1].message,
        "1 users still without a service at the end: exchange (1 users)"
    );
    // A run that did not finish fails whatever the scenario expects.
    m.timed_out = true;
    m.warnings
        .push("max_duration reached before quiescence (1000 ms)".into());
    let t = check_expectations(&at, &m, &cat);
    assert_eq!(t[0].expectation, "finishes_in_time", "{t:?}");
    // Through a run: the failures land in the metrics.
    let (m, _) = run(
        "[[plan]]\naction = \"assign_direct\"\nusers = \"all\"\nadd = [\"EMS\"]\n[expect]\npeak_units = { EMS = 21 }\n",
    );
    let f: Vec<String> = m
        .expectation_failures
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(f, ["peak units of EMS 22 > 21"]);
}

// ---- the E1 -> E3 comparison, built in Rust ----------------------------------------------------------

fn e1_to_e3(steps: &[&str]) -> Scenario {
    let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
    let e1 = cat.sku_by_name("STANDARDPACK").unwrap();
    let e3 = cat.sku_by_name("ENTERPRISEPACK").unwrap();
    let mut sc = Scenario::new("e1-to-e3", cat);
    let units = PrepaidUnits {
        enabled: 20,
        ..Default::default()
    };
    sc.tenant.subscriptions = vec![(e1, units), (e3, units)];
    sc.environment.processing_latency = Latency::Fixed { value_ms: 1000 };
    sc.populations.push(Population {
        name: "sales".into(),
        count: 20,
        id_pattern: "sales{:02}".into(),
        usage_location: Some(*b"US"),
        attributes: vec![],
        direct: vec![],
    });
    sc.groups.push(GroupSpec {
        id: "sales".into(),
        display_name: "Sales".into(),
        security_enabled: true,
        source: GroupSource::Cloud,
        rule: None,
        members: vec![MemberRef::Users(Selector::Population("sales".into()))],
        licenses: vec![LicenseSpec::new(e1)],
    });
    let wait = || {
        Step::new(Action::WaitUntilProcessed {
            group: Some("sales".into()),
        })
    };
    sc.plan.push(wait());
    for s in steps {
        let (add, remove) = match *s {
            "swap" => (vec![LicenseSpec::new(e3)], vec![e1]),
            "add" => (vec![LicenseSpec::new(e3)], vec![]),
            _ => (vec![], vec![e1]),
        };
        sc.plan.push(Step::new(Action::AssignGroupLicense {
            group: "sales".into(),
            add,
            remove,
        }));
        sc.plan.push(wait());
    }
    sc
}

#[test]
fn e1_to_e3_one_call_versus_add_first_versus_remove_first() {
    let one = run_metrics(&e1_to_e3(&["swap"]), 1, 0);
    assert_eq!(one.failures.total, 0);
    assert!(
        one.service.values().all(|s| s.outages == 0),
        "{:?}",
        one.service
    );
    assert_eq!(one.consumption["ENTERPRISEPACK"].final_, 20);
    assert_eq!(one.consumption["STANDARDPACK"].final_, 0);

    let add = run_metrics(&e1_to_e3(&["add", "remove"]), 1, 0);
    assert_eq!(
        add.failures.by_kind.get("MutuallyExclusiveViolation"),
        Some(&20)
    );
    assert_eq!(add.failures.by_wave.get("step 2"), Some(&20));
    assert_eq!(add.errors_timeline.iter().map(|p| p.1).max(), Some(20));

    let rem = run_metrics(&e1_to_e3(&["remove", "add"]), 1, 0);
    assert_eq!(rem.failures.total, 0);
    let ex = &rem.service["exchange"];
    assert_eq!(ex.users_lost, 20);
    assert_eq!(ex.still_lost_end, 0);
    assert_eq!(ex.by_step.get("step 2"), Some(&20));
    assert!(ex.user_ms > 0 && ex.longest_outage_ms > 0);
    assert_eq!(rem.service["sharepoint"].users_lost, 20);
}

// ---- determinism -------------------------------------------------------------------------------------

#[test]
fn same_seed_same_metrics_other_run_other_timeline() {
    let mut sc = e1_to_e3(&["remove", "add"]);
    sc.environment.processing_latency = Latency::Uniform {
        min_ms: 1000,
        max_ms: 20_000,
    };
    let a = run_metrics(&sc, 9, 3);
    let b = run_metrics(&sc, 9, 3);
    assert_eq!(a, b);
    assert_eq!(a.final_state_hash, b.final_state_hash);
    let c = run_metrics(&sc, 9, 4);
    assert_ne!(
        a.consumption["ENTERPRISEPACK"].timeline,
        c.consumption["ENTERPRISEPACK"].timeline
    );
    assert_ne!(a.service["exchange"].user_ms, c.service["exchange"].user_ms);
    // The metrics serialize the same way every time.
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

// ---- SPEC 10: steps naming a user that no longer exists -----------------------------------------

const DELETE_THEN_ADD: &str = "[[groups]]\nid = \"h\"\nmembers = []\n\
[[plan]]\naction = \"delete_user\"\nusers = [\"s02\"]\n\
[[plan]]\naction = \"add_members\"\ngroup = \"h\"\nusers = [\"s01\", \"s02\", \"s03\"]\n";

#[test]
fn r20_add_members_naming_a_deleted_user_rejects_that_user_and_adds_the_others() {
    let (m, sim) = run(DELETE_THEN_ADD);
    let st = sim.state();
    let h = st.group("h").unwrap();
    let members: Vec<String> = st
        .members_in_name_order(h)
        .iter()
        .map(|u| st.users[*u as usize].name.to_string())
        .collect();
    assert_eq!(members, ["s01", "s03"]);
    assert_eq!(m.rejected_other.get("add_members: UnknownUser"), Some(&1));
    assert!(!m.plan_stopped);
    // With on_reject = "stop", the others are still added, then the plan stops.
    let (m, sim) = run(&format!(
        "{DELETE_THEN_ADD}on_reject = \"stop\"\n[[plan]]\naction = \"wait\"\nduration = \"1h\"\n"
    ));
    assert!(m.plan_stopped);
    let st = sim.state();
    assert_eq!(st.members_in_name_order(st.group("h").unwrap()).len(), 2);
}

#[test]
fn r20_direct_calls_on_a_deleted_user_are_rejected_and_counted_the_others_proceed() {
    let (m, _) = run("[[plan]]\naction = \"delete_user\"\nusers = [\"s02\"]\n\
[[plan]]\naction = \"assign_direct\"\nusers = [\"s01\", \"s02\", \"s03\"]\nadd = [\"EMS\"]\n");
    assert_eq!(m.rejected_calls.get("UnknownUser"), Some(&1));
    assert_eq!(consumed(&m, "EMS"), 2);
}
