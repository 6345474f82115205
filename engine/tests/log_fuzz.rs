//! Fuzz-style tests of the `.simlog` decoder and replay: random bytes, mutated bytes, and mutated
//! payloads re-framed with valid checksums (so that bincode and replay see them).

use engine::log::{self, Header, LogErrorKind, LogWriter, Record, Stop};
use engine::prelude::*;
use proptest::prelude::*;
use std::sync::Arc;

fn small_log(seed: u64) -> Vec<u8> {
    let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
    let config = SimConfig {
        seed,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(cat.clone(), config.clone());
    let mut header = Header::new("fuzz", &cat, &config);
    header.checkpoint_every = 3;
    let mut w = LogWriter::new(&header);
    let e3 = cat.sku_by_name("ENTERPRISEPACK").unwrap();
    let mut inputs = vec![Input::SetUnits {
        sku: e3,
        units: PrepaidUnits {
            enabled: 2,
            ..Default::default()
        },
    }];
    for i in 0..3 {
        inputs.push(Input::CreateUser {
            name: format!("u{i}"),
            usage_location: if i == 2 { None } else { Some(*b"US") },
            proxy_addresses: vec![],
            attributes: vec![("department".into(), "Finance".into())],
        });
    }
    inputs.push(Input::CreateGroup {
        name: "g".into(),
        security_enabled: true,
        source: GroupSource::Cloud,
        rule: None,
        members: (0..3).map(Member::User).collect(),
        evaluate_now: false,
    });
    inputs.push(Input::AssignGroupLicense {
        group: 0,
        add: vec![LicenseSpec::new(e3)],
        remove: vec![],
    });
    inputs.push(Input::CreateGroup {
        name: "dyn".into(),
        security_enabled: true,
        source: GroupSource::Cloud,
        rule: Some("user.department -eq \"Finance\"".into()),
        members: vec![],
        evaluate_now: true,
    });
    let mut t = 0;
    for i in inputs {
        let _ = sim.apply(t, i);
        let ev = sim.take_events();
        w.observe(&sim, &ev, true);
        t += 60_000;
    }
    sim.run_until_quiescent(DAY);
    let ev = sim.take_events();
    w.observe(&sim, &ev, false);
    w.finish(sim.now(), sim.state_hash())
}

/// Splits a log into (prefix of 12 bytes, payloads of every frame), ignoring checksums.
fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        out.push(bytes[pos + 8..pos + 8 + len].to_vec());
        pos += 8 + len;
    }
    out
}

fn reframe(prefix: &[u8], payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    for p in payloads {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&(engine::hash::hash_bytes(p) as u32).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn exercise(bytes: &[u8]) {
    if let Ok(l) = log::read_log(bytes) {
        let _ = l.error.as_ref().map(|e| e.to_string());
    }
    for stop in [Stop::End, Stop::UntilEvent(7), Stop::AtTime(120_000)] {
        if let Ok(r) = log::replay(bytes, stop) {
            let _ = r.sim.state_hash();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn reframed_mutations_never_panic(
        seed in 0u64..3,
        edits in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<u8>(), 0u8..4), 1..6),
    ) {
        let bytes = small_log(seed);
        let mut payloads = frames(&bytes);
        for (f, at, v, op) in edits {
            let f = f % payloads.len();
            let p = &mut payloads[f];
            match op {
                0 if !p.is_empty() => { let i = at % p.len(); p[i] = v; }
                1 if !p.is_empty() => { let i = at % p.len(); p[i] ^= 1 << (v % 8); }
                2 => { let i = at % (p.len() + 1); p.insert(i, v); }
                _ if !p.is_empty() => { let i = at % p.len(); p.remove(i); }
                _ => {}
            }
        }
        exercise(&reframe(&bytes[..12], &payloads));
    }
}

fn rebuild(header: &Header, records: &[Record]) -> Vec<u8> {
    let mut payloads = vec![engine::codec::encode(header)];
    payloads.extend(records.iter().map(engine::codec::encode));
    reframe(b"LICSIMLG\x01\x00\x00\x00", &payloads)
}

fn idx() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..8, Just(u32::MAX), Just(u32::MAX - 1), any::<u32>()]
}

