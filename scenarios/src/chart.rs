//! A dependency-free SVG chart of step functions over simulated time: for each series, the median
//! and the 90th percentile across runs on a common time grid (or, for a reference such as the
//! assignable units, its median as a dotted line), in panels that share the time axis, with
//! vertical markers (wave starts, the plan stopping). Integers throughout (coordinates are integer
//! pixels), so the bytes are the same on every machine.

use std::fmt::Write;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// Median (solid) and p90 (dashed) across runs.
    #[default]
    Quantiles,
    /// A limit or reference: its median across runs, dotted.
    Reference,
}

/// One quantity over time, one step function per run: (time ms, value) at each change.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    pub runs: Vec<Vec<(u64, u64)>>,
    pub style: Style,
    /// Index into the palette (series that belong together share a colour).
    pub color: usize,
}

/// A panel: a title, the series drawn in it, and a note shown when it has nothing to draw.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
    pub empty_note: String,
}

/// A vertical line across every panel at a time, with a short label.
#[derive(Clone, Debug)]
pub struct Marker {
    pub time_ms: u64,
    pub label: String,
    pub color: &'static str,
}

const PLOT_W: i64 = 680;
const PANEL_H: i64 = 260;
const LEFT: i64 = 70;
const TOP: i64 = 40;
const GRID: usize = 240;
/// Width of one character of the legend's 12 px sans-serif, rounded up.
const CHAR_W: i64 = 7;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

/// The smallest of 4, 8, 12, 16 or 20 times a power of ten that is at least `v`: an axis top
/// whose quarters are whole, round numbers.
fn nice_ceiling(v: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [4u64, 8, 12, 16, 20] {
            let x = p.saturating_mul(m);
            if x >= v || x == u64::MAX {
                return x;
            }
        }
        p = p.saturating_mul(10);
    }
}

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

/// An axis label: hours and minutes, or days and hours when the axis spans two days or more
/// (`long`), so that every label of one axis has the same form.
fn fmt_time(ms: u64, long: bool) -> String {
    let m = ms / 60_000;
    if long {
        format!("{}d {:02}h", m / 1440, (m % 1440) / 60)
    } else {
        format!("{}h{:02}", m / 60, m % 60)
    }
}

/// Time-axis ticks at a round step (5 min, 1 h, 6 h, 1 d, ...): at most six, from 0; an axis
/// shorter than four minutes is cut in quarters.
fn time_ticks(end: u64) -> Vec<u64> {
    const MIN: u64 = 60_000;
    const STEPS: [u64; 17] = [
        MIN,
        2 * MIN,
        5 * MIN,
        10 * MIN,
        15 * MIN,
        30 * MIN,
        60 * MIN,
        120 * MIN,
        180 * MIN,
        360 * MIN,
        720 * MIN,
        1440 * MIN,
        2 * 1440 * MIN,
        5 * 1440 * MIN,
        7 * 1440 * MIN,
        14 * 1440 * MIN,
        30 * 1440 * MIN,
    ];
    if end < 4 * MIN {
        return (0..=4).map(|k| end * k / 4).collect();
    }
    let step = STEPS
        .iter()
        .copied()
        .find(|s| end / s <= 5)
        .unwrap_or_else(|| end.div_ceil(5 * 30 * 1440 * MIN) * 30 * 1440 * MIN);
    (0..).map(|k| k * step).take_while(|t| *t <= end).collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the panels over `0..=end_ms`.
pub fn svg(title: &str, panels: &[Panel], markers: &[Marker], end_ms: u64) -> String {
    let end = end_ms.max(1);
    let grid: Vec<u64> = (0..=GRID as u64).map(|i| end * i / GRID as u64).collect();
    // The legend is as wide as its longest name, so no name is cut.
    let longest = panels
        .iter()
        .flat_map(|p| p.series.iter().map(|s| legend_name(s).chars().count()))
        .chain(std::iter::once(20))
        .max()
        .unwrap_or(20) as i64;
    let right = 40 + CHAR_W * longest;
    let w = LEFT + PLOT_W + right;
    let h = TOP + panels.len().max(1) as i64 * (PANEL_H + 50);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="22" font-size="15">{}</text>"#,
        esc(title)
    );
    for (pi, panel) in panels.iter().enumerate() {
        let y0 = TOP + pi as i64 * (PANEL_H + 50) + 20;
        draw_panel(&mut out, panel, &grid, end, y0, w - right);
        draw_markers(&mut out, markers, end, y0, pi == 0);
    }
    out.push_str("</svg>\n");
    out
}

fn legend_name(s: &Series) -> String {
    match s.style {
        Style::Quantiles => s.name.clone(),
        Style::Reference => format!("{} (limit)", s.name),
    }
}

fn draw_markers(out: &mut String, markers: &[Marker], end: u64, y0: i64, label: bool) {
    let plot_h = PANEL_H - 30;
    for (i, m) in markers.iter().enumerate() {
        let x = LEFT + (PLOT_W as u64 * m.time_ms.min(end) / end) as i64;
        let _ = writeln!(
            out,
            r#"<line x1="{x}" y1="{y0}" x2="{x}" y2="{}" stroke="{}" stroke-width="1" stroke-dasharray="2,3"/>"#,
            y0 + plot_h,
            m.color
        );
        if label {
            // Labels alternate between two rows so that close markers stay readable.
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" font-size="10" fill="{}">{}</text>"#,
                x + 2,
                y0 + 10 + (i as i64 % 2) * 11,
                m.color,
                esc(&m.label)
            );
        }
    }
}

