//! The raw catalogue by name: products, their plans and the rules attached to plans, as a
//! scenario or the CSV reader gives them and a log header carries them.

/// Which built-in rule set applies (SPEC 1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, bincode::Encode, bincode::Decode)]
pub enum RulesProfile {
    /// Since 2023: Exchange Plan 1 and Plan 2 no longer conflict.
    Current,
    /// Before 2023: EXCHANGE_S_ENTERPRISE is also in the Exchange exclusive set.
    Legacy,
}

impl RulesProfile {
    pub fn name(self) -> &'static str {
        match self {
            RulesProfile::Current => "current",
            RulesProfile::Legacy => "legacy",
        }
    }
    pub fn parse(s: &str) -> Option<RulesProfile> {
        match s {
            "current" => Some(RulesProfile::Current),
            "legacy" => Some(RulesProfile::Legacy),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct PlanSpec {
    pub name: String,
    pub guid: String,
    pub friendly_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct SkuSpec {
    pub part_number: String,
    pub guid: String,
    pub display_name: String,
    pub plans: Vec<PlanSpec>,
}

/// The raw catalogue: products and the rules attached to plans, by name. Plans named by a rule
/// but absent from every SKU are ignored (the full official file has plans the subset lacks).
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct CatalogSpec {
    pub profile: RulesProfile,
    pub skus: Vec<SkuSpec>,
    /// (set name, plan names): two different plans of one set cannot both be enabled (R13).
    pub exclusive_sets: Vec<(String, Vec<String>)>,
    /// (dependent plan, prerequisite plans): at least one prerequisite must be enabled (R14-R16).
    pub dependencies: Vec<(String, Vec<String>)>,
    /// (plan, ISO 3166 alpha-2 locations where it may not be used) (R17).
    pub prohibited: Vec<(String, Vec<String>)>,
    /// Plans that provision a mailbox and need a unique proxy address (R18).
    pub mailbox_plans: Vec<String>,
    /// (plan, family) overrides; plans not listed are a family of their own.
    pub families: Vec<(String, String)>,
}
