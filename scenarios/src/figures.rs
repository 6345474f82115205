//! The figures a run measures, typed: each has an id (what it counts, of which SKU, family,
//! group or plan position), a unit and a meaning, and every report (report.json, runs.csv,
//! report.md, the human summary, the chart) is produced from these types, never from names.
//! Also the distribution of one figure across runs.
//!
//! Figure ids order like their names (`consumption.ENTERPRISEPACK.peak` < `end_time_ms` < ...),
//! so reports list them in the same order everywhere.

use bincode::{Decode, Encode};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::fmt;

/// What one number counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Distinct users.
    Users,
    /// License assignment paths (a user may fail on several SKUs or groups).
    Paths,
    /// Rejected calls (inputs).
    Calls,
    /// Licence units of one SKU (seats).
    Licenses,
    /// Outages (a user may lose a service several times).
    Outages,
    /// Simulated milliseconds (a time since the run's start, or a duration).
    Ms,
    /// User-minutes without a service (whole minutes).
    UserMinutes,
    /// Engine and plan events.
    Events,
    /// 1 when it happened in the run, else 0.
    Flag,
    /// An identifier of the run (its index or seed), not a measurement.
    Id,
}

/// A figure of a consumed SKU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum SkuField {
    /// Assignable units (enabled + warning) at the end.
    Assignable,
    Final,
    Peak,
    PeakTimeMs,
    Shortfall,
}

/// A figure of a service family's outages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum ServiceField {
    /// Outages opened at one plan position.
    ByStep(String),
    LongestOutageMs,
    /// User-minutes of outages still open at the end (a lower bound: they are not over).
    OpenUserMinutes,
    Outages,
    /// Outages that closed before the end.
    Restored,
    StillLostEnd,
    UserMinutes,
    UsersLost,
}

/// A figure of the loss of any service, per user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum TotalField {
    StillLostEnd,
    UserMinutes,
    UsersLost,
}

/// A figure of one wave of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum WaveField {
    LastChangeMs,
    StartMs,
}

/// Which figure: the variants are declared in the order of their names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum FigureId {
    /// Calls of the baseline rejected, by "input: error".
    BaselineRejectedCalls(String),
    /// Users in error when the baseline was complete, by error kind.
    BaselineUsersByKind(String),
    BaselineUsersInError,
    Consumption {
        sku: String,
        field: SkuField,
    },
    EndTimeMs,
    Events,
    FailuresByKind(String),
    FailuresBySku(String),
    /// By plan position: "setup", "step 3", "step 5 wave 2".
    FailuresByWave(String),
    FailuresTotal,
    /// Distinct users with a path that entered an error.
    FailuresUsers,
    FailuresUsersByKind(String),
    GroupCompleteMs(String),
    PlanDurationMs,
    PlanStopped,
    /// Direct `assignLicense` calls rejected, by error.
    RejectedCalls(String),
    RejectedCallsTotal,
    /// Other rejected inputs, by "input: error".
    RejectedOther(String),
    Run,
    Seed,
    Service {
        family: String,
        field: ServiceField,
    },
    /// Loss of any service, always measured.
    ServiceTotal(TotalField),
    TimedOut,
    UsersInErrorEnd,
    Wave {
        wave: String,
        field: WaveField,
    },
}

impl FigureId {
    /// The figure's stable name, as report.json and runs.csv spell it
    /// (`failures.by_kind.CountViolation`).
    pub fn name(&self) -> String {
        self.to_string()
    }

    pub fn unit(&self) -> Unit {
        use FigureId::*;
        match self {
            BaselineRejectedCalls(_) => Unit::Calls,
            BaselineUsersByKind(_) | BaselineUsersInError => Unit::Users,
            Consumption { field, .. } => match field {
                SkuField::PeakTimeMs => Unit::Ms,
                _ => Unit::Licenses,
            },
            EndTimeMs | PlanDurationMs | GroupCompleteMs(_) | Wave { .. } => Unit::Ms,
            Events => Unit::Events,
            FailuresByKind(_) | FailuresBySku(_) | FailuresByWave(_) | FailuresTotal => Unit::Paths,
            FailuresUsers | FailuresUsersByKind(_) => Unit::Users,
            PlanStopped | TimedOut => Unit::Flag,
            RejectedCalls(_) | RejectedCallsTotal | RejectedOther(_) => Unit::Calls,
            Run | Seed => Unit::Id,
            Service { field, .. } => match field {
                ServiceField::ByStep(_) | ServiceField::Outages | ServiceField::Restored => {
                    Unit::Outages
                }
                ServiceField::LongestOutageMs => Unit::Ms,
                ServiceField::StillLostEnd | ServiceField::UsersLost => Unit::Users,
                ServiceField::UserMinutes | ServiceField::OpenUserMinutes => Unit::UserMinutes,
            },
            ServiceTotal(field) => match field {
                TotalField::UserMinutes => Unit::UserMinutes,
                _ => Unit::Users,
            },
            UsersInErrorEnd => Unit::Users,
        }
    }

