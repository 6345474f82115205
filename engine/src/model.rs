//! The tenant's state: users, groups, paths, subscriptions. Ids are dense indices into `Vec`s;
//! maps are `BTreeMap`s, so every iteration order is defined.

use crate::catalog::{Catalog, PlanSet};
use crate::event::{
    ErrorKind, GroupSource, Member, PathState, PrepaidUnits, ProcessingState, Source,
};
use crate::names::NameIndex;
use crate::rule::Rule;
use crate::{GroupIdx, Loc, SkuIdx, UserIdx};
use smallvec::SmallVec;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Index into [`State::disabled_sets`]: an interned set of disabled plans.
pub type DisabledIdx = u32;

/// One reason a user holds a SKU (Graph: a `licenseAssignmentState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path {
    pub sku: SkuIdx,
    pub state: PathState,
    pub error: ErrorKind,
    pub source: Source,
    pub disabled: DisabledIdx,
    pub updated_ms: u64,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: Box<str>,
    pub usage_location: Option<Loc>,
    pub alive: bool,
    /// The group of the last group processing step on this user (`GroupIdx::MAX`: none), for
    /// R25, with its time and SKU mask below.
    pub last_step_group: GroupIdx,
    pub last_step_ms: u64,
    /// SKUs that step touched (bit = sku % 64).
    pub last_step_skus: u64,
    /// Lower-cased addresses without the `smtp:` prefix; empty means the primary only.
    pub proxy_addresses: Box<[String]>,
    /// Hash of the primary address `<name>@<domain>` (R18 index key), kept so that a uniqueness
    /// check does not read the name.
    pub primary_hash: u64,
    /// (attribute name index, value index in `State::attribute_values`), sorted by name index.
    pub attributes: Box<[(u16, u32)]>,
    /// Sorted by (sku, source).
    pub paths: Vec<Path>,
    /// Groups the user is a direct member of, sorted; up to four inline (as large as a `Vec`,
    /// and most users are in a few groups), so most users need no allocation for them.
    pub groups: SmallVec<[GroupIdx; 4]>,
}

/// Pushes onto a table that grows by an eighth, not by doubling: the user table is the
/// largest allocation, and doubling leaves up to half of it unused (at 100,000 users that was
/// about 45 bytes a user). Amortised cost stays constant.
pub fn push_grow<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 8).max(16));
    }
    v.push(x);
}

impl User {
    #[inline]
    pub fn has_applied(&self, sku: SkuIdx) -> bool {
        self.paths.iter().any(|p| p.sku == sku && p.state.applied())
    }
    #[inline]
    pub fn path_index(&self, sku: SkuIdx, source: Source) -> Option<usize> {
        self.paths
            .iter()
            .position(|p| p.sku == sku && p.source == source)
    }
    pub fn in_error(&self) -> bool {
        self.paths.iter().any(|p| p.state != PathState::Active)
    }
}

/// A queued item on a group's worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkItem {
    pub user: UserIdx,
    pub ready_ms: u64,
    /// A reprocess: evaluate even when the group's intents equal the user's paths.
    pub force: bool,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub security_enabled: bool,
    pub source: GroupSource,
    pub rule: Option<Rule>,
    pub members: BTreeSet<UserIdx>,
    pub member_groups: BTreeSet<GroupIdx>,
    /// (sku, disabled plans), sorted by sku.
    pub licenses: Vec<(SkuIdx, DisabledIdx)>,
    pub state: ProcessingState,
    pub alive: bool,
    pub queue: VecDeque<WorkItem>,
    /// Users in `queue` (not the one in progress), with their force flag.
    pub queued: BTreeMap<UserIdx, bool>,
    /// The item being processed and the time its step completes.
    pub busy: Option<(WorkItem, u64)>,
    /// Whether a worker job is scheduled.
    pub wake_scheduled: bool,
    /// On-premises membership changes waiting for the next sync (R27).
    pub pending_sync: Vec<(Member, bool)>,
    /// Scheduled dynamic evaluations not yet run (R26).
    pub pending_dynamic: u32,
    /// Paths from this group, on all users.
    pub path_count: u64,
    /// Counters of the current processing run (R29).
    pub run_succeeded: u32,
    pub run_failed: u32,
}

