//! Hand-written SVG charts: a line chart and a grouped bar chart, each with axes, ticks, axis
//! labels and a legend. No dependencies; the output is plain SVG 1.1 that browsers and
//! GitHub render.

use std::fmt::Write;

use super::fmt::num;

/// Chart area, in SVG units.
const PLOT_WIDTH: f64 = 560.0;
const PLOT_HEIGHT: f64 = 320.0;
const MARGIN_LEFT: f64 = 120.0;
const MARGIN_TOP: f64 = 40.0;
/// Room for slanted group labels under bar charts.
const MARGIN_BOTTOM: f64 = 150.0;
const LEGEND_WIDTH: f64 = 300.0;
const LEGEND_LINE: f64 = 16.0;
/// Most points of a series drawn with a marker each.
const MAX_MARKED_POINTS: usize = 60;
/// Colour-blind-friendly palette (Okabe-Ito), cycled.
const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
];

/// The colour of series or bar `index`.
pub fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// One line of a [`LineChart`].
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points, drawn in the order given.
    pub points: Vec<(f64, f64)>,
    /// Index into the palette.
    pub colour: usize,
    /// Dashed, without markers (reference lines).
    pub dashed: bool,
}

/// A line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    /// Title above the chart.
    pub title: String,
    /// X axis label, with its unit.
    pub x_label: String,
    /// Y axis label, with its unit.
    pub y_label: String,
    /// Logarithmic x axis.
    pub x_log: bool,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// X ticks (value, label); computed when empty.
    pub x_ticks: Vec<(f64, String)>,
    /// The lines.
    pub series: Vec<Series>,
}

/// One group of a [`BarChart`].
#[derive(Clone, Debug, PartialEq)]
pub struct BarGroup {
    /// Label under the group.
    pub label: String,
    /// One value per bar kind (`None`: no bar).
    pub values: Vec<Option<f64>>,
}

/// A grouped bar chart.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    /// Title above the chart.
    pub title: String,
    /// Y axis label, with its unit.
    pub y_label: String,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// Legend text of each bar kind.
    pub bars: Vec<String>,
    /// The groups, left to right.
    pub groups: Vec<BarGroup>,
}

/// A value-to-pixel mapping of one axis.
#[derive(Clone, Copy, Debug)]
struct Scale {
    min: f64,
    max: f64,
    log: bool,
}

impl Scale {
    /// A scale covering `values` (positive ones only when logarithmic), padded to round ends.
    fn covering(values: impl Iterator<Item = f64>, log: bool, from_zero: bool) -> Scale {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
            min = min.min(v);
            max = max.max(v);
        }
        if !min.is_finite() {
            return if log {
                Scale {
                    min: 1.0,
                    max: 10.0,
                    log,
                }
            } else {
                Scale {
                    min: 0.0,
                    max: 1.0,
                    log,
                }
            };
        }
        if log {
            Scale {
                min: 10f64.powf(min.log10().floor()),
                max: 10f64.powf(max.log10().ceil().max(min.log10().floor() + 1.0)),
                log,
            }
        } else {
            let min = if from_zero { min.min(0.0) } else { min };
            let step = nice_step((max - min).max(f64::EPSILON) / 5.0);
            let max = (max / step).ceil() * step;
            let max = if max <= min { min + step } else { max };
            Scale {
                min: (min / step).floor() * step,
                max,
                log,
            }
        }
    }

    /// Position of `v` from 0 (min) to 1 (max).
    fn fraction(&self, v: f64) -> f64 {
        if self.log {
            (v.max(self.min).log10() - self.min.log10()) / (self.max.log10() - self.min.log10())
        } else {
            (v - self.min) / (self.max - self.min)
        }
    }

    fn ticks(&self) -> Vec<(f64, String)> {
        let mut out = Vec::new();
        if self.log {
            let mut v = self.min;
            while v <= self.max * 1.000_001 {
                out.push((v, num(v)));
                v *= 10.0;
            }
        } else {
            let step = nice_step((self.max - self.min) / 5.0);
            let mut i = 0.0;
            while self.min + i * step <= self.max + step * 1e-6 {
                let v = self.min + i * step;
                out.push((v, num(v)));
                i += 1.0;
            }
        }
        out
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn open(out: &mut String, title: &str, legend_lines: usize) -> std::fmt::Result {
    let width = MARGIN_LEFT + PLOT_WIDTH + LEGEND_WIDTH;
    let legend_height = MARGIN_TOP + LEGEND_LINE * (legend_lines as f64 + 1.0);
    let height = (MARGIN_TOP + PLOT_HEIGHT + MARGIN_BOTTOM).max(legend_height);
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    )?;
    writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#)?;
    writeln!(
        out,
        r#"<text x="{}" y="22" font-size="14" font-weight="bold">{}</text>"#,
        MARGIN_LEFT,
        escape(title)
    )
}

