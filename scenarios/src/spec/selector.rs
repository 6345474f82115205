//! The names a scenario declares ([`Names`]), user selectors (`all`, `group:<id>`,
//! `population:<name>`, `attribute:<k>=<v>`, `first:<n>:<selector>`, user ids) and gate
//! requirements (`no_license_errors`, `all_members_licensed:<group>`, ...), checked against them.

use super::MAX_SELECTOR_DEPTH;
use super::error::{ScenarioError, nearest};
use super::resolve::Resolver;
use crate::model::{Require, Selector};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::ops::Range;

/// A `users` value: one selector or a list of user ids.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum RawSelector {
    One(String),
    List(Vec<String>),
}

/// Names known while checking references: groups (declared and created by earlier steps),
/// populations, explicit user ids.
#[derive(Default)]
pub(super) struct Names {
    pub(super) groups: BTreeSet<String>,
    pub(super) populations: BTreeSet<String>,
    pub(super) users: BTreeSet<String>,
    /// Ids the populations generate, while the scenario has at most 200,000 users: only to
    /// find duplicates (`patterns` recognises generated ids at any size).
    pub(super) generated: BTreeSet<String>,
    /// (id pattern, count) of each population.
    pub(super) patterns: Vec<(String, u64)>,
    pub(super) attribute_keys: BTreeSet<String>,
}

impl Names {
    /// Whether an explicit user or a population has this id.
    pub(super) fn is_user(&self, id: &str) -> bool {
        self.users.contains(id)
            || self
                .patterns
                .iter()
                .any(|(p, n)| crate::model::index_of_id(p, *n, id).is_some())
    }
}

pub(super) fn selector(
    text: &str,
    names: &Names,
    r: &Resolver,
    span: &Range<usize>,
    key: &str,
) -> Result<Selector, ScenarioError> {
    let bad = |m: String, s: Option<String>| r.ctx.err(span.clone(), Some(text), key, m, s);
    if text == "all" {
        return Ok(Selector::All);
    }
    if let Some(g) = text.strip_prefix("group:") {
        if !names.groups.contains(g) {
            return Err(bad(
                format!("unknown group {g:?} in selector"),
                nearest(g, names.groups.iter().map(String::as_str)),
            ));
        }
        return Ok(Selector::Group(g.to_string()));
    }
    if let Some(p) = text.strip_prefix("population:") {
        if !names.populations.contains(p) {
            return Err(bad(
                format!("unknown population {p:?} in selector"),
                nearest(p, names.populations.iter().map(String::as_str)),
            ));
        }
        return Ok(Selector::Population(p.to_string()));
    }
    if let Some(kv) = text.strip_prefix("attribute:") {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(bad(
                format!("selector {text:?} needs attribute:<key>=<value>"),
                None,
            ));
        };
        return Ok(Selector::Attribute {
            key: k.trim().to_string(),
            value: v.trim().to_string(),
        });
    }
    if let Some(rest) = text.strip_prefix("first:") {
        // Bounded nesting: each level recurses, and a file may hold a very long chain.
        if text.matches("first:").count() > MAX_SELECTOR_DEPTH {
            return Err(bad(
                format!("`first:` selectors nest more than {MAX_SELECTOR_DEPTH} deep"),
                None,
            ));
        }
        let Some((n, inner)) = rest.split_once(':') else {
            return Err(bad(
                format!("selector {text:?} needs first:<n>:<selector>"),
                None,
            ));
        };
        let n: u64 = n
            .parse()
            .map_err(|_| bad(format!("{n:?} is not a count in {text:?}"), None))?;
        return Ok(Selector::First(
            n,
            Box::new(selector(inner, names, r, span, key)?),
        ));
    }
    if names.is_user(text) {
        return Ok(Selector::Ids(vec![text.to_string()]));
    }
    let kinds = ["all", "group:", "population:", "attribute:", "first:"];
    let cands: Vec<&str> = names
        .users
        .iter()
        .map(String::as_str)
        .chain(kinds)
        .collect();
    Err(bad(
        format!(
            "unknown user or selector {text:?} (selectors: all, group:<id>, population:<name>, attribute:<k>=<v>, first:<n>:<selector>, or user ids)"
        ),
        nearest(text, cands),
    ))
}

