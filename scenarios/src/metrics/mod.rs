//! Per-run metrics (SPEC 6): a projection of the event stream, integers only, keyed by names in
//! `BTreeMap`s so that serialization order is fixed. `observer` builds them from the events,
//! `expect` checks `[expect]` against them, `figures` lists them as typed figures for reports,
//! `findings` says, user by user, what failed, why and what to do about it.

mod expect;
mod figures;
mod findings;
mod observer;

pub use expect::{ExpectationFailure, check_expectations, default_expectations};
pub use findings::Finding;
pub use observer::MetricsObserver;

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Failures {
    /// Paths that entered an error state (`Error` or `ActiveWithError`, or changed error kind).
    pub total: u64,
    pub by_kind: BTreeMap<String, u64>,
    /// By plan position: "setup", "step 3", "step 5 wave 2".
    pub by_wave: BTreeMap<String, u64>,
    pub by_sku: BTreeMap<String, u64>,
    /// Distinct users with at least one path that entered an error state.
    pub users: u64,
    /// Distinct users with at least one path that entered each error kind.
    pub users_by_kind: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SkuConsumption {
    /// (time ms, consumedUnits) at each change, one point per millisecond at most.
    pub timeline: Vec<(u64, u64)>,
    /// (time ms, assignable units) at each change (purchases, `set_units`).
    pub assignable_timeline: Vec<(u64, u64)>,
    pub peak: u64,
    pub peak_time_ms: u64,
    #[serde(rename = "final")]
    pub final_: u64,
    /// Assignable units (enabled + warning) at the end.
    pub assignable: u64,
    /// Units that would have been needed for no CountViolation: the highest excess of
    /// (consumed + users waiting on a CountViolation) over assignable units.
    pub shortfall: u64,
    /// The plan position at which demand first exceeded the assignable units.
    pub short_from: Option<String>,
}

/// Loss of one service family (SPEC 6): an outage opens when a user goes from having the family
/// to not having it, and closes when it comes back; one still open at the end of the run is
/// counted apart, and its time only up to the end (it is not over).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceLoss {
    /// Distinct users who lost the family at least once.
    pub users_lost: u64,
    pub outages: u64,
    /// Outages that closed (the family came back) before the end.
    pub restored: u64,
    /// Sum of outage durations up to the end of the run (open ones included), in whole
    /// minutes and in ms.
    pub user_minutes: u64,
    pub user_ms: u64,
    /// The part of `user_ms` spent in outages still open at the end, in whole minutes.
    pub open_user_minutes: u64,
    pub longest_outage_ms: u64,
    /// Users still without the family at the end of the run.
    pub still_lost_end: u64,
    /// Outages by the plan position that opened them.
    pub by_step: BTreeMap<String, u64>,
    /// (time ms, users without the family) at each change.
    pub timeline: Vec<(u64, u64)>,
}

/// Loss of any service, per user: a user is without a service from the moment it loses one
/// family until it has every lost family back. Always measured (zero when nobody lost anything).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceTotals {
    /// Distinct users who lost at least one service family.
    pub users_lost: u64,
    /// Time users spent without at least one service, up to the end of the run.
    pub user_minutes: u64,
    pub user_ms: u64,
    /// Users still without at least one service at the end.
    pub still_lost_end: u64,
    /// (time ms, users without at least one service) at each change.
    pub timeline: Vec<(u64, u64)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GateStop {
    pub step: u64,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WaveTiming {
    pub start_ms: u64,
    /// Time of the last license change made while this wave was the current plan position.
    pub last_change_ms: u64,
}

fn hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:016x}"))
}

/// The tenant as the scenario describes it, at the end of its baseline (before the plan): a
/// baseline in error is reported as such, not counted as the plan's failures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Baseline {
    /// Users holding a path in error when the baseline was complete.
    pub users_in_error: u64,
    /// The same, by error kind (a user in two kinds counts in both).
    pub users_by_kind: BTreeMap<String, u64>,
    /// Calls of the baseline that were rejected, by "input: error" (direct licences of users
    /// and populations, faults).
    pub rejected_calls: BTreeMap<String, u64>,
}

/// Everything one run measured.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunMetrics {
    pub seed: u64,
    pub run: u64,
    pub baseline: Baseline,
    /// What the plan did: paths that entered an error state after the baseline.
    pub failures: Failures,
    pub users_in_error_end: u64,
    /// Direct `assignLicense` calls rejected, by error.
    pub rejected_calls: BTreeMap<String, u64>,
    pub rejected_calls_total: u64,
    /// Other rejected inputs (group calls, deletions, ...), by "input: error".
    pub rejected_other: BTreeMap<String, u64>,
    pub gate_stops: Vec<GateStop>,
    pub plan_stopped: bool,
    pub consumption: BTreeMap<String, SkuConsumption>,
    pub service: BTreeMap<String, ServiceLoss>,
    pub service_total: ServiceTotals,
    /// Simulated time when the plan's last step was issued (or the plan stopped).
    pub plan_duration_ms: u64,
    /// Simulated time at the end of the run (quiescence or the time limit).
    pub end_time_ms: u64,
    pub timed_out: bool,
    /// When the plan stopped early (a failed gate, a rejected call with `on_reject = "stop"`).
    pub plan_stopped_ms: Option<u64>,
    /// Last time each group became `ProcessingComplete`.
    pub group_complete_ms: BTreeMap<String, u64>,
    pub waves: BTreeMap<String, WaveTiming>,
    /// (time ms, users holding a path in error) at each change.
    pub errors_timeline: Vec<(u64, u64)>,
    #[serde(serialize_with = "hex")]
    pub final_state_hash: u64,
    pub events: u64,
    pub expectation_failures: Vec<ExpectationFailure>,
    pub warnings: Vec<String>,
    /// Users holding a path in error at the end (dense indices, ascending; the same user has
    /// the same index in every run of a scenario).
    #[serde(skip)]
    pub users_in_error: Vec<u32>,
    /// User by user, what failed and what to do; filled when the run was asked for them
    /// (`RunOptions::findings`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}
