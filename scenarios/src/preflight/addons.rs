//! R15: an add-on on a group needs its prerequisite from the same group. The check is the
//! engine's (`Catalog::missing_dependency` over the union of the group's enabled plans after
//! the call, decisions.md 2), so a call it flags is the call the engine rejects.

use super::Certainty;
use super::model::Lic;
use super::walk::Walk;
use engine::catalog::PlanSet;
use engine::prelude::*;

impl Walk<'_> {
    /// R15: whether the group's licences after the call enable a dependent plan without a
    /// prerequisite enabled by the same group (then the call is rejected; a finding says so).
    pub(super) fn r15(
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
            // SKUs with a prerequisite: those the members already hold first, then those the
            // tenant has a subscription for.
            let held = |sku: usize| {
                members
                    .iter()
                    .filter(|u| {
                        self.m
                            .intents(**u)
                            .iter()
                            .any(|((s, _), _)| *s as usize == sku)
                    })
                    .count()
            };
            let mut ranked: Vec<(usize, usize)> = cat
                .skus
                .iter()
                .enumerate()
                .filter(|(i, s)| s.plans.intersects(&pre) && self.m.subs[*i].exists)
                .map(|(i, _)| (i, held(i)))
                .collect();
            ranked.sort_by_key(|(i, n)| (std::cmp::Reverse(*n), *i));
            let mut providers: Vec<&str> = ranked
                .iter()
                .map(|(i, _)| cat.skus[*i].part_number.as_str())
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
}
