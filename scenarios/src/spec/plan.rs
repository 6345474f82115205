//! `[[plan]]`: the steps, in order. Each names its action and that action's keys; any step may
//! take waves (`wave_size`, `wave_interval`, `gate_each_wave`) and `on_reject`. A `create_group`
//! step makes its group known to the steps after it.

use super::error::{ScenarioError, nearest};
use super::groups::{RawGroup, group_spec};
use super::resolve::{RawLicense, Resolver};
use super::selector::{Names, RawSelector, require, selector_of};
use crate::model::{Action, Selector, Step, Waves};
use engine::event::PrepaidUnits;
use engine::prelude::SkuIdx;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    action: String,
    users: Option<RawSelector>,
    group: Option<String>,
    #[serde(default)]
    add: Vec<RawLicense>,
    #[serde(default)]
    remove: Vec<String>,
    sku: Option<String>,
    units: Option<i64>,
    enabled: Option<u32>,
    warning: Option<u32>,
    suspended: Option<u32>,
    locked_out: Option<u32>,
    location: Option<String>,
    attribute: Option<String>,
    value: Option<String>,
    proxy_addresses: Option<Vec<String>>,
    duration: Option<String>,
    require: Option<String>,
    rule: Option<String>,
    // create_group
    id: Option<String>,
    display_name: Option<String>,
    members: Option<Vec<String>>,
    source: Option<String>,
    security_enabled: Option<bool>,
    licenses: Option<Vec<RawLicense>>,
    // waves
    wave_size: Option<u64>,
    wave_interval: Option<String>,
    gate_each_wave: Option<String>,
    on_reject: Option<String>,
}

/// The plan's steps in file order; groups created by a step are added to `names`.
pub(super) fn parse(
    plan: &[Spanned<RawStep>],
    names: &mut Names,
    r: &Resolver,
) -> Result<Vec<Step>, ScenarioError> {
    plan.iter()
        .map(|s| parse_step(s.get_ref(), &s.span(), names, r))
        .collect()
}

fn parse_step(
    s: &RawStep,
    span: &Range<usize>,
    names: &mut Names,
    r: &Resolver,
) -> Result<Step, ScenarioError> {
    let ctx = r.ctx;
    let action = action(s, span, names, r)?;
    let gate_each_wave = match &s.gate_each_wave {
        Some(g) => Some(require(g, names, r, span, "gate_each_wave")?),
        None => None,
    };
    let wave_interval_ms = match &s.wave_interval {
        Some(d) => r.duration(d, span, "wave_interval")?,
        None => 0,
    };
    if s.wave_size == Some(0) {
        return Err(ctx.err(
            span.clone(),
            Some("wave_size"),
            "wave_size",
            "wave_size must be at least 1".into(),
            None,
        ));
    }
    let stop_on_reject = match s.on_reject.as_deref() {
        None | Some("continue") => false,
        Some("stop") => true,
        Some(o) => {
            return Err(ctx.err(
                span.clone(),
                Some(o),
                "on_reject",
                format!("unknown value {o:?} (stop or continue)"),
                nearest(o, ["stop", "continue"]),
            ));
        }
    };
    let (line, _) = ctx.line_col(span.start);
    Ok(Step {
        action,
        waves: Waves {
            wave_size: s.wave_size,
            wave_interval_ms,
            gate_each_wave,
        },
        stop_on_reject,
        line,
    })
}

