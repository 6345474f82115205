//! Processing steps: the simulator asks the rules for a [`Decision`](crate::rules::Decision)
//! about one user and writes it (paths, the groups' path counts, outcomes); `begin`/`finish`
//! around it settle seats and service (see `seats`).

use super::Sim;
use crate::event::*;
use crate::rules::{self, Decision, Focus, StepResult, Subject, Tenant};
use crate::{GroupIdx, UserIdx};

impl Sim {
    /// One processing step for user `u` (SPEC 3, 10): the rules decide, the step is written,
    /// seats and service settled.
    pub(super) fn step(&mut self, u: UserIdx, focus: Focus, force: bool) -> StepResult {
        let snap = self.begin(u);
        let r = self.decide(u, |t, s, d| rules::process(t, s, focus, force, d));
        self.write_decision(u);
        self.finish(u, snap);
        r
    }

    /// Calls a rule with the tenant's facts only (no user).
    pub(super) fn with_tenant<R>(&self, rule: impl FnOnce(&Tenant) -> R) -> R {
        let st = &self.state;
        // A group's licences as the rules read them (`None`: the group is deleted).
        let licenses = |h: GroupIdx| st.live_group(h).map(|g| g.licenses.as_slice());
        let ids = |h: GroupIdx| st.groups[h as usize].name.as_str();
        let t = Tenant {
            catalog: &self.catalog,
            disabled_sets: &st.disabled_sets,
            subscriptions: &st.subscriptions,
            default_location: self.config.tenant.default_usage_location,
            group_licenses: &licenses,
            group_id: &ids,
            now: self.core.now,
        };
        rule(&t)
    }

    /// Calls a rule about user `u` with what it reads; its decision is left in `self.decision`.
    pub(super) fn decide<R>(
        &mut self,
        u: UserIdx,
        rule: impl FnOnce(&Tenant, &Subject, &mut Decision) -> R,
    ) -> R {
        let st = &self.state;
        // A group's licences as the rules read them (`None`: the group is deleted).
        let licenses = |h: GroupIdx| st.live_group(h).map(|g| g.licenses.as_slice());
        let ids = |h: GroupIdx| st.groups[h as usize].name.as_str();
        let directory = &self.directory;
        let proxy_conflict = || directory.proxy_conflict(st, u);
        let t = Tenant {
            catalog: &self.catalog,
            disabled_sets: &st.disabled_sets,
            subscriptions: &st.subscriptions,
            default_location: self.config.tenant.default_usage_location,
            group_licenses: &licenses,
            group_id: &ids,
            now: self.core.now,
        };
        let user = &st.users[u as usize];
        let s = Subject {
            user: u,
            paths: &user.paths,
            groups: &user.groups,
            usage_location: user.usage_location,
            proxy_conflict: &proxy_conflict,
        };
        rule(&t, &s, &mut self.decision)
    }

    /// Writes the last decision about user `u` (once): its paths (exact capacity: most users
    /// hold one or two), R23 merges of disabled sets, the groups' path counts, the outcomes.
    pub(super) fn write_decision(&mut self, u: UserIdx) {
        let d = &mut self.decision;
        if !std::mem::take(&mut d.write) {
            return;
        }
        let st = &mut self.state;
        for &(sku, a, b) in &d.merges {
            let set = st.disabled_sets[a as usize].intersect(&st.disabled_sets[b as usize]);
            let merged = st.intern_disabled(set);
            if let Some(p) = d
                .paths
                .iter_mut()
                .find(|p| p.sku == sku && p.source == Source::Direct)
            {
                p.disabled = merged;
            }
        }
        let paths = &mut st.users[u as usize].paths;
        if paths.len() == d.paths.len() {
            paths.copy_from_slice(&d.paths);
        } else {
            paths.clear();
            paths.reserve_exact(d.paths.len());
            paths.extend_from_slice(&d.paths);
        }
        for &(h, delta) in &d.group_paths {
            let g = &mut st.groups[h as usize];
            g.path_count = (g.path_count as i64 + delta) as u64;
        }
        for o in d.outcomes.drain(..) {
            self.core.emit(o);
        }
    }
}
