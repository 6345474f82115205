//! Scenario files (TOML, SPEC section 5) -> [`Scenario`]. Every error names the file, line,
//! column and key, and suggests the nearest valid name for an unknown SKU, plan, group,
//! population, action or key (SPEC 11). Nothing here panics on any input.

use crate::model::*;
use engine::catalog::{
    Catalog, CatalogSpec, PlanSpec, RulesProfile, SkuSpec, parse_loc, skus_from_csv,
};
use engine::event::PrepaidUnits;
use engine::prelude::{GroupSource, LicenseSpec, Loc, PlanIdx, SkuIdx};
use engine::sim::{Environment, OnGroupDelete};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

/// Largest scenario file read.
pub const MAX_FILE_BYTES: usize = 16 << 20;
/// Largest number of users a scenario may create.
pub const MAX_USERS: u64 = 10_000_000;
/// How deeply `first:<n>:` selectors may nest.
pub const MAX_SELECTOR_DEPTH: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
    pub suggestion: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, "key `{}`: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Edit distance (Levenshtein, case-insensitive).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate, if close enough to be a likely typo.
pub fn nearest<'a, I: IntoIterator<Item = &'a str>>(name: &str, candidates: I) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(name.chars().count()) / 3).max(2))
        .min()
        .map(|(_, c)| c.to_string())
}

/// Parses "500ms", "30s", "5m", "2h", "1d" (or a bare integer of milliseconds) into ms.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("bad duration {s:?} (use \"500ms\", \"30s\", \"5m\", \"2h\", \"1d\")")
    })?;
    let mul = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        u => return Err(format!("bad duration unit {u:?} in {s:?} (ms, s, m, h, d)")),
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}

