//! Reading a log: the header (checked), then the records one at a time ([`Records`]), each
//! checked against the records before it; [`read_log`] collects every good record.

use super::format::{
    FORMAT_VERSION, Header, LogError, LogErrorKind, MAGIC, MAX_HEADER_BYTES, MAX_RECORD_BYTES,
    MAX_TIME_MS, Record, decode_limited, read_frame,
};
use crate::event::*;

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
