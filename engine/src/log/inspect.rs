//! `inspect`: names folded from a log's events, one line (or JSON object) per event, and the
//! `--user` / `--group` filter.

use crate::catalog::Catalog;
use crate::event::*;

/// Names of users and groups by dense index, folded from a log's events.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl Names {
    pub fn from_events<'a>(events: impl Iterator<Item = &'a TimedEvent>) -> Names {
        let mut n = Names::default();
        let mut pending_user = None;
        let mut pending_group = None;
        for e in events {
            match &e.event {
                Event::Input(Input::CreateUser { name, .. }) => pending_user = Some(name.clone()),
                Event::Input(Input::CreateGroup { name, .. }) => pending_group = Some(name.clone()),
                Event::Outcome(Outcome::UserCreated { user }) => {
                    if let Some(name) = pending_user.take() {
                        let i = *user as usize;
                        if n.users.len() <= i {
                            n.users.resize(i + 1, String::new());
                        }
                        n.users[i] = name;
                    }
                }
                Event::Outcome(Outcome::GroupCreated { group }) => {
                    if let Some(name) = pending_group.take() {
                        let i = *group as usize;
                        if n.groups.len() <= i {
                            n.groups.resize(i + 1, String::new());
                        }
                        n.groups[i] = name;
                    }
                }
                _ => {}
            }
        }
        n
    }
    pub fn user(&self, u: UserIdxT) -> String {
        self.users
            .get(u as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{u}"))
    }
    pub fn group(&self, g: GroupIdxT) -> String {
        self.groups
            .get(g as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{g}"))
    }
}

/// The `--user ID` / `--group ID` filters of `inspect`. An ID is a display name or a dense index
/// (`3` or `#3`); an event passes when it involves the user and the group asked for.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub user: Option<String>,
    pub group: Option<String>,
}

