//! `--plot FILE.svg`: round trip and throughput per method, as horizontal bars on log
//! scales, drawn with plotters' SVG backend.

use std::path::Path;

use plotters::prelude::*;

use crate::report::{fmt_ns, fmt_rate, measured, FloorKind, Outcome, Report, Tput, LARGE, SMALL};

const ROW: i32 = 26;
const TOP: i32 = 70;
const LABEL_W: i32 = 230;
const PANEL_W: i32 = 330;
const GAP: i32 = 70;

/// One row: a label and up to two values per panel.
struct Row {
    label: String,
    rtt: Option<f64>,
    small: Option<f64>,
    large: Option<f64>,
}

fn tput(o: &Option<Outcome<Tput>>) -> Option<f64> {
    measured(o).map(|t| t.msgs_per_s).filter(|&v| v > 0.0)
}

/// x of value `v` on a log scale from `lo` to `hi` across `w` pixels.
fn logx(v: f64, lo: f64, hi: f64, w: i32) -> i32 {
    let f = (v.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln());
    (f.clamp(0.0, 1.0) * w as f64) as i32
}

/// The decade bounds around the values.
fn decades(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::MAX, 0f64);
    for v in vals.filter(|v| *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi == 0.0 {
        return (1.0, 10.0);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    (lo, hi)
}

/// Draws the report to `path`.
pub fn draw(rep: &Report, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut rows = Vec::new();
    for kind in [FloorKind::Spin, FloorKind::Futex] {
        if let Some(f) = rep.best_floor(kind) {
            rows.push(Row {
                label: kind.label().into(),
                rtt: Some(f.p50_ns),
                small: None,
                large: None,
            });
        }
    }
    rows.push(Row {
        label: "floor: memcpy".into(),
        rtt: None,
        small: rep.memcpy_rate(SMALL),
        large: rep.memcpy_rate(LARGE),
    });
    for m in &rep.methods {
        if m.unavailable.is_some() {
            continue;
        }
        rows.push(Row {
            label: m.label.to_string(),
            rtt: measured(&m.rtt).map(|r| r.p50_ns),
            small: tput(&m.tput_small),
            large: tput(&m.tput_large),
        });
    }
    let h = TOP + ROW * rows.len() as i32 + 50;
    let w = LABEL_W + 2 * PANEL_W + GAP + 30;
    let root = SVGBackend::new(path, (w as u32, h as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let font = ("sans-serif", 13).into_font();
    let small_font = ("sans-serif", 11).into_font();
    let title = format!(
        "ipcring compare: {} ({} CPUs), {} run",
        rep.machine.cpu,
        rep.machine.cpus,
        rep.plan.mode.as_str()
    );
    root.draw(&Text::new(title, (10, 8), ("sans-serif", 15).into_font()))?;

    let (rlo, rhi) = decades(rows.iter().filter_map(|r| r.rtt));
    let (tlo, thi) = decades(rows.iter().flat_map(|r| [r.small, r.large]).flatten());
    let x1 = LABEL_W;
    let x2 = LABEL_W + PANEL_W + GAP;
    for (heading, x) in [
        ("round trip p50, 64 B (log, shorter is better)", x1),
        ("throughput, messages/s (log): 64 B dark, 64 KiB light", x2),
    ] {
        root.draw(&Text::new(heading, (x, 32), font.clone()))?;
    }
    // Axes with decade ticks.
    let axis_y = TOP + ROW * rows.len() as i32 + 4;
    for (x0, lo, hi, ns) in [(x1, rlo, rhi, true), (x2, tlo, thi, false)] {
        root.draw(&PathElement::new(
            vec![(x0, TOP - 6), (x0, axis_y), (x0 + PANEL_W, axis_y)],
            BLACK,
        ))?;
        let mut v = lo;
        while v <= hi * 1.0001 {
            let x = x0 + logx(v, lo, hi, PANEL_W);
            root.draw(&PathElement::new(
                vec![(x, TOP - 6), (x, axis_y)],
                RGBColor(225, 225, 225),
            ))?;
            let label = if ns { fmt_ns(v) } else { fmt_rate(v, "") };
            root.draw(&Text::new(label, (x - 12, axis_y + 6), small_font.clone()))?;
            v *= 10.0;
        }
    }
    let dark = RGBColor(40, 90, 160);
    let light = RGBColor(140, 180, 225);
    let floor_c = RGBColor(150, 150, 150);
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW * i as i32;
        let is_floor = r.label.starts_with("floor");
        root.draw(&Text::new(r.label.clone(), (10, y + 5), font.clone()))?;
        if let Some(v) = r.rtt {
            let len = logx(v, rlo, rhi, PANEL_W).max(1);
            let c = if is_floor { floor_c } else { dark };
            root.draw(&Rectangle::new(
                [(x1, y + 3), (x1 + len, y + ROW - 5)],
                c.filled(),
            ))?;
            root.draw(&Text::new(
                fmt_ns(v),
                (x1 + len + 4, y + 5),
                small_font.clone(),
            ))?;
        }
        // 64 B in the upper half of the row, dark; 64 KiB in the lower half, light.
        let halves = [
            (r.small, dark, (y + 2, y + ROW / 2 - 1)),
            (r.large, light, (y + ROW / 2, y + ROW - 4)),
        ];
        for (v, c, (ya, yb)) in halves {
            if let Some(v) = v {
                let len = logx(v, tlo, thi, PANEL_W).max(1);
                let c = if is_floor { floor_c } else { c };
                root.draw(&Rectangle::new([(x2, ya), (x2 + len, yb)], c.filled()))?;
            }
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{sample, temp_file};

    #[test]
    fn the_plot_draws_what_compare_wrote() {
        let json = temp_file("plot.json");
        let svg = temp_file("plot.svg");
        sample().write_json(&json).unwrap();
        let rep = Report::read_json(&json).unwrap();
        draw(&rep, &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.starts_with("<svg"), "{text}");
        // Every row that ran, the floors, and not the method that did not run here.
        for label in [
            "ipcring ring, busy-poll",
            "signals (sigqueue, 3 B)",
            "named pipe (FIFO)",
            "floor: cache-line ping-pong",
            "floor: futex ping-pong",
            "floor: memcpy",
            "quick run",
        ] {
            assert!(text.contains(label), "{label} missing from the plot");
        }
        assert!(!text.contains("Redis pub/sub"));
        // The least disturbed spin floor is drawn, with its value.
        assert!(text.contains("125 ns") && !text.contains("150 ns"));
        std::fs::remove_file(&json).unwrap();
        std::fs::remove_file(&svg).unwrap();
    }
}
