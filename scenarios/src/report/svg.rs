//! chart.svg: licences consumed per SKU and users with a license error over time, median and
//! p90 across runs (`crate::chart` draws).

use crate::chart::{self, Panel, Series};
use crate::sweep::SweepReport;

impl SweepReport {
    pub fn to_svg(&self) -> String {
        let mut series = Vec::new();
        let mut skus: Vec<&String> = self
            .rows
            .iter()
            .flat_map(|r| r.consumption.keys())
            .collect();
        skus.sort();
        skus.dedup();
        for s in skus {
            series.push(Series {
                name: s.clone(),
                runs: self
                    .rows
                    .iter()
                    .map(|r| r.consumption.get(s).cloned().unwrap_or_default())
                    .collect(),
            });
        }
        let panels = vec![
            Panel {
                title: "Licenses consumed (consumedUnits)".into(),
                series,
            },
            Panel {
                title: "Users with a license error".into(),
                series: vec![Series {
                    name: "users in error".into(),
                    runs: self.rows.iter().map(|r| r.errors.clone()).collect(),
                }],
            },
        ];
        let end = self.rows.iter().map(|r| r.end_ms).max().unwrap_or(0);
        chart::svg(
            &format!("{} ({} runs)", self.scenario, self.runs),
            &panels,
            end,
        )
    }
}
