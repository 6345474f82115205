//! The plan runner: compiles a scenario plus (seed, run index) into timed input events and drives
//! the engine with them (SPEC 3, 5, 10). Every event goes to an [`Observer`] (metrics, the log
//! writer), after every engine call.
//!
//! Readings of SPEC 10 made here:
//! - Faults: each member of the population is picked independently with the fault's fraction
//!   (`dist::chance_ppm`, one draw per member, in population order, from
//!   `rng_for(seed, run, STREAM_SCENARIO)`), so the number picked varies from run to run around
//!   `count x fraction`; faults run after the setup `direct` licences and before the groups.
//! - All calls of one step (or wave) happen at the same simulated time; waves are
//!   `wave_interval` apart, and the engine runs up to each wave's time before its gate is checked.
//! - A `wait` or `wait_until_processed` that would pass `max_duration` stops the plan there with a
//!   warning (`timed_out`), as does a wave scheduled after it; the run then ends at the limit.

use crate::metrics::{MetricsObserver, RunMetrics};
use crate::model::*;
use engine::dist::{self, STREAM_SCENARIO};
use engine::prelude::*;
use rand_chacha::ChaCha8Rng;

/// Receives every event of a run, in order.
pub trait Observer {
    /// Called after every engine call with the events it produced; `after_input` is true when
    /// the call was `Sim::apply` (the only points where a replay reproduces the state).
    fn on_events(&mut self, sim: &Sim, events: &[TimedEvent], after_input: bool);
    /// Called once at the end of the run.
    fn on_finish(&mut self, _sim: &Sim) {}
    /// A warning about the run (time limit reached, ...).
    fn warn(&mut self, _warning: String) {}
}

/// An observer that ignores everything.
pub struct NoObserver;
impl Observer for NoObserver {
    fn on_events(&mut self, _: &Sim, _: &[TimedEvent], _: bool) {}
}

/// Two observers in one.
pub struct Tee<'a, 'b>(pub &'a mut dyn Observer, pub &'b mut dyn Observer);
impl Observer for Tee<'_, '_> {
    fn on_events(&mut self, sim: &Sim, events: &[TimedEvent], after_input: bool) {
        self.0.on_events(sim, events, after_input);
        self.1.on_events(sim, events, after_input);
    }
    fn on_finish(&mut self, sim: &Sim) {
        self.0.on_finish(sim);
        self.1.on_finish(sim);
    }
    fn warn(&mut self, w: String) {
        self.0.warn(w.clone());
        self.1.warn(w);
    }
}

/// The engine configuration of a run.
pub fn sim_config(sc: &Scenario, seed: u64, run: u64) -> SimConfig {
    SimConfig {
        seed,
        run,
        environment: sc.environment,
        tenant: TenantConfig {
            default_usage_location: sc.tenant.default_usage_location,
            on_group_delete: sc.tenant.on_group_delete,
            domain: sc.tenant.domain.clone(),
        },
        start_unix_s: sc.start_unix_s,
    }
}

/// One run with metrics: what `licsim run` does for each run index.
pub fn run_metrics(sc: &Scenario, seed: u64, run: u64) -> RunMetrics {
    let mut m = MetricsObserver::new(sc.catalog.clone(), seed, run);
    let sim = run_once(sc, seed, run, &mut m);
    m.finish(&sim, &sc.expect)
}

/// Checks SPEC 9 invariants 1-4 after every engine call (`--check`): slow, for debugging.
#[derive(Default)]
pub struct InvariantChecker {
    /// The first violations found (at most 10), with the simulated time.
    pub violations: Vec<String>,
}

impl Observer for InvariantChecker {
    fn on_events(&mut self, sim: &Sim, events: &[TimedEvent], _after_input: bool) {
        if self.violations.len() >= 10 {
            return;
        }
        let t = events.last().map_or(sim.now(), |e| e.time_ms);
        for v in engine::invariants::check(sim.catalog(), sim.state()) {
            if self.violations.len() < 10 {
                self.violations
                    .push(format!("invariant violated at {t} ms: {v}"));
            }
        }
    }
}

