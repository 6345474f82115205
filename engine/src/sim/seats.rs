//! Seat accounting (R03) and loss of service: `begin`/`finish` bracket a processing step and
//! settle seats and service families from the before- and after-image.

use super::Sim;
use crate::catalog::PlanSet;
use crate::event::*;
use crate::model::*;
use crate::{SkuIdx, UserIdx};
use smallvec::SmallVec;

/// Before-image of a user for one processing step: what it had enabled and consumed.
pub(crate) struct Snapshot {
    /// The user's applied paths: (SKU, disabled set), in path order. Interned disabled sets never
    /// change, so this determines the seats and plans the user had.
    applied: AppliedPaths,
}

/// A user's applied paths, inline: users hold a handful of paths.
type AppliedPaths = SmallVec<[(SkuIdx, DisabledIdx); 6]>;

impl Sim {
    /// Captures what a user has enabled and consumes before a step.
    pub(crate) fn begin(&self, u: UserIdx) -> Snapshot {
        Snapshot {
            applied: self.applied_paths(u).collect(),
        }
    }

    /// (SKU, disabled set) of the user's applied paths, in path order (sorted by SKU).
    pub(super) fn applied_paths(
        &self,
        u: UserIdx,
    ) -> impl Iterator<Item = (SkuIdx, DisabledIdx)> + '_ {
        self.state.users[u as usize]
            .paths
            .iter()
            .filter(|p| p.state.applied())
            .map(|p| (p.sku, p.disabled))
    }

    /// The service families a list of applied paths enables.
    pub(super) fn families(&self, applied: &[(SkuIdx, DisabledIdx)]) -> PlanSet {
        // A family is enabled when any of its plans is: the union over paths of each path's
        // families, precomputed per SKU for paths with nothing disabled.
        let mut fam = PlanSet::EMPTY;
        for (s, d) in applied {
            if *d == 0 {
                fam.union_with(&self.catalog.sku_families[*s as usize]);
            } else {
                fam.union_with(&self.catalog.families_of(&self.state.enabled(
                    &self.catalog,
                    *s,
                    *d,
                )));
            }
        }
        fam
    }

    /// Settles a step: seats (R03) and loss or return of service families.
    pub(crate) fn finish(&mut self, u: UserIdx, snap: Snapshot) {
        // Unchanged applied paths: the same seats and plans, nothing to settle.
        if self.applied_paths(u).eq(snap.applied.iter().copied()) {
            return;
        }
        let after: AppliedPaths = self.applied_paths(u).collect();
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
            let sub = &mut self.state.subscriptions[s as usize];
            if has {
                sub.consumed += 1;
            } else {
                sub.consumed -= 1;
            }
            let c = sub.consumed;
            self.emit(Outcome::Consumed {
                sku: s,
                consumed: c,
            });
        }
        // Service families (SPEC 1.1). A step that removed or changed no applied path only adds
        // plans, so nothing can be lost; and only a family the user had lost can be restored
        // (first grants are not events). Most steps are neither: no family sets are built.
        let removed = snap.applied.iter().any(|x| !after.contains(x));
        let had_lost = self
            .state
            .lost
            .range((u, 0)..=(u, u16::MAX))
            .next()
            .is_some();
        if !removed && !had_lost {
            return;
        }
        let before_fam = self.families(&snap.applied);
        let fam = self.families(&after);
        if fam != before_fam {
            for f in before_fam.minus(&fam).iter() {
                self.state.lost.insert((u, f));
                self.emit(Outcome::ServiceLost { user: u, family: f });
            }
            if had_lost {
                for f in fam.minus(&before_fam).iter() {
                    if self.state.lost.remove(&(u, f)) {
                        self.emit(Outcome::ServiceRestored { user: u, family: f });
                    }
                }
            }
        }
    }
}
