//! The plan runner: compiles a scenario plus (seed, run index) into timed input events and drives
//! the engine with them (SPEC 3, 5, 10). Every event goes to the run's metrics and to an optional
//! [`Observer`] (the log writer, a test's probe), after every engine call. [`run`] is the one way
//! to run a scenario once; `sweep` runs many.
//!
//! Readings of SPEC 10 made here:
//! - Faults: each member of the population is picked independently with the fault's fraction
//!   (`dist::chance_ppm`, one draw per member, in population order, from
//!   `rng_for(seed, run, STREAM_SCENARIO)`), so the number picked varies from run to run around
//!   `count x fraction`; faults run after the setup `direct` licences and before the groups.
//! - All calls of one step (or wave) happen at the same simulated time; waves are
//!   `wave_interval` apart, and the engine runs up to each wave's time before its gate is checked.
//! - A `wait` or `wait_until_processed` that would pass `max_duration` stops the plan there with a
//!   warning (`timed_out`), as does a wave scheduled after it; the run then ends at the limit.
//!
//! Files: `setup` (subscriptions, users, populations, direct licences, faults, groups), `select`
//! (user selectors and gate conditions), `plan` (steps, waves, gates, waiting).

mod plan;
mod select;
mod setup;

use crate::metrics::{ExpectationFailure, MetricsObserver, RunMetrics};
use crate::model::*;
use crate::observer::{InvariantChecker, NoObserver, Observer, Tee};
use engine::dist::{self, STREAM_SCENARIO};
use engine::prelude::*;
use rand_chacha::ChaCha8Rng;

/// The engine configuration of a run.
pub fn sim_config(sc: &Scenario, seed: u64, run: u64) -> SimConfig {
    SimConfig {
        seed,
        run,
        environment: sc.environment,
        tenant: TenantConfig {
            default_usage_location: sc.tenant.default_usage_location,
            on_group_delete: sc.tenant.on_group_delete,
            domain: sc.tenant.domain.clone(),
        },
        start_unix_s: sc.start_unix_s,
    }
}

/// How to run a scenario once: which run, and who else watches it.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Base seed of the sweep; run `run` draws from (seed, run).
    pub seed: u64,
    /// Run index.
    pub run: u64,
    /// Check SPEC 9 invariants 1-4 after every engine call (`--check`, slow); each violation
    /// becomes a failed expectation of the run.
    pub check_invariants: bool,
    /// Work out, user by user, what failed and what to do (`RunMetrics::findings`).
    pub findings: bool,
    /// Another observer of every event, besides the run's metrics.
    pub observer: Option<&'a mut dyn Observer>,
}

impl<'a> RunOptions<'a> {
    /// Run `run` of seed `seed`, nothing else watching.
    pub fn new(seed: u64, run: u64) -> RunOptions<'a> {
        RunOptions {
            seed,
            run,
            ..RunOptions::default()
        }
    }

    /// The same run, also fed to `observer`.
    pub fn observed(self, observer: &'a mut dyn Observer) -> RunOptions<'a> {
        RunOptions {
            observer: Some(observer),
            ..self
        }
    }
}

/// What one run leaves: its metrics and the engine at the end of the run.
pub struct RunResult {
    pub metrics: RunMetrics,
    pub sim: Sim,
}

/// Runs the scenario once: what `licsim run` does for each run index and `licsim record` records.
pub fn run(sc: &Scenario, opts: RunOptions<'_>) -> RunResult {
    let RunOptions {
        seed,
        run,
        check_invariants,
        findings,
        observer,
    } = opts;
    let mut metrics = MetricsObserver::new(sc.catalog.clone(), seed, run);
    if findings {
        metrics = metrics.with_findings();
    }
    let mut none = NoObserver;
    let other = observer.unwrap_or(&mut none);
    let mut checker = InvariantChecker::default();
    let sim = if check_invariants {
        let mut both = Tee(&mut checker, other);
        drive(sc, seed, run, &mut Tee(&mut metrics, &mut both))
    } else {
        drive(sc, seed, run, &mut Tee(&mut metrics, other))
    };
    let mut metrics = metrics.finish(&sim, sc);
    if !checker.violations.is_empty() {
        let text = checker.violations.join("; ");
        metrics
            .expectation_failures
            .push(ExpectationFailure::new("invariants", text));
    }
    RunResult { metrics, sim }
}

