//! Checks the other rules share: the checks of one path against the end state in R24's order
//! (R17, R12, R13, R14, R18), R15 on a group's licences, and R01 on a licence's disabled plans.

use super::{License, Tenant};
use crate::catalog::{Catalog, PlanSet};
use crate::event::*;
use crate::{Loc, SkuIdx};

/// The first failed check of a path: its error and the plans involved (`None`: it passes).
pub type PathCheck = Option<(ErrorKind, Vec<u16>)>;

/// R18's question about the user, asked at most once (the answer is kept) and only when a path
/// would enable a mailbox plan.
pub struct ProxyConflict<'a> {
    ask: &'a dyn Fn() -> bool,
    known: Option<bool>,
}

impl<'a> ProxyConflict<'a> {
    #[inline]
    pub fn new(ask: &'a dyn Fn() -> bool) -> ProxyConflict<'a> {
        ProxyConflict { ask, known: None }
    }
    #[inline]
    pub fn get(&mut self) -> bool {
        *self.known.get_or_insert_with(|| (self.ask)())
    }
}

/// A path to check against the end state of a step or call.
pub struct Candidate<'p> {
    pub sku: SkuIdx,
    /// The plans the path would enable.
    pub plans: &'p PlanSet,
    /// The plans enabled through every other SKU in the end state (R13).
    pub other: &'p PlanSet,
    /// Every plan enabled in the end state (R14).
    pub all: &'p PlanSet,
    /// Whether the path needs a new seat (the user does not consume the SKU yet, R12).
    pub needs_seat: bool,
}

/// The checks of one path in R24's order, first failure wins: usage location (R17), units
/// (R12), mutual exclusion (R13), dependency (R14), proxy uniqueness (R18).
#[inline]
pub fn check_path(
    t: &Tenant,
    c: &Candidate,
    loc: Option<Loc>,
    proxy: &mut ProxyConflict,
) -> PathCheck {
    let cat = t.catalog;
    if let Some(p) = cat.prohibited_in(c.plans, loc) {
        return Some((ErrorKind::ProhibitedInUsageLocationViolation, vec![p]));
    }
    if c.needs_seat {
        let sub = &t.subscriptions[c.sku as usize];
        if sub.consumed >= sub.prepaid.assignable() {
            return Some((ErrorKind::CountViolation, vec![]));
        }
    }
    if let Some((a, b)) = cat.exclusive_conflict(c.plans, c.other) {
        return Some((ErrorKind::MutuallyExclusiveViolation, vec![a, b]));
    }
    if let Some((d, p)) = cat.missing_dependency(c.plans, c.all) {
        return Some((ErrorKind::DependencyViolation, vec![d, p]));
    }
    if c.plans.intersects(&cat.mailbox) && proxy.get() {
        return Some((
            ErrorKind::UniquenessViolation,
            c.plans.intersect(&cat.mailbox).iter().collect(),
        ));
    }
    None
}

/// The plans of every path in `end` except those of `sku`.
#[inline]
pub fn plans_except(t: &Tenant, end: &[License], sku: SkuIdx) -> PlanSet {
    let mut s = PlanSet::EMPTY;
    for (k, d) in end {
        if *k != sku {
            t.add_enabled(&mut s, *k, *d);
        }
    }
    s
}

/// The plans of every path in `end`.
#[inline]
pub fn plans_all(t: &Tenant, end: &[License]) -> PlanSet {
    let mut s = PlanSet::EMPTY;
    for (k, d) in end {
        t.add_enabled(&mut s, *k, *d);
    }
    s
}

/// R15: every dependent plan a group's licences enable needs a prerequisite enabled by the
/// same group; otherwise the group call is rejected, naming the first SKU that enables it.
pub fn group_dependencies(t: &Tenant, licenses: &[License]) -> Result<(), Rejection> {
    let mut group_plans = PlanSet::EMPTY;
    for (s, d) in licenses {
        group_plans.union_with(&t.enabled(*s, *d));
    }
    if let Some((dep, pre)) = t.catalog.missing_dependency(&group_plans, &group_plans) {
        let sku = licenses
            .iter()
            .find(|(s, d)| t.enabled(*s, *d).contains(dep))
            .map(|(s, _)| *s);
        return Err(Rejection::with(
            CallError::DependentServiceMissing,
            sku,
            vec![dep, pre],
        ));
    }
    Ok(())
}

/// R01: a licence names a SKU of the catalogue and disables only plans of that SKU. Returns the
/// set of plans it disables.
#[inline]
pub fn license_disabled(catalog: &Catalog, l: &LicenseSpec) -> Result<PlanSet, Rejection> {
    let Some(sku) = catalog.skus.get(l.sku as usize) else {
        return Err(Rejection::new(CallError::UnknownSku));
    };
    let mut set = PlanSet::EMPTY;
    for p in &l.disabled {
        if (*p as usize) >= catalog.plans.len() || !sku.plans.contains(*p) {
            return Err(Rejection::with(
                CallError::UnknownPlan,
                Some(l.sku),
                vec![*p],
            ));
        }
        set.insert(*p);
    }
    Ok(set)
}
