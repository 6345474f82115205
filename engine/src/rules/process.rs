//! One processing step for a user (SPEC 3, 10; R19-R21 with R11 and R16): the user's group paths
//! are brought in line with their groups' intents, everything checked against the end state and
//! decided in one go (R19), so no plan the user keeps is ever off in between.

use super::checks::{Candidate, PathCheck, ProxyConflict, check_path, plans_all, plans_except};
use super::{Decision, License, Subject, Tenant};
use crate::catalog::PlanSet;
use crate::event::*;
use crate::model::{DisabledIdx, Path};
use crate::{GroupIdx, SkuIdx};
use smallvec::SmallVec;

/// Which of a user's group paths a step brings in line with their groups' intents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// A group's worker processes the user for that group.
    Group(GroupIdx),
    /// `reprocess user`: every group of the user (R22).
    All,
    /// Only the user's `Error` and `ActiveWithError` paths (R21 after a direct call).
    Retry,
}

/// What a step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepResult {
    /// False when the step changed nothing because intents equalled paths (SPEC 10).
    pub evaluated: bool,
    /// The first error a path was left with (`Other` only if nothing more specific).
    pub error: Option<ErrorKind>,
}

impl StepResult {
    pub fn audit_result(&self) -> AuditResult {
        match self.error {
            Some(e) => AuditResult::Failure(e),
            None => AuditResult::Success,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Cand {
    /// A path to create.
    New {
        sku: SkuIdx,
        group: GroupIdx,
        disabled: DisabledIdx,
    },
    /// An `Error` path (index into the user's paths) evaluated again.
    Retry { idx: usize },
}

/// Paths of a user's end state as (SKU, disabled set) (small: a user holds a few SKUs). Plan
/// sets are read from the catalogue where they are combined, not copied into the list.
type SkuPaths = SmallVec<[License; 4]>;

/// A step's working state, on the stack and filled in place (no moves of its inline
/// buffers): what to do before any check (indices into the user's paths), then what the
/// checks found.
#[derive(Default)]
struct Work {
    /// Applied paths their group no longer wants (kept if that is blocked, R16).
    removals: SmallVec<[usize; 4]>,
    /// `Error` paths their group no longer wants.
    drops: SmallVec<[usize; 4]>,
    /// `ActiveWithError` paths their group wants again.
    reactivate: SmallVec<[usize; 4]>,
    /// Paths to evaluate, by group in (byte-wise) id order: all or nothing per group (R11).
    batches: SmallVec<[(GroupIdx, SmallVec<[Cand; 4]>); 2]>,
    /// Whether the groups in focus want anything changed.
    changed: bool,
    /// The checks: an error or none for each candidate of each batch.
    results: SmallVec<[SmallVec<[PathCheck; 4]>; 2]>,
    /// Which removals are blocked (R16).
    blocked: SmallVec<[bool; 4]>,
}

/// One processing step for the user (SPEC 3, 10). Fills `d` with the user's new paths and the
/// outcomes; `d.write` stays false when the step has nothing to do.
pub fn process(t: &Tenant, s: &Subject, focus: Focus, force: bool, d: &mut Decision) -> StepResult {
    d.clear();
    // A retry (R21) involves only the groups of paths in error: none, nothing to do (the
    // common case after a direct call).
    let in_error = |p: &Path| matches!(p.source, Source::Group(_)) && p.state != PathState::Active;
    if focus == Focus::Retry && !s.paths.iter().any(in_error) {
        return StepResult::default();
    }
    let mut w = Work::default();
    // R22: a reprocess of one group (a forced step) re-evaluates that group's paths only; it
    // becomes an ordinary step (with R21 over every path in error) only when the group's
    // intents for the user changed.
    let reprocess = force && matches!(focus, Focus::Group(_));
    plan(t, s, focus, reprocess, &mut w);
    if reprocess && w.changed {
        w = Work::default();
        plan(t, s, focus, false, &mut w);
    }
    let nothing = w.batches.is_empty()
        && w.removals.is_empty()
        && w.drops.is_empty()
        && w.reactivate.is_empty();
    let skip = match focus {
        Focus::Group(_) => !w.changed && !force,
        Focus::All => false,
        Focus::Retry => nothing,
    };
    if skip {
        return StepResult::default();
    }
    evaluate(t, s, &mut w);
    decide(t, s, &w, d)
}

/// The groups a step involves and what it has to do for each; `only_focus` leaves out other
/// groups' paths in error (a reprocess of one group).
fn plan(t: &Tenant, s: &Subject, focus: Focus, only_focus: bool, w: &mut Work) {
    let mut involved: SmallVec<[GroupIdx; 4]> = SmallVec::new();
    match focus {
        Focus::Group(g) => involved.push(g),
        Focus::All => {
            involved.extend(s.groups.iter().copied());
            involved.extend(s.paths.iter().filter_map(|p| match p.source {
                Source::Group(h) => Some(h),
                Source::Direct => None,
            }));
        }
        Focus::Retry => {}
    }
    for p in s.paths {
        if let (Source::Group(h), true) = (p.source, p.state != PathState::Active)
            && !only_focus
        {
            involved.push(h);
        }
    }
    involved.sort_unstable();
    involved.dedup();
    // SPEC 10: when several groups are involved (errors retried, R21), groups go in id order
    // (byte-wise, as users do in R12), not in the order they were created.
    if involved.len() > 1 {
        involved.sort_by(|x, y| (t.group_id)(*x).cmp((t.group_id)(*y)).then(x.cmp(y)));
    }
    let in_focus = |h: GroupIdx| match focus {
        Focus::Group(g) => h == g,
        Focus::All => true,
        Focus::Retry => false,
    };

    for &h in &involved {
        let licenses = (t.group_licenses)(h);
        let member = licenses.is_some() && s.groups.binary_search(&h).is_ok();
        let desired: &[License] = match licenses {
            Some(l) if member => l,
            _ => &[],
        };
        let f = in_focus(h);
        let mut batch: SmallVec<[Cand; 4]> = SmallVec::new();
        for (i, p) in s.paths.iter().enumerate() {
            if p.source != Source::Group(h) {
                continue;
            }
            let wanted = desired.iter().any(|(s, d)| *s == p.sku && *d == p.disabled);
            match (wanted, p.state) {
                (true, PathState::Active) => {}
                (true, PathState::Error) => batch.push(Cand::Retry { idx: i }),
                (true, PathState::ActiveWithError) => {
                    w.reactivate.push(i);
                    w.changed |= f;
                }
                (false, PathState::Active) => {
                    if f {
                        w.removals.push(i);
                        w.changed = true;
                    }
                }
                (false, PathState::Error) => {
                    if f {
                        w.drops.push(i);
                        w.changed = true;
                    }
                }
                (false, PathState::ActiveWithError) => {
                    w.removals.push(i);
                    w.changed |= f;
                    // Retrying a blocked removal of a path the group wants with other disabled
                    // plans: its replacement is evaluated in the same step (no gap).
                    if !f && let Some((s, d)) = desired.iter().find(|(s, _)| *s == p.sku) {
                        batch.push(Cand::New {
                            sku: *s,
                            group: h,
                            disabled: *d,
                        });
                    }
                }
            }
        }
        if f {
            for (sku, d) in desired {
                let present = s
                    .paths
                    .iter()
                    .any(|p| p.source == Source::Group(h) && p.sku == *sku && p.disabled == *d);
                if !present {
                    batch.push(Cand::New {
                        sku: *sku,
                        group: h,
                        disabled: *d,
                    });
                    w.changed = true;
                }
            }
        }
        if !batch.is_empty() {
            w.batches.push((h, batch));
        }
    }
}

/// Checks every candidate against the end state (R19), a batch at a time (R11); removals that
/// would leave an enabled dependent plan without prerequisite are blocked and the rest is
/// evaluated again with them kept (R16).
fn evaluate(t: &Tenant, s: &Subject, w: &mut Work) {
    let Work {
        removals,
        reactivate,
        batches,
        results,
        blocked,
        ..
    } = w;
    let catalog = t.catalog;
    let start_skus: SmallVec<[SkuIdx; 8]> = s
        .paths
        .iter()
        .filter(|p| p.state.applied())
        .map(|p| p.sku)
        .collect();
    let loc = s.effective_location(t);
    let mut proxy = ProxyConflict::new(s.proxy_conflict);
    blocked.extend(removals.iter().map(|_| false));
    let enabled_of = |p: &Path| t.enabled(p.sku, p.disabled);
    let cand = |c: &Cand| match c {
        Cand::New { sku, disabled, .. } => (*sku, *disabled),
        Cand::Retry { idx } => (s.paths[*idx].sku, s.paths[*idx].disabled),
    };
    loop {
        let mut end: SkuPaths = SmallVec::new();
        for (i, p) in s.paths.iter().enumerate() {
            if !p.state.applied() {
                continue;
            }
            if let Some(r) = removals.iter().position(|x| *x == i)
                && !blocked[r]
            {
                continue;
            }
            end.push((p.sku, p.disabled));
        }
        let mut granted: SmallVec<[SkuIdx; 4]> = SmallVec::new();
        results.clear();
        let mut accepted_plans = PlanSet::EMPTY;
        for (_, batch) in batches.iter() {
            let cp: SkuPaths = batch.iter().map(cand).collect();
            // Every candidate of the batch is checked against the end state with the whole
            // batch in it: the same union for all of them.
            let mut all = plans_all(t, &end);
            for (s2, d2) in &cp {
                t.add_enabled(&mut all, *s2, *d2);
            }
            let mut errs: SmallVec<[PathCheck; 4]> = SmallVec::new();
            for (k, (sku, d)) in cp.iter().enumerate() {
                let own;
                let plans: &PlanSet = if *d == 0 {
                    &catalog.skus[*sku as usize].plans
                } else {
                    own = t.enabled(*sku, *d);
                    &own
                };
                let mut other = plans_except(t, &end, *sku);
                for (j, (s2, d2)) in cp.iter().enumerate() {
                    if j != k && s2 != sku {
                        t.add_enabled(&mut other, *s2, *d2);
                    }
                }
                let c = Candidate {
                    sku: *sku,
                    plans,
                    other: &other,
                    all: &all,
                    needs_seat: !start_skus.contains(sku) && !granted.contains(sku),
                };
                errs.push(check_path(t, &c, loc, &mut proxy));
            }
            if errs.iter().all(Option::is_none) {
                for (sku, d) in cp {
                    if !start_skus.contains(&sku) && !granted.contains(&sku) {
                        granted.push(sku);
                    }
                    t.add_enabled(&mut accepted_plans, sku, d);
                    end.push((sku, d));
                }
            }
            results.push(errs);
        }
        // R16: a removal that would leave an enabled dependent plan without prerequisite is
        // blocked, and the rest evaluated again with it kept.
        let mut active_plans = accepted_plans;
        for (i, p) in s.paths.iter().enumerate() {
            let stays_active =
                (p.state == PathState::Active && !removals.contains(&i)) || reactivate.contains(&i);
            if stays_active {
                t.add_enabled(&mut active_plans, p.sku, p.disabled);
            }
        }
        let end_all = plans_all(t, &end);
        let mut newly = false;
        if active_plans.intersects(&catalog.dependents) {
            for dep in &catalog.dependencies {
                if active_plans.contains(dep.dependent) && !dep.prerequisites.intersects(&end_all) {
                    for (r, &i) in removals.iter().enumerate() {
                        if !blocked[r] && enabled_of(&s.paths[i]).intersects(&dep.prerequisites) {
                            blocked[r] = true;
                            newly = true;
                        }
                    }
                }
            }
        }
        if !newly {
            break;
        }
    }
}

/// The decision: the user's paths after the step and the outcomes, in the order the step
/// reports them (state changes, removals, new paths).
fn decide(t: &Tenant, s: &Subject, w: &Work, d: &mut Decision) -> StepResult {
    let Work {
        removals,
        drops,
        reactivate,
        batches,
        results,
        blocked,
        ..
    } = w;
    let (u, now) = (s.user, t.now);
    let mut first_error: Option<ErrorKind> = None;
    let mut note = |e: ErrorKind| {
        if first_error.is_none() || first_error == Some(ErrorKind::Other) {
            first_error = Some(e);
        }
    };
    let mut new_paths: SmallVec<[Path; 4]> = SmallVec::new();
    let mut set_state: SmallVec<[(usize, PathState, ErrorKind); 4]> = SmallVec::new();
    for (r, &i) in removals.iter().enumerate() {
        if blocked[r] {
            note(ErrorKind::DependencyViolation);
            set_state.push((
                i,
                PathState::ActiveWithError,
                ErrorKind::DependencyViolation,
            ));
        }
    }
    for &i in reactivate {
        if !removals.contains(&i) {
            set_state.push((i, PathState::Active, ErrorKind::None));
        }
    }
    for ((_, batch), errs) in batches.iter().zip(results.iter()) {
        let failed = errs.iter().any(Option::is_some);
        for (c, e) in batch.iter().zip(errs.iter()) {
            let (state, error) = match (failed, e) {
                (false, _) => (PathState::Active, ErrorKind::None),
                (true, Some((k, _))) => (PathState::Error, *k),
                (true, None) => (PathState::Error, ErrorKind::Other),
            };
            if failed {
                note(error);
            }
            match c {
                Cand::Retry { idx } => set_state.push((*idx, state, error)),
                Cand::New {
                    sku,
                    group,
                    disabled,
                } => new_paths.push(Path {
                    sku: *sku,
                    state,
                    error,
                    source: Source::Group(*group),
                    disabled: *disabled,
                    updated_ms: now,
                }),
            }
        }
    }
    d.write = true;
    let paths = &mut d.paths;
    paths.extend_from_slice(s.paths);
    for (i, state, error) in set_state {
        let p = &mut paths[i];
        if p.state != state || p.error != error {
            p.state = state;
            p.error = error;
            p.updated_ms = now;
            d.outcomes.push(Outcome::PathSet {
                user: u,
                sku: p.sku,
                source: p.source,
                state,
                error,
            });
        }
    }
    let mut gone: SmallVec<[usize; 4]> = drops.clone();
    for (r, &i) in removals.iter().enumerate() {
        if !blocked[r] {
            gone.push(i);
        }
    }
    gone.sort_unstable();
    for &i in gone.iter().rev() {
        let p = paths.remove(i);
        if let Source::Group(h) = p.source {
            d.group_paths.push((h, -1));
        }
        d.outcomes.push(Outcome::PathRemoved {
            user: u,
            sku: p.sku,
            source: p.source,
        });
    }
    for p in new_paths {
        // A blocked removal (R16) of a path whose group now wants it with other disabled plans
        // keeps the old path (ActiveWithError); the new one waits until the block is gone, so the
        // user never holds two paths of one SKU from one group.
        if paths.iter().any(|q| q.sku == p.sku && q.source == p.source) {
            continue;
        }
        if let Source::Group(h) = p.source {
            d.group_paths.push((h, 1));
        }
        d.outcomes.push(Outcome::PathSet {
            user: u,
            sku: p.sku,
            source: p.source,
            state: p.state,
            error: p.error,
        });
        paths.push(p);
    }
    paths.sort_by_key(|p| (p.sku, p.source));
    StepResult {
        evaluated: true,
        error: first_error,
    }
}
