//! `[faults]`: what goes wrong in each run, drawn per user of a population by the run's seeded
//! RNG (missing usage location, duplicate proxy address, a conflicting or dependent direct SKU).

use super::error::{ScenarioError, nearest};
use super::resolve::{Resolver, fraction_ppm};
use super::selector::Names;
use crate::model::Fault;
use engine::prelude::SkuIdx;
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    population: String,
    fraction: f64,
    sku: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFaults {
    missing_usage_location: Option<Spanned<RawFault>>,
    duplicate_proxy_address: Option<Spanned<RawFault>>,
    conflicting_direct: Option<Spanned<RawFault>>,
    dependent_direct: Option<Spanned<RawFault>>,
}

/// The faults, in the fixed order of [`RawFaults`]' fields (the order the runner applies them).
pub(super) fn parse(
    raw: &RawFaults,
    names: &Names,
    r: &Resolver,
) -> Result<Vec<Fault>, ScenarioError> {
    let ctx = r.ctx;
    let faults = [
        ("missing_usage_location", &raw.missing_usage_location),
        ("duplicate_proxy_address", &raw.duplicate_proxy_address),
        ("conflicting_direct", &raw.conflicting_direct),
        ("dependent_direct", &raw.dependent_direct),
    ];
    let mut out = Vec::new();
    for (kind, f) in faults {
        let Some(f) = f else { continue };
        let span = f.span();
        let f = f.get_ref();
        if !names.populations.contains(&f.population) {
            return Err(ctx.err(
                span,
                Some(&f.population),
                "population",
                format!("unknown population {:?}", f.population),
                nearest(&f.population, names.populations.iter().map(String::as_str)),
            ));
        }
        let ppm = fraction_ppm(f.fraction, ctx, &span, "fraction")?;
        let population = f.population.clone();
        let sku = |r: &Resolver| -> Result<SkuIdx, ScenarioError> {
            match &f.sku {
                Some(s) => r.sku(s, &span, "sku"),
                None => Err(ctx.err(
                    span.clone(),
                    None,
                    "sku",
                    format!("fault {kind} needs a sku"),
                    None,
                )),
            }
        };
        out.push(match kind {
            "missing_usage_location" => Fault::MissingUsageLocation { population, ppm },
            "duplicate_proxy_address" => Fault::DuplicateProxyAddress { population, ppm },
            "conflicting_direct" => Fault::ConflictingDirect {
                population,
                sku: sku(r)?,
                ppm,
            },
            _ => Fault::DependentDirect {
                population,
                sku: sku(r)?,
                ppm,
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::parse_scenario;

    fn err(faults: &str) -> String {
        let text = format!("[[populations]]\nname = \"staff\"\ncount = 3\n[faults]\n{faults}");
        parse_scenario("s.toml", &text, None)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn fault_errors() {
        assert_eq!(
            err("missing_usage_location = { population = \"staf\", fraction = 0.1 }\n"),
            "s.toml:5:42: key `population`: unknown population \"staf\" (did you mean `staff`?)"
        );
        assert_eq!(
            err("missing_usage_location = { population = \"staff\", fraction = 1.5 }\n"),
            "s.toml:5:50: key `fraction`: fraction 1.5 is outside 0..=1"
        );
        assert_eq!(
            err("conflicting_direct = { population = \"staff\", fraction = 0.1 }\n"),
            "s.toml:5:22: key `sku`: fault conflicting_direct needs a sku"
        );
        assert_eq!(
            err(
                "dependent_direct = { population = \"staff\", fraction = 0.1, sku = \"MCOMEETAD\" }\n"
            ),
            "s.toml:5:67: key `sku`: unknown SKU \"MCOMEETAD\" (did you mean `MCOMEETADV`?)"
        );
    }
}
