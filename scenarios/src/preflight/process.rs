//! A group's worker: when the plan waits for processing (or time passes its queue delay), each
//! member's paths from the group are made to match the group's licences, as the service does
//! (SPEC 3). Changes made before that, at the same moment, are processed together: adding E3
//! and removing it again before anything waits is nothing for the members. The checks of what
//! members get (R17, R18, R12, R13, R04) and what they lose (R16, the R19 gap) run here, on
//! behalf of the step that made the last change.

use super::licences::Via;
use super::model::Lic;
use super::walk::Walk;
use engine::catalog::PlanSet;
use engine::prelude::*;
use std::collections::BTreeSet;

impl Walk<'_> {
    /// Marks a group as changed by the current step (its members are processed later).
    pub(super) fn touch(&mut self, g: usize) {
        let grp = &mut self.m.groups[g];
        grp.dirty = true;
        grp.changed_by = Some(self.at.clone());
        grp.changed_at = Some(self.m.time_ms);
    }

    /// Processes every changed group (by group index).
    pub(super) fn process_all(&mut self) {
        for g in 0..self.m.groups.len() {
            self.process(g);
        }
    }

    /// Processes the groups whose last change is at least the queue delay old at `t`, and
    /// moves the clock there.
    pub(super) fn advance_to(&mut self, t: u64) {
        self.m.time_ms = self.m.time_ms.max(t);
        let delay = self.sc.environment.queue_delay_ms;
        for g in 0..self.m.groups.len() {
            let due = self.m.groups[g]
                .changed_at
                .is_some_and(|c| c.saturating_add(delay) <= self.m.time_ms);
            if due {
                self.process(g);
            }
        }
    }

    /// One group's members made to match its licences.
    pub(super) fn process(&mut self, g: usize) {
        if !self.m.groups[g].dirty {
            return;
        }
        let grp = &self.m.groups[g];
        let cause = grp.changed_by.clone();
        let added_by = std::mem::take(&mut self.m.groups[g].added_by);
        let grp = &self.m.groups[g];
        let members_by = grp.members_by.clone().or_else(|| cause.clone());
        let current: Vec<Lic> = if grp.alive {
            grp.licences.clone()
        } else {
            Vec::new()
        };
        let old = grp.settled.clone();
        let members: Vec<UserIdx> = grp
            .members
            .iter()
            .copied()
            .filter(|u| self.m.alive(*u))
            .collect();
        let old_members = grp.settled_members.clone();
        let now: BTreeSet<UserIdx> = members.iter().copied().collect();
        let stayed = self.m.by_name(
            members
                .iter()
                .copied()
                .filter(|u| old_members.contains(u))
                .collect(),
        );
        let joined = self.m.by_name(
            members
                .iter()
                .copied()
                .filter(|u| !old_members.contains(u))
                .collect(),
        );
        let left = self.m.by_name(
            old_members
                .iter()
                .copied()
                .filter(|u| !now.contains(u) && self.m.alive(*u))
                .collect(),
        );
        let added: Vec<Lic> = current
            .iter()
            .copied()
            .filter(|l| !old.contains(l))
            .collect();
        let removed: Vec<Lic> = old
            .iter()
            .copied()
            .filter(|l| !current.contains(l))
            .collect();
        // SKUs new to the group (a re-assigned SKU keeps its seats).
        let new_skus: Vec<SkuIdx> = added
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| !old.iter().any(|(x, _)| x == s))
            .collect();
        let cause = cause.unwrap_or_else(|| self.at.clone());
        let saved = std::mem::replace(&mut self.at, cause.clone());
        let plans_of = |w: &Walk, users: &[UserIdx]| -> Vec<PlanSet> {
            users.iter().map(|u| w.m.plans(*u)).collect()
        };
        let before_stayed = if removed.is_empty() {
            Vec::new()
        } else {
            plans_of(self, &stayed)
        };
        let before_left = plans_of(self, &left);

        // What members get: their own data first (R24), then seats.
        // Findings about a licence speak of the step that gave it; about new members, of the
        // step that added them.
        let by_licence =
            |w: &Walk, sku: SkuIdx| added_by.get(&sku).cloned().unwrap_or_else(|| w.at.clone());
        let mut failing = BTreeSet::new();
        for lic in &added {
            self.at = by_licence(self, lic.0);
            failing.extend(self.user_data(&[*lic], &stayed, Via::Group(g)));
        }
        if let Some(at) = &members_by {
            self.at = at.clone();
        }
        failing.extend(self.user_data(&current, &joined, Via::Group(g)));
        for (sku, _) in &current {
            self.at = match (&members_by, new_skus.contains(sku)) {
                (_, true) => by_licence(self, *sku),
                (Some(at), false) => at.clone(),
                (None, false) => self.at.clone(),
            };
            let mut users: Vec<UserIdx> = joined.clone();
            let mut siblings: Vec<SkuIdx> = current
                .iter()
                .map(|(s, _)| *s)
                .filter(|s| s != sku)
                .collect();
            if new_skus.contains(sku) {
                users.extend(stayed.iter().copied());
                users = self.m.by_name(users);
                if joined.is_empty() {
                    siblings.retain(|s| new_skus.contains(s));
                }
            }
            users.retain(|u| !failing.contains(u));
            self.seats(*sku, &users, Via::Group(g), &siblings);
        }

        // The members now hold what the group gives.
        let src = Source::Group(g as GroupIdx);
        for u in &stayed {
            for (sku, _) in &removed {
                if !current.iter().any(|(s, _)| s == sku) {
                    self.m.unfail(*u, *sku, src);
                }
            }
        }
        for u in &left {
            self.m.forget(*u, Some(src));
        }
        let grp = &mut self.m.groups[g];
        grp.settled = current.clone();
        grp.settled_members = now;
        grp.dirty = false;
        grp.changed_at = None;
        grp.members_by = None;
        // R21: the path sets of these users changed; their errors are evaluated again.
        let mut changed: Vec<UserIdx> = joined.clone();
        changed.extend(left.iter().copied());
        if !added.is_empty() || !removed.is_empty() {
            changed.extend(stayed.iter().copied());
        }
        let changed = self.m.by_name(changed);
        self.m.retry(&changed, None);

        for lic in &current {
            let mut users = joined.clone();
            if added.contains(lic) {
                users.extend(stayed.iter().copied());
            }
            if users.is_empty() {
                continue;
            }
            let users = self.m.by_name(users);
            let siblings: Vec<SkuIdx> = new_skus.iter().copied().filter(|s| *s != lic.0).collect();
            self.at = if added.contains(lic) {
                by_licence(self, lic.0)
            } else {
                members_by.clone().unwrap_or_else(|| self.at.clone())
            };
            self.exclusive(*lic, &users, Via::Group(g), &siblings);
            self.fewer_plans_than_direct(*lic, &users, g);
        }

        // What members lose, on behalf of the last change.
        self.at = cause.clone();
        if !removed.is_empty() {
            self.blocked_removals(g, &stayed, &before_stayed, &removed);
            self.service_gap(g, &stayed, &before_stayed, &removed);
        }
        if let Some(at) = &members_by {
            self.at = at.clone();
        }
        self.blocked_removals(g, &left, &before_left, &old);
        self.at = saved;
    }
}
