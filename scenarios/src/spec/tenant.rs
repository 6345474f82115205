//! `[tenant]`: the catalogue (built-in or a CSV file, rules profile, extra SKUs, families,
//! exclusive sets, dependencies, prohibited locations) and the tenant (default usage location,
//! R23's option, subscriptions).

use super::error::{Ctx, ScenarioError, nearest};
use super::resolve::Resolver;
use crate::model::Tenant;
use engine::catalog::{
    Catalog, CatalogSpec, PlanSpec, RulesProfile, SkuSpec, parse_loc, skus_from_csv,
};
use engine::event::PrepaidUnits;
use engine::sim::OnGroupDelete;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(untagged)]
enum RawUnits {
    Count(u32),
    Full {
        enabled: u32,
        #[serde(default)]
        warning: u32,
        #[serde(default)]
        suspended: u32,
        #[serde(default)]
        locked_out: u32,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    name: String,
    #[serde(default)]
    guid: String,
    #[serde(default)]
    friendly_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSku {
    part_number: String,
    #[serde(default)]
    guid: String,
    #[serde(default)]
    display_name: String,
    plans: Vec<RawPlan>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenant {
    default_usage_location: Option<Spanned<String>>,
    rules: Option<Spanned<String>>,
    catalogue: Option<Spanned<String>>,
    on_group_delete: Option<Spanned<String>>,
    domain: Option<String>,
    #[serde(default)]
    subscriptions: BTreeMap<Spanned<String>, RawUnits>,
    #[serde(default)]
    prohibited_locations: BTreeMap<Spanned<String>, Vec<String>>,
    #[serde(default)]
    skus: Vec<RawSku>,
    #[serde(default)]
    service_families: BTreeMap<String, String>,
    #[serde(default)]
    exclusive_sets: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    dependencies: BTreeMap<String, Vec<String>>,
}

/// The scenario's catalogue and tenant. `base_dir` resolves a relative `catalogue` path.
pub(super) fn parse(
    raw: Option<Spanned<RawTenant>>,
    ctx: &Ctx,
    base_dir: Option<&Path>,
) -> Result<(Arc<Catalog>, Tenant), ScenarioError> {
    let (tenant_span, t) = match raw {
        Some(t) => (t.span(), t.into_inner()),
        None => (0..0, RawTenant::default()),
    };
    let cat = Arc::new(catalogue(&t, &tenant_span, ctx, base_dir)?);
    let r = Resolver {
        ctx,
        cat: cat.clone(),
    };
    let default_usage_location = match &t.default_usage_location {
        None => Some(*b"US"),
        Some(s) if s.get_ref().is_empty() => None,
        Some(s) => Some(r.loc(s.get_ref(), &s.span(), "default_usage_location")?),
    };
    let on_group_delete = match t
        .on_group_delete
        .as_ref()
        .map(|s| (s.get_ref().as_str(), s.span()))
    {
        None | Some(("convert_to_direct", _)) => OnGroupDelete::ConvertToDirect,
        Some(("keep_error", _)) => OnGroupDelete::KeepError,
        Some((s, span)) => {
            return Err(ctx.err(
                span,
                None,
                "on_group_delete",
                format!("unknown value {s:?} (convert_to_direct or keep_error)"),
                nearest(s, ["convert_to_direct", "keep_error"]),
            ));
        }
    };
    let mut subscriptions = Vec::new();
    for (name, units) in &t.subscriptions {
        let sku = r.sku(name.get_ref(), &name.span(), "subscriptions")?;
        let units = match units {
            RawUnits::Count(n) => PrepaidUnits {
                enabled: *n,
                ..Default::default()
            },
            RawUnits::Full {
                enabled,
                warning,
                suspended,
                locked_out,
            } => PrepaidUnits {
                enabled: *enabled,
                warning: *warning,
                suspended: *suspended,
                locked_out: *locked_out,
            },
        };
        subscriptions.push((sku, units));
    }
    subscriptions.sort_by_key(|(s, _)| *s);
    let tenant = Tenant {
        default_usage_location,
        on_group_delete,
        domain: t.domain.clone().unwrap_or_else(|| "contoso.example".into()),
        subscriptions,
    };
    Ok((cat, tenant))
}

/// The catalogue: the rules profile, the built-in SKUs or a CSV file, then the scenario's own
/// SKUs, families, exclusive sets, dependencies and prohibited locations.
fn catalogue(
    t: &RawTenant,
    tenant_span: &Range<usize>,
    ctx: &Ctx,
    base_dir: Option<&Path>,
) -> Result<Catalog, ScenarioError> {
    let profile = match &t.rules {
        None => RulesProfile::Current,
        Some(s) => RulesProfile::parse(s.get_ref()).ok_or_else(|| {
            ctx.err(
                s.span(),
                None,
                "rules",
                format!(
                    "unknown rules profile {:?} (current or legacy)",
                    s.get_ref()
                ),
                nearest(s.get_ref(), ["current", "legacy"]),
            )
        })?,
    };
    let mut spec = match &t.catalogue {
        None => CatalogSpec::builtin(profile),
        Some(p) => {
            let path = base_dir.map_or_else(
                || Path::new(p.get_ref()).to_path_buf(),
                |d| d.join(p.get_ref()),
            );
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ctx.err(
                    p.span(),
                    None,
                    "catalogue",
                    format!("cannot read {}: {e}", path.display()),
                    None,
                )
            })?;
            let skus = skus_from_csv(&text).map_err(|e| {
                ctx.err(
                    p.span(),
                    None,
                    "catalogue",
                    format!("{}: {e}", path.display()),
                    None,
                )
            })?;
            CatalogSpec::with_rules(skus, profile)
        }
    };
    for s in &t.skus {
        spec.skus.retain(|x| x.part_number != s.part_number);
        spec.skus.push(SkuSpec {
            part_number: s.part_number.clone(),
            guid: s.guid.clone(),
            display_name: if s.display_name.is_empty() {
                s.part_number.clone()
            } else {
                s.display_name.clone()
            },
            plans: s
                .plans
                .iter()
                .map(|p| PlanSpec {
                    name: p.name.clone(),
                    guid: p.guid.clone(),
                    friendly_name: p.friendly_name.clone(),
                })
                .collect(),
        });
    }
    for (p, f) in &t.service_families {
        spec.families.retain(|(x, _)| x != p);
        spec.families.push((p.clone(), f.clone()));
    }
    for (n, plans) in &t.exclusive_sets {
        spec.exclusive_sets.push((n.clone(), plans.clone()));
    }
    for (d, pre) in &t.dependencies {
        spec.dependencies.push((d.clone(), pre.clone()));
    }
    // Prohibited locations name plans: check them against the catalogue before building.
    let plan_names: BTreeSet<String> = spec
        .skus
        .iter()
        .flat_map(|s| s.plans.iter().map(|p| p.name.clone()))
        .collect();
    for (plan, locs) in &t.prohibited_locations {
        if !plan_names.contains(plan.get_ref()) {
            return Err(ctx.err(
                plan.span(),
                None,
                "prohibited_locations",
                format!("unknown service plan {:?}", plan.get_ref()),
                nearest(plan.get_ref(), plan_names.iter().map(String::as_str)),
            ));
        }
        for l in locs {
            if parse_loc(l).is_none() {
                return Err(ctx.err(
                    tenant_span.clone(),
                    Some(l),
                    "prohibited_locations",
                    format!("{l:?} is not an ISO 3166 alpha-2 country code"),
                    None,
                ));
            }
        }
        spec.prohibited.push((plan.get_ref().clone(), locs.clone()));
    }
    Catalog::build(spec)
        .map_err(|e| ctx.err(tenant_span.clone(), None, "tenant", e.to_string(), None))
}

#[cfg(test)]
mod tests {
    use super::super::parse_scenario;

