//! Findings: user by user, what failed in a run, where in the plan it started, and what a
//! licensing administrator does about it (SPEC 6, and Microsoft's guidance on resolving group
//! license assignment problems): each path still in error at the end, each rejected call that
//! named a user, and each user still without a service at the end.

use super::RunMetrics;
use crate::model::Scenario;
use engine::catalog::{Catalog, PlanSet, loc_str};
use engine::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// One user's problem and its fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The user's id (as the scenario names it).
    pub user: String,
    /// The SKU's part number (empty when the problem names none).
    pub sku: String,
    /// `direct`, `group <id>`, or `call <input>` for a rejected call.
    pub via: String,
    /// `Error`, `ActiveWithError`, or `Rejected` for a call that changed nothing.
    pub state: String,
    /// Graph's error (`CountViolation`, ...) or the call's error (`InvalidUsageLocation`, ...).
    pub error: String,
    /// The plan position where it started: `setup`, `step 3`, `step 5 wave 2`.
    pub step: String,
    /// What to do, in an administrator's words.
    pub fix: String,
}

/// A rejected input that named a user.
#[derive(Clone, Debug)]
pub(super) struct RejectedCall {
    pub user: UserIdx,
    pub input: &'static str,
    pub rejection: Rejection,
    pub position: u32,
}

/// A user still without some service families at the end, and where the first was lost.
pub(super) struct OpenLoss {
    pub user: UserIdx,
    pub families: Vec<u16>,
    pub position: u32,
}

/// Where a path entered its present state.
pub(super) struct Cause {
    pub position: String,
}

/// The user an input names, if it names exactly one.
pub(super) fn input_user(i: &Input) -> Option<UserIdx> {
    match i {
        Input::DeleteUser { user }
        | Input::SetUsageLocation { user, .. }
        | Input::SetProxyAddresses { user, .. }
        | Input::SetAttribute { user, .. }
        | Input::AssignUserLicense { user, .. }
        | Input::ReprocessUser { user } => Some(*user),
        _ => None,
    }
}

/// Names of plans, joined: "MCOSTANDARD or TEAMS1".
fn plan_names(cat: &Catalog, set: &PlanSet, sep: &str) -> String {
    set.iter()
        .map(|p| cat.plan(p).name.as_str())
        .collect::<Vec<_>>()
        .join(sep)
}

/// What the fix of each problem needs to read.
struct Ctx<'a> {
    cat: &'a Catalog,
    st: &'a engine::model::State,
    sc: &'a Scenario,
    m: &'a RunMetrics,
    /// Address -> users holding it, built on the first UniquenessViolation.
    addresses: Option<BTreeMap<String, Vec<UserIdx>>>,
}

