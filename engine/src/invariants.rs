//! SPEC section 9 invariants, checked by tests and by `--check` runs after every event.

use crate::catalog::{Catalog, PlanSet};
use crate::event::{PathState, ProcessingState, Source};
use crate::model::State;
use crate::{SkuIdx, UserIdx};

/// Checks invariants 1-4 on a state; returns a description of each violation.
pub fn check(catalog: &Catalog, st: &State) -> Vec<String> {
    let mut v = Vec::new();
    // 1. consumedUnits equals the number of users with an applied path of the SKU.
    let mut counts = vec![0u32; catalog.skus.len()];
    for u in st.users.iter().filter(|u| u.alive) {
        let mut seen: Vec<SkuIdx> = Vec::new();
        for p in &u.paths {
            if p.state.applied() && !seen.contains(&p.sku) {
                seen.push(p.sku);
                counts[p.sku as usize] += 1;
            }
        }
        // No two paths of one (sku, source).
        for w in u.paths.windows(2) {
            if w[0].sku == w[1].sku && w[0].source == w[1].source {
                v.push(format!(
                    "user {} holds two paths of {} from one source",
                    u.name,
                    catalog.sku(w[0].sku).part_number
                ));
            }
        }
    }
    for (s, sub) in st.subscriptions.iter().enumerate() {
        if sub.consumed != counts[s] {
            v.push(format!(
                "{}: consumedUnits {} but {} users hold it",
                catalog.skus[s].part_number, sub.consumed, counts[s]
            ));
        }
    }
    for (ui, u) in st.users.iter().enumerate().filter(|(_, u)| u.alive) {
        // 2. No two enabled plans of one exclusive set through different SKUs.
        let applied: Vec<(SkuIdx, PlanSet)> = u
            .paths
            .iter()
            .filter(|p| p.state.applied())
            .map(|p| (p.sku, st.enabled(catalog, p.sku, p.disabled)))
            .collect();
        for (s, plans) in &applied {
            let mut other = PlanSet::EMPTY;
            for (s2, p2) in &applied {
                if s2 != s {
                    other.union_with(p2);
                }
            }
            if let Some((a, b)) = catalog.exclusive_conflict(plans, &other) {
                v.push(format!(
                    "user {} has exclusive plans {} and {} enabled",
                    u.name,
                    catalog.plan(a).name,
                    catalog.plan(b).name
                ));
            }
        }
        // 3. Every enabled dependent plan has a prerequisite, except on ActiveWithError paths.
        let mut all = PlanSet::EMPTY;
        for (_, p) in &applied {
            all.union_with(p);
        }
        for p in u.paths.iter().filter(|p| p.state == PathState::Active) {
            let e = st.enabled(catalog, p.sku, p.disabled);
            if let Some((d, _)) = catalog.missing_dependency(&e, &all) {
                v.push(format!(
                    "user {} has {} enabled without a prerequisite",
                    u.name,
                    catalog.plan(d).name
                ));
            }
        }
        let _ = ui as UserIdx;
    }
    // 4. R30: every ProcessingComplete group gives each direct member one path per SKU.
    for (gi, g) in st.groups.iter().enumerate().filter(|(_, g)| g.alive) {
        if g.state != ProcessingState::ProcessingComplete {
            continue;
        }
        for m in &g.members {
            let u = &st.users[*m as usize];
            for (s, _) in &g.licenses {
                let n = u
                    .paths
                    .iter()
                    .filter(|p| p.sku == *s && p.source == Source::Group(gi as u32))
                    .count();
                if n != 1 {
                    v.push(format!(
                        "group {} is ProcessingComplete but member {} holds {} paths of {}",
                        g.name,
                        u.name,
                        n,
                        catalog.sku(*s).part_number
                    ));
                }
            }
        }
    }
    v
}
