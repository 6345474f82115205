//! Sweeps split across machines: shard K of N runs a fixed, contiguous block of the run indices
//! and writes its rows, in run order, to a part file; merging the N parts folds the rows into
//! one aggregate in run order, exactly as one machine would, so the reports are byte-identical.
//!
//! Partition: with R runs, shard K (0-based) of N runs `K*R/N .. (K+1)*R/N`.
//!
//! Part file (version 1): the magic `LICSIMPT`, a u32 format version (little endian), then
//! frames of (u32 length, u32 checksum, bincode payload): the [`PartHeader`], one [`RunRow`] per
//! run of the shard in run order, and the [`PartTrailer`]. The checksum of a frame hashes the
//! previous frame's checksum and the payload, so frames cannot be dropped, swapped or cut
//! without the reader noticing.

use super::RunRow;
use std::io::{Read, Write};
use std::ops::Range;

pub const MAGIC: &[u8; 8] = b"LICSIMPT";
pub const FORMAT_VERSION: u32 = 1;
/// Largest frame accepted (a row with its chart timelines is far smaller).
pub const MAX_FRAME: u32 = 256 << 20;

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The run indices of this shard among `runs`.
    pub fn range(&self, runs: u64) -> Range<u64> {
        let at = |k: u64| ((k as u128 * runs as u128) / self.count.max(1) as u128) as u64;
        at(self.index)..at(self.index + 1)
    }
}

/// Everything that must agree between the parts of one sweep.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct PartHeader {
    pub licsim_version: String,
    /// The scenario file as named on the command line (the merge reads it again).
    pub scenario_source: String,
    pub scenario_name: String,
    /// Hash of the scenario file's bytes and its catalogue (`scenario_fingerprint`).
    pub fingerprint: u64,
    pub seed: u64,
    pub runs: u64,
    pub shard: u64,
    pub shards: u64,
    pub check_invariants: bool,
    pub findings_run: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct PartTrailer {
    pub rows: u64,
}

/// The fingerprint of a scenario: its file's bytes and its catalogue.
pub fn scenario_fingerprint(file_bytes: &[u8], catalogue_fingerprint: u64) -> u64 {
    let mut h = engine::hash::StableHasher::new();
    h.bytes(file_bytes);
    h.word(catalogue_fingerprint);
    h.finish()
}

fn chain(prev: u32, payload: &[u8]) -> u32 {
    let mut h = engine::hash::StableHasher::new();
    h.word(prev as u64);
    h.bytes(payload);
    h.finish() as u32
}

/// Writes a part: the header, then rows as they come, then the trailer.
pub struct PartWriter<W: Write> {
    out: W,
    prev: u32,
    rows: u64,
}

