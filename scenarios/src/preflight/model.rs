//! The tenant as the plan leaves it after each step, projected without running anything: who
//! is in which group, which licences each group and each user's direct assignment carry (with
//! their disabled plans), the subscriptions, and the least time the plan has taken.
//!
//! It starts from the tenant the setup of run 0 builds (`runner::setup_only`), so that
//! populations, selectors, dynamic rules and the run's faults mean exactly what they mean in a
//! run. From there it follows the plan's *intent*: a licence given is taken as held (errors are
//! what the checks predict; the projection does not predict them all), a removal as done.

use super::errors::Fail;
use super::walk::At;
use crate::model::{Fault, Scenario, Selector};
use engine::catalog::{Catalog, PlanSet};
use engine::model::{DisabledIdx, State};
use engine::prelude::*;
use engine::rule::Rule;
use std::collections::{BTreeMap, BTreeSet};

/// A licence: SKU and disabled plans (an index into [`Model::disabled`]).
pub(super) type Lic = (SkuIdx, DisabledIdx);

/// One group as the plan leaves it.
pub(super) struct GroupModel {
    pub id: String,
    pub alive: bool,
    pub security_enabled: bool,
    pub rule: Option<Rule>,
    pub members: BTreeSet<UserIdx>,
    /// Sorted by SKU.
    pub licences: Vec<Lic>,
    /// The membership is an estimate: the plan changed a rule or an attribute it reads (the
    /// projection evaluates at once, the service after a delay), or it syncs from on-premises.
    pub approximate: bool,
    /// Changed since its members were last processed (`process`): when, and by which step.
    pub dirty: bool,
    pub changed_at: Option<u64>,
    pub changed_by: Option<At>,
    /// The step that gave each licence not processed yet, and the last step that changed the
    /// membership (findings about them speak of those steps).
    pub added_by: BTreeMap<SkuIdx, At>,
    pub members_by: Option<At>,
    /// What its members were last processed against: its licences then (what they have
    /// applied from it) and its members then.
    pub settled: Vec<Lic>,
    pub settled_members: BTreeSet<UserIdx>,
}

/// One subscription as the plan leaves it.
#[derive(Clone, Copy, Default)]
pub(super) struct Sub {
    pub exists: bool,
    pub enabled: u64,
    pub warning: u64,
}

impl Sub {
    /// Units a new seat may take (R02).
    pub fn assignable(&self) -> u64 {
        self.enabled + self.warning
    }
}

pub(super) struct Model<'a> {
    pub cat: &'a Catalog,
    pub sc: &'a Scenario,
    /// The tenant after setup: names, attributes, locations, direct licences.
    st: &'a State,
    populations: &'a [Vec<UserIdx>],
    deleted: BTreeSet<UserIdx>,
    /// Direct licences the plan changed (user -> licences); the others are as at setup.
    direct_changed: BTreeMap<UserIdx, Vec<Lic>>,
    /// Attribute values the plan set (user, lower-case key) -> value.
    attributes: BTreeMap<(UserIdx, String), Option<String>>,
    /// Usage locations the plan set.
    locations: BTreeMap<UserIdx, Option<Loc>>,
    /// Users whose proxy addresses the plan set.
    proxies_set: BTreeSet<UserIdx>,
    /// Hashes of the addresses more than one live user holds at setup (R18).
    shared: BTreeSet<u64>,
    pub groups: Vec<GroupModel>,
    pub subs: Vec<Sub>,
    /// Paths predicted in error: (user, SKU, source) -> why. They hold no seat and enable no
    /// plan until evaluated again (`retry`).
    pub(super) failed: BTreeMap<(UserIdx, SkuIdx, Source), Fail>,
    /// Disabled-plan sets: the setup's, then those the plan names.
    disabled: Vec<PlanSet>,
    /// Least simulated time the plan has taken so far (waits and waves).
    pub time_ms: u64,
}

