//! The resolved scenario: what `spec` produces from a TOML file and what `runner` executes.
//! Names of SKUs and plans are resolved against the scenario's catalogue; names of users, groups
//! and populations are kept as strings (they are created by the run) but were checked by `spec`.
//! Durations are integer milliseconds.

use engine::catalog::Catalog;
use engine::event::PrepaidUnits;
use engine::prelude::{GroupSource, LicenseSpec, Loc, SkuIdx};
use engine::sim::{Environment, OnGroupDelete};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Display name of the file it came from (for messages and replay commands).
    pub source: String,
    /// Default number of runs for `licsim run`.
    pub seeds: u64,
    /// Base seed (`--seed` overrides); run `i` uses (seed, i).
    pub seed: u64,
    /// Calendar start, seconds since 1970 (display only).
    pub start_unix_s: i64,
    pub tenant: Tenant,
    pub catalog: Arc<Catalog>,
    pub users: Vec<UserSpec>,
    pub populations: Vec<Population>,
    pub groups: Vec<GroupSpec>,
    pub faults: Vec<Fault>,
    pub environment: Environment,
    /// Simulated time limit of one run (default 30 days).
    pub max_duration_ms: u64,
    pub plan: Vec<Step>,
    pub expect: Expectations,
}

impl Scenario {
    /// The index of the user with id `id` among those setup creates (the inverse of
    /// [`Scenario::user_id`]); it stays that user's index after a plan step deletes it.
    pub fn user_index(&self, id: &str) -> Option<u32> {
        if let Some(i) = self.users.iter().position(|u| u.id == id) {
            return Some(i as u32);
        }
        let mut base = self.users.len() as u64;
        for p in &self.populations {
            if let Some(i) = index_of_id(&p.id_pattern, p.count, id) {
                return u32::try_from(base + i - 1).ok();
            }
            base += p.count;
        }
        None
    }

    /// The id of the user a run creates `index`-th (setup creates the explicit users, then each
    /// population's in order; the plan creates none), without running anything.
    pub fn user_id(&self, index: u32) -> Option<String> {
        let mut i = index as u64;
        if let Some(u) = self.users.get(i as usize) {
            return Some(u.id.clone());
        }
        i -= self.users.len() as u64;
        for p in &self.populations {
            if i < p.count {
                return Some(p.id(i + 1));
            }
            i -= p.count;
        }
        None
    }

    /// An empty scenario with the defaults of SPEC 5/10 (200 seeds, seed 1, 30 days, built-in
    /// catalogue with the `current` rules, tenant default location US).
    pub fn new(name: &str, catalog: Arc<Catalog>) -> Scenario {
        Scenario {
            name: name.to_string(),
            description: String::new(),
            source: format!("{name}.toml"),
            seeds: 200,
            seed: 1,
            start_unix_s: 1_767_603_600,
            tenant: Tenant {
                default_usage_location: Some(*b"US"),
                on_group_delete: OnGroupDelete::ConvertToDirect,
                domain: "contoso.example".into(),
                subscriptions: Vec::new(),
            },
            catalog,
            users: Vec::new(),
            populations: Vec::new(),
            groups: Vec::new(),
            faults: Vec::new(),
            environment: Environment::default(),
            max_duration_ms: 30 * engine::sim::DAY,
            plan: Vec::new(),
            expect: Expectations::default(),
        }
    }
}

