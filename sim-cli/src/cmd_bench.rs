//! `licsim bench`: the capacity benchmark.

use crate::{CmdResult, Failure};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A smaller run for CI smoke use (under 30 s).
    #[arg(long)]
    pub quick: bool,
    /// Write bench.json and bench.md here.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

pub fn bench(_args: BenchArgs) -> CmdResult {
    Err(Failure::internal("`bench` is not implemented yet"))
}
