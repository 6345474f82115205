//! Reports across runs (SPEC 6): every per-run integer figure becomes a distribution (min, p50,
//! p90, p99, max) in run order; the share of runs that failed an expectation; each failing run
//! with the command that reproduces it. Outputs: a human summary (side by side for several
//! scenarios), report.json, report.md, runs.csv and an SVG chart.

use crate::chart::{self, Panel, Series};
use crate::sweep::Distribution;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One run, as the report sees it.
#[derive(Clone, Debug, Default)]
pub struct RunRow {
    pub run: u64,
    pub seed: u64,
    /// Every integer figure of the run, by dotted name (`failures.by_kind.CountViolation`).
    pub figures: BTreeMap<String, u64>,
    pub expectation_failures: Vec<String>,
    pub warnings: Vec<String>,
    pub state_hash: u64,
    /// Consumption per SKU part number: (time ms, consumed) at each change.
    pub consumption: BTreeMap<String, Vec<(u64, u64)>>,
    /// Users holding a path in error over time.
    pub errors: Vec<(u64, u64)>,
    pub end_ms: u64,
}

/// Flattens the integer leaves of a JSON value into dotted names (booleans count 0/1; arrays,
/// strings and nulls are skipped).
pub fn flatten(v: &Value) -> BTreeMap<String, u64> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, u64>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&name, x, out);
                }
            }
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    out.insert(prefix.to_string(), u);
                }
            }
            Value::Bool(b) => {
                out.insert(prefix.to_string(), u64::from(*b));
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk("", v, &mut out);
    out
}

#[derive(Clone, Debug, Serialize)]
pub struct FailedRun {
    pub run: u64,
    pub seed: u64,
    pub failures: Vec<String>,
    /// The `licsim record` command that reproduces the run.
    pub replay: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SkuSummary {
    #[serde(rename = "skuId")]
    pub sku_id: String,
    #[serde(rename = "skuPartNumber")]
    pub sku_part_number: String,
    pub assignable_units: u64,
    pub peak: Distribution,
    #[serde(rename = "final")]
    pub final_: Distribution,
    pub shortfall: Distribution,
}

#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub scenario: String,
    pub description: String,
    pub source: String,
    pub seed: u64,
    pub runs: u64,
    pub runs_failing_expectations: u64,
    /// Runs failing an expectation, per mille of runs (integer).
    pub expectation_failure_permille: u64,
    pub skus: Vec<SkuSummary>,
    pub figures: BTreeMap<String, Distribution>,
    pub failed_runs: Vec<FailedRun>,
    pub warnings: Vec<String>,
    /// The final state of the first run, in Graph's shape (SPEC 8); left out above
    /// [`STATE_USERS_LIMIT`] users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// The first run's metrics in full (failures by kind, wave and SKU, consumption timelines,
    /// loss of service per family, ...); the distributions above cover all runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_run: Option<Value>,
    #[serde(skip)]
    pub rows: Vec<RunRow>,
}

/// Largest tenant whose final state is embedded in report.json.
pub const STATE_USERS_LIMIT: usize = 10_000;

