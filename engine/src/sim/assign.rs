//! License assignment calls: direct `assignLicense` on a user (R05-R07) and on a group (R08,
//! R15), with the R01 checks of what they name.

use super::{Sim, live_group, live_user, subscription};
use crate::event::*;
use crate::model::*;
use crate::rules::{self, Focus};
use crate::{GroupIdx, SkuIdx, UserIdx};

impl Sim {
    pub(super) fn assign_user_license(
        &mut self,
        u: UserIdx,
        add: &[LicenseSpec],
        remove: &[SkuIdx],
    ) -> Result<(), Rejection> {
        live_user(&mut self.state, u)?;
        let add = self.resolve_licenses(add)?;
        for s in remove {
            subscription(&mut self.state, *s)?;
        }
        let snap = self.begin(u);
        let r = self.decide(u, |t, s, d| rules::direct_call(t, s, &add, remove, d));
        match r {
            Ok(()) => {
                self.write_decision(u);
                // R21: the user's path set changed; errors are evaluated again in the same step.
                self.decide(u, |t, s, d| rules::process(t, s, Focus::Retry, false, d));
                self.write_decision(u);
                self.finish(u, snap);
                self.core.emit(Outcome::Audit(Audit::ChangeUserLicense {
                    user: u,
                    group: None,
                    result: AuditResult::Success,
                }));
                Ok(())
            }
            Err(rej) => {
                self.core.emit(Outcome::Audit(Audit::ChangeUserLicense {
                    user: u,
                    group: None,
                    result: AuditResult::Rejected(rej.error),
                }));
                Err(rej)
            }
        }
    }

    /// Checks SKUs and disabled plans (R01) and interns the disabled sets.
    pub(super) fn resolve_licenses(
        &mut self,
        add: &[LicenseSpec],
    ) -> Result<Vec<(SkuIdx, DisabledIdx)>, Rejection> {
        let mut out: Vec<(SkuIdx, DisabledIdx)> = Vec::new();
        for l in add {
            let set = rules::checks::license_disabled(&self.catalog, l)?;
            let d = self.state.intern_disabled(set);
            out.retain(|(s, _)| *s != l.sku);
            out.push((l.sku, d));
        }
        Ok(out)
    }

    pub(super) fn assign_group_license(
        &mut self,
        g: GroupIdx,
        add: &[LicenseSpec],
        remove: &[SkuIdx],
    ) -> Result<(), Rejection> {
        let r = self.assign_group_license_inner(g, add, remove);
        if self.state.live_group(g).is_some() {
            self.core.emit(Outcome::Audit(Audit::SetGroupLicense {
                group: g,
                result: match &r {
                    Ok(()) => AuditResult::Success,
                    Err(e) => AuditResult::Rejected(e.error),
                },
            }));
        }
        r
    }

    pub(super) fn assign_group_license_inner(
        &mut self,
        g: GroupIdx,
        add: &[LicenseSpec],
        remove: &[SkuIdx],
    ) -> Result<(), Rejection> {
        let grp = live_group(&self.state, g)?;
        if !grp.security_enabled {
            return Err(Rejection::new(CallError::GroupNotSecurityEnabled));
        }
        let mut licenses = grp.licenses.clone();
        // R08 (SPEC 10): removing a SKU the group does not hold is ignored; the adds apply.
        for s in remove {
            if (*s as usize) >= self.catalog.skus.len() {
                return Err(Rejection::new(CallError::UnknownSku));
            }
            licenses.retain(|(x, _)| x != s);
        }
        let add = self.resolve_licenses(add)?;
        for (s, d) in &add {
            licenses.retain(|(x, _)| x != s);
            licenses.push((*s, *d));
        }
        licenses.sort();
        // R15: every dependent plan the group enables needs a prerequisite from the same group.
        self.with_tenant(|t| rules::checks::group_dependencies(t, &licenses))?;
        let changed = self.state.groups[g as usize].licenses != licenses;
        self.state.groups[g as usize].licenses = licenses;
        if changed {
            for u in self.state.members_in_name_order(g) {
                self.enqueue(g, u, false);
            }
        }
        Ok(())
    }
}