impl Group {
    /// Whether a membership change or license processing for this group is pending.
    pub fn busy(&self) -> bool {
        self.state != ProcessingState::ProcessingComplete
            || !self.pending_sync.is_empty()
            || self.pending_dynamic > 0
    }
    pub fn license(&self, sku: SkuIdx) -> Option<DisabledIdx> {
        self.licenses
            .iter()
            .find(|(s, _)| *s == sku)
            .map(|(_, d)| *d)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Whether the tenant has a subscription (it may have zero units).
    pub exists: bool,
    pub prepaid: PrepaidUnits,
    pub consumed: u32,
}

/// The whole tenant.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    /// Indexed by SKU.
    pub subscriptions: Vec<Subscription>,
    pub disabled_sets: Vec<PlanSet>,
    pub disabled_index: BTreeMap<PlanSet, DisabledIdx>,
    pub attribute_names: Vec<String>,
    /// Interned attribute values (users share "Sales", "Finance", ...).
    pub attribute_values: Vec<String>,
    pub attribute_value_index: BTreeMap<String, u32>,
    /// Live users by name (deleted users keep their name but leave the index).
    pub user_index: NameIndex,
    /// Live groups by name.
    pub group_index: NameIndex,
    /// Whether user indices are in byte-wise name order (then index order is name order).
    pub names_in_index_order: bool,
}

impl State {
    pub fn new(catalog: &Catalog) -> State {
        let mut s = State {
            subscriptions: vec![Subscription::default(); catalog.skus.len()],
            names_in_index_order: true,
            ..State::default()
        };
        // Index 0 is the empty set (nothing disabled).
        s.disabled_sets.push(PlanSet::EMPTY);
        s.disabled_index.insert(PlanSet::EMPTY, 0);
        s
    }

    pub fn intern_disabled(&mut self, set: PlanSet) -> DisabledIdx {
        if set.is_empty() {
            return 0; // interned first, in State::new
        }
        if let Some(i) = self.disabled_index.get(&set) {
            return *i;
        }
        let i = self.disabled_sets.len() as DisabledIdx;
        self.disabled_sets.push(set);
        self.disabled_index.insert(set, i);
        i
    }

    /// Plans a path of `sku` with disabled set `d` enables.
    #[inline]
    pub fn enabled(&self, catalog: &Catalog, sku: SkuIdx, d: DisabledIdx) -> PlanSet {
        catalog.skus[sku as usize]
            .plans
            .minus(&self.disabled_sets[d as usize])
    }

    /// Union of the plans of a user's applied paths (R04).
    pub fn user_plans(&self, catalog: &Catalog, u: UserIdx) -> PlanSet {
        let mut s = PlanSet::EMPTY;
        for p in &self.users[u as usize].paths {
            if p.state.applied() {
                s.union_with(&self.enabled(catalog, p.sku, p.disabled));
            }
        }
        s
    }

    pub fn user(&self, name: &str) -> Option<UserIdx> {
        self.user_index.get(name, |i| &*self.users[i as usize].name)
    }
    pub fn group(&self, name: &str) -> Option<GroupIdx> {
        self.group_index
            .get(name, |i| self.groups[i as usize].name.as_str())
    }
    /// Puts users given in index order into byte-wise name order (nothing to do while users were
    /// created in name order).
    fn to_name_order(&self, mut v: Vec<UserIdx>) -> Vec<UserIdx> {
        if !self.names_in_index_order {
            v.sort_by(|a, b| {
                self.users[*a as usize]
                    .name
                    .cmp(&self.users[*b as usize].name)
            });
        }
        v
    }
    /// Live users in byte-wise name order.
    pub fn live_users_in_name_order(&self) -> Vec<UserIdx> {
        self.to_name_order(
            (0..self.users.len() as UserIdx)
                .filter(|u| self.users[*u as usize].alive)
                .collect(),
        )
    }
    #[inline]
    pub fn live_user(&self, u: UserIdx) -> Option<&User> {
        self.users.get(u as usize).filter(|x| x.alive)
    }
    #[inline]
    pub fn live_group(&self, g: GroupIdx) -> Option<&Group> {
        self.groups.get(g as usize).filter(|x| x.alive)
    }
    /// The index of an attribute value, interning it.
    pub fn intern_attribute_value(&mut self, v: &str) -> u32 {
        if let Some(i) = self.attribute_value_index.get(v) {
            return *i;
        }
        let i = self.attribute_values.len() as u32;
        self.attribute_values.push(v.to_string());
        self.attribute_value_index.insert(v.to_string(), i);
        i
    }
    pub fn attribute_index(&self, name: &str) -> Option<u16> {
        self.attribute_names
            .iter()
            .position(|a| a == name)
            .map(|i| i as u16)
    }
    pub fn attribute<'a>(&'a self, u: &'a User, name: &str) -> Option<&'a str> {
        let i = self.attribute_index(name)?;
        u.attributes
            .iter()
            .find(|(k, _)| *k == i)
            .map(|(_, v)| self.attribute_values[*v as usize].as_str())
    }
    /// Members of a group in byte-wise id order (R12).
    pub fn members_in_name_order(&self, g: GroupIdx) -> Vec<UserIdx> {
        self.to_name_order(self.groups[g as usize].members.iter().copied().collect())
    }
    /// Users with an `Error` or `ActiveWithError` path from the group (SPEC 8).
    pub fn members_with_errors(&self, g: GroupIdx) -> Vec<UserIdx> {
        let mut v = Vec::new();
        if self.groups[g as usize].path_count == 0 {
            return v;
        }
        for (i, u) in self.users.iter().enumerate() {
            if u.alive
                && u.paths
                    .iter()
                    .any(|p| p.source == Source::Group(g) && p.state != PathState::Active)
            {
                v.push(i as UserIdx);
            }
        }
        v
    }
}

