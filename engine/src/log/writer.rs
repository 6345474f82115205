//! Writing a log: [`LogWriter`] builds one in memory, [`Recorder`] drives a `Sim` and records
//! what it produces, [`write_atomic`] puts the bytes in a file.

use super::format::{FORMAT_VERSION, Header, MAGIC, Record, checksum, frame};
use crate::codec;
use crate::event::*;
use crate::sim::Sim;

/// Builds a log in memory.
pub struct LogWriter {
    buf: Vec<u8>,
    events: u64,
    inputs: u64,
    outcomes: u64,
    every: u64,
    last_checkpoint: u64,
}

impl LogWriter {
    pub fn new(header: &Header) -> LogWriter {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        frame(header, &mut buf);
        LogWriter {
            buf,
            events: 0,
            inputs: 0,
            outcomes: 0,
            every: header.checkpoint_every.max(1),
            last_checkpoint: 0,
        }
    }

    pub fn push(&mut self, e: &TimedEvent) {
        // Encode the event directly as `Record::Event` (variant 0) to avoid a clone.
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0u8; 8]);
        self.buf.push(0);
        codec::encode_into(e, &mut self.buf);
        let len = (self.buf.len() - start - 8) as u32;
        let sum = checksum(&self.buf[start + 8..]);
        self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.buf[start + 4..start + 8].copy_from_slice(&sum.to_le_bytes());
        self.events += 1;
        match e.event {
            Event::Input(_) => self.inputs += 1,
            Event::Outcome(_) => self.outcomes += 1,
        }
    }

    pub fn push_events(&mut self, events: &[TimedEvent]) {
        for e in events {
            self.push(e);
        }
    }

    /// Records the state hash after the events written so far. Call it only right after a
    /// `Sim::apply` whose events were all pushed: replay reproduces states there.
    pub fn checkpoint(&mut self, state_hash: u64) {
        frame(
            &Record::Checkpoint {
                events: self.events,
                state_hash,
            },
            &mut self.buf,
        );
        self.last_checkpoint = self.events;
    }

    /// Pushes a batch of events from the plan runner and checkpoints every `checkpoint_every`
    /// events at apply boundaries.
    pub fn observe(&mut self, sim: &Sim, events: &[TimedEvent], after_input: bool) {
        self.push_events(events);
        if after_input && self.events - self.last_checkpoint >= self.every {
            self.checkpoint(sim.state_hash());
        }
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn finish(mut self, end_time_ms: u64, final_state_hash: u64) -> Vec<u8> {
        let t = Record::Trailer {
            events: self.events,
            inputs: self.inputs,
            outcomes: self.outcomes,
            end_time_ms,
            final_state_hash,
        };
        frame(&t, &mut self.buf);
        self.buf
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "log".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Records a run driven through it: every event the engine produces goes into a [`LogWriter`],
/// with a state-hash checkpoint every `checkpoint_every` events at an apply boundary.
///
/// ```
/// use engine::prelude::*;
/// use engine::log::{Header, Recorder, Stop};
/// let cat = std::sync::Arc::new(Catalog::builtin(RulesProfile::Current));
/// let mut sim = Sim::new(cat.clone(), SimConfig::default());
/// let mut rec = Recorder::new(&Header::new("doc", &cat, sim.config()));
/// rec.apply(&mut sim, 0, Input::CreateUser { name: "alice".into(), usage_location: None,
///     proxy_addresses: vec![], attributes: vec![] }).unwrap();
/// rec.advance_to(&mut sim, HOUR);
/// let bytes = rec.finish(&sim);
/// let r = engine::log::replay(&bytes, Stop::End).unwrap();
/// assert!(r.final_verified && r.divergence.is_none());
/// ```
pub struct Recorder {
    writer: LogWriter,
    buf: Vec<TimedEvent>,
}

impl Recorder {
    pub fn new(header: &Header) -> Recorder {
        Recorder {
            writer: LogWriter::new(header),
            buf: Vec::new(),
        }
    }
    /// A recorder for `sim` (which must not have run yet), with the default checkpoint interval.
    pub fn for_sim(scenario_name: &str, sim: &Sim) -> Recorder {
        Recorder::new(&Header::new(scenario_name, sim.catalog(), sim.config()))
    }
    fn drain(&mut self, sim: &mut Sim, after_input: bool) {
        sim.drain_events_into(&mut self.buf);
        self.writer.observe(sim, &self.buf, after_input);
        self.buf.clear();
    }
    /// `sim.apply(t, input)`, recorded.
    pub fn apply(&mut self, sim: &mut Sim, t: u64, input: Input) -> Result<(), Rejection> {
        let r = sim.apply(t, input);
        self.drain(sim, true);
        r
    }
    /// `sim.advance_to(t)`, recorded.
    pub fn advance_to(&mut self, sim: &mut Sim, t: u64) {
        sim.advance_to(t);
        self.drain(sim, false);
    }
    /// `sim.run_until_quiescent(limit)`, recorded.
    pub fn run_until_quiescent(&mut self, sim: &mut Sim, limit: u64) -> bool {
        let q = sim.run_until_quiescent(limit);
        self.drain(sim, false);
        q
    }
    pub fn writer(&self) -> &LogWriter {
        &self.writer
    }
    /// The finished log: the trailer holds `sim`'s clock and state hash.
    pub fn finish(mut self, sim: &Sim) -> Vec<u8> {
        if !sim.pending_events().is_empty() {
            self.writer.push_events(sim.pending_events());
        }
        self.writer.finish(sim.now(), sim.state_hash())
    }
}
