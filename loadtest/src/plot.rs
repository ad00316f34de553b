//! Pictures of runs: latency over time (p50 and p99 per second) and over the whole run by
//! percentile, several runs on the same axes, as one SVG file. Drawn with the `plotters`
//! crate (SVG backend only: no fonts or images to load).

use crate::report::Report;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

const COLOURS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x5f, 0xa8),
    RGBColor(0xc4, 0x4e, 0x1b),
    RGBColor(0x2a, 0x8a, 0x3e),
    RGBColor(0x7a, 0x3e, 0x9d),
];

/// Draw `runs` (label, report) into `out`.
pub fn write_svg(out: &Path, title: &str, runs: &[(String, Report)]) -> anyhow::Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot draw {}: {e}", out.display());
    let root = SVGBackend::new(out, (1200, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = if title.is_empty() {
        root
    } else {
        root.titled(title, ("sans-serif", 20))
            .map_err(|e| err(&e))?
    };
    let (left, right) = root.split_horizontally(600);
    over_time(&left, runs).map_err(|e| err(&e))?;
    by_percentile(&right, runs).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// The smallest and largest latency to show (ms), with a margin, for a log axis.
fn range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi == 0.0 {
        return 0.01..1.0;
    }
    (lo / 1.5).max(0.001)..hi * 1.5
}

fn over_time<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    runs: &[(String, Report)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let seconds = runs
        .iter()
        .flat_map(|r| r.1.series.iter().map(|s| s.t))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let y = range(
        runs.iter()
            .flat_map(|r| r.1.series.iter().flat_map(|s| [s.p50_ms, s.p99_ms])),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(
            "latency per second (solid p99, dashed p50)",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..seconds + 1.0, y.log_scale())?;
    chart
        .configure_mesh()
        .x_desc("seconds into the run")
        .y_desc("ms")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, (label, r)) in runs.iter().enumerate() {
        let points = r.series.iter().map(|s| (s.t as f64, s.p99_ms));
        let colour = labelled_line(&mut chart, i, label, points)?;
        chart.draw_series(DashedLineSeries::new(
            r.series.iter().map(|s| (s.t as f64, s.p50_ms)),
            4,
            3,
            colour.stroke_width(1),
        ))?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK.mix(0.3))
        .background_style(WHITE.mix(0.9))
        .draw()?;
    Ok(())
}

/// Percentiles on a "nines" axis: x = −log10(1 − p), so 90 %, 99 %, 99.9 % are evenly
/// spaced, as HdrHistogram's plots show them.
fn by_percentile<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    runs: &[(String, Report)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let nines = |p: f64| -(1.0 - p / 100.0).max(1e-5).log10();
    let y = range(
        runs.iter()
            .flat_map(|r| r.1.distribution.iter().map(|d| d.1)),
    );
    let mut chart = ChartBuilder::on(area)
        .caption("latency by percentile, whole run", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..5.0, y.log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("ms")
        .x_labels(6)
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            format!("{}%", (p * 1000.0).round() / 1000.0)
        })
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, (label, r)) in runs.iter().enumerate() {
        let points = r.distribution.iter().map(|d| (nines(d.0), d.1));
        labelled_line(&mut chart, i, label, points)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK.mix(0.3))
        .background_style(WHITE.mix(0.9))
        .draw()?;
    Ok(())
}

/// Both charts: milliseconds on a logarithmic axis against a linear one.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, LogCoord<f64>>>;

/// Run `i`'s line in its colour, named in the legend; the colour, for more of the run.
fn labelled_line<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    i: usize,
    label: &str,
    points: impl Iterator<Item = (f64, f64)>,
) -> Result<RGBColor, DrawingAreaErrorKind<DB::ErrorType>> {
    let colour = COLOURS[i % COLOURS.len()];
    chart
        .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
        .label(label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    Ok(colour)
}
