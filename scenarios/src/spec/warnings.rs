//! Warnings for `licsim validate`: a scenario that parses but will not do what it seems to say
//! (nested groups, R09; licences on a group that is not security-enabled, R08; member changes on
//! a dynamic group, R26; direct adds for users without a usage location, R06).

use crate::model::{Action, MemberRef, Scenario};
use std::collections::BTreeSet;

/// Warnings for `licsim validate`: nested groups (R09), doomed steps.
pub fn warnings(sc: &Scenario) -> Vec<String> {
    let mut w = Vec::new();
    for g in &sc.groups {
        for m in &g.members {
            if let MemberRef::Group(h) = m {
                w.push(format!("group {:?} has group {h:?} as a member: its members get nothing from {:?} (no nesting, R09)", g.id, g.id));
            }
        }
        if !g.security_enabled && !g.licenses.is_empty() {
            w.push(format!(
                "group {:?} is not security-enabled: assigning it licenses is rejected (R08)",
                g.id
            ));
        }
    }
    let dynamic: BTreeSet<&str> = sc
        .groups
        .iter()
        .filter(|g| g.rule.is_some())
        .map(|g| g.id.as_str())
        .collect();
    let no_location = sc.users.iter().any(|u| u.usage_location.is_none())
        || sc.populations.iter().any(|p| p.usage_location.is_none());
    for (i, s) in sc.plan.iter().enumerate() {
        let n = i + 1;
        match &s.action {
            Action::AddMembers { group, .. } | Action::RemoveMembers { group, .. } if dynamic.contains(group.as_str()) => {
                w.push(format!("step {n} (line {}): {} on dynamic group {group:?} is rejected (R26)", s.line, s.action.name()))
            }
            Action::AssignDirect { add, .. } if !add.is_empty() && no_location => w.push(format!(
                "step {n} (line {}): some users have no usage location; a direct add fails for them with InvalidUsageLocation (R06)",
                s.line
            )),
            _ => {}
        }
    }
    w
}
