//! Seat accounting (R03) and loss of service (SPEC 1.1, 6): `begin`/`finish` bracket a step and
//! settle seats and service families from the before- and after-image, so changes inside one
//! step never open an outage (R19). Also the subscriptions' units (R28) and the seats a deleted
//! user frees (R20).

use super::{Core, Sim, subscription};
use crate::catalog::{Catalog, PlanSet};
use crate::event::*;
use crate::model::*;
use crate::{SkuIdx, UserIdx};
use smallvec::SmallVec;
use std::collections::BTreeSet;

/// Before-image of a user for one processing step: what it had enabled and consumed.
pub(super) struct Snapshot {
    /// The user's applied paths: (SKU, disabled set), in path order. Interned disabled sets never
    /// change, so this determines the seats and plans the user had.
    applied: AppliedPaths,
}

/// A user's applied paths, inline: users hold a handful of paths.
type AppliedPaths = SmallVec<[(SkuIdx, DisabledIdx); 6]>;

/// Service families lost and not restored yet.
#[derive(Default)]
pub(super) struct Seats {
    /// (user, service family) pairs lost and not yet restored (for `ServiceRestored`).
    lost: BTreeSet<(UserIdx, u16)>,
}

/// (SKU, disabled set) of the user's applied paths, in path order (sorted by SKU).
#[inline]
fn applied_paths(st: &State, u: UserIdx) -> impl Iterator<Item = (SkuIdx, DisabledIdx)> + '_ {
    st.users[u as usize]
        .paths
        .iter()
        .filter(|p| p.state.applied())
        .map(|p| (p.sku, p.disabled))
}

/// The service families a list of applied paths enables.
fn families(cat: &Catalog, st: &State, applied: &[(SkuIdx, DisabledIdx)]) -> PlanSet {
    // A family is enabled when any of its plans is: the union over paths of each path's
    // families, precomputed per SKU for paths with nothing disabled.
    let mut fam = PlanSet::EMPTY;
    for (s, d) in applied {
        if *d == 0 {
            fam.union_with(&cat.sku_families[*s as usize]);
        } else {
            fam.union_with(&cat.families_of(&st.enabled(cat, *s, *d)));
        }
    }
    fam
}

impl Seats {
    /// Captures what a user has enabled and consumes before a step.
    #[inline]
    pub(super) fn begin(st: &State, u: UserIdx) -> Snapshot {
        Snapshot {
            applied: applied_paths(st, u).collect(),
        }
    }

    /// Settles a step: seats (R03) and loss or return of service families.
    pub(super) fn finish(
        &mut self,
        cat: &Catalog,
        st: &mut State,
        core: &mut Core,
        u: UserIdx,
        snap: Snapshot,
    ) {
        // Unchanged applied paths: the same seats and plans, nothing to settle.
        if applied_paths(st, u).eq(snap.applied.iter().copied()) {
            return;
        }
        let after: AppliedPaths = applied_paths(st, u).collect();
        // Seats (R03): a user consumes one unit of each SKU it has an applied path of. Both
        // lists are sorted by SKU, so one merge finds the SKUs gained and lost, in SKU order.
        let (mut i, mut j) = (0, 0);
        let (b, a) = (&snap.applied, &after);
        while i < b.len() || j < a.len() {
            let sb = b.get(i).map(|x| x.0);
            let sa = a.get(j).map(|x| x.0);
            let s = match (sb, sa) {
                (Some(x), Some(y)) => x.min(y),
                (Some(x), None) => x,
                (None, Some(y)) => y,
                (None, None) => unreachable!(),
            };
            let had = sb == Some(s);
            let has = sa == Some(s);
            while i < b.len() && b[i].0 == s {
                i += 1;
            }
            while j < a.len() && a[j].0 == s {
                j += 1;
            }
            if had == has {
                continue;
            }
            let sub = &mut st.subscriptions[s as usize];
            if has {
                sub.consumed += 1;
            } else {
                sub.consumed -= 1;
            }
            let c = sub.consumed;
            core.emit(Outcome::Consumed {
                sku: s,
                consumed: c,
            });
        }
        // Service families (SPEC 1.1). A step that removed or changed no applied path only adds
        // plans, so nothing can be lost; and only a family the user had lost can be restored
        // (first grants are not events). Most steps are neither: no family sets are built.
        let removed = snap.applied.iter().any(|x| !after.contains(x));
        let had_lost = self.lost.range((u, 0)..=(u, u16::MAX)).next().is_some();
        if !removed && !had_lost {
            return;
        }
        let before_fam = families(cat, st, &snap.applied);
        let fam = families(cat, st, &after);
        if fam != before_fam {
            for f in before_fam.minus(&fam).iter() {
                self.lost.insert((u, f));
                core.emit(Outcome::ServiceLost { user: u, family: f });
            }
            if had_lost {
                for f in fam.minus(&before_fam).iter() {
                    if self.lost.remove(&(u, f)) {
                        core.emit(Outcome::ServiceRestored { user: u, family: f });
                    }
                }
            }
        }
    }

    /// R20: a deleted user's paths go and its seats are freed (a deletion is no loss of
    /// service: its lost families are forgotten).
    pub(super) fn release_user(&mut self, st: &mut State, core: &mut Core, u: UserIdx) {
        let lost: Vec<(UserIdx, u16)> = self.lost.range((u, 0)..=(u, u16::MAX)).copied().collect();
        for k in lost {
            self.lost.remove(&k);
        }
        let paths = std::mem::take(&mut st.users[u as usize].paths);
        let mut skus: Vec<SkuIdx> = Vec::new();
        for p in &paths {
            if let Source::Group(g) = p.source {
                st.groups[g as usize].path_count -= 1;
            }
            if p.state.applied() && !skus.contains(&p.sku) {
                skus.push(p.sku);
            }
            core.emit(Outcome::PathRemoved {
                user: u,
                sku: p.sku,
                source: p.source,
            });
        }
        skus.sort();
        for s in skus {
            let sub = &mut st.subscriptions[s as usize];
            sub.consumed -= 1;
            let c = sub.consumed;
            core.emit(Outcome::Consumed {
                sku: s,
                consumed: c,
            });
        }
    }

    /// R28: units bought (or returned, when negative).
    pub(super) fn purchase(st: &mut State, sku: SkuIdx, units: i64) -> Result<(), Rejection> {
        let s = subscription(st, sku)?;
        s.exists = true;
        s.prepaid.enabled = (s.prepaid.enabled as i64 + units).clamp(0, u32::MAX as i64) as u32;
        Ok(())
    }

    /// R28: the subscription's units set.
    pub(super) fn set_units(
        st: &mut State,
        sku: SkuIdx,
        units: PrepaidUnits,
    ) -> Result<(), Rejection> {
        let s = subscription(st, sku)?;
        s.exists = true;
        s.prepaid = units;
        Ok(())
    }
}

impl Sim {
    /// The before-image of a step (see [`Seats::finish`]).
    #[inline]
    pub(super) fn begin(&self, u: UserIdx) -> Snapshot {
        Seats::begin(&self.state, u)
    }

    /// Settles a step begun with [`Sim::begin`].
    #[inline]
    pub(super) fn finish(&mut self, u: UserIdx, snap: Snapshot) {
        let (cat, st) = (&self.catalog, &mut self.state);
        self.seats.finish(cat, st, &mut self.core, u, snap);
    }
}
