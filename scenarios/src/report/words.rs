//! Small helpers that put figures into words, shared by the renderers.

use crate::figures::Distribution;

/// "12" when every run agrees, else "p50 12, max 20".
pub fn spread(d: &Distribution) -> String {
    if d.min == d.max {
        format!("{}", d.max)
    } else {
        format!("p50 {}, max {}", d.p50, d.max)
    }
}

/// Text safe in a Markdown table cell.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The first `n` names, then "+K more".
pub fn users_list(names: &[String], n: usize) -> String {
    let mut s = names.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > n {
        s.push_str(&format!(", +{} more", names.len() - n));
    }
    s
}

/// Findings that share SKU, path, error and step: the users, and the fix of the first.
pub struct FindingGroup<'a> {
    pub first: &'a crate::metrics::Finding,
    pub users: Vec<String>,
}

/// Groups findings by (SKU, via, error, step), largest group first (ties in first-user order).
/// "12 users, 20 user-licence problems": users counted once however many SKUs they fail on.
pub fn problems_phrase(all: &[crate::metrics::Finding], total: u64) -> String {
    let users: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|f| f.user.as_str())
        .filter(|u| !u.is_empty())
        .collect();
    let n = users.len();
    format!(
        "{n} {}, {total} user-licence {}",
        if n == 1 { "user" } else { "users" },
        if total == 1 { "problem" } else { "problems" }
    )
}

pub fn group_findings(all: &[crate::metrics::Finding]) -> Vec<FindingGroup<'_>> {
    let mut groups: Vec<FindingGroup<'_>> = Vec::new();
    let mut index: std::collections::BTreeMap<(&str, &str, &str, &str), usize> =
        std::collections::BTreeMap::new();
    for f in all {
        let key = (
            f.sku.as_str(),
            f.via.as_str(),
            f.error.as_str(),
            f.step.as_str(),
        );
        match index.get(&key) {
            Some(i) => groups[*i].users.push(f.user.clone()),
            None => {
                index.insert(key, groups.len());
                groups.push(FindingGroup {
                    first: f,
                    users: vec![f.user.clone()],
                });
            }
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.users.len()));
    groups
}
