//! The product catalogue: SKUs, service plans, service families and the rules attached to plans
//! (mutually exclusive sets, dependencies, prohibited usage locations, mailbox plans).
//!
//! A [`CatalogSpec`] is the raw, serializable description (what a log header carries); a
//! [`Catalog`] is the built form the rules use: dense indices and fixed-size plan bitsets.

use crate::{Loc, PlanIdx, SkuIdx};
use std::collections::BTreeMap;
use std::fmt;

/// Words in a [`PlanSet`]: the catalogue holds at most `64 * PLAN_WORDS` distinct service plans.
pub const PLAN_WORDS: usize = 32;
/// The largest number of distinct service plans a catalogue may hold.
pub const MAX_PLANS: usize = 64 * PLAN_WORDS;
/// The largest number of SKUs a catalogue may hold.
pub const MAX_SKUS: usize = u16::MAX as usize;

/// The built-in catalogue file (Microsoft's public reference layout, 16 products).
pub const BUILTIN_CSV: &str = include_str!("../data/skus-subset.csv");

/// A fixed-size bitset of service plans (by [`PlanIdx`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlanSet(pub [u64; PLAN_WORDS]);

impl Default for PlanSet {
    fn default() -> Self {
        PlanSet([0; PLAN_WORDS])
    }
}

impl fmt::Debug for PlanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl PlanSet {
    pub const EMPTY: PlanSet = PlanSet([0; PLAN_WORDS]);

    pub fn from_plans(plans: impl IntoIterator<Item = PlanIdx>) -> PlanSet {
        let mut s = PlanSet::EMPTY;
        for p in plans {
            s.insert(p);
        }
        s
    }
    #[inline]
    pub fn insert(&mut self, p: PlanIdx) {
        self.0[p as usize / 64] |= 1u64 << (p % 64);
    }
    #[inline]
    pub fn remove(&mut self, p: PlanIdx) {
        self.0[p as usize / 64] &= !(1u64 << (p % 64));
    }
    #[inline]
    pub fn contains(&self, p: PlanIdx) -> bool {
        self.0[p as usize / 64] & (1u64 << (p % 64)) != 0
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    #[inline]
    pub fn union_with(&mut self, o: &PlanSet) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a |= *b;
        }
    }
    #[inline]
    pub fn intersect(&self, o: &PlanSet) -> PlanSet {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(o.0.iter()) {
            *a &= *b;
        }
        r
    }
    #[inline]
    pub fn minus(&self, o: &PlanSet) -> PlanSet {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(o.0.iter()) {
            *a &= !*b;
        }
        r
    }
    #[inline]
    pub fn intersects(&self, o: &PlanSet) -> bool {
        self.0.iter().zip(o.0.iter()).any(|(a, b)| a & b != 0)
    }
    pub fn iter(&self) -> impl Iterator<Item = PlanIdx> + '_ {
        self.0.iter().enumerate().flat_map(|(i, w)| {
            let mut w = *w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some((i as u32 * 64 + b) as PlanIdx)
            })
        })
    }
}

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

/// An error reading a catalogue file or building a catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogError {
    /// 1-based line in the CSV, 0 when not about a line.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for CatalogError {}

fn cerr(line: usize, message: impl Into<String>) -> CatalogError {
    CatalogError {
        line,
        message: message.into(),
    }
}

/// Splits CSV text (RFC 4180: quoted fields, doubled quotes, CRLF, a UTF-8 BOM) into records,
/// each with the 1-based line it starts on.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, CatalogError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut field = String::new();
    let mut fields = Vec::new();
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                if !(fields.len() == 1 && fields[0].is_empty()) {
                    records.push((start_line, std::mem::take(&mut fields)));
                }
                fields.clear();
                line += 1;
                start_line = line;
                any = false;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(cerr(start_line, "unterminated quoted field"));
    }
    if any {
        fields.push(field);
        if !(fields.len() == 1 && fields[0].is_empty()) {
            records.push((start_line, fields));
        }
    }
    Ok(records)
}

const CSV_COLUMNS: [&str; 6] = [
    "Product_Display_Name",
    "String_Id",
    "GUID",
    "Service_Plan_Name",
    "Service_Plan_Id",
    "Service_Plans_Included_Friendly_Names",
];

