//! The plan, step by step, over the projected tenant: what each step does to it, the checks
//! that are not about licences (group deletion, R23; time, `max_duration`), the direct
//! licences the setup could not assign, and the findings in plan order.

use super::model::{GroupModel, Model};
use super::{Certainty, EXAMPLES, Finding};
use crate::describe;
use crate::figures::fmt_duration;
use crate::model::{Action, MemberRef, Scenario, Selector, Step};
use engine::model::State;
use engine::prelude::*;
use engine::rule::Rule;
use std::collections::{BTreeMap, BTreeSet};

/// The step being walked.
#[derive(Clone, Debug)]
pub(super) struct At {
    /// 1-based; `None` for the setup.
    pub step: Option<u32>,
    pub action: String,
    pub stop_on_reject: bool,
}

pub(super) struct Walk<'a> {
    pub m: Model<'a>,
    pub sc: &'a Scenario,
    pub at: At,
    out: Vec<Finding>,
    /// Group steps whose licence disables plans members hold directly, with those members
    /// and the SKU: reported at the end unless a direct removal reported them.
    pub pending: Vec<(Finding, Vec<UserIdx>, SkuIdx)>,
    /// (user, SKU) whose direct licence a step removes while a group gives the SKU.
    pub removed_direct: BTreeSet<(UserIdx, SkuIdx)>,
    /// The plan stops after this step (a certain rejection with on_reject = "stop", or time).
    stop: bool,
    /// Whether `[expect] max_duration` has been reported.
    expect_reported: bool,
}

