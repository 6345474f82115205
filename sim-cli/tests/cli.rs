//! The command line contract (SPEC 7): commands, outputs and exit statuses, through the binary.

use std::path::PathBuf;
use std::process::Command;

fn licsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_licsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("licsim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scenario(name: &str) -> String {
    format!("../scenarios/builtin/{name}.toml")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("licsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn run_exit_statuses_and_outputs() {
    let (code, out, _) = licsim(&["run", &scenario("e1-to-e3-one-call"), "--seeds", "3"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("failed expectations") && out.contains("0 of 3 runs"),
        "{out}"
    );
    let (code, _, _) = licsim(&["run", &scenario("e1-to-e3-add-first"), "--seeds", "2"]);
    assert_eq!(code, 1, "an expectation failed");
    let dir = tmp("out");
    let (code, out, _) = licsim(&[
        "run",
        &scenario("conflicting-direct-e1"),
        "--seeds",
        "2",
        "--out",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["runs"], 2);
    assert_eq!(
        v["state"]["subscribedSkus"][0]["skuPartNumber"],
        "ENTERPRISEPACK"
    );
    for f in ["report.json", "report.md", "runs.csv", "chart.svg"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let (code, _, err) = licsim(&["run", "does-not-exist.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("does-not-exist.toml"), "{err}");
}

#[test]
fn threads_do_not_change_the_report() {
    let a = licsim(&[
        "run",
        &scenario("license-shortage-then-reprocess"),
        "--seeds",
        "8",
        "--threads",
        "1",
        "--format",
        "json",
    ])
    .1;
    let b = licsim(&[
        "run",
        &scenario("license-shortage-then-reprocess"),
        "--seeds",
        "8",
        "--threads",
        "4",
        "--format",
        "json",
    ])
    .1;
    assert_eq!(a, b);
}

#[test]
fn record_replay_inspect_and_bad_logs() {
    let log = tmp("run.simlog");
    let (code, out, err) = licsim(&[
        "record",
        &scenario("audio-conferencing-dependency"),
        "--seed",
        "3",
        "--run",
        "1",
        "-o",
        log.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = licsim(&["replay", log.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("final state hash matches the log's trailer: yes"),
        "{out}"
    );
    let (code, out, _) = licsim(&["replay", log.to_str().unwrap(), "--state", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let states = &v["users"][0]["licenseAssignmentStates"];
    assert!(
        states
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["skuPartNumber"] == "ENTERPRISEPACK" && s["assignedByGroup"].is_null())
    );
    let (code, out, _) = licsim(&[
        "inspect",
        log.to_str().unwrap(),
        "--format",
        "jsonl",
        "--user",
        "sales01",
    ]);
    assert_eq!(code, 0);
    assert!(out.lines().all(|l| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == "sales01")
    }));
    // A corrupt log: exit 2, the offset named.
    let mut bytes = std::fs::read(&log).unwrap();
    let n = bytes.len();
    bytes[n - 40] ^= 0xff;
    let bad = tmp("bad.simlog");
    std::fs::write(&bad, &bytes).unwrap();
    let (code, _, err) = licsim(&["replay", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("at byte") && err.contains("last good record"),
        "{err}"
    );
    // A divergence (an outcome changed and re-checksummed): exit 3.
    let parsed = engine::log::read_log(&std::fs::read(&log).unwrap()).unwrap();
    let mut records = parsed.records.clone();
    let i = records
        .iter()
        .position(|r| {
            matches!(
                r,
                engine::log::Record::Event(engine::event::TimedEvent {
                    event: engine::event::Event::Outcome(engine::event::Outcome::Consumed { .. }),
                    ..
                })
            )
        })
        .unwrap();
    if let engine::log::Record::Event(engine::event::TimedEvent {
        event: engine::event::Event::Outcome(engine::event::Outcome::Consumed { consumed, .. }),
        ..
    }) = &mut records[i]
    {
        *consumed += 7;
    }
    let original = std::fs::read(&log).unwrap();
    let mut out_bytes = original[..parsed.offsets[0] as usize].to_vec();
    for r in &records {
        let payload = engine::codec::encode(r);
        out_bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out_bytes.extend_from_slice(&(engine::hash::hash_bytes(&payload) as u32).to_le_bytes());
        out_bytes.extend_from_slice(&payload);
    }
    let div = tmp("div.simlog");
    std::fs::write(&div, &out_bytes).unwrap();
    let (code, _, err) = licsim(&["replay", div.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("divergence at event #"), "{err}");
}

/// `inspect --user` takes a display name or a dense index (`3` or `#3`): both select the same
/// events; a name that is not in the log selects none (header only, exit 0).
#[test]
fn inspect_user_by_name_or_index() {
    let log = tmp("inspect-user.simlog");
    let log = log.to_str().unwrap();
    let (code, out, err) = licsim(&[
        "record",
        &scenario("conflicting-direct-e1"),
        "--seed",
        "1",
        "-o",
        log,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let parsed = engine::log::read_log(&std::fs::read(log).unwrap()).unwrap();
    let names = engine::log::Names::from_events(parsed.events());
    let index = names.users.iter().position(|n| n == "legacy01").unwrap();
    let inspect = |user: &str| {
        let (code, out, err) = licsim(&["inspect", log, "--user", user]);
        assert_eq!(code, 0, "--user {user}: {err}");
        out
    };
    let all = licsim(&["inspect", log]).1;
    let by_name = inspect("legacy01");
    let events: Vec<&str> = by_name.lines().skip(1).collect();
    assert!(
        events.len() > 3 && events.len() < all.lines().count() - 1,
        "{by_name}"
    );
    assert!(events.iter().all(|l| l.contains("legacy01")), "{by_name}");
    assert_eq!(inspect(&index.to_string()), by_name);
    assert_eq!(inspect(&format!("#{index}")), by_name);
    let (code, out, _) = licsim(&["inspect", log, "--user", "no-such-user"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("# "), "{out}");
}

#[test]
fn validate_and_catalog() {
    let (code, out, _) = licsim(&["validate", &scenario("direct-to-group-1000")]);
    assert_eq!(code, 0);
    assert!(out.contains("1000 users"), "{out}");
    let (code, out, _) = licsim(&["catalog", "ENTERPRISEPACK"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("EXCHANGE_S_ENTERPRISE") && out.contains("mailbox"),
        "{out}"
    );
    let (code, _, err) = licsim(&["catalog", "ENTERPRISEPAK"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean ENTERPRISEPACK"), "{err}");
}
