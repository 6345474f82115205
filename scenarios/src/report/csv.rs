//! runs.csv (one row per run: run, seed, state hash, failed expectations, then every figure of
//! the sweep by name; 0 where a run did not measure it) and findings.csv (one row per finding of
//! the run the report details).

use crate::sweep::SweepReport;
use std::fmt::Write;

/// A CSV field, quoted when it needs to be (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl SweepReport {
    /// runs.csv; empty of rows when the sweep did not keep them (`SweepOptions::keep_rows`).
    pub fn to_csv(&self) -> String {
        let agg = &self.agg;
        let mut out = String::from("run,seed,state_hash,expectation_failures");
        // Column of each of the aggregate's figure indices.
        let mut column = vec![0usize; agg.csv_ids.len()];
        for (c, id) in self.figures.keys().enumerate() {
            out.push(',');
            out.push_str(&field(&id.name()));
            if let Some(i) = agg.csv_ids.iter().position(|x| x == id) {
                column[i] = c;
            }
        }
        out.push('\n');
        let mut values = vec![0u64; self.figures.len()];
        for r in agg.csv.iter().flatten() {
            values.iter_mut().for_each(|v| *v = 0);
            for (i, v) in &r.figures {
                values[column[*i as usize]] = *v;
            }
            let _ = write!(
                out,
                "{},{},{:016x},{}",
                r.run,
                r.seed,
                r.state_hash,
                field(&r.failures)
            );
            for v in &values {
                let _ = write!(out, ",{v}");
            }
            out.push('\n');
        }
        out
    }

    /// findings.csv: user, SKU, via, state, error, step, what to do.
    pub fn findings_csv(&self) -> String {
        let mut out = String::from("run,user,sku,via,state,error,step,fix\n");
        if let Some(f) = &self.findings {
            for x in &f.all {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{},{}",
                    f.run,
                    field(&x.user),
                    field(&x.sku),
                    field(&x.via),
                    field(&x.state),
                    field(&x.error),
                    field(&x.step),
                    field(&x.fix)
                );
            }
        }
        out
    }
}
