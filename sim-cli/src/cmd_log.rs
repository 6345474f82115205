//! `licsim record`, `licsim replay` and `licsim inspect`.

use crate::{CmdResult, Failure, InspectFormat, exit};
use engine::catalog::Catalog;
use engine::log::{self, Filter, Header, LogWriter, Names, Stop};
use engine::prelude::*;
use scenarios::observer::Observer;
use scenarios::runner::RunOptions;
use std::path::Path;

/// The log writer as a plan-runner observer.
struct LogObserver(LogWriter);

impl Observer for LogObserver {
    fn on_events(&mut self, sim: &Sim, events: &[TimedEvent], after_input: bool) {
        self.0.observe(sim, events, after_input);
    }
}

/// Records one run: exactly the run `licsim run` makes for (seed, run index).
pub fn record(scenario: &Path, seed: Option<u64>, run: u64, output: &Path) -> CmdResult {
    let sc = crate::cmd_run::load(scenario)?;
    let seed = seed.unwrap_or(sc.seed);
    let config = scenarios::runner::sim_config(&sc, seed, run);
    let mut header = Header::new(&sc.name, &sc.catalog, &config);
    // A checkpoint hashes the whole state: space them with the tenant's size so that their cost
    // per event stays constant (at least 4,096 events, 4 per user).
    let users = sc.users.len() as u64 + sc.populations.iter().map(|p| p.count).sum::<u64>();
    header.checkpoint_every = header.checkpoint_every.max(4 * users);
    let mut obs = LogObserver(LogWriter::new(&header));
    let scenarios::runner::RunResult { metrics, sim } =
        scenarios::runner::run(&sc, RunOptions::new(seed, run).observed(&mut obs));
    let events = obs.0.events();
    let bytes = obs.0.finish(sim.now(), sim.state_hash());
    log::write_atomic(output, &bytes)
        .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", output.display())))?;
    say!(
        "{}: {} events, {} bytes ({} bytes/event), seed {seed} run {run}, end {}, final state hash {:016x}",
        output.display(),
        events,
        bytes.len(),
        bytes.len() as u64 / events.max(1),
        log::fmt_time(sim.now()),
        metrics.final_state_hash
    );
    for f in &metrics.expectation_failures {
        say!("  expectation failed: {f}");
    }
    Ok(exit::OK)
}

fn read(file: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(file).map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))
}

/// Parses `--at`: plain milliseconds or a duration such as "2h".
fn parse_at(s: &str) -> Result<u64, Failure> {
    scenarios::spec::parse_duration(s).map_err(Failure::bad_input)
}

pub fn replay(file: &Path, until: Option<u64>, at: Option<&str>, state: bool) -> CmdResult {
    let bytes = read(file)?;
    let stop = match (until, at) {
        (Some(n), _) => Stop::UntilEvent(n),
        (None, Some(t)) => Stop::AtTime(parse_at(t)?),
        _ => Stop::End,
    };
    let name = file.display();
    let r = log::replay(&bytes, stop).map_err(|e| Failure::bad_input(format!("{name}: {e}")))?;
    let partial = stop != Stop::End;
    if state {
        let v = r.sim.state_json();
        say!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| Failure::internal(e.to_string()))?
        );
    }
    let summary = format!(
        "{name}: scenario {} seed {} run {}: {} events replayed, {} checkpoints verified, at {}, state hash {:016x}",
        r.header.scenario_name,
        r.header.seed,
        r.header.run,
        r.events,
        r.checkpoints_verified,
        log::fmt_time(r.sim.now()),
        r.final_state_hash
    );
    if state {
        eprintln!("{summary}");
    } else {
        say!("{summary}");
    }
    if let Some(d) = &r.divergence {
        let names = load_names(&bytes);
        let cat = &r.sim.catalog().clone();
        let show = |e: &Option<TimedEvent>| match e {
            Some(e) => log::describe(d.index, e, &names, cat),
            None => "(none)".to_string(),
        };
        eprintln!(
            "divergence at event #{} (time {}): {}",
            d.index,
            log::fmt_time(d.time_ms),
            d.note
        );
        eprintln!("  expected: {}", show(&d.expected));
        eprintln!("  actual:   {}", show(&d.actual));
        return Ok(exit::DIVERGENCE);
    }
    if let Some(e) = &r.error {
        eprintln!(
            "licsim: {name}: {e}; the {} events before it replayed without divergence",
            r.events
        );
        return Ok(if partial { exit::OK } else { exit::BAD_INPUT });
    }
    if !partial {
        let ok = r.expected_final_hash == Some(r.final_state_hash);
        let line = format!(
            "final state hash matches the log's trailer: {}",
            if ok { "yes" } else { "no" }
        );
        if state {
            eprintln!("{line}");
        } else {
            say!("{line}");
        }
    }
    Ok(exit::OK)
}

fn load_names(bytes: &[u8]) -> Names {
    match log::read_log(bytes) {
        Ok(l) => Names::from_events(l.events()),
        Err(_) => Names::default(),
    }
}

pub fn inspect(
    file: &Path,
    format: InspectFormat,
    user: Option<&str>,
    group: Option<&str>,
) -> CmdResult {
    let bytes = read(file)?;
    let name = file.display();
    let log = log::read_log(&bytes).map_err(|e| Failure::bad_input(format!("{name}: {e}")))?;
    let cat = Catalog::build(log.header.catalog.clone())
        .map_err(|e| Failure::bad_input(format!("{name}: {e}")))?;
    let names = Names::from_events(log.events());
    if format == InspectFormat::Human {
        say!(
            "# {name}: scenario {}, seed {}, run {}, engine {}, catalogue {:016x}, {} records",
            log.header.scenario_name,
            log.header.seed,
            log.header.run,
            log.header.engine_version,
            log.header.catalog_fingerprint,
            log.records.len()
        );
    }
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // A name, or an index (`3` or `#3`); an unknown name selects no event.
    let filter = Filter::new(user, group, &names);
    for (i, e) in log.events().enumerate() {
        if !filter.matches_event(e, &names, &cat) {
            continue;
        }
        let line = match format {
            InspectFormat::Human => log::describe(i as u64, e, &names, &cat),
            InspectFormat::Jsonl => log::describe_json(i as u64, e, &names, &cat).to_string(),
        };
        if writeln!(out, "{line}").is_err() {
            return Ok(exit::OK); // a closed pipe (| head) is not an error
        }
    }
    let _ = out.flush();
    if let Some(e) = &log.error {
        eprintln!("licsim: {name}: {e}; the records before it are shown");
        return Ok(exit::BAD_INPUT);
    }
    Ok(exit::OK)
}