    /// What the figure means, in a planner's words.
    pub fn meaning(&self) -> String {
        use FigureId::*;
        match self {
            BaselineRejectedCalls(e) => format!("calls of the baseline (the tenant before the plan) rejected ({e})"),
            BaselineUsersByKind(k) => format!("users in {k} in the baseline, before the plan"),
            BaselineUsersInError => "users holding a path in error in the baseline, before the plan".into(),
            Consumption { sku, field } => match field {
                SkuField::Assignable => format!("assignable units of {sku} (enabled + warning) at the end"),
                SkuField::Final => format!("units of {sku} consumed at the end"),
                SkuField::Peak => format!("highest number of units of {sku} consumed at once"),
                SkuField::PeakTimeMs => format!("when {sku} consumption first reached its peak"),
                SkuField::Shortfall => format!(
                    "units of {sku} missing at the worst moment (consumed plus users waiting on a CountViolation, over assignable)"
                ),
            },
            EndTimeMs => "end of the run: plan finished and all processing done (or the time limit)".into(),
            Events => "events in the run's log (inputs and outcomes)".into(),
            FailuresByKind(k) => format!("license assignment paths that entered {k}"),
            FailuresBySku(s) => format!("license assignment paths of {s} that entered an error"),
            FailuresByWave(w) => format!("license assignment paths that entered an error, caused at {w}"),
            FailuresTotal => "license assignment paths that entered an error state".into(),
            FailuresUsers => "users with a license assignment path that entered an error state".into(),
            FailuresUsersByKind(k) => format!("users with a license assignment path that entered {k}"),
            GroupCompleteMs(g) => format!("when group {g} last reached ProcessingComplete"),
            PlanDurationMs => "when the plan's last step was issued (or the plan stopped)".into(),
            PlanStopped => "the plan stopped early (a gate failed or a call was rejected with on_reject = \"stop\")".into(),
            RejectedCalls(e) => format!("direct assignLicense calls rejected with {e}"),
            RejectedCallsTotal => "direct assignLicense calls rejected".into(),
            RejectedOther(e) => format!("other calls rejected ({e})"),
            Run => "run index".into(),
            Seed => "base seed".into(),
            Service { family, field } => match field {
                ServiceField::ByStep(s) => format!("{family} outages opened at {s}"),
                ServiceField::LongestOutageMs => format!("longest time one user was without {family} (up to the end of the run when still open)"),
                ServiceField::OpenUserMinutes => format!("user-minutes without {family} in outages still open at the end (not over: a lower bound)"),
                ServiceField::Outages => format!("times a user lost {family}"),
                ServiceField::Restored => format!("times {family} came back to a user who had lost it"),
                ServiceField::StillLostEnd => format!("users still without {family} at the end"),
                ServiceField::UserMinutes => format!("user-minutes without {family}, up to the end of the run"),
                ServiceField::UsersLost => format!("users who lost {family} at least once"),
            },
            ServiceTotal(field) => match field {
                TotalField::StillLostEnd => "users still without at least one service at the end".into(),
                TotalField::UserMinutes => "user-minutes without at least one service, up to the end of the run".into(),
                TotalField::UsersLost => "users who lost at least one service".into(),
            },
            TimedOut => "the run hit max_duration before it finished".into(),
            UsersInErrorEnd => "users holding a license path in error at the end".into(),
            Wave { wave, field } => match field {
                WaveField::LastChangeMs => format!("last license change made while {wave} was current"),
                WaveField::StartMs => format!("start of {wave}"),
            },
        }
    }
}

