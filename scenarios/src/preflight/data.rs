//! What the users' own data does to a new licence: a usage location where one of its plans is
//! not allowed (R17; for group licences the tenant's default stands in for a missing one,
//! R10) and a proxy address another user also holds, for a licence with a mailbox (R18). The
//! users come from the tenant of run 0, faults included, so fault-made problems are `likely`
//! with run 0's numbers.

use super::Certainty;
use super::errors::Fail;
use super::licences::Via;
use super::model::Lic;
use super::walk::Walk;
use engine::catalog::loc_str;
use engine::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

impl Walk<'_> {
    /// R17 and R18 for `users` newly given the licences `added` through `via`. Returns the
    /// users for whom the change fails (a group's licences apply together, R11; a direct call
    /// is rejected as a whole, R05).
    pub(super) fn user_data(
        &mut self,
        added: &[Lic],
        users: &[UserIdx],
        via: Via,
    ) -> BTreeSet<UserIdx> {
        let cat = self.m.cat;
        let default = self.sc.tenant.default_usage_location;
        let mut failing = BTreeSet::new();
        for lic in added {
            let plans = self.m.enabled(*lic);
            // (plan, location, from the tenant default) -> users
            let mut prohibited: BTreeMap<(PlanIdx, Loc, bool), Vec<UserIdx>> = BTreeMap::new();
            let mut shared = Vec::new();
            for &u in users {
                let own = self.m.location(u);
                let loc = match via {
                    Via::Group(_) => own.or(default),
                    Via::Direct => own,
                };
                if let Some(p) = cat.prohibited_in(&plans, loc)
                    && let Some(l) = loc
                {
                    prohibited.entry((p, l, own.is_none())).or_default().push(u);
                } else if plans.intersects(&cat.mailbox) && self.m.proxy_shared(u) {
                    shared.push(u);
                }
            }
            let siblings: Vec<SkuIdx> = added
                .iter()
                .map(|(s, _)| *s)
                .filter(|s| *s != lic.0)
                .collect();
            let name = self.sku(lic.0).to_string();
            for ((p, l, defaulted), who) in prohibited {
                self.mark(&who, lic.0, via, &siblings, Fail::Location);
                failing.extend(who.iter().copied());
                let plan = cat.plan(p).name.clone();
                let loc = loc_str(l);
                let whose = if defaulted {
                    format!("without a usage location, so the tenant's default {loc} applies (R10)")
                } else {
                    format!("with usage location {loc}")
                };
                let f = self.data_finding(
                    &who,
                    via,
                    lic.0,
                    &siblings,
                    "prohibited_location",
                    "R17",
                    "ProhibitedInUsageLocationViolation",
                    format!(
                        "{whose}, where {} is not allowed",
                        if plan == name {
                            plan.clone()
                        } else {
                            format!("{plan} (in {name})")
                        }
                    ),
                    format!(
                        "set their usageLocation to a country where {plan} is offered (set_usage_location), or {}{}",
                        if plan == name {
                            format!("do not give them {name}")
                        } else {
                            format!("disable {plan} in {name}")
                        },
                        self.then(via)
                    ),
                );
                self.push(f);
            }
            if !shared.is_empty() {
                self.mark(&shared, lic.0, via, &siblings, Fail::Proxy);
                failing.extend(shared.iter().copied());
                let mailbox = self.plans(&plans.intersect(&cat.mailbox), ", ");
                let f = self.data_finding(
                    &shared,
                    via,
                    lic.0,
                    &siblings,
                    "shared_proxy_address",
                    "R18",
                    "UniquenessViolation",
                    format!("with a proxy address another user also holds, and {name} gives them a mailbox ({mailbox}): \"Proxy address is already being used\""),
                    format!(
                        "make their proxy addresses unique (set_proxy_addresses; licsim run's findings name who shares with whom){}",
                        self.then(via)
                    ),
                );
                self.push(f);
            }
        }
        failing
    }

    /// "; then reprocess_group g" for a group path (R21 does not retry these errors).
    fn then(&self, via: Via) -> String {
        match via {
            Via::Group(g) => format!(
                ", before this step or followed by reprocess_group {} (fixing the data retries nothing, R21)",
                self.m.groups[g].id
            ),
            Via::Direct => " before this step".into(),
        }
    }

    /// Predicts the group paths in error (a direct call is rejected: nothing to keep).
    fn mark(&mut self, users: &[UserIdx], sku: SkuIdx, via: Via, siblings: &[SkuIdx], why: Fail) {
        if let Via::Group(g) = via {
            let src = Source::Group(g as GroupIdx);
            for u in users {
                self.m.fail(*u, sku, src, why);
                for s in siblings {
                    self.m.fail(*u, *s, src, Fail::Other);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn data_finding(
        &self,
        users: &[UserIdx],
        via: Via,
        sku: SkuIdx,
        siblings: &[SkuIdx],
        check: &'static str,
        rule: &str,
        error: &str,
        what: String,
        fix: String,
    ) -> super::Finding {
        let certainty = if self.m.faults_touch(users, None)
            || matches!(via, Via::Group(g) if self.m.groups[g].approximate)
        {
            Certainty::Likely
        } else {
            Certainty::Certain
        };
        let about = if certainty == Certainty::Likely {
            "about "
        } else {
            ""
        };
        let fails = match via {
            Via::Group(g) => format!(
                "their {} from group {} fails with {error}{}",
                self.sku(sku),
                self.m.groups[g].id,
                self.r11(g, siblings)
            ),
            Via::Direct => format!("their assignLicense call is rejected with {error}"),
        };
        self.finding(
            check,
            rule,
            error,
            format!("{about}{} {what}: {fails}", super::users(users.len())),
            users,
            fix,
            certainty,
        )
    }
}
