//! Bar charts drawn on the server as inline SVG, for the reports page.
//!
//! **Why not a JS chart library.** The charts are a handful of bars whose
//! numbers the server already has; drawing them here keeps the page
//! working without scripts, prints as it looks, needs nothing vendored,
//! and lets a plain HTTP test count the bars. Each bar carries its figure
//! (`data-key`, `data-value`) and a `<title>` tooltip, so the chart reads
//! without a legend and a test can check exact values.
//!
//! SVG elements are always written with a closing tag (`rect … {}`): in
//! HTML, `<rect>` without `/>` or `</rect>` would swallow the elements
//! after it.

use super::present::percent;
use maud::{Markup, html};

/// One bar: `key` is the full name of the slot (`2025-03-03`, `14`),
/// `label` the short text under the axis, `value` the figure (`None`:
/// nothing to show, e.g. a service level on a day without answered calls).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub key: String,
    pub label: String,
    pub value: Option<f64>,
}

/// What the values are, which decides the axis and how figures are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Whole numbers; the axis runs to a round number above the largest.
    Count,
    /// Fractions 0..1 shown as percent; the axis is always 0–100 %.
    Share,
}

impl Scale {
    fn text(self, value: f64) -> String {
        match self {
            Scale::Count => format!("{value:.0}"),
            Scale::Share => percent(value),
        }
    }

    /// An axis figure: shares in whole percent.
    fn tick(self, value: f64) -> String {
        match self {
            Scale::Count => format!("{value:.0}"),
            Scale::Share => format!("{:.0} %", value * 100.0),
        }
    }
}

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;
/// Horizontal gridlines above the baseline.
const TICKS: u32 = 4;
/// At most this many labels under the axis; the rest are skipped evenly.
const MAX_LABELS: usize = 16;

/// The top of the axis for a largest value `max`: [`TICKS`] equal steps
/// of a round size (a whole number up to 10, then 1, 1.5, 2, 2.5, 3, 4, 5,
/// 6 or 8 × 10ⁿ), so every gridline falls on a whole, readable figure.
pub fn axis_max(scale: Scale, max: f64) -> f64 {
    if scale == Scale::Share {
        return 1.0;
    }
    let needed = (max / f64::from(TICKS)).max(1.0);
    let step = if needed <= 10.0 {
        needed.ceil()
    } else {
        let magnitude = 10f64.powi(needed.log10().floor() as i32);
        [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|step| *step >= needed)
            .unwrap_or(10.0 * magnitude)
    };
    step * f64::from(TICKS)
}

/// Every how many bars a label is written, so that at most
/// [`MAX_LABELS`] fit.
pub fn label_every(bars: usize) -> usize {
    bars.div_ceil(MAX_LABELS).max(1)
}

/// A bar chart. `id` names the `<svg>` (for links and tests), `title` is
/// its accessible name.
pub fn bar_chart(id: &str, title: &str, bars: &[Bar], scale: Scale) -> Markup {
    let largest = bars.iter().filter_map(|b| b.value).fold(0.0, f64::max);
    let top = axis_max(scale, largest);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / bars.len().max(1) as f64;
    let bar_w = (slot * 0.72).max(1.0);
    let every = label_every(bars.len());
    let y_of = |value: f64| TOP + plot_h - (value.clamp(0.0, top) / top) * plot_h;
    let view_box = format!("0 0 {WIDTH} {HEIGHT}");
    html! {
        svg.chart id=(id) viewBox=(view_box) role="img" aria-label=(title)
            xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet" {
            title { (title) }
            @for tick in 0..=TICKS {
                @let value = top * f64::from(tick) / f64::from(TICKS);
                @let y = coord(y_of(value));
                line.grid x1=(coord(LEFT)) x2=(coord(WIDTH - RIGHT)) y1=(y) y2=(y) {}
                text.axis x=(coord(LEFT - 6.0)) y=(y) text-anchor="end" dominant-baseline="middle" {
                    (scale.tick(value))
                }
            }
            @for (i, bar) in bars.iter().enumerate() {
                @let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
                @if let Some(value) = bar.value {
                    @let y = y_of(value);
                    rect.bar x=(coord(x)) y=(coord(y)) width=(coord(bar_w))
                        height=(coord(TOP + plot_h - y))
                        data-key=(bar.key) data-value=(value) {
                        title { (bar.key) ": " (scale.text(value)) }
                    }
                }
                @if i % every == 0 {
                    text.label x=(coord(x + bar_w / 2.0)) y=(coord(HEIGHT - 8.0)) text-anchor="middle" {
                        (bar.label)
                    }
                }
            }
            line.baseline x1=(coord(LEFT)) x2=(coord(WIDTH - RIGHT))
                y1=(coord(TOP + plot_h)) y2=(coord(TOP + plot_h)) {}
        }
    }
}

/// An SVG coordinate with one decimal: enough for a 600-wide picture,
/// and short.
fn coord(v: f64) -> String {
    format!("{v:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(values: &[Option<f64>]) -> Vec<Bar> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Bar {
                key: format!("k{i}"),
                label: format!("l{i}"),
                value: *v,
            })
            .collect()
    }

    #[test]
    fn the_axis_ends_on_a_round_figure_above_the_largest_value() {
        assert_eq!(axis_max(Scale::Count, 0.0), 4.0);
        assert_eq!(axis_max(Scale::Count, 3.0), 4.0);
        assert_eq!(axis_max(Scale::Count, 5.0), 8.0);
        assert_eq!(axis_max(Scale::Count, 11.0), 12.0);
        assert_eq!(axis_max(Scale::Count, 40.0), 40.0);
        assert_eq!(axis_max(Scale::Count, 41.0), 60.0);
        assert_eq!(axis_max(Scale::Count, 9.0), 12.0);
        assert_eq!(axis_max(Scale::Count, 90.0), 100.0);
        assert_eq!(axis_max(Scale::Count, 950.0), 1000.0);
        assert_eq!(axis_max(Scale::Share, 0.3), 1.0);
    }

    #[test]
    fn labels_are_thinned_to_fit() {
        assert_eq!(label_every(7), 1);
        assert_eq!(label_every(16), 1);
        assert_eq!(label_every(24), 2);
        assert_eq!(label_every(31), 2);
        assert_eq!(label_every(365), 23);
        assert_eq!(label_every(0), 1);
    }

    #[test]
    fn one_rect_per_known_value_with_its_figure() {
        let svg = bar_chart(
            "c",
            "Calls",
            &bars(&[Some(2.0), None, Some(0.0)]),
            Scale::Count,
        )
        .into_string();
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert_eq!(svg.matches("</rect>").count(), 2, "closed: {svg}");
        assert!(svg.contains(r#"data-key="k0" data-value="2""#), "{svg}");
        assert!(svg.contains(r#"data-key="k2" data-value="0""#), "{svg}");
        assert!(svg.contains("<title>k0: 2</title>"), "{svg}");
        // The largest bar reaches half of a 0–4 axis: plot height 184.
        assert!(svg.contains(r#"height="92.0""#), "{svg}");
    }

    #[test]
    fn shares_read_as_percent_and_text_is_escaped() {
        let mut b = bars(&[Some(0.6667)]);
        b[0].key = "<day>".into();
        let svg = bar_chart("sl", "SL & more", &b, Scale::Share).into_string();
        assert!(svg.contains("&lt;day&gt;: 66.7 %"), "{svg}");
        assert!(svg.contains("SL &amp; more"), "{svg}");
        assert!(svg.contains(">100 %</text>"), "{svg}");
    }
}
