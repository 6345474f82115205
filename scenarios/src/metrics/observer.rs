//! [`MetricsObserver`]: the projection from a run's events to its [`RunMetrics`].

use super::findings::{self, Cause, RejectedCall};
use super::*;
use crate::model::Scenario;
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
    /// The plan position (index into `positions`) at which it entered its current state.
    since: u32,
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

/// Per-user state of service loss.
#[derive(Clone, Copy, Debug, Default)]
struct UserLoss {
    /// Families lost and not back yet.
    open: u16,
    /// When the user last went from having every service to missing one.
    since_ms: u64,
    /// Whether the user ever lost a family.
    ever: bool,
}

/// Builds [`RunMetrics`] from the event stream.
///
/// The per-event work is indexed, not searched: paths as the stream last described them are
/// kept per user (a user holds a handful), per-SKU figures per SKU; name-keyed maps are filled
/// at [`MetricsObserver::finish`].
pub struct MetricsObserver {
    cat: std::sync::Arc<Catalog>,
    m: RunMetrics,
    /// Plan positions seen so far ("setup", "step 3", "step 5 wave 2"); `pos` is the current.
    positions: Vec<String>,
    pos: u32,
    last_input: &'static str,
    /// The user the last input named, if any.
    last_user: Option<UserIdx>,
    /// Indexed by user.
    paths: Vec<SmallVec<[SeenPath; 2]>>,
    /// Error kinds each user has entered so far (bit per `ErrorKind`), indexed by user.
    kinds_seen: Vec<u8>,
    users_in_error: u64,
    /// Indexed by SKU.
    skus: Vec<SkuFigures>,
    /// Open outages: (user, family) -> (start time, plan position that opened it).
    open: BTreeMap<(UserIdx, u16), (u64, u32)>,
    lost_users: BTreeMap<u16, BTreeMap<UserIdx, ()>>,
    /// Indexed by user.
    loss: Vec<UserLoss>,
    /// Users without each family now, indexed by family.
    open_per_family: Vec<u64>,
    users_without_service: u64,
    /// A SKU whose units the current batch's input changed.
    units_changed: Option<SkuIdx>,
    /// Time of `PlanEnd`, when the plan ran to its end.
    plan_end_ms: Option<u64>,
    /// Rejected calls naming a user, kept when findings are wanted.
    rejected: Option<Vec<RejectedCall>>,
    /// Between `Input::BaselineStart` and `BaselineEnd`.
    in_baseline: bool,
}

fn push_point(tl: &mut Vec<(u64, u64)>, t: u64, v: u64) {
    match tl.last_mut() {
        Some(last) if last.0 == t => last.1 = v,
        _ => tl.push((t, v)),
    }
}

/// Why an outage closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Close {
    Restored,
    Deleted,
    EndOfRun,
}

fn kind_bit(e: ErrorKind) -> u8 {
    1 << (ErrorKind::ALL.iter().position(|k| *k == e).unwrap_or(0) as u8)
}

impl MetricsObserver {
    pub fn new(cat: std::sync::Arc<Catalog>, seed: u64, run: u64) -> MetricsObserver {
        let skus = vec![SkuFigures::default(); cat.skus.len()];
        let families = cat.families.len();
        MetricsObserver {
            cat,
            m: RunMetrics {
                seed,
                run,
                ..RunMetrics::default()
            },
            positions: vec!["baseline".into()],
            pos: 0,
            last_input: "",
            last_user: None,
            paths: Vec::new(),
            kinds_seen: Vec::new(),
            users_in_error: 0,
            skus,
            open: BTreeMap::new(),
            lost_users: BTreeMap::new(),
            loss: Vec::new(),
            open_per_family: vec![0; families],
            users_without_service: 0,
            units_changed: None,
            plan_end_ms: None,
            rejected: None,
            in_baseline: false,
        }
    }

    /// Also work out, user by user, what failed and what to do (`RunMetrics::findings`).
    pub fn with_findings(mut self) -> MetricsObserver {
        self.rejected = Some(Vec::new());
        self
    }

