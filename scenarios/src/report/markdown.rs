//! report.md, written for the planner who decides whether to go ahead: the verdict, why runs
//! failed (one reproduce command per reason), the errors in users and in paths, who fails and
//! what to do about it, licences to buy, service lost (closed and still open), timing, and the
//! assumptions the figures rest on. Every figure by name stays in report.json and runs.csv.

use super::words::{cell, group_findings, problems_phrase, spread, users_list};
use crate::figures::fmt_duration;
use crate::sweep::SweepReport;
use std::fmt::Write;

/// Findings listed in report.md (findings.csv has all).
const FINDINGS_SHOWN: usize = 50;
/// Users listed among those who fail most often.
const USERS_SHOWN: usize = 20;

impl SweepReport {
    pub fn to_markdown(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "# {}\n", self.scenario);
        if !self.description.is_empty() {
            let _ = writeln!(o, "{}\n", self.description);
        }
        let _ = writeln!(o, "{}\n", self.verdict_sentence());
        let _ = writeln!(
            o,
            "Scenario `{}`, {} runs from seed {}.\n",
            self.source, self.runs, self.seed
        );
        self.md_reasons(&mut o);
        self.md_errors(&mut o);
        self.md_findings(&mut o);
        self.md_licences(&mut o);
        self.md_service(&mut o);
        self.md_timing(&mut o);
        self.md_plan(&mut o);
        self.md_assumptions(&mut o);
        if !self.warnings.is_empty() {
            let _ = writeln!(o, "## Warnings\n");
            for w in &self.warnings {
                let _ = writeln!(o, "- {w}");
            }
            o.push('\n');
        }
        let _ = writeln!(
            o,
            "## Over time\n\n![licences consumed, users in error and users without a service over time](chart.svg)\n"
        );
        let _ = writeln!(
            o,
            "Every figure by name, with its unit and meaning: `report.json` (`figures`, `figure_units`); one row per run: `runs.csv`."
        );
        o
    }

    /// "**Verdict: FAIL.** 200 of 200 runs failed an expectation."
    pub fn verdict_sentence(&self) -> String {
        if self.runs_failing_expectations == 0 {
            format!(
                "**Verdict: pass.** All {} runs met every expectation.",
                self.runs
            )
        } else {
            format!(
                "**Verdict: FAIL.** {} of {} runs failed an expectation.",
                self.runs_failing_expectations, self.runs
            )
        }
    }

    fn md_reasons(&self, o: &mut String) {
        if self.failure_reasons.is_empty() {
            return;
        }
        let _ = writeln!(o, "## Why runs failed\n");
        let _ = writeln!(
            o,
            "| runs | failed | what happened (first run) | reproduce |"
        );
        let _ = writeln!(o, "|---:|---|---|---|");
        for r in &self.failure_reasons {
            let example = r.examples.first().map_or(String::new(), |e| {
                format!("run {}: {}", e.run, e.failures.join("; "))
            });
            let _ = writeln!(
                o,
                "| {} | {} | {} | `{}` |",
                r.runs,
                r.expectations.join(", "),
                cell(&example),
                r.reproduce
            );
        }
        o.push('\n');
    }

    fn md_errors(&self, o: &mut String) {
        if let Some(b) = self.baseline_text() {
            let _ = writeln!(
                o,
                "## The tenant before the plan\n\nThe baseline (the tenant as the scenario describes it, built and processed before step 1) is itself in error: {b}. These are not counted below as the plan's errors; findings say `since baseline` for them.\n"
            );
        }
        let _ = writeln!(o, "## License errors\n");
        if self.errors.is_empty() {
            let _ = writeln!(o, "No license assignment entered an error in any run.\n");
            return;
        }
        let _ = writeln!(
            o,
            "| error | users per run | paths per run | runs | what it means |\n|---|---|---|---:|---|"
        );
        for e in &self.errors {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                e.error,
                spread(&e.users),
                spread(&e.paths),
                e.runs,
                e.meaning
            );
        }
        let end = self
            .figure(&crate::figures::FigureId::UsersInErrorEnd)
            .cloned()
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "\nA path is one reason a user holds a SKU (direct, or one group); a user can fail on several. Users still in error at the end of a run: {}.",
            spread(&end)
        );
        let u = &self.users_failing;
        if u.in_every_run + u.in_some_runs > 0 {
            let _ = writeln!(
                o,
                "Users in error at the end of every run: {} (the same in every run: fix their data or the plan); in some runs only: {} (they depend on the run: the faults drawn for it, processing order, races for units).\n",
                u.in_every_run, u.in_some_runs
            );
            let _ = writeln!(o, "| user | runs in error at the end |\n|---|---:|");
            for x in u.users.iter().take(USERS_SHOWN) {
                let _ = writeln!(o, "| {} | {} of {} |", x.user, x.runs, self.runs);
            }
        }
        o.push('\n');
    }

    fn md_findings(&self, o: &mut String) {
        let Some(f) = &self.findings else { return };
        let _ = writeln!(
            o,
            "## Who fails and what to do (run {}, seed {})\n",
            f.run, f.seed
        );
        if f.all.is_empty() {
            let _ = writeln!(
                o,
                "No user is in error at the end of this run, and no call naming a user was rejected.\n"
            );
            return;
        }
        let _ = writeln!(
            o,
            "{}{}. Replay this run with `licsim record {} --seed {} --run {} -o run.simlog` and `licsim inspect run.simlog --user ID`.\n",
            problems_phrase(&f.all, f.total),
            if f.all.len() > FINDINGS_SHOWN {
                format!(", the first {FINDINGS_SHOWN} below (findings.csv lists all)")
            } else {
                " (also in findings.csv)".into()
            },
            self.source,
            f.seed,
            f.run
        );
        let groups = group_findings(&f.all);
        if groups.len() < f.all.len() {
            let _ = writeln!(
                o,
                "| users | SKU | via | error | since | what to do (for the first user) |\n|---|---|---|---|---|---|"
            );
            for g in &groups {
                let x = g.first;
                let _ = writeln!(
                    o,
                    "| {} ({}) | {} | {} | {} | {} | {}: {} |",
                    g.users.len(),
                    cell(&users_list(&g.users, 3)),
                    x.sku,
                    cell(&x.via),
                    x.error,
                    x.step,
                    cell(&x.user),
                    cell(&x.fix)
                );
            }
            let _ = writeln!(o, "\nUser by user:\n");
        }
        let _ = writeln!(
            o,
            "| user | SKU | via | state | error | since | what to do |\n|---|---|---|---|---|---|---|"
        );
        for x in f.all.iter().take(FINDINGS_SHOWN) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&x.user),
                x.sku,
                cell(&x.via),
                x.state,
                x.error,
                x.step,
                cell(&x.fix)
            );
        }
        o.push('\n');
    }

    fn md_licences(&self, o: &mut String) {
        if self.skus.is_empty() {
            return;
        }
        let _ = writeln!(o, "## Licences\n");
        let _ = writeln!(
            o,
            "| SKU | assignable | peak consumed | at the end | short by (worst run) |\n|---|---:|---|---|---:|"
        );
        for s in &self.skus {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                s.sku_part_number,
                s.assignable_units,
                spread(&s.peak),
                spread(&s.final_),
                s.shortfall.max
            );
        }
        for s in self.skus.iter().filter(|s| s.buy > 0) {
            let _ = writeln!(
                o,
                "\nBuy {} {} {}so that no run falls short (short in {} of {} runs; p50 {}).",
                s.buy,
                s.sku_part_number,
                s.short_from
                    .as_ref()
                    .map_or(String::new(), |p| format!("before {p} ")),
                self.runs_nonzero(&crate::figures::FigureId::Consumption {
                    sku: s.sku_part_number.clone(),
                    field: crate::figures::SkuField::Shortfall,
                }),
                self.runs,
                s.shortfall.p50
            );
        }
        o.push('\n');
    }

    fn md_service(&self, o: &mut String) {
        let _ = writeln!(o, "## Loss of service\n");
        let s = &self.service;
        if s.users_lost.max == 0 {
            let _ = writeln!(o, "Nobody lost a service in any run (0 users).\n");
            return;
        }
        let _ = writeln!(
            o,
            "Users who lost at least one service: {} per run; still without one at the end: {}; time without: {} user-minutes per run (open outages counted up to the end of the run).\n",
            spread(&s.users_lost),
            spread(&s.still_lost_end),
            spread(&s.user_minutes)
        );
        if !s.families.is_empty() {
            let _ = writeln!(
                o,
                "| service | users who lost it | still without it at the end | outages closed | user-minutes (of which still open) | longest |\n|---|---|---|---|---|---|"
            );
            for f in &s.families {
                let longest = if f.still_lost_end.max > 0 {
                    format!(
                        "still open at the end ({} so far)",
                        fmt_duration(f.longest_outage_ms.max)
                    )
                } else {
                    fmt_duration(f.longest_outage_ms.max)
                };
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} ({}) | {} |",
                    f.family,
                    spread(&f.users_lost),
                    spread(&f.still_lost_end),
                    spread(&f.restored),
                    spread(&f.user_minutes),
                    spread(&f.open_user_minutes),
                    longest
                );
            }
        }
        if !s.other_plans.is_empty() {
            let _ = writeln!(
                o,
                "\nAlso lost: {} plan(s) that are a service of their own ({}), up to {} users.",
                s.other_plans.len(),
                users_list(&s.other_plans, 8),
                s.other_users_lost_max
            );
        }
        o.push('\n');
    }

    fn md_timing(&self, o: &mut String) {
        let t = &self.timing;
        let _ = writeln!(o, "## Timing\n");
        let _ = writeln!(
            o,
            "- Plan (until its last step was issued): p50 {}, max {}.",
            fmt_duration(t.plan_duration_ms.p50),
            fmt_duration(t.plan_duration_ms.max)
        );
        let _ = writeln!(
            o,
            "- Until all processing finished: p50 {}, max {}.",
            fmt_duration(t.end_time_ms.p50),
            fmt_duration(t.end_time_ms.max)
        );
        if t.runs_plan_stopped > 0 {
            let _ = writeln!(
                o,
                "- The plan stopped early in {} of {} runs:",
                t.runs_plan_stopped, self.runs
            );
            for (why, n) in &t.stop_reasons {
                let _ = writeln!(o, "  - {why} ({n} runs)");
            }
        }
        if t.runs_timed_out > 0 {
            let _ = writeln!(
                o,
                "- {} of {} runs did NOT finish within max_duration ({}): their figures stop there.",
                t.runs_timed_out,
                self.runs,
                fmt_duration(self.assumptions.max_duration_ms)
            );
        }
        o.push('\n');
    }

    fn md_plan(&self, o: &mut String) {
        if self.plan.is_empty() {
            return;
        }
        let _ = writeln!(o, "## The plan\n");
        for (i, s) in self.plan.iter().enumerate() {
            let _ = writeln!(o, "{}. `{}`", i + 1, s);
        }
        let _ = writeln!(
            o,
            "\n`baseline` is the tenant as the scenario describes it, built and processed before step 1.\n"
        );
    }

    fn md_assumptions(&self, o: &mut String) {
        let a = &self.assumptions;
        let _ = writeln!(o, "## Assumptions\n");
        let _ = writeln!(o, "- Rule profile `{}`: {}.", a.rules, a.rules_note);
        let _ = writeln!(
            o,
            "- Timing of the service: queue delay {}; processing {} per user; dynamic membership evaluated after {}; directory sync every {}; concurrency window {}, retried after {}. A run stops at {} of simulated time.",
            fmt_duration(a.queue_delay_ms),
            a.processing_latency,
            fmt_duration(a.dynamic_evaluation_delay_ms),
            fmt_duration(a.sync_interval_ms),
            fmt_duration(a.concurrency_window_ms),
            fmt_duration(a.retry_delay_ms),
            fmt_duration(a.max_duration_ms)
        );
        let _ = writeln!(
            o,
            "- Tenant default usage location: {}; a deleted group's blocked paths: `{}`.",
            a.default_usage_location.as_deref().unwrap_or("none"),
            a.on_group_delete
        );
        let _ = writeln!(
            o,
            "- Expectations{}: {}.\n",
            if a.expectations_defaulted {
                " (the scenario has no [expect]; these defaults apply)"
            } else {
                ""
            },
            a.expectations.join("; ")
        );
    }
}
