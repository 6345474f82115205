//! [`SweepReport`]: what a sweep found, in the terms a planner acts on (a verdict, the failure
//! reasons with a reproduce command each, errors in users and in paths, who fails in every run,
//! licences to buy, service lost and still lost, the assumptions it rests on), built from an
//! [`Aggregate`]; `report` renders it. Also every figure's distribution, with its unit and
//! meaning, for scripts.

use super::aggregate::Aggregate;
use crate::figures::{
    Distribution, FigureId, ServiceField, SkuField, TotalField, Unit, fmt_duration, is_main_family,
};
use crate::metrics::{Finding, default_expectations};
use crate::model::{Expectations, Scenario};
use engine::catalog::loc_str;
use engine::dist::Latency;
use engine::sim::OnGroupDelete;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// What a sweep's figures rest on: the rule profile, the service's timing, the expectations.
#[derive(Clone, Debug, Serialize)]
pub struct Assumptions {
    pub rules: String,
    pub rules_note: String,
    pub on_group_delete: String,
    pub default_usage_location: Option<String>,
    pub queue_delay_ms: u64,
    pub processing_latency: String,
    pub dynamic_evaluation_delay_ms: u64,
    pub sync_interval_ms: u64,
    pub concurrency_window_ms: u64,
    pub retry_delay_ms: u64,
    pub max_duration_ms: u64,
    /// Each expectation in force, as the scenario would write it.
    pub expectations: Vec<String>,
    /// The scenario has no `[expect]`: the defaults above were applied.
    pub expectations_defaulted: bool,
}

/// The tenant before the plan (its baseline), when it is itself in error.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BaselineSummary {
    pub users_in_error: Distribution,
    /// Users per error kind.
    pub users_by_kind: BTreeMap<String, Distribution>,
    /// Rejected calls of the baseline, by "input: error".
    pub rejected_calls: BTreeMap<String, Distribution>,
}

