//! Shared helpers for engine tests: a small fluent harness over the library API.
#![allow(dead_code, clippy::new_without_default)]

use engine::prelude::*;
use std::sync::Arc;

pub struct T {
    pub sim: Sim,
    pub cat: Arc<Catalog>,
    pub t: u64,
}

impl T {
    pub fn new() -> T {
        T::with(
            RulesProfile::Current,
            Environment {
                processing_latency: Latency::Fixed { value_ms: 1000 },
                concurrency_window_ms: 0,
                ..Environment::default()
            },
        )
    }
    pub fn with(profile: RulesProfile, env: Environment) -> T {
        let cat = Arc::new(Catalog::builtin(profile));
        T::with_catalog(cat, env, TenantConfig::default())
    }
    pub fn with_catalog(cat: Arc<Catalog>, env: Environment, tenant: TenantConfig) -> T {
        let sim = Sim::new(
            cat.clone(),
            SimConfig {
                environment: env,
                tenant,
                ..SimConfig::default()
            },
        );
        T { sim, cat, t: 0 }
    }
    pub fn sku(&self, n: &str) -> SkuIdx {
        self.cat
            .sku_by_name(n)
            .unwrap_or_else(|| panic!("no sku {n}"))
    }
    pub fn plan(&self, n: &str) -> PlanIdx {
        self.cat
            .plan_by_name(n)
            .unwrap_or_else(|| panic!("no plan {n}"))
    }
    pub fn units(&mut self, sku: &str, n: u32) {
        let s = self.sku(sku);
        self.ok(Input::SetUnits {
            sku: s,
            units: PrepaidUnits {
                enabled: n,
                ..Default::default()
            },
        });
    }
    pub fn apply(&mut self, i: Input) -> Result<(), Rejection> {
        self.sim.apply(self.t, i)
    }
    pub fn ok(&mut self, i: Input) {
        let d = format!("{i:?}");
        if let Err(e) = self.apply(i) {
            panic!("{d} rejected: {e:?}");
        }
    }
    pub fn rejected(&mut self, i: Input) -> CallError {
        self.apply(i).expect_err("expected a rejection").error
    }
    pub fn user(&mut self, name: &str) -> UserIdx {
        self.user_at(name, Some(*b"US"))
    }
    pub fn user_at(&mut self, name: &str, loc: Option<Loc>) -> UserIdx {
        self.ok(Input::CreateUser {
            name: name.into(),
            usage_location: loc,
            proxy_addresses: vec![],
            attributes: vec![],
        });
        self.sim.state().user(name).unwrap()
    }
    pub fn user_attrs(&mut self, name: &str, attrs: &[(&str, &str)]) -> UserIdx {
        self.ok(Input::CreateUser {
            name: name.into(),
            usage_location: Some(*b"US"),
            proxy_addresses: vec![],
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        self.sim.state().user(name).unwrap()
    }
    pub fn group(&mut self, name: &str, members: &[UserIdx]) -> GroupIdx {
        self.ok(Input::CreateGroup {
            name: name.into(),
            security_enabled: true,
            source: GroupSource::Cloud,
            rule: None,
            members: members.iter().map(|u| Member::User(*u)).collect(),
            evaluate_now: false,
        });
        self.sim.state().group(name).unwrap()
    }
    pub fn lic(&self, sku: &str) -> LicenseSpec {
        LicenseSpec::new(self.sku(sku))
    }
    pub fn lic_without(&self, sku: &str, disabled: &[&str]) -> LicenseSpec {
        let mut d: Vec<PlanIdx> = disabled.iter().map(|p| self.plan(p)).collect();
        d.sort();
        LicenseSpec {
            sku: self.sku(sku),
            disabled: d,
        }
    }
    pub fn direct(&mut self, u: UserIdx, add: &[&str], remove: &[&str]) -> Result<(), Rejection> {
        let add = add.iter().map(|s| self.lic(s)).collect();
        let remove = remove.iter().map(|s| self.sku(s)).collect();
        self.apply(Input::AssignUserLicense {
            user: u,
            add,
            remove,
        })
    }
    pub fn group_lic(
        &mut self,
        g: GroupIdx,
        add: &[&str],
        remove: &[&str],
    ) -> Result<(), Rejection> {
        let add = add.iter().map(|s| self.lic(s)).collect();
        let remove = remove.iter().map(|s| self.sku(s)).collect();
        self.apply(Input::AssignGroupLicense {
            group: g,
            add,
            remove,
        })
    }
    /// Runs engine work to quiescence (bounded) and moves the clock past it.
    pub fn settle(&mut self) {
        assert!(
            self.sim.run_until_quiescent(self.t + 30 * DAY),
            "did not settle"
        );
        self.t = self.t.max(self.sim.now());
    }
    pub fn wait(&mut self, ms: u64) {
        self.t += ms;
        self.sim.advance_to(self.t);
    }
    pub fn consumed(&self, sku: &str) -> u32 {
        self.sim.state().subscriptions[self.sku(sku) as usize].consumed
    }
    /// (state, error) of the user's path of `sku` from `source`, if any.
    pub fn path(&self, u: UserIdx, sku: &str, source: Source) -> Option<(PathState, ErrorKind)> {
        let s = self.sku(sku);
        self.sim.state().users[u as usize]
            .paths
            .iter()
            .find(|p| p.sku == s && p.source == source)
            .map(|p| (p.state, p.error))
    }
    pub fn has_plan(&self, u: UserIdx, plan: &str) -> bool {
        self.sim
            .state()
            .user_plans(&self.cat, u)
            .contains(self.plan(plan))
    }
    pub fn group_state(&self, g: GroupIdx) -> ProcessingState {
        self.sim.state().groups[g as usize].state
    }
    pub fn outcomes(&mut self) -> Vec<(u64, Outcome)> {
        self.sim
            .take_events()
            .into_iter()
            .filter_map(|e| match e.event {
                Event::Outcome(o) => Some((e.time_ms, o)),
                Event::Input(_) => None,
            })
            .collect()
    }
    pub fn check_invariants(&self) {
        let v = engine::invariants::check(&self.cat, self.sim.state());
        assert!(v.is_empty(), "invariants violated: {v:#?}");
    }
}

pub const ACTIVE: (PathState, ErrorKind) = (PathState::Active, ErrorKind::None);
pub fn err(e: ErrorKind) -> (PathState, ErrorKind) {
    (PathState::Error, e)
}
pub fn awe(e: ErrorKind) -> (PathState, ErrorKind) {
    (PathState::ActiveWithError, e)
}