    /// Whether any outage was opened so far (gate `no_service_loss`).
    pub fn any_service_loss(&self) -> bool {
        self.m.service.values().any(|s| s.outages > 0)
    }

    fn position(&self) -> &str {
        &self.positions[self.pos as usize]
    }

    fn set_position(&mut self, p: String) {
        self.pos = self.positions.len() as u32;
        self.positions.push(p);
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
        let short = demand.saturating_sub(assignable);
        if short > 0 && c.short_from.is_none() {
            c.short_from = Some(self.positions[self.pos as usize].clone());
        }
        c.shortfall = c.shortfall.max(short);
    }

    fn count_failure(&mut self, user: UserIdx, sku: SkuIdx, error: ErrorKind) {
        if self.in_baseline {
            // The baseline's errors are reported as its state at its end, not as failures.
            return;
        }
        let u = user as usize;
        if self.kinds_seen.len() <= u {
            self.kinds_seen.resize(u + 1, 0);
        }
        let f = &mut self.m.failures;
        f.total += 1;
        *f.by_kind.entry(error.as_str().to_string()).or_default() += 1;
        let seen = &mut self.kinds_seen[u];
        if *seen == 0 {
            f.users += 1;
        }
        if *seen & kind_bit(error) == 0 {
            *seen |= kind_bit(error);
            *f.users_by_kind
                .entry(error.as_str().to_string())
                .or_default() += 1;
        }
        let position = self.positions[self.pos as usize].clone();
        *self.m.failures.by_wave.entry(position).or_default() += 1;
        let n = self.sku_name(sku);
        *self.m.failures.by_sku.entry(n).or_default() += 1;
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
        let pos = self.pos;
        let seen = &mut self.paths[u];
        let bad_before = seen.iter().any(bad);
        let at = seen.iter().position(|p| p.sku == sku && p.source == source);
        let old = at.map(|i| (seen[i].state, seen[i].error));
        match (new, at) {
            (Some((state, error)), Some(i)) => {
                if old != new {
                    seen[i].since = pos;
                }
                seen[i].state = state;
                seen[i].error = error;
            }
            (Some((state, error)), None) => seen.push(SeenPath {
                sku,
                source,
                state,
                error,
                since: pos,
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
            self.count_failure(user, sku, error);
        }
        let position = self.pos as usize;
        if let Some(w) = self.m.waves.get_mut(&self.positions[position]) {
            w.last_change_ms = t;
        }
        if bad_before != bad_after {
            if bad_after {
                self.users_in_error += 1;
            } else {
                self.users_in_error -= 1;
            }
            push_point(&mut self.m.errors_timeline, t, self.users_in_error);
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

    /// The baseline is complete: its users in error, by kind.
    fn end_baseline(&mut self) {
        self.in_baseline = false;
        let b = &mut self.m.baseline;
        for paths in &self.paths {
            let mut kinds: u8 = 0;
            for p in paths.iter().filter(|p| p.state != PathState::Active) {
                if kinds & kind_bit(p.error) == 0 {
                    kinds |= kind_bit(p.error);
                    *b.users_by_kind
                        .entry(p.error.as_str().to_string())
                        .or_default() += 1;
                }
            }
            b.users_in_error += u64::from(kinds != 0);
        }
    }

    fn user_loss(&mut self, user: UserIdx) -> &mut UserLoss {
        let u = user as usize;
        if self.loss.len() <= u {
            self.loss.resize(u + 1, UserLoss::default());
        }
        &mut self.loss[u]
    }

    fn service_lost(&mut self, t: u64, user: UserIdx, family: u16) {
        let fam = self.cat.family_name(family).to_string();
        let position = self.position().to_string();
        let s = self.m.service.entry(fam).or_default();
        s.outages += 1;
        *s.by_step.entry(position).or_default() += 1;
        if self
            .lost_users
            .entry(family)
            .or_default()
            .insert(user, ())
            .is_none()
        {
            s.users_lost += 1;
        }
        self.open.insert((user, family), (t, self.pos));
        self.open_per_family[family as usize] += 1;
        let open_now = self.open_per_family[family as usize];
        let s = self
            .m
            .service
            .entry(self.cat.family_name(family).to_string())
            .or_default();
        push_point(&mut s.timeline, t, open_now);
        let l = self.user_loss(user);
        l.open += 1;
        let (first_open, first_ever) = (l.open == 1, !l.ever);
        l.ever = true;
        if first_open {
            l.since_ms = t;
            self.users_without_service += 1;
            let tot = &mut self.m.service_total;
            if first_ever {
                tot.users_lost += 1;
            }
            push_point(&mut tot.timeline, t, self.users_without_service);
        }
    }

    /// Closes the outage of (user, family) at `t`: the family came back, the user was deleted,
    /// or the run ended with the outage still open (then it is counted as open, not as over).
    fn close_outage(&mut self, t: u64, user: UserIdx, family: u16, how: Close) {
        let Some((start, _)) = self.open.remove(&(user, family)) else {
            return;
        };
        let fam = self.cat.family_name(family).to_string();
        let s = self.m.service.entry(fam).or_default();
        let d = t.saturating_sub(start);
        s.user_ms += d;
        s.longest_outage_ms = s.longest_outage_ms.max(d);
        match how {
            Close::Restored => s.restored += 1,
            Close::Deleted => {}
            Close::EndOfRun => {
                s.open_user_minutes += d / 60_000;
                s.still_lost_end += 1;
            }
        }
        if how != Close::EndOfRun {
            self.open_per_family[family as usize] -= 1;
            push_point(&mut s.timeline, t, self.open_per_family[family as usize]);
        }
        let l = self.user_loss(user);
        l.open -= 1;
        let (back, since) = (l.open == 0, l.since_ms);
        if back {
            self.m.service_total.user_ms += t.saturating_sub(since);
            if how != Close::EndOfRun {
                self.users_without_service -= 1;
                let n = self.users_without_service;
                push_point(&mut self.m.service_total.timeline, t, n);
            }
        }
    }

    fn event(&mut self, e: &TimedEvent) {
        let t = e.time_ms;
        self.m.events += 1;
        match &e.event {
            Event::Input(i) => {
                self.last_input = i.kind();
                self.last_user = findings::input_user(i);
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
                        self.set_position(format!("step {step}"))
                    }
                    Input::Marker(Marker::WaveStart { step, wave, .. }) => {
                        self.set_position(format!("step {step} wave {wave}"));
                        self.m.waves.insert(
                            self.position().to_string(),
                            WaveTiming {
                                start_ms: t,
                                last_change_ms: t,
                            },
                        );
                    }
                    Input::Marker(Marker::PlanStopped { step, reason }) => {
                        self.m.plan_stopped = true;
                        self.m.plan_stopped_ms = Some(t);
                        self.m.plan_duration_ms = t;
                        self.m.gate_stops.push(GateStop {
                            step: *step as u64,
                            reason: reason.clone(),
                        });
                    }
                    Input::Marker(Marker::PlanEnd) => self.plan_end_ms = Some(t),
                    Input::BaselineStart => self.in_baseline = true,
                    Input::BaselineEnd => self.end_baseline(),
                    _ => {}
                }
            }
            Event::Outcome(o) => match o {
                Outcome::Rejected(r) => {
                    let err = r.error.as_str().to_string();
                    if self.in_baseline {
                        *self
                            .m
                            .baseline
                            .rejected_calls
                            .entry(format!("{}: {err}", self.last_input))
                            .or_default() += 1;
                    } else if self.last_input == "assign_user_license" {
                        *self.m.rejected_calls.entry(err).or_default() += 1;
                        self.m.rejected_calls_total += 1;
                    } else {
                        *self
                            .m
                            .rejected_other
                            .entry(format!("{}: {err}", self.last_input))
                            .or_default() += 1;
                    }
                    if let (Some(list), Some(user)) = (&mut self.rejected, self.last_user) {
                        list.push(RejectedCall {
                            user,
                            input: self.last_input,
                            rejection: r.clone(),
                            position: self.pos,
                        });
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
                // R23: the group's path became (or merged into) an Active direct path.
                Outcome::PathConverted { user, sku, group } => {
                    self.path_changed(t, *user, *sku, Source::Group(*group), None);
                    let active = Some((PathState::Active, ErrorKind::None));
                    self.path_changed(t, *user, *sku, Source::Direct, active);
                }
                Outcome::Consumed { sku, consumed } => {
                    let c = *consumed as u64;
                    self.skus[*sku as usize].consumed = c;
                    let s = self.consumption(*sku);
                    push_point(&mut s.timeline, t, c);
                    if c > s.peak {
                        s.peak = c;
                        s.peak_time_ms = t;
                    }
                    s.final_ = c;
                    self.shortfall(*sku);
                }
                // The baseline has no service to lose: users are given their licences there.
                Outcome::ServiceLost { user, family } if !self.in_baseline => {
                    self.service_lost(t, *user, *family)
                }
                Outcome::ServiceRestored { user, family } => {
                    self.close_outage(t, *user, *family, Close::Restored)
                }
                Outcome::UserDeleted { user } => {
                    let fams: Vec<u16> = self
                        .open
                        .range((*user, 0)..=(*user, u16::MAX))
                        .map(|((_, f), _)| *f)
                        .collect();
                    for f in fams {
                        self.close_outage(t, *user, f, Close::Deleted);
                    }
                }
                _ => {}
            },
        }
    }

    /// Settles the run: open outages, end figures, expectation checks, findings if wanted.
    pub fn finish(mut self, sim: &Sim, sc: &Scenario) -> RunMetrics {
        let end = sim.now();
        self.m.end_time_ms = end;
        if !self.m.plan_stopped {
            // The plan's end, or the end of the run when the time limit cut the plan short.
            self.m.plan_duration_ms = self.plan_end_ms.unwrap_or(end);
        }
        let mut lost_at_end: Vec<findings::OpenLoss> = Vec::new();
        if self.rejected.is_some() {
            for (&(user, family), &(_, pos)) in &self.open {
                match lost_at_end.last_mut() {
                    Some(l) if l.user == user => {
                        l.families.push(family);
                        l.position = l.position.min(pos);
                    }
                    _ => lost_at_end.push(findings::OpenLoss {
                        user,
                        families: vec![family],
                        position: pos,
                    }),
                }
            }
        }
        let open: Vec<(UserIdx, u16)> = self.open.keys().copied().collect();
        for (u, f) in open {
            self.close_outage(end, u, f, Close::EndOfRun);
        }
        self.m.service_total.still_lost_end = self.users_without_service;
        self.m.service_total.user_minutes = self.m.service_total.user_ms / 60_000;
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
        self.m.users_in_error = st
            .users
            .iter()
            .enumerate()
            .filter(|(_, u)| u.alive && u.in_error())
            .map(|(i, _)| i as u32)
            .collect();
        self.m.users_in_error_end = self.m.users_in_error.len() as u64;
        for (i, sub) in st.subscriptions.iter().enumerate() {
            if sub.exists || sub.consumed > 0 {
                let name = self.cat.sku(i as SkuIdx).part_number.clone();
                let c = self.m.consumption.entry(name).or_default();
                c.assignable = sub.prepaid.assignable() as u64;
                c.final_ = sub.consumed as u64;
            }
        }
        self.m.final_state_hash = sim.state_hash();
        self.m.expectation_failures = check_expectations(&sc.expect, &self.m, &self.cat);
        if let Some(rejected) = self.rejected.take() {
            let causes = |u: UserIdx, sku: SkuIdx, source: Source| -> Option<Cause> {
                let p = self
                    .paths
                    .get(u as usize)?
                    .iter()
                    .find(|p| p.sku == sku && p.source == source)?;
                Some(Cause {
                    position: self.positions[p.since as usize].clone(),
                })
            };
            self.m.findings = findings::findings(
                sim,
                sc,
                &self.m,
                &causes,
                &rejected,
                &lost_at_end,
                &self.positions,
            );
        }
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
            let a = sub.prepaid.assignable() as u64;
            self.skus[sku as usize].assignable = a;
            let t = sim.now();
            let c = self.consumption(sku);
            push_point(&mut c.assignable_timeline, t, a);
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
