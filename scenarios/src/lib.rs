//! # licsim scenarios
//!
//! Scenario files (TOML, SPEC section 5) and their parser, population generation, faults, the
//! plan runner that drives the engine, per-run metrics (SPEC 6), sweeps over seeds and reports.
//! Knows nothing of the command line.
//!
//! ```
//! let sc = scenarios::spec::parse_scenario(
//!     "doc.toml",
//!     "[tenant]\nsubscriptions = { ENTERPRISEPACK = 2 }\n[[users]]\nid = \"alice\"\nusage_location = \"US\"\ndirect = [\"ENTERPRISEPACK\"]\n",
//!     None,
//! )
//! .unwrap();
//! let m = scenarios::runner::run(&sc, scenarios::runner::RunOptions::new(1, 0)).metrics;
//! assert_eq!(m.consumption["ENTERPRISEPACK"].peak, 1);
//! ```

pub mod bench;
pub mod chart;
pub mod describe;
pub mod figures;
pub mod metrics;
pub mod model;
pub mod observer;
pub mod preflight;
pub mod report;
pub mod runner;
pub mod spec;
pub mod sweep;
