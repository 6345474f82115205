//! The `.simlog` format: byte-identical recording, replay and verification, golden bytes,
//! corruption handling and a fuzz-style test of the decoder.

use engine::log::{self, Header, LogErrorKind, LogWriter, Record, Stop};
use engine::prelude::*;
use proptest::prelude::*;
use std::sync::Arc;

/// A small deterministic run recorded through the library API: five users, E1 direct, a group
/// with E3 for all five but three seats (two `CountViolation`s), a rejected call on a missing
/// user. Uniform latency, so that the seed matters.
fn record(seed: u64) -> Vec<u8> {
    record_with(SimConfig {
        seed,
        ..SimConfig::default()
    })
}

fn record_with(config: SimConfig) -> Vec<u8> {
    let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
    let mut sim = Sim::new(cat.clone(), config.clone());
    let mut header = Header::new("small", &cat, &config);
    header.checkpoint_every = 4;
    // Pinned so that the golden bytes do not change with the crate's version.
    header.engine_version = "golden".into();
    let mut w = LogWriter::new(&header);
    let inputs = inputs(&cat);
    let mut t = 0;
    for i in inputs {
        let _ = sim.apply(t, i);
        let ev = sim.take_events();
        w.observe(&sim, &ev, true);
        t += 1000;
    }
    sim.run_until_quiescent(30 * DAY);
    let ev = sim.take_events();
    w.observe(&sim, &ev, false);
    w.finish(sim.now(), sim.state_hash())
}

/// The inputs of [`record`], one a second.
fn inputs(cat: &Catalog) -> Vec<Input> {
    let e3 = cat.sku_by_name("ENTERPRISEPACK").unwrap();
    let e1 = cat.sku_by_name("STANDARDPACK").unwrap();
    let mut inputs = vec![
        Input::SetUnits {
            sku: e3,
            units: PrepaidUnits {
                enabled: 3,
                ..Default::default()
            },
        },
        Input::SetUnits {
            sku: e1,
            units: PrepaidUnits {
                enabled: 5,
                ..Default::default()
            },
        },
    ];
    for i in 0..5 {
        inputs.push(Input::CreateUser {
            name: format!("u{i}"),
            usage_location: Some(*b"US"),
            proxy_addresses: vec![],
            attributes: vec![],
        });
    }
    inputs.push(Input::AssignUserLicense {
        user: 0,
        add: vec![LicenseSpec::new(e1)],
        remove: vec![],
    });
    inputs.push(Input::AssignUserLicense {
        user: 9,
        add: vec![LicenseSpec::new(e1)],
        remove: vec![],
    }); // rejected
    inputs.push(Input::CreateGroup {
        name: "g".into(),
        security_enabled: true,
        source: GroupSource::Cloud,
        rule: None,
        members: (0..5).map(Member::User).collect(),
        evaluate_now: false,
    });
    inputs.push(Input::AssignGroupLicense {
        group: 0,
        add: vec![LicenseSpec::new(e3)],
        remove: vec![],
    });
    inputs
}

#[test]
fn same_seed_same_bytes() {
    assert_eq!(record(3), record(3));
    assert_ne!(record(3), record(4));
}

#[test]
fn replay_matches_every_outcome_checkpoint_and_the_final_hash() {
    let bytes = record(3);
    let r = log::replay(&bytes, Stop::End).unwrap();
    assert!(r.divergence.is_none(), "{:?}", r.divergence);
    assert!(r.complete && r.error.is_none());
    assert!(r.checkpoints_verified >= 2, "{}", r.checkpoints_verified);
    assert_eq!(r.expected_final_hash, Some(r.final_state_hash));
    let log = log::read_log(&bytes).unwrap();
    assert_eq!(r.events, log.events().count() as u64);
    // Stopping early shows the state then.
    let early = log::replay(&bytes, Stop::AtTime(5_000)).unwrap();
    assert!(early.divergence.is_none());
    assert_eq!(early.sim.now(), 5_000);
    assert!(early.sim.state().users.len() < 5);
    let until = log::replay(&bytes, Stop::UntilEvent(10)).unwrap();
    assert!(until.divergence.is_none() && until.events >= 10);
}