impl Ctx<'_> {
    fn via(&self, source: Source) -> String {
        match source {
            Source::Direct => "direct".into(),
            Source::Group(g) => format!("group {}", self.st.groups[g as usize].name),
        }
    }

    fn sku(&self, s: SkuIdx) -> &str {
        &self.cat.sku(s).part_number
    }

    /// After the fix, the group's paths must be evaluated again (R21 does not retry them).
    fn then(&self, source: Source) -> String {
        match source {
            Source::Group(g) => format!(
                "; then reprocess the user (or group {})",
                self.st.groups[g as usize].name
            ),
            Source::Direct => String::new(),
        }
    }

    fn addresses_of(&self, u: &engine::model::User) -> Vec<String> {
        if u.proxy_addresses.is_empty() {
            vec![format!("{}@{}", u.name, self.sc.tenant.domain).to_lowercase()]
        } else {
            u.proxy_addresses.to_vec()
        }
    }

    fn shared_address(&mut self, user: UserIdx) -> Option<(String, String)> {
        if self.addresses.is_none() {
            let mut map: BTreeMap<String, Vec<UserIdx>> = BTreeMap::new();
            for (i, u) in self.st.users.iter().enumerate() {
                if u.alive {
                    for a in self.addresses_of(u) {
                        map.entry(a).or_default().push(i as UserIdx);
                    }
                }
            }
            self.addresses = Some(map);
        }
        let map = self.addresses.as_ref()?;
        let own = self.addresses_of(&self.st.users[user as usize]);
        own.into_iter().find_map(|a| {
            let other = map.get(&a)?.iter().find(|o| **o != user)?;
            Some((a, self.st.users[*other as usize].name.to_string()))
        })
    }

    /// The plans a user has enabled through SKUs other than `sku`, with where each comes from.
    fn other_plans(&self, user: UserIdx, sku: SkuIdx) -> Vec<(SkuIdx, Source, PlanSet)> {
        self.st.users[user as usize]
            .paths
            .iter()
            .filter(|p| p.sku != sku && p.state.applied())
            .map(|p| {
                (
                    p.sku,
                    p.source,
                    self.st.enabled(self.cat, p.sku, p.disabled),
                )
            })
            .collect()
    }

    fn location_text(&self, u: &engine::model::User) -> String {
        match (u.usage_location, self.sc.tenant.default_usage_location) {
            (Some(l), _) => format!("the user's usage location {}", loc_str(l)),
            (None, Some(d)) => format!(
                "the tenant's default usage location {} (the user has none)",
                loc_str(d)
            ),
            (None, None) => "no usage location".into(),
        }
    }

    /// The fix of a path in error at the end.
    fn path_fix(&mut self, user: UserIdx, p: &engine::model::Path) -> String {
        let u = &self.st.users[user as usize];
        let name = self.sku(p.sku).to_string();
        let plans = self.st.enabled(self.cat, p.sku, p.disabled);
        let then = self.then(p.source);
        match (p.state, p.error) {
            (PathState::ActiveWithError, _) => {
                // R16: a removal blocked because another plan depends on this path's plans.
                let dependents: Vec<String> = self
                    .cat
                    .dependencies
                    .iter()
                    .filter(|d| d.prerequisites.intersects(&plans))
                    .filter_map(|d| {
                        self.other_plans(user, p.sku)
                            .into_iter()
                            .find(|(_, _, set)| set.contains(d.dependent))
                            .map(|(s, src, _)| {
                                format!(
                                    "{} of {} ({})",
                                    self.cat.plan(d.dependent).name,
                                    self.sku(s),
                                    self.via(src)
                                )
                            })
                    })
                    .collect();
                let what = if dependents.is_empty() {
                    "another plan".to_string()
                } else {
                    dependents.join(", ")
                };
                format!(
                    "the removal of {name} ({}) is blocked: {what} needs a plan only {name} provides; remove that licence first (or give the user another licence with the prerequisite), then reprocess the user",
                    self.via(p.source)
                )
            }
            (_, ErrorKind::CountViolation) => {
                let short = self.m.consumption.get(&name).map_or(0, |c| c.shortfall);
                format!(
                    "not enough {name} licences: buy at least {} more (or free some){then}",
                    short.max(1)
                )
            }
            (_, ErrorKind::MutuallyExclusiveViolation) => {
                let others = self.other_plans(user, p.sku);
                let mut all = PlanSet::default();
                for (_, _, s) in &others {
                    all.union_with(s);
                }
                match self.cat.exclusive_conflict(&plans, &all) {
                    Some((x, y)) => {
                        let (s, src, _) = others
                            .iter()
                            .find(|(_, _, set)| set.contains(y))
                            .copied()
                            .unwrap_or((p.sku, Source::Direct, PlanSet::default()));
                        format!(
                            "{} in {name} conflicts with {} in {} ({}): remove {} in the same change that adds {name} (one assignLicense call, or one group licence change), or disable one of the two plans{then}",
                            self.cat.plan(x).name,
                            self.cat.plan(y).name,
                            self.sku(s),
                            self.via(src),
                            self.sku(s)
                        )
                    }
                    None => format!(
                        "{name} conflicted with another licence when it was processed; that licence is gone now{then}"
                    ),
                }
            }
            (_, ErrorKind::DependencyViolation) => {
                let mut enabled = self.st.user_plans(self.cat, user);
                enabled.union_with(&plans);
                match self.cat.missing_dependency(&plans, &enabled) {
                    Some((dep, _)) => {
                        let pre = self
                            .cat
                            .prerequisites_of(dep)
                            .map(|s| plan_names(self.cat, s, " or "))
                            .unwrap_or_default();
                        format!(
                            "{} in {name} needs {pre} enabled: add a licence that includes it to the same group (or assign it to the user first), or disable {}{then}",
                            self.cat.plan(dep).name,
                            self.cat.plan(dep).name
                        )
                    }
                    None => format!("{name}'s prerequisite is there now{then}"),
                }
            }
            (_, ErrorKind::ProhibitedInUsageLocationViolation) => {
                // R10: the user's usage location, else the tenant's default.
                let loc = u.usage_location.or(self.sc.tenant.default_usage_location);
                let plan = self
                    .cat
                    .prohibited_in(&plans, loc)
                    .map_or("a plan".to_string(), |x| self.cat.plan(x).name.clone());
                if plan == name {
                    // A SKU of one plan (Calling Plan): disabling it leaves nothing to assign.
                    format!(
                        "{} does not allow {name}: set the user's usageLocation to a country where it is offered, or do not give {name} to this user{then}",
                        self.location_text(u)
                    )
                } else {
                    format!(
                        "{} does not allow {plan} of {name}: set the user's usageLocation to a country where it is offered, or disable {plan} in the licence{then}",
                        self.location_text(u)
                    )
                }
            }
            (_, ErrorKind::UniquenessViolation) => match self.shared_address(user) {
                Some((a, other)) => format!(
                    "the proxy address {a} is also held by user {other}: remove it from one of the two (proxyAddresses){then}"
                ),
                None => format!(
                    "a proxy address of the user was held by another user; it is unique now{then}"
                ),
            },
            (_, ErrorKind::Other) => {
                let sibling = u
                    .paths
                    .iter()
                    .find(|q| {
                        q.source == p.source
                            && q.sku != p.sku
                            && q.error != ErrorKind::Other
                            && q.state != PathState::Active
                    })
                    .map(|q| format!("{} ({})", self.sku(q.sku), q.error.as_str()));
                match sibling {
                    Some(s) => format!(
                        "another licence of {} failed for this user: {s}; a group's licences apply together (all or nothing): fix that error{then}",
                        self.via(p.source)
                    ),
                    None => format!(
                        "another licence of {} failed for this user{then}",
                        self.via(p.source)
                    ),
                }
            }
            (_, ErrorKind::None) => format!("reprocess the user{then}"),
        }
    }

    /// The fix of a rejected call.
    fn call_fix(&self, r: &Rejection) -> String {
        let sku = r.sku.map(|s| self.sku(s).to_string());
        let sku = sku.as_deref().unwrap_or("the licence");
        let plans = PlanSet::from_plans(r.plans.iter().copied());
        match r.error {
            CallError::InvalidUsageLocation => {
                "set the user's usageLocation before assigning a licence directly (direct assignment does not use the tenant default)".into()
            }
            CallError::InheritedLicenseCannotBeRemoved => format!(
                "{sku} comes only from a group: remove the user from the group, or the licence from the group"
            ),
            CallError::LicenseNotAssigned => format!(
                "the user does not hold {sku} directly: drop the user from this step (or check the order of the steps)"
            ),
            CallError::UnknownUser => {
                "the user does not exist (deleted earlier in the plan): drop it from this step".into()
            }
            CallError::License(ErrorKind::CountViolation) => {
                format!("not enough {sku} licences: buy more (or free some) before this step")
            }
            CallError::License(ErrorKind::MutuallyExclusiveViolation) => format!(
                "{sku} conflicts with a licence the user holds ({}): remove that licence in the same assignLicense call",
                plan_names(self.cat, &plans, ", ")
            ),
            CallError::License(ErrorKind::DependencyViolation) => format!(
                "a plan depends on another ({}): assign the prerequisite first or in the same call; to remove it, remove the dependent licence first",
                plan_names(self.cat, &plans, ", ")
            ),
            CallError::License(ErrorKind::ProhibitedInUsageLocationViolation) => format!(
                "the user's usage location does not allow {}: set a usage location where it is offered, or disable the plan",
                plan_names(self.cat, &plans, ", ")
            ),
            CallError::License(ErrorKind::UniquenessViolation) => {
                "a proxy address of the user is also held by another user: make it unique".into()
            }
            e => format!("the call was rejected ({}): check the step", e.as_str()),
        }
    }
}

