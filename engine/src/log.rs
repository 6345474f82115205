//! The `.simlog` event log: record, read, replay and verify a run, byte for byte (SPEC 4, 11).
//!
//! Layout (format version 1, all integers little endian):
//! ```text
//! b"LICSIMLG"  u32 format_version
//! frame(Header)                       header: engine version, seed, run, scenario, catalogue
//!                                     fingerprint, the catalogue itself, the SimConfig,
//!                                     the checkpoint interval
//! frame(Record)*                      Event(TimedEvent) | Checkpoint{events, state_hash}
//! frame(Record::Trailer)              counts, end time, final state hash
//! frame := u32 payload_len, u32 checksum (low 32 bits of hash::hash_bytes(payload)), payload
//! ```
//! Payloads are bincode with `codec::config()`. A frame's length is checked against its limit
//! ([`MAX_HEADER_BYTES`], [`MAX_RECORD_BYTES`]) before anything is read, and payloads are decoded
//! with a bincode limit, so a corrupt file never makes the reader allocate more than 64 MiB at
//! once. A record that decodes is checked against the records before it (times never go back nor
//! past [`MAX_TIME_MS`], a checkpoint counts the events before it, the trailer counts them all).
//!
//! - write: [`LogWriter`] (in memory; [`LogWriter::observe`] fits the plan runner's observer),
//!   [`Recorder`] (drives a `Sim` and records it), [`write_atomic`];
//! - read: [`LogReader::open`] / [`Records`] (streaming), [`read_log`] / [`read_prefix`] (every
//!   good record and the error after them), [`LogError`] (byte offset, last good record);
//! - replay: [`replay`] with a [`Stop`], giving a [`ReplayReport`] and the first [`Divergence`];
//! - inspect: [`Names`], [`describe`], [`describe_json`], [`involved`], [`Filter`].
//!
//! Record indices (`last good record #N`) count every record after the header, checkpoints
//! included; event indices (divergences, `Stop::UntilEvent`) count event records only.

use crate::catalog::{Catalog, CatalogSpec};
use crate::codec;
use crate::event::*;
use crate::sim::{Sim, SimConfig};
use std::fmt;
use std::sync::Arc;

pub const MAGIC: &[u8; 8] = b"LICSIMLG";
pub const FORMAT_VERSION: u32 = 1;
pub const MAX_HEADER_BYTES: usize = 64 << 20;
pub const MAX_RECORD_BYTES: usize = 16 << 20;
/// Default number of events between state-hash checkpoints.
pub const CHECKPOINT_EVERY: u64 = 4096;
/// The latest simulated time a log may hold (2^45 ms, about 1,100 years). Larger times, and
/// durations in the header's `SimConfig` over this bound, are refused as corrupt: the engine adds
/// delays to the clock, and the bound keeps every such sum far from overflowing.
pub const MAX_TIME_MS: u64 = 1 << 45;

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Header {
    pub engine_version: String,
    pub seed: u64,
    pub run: u64,
    pub scenario_name: String,
    pub catalog_fingerprint: u64,
    pub catalog: CatalogSpec,
    pub config: SimConfig,
    pub checkpoint_every: u64,
}

impl Header {
    pub fn new(scenario_name: &str, catalog: &Catalog, config: &SimConfig) -> Header {
        Header {
            engine_version: crate::ENGINE_VERSION.to_string(),
            seed: config.seed,
            run: config.run,
            scenario_name: scenario_name.to_string(),
            catalog_fingerprint: catalog.fingerprint(),
            catalog: catalog.spec.clone(),
            config: config.clone(),
            checkpoint_every: CHECKPOINT_EVERY,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum Record {
    Event(TimedEvent),
    /// The state hash after the first `events` events (always at an apply boundary).
    Checkpoint {
        events: u64,
        state_hash: u64,
    },
    Trailer {
        events: u64,
        inputs: u64,
        outcomes: u64,
        end_time_ms: u64,
        final_state_hash: u64,
    },
}

// ---- writing -----------------------------------------------------------------------------------

fn checksum(payload: &[u8]) -> u32 {
    crate::hash::hash_bytes(payload) as u32
}

fn frame<T: bincode::Encode>(value: &T, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    codec::encode_into(value, out);
    let len = (out.len() - start - 8) as u32;
    let sum = checksum(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&sum.to_le_bytes());
}

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

// ---- reading -----------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogErrorKind {
    BadMagic,
    NewerFormat(u32),
    Truncated,
    /// A frame length over the limit (the header's or a record's).
    TooLarge {
        len: u64,
        limit: u64,
    },
    Checksum,
    Decode(String),
    CatalogMismatch,
    /// Records after the trailer.
    TrailingData,
    /// A well-formed record whose content cannot be right: a time or duration over
    /// [`MAX_TIME_MS`], a checkpoint or trailer whose counts disagree with the records before it.
    Inconsistent(String),
}

/// A problem in a log file, with the byte offset and the last record that was good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogError {
    pub offset: u64,
    /// Index (0-based, counting every record after the header) of the last good record.
    pub last_good_record: Option<u64>,
    pub kind: LogErrorKind,
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            LogErrorKind::BadMagic => "not a .simlog file (bad magic)".to_string(),
            LogErrorKind::NewerFormat(v) => {
                format!("format version {v} is newer than this licsim ({FORMAT_VERSION})")
            }
            LogErrorKind::Truncated => "truncated record".to_string(),
            LogErrorKind::TooLarge { len, limit } => {
                format!("frame length {len} is over the limit of {limit} bytes")
            }
            LogErrorKind::Checksum => "checksum mismatch".to_string(),
            LogErrorKind::Decode(m) => format!("undecodable record ({m})"),
            LogErrorKind::CatalogMismatch => {
                "the catalogue does not match its fingerprint".to_string()
            }
            LogErrorKind::TrailingData => "data after the trailer".to_string(),
            LogErrorKind::Inconsistent(m) => format!("inconsistent record ({m})"),
        };
        write!(f, "{what} at byte {}", self.offset)?;
        match self.last_good_record {
            Some(i) => write!(f, " (last good record #{i})"),
            None => write!(f, " (no good record)"),
        }
    }
}

