//! The built catalogue: dense indices for SKUs, plans and service families, plan sets as
//! [`PlanSet`] bitsets, and the queries the rules ask of it (R13, R14, R17).

use super::planset::{MAX_PLANS, PlanSet};
use super::spec::{CatalogSpec, RulesProfile};
use super::{CatalogError, cerr};
use crate::{Loc, PlanIdx, SkuIdx};
use std::collections::BTreeMap;

/// The largest number of SKUs a catalogue may hold.
pub const MAX_SKUS: usize = u16::MAX as usize;

#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub guid: String,
    pub friendly_name: String,
    pub family: u16,
}

#[derive(Clone, Debug)]
pub struct Sku {
    pub part_number: String,
    pub guid: String,
    pub display_name: String,
    pub plans: PlanSet,
    /// The SKU's plans in catalogue order.
    pub plan_list: Vec<PlanIdx>,
}

#[derive(Clone, Debug)]
pub struct Dependency {
    pub dependent: PlanIdx,
    pub prerequisites: PlanSet,
}

/// The built catalogue.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub spec: CatalogSpec,
    pub skus: Vec<Sku>,
    pub plans: Vec<Plan>,
    pub families: Vec<String>,
    sku_index: BTreeMap<String, SkuIdx>,
    plan_index: BTreeMap<String, PlanIdx>,
    pub exclusive_sets: Vec<(String, PlanSet)>,
    pub dependencies: Vec<Dependency>,
    /// Every plan that has a dependency.
    pub dependents: PlanSet,
    /// Every plan that is a prerequisite of some dependency.
    pub prerequisites: PlanSet,
    pub prohibited: BTreeMap<PlanIdx, Vec<Loc>>,
    pub prohibited_plans: PlanSet,
    pub mailbox: PlanSet,
    /// Union of all exclusive sets.
    pub exclusive_any: PlanSet,
    /// The service families of each SKU with nothing disabled.
    pub sku_families: Vec<PlanSet>,
    fingerprint: u64,
}

/// The default service family of a plan: its name without a tier suffix (`_E1`, `_E3`, `_P2`,
/// `_1`, `_PLAN2`, ...), so that the tiers of one service (FORMS_PLAN_E1 and FORMS_PLAN_E3,
/// WHITEBOARD_PLAN1 and WHITEBOARD_PLAN2, AAD_PREMIUM and AAD_PREMIUM_P2) are one family and an
/// upgrade from one tier to the next is no loss of service. SPEC 1.1 makes every other plan a
/// family of its own; read literally, E1 -> E3 in one call would "lose" Forms, Stream, To Do and a
/// dozen more, which the real service does not do (see docs/decisions.md).
pub fn tier_family(name: &str) -> &str {
    let Some(pos) = name.rfind('_') else {
        return name;
    };
    let tail = &name[pos + 1..];
    let digits = tail
        .strip_prefix("PLAN")
        .or_else(|| tail.strip_prefix('E'))
        .or_else(|| tail.strip_prefix('P'))
        .unwrap_or(tail);
    if pos > 0 && digits.len() == 1 && digits.as_bytes()[0].is_ascii_digit() {
        &name[..pos]
    } else {
        name
    }
}