/// Runs that failed for the same reasons.
#[derive(Clone, Debug, Serialize)]
pub struct FailureReason {
    /// The expectations these runs failed (`max_users_in_error`, `finishes_in_time`, ...).
    pub expectations: Vec<String>,
    pub runs: u64,
    /// The first such runs, with what happened in each.
    pub examples: Vec<FailedRun>,
    /// The `licsim record` command of the first such run.
    pub reproduce: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct FailedRun {
    pub run: u64,
    pub seed: u64,
    pub failures: Vec<String>,
}

/// One error kind across runs, counted in users and in paths.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorSummary {
    pub error: String,
    /// Distinct users per run with a path that entered this error.
    pub users: Distribution,
    /// Paths per run that entered this error (a user may fail on several SKUs or groups).
    pub paths: Distribution,
    /// Runs in which it happened.
    pub runs: u64,
    pub meaning: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct UserRuns {
    pub user: String,
    /// Runs in which the user ended in error.
    pub runs: u64,
}

/// Who ends in error: the same users in every run are deterministic problems (data to fix);
/// users in some runs only are races (timing, first come first served).
#[derive(Clone, Debug, Default, Serialize)]
pub struct UsersFailing {
    pub in_every_run: u64,
    pub in_some_runs: u64,
    /// The users who fail most often (at most [`USERS_LISTED`]).
    pub users: Vec<UserRuns>,
}

pub const USERS_LISTED: usize = 50;
/// Findings embedded in report.json (findings.csv has all).
pub const FINDINGS_IN_JSON: usize = 1_000;

#[derive(Clone, Debug, Serialize)]
pub struct SkuSummary {
    #[serde(rename = "skuId")]
    pub sku_id: String,
    #[serde(rename = "skuPartNumber")]
    pub sku_part_number: String,
    pub assignable_units: u64,
    pub peak: Distribution,
    #[serde(rename = "final")]
    pub final_: Distribution,
    pub shortfall: Distribution,
    /// Units to buy so that no run falls short (the largest shortfall).
    pub buy: u64,
    /// Where the first run that fell short did so.
    pub short_from: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FamilyLoss {
    pub family: String,
    pub users_lost: Distribution,
    pub still_lost_end: Distribution,
    pub restored: Distribution,
    pub user_minutes: Distribution,
    pub open_user_minutes: Distribution,
    pub longest_outage_ms: Distribution,
}

/// Loss of service: totals always (zero when nobody lost anything), named services one by one,
/// plans that are a service of their own grouped.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceSummary {
    pub users_lost: Distribution,
    pub user_minutes: Distribution,
    pub still_lost_end: Distribution,
    pub families: Vec<FamilyLoss>,
    pub other_plans: Vec<String>,
    pub other_users_lost_max: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    pub plan_duration_ms: Distribution,
    pub end_time_ms: Distribution,
    pub runs_timed_out: u64,
    pub runs_plan_stopped: u64,
    pub stop_reasons: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FindingsReport {
    pub run: u64,
    pub seed: u64,
    pub total: u64,
    /// At most [`FINDINGS_IN_JSON`]; findings.csv lists all.
    pub findings: Vec<Finding>,
    #[serde(skip)]
    pub all: Vec<Finding>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FigureDoc {
    pub unit: Unit,
    pub meaning: String,
}

/// Maps keyed by figure id serialize with the figures' names as keys, in id order.
fn by_name<S: Serializer, T: Serialize>(
    figures: &BTreeMap<FigureId, T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(figures.iter().map(|(id, d)| (id.name(), d)))
}

/// A scenario's runs, aggregated; `report` renders it.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub scenario: String,
    pub description: String,
    pub source: String,
    pub seed: u64,
    pub runs: u64,
    /// `pass` when no run failed an expectation, else `fail`.
    pub verdict: String,
    pub runs_failing_expectations: u64,
    /// Runs failing an expectation, per mille of runs (integer).
    pub expectation_failure_permille: u64,
    pub assumptions: Assumptions,
    /// The plan's steps, numbered from 1 as "step N" in the figures and findings.
    pub plan: Vec<String>,
    pub baseline: BaselineSummary,
    pub failure_reasons: Vec<FailureReason>,
    pub errors: Vec<ErrorSummary>,
    pub users_failing: UsersFailing,
    pub skus: Vec<SkuSummary>,
    pub service: ServiceSummary,
    pub timing: Timing,
    /// User by user, what failed in one run and what to do (the first failing run, or the run
    /// asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<FindingsReport>,
    /// Every figure's distribution across runs, by name.
    #[serde(serialize_with = "by_name")]
    pub figures: BTreeMap<FigureId, Distribution>,
    /// Every figure's unit and meaning, by name.
    #[serde(serialize_with = "by_name")]
    pub figure_units: BTreeMap<FigureId, FigureDoc>,
    pub warnings: Vec<String>,
    /// The final state of the first run, in Graph's shape (SPEC 8); left out above
    /// [`STATE_USERS_LIMIT`] users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// The first run's metrics in full; the distributions above cover all runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_run: Option<Value>,
    /// The accumulated runs (runs.csv, the chart).
    #[serde(skip)]
    pub agg: Aggregate,
}

/// Largest tenant whose final state is embedded in report.json.
pub const STATE_USERS_LIMIT: usize = 10_000;

fn latency_text(l: Latency) -> String {
    match l {
        Latency::Fixed { value_ms } => format!("fixed {}", fmt_duration(value_ms)),
        Latency::Uniform { min_ms, max_ms } => {
            format!(
                "uniform {} to {}",
                fmt_duration(min_ms),
                fmt_duration(max_ms)
            )
        }
        Latency::LogNormal { median_ms, p99_ms } => format!(
            "log-normal, median {}, p99 {}",
            fmt_duration(median_ms),
            fmt_duration(p99_ms)
        ),
    }
}

/// Each expectation in force, as a scenario writes it.
fn expectation_texts(sc: &Scenario, exp: &Expectations) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(n) = exp.max_users_in_error {
        v.push(format!("max_users_in_error = {n}"));
    }
    if let Some(b) = exp.no_service_loss {
        v.push(format!("no_service_loss = {b}"));
    }
    if let Some(b) = exp.no_service_loss_at_end {
        v.push(format!("no_service_loss_at_end = {b}"));
    }
    for (sku, n) in &exp.peak_units {
        v.push(format!(
            "peak_units.{} = {n}",
            sc.catalog.sku(*sku).part_number
        ));
    }
    if let Some(n) = exp.max_rejected_calls {
        v.push(format!("max_rejected_calls = {n}"));
    }
    if let Some(ms) = exp.max_duration_ms {
        v.push(format!("max_duration = {}", fmt_duration(ms)));
    }
    v.push(format!(
        "the run finishes within the scenario's max_duration ({})",
        fmt_duration(sc.max_duration_ms)
    ));
    v
}

impl Assumptions {
    pub fn of(sc: &Scenario) -> Assumptions {
        let e = &sc.environment;
        let profile = sc.catalog.profile();
        let defaulted = sc.expect.is_empty();
        let exp = if defaulted {
            default_expectations()
        } else {
            sc.expect.clone()
        };
        Assumptions {
            rules: profile.name().into(),
            rules_note: match profile.name() {
                "legacy" => "rules before 2023: Exchange Online Plan 1 and Plan 2 conflict (MutuallyExclusiveViolation)".into(),
                _ => "current rules: Exchange Online Plan 1 and Plan 2 do not conflict (rules = \"legacy\" for before 2023); Office 365 E1 and E3 conflict (SharePoint Plan 1 and 2)".into(),
            },
            on_group_delete: match sc.tenant.on_group_delete {
                OnGroupDelete::ConvertToDirect => "convert_to_direct".into(),
                OnGroupDelete::KeepError => "keep_error".into(),
            },
            default_usage_location: sc.tenant.default_usage_location.map(loc_str),
            queue_delay_ms: e.queue_delay_ms,
            processing_latency: latency_text(e.processing_latency),
            dynamic_evaluation_delay_ms: e.dynamic_evaluation_delay_ms,
            sync_interval_ms: e.sync_interval_ms,
            concurrency_window_ms: e.concurrency_window_ms,
            retry_delay_ms: e.retry_delay_ms,
            max_duration_ms: sc.max_duration_ms,
            expectations: expectation_texts(sc, &exp),
            expectations_defaulted: defaulted,
        }
    }
}

/// What each error kind means, in a planner's words.
pub fn error_meaning(kind: &str) -> &'static str {
    match kind {
        "CountViolation" => "not enough licences of the SKU: the user gets none",
        "MutuallyExclusiveViolation" => {
            "the licence conflicts with another the user holds (e.g. E1 and E3): the new one is not applied"
        }
        "DependencyViolation" => {
            "an add-on lacks its prerequisite plan, or a removal was blocked because another plan depends on it"
        }
        "ProhibitedInUsageLocationViolation" => {
            "a plan is not offered in the user's usage location (or the tenant default)"
        }
        "UniquenessViolation" => {
            "the user's proxy address is also held by another user: no mailbox licence"
        }
        "Other" => {
            "another licence of the same group failed for the user: a group's licences apply all or nothing"
        }
        _ => "",
    }
}

