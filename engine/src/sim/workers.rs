//! The group workers: one FIFO queue per group (SPEC 3, 10) holding the users to process, a
//! latency draw per item, the group's processing state (R32), the audit of a processing run
//! (R29) and concurrency retries (R25). The queues live in each [`Group`] (the plan runner
//! reads them to wait for a group); the RNG the draws come from lives here.

use super::{Core, Job, Sim};
use crate::dist;
use crate::event::*;
use crate::model::*;
use crate::rules::Focus;
use crate::sim::{Environment, SimConfig};
use crate::{GroupIdx, UserIdx};
use rand_chacha::ChaCha8Rng;

/// The workers' randomness: latency draws and R25 collisions, from the run's engine stream.
pub(super) struct Workers {
    rng: ChaCha8Rng,
}

/// What a worker's job finds for the item in progress.
enum InProgress {
    /// Nothing in progress: start the next item.
    Idle,
    /// Not finished yet, or retried after a collision: the worker wakes again later.
    Waiting,
    /// Finished: process the user now.
    Done(WorkItem),
}

impl Workers {
    pub(super) fn new(config: &SimConfig) -> Workers {
        Workers {
            rng: dist::rng_for(config.seed, config.run, dist::STREAM_ENGINE),
        }
    }

    /// Queues a user on a group's worker (SPEC 3, 10): FIFO, ready after the queue delay, not
    /// queued twice (a reprocess marks the queued item `force`).
    #[inline]
    pub(super) fn enqueue(
        st: &mut State,
        core: &mut Core,
        env: &Environment,
        g: GroupIdx,
        u: UserIdx,
        force: bool,
    ) {
        let ready = core.now + env.queue_delay_ms;
        let grp = &mut st.groups[g as usize];
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
            core.emit(Outcome::GroupState {
                group: g,
                state: ProcessingState::QueuedForProcessing,
            });
        }
        if wake {
            core.schedule(ready, Job::Worker(g));
        }
    }

    /// The item in progress when the worker's job runs: still running, retried after an R25
    /// collision (audited), or done.
    fn settle_busy(
        &mut self,
        st: &mut State,
        core: &mut Core,
        env: &Environment,
        g: GroupIdx,
    ) -> InProgress {
        let now = core.now;
        st.groups[g as usize].wake_scheduled = false;
        let Some((item, done)) = st.groups[g as usize].busy else {
            return InProgress::Idle;
        };
        if done > now {
            wake(st, core, g, done);
            return InProgress::Waiting;
        }
        if self.collision(st, env, now, g, item.user) {
            let at = now + env.retry_delay_ms.max(1);
            st.groups[g as usize].busy = Some((item, at));
            core.emit(Outcome::ConcurrencyRetry {
                user: item.user,
                group: g,
            });
            core.emit(Outcome::Audit(Audit::ChangeUserLicense {
                user: item.user,
                group: Some(g),
                result: AuditResult::ConcurrencyException,
            }));
            wake(st, core, g, at);
            return InProgress::Waiting;
        }
        st.groups[g as usize].busy = None;
        InProgress::Done(item)
    }

    /// Starts the next ready item (a latency draw; R32 `ProcessingInProgress` and R29 "Start
    /// applying" when a run begins), or completes the run when nothing is left (R32, R29
    /// "Finish applying" with the run's counts).
    fn start_next(&mut self, st: &mut State, core: &mut Core, env: &Environment, g: GroupIdx) {
        let now = core.now;
        let grp = &mut st.groups[g as usize];
        if let Some(front) = grp.queue.front().copied() {
            if front.ready_ms > now {
                wake(st, core, g, front.ready_ms);
                return;
            }
            grp.queue.pop_front();
            let force = grp.queued.remove(&front.user).unwrap_or(front.force);
            let latency = env.processing_latency.sample(&mut self.rng);
            let item = WorkItem { force, ..front };
            grp.busy = Some((item, now + latency));
            if grp.state != ProcessingState::ProcessingInProgress {
                grp.state = ProcessingState::ProcessingInProgress;
                grp.run_succeeded = 0;
                grp.run_failed = 0;
                core.emit(Outcome::GroupState {
                    group: g,
                    state: ProcessingState::ProcessingInProgress,
                });
                core.emit(Outcome::Audit(Audit::StartApplying { group: g }));
            }
            wake(st, core, g, now + latency);
        } else if grp.busy.is_none() && grp.state != ProcessingState::ProcessingComplete {
            grp.state = ProcessingState::ProcessingComplete;
            let (ok, failed) = (grp.run_succeeded, grp.run_failed);
            core.emit(Outcome::GroupState {
                group: g,
                state: ProcessingState::ProcessingComplete,
            });
            core.emit(Outcome::Audit(Audit::FinishApplying {
                group: g,
                succeeded: ok,
                failed,
            }));
        }
    }

    /// R25: another group processed this user and a common SKU within the window.
    fn collision(
        &mut self,
        st: &State,
        env: &Environment,
        now: u64,
        g: GroupIdx,
        u: UserIdx,
    ) -> bool {
        if env.concurrency_window_ms == 0 || env.concurrency_ppm == 0 {
            return false;
        }
        let Some(user) = st.live_user(u) else {
            return false;
        };
        let (t, h, mask) = (user.last_step_ms, user.last_step_group, user.last_step_skus);
        if h == GroupIdx::MAX || h == g || now.saturating_sub(t) >= env.concurrency_window_ms {
            return false;
        }
        if mask & sku_mask(st, g, u) == 0 {
            return false;
        }
        dist::chance_ppm(&mut self.rng, env.concurrency_ppm)
    }
}

/// Schedules the worker's job, unless one is scheduled already.
#[inline]
fn wake(st: &mut State, core: &mut Core, g: GroupIdx, at: u64) {
    let grp = &mut st.groups[g as usize];
    if !grp.wake_scheduled {
        grp.wake_scheduled = true;
        core.schedule(at, Job::Worker(g));
    }
}

/// SKUs a group step for (user, group) touches, as a 64-bit mask (bit = sku % 64).
#[inline]
fn sku_mask(st: &State, g: GroupIdx, u: UserIdx) -> u64 {
    let mut m = 0u64;
    for (s, _) in &st.groups[g as usize].licenses {
        m |= 1 << (s % 64);
    }
    for p in &st.users[u as usize].paths {
        if p.source == Source::Group(g) {
            m |= 1 << (p.sku % 64);
        }
    }
    m
}

/// The worker's job and the step it runs, across the parts.
impl Sim {
    pub(super) fn worker(&mut self, g: GroupIdx) {
        let env = &self.config.environment;
        match self
            .workers
            .settle_busy(&mut self.state, &mut self.core, env, g)
        {
            InProgress::Waiting => return,
            InProgress::Done(item) => self.group_step(g, item.user, item.force),
            InProgress::Idle => {}
        }
        let env = &self.config.environment;
        self.workers
            .start_next(&mut self.state, &mut self.core, env, g);
    }

    /// One user processed by a group's worker: the step, its audit (R29) and the run's counts.
    fn group_step(&mut self, g: GroupIdx, u: UserIdx, force: bool) {
        if !self.state.users[u as usize].alive {
            return;
        }
        let mask = sku_mask(&self.state, g, u);
        let r = self.step(u, Focus::Group(g), force);
        if r.evaluated {
            let user = &mut self.state.users[u as usize];
            (user.last_step_ms, user.last_step_group, user.last_step_skus) =
                (self.core.now, g, mask);
            self.core.emit(Outcome::Audit(Audit::ChangeUserLicense {
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
}