impl Filter {
    pub fn new(user: Option<&str>, group: Option<&str>, names: &Names) -> Filter {
        let resolve = |id: &str, known: &[String], name: &dyn Fn(u32) -> String| {
            if known.iter().any(|n| n == id) {
                return id.to_string();
            }
            match id.strip_prefix('#').unwrap_or(id).parse::<u32>() {
                Ok(i) => name(i),
                Err(_) => id.to_string(),
            }
        };
        Filter {
            user: user.map(|u| resolve(u, &names.users, &|i| names.user(i))),
            group: group.map(|g| resolve(g, &names.groups, &|i| names.group(i))),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.group.is_none()
    }
    /// Whether what an event involves (see [`involved`]) passes the filter.
    pub fn matches(&self, i: &Involved) -> bool {
        self.user.as_ref().is_none_or(|u| i.users.contains(u))
            && self.group.as_ref().is_none_or(|g| i.groups.contains(g))
    }
    /// Whether an event passes the filter.
    pub fn matches_event(&self, e: &TimedEvent, names: &Names, cat: &Catalog) -> bool {
        self.is_empty() || self.matches(&involved(e, names, cat))
    }
}

type UserIdxT = crate::UserIdx;
type GroupIdxT = crate::GroupIdx;

/// What an event involves: (kind, users, groups, SKUs, detail).
pub struct Involved {
    pub kind: String,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub skus: Vec<String>,
    pub detail: String,
}

/// Formats simulated time as `Dd HH:MM:SS.mmm`.
pub fn fmt_time(ms: u64) -> String {
    let s = ms / 1000;
    format!(
        "{}d {:02}:{:02}:{:02}.{:03}",
        s / 86_400,
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

pub fn involved(e: &TimedEvent, names: &Names, cat: &Catalog) -> Involved {
    let sku = |s: crate::SkuIdx| {
        cat.skus
            .get(s as usize)
            .map_or_else(|| format!("#{s}"), |x| x.part_number.clone())
    };
    let lic = |l: &[LicenseSpec]| -> Vec<String> { l.iter().map(|x| sku(x.sku)).collect() };
    let src = |s: &Source| match s {
        Source::Direct => "direct".to_string(),
        Source::Group(g) => format!("group {}", names.group(*g)),
    };
    let member = |m: &Member| match m {
        Member::User(u) => (Some(names.user(*u)), None),
        Member::Group(g) => (None, Some(names.group(*g))),
    };
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut skus = Vec::new();
    let mut detail = String::new();
    let kind;
    match &e.event {
        Event::Input(i) => {
            kind = format!("input {}", i.kind());
            match i {
                Input::CreateUser {
                    name,
                    usage_location,
                    ..
                } => {
                    users.push(name.clone());
                    detail = format!(
                        "usageLocation={}",
                        usage_location.map_or("none".into(), crate::catalog::loc_str)
                    );
                }
                Input::DeleteUser { user } | Input::ReprocessUser { user } => {
                    users.push(names.user(*user))
                }
                Input::SetUsageLocation { user, location } => {
                    users.push(names.user(*user));
                    detail = format!(
                        "location={}",
                        location.map_or("none".into(), crate::catalog::loc_str)
                    );
                }
                Input::SetProxyAddresses { user, addresses } => {
                    users.push(names.user(*user));
                    detail = addresses.join(",");
                }
                Input::SetAttribute { user, key, value } => {
                    users.push(names.user(*user));
                    detail = format!("{key}={}", value.as_deref().unwrap_or("(none)"));
                }
                Input::CreateGroup {
                    name,
                    rule,
                    members,
                    ..
                } => {
                    groups.push(name.clone());
                    for m in members {
                        let (u, g) = member(m);
                        users.extend(u);
                        groups.extend(g);
                    }
                    if let Some(r) = rule {
                        detail = format!("rule={r}");
                    }
                }
                Input::DeleteGroup { group } | Input::ReprocessGroup { group } => {
                    groups.push(names.group(*group))
                }
                Input::SetRule { group, rule } => {
                    groups.push(names.group(*group));
                    detail = format!("rule={}", rule.as_deref().unwrap_or("(static)"));
                }
                Input::AddMembers { group, members } | Input::RemoveMembers { group, members } => {
                    groups.push(names.group(*group));
                    for m in members {
                        let (u, g) = member(m);
                        users.extend(u);
                        groups.extend(g);
                    }
                }
                Input::AssignUserLicense { user, add, remove } => {
                    users.push(names.user(*user));
                    skus.extend(lic(add));
                    skus.extend(remove.iter().map(|s| sku(*s)));
                    detail = format!(
                        "add=[{}] remove=[{}]",
                        lic(add).join(","),
                        remove.iter().map(|s| sku(*s)).collect::<Vec<_>>().join(",")
                    );
                }
                Input::AssignGroupLicense { group, add, remove } => {
                    groups.push(names.group(*group));
                    skus.extend(lic(add));
                    skus.extend(remove.iter().map(|s| sku(*s)));
                    detail = format!(
                        "add=[{}] remove=[{}]",
                        lic(add).join(","),
                        remove.iter().map(|s| sku(*s)).collect::<Vec<_>>().join(",")
                    );
                }
                Input::Purchase { sku: s, units } => {
                    skus.push(sku(*s));
                    detail = format!("units={units}");
                }
                Input::SetUnits { sku: s, units } => {
                    skus.push(sku(*s));
                    detail = format!(
                        "enabled={} warning={} suspended={} lockedOut={}",
                        units.enabled, units.warning, units.suspended, units.locked_out
                    );
                }
                Input::DirectorySync | Input::BaselineStart | Input::BaselineEnd => {}
                Input::Marker(m) => detail = format!("{m:?}"),
            }
        }
        Event::Outcome(o) => {
            let name = format!("{o:?}");
            kind = name
                .split([' ', '(', '{'])
                .next()
                .unwrap_or("outcome")
                .to_string();
            match o {
                Outcome::Rejected(r) => {
                    skus.extend(r.sku.map(sku));
                    let plans: Vec<&str> = r
                        .plans
                        .iter()
                        .filter_map(|p| cat.plans.get(*p as usize))
                        .map(|p| p.name.as_str())
                        .collect();
                    detail = format!("{} {}", r.error, plans.join(","));
                }
                Outcome::UserCreated { user } | Outcome::UserDeleted { user } => {
                    users.push(names.user(*user))
                }
                Outcome::GroupCreated { group } | Outcome::GroupDeleted { group } => {
                    groups.push(names.group(*group))
                }
                Outcome::PathSet {
                    user,
                    sku: s,
                    source,
                    state,
                    error,
                } => {
                    users.push(names.user(*user));
                    skus.push(sku(*s));
                    if let Source::Group(g) = source {
                        groups.push(names.group(*g));
                    }
                    detail = format!("{} {} {}", src(source), state.as_str(), error.as_str());
                }
                Outcome::PathRemoved {
                    user,
                    sku: s,
                    source,
                } => {
                    users.push(names.user(*user));
                    skus.push(sku(*s));
                    if let Source::Group(g) = source {
                        groups.push(names.group(*g));
                    }
                    detail = src(source);
                }
                Outcome::PathConverted {
                    user,
                    sku: s,
                    group,
                } => {
                    users.push(names.user(*user));
                    skus.push(sku(*s));
                    groups.push(names.group(*group));
                }
                Outcome::Consumed { sku: s, consumed } => {
                    skus.push(sku(*s));
                    detail = format!("consumedUnits={consumed}");
                }
                Outcome::ServiceLost { user, family }
                | Outcome::ServiceRestored { user, family } => {
                    users.push(names.user(*user));
                    detail = cat
                        .families
                        .get(*family as usize)
                        .cloned()
                        .unwrap_or_default();
                }
                Outcome::Membership {
                    group,
                    member: m,
                    added,
                } => {
                    groups.push(names.group(*group));
                    let (u, g) = member(m);
                    users.extend(u);
                    groups.extend(g);
                    detail = if *added {
                        "added".into()
                    } else {
                        "removed".into()
                    };
                }
                Outcome::GroupState { group, state } => {
                    groups.push(names.group(*group));
                    detail = state.as_str().to_string();
                }
                Outcome::Audit(a) => {
                    match a {
                        Audit::ChangeUserLicense {
                            user,
                            group,
                            result,
                        } => {
                            users.push(names.user(*user));
                            groups.extend(group.map(|g| names.group(g)));
                            detail = format!("{result:?}");
                        }
                        Audit::SetGroupLicense { group, result } => {
                            groups.push(names.group(*group));
                            detail = format!("{result:?}");
                        }
                        Audit::StartApplying { group } => groups.push(names.group(*group)),
                        Audit::FinishApplying {
                            group,
                            succeeded,
                            failed,
                        } => {
                            groups.push(names.group(*group));
                            detail = format!(
                                "Users successfully assigned licenses: {succeeded}, Users for whom license assignment failed: {failed}."
                            );
                        }
                    }
                    detail = format!("\"{}\" {detail}", a.activity());
                }
                Outcome::ConcurrencyRetry { user, group } => {
                    users.push(names.user(*user));
                    groups.push(names.group(*group));
                    detail = "LicenseAssignmentAttributeConcurrencyException".into();
                }
            }
        }
    }
    Involved {
        kind,
        users,
        groups,
        skus,
        detail,
    }
}

/// One human line for an event.
pub fn describe(index: u64, e: &TimedEvent, names: &Names, cat: &Catalog) -> String {
    let i = involved(e, names, cat);
    let mut parts = vec![format!(
        "#{index:<6} {} {:<28}",
        fmt_time(e.time_ms),
        i.kind
    )];
    if !i.users.is_empty() {
        parts.push(format!("user={}", i.users.join(",")));
    }
    if !i.groups.is_empty() {
        parts.push(format!("group={}", i.groups.join(",")));
    }
    if !i.skus.is_empty() && !i.detail.contains(&i.skus.join(",")) {
        parts.push(format!("sku={}", i.skus.join(",")));
    }
    if !i.detail.is_empty() {
        parts.push(i.detail);
    }
    parts.join(" ")
}

/// One JSON object for an event (for `inspect --format jsonl`).
pub fn describe_json(
    index: u64,
    e: &TimedEvent,
    names: &Names,
    cat: &Catalog,
) -> serde_json::Value {
    let i = involved(e, names, cat);
    serde_json::json!({"index": index, "time_ms": e.time_ms, "kind": i.kind, "users": i.users,
        "groups": i.groups, "skus": i.skus, "detail": i.detail})
}
