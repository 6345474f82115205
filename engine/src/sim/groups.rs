//! Groups and membership: static groups, dynamic groups (R26), on-premises groups whose
//! changes wait for the directory sync (R27), and group deletion (R23). A membership change
//! queues the user on the group's worker (SPEC 3) when licences are involved.

use super::{ALL_USERS, Core, Job, Sim, live_group};
use crate::event::*;
use crate::model::*;
use crate::rule::Rule;
use crate::rules;
use crate::sim::{Environment, OnGroupDelete};
use crate::{GroupIdx, UserIdx};
use std::collections::{BTreeSet, VecDeque};

/// Limits that keep a bad log or scenario from exhausting memory.
pub const MAX_GROUPS: usize = 10_000_000;

/// Which groups have a rule (R26) and whether a directory sync is due (R27).
#[derive(Default)]
pub(super) struct Membership {
    /// Live groups with a membership rule, so that a new user or an attribute change visits
    /// these and not every group.
    dynamic: BTreeSet<GroupIdx>,
    /// Whether a sync cycle is on the agenda.
    sync_scheduled: bool,
}

impl Membership {
    /// Creates a group (the caller announces it and adds its members). A rule that does not
    /// parse is rejected (`InvalidRule`), as is a member that does not exist.
    fn create(
        &mut self,
        st: &mut State,
        name: &str,
        security_enabled: bool,
        source: GroupSource,
        rule: Option<&str>,
        members: &[Member],
    ) -> Result<GroupIdx, Rejection> {
        if name.is_empty() || name.len() > 256 || st.groups.len() >= MAX_GROUPS {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        if st.group(name).is_some() {
            return Err(Rejection::new(CallError::DuplicateName));
        }
        let rule = match rule {
            Some(text) => {
                Some(Rule::parse(text).map_err(|_| Rejection::new(CallError::InvalidRule))?)
            }
            None => None,
        };
        for m in members {
            check_member(st, *m)?;
        }
        let g = st.groups.len() as GroupIdx;
        let dynamic = rule.is_some();
        st.groups.push(Group {
            name: name.to_string(),
            security_enabled,
            source,
            rule,
            members: BTreeSet::new(),
            member_groups: BTreeSet::new(),
            licenses: Vec::new(),
            state: ProcessingState::ProcessingComplete,
            alive: true,
            queue: VecDeque::new(),
            queued: Default::default(),
            busy: None,
            wake_scheduled: false,
            pending_sync: Vec::new(),
            pending_dynamic: 0,
            path_count: 0,
            run_succeeded: 0,
            run_failed: 0,
        });
        let groups = &st.groups;
        st.group_index
            .insert(name, g, |i| groups[i as usize].name.as_str());
        if dynamic {
            self.dynamic.insert(g);
        }
        Ok(g)
    }

    /// Changes membership and emits the outcome; returns whether anything changed.
    fn change(st: &mut State, core: &mut Core, g: GroupIdx, m: Member, add: bool) -> bool {
        let changed = match m {
            Member::User(u) => {
                if !st.users[u as usize].alive {
                    return false;
                }
                let grp = &mut st.groups[g as usize];
                let c = if add {
                    grp.members.insert(u)
                } else {
                    grp.members.remove(&u)
                };
                if c {
                    let ug = &mut st.users[u as usize].groups;
                    match ug.binary_search(&g) {
                        Ok(i) if !add => {
                            ug.remove(i);
                        }
                        Err(i) if add => ug.insert(i, g),
                        _ => {}
                    }
                }
                c
            }
            Member::Group(h) => {
                if !st.groups[h as usize].alive && add {
                    return false;
                }
                let grp = &mut st.groups[g as usize];
                if add {
                    grp.member_groups.insert(h)
                } else {
                    grp.member_groups.remove(&h)
                }
            }
        };
        if changed {
            core.emit(Outcome::Membership {
                group: g,
                member: m,
                added: add,
            });
        }
        changed
    }

    /// A deleted user leaves every group it was a member of (R20).
    pub(super) fn leave_all(st: &mut State, core: &mut Core, u: UserIdx) {
        let groups = std::mem::take(&mut st.users[u as usize].groups);
        for g in groups {
            st.groups[g as usize].members.remove(&u);
            core.emit(Outcome::Membership {
                group: g,
                member: Member::User(u),
                added: false,
            });
        }
    }

    /// A deleted group loses its members and leaves the groups it was a member of.
    fn empty(st: &mut State, core: &mut Core, g: GroupIdx) {
        let grp = &st.groups[g as usize];
        let members: Vec<UserIdx> = grp.members.iter().copied().collect();
        let member_groups: Vec<GroupIdx> = grp.member_groups.iter().copied().collect();
        for u in members {
            Membership::change(st, core, g, Member::User(u), false);
        }
        for h in member_groups {
            Membership::change(st, core, g, Member::Group(h), false);
        }
        for h in 0..st.groups.len() {
            if st.groups[h].member_groups.remove(&g) {
                core.emit(Outcome::Membership {
                    group: h as GroupIdx,
                    member: Member::Group(g),
                    added: false,
                });
            }
        }
    }

    /// R26: an evaluation of group `g`'s rule for user `u` (or [`ALL_USERS`]) after the delay.
    fn schedule_dynamic(
        st: &mut State,
        core: &mut Core,
        env: &Environment,
        g: GroupIdx,
        u: UserIdx,
    ) {
        st.groups[g as usize].pending_dynamic += 1;
        let at = core.now + env.dynamic_evaluation_delay_ms;
        core.schedule(at, Job::DynEval(g, u));
    }

    /// R26: a new user is evaluated by every dynamic group.
    pub(super) fn schedule_new_user(
        &self,
        st: &mut State,
        core: &mut Core,
        env: &Environment,
        u: UserIdx,
    ) {
        for &g in &self.dynamic {
            Membership::schedule_dynamic(st, core, env, g, u);
        }
    }

    /// R26: an attribute change is evaluated by every dynamic group whose rule reads it.
    pub(super) fn schedule_attribute_change(
        &self,
        st: &mut State,
        core: &mut Core,
        env: &Environment,
        key: &str,
        u: UserIdx,
    ) {
        let key = key.to_ascii_lowercase();
        for &g in &self.dynamic {
            let reads = st.groups[g as usize]
                .rule
                .as_ref()
                .is_some_and(|r| r.attributes.binary_search(&key).is_ok());
            if reads {
                Membership::schedule_dynamic(st, core, env, g, u);
            }
        }
    }

    /// R27: the first sync tick strictly after now (`sync_phase + k * sync_interval`).
    fn schedule_sync(&mut self, core: &mut Core, env: &Environment) {
        if self.sync_scheduled {
            return;
        }
        let (i, p) = (env.sync_interval_ms, env.sync_phase_ms);
        let now = core.now;
        let at = if i == 0 {
            now
        } else if now < p {
            p
        } else {
            p + ((now - p) / i + 1) * i
        };
        self.sync_scheduled = true;
        core.schedule(at, Job::Sync);
    }
}

/// A member to add or remove exists (`UnknownUser`, `UnknownGroup`).
fn check_member(st: &State, m: Member) -> Result<(), Rejection> {
    match m {
        Member::User(u) => st
            .live_user(u)
            .map(|_| ())
            .ok_or(Rejection::new(CallError::UnknownUser)),
        Member::Group(h) => live_group(st, h).map(|_| ()),
    }
}

/// Coordination of group inputs and jobs across the parts.
impl Sim {
    pub(super) fn create_group(
        &mut self,
        name: &str,
        security_enabled: bool,
        source: GroupSource,
        rule: Option<&str>,
        members: &[Member],
        evaluate_now: bool,
    ) -> Result<(), Rejection> {
        let (st, core) = (&mut self.state, &mut self.core);
        let g = self
            .membership
            .create(st, name, security_enabled, source, rule, members)?;
        core.emit(Outcome::GroupCreated { group: g });
        if st.groups[g as usize].rule.is_some() {
            if evaluate_now {
                self.dynamic_eval_now(g, ALL_USERS);
            } else {
                Membership::schedule_dynamic(st, core, &self.config.environment, g, ALL_USERS);
            }
        } else {
            for m in members {
                self.apply_membership(g, *m, true);
            }
        }
        Ok(())
    }

