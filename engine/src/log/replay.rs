//! Replay: a log's inputs are moved into a fresh engine and every outcome, checkpoint and the
//! trailer's state hash are compared as the engine produces them (streaming).

use super::format::{Header, LogError, LogErrorKind, MAX_TIME_MS, Record};
use super::reader::{Records, read_header};
use crate::catalog::Catalog;
use crate::event::*;
use crate::sim::Sim;
use std::sync::Arc;

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
