//! The discrete-event loop: one queue ordered by (time, sequence), group workers, the seeded RNG,
//! and the handling of every input event. The license rules themselves are in [`crate::rules`].

use crate::catalog::{Catalog, PlanSet};
use crate::dist::{self, Latency};
use crate::event::*;
use crate::model::*;
use crate::rule::Rule;
use crate::rules::{self, Focus};
use crate::{GroupIdx, Loc, SkuIdx, UserIdx};
use rand_chacha::ChaCha8Rng;
use smallvec::SmallVec;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::sync::Arc;

pub const SECOND: u64 = 1_000;
pub const MINUTE: u64 = 60 * SECOND;
pub const HOUR: u64 = 60 * MINUTE;
pub const DAY: u64 = 24 * HOUR;

/// Timing of the service (SPEC 3, scenario `[environment]`). All times in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Environment {
    /// Delay before a queued item becomes ready on a group's worker.
    pub queue_delay_ms: u64,
    /// Per-user processing latency, drawn when the worker starts the item.
    pub processing_latency: Latency,
    /// R26: delay before a dynamic rule or attribute change changes membership.
    pub dynamic_evaluation_delay_ms: u64,
    /// R27: directory sync cycle of on-premises groups.
    pub sync_interval_ms: u64,
    pub sync_phase_ms: u64,
    /// R25: two groups processing one user within this window may collide.
    pub concurrency_window_ms: u64,
    pub retry_delay_ms: u64,
    /// R25: probability of a collision inside the window, parts per million.
    pub concurrency_ppm: u32,
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            queue_delay_ms: 30 * SECOND,
            processing_latency: Latency::Uniform {
                min_ms: SECOND,
                max_ms: 20 * SECOND,
            },
            dynamic_evaluation_delay_ms: 5 * MINUTE,
            sync_interval_ms: 30 * MINUTE,
            sync_phase_ms: 0,
            concurrency_window_ms: 2 * SECOND,
            retry_delay_ms: MINUTE,
            concurrency_ppm: 1_000_000,
        }
    }
}

/// R23: what happens to `ActiveWithError` paths of a deleted group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum OnGroupDelete {
    ConvertToDirect,
    KeepError,
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct TenantConfig {
    /// The tenant's `countryLetterCode`, the fallback usage location of group paths (R10).
    pub default_usage_location: Option<Loc>,
    pub on_group_delete: OnGroupDelete,
    /// Domain of generated user principal names and primary proxy addresses.
    pub domain: String,
}

impl Default for TenantConfig {
    fn default() -> Self {
        TenantConfig {
            default_usage_location: Some(*b"US"),
            on_group_delete: OnGroupDelete::ConvertToDirect,
            domain: "contoso.example".into(),
        }
    }
}

/// Everything a run needs besides the catalogue and the input events.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct SimConfig {
    pub seed: u64,
    pub run: u64,
    pub environment: Environment,
    pub tenant: TenantConfig,
    /// Calendar time of simulated time 0, seconds since 1970 (display only).
    pub start_unix_s: i64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            run: 0,
            environment: Environment::default(),
            tenant: TenantConfig::default(),
            start_unix_s: 1_767_603_600, // 2026-01-05T09:00:00Z
        }
    }
}

/// Work the engine schedules for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Worker(GroupIdx),
    /// Evaluate a dynamic group's rule for one user, or for all (`UserIdx::MAX`).
    DynEval(GroupIdx, UserIdx),
    Sync,
}

const ALL_USERS: UserIdx = UserIdx::MAX;

/// Limits that keep a bad log or scenario from exhausting memory.
pub const MAX_USERS: usize = 50_000_000;
pub const MAX_GROUPS: usize = 10_000_000;
/// Distinct attribute names a tenant may use.
pub const MAX_ATTRIBUTES: usize = 4096;

/// Before-image of a user for one processing step: what it had enabled and consumed.
pub(crate) struct Snapshot {
    /// The user's applied paths: (SKU, disabled set), in path order. Interned disabled sets never
    /// change, so this determines the seats and plans the user had.
    applied: AppliedPaths,
}

/// A user's applied paths, inline: users hold a handful of paths.
type AppliedPaths = SmallVec<[(SkuIdx, DisabledIdx); 6]>;

/// The simulator: state, clock, queue, RNG and the outcome stream.
pub struct Sim {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) config: SimConfig,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, Job)>>,
    pub(crate) state: State,
    pub(crate) events: Vec<TimedEvent>,
    sync_scheduled: bool,
    /// Whether input events are copied into the event stream (off for lean benchmarks).
    pub record_inputs: bool,
    /// Whether outcome events are kept at all (off for lean benchmarks).
    pub record_outcomes: bool,
}