impl<W: Write> PartWriter<W> {
    pub fn new(mut out: W, header: &PartHeader) -> std::io::Result<PartWriter<W>> {
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())?;
        let mut w = PartWriter {
            out,
            prev: 0,
            rows: 0,
        };
        w.frame(&engine::codec::encode(header))?;
        Ok(w)
    }

    fn frame(&mut self, payload: &[u8]) -> std::io::Result<()> {
        if payload.len() > MAX_FRAME as usize {
            return Err(std::io::Error::other(format!(
                "a row of {} bytes is larger than the part format's limit of {MAX_FRAME}",
                payload.len()
            )));
        }
        let sum = chain(self.prev, payload);
        self.out.write_all(&(payload.len() as u32).to_le_bytes())?;
        self.out.write_all(&sum.to_le_bytes())?;
        self.out.write_all(payload)?;
        self.prev = sum;
        Ok(())
    }

    pub fn row(&mut self, r: &RunRow) -> std::io::Result<()> {
        self.rows += 1;
        self.frame(&engine::codec::encode(r))
    }

    /// Writes the trailer; returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        let t = PartTrailer { rows: self.rows };
        self.frame(&engine::codec::encode(&t))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a part: the header at once, then the rows one at a time (the trailer is checked when
/// the rows end).
pub struct PartReader<R: Read> {
    input: R,
    name: String,
    prev: u32,
    offset: u64,
    pub header: PartHeader,
    rows: u64,
    done: bool,
}

impl<R: Read> PartReader<R> {
    /// `name` names the part in errors (its file).
    pub fn new(mut input: R, name: &str) -> Result<PartReader<R>, String> {
        let mut head = [0u8; 12];
        input
            .read_exact(&mut head)
            .map_err(|_| format!("{name}: not a licsim part (shorter than its header)"))?;
        if &head[..8] != MAGIC {
            return Err(format!("{name}: not a licsim part (bad magic)"));
        }
        let v = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if v != FORMAT_VERSION {
            return Err(format!(
                "{name}: part format version {v}, this licsim reads version {FORMAT_VERSION}"
            ));
        }
        let mut r = PartReader {
            input,
            name: name.to_string(),
            prev: 0,
            offset: 12,
            header: PartHeader {
                licsim_version: String::new(),
                scenario_source: String::new(),
                scenario_name: String::new(),
                fingerprint: 0,
                seed: 0,
                runs: 0,
                shard: 0,
                shards: 0,
                check_invariants: false,
                findings_run: None,
            },
            rows: 0,
            done: false,
        };
        let h = r.frame()?.ok_or_else(|| format!("{name}: no header"))?;
        r.header = engine::codec::decode_exact(&h)
            .map_err(|e| format!("{name}: header at byte 12: {e}"))?;
        Ok(r)
    }

    /// The next frame's payload, `None` at the end of the input.
    fn frame(&mut self) -> Result<Option<Vec<u8>>, String> {
        let at = self.offset;
        let mut h = [0u8; 8];
        match self.input.read_exact(&mut h[..1]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(format!("{}: at byte {at}: {e}", self.name)),
        }
        self.input
            .read_exact(&mut h[1..])
            .map_err(|_| format!("{}: cut at byte {at} (in a frame header)", self.name))?;
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let sum = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        if len > MAX_FRAME {
            return Err(format!(
                "{}: frame at byte {at} claims {len} bytes (limit {MAX_FRAME}): corrupt",
                self.name
            ));
        }
        let mut payload = vec![0u8; len as usize];
        self.input.read_exact(&mut payload).map_err(|_| {
            format!(
                "{}: cut at byte {at} (in a frame of {len} bytes)",
                self.name
            )
        })?;
        if chain(self.prev, &payload) != sum {
            return Err(format!(
                "{}: frame at byte {at} does not match its checksum: corrupt, or frames moved",
                self.name
            ));
        }
        self.prev = sum;
        self.offset += 8 + len as u64;
        Ok(Some(payload))
    }

    /// The next row; `Ok(None)` after the last, once the trailer has been checked.
    pub fn next_row(&mut self) -> Result<Option<RunRow>, String> {
        if self.done {
            return Ok(None);
        }
        let expected = self.expected_rows();
        let at = self.offset;
        let Some(bytes) = self.frame()? else {
            return Err(format!(
                "{}: ends after {} of {expected} rows without its trailer: cut short",
                self.name, self.rows
            ));
        };
        if self.rows == expected {
            let t: PartTrailer = engine::codec::decode_exact(&bytes)
                .map_err(|e| format!("{}: trailer at byte {at}: {e}", self.name))?;
            if t.rows != expected {
                return Err(format!(
                    "{}: trailer counts {} rows, the shard has {expected}",
                    self.name, t.rows
                ));
            }
            self.done = true;
            return Ok(None);
        }
        let row: RunRow = engine::codec::decode_exact(&bytes)
            .map_err(|e| format!("{}: row at byte {at}: {e}", self.name))?;
        let want = self.range().start + self.rows;
        if row.run != want {
            return Err(format!(
                "{}: row at byte {at} is run {}, expected run {want}",
                self.name, row.run
            ));
        }
        self.rows += 1;
        Ok(Some(row))
    }

    /// The run indices this part holds.
    pub fn range(&self) -> Range<u64> {
        Shard {
            index: self.header.shard,
            count: self.header.shards,
        }
        .range(self.header.runs)
    }

    fn expected_rows(&self) -> u64 {
        let r = self.range();
        r.end - r.start
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Checks that parts belong to one sweep and that each shard is there once; returns them in
/// shard order.
pub fn check_parts<R: Read>(mut parts: Vec<PartReader<R>>) -> Result<Vec<PartReader<R>>, String> {
    let Some(first) = parts.first() else {
        return Err("no parts to merge".into());
    };
    let h0 = first.header.clone();
    let n0 = first.name.clone();
    for p in &parts[1..] {
        let h = &p.header;
        let differs = [
            (h.licsim_version != h0.licsim_version, "licsim version"),
            (
                h.fingerprint != h0.fingerprint,
                "scenario (its file or catalogue)",
            ),
            (h.seed != h0.seed, "seed"),
            (h.runs != h0.runs, "number of runs"),
            (h.shards != h0.shards, "number of shards"),
            (h.check_invariants != h0.check_invariants, "--check"),
            (h.findings_run != h0.findings_run, "--findings-run"),
        ];
        if let Some((_, what)) = differs.iter().find(|(d, _)| *d) {
            return Err(format!(
                "{} and {n0} are parts of different sweeps: their {what} differ",
                p.name
            ));
        }
    }
    if h0.shards == 0 || h0.shard >= h0.shards {
        return Err(format!(
            "{n0}: shard {} of {} is not a shard",
            h0.shard, h0.shards
        ));
    }
    parts.sort_by_key(|p| p.header.shard);
    let mut seen: Vec<Option<&str>> = vec![None; h0.shards as usize];
    for p in &parts {
        let k = p.header.shard as usize;
        if k >= seen.len() {
            return Err(format!(
                "{}: shard {k} of {} is not a shard",
                p.name, h0.shards
            ));
        }
        if let Some(other) = seen[k] {
            return Err(format!("shard {k} is given twice: {other} and {}", p.name));
        }
        seen[k] = Some(&p.name);
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(k, _)| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard(s) {} of {} missing: every shard 0..{} must be merged",
            missing.join(", "),
            h0.shards,
            h0.shards - 1
        ));
    }
    Ok(parts)
}

/// Runs shard `header.shard` of `header.shards` of a sweep and writes its part to `out`.
pub fn run_part<W: Write>(
    sc: &crate::model::Scenario,
    opts: &super::SweepOptions<'_>,
    header: &PartHeader,
    out: W,
) -> std::io::Result<W> {
    let shard = Shard {
        index: header.shard,
        count: header.shards,
    };
    let mut w = PartWriter::new(out, header)?;
    let mut err: Option<std::io::Error> = None;
    super::run_range(sc, opts, shard.range(header.runs), &mut |r| {
        if err.is_none()
            && let Err(e) = w.row(&r)
        {
            err = Some(e);
        }
    });
    match err {
        Some(e) => Err(e),
        None => w.finish(),
    }
}

/// Merges the parts of one sweep (checked by [`check_parts`]) into the report one machine
/// would have written: the rows are folded in run order, then the report is finished as
/// `sweep` finishes it.
pub fn merge<R: Read>(
    sc: &crate::model::Scenario,
    parts: Vec<PartReader<R>>,
) -> Result<super::SweepReport, String> {
    let parts = check_parts(parts)?;
    let h = parts[0].header.clone();
    let mut agg = super::Aggregate::new(true);
    for mut p in parts {
        while let Some(row) = p.next_row()? {
            agg.add(row);
        }
    }
    Ok(super::finish(sc, h.seed, agg, h.findings_run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_runs_in_contiguous_blocks() {
        for runs in [0u64, 1, 7, 10, 10_000, 10_000_001] {
            for n in [1u64, 3, 7, 8] {
                let mut next = 0;
                for k in 0..n {
                    let r = Shard { index: k, count: n }.range(runs);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, runs);
            }
        }
    }
}
