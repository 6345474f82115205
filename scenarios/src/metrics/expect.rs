//! Expectations (SPEC 10 `[expect]`) checked against one run's metrics. A scenario without any
//! expectation is held to [`default_expectations`], and a run that hits `max_duration` before it
//! finishes always fails: a run that did not finish never passes silently.

use super::RunMetrics;
use crate::model::Expectations;
use engine::catalog::Catalog;
use serde::Serialize;

/// One expectation a run did not meet.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, bincode::Encode, bincode::Decode,
)]
pub struct ExpectationFailure {
    /// Which expectation, as the scenario names it (`max_users_in_error`, `no_service_loss`,
    /// `peak_units.ENTERPRISEPACK`, `max_rejected_calls`, `max_duration`,
    /// `no_service_loss_at_end`), or `finishes_in_time` and `invariants`, which every run has.
    pub expectation: String,
    /// What happened, in words, with this run's figures.
    pub message: String,
}

impl ExpectationFailure {
    pub fn new(expectation: impl Into<String>, message: impl Into<String>) -> ExpectationFailure {
        ExpectationFailure {
            expectation: expectation.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ExpectationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a scenario without `[expect]` is held to: no user in error at the end, nobody still
/// without a service at the end.
pub fn default_expectations() -> Expectations {
    Expectations {
        max_users_in_error: Some(0),
        no_service_loss_at_end: Some(true),
        ..Expectations::default()
    }
}

/// "exchange (108 users), sharepoint (12 users) and 30 other plans (up to 100 users)": the named
/// service families one by one, plans that are a family of their own folded into one part.
fn families_text<'a>(cat_families: impl Iterator<Item = (&'a str, u64)>) -> String {
    let (mut named, mut other_plans, mut other_users) = (Vec::new(), 0u64, 0u64);
    for (f, users) in cat_families {
        if crate::figures::is_main_family(f) {
            named.push(format!("{f} ({users} users)"));
        } else {
            other_plans += 1;
            other_users = other_users.max(users);
        }
    }
    if other_plans > 0 {
        named.push(format!(
            "{other_plans} other plan{} (up to {other_users} users)",
            if other_plans == 1 { "" } else { "s" }
        ));
    }
    named.join(", ")
}

/// Checks expectations against a run (SPEC 10): `[expect]`, or the defaults when it is empty,
/// and always that the run finished within `max_duration`.
pub fn check_expectations(
    exp: &Expectations,
    m: &RunMetrics,
    cat: &Catalog,
) -> Vec<ExpectationFailure> {
    let defaults;
    let exp = if exp.is_empty() {
        defaults = default_expectations();
        &defaults
    } else {
        exp
    };
    let mut v = Vec::new();
    if m.timed_out {
        let why = m
            .warnings
            .iter()
            .find(|w| w.contains("max_duration"))
            .map_or(String::new(), |w| format!(": {w}"));
        v.push(ExpectationFailure::new(
            "finishes_in_time",
            format!("the run did not finish within max_duration{why}"),
        ));
    }
    if let Some(n) = exp.max_users_in_error
        && m.users_in_error_end > n
    {
        v.push(ExpectationFailure::new(
            "max_users_in_error",
            format!(
                "{} users in error at the end > max_users_in_error {n}",
                m.users_in_error_end
            ),
        ));
    }
    if exp.no_service_loss == Some(true) {
        let lost = m
            .service
            .iter()
            .filter(|(_, s)| s.outages > 0)
            .map(|(f, s)| (f.as_str(), s.users_lost));
        let text = families_text(lost);
        if !text.is_empty() {
            v.push(ExpectationFailure::new(
                "no_service_loss",
                format!("loss of service: {text}"),
            ));
        }
    }
    if exp.no_service_loss_at_end == Some(true) && m.service_total.still_lost_end > 0 {
        let open = m
            .service
            .iter()
            .filter(|(_, s)| s.still_lost_end > 0)
            .map(|(f, s)| (f.as_str(), s.still_lost_end));
        v.push(ExpectationFailure::new(
            "no_service_loss_at_end",
            format!(
                "{} users still without a service at the end: {}",
                m.service_total.still_lost_end,
                families_text(open)
            ),
        ));
    }
    for (sku, n) in &exp.peak_units {
        let name = &cat.sku(*sku).part_number;
        let peak = m.consumption.get(name).map_or(0, |c| c.peak);
        if peak > *n {
            v.push(ExpectationFailure::new(
                format!("peak_units.{name}"),
                format!("peak units of {name} {peak} > {n}"),
            ));
        }
    }
    if let Some(n) = exp.max_rejected_calls {
        let total = m.rejected_calls_total + m.rejected_other.values().sum::<u64>();
        if total > n {
            v.push(ExpectationFailure::new(
                "max_rejected_calls",
                format!("{total} rejected calls > max_rejected_calls {n}"),
            ));
        }
    }
    if let Some(n) = exp.max_duration_ms
        && m.end_time_ms > n
    {
        v.push(ExpectationFailure::new(
            "max_duration",
            format!(
                "run lasted {} of simulated time > max_duration {}",
                crate::figures::fmt_duration(m.end_time_ms),
                crate::figures::fmt_duration(n)
            ),
        ));
    }
    v
}
