//! What watches a run: the [`Observer`] interface that the plan runner feeds with every engine
//! event, and the small observers that need nothing else (none, two at once, invariant checks).
//! Metrics and the log writer implement it elsewhere; this module imports neither.

use engine::prelude::*;

/// Receives every event of a run, in order.
pub trait Observer {
    /// Called after every engine call with the events it produced; `after_input` is true when
    /// the call was `Sim::apply` (the only points where a replay reproduces the state).
    fn on_events(&mut self, sim: &Sim, events: &[TimedEvent], after_input: bool);
    /// Called once at the end of the run.
    fn on_finish(&mut self, _sim: &Sim) {}
    /// A warning about the run (time limit reached, ...).
    fn warn(&mut self, _warning: String) {}
}

/// An observer that ignores everything.
pub struct NoObserver;
impl Observer for NoObserver {
    fn on_events(&mut self, _: &Sim, _: &[TimedEvent], _: bool) {}
}

/// Two observers in one.
pub struct Tee<'a, 'b>(pub &'a mut dyn Observer, pub &'b mut dyn Observer);
impl Observer for Tee<'_, '_> {
    fn on_events(&mut self, sim: &Sim, events: &[TimedEvent], after_input: bool) {
        self.0.on_events(sim, events, after_input);
        self.1.on_events(sim, events, after_input);
    }
    fn on_finish(&mut self, sim: &Sim) {
        self.0.on_finish(sim);
        self.1.on_finish(sim);
    }
    fn warn(&mut self, w: String) {
        self.0.warn(w.clone());
        self.1.warn(w);
    }
}

/// Checks SPEC 9 invariants 1-4 after every engine call (`--check`): slow, for debugging.
#[derive(Default)]
pub struct InvariantChecker {
    /// The first violations found (at most 10), with the simulated time.
    pub violations: Vec<String>,
}

impl Observer for InvariantChecker {
    fn on_events(&mut self, sim: &Sim, events: &[TimedEvent], _after_input: bool) {
        if self.violations.len() >= 10 {
            return;
        }
        let t = events.last().map_or(sim.now(), |e| e.time_ms);
        for v in engine::invariants::check(sim.catalog(), sim.state()) {
            if self.violations.len() < 10 {
                self.violations
                    .push(format!("invariant violated at {t} ms: {v}"));
            }
        }
    }
}