impl fmt::Display for FigureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FigureId::*;
        match self {
            BaselineRejectedCalls(e) => write!(f, "baseline.rejected_calls.{e}"),
            BaselineUsersByKind(k) => write!(f, "baseline.users_by_kind.{k}"),
            BaselineUsersInError => f.write_str("baseline.users_in_error"),
            Consumption { sku, field } => {
                let x = match field {
                    SkuField::Assignable => "assignable",
                    SkuField::Final => "final",
                    SkuField::Peak => "peak",
                    SkuField::PeakTimeMs => "peak_time_ms",
                    SkuField::Shortfall => "shortfall",
                };
                write!(f, "consumption.{sku}.{x}")
            }
            EndTimeMs => f.write_str("end_time_ms"),
            Events => f.write_str("events"),
            FailuresByKind(k) => write!(f, "failures.by_kind.{k}"),
            FailuresBySku(s) => write!(f, "failures.by_sku.{s}"),
            FailuresByWave(w) => write!(f, "failures.by_wave.{w}"),
            FailuresTotal => f.write_str("failures.total"),
            FailuresUsers => f.write_str("failures.users"),
            FailuresUsersByKind(k) => write!(f, "failures.users_by_kind.{k}"),
            GroupCompleteMs(g) => write!(f, "group_complete_ms.{g}"),
            PlanDurationMs => f.write_str("plan_duration_ms"),
            PlanStopped => f.write_str("plan_stopped"),
            RejectedCalls(e) => write!(f, "rejected_calls.{e}"),
            RejectedCallsTotal => f.write_str("rejected_calls_total"),
            RejectedOther(e) => write!(f, "rejected_other.{e}"),
            Run => f.write_str("run"),
            Seed => f.write_str("seed"),
            Service { family, field } => {
                write!(f, "service.{family}.")?;
                match field {
                    ServiceField::ByStep(s) => write!(f, "by_step.{s}"),
                    ServiceField::LongestOutageMs => f.write_str("longest_outage_ms"),
                    ServiceField::OpenUserMinutes => f.write_str("open_user_minutes"),
                    ServiceField::Outages => f.write_str("outages"),
                    ServiceField::Restored => f.write_str("restored"),
                    ServiceField::StillLostEnd => f.write_str("still_lost_end"),
                    ServiceField::UserMinutes => f.write_str("user_minutes"),
                    ServiceField::UsersLost => f.write_str("users_lost"),
                }
            }
            ServiceTotal(field) => f.write_str(match field {
                TotalField::StillLostEnd => "service_total.still_lost_end",
                TotalField::UserMinutes => "service_total.user_minutes",
                TotalField::UsersLost => "service_total.users_lost",
            }),
            TimedOut => f.write_str("timed_out"),
            UsersInErrorEnd => f.write_str("users_in_error_end"),
            Wave { wave, field } => match field {
                WaveField::LastChangeMs => write!(f, "waves.{wave}.last_change_ms"),
                WaveField::StartMs => write!(f, "waves.{wave}.start_ms"),
            },
        }
    }
}

/// Whether a service family is one of the named, user-facing services (exchange, sharepoint,
/// teams, office_apps, ...), as opposed to a plan that is a family of its own (SWAY, FORMS_PLAN):
/// named families are lower-case words (`catalog` and scenario overrides name them so).
pub fn is_main_family(family: &str) -> bool {
    !family.is_empty() && family.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// A simulated duration for people: `850 ms`, `38s`, `0h05`, `2h05`, `3d 04h00`.
pub fn fmt_duration(ms: u64) -> String {
    let m = ms / 60_000;
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}s", ms / 1_000)
    } else if m < 24 * 60 {
        format!("{}h{:02}", m / 60, m % 60)
    } else {
        format!("{}d {:02}h{:02}", m / 1440, (m % 1440) / 60, m % 60)
    }
}

/// One figure of one run.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Figure {
    pub id: FigureId,
    pub value: u64,
}

/// Distribution of one integer figure across runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Distribution {
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    /// Sum over runs (the mean is `sum / runs`, left to the reader to keep integers exact).
    pub sum: u64,
}

impl Distribution {
    /// Builds the distribution of `values` (in run order; order does not matter for the result).
    pub fn of(values: &[u64]) -> Distribution {
        let mut t = Tally::default();
        for v in values {
            t.add(*v);
        }
        t.distribution(values.len() as u64)
    }
}

/// A figure's values across runs, accumulated one run at a time (a sweep never holds every
/// run's value): exact min, max and sum, and an hdrhistogram (3 significant digits) for the
/// quantiles. Runs that did not measure the figure count as 0.
#[derive(Clone, Debug)]
pub struct Tally {
    hist: Option<Histogram<u64>>,
    /// Runs that measured the figure.
    n: u64,
    /// Runs in which it was not zero.
    nonzero: u64,
    min: u64,
    max: u64,
    sum: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            hist: None,
            n: 0,
            nonzero: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }
}

