//! # licsim scenarios
//!
//! Scenario files (TOML, SPEC section 5) and their parser, population generation, faults, the
//! plan runner that drives the engine, per-run metrics (SPEC 6), sweeps over seeds and reports.
//! Knows nothing of the command line.

pub mod bench;
pub mod chart;
pub mod metrics;
pub mod model;
pub mod report;
pub mod runner;
pub mod spec;
pub mod sweep;
