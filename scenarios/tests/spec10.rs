//! SPEC section 10, "Readings pinned where the rules above leave room": the readings about the
//! scenario's setup (the baseline, issue 9), plan steps, gates and defaults that had no test of
//! their own (issue 13). Each test says which sentence it pins and fails if the runner read it
//! otherwise. `docs/spec10-coverage.md` maps every reading to its test(s).

use engine::prelude::*;
use scenarios::metrics::RunMetrics;
use scenarios::model::Scenario;
use scenarios::observer::Observer;
use scenarios::runner::RunOptions;
use scenarios::spec::parse_scenario;

fn scenario(text: &str) -> Scenario {
    parse_scenario("spec10.toml", text, None).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the scenario (seed 1, run 0): its metrics and the engine at the end.
fn run(text: &str) -> (RunMetrics, Sim) {
    let r = scenarios::runner::run(&scenario(text), RunOptions::new(1, 0));
    (r.metrics, r.sim)
}

/// Every input the run gave the engine, with its time.
#[derive(Default)]
struct Inputs(Vec<(u64, Input)>);
impl Observer for Inputs {
    fn on_events(&mut self, _sim: &Sim, events: &[TimedEvent], _after_input: bool) {
        for e in events {
            if let Event::Input(i) = &e.event {
                self.0.push((e.time_ms, i.clone()));
            }
        }
    }
}

fn recorded(text: &str) -> (Inputs, RunMetrics, Sim) {
    let mut obs = Inputs::default();
    let r = scenarios::runner::run(&scenario(text), RunOptions::new(1, 0).observed(&mut obs));
    (obs, r.metrics, r.sim)
}

fn name(sim: &Sim, u: UserIdx) -> String {
    sim.state().users[u as usize].name.to_string()
}

/// SKUs a user holds by an applied path from the named group ("" = direct), sorted.
fn held(sim: &Sim, user: &str, source: &str) -> Vec<String> {
    let st = sim.state();
    let u = &st.users[st.user(user).unwrap() as usize];
    let mut v: Vec<String> = u
        .paths
        .iter()
        .filter(|p| p.state.applied())
        .filter(|p| match p.source {
            Source::Direct => source.is_empty(),
            Source::Group(g) => st.groups[g as usize].name == source,
        })
        .map(|p| sim.catalog().sku(p.sku).part_number.clone())
        .collect();
    v.sort();
    v
}

fn members(sim: &Sim, group: &str) -> Vec<String> {
    let st = sim.state();
    st.members_in_name_order(st.group(group).unwrap())
        .into_iter()
        .map(|u| name(sim, u))
        .collect()
}

fn consumed(m: &RunMetrics, sku: &str) -> u64 {
    m.consumption.get(sku).map_or(0, |c| c.final_)
}

const FIXED: &str =
    "[environment]\nprocessing_latency = { distribution = \"fixed\", value = \"1s\" }\n";

// ---- Setup (the baseline) -------------------------------------------------------------------------

#[test]
fn spec10_setup_direct_licences_are_one_call_per_user_in_declaration_order_with_every_check() {
    // Pins "`direct` licences of `[[users]]` and `[[populations]]` are applied at time 0 as one
    // R05 call per user, in declaration order (explicit users, then populations), with every
    // check": zz (declared first, last by id) gets both its SKUs in one call; the last EMS unit
    // goes to p1 and p2, p3 are short (first come, first served in declaration order, not in id
    // order); mm has no usage location and is rejected by R06 even at setup.
    let (inputs, m, sim) = recorded(
        "[tenant]\nsubscriptions = { EMS = 3, ENTERPRISEPACK = 2 }\n\
[[users]]\nid = \"zz\"\nusage_location = \"US\"\ndirect = [\"EMS\", \"ENTERPRISEPACK\"]\n\
[[users]]\nid = \"aa\"\nusage_location = \"US\"\ndirect = [\"EMS\"]\n\
[[users]]\nid = \"mm\"\ndirect = [\"ENTERPRISEPACK\"]\n\
[[populations]]\nname = \"p\"\ncount = 3\nid_pattern = \"p{}\"\nusage_location = \"US\"\ndirect = [\"EMS\"]\n",
    );
    let calls: Vec<(u64, String, usize)> = inputs
        .0
        .iter()
        .filter_map(|(t, i)| match i {
            Input::AssignUserLicense { user, add, .. } => Some((*t, name(&sim, *user), add.len())),
            _ => None,
        })
        .collect();
    let want: Vec<(u64, String, usize)> = [("zz", 2), ("aa", 1), ("mm", 1)]
        .into_iter()
        .chain([("p1", 1), ("p2", 1), ("p3", 1)])
        .map(|(n, k)| (0, n.to_string(), k))
        .collect();
    assert_eq!(calls, want);
    assert_eq!(held(&sim, "zz", ""), ["EMS", "ENTERPRISEPACK"]);
    assert_eq!(held(&sim, "aa", ""), ["EMS"]);
    assert_eq!(held(&sim, "p1", ""), ["EMS"]);
    assert!(held(&sim, "p2", "").is_empty() && held(&sim, "mm", "").is_empty());
    let b = &m.baseline.rejected_calls;
    assert_eq!(b.get("assign_user_license: CountViolation"), Some(&2));
    assert_eq!(b.get("assign_user_license: InvalidUsageLocation"), Some(&1));
}

#[test]
fn spec10_setup_rejected_calls_are_the_baselines_not_the_plans() {
    // Pins the Setup sentence "a rejected setup call is counted as a rejected direct call" as it
    // now reads (issue 9, a reading that changed): it is counted among the baseline's rejected
    // calls, not the plan's, so `max_rejected_calls` (the plan's) does not see it; the same call
    // made by the plan is the plan's.
    let tenant = "[tenant]\nsubscriptions = { EMS = 5 }\n[[users]]\nid = \"nolo\"\n";
    let (m, _) = run(&format!(
        "{tenant}direct = [\"EMS\"]\n[expect]\nmax_rejected_calls = 0\n"
    ));
    assert_eq!(
        m.baseline
            .rejected_calls
            .get("assign_user_license: InvalidUsageLocation"),
        Some(&1)
    );
    assert_eq!(m.rejected_calls_total, 0);
    assert!(m.rejected_calls.is_empty());
    assert!(
        m.expectation_failures.is_empty(),
        "{:?}",
        m.expectation_failures
    );
    let (m, _) = run(&format!(
        "{tenant}[[plan]]\naction = \"assign_direct\"\nusers = [\"nolo\"]\nadd = [\"EMS\"]\n\
[expect]\nmax_rejected_calls = 0\n"
    ));
    assert!(m.baseline.rejected_calls.is_empty());
    assert_eq!(m.rejected_calls.get("InvalidUsageLocation"), Some(&1));
    assert_eq!(m.expectation_failures.len(), 1);
}

#[test]
fn spec10_setup_faults_are_applied_after_the_direct_licences() {
    // Pins "Faults are applied after that": a population with a direct licence whose every member
    // loses its usage location to a fault still holds the licence (the R05 calls came first and
    // passed R06), and the fault's inputs follow every direct call of the setup.
    let (inputs, m, sim) = recorded(
        "[tenant]\nsubscriptions = { EMS = 5 }\n\
[[populations]]\nname = \"p\"\ncount = 5\nid_pattern = \"p{}\"\nusage_location = \"US\"\ndirect = [\"EMS\"]\n\
[faults]\nmissing_usage_location = { population = \"p\", fraction = 1.0 }\n",
    );
    assert!(m.baseline.rejected_calls.is_empty(), "{:?}", m.baseline);
    assert_eq!(consumed(&m, "EMS"), 5);
    let st = sim.state();
    assert!(st.users.iter().all(|u| u.usage_location.is_none()));
    let pos = |f: &dyn Fn(&Input) -> bool| -> Vec<usize> {
        inputs
            .0
            .iter()
            .enumerate()
            .filter(|(_, (_, i))| f(i))
            .map(|(k, _)| k)
            .collect()
    };
    let direct = pos(&|i| matches!(i, Input::AssignUserLicense { .. }));
    let faults = pos(&|i| matches!(i, Input::SetUsageLocation { .. }));
    assert_eq!((direct.len(), faults.len()), (5, 5));
    assert!(direct.last() < faults.first());
}

#[test]
fn spec10_setup_groups_with_a_rule_are_evaluated_with_no_delay() {
    // Pins "Groups with a `rule` are evaluated at setup with no delay": the dynamic group's
    // members hold its licence at time 0, a gate at the plan's first step sees them licensed,
    // and the run ends at time 0.
    let (m, sim) = run(&format!(
        "[tenant]\nsubscriptions = {{ EMS = 5 }}\n\
[[users]]\nid = \"zed\"\nattributes = {{ department = \"Finance\" }}\n\
[[users]]\nid = \"amy\"\nattributes = {{ department = \"Sales\" }}\n\
[[groups]]\nid = \"fin\"\nrule = 'department == \"finance\"'\nlicenses = [\"EMS\"]\n\
{FIXED}[[plan]]\naction = \"gate\"\nrequire = \"all_members_licensed:fin\"\n"
    ));
    assert!(!m.plan_stopped, "{:?}", m.gate_stops);
    assert_eq!(members(&sim, "fin"), ["zed"]);
    assert_eq!(held(&sim, "zed", "fin"), ["EMS"]);
    assert_eq!((m.plan_duration_ms, m.end_time_ms), (0, 0));
}

#[test]
fn spec10_baseline_direct_licences_come_after_the_groups_licences() {
    // Pins the baseline's order (issue 9): the groups' licences are processed before the direct
    // licences, so an add-on whose prerequisite comes from a group is valid at setup, and a
    // direct licence that conflicts with a group's is the rejected call (the group's path stays
    // Active) rather than the group's path in error.
    let (m, sim) = run(&format!(
        "[tenant]\nsubscriptions = {{ ENTERPRISEPACK = 5, MCOMEETADV = 5, STANDARDPACK = 5 }}\n\
[[users]]\nid = \"amy\"\nusage_location = \"US\"\ndirect = [\"MCOMEETADV\"]\n\
[[users]]\nid = \"bob\"\nusage_location = \"US\"\ndirect = [\"STANDARDPACK\"]\n\
[[groups]]\nid = \"e3\"\nmembers = [\"amy\", \"bob\"]\nlicenses = [\"ENTERPRISEPACK\"]\n{FIXED}"
    ));
    assert_eq!(held(&sim, "amy", ""), ["MCOMEETADV"]);
    assert_eq!(held(&sim, "amy", "e3"), ["ENTERPRISEPACK"]);
    assert_eq!(held(&sim, "bob", "e3"), ["ENTERPRISEPACK"]);
    assert!(held(&sim, "bob", "").is_empty());
    assert_eq!(
        m.baseline.rejected_calls,
        [(
            "assign_user_license: MutuallyExclusiveViolation".to_string(),
            1
        )]
        .into_iter()
        .collect()
    );
    assert_eq!(m.baseline.users_in_error, 0);
}

// ---- Workers, membership and direct steps -----------------------------------------------------------

#[test]
fn spec10_add_members_queue_in_byte_wise_id_order_direct_calls_in_the_order_listed() {
    // Pins "`add_members`/`remove_members` queue the changed users in byte-wise id order. Direct
    // calls on an explicit user list run in the order listed": with one EMS unit, the list
    // ["zed", "amy"] gives the group's unit to amy but the direct unit to zed.
    let users = "[tenant]\nsubscriptions = { EMS = 1 }\n\
[[users]]\nid = \"zed\"\nusage_location = \"US\"\n[[users]]\nid = \"amy\"\nusage_location = \"US\"\n";
    let (m, sim) = run(&format!(
        "{users}[[groups]]\nid = \"g\"\nmembers = []\nlicenses = [\"EMS\"]\n{FIXED}\
[[plan]]\naction = \"add_members\"\ngroup = \"g\"\nusers = [\"zed\", \"amy\"]\n"
    ));
    assert_eq!(held(&sim, "amy", "g"), ["EMS"]);
    assert!(held(&sim, "zed", "g").is_empty());
    assert_eq!(m.failures.by_kind.get("CountViolation"), Some(&1));
    let (m, sim) = run(&format!(
        "{users}[[plan]]\naction = \"assign_direct\"\nusers = [\"zed\", \"amy\"]\nadd = [\"EMS\"]\n"
    ));
    assert_eq!(held(&sim, "zed", ""), ["EMS"]);
    assert_eq!(m.rejected_calls.get("CountViolation"), Some(&1));
}

const STAFF: &str = "[tenant]\nsubscriptions = { EMS = 10 }\n\
[[populations]]\nname = \"staff\"\ncount = 3\nid_pattern = \"s{:02}\"\nusage_location = \"US\"\n\
[[groups]]\nid = \"h\"\nmembers = [\"population:staff\"]\n";

#[test]
fn r20_remove_members_naming_a_deleted_user_rejects_that_user_and_removes_the_others() {
    // Pins "Membership and direct steps naming a user that does not exist (deleted): that user's
    // change is rejected and counted (`UnknownUser`, honouring `on_reject`); the other users of
    // the step proceed" for remove_members (add_members and direct calls: runner_actions.rs).
    let plan = "[[plan]]\naction = \"delete_user\"\nusers = [\"s02\"]\n\
[[plan]]\naction = \"remove_members\"\ngroup = \"h\"\nusers = [\"s01\", \"s02\", \"s03\"]\n";
    let (m, sim) = run(&format!("{STAFF}{plan}"));
    assert!(members(&sim, "h").is_empty());
    assert_eq!(
        m.rejected_other.get("remove_members: UnknownUser"),
        Some(&1)
    );
    assert!(!m.plan_stopped);
    let (m, sim) = run(&format!(
        "{STAFF}{plan}on_reject = \"stop\"\n[[plan]]\naction = \"wait\"\nduration = \"1h\"\n"
    ));
    assert!(m.plan_stopped);
    assert!(members(&sim, "h").is_empty());
    assert_eq!(m.plan_duration_ms, 0, "the wait never ran");
}

// ---- R26 ------------------------------------------------------------------------------------------

#[test]
fn r26_the_delay_key_is_dynamic_evaluation_delay_default_5m() {
    // Pins "R26: the delay key is `dynamic_evaluation_delay` (default 5m)": an attribute change at
    // time 0 brings the user into a licensed dynamic group after the delay, then the queue delay
    // (30s) and the latency (1s).
    let text = |delay: &str| {
        format!(
            "[tenant]\nsubscriptions = {{ EMS = 5 }}\n\
[[users]]\nid = \"amy\"\nattributes = {{ department = \"Sales\" }}\n\
[[groups]]\nid = \"fin\"\nrule = 'department == \"Finance\"'\nlicenses = [\"EMS\"]\n\
{FIXED}{delay}[[plan]]\naction = \"set_attribute\"\nusers = [\"amy\"]\nattribute = \"department\"\nvalue = \"Finance\"\n"
        )
    };
    let sc = scenario(&text("dynamic_evaluation_delay = \"2m\"\n"));
    assert_eq!(sc.environment.dynamic_evaluation_delay_ms, 2 * MINUTE);
    let (m, _) = run(&text("dynamic_evaluation_delay = \"2m\"\n"));
    assert_eq!(m.consumption["EMS"].timeline.last(), Some(&(151_000, 1)));
    let (m, _) = run(&text(""));
    assert_eq!(m.consumption["EMS"].timeline.last(), Some(&(331_000, 1)));
}

// ---- Waves and gates ------------------------------------------------------------------------------

#[test]
fn spec10_gate_each_wave_is_not_checked_before_the_first_wave() {
    // Pins "`gate_each_wave` is checked before every wave after the first, once `wave_interval`
    // has elapsed": a gate that fails from the start lets the first wave run, then stops the
    // plan an interval later.
    let (m, _) = run(&format!(
        "{STAFF}[[plan]]\naction = \"assign_direct\"\nusers = \"population:staff\"\nadd = [\"EMS\"]\n\
wave_size = 1\nwave_interval = \"1h\"\ngate_each_wave = \"units_available:EMS >= 100\"\n"
    ));
    assert_eq!(consumed(&m, "EMS"), 1);
    assert!(m.plan_stopped);
    assert_eq!(m.waves.len(), 1);
    assert_eq!(m.plan_duration_ms, HOUR);
}

#[test]
fn spec10_gate_no_license_errors_fails_on_an_active_with_error_path() {
    // Pins "`no_license_errors` (no path in `Error` or `ActiveWithError`)": the only path in
    // error is ActiveWithError (a removal blocked by R16), and the gate stops the plan.
    let (m, sim) = run(&format!(
        "[tenant]\nsubscriptions = {{ ENTERPRISEPACK = 5, MCOMEETADV = 5, EMS = 5 }}\n\
[[users]]\nid = \"amy\"\nusage_location = \"US\"\ndirect = [\"MCOMEETADV\"]\n\
[[groups]]\nid = \"e3\"\nmembers = [\"amy\"]\nlicenses = [\"ENTERPRISEPACK\"]\n{FIXED}\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"e3\"\nremove = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"e3\"\n\
[[plan]]\naction = \"gate\"\nrequire = \"no_license_errors\"\n\
[[plan]]\naction = \"assign_direct\"\nusers = [\"amy\"]\nadd = [\"EMS\"]\n"
    ));
    let st = sim.state();
    let amy = &st.users[st.user("amy").unwrap() as usize];
    assert!(amy.paths.iter().all(|p| p.state != PathState::Error));
    assert!(
        amy.paths
            .iter()
            .any(|p| p.state == PathState::ActiveWithError)
    );
    assert!(m.plan_stopped);
    assert_eq!(m.gate_stops[0].step, 3);
    assert_eq!(consumed(&m, "EMS"), 0);
}

#[test]
fn spec10_gate_no_service_loss_fails_on_an_outage_already_restored() {
    // Pins "`no_service_loss` (no outage opened so far)": E1 removed then given back restores
    // every outage, yet the gate after it stops the plan.
    let e1 = |verb: &str| {
        format!(
            "[[plan]]\naction = \"assign_group_license\"\ngroup = \"h\"\n{verb} = [\"STANDARDPACK\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"h\"\n"
        )
    };
    let (m, _) = run(&format!(
        "{}{}{}{}[[plan]]\naction = \"gate\"\nrequire = \"no_service_loss\"\n\
[[plan]]\naction = \"assign_direct\"\nusers = \"all\"\nadd = [\"EMS\"]\n",
        STAFF.replace("EMS = 10", "EMS = 10, STANDARDPACK = 10"),
        e1("add"),
        e1("remove"),
        e1("add")
    ));
    let ex = &m.service["exchange"];
    assert_eq!((ex.users_lost, ex.still_lost_end), (3, 0));
    assert!(m.plan_stopped);
    assert_eq!(m.gate_stops[0].step, 7);
    assert_eq!(consumed(&m, "EMS"), 0);
}

// ---- Environment defaults -------------------------------------------------------------------------

#[test]
fn spec10_environment_defaults() {
    // Pins "Environment defaults: queue_delay 30s, processing_latency uniform 1s-20s,
    // dynamic_evaluation_delay 5m, sync_interval 30m, max_duration 30d", for a scenario that
    // sets none of them.
    let sc = scenario("[[users]]\nid = \"u\"\n");
    let e = sc.environment;
    assert_eq!(e.queue_delay_ms, 30 * SECOND);
    assert_eq!(
        e.processing_latency,
        Latency::Uniform {
            min_ms: SECOND,
            max_ms: 20 * SECOND
        }
    );
    assert_eq!(e.dynamic_evaluation_delay_ms, 5 * MINUTE);
    assert_eq!(e.sync_interval_ms, 30 * MINUTE);
    assert_eq!(sc.max_duration_ms, 30 * DAY);
    assert_eq!(e, Environment::default());
}