/// The axes frame, y ticks and grid, and the axis labels.
fn axes(out: &mut String, y: Scale, x_label: &str, y_label: &str) -> std::fmt::Result {
    let (left, top, bottom) = (MARGIN_LEFT, MARGIN_TOP, MARGIN_TOP + PLOT_HEIGHT);
    for (value, label) in y.ticks() {
        let py = bottom - y.fraction(value) * PLOT_HEIGHT;
        writeln!(
            out,
            r##"<line x1="{left}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + PLOT_WIDTH,
            left - 6.0,
            py + 4.0,
            escape(&label)
        )?;
    }
    writeln!(
        out,
        r#"<rect x="{left}" y="{top}" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" fill="none" stroke="black"/>"#
    )?;
    writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + PLOT_WIDTH / 2.0,
        bottom + 38.0,
        escape(x_label)
    )?;
    let mid = top + PLOT_HEIGHT / 2.0;
    writeln!(
        out,
        r#"<text x="16" y="{mid:.1}" text-anchor="middle" transform="rotate(-90 16 {mid:.1})">{}</text>"#,
        escape(y_label)
    )
}

fn legend(out: &mut String, entries: &[(String, usize, bool)]) -> std::fmt::Result {
    let x = MARGIN_LEFT + PLOT_WIDTH + 16.0;
    for (i, (label, colour_index, dashed)) in entries.iter().enumerate() {
        let y = MARGIN_TOP + 8.0 + LEGEND_LINE * i as f64;
        let dash = if *dashed {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        writeln!(
            out,
            r#"<line x1="{x}" y1="{y}" x2="{:.1}" y2="{y}" stroke="{}" stroke-width="3"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 18.0,
            colour(*colour_index),
            x + 24.0,
            y + 4.0,
            escape(label)
        )?;
    }
    Ok(())
}

fn no_data(out: &mut String) -> std::fmt::Result {
    writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#888">no data in this run</text>"##,
        MARGIN_LEFT + PLOT_WIDTH / 2.0,
        MARGIN_TOP + PLOT_HEIGHT / 2.0
    )
}

/// Renders a line chart.
pub fn line_chart(chart: &LineChart) -> String {
    let mut out = String::new();
    draw_lines(&mut out, chart).expect("writing to a String cannot fail");
    out
}

