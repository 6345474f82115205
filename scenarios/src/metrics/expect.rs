//! `[expect]` (SPEC 10): each expectation checked against one run's metrics.

use super::RunMetrics;
use crate::model::Expectations;
use engine::catalog::Catalog;

/// Checks `[expect]` against a run (SPEC 10); returns one human line per violation.
pub fn check_expectations(exp: &Expectations, m: &RunMetrics, cat: &Catalog) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(n) = exp.max_users_in_error
        && m.users_in_error_end > n
    {
        v.push(format!(
            "{} users in error at the end > max_users_in_error {n}",
            m.users_in_error_end
        ));
    }
    if exp.no_service_loss == Some(true) {
        let lost: Vec<String> = m
            .service
            .iter()
            .filter(|(_, s)| s.outages > 0)
            .map(|(f, s)| format!("{f} ({} users)", s.users_lost))
            .collect();
        if !lost.is_empty() {
            v.push(format!("loss of service: {}", lost.join(", ")));
        }
    }
    for (sku, n) in &exp.peak_units {
        let name = &cat.sku(*sku).part_number;
        let peak = m.consumption.get(name).map_or(0, |c| c.peak);
        if peak > *n {
            v.push(format!("peak units of {name} {peak} > {n}"));
        }
    }
    if let Some(n) = exp.max_rejected_calls {
        let total = m.rejected_calls_total + m.rejected_other.values().sum::<u64>();
        if total > n {
            v.push(format!("{total} rejected calls > max_rejected_calls {n}"));
        }
    }
    if let Some(n) = exp.max_duration_ms
        && m.end_time_ms > n
    {
        v.push(format!(
            "run lasted {} ms of simulated time > max_duration {n} ms",
            m.end_time_ms
        ));
    }
    v
}