impl Tally {
    pub fn add(&mut self, v: u64) {
        let h = self.hist.get_or_insert_with(|| {
            let mut h = Histogram::<u64>::new(3).expect("3 significant digits is valid");
            h.auto(true);
            h
        });
        // Auto-resizing histograms accept any u64 up to their highest trackable value.
        let _ = h.record(v);
        self.n += 1;
        self.nonzero += u64::from(v != 0);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum = self.sum.saturating_add(v);
    }

    /// Runs in which the figure was not zero.
    pub fn nonzero(&self) -> u64 {
        self.nonzero
    }

    /// The distribution over `runs` runs (those that did not measure it count as 0).
    pub fn distribution(&self, runs: u64) -> Distribution {
        let Some(h) = &self.hist else {
            return Distribution::default();
        };
        let zeros = runs.saturating_sub(self.n);
        let mut h = h.clone();
        if zeros > 0 {
            let _ = h.record_n(0, zeros);
        }
        let min = if zeros > 0 { 0 } else { self.min };
        let max = self.max;
        let q = |p: f64| h.value_at_quantile(p).clamp(min, max);
        Distribution {
            min,
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            max,
            sum: self.sum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_like_their_names() {
        let ids = vec![
            FigureId::BaselineRejectedCalls("assign_user_license: X".into()),
            FigureId::BaselineUsersByKind("CountViolation".into()),
            FigureId::BaselineUsersInError,
            FigureId::Consumption {
                sku: "ENTERPRISEPACK".into(),
                field: SkuField::Peak,
            },
            FigureId::Consumption {
                sku: "ENTERPRISEPACK".into(),
                field: SkuField::PeakTimeMs,
            },
            FigureId::EndTimeMs,
            FigureId::Events,
            FigureId::FailuresByKind("CountViolation".into()),
            FigureId::FailuresBySku("E3".into()),
            FigureId::FailuresByWave("step 1".into()),
            FigureId::FailuresTotal,
            FigureId::GroupCompleteMs("g".into()),
            FigureId::PlanDurationMs,
            FigureId::PlanStopped,
            FigureId::RejectedCalls("X".into()),
            FigureId::RejectedCallsTotal,
            FigureId::RejectedOther("X".into()),
            FigureId::Run,
            FigureId::Seed,
            FigureId::Service {
                family: "exchange".into(),
                field: ServiceField::ByStep("step 2".into()),
            },
            FigureId::Service {
                family: "exchange".into(),
                field: ServiceField::UserMinutes,
            },
            FigureId::Service {
                family: "exchange".into(),
                field: ServiceField::OpenUserMinutes,
            },
            FigureId::Service {
                family: "exchange".into(),
                field: ServiceField::Restored,
            },
            FigureId::ServiceTotal(TotalField::StillLostEnd),
            FigureId::ServiceTotal(TotalField::UsersLost),
            FigureId::FailuresUsers,
            FigureId::FailuresUsersByKind("Other".into()),
            FigureId::Service {
                family: "exchange".into(),
                field: ServiceField::UsersLost,
            },
            FigureId::TimedOut,
            FigureId::UsersInErrorEnd,
            FigureId::Wave {
                wave: "step 3 wave 1".into(),
                field: WaveField::LastChangeMs,
            },
        ];
        let mut by_name = ids.clone();
        by_name.sort_by_key(|i| i.name());
        let mut by_id = ids.clone();
        by_id.sort();
        assert_eq!(by_id, by_name);
        assert!(ids.iter().all(|i| !i.meaning().is_empty()));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(fmt_duration(850), "850 ms");
        assert_eq!(fmt_duration(38_400), "38s");
        assert_eq!(fmt_duration(5 * 60_000), "0h05");
        assert_eq!(fmt_duration(125 * 60_000), "2h05");
        assert_eq!(fmt_duration((3 * 1440 + 4 * 60) * 60_000), "3d 04h00");
        assert!(is_main_family("exchange") && is_main_family("office_apps"));
        assert!(!is_main_family("SWAY") && !is_main_family(""));
    }

    #[test]
    fn distributions_are_integers_within_range() {
        let d = Distribution::of(&[5, 1, 9, 3, 7]);
        assert_eq!((d.min, d.max, d.sum), (1, 9, 25));
        assert!(d.p50 >= 3 && d.p50 <= 7);
        assert_eq!(Distribution::of(&[]), Distribution::default());
        let big = Distribution::of(&[u64::MAX / 4, 1]);
        assert_eq!(big.max, u64::MAX / 4);
    }
}