/// Golden values, so that an accidental change fails CI:
/// - the first 64 bytes: magic, format version, the header frame's length and checksum, and the
///   start of the header (engine version pinned to "golden", scenario, seed, run, catalogue
///   fingerprint, catalogue). They change with the encoding (bincode configuration, the layout of
///   `Header` or `Record`) or the built-in catalogue;
/// - the final state hash: changes with the rules, their order, RNG sampling or `State::hash`;
/// - the hash of the whole log: changes with any of the above or any event.
///
/// Update them only deliberately, in the commit that makes the change, and bump
/// `engine::log::FORMAT_VERSION` whenever the encoding changed, so that an older licsim refuses
/// the new bytes ("format version N is newer") instead of misreading them.
#[test]
fn golden_state_hash_and_first_bytes() {
    let bytes = record(3);
    let hex: String = bytes[..64].iter().map(|b| format!("{b:02x}")).collect();
    // magic "LICSIMLG", format version 1, then the header frame (length, checksum, payload)
    assert_eq!(&hex[..24], "4c494353494d4c4701000000");
    assert_eq!(
        hex, GOLDEN_FIRST_64_BYTES,
        "log bytes changed: bump FORMAT_VERSION if the encoding changed"
    );
    assert_eq!(
        log::FORMAT_VERSION,
        1,
        "update the golden values with the version"
    );
    let r = log::replay(&bytes, Stop::End).unwrap();
    assert_eq!(
        format!("{:016x}", r.final_state_hash),
        GOLDEN_HASH,
        "state hash changed: update deliberately"
    );
    assert_eq!(
        format!("{:016x}", engine::hash::hash_bytes(&bytes)),
        GOLDEN_BYTES_HASH,
        "log bytes changed: events changed (rules, RNG) or the encoding did (bump FORMAT_VERSION)"
    );
}

const GOLDEN_HASH: &str = "dbceae6828829d32";
const GOLDEN_FIRST_64_BYTES: &str = "4c494353494d4c470100000050510000a92824e806676f6c64656e030005736d616c6cfd88b8c94eb8af71df00100b4141445f5052454d49554d243037386432";
const GOLDEN_BYTES_HASH: &str = "5c01963ee7b2b319";

#[test]
fn truncation_names_the_offset_and_keeps_the_good_prefix() {
    let bytes = record(3);
    let full = log::read_log(&bytes).unwrap();
    let first = full.offsets[0] as usize;
    for cut in [
        bytes.len() - 1,
        bytes.len() - 30,
        (bytes.len() + first) / 2,
        first + 5,
    ] {
        let log = log::read_log(&bytes[..cut]).unwrap();
        let e = log.error.clone().expect("an error");
        assert_eq!(e.kind, LogErrorKind::Truncated, "cut at {cut}");
        assert!(e.offset as usize <= cut);
        assert_eq!(
            e.last_good_record,
            log.records.len().checked_sub(1).map(|i| i as u64)
        );
        assert!(log.records.len() < full.records.len());
        assert!(e.to_string().contains("truncated record at byte"), "{e}");
        // The good prefix replays without divergence.
        let r = log::replay(&bytes[..cut], Stop::End).unwrap();
        assert!(r.divergence.is_none(), "cut {cut}: {:?}", r.divergence);
        assert!(!r.complete && r.error.is_some());
    }
}

#[test]
fn a_flipped_byte_is_a_checksum_error() {
    let bytes = record(3);
    let log = log::read_log(&bytes).unwrap();
    let at = log.offsets[10] as usize + 9; // inside record #10's payload
    let mut bad = bytes.clone();
    bad[at] ^= 0x40;
    let l = log::read_log(&bad).unwrap();
    let e = l.error.unwrap();
    assert_eq!(e.kind, LogErrorKind::Checksum);
    assert_eq!(e.offset, log.offsets[10]);
    assert_eq!(e.last_good_record, Some(9));
    assert_eq!(l.records.len(), 10);
}

#[test]
fn wrong_magic_and_newer_format_are_refused() {
    let mut bytes = record(3);
    bytes[0] = b'X';
    assert_eq!(
        log::read_log(&bytes).unwrap_err().kind,
        LogErrorKind::BadMagic
    );
    let mut bytes = record(3);
    bytes[8] = 2;
    let e = log::read_log(&bytes).unwrap_err();
    assert_eq!(e.kind, LogErrorKind::NewerFormat(2));
    assert!(e.to_string().contains("format version 2 is newer"), "{e}");
    assert_eq!(log::read_log(b"").unwrap_err().kind, LogErrorKind::BadMagic);
    assert_eq!(
        log::read_log(b"LICSIM").unwrap_err().kind,
        LogErrorKind::Truncated
    );
}

