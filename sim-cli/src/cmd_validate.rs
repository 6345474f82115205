//! `licsim validate`: the scenario's pre-flight (`scenarios::preflight`), printed. Findings are
//! warnings: the exit status is 0 for a valid file and 2 for bad input; CI gates on the
//! `findings` of `--format json`.

use crate::{CmdResult, Failure, Format, exit};
use std::path::Path;

pub fn validate(path: &Path, format: Format) -> CmdResult {
    let sc = crate::cmd_run::load(path)?;
    let report = scenarios::preflight::preflight(&sc);
    match format {
        Format::Human => say_raw!("{}", report.to_text()),
        Format::Json => say!(
            "{}",
            serde_json::to_string_pretty(&report.to_json())
                .map_err(|e| Failure::internal(e.to_string()))?
        ),
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(exit::OK)
}