/// [`run_metrics`], checking the invariants after every engine call when `check` is set; a
/// violation is reported as a failed expectation.
pub fn run_metrics_checked(sc: &Scenario, seed: u64, run: u64, check: bool) -> RunMetrics {
    if !check {
        return run_metrics(sc, seed, run);
    }
    let mut c = InvariantChecker::default();
    let (mut m, _) = run_metrics_with(sc, seed, run, &mut c);
    m.expectation_failures.extend(c.violations);
    m
}

/// One run with metrics and another observer (the log writer of `licsim record`).
pub fn run_metrics_with(
    sc: &Scenario,
    seed: u64,
    run: u64,
    other: &mut dyn Observer,
) -> (RunMetrics, Sim) {
    let mut m = MetricsObserver::new(sc.catalog.clone(), seed, run);
    let sim = {
        let mut tee = Tee(&mut m, other);
        run_once(sc, seed, run, &mut tee)
    };
    (m.finish(&sim, &sc.expect), sim)
}

/// Runs the scenario once and returns the engine at the end of the run.
pub fn run_once(sc: &Scenario, seed: u64, run: u64, observer: &mut dyn Observer) -> Sim {
    let sim = Sim::new(sc.catalog.clone(), sim_config(sc, seed, run));
    let mut r = Runner {
        sc,
        sim,
        obs: observer,
        buf: Vec::new(),
        service_lost: false,
        rng: dist::rng_for(seed, run, STREAM_SCENARIO),
        stopped: false,
        populations: Vec::new(),
    };
    r.setup();
    r.plan();
    r.finish();
    r.sim
}

struct Runner<'a> {
    sc: &'a Scenario,
    sim: Sim,
    obs: &'a mut dyn Observer,
    buf: Vec<TimedEvent>,
    service_lost: bool,
    rng: ChaCha8Rng,
    stopped: bool,
    /// The users each population created (by population index, in population order); a
    /// member that was deleted later is filtered out when used.
    populations: Vec<Vec<UserIdx>>,
}

const NO_GROUP: GroupIdx = GroupIdx::MAX;
const NO_USER: UserIdx = UserIdx::MAX;

