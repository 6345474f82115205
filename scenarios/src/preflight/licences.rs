//! The licence checks of the pre-flight, run as the walk meets a licence change: a group's
//! licences (R08, R15), seats (R02, R12, R11), mutually exclusive plans (R13), and plans a
//! direct licence enables that the group licence replacing it does not (R04).

use super::Certainty;
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
    fn sku(&self, s: SkuIdx) -> &str {
        &self.m.cat.sku(s).part_number
    }

    fn plans(&self, set: &PlanSet, sep: &str) -> String {
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

    /// "; all or nothing (R11), ..." when group `g` has licences besides `sku`.
    fn r11(&self, g: usize, sku: SkuIdx) -> String {
        let others: Vec<&str> = self.m.groups[g]
            .licences
            .iter()
            .filter(|(s, _)| *s != sku)
            .map(|(s, _)| self.sku(*s))
            .collect();
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
    /// replacing the same SKU), after the checks that reject the call (R08, R15) and those that
    /// predict failures for its members (R12, R13, R04). Returns whether the call is accepted.
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
        let new: Vec<Lic> = after
            .iter()
            .copied()
            .filter(|l| !before.contains(l))
            .collect();
        if before.iter().any(|l| !after.contains(l)) {
            self.service_gap(g, &members, &after);
        }
        for lic in &new {
            if !before.iter().any(|(s, _)| *s == lic.0) {
                let others: Vec<SkuIdx> = after
                    .iter()
                    .map(|(s, _)| *s)
                    .filter(|s| *s != lic.0)
                    .collect();
                self.seats(lic.0, &members, Via::Group(g), &others);
            }
        }
        let grp = &mut self.m.groups[g];
        if grp.licences != after {
            grp.changed_at = Some(self.m.time_ms);
            grp.changed_step = self.at.step;
            grp.processed_since = false;
        }
        grp.licences = after;
        for lic in &new {
            self.exclusive(*lic, &members, Via::Group(g));
            self.fewer_plans_than_direct(*lic, &members, g);
        }
        true
    }

    /// Members added to a group with licences: each licence is new to them.
    pub(super) fn new_members(&mut self, g: usize, users: &[UserIdx]) {
        let licences = self.m.groups[g].licences.clone();
        let new: Vec<UserIdx> = users
            .iter()
            .copied()
            .filter(|u| !self.m.groups[g].members.contains(u))
            .collect();
        let new = self.m.by_name(new);
        for lic in &licences {
            let others: Vec<SkuIdx> = licences
                .iter()
                .map(|(s, _)| *s)
                .filter(|s| *s != lic.0)
                .collect();
            self.seats(lic.0, &new, Via::Group(g), &others);
        }
        self.m.groups[g].members.extend(new.iter().copied());
        for lic in &licences {
            self.exclusive(*lic, &new, Via::Group(g));
            self.fewer_plans_than_direct(*lic, &new, g);
        }
    }

    /// A direct `assignLicense` on each user (in the order given): seats and conflicts of what
    /// it adds, plans lost by what it removes; then the users' direct licences change (except
    /// for the calls certain to be rejected).
    pub(super) fn direct_licences(
        &mut self,
        users: &[UserIdx],
        add: &[LicenseSpec],
        remove: &[SkuIdx],
    ) {
        let mut rejected = vec![false; users.len()];
        let lics: Vec<Lic> = add.iter().map(|l| self.m.licence(l)).collect();
        for lic in &lics {
            let getting: Vec<UserIdx> = users
                .iter()
                .copied()
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
        for (i, u) in users.iter().enumerate() {
            if !rejected[i] {
                self.m.set_direct(*u, &lics, remove);
            }
        }
        let accepted: Vec<UserIdx> = users
            .iter()
            .zip(&rejected)
            .filter(|(_, r)| !**r)
            .map(|(u, _)| *u)
            .collect();
        for lic in &lics {
            self.exclusive(*lic, &accepted, Via::Direct);
        }
    }

    /// R15: whether the group's licences after the call enable a dependent plan without a
    /// prerequisite enabled by the same group (then the call is rejected; a finding says so).
    fn r15(
        &mut self,
        g: usize,
        before: &[Lic],
        after: &[Lic],
        remove: &[SkuIdx],
        members: &[UserIdx],
    ) -> bool {
        let union = |lics: &[Lic]| {
            let mut set = PlanSet::EMPTY;
            for l in lics {
                set.union_with(&self.m.enabled(*l));
            }
            set
        };
        let plans = union(after);
        let Some((dep, _)) = self.m.cat.missing_dependency(&plans, &plans) else {
            return false;
        };
        let cat = self.m.cat;
        let pre = cat.prerequisites_of(dep).copied().unwrap_or_default();
        let dep_name = cat.plan(dep).name.clone();
        let dep_sku = after
            .iter()
            .find(|l| self.m.enabled(**l).contains(dep))
            .map_or(String::new(), |(s, _)| self.sku(*s).to_string());
        let id = self.m.groups[g].id.clone();
        let fix = if remove.is_empty()
            || self
                .m
                .cat
                .missing_dependency(&union(before), &union(before))
                .is_some()
        {
            let mut providers: Vec<&str> = cat
                .skus
                .iter()
                .enumerate()
                .filter(|(_, s)| s.plans.intersects(&pre))
                .filter(|(i, _)| self.m.subs[*i].exists)
                .map(|(_, s)| s.part_number.as_str())
                .collect();
            if providers.is_empty() {
                providers = cat
                    .skus
                    .iter()
                    .filter(|s| s.plans.intersects(&pre))
                    .map(|s| s.part_number.as_str())
                    .collect();
            }
            providers.truncate(3);
            let e_g = providers.first().copied().unwrap_or("a licence with it");
            format!(
                "give group {id} a licence that enables {} in the same call, e.g. add = [\"{e_g}\", \"{dep_sku}\"]{}; a prerequisite the members hold directly or from another group does not count",
                self.plans(&pre, " or "),
                if providers.len() > 1 {
                    format!(" (SKUs with it: {})", providers.join(", "))
                } else {
                    String::new()
                }
            )
        } else {
            let removed: Vec<&str> = remove.iter().map(|s| self.sku(*s)).collect();
            format!(
                "remove {dep_sku} from group {id} in the same call (remove = [\"{}\", \"{dep_sku}\"]), or keep {}",
                removed.join("\", \""),
                removed.join(", ")
            )
        };
        let stop = self.stop_text();
        let f = self.finding(
            "dependent_without_prerequisite",
            "R15",
            "DependentServiceMissing",
            format!(
                "rejected at once (R15): \"The service {dep_name} requires {} to be enabled as well\": {what} needs {} from the same group, and no licence group {id} would have enables one; its licences stay as they were and its members get nothing from this call{stop}",
                cat.plan(pre.iter().next().unwrap_or(dep)).name,
                self.plans(&pre, " or "),
                what = if dep_sku == dep_name {
                    dep_name.clone()
                } else {
                    format!("{dep_name} (in {dep_sku})")
                },
            ),
            members,
            fix,
            Certainty::Certain,
        );
        self.push(f);
        true
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
            Via::Group(g) => {
                let id = &self.m.groups[g].id;
                let others: Vec<&str> = others.iter().map(|s| self.sku(*s)).collect();
                (
                    format!("their {name} path from group {id} is in error"),
                    if others.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; all or nothing (R11), their other licences from {id} ({}) fail with Other",
                            others.join(", ")
                        )
                    },
                )
            }
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
    fn exclusive(&mut self, lic: Lic, users: &[UserIdx], via: Via) {
        let enabled = self.m.enabled(lic);
        if !enabled.intersects(&self.m.cat.exclusive_any) {
            return;
        }
        // (plan, other plan, other SKU, its source) -> users
        let mut groups: BTreeMap<(PlanIdx, PlanIdx, SkuIdx, Source), Vec<UserIdx>> =
            BTreeMap::new();
        for &u in users {
            let others: Vec<(Lic, Source)> = self
                .m
                .intents(u)
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
                        "group {} gives both: the {name} path fails with MutuallyExclusiveViolation",
                        self.m.groups[g].id
                    ),
                    format!(
                        "add {name} and remove {other} in one assign_group_license call (R19: checked against the end state, no error and no gap), or disable {xn} in {name}"
                    ),
                ),
                (Via::Group(g), Source::Group(h)) => (
                    format!(
                        "their {name} from group {} fails with MutuallyExclusiveViolation{}",
                        self.m.groups[g].id,
                        self.r11(g, lic.0)
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
                        self.r11(g, lic.0)
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
                    "{about}{} users hold {other} {}, whose {yn} cannot be enabled beside {xn} of {name} (one exclusive set): {what}",
                    affected.len(),
                    self.via_text(src)
                ),
                &affected,
                fix,
                certainty,
            );
            self.push(f);
        }
    }

    /// The plans a user would lose if its direct `sku` went away now: those the direct licence
    /// enables and no other licence does (by service family, as loss of service counts).
    fn lost_without_direct(&self, u: UserIdx, sku: SkuIdx) -> PlanSet {
        let intents = self.m.intents(u);
        let Some((direct, _)) = intents
            .iter()
            .find(|((s, _), src)| *s == sku && *src == Source::Direct)
        else {
            return PlanSet::EMPTY;
        };
        let mut rest = PlanSet::EMPTY;
        for (l, src) in &intents {
            if !(l.0 == sku && *src == Source::Direct) {
                rest.union_with(&self.m.enabled(*l));
            }
        }
        let families = self.m.cat.families_of(&rest);
        let mut lost = self.m.enabled(*direct).minus(&rest);
        for p in lost.clone().iter() {
            if families.contains(self.m.cat.plan(p).family) {
                lost.remove(p);
            }
        }
        lost
    }

    /// A group licence removed (or given with fewer plans) while members have nothing else
    /// with some of its services: they lose them from this step on (SPEC 6, loss of service),
    /// unless a dependent plan they keep blocks the removal (R16).
    fn service_gap(&mut self, g: usize, members: &[UserIdx], after: &[Lic]) {
        let cat = self.m.cat;
        let mut affected = Vec::new();
        let mut lost = PlanSet::EMPTY;
        for &u in members {
            let before = self.m.plans(u, None);
            let now = self.m.plans(u, Some((g, after)));
            if cat.missing_dependency(&now, &now).is_some() {
                continue; // R16 keeps the path (ActiveWithError): no loss, another finding's job
            }
            let gone = cat.families_of(&before).minus(&cat.families_of(&now));
            if !gone.is_empty() {
                affected.push(u);
                lost.union_with(&gone);
            }
        }
        if affected.is_empty() {
            return;
        }
        let mut names: Vec<&str> = lost
            .iter()
            .map(|f| cat.family_name(f))
            .filter(|f| crate::figures::is_main_family(f))
            .collect();
        let others = lost.len() - names.len();
        if names.is_empty() {
            names.push("some plans");
        }
        let mut services = names.join(", ");
        if others > 0 && names.len() < lost.len() {
            services.push_str(&format!(" and {others} other plans"));
        }
        let id = self.m.groups[g].id.clone();
        let removed: Vec<String> = self.m.groups[g]
            .licences
            .iter()
            .filter(|l| !after.contains(l))
            .map(|(s, _)| self.sku(*s).to_string())
            .collect();
        // A later step of the plan that gives the group a licence back.
        let from = self.at.step.map_or(0, |n| n as usize);
        let later = self.sc.plan[from..]
            .iter()
            .enumerate()
            .find_map(|(k, s)| match &s.action {
                Action::AssignGroupLicense { group, add, .. }
                    if *group == id && !add.is_empty() =>
                {
                    Some((
                        from + k + 1,
                        add.iter()
                            .map(|l| self.sku(l.sku).to_string())
                            .collect::<Vec<_>>(),
                    ))
                }
                _ => None,
            });
        let (until, fix) = match later {
            Some((k, adds)) => (
                format!(" until step {k} gives {} back", adds.join(", ")),
                format!(
                    "add {} and remove {} in one assign_group_license call (add = [\"{}\"], remove = [\"{}\"]): R19 swaps them for each user in one step, without a gap",
                    adds.join(", "),
                    removed.join(", "),
                    adds.join("\", \""),
                    removed.join("\", \"")
                ),
            ),
            None => (
                String::new(),
                format!(
                    "give these users a licence with {services} first (or add it in the same call as the removal, R19), or keep {}",
                    removed.join(", ")
                ),
            ),
        };
        let certainty = if self.m.groups[g].processed_since && !self.m.groups[g].approximate {
            Certainty::Certain
        } else {
            Certainty::Likely
        };
        let f = self.finding(
            "service_gap",
            "R19",
            "ServiceLost",
            format!(
                "{} members of group {id} lose {services} from when the group processes them{until}: {} was their only licence with them",
                affected.len(),
                removed.join(", ")
            ),
            &affected,
            fix,
            certainty,
        );
        self.push(f);
    }

    /// R04 at a group step: members holding `lic`'s SKU directly with plans the group's licence
    /// disables. Kept until the end: a later removal of the direct licence reports them at
    /// that step (certain), otherwise the group step does (likely).
    fn fewer_plans_than_direct(&mut self, lic: Lic, users: &[UserIdx], g: usize) {
        if self.m.disabled_of(lic).is_empty() {
            return;
        }
        let affected: Vec<(UserIdx, PlanSet)> = users
            .iter()
            .map(|u| (*u, self.lost_without_direct(*u, lic.0)))
            .filter(|(_, lost)| !lost.is_empty())
            .collect();
        if affected.is_empty() {
            return;
        }
        let mut lost = PlanSet::EMPTY;
        for (_, l) in &affected {
            lost.union_with(l);
        }
        let users: Vec<UserIdx> = affected.iter().map(|(u, _)| *u).collect();
        let (name, id) = (self.sku(lic.0).to_string(), self.m.groups[g].id.clone());
        let plans = self.plans(&lost, ", ");
        let f = self.finding(
            "fewer_plans_than_direct",
            "R04",
            "ServiceLost",
            format!(
                "members of group {id} hold {name} directly with {plans} enabled, which the group's {name} disables: once their direct licence is removed, they lose {plans} (a user has only what some licence enables)"
            ),
            &users,
            format!("enable {plans} in the {name} of group {id} (take them out of its disabled_plans) and let it process before removing the direct licences; Microsoft's direct-to-group guidance: check that the group licence matches the direct one first"),
            Certainty::Likely,
        );
        self.pending.push((f, users, lic.0));
    }

    /// R04 at a direct removal of `sku`: users who lose plans that only the direct licence
    /// enabled although a group gives them the SKU.
    pub(super) fn direct_removal(&mut self, users: &[UserIdx], sku: SkuIdx) {
        // group id -> (users, plans lost)
        let mut by_group: Vec<(usize, Vec<UserIdx>, PlanSet)> = Vec::new();
        for &u in users {
            let from_group = self
                .m
                .intents(u)
                .into_iter()
                .find_map(|((s, _), src)| match src {
                    Source::Group(g) if s == sku => Some(g as usize),
                    _ => None,
                });
            let Some(g) = from_group else { continue };
            let lost = self.lost_without_direct(u, sku);
            self.removed_direct.insert((u, sku));
            if lost.is_empty() {
                continue;
            }
            match by_group.iter_mut().find(|(x, _, _)| *x == g) {
                Some((_, v, l)) => {
                    v.push(u);
                    l.union_with(&lost);
                }
                None => by_group.push((g, vec![u], lost)),
            }
        }
        for (g, affected, lost) in by_group {
            let (name, id) = (self.sku(sku).to_string(), self.m.groups[g].id.clone());
            let plans = self.plans(&lost, ", ");
            let certainty =
                if self.m.faults_touch(&affected, Some(sku)) || self.m.groups[g].approximate {
                    Certainty::Likely
                } else {
                    Certainty::Certain
                };
            let step = self.step_text();
            let f = self.finding(
                "fewer_plans_than_direct",
                "R04",
                "ServiceLost",
                format!(
                    "{} users lose {plans}: this step removes their direct {name}, and the {name} they keep from group {id} disables {plans} (a user has only what some licence enables)",
                    affected.len()
                ),
                &affected,
                format!("before {step}, enable {plans} in the {name} of group {id} (take them out of its disabled_plans) and wait_until_processed {id}; or keep the direct {name} for these users (Microsoft's direct-to-group guidance: the group licence must match before the direct one goes)"),
                certainty,
            );
            self.push(f);
        }
    }
}
