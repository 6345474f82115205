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
//! - [`format`](mod@format): the magic, format version, limits, [`Header`], [`Record`], frames
//!   and checksums, [`LogError`] (byte offset, last good record);
//! - [`writer`]: [`LogWriter`] (in memory; [`LogWriter::observe`] fits the plan runner's
//!   observer), [`Recorder`] (drives a `Sim` and records it), [`write_atomic`];
//! - [`reader`]: [`LogReader::open`] / [`Records`] (streaming), [`read_log`] / [`read_prefix`]
//!   (every good record and the error after them);
//! - [`replay`](mod@replay): [`replay()`] with a [`Stop`], giving a [`ReplayReport`] and the first
//!   [`Divergence`];
//! - [`inspect`]: [`Names`], [`describe`], [`describe_json`], [`involved`], [`Filter`].
//!
//! Record indices (`last good record #N`) count every record after the header, checkpoints
//! included; event indices (divergences, `Stop::UntilEvent`) count event records only.

pub mod format;
pub mod inspect;
pub mod reader;
pub mod replay;
pub mod writer;

pub use format::{
    CHECKPOINT_EVERY, FORMAT_VERSION, Header, LogError, LogErrorKind, MAGIC, MAX_HEADER_BYTES,
    MAX_RECORD_BYTES, MAX_TIME_MS, Record,
};
pub use inspect::{Filter, Involved, Names, describe, describe_json, fmt_time, involved};
pub use reader::{Log, LogReader, Records, decode_count, read_header, read_log, read_prefix};
pub use replay::{Divergence, ReplayReport, Stop, replay};
pub use writer::{LogWriter, Recorder, write_atomic};
