//! `licsim record`, `licsim replay` and `licsim inspect`.

use crate::{CmdResult, Failure, InspectFormat};
use std::path::Path;

pub fn record(_scenario: &Path, _seed: Option<u64>, _run: u64, _output: &Path) -> CmdResult {
    Err(Failure::internal("`record` is not implemented yet"))
}

pub fn replay(_file: &Path, _until: Option<u64>, _at: Option<&str>, _state: bool) -> CmdResult {
    Err(Failure::internal("`replay` is not implemented yet"))
}

pub fn inspect(
    _file: &Path,
    _format: InspectFormat,
    _user: Option<&str>,
    _group: Option<&str>,
) -> CmdResult {
    Err(Failure::internal("`inspect` is not implemented yet"))
}
