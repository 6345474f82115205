//! [`MetricsObserver`]: the projection from a run's events to its [`RunMetrics`].

use super::*;
use crate::model::Expectations;
use crate::observer::Observer;
use engine::prelude::*;
use smallvec::SmallVec;

/// One path as the event stream last described it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SeenPath {
    sku: SkuIdx,
    source: Source,
    state: PathState,
    error: ErrorKind,
}

/// Per-SKU figures of a run in progress, indexed by SKU.
#[derive(Clone, Debug, Default)]
struct SkuFigures {
    consumed: u64,
    assignable: u64,
    /// Users waiting on a CountViolation (no applied path of the SKU).
    cv_users: BTreeMap<UserIdx, ()>,
    /// The report's record, created on first use.
    record: Option<SkuConsumption>,
}

/// Builds [`RunMetrics`] from the event stream.
///
/// The per-event work is indexed, not searched: paths as the stream last described them are
/// kept per user (a user holds a handful), per-SKU figures per SKU; name-keyed maps are filled
/// at [`MetricsObserver::finish`].
pub struct MetricsObserver {
    cat: std::sync::Arc<Catalog>,
    m: RunMetrics,
    position: String,
    last_input: &'static str,
    /// Indexed by user.
    paths: Vec<SmallVec<[SeenPath; 2]>>,
    users_in_error: u64,
    /// Indexed by SKU.
    skus: Vec<SkuFigures>,
    open: BTreeMap<(UserIdx, u16), (u64, String)>,
    lost_users: BTreeMap<u16, BTreeMap<UserIdx, ()>>,
    /// A SKU whose units the current batch's input changed.
    units_changed: Option<SkuIdx>,
    /// Time of `PlanEnd`, when the plan ran to its end.
    plan_end_ms: Option<u64>,
}

impl MetricsObserver {
    pub fn new(cat: std::sync::Arc<Catalog>, seed: u64, run: u64) -> MetricsObserver {
        let skus = vec![SkuFigures::default(); cat.skus.len()];
        MetricsObserver {
            cat,
            m: RunMetrics {
                seed,
                run,
                ..RunMetrics::default()
            },
            position: "setup".into(),
            last_input: "",
            paths: Vec::new(),
            users_in_error: 0,
            skus,
            open: BTreeMap::new(),
            lost_users: BTreeMap::new(),
            units_changed: None,
            plan_end_ms: None,
        }
    }

    /// Whether any outage was opened so far (gate `no_service_loss`).
    pub fn any_service_loss(&self) -> bool {
        self.m.service.values().any(|s| s.outages > 0)
    }

    fn sku_name(&self, s: SkuIdx) -> String {
        self.cat.sku(s).part_number.clone()
    }

    /// The consumption record of a SKU (created on first use; no allocation afterwards).
    fn consumption(&mut self, s: SkuIdx) -> &mut SkuConsumption {
        self.skus[s as usize]
            .record
            .get_or_insert_with(Default::default)
    }

    fn shortfall(&mut self, s: SkuIdx) {
        let f = &mut self.skus[s as usize];
        let demand = f.consumed + f.cv_users.len() as u64;
        let assignable = f.assignable;
        let c = f.record.get_or_insert_with(Default::default);
        c.shortfall = c.shortfall.max(demand.saturating_sub(assignable));
    }

