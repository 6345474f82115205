//! What a licence change takes away: a group licence removed while members have nothing else
//! with its services (a gap, R19), and a direct licence removed while the group licence that
//! replaces it enables fewer plans (R04; Microsoft's direct-to-group guidance: check that the
//! group licence matches before removing the direct ones).

use super::Certainty;
use super::model::Lic;
use super::walk::Walk;
use crate::model::Action;
use engine::catalog::PlanSet;
use engine::prelude::*;
use std::collections::BTreeMap;

impl Walk<'_> {
    /// Service families in words: the main ones by name, the rest counted.
    fn services(&self, families: &PlanSet) -> String {
        let cat = self.m.cat;
        let mut names: Vec<&str> = families
            .iter()
            .map(|f| cat.family_name(f))
            .filter(|f| crate::figures::is_main_family(f))
            .collect();
        let others = families.len() - names.len();
        if names.is_empty() {
            names.push("some plans");
        }
        let mut services = names.join(", ");
        if others > 0 && names.len() < families.len() {
            services.push_str(&format!(" and {others} other plans"));
        }
        services
    }

    /// The plans a user would lose if its direct `sku` went away now: those the direct licence
    /// enables and no other licence does (by service family, as loss of service counts).
    fn lost_without_direct(&self, u: UserIdx, sku: SkuIdx) -> PlanSet {
        let intents = self.m.applied(u);
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
    /// with some of its services (`before`: each member's service families before the call):
    /// they lose them from this step on (SPEC 6, loss of service), unless a dependent plan they
    /// keep blocks the removal (R16).
    pub(super) fn service_gap(
        &mut self,
        g: usize,
        members: &[UserIdx],
        before: &[PlanSet],
        removed: &[Lic],
    ) {
        let cat = self.m.cat;
        let removed: Vec<String> = removed
            .iter()
            .map(|(s, _)| self.sku(*s).to_string())
            .collect();
        let mut affected = Vec::new();
        let mut lost = PlanSet::EMPTY;
        for (&u, plans) in members.iter().zip(before) {
            let now = self.m.plans(u);
            let gone = cat.families_of(plans).minus(&cat.families_of(&now));
            if !gone.is_empty() {
                affected.push(u);
                lost.union_with(&gone);
            }
        }
        if affected.is_empty() {
            return;
        }
        let services = self.services(&lost);
        let id = self.m.groups[g].id.clone();
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
        let certainty = if !self.m.groups[g].approximate {
            Certainty::Certain
        } else {
            Certainty::Likely
        };
        let f = self.finding(
            "service_gap",
            "R19",
            "ServiceLost",
            format!(
                "{} of group {id} without {services} from when the group processes them{until}, as nothing else they hold gives them these services (removed: {})",
                super::users(affected.len()),
                removed.join(", ")
            ),
            &affected,
            fix,
            certainty,
        );
        self.push(f);
    }

    /// R16 for a removal driven by group `g` (its licences `removed` from `users`, whose plans
    /// were `before`): a user who keeps a dependent plan whose prerequisites only the removed
    /// licences gave keeps them (ActiveWithError / DependencyViolation, still consuming seats;
    /// the projection keeps them as the direct assignment R23 makes of them when the group
    /// goes).
    pub(super) fn blocked_removals(
        &mut self,
        g: usize,
        users: &[UserIdx],
        before: &[PlanSet],
        removed: &[Lic],
    ) {
        let cat = self.m.cat;
        // (dependent plan, its SKU, a licence meant to give a prerequisite but not applied)
        // -> users
        type Key = (PlanIdx, SkuIdx, Option<(SkuIdx, Source)>);
        let mut by: BTreeMap<Key, Vec<UserIdx>> = BTreeMap::new();
        for (&u, plans) in users.iter().zip(before) {
            let now = self.m.plans(u);
            if cat.missing_dependency(plans, plans).is_some() {
                continue;
            }
            let Some((dep, _)) = cat.missing_dependency(&now, &now) else {
                continue;
            };
            let sku = self
                .m
                .applied(u)
                .into_iter()
                .find(|(l, _)| self.m.enabled(*l).contains(dep))
                .map_or(0, |((s, _), _)| s);
            let pre = cat.prerequisites_of(dep).copied().unwrap_or_default();
            let applied = self.m.applied(u);
            let waiting = self
                .m
                .intents(u)
                .into_iter()
                .find(|(l, src)| {
                    self.m.enabled(*l).intersects(&pre) && !applied.contains(&(*l, *src))
                })
                .map(|((s, _), src)| (s, src));
            by.entry((dep, sku, waiting)).or_default().push(u);
            self.m.set_direct(u, removed, &[]);
        }
        let id = self.m.groups[g].id.clone();
        let names: Vec<&str> = removed.iter().map(|(s, _)| self.sku(*s)).collect();
        let names = names.join(", ");
        for ((dep, sku, waiting), affected) in by {
            let pre = cat.prerequisites_of(dep).copied().unwrap_or_default();
            let pre = self.plans(&pre, " or ");
            let (dep, sku) = (cat.plan(dep).name.clone(), self.sku(sku).to_string());
            let what = if dep == sku {
                dep.clone()
            } else {
                format!("{dep} ({sku})")
            };
            let why = waiting.map_or(String::new(), |(s, src)| {
                format!(
                    " (their {} {} would give it, but it is not applied: see above)",
                    self.sku(s),
                    match src {
                        Source::Direct => "licence".to_string(),
                        Source::Group(h) => format!("from group {}", self.m.groups[h as usize].id),
                    }
                )
            });
            let certainty = if self.m.faults_touch(&affected, None) || self.m.groups[g].approximate
            {
                Certainty::Likely
            } else {
                Certainty::Certain
            };
            let step = self.step_text();
            let f = self.finding(
                "removal_blocked",
                "R16",
                "DependencyViolation",
                format!(
                    "the removal of {names} (group {id}) is blocked for {}: their {what} needs {pre}, and only {names} gives it to them at this point{why}; the path stays ActiveWithError / DependencyViolation and keeps its seat (deleting the group later makes it a direct assignment, R23)",
                    super::users(affected.len())
                ),
                &affected,
                format!(
                    "before {step}, give these users {pre} from a licence that applies (fix the error of the one meant to give it), or remove {sku} from them first"
                ),
                certainty,
            );
            self.push(f);
        }
    }

    /// R04 at a group step: members holding `lic`'s SKU directly with plans the group's licence
    /// disables. Kept until the end: a later removal of the direct licence reports them at
    /// that step (certain), otherwise the group step does (likely).
    pub(super) fn fewer_plans_than_direct(&mut self, lic: Lic, users: &[UserIdx], g: usize) {
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
        // (group, whether its path is predicted in error) -> (users, plans lost)
        let mut by: BTreeMap<(usize, bool), (Vec<UserIdx>, PlanSet)> = BTreeMap::new();
        for &u in users {
            let intents = self.m.intents(u);
            let applied = self.m.applied(u);
            let from_group = |list: &[(Lic, Source)]| {
                list.iter().find_map(|((s, _), src)| match src {
                    Source::Group(g) if *s == sku => Some(*g as usize),
                    _ => None,
                })
            };
            let (g, in_error) = match (from_group(&applied), from_group(&intents)) {
                (Some(g), _) => (g, false),
                (None, Some(g)) => (g, true),
                (None, None) => continue,
            };
            if !intents
                .iter()
                .any(|((s, _), src)| *s == sku && *src == Source::Direct)
            {
                continue;
            }
            let lost = self.lost_without_direct(u, sku);
            self.removed_direct.insert((u, sku));
            if lost.is_empty() {
                continue;
            }
            let e = by.entry((g, in_error)).or_default();
            e.0.push(u);
            e.1.union_with(&lost);
        }
        for ((g, in_error), (affected, lost)) in by {
            let (name, id) = (self.sku(sku).to_string(), self.m.groups[g].id.clone());
            let certainty = if self.m.faults_touch(&affected, None) || self.m.groups[g].approximate
            {
                Certainty::Likely
            } else {
                Certainty::Certain
            };
            let step = self.step_text();
            let f = if in_error {
                let services = self.services(&self.m.cat.families_of(&lost));
                self.finding(
                    "group_path_in_error",
                    "R04",
                    "ServiceLost",
                    format!(
                        "{} without {services} from this step: it removes their direct {name}, and their {name} from group {id} is not applied yet (the group has not processed them, or their path is in error: see above), so nothing else gives it to them",
                        super::users(affected.len())
                    ),
                    &affected,
                    format!("remove direct licences only once the group's path is Active: wait_until_processed {id}, fix its errors (then reprocess_group {id}), and gate all_members_licensed:{id} before {step}"),
                    certainty,
                )
            } else {
                let plans = self.plans(&lost, ", ");
                self.finding(
                    "fewer_plans_than_direct",
                    "R04",
                    "ServiceLost",
                    format!(
                        "{} without {plans} from this step: it removes their direct {name}, and the {name} they keep from group {id} disables {plans} (a user has only what some licence enables)",
                        super::users(affected.len())
                    ),
                    &affected,
                    format!("before {step}, enable {plans} in the {name} of group {id} (take them out of its disabled_plans) and wait_until_processed {id}; or keep the direct {name} for these users (Microsoft's direct-to-group guidance: the group licence must match before the direct one goes)"),
                    certainty,
                )
            };
            self.push(f);
        }
    }
}
