//! Scenario files (TOML, SPEC section 5) -> [`Scenario`]. Every error names the file, line,
//! column and key, and suggests the nearest valid name for an unknown SKU, plan, group,
//! population, action or key (SPEC 11). Nothing here panics on any input.
//!
//! One module per part of the file, each with its raw TOML shape and its own errors, parsed in
//! this order (the first error wins): `tenant` (catalogue and subscriptions), the `[scenario]`
//! table (here), `users` (explicit users and populations), `groups`, `faults`, `environment`,
//! `plan` (steps, waves, gates), `expect`. Shared by them: `error` (the error type and nearest
//! names), `duration`, `resolve` (SKUs, licences, locations against the catalogue) and
//! `selector` (declared names, user selectors, gate requirements). `warnings` is for
//! `licsim validate`.

mod duration;
mod environment;
mod error;
mod expect;
mod faults;
mod groups;
mod plan;
mod resolve;
mod selector;
mod tenant;
mod users;
mod warnings;

pub use duration::parse_duration;
pub use error::{ScenarioError, distance, nearest};
pub use warnings::warnings;

use crate::model::Scenario;
use error::Ctx;
use resolve::Resolver;
use selector::Names;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// Largest scenario file read.
pub const MAX_FILE_BYTES: usize = 16 << 20;
/// Largest number of users a scenario may create.
pub const MAX_USERS: u64 = 10_000_000;
/// How deeply `first:<n>:` selectors may nest.
pub const MAX_SELECTOR_DEPTH: usize = 16;

/// `[scenario]`: name, description, runs, seed, calendar start, time limit.
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

/// The whole file. The order of the fields is the order TOML errors list them in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    scenario: RawMeta,
    tenant: Option<Spanned<tenant::RawTenant>>,
    #[serde(default)]
    users: Vec<Spanned<users::RawUser>>,
    #[serde(default)]
    populations: Vec<Spanned<users::RawPopulation>>,
    #[serde(default)]
    groups: Vec<Spanned<groups::RawGroup>>,
    #[serde(default)]
    faults: faults::RawFaults,
    #[serde(default)]
    environment: environment::RawEnv,
    #[serde(default)]
    plan: Vec<Spanned<plan::RawStep>>,
    expect: Option<Spanned<expect::RawExpect>>,
}

/// Reads and parses a scenario file; a `catalogue` path is relative to the file's directory.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let name = path.display().to_string();
    let fail = |m: String| ScenarioError::whole_file(&name, m);
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.len() as usize > MAX_FILE_BYTES {
        return Err(fail(format!(
            "file is larger than the limit of {MAX_FILE_BYTES} bytes"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    parse_scenario(&name, &text, path.parent())
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

    let (cat, tenant) = tenant::parse(raw.tenant, &ctx, base_dir)?;
    let r = Resolver {
        ctx: &ctx,
        cat: cat.clone(),
    };
    let meta = &raw.scenario;
    let mut sc = Scenario::new(
        meta.name
            .as_deref()
            .unwrap_or_else(|| file_stem(source_name)),
        cat,
    );
    sc.source = source_name.to_string();
    sc.description = meta.description.clone().unwrap_or_default();
    sc.seeds = meta.seeds.unwrap_or(200).max(1);
    sc.seed = meta.seed.unwrap_or(1);
    if let Some(s) = &meta.start {
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
    if let Some(s) = &meta.max_duration {
        sc.max_duration_ms = r.duration(s.get_ref(), &s.span(), "max_duration")?;
    }
    sc.tenant = tenant;

    let mut names = Names::default();
    (sc.users, sc.populations) = users::parse(&raw.users, &raw.populations, &r, &mut names)?;
    sc.groups = groups::parse(&raw.groups, &mut names, &r)?;
    sc.faults = faults::parse(&raw.faults, &names, &r)?;
    sc.environment = environment::parse(&raw.environment, &r)?;
    sc.plan = plan::parse(&raw.plan, &mut names, &r)?;
    sc.expect = expect::parse(raw.expect.as_ref(), &r)?;
    if sc.users.is_empty() && sc.populations.iter().all(|p| p.count == 0) {
        // Checked last, so that a file with a mistake elsewhere is told about that first.
        return Err(ctx.err(
            0..0,
            None,
            "",
            "the scenario has no users: add [[users]] or [[populations]] (a scenario with users and no [[plan]] rehearses its tenant as set up)".into(),
            None,
        ));
    }
    Ok(sc)
}

/// The file name without its directory and `.toml`: the scenario's name when it has none.
fn file_stem(source: &str) -> &str {
    let base = source.rsplit(['/', '\\']).next().unwrap_or(source);
    base.strip_suffix(".toml").unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_table_and_file_errors() {
        let one = "[[users]]\nid = \"u\"\n";
        let sc = parse_scenario("dir/my-plan.toml", one, None).unwrap();
        assert_eq!((sc.name.as_str(), sc.seeds, sc.seed), ("my-plan", 200, 1));
        assert!(
            sc.plan.is_empty(),
            "users and no plan: valid (the baseline)"
        );
        for empty in [
            "",
            "[tenant]\n",
            "[[populations]]\nname = \"p\"\ncount = 0\n",
        ] {
            assert_eq!(
                parse_scenario("dir/empty.toml", empty, None)
                    .unwrap_err()
                    .to_string(),
                "dir/empty.toml:1:1: the scenario has no users: add [[users]] or [[populations]] (a scenario with users and no [[plan]] rehearses its tenant as set up)"
            );
        }
        assert_eq!(
            parse_scenario("s.toml", "[scenario]\nstart = \"Monday\"\n", None)
                .unwrap_err()
                .to_string(),
            "s.toml:2:9: key `start`: \"Monday\" is not YYYY-MM-DDTHH:MM:SSZ"
        );
        assert_eq!(
            parse_scenario("s.toml", &format!("[scenario]\nseeds = 0\n{one}"), None)
                .unwrap()
                .seeds,
            1
        );
        let e = load_scenario(Path::new("/no/such/file.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/no/such/file.toml: cannot read: "),
            "{e}"
        );
    }
}