impl<'a> Model<'a> {
    pub fn new(sc: &'a Scenario, st: &'a State, populations: &'a [Vec<UserIdx>]) -> Model<'a> {
        let groups = st
            .groups
            .iter()
            .map(|g| GroupModel {
                id: g.name.clone(),
                alive: g.alive,
                security_enabled: g.security_enabled,
                rule: g.rule.clone(),
                members: g.members.clone(),
                // The setup's licences are given again by the walk, with their checks.
                licences: Vec::new(),
                approximate: false,
                dirty: false,
                changed_at: None,
                changed_by: None,
                added_by: BTreeMap::new(),
                members_by: None,
                settled: Vec::new(),
                settled_members: BTreeSet::new(),
            })
            .collect();
        let subs = st
            .subscriptions
            .iter()
            .map(|s| Sub {
                exists: s.exists,
                enabled: s.prepaid.enabled as u64,
                warning: s.prepaid.warning as u64,
            })
            .collect();
        Model {
            cat: &sc.catalog,
            sc,
            st,
            populations,
            deleted: BTreeSet::new(),
            direct_changed: BTreeMap::new(),
            attributes: BTreeMap::new(),
            locations: BTreeMap::new(),
            proxies_set: BTreeSet::new(),
            shared: shared_addresses(st),
            failed: BTreeMap::new(),
            groups,
            subs,
            disabled: st.disabled_sets.clone(),
            time_ms: 0,
        }
    }

    // ---- users -------------------------------------------------------------------------------

    pub fn name(&self, u: UserIdx) -> &str {
        &self.st.users[u as usize].name
    }

    pub fn alive(&self, u: UserIdx) -> bool {
        self.st.users[u as usize].alive && !self.deleted.contains(&u)
    }

    /// Users in byte-wise id order, each once.
    pub fn by_name(&self, mut v: Vec<UserIdx>) -> Vec<UserIdx> {
        v.sort_by(|a, b| self.name(*a).cmp(self.name(*b)));
        v.dedup();
        v
    }

    /// The first `n` ids of users, for examples.
    pub fn examples(&self, users: &[UserIdx], n: usize) -> Vec<String> {
        users
            .iter()
            .take(n)
            .map(|u| self.name(*u).to_string())
            .collect()
    }

    /// The user's own usage location (R06).
    pub fn location(&self, u: UserIdx) -> Option<Loc> {
        match self.locations.get(&u) {
            Some(l) => *l,
            None => self.st.users[u as usize].usage_location,
        }
    }

    pub fn has_location(&self, u: UserIdx) -> bool {
        self.location(u).is_some()
    }

    /// Whether another user holds one of the user's proxy addresses (R18), as the setup left
    /// them; a user whose addresses the plan set counts as fixed.
    pub fn proxy_shared(&self, u: UserIdx) -> bool {
        if self.proxies_set.contains(&u) || self.shared.is_empty() {
            return false;
        }
        address_hashes(&self.st.users[u as usize]).any(|h| self.shared.contains(&h))
    }

    pub fn set_proxies(&mut self, users: &[UserIdx]) {
        self.proxies_set.extend(users.iter().copied());
    }

    pub fn set_location(&mut self, users: &[UserIdx], location: Option<Loc>) {
        for u in users {
            self.locations.insert(*u, location);
        }
    }

    fn attribute(&self, u: UserIdx, key: &str) -> Option<&str> {
        match self.attributes.get(&(u, key.to_string())) {
            Some(v) => v.as_deref(),
            None => self.st.attribute(&self.st.users[u as usize], key),
        }
    }

    pub fn set_attribute(&mut self, users: &[UserIdx], key: &str, value: Option<&str>) {
        let key = key.to_ascii_lowercase();
        for u in users {
            self.attributes
                .insert((*u, key.clone()), value.map(str::to_string));
        }
        for g in 0..self.groups.len() {
            let reads = self.groups[g]
                .rule
                .as_ref()
                .is_some_and(|r| r.attributes.contains(&key));
            if reads && self.groups[g].alive {
                self.evaluate(g);
            }
        }
    }

    /// Users a selector picks now, as the runner picks them (explicit lists in the order
    /// listed, without unknown or deleted ids; others in id order).
    pub fn select(&self, sel: &Selector) -> Vec<UserIdx> {
        let live = || {
            self.st
                .live_users_in_name_order()
                .into_iter()
                .filter(|u| !self.deleted.contains(u))
        };
        match sel {
            Selector::All => live().collect(),
            Selector::Group(id) => match self.group(id) {
                Some(g) => self.by_name(self.groups[g].members.iter().copied().collect()),
                None => Vec::new(),
            },
            Selector::Population(name) => {
                match self.sc.populations.iter().position(|p| &p.name == name) {
                    Some(pi) => self.by_name(
                        self.populations[pi]
                            .iter()
                            .copied()
                            .filter(|u| self.alive(*u))
                            .collect(),
                    ),
                    None => Vec::new(),
                }
            }
            Selector::Ids(ids) => ids
                .iter()
                .filter_map(|i| self.st.user(i))
                .filter(|u| self.alive(*u))
                .collect(),
            Selector::Attribute { key, value } => {
                let key = key.to_ascii_lowercase();
                live()
                    .filter(|u| {
                        self.attribute(*u, &key)
                            .is_some_and(|v| v.eq_ignore_ascii_case(value))
                    })
                    .collect()
            }
            Selector::First(n, inner) => {
                let mut v = self.by_name(self.select(inner));
                v.truncate(*n as usize);
                v
            }
        }
    }

    pub fn delete_users(&mut self, users: &[UserIdx]) {
        for u in users {
            self.forget(*u, None);
            self.deleted.insert(*u);
            self.direct_changed.insert(*u, Vec::new());
            for g in &mut self.groups {
                g.members.remove(u);
                g.settled_members.remove(u);
            }
        }
    }

    /// Whether a fault of the scenario picks users among `users` (so counts vary by run).
    pub fn faults_touch(&self, users: &[UserIdx], sku: Option<SkuIdx>) -> bool {
        self.sc.faults.iter().any(|f| {
            let (population, fault_sku) = match f {
                Fault::MissingUsageLocation { population, .. }
                | Fault::DuplicateProxyAddress { population, .. } => (population, None),
                Fault::ConflictingDirect {
                    population, sku, ..
                }
                | Fault::DependentDirect {
                    population, sku, ..
                } => (population, Some(*sku)),
            };
            if sku.is_some() && fault_sku == sku {
                return true;
            }
            let Some(pi) = self
                .sc
                .populations
                .iter()
                .position(|p| &p.name == population)
            else {
                return false;
            };
            let members: BTreeSet<UserIdx> = self.populations[pi].iter().copied().collect();
            users.iter().any(|u| members.contains(u))
        })
    }

    // ---- licences ----------------------------------------------------------------------------

    /// The licence a spec of the file names, its disabled plans interned.
    pub fn licence(&mut self, spec: &LicenseSpec) -> Lic {
        let set = PlanSet::from_plans(spec.disabled.iter().copied());
        let d = match self.disabled.iter().position(|s| *s == set) {
            Some(i) => i as DisabledIdx,
            None => {
                self.disabled.push(set);
                (self.disabled.len() - 1) as DisabledIdx
            }
        };
        (spec.sku, d)
    }

    pub fn enabled(&self, (sku, d): Lic) -> PlanSet {
        self.cat.skus[sku as usize]
            .plans
            .minus(&self.disabled[d as usize])
    }

    pub fn disabled_of(&self, (_, d): Lic) -> &PlanSet {
        &self.disabled[d as usize]
    }

    /// The user's direct licences.
    pub fn direct(&self, u: UserIdx) -> Vec<Lic> {
        if let Some(v) = self.direct_changed.get(&u) {
            return v.clone();
        }
        self.st.users[u as usize]
            .paths
            .iter()
            .filter(|p| p.source == Source::Direct && p.state.applied())
            .map(|p| (p.sku, p.disabled))
            .collect()
    }

    pub fn set_direct(&mut self, u: UserIdx, add: &[Lic], remove: &[SkuIdx]) {
        let mut v = self.direct(u);
        v.retain(|(s, _)| !remove.contains(s) && !add.iter().any(|(a, _)| a == s));
        v.extend_from_slice(add);
        v.sort();
        self.direct_changed.insert(u, v);
    }

    /// Puts back a user's direct licences (a call predicted to be rejected).
    pub fn restore_direct(&mut self, u: UserIdx, licences: Vec<Lic>) {
        self.direct_changed.insert(u, licences);
    }

    /// Every licence the user is meant to hold (its intent, in error or not): direct, then
    /// each live group's, by group index.
    pub fn intents(&self, u: UserIdx) -> Vec<(Lic, Source)> {
        let mut v: Vec<(Lic, Source)> = self
            .direct(u)
            .into_iter()
            .map(|l| (l, Source::Direct))
            .collect();
        for (g, grp) in self.groups.iter().enumerate() {
            if grp.alive && grp.members.contains(&u) {
                v.extend(
                    grp.licences
                        .iter()
                        .map(|l| (*l, Source::Group(g as GroupIdx))),
                );
            }
        }
        v
    }

    /// The licences the user has applied: direct ones, and those of each group as it last
    /// processed the user, except the paths predicted in error. They consume seats and enable
    /// plans.
    pub fn applied(&self, u: UserIdx) -> Vec<(Lic, Source)> {
        let mut v: Vec<(Lic, Source)> = self
            .direct(u)
            .into_iter()
            .map(|l| (l, Source::Direct))
            .collect();
        for (g, grp) in self.groups.iter().enumerate() {
            if grp.alive && grp.settled_members.contains(&u) {
                v.extend(
                    grp.settled
                        .iter()
                        .map(|l| (*l, Source::Group(g as GroupIdx))),
                );
            }
        }
        v.retain(|((s, _), src)| !self.failed.contains_key(&(u, *s, *src)));
        v
    }

    /// The plans the user has (R04: the union of its applied licences' enabled plans).
    pub fn plans(&self, u: UserIdx) -> PlanSet {
        let mut set = PlanSet::EMPTY;
        for (l, _) in self.applied(u) {
            set.union_with(&self.enabled(l));
        }
        set
    }

    /// Users consuming `sku` now (an applied licence of it), as a bitmap by user index, and
    /// their number (R03: one seat however many paths).
    pub fn holders(&self, sku: SkuIdx) -> (Vec<bool>, u64) {
        let mut bits = vec![false; self.st.users.len()];
        for (u, user) in self.st.users.iter().enumerate() {
            let u = u as UserIdx;
            if !user.alive || self.deleted.contains(&u) {
                continue;
            }
            bits[u as usize] = self.direct(u).iter().any(|(s, _)| *s == sku);
        }
        for (g, grp) in self.groups.iter().enumerate() {
            if grp.alive && grp.settled.iter().any(|(s, _)| *s == sku) {
                let src = Source::Group(g as GroupIdx);
                for u in &grp.settled_members {
                    if !self.failed.contains_key(&(*u, sku, src)) && self.alive(*u) {
                        bits[*u as usize] = true;
                    }
                }
            }
        }
        let n = bits.iter().filter(|b| **b).count() as u64;
        (bits, n)
    }

    // ---- groups ------------------------------------------------------------------------------

    /// The live group with this id (the latest, if the plan re-created it).
    pub fn group(&self, id: &str) -> Option<usize> {
        self.groups.iter().rposition(|g| g.alive && g.id == id)
    }

    /// Sets a group's membership from its rule, over live users.
    pub fn evaluate(&mut self, g: usize) {
        let Some(rule) = self.groups[g].rule.clone() else {
            return;
        };
        let members: BTreeSet<UserIdx> = (0..self.st.users.len() as UserIdx)
            .filter(|u| self.alive(*u))
            .filter(|u| rule.matches(&|k: &str| self.attribute(*u, &k.to_ascii_lowercase())))
            .collect();
        let grp = &mut self.groups[g];
        if grp.members != members {
            grp.members = members;
            grp.dirty = true;
            grp.changed_at.get_or_insert(self.time_ms);
        }
        grp.approximate = true;
    }
}

/// The hashes of a user's proxy addresses as the engine indexes them (R18): each address, or
/// the primary `<id>@<domain>` when it has none.
fn address_hashes(user: &engine::model::User) -> impl Iterator<Item = u64> + '_ {
    (0..user.proxy_addresses.len().max(1)).map(|i| match user.proxy_addresses.get(i) {
        Some(a) => engine::hash::hash_address(a),
        None => user.primary_hash,
    })
}

/// The address hashes more than one live user holds.
fn shared_addresses(st: &State) -> BTreeSet<u64> {
    let mut seen = BTreeSet::new();
    let mut shared = BTreeSet::new();
    for user in st.users.iter().filter(|u| u.alive) {
        let mine: BTreeSet<u64> = address_hashes(user).collect();
        for h in mine {
            if !seen.insert(h) {
                shared.insert(h);
            }
        }
    }
    shared
}
