//! chart.svg: licences consumed per SKU with the assignable units as a limit, users with a
//! license error, users without each named service, over time (median and p90 across the first
//! runs of the sweep), with wave starts and the plan stopping as markers.

use crate::chart::{self, Marker, Panel, Series, Style};
use crate::sweep::{ChartRow, SweepReport, row::CHART_RUNS};
use std::collections::BTreeMap;

/// The median of some times.
fn median(mut v: Vec<u64>) -> Option<u64> {
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2).copied()
}

/// A step function per run.
type Runs = Vec<Vec<(u64, u64)>>;

/// One series per key of `pick`, in key order, over every charted run.
fn series_by_key(
    rows: &[ChartRow],
    pick: impl Fn(&ChartRow) -> &BTreeMap<String, Vec<(u64, u64)>>,
) -> Vec<(String, Runs)> {
    let mut keys: Vec<&String> = rows.iter().flat_map(|r| pick(r).keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            let runs = rows
                .iter()
                .map(|r| pick(r).get(k).cloned().unwrap_or_default())
                .collect();
            (k.clone(), runs)
        })
        .collect()
}

impl SweepReport {
    pub fn to_svg(&self) -> String {
        let rows = &self.agg.chart;
        let mut consumption = Vec::new();
        let limits: BTreeMap<String, Runs> =
            series_by_key(rows, |r| &r.assignable).into_iter().collect();
        for (i, (sku, runs)) in series_by_key(rows, |r| &r.consumption)
            .into_iter()
            .enumerate()
        {
            if let Some(l) = limits.get(&sku) {
                consumption.push(Series {
                    name: format!("{sku} assignable"),
                    runs: l.clone(),
                    style: Style::Reference,
                    color: i,
                });
            }
            consumption.push(Series {
                name: sku,
                runs,
                style: Style::Quantiles,
                color: i,
            });
        }
        let without = series_by_key(rows, |r| &r.without)
            .into_iter()
            .enumerate()
            .map(|(i, (name, runs))| Series {
                name,
                runs,
                style: Style::Quantiles,
                color: i,
            })
            .collect();
        let panels = vec![
            Panel {
                title: "Licences consumed (consumedUnits) and assignable units".into(),
                series: consumption,
                empty_note: "no licence consumed".into(),
            },
            Panel {
                title: "Users with a license error".into(),
                series: vec![Series {
                    name: "users in error".into(),
                    runs: rows.iter().map(|r| r.errors.clone()).collect(),
                    style: Style::Quantiles,
                    color: 1,
                }],
                empty_note: "no user in error in any run".into(),
            },
            Panel {
                title: "Users without a service (lost and not back)".into(),
                series: without,
                empty_note: "nobody lost a service".into(),
            },
        ];
        let mut markers = Vec::new();
        let mut waves: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for r in rows {
            for (w, t) in &r.waves {
                waves.entry(w.as_str()).or_default().push(*t);
            }
        }
        let mut wave_marks: Vec<(u64, String)> = waves
            .into_iter()
            .filter_map(|(w, ts)| {
                median(ts).map(|t| (t, w.replace("step ", "s").replace(" wave ", " w")))
            })
            .collect();
        wave_marks.sort();
        for (t, label) in wave_marks {
            markers.push(Marker {
                time_ms: t,
                label,
                color: "#777",
            });
        }
        let stops: Vec<u64> = rows.iter().filter_map(|r| r.stopped_ms).collect();
        let stopped = stops.len();
        if let Some(t) = median(stops) {
            markers.push(Marker {
                time_ms: t,
                label: format!("plan stopped ({stopped} of {} runs)", rows.len()),
                color: "#d62728",
            });
        }
        let end = rows.iter().map(|r| r.end_ms).max().unwrap_or(0);
        let sample = if self.runs > CHART_RUNS {
            format!(", first {} of {} runs", rows.len(), self.runs)
        } else {
            format!(", {} runs", self.runs)
        };
        chart::svg(
            &format!("{}{sample}", self.scenario),
            &panels,
            &markers,
            end,
        )
    }
}
