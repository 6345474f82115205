//! A dependency-free SVG chart of step functions over simulated time: for each series, the median
//! and the 90th percentile across runs on a common time grid. Integers throughout (coordinates are
//! integer pixels), so the bytes are the same on every machine.

use std::fmt::Write;

/// One quantity over time, one step function per run: (time ms, value) at each change.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    pub runs: Vec<Vec<(u64, u64)>>,
}

/// A panel: a title and the series drawn in it.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
}

const W: i64 = 900;
const PANEL_H: i64 = 260;
const LEFT: i64 = 70;
const RIGHT: i64 = 170;
const TOP: i64 = 40;
const GRID: usize = 240;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

/// Value of a step function at `t` (0 before its first point).
fn at(steps: &[(u64, u64)], t: u64) -> u64 {
    match steps.partition_point(|(x, _)| *x <= t) {
        0 => 0,
        i => steps[i - 1].1,
    }
}

/// (median, p90) across runs at each grid time.
fn quantiles(s: &Series, grid: &[u64]) -> Vec<(u64, u64)> {
    let mut vals: Vec<u64> = Vec::with_capacity(s.runs.len());
    grid.iter()
        .map(|t| {
            vals.clear();
            vals.extend(s.runs.iter().map(|r| at(r, *t)));
            vals.sort_unstable();
            if vals.is_empty() {
                return (0, 0);
            }
            let n = vals.len();
            (vals[(n - 1) / 2], vals[((n - 1) * 9).div_ceil(10)])
        })
        .collect()
}

fn fmt_time(ms: u64) -> String {
    let m = ms / 60_000;
    if m >= 48 * 60 {
        format!("{}d{}h", m / 1440, (m % 1440) / 60)
    } else {
        format!("{}h{:02}", m / 60, m % 60)
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the panels over `0..=end_ms`.
pub fn svg(title: &str, panels: &[Panel], end_ms: u64) -> String {
    let end = end_ms.max(1);
    let grid: Vec<u64> = (0..=GRID as u64).map(|i| end * i / GRID as u64).collect();
    let h = TOP + panels.len().max(1) as i64 * (PANEL_H + 50);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="22" font-size="15">{}</text>"#,
        esc(title)
    );
    for (pi, panel) in panels.iter().enumerate() {
        let y0 = TOP + pi as i64 * (PANEL_H + 50) + 20;
        let plot_w = W - LEFT - RIGHT;
        let plot_h = PANEL_H - 30;
        let qs: Vec<Vec<(u64, u64)>> = panel.series.iter().map(|s| quantiles(s, &grid)).collect();
        let ymax = qs
            .iter()
            .flatten()
            .map(|(_, p90)| *p90)
            .max()
            .unwrap_or(0)
            .max(1);
        let _ = writeln!(
            out,
            r#"<text x="{LEFT}" y="{}" font-size="13">{}</text>"#,
            y0 - 6,
            esc(&panel.title)
        );
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{y0}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>"##
        );
        let mut last_label = None;
        for k in 0..=4i64 {
            let v = ymax * k as u64 / 4;
            let y = y0 + plot_h - plot_h * k / 4;
            if last_label != Some(v) {
                let _ = writeln!(
                    out,
                    r##"<text x="{}" y="{}" text-anchor="end" fill="#555">{v}</text>"##,
                    LEFT - 6,
                    y + 4
                );
                last_label = Some(v);
            }
            let t = end * k as u64 / 4;
            let x = LEFT + plot_w * k / 4;
            let _ = writeln!(
                out,
                r##"<text x="{x}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
                y0 + plot_h + 16,
                fmt_time(t)
            );
        }
        for (si, (s, q)) in panel.series.iter().zip(qs.iter()).enumerate() {
            let color = COLORS[si % COLORS.len()];
            for (which, dash) in [(0usize, ""), (1, r#" stroke-dasharray="5,4""#)] {
                let mut pts = String::new();
                let mut prev_y: Option<i64> = None;
                for (gi, (med, p90)) in q.iter().enumerate() {
                    let v = if which == 0 { *med } else { *p90 };
                    let x = LEFT + plot_w * gi as i64 / GRID as i64;
                    let y = y0 + plot_h - (plot_h as u64 * v.min(ymax) / ymax) as i64;
                    if let Some(py) = prev_y
                        && py != y
                    {
                        let _ = write!(pts, "{x},{py} ");
                    }
                    let _ = write!(pts, "{x},{y} ");
                    prev_y = Some(y);
                }
                let _ = writeln!(
                    out,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.6"{dash}/>"#,
                    pts.trim_end()
                );
            }
            let ly = y0 + 14 + si as i64 * 16;
            let lx = W - RIGHT + 10;
            let _ = writeln!(
                out,
                r#"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-width="2"/>"#,
                ly - 4,
                lx + 18,
                ly - 4
            );
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{ly}">{}</text>"#,
                lx + 24,
                esc(&s.name)
            );
        }
        let ly = y0 + plot_h - 4;
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{ly}" fill="#555">median —, p90 - -</text>"##,
            W - RIGHT + 10
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lookup_and_quantiles() {
        let s = Series {
            name: "E3".into(),
            runs: vec![vec![(0, 1), (10, 5)], vec![(0, 2), (20, 9)], vec![(5, 3)]],
        };
        assert_eq!(at(&s.runs[0], 9), 1);
        assert_eq!(at(&s.runs[0], 10), 5);
        assert_eq!(at(&s.runs[2], 0), 0);
        let q = quantiles(&s, &[0, 30]);
        assert_eq!(q[0], (1, 2));
        assert_eq!(q[1], (5, 9));
    }

    #[test]
    fn svg_is_well_formed_and_deterministic() {
        let p = Panel {
            title: "Consumption".into(),
            series: vec![Series {
                name: "A & B".into(),
                runs: vec![vec![(0, 3), (3_600_000, 7)]],
            }],
        };
        let a = svg("t", std::slice::from_ref(&p), 7_200_000);
        assert_eq!(a, svg("t", &[p], 7_200_000));
        assert!(a.starts_with("<svg") && a.ends_with("</svg>\n"));
        assert!(a.contains("A &amp; B"));
    }
}
