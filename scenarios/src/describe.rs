//! A scenario's plan in the words of its file: each step as "assign_group_license all-users
//! +SPE_E3 -ENTERPRISEPACK", selectors as written (`group:emea`, `first:10:all`), gate
//! conditions as written. Used by reports ("since step 3" needs to say what step 3 was) and by
//! the runner's gate markers.

use crate::model::*;
use engine::catalog::{Catalog, loc_str};
use engine::prelude::LicenseSpec;

/// A user selector as a scenario writes it.
pub fn selector(s: &Selector) -> String {
    match s {
        Selector::All => "all".into(),
        Selector::Group(g) => format!("group:{g}"),
        Selector::Population(p) => format!("population:{p}"),
        Selector::Ids(ids) if ids.len() <= 3 => ids.join(", "),
        Selector::Ids(ids) => format!("{}, ... ({} users)", ids[..2].join(", "), ids.len()),
        Selector::Attribute { key, value } => format!("attribute:{key}={value}"),
        Selector::First(n, inner) => format!("first:{n}:{}", selector(inner)),
    }
}

/// A gate condition as a scenario writes it.
pub fn require(cat: &Catalog, r: &Require) -> String {
    match r {
        Require::NoLicenseErrors => "no_license_errors".into(),
        Require::NoServiceLoss => "no_service_loss".into(),
        Require::AllMembersLicensed(g) => format!("all_members_licensed:{g}"),
        Require::UnitsAvailable { sku, at_least } => {
            format!(
                "units_available:{} >= {at_least}",
                cat.sku(*sku).part_number
            )
        }
    }
}

fn licences(cat: &Catalog, add: &[LicenseSpec], remove: &[engine::prelude::SkuIdx]) -> String {
    let mut parts: Vec<String> = add
        .iter()
        .map(|l| format!("+{}", cat.sku(l.sku).part_number))
        .collect();
    parts.extend(
        remove
            .iter()
            .map(|s| format!("-{}", cat.sku(*s).part_number)),
    );
    parts.join(" ")
}

/// One step: its action and what it acts on.
pub fn step(cat: &Catalog, s: &Step) -> String {
    let what = match &s.action {
        Action::AssignDirect { users, add, remove } => {
            format!("{} {}", selector(users), licences(cat, add, remove))
        }
        Action::RemoveDirect { users, sku } => {
            format!("{} -{}", selector(users), cat.sku(*sku).part_number)
        }
        Action::AssignGroupLicense { group, add, remove } => {
            format!("{group} {}", licences(cat, add, remove))
        }
        Action::AddMembers { group, users } | Action::RemoveMembers { group, users } => {
            format!("{group} {}", selector(users))
        }
        Action::CreateGroup(g) => g.id.clone(),
        Action::DeleteGroup { group } | Action::ReprocessGroup { group } => group.clone(),
        Action::SetRule { group, rule } => {
            format!("{group} {}", rule.as_deref().unwrap_or("(static)"))
        }
        Action::SetUsageLocation { users, location } => format!(
            "{} {}",
            selector(users),
            location.map_or("(none)".to_string(), loc_str)
        ),
        Action::SetAttribute {
            users, attribute, ..
        } => format!("{} {attribute}", selector(users)),
        Action::SetProxyAddresses { users, .. }
        | Action::ReprocessUser { users }
        | Action::DeleteUser { users } => selector(users),
        Action::Purchase { sku, units } => format!("{units} {}", cat.sku(*sku).part_number),
        Action::SetUnits { sku, units } => {
            format!("{} enabled {}", cat.sku(*sku).part_number, units.enabled)
        }
        Action::Wait { duration_ms } => crate::figures::fmt_duration(*duration_ms),
        Action::WaitUntilProcessed { group } => group.clone().unwrap_or_else(|| "all".into()),
        Action::Gate { require: r } => require(cat, r),
    };
    let mut out = format!("{} {what}", s.action.name());
    if let Some(n) = s.waves.wave_size {
        out.push_str(&format!(
            ", in waves of {n} every {}",
            crate::figures::fmt_duration(s.waves.wave_interval_ms)
        ));
    }
    out.trim_end().to_string()
}