pub(super) fn selector_of(
    s: &RawSelector,
    names: &Names,
    r: &Resolver,
    span: &Range<usize>,
    key: &str,
) -> Result<Selector, ScenarioError> {
    match s {
        RawSelector::One(t) => selector(t, names, r, span, key),
        RawSelector::List(ids) => {
            for id in ids {
                if !names.is_user(id) {
                    return Err(r.ctx.err(
                        span.clone(),
                        Some(id),
                        key,
                        format!("unknown user {id:?}"),
                        nearest(id, names.users.iter().map(String::as_str)),
                    ));
                }
            }
            Ok(Selector::Ids(ids.clone()))
        }
    }
}

/// A gate's `require` (or a step's `gate_each_wave`).
pub(super) fn require(
    text: &str,
    names: &Names,
    r: &Resolver,
    span: &Range<usize>,
    key: &str,
) -> Result<Require, ScenarioError> {
    let t = text.trim();
    match t {
        "no_license_errors" => return Ok(Require::NoLicenseErrors),
        "no_service_loss" => return Ok(Require::NoServiceLoss),
        _ => {}
    }
    if let Some(g) = t.strip_prefix("all_members_licensed:") {
        let g = g.trim();
        if !names.groups.contains(g) {
            return Err(r.ctx.err(
                span.clone(),
                Some(g),
                key,
                format!("unknown group {g:?}"),
                nearest(g, names.groups.iter().map(String::as_str)),
            ));
        }
        return Ok(Require::AllMembersLicensed(g.to_string()));
    }
    if let Some(rest) = t.strip_prefix("units_available:")
        && let Some((sku, n)) = rest.split_once(">=")
    {
        let sku = r.sku(sku.trim(), span, key)?;
        let at_least: u64 = n.trim().parse().map_err(|_| {
            r.ctx.err(
                span.clone(),
                Some(text),
                key,
                format!("{:?} is not a number", n.trim()),
                None,
            )
        })?;
        return Ok(Require::UnitsAvailable { sku, at_least });
    }
    let forms = [
        "no_license_errors",
        "no_service_loss",
        "all_members_licensed:",
        "units_available:",
    ];
    Err(r.ctx.err(
        span.clone(),
        Some(text),
        key,
        format!("unknown requirement {text:?} (no_license_errors, no_service_loss, all_members_licensed:<group>, units_available:<SKU> >= N)"),
        nearest(t.split(':').next().unwrap_or(t), forms),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::parse_scenario;

    fn err(plan: &str) -> String {
        let text = format!(
            "[[populations]]\nname = \"staff\"\ncount = 3\n[[groups]]\nid = \"all-users\"\n{plan}"
        );
        parse_scenario("s.toml", &text, None)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn selector_errors() {
        assert_eq!(
            err("[[plan]]\naction = \"delete_user\"\nusers = \"group:all-user\"\n"),
            "s.toml:8:10: key `users`: unknown group \"all-user\" in selector (did you mean `all-users`?)"
        );
        assert_eq!(
            err("[[plan]]\naction = \"delete_user\"\nusers = \"population:staf\"\n"),
            "s.toml:8:10: key `users`: unknown population \"staf\" in selector (did you mean `staff`?)"
        );
        assert_eq!(
            err("[[plan]]\naction = \"delete_user\"\nusers = \"first:x:all\"\n"),
            "s.toml:8:10: key `users`: \"x\" is not a count in \"first:x:all\""
        );
        assert_eq!(
            err("[[plan]]\naction = \"delete_user\"\nusers = [\"staff0001\", \"staff0009\"]\n"),
            "s.toml:8:24: key `users`: unknown user \"staff0009\""
        );
    }

    #[test]
    fn requirement_errors() {
        assert_eq!(
            err("[[plan]]\naction = \"gate\"\nrequire = \"no_licence_errors\"\n"),
            "s.toml:8:12: key `require`: unknown requirement \"no_licence_errors\" (no_license_errors, no_service_loss, all_members_licensed:<group>, units_available:<SKU> >= N) (did you mean `no_license_errors`?)"
        );
        assert_eq!(
            err("[[plan]]\naction = \"gate\"\nrequire = \"units_available:EMS >= many\"\n"),
            "s.toml:8:12: key `require`: \"many\" is not a number"
        );
    }
}
