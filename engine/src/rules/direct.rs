//! A direct `assignLicense(user, add, remove)` (R05-R07, R12-R18, R16 on removal, R19): checked
//! whole against the state the call produces by itself; on any violation nothing changes.

use super::checks::{Candidate, ProxyConflict, check_path, plans_all, plans_except};
use super::{Decision, License, Subject, Tenant};
use crate::SkuIdx;
use crate::catalog::PlanSet;
use crate::event::*;
use crate::model::Path;
use smallvec::SmallVec;

/// Checks a direct call in SPEC 10's order (R06, then R07 and `LicenseNotAssigned`, then each
/// added SKU in R24's order, then R16 on what the call removes) and, if it passes, fills `d`
/// with the user's paths after it. `add` holds resolved licences (R01 checked), one per SKU.
pub fn direct_call(
    t: &Tenant,
    s: &Subject,
    add: &[License],
    remove: &[SkuIdx],
    d: &mut Decision,
) -> Result<(), Rejection> {
    d.clear();
    let catalog = t.catalog;
    if !add.is_empty() && s.usage_location.is_none() {
        return Err(Rejection::new(CallError::InvalidUsageLocation));
    }
    for sku in remove {
        if add.iter().any(|(a, _)| a == sku) {
            return Err(Rejection::with(CallError::InvalidValue, Some(*sku), vec![]));
        }
        if !s.paths.iter().any(|p| p.sku == *sku) {
            return Err(Rejection::with(
                CallError::LicenseNotAssigned,
                Some(*sku),
                vec![],
            ));
        }
        if !s
            .paths
            .iter()
            .any(|p| p.sku == *sku && p.source == Source::Direct)
        {
            return Err(Rejection::with(
                CallError::InheritedLicenseCannotBeRemoved,
                Some(*sku),
                vec![],
            ));
        }
    }
    let touched = |p: &Path| {
        p.source == Source::Direct
            && (remove.contains(&p.sku) || add.iter().any(|(s, _)| *s == p.sku))
    };
    let mut end: SmallVec<[License; 4]> = SmallVec::new();
    let mut end_active = PlanSet::EMPTY;
    let mut before_all = PlanSet::EMPTY;
    for p in s.paths {
        if !p.state.applied() {
            continue;
        }
        t.add_enabled(&mut before_all, p.sku, p.disabled);
        if touched(p) {
            continue;
        }
        if p.state == PathState::Active {
            t.add_enabled(&mut end_active, p.sku, p.disabled);
        }
        end.push((p.sku, p.disabled));
    }
    for (sku, dis) in add {
        t.add_enabled(&mut end_active, *sku, *dis);
        end.push((*sku, *dis));
    }
    let end_all = plans_all(t, &end);
    let mut granted: SmallVec<[SkuIdx; 4]> = SmallVec::new();
    let mut proxy = ProxyConflict::new(s.proxy_conflict);
    for (sku, dis) in add {
        let plans = t.enabled(*sku, *dis);
        let other = plans_except(t, &end, *sku);
        let needs_seat = !s.has_applied(*sku) && !granted.contains(sku);
        let c = Candidate {
            sku: *sku,
            plans: &plans,
            other: &other,
            all: &end_all,
            needs_seat,
        };
        if let Some((k, plans)) = check_path(t, &c, s.usage_location, &mut proxy) {
            return Err(Rejection::with(CallError::License(k), Some(*sku), plans));
        }
        if needs_seat {
            granted.push(*sku);
        }
    }
    // R16: a removal may not leave an enabled dependent plan without its prerequisite.
    for dep in &catalog.dependencies {
        if end_active.contains(dep.dependent)
            && !dep.prerequisites.intersects(&end_all)
            && dep.prerequisites.intersects(&before_all)
        {
            let pre = dep.prerequisites.intersect(&before_all).iter().next();
            let sku = remove.first().copied();
            return Err(Rejection::with(
                CallError::License(ErrorKind::DependencyViolation),
                sku,
                std::iter::once(dep.dependent).chain(pre).collect(),
            ));
        }
    }
    decide(t, s, add, remove, d);
    Ok(())
}

/// The user's paths after an accepted call: removed direct paths go, added SKUs replace or
/// create the direct path (R05: adding a SKU held directly replaces its disabled plans).
fn decide(t: &Tenant, s: &Subject, add: &[License], remove: &[SkuIdx], d: &mut Decision) {
    let (u, now) = (s.user, t.now);
    d.write = true;
    let (paths, out) = (&mut d.paths, &mut d.outcomes);
    for p in s.paths {
        let gone = p.source == Source::Direct && remove.contains(&p.sku);
        if gone {
            out.push(Outcome::PathRemoved {
                user: u,
                sku: p.sku,
                source: Source::Direct,
            });
        } else {
            paths.push(*p);
        }
    }
    for (sku, dis) in add {
        match paths
            .iter()
            .position(|p| p.sku == *sku && p.source == Source::Direct)
        {
            Some(i) => {
                let p = &mut paths[i];
                if p.disabled != *dis || p.state != PathState::Active {
                    p.disabled = *dis;
                    p.state = PathState::Active;
                    p.error = ErrorKind::None;
                    p.updated_ms = now;
                    out.push(Outcome::PathSet {
                        user: u,
                        sku: *sku,
                        source: Source::Direct,
                        state: PathState::Active,
                        error: ErrorKind::None,
                    });
                }
            }
            None => {
                paths.push(Path {
                    sku: *sku,
                    state: PathState::Active,
                    error: ErrorKind::None,
                    source: Source::Direct,
                    disabled: *dis,
                    updated_ms: now,
                });
                out.push(Outcome::PathSet {
                    user: u,
                    sku: *sku,
                    source: Source::Direct,
                    state: PathState::Active,
                    error: ErrorKind::None,
                });
            }
        }
    }
    paths.sort_by_key(|p| (p.sku, p.source));
}
