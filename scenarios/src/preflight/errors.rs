//! Paths the pre-flight predicts in error: they hold no seat and enable no plan until they are
//! evaluated again, by R21 (the user's own path set changed) or a reprocess (R22), as in the
//! service; units bought or data fixed retry nothing by themselves.

use super::model::Model;
use engine::catalog::PlanSet;
use engine::prelude::*;
use std::collections::BTreeMap;

/// Why a path is predicted in error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fail {
    /// CountViolation (R12): no unit was free.
    Count,
    /// MutuallyExclusiveViolation (R13).
    Exclusive,
    /// ProhibitedInUsageLocationViolation (R17).
    Location,
    /// UniquenessViolation (R18).
    Proxy,
    /// `Other` (R11): another licence of the same group failed for the user.
    Other,
}

impl Model<'_> {
    /// Predicts a path in error (`Other` does not replace a path's own error, R11).
    pub fn fail(&mut self, u: UserIdx, sku: SkuIdx, src: Source, why: Fail) {
        if why == Fail::Other {
            self.failed.entry((u, sku, src)).or_insert(why);
        } else {
            self.failed.insert((u, sku, src), why);
        }
    }

    /// Forgets the predicted error of one path (it is gone).
    pub fn unfail(&mut self, u: UserIdx, sku: SkuIdx, src: Source) {
        self.failed.remove(&(u, sku, src));
    }

    /// Forgets the predicted errors of a user's paths from `src` (the paths are gone).
    pub fn forget(&mut self, u: UserIdx, src: Option<Source>) {
        let keys: Vec<(UserIdx, SkuIdx, Source)> = self
            .failed
            .range((u, 0, Source::Direct)..=(u, SkuIdx::MAX, Source::Group(GroupIdx::MAX)))
            .map(|(k, _)| *k)
            .filter(|(_, _, s)| src.is_none_or(|x| x == *s))
            .collect();
        for k in keys {
            self.failed.remove(&k);
        }
    }

    /// Evaluates the users' paths in error again, in id order (R21 when their own path set
    /// changed, R22 for a reprocess; `only`: just the paths from that source): a
    /// CountViolation heals if a unit is free now, a MutuallyExclusiveViolation if the other
    /// plan is gone, and `Other` with the last error of its group (R11).
    pub fn retry(&mut self, users: &[UserIdx], only: Option<Source>) {
        let mut counts: BTreeMap<SkuIdx, u64> = BTreeMap::new();
        for &u in users {
            let entries: Vec<((UserIdx, SkuIdx, Source), Fail)> = self
                .failed
                .range((u, 0, Source::Direct)..=(u, SkuIdx::MAX, Source::Group(GroupIdx::MAX)))
                .filter(|((_, _, s), _)| only.is_none_or(|x| x == *s))
                .map(|(k, v)| (*k, *v))
                .collect();
            for ((_, sku, src), why) in &entries {
                let lic = || {
                    self.intents(u)
                        .into_iter()
                        .find(|((s, _), x)| s == sku && x == src)
                        .map(|(l, _)| self.enabled(l))
                        .unwrap_or_default()
                };
                let healed = match why {
                    Fail::Other => false,
                    Fail::Location => {
                        let loc = match src {
                            Source::Direct => self.location(u),
                            Source::Group(_) => {
                                self.location(u).or(self.sc.tenant.default_usage_location)
                            }
                        };
                        self.cat.prohibited_in(&lic(), loc).is_none()
                    }
                    Fail::Proxy => !self.proxy_shared(u),
                    Fail::Count => {
                        let c = match counts.get(sku) {
                            Some(c) => *c,
                            None => self.holders(*sku).1,
                        };
                        let free = c < self.subs[*sku as usize].assignable();
                        counts.insert(*sku, c + u64::from(free));
                        free
                    }
                    Fail::Exclusive => {
                        let mut others = PlanSet::EMPTY;
                        for ((s, d), _) in self.applied(u) {
                            if s != *sku {
                                others.union_with(&self.enabled((s, d)));
                            }
                        }
                        self.cat.exclusive_conflict(&lic(), &others).is_none()
                    }
                };
                if healed {
                    self.failed.remove(&(u, *sku, *src));
                }
            }
            // R11: the group's other licences apply once none of its paths is in error.
            for (_, _, src) in entries.iter().map(|(k, _)| *k) {
                let blocked = self
                    .failed
                    .iter()
                    .any(|((x, _, s), why)| *x == u && *s == src && *why != Fail::Other);
                if !blocked {
                    self.forget(u, Some(src));
                }
            }
        }
    }
}