impl Runner<'_> {
    fn flush(&mut self, after_input: bool) {
        self.sim.drain_events_into(&mut self.buf);
        if self.buf.is_empty() {
            return;
        }
        if !self.service_lost {
            self.service_lost = self
                .buf
                .iter()
                .any(|e| matches!(e.event, Event::Outcome(Outcome::ServiceLost { .. })));
        }
        self.obs.on_events(&self.sim, &self.buf, after_input);
        self.buf.clear();
    }

    fn now(&self) -> u64 {
        self.sim.now()
    }

    fn apply(&mut self, input: Input) -> bool {
        let t = self.now();
        let r = self.sim.apply(t, input);
        self.flush(true);
        r.is_ok()
    }

    fn advance(&mut self, t: u64) {
        // Job by job, so observers see every batch at its own time.
        while let Some(next) = self.sim.next_job_time() {
            if next > t {
                break;
            }
            self.sim.run_next_job();
            self.flush(false);
        }
        self.sim.advance_to(t);
        self.flush(false);
    }

    fn limit(&self) -> u64 {
        self.sc.max_duration_ms
    }

    fn user(&self, id: &str) -> UserIdx {
        self.sim.state().user(id).unwrap_or(NO_USER)
    }

    fn group(&self, id: &str) -> GroupIdx {
        self.sim.state().group(id).unwrap_or(NO_GROUP)
    }

    // ---- setup (SPEC 10) -----------------------------------------------------------------------

    fn setup(&mut self) {
        let sc = self.sc;
        for (sku, units) in &sc.tenant.subscriptions {
            self.apply(Input::SetUnits {
                sku: *sku,
                units: *units,
            });
        }
        for u in &sc.users {
            self.apply(Input::CreateUser {
                name: u.id.clone(),
                usage_location: u.usage_location,
                proxy_addresses: u.proxy_addresses.clone(),
                attributes: u.attributes.clone(),
            });
        }
        for p in &sc.populations {
            let mut members = Vec::with_capacity(p.count.min(1 << 24) as usize);
            for i in 1..=p.count {
                let next = self.sim.state().users.len() as UserIdx;
                if self.apply(Input::CreateUser {
                    name: p.id(i),
                    usage_location: p.usage_location,
                    proxy_addresses: Vec::new(),
                    attributes: p.attributes.clone(),
                }) {
                    members.push(next);
                }
            }
            self.populations.push(members);
        }
        for u in &sc.users {
            if !u.direct.is_empty() {
                let user = self.user(&u.id);
                self.apply(Input::AssignUserLicense {
                    user,
                    add: u.direct.clone(),
                    remove: vec![],
                });
            }
        }
        for (pi, p) in sc.populations.iter().enumerate() {
            if p.direct.is_empty() {
                continue;
            }
            for k in 0..self.populations[pi].len() {
                let user = self.populations[pi][k];
                self.apply(Input::AssignUserLicense {
                    user,
                    add: p.direct.clone(),
                    remove: vec![],
                });
            }
        }
        for f in &sc.faults {
            self.fault(f);
        }
        for g in &sc.groups {
            self.create_group(g, true);
        }
        // Nested group members, once every group exists.
        for g in &sc.groups {
            self.add_nested(g);
        }
        for g in &sc.groups {
            if !g.licenses.is_empty() {
                let group = self.group(&g.id);
                self.apply(Input::AssignGroupLicense {
                    group,
                    add: g.licenses.clone(),
                    remove: vec![],
                });
            }
        }
    }

    fn population_members(&self, name: &str) -> Vec<UserIdx> {
        let st = self.sim.state();
        match self.sc.populations.iter().position(|p| p.name == name) {
            Some(pi) => self.populations[pi]
                .iter()
                .copied()
                .filter(|u| st.users[*u as usize].alive)
                .collect(),
            None => Vec::new(),
        }
    }

    /// Members of a population picked with probability `ppm`, in population order.
    fn pick(&mut self, population: &str, ppm: u32) -> Vec<UserIdx> {
        let members = self.population_members(population);
        members
            .into_iter()
            .filter(|_| dist::chance_ppm(&mut self.rng, ppm))
            .collect()
    }

    fn fault(&mut self, f: &Fault) {
        match f {
            Fault::MissingUsageLocation { population, ppm } => {
                for user in self.pick(population, *ppm) {
                    self.apply(Input::SetUsageLocation {
                        user,
                        location: None,
                    });
                }
            }
            Fault::DuplicateProxyAddress { population, ppm } => {
                let members = self.population_members(population);
                let chosen = self.pick(population, *ppm);
                let domain = self.sc.tenant.domain.clone();
                for user in chosen {
                    // Another member's primary address: the one before it (or after, for the first).
                    let pos = members.iter().position(|m| *m == user).unwrap_or(0);
                    let other = if pos > 0 {
                        members.get(pos - 1)
                    } else {
                        members.get(1)
                    };
                    let Some(other) = other else { continue };
                    let own = self.sim.state().users[user as usize].name.clone();
                    let theirs = self.sim.state().users[*other as usize].name.clone();
                    self.apply(Input::SetProxyAddresses {
                        user,
                        addresses: vec![
                            format!("SMTP:{own}@{domain}"),
                            format!("smtp:{theirs}@{domain}"),
                        ],
                    });
                }
            }
            Fault::ConflictingDirect {
                population,
                sku,
                ppm,
            }
            | Fault::DependentDirect {
                population,
                sku,
                ppm,
            } => {
                for user in self.pick(population, *ppm) {
                    self.apply(Input::AssignUserLicense {
                        user,
                        add: vec![LicenseSpec::new(*sku)],
                        remove: vec![],
                    });
                }
            }
        }
    }

    /// Adds a group's member groups (nesting: R09, their members get nothing from it).
    fn add_nested(&mut self, g: &GroupSpec) {
        let nested: Vec<Member> = g
            .members
            .iter()
            .filter_map(|m| match m {
                MemberRef::Group(h) => Some(Member::Group(self.group(h))),
                MemberRef::Users(_) => None,
            })
            .collect();
        if !nested.is_empty() {
            let group = self.group(&g.id);
            self.apply(Input::AddMembers {
                group,
                members: nested,
            });
        }
    }

    fn create_group(&mut self, g: &GroupSpec, setup: bool) -> bool {
        let mut members = Vec::new();
        if g.rule.is_none() {
            for m in &g.members {
                if let MemberRef::Users(sel) = m {
                    members.extend(self.select(sel).into_iter().map(Member::User));
                }
            }
            members.sort();
            members.dedup();
        }
        let ok = self.apply(Input::CreateGroup {
            name: g.id.clone(),
            security_enabled: g.security_enabled,
            source: g.source,
            rule: g.rule.clone(),
            members,
            evaluate_now: setup,
        });
        if ok && !setup {
            let group = self.group(&g.id);
            self.add_nested(g);
            if !g.licenses.is_empty() {
                self.apply(Input::AssignGroupLicense {
                    group,
                    add: g.licenses.clone(),
                    remove: vec![],
                });
            }
        }
        ok
    }

    // ---- selectors ------------------------------------------------------------------------------

    fn by_name(&self, mut v: Vec<UserIdx>) -> Vec<UserIdx> {
        let st = self.sim.state();
        v.sort_by(|a, b| st.users[*a as usize].name.cmp(&st.users[*b as usize].name));
        v.dedup();
        v
    }

    /// The users a selector picks now: explicit lists in the order listed, others in byte-wise
    /// id order.
    fn select(&self, sel: &Selector) -> Vec<UserIdx> {
        let st = self.sim.state();
        match sel {
            Selector::All => st.live_users_in_name_order(),
            Selector::Group(id) => match st.group(id) {
                Some(g) => st.members_in_name_order(g),
                None => Vec::new(),
            },
            Selector::Population(name) => self.by_name(self.population_members(name)),
            Selector::Ids(ids) => ids.iter().map(|i| self.user(i)).collect(),
            Selector::Attribute { key, value } => st
                .live_users_in_name_order()
                .into_iter()
                .filter(|u| {
                    st.attribute(&st.users[*u as usize], &key.to_ascii_lowercase())
                        .is_some_and(|v| v.eq_ignore_ascii_case(value))
                })
                .collect(),
            Selector::First(n, inner) => {
                let mut v = self.by_name(
                    self.select(inner)
                        .into_iter()
                        .filter(|u| *u != NO_USER)
                        .collect(),
                );
                v.truncate(*n as usize);
                v
            }
        }
    }

    // ---- gates ----------------------------------------------------------------------------------

    fn gate(&self, req: &Require) -> bool {
        let st = self.sim.state();
        match req {
            Require::NoLicenseErrors => !st.users.iter().any(|u| u.alive && u.in_error()),
            Require::NoServiceLoss => !self.service_lost,
            Require::AllMembersLicensed(id) => {
                let Some(g) = st.group(id) else { return false };
                let grp = &st.groups[g as usize];
                grp.members.iter().all(|u| {
                    grp.licenses.iter().all(|(s, _)| {
                        st.users[*u as usize].paths.iter().any(|p| {
                            p.sku == *s
                                && p.source == Source::Group(g)
                                && p.state == PathState::Active
                        })
                    })
                })
            }
            Require::UnitsAvailable { sku, at_least } => {
                let sub = &st.subscriptions[*sku as usize];
                (sub.prepaid.assignable() as u64).saturating_sub(sub.consumed as u64) >= *at_least
            }
        }
    }

    fn require_text(&self, req: &Require) -> String {
        match req {
            Require::NoLicenseErrors => "no_license_errors".into(),
            Require::NoServiceLoss => "no_service_loss".into(),
            Require::AllMembersLicensed(g) => format!("all_members_licensed:{g}"),
            Require::UnitsAvailable { sku, at_least } => {
                format!(
                    "units_available:{} >= {at_least}",
                    self.sc.catalog.sku(*sku).part_number
                )
            }
        }
    }

    fn check_gate(&mut self, step: u32, req: &Require) -> bool {
        let passed = self.gate(req);
        let require = self.require_text(req);
        self.apply(Input::Marker(Marker::Gate {
            step,
            require: require.clone(),
            passed,
        }));
        if !passed {
            self.stop(step, format!("gate {require} failed"));
        }
        passed
    }

    fn stop(&mut self, step: u32, reason: String) {
        self.apply(Input::Marker(Marker::PlanStopped { step, reason }));
        self.stopped = true;
    }

    // ---- the plan --------------------------------------------------------------------------------

    fn plan(&mut self) {
        let sc = self.sc;
        for (i, step) in sc.plan.iter().enumerate() {
            let n = (i + 1) as u32;
            if self.stopped {
                return;
            }
            if self.now() >= self.limit() {
                self.obs
                    .warn(format!("max_duration reached before step {n}"));
                self.stopped = true;
                return;
            }
            self.apply(Input::Marker(Marker::Step {
                step: n,
                action: step.action.name().to_string(),
            }));
            self.step(n, step);
        }
        if !self.stopped {
            self.apply(Input::Marker(Marker::PlanEnd));
        }
    }

    fn user_targets<'s>(&self, a: &'s Action) -> Option<&'s Selector> {
        match a {
            Action::AssignDirect { users, .. }
            | Action::RemoveDirect { users, .. }
            | Action::AddMembers { users, .. }
            | Action::RemoveMembers { users, .. }
            | Action::SetUsageLocation { users, .. }
            | Action::SetAttribute { users, .. }
            | Action::SetProxyAddresses { users, .. }
            | Action::ReprocessUser { users }
            | Action::DeleteUser { users } => Some(users),
            _ => None,
        }
    }

    fn step(&mut self, n: u32, step: &Step) {
        if let Some(sel) = self.user_targets(&step.action) {
            let users = self.select(sel);
            let size = step.waves.wave_size.unwrap_or(users.len() as u64).max(1) as usize;
            let waves: Vec<Vec<UserIdx>> = users.chunks(size).map(|c| c.to_vec()).collect();
            let mut wave_start = self.now();
            for (w, wave) in waves.iter().enumerate() {
                if w > 0 {
                    wave_start = wave_start.saturating_add(step.waves.wave_interval_ms);
                    if wave_start > self.limit() {
                        self.obs.warn(format!("max_duration reached in step {n}"));
                        self.stopped = true;
                        return;
                    }
                    self.advance(wave_start);
                    if let Some(req) = &step.waves.gate_each_wave
                        && !self.check_gate(n, req)
                    {
                        return;
                    }
                }
                if waves.len() > 1 || step.waves.wave_size.is_some() {
                    self.apply(Input::Marker(Marker::WaveStart {
                        step: n,
                        wave: w as u32 + 1,
                        users: wave.len() as u32,
                    }));
                }
                if !self.user_wave(n, step, wave) {
                    return;
                }
            }
            return;
        }
        let ok = match &step.action {
            Action::AssignGroupLicense { group, add, remove } => {
                let group = self.group(group);
                self.apply(Input::AssignGroupLicense {
                    group,
                    add: add.clone(),
                    remove: remove.clone(),
                })
            }
            Action::CreateGroup(g) => self.create_group(g, false),
            Action::DeleteGroup { group } => {
                let group = self.group(group);
                self.apply(Input::DeleteGroup { group })
            }
            Action::SetRule { group, rule } => {
                let group = self.group(group);
                self.apply(Input::SetRule {
                    group,
                    rule: rule.clone(),
                })
            }
            Action::Purchase { sku, units } => self.apply(Input::Purchase {
                sku: *sku,
                units: *units,
            }),
            Action::SetUnits { sku, units } => self.apply(Input::SetUnits {
                sku: *sku,
                units: *units,
            }),
            Action::ReprocessGroup { group } => {
                let group = self.group(group);
                self.apply(Input::ReprocessGroup { group })
            }
            Action::Wait { duration_ms } => {
                let t = self.now().saturating_add(*duration_ms);
                if t > self.limit() {
                    // The run is bounded by max_duration: wait up to it, then stop the plan.
                    self.advance(self.limit());
                    self.obs
                        .warn(format!("max_duration reached while step {n} waited"));
                    self.stopped = true;
                } else {
                    self.advance(t);
                }
                true
            }
            Action::WaitUntilProcessed { group } => {
                self.wait_until_processed(n, group.as_deref());
                true
            }
            Action::Gate { require } => {
                self.check_gate(n, require);
                true
            }
            _ => true,
        };
        if !ok && step.stop_on_reject {
            self.stop(n, format!("step {n} ({}) was rejected", step.action.name()));
        }
    }

    /// One wave of a user-targeted step; false when the plan stops.
    fn user_wave(&mut self, n: u32, step: &Step, users: &[UserIdx]) -> bool {
        let inputs: Vec<Input> = match &step.action {
            Action::AddMembers { group, .. } | Action::RemoveMembers { group, .. } => {
                let g = self.group(group);
                let members = users.iter().map(|u| Member::User(*u)).collect();
                vec![if matches!(step.action, Action::AddMembers { .. }) {
                    Input::AddMembers { group: g, members }
                } else {
                    Input::RemoveMembers { group: g, members }
                }]
            }
            a => users
                .iter()
                .map(|&user| match a {
                    Action::AssignDirect { add, remove, .. } => Input::AssignUserLicense {
                        user,
                        add: add.clone(),
                        remove: remove.clone(),
                    },
                    Action::RemoveDirect { sku, .. } => Input::AssignUserLicense {
                        user,
                        add: vec![],
                        remove: vec![*sku],
                    },
                    Action::SetUsageLocation { location, .. } => Input::SetUsageLocation {
                        user,
                        location: *location,
                    },
                    Action::SetAttribute {
                        attribute, value, ..
                    } => Input::SetAttribute {
                        user,
                        key: attribute.clone(),
                        value: value.clone(),
                    },
                    Action::SetProxyAddresses {
                        proxy_addresses, ..
                    } => Input::SetProxyAddresses {
                        user,
                        addresses: proxy_addresses.clone(),
                    },
                    Action::ReprocessUser { .. } => Input::ReprocessUser { user },
                    _ => Input::DeleteUser { user },
                })
                .collect(),
        };
        for input in inputs {
            if !self.apply(input) && step.stop_on_reject {
                self.stop(
                    n,
                    format!("a call of step {n} ({}) was rejected", step.action.name()),
                );
                return false;
            }
        }
        true
    }

    fn processed(&self, group: Option<&str>) -> bool {
        let st = self.sim.state();
        let done = |g: &engine::model::Group| {
            !g.alive || (!g.busy() && g.busy.is_none() && g.queue.is_empty())
        };
        match group {
            None => st.groups.iter().all(done),
            Some(id) => st.group(id).is_none_or(|g| done(&st.groups[g as usize])),
        }
    }

    fn wait_until_processed(&mut self, n: u32, group: Option<&str>) {
        while !self.processed(group) {
            match self.sim.next_job_time() {
                Some(t) if t <= self.limit() => {
                    self.sim.run_next_job();
                    self.flush(false);
                }
                Some(_) => {
                    self.obs.warn(format!(
                        "max_duration reached while step {n} waited for processing"
                    ));
                    self.stopped = true;
                    return;
                }
                None => {
                    // Nothing is scheduled that could finish the group's work: waiting longer
                    // cannot help (an engine inconsistency, reported rather than looped on).
                    self.obs.warn(format!(
                        "step {n} waited for processing, but no engine work is scheduled"
                    ));
                    return;
                }
            }
        }
    }

    fn finish(&mut self) {
        let limit = self.limit();
        while let Some(t) = self.sim.next_job_time() {
            if t > limit {
                self.obs.warn(format!(
                    "max_duration reached before quiescence ({limit} ms)"
                ));
                self.sim.advance_to(limit);
                break;
            }
            self.sim.run_next_job();
            self.flush(false);
        }
        self.flush(false);
        self.obs.on_finish(&self.sim);
    }
}
