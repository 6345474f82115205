//! The human summary on stdout: one block per scenario, or side by side when there are several.

use crate::figures::{Distribution, FigureId, ServiceField};
use crate::sweep::SweepReport;
use std::fmt::Write;

/// `max` alone when every run agrees, else the median, p90 and max.
fn spread(d: &Distribution) -> String {
    if d.min == d.max {
        format!("{}", d.max)
    } else {
        format!("p50 {} p90 {} max {}", d.p50, d.p90, d.max)
    }
}

impl SweepReport {
    /// Figures whose id `pick` maps to a key, and whose max is not zero, in id order.
    fn nonzero<'a>(
        &'a self,
        pick: impl Fn(&'a FigureId) -> Option<&'a str>,
    ) -> Vec<(&'a str, &'a Distribution)> {
        self.figures
            .iter()
            .filter(|(_, d)| d.max > 0)
            .filter_map(|(id, d)| pick(id).map(|k| (k, d)))
            .collect()
    }

    /// The lines of the human summary for this scenario (name: value).
    fn summary_lines(&self) -> Vec<(String, String)> {
        let mut l: Vec<(String, String)> = Vec::new();
        l.push(("runs".into(), format!("{} (seed {})", self.runs, self.seed)));
        l.push((
            "failed expectations".into(),
            format!("{} of {} runs", self.runs_failing_expectations, self.runs),
        ));
        let kinds = self.nonzero(|id| match id {
            FigureId::FailuresByKind(k) => Some(k),
            _ => None,
        });
        if kinds.is_empty() {
            l.push(("license errors".into(), "none".into()));
        }
        for (k, v) in kinds {
            l.push((format!("errors {k}"), spread(v)));
        }
        if let Some(x) = self.figure(&FigureId::UsersInErrorEnd) {
            l.push(("users in error at end".into(), spread(x)));
        }
        for (k, v) in self.nonzero(|id| match id {
            FigureId::RejectedCalls(k) => Some(k),
            _ => None,
        }) {
            l.push((format!("rejected direct calls {k}"), spread(v)));
        }
        for (k, v) in self.nonzero(|id| match id {
            FigureId::RejectedOther(k) => Some(k),
            _ => None,
        }) {
            l.push((format!("rejected {k}"), spread(v)));
        }
        if let Some(x) = self.figure(&FigureId::PlanStopped)
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
                    spread(&s.peak),
                    spread(&s.final_),
                    s.assignable_units
                ),
            ));
            if s.shortfall.max > 0 {
                l.push((
                    format!("{} shortfall", s.sku_part_number),
                    spread(&s.shortfall),
                ));
            }
        }
        let lost = self.nonzero(|id| match id {
            FigureId::Service {
                family,
                field: ServiceField::UsersLost,
            } => Some(family),
            _ => None,
        });
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
                .figure(&FigureId::Service {
                    family: fam.to_string(),
                    field: ServiceField::UserMinutes,
                })
                .map(spread)
                .unwrap_or_default();
            l.push((
                format!("lost {fam}"),
                format!("users {} user-minutes {}", spread(v), mins),
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
        if let Some(x) = self.figure(&FigureId::PlanDurationMs) {
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