/// The step's action and its keys.
fn action(
    s: &RawStep,
    span: &Range<usize>,
    names: &mut Names,
    r: &Resolver,
) -> Result<Action, ScenarioError> {
    let ctx = r.ctx;
    let missing = |key: &str| {
        ctx.err(
            span.clone(),
            Some(&s.action),
            key,
            format!("action {} needs `{key}`", s.action),
            None,
        )
    };
    let users = |names: &Names| -> Result<Selector, ScenarioError> {
        match &s.users {
            Some(u) => selector_of(u, names, r, span, "users"),
            None => Err(missing("users")),
        }
    };
    let group = |names: &Names| -> Result<String, ScenarioError> {
        let g = s.group.clone().ok_or_else(|| missing("group"))?;
        if !names.groups.contains(&g) {
            return Err(ctx.err(
                span.clone(),
                Some(&g),
                "group",
                format!("unknown group {g:?}"),
                nearest(&g, names.groups.iter().map(String::as_str)),
            ));
        }
        Ok(g)
    };
    let sku = || -> Result<SkuIdx, ScenarioError> {
        r.sku(s.sku.as_deref().ok_or_else(|| missing("sku"))?, span, "sku")
    };
    let remove = || -> Result<Vec<SkuIdx>, ScenarioError> {
        s.remove.iter().map(|x| r.sku(x, span, "remove")).collect()
    };
    Ok(match s.action.as_str() {
        "assign_direct" => Action::AssignDirect {
            users: users(names)?,
            add: r.licenses(&s.add, span, "add")?,
            remove: remove()?,
        },
        "remove_direct" => Action::RemoveDirect {
            users: users(names)?,
            sku: sku()?,
        },
        "assign_group_license" => Action::AssignGroupLicense {
            group: group(names)?,
            add: r.licenses(&s.add, span, "add")?,
            remove: remove()?,
        },
        "add_members" => Action::AddMembers {
            group: group(names)?,
            users: users(names)?,
        },
        "remove_members" => Action::RemoveMembers {
            group: group(names)?,
            users: users(names)?,
        },
        "create_group" => {
            let id =
                s.id.clone()
                    .or_else(|| s.group.clone())
                    .ok_or_else(|| missing("id"))?;
            let raw = RawGroup {
                id: id.clone(),
                display_name: s.display_name.clone(),
                members: s.members.clone().unwrap_or_default(),
                rule: s.rule.clone(),
                source: s.source.clone(),
                security_enabled: s.security_enabled,
                licenses: s.licenses.clone().unwrap_or_default(),
            };
            let g = group_spec(&raw, span, names, r)?;
            names.groups.insert(id);
            Action::CreateGroup(g)
        }
        "delete_group" => Action::DeleteGroup {
            group: group(names)?,
        },
        "set_rule" => {
            if let Some(rule) = &s.rule {
                engine::rule::Rule::parse(rule).map_err(|e| {
                    ctx.err(
                        span.clone(),
                        Some(rule),
                        "rule",
                        format!("bad membership rule: {e}"),
                        None,
                    )
                })?;
            }
            Action::SetRule {
                group: group(names)?,
                rule: s.rule.clone(),
            }
        }
        "set_usage_location" => Action::SetUsageLocation {
            users: users(names)?,
            location: match s.location.as_deref() {
                None | Some("") => None,
                Some(l) => Some(r.loc(l, span, "location")?),
            },
        },
        "set_attribute" => Action::SetAttribute {
            users: users(names)?,
            attribute: s.attribute.clone().ok_or_else(|| missing("attribute"))?,
            value: s.value.clone(),
        },
        "set_proxy_addresses" => Action::SetProxyAddresses {
            users: users(names)?,
            proxy_addresses: s
                .proxy_addresses
                .clone()
                .ok_or_else(|| missing("proxy_addresses"))?,
        },
        "purchase" => Action::Purchase {
            sku: sku()?,
            units: s.units.ok_or_else(|| missing("units"))?,
        },
        "set_units" => Action::SetUnits {
            sku: sku()?,
            units: PrepaidUnits {
                enabled: s.enabled.ok_or_else(|| missing("enabled"))?,
                warning: s.warning.unwrap_or(0),
                suspended: s.suspended.unwrap_or(0),
                locked_out: s.locked_out.unwrap_or(0),
            },
        },
        "reprocess_user" => Action::ReprocessUser {
            users: users(names)?,
        },
        "reprocess_group" => Action::ReprocessGroup {
            group: group(names)?,
        },
        "delete_user" => Action::DeleteUser {
            users: users(names)?,
        },
        "wait" => Action::Wait {
            duration_ms: r.duration(
                s.duration.as_deref().ok_or_else(|| missing("duration"))?,
                span,
                "duration",
            )?,
        },
        "wait_until_processed" => match s.group.as_deref() {
            None | Some("all") => Action::WaitUntilProcessed { group: None },
            Some(_) => Action::WaitUntilProcessed {
                group: Some(group(names)?),
            },
        },
        "gate" => Action::Gate {
            require: require(
                s.require.as_deref().ok_or_else(|| missing("require"))?,
                names,
                r,
                span,
                "require",
            )?,
        },
        a => {
            return Err(ctx.err(
                span.clone(),
                Some(a),
                "action",
                format!("unknown action {a:?}"),
                nearest(a, Action::NAMES),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse_scenario;
    use crate::model::Action;

    const HEAD: &str = "[tenant]\nsubscriptions = { ENTERPRISEPACK = 5 }\n[[users]]\nid = \"a\"\n[[groups]]\nid = \"g\"\n";

    fn err(plan: &str) -> String {
        parse_scenario("s.toml", &format!("{HEAD}{plan}"), None)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn step_errors() {
        assert_eq!(
            err("[[plan]]\naction = \"remove_direct\"\nusers = \"all\"\n"),
            "s.toml:8:11: key `sku`: action remove_direct needs `sku`"
        );
        assert_eq!(
            err("[[plan]]\naction = \"delete_group\"\ngroup = \"h\"\n"),
            "s.toml:9:10: key `group`: unknown group \"h\" (did you mean `g`?)"
        );
        assert_eq!(
            err(
                "[[plan]]\naction = \"add_members\"\ngroup = \"g\"\nusers = \"all\"\nwave_size = 0\n"
            ),
            "s.toml:11:1: key `wave_size`: wave_size must be at least 1"
        );
        assert_eq!(
            err("[[plan]]\naction = \"reprocess_group\"\ngroup = \"g\"\non_reject = \"halt\"\n"),
            "s.toml:10:14: key `on_reject`: unknown value \"halt\" (stop or continue)"
        );
        assert_eq!(
            err("[[plan]]\naction = \"purchse\"\n"),
            "s.toml:8:11: key `action`: unknown action \"purchse\" (did you mean `purchase`?)"
        );
        assert_eq!(
            err(
                "[[plan]]\naction = \"add_members\"\ngroup = \"g\"\nusers = \"all\"\ngate_each_wave = \"no_service_los\"\n"
            ),
            "s.toml:11:19: key `gate_each_wave`: unknown requirement \"no_service_los\" (no_license_errors, no_service_loss, all_members_licensed:<group>, units_available:<SKU> >= N) (did you mean `no_service_loss`?)"
        );
    }

    #[test]
    fn a_created_group_is_known_to_later_steps_only() {
        let sc = parse_scenario(
            "s.toml",
            &format!("{HEAD}[[plan]]\naction = \"create_group\"\nid = \"new\"\nmembers = [\"a\"]\n[[plan]]\naction = \"delete_group\"\ngroup = \"new\"\n"),
            None,
        )
        .unwrap();
        assert!(matches!(&sc.plan[0].action, Action::CreateGroup(g) if g.id == "new"));
        assert_eq!(sc.plan[1].line, 11);
        assert!(
            err("[[plan]]\naction = \"delete_group\"\ngroup = \"new\"\n[[plan]]\naction = \"create_group\"\nid = \"new\"\n")
                .contains("unknown group \"new\"")
        );
    }
}