    /// Deletes a group without licences and not processing (R23); the paths it still gives
    /// (`ActiveWithError`, a blocked removal) are converted to direct ones or kept.
    pub(super) fn delete_group(&mut self, g: GroupIdx) -> Result<(), Rejection> {
        let grp = live_group(&self.state, g)?;
        if !grp.licenses.is_empty() {
            return Err(Rejection::new(CallError::GroupHasLicenses));
        }
        if grp.busy() || grp.busy.is_some() {
            return Err(Rejection::new(CallError::GroupProcessingInProgress));
        }
        Membership::empty(&mut self.state, &mut self.core, g);
        if self.state.groups[g as usize].path_count > 0
            && self.config.tenant.on_group_delete == OnGroupDelete::ConvertToDirect
        {
            let holders: Vec<UserIdx> = (0..self.state.users.len() as UserIdx)
                .filter(|u| {
                    self.state.users[*u as usize]
                        .paths
                        .iter()
                        .any(|p| p.source == Source::Group(g))
                })
                .collect();
            for u in holders {
                let snap = self.begin(u);
                self.decide(u, |t, s, d| rules::convert_to_direct(t, s, g, d));
                self.write_decision(u);
                self.finish(u, snap);
            }
        }
        let st = &mut self.state;
        st.groups[g as usize].alive = false;
        self.membership.dynamic.remove(&g);
        let groups = &st.groups;
        st.group_index.remove(&groups[g as usize].name, |i| {
            groups[i as usize].name.as_str()
        });
        self.core.emit(Outcome::GroupDeleted { group: g });
        Ok(())
    }

