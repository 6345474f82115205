//! `[[users]]` (explicit users) and `[[populations]]` (generated ones): ids unique, at most
//! [`MAX_USERS`] in all, usage locations and direct licences resolved.

use super::MAX_USERS;
use super::error::ScenarioError;
use super::resolve::{RawLicense, Resolver};
use super::selector::Names;
use crate::model::{Population, UserSpec};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUser {
    id: String,
    usage_location: Option<String>,
    #[serde(default)]
    proxy_addresses: Vec<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    direct: Vec<RawLicense>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPopulation {
    name: String,
    count: u64,
    id_pattern: Option<String>,
    usage_location: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    direct: Vec<RawLicense>,
}

/// Above this many users in the scenario, generated ids are not listed one by one to find
/// duplicates (they are still recognised by pattern).
const LIST_GENERATED_UP_TO: u64 = 200_000;

/// The explicit users and the populations, in declaration order; fills `names` with their ids,
/// names, id patterns and attribute keys.
pub(super) fn parse(
    users: &[Spanned<RawUser>],
    populations: &[Spanned<RawPopulation>],
    r: &Resolver,
    names: &mut Names,
) -> Result<(Vec<UserSpec>, Vec<Population>), ScenarioError> {
    let ctx = r.ctx;
    let mut out_users = Vec::new();
    let mut total: u64 = 0;
    for u in users {
        let span = u.span();
        let u = u.get_ref();
        if u.id.is_empty() || !names.users.insert(u.id.clone()) {
            return Err(ctx.err(
                span,
                Some(&u.id),
                "id",
                format!("duplicate or empty user id {:?}", u.id),
                None,
            ));
        }
        total += 1;
        let usage_location = match &u.usage_location {
            Some(l) => Some(r.loc(l, &span, "usage_location")?),
            None => None,
        };
        names.attribute_keys.extend(u.attributes.keys().cloned());
        out_users.push(UserSpec {
            id: u.id.clone(),
            usage_location,
            proxy_addresses: u.proxy_addresses.clone(),
            attributes: u
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            direct: r.licenses(&u.direct, &span, "direct")?,
        });
    }
    let mut out_populations = Vec::new();
    for p in populations {
        let span = p.span();
        let p = p.get_ref();
        if p.name.is_empty() || !names.populations.insert(p.name.clone()) {
            return Err(ctx.err(
                span,
                Some(&p.name),
                "name",
                format!("duplicate or empty population name {:?}", p.name),
                None,
            ));
        }
        total = total.saturating_add(p.count);
        if total > MAX_USERS {
            return Err(ctx.err(
                span,
                Some("count"),
                "count",
                format!("more than {MAX_USERS} users in the scenario (the limit)"),
                None,
            ));
        }
        let pattern = p
            .id_pattern
            .clone()
            .unwrap_or_else(|| format!("{}{{:04}}", p.name));
        let pop = Population {
            name: p.name.clone(),
            count: p.count,
            id_pattern: pattern,
            usage_location: match &p.usage_location {
                Some(l) => Some(r.loc(l, &span, "usage_location")?),
                None => None,
            },
            attributes: p
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            direct: r.licenses(&p.direct, &span, "direct")?,
        };
        if total <= LIST_GENERATED_UP_TO {
            for i in 1..=p.count {
                let id = pop.id(i);
                if names.users.contains(&id) || !names.generated.insert(id.clone()) {
                    return Err(ctx.err(
                        span,
                        Some("id_pattern"),
                        "id_pattern",
                        format!("population {:?} generates the id {id:?} twice", p.name),
                        None,
                    ));
                }
            }
        }
        names.attribute_keys.extend(p.attributes.keys().cloned());
        names.patterns.push((pop.id_pattern.clone(), pop.count));
        out_populations.push(pop);
    }
    Ok((out_users, out_populations))
}

#[cfg(test)]
mod tests {
    use super::super::parse_scenario;

    fn err(text: &str) -> String {
        parse_scenario("s.toml", text, None)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn user_and_population_errors() {
        assert_eq!(
            err("[[users]]\nid = \"a\"\n[[users]]\nid = \"a\"\n"),
            "s.toml:4:7: key `id`: duplicate or empty user id \"a\""
        );
        assert_eq!(
            err("[[users]]\nid = \"a\"\nusage_location = \"U\"\n"),
            "s.toml:3:19: key `usage_location`: \"U\" is not an ISO 3166 alpha-2 country code"
        );
        assert_eq!(
            err(
                "[[users]]\nid = \"a\"\ndirect = [{ sku = \"ENTERPRISEPACK\", disabled_plans = [\"SWAYY\"] }]\n"
            ),
            "s.toml:3:56: key `disabled_plans`: \"SWAYY\" is not a service plan of ENTERPRISEPACK (R01) (did you mean `SWAY`?)"
        );
        assert_eq!(
            err(
                "[[populations]]\nname = \"p\"\ncount = 2\n[[populations]]\nname = \"p\"\ncount = 1\n"
            ),
            "s.toml:4:3: key `name`: duplicate or empty population name \"p\""
        );
        assert_eq!(
            err("[[populations]]\nname = \"p\"\ncount = 20000000\n"),
            "s.toml:3:1: key `count`: more than 10000000 users in the scenario (the limit)"
        );
        assert_eq!(
            err(
                "[[users]]\nid = \"u02\"\n[[populations]]\nname = \"p\"\ncount = 3\nid_pattern = \"u{:02}\"\n"
            ),
            "s.toml:6:1: key `id_pattern`: population \"p\" generates the id \"u02\" twice"
        );
    }
}
