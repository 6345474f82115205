//! runs.csv: one row per run (run, seed, state hash, expectation failures, then every figure
//! of the sweep by name; 0 where a run did not measure it).

use crate::sweep::SweepReport;
use std::fmt::Write;

impl SweepReport {
    pub fn to_csv(&self) -> String {
        let mut out = String::from("run,seed,state_hash,expectation_failures");
        for id in self.figures.keys() {
            out.push(',');
            out.push_str(&id.name());
        }
        out.push('\n');
        for r in &self.rows {
            let fails = r.expectation_failures.join("; ").replace('"', "'");
            let _ = write!(
                out,
                "{},{},{:016x},\"{}\"",
                r.run, r.seed, r.state_hash, fails
            );
            // Both lists are sorted by id: walk them together.
            let mut own = r.figures.iter().peekable();
            for id in self.figures.keys() {
                while own.next_if(|f| f.id < *id).is_some() {}
                let v = own.next_if(|f| f.id == *id).map_or(0, |f| f.value);
                let _ = write!(out, ",{v}");
            }
            out.push('\n');
        }
        out
    }
}