/// The tenant as the scenario describes it, before the plan (run `run` of seed `seed`: faults
/// are drawn per run): the engine after the baseline, processed and settled.
pub fn baseline(sc: &Scenario, seed: u64, run: u64) -> Sim {
    let mut none = NoObserver;
    setup_only(sc, seed, run, &mut none).sim
}

/// The tenant as the baseline of one run leaves it (subscriptions, users, groups with their
/// members and licences processed, direct licences, the run's faults), at time 0 before step 1:
/// what `licsim validate` reads, so that selectors mean exactly what they mean in a run.
pub struct Setup {
    pub sim: Sim,
    /// The users each population created, by population index.
    pub populations: Vec<Vec<UserIdx>>,
}

/// Runs only the baseline of run `run` of seed `seed`, feeding `observer` (the same events as
/// the first part of [`run`]).
pub fn setup_only(sc: &Scenario, seed: u64, run: u64, observer: &mut dyn Observer) -> Setup {
    let mut r = Runner::new(sc, seed, run, observer);
    r.setup();
    Setup {
        sim: r.sim,
        populations: r.populations,
    }
}

/// Runs the plan against a new engine, feeding `observer`; returns the engine at the end.
fn drive(sc: &Scenario, seed: u64, run: u64, observer: &mut dyn Observer) -> Sim {
    let mut r = Runner::new(sc, seed, run, observer);
    r.setup();
    r.plan();
    r.finish();
    r.sim
}

struct Runner<'a> {
    sc: &'a Scenario,
    sim: Sim,
    obs: &'a mut dyn Observer,
    buf: Vec<TimedEvent>,
    service_lost: bool,
    rng: ChaCha8Rng,
    stopped: bool,
    /// The users each population created (by population index, in population order); a
    /// member that was deleted later is filtered out when used.
    populations: Vec<Vec<UserIdx>>,
}

const NO_GROUP: GroupIdx = GroupIdx::MAX;
const NO_USER: UserIdx = UserIdx::MAX;

impl<'a> Runner<'a> {
    fn new(sc: &'a Scenario, seed: u64, run: u64, obs: &'a mut dyn Observer) -> Runner<'a> {
        Runner {
            sc,
            sim: Sim::new(sc.catalog.clone(), sim_config(sc, seed, run)),
            obs,
            buf: Vec::new(),
            service_lost: false,
            rng: dist::rng_for(seed, run, STREAM_SCENARIO),
            stopped: false,
            populations: Vec::new(),
        }
    }

    fn flush(&mut self, after_input: bool) {
        self.sim.drain_events_into(&mut self.buf);
        if self.buf.is_empty() {
            return;
        }
        if !self.service_lost {
            self.service_lost = self
                .buf
                .iter()
                .any(|e| matches!(e.event, Event::Outcome(Outcome::ServiceLost { .. })));
        }
        self.obs.on_events(&self.sim, &self.buf, after_input);
        self.buf.clear();
    }

    fn now(&self) -> u64 {
        self.sim.now()
    }

    fn apply(&mut self, input: Input) -> bool {
        let t = self.now();
        let r = self.sim.apply(t, input);
        self.flush(true);
        r.is_ok()
    }

    fn advance(&mut self, t: u64) {
        // Job by job, so observers see every batch at its own time.
        while let Some(next) = self.sim.next_job_time() {
            if next > t {
                break;
            }
            self.sim.run_next_job();
            self.flush(false);
        }
        self.sim.advance_to(t);
        self.flush(false);
    }

    fn limit(&self) -> u64 {
        self.sc.max_duration_ms
    }

    /// A user by id: its index also after it was deleted (so the input names it and the engine
    /// rejects it as `UnknownUser`), `NO_USER` for an id no run creates.
    fn user(&self, id: &str) -> UserIdx {
        self.sim
            .state()
            .user(id)
            .or_else(|| self.sc.user_index(id))
            .unwrap_or(NO_USER)
    }

    fn group(&self, id: &str) -> GroupIdx {
        self.sim.state().group(id).unwrap_or(NO_GROUP)
    }

    fn finish(&mut self) {
        let limit = self.limit();
        while let Some(t) = self.sim.next_job_time() {
            if t > limit {
                self.obs.warn(format!(
                    "max_duration reached before quiescence ({limit} ms)"
                ));
                self.sim.advance_to(limit);
                break;
            }
            self.sim.run_next_job();
            self.flush(false);
        }
        self.flush(false);
        self.obs.on_finish(&self.sim);
    }
}
