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
        out.contains("verdict") && out.contains("pass: all 3 runs met every expectation"),
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
    for f in [
        "report.json",
        "report.md",
        "runs.csv",
        "findings.csv",
        "chart.svg",
    ] {
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
    assert!(out.contains("no step is certain to fail"), "{out}");
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

#[test]
fn validate_is_a_pre_flight() {
    // The main job's shortage, with the step, the users and the fix; still exit 0.
    let (code, out, _) = licsim(&["validate", &scenario("m365-e3-rollout-with-problems")]);
    assert_eq!(code, 0, "findings are warnings: {out}");
    assert!(
        out.contains(
            "\nstep 1 assign_group_license m365-e3-wave1-emea +SPE_E3: 500 users would hold SPE_E3"
        ),
        "{out}"
    );
    assert!(
        out.contains("  users: 6 (lena.fischer, marco.rossi, olivier.martin, pieter.dejong, sanna.virtanen, ...)"),
        "{out}"
    );
    assert!(
        out.contains("  fix: buy 6 more SPE_E3 units before step 1"),
        "{out}"
    );
    let (code, out, _) = licsim(&["validate", &scenario("license-shortage-then-reprocess")]);
    assert_eq!(code, 0);
    assert!(
        out.contains("fix: buy 10 more EMS units before step 1"),
        "{out}"
    );
    // JSON for CI: every check of the fixture.
    let fixture = "../scenarios/tests/data/preflight-every-check.toml";
    let (code, out, _) = licsim(&["validate", fixture, "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["scenario"], "preflight-every-check");
    assert_eq!(
        (
            v["users"].as_u64(),
            v["groups"].as_u64(),
            v["steps"].as_u64()
        ),
        (Some(102), Some(3), Some(11))
    );
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 13, "{out}");
    assert_eq!(findings[0]["step"], "setup");
    let r15 = findings.iter().find(|f| f["rule"] == "R15").unwrap();
    assert_eq!(r15["step"], 2);
    assert_eq!(r15["action"], "assign_group_license audio +MCOMEETADV");
    assert_eq!(r15["users"], 60);
    assert_eq!(r15["examples"][0], "staff01");
    assert_eq!(r15["certainty"], "certain");
    assert!(r15["fix"].as_str().unwrap().contains("ENTERPRISEPACK"));
    for key in [
        "step",
        "action",
        "reason",
        "rule",
        "users",
        "examples",
        "fix",
        "certainty",
    ] {
        assert!(findings.iter().all(|f| !f[key].is_null()), "{key}");
    }
    let r23 = findings.iter().find(|f| f["rule"] == "R23").unwrap();
    assert_eq!(
        (r23["step"].as_u64(), r23["error"].as_str()),
        (Some(8), Some("GroupHasLicenses"))
    );
    // An empty scenario is bad input, naming the file.
    let empty = write_scenario("empty.toml", "[tenant]\nsubscriptions = { EMS = 5 }\n");
    let (code, out, err) = licsim(&["validate", &empty]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("empty.toml:1:1: the scenario has no users"),
        "{err}"
    );
    let (code, _, _) = licsim(&["run", &empty]);
    assert_eq!(code, 2);
}

/// Writes a scenario file into the test's temporary folder.
fn write_scenario(name: &str, text: &str) -> String {
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn sweeps_are_bounded_before_anything_runs() {
    let sc = scenario("e1-to-e3-one-call");
    for (args, needle) in [
        (vec!["--seeds", "1000000000"], "limit of 10000000"),
        (vec!["--seeds", "0"], "at least 1"),
        (vec!["--threads", "100000"], "limit of 1024"),
        (vec!["--threads", "0"], "at least 1"),
        (vec!["--seeds", "3", "--findings-run", "3"], "runs 0 to 2"),
    ] {
        let mut a = vec!["run", sc.as_str()];
        a.extend(args.iter().copied());
        let (code, _, err) = licsim(&a);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

const SMALL: &str = "[tenant]\nsubscriptions = { ENTERPRISEPACK = 3 }\n\
[[populations]]\nname = \"p\"\ncount = 4\nid_pattern = \"u{:02}\"\nusage_location = \"US\"\n\
[[groups]]\nid = \"g\"\nmembers = [\"population:p\"]\n\
[[plan]]\naction = \"assign_group_license\"\ngroup = \"g\"\nadd = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"wait_until_processed\"\ngroup = \"g\"\n";

#[test]
fn a_scenario_without_expectations_is_held_to_the_defaults_and_says_so() {
    let f = write_scenario("no-expect.toml", SMALL);
    let (code, out, _) = licsim(&["run", &f, "--seeds", "2"]);
    assert_eq!(code, 1, "one user of four gets no licence: {out}");
    assert!(out.contains("no [expect]: default expectations"), "{out}");
    assert!(out.contains("CountViolation"), "{out}");
    // The finding names the user, the group, the SKU and the fix.
    assert!(out.contains("u04") && out.contains("group g"), "{out}");
    assert!(out.contains("buy at least 1 more"), "{out}");
    let (_, json, _) = licsim(&["run", &f, "--seeds", "2", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["assumptions"]["expectations_defaulted"], true);
    assert_eq!(v["findings"]["findings"][0]["user"], "u04");
    assert_eq!(v["findings"]["findings"][0]["error"], "CountViolation");
    assert_eq!(v["skus"][0]["buy"], 1);
    // Service-loss totals are always there, zero when nobody lost anything.
    assert_eq!(v["figures"]["service_total.users_lost"]["max"], 0);
    assert_eq!(v["figures"]["service_total.still_lost_end"]["max"], 0);
    assert_eq!(v["service"]["users_lost"]["max"], 0);
}

#[test]
fn a_run_that_hits_max_duration_fails_with_its_own_reason() {
    let f = write_scenario(
        "timeout.toml",
        &format!(
            "[scenario]\nmax_duration = \"1h\"\n{SMALL}[[plan]]\naction = \"wait\"\nduration = \"2h\"\n\
[expect]\nmax_users_in_error = 5\n"
        ),
    );
    let (code, out, _) = licsim(&["run", &f, "--seeds", "2"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("did NOT finish"), "{out}");
    assert!(out.contains("finishes_in_time"), "{out}");
}

#[test]
fn an_open_outage_is_shown_as_open_and_users_are_counted_once() {
    // Removing the only licence: everyone loses exchange, and it never comes back.
    let f = write_scenario(
        "open-outage.toml",
        "[tenant]\nsubscriptions = { ENTERPRISEPACK = 5 }\n\
[[populations]]\nname = \"p\"\ncount = 3\nid_pattern = \"u{:02}\"\nusage_location = \"US\"\ndirect = [\"ENTERPRISEPACK\"]\n\
[[plan]]\naction = \"wait\"\nduration = \"10m\"\n\
[[plan]]\naction = \"remove_direct\"\nusers = \"all\"\nsku = \"ENTERPRISEPACK\"\n\
[[plan]]\naction = \"wait\"\nduration = \"1h\"\n",
    );
    let (code, out, _) = licsim(&["run", &f, "--seeds", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("lost exchange") && out.contains("3 still without it at the end"),
        "{out}"
    );
    assert!(!out.contains("all restored"), "{out}");
    let (_, json, _) = licsim(&["run", &f, "--seeds", "1", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["figures"]["service_total.users_lost"]["max"], 3);
    assert_eq!(v["figures"]["service_total.still_lost_end"]["max"], 3);
    assert_eq!(v["figures"]["service.exchange.restored"]["max"], 0);
    assert_eq!(
        v["failure_reasons"][0]["expectations"][0],
        "no_service_loss_at_end"
    );
}

#[test]
fn same_name_scenarios_get_their_own_folders() {
    let dir = tmp("same-name");
    let a = scenario("e1-to-e3-one-call");
    let (code, _, err) = licsim(&[
        "run",
        &a,
        &a,
        "--seeds",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.join("e1-to-e3-one-call/report.json").exists());
    assert!(dir.join("e1-to-e3-one-call-2/report.json").exists());
    assert!(dir.join("summary.txt").exists());
    // No temporary files are left behind.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = licsim(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains("licsim") && out.contains("replay"), "{shell}");
    }
    let (code, _, _) = licsim(&["completions", "tcsh"]);
    assert_eq!(code, 2);
}

#[test]
fn shards_merge_into_the_reports_of_one_run() {
    let sc = scenario("license-shortage-then-reprocess");
    let whole = tmp("whole");
    let (code, _, err) = licsim(&["run", &sc, "--seeds", "9", "--out", whole.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut parts = Vec::new();
    for k in 0..3 {
        let d = tmp(&format!("part-{k}"));
        let (code, out, err) = licsim(&[
            "run",
            &sc,
            "--seeds",
            "9",
            "--shard",
            &format!("{k}/3"),
            "--out",
            d.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(&format!("shard {k} of 3")), "{out}");
        parts.push(d.to_str().unwrap().to_string());
    }
    let merged = tmp("merged");
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(|s| s.as_str()));
    args.extend(["--out", merged.to_str().unwrap()]);
    let (code, _, err) = licsim(&args);
    assert_eq!(code, 0, "{err}");
    for f in [
        "report.json",
        "report.md",
        "runs.csv",
        "findings.csv",
        "chart.svg",
    ] {
        let a = std::fs::read(whole.join(f)).unwrap();
        let b = std::fs::read(merged.join(f)).unwrap();
        assert!(a == b, "{f} differs between one run and the merged shards");
    }
    // A missing shard is named.
    let (code, _, err) = licsim(&[
        "merge",
        &parts[0],
        &parts[2],
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("shard(s) 1 of 3 missing"), "{err}");
    // The index from the scheduler's variable.
    let d = tmp("part-auto");
    let out = Command::new(env!("CARGO_BIN_EXE_licsim"))
        .args([
            "run",
            &sc,
            "--seeds",
            "9",
            "--shard",
            "auto/3",
            "--out",
            d.to_str().unwrap(),
        ])
        .env("JOB_COMPLETION_INDEX", "2")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(d.join("shard-2-of-3.licsimpart").exists());
    let (code, _, err) = licsim(&["run", &sc, "--shard", "3/3", "--out", d.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn inspect_names_a_deleted_user_by_its_id() {
    let f = write_scenario(
        "deleted.toml",
        "[tenant]\nsubscriptions = { EMS = 5 }\n\
[[populations]]\nname = \"staff\"\ncount = 3\nid_pattern = \"s{:02}\"\nusage_location = \"US\"\n\
[[plan]]\naction = \"delete_user\"\nusers = [\"s02\"]\n\
[[plan]]\naction = \"assign_direct\"\nusers = [\"s02\"]\nadd = [\"EMS\"]\n",
    );
    let log = tmp("deleted.simlog");
    let (code, _, err) = licsim(&["record", &f, "--seed", "1", "-o", log.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = licsim(&["inspect", log.to_str().unwrap()]);
    let call = out
        .lines()
        .find(|l| l.contains("input assign_user_license"))
        .unwrap();
    assert!(call.contains("user=s02"), "{call}");
    assert!(!out.contains("#4294967295"), "{out}");
}
