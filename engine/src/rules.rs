//! The license rules: evaluation of one user's paths in one processing step (R03-R24, R33),
//! direct `assignLicense` calls (R05-R07, R16) and conversion of a deleted group's paths (R23).
//!
//! A step is computed against the state it would produce (R19) and then written in one go, so no
//! plan the user keeps is ever off in between.

use crate::catalog::{Catalog, PlanSet};
use crate::event::*;
use crate::model::{DisabledIdx, Path, State};
use crate::sim::Sim;
use crate::{GroupIdx, SkuIdx, UserIdx};
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

/// The first failed check of a path: its error and the plans involved.
type PathCheck = Option<(ErrorKind, Vec<u16>)>;

/// Paths of a user's end state as (SKU, disabled set) (small: a user holds a few SKUs). Plan
/// sets are read from the catalogue where they are combined, not copied into the list.
type SkuPaths = SmallVec<[(SkuIdx, DisabledIdx); 4]>;

/// Adds the plans of a path of `sku` with disabled set `d` to `acc`: the catalogue's set as it
/// is when nothing is disabled (the common case), no intermediate copy.
#[inline]
fn add_enabled(acc: &mut PlanSet, cat: &Catalog, st: &State, sku: SkuIdx, d: DisabledIdx) {
    let plans = &cat.skus[sku as usize].plans;
    if d == 0 {
        acc.union_with(plans);
    } else {
        acc.union_with(&plans.minus(&st.disabled_sets[d as usize]));
    }
}

/// The checks of one path in R24's order against the end state.
#[allow(clippy::too_many_arguments)]
fn check_path(
    sim: &Sim,
    u: UserIdx,
    sku: SkuIdx,
    plans: &PlanSet,
    other: &PlanSet,
    all: &PlanSet,
    needs_seat: bool,
    loc: Option<crate::Loc>,
    proxy_conflict: &mut Option<bool>,
) -> PathCheck {
    let cat = &sim.catalog;
    if let Some(p) = cat.prohibited_in(plans, loc) {
        return Some((ErrorKind::ProhibitedInUsageLocationViolation, vec![p]));
    }
    if needs_seat {
        let sub = &sim.state.subscriptions[sku as usize];
        if sub.consumed >= sub.prepaid.assignable() {
            return Some((ErrorKind::CountViolation, vec![]));
        }
    }
    if let Some((a, b)) = cat.exclusive_conflict(plans, other) {
        return Some((ErrorKind::MutuallyExclusiveViolation, vec![a, b]));
    }
    if let Some((d, p)) = cat.missing_dependency(plans, all) {
        return Some((ErrorKind::DependencyViolation, vec![d, p]));
    }
    if plans.intersects(&cat.mailbox) {
        let c = *proxy_conflict.get_or_insert_with(|| sim.proxy_conflict(u));
        if c {
            return Some((
                ErrorKind::UniquenessViolation,
                plans.intersect(&cat.mailbox).iter().collect(),
            ));
        }
    }
    None
}

fn plans_except(cat: &Catalog, st: &State, end: &SkuPaths, sku: SkuIdx) -> PlanSet {
    let mut s = PlanSet::EMPTY;
    for (k, d) in end {
        if *k != sku {
            add_enabled(&mut s, cat, st, *k, *d);
        }
    }
    s
}

fn plans_all(cat: &Catalog, st: &State, end: &SkuPaths) -> PlanSet {
    let mut s = PlanSet::EMPTY;
    for (k, d) in end {
        add_enabled(&mut s, cat, st, *k, *d);
    }
    s
}

