//! `[environment]`: the service's timing (queue delay, processing latency distribution, dynamic
//! evaluation delay, directory sync, concurrency window and retries); defaults from SPEC 10.

use super::error::{ScenarioError, nearest};
use super::resolve::{Resolver, fraction_ppm};
use engine::dist::Latency;
use engine::sim::Environment;
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    distribution: String,
    value: Option<String>,
    min: Option<String>,
    max: Option<String>,
    median: Option<String>,
    p99: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEnv {
    queue_delay: Option<Spanned<String>>,
    processing_latency: Option<Spanned<RawLatency>>,
    dynamic_evaluation_delay: Option<Spanned<String>>,
    sync_interval: Option<Spanned<String>>,
    sync_phase: Option<Spanned<String>>,
    concurrency_window: Option<Spanned<String>>,
    retry_delay: Option<Spanned<String>>,
    concurrency_probability: Option<f64>,
}

/// The environment: [`Environment::default`] with what the file sets.
pub(super) fn parse(e: &RawEnv, r: &Resolver) -> Result<Environment, ScenarioError> {
    let mut env = Environment::default();
    let dur = |s: &Option<Spanned<String>>, key: &str, v: &mut u64| -> Result<(), ScenarioError> {
        if let Some(s) = s {
            *v = r.duration(s.get_ref(), &s.span(), key)?;
        }
        Ok(())
    };
    dur(&e.queue_delay, "queue_delay", &mut env.queue_delay_ms)?;
    dur(
        &e.dynamic_evaluation_delay,
        "dynamic_evaluation_delay",
        &mut env.dynamic_evaluation_delay_ms,
    )?;
    dur(&e.sync_interval, "sync_interval", &mut env.sync_interval_ms)?;
    dur(&e.sync_phase, "sync_phase", &mut env.sync_phase_ms)?;
    dur(
        &e.concurrency_window,
        "concurrency_window",
        &mut env.concurrency_window_ms,
    )?;
    dur(&e.retry_delay, "retry_delay", &mut env.retry_delay_ms)?;
    if let Some(p) = e.concurrency_probability {
        env.concurrency_ppm = fraction_ppm(p, r.ctx, &(0..0), "concurrency_probability")?;
    }
    if let Some(l) = &e.processing_latency {
        env.processing_latency = latency(l, r)?;
    }
    Ok(env)
}

/// `processing_latency = { distribution = "fixed" | "uniform" | "lognormal", ... }`.
fn latency(l: &Spanned<RawLatency>, r: &Resolver) -> Result<Latency, ScenarioError> {
    let ctx = r.ctx;
    let span = l.span();
    let l = l.get_ref();
    let need = |v: &Option<String>, key: &str| -> Result<u64, ScenarioError> {
        match v {
            Some(s) => r.duration(s, &span, key),
            None => Err(ctx.err(
                span.clone(),
                None,
                key,
                format!("distribution {:?} needs `{key}`", l.distribution),
                None,
            )),
        }
    };
    Ok(match l.distribution.as_str() {
        "fixed" => Latency::Fixed {
            value_ms: need(&l.value, "value")?,
        },
        "uniform" => {
            let (min_ms, max_ms) = (need(&l.min, "min")?, need(&l.max, "max")?);
            if max_ms < min_ms {
                return Err(ctx.err(span, Some("max"), "max", "max is below min".into(), None));
            }
            Latency::Uniform { min_ms, max_ms }
        }
        "lognormal" => {
            let (median_ms, p99_ms) = (need(&l.median, "median")?, need(&l.p99, "p99")?);
            if p99_ms < median_ms {
                return Err(ctx.err(
                    span,
                    Some("p99"),
                    "p99",
                    "p99 is below the median".into(),
                    None,
                ));
            }
            Latency::LogNormal { median_ms, p99_ms }
        }
        d => {
            return Err(ctx.err(
                span,
                Some(d),
                "distribution",
                format!("unknown distribution {d:?} (fixed, uniform, lognormal)"),
                nearest(d, ["fixed", "uniform", "lognormal"]),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse_scenario;
    use engine::dist::Latency;

    fn parse(env: &str) -> Result<engine::sim::Environment, String> {
        parse_scenario(
            "s.toml",
            &format!("[environment]\n{env}[[users]]\nid = \"u\"\n"),
            None,
        )
        .map(|sc| sc.environment)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn environment_errors() {
        assert_eq!(
            parse("queue_delay = \"30 seconds\"\n").unwrap_err(),
            "s.toml:2:16: key `queue_delay`: bad duration unit \"seconds\" in \"30 seconds\" (ms, s, m, h, d)"
        );
        assert_eq!(
            parse("concurrency_probability = 2.0\n").unwrap_err(),
            "s.toml:1:1: key `concurrency_probability`: fraction 2 is outside 0..=1"
        );
        assert_eq!(
            parse("processing_latency = { distribution = \"uniform\", min = \"5s\" }\n")
                .unwrap_err(),
            "s.toml:2:22: key `max`: distribution \"uniform\" needs `max`"
        );
        assert_eq!(
            parse(
                "processing_latency = { distribution = \"uniform\", min = \"5s\", max = \"1s\" }\n"
            )
            .unwrap_err(),
            "s.toml:2:62: key `max`: max is below min"
        );
        assert_eq!(
            parse("processing_latency = { distribution = \"lognormal\", median = \"5s\", p99 = \"1s\" }\n")
                .unwrap_err(),
            "s.toml:2:67: key `p99`: p99 is below the median"
        );
        assert_eq!(
            parse("processing_latency = { distribution = \"normal\" }\n").unwrap_err(),
            "s.toml:2:40: key `distribution`: unknown distribution \"normal\" (fixed, uniform, lognormal) (did you mean `lognormal`?)"
        );
    }

    #[test]
    fn what_the_file_sets_replaces_the_default() {
        let env = parse("sync_interval = \"1h\"\nprocessing_latency = { distribution = \"fixed\", value = \"2s\" }\n").unwrap();
        assert_eq!(env.sync_interval_ms, 3_600_000);
        assert!(matches!(
            env.processing_latency,
            Latency::Fixed { value_ms: 2_000 }
        ));
    }
}