impl SweepReport {
    /// Aggregates runs (given in run order). `sku_ids` maps part numbers to (skuId, assignable).
    pub fn build(
        scenario: &str,
        description: &str,
        source: &str,
        seed: u64,
        rows: Vec<RunRow>,
        sku_ids: &BTreeMap<String, (String, u64)>,
    ) -> SweepReport {
        let mut names: Vec<String> = rows
            .iter()
            .flat_map(|r| r.figures.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        let mut figures = BTreeMap::new();
        for n in &names {
            let vals: Vec<u64> = rows
                .iter()
                .map(|r| r.figures.get(n).copied().unwrap_or(0))
                .collect();
            figures.insert(n.clone(), Distribution::of(&vals));
        }
        let mut failed_runs = Vec::new();
        for r in &rows {
            if !r.expectation_failures.is_empty() {
                failed_runs.push(FailedRun {
                    run: r.run,
                    seed: r.seed,
                    failures: r.expectation_failures.clone(),
                    replay: format!(
                        "licsim record {source} --seed {} --run {} -o {scenario}-run{}.simlog",
                        r.seed, r.run, r.run
                    ),
                });
            }
        }
        let mut skus = Vec::new();
        let mut sku_names: Vec<&String> = rows.iter().flat_map(|r| r.consumption.keys()).collect();
        sku_names.sort();
        sku_names.dedup();
        for part in sku_names {
            let col = |suffix: &str| -> Distribution {
                let key = format!("consumption.{part}.{suffix}");
                let v: Vec<u64> = rows
                    .iter()
                    .map(|r| r.figures.get(&key).copied().unwrap_or(0))
                    .collect();
                Distribution::of(&v)
            };
            let (id, initial) = sku_ids.get(part).cloned().unwrap_or_default();
            // Assignable units at the end of the runs (purchases change it), else at the start.
            let assignable = {
                let key = format!("consumption.{part}.assignable");
                rows.iter()
                    .filter_map(|r| r.figures.get(&key).copied())
                    .max()
                    .unwrap_or(initial)
            };
            skus.push(SkuSummary {
                sku_id: id,
                sku_part_number: part.clone(),
                assignable_units: assignable,
                peak: col("peak"),
                final_: col("final"),
                shortfall: col("shortfall"),
            });
        }
        let mut warnings: Vec<String> = Vec::new();
        for r in &rows {
            for w in &r.warnings {
                let w = format!("run {}: {w}", r.run);
                if warnings.len() < 20 {
                    warnings.push(w);
                }
            }
        }
        let runs = rows.len() as u64;
        SweepReport {
            scenario: scenario.to_string(),
            description: description.to_string(),
            source: source.to_string(),
            seed,
            runs,
            runs_failing_expectations: failed_runs.len() as u64,
            expectation_failure_permille: (failed_runs.len() as u64 * 1000)
                .checked_div(runs)
                .unwrap_or(0),
            skus,
            figures,
            failed_runs,
            warnings,
            state: None,
            first_run: None,
            rows,
        }
    }

    fn fig(&self, name: &str) -> Option<&Distribution> {
        self.figures.get(name)
    }

    /// Figures whose name starts with `prefix.` and whose max is not zero.
    fn nonzero(&self, prefix: &str) -> Vec<(&str, &Distribution)> {
        let p = format!("{prefix}.");
        self.figures
            .iter()
            .filter(|(k, d)| k.starts_with(&p) && d.max > 0)
            .map(|(k, d)| (&k[p.len()..], d))
            .collect()
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }

    /// One row per run: run, seed, state hash, expectation failures, then every figure.
    pub fn to_csv(&self) -> String {
        let mut names: Vec<&String> = self.figures.keys().collect();
        names.sort();
        let mut out = String::from("run,seed,state_hash,expectation_failures");
        for n in &names {
            out.push(',');
            out.push_str(n);
        }
        out.push('\n');
        for r in &self.rows {
            let fails = r.expectation_failures.join("; ").replace('"', "'");
            let _ = write!(
                out,
                "{},{},{:016x},\"{}\"",
                r.run, r.seed, r.state_hash, fails
            );
            for n in &names {
                let _ = write!(out, ",{}", r.figures.get(*n).copied().unwrap_or(0));
            }
            out.push('\n');
        }
        out
    }

    pub fn to_svg(&self) -> String {
        let mut panels = Vec::new();
        let mut series = Vec::new();
        let mut skus: Vec<&String> = self
            .rows
            .iter()
            .flat_map(|r| r.consumption.keys())
            .collect();
        skus.sort();
        skus.dedup();
        for s in skus {
            series.push(Series {
                name: s.clone(),
                runs: self
                    .rows
                    .iter()
                    .map(|r| r.consumption.get(s).cloned().unwrap_or_default())
                    .collect(),
            });
        }
        panels.push(Panel {
            title: "Licenses consumed (consumedUnits)".into(),
            series,
        });
        panels.push(Panel {
            title: "Users with a license error".into(),
            series: vec![Series {
                name: "users in error".into(),
                runs: self.rows.iter().map(|r| r.errors.clone()).collect(),
            }],
        });
        let end = self.rows.iter().map(|r| r.end_ms).max().unwrap_or(0);
        chart::svg(
            &format!("{} ({} runs)", self.scenario, self.runs),
            &panels,
            end,
        )
    }

    pub fn to_markdown(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "# {}\n", self.scenario);
        if !self.description.is_empty() {
            let _ = writeln!(o, "{}\n", self.description);
        }
        let _ = writeln!(
            o,
            "Source `{}`, {} runs from seed {}; {} run(s) failed an expectation ({}‰).\n",
            self.source,
            self.runs,
            self.seed,
            self.runs_failing_expectations,
            self.expectation_failure_permille
        );
        let _ = writeln!(
            o,
            "| figure | min | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|"
        );
        for (k, d) in &self.figures {
            let _ = writeln!(
                o,
                "| {k} | {} | {} | {} | {} | {} |",
                d.min, d.p50, d.p90, d.p99, d.max
            );
        }
        if !self.failed_runs.is_empty() {
            let _ = writeln!(o, "\n## Runs that failed an expectation\n");
            for f in self.failed_runs.iter().take(50) {
                let _ = writeln!(
                    o,
                    "- run {} (seed {}): {}  \n  `{}`",
                    f.run,
                    f.seed,
                    f.failures.join("; "),
                    f.replay
                );
            }
            if self.failed_runs.len() > 50 {
                let _ = writeln!(
                    o,
                    "- ... and {} more (report.json lists all)",
                    self.failed_runs.len() - 50
                );
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(o, "\n## Warnings\n");
            for w in &self.warnings {
                let _ = writeln!(o, "- {w}");
            }
        }
        let _ = writeln!(o, "\n![consumption and errors over time](chart.svg)");
        o
    }

    /// The lines of the human summary for this scenario (name: value).
    fn summary_lines(&self) -> Vec<(String, String)> {
        let mut l: Vec<(String, String)> = Vec::new();
        let d = |d: &Distribution| -> String {
            if d.min == d.max {
                format!("{}", d.max)
            } else {
                format!("p50 {} p90 {} max {}", d.p50, d.p90, d.max)
            }
        };
        l.push(("runs".into(), format!("{} (seed {})", self.runs, self.seed)));
        l.push((
            "failed expectations".into(),
            format!("{} of {} runs", self.runs_failing_expectations, self.runs),
        ));
        let kinds = self.nonzero("failures.by_kind");
        if kinds.is_empty() {
            l.push(("license errors".into(), "none".into()));
        }
        for (k, v) in kinds {
            l.push((format!("errors {k}"), d(v)));
        }
        if let Some(x) = self.fig("users_in_error_end") {
            l.push(("users in error at end".into(), d(x)));
        }
        for (k, v) in self.nonzero("rejected_calls") {
            l.push((format!("rejected direct calls {k}"), d(v)));
        }
        for (k, v) in self.nonzero("rejected_other") {
            l.push((format!("rejected {k}"), d(v)));
        }
        if let Some(x) = self.fig("plan_stopped")
            && x.max > 0
        {
            l.push((
                "plan stopped (gate or reject)".into(),
                format!("{} of {} runs", x.sum, self.runs),
            ));
        }
        for s in &self.skus {
            l.push((
                format!("{} consumed", s.sku_part_number),
                format!(
                    "peak {} final {} (assignable {})",
                    d(&s.peak),
                    d(&s.final_),
                    s.assignable_units
                ),
            ));
            if s.shortfall.max > 0 {
                l.push((format!("{} shortfall", s.sku_part_number), d(&s.shortfall)));
            }
        }
        let lost: Vec<(&str, &Distribution)> = self
            .figures
            .iter()
            .filter(|(k, v)| k.starts_with("service.") && k.ends_with(".users_lost") && v.max > 0)
            .map(|(k, v)| (&k["service.".len()..k.len() - ".users_lost".len()], v))
            .collect();
        if lost.is_empty() {
            l.push(("loss of service".into(), "none".into()));
        }
        // The named service families (exchange, sharepoint, teams, ...) one by one; plans that
        // are a family of their own folded into one line.
        let (named, other): (Vec<_>, Vec<_>) = lost
            .into_iter()
            .partition(|(f, _)| f.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        for (fam, v) in named {
            let mins = self
                .fig(&format!("service.{fam}.user_minutes"))
                .map(d)
                .unwrap_or_default();
            l.push((
                format!("lost {fam}"),
                format!("users {} user-minutes {}", d(v), mins),
            ));
        }
        if !other.is_empty() {
            let users = other.iter().map(|(_, v)| v.max).max().unwrap_or(0);
            let names: Vec<&str> = other.iter().take(4).map(|(f, _)| *f).collect();
            let more = if other.len() > 4 {
                format!(", +{} more", other.len() - 4)
            } else {
                String::new()
            };
            l.push((
                "lost other services".into(),
                format!(
                    "{} plans ({}{more}), up to {users} users",
                    other.len(),
                    names.join(", ")
                ),
            ));
        }
        if let Some(x) = self.fig("plan_duration_ms") {
            let h = |ms: u64| format!("{}h{:02}", ms / 3_600_000, (ms / 60_000) % 60);
            l.push((
                "plan duration".into(),
                format!("p50 {} max {}", h(x.p50), h(x.max)),
            ));
        }
        l
    }
}

/// The human summary: one block per scenario, or side by side when there are several.
pub fn human_summary(reports: &[SweepReport]) -> String {
    let mut o = String::new();
    if reports.len() == 1 {
        let r = &reports[0];
        let _ = writeln!(o, "{} — {}", r.scenario, r.source);
        let lines = r.summary_lines();
        let kw = lines
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(10);
        for (k, v) in lines {
            let _ = writeln!(o, "  {k:<kw$} {v}");
        }
        for f in r.failed_runs.iter().take(5) {
            let _ = writeln!(
                o,
                "  failed run {}: {}\n    reproduce: {}",
                f.run,
                f.failures.join("; "),
                f.replay
            );
        }
        if r.failed_runs.len() > 5 {
            let _ = writeln!(
                o,
                "  ... {} more failed runs (see report.json)",
                r.failed_runs.len() - 5
            );
        }
        return o;
    }
    let cols: Vec<Vec<(String, String)>> = reports.iter().map(|r| r.summary_lines()).collect();
    let mut keys: Vec<String> = Vec::new();
    for c in &cols {
        for (k, _) in c {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let width = cols
        .iter()
        .flat_map(|c| c.iter().map(|(_, v)| v.chars().count()))
        .chain(reports.iter().map(|r| r.scenario.chars().count()))
        .max()
        .unwrap_or(10)
        .min(48);
    let kw = keys.iter().map(|k| k.chars().count()).max().unwrap_or(10);
    let _ = write!(o, "{:<kw$}", "");
    for r in reports {
        let _ = write!(o, " | {:<width$}", r.scenario);
    }
    o.push('\n');
    for k in keys {
        let _ = write!(o, "{k:<kw$}");
        for c in &cols {
            let v = c
                .iter()
                .find(|(x, _)| *x == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("-");
            let _ = write!(o, " | {v:<width$}");
        }
        o.push('\n');
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run: u64, errs: u64, fail: bool) -> RunRow {
        let v = json!({"failures": {"by_kind": {"CountViolation": errs}}, "consumption": {"E3": {"peak": 10 + run, "final": 10, "shortfall": 0}}, "ok": true, "list": [1, 2]});
        RunRow {
            run,
            seed: 1,
            figures: flatten(&v),
            expectation_failures: if fail { vec!["x".into()] } else { vec![] },
            consumption: [("E3".to_string(), vec![(0, 10 + run)])]
                .into_iter()
                .collect(),
            end_ms: 1000,
            ..RunRow::default()
        }
    }

    #[test]
    fn flatten_keeps_integer_leaves() {
        let f = flatten(&json!({"a": {"b": 3, "c": "x", "d": [1]}, "e": true}));
        assert_eq!(f.get("a.b"), Some(&3));
        assert_eq!(f.get("e"), Some(&1));
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn report_aggregates_in_run_order_and_lists_failed_runs() {
        let ids: BTreeMap<String, (String, u64)> = [("E3".to_string(), ("guid".to_string(), 20))]
            .into_iter()
            .collect();
        let r = SweepReport::build(
            "s",
            "",
            "s.toml",
            1,
            vec![row(0, 0, false), row(1, 4, true)],
            &ids,
        );
        assert_eq!(r.runs_failing_expectations, 1);
        assert_eq!(r.expectation_failure_permille, 500);
        assert_eq!(
            r.failed_runs[0].replay,
            "licsim record s.toml --seed 1 --run 1 -o s-run1.simlog"
        );
        assert_eq!(r.figures["failures.by_kind.CountViolation"].max, 4);
        assert_eq!(r.skus[0].peak.max, 11);
        assert!(r.to_csv().lines().count() == 3);
        assert!(human_summary(std::slice::from_ref(&r)).contains("CountViolation"));
        assert!(human_summary(&[r.clone(), r]).contains(" | "));
    }
}