    fn path_changed(
        &mut self,
        t: u64,
        user: UserIdx,
        sku: SkuIdx,
        source: Source,
        new: Option<(PathState, ErrorKind)>,
    ) {
        let u = user as usize;
        if self.paths.len() <= u {
            self.paths.resize_with(u + 1, SmallVec::new);
        }
        let bad = |p: &SeenPath| p.state != PathState::Active;
        let seen = &mut self.paths[u];
        let bad_before = seen.iter().any(bad);
        let at = seen.iter().position(|p| p.sku == sku && p.source == source);
        let old = at.map(|i| (seen[i].state, seen[i].error));
        match (new, at) {
            (Some((state, error)), Some(i)) => {
                seen[i].state = state;
                seen[i].error = error;
            }
            (Some((state, error)), None) => seen.push(SeenPath {
                sku,
                source,
                state,
                error,
            }),
            (None, Some(i)) => {
                seen.remove(i);
            }
            (None, None) => {}
        }
        let bad_after = seen.iter().any(bad);
        if let Some((state, error)) = new
            && state != PathState::Active
            && old != new
        {
            self.m.failures.total += 1;
            *self
                .m
                .failures
                .by_kind
                .entry(error.as_str().to_string())
                .or_default() += 1;
            *self
                .m
                .failures
                .by_wave
                .entry(self.position.clone())
                .or_default() += 1;
            let n = self.sku_name(sku);
            *self.m.failures.by_sku.entry(n).or_default() += 1;
        }
        if let Some(w) = self.m.waves.get_mut(&self.position) {
            w.last_change_ms = t;
        }
        if bad_before != bad_after {
            if bad_after {
                self.users_in_error += 1;
            } else {
                self.users_in_error -= 1;
            }
            let tl = &mut self.m.errors_timeline;
            match tl.last_mut() {
                Some(last) if last.0 == t => last.1 = self.users_in_error,
                _ => tl.push((t, self.users_in_error)),
            }
        }
        // CountViolation demand: the user has a CountViolation path of the SKU and no applied one.
        let is_cv = |v: Option<(PathState, ErrorKind)>| {
            v == Some((PathState::Error, ErrorKind::CountViolation))
        };
        let waiting = self.skus[sku as usize].cv_users.contains_key(&user);
        if !is_cv(old) && !is_cv(new) && !waiting {
            return;
        }
        let mut cv = false;
        let mut applied = false;
        for p in self.paths[u].iter().filter(|p| p.sku == sku) {
            applied |= p.state.applied();
            cv |= p.state == PathState::Error && p.error == ErrorKind::CountViolation;
        }
        let set = &mut self.skus[sku as usize].cv_users;
        let changed = if cv && !applied {
            set.insert(user, ()).is_none()
        } else {
            set.remove(&user).is_some()
        };
        if changed {
            self.shortfall(sku);
        }
    }

    fn close_outage(&mut self, t: u64, user: UserIdx, family: u16) {
        if let Some((start, _)) = self.open.remove(&(user, family)) {
            let fam = self.cat.family_name(family).to_string();
            let s = self.m.service.entry(fam).or_default();
            let d = t.saturating_sub(start);
            s.user_ms += d;
            s.longest_outage_ms = s.longest_outage_ms.max(d);
        }
    }

    fn event(&mut self, e: &TimedEvent) {
        let t = e.time_ms;
        self.m.events += 1;
        match &e.event {
            Event::Input(i) => {
                self.last_input = i.kind();
                match i {
                    // Read from the state after the batch (a purchase adds to what is there).
                    Input::SetUnits { sku, .. } | Input::Purchase { sku, .. } => {
                        self.units_changed = Some(*sku);
                    }
                    // Waiting and gates change nothing: what is processed meanwhile is
                    // attributed to the step that caused it.
                    Input::Marker(Marker::Step { step, action })
                        if !matches!(action.as_str(), "wait" | "wait_until_processed" | "gate") =>
                    {
                        self.position = format!("step {step}")
                    }
                    Input::Marker(Marker::WaveStart { step, wave, .. }) => {
                        self.position = format!("step {step} wave {wave}");
                        self.m.waves.insert(
                            self.position.clone(),
                            WaveTiming {
                                start_ms: t,
                                last_change_ms: t,
                            },
                        );
                    }
                    Input::Marker(Marker::PlanStopped { step, reason }) => {
                        self.m.plan_stopped = true;
                        self.m.plan_duration_ms = t;
                        self.m.gate_stops.push(GateStop {
                            step: *step as u64,
                            reason: reason.clone(),
                        });
                    }
                    Input::Marker(Marker::PlanEnd) => self.plan_end_ms = Some(t),
                    _ => {}
                }
            }
            Event::Outcome(o) => match o {
                Outcome::Rejected(r) => {
                    let err = r.error.as_str().to_string();
                    if self.last_input == "assign_user_license" {
                        *self.m.rejected_calls.entry(err).or_default() += 1;
                        self.m.rejected_calls_total += 1;
                    } else {
                        *self
                            .m
                            .rejected_other
                            .entry(format!("{}: {err}", self.last_input))
                            .or_default() += 1;
                    }
                }
                Outcome::PathSet {
                    user,
                    sku,
                    source,
                    state,
                    error,
                } => self.path_changed(t, *user, *sku, *source, Some((*state, *error))),
                Outcome::PathRemoved { user, sku, source } => {
                    self.path_changed(t, *user, *sku, *source, None)
                }
                Outcome::Consumed { sku, consumed } => {
                    let c = *consumed as u64;
                    self.skus[*sku as usize].consumed = c;
                    let s = self.consumption(*sku);
                    match s.timeline.last_mut() {
                        Some(last) if last.0 == t => last.1 = c,
                        _ => s.timeline.push((t, c)),
                    }
                    if c > s.peak {
                        s.peak = c;
                        s.peak_time_ms = t;
                    }
                    s.final_ = c;
                    self.shortfall(*sku);
                }
                Outcome::ServiceLost { user, family } => {
                    let fam = self.cat.family_name(*family).to_string();
                    let s = self.m.service.entry(fam).or_default();
                    s.outages += 1;
                    *s.by_step.entry(self.position.clone()).or_default() += 1;
                    if self
                        .lost_users
                        .entry(*family)
                        .or_default()
                        .insert(*user, ())
                        .is_none()
                    {
                        s.users_lost += 1;
                    }
                    self.open
                        .insert((*user, *family), (t, self.position.clone()));
                }
                Outcome::ServiceRestored { user, family } => self.close_outage(t, *user, *family),
                Outcome::UserDeleted { user } => {
                    let fams: Vec<u16> = self
                        .open
                        .range((*user, 0)..=(*user, u16::MAX))
                        .map(|((_, f), _)| *f)
                        .collect();
                    for f in fams {
                        self.close_outage(t, *user, f);
                    }
                }
                _ => {}
            },
        }
    }

