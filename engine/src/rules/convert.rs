//! R23 (`convert_to_direct`): when a group without licences is deleted while users still hold
//! paths from it (`ActiveWithError`, R16), those paths become direct `Active` paths, merged with
//! an existing direct path of the SKU (intersection of disabled plans, SPEC 10).

use super::{Decision, Subject, Tenant};
use crate::GroupIdx;
use crate::event::*;
use smallvec::SmallVec;

/// Fills `d` with the user's paths once deleted group `g`'s paths are converted: an applied
/// one becomes direct (or merges into the direct path of its SKU, `d.merges`), one in `Error`
/// goes.
pub fn convert_to_direct(t: &Tenant, s: &Subject, g: GroupIdx, d: &mut Decision) {
    d.clear();
    d.write = true;
    let (u, now) = (s.user, t.now);
    let mut removed = 0i64;
    let mut gone: SmallVec<[usize; 4]> = SmallVec::new();
    d.paths.extend_from_slice(s.paths);
    for (i, p) in s.paths.iter().enumerate() {
        if p.source != Source::Group(g) {
            continue;
        }
        removed += 1;
        if !p.state.applied() {
            gone.push(i);
            d.outcomes.push(Outcome::PathRemoved {
                user: u,
                sku: p.sku,
                source: p.source,
            });
            continue;
        }
        d.outcomes.push(Outcome::PathConverted {
            user: u,
            sku: p.sku,
            group: g,
        });
        let direct = d
            .paths
            .iter()
            .position(|q| q.sku == p.sku && q.source == Source::Direct);
        match direct {
            Some(j) => {
                d.merges.push((p.sku, p.disabled, d.paths[j].disabled));
                let q = &mut d.paths[j];
                q.state = PathState::Active;
                q.error = ErrorKind::None;
                q.updated_ms = now;
                gone.push(i);
            }
            None => {
                let q = &mut d.paths[i];
                q.source = Source::Direct;
                q.state = PathState::Active;
                q.error = ErrorKind::None;
                q.updated_ms = now;
            }
        }
        d.outcomes.push(Outcome::PathSet {
            user: u,
            sku: p.sku,
            source: Source::Direct,
            state: PathState::Active,
            error: ErrorKind::None,
        });
    }
    gone.sort_unstable();
    for &i in gone.iter().rev() {
        d.paths.remove(i);
    }
    d.paths.sort_by_key(|p| (p.sku, p.source));
    if removed > 0 {
        d.group_paths.push((g, -removed));
    }
}
