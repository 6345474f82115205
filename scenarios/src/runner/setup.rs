//! The baseline (SPEC 10): the scenario's tenant, built and processed before the plan starts.

use super::Runner;
use crate::model::*;
use engine::dist;
use engine::prelude::*;

impl Runner<'_> {
    /// The baseline (SPEC 10, issue 9): the tenant as it stands before the plan, built and
    /// processed at time 0 with no delay or latency (`Input::BaselineStart` .. `BaselineEnd`),
    /// in this order: subscriptions, users (explicit, then populations), groups with their
    /// members, the groups' licences (processed), the users' direct licences (one R05 call per
    /// user, in declaration order, so an add-on whose prerequisite comes from a group is
    /// valid), the faults, then everything processed again.
    pub(super) fn setup(&mut self) {
        let sc = self.sc;
        self.apply(Input::BaselineStart);
        for (sku, units) in &sc.tenant.subscriptions {
            self.apply(Input::SetUnits {
                sku: *sku,
                units: *units,
            });
        }
        for u in &sc.users {
            self.apply(Input::CreateUser {
                name: u.id.clone(),
                usage_location: u.usage_location,
                proxy_addresses: u.proxy_addresses.clone(),
                attributes: u.attributes.clone(),
            });
        }
        for p in &sc.populations {
            let mut members = Vec::with_capacity(p.count.min(1 << 24) as usize);
            for i in 1..=p.count {
                let next = self.sim.state().users.len() as UserIdx;
                if self.apply(Input::CreateUser {
                    name: p.id(i),
                    usage_location: p.usage_location,
                    proxy_addresses: Vec::new(),
                    attributes: p.attributes.clone(),
                }) {
                    members.push(next);
                }
            }
            self.populations.push(members);
        }
        for g in &sc.groups {
            self.create_group(g, true);
        }
        // Nested group members, once every group exists.
        for g in &sc.groups {
            self.add_nested(g);
        }
        for g in &sc.groups {
            if !g.licenses.is_empty() {
                let group = self.group(&g.id);
                self.apply(Input::AssignGroupLicense {
                    group,
                    add: g.licenses.clone(),
                    remove: vec![],
                });
            }
        }
        let now = self.now();
        self.advance(now);
        for u in &sc.users {
            if !u.direct.is_empty() {
                let user = self.user(&u.id);
                self.apply(Input::AssignUserLicense {
                    user,
                    add: u.direct.clone(),
                    remove: vec![],
                });
            }
        }
        for (pi, p) in sc.populations.iter().enumerate() {
            if p.direct.is_empty() {
                continue;
            }
            for k in 0..self.populations[pi].len() {
                let user = self.populations[pi][k];
                self.apply(Input::AssignUserLicense {
                    user,
                    add: p.direct.clone(),
                    remove: vec![],
                });
            }
        }
        for f in &sc.faults {
            self.fault(f);
        }
        self.advance(now);
        self.apply(Input::BaselineEnd);
    }

    pub(super) fn population_members(&self, name: &str) -> Vec<UserIdx> {
        let st = self.sim.state();
        match self.sc.populations.iter().position(|p| p.name == name) {
            Some(pi) => self.populations[pi]
                .iter()
                .copied()
                .filter(|u| st.users[*u as usize].alive)
                .collect(),
            None => Vec::new(),
        }
    }

    /// Members of a population picked with probability `ppm`, in population order.
    pub(super) fn pick(&mut self, population: &str, ppm: u32) -> Vec<UserIdx> {
        let members = self.population_members(population);
        members
            .into_iter()
            .filter(|_| dist::chance_ppm(&mut self.rng, ppm))
            .collect()
    }

    pub(super) fn fault(&mut self, f: &Fault) {
        match f {
            Fault::MissingUsageLocation { population, ppm } => {
                for user in self.pick(population, *ppm) {
                    self.apply(Input::SetUsageLocation {
                        user,
                        location: None,
                    });
                }
            }
            Fault::DuplicateProxyAddress { population, ppm } => {
                let members = self.population_members(population);
                let chosen = self.pick(population, *ppm);
                let domain = self.sc.tenant.domain.clone();
                for user in chosen {
                    // Another member's primary address: the one before it (or after, for the first).
                    let pos = members.iter().position(|m| *m == user).unwrap_or(0);
                    let other = if pos > 0 {
                        members.get(pos - 1)
                    } else {
                        members.get(1)
                    };
                    let Some(other) = other else { continue };
                    let own = self.sim.state().users[user as usize].name.clone();
                    let theirs = self.sim.state().users[*other as usize].name.clone();
                    self.apply(Input::SetProxyAddresses {
                        user,
                        addresses: vec![
                            format!("SMTP:{own}@{domain}"),
                            format!("smtp:{theirs}@{domain}"),
                        ],
                    });
                }
            }
            Fault::ConflictingDirect {
                population,
                sku,
                ppm,
            }
            | Fault::DependentDirect {
                population,
                sku,
                ppm,
            } => {
                for user in self.pick(population, *ppm) {
                    self.apply(Input::AssignUserLicense {
                        user,
                        add: vec![LicenseSpec::new(*sku)],
                        remove: vec![],
                    });
                }
            }
        }
    }

    /// Adds a group's member groups (nesting: R09, their members get nothing from it).
    pub(super) fn add_nested(&mut self, g: &GroupSpec) {
        let nested: Vec<Member> = g
            .members
            .iter()
            .filter_map(|m| match m {
                MemberRef::Group(h) => Some(Member::Group(self.group(h))),
                MemberRef::Users(_) => None,
            })
            .collect();
        if !nested.is_empty() {
            let group = self.group(&g.id);
            self.apply(Input::AddMembers {
                group,
                members: nested,
            });
        }
    }

    pub(super) fn create_group(&mut self, g: &GroupSpec, setup: bool) -> bool {
        let mut members = Vec::new();
        if g.rule.is_none() {
            for m in &g.members {
                if let MemberRef::Users(sel) = m {
                    members.extend(self.select(sel).into_iter().map(Member::User));
                }
            }
            members.sort();
            members.dedup();
        }
        let ok = self.apply(Input::CreateGroup {
            name: g.id.clone(),
            security_enabled: g.security_enabled,
            source: g.source,
            rule: g.rule.clone(),
            members,
            evaluate_now: setup,
        });
        if ok && !setup {
            let group = self.group(&g.id);
            self.add_nested(g);
            if !g.licenses.is_empty() {
                self.apply(Input::AssignGroupLicense {
                    group,
                    add: g.licenses.clone(),
                    remove: vec![],
                });
            }
        }
        ok
    }
}