    fn err(tenant: &str) -> String {
        parse_scenario("s.toml", &format!("[tenant]\n{tenant}"), None)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn tenant_errors() {
        assert_eq!(
            err("rules = \"legasy\"\n"),
            "s.toml:2:9: key `rules`: unknown rules profile \"legasy\" (current or legacy) (did you mean `legacy`?)"
        );
        assert_eq!(
            err("on_group_delete = \"keep\"\n"),
            "s.toml:2:19: key `on_group_delete`: unknown value \"keep\" (convert_to_direct or keep_error)"
        );
        assert_eq!(
            err("prohibited_locations = { EXCHANGE_S_ENTERPRIS = [\"KP\"] }\n"),
            "s.toml:2:26: key `prohibited_locations`: unknown service plan \"EXCHANGE_S_ENTERPRIS\" (did you mean `EXCHANGE_S_ENTERPRISE`?)"
        );
        assert_eq!(
            err("prohibited_locations = { EXCHANGE_S_ENTERPRISE = [\"Korea\"] }\n"),
            "s.toml:2:52: key `prohibited_locations`: \"Korea\" is not an ISO 3166 alpha-2 country code"
        );
        assert_eq!(
            err("default_usage_location = \"USA\"\n"),
            "s.toml:2:27: key `default_usage_location`: \"USA\" is not an ISO 3166 alpha-2 country code"
        );
        assert_eq!(
            err("subscriptions = { ENTERPRISEPAK = 5 }\n"),
            "s.toml:2:19: key `subscriptions`: unknown SKU \"ENTERPRISEPAK\" (did you mean `ENTERPRISEPACK`?)"
        );
        assert!(
            err("catalogue = \"no-such.csv\"\n")
                .starts_with("s.toml:2:13: key `catalogue`: cannot read no-such.csv:")
        );
    }

    #[test]
    fn a_tenant_without_a_table_has_the_defaults() {
        let sc = parse_scenario("s.toml", "[[users]]\nid = \"u\"\n", None).unwrap();
        assert_eq!(sc.tenant.default_usage_location, Some(*b"US"));
        assert_eq!(sc.tenant.domain, "contoso.example");
        assert!(sc.tenant.subscriptions.is_empty());
    }
}
