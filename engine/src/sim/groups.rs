//! Groups and membership: static groups, dynamic groups (R26), on-premises groups whose changes
//! wait for the directory sync (R27), and group deletion (R23).

use super::{ALL_USERS, Job, Sim};
use crate::event::*;
use crate::model::*;
use crate::rule::Rule;
use crate::rules;
use crate::sim::OnGroupDelete;
use crate::{GroupIdx, UserIdx};
use std::collections::{BTreeSet, VecDeque};

/// Limits that keep a bad log or scenario from exhausting memory.
pub const MAX_GROUPS: usize = 10_000_000;

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
        if name.is_empty() || name.len() > 256 || self.state.groups.len() >= MAX_GROUPS {
            return Err(Rejection::new(CallError::InvalidValue));
        }
        if self.state.group(name).is_some() {
            return Err(Rejection::new(CallError::DuplicateName));
        }
        let rule = match rule {
            Some(text) => {
                Some(Rule::parse(text).map_err(|_| Rejection::new(CallError::InvalidRule))?)
            }
            None => None,
        };
        for m in members {
            self.check_member(*m)?;
        }
        let g = self.state.groups.len() as GroupIdx;
        let dynamic = rule.is_some();
        self.state.groups.push(Group {
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
        let groups = &self.state.groups;
        self.state
            .group_index
            .insert(name, g, |i| groups[i as usize].name.as_str());
        self.emit(Outcome::GroupCreated { group: g });
        if dynamic {
            self.state.dynamic_groups.insert(g);
            if evaluate_now {
                self.dynamic_eval_now(g, ALL_USERS);
            } else {
                self.schedule_dynamic(g, ALL_USERS);
            }
        } else {
            for m in members {
                self.apply_membership(g, *m, true);
            }
        }
        Ok(())
    }

    pub(super) fn check_member(&self, m: Member) -> Result<(), Rejection> {
        match m {
            Member::User(u) => self
                .state
                .live_user(u)
                .map(|_| ())
                .ok_or(Rejection::new(CallError::UnknownUser)),
            Member::Group(h) => self.group_ref(h).map(|_| ()),
        }
    }

    pub(super) fn delete_group(&mut self, g: GroupIdx) -> Result<(), Rejection> {
        let grp = self.group_ref(g)?;
        if !grp.licenses.is_empty() {
            return Err(Rejection::new(CallError::GroupHasLicenses));
        }
        if grp.busy() || grp.busy.is_some() {
            return Err(Rejection::new(CallError::GroupProcessingInProgress));
        }
        let members: Vec<UserIdx> = grp.members.iter().copied().collect();
        let member_groups: Vec<GroupIdx> = grp.member_groups.iter().copied().collect();
        for u in members {
            self.apply_membership_raw(g, Member::User(u), false);
        }
        for h in member_groups {
            self.apply_membership_raw(g, Member::Group(h), false);
        }
        // The group is also removed from the groups it was a member of.
        for h in 0..self.state.groups.len() {
            if self.state.groups[h].member_groups.remove(&g) {
                self.emit(Outcome::Membership {
                    group: h as GroupIdx,
                    member: Member::Group(g),
                    added: false,
                });
            }
        }
        // R23: paths still held from the group (ActiveWithError, a blocked removal).
        if self.state.groups[g as usize].path_count > 0 {
            let holders: Vec<UserIdx> = (0..self.state.users.len() as UserIdx)
                .filter(|u| {
                    self.state.users[*u as usize]
                        .paths
                        .iter()
                        .any(|p| p.source == Source::Group(g))
                })
                .collect();
            if self.config.tenant.on_group_delete == OnGroupDelete::ConvertToDirect {
                for u in holders {
                    let snap = self.begin(u);
                    self.decide(u, |t, s, d| rules::convert_to_direct(t, s, g, d));
                    self.write_decision(u);
                    self.finish(u, snap);
                }
            }
        }
        let grp = &mut self.state.groups[g as usize];
        grp.alive = false;
        self.state.dynamic_groups.remove(&g);
        let groups = &self.state.groups;
        self.state
            .group_index
            .remove(&groups[g as usize].name, |i| {
                groups[i as usize].name.as_str()
            });
        self.emit(Outcome::GroupDeleted { group: g });
        Ok(())
    }

    pub(super) fn set_rule(&mut self, g: GroupIdx, rule: Option<&str>) -> Result<(), Rejection> {
        self.group_ref(g)?;
        let parsed = match rule {
            Some(t) => Some(Rule::parse(t).map_err(|_| Rejection::new(CallError::InvalidRule))?),
            None => None,
        };
        let was_dynamic = self.state.groups[g as usize].rule.is_some();
        let now_dynamic = parsed.is_some();
        self.state.groups[g as usize].rule = parsed;
        if now_dynamic {
            self.state.dynamic_groups.insert(g);
        } else {
            self.state.dynamic_groups.remove(&g);
        }
        if now_dynamic {
            if !was_dynamic {
                // R26: turning a static group dynamic first removes every member.
                let members: Vec<UserIdx> = self.state.members_in_name_order(g);
                for u in members {
                    self.apply_membership(g, Member::User(u), false);
                }
            }
            self.schedule_dynamic(g, ALL_USERS);
        }
        Ok(())
    }

    pub(super) fn change_members(
        &mut self,
        g: GroupIdx,
        members: &[Member],
        add: bool,
    ) -> Result<(), Rejection> {
        let grp = self.group_ref(g)?;
        if grp.rule.is_some() {
            return Err(Rejection::new(CallError::DynamicGroupMembership));
        }
        let on_prem = grp.source == GroupSource::OnPremises;
        for m in members {
            self.check_member(*m)?;
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
            for m in ordered {
                self.state.groups[g as usize].pending_sync.push((m, add));
            }
            self.schedule_sync();
        } else {
            for m in ordered {
                self.apply_membership(g, m, add);
            }
        }
        Ok(())
    }

    /// Changes membership and emits the outcome; returns whether anything changed.
    pub(super) fn apply_membership_raw(&mut self, g: GroupIdx, m: Member, add: bool) -> bool {
        let changed = match m {
            Member::User(u) => {
                if !self.state.users[u as usize].alive {
                    return false;
                }
                let grp = &mut self.state.groups[g as usize];
                let c = if add {
                    grp.members.insert(u)
                } else {
                    grp.members.remove(&u)
                };
                if c {
                    let ug = &mut self.state.users[u as usize].groups;
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
                if !self.state.groups[h as usize].alive && add {
                    return false;
                }
                let grp = &mut self.state.groups[g as usize];
                if add {
                    grp.member_groups.insert(h)
                } else {
                    grp.member_groups.remove(&h)
                }
            }
        };
        if changed {
            self.emit(Outcome::Membership {
                group: g,
                member: m,
                added: add,
            });
        }
        changed
    }

    /// Changes membership and queues the user on the group's worker when licenses are involved.
    pub(super) fn apply_membership(&mut self, g: GroupIdx, m: Member, add: bool) {
        if self.apply_membership_raw(g, m, add)
            && let Member::User(u) = m
        {
            {
                let needs = !self.state.groups[g as usize].licenses.is_empty()
                    || self.state.users[u as usize]
                        .paths
                        .iter()
                        .any(|p| p.source == Source::Group(g));
                if needs {
                    self.enqueue(g, u, false);
                }
            }
        }
    }

    pub(super) fn schedule_dynamic(&mut self, g: GroupIdx, u: UserIdx) {
        self.state.groups[g as usize].pending_dynamic += 1;
        let at = self.now + self.config.environment.dynamic_evaluation_delay_ms;
        self.schedule(at, Job::DynEval(g, u));
    }

    pub(super) fn dynamic_eval(&mut self, g: GroupIdx, u: UserIdx) {
        let grp = &mut self.state.groups[g as usize];
        grp.pending_dynamic = grp.pending_dynamic.saturating_sub(1);
        self.dynamic_eval_now(g, u);
    }

    pub(super) fn dynamic_eval_now(&mut self, g: GroupIdx, target: UserIdx) {
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
            let user = &self.state.users[u as usize];
            if !user.alive {
                continue;
            }
            let get = |k: &str| self.state.attribute(user, k);
            let matches = rule.matches(&get);
            let member = self.state.groups[g as usize].members.contains(&u);
            if matches != member {
                self.apply_membership(g, Member::User(u), matches);
            }
        }
    }

    pub(super) fn schedule_sync(&mut self) {
        if self.sync_scheduled {
            return;
        }
        let env = &self.config.environment;
        let (i, p) = (env.sync_interval_ms, env.sync_phase_ms);
        let at = if i == 0 {
            self.now
        } else if self.now < p {
            p
        } else {
            p + ((self.now - p) / i + 1) * i
        };
        self.sync_scheduled = true;
        self.schedule(at, Job::Sync);
    }

    /// A directory sync cycle: pending on-premises membership changes take effect (R27).
    pub(super) fn sync(&mut self) {
        self.sync_scheduled = false;
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
