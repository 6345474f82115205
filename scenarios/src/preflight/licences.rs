//! Licence changes and their checks: a group's licences (R08 here, R15 in `addons`; its
//! members see the change when `process` runs), direct calls, seats (R02, R12, R11) and
//! mutually exclusive plans (R13). The users' own data is in `data`, what a change takes away
//! in `losses`.

use super::Certainty;
use super::errors::Fail;
use super::model::Lic;
use super::walk::Walk;
use crate::model::Action;
use engine::catalog::PlanSet;
use engine::prelude::*;
use std::collections::BTreeMap;

/// Who gets a licence: a group's members, or users by direct calls.
#[derive(Clone, Copy)]
pub(super) enum Via {
    Group(usize),
    Direct,
}

impl Walk<'_> {
    pub(super) fn sku(&self, s: SkuIdx) -> &str {
        &self.m.cat.sku(s).part_number
    }

    pub(super) fn plans(&self, set: &PlanSet, sep: &str) -> String {
        set.iter()
            .map(|p| self.m.cat.plan(p).name.as_str())
            .collect::<Vec<_>>()
            .join(sep)
    }

    fn via_text(&self, source: Source) -> String {
        match source {
            Source::Direct => "directly".into(),
            Source::Group(g) => format!("from group {}", self.m.groups[g as usize].id),
        }
    }

    /// "; all or nothing (R11), ..." when the same change gives other licences of group `g`
    /// (`siblings`; its licences applied before stay applied).
    pub(super) fn r11(&self, g: usize, siblings: &[SkuIdx]) -> String {
        let others: Vec<&str> = siblings.iter().map(|s| self.sku(*s)).collect();
        if others.is_empty() {
            String::new()
        } else {
            format!(
                "; all or nothing (R11), their other licences from {} ({}) fail with Other",
                self.m.groups[g].id,
                others.join(", ")
            )
        }
    }

    /// A later plan step that buys `sku` (for the reason text).
    fn later_purchase(&self, sku: SkuIdx) -> Option<usize> {
        let from = self.at.step.map_or(0, |n| n as usize);
        self.sc.plan[from..]
            .iter()
            .position(|s| {
                matches!(&s.action, Action::Purchase { sku: x, .. } | Action::SetUnits { sku: x, .. } if *x == sku)
            })
            .map(|i| from + i + 1)
    }

    /// Changes a group's licences as `assign_group_license` does (removals, then additions
    /// replacing the same SKU) unless the call is rejected at once (R08, R15). Returns whether
    /// it is accepted.
    pub(super) fn group_licences(
        &mut self,
        g: usize,
        add: &[LicenseSpec],
        remove: &[SkuIdx],
    ) -> bool {
        let before = self.m.groups[g].licences.clone();
        let members = self
            .m
            .by_name(self.m.groups[g].members.iter().copied().collect());
        let id = self.m.groups[g].id.clone();
        if !self.m.groups[g].security_enabled {
            if self.at.step.is_some() {
                let stop = self.stop_text();
                let f = self.finding(
                    "not_security_enabled",
                    "R08",
                    "GroupNotSecurityEnabled",
                    format!("rejected at once (R08): group {id} is not security-enabled, and only security groups can have licences{stop}"),
                    &members,
                    "use a security group (security_enabled = true) for licences".into(),
                    Certainty::Certain,
                );
                self.push(f);
            }
            return false;
        }
        // SPEC 10: removing a SKU the group does not hold is ignored.
        let mut after: Vec<Lic> = before
            .iter()
            .copied()
            .filter(|(s, _)| !remove.contains(s))
            .collect();
        for spec in add {
            let lic = self.m.licence(spec);
            after.retain(|(s, _)| *s != lic.0);
            after.push(lic);
        }
        after.sort();
        if self.r15(g, &before, &after, remove, &members) {
            return false;
        }
        if before != after {
            // Accepted: the members see it when the group processes them (`process`).
            for (sku, _) in after.iter().filter(|l| !before.contains(l)) {
                self.m.groups[g].added_by.insert(*sku, self.at.clone());
            }
            self.m.groups[g].licences = after;
            self.touch(g);
        }
        true
    }

    /// Members added to a static group: they get its licences when it processes them.
    pub(super) fn new_members(&mut self, g: usize, users: &[UserIdx]) {
        let before = self.m.groups[g].members.len();
        self.m.groups[g].members.extend(users.iter().copied());
        if self.m.groups[g].members.len() != before {
            self.m.groups[g].members_by = Some(self.at.clone());
            self.touch(g);
        }
    }

    /// Members removed from a static group: they lose its paths when it processes them (R20).
    pub(super) fn gone_members(&mut self, g: usize, users: &[UserIdx]) {
        let before = self.m.groups[g].members.len();
        for u in users {
            self.m.groups[g].members.remove(u);
        }
        if self.m.groups[g].members.len() != before {
            self.m.groups[g].members_by = Some(self.at.clone());
            self.touch(g);
        }
    }

    /// A direct `assignLicense` on each user (in the order given): seats and conflicts of what
    /// it adds, plans lost by what it removes; then the users' direct licences change (except
    /// for the calls certain to be rejected, R05).
    pub(super) fn direct_licences(
        &mut self,
        users: &[UserIdx],
        add: &[LicenseSpec],
        remove: &[SkuIdx],
    ) {
        let lics: Vec<Lic> = add.iter().map(|l| self.m.licence(l)).collect();
        let failing = self.user_data(&lics, users, Via::Direct);
        let mut rejected: Vec<bool> = users.iter().map(|u| failing.contains(u)).collect();
        for lic in &lics {
            let getting: Vec<UserIdx> = users
                .iter()
                .copied()
                .filter(|u| !failing.contains(u))
                .filter(|u| !self.m.direct(*u).iter().any(|(s, _)| *s == lic.0))
                .collect();
            for u in self.seats(lic.0, &getting, Via::Direct, &[]) {
                if let Some(i) = users.iter().position(|x| *x == u) {
                    rejected[i] = true;
                }
            }
        }
        for sku in remove {
            self.direct_removal(users, *sku);
        }
        let mut previous = Vec::new();
        for (i, u) in users.iter().enumerate() {
            if !rejected[i] {
                previous.push((*u, self.m.direct(*u)));
                self.m.set_direct(*u, &lics, remove);
            }
        }
        let accepted: Vec<UserIdx> = previous.iter().map(|(u, _)| *u).collect();
        let mut conflicting = Vec::new();
        for lic in &lics {
            conflicting.extend(self.exclusive(*lic, &accepted, Via::Direct, &[]));
        }
        for (u, old) in previous {
            if conflicting.contains(&u) {
                self.m.restore_direct(u, old);
            }
        }
        self.m.retry(&accepted, None);
    }

    /// R02/R12: seats of `sku` for `users` newly meant to hold it (in the order the service
    /// meets them). Returns the users who get none.
    pub(super) fn seats(
        &mut self,
        sku: SkuIdx,
        users: &[UserIdx],
        via: Via,
        others: &[SkuIdx],
    ) -> Vec<UserIdx> {
        let (holding, held) = self.m.holders(sku);
        let new: Vec<UserIdx> = users
            .iter()
            .copied()
            .filter(|u| !holding[*u as usize])
            .collect();
        if new.is_empty() {
            return new;
        }
        let sub = self.m.subs[sku as usize];
        let total = held + new.len() as u64;
        let failing = if !sub.exists {
            new.len()
        } else {
            total.saturating_sub(sub.assignable()).min(new.len() as u64) as usize
        };
        if failing == 0 {
            return Vec::new();
        }
        let fails: Vec<UserIdx> = new[new.len() - failing..].to_vec();
        if let Via::Group(g) = via {
            let src = Source::Group(g as GroupIdx);
            for u in &fails {
                self.m.fail(*u, sku, src, Fail::Count);
                for s in others {
                    self.m.fail(*u, *s, src, Fail::Other);
                }
            }
        }
        let name = self.sku(sku).to_string();
        let approximate = matches!(via, Via::Group(g) if self.m.groups[g].approximate);
        let certainty = if approximate || self.m.faults_touch(&new, Some(sku)) {
            Certainty::Likely
        } else {
            Certainty::Certain
        };
        let about = if certainty == Certainty::Likely {
            "about "
        } else {
            ""
        };
        let (who, r11) = match via {
            Via::Group(g) => (
                format!(
                    "their {name} path from group {} is in error",
                    self.m.groups[g].id
                ),
                self.r11(g, others),
            ),
            Via::Direct => (
                "their assignLicense call is rejected".to_string(),
                String::new(),
            ),
        };
        let later = match via {
            Via::Group(g) => format!(
                "; units bought after this step help only after a reprocess_group {} (R21, R22)",
                self.m.groups[g].id
            ),
            Via::Direct => String::new(),
        };
        let step = self.step_text();
        let f = if !sub.exists {
            let bought = self
                .later_purchase(sku)
                .map_or(String::new(), |k| format!(" (step {k} buys it, later)"));
            self.finding(
                "no_subscription",
                "R02",
                "CountViolation",
                format!(
                    "the tenant has no {name} subscription at this point{bought}: {about}{failing} users get CountViolation ({who}){r11}"
                ),
                &fails,
                format!(
                    "buy {name} before {step}: a purchase step (sku = \"{name}\", units = {total}), or {name} = {total} in [tenant] subscriptions{later}"
                ),
                certainty,
            )
        } else {
            let short = total - sub.assignable();
            let bought = self.later_purchase(sku).map_or(String::new(), |k| {
                format!(
                    "; step {k} buys more later, and they stay in error until then{}",
                    match via {
                        Via::Group(_) => ", and until a reprocess",
                        Via::Direct => ", and until a new call",
                    }
                )
            });
            self.finding(
                "not_enough_units",
                "R12",
                "CountViolation",
                format!(
                    "{about}{total} users would hold {name} after this step ({held} already, {} new), and {} units are assignable then: the last {about}{failing} in processing order (byte-wise id order) get CountViolation ({who}){r11}{bought}",
                    new.len(),
                    sub.assignable()
                ),
                &fails,
                format!(
                    "buy {about}{short} more {name} units before {step} (a purchase step with units = {short}, or {name} = {total} in [tenant] subscriptions), or give it to {short} fewer users{later}"
                ),
                certainty,
            )
        };
        self.push(f);
        fails
    }

    /// R13: users for whom `lic` (new to them, through `via`) enables a plan mutually exclusive
    /// with a different plan they are meant to hold through another SKU.
    pub(super) fn exclusive(
        &mut self,
        lic: Lic,
        users: &[UserIdx],
        via: Via,
        siblings: &[SkuIdx],
    ) -> Vec<UserIdx> {
        let enabled = self.m.enabled(lic);
        if !enabled.intersects(&self.m.cat.exclusive_any) {
            return Vec::new();
        }
        let mut conflicting = Vec::new();
        // (plan, other plan, other SKU, its source) -> users
        let mut groups: BTreeMap<(PlanIdx, PlanIdx, SkuIdx, Source), Vec<UserIdx>> =
            BTreeMap::new();
        for &u in users {
            let others: Vec<(Lic, Source)> = self
                .m
                .applied(u)
                .into_iter()
                .filter(|((s, _), _)| *s != lic.0)
                .collect();
            let mut all = PlanSet::EMPTY;
            for (l, _) in &others {
                all.union_with(&self.m.enabled(*l));
            }
            let Some((x, y)) = self.m.cat.exclusive_conflict(&enabled, &all) else {
                continue;
            };
            let Some(((s2, _), src)) = others.iter().find(|(l, _)| self.m.enabled(*l).contains(y))
            else {
                continue;
            };
            groups.entry((x, y, *s2, *src)).or_default().push(u);
            conflicting.push(u);
            if let Via::Group(g) = via {
                let me = Source::Group(g as GroupIdx);
                self.m.fail(u, lic.0, me, Fail::Exclusive);
                for s in siblings {
                    self.m.fail(u, *s, me, Fail::Other);
                }
            }
        }
        for ((x, y, s2, src), affected) in groups {
            let cat = self.m.cat;
            let (xn, yn) = (cat.plan(x).name.clone(), cat.plan(y).name.clone());
            let (name, other) = (self.sku(lic.0).to_string(), self.sku(s2).to_string());
            let certainty = if self.m.faults_touch(&affected, Some(s2)) {
                Certainty::Likely
            } else {
                Certainty::Certain
            };
            let about = if certainty == Certainty::Likely {
                "about "
            } else {
                ""
            };
            let (what, fix) = match (via, src) {
                (Via::Direct, _) => (
                    format!(
                        "their assignLicense call adding {name} is rejected with MutuallyExclusiveViolation"
                    ),
                    format!(
                        "remove {other} in the same assignLicense call that adds {name} (add and remove together), or disable {xn} in {name}"
                    ),
                ),
                (Via::Group(g), Source::Group(h)) if h as usize == g => (
                    format!(
                        "group {} gives both: their {name} path fails with MutuallyExclusiveViolation{}",
                        self.m.groups[g].id,
                        self.r11(g, siblings)
                    ),
                    format!(
                        "add {name} and remove {other} in one assign_group_license call (R19: checked against the end state, no error and no gap), or disable {xn} in {name}"
                    ),
                ),
                (Via::Group(g), Source::Group(h)) => (
                    format!(
                        "their {name} from group {} fails with MutuallyExclusiveViolation{}",
                        self.m.groups[g].id,
                        self.r11(g, siblings)
                    ),
                    format!(
                        "remove {other} from group {} (or these users from it) before this step, or disable {xn} in the {name} of group {}",
                        self.m.groups[h as usize].id, self.m.groups[g].id
                    ),
                ),
                (Via::Group(g), Source::Direct) => (
                    format!(
                        "their {name} from group {} fails with MutuallyExclusiveViolation until {other} is removed{}",
                        self.m.groups[g].id,
                        self.r11(g, siblings)
                    ),
                    format!(
                        "remove their direct {other} after this step (remove_direct: their {name} is evaluated again at once, R21, without a gap; removing it before this step opens one), or disable {xn} in the {name} of group {}",
                        self.m.groups[g].id
                    ),
                ),
            };
            let f = self.finding(
                "exclusive_conflict",
                "R13",
                "MutuallyExclusiveViolation",
                format!(
                    "{about}{} with {other} {}, whose {yn} cannot be enabled beside {xn} of {name} (one exclusive set): {what}",
                    super::users(affected.len()),
                    self.via_text(src)
                ),
                &affected,
                fix,
                certainty,
            );
            self.push(f);
        }
        conflicting
    }
}