fn sku() -> impl Strategy<Value = u16> {
    prop_oneof![0u16..40, Just(u16::MAX), any::<u16>()]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z@. ]{0,12}",
        Just("user.department -eq \"Finance\"".to_string()),
        Just("(user.a -eq \"b\") -and (".to_string()),
        ".{0,24}",
    ]
}

/// Proxy addresses: any text, plus an `smtp` prefix in any case followed by any characters, so
/// that a multi-byte character often straddles byte 5, where `sim::normalise_address` looks for
/// `smtp:` (see `multibyte_proxy_address_does_not_panic`).
fn address() -> impl Strategy<Value = String> {
    prop_oneof![text(), "SMTP:[ -~]{0,16}", "[sS][mM][tT][pP].{0,16}"]
}

fn member() -> impl Strategy<Value = Member> {
    prop_oneof![idx().prop_map(Member::User), idx().prop_map(Member::Group)]
}

fn licenses() -> impl Strategy<Value = Vec<LicenseSpec>> {
    proptest::collection::vec(
        (sku(), proptest::collection::vec(sku(), 0..3))
            .prop_map(|(sku, disabled)| LicenseSpec { sku, disabled }),
        0..3,
    )
}

fn loc() -> impl Strategy<Value = Option<[u8; 2]>> {
    proptest::option::of(prop_oneof![Just(*b"US"), Just(*b"CU"), any::<[u8; 2]>()])
}

