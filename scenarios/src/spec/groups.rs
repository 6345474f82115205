//! `[[groups]]` (and the group of a `create_group` step): ids unique, source, membership rule,
//! members (user selectors, or group ids for nesting, R09), licences.

use super::error::{ScenarioError, nearest};
use super::resolve::{RawLicense, Resolver};
use super::selector::{Names, selector};
use crate::model::{GroupSpec, MemberRef};
use engine::prelude::GroupSource;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    pub(super) id: String,
    pub(super) display_name: Option<String>,
    #[serde(default)]
    pub(super) members: Vec<String>,
    pub(super) rule: Option<String>,
    pub(super) source: Option<String>,
    pub(super) security_enabled: Option<bool>,
    /// The group's licences before the plan starts (the settled baseline, decision 28); also
    /// read as `assigned_licenses`, Graph's name for them.
    #[serde(default, alias = "assigned_licenses")]
    pub(super) licenses: Vec<RawLicense>,
}

/// The declared groups. Every id is known before any is resolved, so members may name a group
/// declared later.
pub(super) fn parse(
    groups: &[Spanned<RawGroup>],
    names: &mut Names,
    r: &Resolver,
) -> Result<Vec<GroupSpec>, ScenarioError> {
    for g in groups {
        if !names.groups.insert(g.get_ref().id.clone()) {
            return Err(r.ctx.err(
                g.span(),
                Some(&g.get_ref().id),
                "id",
                format!("duplicate group id {:?}", g.get_ref().id),
                None,
            ));
        }
    }
    groups
        .iter()
        .map(|g| group_spec(g.get_ref(), &g.span(), names, r))
        .collect()
}

/// One group, its names checked against `names`.
pub(super) fn group_spec(
    g: &RawGroup,
    span: &Range<usize>,
    names: &Names,
    r: &Resolver,
) -> Result<GroupSpec, ScenarioError> {
    if g.id.is_empty() {
        return Err(r.ctx.err(
            span.clone(),
            Some("id"),
            "id",
            "a group needs an id".into(),
            None,
        ));
    }
    let source = match g.source.as_deref() {
        None | Some("cloud") => GroupSource::Cloud,
        Some("on_premises") => GroupSource::OnPremises,
        Some(s) => {
            return Err(r.ctx.err(
                span.clone(),
                Some(s),
                "source",
                format!("unknown source {s:?} (cloud or on_premises)"),
                nearest(s, ["cloud", "on_premises"]),
            ));
        }
    };
    if let Some(rule) = &g.rule {
        engine::rule::Rule::parse(rule).map_err(|e| {
            r.ctx.err(
                span.clone(),
                Some(rule),
                "rule",
                format!("bad membership rule: {e}"),
                None,
            )
        })?;
        if !g.members.is_empty() {
            return Err(r.ctx.err(
                span.clone(),
                Some("members"),
                "members",
                "a dynamic group (rule) takes no members".into(),
                None,
            ));
        }
    }
    let mut members = Vec::new();
    for m in &g.members {
        if m != &g.id && names.groups.contains(m) && !m.contains(':') && !names.is_user(m) {
            members.push(MemberRef::Group(m.clone()));
        } else {
            members.push(MemberRef::Users(selector(m, names, r, span, "members")?));
        }
    }
    Ok(GroupSpec {
        id: g.id.clone(),
        display_name: g.display_name.clone().unwrap_or_else(|| g.id.clone()),
        security_enabled: g.security_enabled.unwrap_or(true),
        source,
        rule: g.rule.clone(),
        members,
        licenses: r.licenses(&g.licenses, span, "licenses")?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse_scenario;
    use crate::model::MemberRef;

    fn err(text: &str) -> String {
        parse_scenario("s.toml", text, None)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn group_errors() {
        assert_eq!(
            err("[[groups]]\nid = \"g\"\n[[groups]]\nid = \"g\"\n"),
            "s.toml:3:3: key `id`: duplicate group id \"g\""
        );
        assert_eq!(
            err("[[groups]]\nid = \"g\"\nsource = \"onprem\"\n"),
            "s.toml:3:11: key `source`: unknown source \"onprem\" (cloud or on_premises)"
        );
        assert_eq!(
            err("[[groups]]\nid = \"g\"\nrule = 'department ==='\n"),
            "s.toml:3:9: key `rule`: bad membership rule: unexpected character '=' (at character 14)"
        );
        assert_eq!(
            err(
                "[[users]]\nid = \"a\"\n[[groups]]\nid = \"g\"\nrule = 'department == \"x\"'\nmembers = [\"a\"]\n"
            ),
            "s.toml:6:1: key `members`: a dynamic group (rule) takes no members"
        );
        assert_eq!(
            err("[[groups]]\nid = \"g\"\nlicenses = [\"EMS\", \"E3\"]\n"),
            "s.toml:3:21: key `licenses`: unknown SKU \"E3\" (did you mean `EMS`?)"
        );
    }

    #[test]
    fn assigned_licenses_is_graphs_name_for_licenses() {
        let a = parse_scenario(
            "s.toml",
            "[[users]]\nid = \"a\"\n[[groups]]\nid = \"g\"\nmembers = [\"a\"]\nassigned_licenses = [{ sku = \"ENTERPRISEPACK\", disabled_plans = [\"SWAY\"] }]\n",
            None,
        )
        .unwrap();
        let b = parse_scenario(
            "s.toml",
            "[[users]]\nid = \"a\"\n[[groups]]\nid = \"g\"\nmembers = [\"a\"]\nlicenses = [{ sku = \"ENTERPRISEPACK\", disabled_plans = [\"SWAY\"] }]\n",
            None,
        )
        .unwrap();
        assert_eq!(a.groups[0].licenses.len(), 1);
        assert_eq!(
            format!("{:?}", a.groups[0].licenses),
            format!("{:?}", b.groups[0].licenses)
        );
    }

    #[test]
    fn a_member_naming_a_group_is_nesting() {
        let sc = parse_scenario(
            "s.toml",
            "[[users]]\nid = \"a\"\n[[groups]]\nid = \"outer\"\nmembers = [\"inner\", \"a\"]\n[[groups]]\nid = \"inner\"\n",
            None,
        )
        .unwrap();
        assert!(matches!(&sc.groups[0].members[0], MemberRef::Group(g) if g == "inner"));
        assert!(matches!(&sc.groups[0].members[1], MemberRef::Users(_)));
    }
}