    /// Settles the run: open outages, end figures, expectation checks.
    pub fn finish(mut self, sim: &Sim, exp: &Expectations) -> RunMetrics {
        let end = sim.now();
        self.m.end_time_ms = end;
        if !self.m.plan_stopped {
            // The plan's end, or the end of the run when the time limit cut the plan short.
            self.m.plan_duration_ms = self.plan_end_ms.unwrap_or(end);
        }
        let open: Vec<(UserIdx, u16)> = self.open.keys().copied().collect();
        for (u, f) in open {
            let fam = self.cat.family_name(f).to_string();
            self.m.service.entry(fam).or_default().still_lost_end += 1;
            self.close_outage(end, u, f);
        }
        for s in self.m.service.values_mut() {
            s.user_minutes = s.user_ms / 60_000;
        }
        for (i, f) in self.skus.iter_mut().enumerate() {
            if let Some(c) = f.record.take() {
                let name = self.cat.sku(i as SkuIdx).part_number.clone();
                self.m.consumption.insert(name, c);
            }
        }
        let st = sim.state();
        self.m.users_in_error_end =
            st.users.iter().filter(|u| u.alive && u.in_error()).count() as u64;
        for (i, sub) in st.subscriptions.iter().enumerate() {
            if sub.exists || sub.consumed > 0 {
                let name = self.cat.sku(i as SkuIdx).part_number.clone();
                let c = self.m.consumption.entry(name).or_default();
                c.assignable = sub.prepaid.assignable() as u64;
                c.final_ = sub.consumed as u64;
            }
        }
        self.m.final_state_hash = sim.state_hash();
        self.m.expectation_failures = check_expectations(exp, &self.m, &self.cat);
        self.m
    }

    /// Records the time a group became complete (needs names, so done with the state at hand).
    fn group_states(&mut self, sim: &Sim, events: &[TimedEvent]) {
        for e in events {
            if let Event::Outcome(Outcome::GroupState {
                group,
                state: ProcessingState::ProcessingComplete,
            }) = &e.event
                && let Some(g) = sim.state().groups.get(*group as usize)
            {
                self.m.group_complete_ms.insert(g.name.clone(), e.time_ms);
            }
        }
    }
}

impl Observer for MetricsObserver {
    fn on_events(&mut self, sim: &Sim, events: &[TimedEvent], _after_input: bool) {
        for e in events {
            self.event(e);
        }
        if let Some(sku) = self.units_changed.take()
            && let Some(sub) = sim.state().subscriptions.get(sku as usize)
        {
            self.skus[sku as usize].assignable = sub.prepaid.assignable() as u64;
            self.shortfall(sku);
        }
        self.group_states(sim, events);
    }
    fn warn(&mut self, w: String) {
        if w.contains("max_duration") {
            self.m.timed_out = true;
        }
        self.m.warnings.push(w);
    }
}
