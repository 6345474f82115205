//! Sweeps split into shards and merged give exactly the report of one sweep (issue 12), for
//! every built-in scenario; parts that do not belong together are refused.

use scenarios::spec::load_scenario;
use scenarios::sweep::shard::{PartHeader, PartReader, merge, run_part};
use scenarios::sweep::{SweepOptions, SweepReport, sweep};
use std::path::Path;

const RUNS: u64 = 7;

fn outputs(r: &SweepReport) -> Vec<String> {
    vec![
        serde_json::to_string_pretty(&r.to_json()).unwrap(),
        r.to_markdown(),
        r.to_csv(),
        r.findings_csv(),
        r.to_svg(),
    ]
}

fn header(sc: &scenarios::model::Scenario, shard: u64, shards: u64) -> PartHeader {
    PartHeader {
        licsim_version: "test".into(),
        scenario_source: sc.source.clone(),
        scenario_name: sc.name.clone(),
        fingerprint: 42,
        seed: sc.seed,
        runs: RUNS,
        shard,
        shards,
        check_invariants: false,
        findings_run: None,
    }
}

fn parts(
    sc: &scenarios::model::Scenario,
    shards: u64,
) -> Vec<PartReader<std::io::Cursor<Vec<u8>>>> {
    (0..shards)
        .map(|k| {
            let opts = SweepOptions {
                threads: Some(2),
                keep_rows: true,
                ..SweepOptions::new(sc.seed, RUNS)
            };
            let bytes = run_part(sc, &opts, &header(sc, k, shards), Vec::new()).unwrap();
            PartReader::new(std::io::Cursor::new(bytes), &format!("part{k}")).unwrap()
        })
        .collect()
}

#[test]
fn sharded_and_merged_reports_are_byte_identical_for_every_builtin_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("builtin");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    for f in files {
        let sc = load_scenario(&f).unwrap();
        let one = SweepOptions {
            threads: Some(2),
            keep_rows: true,
            ..SweepOptions::new(sc.seed, RUNS)
        };
        let whole = outputs(&sweep(&sc, &one));
        for n in [1u64, 3, 7] {
            let merged = merge(&sc, parts(&sc, n)).unwrap();
            assert!(
                outputs(&merged) == whole,
                "{}: {n} shards differ from one sweep",
                f.display()
            );
        }
    }
}

#[test]
fn missing_duplicate_foreign_and_cut_parts_are_refused() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("builtin");
    let sc = load_scenario(&dir.join("conflicting-direct-e1.toml")).unwrap();
    let mut p = parts(&sc, 3);
    p.remove(1);
    let e = merge(&sc, p).err().unwrap();
    assert!(e.contains("shard(s) 1 of 3 missing"), "{e}");
    let mut p = parts(&sc, 3);
    let again = parts(&sc, 3).remove(2);
    p.push(again);
    let e = merge(&sc, p).err().unwrap();
    assert!(e.contains("shard 2 is given twice"), "{e}");
    // A part of another sweep (other seed).
    let mut p = parts(&sc, 2);
    let mut h = header(&sc, 1, 2);
    h.seed += 1;
    let opts = SweepOptions::new(h.seed, RUNS);
    let bytes = run_part(&sc, &opts, &h, Vec::new()).unwrap();
    p[1] = PartReader::new(std::io::Cursor::new(bytes), "foreign").unwrap();
    let e = merge(&sc, p).err().unwrap();
    assert!(e.contains("different sweeps") && e.contains("seed"), "{e}");
    // A part cut short, and one with a flipped byte.
    let opts = SweepOptions::new(sc.seed, RUNS);
    let bytes = run_part(&sc, &opts, &header(&sc, 0, 1), Vec::new()).unwrap();
    let cut = bytes[..bytes.len() - 30].to_vec();
    let e = merge(
        &sc,
        vec![PartReader::new(std::io::Cursor::new(cut), "cut").unwrap()],
    )
    .err()
    .unwrap();
    assert!(e.contains("cut"), "{e}");
    let mut flipped = bytes.clone();
    let i = flipped.len() / 2;
    flipped[i] ^= 0x40;
    let e = merge(
        &sc,
        vec![PartReader::new(std::io::Cursor::new(flipped), "flipped").unwrap()],
    )
    .err()
    .unwrap();
    assert!(e.contains("checksum") || e.contains("corrupt"), "{e}");
}