fn draw_lines(out: &mut String, chart: &LineChart) -> std::fmt::Result {
    open(out, &chart.title, chart.series.len())?;
    let points = || chart.series.iter().flat_map(|s| s.points.iter());
    let x = Scale::covering(points().map(|p| p.0), chart.x_log, false);
    let x = if chart.x_ticks.is_empty() || chart.x_log {
        x
    } else {
        Scale::covering(chart.x_ticks.iter().map(|t| t.0), false, false)
    };
    let y = Scale::covering(points().map(|p| p.1), chart.y_log, true);
    axes(out, y, &chart.x_label, &chart.y_label)?;
    let bottom = MARGIN_TOP + PLOT_HEIGHT;
    let ticks = if chart.x_ticks.is_empty() {
        x.ticks()
    } else {
        chart.x_ticks.clone()
    };
    for (value, label) in ticks {
        let px = MARGIN_LEFT + x.fraction(value) * PLOT_WIDTH;
        writeln!(
            out,
            r#"<line x1="{px:.1}" y1="{bottom}" x2="{px:.1}" y2="{:.1}" stroke="black"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 5.0,
            bottom + 18.0,
            escape(&label)
        )?;
    }
    if points().next().is_none() {
        no_data(out)?;
    }
    let at = |(vx, vy): (f64, f64)| {
        (
            MARGIN_LEFT + x.fraction(vx) * PLOT_WIDTH,
            bottom - y.fraction(vy) * PLOT_HEIGHT,
        )
    };
    for series in &chart.series {
        let path: Vec<String> = series
            .points
            .iter()
            .map(|&p| {
                let (px, py) = at(p);
                format!("{px:.1},{py:.1}")
            })
            .collect();
        let dash = if series.dashed {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}><title>{}</title></polyline>"#,
            path.join(" "),
            colour(series.colour),
            escape(&series.label)
        )?;
        // Markers only where they can be told apart: a timeline of hundreds of intervals is
        // read as a line.
        if !series.dashed && series.points.len() <= MAX_MARKED_POINTS {
            for &p in &series.points {
                let (px, py) = at(p);
                writeln!(
                    out,
                    r#"<circle cx="{px:.1}" cy="{py:.1}" r="3" fill="{}"><title>{}: {}</title></circle>"#,
                    colour(series.colour),
                    escape(&series.label),
                    num(p.1)
                )?;
            }
        }
    }
    let entries: Vec<_> = chart
        .series
        .iter()
        .map(|s| (s.label.clone(), s.colour, s.dashed))
        .collect();
    legend(out, &entries)?;
    out.push_str("</svg>\n");
    Ok(())
}

/// Renders a grouped bar chart; group labels are written slanted under the groups.
pub fn bar_chart(chart: &BarChart) -> String {
    let mut out = String::new();
    draw_bars(&mut out, chart).expect("writing to a String cannot fail");
    out
}

fn draw_bars(out: &mut String, chart: &BarChart) -> std::fmt::Result {
    open(out, &chart.title, chart.bars.len())?;
    let values = || {
        chart
            .groups
            .iter()
            .flat_map(|g| g.values.iter().flatten().copied())
    };
    let y = Scale::covering(values(), chart.y_log, true);
    axes(out, y, "", &chart.y_label)?;
    if values().next().is_none() {
        no_data(out)?;
    }
    let bottom = MARGIN_TOP + PLOT_HEIGHT;
    let group_width = PLOT_WIDTH / chart.groups.len().max(1) as f64;
    let bar_width = group_width * 0.8 / chart.bars.len().max(1) as f64;
    for (g, group) in chart.groups.iter().enumerate() {
        let left = MARGIN_LEFT + group_width * g as f64 + group_width * 0.1;
        for (b, value) in group.values.iter().enumerate() {
            let Some(value) = value else { continue };
            let top = bottom - y.fraction(*value) * PLOT_HEIGHT;
            writeln!(
                out,
                r#"<rect x="{:.1}" y="{top:.1}" width="{bar_width:.1}" height="{:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                left + bar_width * b as f64,
                bottom - top,
                colour(b),
                escape(&group.label),
                escape(chart.bars.get(b).map_or("", String::as_str)),
                num(*value)
            )?;
        }
        let cx = left + group_width * 0.4;
        writeln!(
            out,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="end" font-size="9" transform="rotate(-35 {cx:.1} {:.1})">{}</text>"#,
            bottom + 12.0,
            bottom + 12.0,
            escape(&group.label)
        )?;
    }
    let entries: Vec<_> = chart
        .bars
        .iter()
        .enumerate()
        .map(|(i, label)| (label.clone(), i, false))
        .collect();
    legend(out, &entries)?;
    out.push_str("</svg>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert!((nice_step(0.3) - 0.5).abs() < 1e-12);
        assert!((nice_step(170.0) - 200.0).abs() < 1e-9);
        assert!((nice_step(1000.0) - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn log_scales_cover_whole_decades() {
        let s = Scale::covering([3.0, 2500.0].into_iter(), true, false);
        assert!((s.min - 1.0).abs() < 1e-9 && (s.max - 10_000.0).abs() < 1e-6);
        assert_eq!(s.ticks().len(), 5);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