/// Every path in error at the end of the run, then every rejected call, by user.
pub(super) fn findings(
    sim: &Sim,
    sc: &Scenario,
    m: &RunMetrics,
    cause: &dyn Fn(UserIdx, SkuIdx, Source) -> Option<Cause>,
    rejected: &[RejectedCall],
    lost: &[OpenLoss],
    positions: &[String],
) -> Vec<Finding> {
    let st = sim.state();
    let mut ctx = Ctx {
        cat: sim.catalog(),
        st,
        sc,
        m,
        addresses: None,
    };
    let mut out = Vec::new();
    for &u in &m.users_in_error {
        let user = &st.users[u as usize];
        for p in user.paths.iter().filter(|p| p.state != PathState::Active) {
            out.push(Finding {
                user: user.name.to_string(),
                sku: ctx.sku(p.sku).to_string(),
                via: ctx.via(p.source),
                state: p.state.as_str().to_string(),
                error: p.error.as_str().to_string(),
                step: cause(u, p.sku, p.source).map_or_else(String::new, |c| c.position),
                fix: ctx.path_fix(u, p),
            });
        }
    }
    for r in rejected {
        let name = st
            .users
            .get(r.user as usize)
            .map_or_else(|| format!("#{}", r.user), |u| u.name.to_string());
        out.push(Finding {
            user: name,
            sku: r
                .rejection
                .sku
                .map_or_else(String::new, |s| ctx.sku(s).to_string()),
            via: format!("call {}", r.input),
            state: "Rejected".into(),
            error: r.rejection.error.as_str().to_string(),
            step: positions[r.position as usize].clone(),
            fix: ctx.call_fix(&r.rejection),
        });
    }
    for l in lost {
        let Some(user) = st.users.get(l.user as usize) else {
            continue;
        };
        let cat = ctx.cat;
        let mut names: Vec<&str> = l
            .families
            .iter()
            .map(|f| cat.family_name(*f))
            .filter(|f| crate::figures::is_main_family(f))
            .collect();
        let others = l.families.len() - names.len();
        if names.is_empty() {
            names.push("some plans");
        }
        let mut services = names.join(", ");
        if others > 0 && names.len() < l.families.len() {
            services.push_str(&format!(" and {others} other plans"));
        }
        let holds_any = user.paths.iter().any(|p| p.state.applied());
        out.push(Finding {
            user: user.name.to_string(),
            sku: String::new(),
            via: String::new(),
            state: "ServiceLost".into(),
            error: services.clone(),
            step: positions[l.position as usize].clone(),
            fix: format!(
                "the user lost {services} and has not got {} back{}: give the user a licence that includes them before the old one is removed (or add and remove in one assignLicense call, which swaps without a gap)",
                if l.families.len() == 1 { "it" } else { "them" },
                if holds_any { "" } else { " (no licence at all now)" }
            ),
        });
    }
    out.sort_by(|a, b| (&a.user, &a.sku, &a.via).cmp(&(&b.user, &b.sku, &b.via)));
    out
}