impl std::error::Error for LogError {}

/// A decoded log: the header, the good records, and the error that ended reading, if any.
#[derive(Clone, Debug)]
pub struct Log {
    pub header: Header,
    pub records: Vec<Record>,
    /// Byte offset of each record.
    pub offsets: Vec<u64>,
    pub error: Option<LogError>,
}

impl Log {
    /// Whether the log ends with its trailer and nothing is wrong.
    pub fn complete(&self) -> bool {
        self.error.is_none() && matches!(self.records.last(), Some(Record::Trailer { .. }))
    }
    pub fn events(&self) -> impl Iterator<Item = &TimedEvent> {
        self.records.iter().filter_map(|r| match r {
            Record::Event(e) => Some(e),
            _ => None,
        })
    }
}

fn decode_limited<T: bincode::Decode<()>>(bytes: &[u8]) -> Result<T, String> {
    let cfg = codec::config().with_limit::<MAX_HEADER_BYTES>();
    let (v, n) = bincode::decode_from_slice(bytes, cfg).map_err(|e| e.to_string())?;
    if n != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - n));
    }
    Ok(v)
}

/// Reads one frame at `pos`: (payload range, next position).
fn read_frame(
    bytes: &[u8],
    pos: usize,
    limit: usize,
    last_good: Option<u64>,
) -> Result<(usize, usize), LogError> {
    let err = |offset: usize, kind| LogError {
        offset: offset as u64,
        last_good_record: last_good,
        kind,
    };
    let Some(head) = bytes.get(pos..pos + 8) else {
        return Err(err(pos, LogErrorKind::Truncated));
    };
    let len = u32::from_le_bytes(head[0..4].try_into().expect("4 bytes")) as usize;
    let sum = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
    if len > limit {
        return Err(err(
            pos,
            LogErrorKind::TooLarge {
                len: len as u64,
                limit: limit as u64,
            },
        ));
    }
    let Some(payload) = bytes.get(pos + 8..pos + 8 + len) else {
        return Err(err(pos, LogErrorKind::Truncated));
    };
    if checksum(payload) != sum {
        return Err(err(pos, LogErrorKind::Checksum));
    }
    Ok((pos + 8, pos + 8 + len))
}

/// Reads the magic, version and header; returns the header and the offset of the first record.
pub fn read_header(bytes: &[u8]) -> Result<(Header, usize), LogError> {
    let err = |offset: usize, kind| LogError {
        offset: offset as u64,
        last_good_record: None,
        kind,
    };
    if bytes.len() < 12 {
        let n = bytes.len().min(8);
        let truncated = !bytes.is_empty() && bytes[..n] == MAGIC[..n];
        let kind = if truncated {
            LogErrorKind::Truncated
        } else {
            LogErrorKind::BadMagic
        };
        return Err(err(n, kind));
    }
    if &bytes[0..8] != MAGIC {
        return Err(err(0, LogErrorKind::BadMagic));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version > FORMAT_VERSION || version == 0 {
        return Err(err(8, LogErrorKind::NewerFormat(version)));
    }
    let (start, end) = read_frame(bytes, 12, MAX_HEADER_BYTES, None)?;
    let header: Header =
        decode_limited(&bytes[start..end]).map_err(|m| err(12, LogErrorKind::Decode(m)))?;
    check_header(&header).map_err(|m| err(12, LogErrorKind::Inconsistent(m)))?;
    Ok((header, end))
}

/// Refuses a header that decodes but cannot come from a recording: durations over
/// [`MAX_TIME_MS`] (the engine adds them to its clock) or a seed that is not the config's.
fn check_header(h: &Header) -> Result<(), String> {
    let env = &h.config.environment;
    let latency = match env.processing_latency {
        crate::dist::Latency::Fixed { value_ms } => [value_ms, 0],
        crate::dist::Latency::Uniform { min_ms, max_ms } => [min_ms, max_ms],
        crate::dist::Latency::LogNormal { median_ms, p99_ms } => [median_ms, p99_ms],
    };
    let durations = [
        ("queue_delay_ms", env.queue_delay_ms),
        ("processing_latency", latency[0].max(latency[1])),
        (
            "dynamic_evaluation_delay_ms",
            env.dynamic_evaluation_delay_ms,
        ),
        ("sync_interval_ms", env.sync_interval_ms),
        ("sync_phase_ms", env.sync_phase_ms),
        ("concurrency_window_ms", env.concurrency_window_ms),
        ("retry_delay_ms", env.retry_delay_ms),
    ];
    if let Some((name, v)) = durations.iter().find(|(_, v)| *v > MAX_TIME_MS) {
        return Err(format!(
            "environment {name} = {v} ms is over the limit of {MAX_TIME_MS} ms"
        ));
    }
    if (h.seed, h.run) != (h.config.seed, h.config.run) {
        return Err(format!(
            "header seed {} run {} differ from the config's seed {} run {}",
            h.seed, h.run, h.config.seed, h.config.run
        ));
    }
    Ok(())
}

/// Reads the records after the header one at a time (a streaming reader: replay holds only the
/// events it has not matched yet). After the trailer, an error or the end, it yields `None`; a
/// missing trailer is reported as a truncation.
pub struct Records<'a> {
    bytes: &'a [u8],
    pos: usize,
    count: u64,
    trailer_seen: bool,
    done: bool,
    /// Event, input and outcome records so far, and the time of the last event.
    events: u64,
    inputs: u64,
    outcomes: u64,
    last_time: u64,
}

