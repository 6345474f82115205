//! The license rules (SPEC 2): what one processing step, a direct call or a group deletion does
//! to one user's paths. **Rules decide, the simulator applies**: each function reads a [`Tenant`]
//! (the catalogue, seats per SKU, the groups' licences, the time) and a [`Subject`] (the user's
//! paths, groups, usage location and whether its proxy addresses conflict) and fills a
//! [`Decision`] (the user's new paths, the outcomes to emit in order), or rejects the call. A rule
//! changes nothing itself and never sees the simulator (nothing here imports `sim`).
//!
//! - [`process()`]: one processing step (R19-R21, with R11 all-or-nothing and R16 blocking);
//! - [`direct_call`]: a direct `assignLicense` on a user (R05-R07, R16 on direct removals);
//! - [`convert_to_direct`]: the paths of a deleted group (R23);
//! - [`checks`]: what the others share: the checks of one path in R24's order (R12-R18), R15 on
//!   a group's licences, R01 on a licence's disabled plans.

pub mod checks;
mod convert;
mod direct;
mod process;

pub use checks::{PathCheck, ProxyConflict};
pub use convert::convert_to_direct;
pub use direct::direct_call;
pub use process::{Focus, StepResult, process};

use crate::catalog::{Catalog, PlanSet};
use crate::event::Outcome;
use crate::model::{DisabledIdx, Path, Subscription};
use crate::{GroupIdx, Loc, SkuIdx, UserIdx};

/// A licence as a group or a path holds it: a SKU and an interned set of disabled plans.
pub type License = (SkuIdx, DisabledIdx);

/// What the rules read of the tenant besides the user they evaluate.
#[derive(Clone, Copy)]
pub struct Tenant<'a> {
    pub catalog: &'a Catalog,
    /// The interned disabled-plan sets that paths and licences refer to (index 0: none).
    pub disabled_sets: &'a [PlanSet],
    /// Seats per SKU: units consumed and prepaid (R02, R12).
    pub subscriptions: &'a [Subscription],
    /// The tenant's usage location, the fallback of group paths (R10).
    pub default_location: Option<Loc>,
    /// A group's licences, `None` when the group is deleted (where a step's intents come from).
    pub group_licenses: &'a dyn Fn(GroupIdx) -> Option<&'a [License]>,
    /// A group's id (the scenario's name for it): a step that involves several groups takes
    /// them in byte-wise id order (SPEC 10), whatever the order they were created in.
    pub group_id: &'a dyn Fn(GroupIdx) -> &'a str,
    /// The time of the step (written on the paths it changes).
    pub now: u64,
}

impl Tenant<'_> {
    /// The plans a path of `sku` with disabled set `d` enables.
    #[inline]
    pub fn enabled(&self, sku: SkuIdx, d: DisabledIdx) -> PlanSet {
        self.catalog.skus[sku as usize]
            .plans
            .minus(&self.disabled_sets[d as usize])
    }

    /// Adds the plans of a path of `sku` with disabled set `d` to `acc`: the catalogue's set as
    /// it is when nothing is disabled (the common case), no intermediate copy.
    #[inline]
    pub fn add_enabled(&self, acc: &mut PlanSet, sku: SkuIdx, d: DisabledIdx) {
        let plans = &self.catalog.skus[sku as usize].plans;
        if d == 0 {
            acc.union_with(plans);
        } else {
            acc.union_with(&plans.minus(&self.disabled_sets[d as usize]));
        }
    }
}

/// The user a rule evaluates, and the facts about it the rules read.
#[derive(Clone, Copy)]
pub struct Subject<'a> {
    pub user: UserIdx,
    /// The user's paths, sorted by (SKU, source).
    pub paths: &'a [Path],
    /// The groups the user is a direct member of, sorted.
    pub groups: &'a [GroupIdx],
    /// The user's own usage location (R06); group paths fall back to the tenant's (R10).
    pub usage_location: Option<Loc>,
    /// R18: whether another user holds one of the user's proxy addresses. Asked at most once,
    /// and only when a path would enable a mailbox plan.
    pub proxy_conflict: &'a dyn Fn() -> bool,
}

impl Subject<'_> {
    /// The usage location of the user's group paths (R10): its own, else the tenant's.
    #[inline]
    pub fn effective_location(&self, t: &Tenant) -> Option<Loc> {
        self.usage_location.or(t.default_location)
    }
    /// Whether the user holds an applied path of `sku`.
    #[inline]
    pub fn has_applied(&self, sku: SkuIdx) -> bool {
        self.paths.iter().any(|p| p.sku == sku && p.state.applied())
    }
}

/// What a rule decided for one user; the simulator writes it. Its buffers are reused from one
/// decision to the next (a rule clears them first), so a step allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct Decision {
    /// Whether there is anything to write (false: the user stays as it is).
    pub write: bool,
    /// The user's paths after the step, sorted by (SKU, source).
    pub paths: Vec<Path>,
    /// R23 merges: the direct path of the SKU gets the intersection of the two disabled sets,
    /// interned by the simulator in this order.
    pub merges: Vec<(SkuIdx, DisabledIdx, DisabledIdx)>,
    /// Change of the number of paths each group gives (group, delta), in order.
    pub group_paths: Vec<(GroupIdx, i64)>,
    /// The outcomes to emit, in order.
    pub outcomes: Vec<Outcome>,
}

impl Decision {
    /// Empties the decision, keeping its buffers.
    pub fn clear(&mut self) {
        self.write = false;
        self.paths.clear();
        self.merges.clear();
        self.group_paths.clear();
        self.outcomes.clear();
    }
}

#[cfg(test)]
mod tests;
