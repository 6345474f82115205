//! The discrete-event loop: one queue ordered by (time, sequence), group workers, the seeded RNG,
//! and the handling of every input event. The license rules themselves are in [`crate::rules`].

mod assign;
pub mod config;
mod directory;
mod groups;
mod seats;
mod step;
mod workers;

pub use config::{DAY, Environment, HOUR, MINUTE, OnGroupDelete, SECOND, SimConfig, TenantConfig};
pub use directory::{MAX_ATTRIBUTES, MAX_USERS, normalise_address};
pub use groups::MAX_GROUPS;

use crate::catalog::Catalog;
use crate::dist;
use crate::event::*;
use crate::model::*;
use crate::rules::{Decision, Focus};
use crate::{GroupIdx, SkuIdx, UserIdx};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// Work the engine schedules for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Job {
    Worker(GroupIdx),
    /// Evaluate a dynamic group's rule for one user, or for all (`UserIdx::MAX`).
    DynEval(GroupIdx, UserIdx),
    Sync,
}

pub(crate) const ALL_USERS: UserIdx = UserIdx::MAX;

/// The simulator: state, clock, queue, RNG and the outcome stream.
pub struct Sim {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) config: SimConfig,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, Job)>>,
    pub(crate) state: State,
    /// The rules' decision buffers, reused from step to step.
    decision: Decision,
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
            decision: Decision::default(),
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

    pub(crate) fn schedule(&mut self, at: u64, job: Job) {
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
                let r = self.step(*user, Focus::All, true);
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
}