impl<'a> Records<'a> {
    /// Records of a log whose header ends at `pos` (see [`read_header`]).
    pub fn new(bytes: &'a [u8], pos: usize) -> Records<'a> {
        Records {
            bytes,
            pos,
            count: 0,
            trailer_seen: false,
            done: false,
            events: 0,
            inputs: 0,
            outcomes: 0,
            last_time: 0,
        }
    }
    fn last_good(&self) -> Option<u64> {
        self.count.checked_sub(1)
    }
    /// Byte offset of the next record.
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }
    /// Records read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Checks a decoded record against the records before it, and counts it.
    fn admit(&mut self, record: &Record) -> Result<(), String> {
        match record {
            Record::Event(e) => {
                if e.time_ms > MAX_TIME_MS {
                    return Err(format!(
                        "event time {} ms is over the limit of {MAX_TIME_MS} ms",
                        e.time_ms
                    ));
                }
                if e.time_ms < self.last_time {
                    return Err(format!(
                        "event time {} ms is before the previous event's {} ms",
                        e.time_ms, self.last_time
                    ));
                }
                self.last_time = e.time_ms;
                self.events += 1;
                match e.event {
                    Event::Input(_) => self.inputs += 1,
                    Event::Outcome(_) => self.outcomes += 1,
                }
            }
            Record::Checkpoint { events, .. } => {
                if *events != self.events {
                    return Err(format!(
                        "a checkpoint after {events} events follows {} events",
                        self.events
                    ));
                }
            }
            Record::Trailer {
                events,
                inputs,
                outcomes,
                end_time_ms,
                ..
            } => {
                if (*events, *inputs, *outcomes) != (self.events, self.inputs, self.outcomes) {
                    return Err(format!(
                        "the trailer counts {events} events ({inputs} inputs, {outcomes} outcomes), the log holds {} ({} inputs, {} outcomes)",
                        self.events, self.inputs, self.outcomes
                    ));
                }
                if *end_time_ms > MAX_TIME_MS || *end_time_ms < self.last_time {
                    return Err(format!(
                        "end time {end_time_ms} ms is not between the last event's {} ms and {MAX_TIME_MS} ms",
                        self.last_time
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Iterator for Records<'_> {
    /// (byte offset, record), or the error that ends the log.
    type Item = Result<(u64, Record), LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let pos = self.pos;
        let fail = |kind, last_good| LogError {
            offset: pos as u64,
            last_good_record: last_good,
            kind,
        };
        if pos >= self.bytes.len() {
            self.done = true;
            return if self.trailer_seen {
                None
            } else {
                Some(Err(fail(LogErrorKind::Truncated, self.last_good())))
            };
        }
        if self.trailer_seen {
            self.done = true;
            return Some(Err(fail(LogErrorKind::TrailingData, self.last_good())));
        }
        let r = read_frame(self.bytes, pos, MAX_RECORD_BYTES, self.last_good()).and_then(
            |(start, end)| {
                decode_limited::<Record>(&self.bytes[start..end])
                    .map(|r| (r, end))
                    .map_err(|m| fail(LogErrorKind::Decode(m), self.last_good()))
            },
        );
        let r = r.and_then(|(record, end)| {
            self.admit(&record)
                .map(|()| (record, end))
                .map_err(|m| fail(LogErrorKind::Inconsistent(m), self.last_good()))
        });
        match r {
            Ok((record, end)) => {
                self.pos = end;
                self.count += 1;
                self.trailer_seen = matches!(record, Record::Trailer { .. });
                Some(Ok((pos as u64, record)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Reads a whole log; an error in the records keeps every good record before it.
pub fn read_log(bytes: &[u8]) -> Result<Log, LogError> {
    let (header, pos) = read_header(bytes)?;
    let mut records = Vec::new();
    let mut offsets = Vec::new();
    let mut error = None;
    for r in Records::new(bytes, pos) {
        match r {
            Ok((offset, record)) => {
                offsets.push(offset);
                records.push(record);
            }
            Err(e) => error = Some(e),
        }
    }
    Ok(Log {
        header,
        records,
        offsets,
        error,
    })
}

/// A streaming reader: the header, then the records one at a time.
pub struct LogReader;

impl LogReader {
    /// Checks the magic, the format version and the header; the iterator yields
    /// `(byte offset, record)` and ends with the error that stops the log, if any.
    pub fn open(bytes: &[u8]) -> Result<(Header, Records<'_>), LogError> {
        let (header, pos) = read_header(bytes)?;
        Ok((header, Records::new(bytes, pos)))
    }
}

/// Reads what is good in a log: the header, every record before the first error, and that error.
pub fn read_prefix(bytes: &[u8]) -> Result<(Header, Vec<Record>, Option<LogError>), LogError> {
    let log = read_log(bytes)?;
    Ok((log.header, log.records, log.error))
}

/// Counts the events of a log by decoding every record (the codec floor of replay).
pub fn decode_count(bytes: &[u8]) -> Result<u64, LogError> {
    let (_, pos) = read_header(bytes)?;
    let mut n = 0;
    for r in Records::new(bytes, pos) {
        if let Record::Event(_) = r?.1 {
            n += 1;
        }
    }
    Ok(n)
}

// ---- replay ------------------------------------------------------------------------------------

/// Where a replay stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    End,
    /// After the first apply that reaches this many events.
    UntilEvent(u64),
    /// Before the first input after this simulated time, with the engine advanced to it.
    AtTime(u64),
}

/// The first event where a replay differs from its log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// 0-based index among the log's events.
    pub index: u64,
    pub time_ms: u64,
    pub expected: Option<TimedEvent>,
    pub actual: Option<TimedEvent>,
    pub note: String,
}

pub struct ReplayReport {
    pub sim: Sim,
    pub header: Header,
    /// Events replayed and matched.
    pub events: u64,
    pub checkpoints_verified: u64,
    pub final_state_hash: u64,
    /// The hash the trailer records, when the replay stopped at the trailer's end time (so that
    /// it can be compared with `final_state_hash`).
    pub expected_final_hash: Option<u64>,
    /// The replay reached the trailer's end time and every event, checkpoint and the final
    /// state hash matched.
    pub final_verified: bool,
    pub divergence: Option<Divergence>,
    /// Whether the log was complete (trailer, no error).
    pub complete: bool,
    pub error: Option<LogError>,
}

/// Replays a log: re-applies its inputs and checks every outcome and recorded hash. The log is
/// read as a stream: only the events not matched yet are held.
pub fn replay(bytes: &[u8], stop: Stop) -> Result<ReplayReport, LogError> {
    let (header, pos) = read_header(bytes)?;
    let cat = Catalog::build(header.catalog.clone()).map_err(|e| LogError {
        offset: 12,
        last_good_record: None,
        kind: LogErrorKind::Decode(e.to_string()),
    })?;
    if cat.fingerprint() != header.catalog_fingerprint {
        return Err(LogError {
            offset: 12,
            last_good_record: None,
            kind: LogErrorKind::CatalogMismatch,
        });
    }
    let sim = Sim::new(Arc::new(cat), header.config.clone());
    let mut r = Replayer {
        records: Records::new(bytes, pos),
        pending: std::collections::VecDeque::new(),
        checkpoints: std::collections::VecDeque::new(),
        trailer: None,
        error: None,
        eof: false,
        matched: 0,
        verified: 0,
        final_verified: false,
        at_trailer: false,
        produced: Vec::new(),
        sim,
    };
    let divergence = r.run(stop);
    let complete = r.trailer.is_some() && r.error.is_none();
    let mut sim = r.sim;
    sim.clear_events();
    // Verified against the trailer at its end time: that hash is the state's (no second walk
    // of a large tenant).
    let final_state_hash = match r.trailer {
        Some((_, h)) if r.at_trailer && r.final_verified => h,
        _ => sim.state_hash(),
    };
    Ok(ReplayReport {
        final_state_hash,
        sim,
        header,
        events: r.matched,
        checkpoints_verified: r.verified,
        expected_final_hash: r.trailer.map(|t| t.1).filter(|_| r.at_trailer),
        final_verified: r.final_verified,
        divergence,
        complete,
        error: r.error,
    })
}

struct Replayer<'a> {
    records: Records<'a>,
    /// Logged events read and not yet matched, in order.
    pending: std::collections::VecDeque<TimedEvent>,
    checkpoints: std::collections::VecDeque<(u64, u64)>,
    /// (end time, final state hash)
    trailer: Option<(u64, u64)>,
    error: Option<LogError>,
    eof: bool,
    matched: u64,
    verified: u64,
    /// The replay reached the trailer's end time with every event and its hash matching.
    final_verified: bool,
    /// The replay stopped at the trailer's end time and compared its hash.
    at_trailer: bool,
    /// Reused buffer of the events the engine produced.
    produced: Vec<TimedEvent>,
    sim: Sim,
}

impl Replayer<'_> {
    /// Reads one more record; false at the end of the log.
    fn read(&mut self) -> bool {
        if self.eof {
            return false;
        }
        match self.records.next() {
            Some(Ok((_, Record::Event(e)))) => self.pending.push_back(e),
            Some(Ok((_, Record::Checkpoint { events, state_hash }))) => {
                self.checkpoints.push_back((events, state_hash))
            }
            Some(Ok((
                _,
                Record::Trailer {
                    end_time_ms,
                    final_state_hash,
                    ..
                },
            ))) => self.trailer = Some((end_time_ms, final_state_hash)),
            Some(Err(e)) => {
                self.error = Some(e);
                self.eof = true;
            }
            None => self.eof = true,
        }
        !self.eof
    }

    /// Compares what the engine produced with the log, in order.
    fn compare(&mut self, allow_short: bool) -> Option<Divergence> {
        self.compare_after(0, allow_short)
    }

    /// [`Replayer::compare`], the first `skip` produced events left out (already matched).
    fn compare_after(&mut self, skip: usize, allow_short: bool) -> Option<Divergence> {
        let mut produced = std::mem::take(&mut self.produced);
        self.sim.drain_events_into(&mut produced);
        let d = self.compare_with(produced.drain(..).skip(skip), allow_short);
        self.produced = produced;
        d
    }

    /// The next logged event was not produced where the log has it (the engine produced
    /// nothing more before the next input's time).
    fn compare_missing(&mut self) -> Option<Divergence> {
        let x = self.pending.front().cloned()?;
        Some(Divergence {
            index: self.matched,
            time_ms: x.time_ms,
            expected: Some(x),
            actual: None,
            note: "the log holds an event the replay did not produce".into(),
        })
    }

    fn compare_with(
        &mut self,
        produced: impl Iterator<Item = TimedEvent>,
        allow_short: bool,
    ) -> Option<Divergence> {
        for e in produced {
            while self.pending.is_empty() && self.read() {}
            match self.pending.pop_front() {
                Some(x) if x == e => self.matched += 1,
                Some(x) => {
                    return Some(Divergence {
                        index: self.matched,
                        time_ms: x.time_ms,
                        expected: Some(x),
                        actual: Some(e),
                        note: "the replay produced a different event".into(),
                    });
                }
                None if allow_short || self.error.is_some() || self.trailer.is_none() => {
                    return None;
                }
                None => {
                    return Some(Divergence {
                        index: self.matched,
                        time_ms: e.time_ms,
                        expected: None,
                        actual: Some(e),
                        note: "the replay produced more events than the log holds".into(),
                    });
                }
            }
        }
        None
    }

    /// A divergence when the state hash is not the one the log recorded.
    fn hash_mismatch(&self, expected: u64, recorded_by: &str) -> Option<Divergence> {
        let h = self.sim.state_hash();
        (h != expected).then(|| Divergence {
            index: self.matched,
            time_ms: self.sim.now(),
            expected: None,
            actual: None,
            note: format!("state hash {h:016x} differs from {recorded_by} {expected:016x}"),
        })
    }

    fn check_hash(&mut self) -> Option<Divergence> {
        while let Some(&(events, hash)) = self.checkpoints.front() {
            if events > self.matched {
                break;
            }
            self.checkpoints.pop_front();
            if events == self.matched {
                if let Some(d) = self.hash_mismatch(hash, "the checkpoint's") {
                    return Some(d);
                }
                self.verified += 1;
            }
        }
        None
    }

    /// Runs one engine job due at or before `t` and compares what it produced; `Err(())` when
    /// no job is due.
    fn run_job(&mut self, t: u64) -> Result<Option<Divergence>, ()> {
        if self.sim.next_job_time().is_none_or(|at| at > t) {
            return Err(());
        }
        self.sim.run_next_job();
        Ok(self.compare(false))
    }

    /// Streams the log: each logged event is matched as the engine produces it, job by job, so
    /// neither the log's nor the engine's events pile up between two inputs (a group change on
    /// a million users is millions of events before the next input).
    fn run(&mut self, stop: Stop) -> Option<Divergence> {
        let stop = match stop {
            Stop::AtTime(t) => Stop::AtTime(t.min(MAX_TIME_MS)),
            s => s,
        };
        if stop == Stop::UntilEvent(0) {
            return None;
        }
        loop {
            while self.pending.is_empty() && self.read() {}
            let Some(front) = self.pending.front() else {
                break;
            };
            let time = front.time_ms;
            let is_input = matches!(front.event, Event::Input(_));
            if let Stop::AtTime(t) = stop
                && time > t
            {
                self.sim.advance_to(t);
                return self.compare(true);
            }
            if !is_input {
                // Engine work logged before the next input: the next due job must produce it.
                match self.run_job(time) {
                    Ok(None) => continue,
                    Ok(Some(d)) => return Some(d),
                    Err(()) => return self.compare_missing(),
                }
            }
            // The engine work due before the input must produce nothing (the log holds the input
            // next: anything produced is a divergence), then the input itself is handed to the
            // engine (moved, not cloned: the engine records it as it is).
            while let Ok(d) = self.run_job(time) {
                if d.is_some() {
                    return d;
                }
            }
            self.sim.advance_to(time);
            let Some(TimedEvent {
                event: Event::Input(input),
                ..
            }) = self.pending.pop_front()
            else {
                unreachable!("the front is an input")
            };
            let _ = self.sim.apply(time, input);
            // The engine's first event is the input it was handed: matched as it is.
            self.matched += 1;
            if let Some(d) = self.compare_after(1, false) {
                return Some(d);
            }
            // Checkpoints recorded right after this apply follow its events in the log.
            while self.pending.is_empty()
                && self.checkpoints.back().is_none_or(|c| c.0 < self.matched)
                && self.read()
            {}
            if let Some(d) = self.check_hash() {
                return Some(d);
            }
            if let Stop::UntilEvent(n) = stop
                && self.matched >= n
            {
                return None;
            }
        }
        // The end of the log: the trailer (or a truncation).
        while self.read() {}
        let Some((end, hash)) = self.trailer else {
            // A truncated log: check the engine work logged after the last input, then stop.
            let t = match stop {
                Stop::AtTime(t) => t,
                _ => match self.pending.back() {
                    Some(x) => x.time_ms,
                    None => return None,
                },
            };
            self.sim.advance_to(t);
            return self.compare(true);
        };
        if let Stop::AtTime(t) = stop
            && t < end
        {
            self.sim.advance_to(t);
            return self.compare(true);
        }
        self.sim.advance_to(end);
        if let Some(d) = self.compare(false) {
            return Some(d);
        }
        if let Some(x) = self.pending.pop_front() {
            return Some(Divergence {
                index: self.matched,
                time_ms: x.time_ms,
                expected: Some(x),
                actual: None,
                note: "the replay ended before this event".into(),
            });
        }
        self.at_trailer = true;
        if let Some(d) = self.hash_mismatch(hash, "the trailer's") {
            return Some(d);
        }
        self.final_verified = true;
        if let Stop::AtTime(t) = stop
            && t > end
        {
            // Past the end of the log: show the state then; nothing is left to compare.
            self.sim.advance_to(t);
            self.sim.clear_events();
            self.at_trailer = false;
        }
        None
    }
}

// ---- inspect -----------------------------------------------------------------------------------

/// Names of users and groups by dense index, folded from a log's events.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl Names {
    pub fn from_events<'a>(events: impl Iterator<Item = &'a TimedEvent>) -> Names {
        let mut n = Names::default();
        let mut pending_user = None;
        let mut pending_group = None;
        for e in events {
            match &e.event {
                Event::Input(Input::CreateUser { name, .. }) => pending_user = Some(name.clone()),
                Event::Input(Input::CreateGroup { name, .. }) => pending_group = Some(name.clone()),
                Event::Outcome(Outcome::UserCreated { user }) => {
                    if let Some(name) = pending_user.take() {
                        let i = *user as usize;
                        if n.users.len() <= i {
                            n.users.resize(i + 1, String::new());
                        }
                        n.users[i] = name;
                    }
                }
                Event::Outcome(Outcome::GroupCreated { group }) => {
                    if let Some(name) = pending_group.take() {
                        let i = *group as usize;
                        if n.groups.len() <= i {
                            n.groups.resize(i + 1, String::new());
                        }
                        n.groups[i] = name;
                    }
                }
                _ => {}
            }
        }
        n
    }
    pub fn user(&self, u: UserIdxT) -> String {
        self.users
            .get(u as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{u}"))
    }
    pub fn group(&self, g: GroupIdxT) -> String {
        self.groups
            .get(g as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{g}"))
    }
}

/// The `--user ID` / `--group ID` filters of `inspect`. An ID is a display name or a dense index
/// (`3` or `#3`); an event passes when it involves the user and the group asked for.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub user: Option<String>,
    pub group: Option<String>,
}

impl Filter {
    pub fn new(user: Option<&str>, group: Option<&str>, names: &Names) -> Filter {
        let resolve = |id: &str, known: &[String], name: &dyn Fn(u32) -> String| {
            if known.iter().any(|n| n == id) {
                return id.to_string();
            }
            match id.strip_prefix('#').unwrap_or(id).parse::<u32>() {
                Ok(i) => name(i),
                Err(_) => id.to_string(),
            }
        };
        Filter {
            user: user.map(|u| resolve(u, &names.users, &|i| names.user(i))),
            group: group.map(|g| resolve(g, &names.groups, &|i| names.group(i))),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.group.is_none()
    }
    /// Whether what an event involves (see [`involved`]) passes the filter.
    pub fn matches(&self, i: &Involved) -> bool {
        self.user.as_ref().is_none_or(|u| i.users.contains(u))
            && self.group.as_ref().is_none_or(|g| i.groups.contains(g))
    }
    /// Whether an event passes the filter.
    pub fn matches_event(&self, e: &TimedEvent, names: &Names, cat: &Catalog) -> bool {
        self.is_empty() || self.matches(&involved(e, names, cat))
    }
}

type UserIdxT = crate::UserIdx;
type GroupIdxT = crate::GroupIdx;

/// What an event involves: (kind, users, groups, SKUs, detail).
pub struct Involved {
    pub kind: String,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub skus: Vec<String>,
    pub detail: String,
}

/// Formats simulated time as `Dd HH:MM:SS.mmm`.
pub fn fmt_time(ms: u64) -> String {
    let s = ms / 1000;
    format!(
        "{}d {:02}:{:02}:{:02}.{:03}",
        s / 86_400,
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

pub fn involved(e: &TimedEvent, names: &Names, cat: &Catalog) -> Involved {
    let sku = |s: crate::SkuIdx| {
        cat.skus
            .get(s as usize)
            .map_or_else(|| format!("#{s}"), |x| x.part_number.clone())
    };
    let lic = |l: &[LicenseSpec]| -> Vec<String> { l.iter().map(|x| sku(x.sku)).collect() };
    let src = |s: &Source| match s {
        Source::Direct => "direct".to_string(),
        Source::Group(g) => format!("group {}", names.group(*g)),
    };
    let member = |m: &Member| match m {
        Member::User(u) => (Some(names.user(*u)), None),
        Member::Group(g) => (None, Some(names.group(*g))),
    };
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut skus = Vec::new();
    let mut detail = String::new();
    let kind;
    match &e.event {
        Event::Input(i) => {
            kind = format!("input {}", i.kind());
            match i {
                Input::CreateUser {
                    name,
                    usage_location,
                    ..
                } => {
                    users.push(name.clone());
                    detail = format!(
                        "usageLocation={}",
                        usage_location.map_or("none".into(), crate::catalog::loc_str)
                    );
                }
                Input::DeleteUser { user } | Input::ReprocessUser { user } => {
                    users.push(names.user(*user))
                }
                Input::SetUsageLocation { user, location } => {
                    users.push(names.user(*user));
                    detail = format!(
                        "location={}",
                        location.map_or("none".into(), crate::catalog::loc_str)
                    );
                }
                Input::SetProxyAddresses { user, addresses } => {
                    users.push(names.user(*user));
                    detail = addresses.join(",");
                }
                Input::SetAttribute { user, key, value } => {
                    users.push(names.user(*user));
                    detail = format!("{key}={}", value.as_deref().unwrap_or("(none)"));
                }
                Input::CreateGroup {
                    name,
                    rule,
                    members,
                    ..
                } => {
                    groups.push(name.clone());
                    for m in members {
                        let (u, g) = member(m);
                        users.extend(u);
                        groups.extend(g);
                    }
                    if let Some(r) = rule {
                        detail = format!("rule={r}");
                    }
                }
                Input::DeleteGroup { group } | Input::ReprocessGroup { group } => {
                    groups.push(names.group(*group))
                }
                Input::SetRule { group, rule } => {
                    groups.push(names.group(*group));
                    detail = format!("rule={}", rule.as_deref().unwrap_or("(static)"));
                }
                Input::AddMembers { group, members } | Input::RemoveMembers { group, members } => {
                    groups.push(names.group(*group));
                    for m in members {
                        let (u, g) = member(m);
                        users.extend(u);
                        groups.extend(g);
                    }
                }
                Input::AssignUserLicense { user, add, remove } => {
                    users.push(names.user(*user));
                    skus.extend(lic(add));
                    skus.extend(remove.iter().map(|s| sku(*s)));
                    detail = format!(
                        "add=[{}] remove=[{}]",
                        lic(add).join(","),
                        remove.iter().map(|s| sku(*s)).collect::<Vec<_>>().join(",")
                    );
                }
                Input::AssignGroupLicense { group, add, remove } => {
                    groups.push(names.group(*group));
                    skus.extend(lic(add));
                    skus.extend(remove.iter().map(|s| sku(*s)));
                    detail = format!(
                        "add=[{}] remove=[{}]",
                        lic(add).join(","),
                        remove.iter().map(|s| sku(*s)).collect::<Vec<_>>().join(",")
                    );
                }
                Input::Purchase { sku: s, units } => {
                    skus.push(sku(*s));
                    detail = format!("units={units}");
                }
                Input::SetUnits { sku: s, units } => {
                    skus.push(sku(*s));
                    detail = format!(
                        "enabled={} warning={} suspended={} lockedOut={}",
                        units.enabled, units.warning, units.suspended, units.locked_out
                    );
                }
                Input::DirectorySync => {}
                Input::Marker(m) => detail = format!("{m:?}"),
            }
        }
        Event::Outcome(o) => {
            let name = format!("{o:?}");
            kind = name
                .split([' ', '(', '{'])
                .next()
                .unwrap_or("outcome")
                .to_string();
            match o {
                Outcome::Rejected(r) => {
                    skus.extend(r.sku.map(sku));
                    let plans: Vec<&str> = r
                        .plans
                        .iter()
                        .filter_map(|p| cat.plans.get(*p as usize))
                        .map(|p| p.name.as_str())
                        .collect();
                    detail = format!("{} {}", r.error, plans.join(","));
                }
                Outcome::UserCreated { user } | Outcome::UserDeleted { user } => {
                    users.push(names.user(*user))
                }
                Outcome::GroupCreated { group } | Outcome::GroupDeleted { group } => {
                    groups.push(names.group(*group))
                }
                Outcome::PathSet {
                    user,
                    sku: s,
                    source,
                    state,
                    error,
                } => {
                    users.push(names.user(*user));
                    skus.push(sku(*s));
                    if let Source::Group(g) = source {
                        groups.push(names.group(*g));
                    }
                    detail = format!("{} {} {}", src(source), state.as_str(), error.as_str());
                }
                Outcome::PathRemoved {
                    user,
                    sku: s,
                    source,
                } => {
                    users.push(names.user(*user));
                    skus.push(sku(*s));
                    if let Source::Group(g) = source {
                        groups.push(names.group(*g));
                    }
                    detail = src(source);
                }
                Outcome::PathConverted {
                    user,
                    sku: s,
                    group,
                } => {
                    users.push(names.user(*user));
                    skus.push(sku(*s));
                    groups.push(names.group(*group));
                }
                Outcome::Consumed { sku: s, consumed } => {
                    skus.push(sku(*s));
                    detail = format!("consumedUnits={consumed}");
                }
                Outcome::ServiceLost { user, family }
                | Outcome::ServiceRestored { user, family } => {
                    users.push(names.user(*user));
                    detail = cat
                        .families
                        .get(*family as usize)
                        .cloned()
                        .unwrap_or_default();
                }
                Outcome::Membership {
                    group,
                    member: m,
                    added,
                } => {
                    groups.push(names.group(*group));
                    let (u, g) = member(m);
                    users.extend(u);
                    groups.extend(g);
                    detail = if *added {
                        "added".into()
                    } else {
                        "removed".into()
                    };
                }
                Outcome::GroupState { group, state } => {
                    groups.push(names.group(*group));
                    detail = state.as_str().to_string();
                }
                Outcome::Audit(a) => {
                    match a {
                        Audit::ChangeUserLicense {
                            user,
                            group,
                            result,
                        } => {
                            users.push(names.user(*user));
                            groups.extend(group.map(|g| names.group(g)));
                            detail = format!("{result:?}");
                        }
                        Audit::SetGroupLicense { group, result } => {
                            groups.push(names.group(*group));
                            detail = format!("{result:?}");
                        }
                        Audit::StartApplying { group } => groups.push(names.group(*group)),
                        Audit::FinishApplying {
                            group,
                            succeeded,
                            failed,
                        } => {
                            groups.push(names.group(*group));
                            detail = format!(
                                "Users successfully assigned licenses: {succeeded}, Users for whom license assignment failed: {failed}."
                            );
                        }
                    }
                    detail = format!("\"{}\" {detail}", a.activity());
                }
                Outcome::ConcurrencyRetry { user, group } => {
                    users.push(names.user(*user));
                    groups.push(names.group(*group));
                    detail = "LicenseAssignmentAttributeConcurrencyException".into();
                }
            }
        }
    }
    Involved {
        kind,
        users,
        groups,
        skus,
        detail,
    }
}

/// One human line for an event.
pub fn describe(index: u64, e: &TimedEvent, names: &Names, cat: &Catalog) -> String {
    let i = involved(e, names, cat);
    let mut parts = vec![format!(
        "#{index:<6} {} {:<28}",
        fmt_time(e.time_ms),
        i.kind
    )];
    if !i.users.is_empty() {
        parts.push(format!("user={}", i.users.join(",")));
    }
    if !i.groups.is_empty() {
        parts.push(format!("group={}", i.groups.join(",")));
    }
    if !i.skus.is_empty() && !i.detail.contains(&i.skus.join(",")) {
        parts.push(format!("sku={}", i.skus.join(",")));
    }
    if !i.detail.is_empty() {
        parts.push(i.detail);
    }
    parts.join(" ")
}

/// One JSON object for an event (for `inspect --format jsonl`).
pub fn describe_json(
    index: u64,
    e: &TimedEvent,
    names: &Names,
    cat: &Catalog,
) -> serde_json::Value {
    let i = involved(e, names, cat);
    serde_json::json!({"index": index, "time_ms": e.time_ms, "kind": i.kind, "users": i.users,
        "groups": i.groups, "skus": i.skus, "detail": i.detail})
}
