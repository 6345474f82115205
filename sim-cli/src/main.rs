//! `licsim`: the command line of the licsim simulator (SPEC section 7). Thin: parsing, files,
//! progress and exit statuses; the work is in the `scenarios` and `engine` crates.

use clap::{Parser, Subcommand};

/// `println!` that ends the program quietly when stdout is closed (`licsim inspect x | head`).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}

/// `print!` with the same treatment of a closed stdout.
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stdout().lock(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}
use std::path::PathBuf;
use std::process::ExitCode;

mod cmd_bench;
mod cmd_catalog;
mod cmd_log;
mod cmd_run;
mod cmd_shard;
mod cmd_validate;
mod files;

/// Exit statuses (SPEC 7).
pub mod exit {
    pub const OK: u8 = 0;
    pub const EXPECTATION_FAILED: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const DIVERGENCE: u8 = 3;
    pub const INTERNAL: u8 = 4;
}

/// An error that ends the command with an exit status and a message on stderr.
#[derive(Debug)]
pub struct Failure {
    pub status: u8,
    pub message: String,
}

impl Failure {
    pub fn bad_input(m: impl Into<String>) -> Failure {
        Failure {
            status: exit::BAD_INPUT,
            message: m.into(),
        }
    }
    pub fn internal(m: impl Into<String>) -> Failure {
        Failure {
            status: exit::INTERNAL,
            message: m.into(),
        }
    }
}

pub type CmdResult = Result<u8, Failure>;

#[derive(Parser, Debug)]
#[command(
    name = "licsim",
    version,
    about = "Rehearse license migrations in Microsoft Entra ID (group-based licensing) before running them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InspectFormat {
    Human,
    Jsonl,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenarios under many seeds and report failures, consumption and loss of service.
    Run(cmd_run::RunArgs),
    /// Merge the parts of a sharded sweep (`run --shard K/N`) into the reports of one sweep.
    Merge(cmd_shard::MergeArgs),
    /// Record one run as a .simlog event log.
    Record {
        scenario: PathBuf,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, default_value_t = 0)]
        run: u64,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Replay a .simlog and verify every outcome and state hash.
    Replay {
        file: PathBuf,
        /// Stop after this many events.
        #[arg(long, conflicts_with = "at")]
        until: Option<u64>,
        /// Stop at this simulated time (ms, or a duration such as 2h).
        #[arg(long)]
        at: Option<String>,
        /// Print the state (Graph-shaped JSON) at the end.
        #[arg(long, value_parser = ["json"])]
        state: Option<String>,
    },
    /// Print the events of a .simlog, one per line.
    Inspect {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: InspectFormat,
        /// Only events involving this user: its id, or its index (`3` or `#3`).
        #[arg(long)]
        user: Option<String>,
        /// Only events involving this group: its id, or its index (`3` or `#3`).
        #[arg(long)]
        group: Option<String>,
    },
    /// Check a scenario without running it: parse, resolve names, and list the steps certain
    /// (or nearly) to fail, with the users affected and the fix (exit 0 when the file is valid;
    /// CI gates on `findings` in `--format json`).
    Validate {
        scenario: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// List the catalogue's SKUs, or one SKU's plans, with the rule sets.
    Catalog {
        sku: Option<String>,
        /// Rules profile: current or legacy.
        #[arg(long, default_value = "current")]
        rules: String,
        /// Another catalogue file in Microsoft's CSV layout.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Capacity benchmark (ARCHITECTURE.md, performance targets).
    Bench(cmd_bench::BenchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions { shell: clap_complete::Shell },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Run(args) => cmd_run::run(args),
        Command::Merge(args) => cmd_shard::merge(args),
        Command::Record {
            scenario,
            seed,
            run,
            output,
        } => cmd_log::record(&scenario, seed, run, &output),
        Command::Replay {
            file,
            until,
            at,
            state,
        } => cmd_log::replay(&file, until, at.as_deref(), state.is_some()),
        Command::Inspect {
            file,
            format,
            user,
            group,
        } => cmd_log::inspect(&file, format, user.as_deref(), group.as_deref()),
        Command::Validate { scenario, format } => cmd_validate::validate(&scenario, format),
        Command::Catalog { sku, rules, file } => {
            cmd_catalog::catalog(sku.as_deref(), &rules, file.as_deref())
        }
        Command::Bench(args) => cmd_bench::bench(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "licsim", &mut std::io::stdout());
            Ok(exit::OK)
        }
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("licsim: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}
