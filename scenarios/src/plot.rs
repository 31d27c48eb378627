//! `run --plot`: file sizes over a run as a hand-written SVG. The y axis is logarithmic: the
//! largest apparent size reaches 3.4e11 bytes while allocated bytes stay in KiB.

use std::fmt::Write;

use crate::report::SizePoint;

const W: f64 = 900.0;
const H: f64 = 500.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// The series drawn, with their colours: (label, colour, value of a point).
type Series = (&'static str, &'static str, fn(&SizePoint) -> u64);

const SERIES: [Series; 3] = [
    ("apparent size of the largest file", "#d62728", |p| {
        p.apparent_bytes
    }),
    (
        "allocated bytes of the most allocated file",
        "#1f77b4",
        |p| p.allocated_bytes,
    ),
    ("partition used", "#2ca02c", |p| p.partition_used_bytes),
];

/// The SVG document for `points` (in call order). `title` goes at the top.
pub fn svg(title: &str, points: &[SizePoint]) -> String {
    let max = points
        .iter()
        .flat_map(|p| SERIES.iter().map(move |s| (s.2)(p)))
        .max()
        .unwrap_or(1)
        .max(1);
    let top_decade = (max as f64).log10().ceil().max(1.0) as i32;
    let (x0, x1) = match (points.first(), points.last()) {
        (Some(a), Some(b)) if b.call > a.call => (a.call as f64, b.call as f64),
        (Some(a), _) => (a.call as f64, a.call as f64 + 1.0),
        _ => (0.0, 1.0),
    };
    let x = |call: u64| LEFT + (call as f64 - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    // Zero has no logarithm: it is drawn on the axis, at 1 byte.
    let y = |v: u64| {
        let l = (v.max(1) as f64).log10();
        H - BOTTOM - l / f64::from(top_decade) * (H - TOP - BOTTOM)
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    axes(&mut s, top_decade, &y);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">filesystem call {} .. {}</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 15.0,
        x0,
        x1
    );
    step_markers(&mut s, points, &x);
    for (label, colour, value) in SERIES {
        let mut pts = String::new();
        for p in points {
            let _ = write!(pts, "{:.1},{:.1} ", x(p.call), y(value(p)));
        }
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{label}</title></polyline>"#,
            pts.trim_end()
        );
    }
    legend(&mut s);
    s.push_str("</svg>\n");
    s
}

fn axes(s: &mut String, top_decade: i32, y: &dyn Fn(u64) -> f64) {
    let (bx, by) = (LEFT, H - BOTTOM);
    let _ = writeln!(
        s,
        r#"<path d="M{bx},{TOP} L{bx},{by} L{},{by}" stroke="black" fill="none"/>"#,
        W - RIGHT
    );
    for d in 0..=top_decade {
        let v = 10u64.saturating_pow(d as u32);
        let ty = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{bx}" y1="{ty:.1}" x2="{}" y2="{ty:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            bx - 6.0,
            ty + 4.0,
            decade_label(d)
        );
    }
    let _ = writeln!(
        s,
        r#"<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">bytes (log scale)</text>"#,
        (TOP + H - BOTTOM) / 2.0
    );
}

/// A dashed line where each schedule step begins.
fn step_markers(s: &mut String, points: &[SizePoint], x: &dyn Fn(u64) -> f64) {
    let mut last = None;
    let mut last_label = f64::NEG_INFINITY;
    for p in points {
        if last != Some(p.step) {
            let px = x(p.call);
            let _ = writeln!(
                s,
                r##"<line class="step" x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{}" stroke="#999" stroke-dasharray="4 3"/>"##,
                H - BOTTOM,
            );
            // Label a marker only where the previous label leaves room for it.
            if px - last_label >= 48.0 {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{}" font-size="10" fill="#666">step {}</text>"##,
                    px + 2.0,
                    TOP + 10.0,
                    p.step
                );
                last_label = px;
            }
            last = Some(p.step);
        }
    }
}

fn legend(s: &mut String) {
    for (i, (label, colour, _)) in SERIES.iter().enumerate() {
        // Bottom right, where the log-scale lines of a blow-up are not.
        let ly = H - BOTTOM - 20.0 - (SERIES.len() - 1 - i) as f64 * 18.0;
        let lx = W - 280.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{label}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0
        );
    }
}

/// `10^d` bytes in SI units: 1 B, 10 B, 100 B, 1 kB, ..., 100 GB, 1 TB.
fn decade_label(d: i32) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let unit = UNITS[(d / 3).min(6) as usize];
    let mant = 10u64.pow((d - (d / 3).min(6) * 3) as u32);
    format!("{mant} {unit}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(call: u64, step: usize, apparent: u64, allocated: u64) -> SizePoint {
        SizePoint {
            call,
            step,
            apparent_bytes: apparent,
            allocated_bytes: allocated,
            partition_used_bytes: allocated,
        }
    }

    #[test]
    fn the_y_axis_spans_kib_to_the_sparse_file() {
        let doc = svg(
            "t",
            &[pt(0, 0, 4096, 4096), pt(10, 1, 340_000_000_000, 8192)],
        );
        assert!(doc.starts_with("<svg"));
        assert!(doc.trim_end().ends_with("</svg>"));
        assert!(doc.contains(">1 TB<"), "top decade is 10^12");
        assert!(doc.contains(">1 kB<"));
        assert_eq!(doc.matches("<polyline").count(), 3);
        assert_eq!(doc.matches(r#"class="step""#).count(), 2);
        assert!(doc.contains("bytes (log scale)"));
    }

    #[test]
    fn a_log_axis_puts_kib_far_below_the_sparse_size() {
        let doc = svg(
            "t",
            &[
                pt(0, 0, 340_000_000_000, 4096),
                pt(1, 0, 340_000_000_000, 4096),
            ],
        );
        let ys = |colour: &str| -> f64 {
            let at = doc
                .find(&format!(r#"stroke="{colour}" stroke-width="2" points=""#))
                .unwrap();
            let rest = &doc[at..];
            let pts = rest.split('"').nth(5).unwrap();
            pts.split(' ')
                .next()
                .unwrap()
                .split(',')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap()
        };
        let (apparent, allocated) = (ys("#d62728"), ys("#1f77b4"));
        // 4096 is 3.6 decades of 12: about 30% up the plot; 3.4e11 about 96%.
        assert!(
            allocated - apparent > 0.6 * (H - TOP - BOTTOM),
            "{apparent} {allocated}"
        );
    }

    #[test]
    fn an_empty_series_is_still_a_document() {
        let doc = svg("<none>", &[]);
        assert!(doc.starts_with("<svg") && doc.contains("&lt;none&gt;"));
        assert_eq!(doc.matches("<polyline").count(), 3);
    }

    #[test]
    fn decades_have_si_labels() {
        assert_eq!(decade_label(0), "1 B");
        assert_eq!(decade_label(4), "10 kB");
        assert_eq!(decade_label(11), "100 GB");
    }
}
