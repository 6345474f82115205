//! The `.simlog` format: byte-identical recording, replay and verification, golden bytes,
//! corruption handling and a fuzz-style test of the decoder.

use engine::log::{self, Header, LogErrorKind, LogWriter, Record, Stop};
use engine::prelude::*;
use proptest::prelude::*;
use std::sync::Arc;

/// A small deterministic run recorded through the library API.
fn record(seed: u64) -> Vec<u8> {
    let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
    let config = SimConfig {
        seed,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(cat.clone(), config.clone());
    let mut header = Header::new("small", &cat, &config);
    header.checkpoint_every = 4;
    let mut w = LogWriter::new(&header);
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

/// Golden values: they change only deliberately, with a FORMAT_VERSION bump when the bytes of
/// the format change (a change of rules or RNG sampling changes the state hash and the events).
#[test]
fn golden_state_hash_and_first_bytes() {
    let bytes = record(3);
    let hex: String = bytes[..64].iter().map(|b| format!("{b:02x}")).collect();
    // magic "LICSIMLG", format version 1, then the header frame (length, checksum, payload)
    assert_eq!(
        &hex[..24],
        "4c4943053494d4c4701000000".replacen("0534", "534", 1)
    );
    assert_eq!(
        hex, GOLDEN_FIRST_64_BYTES,
        "log bytes changed: bump FORMAT_VERSION if the format changed"
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
        "log bytes changed: bump FORMAT_VERSION if the format changed"
    );
}

const GOLDEN_HASH: &str = "dbceae6828829d32";
const GOLDEN_FIRST_64_BYTES: &str = "4c494353494d4c47010000004f510000088a0b2c05302e312e30030005736d616c6cfd88b8c94eb8af71df00100b4141445f5052454d49554d24303738643262";
const GOLDEN_BYTES_HASH: &str = "45441f61e32dc6d4";

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
