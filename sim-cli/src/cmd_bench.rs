//! `licsim bench`: the capacity benchmark (ARCHITECTURE.md, "Performance targets"). The
//! workloads, measurements, targets and rendering are `scenarios::bench`; here: the options, the
//! counting allocator it reads heap bytes from, progress on stderr, the table on stdout and
//! `bench.json` / `bench.md`.

use crate::{CmdResult, Failure, exit};
use scenarios::bench::{self, ErrorKind, HeapMeter, render};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A smaller run for CI smoke use (under 30 s): sizes 1k,10k,100k, 1,000 seeds.
    #[arg(long)]
    pub quick: bool,
    /// Write bench.json and bench.md here (bench.md keeps what follows its notes marker).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Tenant sizes in users, comma-separated (default 1000,10000,100000,1000000).
    #[arg(long, value_delimiter = ',')]
    pub sizes: Option<Vec<u32>>,
    /// Seeds of the migration sweep (default 10,000; 1,000 with --quick).
    #[arg(long)]
    pub sweep_seeds: Option<u64>,
    /// Timed single runs of the migration (default 500; 100 with --quick).
    #[arg(long)]
    pub migration_runs: Option<u64>,
    /// Threads of the parallel sweep (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seed of the tenant workloads.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the logs are written (default: the system's temporary directory); removed after.
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
}

// ---- a counting allocator, off unless memory is being measured -------------------------------

struct Counting;

static TRACK: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

#[inline]
fn note(delta: i64) {
    if TRACK.load(Ordering::Relaxed) {
        let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
        if delta > 0 {
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as i64));
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The allocator's counters, as the benchmark reads them.
struct Heap;

impl HeapMeter for Heap {
    fn start(&self) {
        LIVE.store(0, Ordering::SeqCst);
        PEAK.store(0, Ordering::SeqCst);
        TRACK.store(true, Ordering::SeqCst);
    }
    fn stop(&self) {
        TRACK.store(false, Ordering::SeqCst);
    }
    fn live(&self) -> i64 {
        LIVE.load(Ordering::SeqCst)
    }
    fn peak(&self) -> i64 {
        PEAK.load(Ordering::SeqCst)
    }
}

// ---- the command ------------------------------------------------------------------------------

pub fn bench(args: BenchArgs) -> CmdResult {
    let mut opts = bench::Options::new(args.quick);
    if let Some(sizes) = args.sizes {
        opts.sizes = sizes;
    }
    if let Some(n) = args.sweep_seeds {
        opts.sweep_seeds = n;
    }
    if let Some(n) = args.migration_runs {
        opts.migration_runs = n;
    }
    opts.threads = args.threads;
    opts.seed = args.seed;
    if let Some(dir) = args.log_dir {
        opts.log_dir = dir;
    }
    let typed: Vec<String> = std::env::args().skip(1).collect();
    opts.command = format!("licsim {}", typed.join(" "));

    let report = bench::run(&opts, &Heap, &mut |line| eprintln!("{line}")).map_err(|e| {
        let status = match e.kind {
            ErrorKind::Input => exit::BAD_INPUT,
            ErrorKind::Divergence => exit::DIVERGENCE,
            ErrorKind::Internal => exit::INTERNAL,
        };
        Failure {
            status,
            message: e.message,
        }
    })?;
    say_raw!("{}", render::human(&report));
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::bad_input(format!("cannot create {}: {e}", dir.display())))?;
        let md_path = dir.join("bench.md");
        let old = std::fs::read_to_string(&md_path).unwrap_or_default();
        let json = serde_json::to_string_pretty(&render::to_json(&report))
            .map_err(|e| Failure::internal(e.to_string()))?;
        write(&dir.join("bench.json"), &format!("{json}\n"))?;
        write(
            &md_path,
            &render::to_markdown(&report, render::notes_of(&old)),
        )?;
    }
    Ok(exit::OK)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text)
        .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))
}