/// Reads SKUs from Microsoft's "Product names and service plan identifiers" CSV layout.
/// Columns are found by header name, so extra columns or another order are accepted.
pub fn skus_from_csv(text: &str) -> Result<Vec<SkuSpec>, CatalogError> {
    let records = parse_csv(text)?;
    let Some((hline, header)) = records.first() else {
        return Err(cerr(0, "empty catalogue file"));
    };
    let mut cols = [0usize; 6];
    for (i, name) in CSV_COLUMNS.iter().enumerate() {
        cols[i] = header
            .iter()
            .position(|h| h.trim() == *name)
            .ok_or_else(|| cerr(*hline, format!("missing column {name}")))?;
    }
    let mut skus: Vec<SkuSpec> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (line, rec) in &records[1..] {
        let get = |i: usize| -> Result<String, CatalogError> {
            rec.get(cols[i])
                .map(|s| s.trim().to_string())
                .ok_or_else(|| cerr(*line, format!("missing field {}", CSV_COLUMNS[i])))
        };
        let (display, part, guid) = (get(0)?, get(1)?, get(2)?);
        let (pname, pguid, pfriendly) = (get(3)?, get(4)?, get(5)?);
        if part.is_empty() {
            return Err(cerr(*line, "empty String_Id"));
        }
        let i = *index.entry(part.clone()).or_insert_with(|| {
            skus.push(SkuSpec {
                part_number: part.clone(),
                guid: guid.to_ascii_lowercase(),
                display_name: display.clone(),
                plans: Vec::new(),
            });
            skus.len() - 1
        });
        if pname.is_empty() {
            continue;
        }
        let sku = &mut skus[i];
        if !sku.plans.iter().any(|p| p.name == pname) {
            sku.plans.push(PlanSpec {
                name: pname,
                guid: pguid.to_ascii_lowercase(),
                friendly_name: pfriendly,
            });
        }
    }
    Ok(skus)
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl CatalogSpec {
    /// The built-in catalogue with the built-in rules of `profile`.
    pub fn builtin(profile: RulesProfile) -> CatalogSpec {
        let skus = skus_from_csv(BUILTIN_CSV).expect("built-in catalogue parses");
        CatalogSpec::with_rules(skus, profile)
    }

    /// SKUs with the built-in rules of `profile` (SPEC 1.1).
    pub fn with_rules(skus: Vec<SkuSpec>, profile: RulesProfile) -> CatalogSpec {
        let sharepoint = [
            "SHAREPOINTSTANDARD",
            "SHAREPOINTENTERPRISE",
            "SHAREPOINTDESKLESS",
            "SHAREPOINTLITE",
            "SHAREPOINTSTANDARD_EDU",
            "SHAREPOINTENTERPRISE_EDU",
            "SHAREPOINTENTERPRISE_MIDMARKET",
            "SHAREPOINT_S_DEVELOPER",
            "ONEDRIVEENTERPRISE",
            "SHAREPOINTSTANDARD_YAMMERSHADOW",
        ];
        let mut exchange = owned(&[
            "EXCHANGE_S_STANDARD_MIDMARKET",
            "EXCHANGE_S_ESSENTIALS",
            "EXCHANGE_S_DESKLESS",
            "EXCHANGE_S_ARCHIVE",
            "EXCHANGE_B_STANDARD",
            "EXCHANGE_S_STANDARD",
        ]);
        if profile == RulesProfile::Legacy {
            exchange.push("EXCHANGE_S_ENTERPRISE".into());
        }
        let skype = ["MCOIMP", "MCOSTANDARD", "MCOSTANDARD_MIDMARKET", "MCOLITE"];
        let calling = ["MCOPSTN1", "MCOPSTN2", "MCOPSTN5"];
        let yammer = ["YAMMER_ENTERPRISE", "YAMMER_EDU", "YAMMER_MIDSIZE"];
        let intune = ["INTUNE_A", "INTUNE_A_VL", "INTUNE_B"];
        let mailbox = [
            "EXCHANGE_S_STANDARD",
            "EXCHANGE_S_ENTERPRISE",
            "EXCHANGE_S_DESKLESS",
            "EXCHANGE_S_ESSENTIALS",
            "EXCHANGE_B_STANDARD",
            "EXCHANGE_S_STANDARD_MIDMARKET",
            "EXCHANGE_L_STANDARD",
        ];
        let mut families = Vec::new();
        let mut fam = |plans: &[&str], family: &str| {
            for p in plans {
                families.push((p.to_string(), family.to_string()));
            }
        };
        fam(&mailbox, "exchange");
        fam(&sharepoint, "sharepoint");
        fam(&skype, "skype");
        fam(&calling, "calling");
        fam(&["TEAMS1"], "teams");
        fam(
            &["OFFICESUBSCRIPTION", "OFFICEMOBILE_SUBSCRIPTION"],
            "office_apps",
        );
        // Azure Rights Management in its tiers (E1: basic, E3: enterprise, EMS: premium).
        fam(
            &[
                "RMS_S_BASIC",
                "RMS_S_ENTERPRISE",
                "RMS_S_PREMIUM",
                "RMS_S_PREMIUM2",
            ],
            "rms",
        );
        fam(&yammer, "yammer");
        fam(&intune, "intune");
        CatalogSpec {
            profile,
            skus,
            exclusive_sets: vec![
                ("SharePoint".into(), owned(&sharepoint)),
                ("Exchange".into(), exchange),
                ("Skype".into(), owned(&skype)),
                ("calling".into(), owned(&calling)),
                ("Yammer".into(), owned(&yammer)),
                ("Intune".into(), owned(&intune)),
            ],
            dependencies: vec![
                (
                    "WORKPLACE_ANALYTICS".into(),
                    owned(&["EXCHANGE_S_STANDARD", "EXCHANGE_S_ENTERPRISE"]),
                ),
                ("MCOMEETADV".into(), owned(&["MCOSTANDARD", "TEAMS1"])),
            ],
            prohibited: Vec::new(),
            mailbox_plans: owned(&mailbox),
            families,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub guid: String,
    pub friendly_name: String,
    pub family: u16,
}

#[derive(Clone, Debug)]
pub struct Sku {
    pub part_number: String,
    pub guid: String,
    pub display_name: String,
    pub plans: PlanSet,
    /// The SKU's plans in catalogue order.
    pub plan_list: Vec<PlanIdx>,
}

#[derive(Clone, Debug)]
pub struct Dependency {
    pub dependent: PlanIdx,
    pub prerequisites: PlanSet,
}

/// The built catalogue.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub spec: CatalogSpec,
    pub skus: Vec<Sku>,
    pub plans: Vec<Plan>,
    pub families: Vec<String>,
    sku_index: BTreeMap<String, SkuIdx>,
    plan_index: BTreeMap<String, PlanIdx>,
    pub exclusive_sets: Vec<(String, PlanSet)>,
    pub dependencies: Vec<Dependency>,
    /// Every plan that has a dependency.
    pub dependents: PlanSet,
    /// Every plan that is a prerequisite of some dependency.
    pub prerequisites: PlanSet,
    pub prohibited: BTreeMap<PlanIdx, Vec<Loc>>,
    pub prohibited_plans: PlanSet,
    pub mailbox: PlanSet,
    /// Union of all exclusive sets.
    pub exclusive_any: PlanSet,
    /// The service families of each SKU with nothing disabled.
    pub sku_families: Vec<PlanSet>,
    fingerprint: u64,
}

/// The default service family of a plan: its name without a tier suffix (`_E1`, `_E3`, `_P2`,
/// `_1`, `_PLAN2`, ...), so that the tiers of one service (FORMS_PLAN_E1 and FORMS_PLAN_E3,
/// WHITEBOARD_PLAN1 and WHITEBOARD_PLAN2, AAD_PREMIUM and AAD_PREMIUM_P2) are one family and an
/// upgrade from one tier to the next is no loss of service. SPEC 1.1 makes every other plan a
/// family of its own; read literally, E1 -> E3 in one call would "lose" Forms, Stream, To Do and a
/// dozen more, which the real service does not do (see docs/decisions.md).
pub fn tier_family(name: &str) -> &str {
    let Some(pos) = name.rfind('_') else {
        return name;
    };
    let tail = &name[pos + 1..];
    let digits = tail
        .strip_prefix("PLAN")
        .or_else(|| tail.strip_prefix('E'))
        .or_else(|| tail.strip_prefix('P'))
        .unwrap_or(tail);
    if pos > 0 && digits.len() == 1 && digits.as_bytes()[0].is_ascii_digit() {
        &name[..pos]
    } else {
        name
    }
}

/// Parses an ISO 3166 alpha-2 code (case-insensitive) into a [`Loc`].
pub fn parse_loc(s: &str) -> Option<Loc> {
    let b = s.as_bytes();
    if b.len() == 2 && b.iter().all(|c| c.is_ascii_alphabetic()) {
        Some([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
    } else {
        None
    }
}

pub fn loc_str(l: Loc) -> String {
    String::from_utf8_lossy(&l).into_owned()
}

impl Catalog {
    pub fn builtin(profile: RulesProfile) -> Catalog {
        Catalog::build(CatalogSpec::builtin(profile)).expect("built-in catalogue builds")
    }

    pub fn build(spec: CatalogSpec) -> Result<Catalog, CatalogError> {
        let mut plans: Vec<Plan> = Vec::new();
        let mut plan_index: BTreeMap<String, PlanIdx> = BTreeMap::new();
        let mut skus = Vec::new();
        let mut sku_index = BTreeMap::new();
        let fam_override: BTreeMap<&str, &str> = spec
            .families
            .iter()
            .map(|(p, f)| (p.as_str(), f.as_str()))
            .collect();
        let mut families: Vec<String> = Vec::new();
        let mut family_index: BTreeMap<String, u16> = BTreeMap::new();
        for s in &spec.skus {
            if sku_index.contains_key(&s.part_number) {
                return Err(cerr(0, format!("SKU {} defined twice", s.part_number)));
            }
            if skus.len() >= MAX_SKUS {
                return Err(cerr(0, format!("more than {MAX_SKUS} SKUs")));
            }
            let mut set = PlanSet::EMPTY;
            let mut list = Vec::new();
            for p in &s.plans {
                let idx = match plan_index.get(&p.name) {
                    Some(i) => *i,
                    None => {
                        if plans.len() >= MAX_PLANS {
                            return Err(cerr(
                                0,
                                format!("more than {MAX_PLANS} distinct service plans (the limit)"),
                            ));
                        }
                        let fname = fam_override
                            .get(p.name.as_str())
                            .copied()
                            .unwrap_or_else(|| tier_family(&p.name))
                            .to_string();
                        let next = families.len() as u16;
                        let fam = *family_index.entry(fname.clone()).or_insert_with(|| {
                            families.push(fname);
                            next
                        });
                        plans.push(Plan {
                            name: p.name.clone(),
                            guid: p.guid.clone(),
                            friendly_name: p.friendly_name.clone(),
                            family: fam,
                        });
                        let i = (plans.len() - 1) as PlanIdx;
                        plan_index.insert(p.name.clone(), i);
                        i
                    }
                };
                if !set.contains(idx) {
                    set.insert(idx);
                    list.push(idx);
                }
            }
            sku_index.insert(s.part_number.clone(), skus.len() as SkuIdx);
            skus.push(Sku {
                part_number: s.part_number.clone(),
                guid: s.guid.clone(),
                display_name: s.display_name.clone(),
                plans: set,
                plan_list: list,
            });
        }
        let set_of = |names: &[String]| -> PlanSet {
            PlanSet::from_plans(names.iter().filter_map(|n| plan_index.get(n).copied()))
        };
        let exclusive_sets: Vec<(String, PlanSet)> = spec
            .exclusive_sets
            .iter()
            .map(|(n, l)| (n.clone(), set_of(l)))
            .filter(|(_, s)| s.len() >= 2)
            .collect();
        let mut exclusive_any = PlanSet::EMPTY;
        for (_, s) in &exclusive_sets {
            exclusive_any.union_with(s);
        }
        let mut dependencies = Vec::new();
        let mut dependents = PlanSet::EMPTY;
        let mut prerequisites = PlanSet::EMPTY;
        for (d, pre) in &spec.dependencies {
            if let Some(&di) = plan_index.get(d) {
                let p = set_of(pre);
                dependents.insert(di);
                prerequisites.union_with(&p);
                dependencies.push(Dependency {
                    dependent: di,
                    prerequisites: p,
                });
            }
        }
        let mut prohibited: BTreeMap<PlanIdx, Vec<Loc>> = BTreeMap::new();
        let mut prohibited_plans = PlanSet::EMPTY;
        for (p, locs) in &spec.prohibited {
            let Some(&pi) = plan_index.get(p) else {
                continue;
            };
            let entry = prohibited.entry(pi).or_default();
            for l in locs {
                let loc = parse_loc(l).ok_or_else(|| {
                    cerr(
                        0,
                        format!("prohibited location {l:?} of {p} is not ISO 3166 alpha-2"),
                    )
                })?;
                if !entry.contains(&loc) {
                    entry.push(loc);
                }
            }
            entry.sort();
            prohibited_plans.insert(pi);
        }
        let mailbox = set_of(&spec.mailbox_plans);
        let sku_families = skus
            .iter()
            .map(|s| {
                let mut f = PlanSet::EMPTY;
                for p in s.plans.iter() {
                    f.insert(plans[p as usize].family);
                }
                f
            })
            .collect();
        let fingerprint = {
            let bytes = bincode::encode_to_vec(&spec, crate::codec::config())
                .expect("catalogue spec encodes");
            crate::hash::hash_bytes(&bytes)
        };
        Ok(Catalog {
            spec,
            skus,
            plans,
            families,
            sku_index,
            plan_index,
            exclusive_sets,
            dependencies,
            dependents,
            prerequisites,
            prohibited,
            prohibited_plans,
            mailbox,
            exclusive_any,
            sku_families,
            fingerprint,
        })
    }

    /// A stable fingerprint of the catalogue and its rules (hash of the canonical encoding).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
    pub fn profile(&self) -> RulesProfile {
        self.spec.profile
    }
    pub fn sku_by_name(&self, part_number: &str) -> Option<SkuIdx> {
        self.sku_index.get(part_number).copied()
    }
    pub fn plan_by_name(&self, name: &str) -> Option<PlanIdx> {
        self.plan_index.get(name).copied()
    }
    pub fn sku(&self, s: SkuIdx) -> &Sku {
        &self.skus[s as usize]
    }
    pub fn plan(&self, p: PlanIdx) -> &Plan {
        &self.plans[p as usize]
    }
    pub fn sku_names(&self) -> impl Iterator<Item = &str> {
        self.skus.iter().map(|s| s.part_number.as_str())
    }
    pub fn plan_names(&self) -> impl Iterator<Item = &str> {
        self.plans.iter().map(|p| p.name.as_str())
    }
    pub fn family_name(&self, f: u16) -> &str {
        &self.families[f as usize]
    }
    pub fn family_by_name(&self, name: &str) -> Option<u16> {
        self.families
            .iter()
            .position(|f| f == name)
            .map(|i| i as u16)
    }
    /// The service families a set of plans enables.
    pub fn families_of(&self, plans: &PlanSet) -> PlanSet {
        let mut f = PlanSet::EMPTY;
        for p in plans.iter() {
            f.insert(self.plans[p as usize].family);
        }
        f
    }
    /// The prerequisites of `dependent`, if it is a dependent plan.
    pub fn prerequisites_of(&self, dependent: PlanIdx) -> Option<&PlanSet> {
        self.dependencies
            .iter()
            .find(|d| d.dependent == dependent)
            .map(|d| &d.prerequisites)
    }
    /// Whether `loc` is prohibited for any plan in `plans` (R17); returns the first such plan.
    pub fn prohibited_in(&self, plans: &PlanSet, loc: Option<Loc>) -> Option<PlanIdx> {
        let loc = loc?;
        if !plans.intersects(&self.prohibited_plans) {
            return None;
        }
        self.prohibited
            .iter()
            .find(|(p, locs)| plans.contains(**p) && locs.contains(&loc))
            .map(|(p, _)| *p)
    }
    /// First mutually exclusive conflict between `new` (one SKU's plans) and `other` (the plans
    /// of every other SKU): a plan of `new` and a *different* plan of `other` in one set (R13).
    pub fn exclusive_conflict(&self, new: &PlanSet, other: &PlanSet) -> Option<(PlanIdx, PlanIdx)> {
        if !new.intersects(&self.exclusive_any) || !other.intersects(&self.exclusive_any) {
            return None;
        }
        for (_, set) in &self.exclusive_sets {
            let a = new.intersect(set);
            let b = other.intersect(set);
            if a.is_empty() || b.is_empty() {
                continue;
            }
            for x in a.iter() {
                if let Some(y) = b.iter().find(|y| *y != x) {
                    return Some((x, y));
                }
            }
        }
        None
    }
    /// First dependent plan in `plans` none of whose prerequisites is in `enabled` (R14).
    pub fn missing_dependency(
        &self,
        plans: &PlanSet,
        enabled: &PlanSet,
    ) -> Option<(PlanIdx, PlanIdx)> {
        if !plans.intersects(&self.dependents) {
            return None;
        }
        self.dependencies
            .iter()
            .find(|d| plans.contains(d.dependent) && !d.prerequisites.intersects(enabled))
            .map(|d| {
                (
                    d.dependent,
                    d.prerequisites.iter().next().unwrap_or(d.dependent),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_of_one_service_share_a_family() {
        assert_eq!(tier_family("FORMS_PLAN_E1"), "FORMS_PLAN");
        assert_eq!(tier_family("WHITEBOARD_PLAN2"), "WHITEBOARD");
        assert_eq!(tier_family("BPOS_S_TODO_1"), "BPOS_S_TODO");
        assert_eq!(tier_family("AAD_PREMIUM_P2"), "AAD_PREMIUM");
        assert_eq!(tier_family("CDS_O365_P1"), "CDS_O365");
        assert_eq!(tier_family("UNIVERSAL_PRINT_01"), "UNIVERSAL_PRINT_01");
        assert_eq!(tier_family("SWAY"), "SWAY");
        assert_eq!(tier_family("INTUNE_A"), "INTUNE_A");
        let c = Catalog::builtin(RulesProfile::Current);
        let e1 = c.sku(c.sku_by_name("STANDARDPACK").unwrap()).plans;
        let e3 = c.sku(c.sku_by_name("ENTERPRISEPACK").unwrap()).plans;
        // E1 -> E3 loses no service family.
        assert!(c.families_of(&e1).minus(&c.families_of(&e3)).is_empty());
        assert_eq!(
            c.plan(c.plan_by_name("EXCHANGE_S_STANDARD").unwrap())
                .family,
            c.family_by_name("exchange").unwrap()
        );
    }

    #[test]
    fn builtin_catalogue_has_the_documented_products() {
        let c = Catalog::builtin(RulesProfile::Current);
        assert_eq!(c.skus.len(), 16);
        assert_eq!(c.plans.len(), 111);
        assert_eq!(
            c.sku(c.sku_by_name("ENTERPRISEPACK").unwrap()).guid,
            "6fd2c87f-b296-42f0-b197-1e91e994b900"
        );
        assert_ne!(
            Catalog::builtin(RulesProfile::Legacy).fingerprint(),
            c.fingerprint()
        );
    }

    #[test]
    fn csv_reader_handles_quotes_bom_and_crlf() {
        let text = "\u{feff}Product_Display_Name,String_Id,GUID,Service_Plan_Name,Service_Plan_Id,Service_Plans_Included_Friendly_Names\r\n\"Contoso, \"\"Pro\"\"\",X,1,P,2,\"Plan, one\"\r\n";
        let skus = skus_from_csv(text).unwrap();
        assert_eq!(skus[0].display_name, "Contoso, \"Pro\"");
        assert_eq!(skus[0].plans[0].friendly_name, "Plan, one");
        assert!(
            skus_from_csv("a,b\n")
                .unwrap_err()
                .message
                .contains("missing column")
        );
        assert!(parse_csv("\"open").is_err());
    }
}
