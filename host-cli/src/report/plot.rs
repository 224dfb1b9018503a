//! `kld.svg`: mean KL divergence (log scale) against file size (left) and generation speed
//! (right), one labelled point per quantized type; Pareto-front points are filled and joined,
//! dominated points are hollow. The source is the reference (KLD 0) and is not plotted.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use super::Row;

/// Smallest KLD drawn; a log axis cannot show 0.
const KLD_FLOOR: f64 = 1e-6;
const MIB: f64 = 1024.0 * 1024.0;

/// Write the two-panel plot of the quantized rows to `path`.
pub fn write_svg(path: &Path, rows: &[Row]) -> Result<()> {
    let pts: Vec<&Row> = rows.iter().filter(|r| !r.is_source).collect();
    if pts.is_empty() {
        return Err(anyhow!("nothing to plot: no quantized types"));
    }
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let panels = root.split_evenly((1, 2));
    let size = |r: &Row| r.file_bytes as f64 / MIB;
    let speed = |r: &Row| r.tg_tps;
    panel(
        &panels[0],
        &pts,
        &size,
        |r| r.pareto_size,
        "Mean KLD vs file size (lower left is better)",
        "file size (MiB)",
    )?;
    panel(
        &panels[1],
        &pts,
        &speed,
        |r| r.pareto_speed,
        "Mean KLD vs generation speed (lower right is better)",
        "generation speed (tg tokens/s)",
    )?;
    root.present().map_err(plot_err)?;
    Ok(())
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the plot: {e:?}")
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    rows: &[&Row],
    x_of: &dyn Fn(&Row) -> f64,
    on_front: fn(&Row) -> bool,
    title: &str,
    x_desc: &str,
) -> Result<()> {
    let xs: Vec<f64> = rows.iter().map(|r| x_of(r)).collect();
    let ys: Vec<f64> = rows.iter().map(|r| r.kld_mean.max(KLD_FLOOR)).collect();
    let (x_min, x_max) = min_max(&xs);
    let (y_min, y_max) = min_max(&ys);
    let pad = ((x_max - x_min) * 0.12).max(x_max.abs() * 0.05).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18).into_font())
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_min - pad)..(x_max + pad),
            ((y_min / 2.0)..(y_max * 2.0)).log_scale(),
        )
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("mean KLD vs source (log)")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(plot_err)?;
    let mut front: Vec<(f64, f64)> = rows
        .iter()
        .zip(xs.iter().zip(&ys))
        .filter(|(r, _)| on_front(r))
        .map(|(_, (&x, &y))| (x, y))
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    chart
        .draw_series(LineSeries::new(front, BLUE.stroke_width(2)))
        .map_err(plot_err)?
        .label("Pareto front")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(rows.iter().zip(xs.iter().zip(&ys)).map(|(r, (&x, &y))| {
            let style = if on_front(r) {
                BLUE.filled()
            } else {
                BLACK.stroke_width(1)
            };
            Circle::new((x, y), 5, style)
        }))
        .map_err(plot_err)?;
    chart
        .draw_series(
            rows.iter().zip(xs.iter().zip(&ys)).map(|(r, (&x, &y))| {
                Text::new(r.ty.clone(), (x, y), ("sans-serif", 13).into_font())
            }),
        )
        .map_err(plot_err)?;
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}
