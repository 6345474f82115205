//! [`PlanSet`]: a fixed-size bitset of service plans, so that the checks of SPEC 2 are a few
//! word operations.

use crate::PlanIdx;
use std::fmt;

/// Words in a [`PlanSet`]: the catalogue holds at most `64 * PLAN_WORDS` distinct service plans.
pub const PLAN_WORDS: usize = 32;
/// The largest number of distinct service plans a catalogue may hold.
pub const MAX_PLANS: usize = 64 * PLAN_WORDS;

/// A fixed-size bitset of service plans (by [`PlanIdx`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlanSet(pub [u64; PLAN_WORDS]);

impl Default for PlanSet {
    fn default() -> Self {
        PlanSet([0; PLAN_WORDS])
    }
}

impl fmt::Debug for PlanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl PlanSet {
    pub const EMPTY: PlanSet = PlanSet([0; PLAN_WORDS]);

    pub fn from_plans(plans: impl IntoIterator<Item = PlanIdx>) -> PlanSet {
        let mut s = PlanSet::EMPTY;
        for p in plans {
            s.insert(p);
        }
        s
    }
    #[inline]
    pub fn insert(&mut self, p: PlanIdx) {
        self.0[p as usize / 64] |= 1u64 << (p % 64);
    }
    #[inline]
    pub fn remove(&mut self, p: PlanIdx) {
        self.0[p as usize / 64] &= !(1u64 << (p % 64));
    }
    #[inline]
    pub fn contains(&self, p: PlanIdx) -> bool {
        self.0[p as usize / 64] & (1u64 << (p % 64)) != 0
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    #[inline]
    pub fn union_with(&mut self, o: &PlanSet) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a |= *b;
        }
    }
    #[inline]
    pub fn intersect(&self, o: &PlanSet) -> PlanSet {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(o.0.iter()) {
            *a &= *b;
        }
        r
    }
    #[inline]
    pub fn minus(&self, o: &PlanSet) -> PlanSet {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(o.0.iter()) {
            *a &= !*b;
        }
        r
    }
    #[inline]
    pub fn intersects(&self, o: &PlanSet) -> bool {
        self.0.iter().zip(o.0.iter()).any(|(a, b)| a & b != 0)
    }
    pub fn iter(&self) -> impl Iterator<Item = PlanIdx> + '_ {
        self.0.iter().enumerate().flat_map(|(i, w)| {
            let mut w = *w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some((i as u32 * 64 + b) as PlanIdx)
            })
        })
    }
}
