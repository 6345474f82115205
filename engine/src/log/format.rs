//! The `.simlog` layout: magic, format version, the limits a reader enforces, the header and
//! record types, frames (length, checksum, payload) and the errors of a bad file.

use crate::catalog::{Catalog, CatalogSpec};
use crate::codec;
use crate::event::TimedEvent;
use crate::sim::SimConfig;
use std::fmt;

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

#[inline]
pub(crate) fn checksum(payload: &[u8]) -> u32 {
    crate::hash::hash_bytes(payload) as u32
}

pub(crate) fn frame<T: bincode::Encode>(value: &T, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    codec::encode_into(value, out);
    let len = (out.len() - start - 8) as u32;
    let sum = checksum(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&sum.to_le_bytes());
}

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

pub(crate) fn decode_limited<T: bincode::Decode<()>>(bytes: &[u8]) -> Result<T, String> {
    let cfg = codec::config().with_limit::<MAX_HEADER_BYTES>();
    let (v, n) = bincode::decode_from_slice(bytes, cfg).map_err(|e| e.to_string())?;
    if n != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - n));
    }
    Ok(v)
}

/// Reads one frame at `pos`: (payload range, next position).
#[inline]
pub(crate) fn read_frame(
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
