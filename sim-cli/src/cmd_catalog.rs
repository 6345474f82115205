//! `licsim catalog [SKU]`: the SKUs, one SKU's plans, and the rule sets.

use crate::{CmdResult, Failure, exit};
use engine::catalog::{Catalog, CatalogSpec, RulesProfile, loc_str, skus_from_csv};
use std::path::Path;

pub fn load(rules: &str, file: Option<&Path>) -> Result<Catalog, Failure> {
    let profile = RulesProfile::parse(rules).ok_or_else(|| {
        Failure::bad_input(format!(
            "unknown rules profile {rules:?} (current or legacy)"
        ))
    })?;
    let spec = match file {
        None => CatalogSpec::builtin(profile),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::bad_input(format!("{}: {e}", p.display())))?;
            let skus = skus_from_csv(&text)
                .map_err(|e| Failure::bad_input(format!("{}: {e}", p.display())))?;
            CatalogSpec::with_rules(skus, profile)
        }
    };
    Catalog::build(spec).map_err(|e| Failure::bad_input(e.to_string()))
}

fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    scenarios::spec::nearest(&name.to_ascii_uppercase(), candidates)
}

pub fn catalog(sku: Option<&str>, rules: &str, file: Option<&Path>) -> CmdResult {
    let cat = load(rules, file)?;
    match sku {
        None => {
            say!(
                "{} SKUs, {} service plans (rules profile: {})\n",
                cat.skus.len(),
                cat.plans.len(),
                cat.profile().name()
            );
            say!(
                "{:<24} {:<38} {:>5}  display name",
                "skuPartNumber",
                "skuId",
                "plans"
            );
            for s in &cat.skus {
                say!(
                    "{:<24} {:<38} {:>5}  {}",
                    s.part_number,
                    s.guid,
                    s.plan_list.len(),
                    s.display_name
                );
            }
            say!("\nMutually exclusive sets (R13):");
            for (name, set) in &cat.exclusive_sets {
                let names: Vec<&str> = set.iter().map(|p| cat.plan(p).name.as_str()).collect();
                say!("  {name}: {}", names.join(", "));
            }
            say!("Dependencies (R14-R16):");
            for d in &cat.dependencies {
                let pre: Vec<&str> = d
                    .prerequisites
                    .iter()
                    .map(|p| cat.plan(p).name.as_str())
                    .collect();
                say!(
                    "  {} needs one of {}",
                    cat.plan(d.dependent).name,
                    pre.join(", ")
                );
            }
            let mb: Vec<&str> = cat
                .mailbox
                .iter()
                .map(|p| cat.plan(p).name.as_str())
                .collect();
            say!("Mailbox plans (R18): {}", mb.join(", "));
            for (p, locs) in &cat.prohibited {
                let l: Vec<String> = locs.iter().map(|l| loc_str(*l)).collect();
                say!(
                    "Prohibited (R17): {} in {}",
                    cat.plan(*p).name,
                    l.join(", ")
                );
            }
            Ok(exit::OK)
        }
        Some(name) => {
            let Some(s) = cat.sku_by_name(name) else {
                let hint = nearest(name, cat.sku_names())
                    .map(|n| format!(" (did you mean {n}?)"))
                    .unwrap_or_default();
                return Err(Failure::bad_input(format!("unknown SKU {name}{hint}")));
            };
            let sku = cat.sku(s);
            say!("{} ({}) {}", sku.part_number, sku.guid, sku.display_name);
            say!(
                "{:<40} {:<38} {:<16} friendly name",
                "servicePlanName",
                "servicePlanId",
                "family"
            );
            for p in &sku.plan_list {
                let plan = cat.plan(*p);
                let mut notes = Vec::new();
                if cat.mailbox.contains(*p) {
                    notes.push("mailbox".to_string());
                }
                if let Some(pre) = cat.prerequisites_of(*p) {
                    let n: Vec<&str> = pre.iter().map(|x| cat.plan(x).name.as_str()).collect();
                    notes.push(format!("needs {}", n.join("|")));
                }
                for (set, members) in &cat.exclusive_sets {
                    if members.contains(*p) {
                        notes.push(format!("exclusive:{set}"));
                    }
                }
                let extra = if notes.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", notes.join("; "))
                };
                say!(
                    "{:<40} {:<38} {:<16} {}{}",
                    plan.name,
                    plan.guid,
                    cat.family_name(plan.family),
                    plan.friendly_name,
                    extra
                );
            }
            Ok(exit::OK)
        }
    }
}