impl Step {
    /// A step without waves that goes on after a rejection.
    pub fn new(action: Action) -> Step {
        Step {
            action,
            waves: Waves {
                wave_size: None,
                wave_interval_ms: 0,
                gate_each_wave: None,
            },
            stop_on_reject: false,
            line: 0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Tenant {
    pub default_usage_location: Option<Loc>,
    pub on_group_delete: OnGroupDelete,
    pub domain: String,
    /// Subscriptions set at time 0, in catalogue order.
    pub subscriptions: Vec<(SkuIdx, PrepaidUnits)>,
}

#[derive(Clone, Debug)]
pub struct UserSpec {
    pub id: String,
    pub usage_location: Option<Loc>,
    pub proxy_addresses: Vec<String>,
    pub attributes: Vec<(String, String)>,
    pub direct: Vec<LicenseSpec>,
}

#[derive(Clone, Debug)]
pub struct Population {
    pub name: String,
    pub count: u64,
    /// e.g. `user{:04}`: `{:0N}` is the 1-based index zero-padded to N, `{}` unpadded.
    pub id_pattern: String,
    pub usage_location: Option<Loc>,
    pub attributes: Vec<(String, String)>,
    pub direct: Vec<LicenseSpec>,
}

impl Population {
    /// The id of the `i`-th member (1-based).
    pub fn id(&self, i: u64) -> String {
        format_id(&self.id_pattern, i)
    }
}

/// An id pattern split at its placeholder: (prefix, spec inside the braces, suffix); a pattern
/// without one is all prefix, the index appended.
fn split_pattern(pattern: &str) -> (&str, &str, &str) {
    if let Some(start) = pattern.find('{')
        && let Some(len) = pattern[start..].find('}')
    {
        return (
            &pattern[..start],
            &pattern[start + 1..start + len],
            &pattern[start + len + 1..],
        );
    }
    (pattern, "", "")
}

/// Expands `{}` / `{:0N}` / `{:N}` in an id pattern with `i`; a pattern without a placeholder
/// gets the index appended.
pub fn format_id(pattern: &str, i: u64) -> String {
    let (prefix, spec, suffix) = split_pattern(pattern);
    let num = if let Some(w) = spec.strip_prefix(":0") {
        let w: usize = w.parse().unwrap_or(0);
        format!("{i:0w$}")
    } else if let Some(w) = spec.strip_prefix(':') {
        let w: usize = w.parse().unwrap_or(0);
        format!("{i:w$}")
    } else {
        i.to_string()
    };
    format!("{prefix}{num}{suffix}")
}

/// The index `i` in `1..=count` with `format_id(pattern, i) == id`, if there is one: whether a
/// population generates `id`, without generating its ids.
pub fn index_of_id(pattern: &str, count: u64, id: &str) -> Option<u64> {
    let (prefix, _, suffix) = split_pattern(pattern);
    let mid = id.strip_prefix(prefix)?.strip_suffix(suffix)?;
    let digits = mid.trim_start_matches(' ');
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let i: u64 = digits.parse().ok()?;
    (i >= 1 && i <= count && format_id(pattern, i) == id).then_some(i)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberRef {
    /// A user id, or every user a selector picks at setup.
    Users(Selector),
    /// Another group (nesting: R09, members get nothing from it).
    Group(String),
}

#[derive(Clone, Debug)]
pub struct GroupSpec {
    pub id: String,
    pub display_name: String,
    pub security_enabled: bool,
    pub source: GroupSource,
    /// Dynamic membership rule (R26), as written.
    pub rule: Option<String>,
    pub members: Vec<MemberRef>,
    /// Licenses assigned to the group at setup (optional key `licenses`).
    pub licenses: Vec<LicenseSpec>,
}

/// Picks users, evaluated against the tenant at the time of the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    All,
    Group(String),
    Population(String),
    Ids(Vec<String>),
    Attribute { key: String, value: String },
    First(u64, Box<Selector>),
}

/// Faults applied per run by the seeded RNG after setup (SPEC 10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Clear `usageLocation` of a fraction of the population.
    MissingUsageLocation { population: String, ppm: u32 },
    /// Give a fraction of the population a proxy address another user already holds.
    DuplicateProxyAddress { population: String, ppm: u32 },
    /// Assign `sku` directly to a fraction (a conflicting SKU such as E1 before E3).
    ConflictingDirect {
        population: String,
        sku: SkuIdx,
        ppm: u32,
    },
    /// Assign a dependent add-on `sku` directly to a fraction (e.g. MCOMEETADV).
    DependentDirect {
        population: String,
        sku: SkuIdx,
        ppm: u32,
    },
}

/// A gate or `gate_each_wave` requirement (SPEC 10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Require {
    NoLicenseErrors,
    NoServiceLoss,
    AllMembersLicensed(String),
    UnitsAvailable { sku: SkuIdx, at_least: u64 },
}

#[derive(Clone, Debug)]
pub struct Waves {
    pub wave_size: Option<u64>,
    pub wave_interval_ms: u64,
    pub gate_each_wave: Option<Require>,
}

#[derive(Clone, Debug)]
pub enum Action {
    AssignDirect {
        users: Selector,
        add: Vec<LicenseSpec>,
        remove: Vec<SkuIdx>,
    },
    RemoveDirect {
        users: Selector,
        sku: SkuIdx,
    },
    AssignGroupLicense {
        group: String,
        add: Vec<LicenseSpec>,
        remove: Vec<SkuIdx>,
    },
    AddMembers {
        group: String,
        users: Selector,
    },
    RemoveMembers {
        group: String,
        users: Selector,
    },
    CreateGroup(GroupSpec),
    DeleteGroup {
        group: String,
    },
    SetRule {
        group: String,
        rule: Option<String>,
    },
    SetUsageLocation {
        users: Selector,
        location: Option<Loc>,
    },
    SetAttribute {
        users: Selector,
        attribute: String,
        value: Option<String>,
    },
    SetProxyAddresses {
        users: Selector,
        proxy_addresses: Vec<String>,
    },
    Purchase {
        sku: SkuIdx,
        units: i64,
    },
    SetUnits {
        sku: SkuIdx,
        units: PrepaidUnits,
    },
    ReprocessUser {
        users: Selector,
    },
    ReprocessGroup {
        group: String,
    },
    DeleteUser {
        users: Selector,
    },
    Wait {
        duration_ms: u64,
    },
    /// `group = "all"` is `None`.
    WaitUntilProcessed {
        group: Option<String>,
    },
    Gate {
        require: Require,
    },
}

impl Action {
    /// The action's name as written in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Action::AssignDirect { .. } => "assign_direct",
            Action::RemoveDirect { .. } => "remove_direct",
            Action::AssignGroupLicense { .. } => "assign_group_license",
            Action::AddMembers { .. } => "add_members",
            Action::RemoveMembers { .. } => "remove_members",
            Action::CreateGroup(_) => "create_group",
            Action::DeleteGroup { .. } => "delete_group",
            Action::SetRule { .. } => "set_rule",
            Action::SetUsageLocation { .. } => "set_usage_location",
            Action::SetAttribute { .. } => "set_attribute",
            Action::SetProxyAddresses { .. } => "set_proxy_addresses",
            Action::Purchase { .. } => "purchase",
            Action::SetUnits { .. } => "set_units",
            Action::ReprocessUser { .. } => "reprocess_user",
            Action::ReprocessGroup { .. } => "reprocess_group",
            Action::DeleteUser { .. } => "delete_user",
            Action::Wait { .. } => "wait",
            Action::WaitUntilProcessed { .. } => "wait_until_processed",
            Action::Gate { .. } => "gate",
        }
    }
    /// Every action name, for suggestions.
    pub const NAMES: [&'static str; 19] = [
        "assign_direct",
        "remove_direct",
        "assign_group_license",
        "add_members",
        "remove_members",
        "create_group",
        "delete_group",
        "set_rule",
        "set_usage_location",
        "set_attribute",
        "set_proxy_addresses",
        "purchase",
        "set_units",
        "reprocess_user",
        "reprocess_group",
        "delete_user",
        "wait",
        "wait_until_processed",
        "gate",
    ];
}