/// One processing step for user `u` (SPEC 3, 10). The caller wraps it in `begin`/`finish`.
pub(crate) fn process(sim: &mut Sim, u: UserIdx, focus: Focus, force: bool) -> StepResult {
    let catalog = &*sim.catalog;
    let st = &sim.state;
    let user = &st.users[u as usize];

    let mut involved: SmallVec<[GroupIdx; 4]> = SmallVec::new();
    match focus {
        Focus::Group(g) => involved.push(g),
        Focus::All => {
            involved.extend(user.groups.iter().copied());
            involved.extend(user.paths.iter().filter_map(|p| match p.source {
                Source::Group(h) => Some(h),
                Source::Direct => None,
            }));
        }
        Focus::Retry => {}
    }
    for p in &user.paths {
        if let (Source::Group(h), true) = (p.source, p.state != PathState::Active) {
            involved.push(h);
        }
    }
    involved.sort_unstable();
    involved.dedup();
    let in_focus = |h: GroupIdx| match focus {
        Focus::Group(g) => h == g,
        Focus::All => true,
        Focus::Retry => false,
    };

    let mut removals: SmallVec<[usize; 4]> = SmallVec::new();
    let mut drops: SmallVec<[usize; 4]> = SmallVec::new();
    let mut reactivate: SmallVec<[usize; 4]> = SmallVec::new();
    let mut batches: SmallVec<[(GroupIdx, SmallVec<[Cand; 4]>); 2]> = SmallVec::new();
    let mut changed = false;
    for &h in &involved {
        let grp = &st.groups[h as usize];
        let member = grp.alive && user.groups.binary_search(&h).is_ok();
        let desired: &[(SkuIdx, DisabledIdx)] = if member { &grp.licenses } else { &[] };
        let f = in_focus(h);
        let mut batch: SmallVec<[Cand; 4]> = SmallVec::new();
        for (i, p) in user.paths.iter().enumerate() {
            if p.source != Source::Group(h) {
                continue;
            }
            let wanted = desired.iter().any(|(s, d)| *s == p.sku && *d == p.disabled);
            match (wanted, p.state) {
                (true, PathState::Active) => {}
                (true, PathState::Error) => batch.push(Cand::Retry { idx: i }),
                (true, PathState::ActiveWithError) => {
                    reactivate.push(i);
                    changed |= f;
                }
                (false, PathState::Active) => {
                    if f {
                        removals.push(i);
                        changed = true;
                    }
                }
                (false, PathState::Error) => {
                    if f {
                        drops.push(i);
                        changed = true;
                    }
                }
                (false, PathState::ActiveWithError) => {
                    removals.push(i);
                    changed |= f;
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
            for (s, d) in desired {
                let present = user
                    .paths
                    .iter()
                    .any(|p| p.source == Source::Group(h) && p.sku == *s && p.disabled == *d);
                if !present {
                    batch.push(Cand::New {
                        sku: *s,
                        group: h,
                        disabled: *d,
                    });
                    changed = true;
                }
            }
        }
        if !batch.is_empty() {
            batches.push((h, batch));
        }
    }
    let nothing =
        batches.is_empty() && removals.is_empty() && drops.is_empty() && reactivate.is_empty();
    let skip = match focus {
        Focus::Group(_) => !changed && !force,
        Focus::All => false,
        Focus::Retry => nothing,
    };
    if skip {
        return StepResult::default();
    }

    // ---- evaluation against the end state ----------------------------------------------------
    let start_skus: SmallVec<[SkuIdx; 8]> = user
        .paths
        .iter()
        .filter(|p| p.state.applied())
        .map(|p| p.sku)
        .collect();
    let loc = st.effective_location(user, sim.config.tenant.default_usage_location);
    let mut proxy_conflict: Option<bool> = None;
    let mut blocked: SmallVec<[bool; 4]> = SmallVec::from_elem(false, removals.len());
    let enabled_of = |p: &Path| st.enabled(catalog, p.sku, p.disabled);
    let cand_sku = |c: &Cand| match c {
        Cand::New { sku, .. } => *sku,
        Cand::Retry { idx } => user.paths[*idx].sku,
    };
    let cand_disabled = |c: &Cand| match c {
        Cand::New { disabled, .. } => *disabled,
        Cand::Retry { idx } => user.paths[*idx].disabled,
    };
    let mut results: SmallVec<[SmallVec<[PathCheck; 4]>; 2]>;
    loop {
        let mut end: SkuPaths = SmallVec::new();
        for (i, p) in user.paths.iter().enumerate() {
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
        results = SmallVec::new();
        let mut accepted_plans = PlanSet::EMPTY;
        for (_, batch) in &batches {
            let cp: SkuPaths = batch
                .iter()
                .map(|c| (cand_sku(c), cand_disabled(c)))
                .collect();
            // Every candidate of the batch is checked against the end state with the whole
            // batch in it: the same union for all of them.
            let mut all = plans_all(catalog, st, &end);
            for (s2, d2) in &cp {
                add_enabled(&mut all, catalog, st, *s2, *d2);
            }
            let mut errs: SmallVec<[PathCheck; 4]> = SmallVec::new();
            for (k, (sku, d)) in cp.iter().enumerate() {
                let own;
                let plans: &PlanSet = if *d == 0 {
                    &catalog.skus[*sku as usize].plans
                } else {
                    own = st.enabled(catalog, *sku, *d);
                    &own
                };
                let mut other = plans_except(catalog, st, &end, *sku);
                for (j, (s2, d2)) in cp.iter().enumerate() {
                    if j != k && s2 != sku {
                        add_enabled(&mut other, catalog, st, *s2, *d2);
                    }
                }
                let needs_seat = !start_skus.contains(sku) && !granted.contains(sku);
                errs.push(check_path(
                    sim,
                    u,
                    *sku,
                    plans,
                    &other,
                    &all,
                    needs_seat,
                    loc,
                    &mut proxy_conflict,
                ));
            }
            if errs.iter().all(Option::is_none) {
                for (s, d) in cp {
                    if !start_skus.contains(&s) && !granted.contains(&s) {
                        granted.push(s);
                    }
                    add_enabled(&mut accepted_plans, catalog, st, s, d);
                    end.push((s, d));
                }
            }
            results.push(errs);
        }
        // R16: a removal that would leave an enabled dependent plan without prerequisite is
        // blocked, and the rest evaluated again with it kept.
        let mut active_plans = accepted_plans;
        for (i, p) in user.paths.iter().enumerate() {
            let stays_active =
                (p.state == PathState::Active && !removals.contains(&i)) || reactivate.contains(&i);
            if stays_active {
                add_enabled(&mut active_plans, catalog, st, p.sku, p.disabled);
            }
        }
        let end_all = plans_all(catalog, st, &end);
        let mut newly = false;
        if active_plans.intersects(&catalog.dependents) {
            for d in &catalog.dependencies {
                if active_plans.contains(d.dependent) && !d.prerequisites.intersects(&end_all) {
                    for (r, &i) in removals.iter().enumerate() {
                        if !blocked[r] && enabled_of(&user.paths[i]).intersects(&d.prerequisites) {
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

    // ---- write the step ------------------------------------------------------------------------
    let now = sim.now;
    let mut first_error: Option<ErrorKind> = None;
    let mut note = |e: ErrorKind| {
        if first_error.is_none() || first_error == Some(ErrorKind::Other) {
            first_error = Some(e);
        }
    };
    let mut out: SmallVec<[Outcome; 8]> = SmallVec::new();
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
    for &i in &reactivate {
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
    let user = &mut sim.state.users[u as usize];
    for (i, state, error) in set_state {
        let p = &mut user.paths[i];
        if p.state != state || p.error != error {
            p.state = state;
            p.error = error;
            p.updated_ms = now;
            out.push(Outcome::PathSet {
                user: u,
                sku: p.sku,
                source: p.source,
                state,
                error,
            });
        }
    }
    let mut gone: SmallVec<[usize; 4]> = drops;
    for (r, &i) in removals.iter().enumerate() {
        if !blocked[r] {
            gone.push(i);
        }
    }
    gone.sort_unstable();
    let mut group_delta: SmallVec<[(GroupIdx, i64); 4]> = SmallVec::new();
    for &i in gone.iter().rev() {
        let p = user.paths.remove(i);
        if let Source::Group(h) = p.source {
            group_delta.push((h, -1));
        }
        out.push(Outcome::PathRemoved {
            user: u,
            sku: p.sku,
            source: p.source,
        });
    }
    for p in new_paths {
        // A blocked removal (R16) of a path whose group now wants it with other disabled plans
        // keeps the old path (ActiveWithError); the new one waits until the block is gone, so the
        // user never holds two paths of one SKU from one group.
        if user.path_index(p.sku, p.source).is_some() {
            continue;
        }
        if let Source::Group(h) = p.source {
            group_delta.push((h, 1));
        }
        out.push(Outcome::PathSet {
            user: u,
            sku: p.sku,
            source: p.source,
            state: p.state,
            error: p.error,
        });
        user.paths.reserve_exact(1); // most users hold one or two paths: no spare capacity
        user.paths.push(p);
    }
    user.paths.sort_by_key(|p| (p.sku, p.source));
    for (h, d) in group_delta {
        let g = &mut sim.state.groups[h as usize];
        g.path_count = (g.path_count as i64 + d) as u64;
    }
    for o in out {
        sim.emit(o);
    }
    StepResult {
        evaluated: true,
        error: first_error,
    }
}

/// A direct `assignLicense(user, add, remove)` (R05-R07, R12-R18, R16 on removal, R19): checked
/// whole against the state the call produces by itself; on any violation nothing changes.
pub(crate) fn direct_call(
    sim: &mut Sim,
    u: UserIdx,
    add: &[(SkuIdx, DisabledIdx)],
    remove: &[SkuIdx],
) -> Result<(), Rejection> {
    let catalog = &*sim.catalog;
    let st = &sim.state;
    let user = &st.users[u as usize];
    if !add.is_empty() && user.usage_location.is_none() {
        return Err(Rejection::new(CallError::InvalidUsageLocation));
    }
    for s in remove {
        if add.iter().any(|(a, _)| a == s) {
            return Err(Rejection::with(CallError::InvalidValue, Some(*s), vec![]));
        }
        if !user.paths.iter().any(|p| p.sku == *s) {
            return Err(Rejection::with(
                CallError::LicenseNotAssigned,
                Some(*s),
                vec![],
            ));
        }
        if !user
            .paths
            .iter()
            .any(|p| p.sku == *s && p.source == Source::Direct)
        {
            return Err(Rejection::with(
                CallError::InheritedLicenseCannotBeRemoved,
                Some(*s),
                vec![],
            ));
        }
    }
    let touched = |p: &Path| {
        p.source == Source::Direct
            && (remove.contains(&p.sku) || add.iter().any(|(s, _)| *s == p.sku))
    };
    let mut end: SkuPaths = SmallVec::new();
    let mut end_active = PlanSet::EMPTY;
    let mut before_all = PlanSet::EMPTY;
    for p in &user.paths {
        if !p.state.applied() {
            continue;
        }
        add_enabled(&mut before_all, catalog, st, p.sku, p.disabled);
        if touched(p) {
            continue;
        }
        if p.state == PathState::Active {
            add_enabled(&mut end_active, catalog, st, p.sku, p.disabled);
        }
        end.push((p.sku, p.disabled));
    }
    for (s, d) in add {
        add_enabled(&mut end_active, catalog, st, *s, *d);
        end.push((*s, *d));
    }
    let end_all = plans_all(catalog, st, &end);
    let mut granted: SmallVec<[SkuIdx; 4]> = SmallVec::new();
    let mut proxy_conflict = None;
    for (s, d) in add {
        let plans = st.enabled(catalog, *s, *d);
        let other = plans_except(catalog, st, &end, *s);
        let needs_seat = !user.has_applied(*s) && !granted.contains(s);
        if let Some((k, plans)) = check_path(
            sim,
            u,
            *s,
            &plans,
            &other,
            &end_all,
            needs_seat,
            user.usage_location,
            &mut proxy_conflict,
        ) {
            return Err(Rejection::with(CallError::License(k), Some(*s), plans));
        }
        if needs_seat {
            granted.push(*s);
        }
    }
    // R16: a removal may not leave an enabled dependent plan without its prerequisite.
    for d in &catalog.dependencies {
        if end_active.contains(d.dependent)
            && !d.prerequisites.intersects(&end_all)
            && d.prerequisites.intersects(&before_all)
        {
            let pre = d.prerequisites.intersect(&before_all).iter().next();
            let sku = remove.first().copied();
            return Err(Rejection::with(
                CallError::License(ErrorKind::DependencyViolation),
                sku,
                std::iter::once(d.dependent).chain(pre).collect(),
            ));
        }
    }
    // Apply.
    let now = sim.now;
    let mut out: SmallVec<[Outcome; 8]> = SmallVec::new();
    let user = &mut sim.state.users[u as usize];
    user.paths.retain(|p| {
        let gone = p.source == Source::Direct && remove.contains(&p.sku);
        if gone {
            out.push(Outcome::PathRemoved {
                user: u,
                sku: p.sku,
                source: Source::Direct,
            });
        }
        !gone
    });
    for (s, d) in add {
        match user.path_index(*s, Source::Direct) {
            Some(i) => {
                let p = &mut user.paths[i];
                if p.disabled != *d || p.state != PathState::Active {
                    p.disabled = *d;
                    p.state = PathState::Active;
                    p.error = ErrorKind::None;
                    p.updated_ms = now;
                    out.push(Outcome::PathSet {
                        user: u,
                        sku: *s,
                        source: Source::Direct,
                        state: PathState::Active,
                        error: ErrorKind::None,
                    });
                }
            }
            None => {
                user.paths.reserve_exact(1);
                user.paths.push(Path {
                    sku: *s,
                    state: PathState::Active,
                    error: ErrorKind::None,
                    source: Source::Direct,
                    disabled: *d,
                    updated_ms: now,
                });
                out.push(Outcome::PathSet {
                    user: u,
                    sku: *s,
                    source: Source::Direct,
                    state: PathState::Active,
                    error: ErrorKind::None,
                });
            }
        }
    }
    user.paths.sort_by_key(|p| (p.sku, p.source));
    for o in out {
        sim.emit(o);
    }
    Ok(())
}

/// R23 (`convert_to_direct`): the user's paths from deleted group `g` become direct `Active`
/// paths, merged with an existing direct path of the SKU (intersection of disabled plans).
pub(crate) fn convert_to_direct(sim: &mut Sim, u: UserIdx, g: GroupIdx) {
    let now = sim.now;
    let mut out = Vec::new();
    let mut removed = 0u64;
    let idxs: Vec<usize> = sim.state.users[u as usize]
        .paths
        .iter()
        .enumerate()
        .filter(|(_, p)| p.source == Source::Group(g))
        .map(|(i, _)| i)
        .collect();
    let mut gone: Vec<usize> = Vec::new();
    for i in idxs {
        removed += 1;
        let p = sim.state.users[u as usize].paths[i];
        if !p.state.applied() {
            gone.push(i);
            out.push(Outcome::PathRemoved {
                user: u,
                sku: p.sku,
                source: p.source,
            });
            continue;
        }
        out.push(Outcome::PathConverted {
            user: u,
            sku: p.sku,
            group: g,
        });
        let direct = sim.state.users[u as usize].path_index(p.sku, Source::Direct);
        match direct {
            Some(j) => {
                let dset = sim.state.disabled_sets[p.disabled as usize];
                let jset =
                    sim.state.disabled_sets[sim.state.users[u as usize].paths[j].disabled as usize];
                let merged = sim.state.intern_disabled(dset.intersect(&jset));
                let d = &mut sim.state.users[u as usize].paths[j];
                d.disabled = merged;
                d.state = PathState::Active;
                d.error = ErrorKind::None;
                d.updated_ms = now;
                gone.push(i);
            }
            None => {
                let d = &mut sim.state.users[u as usize].paths[i];
                d.source = Source::Direct;
                d.state = PathState::Active;
                d.error = ErrorKind::None;
                d.updated_ms = now;
            }
        }
        out.push(Outcome::PathSet {
            user: u,
            sku: p.sku,
            source: Source::Direct,
            state: PathState::Active,
            error: ErrorKind::None,
        });
    }
    gone.sort_unstable();
    let user = &mut sim.state.users[u as usize];
    for &i in gone.iter().rev() {
        user.paths.remove(i);
    }
    user.paths.sort_by_key(|p| (p.sku, p.source));
    let grp = &mut sim.state.groups[g as usize];
    grp.path_count = grp.path_count.saturating_sub(removed);
    for o in out {
        sim.emit(o);
    }
}