/// Parses an ISO 3166 alpha-2 code (case-insensitive) into a [`Loc`].
pub fn parse_loc(s: &str) -> Option<Loc> {
    let b = s.as_bytes();
    if b.len() == 2 && b.iter().all(|c| c.is_ascii_alphabetic()) {
        Some([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
    } else {
        None
    }
}

pub fn loc_str(l: Loc) -> String {
    String::from_utf8_lossy(&l).into_owned()
}

impl Catalog {
    pub fn build(spec: CatalogSpec) -> Result<Catalog, CatalogError> {
        let mut plans: Vec<Plan> = Vec::new();
        let mut plan_index: BTreeMap<String, PlanIdx> = BTreeMap::new();
        let mut skus = Vec::new();
        let mut sku_index = BTreeMap::new();
        let fam_override: BTreeMap<&str, &str> = spec
            .families
            .iter()
            .map(|(p, f)| (p.as_str(), f.as_str()))
            .collect();
        let mut families: Vec<String> = Vec::new();
        let mut family_index: BTreeMap<String, u16> = BTreeMap::new();
        for s in &spec.skus {
            if sku_index.contains_key(&s.part_number) {
                return Err(cerr(0, format!("SKU {} defined twice", s.part_number)));
            }
            if skus.len() >= MAX_SKUS {
                return Err(cerr(0, format!("more than {MAX_SKUS} SKUs")));
            }
            let mut set = PlanSet::EMPTY;
            let mut list = Vec::new();
            for p in &s.plans {
                let idx = match plan_index.get(&p.name) {
                    Some(i) => *i,
                    None => {
                        if plans.len() >= MAX_PLANS {
                            return Err(cerr(
                                0,
                                format!("more than {MAX_PLANS} distinct service plans (the limit)"),
                            ));
                        }
                        let fname = fam_override
                            .get(p.name.as_str())
                            .copied()
                            .unwrap_or_else(|| tier_family(&p.name))
                            .to_string();
                        let next = families.len() as u16;
                        let fam = *family_index.entry(fname.clone()).or_insert_with(|| {
                            families.push(fname);
                            next
                        });
                        plans.push(Plan {
                            name: p.name.clone(),
                            guid: p.guid.clone(),
                            friendly_name: p.friendly_name.clone(),
                            family: fam,
                        });
                        let i = (plans.len() - 1) as PlanIdx;
                        plan_index.insert(p.name.clone(), i);
                        i
                    }
                };
                if !set.contains(idx) {
                    set.insert(idx);
                    list.push(idx);
                }
            }
            sku_index.insert(s.part_number.clone(), skus.len() as SkuIdx);
            skus.push(Sku {
                part_number: s.part_number.clone(),
                guid: s.guid.clone(),
                display_name: s.display_name.clone(),
                plans: set,
                plan_list: list,
            });
        }
        let set_of = |names: &[String]| -> PlanSet {
            PlanSet::from_plans(names.iter().filter_map(|n| plan_index.get(n).copied()))
        };
        let exclusive_sets: Vec<(String, PlanSet)> = spec
            .exclusive_sets
            .iter()
            .map(|(n, l)| (n.clone(), set_of(l)))
            .filter(|(_, s)| s.len() >= 2)
            .collect();
        let mut exclusive_any = PlanSet::EMPTY;
        for (_, s) in &exclusive_sets {
            exclusive_any.union_with(s);
        }
        let mut dependencies = Vec::new();
        let mut dependents = PlanSet::EMPTY;
        let mut prerequisites = PlanSet::EMPTY;
        for (d, pre) in &spec.dependencies {
            if let Some(&di) = plan_index.get(d) {
                let p = set_of(pre);
                dependents.insert(di);
                prerequisites.union_with(&p);
                dependencies.push(Dependency {
                    dependent: di,
                    prerequisites: p,
                });
            }
        }
        let mut prohibited: BTreeMap<PlanIdx, Vec<Loc>> = BTreeMap::new();
        let mut prohibited_plans = PlanSet::EMPTY;
        for (p, locs) in &spec.prohibited {
            let Some(&pi) = plan_index.get(p) else {
                continue;
            };
            let entry = prohibited.entry(pi).or_default();
            for l in locs {
                let loc = parse_loc(l).ok_or_else(|| {
                    cerr(
                        0,
                        format!("prohibited location {l:?} of {p} is not ISO 3166 alpha-2"),
                    )
                })?;
                if !entry.contains(&loc) {
                    entry.push(loc);
                }
            }
            entry.sort();
            prohibited_plans.insert(pi);
        }
        let mailbox = set_of(&spec.mailbox_plans);
        let sku_families = skus
            .iter()
            .map(|s| {
                let mut f = PlanSet::EMPTY;
                for p in s.plans.iter() {
                    f.insert(plans[p as usize].family);
                }
                f
            })
            .collect();
        let fingerprint = {
            let bytes = bincode::encode_to_vec(&spec, crate::codec::config())
                .expect("catalogue spec encodes");
            crate::hash::hash_bytes(&bytes)
        };
        Ok(Catalog {
            spec,
            skus,
            plans,
            families,
            sku_index,
            plan_index,
            exclusive_sets,
            dependencies,
            dependents,
            prerequisites,
            prohibited,
            prohibited_plans,
            mailbox,
            exclusive_any,
            sku_families,
            fingerprint,
        })
    }

    /// A stable fingerprint of the catalogue and its rules (hash of the canonical encoding).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
    pub fn profile(&self) -> RulesProfile {
        self.spec.profile
    }
    pub fn sku_by_name(&self, part_number: &str) -> Option<SkuIdx> {
        self.sku_index.get(part_number).copied()
    }
    pub fn plan_by_name(&self, name: &str) -> Option<PlanIdx> {
        self.plan_index.get(name).copied()
    }
    pub fn sku(&self, s: SkuIdx) -> &Sku {
        &self.skus[s as usize]
    }
    pub fn plan(&self, p: PlanIdx) -> &Plan {
        &self.plans[p as usize]
    }
    pub fn sku_names(&self) -> impl Iterator<Item = &str> {
        self.skus.iter().map(|s| s.part_number.as_str())
    }
    pub fn plan_names(&self) -> impl Iterator<Item = &str> {
        self.plans.iter().map(|p| p.name.as_str())
    }
    pub fn family_name(&self, f: u16) -> &str {
        &self.families[f as usize]
    }
    pub fn family_by_name(&self, name: &str) -> Option<u16> {
        self.families
            .iter()
            .position(|f| f == name)
            .map(|i| i as u16)
    }
    /// The service families a set of plans enables.
    pub fn families_of(&self, plans: &PlanSet) -> PlanSet {
        let mut f = PlanSet::EMPTY;
        for p in plans.iter() {
            f.insert(self.plans[p as usize].family);
        }
        f
    }
    /// The prerequisites of `dependent`, if it is a dependent plan.
    pub fn prerequisites_of(&self, dependent: PlanIdx) -> Option<&PlanSet> {
        self.dependencies
            .iter()
            .find(|d| d.dependent == dependent)
            .map(|d| &d.prerequisites)
    }
    /// Whether `loc` is prohibited for any plan in `plans` (R17); returns the first such plan.
    pub fn prohibited_in(&self, plans: &PlanSet, loc: Option<Loc>) -> Option<PlanIdx> {
        let loc = loc?;
        if !plans.intersects(&self.prohibited_plans) {
            return None;
        }
        self.prohibited
            .iter()
            .find(|(p, locs)| plans.contains(**p) && locs.contains(&loc))
            .map(|(p, _)| *p)
    }
    /// First mutually exclusive conflict between `new` (one SKU's plans) and `other` (the plans
    /// of every other SKU): a plan of `new` and a *different* plan of `other` in one set (R13).
    pub fn exclusive_conflict(&self, new: &PlanSet, other: &PlanSet) -> Option<(PlanIdx, PlanIdx)> {
        if !new.intersects(&self.exclusive_any) || !other.intersects(&self.exclusive_any) {
            return None;
        }
        for (_, set) in &self.exclusive_sets {
            let a = new.intersect(set);
            let b = other.intersect(set);
            if a.is_empty() || b.is_empty() {
                continue;
            }
            for x in a.iter() {
                if let Some(y) = b.iter().find(|y| *y != x) {
                    return Some((x, y));
                }
            }
        }
        None
    }
    /// First dependent plan in `plans` none of whose prerequisites is in `enabled` (R14).
    pub fn missing_dependency(
        &self,
        plans: &PlanSet,
        enabled: &PlanSet,
    ) -> Option<(PlanIdx, PlanIdx)> {
        if !plans.intersects(&self.dependents) {
            return None;
        }
        self.dependencies
            .iter()
            .find(|d| plans.contains(d.dependent) && !d.prerequisites.intersects(enabled))
            .map(|d| {
                (
                    d.dependent,
                    d.prerequisites.iter().next().unwrap_or(d.dependent),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_of_one_service_share_a_family() {
        assert_eq!(tier_family("FORMS_PLAN_E1"), "FORMS_PLAN");
        assert_eq!(tier_family("WHITEBOARD_PLAN2"), "WHITEBOARD");
        assert_eq!(tier_family("BPOS_S_TODO_1"), "BPOS_S_TODO");
        assert_eq!(tier_family("AAD_PREMIUM_P2"), "AAD_PREMIUM");
        assert_eq!(tier_family("CDS_O365_P1"), "CDS_O365");
        assert_eq!(tier_family("UNIVERSAL_PRINT_01"), "UNIVERSAL_PRINT_01");
        assert_eq!(tier_family("SWAY"), "SWAY");
        assert_eq!(tier_family("INTUNE_A"), "INTUNE_A");
        let c = Catalog::builtin(RulesProfile::Current);
        let e1 = c.sku(c.sku_by_name("STANDARDPACK").unwrap()).plans;
        let e3 = c.sku(c.sku_by_name("ENTERPRISEPACK").unwrap()).plans;
        // E1 -> E3 loses no service family.
        assert!(c.families_of(&e1).minus(&c.families_of(&e3)).is_empty());
        assert_eq!(
            c.plan(c.plan_by_name("EXCHANGE_S_STANDARD").unwrap())
                .family,
            c.family_by_name("exchange").unwrap()
        );
    }
}
