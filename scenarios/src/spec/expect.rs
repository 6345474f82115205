//! `[expect]`: what every run must satisfy (SPEC 10); a failure makes `licsim run` exit 1.

use super::error::ScenarioError;
use super::resolve::Resolver;
use crate::model::Expectations;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    max_users_in_error: Option<u64>,
    no_service_loss: Option<bool>,
    no_service_loss_at_end: Option<bool>,
    #[serde(default)]
    peak_units: BTreeMap<String, u64>,
    max_rejected_calls: Option<u64>,
    max_duration: Option<String>,
}

/// The expectations (none when the file has no `[expect]`).
pub(super) fn parse(
    raw: Option<&Spanned<RawExpect>>,
    r: &Resolver,
) -> Result<Expectations, ScenarioError> {
    let (x_span, x) = match raw {
        Some(x) => (x.span(), x.get_ref()),
        None => (0..0, &RawExpect::default()),
    };
    let mut peak_units = Vec::new();
    for (k, n) in &x.peak_units {
        peak_units.push((r.sku(k, &x_span, "peak_units")?, *n));
    }
    Ok(Expectations {
        max_users_in_error: x.max_users_in_error,
        no_service_loss: x.no_service_loss,
        no_service_loss_at_end: x.no_service_loss_at_end,
        peak_units,
        max_rejected_calls: x.max_rejected_calls,
        max_duration_ms: match &x.max_duration {
            Some(d) => Some(r.duration(d, &x_span, "max_duration")?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse_scenario;

    #[test]
    fn expectation_errors_and_values() {
        let e = parse_scenario(
            "s.toml",
            "[expect]\npeak_units = { ENTERPRISEPAK = 3 }\n",
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.toml:2:16: key `peak_units`: unknown SKU \"ENTERPRISEPAK\" (did you mean `ENTERPRISEPACK`?)"
        );
        let e =
            parse_scenario("s.toml", "[expect]\nmax_duration = \"2 weeks\"\n", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.toml:2:17: key `max_duration`: bad duration unit \"weeks\" in \"2 weeks\" (ms, s, m, h, d)"
        );
        let sc = parse_scenario(
            "s.toml",
            "[[users]]\nid = \"u\"\n[expect]\nmax_users_in_error = 2\nmax_duration = \"1d\"\n",
            None,
        )
        .unwrap();
        assert_eq!(sc.expect.max_users_in_error, Some(2));
        assert_eq!(sc.expect.max_duration_ms, Some(86_400_000));
    }
}