impl State {
    /// The stable state hash ("licsim-state-v1"): [`crate::hash::StableHasher`] over a canonical
    /// walk of users, groups and subscriptions in index order. Scheduling state (worker queues)
    /// is included through each group's processing state and queue length.
    pub fn hash(&self) -> u64 {
        use crate::hash::StableHasher;
        let mut h = StableHasher::new();
        h.word(self.users.len() as u64);
        for u in &self.users {
            h.str(&u.name);
            h.word(u.alive as u64);
            h.word(
                u.usage_location
                    .map_or(0, |l| 1 + ((l[0] as u64) << 8) + l[1] as u64),
            );
            h.word(u.proxy_addresses.len() as u64);
            for a in &u.proxy_addresses {
                h.str(a);
            }
            h.word(u.attributes.len() as u64);
            for (k, v) in &u.attributes {
                h.str(&self.attribute_names[*k as usize]);
                h.str(&self.attribute_values[*v as usize]);
            }
            h.word(u.paths.len() as u64);
            for p in &u.paths {
                let src = match p.source {
                    Source::Direct => 0,
                    Source::Group(g) => 1 + g as u64,
                };
                h.word(p.sku as u64 | (p.state as u64) << 16 | (p.error as u64) << 24);
                h.word(src);
                for w in self.disabled_sets[p.disabled as usize].0.iter() {
                    if *w != 0 {
                        h.word(*w);
                    }
                }
                h.word(p.updated_ms);
            }
            h.word(u.groups.len() as u64);
            for g in &u.groups {
                h.word(*g as u64);
            }
        }
        h.word(self.groups.len() as u64);
        for g in &self.groups {
            h.str(&g.name);
            h.word(g.alive as u64 | (g.security_enabled as u64) << 1 | (g.source as u64) << 2);
            h.str(g.rule.as_ref().map_or("", |r| r.text.as_str()));
            h.word(g.members.len() as u64);
            for m in &g.members {
                h.word(*m as u64);
            }
            h.word(g.member_groups.len() as u64);
            for m in &g.member_groups {
                h.word(*m as u64);
            }
            h.word(g.licenses.len() as u64);
            for (s, d) in &g.licenses {
                h.word(*s as u64);
                for w in self.disabled_sets[*d as usize].0.iter() {
                    if *w != 0 {
                        h.word(*w);
                    }
                }
            }
            h.word(g.state as u64);
            h.word(g.queue.len() as u64);
        }
        for s in &self.subscriptions {
            h.word(s.exists as u64);
            h.word(s.prepaid.enabled as u64);
            h.word(s.prepaid.warning as u64);
            h.word(s.prepaid.suspended as u64);
            h.word(s.prepaid.locked_out as u64);
            h.word(s.consumed as u64);
        }
        h.finish()
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn the_user_record_stays_small() {
        // Memory budget (ARCHITECTURE.md): the inline record is most of a user's bytes.
        assert!(
            std::mem::size_of::<User>() <= 128,
            "{}",
            std::mem::size_of::<User>()
        );
        assert_eq!(std::mem::size_of::<Path>(), 24);
    }
}
