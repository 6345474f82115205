//! The group workers: one FIFO queue per group (SPEC 3, 10), the processing state (R32), the
//! audit of a processing run (R29) and concurrency retries (R25).

use super::{Job, Sim};
use crate::dist;
use crate::event::*;
use crate::model::*;
use crate::rules::Focus;
use crate::{GroupIdx, UserIdx};

impl Sim {
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

    pub(super) fn worker(&mut self, g: GroupIdx) {
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

    pub(super) fn wake(&mut self, g: GroupIdx, at: u64) {
        let grp = &mut self.state.groups[g as usize];
        if !grp.wake_scheduled {
            grp.wake_scheduled = true;
            self.schedule(at, Job::Worker(g));
        }
    }

    /// SKUs a group step for (user, group) touches, as a 64-bit mask (bit = sku % 64).
    pub(super) fn sku_mask(&self, g: GroupIdx, u: UserIdx) -> u64 {
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
    pub(super) fn concurrency_collision(&mut self, g: GroupIdx, u: UserIdx) -> bool {
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

    pub(super) fn group_step(&mut self, g: GroupIdx, u: UserIdx, force: bool) {
        if !self.state.users[u as usize].alive {
            return;
        }
        let mask = self.sku_mask(g, u);
        let r = self.step(u, Focus::Group(g), force);
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
}
