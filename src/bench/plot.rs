//! The scaling chart: time and peak memory per engine against days of history, so linear and
//! quadratic growth can be told apart at a glance.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{BenchError, Contender, Report};

const GIB: f64 = (1u64 << 30) as f64;

/// Dark enough to read on white, apart enough to tell from each other; a contender keeps its
/// color in both panels (its index in the report), the operator's own memory comes after.
const COLORS: [RGBColor; 6] = [
    RGBColor(0, 0, 0),
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

/// A named line of (x, y) points.
type Series = (String, Vec<(f64, f64)>);

/// Draws `report` as SVG to `path` (written whole, then renamed into place). The x axis is
/// days of history; sizes without a day count are numbered 1, 2, ...
///
/// # Errors
/// Drawing or writing failures.
pub fn plot(report: &Report, path: &Path) -> Result<(), BenchError> {
    let x = |index: usize| {
        report.sizes[index]
            .days
            .map_or(index as f64 + 1.0, f64::from)
    };
    // Every size measures the same contenders.
    let contenders: Vec<Contender> = report.sizes.first().map_or(Vec::new(), |size| {
        size.contenders
            .iter()
            .map(|c| c.contender.clone())
            .collect()
    });
    let series = |value: &dyn Fn(&super::ContenderReport) -> Option<f64>, suffix: &str| {
        contenders
            .iter()
            .map(|contender| {
                let points = report
                    .sizes
                    .iter()
                    .enumerate()
                    .filter_map(|(index, size)| {
                        let r = size.contenders.iter().find(|r| r.contender == *contender)?;
                        Some((x(index), value(r)?))
                    })
                    .collect();
                (format!("{}{suffix}", contender.name()), points)
            })
            .collect::<Vec<Series>>()
    };
    let times = series(&|r| r.times.median_seconds, "");
    let mut memory = series(&|r| r.peak_rss.map(|b| b as f64 / GIB), " (process)");
    memory.extend(
        series(
            &|r| r.operator_peak.map(|b| b as f64 / GIB),
            " (operator's own)",
        )
        .into_iter()
        .filter(|(_, points)| !points.is_empty()),
    );
    let x_desc = if report.sizes.iter().all(|s| s.days.is_some()) {
        "days of history"
    } else {
        "size"
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1280, 540)).into_drawing_area();
        let failed = |e: &dyn std::fmt::Display| BenchError::Plot {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let (left, right) = root.split_horizontally(640);
        panel(
            &left,
            "Hunt time (median of runs)",
            x_desc,
            "seconds",
            &times,
        )
        .map_err(|e| failed(&e))?;
        panel(&right, "Peak memory", x_desc, "GiB", &memory).map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
    }
    let staging = path.with_extension("svg.partial");
    let io = |source| BenchError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&staging, svg).map_err(io)?;
    std::fs::rename(&staging, path).map_err(io)
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let points = || series.iter().flat_map(|(_, points)| points.iter());
    let max_x = points().map(|p| p.0).fold(1.0, f64::max);
    let max_y = points().map(|p| p.1).fold(f64::MIN_POSITIVE, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..max_x * 1.05, 0f64..max_y * 1.1)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()?;
    for (index, (label, points)) in series.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .iter()
                .map(|&point| Circle::new(point, 4, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
}
