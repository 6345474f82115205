//! # licsim engine
//!
//! A deterministic, event-sourced simulator of group-based license assignment in a cloud
//! directory (Microsoft Entra ID). The engine folds input events into state and produces outcome
//! events; it does no I/O beyond the log codec, reads no clock and draws randomness only from a
//! `ChaCha8Rng` seeded from (scenario seed, run index).
//!
//! ```
//! use engine::prelude::*;
//! let cat = std::sync::Arc::new(Catalog::builtin(RulesProfile::Current));
//! let e3 = cat.sku_by_name("ENTERPRISEPACK").unwrap();
//! let mut sim = Sim::new(cat, SimConfig::default());
//! sim.apply(0, Input::SetUnits { sku: e3, units: PrepaidUnits { enabled: 1, ..Default::default() } }).unwrap();
//! sim.apply(0, Input::CreateUser { name: "alice".into(), usage_location: Some(*b"US"),
//!     proxy_addresses: vec![], attributes: vec![] }).unwrap();
//! sim.apply(0, Input::AssignUserLicense { user: 0, add: vec![LicenseSpec::new(e3)], remove: vec![] }).unwrap();
//! assert_eq!(sim.state().subscriptions[e3 as usize].consumed, 1);
//! ```

pub mod catalog;
pub mod codec;
pub mod dist;
pub mod event;
pub mod hash;
pub mod invariants;
pub mod log;
pub mod model;
pub mod names;
pub mod rule;
pub mod rules;
pub mod sim;
pub mod view;

/// Dense index of a SKU in the catalogue.
pub type SkuIdx = u16;
/// Dense index of a service plan in the catalogue.
pub type PlanIdx = u16;
/// Dense index of a user: the number of users created before it.
pub type UserIdx = u32;
/// Dense index of a group: the number of groups created before it.
pub type GroupIdx = u32;
/// An ISO 3166 alpha-2 usage location, upper case.
pub type Loc = [u8; 2];

/// The engine's version, written in log headers.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod prelude {
    pub use crate::catalog::{Catalog, CatalogSpec, PlanSet, RulesProfile};
    pub use crate::dist::Latency;
    pub use crate::event::*;
    pub use crate::model::{Group, Path, State, User};
    pub use crate::sim::{
        DAY, Environment, HOUR, MINUTE, OnGroupDelete, SECOND, Sim, SimConfig, TenantConfig,
    };
    pub use crate::{GroupIdx, Loc, PlanIdx, SkuIdx, UserIdx};
}
