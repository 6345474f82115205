//! `licsim run` and `licsim validate`.

use crate::{CmdResult, Failure, Format};
use std::path::{Path, PathBuf};

pub fn run(
    _scenarios: &[PathBuf],
    _seeds: Option<u64>,
    _seed: Option<u64>,
    _threads: Option<usize>,
    _out: Option<&Path>,
    _format: Format,
) -> CmdResult {
    Err(Failure::internal("`run` is not implemented yet"))
}

pub fn validate(_scenario: &Path) -> CmdResult {
    Err(Failure::internal("`validate` is not implemented yet"))
}
