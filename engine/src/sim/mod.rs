//! The simulator: one discrete-event loop coordinating parts that own their data. The loop
//! (here) keeps the clock, the agenda of engine jobs ordered by (time, sequence) and the
//! outcome stream (`Core`) and hands every input to the part that handles it:
//!
//! - `config`: what a run is configured with (plain data);
//! - `directory`: users, attributes, proxy addresses and the proxy-address index (R18, R31);
//! - `groups`: membership: static, dynamic (R26), on-premises through the sync (R27), deletion
//!   (R23);
//! - `workers`: one FIFO worker per group, its RNG draws, R25 retries, R29 audit, R32 states;
//! - `seats`: seat accounting (R03) and loss of service, `begin`/`finish` around a step;
//! - `assign`: `assignLicense` on users and groups; `step`: asks [`crate::rules`] for a
//!   decision about a user and writes it.
//!
//! The tenant's record ([`State`]: users, groups, subscriptions, interned sets) is what views,
//! the state hash, invariants and the plan runner read; the parts are handed it explicitly.
//! The rules decide, the simulator applies.

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
use crate::event::*;
use crate::model::*;
use crate::rules::{Decision, Focus};
use crate::{GroupIdx, SkuIdx, UserIdx};
use directory::Directory;
use groups::Membership;
use seats::Seats;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use workers::Workers;

/// Work the engine schedules for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Worker(GroupIdx),
    /// Evaluate a dynamic group's rule for one user, or for all ([`ALL_USERS`]).
    DynEval(GroupIdx, UserIdx),
    Sync,
}

/// A dynamic evaluation of every user.
const ALL_USERS: UserIdx = UserIdx::MAX;

/// What every part writes to: the clock, the agenda of engine jobs, the outcome stream.
struct Core {
    /// Simulated time (ms); never goes back.
    now: u64,
    seq: u64,
    agenda: BinaryHeap<Reverse<(u64, u64, Job)>>,
    events: Vec<TimedEvent>,
    /// [`Sim::record_outcomes`], copied in whenever the engine is entered.
    record_outcomes: bool,
}

impl Core {
    #[inline(always)]
    fn emit(&mut self, o: Outcome) {
        if self.record_outcomes {
            self.events.push(TimedEvent {
                time_ms: self.now,
                event: Event::Outcome(o),
            });
        }
    }

    #[inline]
    fn schedule(&mut self, at: u64, job: Job) {
        self.seq += 1;
        self.agenda.push(Reverse((at, self.seq, job)));
    }

    #[inline]
    fn next_time(&self) -> Option<u64> {
        self.agenda.peek().map(|Reverse((t, _, _))| *t)
    }
}

/// The simulator: the tenant's record, the loop and the parts that act on the record.
pub struct Sim {
    catalog: Arc<Catalog>,
    config: SimConfig,
    state: State,
    core: Core,
    directory: Directory,
    membership: Membership,
    workers: Workers,
    seats: Seats,
    /// The rules' decision buffers, reused from step to step.
    decision: Decision,
    /// The scenario's timing while the baseline is built with [`Environment::instant`].
    baseline_env: Option<Environment>,
    /// Whether input events are copied into the event stream (off for lean benchmarks).
    pub record_inputs: bool,
    /// Whether outcome events are kept at all (off for lean benchmarks).
    pub record_outcomes: bool,
}

impl Sim {
    pub fn new(catalog: Arc<Catalog>, config: SimConfig) -> Sim {
        let state = State::new(&catalog);
        Sim {
            workers: Workers::new(&config),
            catalog,
            config,
            state,
            core: Core {
                now: 0,
                seq: 0,
                agenda: BinaryHeap::new(),
                events: Vec::new(),
                record_outcomes: true,
            },
            directory: Directory::default(),
            membership: Membership::default(),
            seats: Seats::default(),
            decision: Decision::default(),
            baseline_env: None,
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
            self.core.now,
        )
    }
    /// Current simulated time (ms).
    pub fn now(&self) -> u64 {
        self.core.now
    }
    /// Time of the next scheduled engine job, if any.
    pub fn next_job_time(&self) -> Option<u64> {
        self.core.next_time()
    }
    /// No engine work is scheduled.
    pub fn is_quiescent(&self) -> bool {
        self.core.agenda.is_empty()
    }
    /// Events produced since the last call (inputs and outcomes, in order).
    pub fn take_events(&mut self) -> Vec<TimedEvent> {
        std::mem::take(&mut self.core.events)
    }
    /// Appends the events produced since the last call to `out`.
    pub fn drain_events_into(&mut self, out: &mut Vec<TimedEvent>) {
        out.append(&mut self.core.events);
    }
    /// The events not yet taken.
    pub fn pending_events(&self) -> &[TimedEvent] {
        &self.core.events
    }
    pub fn clear_events(&mut self) {
        self.core.events.clear();
    }