/// The users a step names, if it targets users.
fn user_targets(a: &Action) -> Option<&Selector> {
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

impl<'a> Walk<'a> {
    pub fn new(sc: &'a Scenario, st: &'a State, populations: &'a [Vec<UserIdx>]) -> Walk<'a> {
        Walk {
            m: Model::new(sc, st, populations),
            sc,
            at: At {
                step: None,
                action: "setup".into(),
                stop_on_reject: false,
            },
            out: Vec::new(),
            pending: Vec::new(),
            removed_direct: BTreeSet::new(),
            stop: false,
            expect_reported: false,
        }
    }

    /// A finding about the current step.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finding(
        &self,
        check: &'static str,
        rule: &str,
        error: &str,
        reason: String,
        users: &[UserIdx],
        fix: String,
        certainty: Certainty,
    ) -> Finding {
        Finding {
            step: self.at.step,
            action: self.at.action.clone(),
            check,
            reason,
            rule: rule.into(),
            error: error.into(),
            users: users.len() as u64,
            examples: self.m.examples(users, EXAMPLES),
            fix,
            certainty,
        }
    }

    pub(super) fn push(&mut self, f: Finding) {
        self.out.push(f);
    }

    /// "step 3", or "the setup".
    pub(super) fn step_text(&self) -> String {
        self.at
            .step
            .map_or("the setup".into(), |n| format!("step {n}"))
    }

    /// Said of a call rejected for certain: with on_reject = "stop", the plan ends here.
    pub(super) fn stop_text(&mut self) -> String {
        if self.at.stop_on_reject && self.at.step.is_some() {
            self.stop = true;
            "; on_reject = \"stop\": the plan stops here".into()
        } else {
            String::new()
        }
    }

    /// The direct licences the file declares (`[[users]]`, `[[populations]]`) that the setup
    /// could not assign: the first `declared` calls of the setup (the faults' come after).
    pub fn setup_direct(
        &mut self,
        calls: &[(UserIdx, Vec<SkuIdx>, Option<Rejection>)],
        declared: u64,
    ) {
        // (error, SKU) -> users
        let mut by: BTreeMap<(CallError, Vec<SkuIdx>), Vec<UserIdx>> = BTreeMap::new();
        for (u, skus, r) in calls.iter().take(declared as usize) {
            if let Some(r) = r {
                let skus = r.sku.map_or_else(|| skus.clone(), |s| vec![s]);
                by.entry((r.error, skus)).or_default().push(*u);
            }
        }
        for ((error, skus), users) in by {
            let sku = skus.first().copied().filter(|_| skus.len() == 1);
            let name = skus
                .iter()
                .map(|s| self.m.cat.sku(*s).part_number.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let n = users.len() as u64;
            let (rule, fix) = match error {
                CallError::License(ErrorKind::CountViolation) => {
                    let sub = sku.map(|s| self.m.subs[s as usize]).unwrap_or_default();
                    let need = sub.assignable() + n;
                    if sub.exists {
                        ("R12", format!("raise {name} in [tenant] subscriptions to at least {need} (it is {})", sub.assignable()))
                    } else {
                        ("R02", format!("add {name} = {need} to [tenant] subscriptions: the tenant has no {name} subscription"))
                    }
                }
                CallError::InvalidUsageLocation => ("R06", "give these users a usage_location: a direct assignment needs the user's own (R06), the tenant default applies only to group licences".to_string()),
                CallError::License(ErrorKind::MutuallyExclusiveViolation) => ("R13", format!("the direct list gives {name} beside a licence it conflicts with: keep one of the two")),
                CallError::License(ErrorKind::DependencyViolation) => ("R14", format!("{name} needs a prerequisite plan: list a licence with it in the same direct list")),
                CallError::License(ErrorKind::ProhibitedInUsageLocationViolation) => ("R17", format!("{name} is not allowed in these users' usage location: change it, or disable the plan")),
                CallError::License(ErrorKind::UniquenessViolation) => ("R18", "these users share a proxy address with another user: make it unique".to_string()),
                _ => ("R05", "check the direct licences of these users".to_string()),
            };
            let f = self.finding(
                "setup_direct_rejected",
                rule,
                error.as_str(),
                format!("rejected ({}): the direct {name} of {} ({n} of the {declared} direct assignments the file declares); they start without it", error.as_str(), super::users(users.len())),
                &users,
                fix,
                Certainty::Certain,
            );
            self.push(f);
        }
    }

    /// The licences of `[[groups]]`, given after every group exists, as the setup does.
    pub fn setup_groups(&mut self) {
        for g in &self.sc.groups {
            if g.licenses.is_empty() {
                continue;
            }
            if let Some(i) = self.m.group(&g.id) {
                self.group_licences(i, &g.licenses, &[]);
            }
        }
    }

    /// Who a step would act on now (for the time check).
    fn step_users(&self, step: &Step) -> Vec<UserIdx> {
        if let Some(sel) = user_targets(&step.action) {
            return self.m.select(sel);
        }
        match &step.action {
            Action::AssignGroupLicense { group, .. } | Action::ReprocessGroup { group } => {
                self.m.group(group).map_or(Vec::new(), |g| {
                    self.m.groups[g].members.iter().copied().collect()
                })
            }
            _ => Vec::new(),
        }
    }

    /// The plan reaches `max_duration` (it needs `need`) before `what`: the users of the cut
    /// waves (`cut_users`) and the steps from index `first_cut` on are never reached.
    fn timed_out(&mut self, first_cut: usize, need: u64, what: String, cut_users: Vec<UserIdx>) {
        self.stop = true;
        let limit = self.sc.max_duration_ms;
        let later = &self.sc.plan[first_cut..];
        let mut users: BTreeSet<UserIdx> = cut_users.into_iter().collect();
        for s in later {
            users.extend(self.step_users(s));
        }
        let users = self.m.by_name(users.into_iter().collect());
        let steps = match later.len() {
            0 => String::new(),
            1 => format!("; step {} never runs", first_cut + 1),
            k => format!("; steps {}-{} never run", first_cut + 1, first_cut + k),
        };
        let f = self.finding(
            "max_duration",
            "max_duration",
            "",
            format!(
                "the plan needs at least {} (its waits and waves) to {what}, and max_duration is {}: the run stops at the limit{steps}",
                fmt_duration(need),
                fmt_duration(limit)
            ),
            &users,
            format!(
                "raise max_duration in [scenario] to at least {} (plus the time processing takes), or use fewer waves (a larger wave_size), a shorter wave_interval or shorter waits",
                fmt_duration(need)
            ),
            Certainty::Certain,
        );
        self.push(f);
    }

    /// Walks the plan.
    pub fn plan(&mut self) {
        let sc = self.sc;
        let limit = sc.max_duration_ms;
        for (i, step) in sc.plan.iter().enumerate() {
            if self.stop {
                return;
            }
            self.at = At {
                step: Some(i as u32 + 1),
                action: describe::step(&sc.catalog, step),
                stop_on_reject: step.stop_on_reject,
            };
            if self.m.time_ms >= limit {
                // The runner starts no step at or after the limit.
                self.timed_out(
                    i,
                    self.m.time_ms,
                    format!("start step {}", i + 1),
                    Vec::new(),
                );
                return;
            }
            self.step(i, step);
            // Membership a rule or an attribute changed: processed on behalf of this step.
            for g in &mut self.m.groups {
                if g.dirty && g.changed_by.is_none() {
                    g.changed_by = Some(self.at.clone());
                }
            }
            self.expect_duration();
        }
    }

    fn step(&mut self, i: usize, step: &Step) {
        let limit = self.sc.max_duration_ms;
        if let Some(sel) = user_targets(&step.action) {
            let mut users = self.m.select(sel);
            let size = step.waves.wave_size.unwrap_or(users.len() as u64).max(1) as usize;
            let waves = users.len().div_ceil(size);
            let interval = step.waves.wave_interval_ms;
            let start = self.m.time_ms;
            let fit = (1..waves)
                .find(|w| start.saturating_add(*w as u64 * interval) > limit)
                .unwrap_or(waves);
            let cut = users.split_off((fit * size).min(users.len()));
            // The first wave now; the groups changed before it are processed while the next
            // waits its interval, so the later waves see them processed.
            let pending = self.m.groups.iter().any(|g| g.dirty);
            let rest = if pending && waves > 1 {
                users.split_off(size.min(users.len()))
            } else {
                Vec::new()
            };
            self.act_on_users(step, &users);
            if !rest.is_empty() {
                self.advance_to(start.saturating_add(interval));
                self.act_on_users(step, &rest);
            }
            if fit < waves {
                let need = start.saturating_add((waves as u64 - 1) * interval);
                self.advance_to(limit);
                let never = if fit + 1 == waves {
                    format!("wave {waves} never starts")
                } else {
                    format!("waves {}-{waves} never start", fit + 1)
                };
                self.timed_out(i + 1, need, format!("run its {waves} waves ({never})"), cut);
                return;
            }
            self.advance_to(start.saturating_add((waves.max(1) as u64 - 1) * interval));
            return;
        }
        match &step.action {
            Action::AssignGroupLicense { group, add, remove } => {
                if let Some(g) = self.m.group(group) {
                    self.group_licences(g, add, remove);
                }
            }
            Action::CreateGroup(spec) => {
                if self.m.group(&spec.id).is_some() {
                    return;
                }
                let mut members = BTreeSet::new();
                for r in &spec.members {
                    if let MemberRef::Users(sel) = r {
                        members.extend(self.m.select(sel));
                    }
                }
                let rule = spec.rule.as_deref().and_then(|r| Rule::parse(r).ok());
                self.m.groups.push(GroupModel {
                    id: spec.id.clone(),
                    alive: true,
                    security_enabled: spec.security_enabled,
                    approximate: false,
                    rule,
                    members: if spec.rule.is_some() {
                        BTreeSet::new()
                    } else {
                        members
                    },
                    licences: Vec::new(),
                    dirty: false,
                    changed_at: None,
                    changed_by: None,
                    added_by: BTreeMap::new(),
                    members_by: None,
                    settled: Vec::new(),
                    settled_members: BTreeSet::new(),
                });
                let g = self.m.groups.len() - 1;
                self.m.evaluate(g);
                if !spec.licenses.is_empty() {
                    self.group_licences(g, &spec.licenses, &[]);
                }
            }
            Action::DeleteGroup { group } => self.delete_group(group),
            Action::SetRule { group, rule } => {
                if let Some(g) = self.m.group(group) {
                    self.m.groups[g].rule = rule.as_deref().and_then(|r| Rule::parse(r).ok());
                    self.m.groups[g].approximate = true;
                    self.m.evaluate(g);
                }
            }
            Action::Purchase { sku, units } => {
                let s = &mut self.m.subs[*sku as usize];
                s.exists = true;
                s.enabled = (s.enabled as i64)
                    .saturating_add(*units)
                    .clamp(0, u32::MAX as i64) as u64;
            }
            Action::SetUnits { sku, units } => {
                let s = &mut self.m.subs[*sku as usize];
                s.exists = true;
                s.enabled = units.enabled as u64;
                s.warning = units.warning as u64;
            }
            Action::Wait { duration_ms } => {
                let t = self.m.time_ms.saturating_add(*duration_ms);
                if t > limit && i + 1 < self.sc.plan.len() {
                    self.advance_to(limit);
                    self.timed_out(i + 1, t, "finish this wait".into(), Vec::new());
                } else {
                    self.advance_to(t.min(limit));
                }
            }
            Action::ReprocessGroup { group } => {
                if let Some(g) = self.m.group(group) {
                    self.process(g);
                    let members = self
                        .m
                        .by_name(self.m.groups[g].members.iter().copied().collect());
                    self.m.retry(&members, Some(Source::Group(g as GroupIdx)));
                }
            }
            Action::WaitUntilProcessed { .. } => {
                // The other groups' workers run meanwhile: everything changed so far is
                // processed by the time the wait ends.
                self.process_all();
            }
            _ => {}
        }
    }

    /// A user-targeted step on the users of the waves that run.
    fn act_on_users(&mut self, step: &Step, users: &[UserIdx]) {
        match &step.action {
            Action::AssignDirect { add, remove, .. } => {
                let users: Vec<UserIdx> = if add.is_empty() {
                    users.to_vec()
                } else {
                    // R06: a direct add needs the user's own usage location (warned about).
                    users
                        .iter()
                        .copied()
                        .filter(|u| self.m.has_location(*u))
                        .collect()
                };
                self.direct_licences(&users, add, remove);
            }
            Action::RemoveDirect { sku, .. } => self.direct_licences(users, &[], &[*sku]),
            Action::AddMembers { group, .. } => {
                if let Some(g) = self.m.group(group)
                    && self.m.groups[g].rule.is_none()
                {
                    self.new_members(g, users);
                }
            }
            Action::RemoveMembers { group, .. } => {
                if let Some(g) = self.m.group(group)
                    && self.m.groups[g].rule.is_none()
                {
                    self.gone_members(g, users);
                }
            }
            Action::ReprocessUser { .. } => self.m.retry(users, None),
            Action::SetUsageLocation { location, .. } => self.m.set_location(users, *location),
            Action::SetProxyAddresses { .. } => self.m.set_proxies(users),
            Action::SetAttribute {
                attribute, value, ..
            } => self.m.set_attribute(users, attribute, value.as_deref()),
            Action::DeleteUser { .. } => self.m.delete_users(users),
            _ => {}
        }
    }

    /// R23: a group with licences, or whose licence removal is still processing, cannot be
    /// deleted.
    fn delete_group(&mut self, id: &str) {
        let Some(g) = self.m.group(id) else { return };
        let grp = &self.m.groups[g];
        let members = self.m.by_name(grp.members.iter().copied().collect());
        if !grp.licences.is_empty() {
            let names: Vec<String> = grp
                .licences
                .iter()
                .map(|(s, _)| self.m.cat.sku(*s).part_number.clone())
                .collect();
            let stop = self.stop_text();
            let f = self.finding(
                "group_has_licenses",
                "R23",
                "GroupHasLicenses",
                format!(
                    "rejected at once (R23): group {id} still has licences at this point of the plan ({}), and a group with licences cannot be deleted; its members keep what it gives them{stop}",
                    names.join(", ")
                ),
                &members,
                format!(
                    "remove its licences first: an assign_group_license step for {id} with remove = [\"{}\"], then wait_until_processed {id}, before this step",
                    names.join("\", \"")
                ),
                Certainty::Certain,
            );
            self.push(f);
            return;
        }
        // Its licences are gone, but its members still hold paths from it until it processes
        // them: the service refuses the deletion meanwhile.
        let busy = grp.dirty && !grp.settled.is_empty() && !grp.settled_members.is_empty();
        if busy {
            let since = grp
                .changed_by
                .as_ref()
                .and_then(|a| a.step)
                .map_or("the setup".into(), |n| format!("step {n}"));
            let holding = self
                .m
                .by_name(grp.settled_members.iter().copied().collect());
            let stop = self.stop_text();
            let f = self.finding(
                "group_processing_in_progress",
                "R23",
                "GroupProcessingInProgress",
                format!(
                    "rejected at once (R23): the removal of group {id}'s licences ({since}) is still being processed, and nothing waits for it before this step{stop}"
                ),
                &holding,
                format!("add a wait_until_processed step for {id} before this step"),
                Certainty::Certain,
            );
            self.push(f);
            return;
        }
        self.m.groups[g].alive = false;
        // Its members' path sets change (R20): their errors are evaluated again.
        self.m.retry(&members, None);
    }

    /// `[expect] max_duration` below the least time of the plan: every run fails it.
    fn expect_duration(&mut self) {
        let Some(e) = self.sc.expect.max_duration_ms else {
            return;
        };
        if self.expect_reported || self.m.time_ms <= e {
            return;
        }
        self.expect_reported = true;
        let f = self.finding(
            "expect_max_duration",
            "expect",
            "",
            format!(
                "by the end of this step the plan has taken at least {} (its waits and waves), and [expect] max_duration is {}: every run fails that expectation",
                fmt_duration(self.m.time_ms),
                fmt_duration(e)
            ),
            &[],
            format!(
                "raise max_duration in [expect] above {} (plus the time processing takes), or shorten the plan's waits and waves",
                fmt_duration(self.m.time_ms)
            ),
            Certainty::Certain,
        );
        self.push(f);
    }

    /// The findings, in plan order (the setup first).
    pub fn finish(mut self) -> Vec<Finding> {
        // The run goes on until every group has processed its members.
        self.at.stop_on_reject = false;
        self.process_all();
        for (mut f, users, sku) in std::mem::take(&mut self.pending) {
            let left: Vec<UserIdx> = users
                .into_iter()
                .filter(|u| !self.removed_direct.contains(&(*u, sku)))
                .collect();
            if left.is_empty() {
                continue;
            }
            f.users = left.len() as u64;
            f.examples = self.m.examples(&left, EXAMPLES);
            self.out.push(f);
        }
        self.out.sort_by_key(|f| f.step.map_or(0, |n| n as u64 + 1));
        self.out
    }
}