#[test]
fn an_edited_outcome_is_reported_as_the_first_divergence() {
    let bytes = record(3);
    let log = log::read_log(&bytes).unwrap();
    // Find the first PathSet outcome and change its state, re-framing the record.
    let (ri, idx) = log
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Record::Event(_)))
        .enumerate()
        .find(|(_, (_, r))| {
            matches!(
                r,
                Record::Event(TimedEvent {
                    event: Event::Outcome(Outcome::PathSet { .. }),
                    ..
                })
            )
        })
        .map(|(ei, (ri, _))| (ri, ei))
        .unwrap();
    let mut records = log.records.clone();
    if let Record::Event(TimedEvent {
        event: Event::Outcome(Outcome::PathSet { state, .. }),
        ..
    }) = &mut records[ri]
    {
        *state = PathState::ActiveWithError;
    }
    let mut out = bytes[..log.offsets[0] as usize].to_vec();
    for r in &records {
        let payload = engine::codec::encode(r);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&(engine::hash::hash_bytes(&payload) as u32).to_le_bytes());
        out.extend_from_slice(&payload);
    }
    let r = log::replay(&out, Stop::End).unwrap();
    let d = r.divergence.expect("a divergence");
    assert_eq!(d.index, idx as u64);
    assert!(matches!(
        d.actual,
        Some(TimedEvent {
            event: Event::Outcome(Outcome::PathSet {
                state: PathState::Active,
                ..
            }),
            ..
        })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn random_and_mutated_bytes_never_panic(seed in 0u64..4, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in any::<usize>(), junk in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = record(seed);
        for (at, v) in flips {
            let i = at % bytes.len();
            bytes[i] = v;
        }
        let cut = cut % (bytes.len() + 1);
        bytes.truncate(cut);
        let _ = log::read_log(&bytes);
        let _ = log::replay(&bytes, Stop::End);
        let _ = log::read_log(&junk);
        let mut j = b"LICSIMLG\x01\x00\x00\x00".to_vec();
        j.extend_from_slice(&junk);
        let _ = log::replay(&j, Stop::End);
    }
}

// ---- more of the contract --------------------------------------------------------------------

/// The same run with a fixed latency (the seed then changes nothing but the header).
fn fixed(seed: u64) -> Vec<u8> {
    let mut config = SimConfig {
        seed,
        ..SimConfig::default()
    };
    config.environment.processing_latency = Latency::Fixed { value_ms: 5_000 };
    record_with(config)
}

#[test]
fn fixed_latency_run_records_identically_and_replays() {
    let a = fixed(7);
    assert_eq!(a, fixed(7));
    let r = log::replay(&a, Stop::End).unwrap();
    assert!(r.divergence.is_none() && r.final_verified && r.complete);
    assert_eq!(r.expected_final_hash, Some(r.final_state_hash));
    // Rejections are outcomes in the log too.
    let l = log::read_log(&a).unwrap();
    assert!(
        l.events()
            .any(|e| matches!(e.event, Event::Outcome(Outcome::Rejected(_))))
    );
    // Seeds 7 and 8 differ only in the header: the records after it are identical.
    let b = fixed(8);
    let (pa, pb) = (
        l.offsets[0] as usize,
        log::read_log(&b).unwrap().offsets[0] as usize,
    );
    assert_eq!(a[pa..], b[pb..]);
}

#[test]
fn the_recorder_writes_what_the_writer_writes() {
    let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
    let config = SimConfig {
        seed: 3,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(cat.clone(), config.clone());
    let mut header = Header::new("small", &cat, &config);
    header.checkpoint_every = 4;
    header.engine_version = "golden".into();
    let mut rec = log::Recorder::new(&header);
    for (k, i) in inputs(&cat).into_iter().enumerate() {
        let _ = rec.apply(&mut sim, k as u64 * 1000, i);
    }
    rec.run_until_quiescent(&mut sim, 30 * DAY);
    assert_eq!(rec.finish(&sim), record(3));
}

#[test]
fn the_reader_streams_records_with_their_offsets() {
    let bytes = record(3);
    let full = log::read_log(&bytes).unwrap();
    assert!(full.complete());
    let (h, records) = log::LogReader::open(&bytes).unwrap();
    assert_eq!(h, full.header);
    assert_eq!(h.scenario_name, "small");
    assert_eq!(h.seed, 3);
    assert_eq!(
        h.catalog_fingerprint,
        Catalog::build(h.catalog.clone()).unwrap().fingerprint()
    );
    let got: Vec<(u64, Record)> = records.map(|r| r.unwrap()).collect();
    assert_eq!(got.len(), full.records.len());
    for (k, (off, rec)) in got.iter().enumerate() {
        assert_eq!(*off, full.offsets[k]);
        assert_eq!(*rec, full.records[k]);
    }
    // Every kind of record is there, the trailer last, with the right counts.
    assert!(
        got.iter()
            .any(|(_, r)| matches!(r, Record::Checkpoint { .. }))
    );
    let Record::Trailer {
        events,
        inputs,
        outcomes,
        ..
    } = got.last().unwrap().1
    else {
        panic!("no trailer");
    };
    assert_eq!(events, full.events().count() as u64);
    assert_eq!(events, inputs + outcomes);
    assert_eq!(log::decode_count(&bytes).unwrap(), events);
    let (h2, prefix, err) = log::read_prefix(&bytes).unwrap();
    assert_eq!((h2, prefix, err), (full.header, full.records, None));
}

#[test]
fn a_truncated_log_still_inspects_and_replays_until_an_event() {
    let bytes = record(3);
    let full = log::read_log(&bytes).unwrap();
    let cut = full.offsets[30] as usize + 3; // inside record #30's length prefix
    let (_, prefix, err) = log::read_prefix(&bytes[..cut]).unwrap();
    let err = err.unwrap();
    assert_eq!(prefix.len(), 30);
    assert_eq!(err.kind, LogErrorKind::Truncated);
    assert_eq!(err.offset, full.offsets[30]);
    assert_eq!(err.last_good_record, Some(29));
    assert_eq!(
        err.to_string(),
        format!(
            "truncated record at byte {} (last good record #29)",
            full.offsets[30]
        )
    );
    let r = log::replay(&bytes[..cut], Stop::UntilEvent(8)).unwrap();
    assert!(r.divergence.is_none() && !r.complete);
    assert!(r.events >= 8);
    assert_eq!(r.error.as_ref(), None, "the error lies beyond the stop");
    let whole = log::replay(&bytes, Stop::UntilEvent(8)).unwrap();
    assert_eq!(whole.final_state_hash, r.final_state_hash);
    assert_eq!(whole.events, r.events);
}

#[test]
fn stops_past_the_end_verify_the_trailer() {
    let bytes = record(3);
    let end = log::replay(&bytes, Stop::End).unwrap();
    let until = log::replay(&bytes, Stop::UntilEvent(u64::MAX)).unwrap();
    assert!(until.final_verified);
    assert_eq!(until.final_state_hash, end.final_state_hash);
    let at = log::replay(&bytes, Stop::AtTime(u64::MAX)).unwrap();
    assert!(at.final_verified && at.divergence.is_none());
    assert_eq!(at.sim.now(), log::MAX_TIME_MS);
    assert_eq!(
        at.expected_final_hash, None,
        "the state shown is later than the trailer's"
    );
}

/// Rebuilds a log from its header bytes and records, with valid frames.
fn reframe(bytes: &[u8], first: u64, records: &[Record]) -> Vec<u8> {
    let mut out = bytes[..first as usize].to_vec();
    for r in records {
        let payload = engine::codec::encode(r);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&(engine::hash::hash_bytes(&payload) as u32).to_le_bytes());
        out.extend_from_slice(&payload);
    }
    out
}

#[test]
fn a_wrong_checkpoint_hash_is_a_divergence_at_its_event() {
    let bytes = record(3);
    let log = log::read_log(&bytes).unwrap();
    let mut records = log.records.clone();
    let (k, at) = records
        .iter()
        .enumerate()
        .find_map(|(k, r)| match r {
            Record::Checkpoint { events, .. } if *events > 8 => Some((k, *events)),
            _ => None,
        })
        .unwrap();
    if let Record::Checkpoint { state_hash, .. } = &mut records[k] {
        *state_hash ^= 1;
    }
    let r = log::replay(&reframe(&bytes, log.offsets[0], &records), Stop::End).unwrap();
    let d = r.divergence.unwrap();
    assert_eq!(d.index, at);
    assert!(d.note.contains("checkpoint"), "{}", d.note);
    // The same for the trailer's hash.
    let mut records = log.records.clone();
    if let Some(Record::Trailer {
        final_state_hash, ..
    }) = records.last_mut()
    {
        *final_state_hash ^= 1;
    }
    let r = log::replay(&reframe(&bytes, log.offsets[0], &records), Stop::End).unwrap();
    let d = r.divergence.unwrap();
    assert!(d.note.contains("trailer"), "{}", d.note);
    assert!(!r.final_verified);
}

#[test]
fn records_that_disagree_with_each_other_are_refused() {
    let bytes = record(3);
    let log = log::read_log(&bytes).unwrap();
    let n = log.records.len();
    // A trailer that miscounts.
    let mut records = log.records.clone();
    if let Some(Record::Trailer { outcomes, .. }) = records.last_mut() {
        *outcomes += 1;
    }
    let l = log::read_log(&reframe(&bytes, log.offsets[0], &records)).unwrap();
    let e = l.error.unwrap();
    assert!(matches!(e.kind, LogErrorKind::Inconsistent(_)), "{e}");
    assert_eq!(
        (e.offset, e.last_good_record),
        (log.offsets[n - 1], Some(n as u64 - 2))
    );
    // A record after the trailer.
    let mut records = log.records.clone();
    records.push(records[0].clone());
    let l = log::read_log(&reframe(&bytes, log.offsets[0], &records)).unwrap();
    assert_eq!(l.error.unwrap().kind, LogErrorKind::TrailingData);
    // Time going back, and a time past the limit.
    for t in [0, log::MAX_TIME_MS + 1] {
        let mut records = log.records.clone();
        let k = records
            .iter()
            .rposition(|r| matches!(r, Record::Event(e) if e.time_ms > 0))
            .unwrap();
        if let Record::Event(e) = &mut records[k] {
            e.time_ms = t;
        }
        let l = log::read_log(&reframe(&bytes, log.offsets[0], &records)).unwrap();
        let e = l.error.unwrap();
        assert!(matches!(e.kind, LogErrorKind::Inconsistent(_)), "{e}");
        assert_eq!(e.last_good_record, Some(k as u64 - 1));
    }
}

#[test]
fn oversized_lengths_are_refused_before_allocating() {
    let bytes = record(3);
    let log = log::read_log(&bytes).unwrap();
    // The header's length.
    let mut bad = bytes.clone();
    bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = log::read_log(&bad).unwrap_err();
    assert_eq!(
        e.kind,
        LogErrorKind::TooLarge {
            len: u32::MAX as u64,
            limit: log::MAX_HEADER_BYTES as u64
        }
    );
    assert_eq!((e.offset, e.last_good_record), (12, None));
    // A record's length.
    let at = log.offsets[5] as usize;
    let mut bad = bytes.clone();
    bad[at..at + 4].copy_from_slice(&(log::MAX_RECORD_BYTES as u32 + 1).to_le_bytes());
    let e = log::read_log(&bad).unwrap().error.unwrap();
    assert!(matches!(e.kind, LogErrorKind::TooLarge { .. }));
    assert_eq!((e.offset, e.last_good_record), (at as u64, Some(4)));
    assert!(
        e.to_string().contains("over the limit of 16777216 bytes"),
        "{e}"
    );
}

#[test]
fn write_atomic_replaces_the_file_whole() {
    let dir = std::env::temp_dir().join(format!("licsim-log-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.simlog");
    std::fs::write(&path, b"old").unwrap();
    let bytes = record(3);
    log::write_atomic(&path, &bytes).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file is left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_describes_events_by_name_and_filters_them() {
    let bytes = record(3);
    let log = log::read_log(&bytes).unwrap();
    let cat = Catalog::build(log.header.catalog.clone()).unwrap();
    let names = log::Names::from_events(log.events());
    assert_eq!(names.users, ["u0", "u1", "u2", "u3", "u4"]);
    assert_eq!(names.groups, ["g"]);
    let lines: Vec<String> = log
        .events()
        .enumerate()
        .map(|(i, e)| log::describe(i as u64, e, &names, &cat))
        .collect();
    assert!(
        lines[0].starts_with("#0      0d 00:00:00.000 input "),
        "{}",
        lines[0]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ENTERPRISEPACK") && l.contains("group=g"))
    );
    let j = log::describe_json(0, log.events().next().unwrap(), &names, &cat);
    assert_eq!(j["time_ms"], 0);
    assert!(j["kind"].as_str().unwrap().starts_with("input"));
    // --user u3 by name or by index; --group g.
    for id in ["u3", "3", "#3"] {
        let f = log::Filter::new(Some(id), None, &names);
        let n = log
            .events()
            .filter(|e| f.matches_event(e, &names, &cat))
            .count();
        assert!(n >= 3, "{id}: {n}");
        assert!(
            log.events()
                .filter(|e| f.matches_event(e, &names, &cat))
                .all(|e| {
                    log::involved(e, &names, &cat)
                        .users
                        .iter()
                        .any(|u| u == "u3")
                })
        );
    }
    let f = log::Filter::new(Some("u3"), Some("g"), &names);
    let both = log
        .events()
        .filter(|e| f.matches_event(e, &names, &cat))
        .count();
    assert!(both >= 1);
    let none = log::Filter::new(Some("nobody"), None, &names);
    assert_eq!(
        log.events()
            .filter(|e| none.matches_event(e, &names, &cat))
            .count(),
        0
    );
    assert_eq!(log::fmt_time(DAY + HOUR + 61_001), "1d 01:01:01.001");
}

#[test]
fn an_outcome_the_replay_does_not_produce_before_an_input_is_a_divergence() {
    let bytes = record(3);
    let log = log::read_log(&bytes).unwrap();
    let mut records = log.records.clone();
    // The 10th input after the first outcome: put a copy of an earlier outcome right before it.
    let outcome = records
        .iter()
        .find_map(|r| match r {
            Record::Event(
                e @ TimedEvent {
                    event: Event::Outcome(_),
                    ..
                },
            ) => Some(e.clone()),
            _ => None,
        })
        .unwrap();
    let (k, input_time) = records
        .iter()
        .enumerate()
        .filter_map(|(k, r)| match r {
            Record::Event(TimedEvent {
                time_ms,
                event: Event::Input(_),
            }) => Some((k, *time_ms)),
            _ => None,
        })
        .nth(10)
        .unwrap();
    let index = records[..k]
        .iter()
        .filter(|r| matches!(r, Record::Event(_)))
        .count() as u64;
    let extra = TimedEvent {
        time_ms: input_time,
        ..outcome
    };
    records.insert(k, Record::Event(extra.clone()));
    recount_outcomes(&mut records[k + 1..], 1);
    let r = log::replay(&reframe(&bytes, log.offsets[0], &records), Stop::End).unwrap();
    let d = r.divergence.expect("a divergence");
    assert_eq!(d.index, index);
    assert_eq!(d.expected, Some(extra));
    assert!(d.actual.is_none(), "{:?}", d.actual);
}

/// Keeps records consistent with each other after outcomes were added (`delta` > 0) or removed
/// before them: later checkpoints and the trailer count them.
fn recount_outcomes(later: &mut [Record], delta: i64) {
    for r in later {
        match r {
            Record::Checkpoint { events, .. } => *events = events.wrapping_add_signed(delta),
            Record::Trailer {
                events, outcomes, ..
            } => {
                *events = events.wrapping_add_signed(delta);
                *outcomes = outcomes.wrapping_add_signed(delta);
            }
            _ => {}
        }
    }
}

#[test]
fn an_outcome_the_log_lacks_before_an_input_is_a_divergence() {
    let bytes = record(3);
    let log = log::read_log(&bytes).unwrap();
    let mut records = log.records.clone();
    // Every outcome that comes right before an input, in turn: the replay produces it where
    // the log has the input (from a job, or from the previous input).
    let candidates: Vec<usize> = (1..records.len())
        .filter(|&k| {
            matches!(
                (&records[k - 1], &records[k]),
                (
                    Record::Event(TimedEvent {
                        event: Event::Outcome(_),
                        ..
                    }),
                    Record::Event(TimedEvent {
                        event: Event::Input(_),
                        ..
                    })
                )
            )
        })
        .map(|k| k - 1)
        .take(20)
        .collect();
    assert!(!candidates.is_empty());
    for k in candidates {
        records.clone_from(&log.records);
        let Record::Event(gone) = records.remove(k) else {
            unreachable!()
        };
        recount_outcomes(&mut records[k..], -1);
        let index = records[..k]
            .iter()
            .filter(|r| matches!(r, Record::Event(_)))
            .count() as u64;
        let r = log::replay(&reframe(&bytes, log.offsets[0], &records), Stop::End).unwrap();
        let d = r.divergence.expect("a divergence");
        assert_eq!(d.index, index, "record {k}");
        assert_eq!(d.actual, Some(gone), "record {k}");
    }
}