    /// Runs every engine job due at or before `t`, then sets the clock to `t` (never backwards).
    pub fn advance_to(&mut self, t: u64) {
        while self.core.next_time().is_some_and(|at| at <= t) {
            self.run_next_job();
        }
        self.core.now = self.core.now.max(t);
    }

    /// Runs the next engine job; returns its time, or `None` when nothing is scheduled.
    pub fn run_next_job(&mut self) -> Option<u64> {
        let Reverse((at, _, job)) = self.core.agenda.pop()?;
        self.core.record_outcomes = self.record_outcomes;
        self.core.now = self.core.now.max(at);
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
                self.core.now = self.core.now.max(limit);
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
        self.core.record_outcomes = self.record_outcomes;
        let r = if self.record_inputs {
            // The input goes into the stream first and is handled from there (no clone): it is
            // lent out for the call, with a heap-free stand-in in its place, and put back.
            let events = &mut self.core.events;
            let at = events.len();
            events.push(TimedEvent {
                time_ms: self.core.now,
                event: Event::Outcome(Outcome::UserCreated { user: 0 }),
            });
            let r = self.handle(&input);
            self.core.events[at].event = Event::Input(input);
            r
        } else {
            self.handle(&input)
        };
        if let Err(rej) = &r {
            self.core.emit(Outcome::Rejected(rej.clone()));
        }
        r
    }

    /// Hands an input to the part that handles it.
    fn handle(&mut self, input: &Input) -> Result<(), Rejection> {
        let st = &mut self.state;
        match input {
            Input::CreateUser {
                name,
                usage_location,
                proxy_addresses,
                attributes,
            } => self.create_user(name, *usage_location, proxy_addresses, attributes),
            Input::DeleteUser { user } => self.delete_user(*user),
            Input::SetUsageLocation { user, location } => {
                Directory::set_usage_location(st, *user, *location)
            }
            Input::SetProxyAddresses { user, addresses } => {
                self.directory.set_proxy_addresses(st, *user, addresses)
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
            Input::Purchase { sku, units } => Seats::purchase(st, *sku, *units),
            Input::SetUnits { sku, units } => Seats::set_units(st, *sku, *units),
            Input::ReprocessUser { user } => {
                live_user(st, *user)?;
                let r = self.step(*user, Focus::All, true);
                self.core.emit(Outcome::Audit(Audit::ChangeUserLicense {
                    user: *user,
                    group: None,
                    result: r.audit_result(),
                }));
                Ok(())
            }
            Input::ReprocessGroup { group } => {
                live_group(st, *group)?;
                for u in st.members_in_name_order(*group) {
                    self.enqueue(*group, u, true);
                }
                Ok(())
            }
            Input::DirectorySync => {
                self.sync();
                Ok(())
            }
            Input::BaselineStart => {
                if self.baseline_env.is_some() {
                    return Err(Rejection::new(CallError::InvalidValue));
                }
                self.baseline_env = Some(self.config.environment);
                self.config.environment = Environment::instant();
                Ok(())
            }
            Input::BaselineEnd => {
                let Some(env) = self.baseline_env.take() else {
                    return Err(Rejection::new(CallError::InvalidValue));
                };
                // Everything the baseline queued is processed before the plan's clock starts.
                while self.core.next_time().is_some() {
                    self.run_next_job();
                }
                self.config.environment = env;
                Ok(())
            }
            Input::Marker(_) => Ok(()),
        }
    }

    /// Queues a user on a group's worker.
    #[inline]
    fn enqueue(&mut self, g: GroupIdx, u: UserIdx, force: bool) {
        Workers::enqueue(
            &mut self.state,
            &mut self.core,
            &self.config.environment,
            g,
            u,
            force,
        );
    }
}

/// A live user, or `UnknownUser`.
#[inline]
fn live_user(st: &mut State, u: UserIdx) -> Result<&mut User, Rejection> {
    st.users
        .get_mut(u as usize)
        .filter(|x| x.alive)
        .ok_or(Rejection::new(CallError::UnknownUser))
}

/// A live group, or `UnknownGroup`.
#[inline]
fn live_group(st: &State, g: GroupIdx) -> Result<&Group, Rejection> {
    st.live_group(g)
        .ok_or(Rejection::new(CallError::UnknownGroup))
}

/// A SKU's subscription, or `UnknownSku`.
#[inline]
fn subscription(st: &mut State, sku: SkuIdx) -> Result<&mut Subscription, Rejection> {
    st.subscriptions
        .get_mut(sku as usize)
        .ok_or(Rejection::new(CallError::UnknownSku))
}