impl Sim {
    pub fn new(catalog: Arc<Catalog>, config: SimConfig) -> Sim {
        let rng = dist::rng_for(config.seed, config.run, dist::STREAM_ENGINE);
        let state = State::new(&catalog);
        Sim {
            catalog,
            config,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            state,
            events: Vec::new(),
            sync_scheduled: false,
            record_inputs: true,
            record_outcomes: true,
        }
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }
    pub fn config(&self) -> &SimConfig {
        &self.config
    }
    pub fn state(&self) -> &State {
        &self.state
    }
    /// The stable state hash (see [`State::hash`]).
    pub fn state_hash(&self) -> u64 {
        self.state.hash()
    }
    /// The Graph-shaped JSON state (SPEC 8) now.
    pub fn state_json(&self) -> serde_json::Value {
        crate::view::state_json(
            &self.catalog,
            &self.state,
            &self.config.tenant.domain,
            self.config.start_unix_s,
            self.now,
        )
    }
    /// Current simulated time (ms).
    pub fn now(&self) -> u64 {
        self.now
    }
    /// Time of the next scheduled engine job, if any.
    pub fn next_job_time(&self) -> Option<u64> {
        self.queue.peek().map(|Reverse((t, _, _))| *t)
    }
    /// No engine work is scheduled.
    pub fn is_quiescent(&self) -> bool {
        self.queue.is_empty()
    }
    /// Events produced since the last call (inputs and outcomes, in order).
    pub fn take_events(&mut self) -> Vec<TimedEvent> {
        std::mem::take(&mut self.events)
    }
    /// Appends the events produced since the last call to `out`.
    pub fn drain_events_into(&mut self, out: &mut Vec<TimedEvent>) {
        out.append(&mut self.events);
    }
    /// The events not yet taken.
    pub fn pending_events(&self) -> &[TimedEvent] {
        &self.events
    }
    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    #[inline]
    pub(crate) fn emit(&mut self, o: Outcome) {
        if self.record_outcomes {
            self.events.push(TimedEvent {
                time_ms: self.now,
                event: Event::Outcome(o),
            });
        }
    }

    fn schedule(&mut self, at: u64, job: Job) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, job)));
    }

    /// Runs every engine job due at or before `t`, then sets the clock to `t` (never backwards).
    pub fn advance_to(&mut self, t: u64) {
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > t {
                break;
            }
            self.run_next_job();
        }
        self.now = self.now.max(t);
    }

    /// Runs the next engine job; returns its time, or `None` when nothing is scheduled.
    pub fn run_next_job(&mut self) -> Option<u64> {
        let Reverse((at, _, job)) = self.queue.pop()?;
        self.now = self.now.max(at);
        match job {
            Job::Worker(g) => self.worker(g),
            Job::DynEval(g, u) => self.dynamic_eval(g, u),
            Job::Sync => self.sync(),
        }
        Some(at)
    }

    /// Runs jobs until none is left or the next one is after `limit`; returns whether quiescent.
    pub fn run_until_quiescent(&mut self, limit: u64) -> bool {
        while let Some(t) = self.next_job_time() {
            if t > limit {
                self.now = self.now.max(limit);
                return false;
            }
            self.run_next_job();
        }
        true
    }

    /// Applies an input event at time `t` (after the engine work due by then; the clock never
    /// goes back). The input is recorded before its outcomes; a rejection is an outcome too.
    pub fn apply(&mut self, t: u64, input: Input) -> Result<(), Rejection> {
        self.advance_to(t);
        let r = if self.record_inputs {
            // The input goes into the stream first and is handled from there (no clone): it is
            // lent out for the call, with a heap-free stand-in in its place, and put back.
            let at = self.events.len();
            self.events.push(TimedEvent {
                time_ms: self.now,
                event: Event::Outcome(Outcome::UserCreated { user: 0 }),
            });
            let r = self.handle_inner(&input);
            self.events[at].event = Event::Input(input);
            r
        } else {
            self.handle_inner(&input)
        };
        if let Err(rej) = &r {
            self.emit(Outcome::Rejected(rej.clone()));
        }
        r
    }
}

impl Sim {
    fn handle_inner(&mut self, input: &Input) -> Result<(), Rejection> {
        match input {
            Input::CreateUser {
                name,
                usage_location,
                proxy_addresses,
                attributes,
            } => self.create_user(name, *usage_location, proxy_addresses, attributes),
            Input::DeleteUser { user } => self.delete_user(*user),
            Input::SetUsageLocation { user, location } => {
                self.user_mut(*user)?.usage_location = *location;
                Ok(())
            }
            Input::SetProxyAddresses { user, addresses } => {
                self.user_mut(*user)?;
                self.set_proxies(*user, addresses, true);
                Ok(())
            }
            Input::SetAttribute { user, key, value } => self.set_attribute(*user, key, value),
            Input::CreateGroup {
                name,
                security_enabled,
                source,
                rule,
                members,
                evaluate_now,
            } => self.create_group(
                name,
                *security_enabled,
                *source,
                rule.as_deref(),
                members,
                *evaluate_now,
            ),
            Input::DeleteGroup { group } => self.delete_group(*group),
            Input::SetRule { group, rule } => self.set_rule(*group, rule.as_deref()),
            Input::AddMembers { group, members } => self.change_members(*group, members, true),
            Input::RemoveMembers { group, members } => self.change_members(*group, members, false),
            Input::AssignUserLicense { user, add, remove } => {
                self.assign_user_license(*user, add, remove)
            }
            Input::AssignGroupLicense { group, add, remove } => {
                self.assign_group_license(*group, add, remove)
            }
            Input::Purchase { sku, units } => {
                let s = self.sub_mut(*sku)?;
                s.exists = true;
                s.prepaid.enabled =
                    (s.prepaid.enabled as i64 + units).clamp(0, u32::MAX as i64) as u32;
                Ok(())
            }
            Input::SetUnits { sku, units } => {
                let s = self.sub_mut(*sku)?;
                s.exists = true;
                s.prepaid = *units;
                Ok(())
            }
            Input::ReprocessUser { user } => {
                self.user_mut(*user)?;
                let snap = self.begin(*user);
                let r = rules::process(self, *user, Focus::All, true);
                self.finish(*user, snap);
                self.emit(Outcome::Audit(Audit::ChangeUserLicense {
                    user: *user,
                    group: None,
                    result: r.audit_result(),
                }));
                Ok(())
            }
            Input::ReprocessGroup { group } => {
                self.group_ref(*group)?;
                for u in self.state.members_in_name_order(*group) {
                    self.enqueue(*group, u, true);
                }
                Ok(())
            }
            Input::DirectorySync => {
                self.sync();
                Ok(())
            }
            Input::Marker(_) => Ok(()),
        }
    }