fn draw_panel(out: &mut String, panel: &Panel, grid: &[u64], end: u64, y0: i64, legend_x: i64) {
    let plot_h = PANEL_H - 30;
    let qs: Vec<Vec<(u64, u64)>> = panel.series.iter().map(|s| quantiles(s, grid)).collect();
    let top = qs.iter().flatten().map(|(_, p90)| *p90).max().unwrap_or(0);
    let ymax = nice_ceiling(top + top / 20);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{}" font-size="13">{}</text>"#,
        y0 - 6,
        esc(&panel.title)
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{y0}" width="{PLOT_W}" height="{plot_h}" fill="none" stroke="#999"/>"##
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
    }
    for t in time_ticks(end) {
        let x = LEFT + (PLOT_W as u64 * t / end) as i64;
        let _ = writeln!(
            out,
            r##"<text x="{x}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
            y0 + plot_h + 16,
            fmt_time(t, end >= 2 * 86_400_000)
        );
    }
    let drawn = panel
        .series
        .iter()
        .any(|s| s.runs.iter().any(|r| r.iter().any(|(_, v)| *v > 0)));
    if !drawn && !panel.empty_note.is_empty() {
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
            LEFT + PLOT_W / 2,
            y0 + plot_h / 2,
            esc(&panel.empty_note)
        );
    }
    for (si, (s, q)) in panel.series.iter().zip(qs.iter()).enumerate() {
        let color = COLORS[s.color % COLORS.len()];
        let lines: &[(usize, &str)] = match s.style {
            Style::Quantiles => &[(0, ""), (1, r#" stroke-dasharray="5,4""#)],
            Style::Reference => &[(0, r#" stroke-dasharray="1,3""#)],
        };
        for (which, dash) in lines {
            let mut pts = String::new();
            let mut prev_y: Option<i64> = None;
            for (gi, (med, p90)) in q.iter().enumerate() {
                let v = if *which == 0 { *med } else { *p90 };
                let x = LEFT + PLOT_W * gi as i64 / GRID as i64;
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
        let lx = legend_x + 10;
        let dash = match s.style {
            Style::Quantiles => "",
            Style::Reference => r#" stroke-dasharray="1,3""#,
        };
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-width="2"{dash}/>"#,
            ly - 4,
            lx + 18,
            ly - 4
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{ly}">{}</text>"#,
            lx + 24,
            esc(&legend_name(s))
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" fill="#555">median —, p90 - -</text>"##,
        legend_x + 10,
        y0 + plot_h - 4
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lookup_and_quantiles() {
        let s = Series {
            name: "E3".into(),
            runs: vec![vec![(0, 1), (10, 5)], vec![(0, 2), (20, 9)], vec![(5, 3)]],
            ..Series::default()
        };
        assert_eq!(at(&s.runs[0], 9), 1);
        assert_eq!(at(&s.runs[0], 10), 5);
        assert_eq!(at(&s.runs[2], 0), 0);
        let q = quantiles(&s, &[0, 30]);
        assert_eq!(q[0], (1, 2));
        assert_eq!(q[1], (5, 9));
    }

    #[test]
    fn svg_is_well_formed_deterministic_and_fits_its_legend() {
        let long = "WORKPLACE_ANALYTICS_INSIGHTS_BACKEND";
        let p = Panel {
            title: "Consumption".into(),
            series: vec![
                Series {
                    name: "A & B".into(),
                    runs: vec![vec![(0, 3), (3_600_000, 7)]],
                    ..Series::default()
                },
                Series {
                    name: long.into(),
                    runs: vec![vec![(0, 9)]],
                    style: Style::Reference,
                    color: 1,
                },
            ],
            empty_note: String::new(),
        };
        let m = [Marker {
            time_ms: 3_600_000,
            label: "wave 2".into(),
            color: "#555",
        }];
        let a = svg("t", std::slice::from_ref(&p), &m, 7_200_000);
        assert_eq!(a, svg("t", &[p], &m, 7_200_000));
        assert!(a.starts_with("<svg") && a.ends_with("</svg>\n"));
        assert!(a.contains("A &amp; B") && a.contains("wave 2"));
        // The legend's text ends inside the picture.
        let width: i64 = a
            .split("width=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        let text_x = LEFT + PLOT_W + 10 + 24;
        let needed = text_x + CHAR_W * (long.len() as i64 + " (limit)".len() as i64);
        assert!(width >= needed, "{width} < {needed}");
    }

    #[test]
    fn time_ticks_are_round_and_few() {
        let h = 3_600_000u64;
        assert_eq!(
            time_ticks(79 * h + 1_800_000),
            vec![0, 24 * h, 48 * h, 72 * h]
        );
        assert_eq!(time_ticks(20 * 60_000).len(), 5); // every 5 minutes
        assert_eq!(
            time_ticks(2 * 60_000),
            vec![0, 30_000, 60_000, 90_000, 120_000]
        );
        for end in [5 * 60_000, 3 * h, 40 * h, 30 * 24 * h, 400 * 24 * h] {
            let t = time_ticks(end);
            assert!(t.len() >= 2 && t.len() <= 6, "{end}: {t:?}");
            assert!(*t.last().unwrap() <= end);
        }
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0), 4);
        assert_eq!(nice_ceiling(10), 12);
        assert_eq!(nice_ceiling(105), 120);
        assert_eq!(nice_ceiling(1050), 1200);
        assert_eq!(nice_ceiling(3100), 4000);
        assert_eq!(nice_ceiling(470), 800);
        assert_eq!(nice_ceiling(u64::MAX), u64::MAX);
    }

    #[test]
    fn an_empty_panel_says_so() {
        let p = Panel {
            title: "Users without a service".into(),
            series: vec![],
            empty_note: "nobody lost a service".into(),
        };
        assert!(svg("t", &[p], &[], 1000).contains("nobody lost a service"));
    }
}