impl SweepReport {
    /// The report of `agg` (runs of `sc` from base seed `seed`); `user_name` names a user index.
    pub fn build(
        sc: &Scenario,
        seed: u64,
        agg: Aggregate,
        user_name: &dyn Fn(u32) -> String,
    ) -> SweepReport {
        let runs = agg.runs;
        let figures: BTreeMap<FigureId, Distribution> = agg
            .figures
            .iter()
            .map(|(id, t)| (id.clone(), t.distribution(runs)))
            .collect();
        let fig = |id: &FigureId| figures.get(id).cloned().unwrap_or_default();
        let failure_reasons = agg
            .reasons
            .iter()
            .map(|(keys, r)| FailureReason {
                expectations: keys.clone(),
                runs: r.runs,
                examples: r
                    .first
                    .iter()
                    .map(|(run, seed, f)| FailedRun {
                        run: *run,
                        seed: *seed,
                        failures: f.clone(),
                    })
                    .collect(),
                reproduce: r.first.first().map_or_else(String::new, |(run, seed, _)| {
                    format!(
                        "licsim record {} --seed {seed} --run {run} -o {}-run{run}.simlog",
                        sc.source, sc.name
                    )
                }),
            })
            .collect();
        let errors = figures
            .iter()
            .filter_map(|(id, d)| match id {
                FigureId::FailuresByKind(k) if d.max > 0 => Some(ErrorSummary {
                    error: k.clone(),
                    users: fig(&FigureId::FailuresUsersByKind(k.clone())),
                    paths: d.clone(),
                    runs: agg.figures.get(id).map_or(0, |t| t.nonzero()),
                    meaning: error_meaning(k).into(),
                }),
                _ => None,
            })
            .collect();
        let mut users: Vec<(u64, u32)> = agg.user_runs.iter().map(|(u, n)| (*n, *u)).collect();
        users.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let every = users.iter().filter(|(n, _)| *n == runs).count() as u64;
        let users_failing = UsersFailing {
            in_every_run: every,
            in_some_runs: users.len() as u64 - every,
            users: users
                .iter()
                .take(USERS_LISTED)
                .map(|(n, u)| UserRuns {
                    user: user_name(*u),
                    runs: *n,
                })
                .collect(),
        };
        let mut baseline = BaselineSummary {
            users_in_error: fig(&FigureId::BaselineUsersInError),
            ..BaselineSummary::default()
        };
        for (id, d) in &figures {
            match id {
                FigureId::BaselineUsersByKind(k) => {
                    baseline.users_by_kind.insert(k.clone(), d.clone());
                }
                FigureId::BaselineRejectedCalls(k) => {
                    baseline.rejected_calls.insert(k.clone(), d.clone());
                }
                _ => {}
            }
        }
        let mut skus = Vec::new();
        for id in figures.keys() {
            let FigureId::Consumption {
                sku: part,
                field: SkuField::Assignable,
            } = id
            else {
                continue;
            };
            let c = |field| {
                fig(&FigureId::Consumption {
                    sku: part.clone(),
                    field,
                })
            };
            let shortfall = c(SkuField::Shortfall);
            let k = sc.catalog.sku_by_name(part);
            skus.push(SkuSummary {
                sku_id: k
                    .map(|k| sc.catalog.sku(k).guid.clone())
                    .unwrap_or_default(),
                sku_part_number: part.clone(),
                assignable_units: c(SkuField::Assignable).max,
                peak: c(SkuField::Peak),
                final_: c(SkuField::Final),
                buy: shortfall.max,
                shortfall,
                short_from: agg.short_from.get(part).cloned(),
            });
        }
        let mut families = Vec::new();
        let mut other_plans = Vec::new();
        let mut other_users_lost_max = 0;
        for (id, d) in &figures {
            let FigureId::Service {
                family,
                field: ServiceField::UsersLost,
            } = id
            else {
                continue;
            };
            if d.max == 0 {
                continue;
            }
            if !is_main_family(family) {
                other_plans.push(family.clone());
                other_users_lost_max = other_users_lost_max.max(d.max);
                continue;
            }
            let f = |field| {
                fig(&FigureId::Service {
                    family: family.clone(),
                    field,
                })
            };
            families.push(FamilyLoss {
                family: family.clone(),
                users_lost: d.clone(),
                still_lost_end: f(ServiceField::StillLostEnd),
                restored: f(ServiceField::Restored),
                user_minutes: f(ServiceField::UserMinutes),
                open_user_minutes: f(ServiceField::OpenUserMinutes),
                longest_outage_ms: f(ServiceField::LongestOutageMs),
            });
        }
        let service = ServiceSummary {
            users_lost: fig(&FigureId::ServiceTotal(TotalField::UsersLost)),
            user_minutes: fig(&FigureId::ServiceTotal(TotalField::UserMinutes)),
            still_lost_end: fig(&FigureId::ServiceTotal(TotalField::StillLostEnd)),
            families,
            other_plans,
            other_users_lost_max,
        };
        let timing = Timing {
            plan_duration_ms: fig(&FigureId::PlanDurationMs),
            end_time_ms: fig(&FigureId::EndTimeMs),
            runs_timed_out: fig(&FigureId::TimedOut).sum,
            runs_plan_stopped: fig(&FigureId::PlanStopped).sum,
            stop_reasons: agg.stop_reasons.clone(),
        };
        let figure_units = figures
            .keys()
            .map(|id| {
                (
                    id.clone(),
                    FigureDoc {
                        unit: id.unit(),
                        meaning: id.meaning(),
                    },
                )
            })
            .collect();
        SweepReport {
            scenario: sc.name.clone(),
            description: sc.description.clone(),
            source: sc.source.clone(),
            seed,
            runs,
            verdict: if agg.failing_runs > 0 { "fail" } else { "pass" }.into(),
            runs_failing_expectations: agg.failing_runs,
            expectation_failure_permille: (agg.failing_runs * 1000).checked_div(runs).unwrap_or(0),
            assumptions: Assumptions::of(sc),
            plan: sc
                .plan
                .iter()
                .map(|s| crate::describe::step(&sc.catalog, s))
                .collect(),
            baseline,
            failure_reasons,
            errors,
            users_failing,
            skus,
            service,
            timing,
            findings: None,
            figures,
            figure_units,
            warnings: agg.warnings.clone(),
            state: None,
            first_run: None,
            agg,
        }
    }

    /// The distribution of one figure across the runs.
    pub fn figure(&self, id: &FigureId) -> Option<&Distribution> {
        self.figures.get(id)
    }

    /// Attaches the findings of one run.
    pub fn set_findings(&mut self, run: u64, seed: u64, all: Vec<Finding>) {
        self.findings = Some(FindingsReport {
            run,
            seed,
            total: all.len() as u64,
            findings: all.iter().take(FINDINGS_IN_JSON).cloned().collect(),
            all,
        });
    }
}