    pub(super) fn set_rule(&mut self, g: GroupIdx, rule: Option<&str>) -> Result<(), Rejection> {
        live_group(&self.state, g)?;
        let parsed = match rule {
            Some(t) => Some(Rule::parse(t).map_err(|_| Rejection::new(CallError::InvalidRule))?),
            None => None,
        };
        let grp = &mut self.state.groups[g as usize];
        let was_dynamic = grp.rule.is_some();
        let now_dynamic = parsed.is_some();
        grp.rule = parsed;
        if now_dynamic {
            self.membership.dynamic.insert(g);
        } else {
            self.membership.dynamic.remove(&g);
        }
        if now_dynamic {
            if !was_dynamic {
                // R26: turning a static group dynamic first removes every member.
                for u in self.state.members_in_name_order(g) {
                    self.apply_membership(g, Member::User(u), false);
                }
            }
            let env = &self.config.environment;
            Membership::schedule_dynamic(&mut self.state, &mut self.core, env, g, ALL_USERS);
        }
        Ok(())
    }

    pub(super) fn change_members(
        &mut self,
        g: GroupIdx,
        members: &[Member],
        add: bool,
    ) -> Result<(), Rejection> {
        let grp = live_group(&self.state, g)?;
        if grp.rule.is_some() {
            return Err(Rejection::new(CallError::DynamicGroupMembership));
        }
        let on_prem = grp.source == GroupSource::OnPremises;
        for m in members {
            check_member(&self.state, *m)?;
            if *m == Member::Group(g) {
                return Err(Rejection::new(CallError::InvalidValue));
            }
        }
        // Users in byte-wise id order (SPEC 10), then groups.
        let mut ordered: Vec<Member> = members.to_vec();
        ordered.sort_by(|a, b| match (a, b) {
            (Member::User(x), Member::User(y)) => self.state.users[*x as usize]
                .name
                .cmp(&self.state.users[*y as usize].name),
            _ => a.cmp(b),
        });
        ordered.dedup();
        if on_prem {
            let pending = &mut self.state.groups[g as usize].pending_sync;
            pending.extend(ordered.into_iter().map(|m| (m, add)));
            self.membership
                .schedule_sync(&mut self.core, &self.config.environment);
        } else {
            for m in ordered {
                self.apply_membership(g, m, add);
            }
        }
        Ok(())
    }

    /// Changes membership and queues the user on the group's worker when licences are
    /// involved (the group has some, or the user holds a path from it).
    fn apply_membership(&mut self, g: GroupIdx, m: Member, add: bool) {
        let st = &mut self.state;
        if Membership::change(st, &mut self.core, g, m, add)
            && let Member::User(u) = m
        {
            let needs = !st.groups[g as usize].licenses.is_empty()
                || st.users[u as usize]
                    .paths
                    .iter()
                    .any(|p| p.source == Source::Group(g));
            if needs {
                self.enqueue(g, u, false);
            }
        }
    }

    /// The job of a scheduled dynamic evaluation.
    pub(super) fn dynamic_eval(&mut self, g: GroupIdx, u: UserIdx) {
        let grp = &mut self.state.groups[g as usize];
        grp.pending_dynamic = grp.pending_dynamic.saturating_sub(1);
        self.dynamic_eval_now(g, u);
    }

    /// R26: membership follows the rule: users who match join, users who no longer match leave.
    fn dynamic_eval_now(&mut self, g: GroupIdx, target: UserIdx) {
        let grp = &self.state.groups[g as usize];
        if !grp.alive {
            return;
        }
        let Some(rule) = grp.rule.clone() else {
            return;
        };
        let users: Vec<UserIdx> = if target == ALL_USERS {
            self.state.live_users_in_name_order()
        } else {
            vec![target]
        };
        for u in users {
            let st = &self.state;
            let user = &st.users[u as usize];
            if !user.alive {
                continue;
            }
            let get = |k: &str| st.attribute(user, k);
            let matches = rule.matches(&get);
            let member = st.groups[g as usize].members.contains(&u);
            if matches != member {
                self.apply_membership(g, Member::User(u), matches);
            }
        }
    }

    /// A directory sync cycle: pending on-premises membership changes take effect (R27).
    pub(super) fn sync(&mut self) {
        self.membership.sync_scheduled = false;
        for g in 0..self.state.groups.len() as GroupIdx {
            if self.state.groups[g as usize].pending_sync.is_empty() {
                continue;
            }
            let changes = std::mem::take(&mut self.state.groups[g as usize].pending_sync);
            if !self.state.groups[g as usize].alive {
                continue;
            }
            for (m, add) in changes {
                self.apply_membership(g, m, add);
            }
        }
    }
}