#[derive(Clone, Debug)]
pub struct Step {
    pub action: Action,
    /// Waves for user-targeted actions (`wave_size` absent: one wave).
    pub waves: Waves,
    /// `on_reject = "stop"`.
    pub stop_on_reject: bool,
    /// 1-based line of the step in the file (for reports).
    pub line: usize,
}

/// `[expect]`: checked after each run; a violation makes `licsim run` exit 1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    pub max_users_in_error: Option<u64>,
    pub no_service_loss: Option<bool>,
    /// No user still without a service at the end of the run (outages that closed are allowed).
    pub no_service_loss_at_end: Option<bool>,
    pub peak_units: Vec<(SkuIdx, u64)>,
    pub max_rejected_calls: Option<u64>,
    pub max_duration_ms: Option<u64>,
}

impl Expectations {
    /// Whether the scenario states no expectation at all (then the defaults apply:
    /// `metrics::default_expectations`).
    pub fn is_empty(&self) -> bool {
        *self == Expectations::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_of_id_inverts_format_id() {
        for (pattern, count) in [
            ("u{:06}", 250_000u64),
            ("sales{:02}", 120),
            ("x{}", 30),
            ("plain", 12),
            ("{:4}-z", 2_000),
            ("a{}b{}", 15),
        ] {
            for i in 1..=count.min(3_000) {
                let id = format_id(pattern, i);
                assert_eq!(index_of_id(pattern, count, &id), Some(i), "{pattern} {id}");
            }
            assert_eq!(
                index_of_id(pattern, count, &format_id(pattern, count + 1)),
                None
            );
            assert_eq!(index_of_id(pattern, count, &format_id(pattern, 0)), None);
        }
        assert_eq!(index_of_id("u{:06}", 10, "u00001"), None, "wrong width");
        assert_eq!(index_of_id("u{:06}", 10, "u0000x1"), None);
        assert_eq!(index_of_id("u{}", 10, "u+1"), None);
        assert_eq!(index_of_id("u{}", 10, "v1"), None);
        assert_eq!(
            index_of_id("u{}", u64::MAX, "u99999999999999999999999"),
            None
        );
    }
}
