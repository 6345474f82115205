//! The product catalogue: SKUs, service plans, service families and the rules attached to plans
//! (mutually exclusive sets, dependencies, prohibited usage locations, mailbox plans).
//!
//! - [`spec`]: the raw, serializable description by name ([`CatalogSpec`], what a log header
//!   carries) and the rules profiles;
//! - [`model`]: the built [`Catalog`] the rules use (dense indices, [`PlanSet`] bitsets from
//!   [`planset`]) and its queries (R13, R14, R17);
//! - [`csv`]: the reader of Microsoft's CSV layout; [`builtin`]: the built-in file and rules.
//!
//! The model knows nothing of the CSV reader, the rules or the simulator.

pub mod builtin;
pub mod csv;
pub mod model;
pub mod planset;
pub mod spec;

pub use builtin::BUILTIN_CSV;
pub use csv::{parse_csv, skus_from_csv};
pub use model::{Catalog, Dependency, MAX_SKUS, Plan, Sku, loc_str, parse_loc, tier_family};
pub use planset::{MAX_PLANS, PLAN_WORDS, PlanSet};
pub use spec::{CatalogSpec, PlanSpec, RulesProfile, SkuSpec};

use std::fmt;

/// An error reading a catalogue file or building a catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogError {
    /// 1-based line in the CSV, 0 when not about a line.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for CatalogError {}

pub(crate) fn cerr(line: usize, message: impl Into<String>) -> CatalogError {
    CatalogError {
        line,
        message: message.into(),
    }
}
