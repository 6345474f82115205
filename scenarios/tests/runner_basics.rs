//! The plan runner and per-run metrics on scenarios built in Rust.

use engine::prelude::*;
use scenarios::model::*;
use std::sync::Arc;

/// One run's metrics (`runner::run` with nothing else watching).
fn run_metrics(
    sc: &scenarios::model::Scenario,
    seed: u64,
    run: u64,
) -> scenarios::metrics::RunMetrics {
    scenarios::runner::run(sc, scenarios::runner::RunOptions::new(seed, run)).metrics
}

fn cat() -> Arc<Catalog> {
    Arc::new(Catalog::builtin(RulesProfile::Current))
}

fn sku(sc: &Scenario, n: &str) -> SkuIdx {
    sc.catalog.sku_by_name(n).unwrap()
}

fn units(n: u32) -> PrepaidUnits {
    PrepaidUnits {
        enabled: n,
        ..Default::default()
    }
}

fn direct_to_group(n: u64) -> Scenario {
    let mut sc = Scenario::new("direct-to-group", cat());
    let e3 = sku(&sc, "ENTERPRISEPACK");
    sc.tenant.subscriptions.push((e3, units(n as u32)));
    sc.populations.push(Population {
        name: "staff".into(),
        count: n,
        id_pattern: "user{:04}".into(),
        usage_location: Some(*b"US"),
        attributes: vec![],
        direct: vec![LicenseSpec::new(e3)],
    });
    sc.groups.push(GroupSpec {
        id: "all-users".into(),
        display_name: "All users".into(),
        security_enabled: true,
        source: GroupSource::Cloud,
        rule: None,
        members: vec![MemberRef::Users(Selector::Population("staff".into()))],
        licenses: vec![],
    });
    sc.plan.push(Step::new(Action::AssignGroupLicense {
        group: "all-users".into(),
        add: vec![LicenseSpec::new(e3)],
        remove: vec![],
    }));
    sc.plan.push(Step::new(Action::WaitUntilProcessed {
        group: Some("all-users".into()),
    }));
    sc.plan.push(Step::new(Action::Gate {
        require: Require::NoLicenseErrors,
    }));
    let mut remove = Step::new(Action::RemoveDirect {
        users: Selector::Group("all-users".into()),
        sku: e3,
    });
    remove.waves = Waves {
        wave_size: Some(100),
        wave_interval_ms: 3_600_000,
        gate_each_wave: Some(Require::NoServiceLoss),
    };
    sc.plan.push(remove);
    sc.expect = Expectations {
        max_users_in_error: Some(0),
        no_service_loss: Some(true),
        peak_units: vec![(e3, n)],
        ..Expectations::default()
    };
    sc
}

#[test]
fn direct_to_group_1000_has_no_errors_no_loss_and_peaks_at_1000() {
    let sc = direct_to_group(1000);
    let m = run_metrics(&sc, 1, 0);
    assert_eq!(m.failures.total, 0, "{:?}", m.failures);
    assert!(
        m.expectation_failures.is_empty(),
        "{:?}",
        m.expectation_failures
    );
    assert_eq!(m.consumption["ENTERPRISEPACK"].peak, 1000);
    assert_eq!(m.consumption["ENTERPRISEPACK"].final_, 1000);
    assert!(m.service.values().all(|s| s.outages == 0));
    assert_eq!(m.waves.len(), 10);
    assert!(!m.plan_stopped && !m.timed_out);
    assert_eq!(m, run_metrics(&sc, 1, 0), "same seed, same metrics");
}

#[test]
fn report_bytes_are_identical_for_1_and_4_threads() {
    let sc = direct_to_group(100);
    let build = |threads| {
        let opts = scenarios::sweep::SweepOptions {
            threads: Some(threads),
            keep_rows: true,
            ..scenarios::sweep::SweepOptions::new(7, 24)
        };
        let r = scenarios::sweep::sweep(&sc, &opts);
        (
            serde_json::to_string(&r.to_json()).unwrap(),
            r.to_markdown(),
            r.to_csv(),
            r.to_svg(),
        )
    };
    let one = build(1);
    assert_eq!(one, build(4));
    // Different runs draw different latencies: the runs are not all the same.
    assert_ne!(
        run_metrics(&sc, 7, 0).end_time_ms,
        run_metrics(&sc, 7, 1).end_time_ms
    );
}
