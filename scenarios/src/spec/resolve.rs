//! Values every part of the file shares, resolved against the scenario's catalogue: SKUs,
//! licences (`"SKU"` or `{ sku, disabled_plans }`), usage locations, durations and fractions.

use super::duration::parse_duration;
use super::error::{Ctx, ScenarioError, nearest};
use engine::catalog::{Catalog, parse_loc};
use engine::prelude::{LicenseSpec, Loc, PlanIdx, SkuIdx};
use serde::Deserialize;
use std::ops::Range;
use std::sync::Arc;

/// A licence as written: a SKU part number, or a SKU with disabled plans.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum RawLicense {
    Name(String),
    Full {
        sku: String,
        #[serde(default)]
        disabled_plans: Vec<String>,
    },
}

/// Names of SKUs and plans resolved against the catalogue, errors placed in the file.
pub(super) struct Resolver<'a> {
    pub(super) ctx: &'a Ctx<'a>,
    pub(super) cat: Arc<Catalog>,
}

impl Resolver<'_> {
    pub(super) fn sku(
        &self,
        name: &str,
        span: &Range<usize>,
        key: &str,
    ) -> Result<SkuIdx, ScenarioError> {
        self.cat.sku_by_name(name).ok_or_else(|| {
            self.ctx.err(
                span.clone(),
                Some(name),
                key,
                format!("unknown SKU {name:?}"),
                nearest(name, self.cat.sku_names()),
            )
        })
    }

    pub(super) fn license(
        &self,
        l: &RawLicense,
        span: &Range<usize>,
        key: &str,
    ) -> Result<LicenseSpec, ScenarioError> {
        let (name, disabled) = match l {
            RawLicense::Name(n) => (n.as_str(), &[][..]),
            RawLicense::Full {
                sku,
                disabled_plans,
            } => (sku.as_str(), &disabled_plans[..]),
        };
        let sku = self.sku(name, span, key)?;
        let mut plans: Vec<PlanIdx> = Vec::new();
        for p in disabled {
            let s = self.cat.sku(sku);
            match self.cat.plan_by_name(p) {
                Some(pi) if s.plans.contains(pi) => plans.push(pi),
                _ => {
                    let names = s.plan_list.iter().map(|x| self.cat.plan(*x).name.as_str());
                    return Err(self.ctx.err(
                        span.clone(),
                        Some(p),
                        "disabled_plans",
                        format!("{p:?} is not a service plan of {name} (R01)"),
                        nearest(p, names),
                    ));
                }
            }
        }
        plans.sort();
        plans.dedup();
        Ok(LicenseSpec {
            sku,
            disabled: plans,
        })
    }

    pub(super) fn licenses(
        &self,
        ls: &[RawLicense],
        span: &Range<usize>,
        key: &str,
    ) -> Result<Vec<LicenseSpec>, ScenarioError> {
        ls.iter().map(|l| self.license(l, span, key)).collect()
    }

    pub(super) fn loc(
        &self,
        s: &str,
        span: &Range<usize>,
        key: &str,
    ) -> Result<Loc, ScenarioError> {
        parse_loc(s).ok_or_else(|| {
            self.ctx.err(
                span.clone(),
                Some(s),
                key,
                format!("{s:?} is not an ISO 3166 alpha-2 country code"),
                None,
            )
        })
    }

    pub(super) fn duration(
        &self,
        s: &str,
        span: &Range<usize>,
        key: &str,
    ) -> Result<u64, ScenarioError> {
        parse_duration(s).map_err(|m| self.ctx.err(span.clone(), Some(s), key, m, None))
    }
}

/// A fraction in 0..=1 as parts per million (faults, concurrency probability).
pub(super) fn fraction_ppm(
    f: f64,
    ctx: &Ctx,
    span: &Range<usize>,
    key: &str,
) -> Result<u32, ScenarioError> {
    if !(0.0..=1.0).contains(&f) {
        return Err(ctx.err(
            span.clone(),
            Some("fraction"),
            key,
            format!("fraction {f} is outside 0..=1"),
            None,
        ));
    }
    // The one place a float is read: rounded once to parts per million.
    Ok((f * 1_000_000.0).round() as u32)
}
