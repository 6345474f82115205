//! Pre-flight (`licsim validate`): the steps of a plan that are certain, or nearly certain, to
//! fail, found before anything runs. Each [`Finding`] names the step (its number and its words
//! from `describe::step`, or `setup`), the reason in an administrator's words, the users
//! affected (a count and the first ids), the fix, and how certain it is.
//!
//! What is checked, step by step, against the tenant the setup of run 0 builds and the plan's
//! intent from there (`model`; a path predicted in error holds no seat and enables nothing
//! until R21 or a reprocess evaluates it again):
//! - a group licence that enables an add-on without its prerequisite in the same group (R15),
//!   or a group that is not security-enabled (R08);
//! - a SKU the tenant has no subscription for at that point (R02, R12);
//! - more users meant to hold a SKU than assignable units then (R12; R11 for the group's other
//!   licences given in the same change);
//! - a licence that cannot be enabled beside one the users already have (R13);
//! - a usage location where a plan is not allowed (R17, with the tenant default for group
//!   licences, R10) and proxy addresses held by two users (R18), as run 0's faults left them;
//! - a group-driven removal blocked by a dependent plan (R16);
//! - `delete_group` on a group that still has licences, or whose removal is still processing
//!   (R23);
//! - a group licence removed while members have nothing else with its services (a gap, R19),
//!   and a group licence with fewer enabled plans than the direct licence it replaces (R04);
//! - a plan whose waits and waves cannot fit in `max_duration`, or in `[expect] max_duration`;
//! - direct licences the setup itself cannot assign.
//!
//! Files: `model` (the projected tenant), `errors` (its predicted errors and their retries),
//! `walk` (the plan step by step, group deletion, time, the setup's direct licences),
//! `process` (a group's worker: members see its changes when it processes them), `licences`
//! (what a licence change cannot give: R08, R12, R13; direct calls), `addons` (R15), `data`
//! (the users' locations and proxy addresses: R17, R18), `losses` (what a change takes away:
//! R16, R19 gaps, R04), `render` (text and JSON).

mod addons;
mod data;
mod errors;
mod licences;
mod losses;
mod model;
mod process;
mod render;
mod walk;

use crate::model::Scenario;
use crate::observer::Observer;
use engine::prelude::*;

/// How sure a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Certainty {
    /// Happens in every run, with these numbers.
    Certain,
    /// Happens in every run or nearly, but the numbers vary from run to run (faults, dynamic
    /// membership evaluated later, on-premises sync): the numbers shown are run 0's.
    Likely,
}

impl Certainty {
    pub fn as_str(self) -> &'static str {
        match self {
            Certainty::Certain => "certain",
            Certainty::Likely => "likely",
        }
    }
}

/// One step that will fail, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// 1-based plan step; `None` for the setup (the file's users, groups and licences).
    pub step: Option<u32>,
    /// The step in the file's words (`describe::step`), or `setup`.
    pub action: String,
    /// What is checked, as a stable name (`dependent_without_prerequisite`, `no_subscription`,
    /// `not_enough_units`, `exclusive_conflict`, `group_has_licenses`,
    /// `group_processing_in_progress`, `fewer_plans_than_direct`, `max_duration`,
    /// `expect_max_duration`, `setup_direct_rejected`, `not_security_enabled`).
    pub check: &'static str,
    /// What happens, in an administrator's words.
    pub reason: String,
    /// The SPEC rule (`R15`, ...), or the setting (`max_duration`).
    pub rule: String,
    /// Graph's error or the call's rejection (`CountViolation`, `DependentServiceMissing`, ...).
    pub error: String,
    /// Users affected.
    pub users: u64,
    /// The first few of them (ids), in the order the service meets them.
    pub examples: Vec<String>,
    pub fix: String,
    pub certainty: Certainty,
}

/// What `licsim validate` reports about one scenario.
#[derive(Clone, Debug)]
pub struct Preflight {
    pub scenario: String,
    pub source: String,
    pub users: u64,
    pub groups: usize,
    pub steps: usize,
    pub seeds: u64,
    pub findings: Vec<Finding>,
    /// `spec::warnings`: things that parse but will not do what they seem to say.
    pub warnings: Vec<String>,
}

/// "1 user", "3 users".
pub(crate) fn users(n: usize) -> String {
    if n == 1 {
        "1 user".into()
    } else {
        format!("{n} users")
    }
}

/// How many example ids a finding lists.
pub const EXAMPLES: usize = 5;

/// Checks a scenario without running its plan: builds the tenant as the setup of run 0 does,
/// then follows the plan step by step.
pub fn preflight(sc: &Scenario) -> Preflight {
    let mut rejected = SetupRejections::default();
    let setup = crate::runner::setup_only(sc, sc.seed, 0, &mut rejected);
    let st = setup.sim.state();
    let declared = sc.users.iter().filter(|u| !u.direct.is_empty()).count() as u64
        + sc.populations
            .iter()
            .filter(|p| !p.direct.is_empty())
            .map(|p| p.count)
            .sum::<u64>();
    let mut w = walk::Walk::new(sc, st, &setup.populations);
    w.setup_direct(&rejected.calls, declared);
    w.setup_groups();
    // The baseline processes the groups' licences before step 1.
    w.process_all();
    w.plan();
    Preflight {
        scenario: sc.name.clone(),
        source: sc.source.clone(),
        users: sc.users.len() as u64 + sc.populations.iter().map(|p| p.count).sum::<u64>(),
        groups: sc.groups.len(),
        steps: sc.plan.len(),
        seeds: sc.seeds,
        findings: w.finish(),
        warnings: crate::spec::warnings(sc),
    }
}

/// The direct licence calls of the setup, in order, with their rejection if any.
#[derive(Default)]
struct SetupRejections {
    /// (user, the call's licences, its rejection) for every `AssignUserLicense` of the setup.
    calls: Vec<(UserIdx, Vec<SkuIdx>, Option<Rejection>)>,
}

impl Observer for SetupRejections {
    fn on_events(&mut self, _: &Sim, events: &[TimedEvent], _: bool) {
        for e in events {
            match &e.event {
                Event::Input(Input::AssignUserLicense { user, add, .. }) => {
                    self.calls
                        .push((*user, add.iter().map(|l| l.sku).collect(), None));
                }
                Event::Outcome(Outcome::Rejected(r)) => {
                    if let Some(last) = self.calls.last_mut()
                        && last.2.is_none()
                        && matches!(
                            events.first().map(|f| &f.event),
                            Some(Event::Input(Input::AssignUserLicense { .. }))
                        )
                    {
                        last.2 = Some(r.clone());
                    }
                }
                _ => {}
            }
        }
    }
}
