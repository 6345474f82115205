//! One run's metrics as typed figures (`crate::figures`), in id order: what every report is
//! made of. Timelines, texts and the state hash are not figures; the report takes them from
//! [`RunMetrics`] directly.

use super::RunMetrics;
use crate::figures::{Figure, FigureId, ServiceField, SkuField, TotalField, WaveField};

impl RunMetrics {
    /// Every integer figure of the run, sorted by id. Keyed figures (per SKU, family, group,
    /// error kind, plan position) appear for the keys the run saw, zero or not.
    pub fn figures(&self) -> Vec<Figure> {
        let mut v: Vec<Figure> = Vec::with_capacity(32);
        let mut put = |id: FigureId, value: u64| v.push(Figure { id, value });
        let b = &self.baseline;
        for (k, n) in &b.rejected_calls {
            put(FigureId::BaselineRejectedCalls(k.clone()), *n);
        }
        for (k, n) in &b.users_by_kind {
            put(FigureId::BaselineUsersByKind(k.clone()), *n);
        }
        put(FigureId::BaselineUsersInError, b.users_in_error);
        for (sku, c) in &self.consumption {
            let f = |field| FigureId::Consumption {
                sku: sku.clone(),
                field,
            };
            put(f(SkuField::Assignable), c.assignable);
            put(f(SkuField::Final), c.final_);
            put(f(SkuField::Peak), c.peak);
            put(f(SkuField::PeakTimeMs), c.peak_time_ms);
            put(f(SkuField::Shortfall), c.shortfall);
        }
        put(FigureId::EndTimeMs, self.end_time_ms);
        put(FigureId::Events, self.events);
        for (k, n) in &self.failures.by_kind {
            put(FigureId::FailuresByKind(k.clone()), *n);
        }
        for (k, n) in &self.failures.by_sku {
            put(FigureId::FailuresBySku(k.clone()), *n);
        }
        for (k, n) in &self.failures.by_wave {
            put(FigureId::FailuresByWave(k.clone()), *n);
        }
        put(FigureId::FailuresTotal, self.failures.total);
        put(FigureId::FailuresUsers, self.failures.users);
        for (k, n) in &self.failures.users_by_kind {
            put(FigureId::FailuresUsersByKind(k.clone()), *n);
        }
        for (g, t) in &self.group_complete_ms {
            put(FigureId::GroupCompleteMs(g.clone()), *t);
        }
        put(FigureId::PlanDurationMs, self.plan_duration_ms);
        put(FigureId::PlanStopped, u64::from(self.plan_stopped));
        for (k, n) in &self.rejected_calls {
            put(FigureId::RejectedCalls(k.clone()), *n);
        }
        put(FigureId::RejectedCallsTotal, self.rejected_calls_total);
        for (k, n) in &self.rejected_other {
            put(FigureId::RejectedOther(k.clone()), *n);
        }
        put(FigureId::Run, self.run);
        put(FigureId::Seed, self.seed);
        for (family, s) in &self.service {
            let f = |field| FigureId::Service {
                family: family.clone(),
                field,
            };
            for (step, n) in &s.by_step {
                put(f(ServiceField::ByStep(step.clone())), *n);
            }
            put(f(ServiceField::LongestOutageMs), s.longest_outage_ms);
            put(f(ServiceField::OpenUserMinutes), s.open_user_minutes);
            put(f(ServiceField::Outages), s.outages);
            put(f(ServiceField::Restored), s.restored);
            put(f(ServiceField::StillLostEnd), s.still_lost_end);
            put(f(ServiceField::UserMinutes), s.user_minutes);
            put(f(ServiceField::UsersLost), s.users_lost);
        }
        let t = &self.service_total;
        put(
            FigureId::ServiceTotal(TotalField::StillLostEnd),
            t.still_lost_end,
        );
        put(
            FigureId::ServiceTotal(TotalField::UserMinutes),
            t.user_minutes,
        );
        put(FigureId::ServiceTotal(TotalField::UsersLost), t.users_lost);
        put(FigureId::TimedOut, u64::from(self.timed_out));
        put(FigureId::UsersInErrorEnd, self.users_in_error_end);
        for (wave, w) in &self.waves {
            let f = |field| FigureId::Wave {
                wave: wave.clone(),
                field,
            };
            put(f(WaveField::LastChangeMs), w.last_change_ms);
            put(f(WaveField::StartMs), w.start_ms);
        }
        // Names sort like ids except for keys with characters below '.', so sort to be sure.
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }
}
