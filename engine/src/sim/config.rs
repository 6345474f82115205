//! The configuration of a run: the service's timing (`[environment]`), the tenant's options and
//! the run's seed (SPEC 3, 5). Plain data, serialized in log headers.

use crate::Loc;
use crate::dist::Latency;

pub const SECOND: u64 = 1_000;
pub const MINUTE: u64 = 60 * SECOND;
pub const HOUR: u64 = 60 * MINUTE;
pub const DAY: u64 = 24 * HOUR;

/// Timing of the service (SPEC 3, scenario `[environment]`). All times in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Environment {
    /// Delay before a queued item becomes ready on a group's worker.
    pub queue_delay_ms: u64,
    /// Per-user processing latency, drawn when the worker starts the item.
    pub processing_latency: Latency,
    /// R26: delay before a dynamic rule or attribute change changes membership.
    pub dynamic_evaluation_delay_ms: u64,
    /// R27: directory sync cycle of on-premises groups.
    pub sync_interval_ms: u64,
    pub sync_phase_ms: u64,
    /// R25: two groups processing one user within this window may collide.
    pub concurrency_window_ms: u64,
    pub retry_delay_ms: u64,
    /// R25: probability of a collision inside the window, parts per million.
    pub concurrency_ppm: u32,
}

impl Environment {
    /// The service with no delay, latency or concurrency retry: how a baseline is built
    /// (`Input::BaselineStart`), all of it at one instant. Draws nothing from the RNG.
    pub fn instant() -> Environment {
        Environment {
            queue_delay_ms: 0,
            processing_latency: Latency::Fixed { value_ms: 0 },
            dynamic_evaluation_delay_ms: 0,
            sync_interval_ms: 0,
            sync_phase_ms: 0,
            concurrency_window_ms: 0,
            retry_delay_ms: 0,
            concurrency_ppm: 0,
        }
    }
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            queue_delay_ms: 30 * SECOND,
            processing_latency: Latency::Uniform {
                min_ms: SECOND,
                max_ms: 20 * SECOND,
            },
            dynamic_evaluation_delay_ms: 5 * MINUTE,
            sync_interval_ms: 30 * MINUTE,
            sync_phase_ms: 0,
            concurrency_window_ms: 2 * SECOND,
            retry_delay_ms: MINUTE,
            concurrency_ppm: 1_000_000,
        }
    }
}

/// R23: what happens to `ActiveWithError` paths of a deleted group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum OnGroupDelete {
    ConvertToDirect,
    KeepError,
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct TenantConfig {
    /// The tenant's `countryLetterCode`, the fallback usage location of group paths (R10).
    pub default_usage_location: Option<Loc>,
    pub on_group_delete: OnGroupDelete,
    /// Domain of generated user principal names and primary proxy addresses.
    pub domain: String,
}

impl Default for TenantConfig {
    fn default() -> Self {
        TenantConfig {
            default_usage_location: Some(*b"US"),
            on_group_delete: OnGroupDelete::ConvertToDirect,
            domain: "contoso.example".into(),
        }
    }
}

/// Everything a run needs besides the catalogue and the input events.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct SimConfig {
    pub seed: u64,
    pub run: u64,
    pub environment: Environment,
    pub tenant: TenantConfig,
    /// Calendar time of simulated time 0, seconds since 1970 (display only).
    pub start_unix_s: i64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            run: 0,
            environment: Environment::default(),
            tenant: TenantConfig::default(),
            start_unix_s: 1_767_603_600, // 2026-01-05T09:00:00Z
        }
    }
}