// ---- raw TOML shapes -------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    name: Option<String>,
    description: Option<String>,
    seeds: Option<u64>,
    seed: Option<u64>,
    start: Option<Spanned<String>>,
    max_duration: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawUnits {
    Count(u32),
    Full {
        enabled: u32,
        #[serde(default)]
        warning: u32,
        #[serde(default)]
        suspended: u32,
        #[serde(default)]
        locked_out: u32,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    name: String,
    #[serde(default)]
    guid: String,
    #[serde(default)]
    friendly_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSku {
    part_number: String,
    #[serde(default)]
    guid: String,
    #[serde(default)]
    display_name: String,
    plans: Vec<RawPlan>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    default_usage_location: Option<Spanned<String>>,
    rules: Option<Spanned<String>>,
    catalogue: Option<Spanned<String>>,
    on_group_delete: Option<Spanned<String>>,
    domain: Option<String>,
    #[serde(default)]
    subscriptions: BTreeMap<Spanned<String>, RawUnits>,
    #[serde(default)]
    prohibited_locations: BTreeMap<Spanned<String>, Vec<String>>,
    #[serde(default)]
    skus: Vec<RawSku>,
    #[serde(default)]
    service_families: BTreeMap<String, String>,
    #[serde(default)]
    exclusive_sets: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    dependencies: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawLicense {
    Name(String),
    Full {
        sku: String,
        #[serde(default)]
        disabled_plans: Vec<String>,
    },
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawSelector {
    One(String),
    List(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: String,
    usage_location: Option<String>,
    #[serde(default)]
    proxy_addresses: Vec<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    direct: Vec<RawLicense>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPopulation {
    name: String,
    count: u64,
    id_pattern: Option<String>,
    usage_location: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    direct: Vec<RawLicense>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    id: String,
    display_name: Option<String>,
    #[serde(default)]
    members: Vec<String>,
    rule: Option<String>,
    source: Option<String>,
    security_enabled: Option<bool>,
    #[serde(default)]
    licenses: Vec<RawLicense>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    population: String,
    fraction: f64,
    sku: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    missing_usage_location: Option<Spanned<RawFault>>,
    duplicate_proxy_address: Option<Spanned<RawFault>>,
    conflicting_direct: Option<Spanned<RawFault>>,
    dependent_direct: Option<Spanned<RawFault>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    distribution: String,
    value: Option<String>,
    min: Option<String>,
    max: Option<String>,
    median: Option<String>,
    p99: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEnv {
    queue_delay: Option<Spanned<String>>,
    processing_latency: Option<Spanned<RawLatency>>,
    dynamic_evaluation_delay: Option<Spanned<String>>,
    sync_interval: Option<Spanned<String>>,
    sync_phase: Option<Spanned<String>>,
    concurrency_window: Option<Spanned<String>>,
    retry_delay: Option<Spanned<String>>,
    concurrency_probability: Option<f64>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawStep {
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    max_users_in_error: Option<u64>,
    no_service_loss: Option<bool>,
    #[serde(default)]
    peak_units: BTreeMap<String, u64>,
    max_rejected_calls: Option<u64>,
    max_duration: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    scenario: RawMeta,
    tenant: Option<Spanned<RawTenant>>,
    #[serde(default)]
    users: Vec<Spanned<RawUser>>,
    #[serde(default)]
    populations: Vec<Spanned<RawPopulation>>,
    #[serde(default)]
    groups: Vec<Spanned<RawGroup>>,
    #[serde(default)]
    faults: RawFaults,
    #[serde(default)]
    environment: RawEnv,
    #[serde(default)]
    plan: Vec<Spanned<RawStep>>,
    expect: Option<Spanned<RawExpect>>,
}

// ---- the parser --------------------------------------------------------------------------------

struct Ctx<'a> {
    file: String,
    text: &'a str,
}

impl Ctx<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let off = offset.min(self.text.len());
        let before = &self.text.as_bytes()[..off];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        let col = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
        (line, col)
    }

    /// An error at `span`; when `needle` is given and found inside the span, at its position.
    fn err(
        &self,
        span: Range<usize>,
        needle: Option<&str>,
        key: &str,
        message: String,
        suggestion: Option<String>,
    ) -> ScenarioError {
        let mut at = span.start;
        if let Some(n) = needle
            && !n.is_empty()
        {
            let end = span.end.min(self.text.len()).max(span.start);
            if let Some(hay) = self.text.get(span.start..end)
                && let Some(p) = hay.find(n)
            {
                at = span.start + p;
            } else if let Some(p) = self.text.find(n) {
                at = p;
            }
        }
        let (line, column) = self.line_col(at);
        ScenarioError {
            file: self.file.clone(),
            line,
            column,
            key: key.to_string(),
            message,
            suggestion,
        }
    }

    fn toml_error(&self, e: toml::de::Error) -> ScenarioError {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().to_string();
        let mut key = String::new();
        let mut suggestion = None;
        if let Some(rest) = msg.strip_prefix("unknown field `")
            && let Some(end) = rest.find('`')
        {
            key = rest[..end].to_string();
            if let Some(exp) = rest.find("expected") {
                let names: Vec<&str> = rest[exp..].split('`').skip(1).step_by(2).collect();
                suggestion = nearest(&key, names);
            }
        }
        if key.is_empty() {
            // The key on the line of the error.
            let (line, _) = self.line_col(span.start);
            if let Some(l) = self.text.lines().nth(line.saturating_sub(1))
                && let Some((k, _)) = l.split_once('=')
            {
                key = k.trim().trim_start_matches('{').trim().to_string();
            }
        }
        let (line, column) = self.line_col(span.start);
        ScenarioError {
            file: self.file.clone(),
            line,
            column,
            key,
            message: msg,
            suggestion,
        }
    }
}

/// Reads and parses a scenario file; a `catalogue` path is relative to the file's directory.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let name = path.display().to_string();
    let fail = |m: String| ScenarioError {
        file: name.clone(),
        line: 0,
        column: 0,
        key: String::new(),
        message: m,
        suggestion: None,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.len() as usize > MAX_FILE_BYTES {
        return Err(fail(format!(
            "file is larger than the limit of {MAX_FILE_BYTES} bytes"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    parse_scenario(&name, &text, path.parent())
}

struct Resolver<'a> {
    ctx: &'a Ctx<'a>,
    cat: Arc<Catalog>,
}

impl Resolver<'_> {
    fn sku(&self, name: &str, span: &Range<usize>, key: &str) -> Result<SkuIdx, ScenarioError> {
        self.cat.sku_by_name(name).ok_or_else(|| {
            self.ctx.err(
                span.clone(),
                Some(name),
                key,
                format!("unknown SKU {name:?}"),
                nearest(name, self.cat.sku_names()),
            )
        })
    }

    fn license(
        &self,
        l: &RawLicense,
        span: &Range<usize>,
        key: &str,
    ) -> Result<LicenseSpec, ScenarioError> {
        let (name, disabled) = match l {
            RawLicense::Name(n) => (n.as_str(), &[][..]),
            RawLicense::Full {
                sku,
                disabled_plans,
            } => (sku.as_str(), &disabled_plans[..]),
        };
        let sku = self.sku(name, span, key)?;
        let mut plans: Vec<PlanIdx> = Vec::new();
        for p in disabled {
            let s = self.cat.sku(sku);
            match self.cat.plan_by_name(p) {
                Some(pi) if s.plans.contains(pi) => plans.push(pi),
                _ => {
                    let names = s.plan_list.iter().map(|x| self.cat.plan(*x).name.as_str());
                    return Err(self.ctx.err(
                        span.clone(),
                        Some(p),
                        "disabled_plans",
                        format!("{p:?} is not a service plan of {name} (R01)"),
                        nearest(p, names),
                    ));
                }
            }
        }
        plans.sort();
        plans.dedup();
        Ok(LicenseSpec {
            sku,
            disabled: plans,
        })
    }

    fn licenses(
        &self,
        ls: &[RawLicense],
        span: &Range<usize>,
        key: &str,
    ) -> Result<Vec<LicenseSpec>, ScenarioError> {
        ls.iter().map(|l| self.license(l, span, key)).collect()
    }

    fn loc(&self, s: &str, span: &Range<usize>, key: &str) -> Result<Loc, ScenarioError> {
        parse_loc(s).ok_or_else(|| {
            self.ctx.err(
                span.clone(),
                Some(s),
                key,
                format!("{s:?} is not an ISO 3166 alpha-2 country code"),
                None,
            )
        })
    }

    fn duration(&self, s: &str, span: &Range<usize>, key: &str) -> Result<u64, ScenarioError> {
        parse_duration(s).map_err(|m| self.ctx.err(span.clone(), Some(s), key, m, None))
    }
}

/// Names known while checking references: groups (declared and created by earlier steps),
/// populations, explicit user ids.
struct Names {
    groups: BTreeSet<String>,
    populations: BTreeSet<String>,
    users: BTreeSet<String>,
    /// Ids the populations generate, while the scenario has at most 200,000 users: only to
    /// find duplicates (`patterns` recognises generated ids at any size).
    generated: BTreeSet<String>,
    /// (id pattern, count) of each population.
    patterns: Vec<(String, u64)>,
    attribute_keys: BTreeSet<String>,
}

impl Names {
    /// Whether an explicit user or a population has this id.
    fn is_user(&self, id: &str) -> bool {
        self.users.contains(id)
            || self
                .patterns
                .iter()
                .any(|(p, n)| crate::model::index_of_id(p, *n, id).is_some())
    }
}

fn selector(
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

fn selector_of(
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

fn require(
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

fn fraction_ppm(f: f64, ctx: &Ctx, span: &Range<usize>, key: &str) -> Result<u32, ScenarioError> {
    if !(0.0..=1.0).contains(&f) {
        return Err(ctx.err(
            span.clone(),
            Some("fraction"),
            key,
            format!("fraction {f} is outside 0..=1"),
            None,
        ));
    }
    // The one place a float is read: rounded once to parts per million.
    Ok((f * 1_000_000.0).round() as u32)
}

fn group_spec(
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

/// Parses a scenario from text. `base_dir` resolves a relative `catalogue` path.
pub fn parse_scenario(
    source_name: &str,
    text: &str,
    base_dir: Option<&Path>,
) -> Result<Scenario, ScenarioError> {
    let ctx = Ctx {
        file: source_name.to_string(),
        text,
    };
    if text.len() > MAX_FILE_BYTES {
        return Err(ctx.err(
            0..0,
            None,
            "",
            format!("file is larger than the limit of {MAX_FILE_BYTES} bytes"),
            None,
        ));
    }
    let raw: Raw = toml::from_str(text).map_err(|e| ctx.toml_error(e))?;

    // ---- catalogue and tenant
    let (tenant_span, t) = match raw.tenant {
        Some(t) => (t.span(), t.into_inner()),
        None => (0..0, RawTenant::default()),
    };
    let profile = match &t.rules {
        None => RulesProfile::Current,
        Some(s) => RulesProfile::parse(s.get_ref()).ok_or_else(|| {
            ctx.err(
                s.span(),
                None,
                "rules",
                format!(
                    "unknown rules profile {:?} (current or legacy)",
                    s.get_ref()
                ),
                nearest(s.get_ref(), ["current", "legacy"]),
            )
        })?,
    };
    let mut spec = match &t.catalogue {
        None => CatalogSpec::builtin(profile),
        Some(p) => {
            let path = base_dir.map_or_else(
                || Path::new(p.get_ref()).to_path_buf(),
                |d| d.join(p.get_ref()),
            );
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ctx.err(
                    p.span(),
                    None,
                    "catalogue",
                    format!("cannot read {}: {e}", path.display()),
                    None,
                )
            })?;
            let skus = skus_from_csv(&text).map_err(|e| {
                ctx.err(
                    p.span(),
                    None,
                    "catalogue",
                    format!("{}: {e}", path.display()),
                    None,
                )
            })?;
            CatalogSpec::with_rules(skus, profile)
        }
    };
    for s in &t.skus {
        spec.skus.retain(|x| x.part_number != s.part_number);
        spec.skus.push(SkuSpec {
            part_number: s.part_number.clone(),
            guid: s.guid.clone(),
            display_name: if s.display_name.is_empty() {
                s.part_number.clone()
            } else {
                s.display_name.clone()
            },
            plans: s
                .plans
                .iter()
                .map(|p| PlanSpec {
                    name: p.name.clone(),
                    guid: p.guid.clone(),
                    friendly_name: p.friendly_name.clone(),
                })
                .collect(),
        });
    }
    for (p, f) in &t.service_families {
        spec.families.retain(|(x, _)| x != p);
        spec.families.push((p.clone(), f.clone()));
    }
    for (n, plans) in &t.exclusive_sets {
        spec.exclusive_sets.push((n.clone(), plans.clone()));
    }
    for (d, pre) in &t.dependencies {
        spec.dependencies.push((d.clone(), pre.clone()));
    }
    // Prohibited locations name plans: check them against the catalogue before building.
    let plan_names: BTreeSet<String> = spec
        .skus
        .iter()
        .flat_map(|s| s.plans.iter().map(|p| p.name.clone()))
        .collect();
    for (plan, locs) in &t.prohibited_locations {
        if !plan_names.contains(plan.get_ref()) {
            return Err(ctx.err(
                plan.span(),
                None,
                "prohibited_locations",
                format!("unknown service plan {:?}", plan.get_ref()),
                nearest(plan.get_ref(), plan_names.iter().map(String::as_str)),
            ));
        }
        for l in locs {
            if parse_loc(l).is_none() {
                return Err(ctx.err(
                    tenant_span.clone(),
                    Some(l),
                    "prohibited_locations",
                    format!("{l:?} is not an ISO 3166 alpha-2 country code"),
                    None,
                ));
            }
        }
        spec.prohibited.push((plan.get_ref().clone(), locs.clone()));
    }
    let cat = Arc::new(
        Catalog::build(spec)
            .map_err(|e| ctx.err(tenant_span.clone(), None, "tenant", e.to_string(), None))?,
    );
    let r = Resolver {
        ctx: &ctx,
        cat: cat.clone(),
    };
    let default_usage_location = match &t.default_usage_location {
        None => Some(*b"US"),
        Some(s) if s.get_ref().is_empty() => None,
        Some(s) => Some(r.loc(s.get_ref(), &s.span(), "default_usage_location")?),
    };
    let on_group_delete = match t
        .on_group_delete
        .as_ref()
        .map(|s| (s.get_ref().as_str(), s.span()))
    {
        None | Some(("convert_to_direct", _)) => OnGroupDelete::ConvertToDirect,
        Some(("keep_error", _)) => OnGroupDelete::KeepError,
        Some((s, span)) => {
            return Err(ctx.err(
                span,
                None,
                "on_group_delete",
                format!("unknown value {s:?} (convert_to_direct or keep_error)"),
                nearest(s, ["convert_to_direct", "keep_error"]),
            ));
        }
    };
    let mut subscriptions = Vec::new();
    for (name, units) in &t.subscriptions {
        let sku = r.sku(name.get_ref(), &name.span(), "subscriptions")?;
        let units = match units {
            RawUnits::Count(n) => PrepaidUnits {
                enabled: *n,
                ..Default::default()
            },
            RawUnits::Full {
                enabled,
                warning,
                suspended,
                locked_out,
            } => PrepaidUnits {
                enabled: *enabled,
                warning: *warning,
                suspended: *suspended,
                locked_out: *locked_out,
            },
        };
        subscriptions.push((sku, units));
    }
    subscriptions.sort_by_key(|(s, _)| *s);

    let mut sc = Scenario::new(
        raw.scenario
            .name
            .as_deref()
            .unwrap_or_else(|| file_stem(source_name)),
        cat.clone(),
    );
    sc.source = source_name.to_string();
    sc.description = raw.scenario.description.clone().unwrap_or_default();
    sc.seeds = raw.scenario.seeds.unwrap_or(200).max(1);
    sc.seed = raw.scenario.seed.unwrap_or(1);
    if let Some(s) = &raw.scenario.start {
        sc.start_unix_s = engine::view::parse_iso_time(s.get_ref()).ok_or_else(|| {
            ctx.err(
                s.span(),
                None,
                "start",
                format!("{:?} is not YYYY-MM-DDTHH:MM:SSZ", s.get_ref()),
                None,
            )
        })?;
    }
    if let Some(s) = &raw.scenario.max_duration {
        sc.max_duration_ms = r.duration(s.get_ref(), &s.span(), "max_duration")?;
    }
    sc.tenant = Tenant {
        default_usage_location,
        on_group_delete,
        domain: t.domain.clone().unwrap_or_else(|| "contoso.example".into()),
        subscriptions,
    };

    // ---- users and populations
    let mut names = Names {
        groups: BTreeSet::new(),
        populations: BTreeSet::new(),
        users: BTreeSet::new(),
        generated: BTreeSet::new(),
        patterns: Vec::new(),
        attribute_keys: BTreeSet::new(),
    };
    let mut total: u64 = 0;
    for u in &raw.users {
        let span = u.span();
        let u = u.get_ref();
        if u.id.is_empty() || !names.users.insert(u.id.clone()) {
            return Err(ctx.err(
                span,
                Some(&u.id),
                "id",
                format!("duplicate or empty user id {:?}", u.id),
                None,
            ));
        }
        total += 1;
        let usage_location = match &u.usage_location {
            Some(l) => Some(r.loc(l, &span, "usage_location")?),
            None => None,
        };
        names.attribute_keys.extend(u.attributes.keys().cloned());
        sc.users.push(UserSpec {
            id: u.id.clone(),
            usage_location,
            proxy_addresses: u.proxy_addresses.clone(),
            attributes: u
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            direct: r.licenses(&u.direct, &span, "direct")?,
        });
    }
    for p in &raw.populations {
        let span = p.span();
        let p = p.get_ref();
        if p.name.is_empty() || !names.populations.insert(p.name.clone()) {
            return Err(ctx.err(
                span,
                Some(&p.name),
                "name",
                format!("duplicate or empty population name {:?}", p.name),
                None,
            ));
        }
        total = total.saturating_add(p.count);
        if total > MAX_USERS {
            return Err(ctx.err(
                span,
                Some("count"),
                "count",
                format!("more than {MAX_USERS} users in the scenario (the limit)"),
                None,
            ));
        }
        let pattern = p
            .id_pattern
            .clone()
            .unwrap_or_else(|| format!("{}{{:04}}", p.name));
        let pop = Population {
            name: p.name.clone(),
            count: p.count,
            id_pattern: pattern,
            usage_location: match &p.usage_location {
                Some(l) => Some(r.loc(l, &span, "usage_location")?),
                None => None,
            },
            attributes: p
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            direct: r.licenses(&p.direct, &span, "direct")?,
        };
        if total <= 200_000 {
            for i in 1..=p.count {
                let id = pop.id(i);
                if names.users.contains(&id) || !names.generated.insert(id.clone()) {
                    return Err(ctx.err(
                        span,
                        Some("id_pattern"),
                        "id_pattern",
                        format!("population {:?} generates the id {id:?} twice", p.name),
                        None,
                    ));
                }
            }
        }
        names.attribute_keys.extend(p.attributes.keys().cloned());
        names.patterns.push((pop.id_pattern.clone(), pop.count));
        sc.populations.push(pop);
    }

    // ---- groups
    for g in &raw.groups {
        if !names.groups.insert(g.get_ref().id.clone()) {
            return Err(ctx.err(
                g.span(),
                Some(&g.get_ref().id),
                "id",
                format!("duplicate group id {:?}", g.get_ref().id),
                None,
            ));
        }
    }
    for g in &raw.groups {
        sc.groups
            .push(group_spec(g.get_ref(), &g.span(), &names, &r)?);
    }

    // ---- faults
    let faults = [
        ("missing_usage_location", &raw.faults.missing_usage_location),
        (
            "duplicate_proxy_address",
            &raw.faults.duplicate_proxy_address,
        ),
        ("conflicting_direct", &raw.faults.conflicting_direct),
        ("dependent_direct", &raw.faults.dependent_direct),
    ];
    for (kind, f) in faults {
        let Some(f) = f else { continue };
        let span = f.span();
        let f = f.get_ref();
        if !names.populations.contains(&f.population) {
            return Err(ctx.err(
                span,
                Some(&f.population),
                "population",
                format!("unknown population {:?}", f.population),
                nearest(&f.population, names.populations.iter().map(String::as_str)),
            ));
        }
        let ppm = fraction_ppm(f.fraction, &ctx, &span, "fraction")?;
        let population = f.population.clone();
        let sku = |r: &Resolver| -> Result<SkuIdx, ScenarioError> {
            match &f.sku {
                Some(s) => r.sku(s, &span, "sku"),
                None => Err(ctx.err(
                    span.clone(),
                    None,
                    "sku",
                    format!("fault {kind} needs a sku"),
                    None,
                )),
            }
        };
        sc.faults.push(match kind {
            "missing_usage_location" => Fault::MissingUsageLocation { population, ppm },
            "duplicate_proxy_address" => Fault::DuplicateProxyAddress { population, ppm },
            "conflicting_direct" => Fault::ConflictingDirect {
                population,
                sku: sku(&r)?,
                ppm,
            },
            _ => Fault::DependentDirect {
                population,
                sku: sku(&r)?,
                ppm,
            },
        });
    }

    // ---- environment
    let e = &raw.environment;
    let mut env = Environment::default();
    let dur = |s: &Option<Spanned<String>>, key: &str, v: &mut u64| -> Result<(), ScenarioError> {
        if let Some(s) = s {
            *v = r.duration(s.get_ref(), &s.span(), key)?;
        }
        Ok(())
    };
    dur(&e.queue_delay, "queue_delay", &mut env.queue_delay_ms)?;
    dur(
        &e.dynamic_evaluation_delay,
        "dynamic_evaluation_delay",
        &mut env.dynamic_evaluation_delay_ms,
    )?;
    dur(&e.sync_interval, "sync_interval", &mut env.sync_interval_ms)?;
    dur(&e.sync_phase, "sync_phase", &mut env.sync_phase_ms)?;
    dur(
        &e.concurrency_window,
        "concurrency_window",
        &mut env.concurrency_window_ms,
    )?;
    dur(&e.retry_delay, "retry_delay", &mut env.retry_delay_ms)?;
    if let Some(p) = e.concurrency_probability {
        env.concurrency_ppm = fraction_ppm(p, &ctx, &(0..0), "concurrency_probability")?;
    }
    if let Some(l) = &e.processing_latency {
        let span = l.span();
        let l = l.get_ref();
        let need = |v: &Option<String>, key: &str| -> Result<u64, ScenarioError> {
            match v {
                Some(s) => r.duration(s, &span, key),
                None => Err(ctx.err(
                    span.clone(),
                    None,
                    key,
                    format!("distribution {:?} needs `{key}`", l.distribution),
                    None,
                )),
            }
        };
        env.processing_latency = match l.distribution.as_str() {
            "fixed" => engine::dist::Latency::Fixed {
                value_ms: need(&l.value, "value")?,
            },
            "uniform" => {
                let (min_ms, max_ms) = (need(&l.min, "min")?, need(&l.max, "max")?);
                if max_ms < min_ms {
                    return Err(ctx.err(span, Some("max"), "max", "max is below min".into(), None));
                }
                engine::dist::Latency::Uniform { min_ms, max_ms }
            }
            "lognormal" => {
                let (median_ms, p99_ms) = (need(&l.median, "median")?, need(&l.p99, "p99")?);
                if p99_ms < median_ms {
                    return Err(ctx.err(
                        span,
                        Some("p99"),
                        "p99",
                        "p99 is below the median".into(),
                        None,
                    ));
                }
                engine::dist::Latency::LogNormal { median_ms, p99_ms }
            }
            d => {
                return Err(ctx.err(
                    span,
                    Some(d),
                    "distribution",
                    format!("unknown distribution {d:?} (fixed, uniform, lognormal)"),
                    nearest(d, ["fixed", "uniform", "lognormal"]),
                ));
            }
        };
    }
    sc.environment = env;

    // ---- plan
    for s in &raw.plan {
        let span = s.span();
        let step = parse_step(s.get_ref(), &span, &mut names, &r)?;
        sc.plan.push(step);
    }

    // ---- expectations
    let (x_span, x) = match &raw.expect {
        Some(x) => (x.span(), x.get_ref()),
        None => (0..0, &RawExpect::default()),
    };
    let mut peak_units = Vec::new();
    for (k, n) in &x.peak_units {
        peak_units.push((r.sku(k, &x_span, "peak_units")?, *n));
    }
    sc.expect = Expectations {
        max_users_in_error: x.max_users_in_error,
        no_service_loss: x.no_service_loss,
        peak_units,
        max_rejected_calls: x.max_rejected_calls,
        max_duration_ms: match &x.max_duration {
            Some(d) => Some(r.duration(d, &x_span, "max_duration")?),
            None => None,
        },
        ..Expectations::default()
    };
    Ok(sc)
}

fn file_stem(source: &str) -> &str {
    let base = source.rsplit(['/', '\\']).next().unwrap_or(source);
    base.strip_suffix(".toml").unwrap_or(base)
}

fn parse_step(
    s: &RawStep,
    span: &Range<usize>,
    names: &mut Names,
    r: &Resolver,
) -> Result<Step, ScenarioError> {
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
    let users = || -> Result<Selector, ScenarioError> {
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
    let action = match s.action.as_str() {
        "assign_direct" => Action::AssignDirect {
            users: users()?,
            add: r.licenses(&s.add, span, "add")?,
            remove: remove()?,
        },
        "remove_direct" => Action::RemoveDirect {
            users: users()?,
            sku: sku()?,
        },
        "assign_group_license" => Action::AssignGroupLicense {
            group: group(names)?,
            add: r.licenses(&s.add, span, "add")?,
            remove: remove()?,
        },
        "add_members" => Action::AddMembers {
            group: group(names)?,
            users: users()?,
        },
        "remove_members" => Action::RemoveMembers {
            group: group(names)?,
            users: users()?,
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
            users: users()?,
            location: match s.location.as_deref() {
                None | Some("") => None,
                Some(l) => Some(r.loc(l, span, "location")?),
            },
        },
        "set_attribute" => Action::SetAttribute {
            users: users()?,
            attribute: s.attribute.clone().ok_or_else(|| missing("attribute"))?,
            value: s.value.clone(),
        },
        "set_proxy_addresses" => Action::SetProxyAddresses {
            users: users()?,
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
        "reprocess_user" => Action::ReprocessUser { users: users()? },
        "reprocess_group" => Action::ReprocessGroup {
            group: group(names)?,
        },
        "delete_user" => Action::DeleteUser { users: users()? },
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
    };
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
