//! report.md: the scenario, the share of failing runs, every figure's distribution, the failing
//! runs with their reproduce commands, warnings and the chart.

use crate::sweep::SweepReport;
use std::fmt::Write;

impl SweepReport {
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
}
