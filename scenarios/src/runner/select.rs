//! Which users a selector picks, and whether a gate condition holds, at the current time.

use super::{NO_USER, Runner};
use crate::model::*;
use engine::prelude::*;

impl Runner<'_> {
    pub(super) fn by_name(&self, mut v: Vec<UserIdx>) -> Vec<UserIdx> {
        let st = self.sim.state();
        v.sort_by(|a, b| st.users[*a as usize].name.cmp(&st.users[*b as usize].name));
        v.dedup();
        v
    }

    /// The users a selector picks now: explicit lists in the order listed, others in byte-wise
    /// id order.
    pub(super) fn select(&self, sel: &Selector) -> Vec<UserIdx> {
        let st = self.sim.state();
        match sel {
            Selector::All => st.live_users_in_name_order(),
            Selector::Group(id) => match st.group(id) {
                Some(g) => st.members_in_name_order(g),
                None => Vec::new(),
            },
            Selector::Population(name) => self.by_name(self.population_members(name)),
            Selector::Ids(ids) => ids.iter().map(|i| self.user(i)).collect(),
            Selector::Attribute { key, value } => st
                .live_users_in_name_order()
                .into_iter()
                .filter(|u| {
                    st.attribute(&st.users[*u as usize], &key.to_ascii_lowercase())
                        .is_some_and(|v| v.eq_ignore_ascii_case(value))
                })
                .collect(),
            Selector::First(n, inner) => {
                let mut v = self.by_name(
                    self.select(inner)
                        .into_iter()
                        .filter(|u| *u != NO_USER)
                        .collect(),
                );
                v.truncate(*n as usize);
                v
            }
        }
    }

    pub(super) fn gate(&self, req: &Require) -> bool {
        let st = self.sim.state();
        match req {
            Require::NoLicenseErrors => !st.users.iter().any(|u| u.alive && u.in_error()),
            Require::NoServiceLoss => !self.service_lost,
            Require::AllMembersLicensed(id) => {
                let Some(g) = st.group(id) else { return false };
                let grp = &st.groups[g as usize];
                grp.members.iter().all(|u| {
                    grp.licenses.iter().all(|(s, _)| {
                        st.users[*u as usize].paths.iter().any(|p| {
                            p.sku == *s
                                && p.source == Source::Group(g)
                                && p.state == PathState::Active
                        })
                    })
                })
            }
            Require::UnitsAvailable { sku, at_least } => {
                let sub = &st.subscriptions[*sku as usize];
                (sub.prepaid.assignable() as u64).saturating_sub(sub.consumed as u64) >= *at_least
            }
        }
    }

    pub(super) fn check_gate(&mut self, step: u32, req: &Require) -> bool {
        let passed = self.gate(req);
        let require = crate::describe::require(&self.sc.catalog, req);
        self.apply(Input::Marker(Marker::Gate {
            step,
            require: require.clone(),
            passed,
        }));
        if !passed {
            self.stop(step, format!("gate {require} failed"));
        }
        passed
    }

    pub(super) fn stop(&mut self, step: u32, reason: String) {
        self.apply(Input::Marker(Marker::PlanStopped { step, reason }));
        self.stopped = true;
    }
}