/// Inputs with small, extreme and nonsense values.
fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        (
            text(),
            loc(),
            proptest::collection::vec(address(), 0..3),
            proptest::collection::vec((text(), text()), 0..3)
        )
            .prop_map(|(name, usage_location, proxy_addresses, attributes)| {
                Input::CreateUser {
                    name,
                    usage_location,
                    proxy_addresses,
                    attributes,
                }
            }),
        idx().prop_map(|user| Input::DeleteUser { user }),
        (idx(), loc()).prop_map(|(user, location)| Input::SetUsageLocation { user, location }),
        (idx(), proptest::collection::vec(address(), 0..3))
            .prop_map(|(user, addresses)| Input::SetProxyAddresses { user, addresses }),
        (idx(), text(), proptest::option::of(text()))
            .prop_map(|(user, key, value)| Input::SetAttribute { user, key, value }),
        (
            text(),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(text()),
            proptest::collection::vec(member(), 0..4),
            any::<bool>()
        )
            .prop_map(
                |(name, security_enabled, onprem, rule, members, evaluate_now)| {
                    Input::CreateGroup {
                        name,
                        security_enabled,
                        source: if onprem {
                            GroupSource::OnPremises
                        } else {
                            GroupSource::Cloud
                        },
                        rule,
                        members,
                        evaluate_now,
                    }
                }
            ),
        idx().prop_map(|group| Input::DeleteGroup { group }),
        (idx(), proptest::option::of(text()))
            .prop_map(|(group, rule)| Input::SetRule { group, rule }),
        (idx(), proptest::collection::vec(member(), 0..4))
            .prop_map(|(group, members)| Input::AddMembers { group, members }),
        (idx(), proptest::collection::vec(member(), 0..4))
            .prop_map(|(group, members)| Input::RemoveMembers { group, members }),
        (idx(), licenses(), proptest::collection::vec(sku(), 0..3))
            .prop_map(|(user, add, remove)| Input::AssignUserLicense { user, add, remove }),
        (idx(), licenses(), proptest::collection::vec(sku(), 0..3))
            .prop_map(|(group, add, remove)| Input::AssignGroupLicense { group, add, remove }),
        (
            sku(),
            prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MIN), -5i64..5]
        )
            .prop_map(|(sku, units)| Input::Purchase { sku, units }),
        (sku(), any::<[u32; 4]>(), any::<bool>()).prop_map(|(sku, u, max)| Input::SetUnits {
            sku,
            units: if max {
                PrepaidUnits {
                    enabled: u32::MAX,
                    warning: u32::MAX,
                    suspended: u[2],
                    locked_out: u[3],
                }
            } else {
                PrepaidUnits {
                    enabled: u[0] % 4,
                    warning: u[1] % 2,
                    suspended: u[2],
                    locked_out: u[3],
                }
            },
        }),
        idx().prop_map(|user| Input::ReprocessUser { user }),
        idx().prop_map(|group| Input::ReprocessGroup { group }),
        Just(Input::DirectorySync),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Well-framed logs with nonsense inputs spliced in: replay applies them (the engine must
    /// reject, not panic) and reports a divergence or an error.
    #[test]
    fn spliced_inputs_never_panic(
        seed in 0u64..3,
        splices in proptest::collection::vec((any::<usize>(), input(), 0u64..3 * DAY), 1..6),
    ) {
        let bytes = small_log(seed);
        let l = log::read_log(&bytes).unwrap();
        let mut records = l.records.clone();
        for (at, input, dt) in splices {
            let at = at % records.len();
            let before = records[..at].iter().rev().find_map(|r| match r {
                Record::Event(e) => Some(e.time_ms),
                _ => None,
            }).unwrap_or(0);
            records.insert(at, Record::Event(TimedEvent { time_ms: before + dt % (HOUR + 1), event: Event::Input(input) }));
        }
        exercise(&rebuild(&l.header, &records));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any proxy address, applied directly (the spliced-input test reaches the engine's address
    /// handling only now and then): rejected or normalised, never a panic.
    #[test]
    fn proxy_addresses_never_panic(
        first in proptest::collection::vec(address(), 0..4),
        then in proptest::collection::vec(address(), 0..4),
    ) {
        let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
        let mut sim = Sim::new(cat, SimConfig::default());
        let _ = sim.apply(0, Input::CreateUser {
            name: "u".into(),
            usage_location: Some(*b"US"),
            proxy_addresses: first,
            attributes: vec![],
        });
        let _ = sim.apply(1, Input::SetProxyAddresses { user: 0, addresses: then });
        let _ = sim.state_hash();
    }
}

/// Times, durations and counts at the edges of their types are refused or survived, never a
/// panic (the engine adds delays to its clock).
#[test]
fn extreme_times_and_durations_never_panic() {
    let bytes = small_log(1);
    let l = log::read_log(&bytes).unwrap();
    for big in [
        u64::MAX,
        u64::MAX - 1,
        u64::MAX / 2,
        1 << 62,
        log::MAX_TIME_MS,
        log::MAX_TIME_MS + 1,
    ] {
        for k in 0..l.records.len() {
            let mut recs = l.records.clone();
            match &mut recs[k] {
                Record::Event(e) => e.time_ms = big,
                Record::Checkpoint { events, .. } => *events = big,
                Record::Trailer { end_time_ms, .. } => *end_time_ms = big,
            }
            exercise(&rebuild(&l.header, &recs));
        }
        let mut headers = Vec::new();
        let env = l.header.config.environment;
        for f in 0..9 {
            let mut h = l.header.clone();
            let e = &mut h.config.environment;
            match f {
                0 => e.queue_delay_ms = big,
                1 => e.processing_latency = Latency::Fixed { value_ms: big },
                2 => {
                    e.processing_latency = Latency::LogNormal {
                        median_ms: big,
                        p99_ms: big,
                    }
                }
                3 => {
                    e.processing_latency = Latency::Uniform {
                        min_ms: big,
                        max_ms: 0,
                    }
                }
                4 => e.dynamic_evaluation_delay_ms = big,
                5 => e.retry_delay_ms = big,
                6 => e.sync_interval_ms = big,
                7 => e.sync_phase_ms = big,
                _ => e.concurrency_window_ms = big,
            }
            headers.push(h);
        }
        for h in headers {
            let b = rebuild(&h, &l.records);
            exercise(&b);
            if big > log::MAX_TIME_MS {
                let e = log::read_log(&b).unwrap_err();
                assert!(matches!(e.kind, LogErrorKind::Inconsistent(_)), "{e}");
                assert_eq!(e.offset, 12);
            }
        }
        assert_eq!(env, l.header.config.environment);
    }
}

/// `sim::normalise_address` once sliced `a[..5]`, which panicked on a multi-byte character
/// across byte 5 (fixed in 8cbc042 with `a.get(..5)`).
#[test]
fn multibyte_proxy_address_does_not_panic() {
    let cat = Arc::new(Catalog::builtin(RulesProfile::Current));
    let mut sim = Sim::new(cat, SimConfig::default());
    let _ = sim.apply(
        0,
        Input::CreateUser {
            name: "u".into(),
            usage_location: None,
            proxy_addresses: vec!["smtp\u{e9}x@y".into()],
            attributes: vec![],
        },
    );
}
