//! The human summary on stdout: one block per scenario (the verdict, errors in users and paths,
//! who fails, licences, service lost, timing, why runs failed with a reproduce command each, and
//! the first findings), or the main lines side by side when there are several scenarios.

use super::words::{group_findings, problems_phrase, spread, users_list};
use crate::figures::{FigureId, fmt_duration};
use crate::sweep::SweepReport;
use std::fmt::Write;

/// Kinds of problem shown on stdout.
const GROUPS_SHOWN: usize = 8;

impl SweepReport {
    /// Runs in which a figure was not zero.
    pub fn runs_nonzero(&self, id: &FigureId) -> u64 {
        self.agg.figures.get(id).map_or(0, |t| t.nonzero())
    }

    /// "12 users in error before the plan (CountViolation 12); 3 calls rejected (...)", when
    /// the tenant as the scenario describes it is itself in error.
    pub fn baseline_text(&self) -> Option<String> {
        let b = &self.baseline;
        let mut parts = Vec::new();
        if b.users_in_error.max > 0 {
            let kinds: Vec<String> = b
                .users_by_kind
                .iter()
                .map(|(k, d)| format!("{k} {}", spread(d)))
                .collect();
            parts.push(format!(
                "{} users in error before the plan ({})",
                spread(&b.users_in_error),
                kinds.join(", ")
            ));
        }
        let rejected: Vec<String> = b
            .rejected_calls
            .iter()
            .filter(|(_, d)| d.max > 0)
            .map(|(k, d)| format!("{k} {}", spread(d)))
            .collect();
        if !rejected.is_empty() {
            parts.push(format!("calls rejected: {}", rejected.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// The lines of the summary for this scenario (name: value).
    fn summary_lines(&self) -> Vec<(String, String)> {
        let mut l: Vec<(String, String)> = Vec::new();
        let verdict = if self.runs_failing_expectations == 0 {
            format!("pass: all {} runs met every expectation", self.runs)
        } else {
            format!(
                "FAIL: {} of {} runs failed an expectation",
                self.runs_failing_expectations, self.runs
            )
        };
        l.push(("verdict".into(), verdict));
        let a = &self.assumptions;
        l.push((
            "runs".into(),
            format!(
                "{} from seed {}; rules {}; {}",
                self.runs,
                self.seed,
                a.rules,
                if a.expectations_defaulted {
                    "no [expect]: default expectations"
                } else {
                    "expectations from the scenario"
                }
            ),
        ));
        if let Some(text) = self.baseline_text() {
            l.push(("baseline".into(), text));
        }
        if self.errors.is_empty() {
            l.push(("license errors".into(), "none".into()));
        }
        for e in &self.errors {
            l.push((
                e.error.clone(),
                format!(
                    "users per run {}; paths {}; in {} of {} runs",
                    spread(&e.users),
                    spread(&e.paths),
                    e.runs,
                    self.runs
                ),
            ));
        }
        if let Some(x) = self.figure(&FigureId::UsersInErrorEnd) {
            let v = if x.max == 0 && !self.errors.is_empty() {
                "0: every error above was resolved by the end of each run".into()
            } else {
                spread(x)
            };
            l.push(("users in error at end".into(), v));
        }
        let u = &self.users_failing;
        if u.in_every_run + u.in_some_runs > 0 {
            let every: Vec<String> = u
                .users
                .iter()
                .filter(|x| x.runs == self.runs)
                .map(|x| x.user.clone())
                .collect();
            l.push((
                "users failing".into(),
                format!(
                    "{} in every run{}; {} in some runs only",
                    u.in_every_run,
                    if every.is_empty() {
                        String::new()
                    } else {
                        let shown: Vec<String> = every.iter().take(5).cloned().collect();
                        let more = u.in_every_run.saturating_sub(shown.len() as u64);
                        if more > 0 {
                            format!(" ({}, +{more} more)", shown.join(", "))
                        } else {
                            format!(" ({})", shown.join(", "))
                        }
                    },
                    u.in_some_runs
                ),
            ));
        }
        for (k, v) in self.figures.iter().filter(|(_, d)| d.max > 0) {
            match k {
                FigureId::RejectedCalls(e) => {
                    l.push((format!("rejected direct calls {e}"), spread(v)))
                }
                FigureId::RejectedOther(e) => l.push((format!("rejected {e}"), spread(v))),
                _ => {}
            }
        }
        for s in &self.skus {
            let mut v = format!(
                "peak {}, final {} (assignable {})",
                spread(&s.peak),
                spread(&s.final_),
                s.assignable_units
            );
            if s.buy > 0 {
                let _ = write!(
                    v,
                    "; short by up to {}: buy {}{}",
                    s.buy,
                    s.buy,
                    s.short_from
                        .as_ref()
                        .map_or(String::new(), |p| format!(" before {p}"))
                );
            }
            l.push((s.sku_part_number.clone(), v));
        }
        let s = &self.service;
        if s.users_lost.max == 0 {
            l.push(("loss of service".into(), "none (0 users)".into()));
        } else {
            l.push((
                "loss of service".into(),
                format!(
                    "{} users per run; still without a service at the end: {}",
                    spread(&s.users_lost),
                    spread(&s.still_lost_end)
                ),
            ));
        }
        for f in &s.families {
            let state = if f.still_lost_end.max > 0 {
                format!(
                    "{} still without it at the end (open outages, {} user-minutes so far)",
                    spread(&f.still_lost_end),
                    spread(&f.open_user_minutes)
                )
            } else {
                format!(
                    "all restored, {} user-minutes, longest {}",
                    spread(&f.user_minutes),
                    fmt_duration(f.longest_outage_ms.max)
                )
            };
            l.push((
                format!("lost {}", f.family),
                format!("{} users; {state}", spread(&f.users_lost)),
            ));
        }
        if !s.other_plans.is_empty() {
            l.push((
                "lost other plans".into(),
                format!(
                    "{} plans ({}), up to {} users",
                    s.other_plans.len(),
                    users_list(&s.other_plans, 4),
                    s.other_users_lost_max
                ),
            ));
        }
        let t = &self.timing;
        let mut timing = format!(
            "plan p50 {} max {}; processing done p50 {} max {}",
            fmt_duration(t.plan_duration_ms.p50),
            fmt_duration(t.plan_duration_ms.max),
            fmt_duration(t.end_time_ms.p50),
            fmt_duration(t.end_time_ms.max)
        );
        if t.runs_timed_out > 0 {
            let _ = write!(
                timing,
                "; {} runs did NOT finish (max_duration)",
                t.runs_timed_out
            );
        }
        l.push(("duration".into(), timing));
        if t.runs_plan_stopped > 0 {
            let why = t
                .stop_reasons
                .iter()
                .next()
                .map_or(String::new(), |(w, _)| format!(" ({w})"));
            l.push((
                "plan stopped early".into(),
                format!("{} of {} runs{why}", t.runs_plan_stopped, self.runs),
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
        for f in &r.failure_reasons {
            let ex = f.examples.first();
            let _ = writeln!(
                o,
                "  {} run(s) failed {}{}\n    reproduce: {}",
                f.runs,
                f.expectations.join(", "),
                ex.map_or(String::new(), |e| format!(
                    "; run {}: {}",
                    e.run,
                    e.failures.join("; ")
                )),
                f.reproduce
            );
        }
        if let Some(f) = &r.findings
            && !f.all.is_empty()
        {
            let groups = group_findings(&f.all);
            let _ = writeln!(
                o,
                "  who fails in run {} and what to do ({} in {} {}; each one in findings.csv with --out):",
                f.run,
                problems_phrase(&f.all, f.total),
                groups.len(),
                if groups.len() == 1 { "kind" } else { "kinds" },
            );
            for g in groups.iter().take(GROUPS_SHOWN) {
                let x = g.first;
                let _ = writeln!(
                    o,
                    "    {} {} ({}) {}, since {}:\n      e.g. {}: {}",
                    g.users.len(),
                    if g.users.len() == 1 { "user" } else { "users" },
                    users_list(&g.users, 4),
                    [x.sku.as_str(), x.via.as_str(), x.error.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                    x.step,
                    x.user,
                    x.fix
                );
            }
            if groups.len() > GROUPS_SHOWN {
                let _ = writeln!(
                    o,
                    "    ... {} more kinds of problem",
                    groups.len() - GROUPS_SHOWN
                );
            }
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
