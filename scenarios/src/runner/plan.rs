//! The plan: steps in order, user-targeted steps in waves with their gates, waiting for
//! processing, and stopping (a failed gate, a rejected call with on_reject = "stop").

use super::Runner;
use crate::model::*;
use engine::prelude::*;

impl Runner<'_> {
    pub(super) fn plan(&mut self) {
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

    pub(super) fn user_targets<'s>(&self, a: &'s Action) -> Option<&'s Selector> {
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

    pub(super) fn step(&mut self, n: u32, step: &Step) {
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
    pub(super) fn user_wave(&mut self, n: u32, step: &Step, users: &[UserIdx]) -> bool {
        let inputs: Vec<Input> = match &step.action {
            Action::AddMembers { group, .. } | Action::RemoveMembers { group, .. } => {
                // SPEC 10: a user that does not exist (deleted) is rejected on its own
                // (UnknownUser, counted); the other users of the step proceed in one call.
                let g = self.group(group);
                let add = matches!(step.action, Action::AddMembers { .. });
                let call = |members: Vec<Member>| {
                    if add {
                        Input::AddMembers { group: g, members }
                    } else {
                        Input::RemoveMembers { group: g, members }
                    }
                };
                let st = self.sim.state();
                let (live, gone): (Vec<UserIdx>, Vec<UserIdx>) =
                    users.iter().partition(|u| st.live_user(**u).is_some());
                let mut calls = Vec::new();
                if !live.is_empty() || gone.is_empty() {
                    calls.push(call(live.into_iter().map(Member::User).collect()));
                }
                calls.extend(gone.into_iter().map(|u| call(vec![Member::User(u)])));
                calls
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

    pub(super) fn processed(&self, group: Option<&str>) -> bool {
        let st = self.sim.state();
        let done = |g: &engine::model::Group| {
            !g.alive || (!g.busy() && g.busy.is_none() && g.queue.is_empty())
        };
        match group {
            None => st.groups.iter().all(done),
            Some(id) => st.group(id).is_none_or(|g| done(&st.groups[g as usize])),
        }
    }

    pub(super) fn wait_until_processed(&mut self, n: u32, group: Option<&str>) {
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
}