    fn user_mut(&mut self, u: UserIdx) -> Result<&mut User, Rejection> {
        self.state
            .users
            .get_mut(u as usize)
            .filter(|x| x.alive)
            .ok_or(Rejection::new(CallError::UnknownUser))
    }
    fn group_ref(&self, g: GroupIdx) -> Result<&Group, Rejection> {
        self.state
            .live_group(g)
            .ok_or(Rejection::new(CallError::UnknownGroup))
    }
    fn sub_mut(&mut self, sku: SkuIdx) -> Result<&mut Subscription, Rejection> {
        self.state
            .subscriptions
            .get_mut(sku as usize)
            .ok_or(Rejection::new(CallError::UnknownSku))
    }

    // ---- users -------------------------------------------------------------------------------

    fn create_user(
        &mut self,
        name: &str,
        loc: Option<Loc>,
        proxies: &[String],
        attributes: &[(String, String)],
    ) -> Result<(), Rejection> {
        if name.is_empty() || name.len() > 256 {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        if self.state.user(name).is_some() {
            return Err(Rejection::new(CallError::DuplicateName));
        }
        if self.state.users.len() >= MAX_USERS {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        let mut attrs = Vec::new();
        for (k, v) in attributes {
            let ki = self.intern_attribute(k)?;
            let vi = self.state.intern_attribute_value(v);
            attrs.retain(|(a, _): &(u16, u32)| *a != ki);
            attrs.push((ki, vi));
        }
        attrs.sort();
        if let Some(last) = self.state.users.last()
            && &*last.name >= name
        {
            self.state.names_in_index_order = false;
        }
        let idx = self.state.users.len() as UserIdx;
        push_grow(
            &mut self.state.users,
            User {
                name: name.into(),
                usage_location: loc,
                alive: true,
                last_step_group: GroupIdx::MAX,
                last_step_ms: 0,
                last_step_skus: 0,
                proxy_addresses: Box::default(),
                primary_hash: crate::hash::hash_address_parts(&[
                    name,
                    "@",
                    &self.config.tenant.domain,
                ]),
                attributes: attrs.into_boxed_slice(),
                paths: Vec::new(),
                groups: SmallVec::new(),
            },
        );
        let users = &self.state.users;
        self.state
            .user_index
            .insert(name, idx, |i| &*users[i as usize].name);
        self.set_proxies(idx, proxies, false);
        self.emit(Outcome::UserCreated { user: idx });
        // A new user is evaluated by every dynamic group (R26).
        let dynamic: Vec<GroupIdx> = self.state.dynamic_groups.iter().copied().collect();
        for g in dynamic {
            self.schedule_dynamic(g, idx);
        }
        Ok(())
    }

    fn intern_attribute(&mut self, k: &str) -> Result<u16, Rejection> {
        // Names are kept lower-cased: a known name is found without building a string.
        let known = self
            .state
            .attribute_names
            .iter()
            .position(|a| a.eq_ignore_ascii_case(k));
        if let Some(i) = known {
            return Ok(i as u16);
        }
        if self.state.attribute_names.len() >= MAX_ATTRIBUTES || k.len() > 256 {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        self.state.attribute_names.push(k.to_ascii_lowercase());
        Ok((self.state.attribute_names.len() - 1) as u16)
    }

    /// Hash of the `i`-th proxy address of a user (normalised: lower case, no `smtp:`); a user
    /// without any has one, the primary `<name>@<domain>`. No string is built.
    fn address_hash(&self, u: UserIdx, i: usize) -> u64 {
        let user = &self.state.users[u as usize];
        match user.proxy_addresses.get(i) {
            Some(a) => crate::hash::hash_address(a),
            None => user.primary_hash,
        }
    }

    /// Number of proxy addresses of a user (at least the primary).
    fn address_count(&self, u: UserIdx) -> usize {
        self.state.users[u as usize].proxy_addresses.len().max(1)
    }

    fn index_proxies(&mut self, u: UserIdx, add: bool) {
        for i in 0..self.address_count(u) {
            let h = self.address_hash(u, i);
            if add {
                if self.state.proxy_index.increment(h) == 2 {
                    self.state.shared_addresses.insert(h);
                }
            } else if self.state.proxy_index.decrement(h) == 1 {
                self.state.shared_addresses.remove(&h);
            }
        }
    }

    /// Replaces a user's proxy addresses (the user must not be in the index when `indexed` is
    /// false, i.e. while being created).
    fn set_proxies(&mut self, u: UserIdx, addresses: &[String], indexed: bool) {
        if indexed {
            self.index_proxies(u, false);
        }
        let mut list: Vec<String> = addresses
            .iter()
            .map(|a| normalise_address(a))
            .filter(|a| !a.is_empty())
            .collect();
        list.sort();
        list.dedup();
        self.state.users[u as usize].proxy_addresses = list.into_boxed_slice();
        self.index_proxies(u, true);
    }

    /// R18: whether another live user holds one of this user's proxy addresses.
    pub(crate) fn proxy_conflict(&self, u: UserIdx) -> bool {
        // Most tenants have no shared address at all: then nobody has a conflict.
        let shared = &self.state.shared_addresses;
        !shared.is_empty()
            && (0..self.address_count(u)).any(|i| shared.contains(&self.address_hash(u, i)))
    }

    fn delete_user(&mut self, u: UserIdx) -> Result<(), Rejection> {
        self.user_mut(u)?;
        let lost: Vec<(UserIdx, u16)> = self
            .state
            .lost
            .range((u, 0)..=(u, u16::MAX))
            .copied()
            .collect();
        for k in lost {
            self.state.lost.remove(&k);
        }
        let paths = std::mem::take(&mut self.state.users[u as usize].paths);
        let mut skus: Vec<SkuIdx> = Vec::new();
        for p in &paths {
            if let Source::Group(g) = p.source {
                self.state.groups[g as usize].path_count -= 1;
            }
            if p.state.applied() && !skus.contains(&p.sku) {
                skus.push(p.sku);
            }
            self.emit(Outcome::PathRemoved {
                user: u,
                sku: p.sku,
                source: p.source,
            });
        }
        skus.sort();
        for s in skus {
            let sub = &mut self.state.subscriptions[s as usize];
            sub.consumed -= 1;
            let c = sub.consumed;
            self.emit(Outcome::Consumed {
                sku: s,
                consumed: c,
            });
        }
        let groups = std::mem::take(&mut self.state.users[u as usize].groups);
        for g in groups {
            self.state.groups[g as usize].members.remove(&u);
            self.emit(Outcome::Membership {
                group: g,
                member: Member::User(u),
                added: false,
            });
        }
        self.index_proxies(u, false);
        let user = &mut self.state.users[u as usize];
        user.alive = false;
        let users = &self.state.users;
        self.state
            .user_index
            .remove(&users[u as usize].name, |i| &*users[i as usize].name);
        self.emit(Outcome::UserDeleted { user: u });
        Ok(())
    }

    fn set_attribute(
        &mut self,
        u: UserIdx,
        key: &str,
        value: &Option<String>,
    ) -> Result<(), Rejection> {
        self.user_mut(u)?;
        let ki = self.intern_attribute(key)?;
        let vi = value
            .as_deref()
            .map(|v| self.state.intern_attribute_value(v));
        let user = &mut self.state.users[u as usize];
        let mut attrs: Vec<(u16, u32)> = std::mem::take(&mut user.attributes).into_vec();
        attrs.retain(|(k, _)| *k != ki);
        if let Some(vi) = vi {
            attrs.push((ki, vi));
            attrs.sort();
        }
        user.attributes = attrs.into_boxed_slice();
        let key = key.to_ascii_lowercase();
        let affected: Vec<GroupIdx> = self
            .state
            .dynamic_groups
            .iter()
            .copied()
            .filter(|g| {
                self.state.groups[*g as usize]
                    .rule
                    .as_ref()
                    .is_some_and(|r| r.attributes.binary_search(&key).is_ok())
            })
            .collect();
        for g in affected {
            self.schedule_dynamic(g, u);
        }
        Ok(())
    }

    // ---- groups ------------------------------------------------------------------------------

    fn create_group(
        &mut self,
        name: &str,
        security_enabled: bool,
        source: GroupSource,
        rule: Option<&str>,
        members: &[Member],
        evaluate_now: bool,
    ) -> Result<(), Rejection> {
        if name.is_empty() || name.len() > 256 || self.state.groups.len() >= MAX_GROUPS {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        if self.state.group(name).is_some() {
            return Err(Rejection::new(CallError::DuplicateName));
        }
        let rule = match rule {
            Some(text) => {
                Some(Rule::parse(text).map_err(|_| Rejection::new(CallError::InvalidRule))?)
            }
            None => None,
        };
        for m in members {
            self.check_member(*m)?;
        }
        let g = self.state.groups.len() as GroupIdx;
        let dynamic = rule.is_some();
        self.state.groups.push(Group {
            name: name.to_string(),
            security_enabled,
            source,
            rule,
            members: BTreeSet::new(),
            member_groups: BTreeSet::new(),
            licenses: Vec::new(),
            state: ProcessingState::ProcessingComplete,
            alive: true,
            queue: VecDeque::new(),
            queued: Default::default(),
            busy: None,
            wake_scheduled: false,
            pending_sync: Vec::new(),
            pending_dynamic: 0,
            path_count: 0,
            run_succeeded: 0,
            run_failed: 0,
        });
        let groups = &self.state.groups;
        self.state
            .group_index
            .insert(name, g, |i| groups[i as usize].name.as_str());
        self.emit(Outcome::GroupCreated { group: g });
        if dynamic {
            self.state.dynamic_groups.insert(g);
            if evaluate_now {
                self.dynamic_eval_now(g, ALL_USERS);
            } else {
                self.schedule_dynamic(g, ALL_USERS);
            }
        } else {
            for m in members {
                self.apply_membership(g, *m, true);
            }
        }
        Ok(())
    }

    fn check_member(&self, m: Member) -> Result<(), Rejection> {
        match m {
            Member::User(u) => self
                .state
                .live_user(u)
                .map(|_| ())
                .ok_or(Rejection::new(CallError::UnknownUser)),
            Member::Group(h) => self.group_ref(h).map(|_| ()),
        }
    }

    fn delete_group(&mut self, g: GroupIdx) -> Result<(), Rejection> {
        let grp = self.group_ref(g)?;
        if !grp.licenses.is_empty() {
            return Err(Rejection::new(CallError::GroupHasLicenses));
        }
        if grp.busy() || grp.busy.is_some() {
            return Err(Rejection::new(CallError::GroupProcessingInProgress));
        }
        let members: Vec<UserIdx> = grp.members.iter().copied().collect();
        let member_groups: Vec<GroupIdx> = grp.member_groups.iter().copied().collect();
        for u in members {
            self.apply_membership_raw(g, Member::User(u), false);
        }
        for h in member_groups {
            self.apply_membership_raw(g, Member::Group(h), false);
        }
        // The group is also removed from the groups it was a member of.
        for h in 0..self.state.groups.len() {
            if self.state.groups[h].member_groups.remove(&g) {
                self.emit(Outcome::Membership {
                    group: h as GroupIdx,
                    member: Member::Group(g),
                    added: false,
                });
            }
        }
        // R23: paths still held from the group (ActiveWithError, a blocked removal).
        if self.state.groups[g as usize].path_count > 0 {
            let holders: Vec<UserIdx> = (0..self.state.users.len() as UserIdx)
                .filter(|u| {
                    self.state.users[*u as usize]
                        .paths
                        .iter()
                        .any(|p| p.source == Source::Group(g))
                })
                .collect();
            if self.config.tenant.on_group_delete == OnGroupDelete::ConvertToDirect {
                for u in holders {
                    let snap = self.begin(u);
                    rules::convert_to_direct(self, u, g);
                    self.finish(u, snap);
                }
            }
        }
        let grp = &mut self.state.groups[g as usize];
        grp.alive = false;
        self.state.dynamic_groups.remove(&g);
        let groups = &self.state.groups;
        self.state
            .group_index
            .remove(&groups[g as usize].name, |i| {
                groups[i as usize].name.as_str()
            });
        self.emit(Outcome::GroupDeleted { group: g });
        Ok(())
    }

    fn set_rule(&mut self, g: GroupIdx, rule: Option<&str>) -> Result<(), Rejection> {
        self.group_ref(g)?;
        let parsed = match rule {
            Some(t) => Some(Rule::parse(t).map_err(|_| Rejection::new(CallError::InvalidRule))?),
            None => None,
        };
        let was_dynamic = self.state.groups[g as usize].rule.is_some();
        let now_dynamic = parsed.is_some();
        self.state.groups[g as usize].rule = parsed;
        if now_dynamic {
            self.state.dynamic_groups.insert(g);
        } else {
            self.state.dynamic_groups.remove(&g);
        }
        if now_dynamic {
            if !was_dynamic {
                // R26: turning a static group dynamic first removes every member.
                let members: Vec<UserIdx> = self.state.members_in_name_order(g);
                for u in members {
                    self.apply_membership(g, Member::User(u), false);
                }
            }
            self.schedule_dynamic(g, ALL_USERS);
        }
        Ok(())
    }

    fn change_members(
        &mut self,
        g: GroupIdx,
        members: &[Member],
        add: bool,
    ) -> Result<(), Rejection> {
        let grp = self.group_ref(g)?;
        if grp.rule.is_some() {
            return Err(Rejection::new(CallError::DynamicGroupMembership));
        }
        let on_prem = grp.source == GroupSource::OnPremises;
        for m in members {
            self.check_member(*m)?;
            if *m == Member::Group(g) {
                return Err(Rejection::new(CallError::InvalidValue));
            }
        }
        // Users in byte-wise id order (SPEC 10), then groups.
        let mut ordered: Vec<Member> = members.to_vec();
        ordered.sort_by(|a, b| match (a, b) {
            (Member::User(x), Member::User(y)) => self.state.users[*x as usize]
                .name
                .cmp(&self.state.users[*y as usize].name),
            _ => a.cmp(b),
        });
        ordered.dedup();
        if on_prem {
            for m in ordered {
                self.state.groups[g as usize].pending_sync.push((m, add));
            }
            self.schedule_sync();
        } else {
            for m in ordered {
                self.apply_membership(g, m, add);
            }
        }
        Ok(())
    }

    /// Changes membership and emits the outcome; returns whether anything changed.
    fn apply_membership_raw(&mut self, g: GroupIdx, m: Member, add: bool) -> bool {
        let changed = match m {
            Member::User(u) => {
                if !self.state.users[u as usize].alive {
                    return false;
                }
                let grp = &mut self.state.groups[g as usize];
                let c = if add {
                    grp.members.insert(u)
                } else {
                    grp.members.remove(&u)
                };
                if c {
                    let ug = &mut self.state.users[u as usize].groups;
                    match ug.binary_search(&g) {
                        Ok(i) if !add => {
                            ug.remove(i);
                        }
                        Err(i) if add => ug.insert(i, g),
                        _ => {}
                    }
                }
                c
            }
            Member::Group(h) => {
                if !self.state.groups[h as usize].alive && add {
                    return false;
                }
                let grp = &mut self.state.groups[g as usize];
                if add {
                    grp.member_groups.insert(h)
                } else {
                    grp.member_groups.remove(&h)
                }
            }
        };
        if changed {
            self.emit(Outcome::Membership {
                group: g,
                member: m,
                added: add,
            });
        }
        changed
    }

    /// Changes membership and queues the user on the group's worker when licenses are involved.
    fn apply_membership(&mut self, g: GroupIdx, m: Member, add: bool) {
        if self.apply_membership_raw(g, m, add)
            && let Member::User(u) = m
        {
            {
                let needs = !self.state.groups[g as usize].licenses.is_empty()
                    || self.state.users[u as usize]
                        .paths
                        .iter()
                        .any(|p| p.source == Source::Group(g));
                if needs {
                    self.enqueue(g, u, false);
                }
            }
        }
    }

    fn schedule_dynamic(&mut self, g: GroupIdx, u: UserIdx) {
        self.state.groups[g as usize].pending_dynamic += 1;
        let at = self.now + self.config.environment.dynamic_evaluation_delay_ms;
        self.schedule(at, Job::DynEval(g, u));
    }

    fn dynamic_eval(&mut self, g: GroupIdx, u: UserIdx) {
        let grp = &mut self.state.groups[g as usize];
        grp.pending_dynamic = grp.pending_dynamic.saturating_sub(1);
        self.dynamic_eval_now(g, u);
    }

    fn dynamic_eval_now(&mut self, g: GroupIdx, target: UserIdx) {
        let grp = &self.state.groups[g as usize];
        if !grp.alive {
            return;
        }
        let Some(rule) = grp.rule.clone() else {
            return;
        };
        let users: Vec<UserIdx> = if target == ALL_USERS {
            self.state.live_users_in_name_order()
        } else {
            vec![target]
        };
        for u in users {
            let user = &self.state.users[u as usize];
            if !user.alive {
                continue;
            }
            let get = |k: &str| self.state.attribute(user, k);
            let matches = rule.matches(&get);
            let member = self.state.groups[g as usize].members.contains(&u);
            if matches != member {
                self.apply_membership(g, Member::User(u), matches);
            }
        }
    }

    fn schedule_sync(&mut self) {
        if self.sync_scheduled {
            return;
        }
        let env = &self.config.environment;
        let (i, p) = (env.sync_interval_ms, env.sync_phase_ms);
        let at = if i == 0 {
            self.now
        } else if self.now < p {
            p
        } else {
            p + ((self.now - p) / i + 1) * i
        };
        self.sync_scheduled = true;
        self.schedule(at, Job::Sync);
    }

    /// A directory sync cycle: pending on-premises membership changes take effect (R27).
    fn sync(&mut self) {
        self.sync_scheduled = false;
        for g in 0..self.state.groups.len() as GroupIdx {
            if self.state.groups[g as usize].pending_sync.is_empty() {
                continue;
            }
            let changes = std::mem::take(&mut self.state.groups[g as usize].pending_sync);
            if !self.state.groups[g as usize].alive {
                continue;
            }
            for (m, add) in changes {
                self.apply_membership(g, m, add);
            }
        }
    }

    // ---- workers -----------------------------------------------------------------------------

    /// Queues a user on a group's worker (SPEC 3, 10): FIFO, ready after the queue delay, not
    /// queued twice.
    pub(crate) fn enqueue(&mut self, g: GroupIdx, u: UserIdx, force: bool) {
        let ready = self.now + self.config.environment.queue_delay_ms;
        let grp = &mut self.state.groups[g as usize];
        if let Some(f) = grp.queued.get_mut(&u) {
            *f |= force;
            return;
        }
        grp.queue.push_back(WorkItem {
            user: u,
            ready_ms: ready,
            force,
        });
        grp.queued.insert(u, force);
        let set_queued = grp.state == ProcessingState::ProcessingComplete;
        if set_queued {
            grp.state = ProcessingState::QueuedForProcessing;
        }
        let wake = !grp.wake_scheduled && grp.busy.is_none();
        if wake {
            grp.wake_scheduled = true;
        }
        if set_queued {
            self.emit(Outcome::GroupState {
                group: g,
                state: ProcessingState::QueuedForProcessing,
            });
        }
        if wake {
            self.schedule(ready, Job::Worker(g));
        }
    }

    fn worker(&mut self, g: GroupIdx) {
        let now = self.now;
        self.state.groups[g as usize].wake_scheduled = false;
        if let Some((item, done)) = self.state.groups[g as usize].busy {
            if done > now {
                self.wake(g, done);
                return;
            }
            if self.concurrency_collision(g, item.user) {
                let at = now + self.config.environment.retry_delay_ms.max(1);
                self.state.groups[g as usize].busy = Some((item, at));
                self.emit(Outcome::ConcurrencyRetry {
                    user: item.user,
                    group: g,
                });
                self.emit(Outcome::Audit(Audit::ChangeUserLicense {
                    user: item.user,
                    group: Some(g),
                    result: AuditResult::ConcurrencyException,
                }));
                self.wake(g, at);
                return;
            }
            self.state.groups[g as usize].busy = None;
            self.group_step(g, item.user, item.force);
        }
        let grp = &mut self.state.groups[g as usize];
        if let Some(front) = grp.queue.front().copied() {
            if front.ready_ms > now {
                self.wake(g, front.ready_ms);
                return;
            }
            grp.queue.pop_front();
            let force = grp.queued.remove(&front.user).unwrap_or(front.force);
            let latency = self
                .config
                .environment
                .processing_latency
                .sample(&mut self.rng);
            let item = WorkItem { force, ..front };
            let grp = &mut self.state.groups[g as usize];
            grp.busy = Some((item, now + latency));
            if grp.state != ProcessingState::ProcessingInProgress {
                grp.state = ProcessingState::ProcessingInProgress;
                grp.run_succeeded = 0;
                grp.run_failed = 0;
                self.emit(Outcome::GroupState {
                    group: g,
                    state: ProcessingState::ProcessingInProgress,
                });
                self.emit(Outcome::Audit(Audit::StartApplying { group: g }));
            }
            self.wake(g, now + latency);
        } else if grp.busy.is_none() && grp.state != ProcessingState::ProcessingComplete {
            grp.state = ProcessingState::ProcessingComplete;
            let (ok, failed) = (grp.run_succeeded, grp.run_failed);
            self.emit(Outcome::GroupState {
                group: g,
                state: ProcessingState::ProcessingComplete,
            });
            self.emit(Outcome::Audit(Audit::FinishApplying {
                group: g,
                succeeded: ok,
                failed,
            }));
        }
    }

    fn wake(&mut self, g: GroupIdx, at: u64) {
        let grp = &mut self.state.groups[g as usize];
        if !grp.wake_scheduled {
            grp.wake_scheduled = true;
            self.schedule(at, Job::Worker(g));
        }
    }

    /// SKUs a group step for (user, group) touches, as a 64-bit mask (bit = sku % 64).
    fn sku_mask(&self, g: GroupIdx, u: UserIdx) -> u64 {
        let mut m = 0u64;
        for (s, _) in &self.state.groups[g as usize].licenses {
            m |= 1 << (s % 64);
        }
        for p in &self.state.users[u as usize].paths {
            if p.source == Source::Group(g) {
                m |= 1 << (p.sku % 64);
            }
        }
        m
    }

    /// R25: another group processed this user and a common SKU within the window.
    fn concurrency_collision(&mut self, g: GroupIdx, u: UserIdx) -> bool {
        let env = self.config.environment;
        if env.concurrency_window_ms == 0 || env.concurrency_ppm == 0 {
            return false;
        }
        let Some(user) = self.state.live_user(u) else {
            return false;
        };
        let (t, h, mask) = (user.last_step_ms, user.last_step_group, user.last_step_skus);
        if h == GroupIdx::MAX || h == g || self.now.saturating_sub(t) >= env.concurrency_window_ms {
            return false;
        }
        if mask & self.sku_mask(g, u) == 0 {
            return false;
        }
        dist::chance_ppm(&mut self.rng, env.concurrency_ppm)
    }

    fn group_step(&mut self, g: GroupIdx, u: UserIdx, force: bool) {
        if !self.state.users[u as usize].alive {
            return;
        }
        let mask = self.sku_mask(g, u);
        let snap = self.begin(u);
        let r = rules::process(self, u, Focus::Group(g), force);
        self.finish(u, snap);
        if r.evaluated {
            let user = &mut self.state.users[u as usize];
            (user.last_step_ms, user.last_step_group, user.last_step_skus) = (self.now, g, mask);
            self.emit(Outcome::Audit(Audit::ChangeUserLicense {
                user: u,
                group: Some(g),
                result: r.audit_result(),
            }));
        }
        let failed = self.state.users[u as usize]
            .paths
            .iter()
            .any(|p| p.source == Source::Group(g) && p.state != PathState::Active);
        let grp = &mut self.state.groups[g as usize];
        if failed {
            grp.run_failed += 1;
        } else {
            grp.run_succeeded += 1;
        }
    }

    // ---- licenses ----------------------------------------------------------------------------

    fn assign_user_license(
        &mut self,
        u: UserIdx,
        add: &[LicenseSpec],
        remove: &[SkuIdx],
    ) -> Result<(), Rejection> {
        self.user_mut(u)?;
        let add = self.resolve_licenses(add)?;
        for s in remove {
            self.sub_mut(*s)?;
        }
        let snap = self.begin(u);
        let r = rules::direct_call(self, u, &add, remove);
        match r {
            Ok(()) => {
                // R21: the user's path set changed; errors are evaluated again in the same step.
                rules::process(self, u, Focus::Retry, false);
                self.finish(u, snap);
                self.emit(Outcome::Audit(Audit::ChangeUserLicense {
                    user: u,
                    group: None,
                    result: AuditResult::Success,
                }));
                Ok(())
            }
            Err(rej) => {
                self.emit(Outcome::Audit(Audit::ChangeUserLicense {
                    user: u,
                    group: None,
                    result: AuditResult::Rejected(rej.error),
                }));
                Err(rej)
            }
        }
    }

    /// Checks SKUs and disabled plans (R01) and interns the disabled sets.
    fn resolve_licenses(
        &mut self,
        add: &[LicenseSpec],
    ) -> Result<Vec<(SkuIdx, DisabledIdx)>, Rejection> {
        let mut out: Vec<(SkuIdx, DisabledIdx)> = Vec::new();
        for l in add {
            let Some(sku) = self.catalog.skus.get(l.sku as usize) else {
                return Err(Rejection::new(CallError::UnknownSku));
            };
            let mut set = PlanSet::EMPTY;
            for p in &l.disabled {
                if (*p as usize) >= self.catalog.plans.len() || !sku.plans.contains(*p) {
                    return Err(Rejection::with(
                        CallError::UnknownPlan,
                        Some(l.sku),
                        vec![*p],
                    ));
                }
                set.insert(*p);
            }
            let d = self.state.intern_disabled(set);
            out.retain(|(s, _)| *s != l.sku);
            out.push((l.sku, d));
        }
        Ok(out)
    }

    fn assign_group_license(
        &mut self,
        g: GroupIdx,
        add: &[LicenseSpec],
        remove: &[SkuIdx],
    ) -> Result<(), Rejection> {
        let r = self.assign_group_license_inner(g, add, remove);
        if self.state.live_group(g).is_some() {
            self.emit(Outcome::Audit(Audit::SetGroupLicense {
                group: g,
                result: match &r {
                    Ok(()) => AuditResult::Success,
                    Err(e) => AuditResult::Rejected(e.error),
                },
            }));
        }
        r
    }

    fn assign_group_license_inner(
        &mut self,
        g: GroupIdx,
        add: &[LicenseSpec],
        remove: &[SkuIdx],
    ) -> Result<(), Rejection> {
        let grp = self.group_ref(g)?;
        if !grp.security_enabled {
            return Err(Rejection::new(CallError::GroupNotSecurityEnabled));
        }
        let mut licenses = grp.licenses.clone();
        for s in remove {
            if (*s as usize) >= self.catalog.skus.len() {
                return Err(Rejection::new(CallError::UnknownSku));
            }
            if !licenses.iter().any(|(x, _)| x == s) {
                return Err(Rejection::with(
                    CallError::LicenseNotAssigned,
                    Some(*s),
                    vec![],
                ));
            }
            licenses.retain(|(x, _)| x != s);
        }
        let add = self.resolve_licenses(add)?;
        for (s, d) in &add {
            licenses.retain(|(x, _)| x != s);
            licenses.push((*s, *d));
        }
        licenses.sort();
        // R15: every dependent plan the group enables needs a prerequisite from the same group.
        let mut group_plans = PlanSet::EMPTY;
        for (s, d) in &licenses {
            group_plans.union_with(&self.state.enabled(&self.catalog, *s, *d));
        }
        if let Some((dep, pre)) = self.catalog.missing_dependency(&group_plans, &group_plans) {
            let sku = licenses
                .iter()
                .find(|(s, d)| self.state.enabled(&self.catalog, *s, *d).contains(dep))
                .map(|(s, _)| *s);
            return Err(Rejection::with(
                CallError::DependentServiceMissing,
                sku,
                vec![dep, pre],
            ));
        }
        let changed = self.state.groups[g as usize].licenses != licenses;
        self.state.groups[g as usize].licenses = licenses;
        if changed {
            for u in self.state.members_in_name_order(g) {
                self.enqueue(g, u, false);
            }
        }
        Ok(())
    }

    // ---- step bookkeeping --------------------------------------------------------------------

    /// Captures what a user has enabled and consumes before a step.
    pub(crate) fn begin(&self, u: UserIdx) -> Snapshot {
        Snapshot {
            applied: self.applied_paths(u).collect(),
        }
    }

    /// (SKU, disabled set) of the user's applied paths, in path order (sorted by SKU).
    fn applied_paths(&self, u: UserIdx) -> impl Iterator<Item = (SkuIdx, DisabledIdx)> + '_ {
        self.state.users[u as usize]
            .paths
            .iter()
            .filter(|p| p.state.applied())
            .map(|p| (p.sku, p.disabled))
    }

    /// The service families a list of applied paths enables.
    fn families(&self, applied: &[(SkuIdx, DisabledIdx)]) -> PlanSet {
        // A family is enabled when any of its plans is: the union over paths of each path's
        // families, precomputed per SKU for paths with nothing disabled.
        let mut fam = PlanSet::EMPTY;
        for (s, d) in applied {
            if *d == 0 {
                fam.union_with(&self.catalog.sku_families[*s as usize]);
            } else {
                fam.union_with(&self.catalog.families_of(&self.state.enabled(
                    &self.catalog,
                    *s,
                    *d,
                )));
            }
        }
        fam
    }

    /// Settles a step: seats (R03) and loss or return of service families.
    pub(crate) fn finish(&mut self, u: UserIdx, snap: Snapshot) {
        // Unchanged applied paths: the same seats and plans, nothing to settle.
        if self.applied_paths(u).eq(snap.applied.iter().copied()) {
            return;
        }
        let after: AppliedPaths = self.applied_paths(u).collect();
        // Seats (R03): a user consumes one unit of each SKU it has an applied path of. Both
        // lists are sorted by SKU, so one merge finds the SKUs gained and lost, in SKU order.
        let (mut i, mut j) = (0, 0);
        let (b, a) = (&snap.applied, &after);
        while i < b.len() || j < a.len() {
            let sb = b.get(i).map(|x| x.0);
            let sa = a.get(j).map(|x| x.0);
            let s = match (sb, sa) {
                (Some(x), Some(y)) => x.min(y),
                (Some(x), None) => x,
                (None, Some(y)) => y,
                (None, None) => unreachable!(),
            };
            let had = sb == Some(s);
            let has = sa == Some(s);
            while i < b.len() && b[i].0 == s {
                i += 1;
            }
            while j < a.len() && a[j].0 == s {
                j += 1;
            }
            if had == has {
                continue;
            }
            let sub = &mut self.state.subscriptions[s as usize];
            if has {
                sub.consumed += 1;
            } else {
                sub.consumed -= 1;
            }
            let c = sub.consumed;
            self.emit(Outcome::Consumed {
                sku: s,
                consumed: c,
            });
        }
        // Service families (SPEC 1.1). A step that removed or changed no applied path only adds
        // plans, so nothing can be lost; and only a family the user had lost can be restored
        // (first grants are not events). Most steps are neither: no family sets are built.
        let removed = snap.applied.iter().any(|x| !after.contains(x));
        let had_lost = self
            .state
            .lost
            .range((u, 0)..=(u, u16::MAX))
            .next()
            .is_some();
        if !removed && !had_lost {
            return;
        }
        let before_fam = self.families(&snap.applied);
        let fam = self.families(&after);
        if fam != before_fam {
            for f in before_fam.minus(&fam).iter() {
                self.state.lost.insert((u, f));
                self.emit(Outcome::ServiceLost { user: u, family: f });
            }
            if had_lost {
                for f in fam.minus(&before_fam).iter() {
                    if self.state.lost.remove(&(u, f)) {
                        self.emit(Outcome::ServiceRestored { user: u, family: f });
                    }
                }
            }
        }
    }
}

/// Lower-cases an address and strips a `smtp:` prefix (any case).
pub fn normalise_address(a: &str) -> String {
    let a = a.trim();
    let a = if a.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("smtp:")) {
        &a[5..]
    } else {
        a
    };
    a.to_ascii_lowercase()
}
