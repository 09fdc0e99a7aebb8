//! Charts: pure functions from result records to SVG text, drawn with `plotters`' SVG backend
//! (no bitmap backend, no system fonts: text stays `<text>` elements the viewer lays out).
//!
//! - [`goodput_chart`]: each Glasnost transfer's data-phase goodput over time, one line per
//!   transfer, one panel per direction and port;
//! - [`comparison_chart`]: control (TCP) against BitTorrent bars per direction, port and
//!   repetition, as the study's section 6 charts compare them (kbps);
//! - [`weekday_chart`]: the study's weekly chart, four bars per weekday (TCP download, TCP
//!   upload, BT download, BT upload, kbps), from numbers the weekly aggregation fills.
//!
//! Invariants, whatever the input:
//! - a missing value (no connection, a reset transfer, a day without tests, NaN, infinity,
//!   a negative rate) is drawn as *absent*: no bar or no line point, and for bars a grey word
//!   saying why at the baseline. A measured zero is a bar of zero height;
//! - all text (capture paths, peer names, titles) is cleaned of control characters and
//!   escaped by the backend, so the SVG is well-formed XML and safe inside HTML;
//! - nothing panics: ranges are finite and non-empty before they reach `plotters`, long
//!   series are thinned to [`MAX_POINTS`], and a drawing error yields a small SVG saying so.
//!
//! Bars and legend swatches are `<rect>`s filled with the series colour (one swatch per
//! series), data lines are `<polyline>`s [`LINE_WIDTH`] wide (one per transfer, split only
//! where a point is absent; axes and ticks are 1 wide).

use std::error::Error;
use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::glasnost::TestReport;
use crate::glasnost::verdict::{Dir, Outcome, PortClass, Proto};
use crate::model::CaptureReport;

/// Control (TCP) bars and the weekly chart's "TCP download".
pub const TCP_COLOR: &str = "#0072B2";
/// BitTorrent bars and the weekly chart's "BT download".
pub const BT_COLOR: &str = "#D55E00";
/// The weekly chart's "TCP upload".
pub const TCP_UPLOAD_COLOR: &str = "#56B4E9";
/// The weekly chart's "BT upload".
pub const BT_UPLOAD_COLOR: &str = "#E69F00";
/// The weekly chart's whiskers (min–max of the transfers a bar averages).
pub const WHISKER_COLOR: &str = "#222222";
/// Said under the weekly chart: what the bars, whiskers and counts are.
pub const WEEKDAY_CAPTION: &str = "Bars: mean of the completed transfers; whiskers: their minimum and maximum (drawn for n >= 2); n=: how many.";

/// The stroke width of data lines (axes and ticks are drawn 1 wide), so a reader of the SVG
/// can tell one from the other.
pub const LINE_WIDTH: u32 = 2;
/// Points kept per line; longer series are averaged down to this many.
pub const MAX_POINTS: usize = 1000;
/// Panels drawn in the goodput chart; further (direction, port) pairs are named, not drawn.
pub const MAX_PANELS: usize = 16;
/// Lines drawn per panel of the goodput chart; further transfers are counted, not drawn.
pub const MAX_LINES: usize = 60;
/// Bar groups drawn; further groups are named in a note, not drawn.
pub const MAX_GROUPS: usize = 200;
/// Rates above this (bits per second, 1 Pbit/s) are taken as damaged, not measured.
const MAX_BPS: f64 = 1e15;
/// Characters kept of any text put in a chart.
const MAX_TEXT: usize = 120;

const FONT: &str = "sans-serif";
const GREY: RGBColor = RGBColor(110, 110, 110);
/// Line colours by repetition (1, 2, 3, then again): BitTorrent warm, control cool.
const BT_LINES: [RGBColor; 3] = [
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0xCC, 0x79, 0xA7),
];
const TCP_LINES: [RGBColor; 3] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x9E, 0x73),
];

type Drawn = Result<(), Box<dyn Error>>;

// ---------------------------------------------------------------- public charts

/// Goodput over time of every Glasnost transfer of the capture: one panel per direction and
/// port, one line per transfer (legend: kind, repetition, and the outcome when it failed).
/// `None` when the capture has no Glasnost tests.
pub fn goodput_chart(r: &CaptureReport) -> Option<String> {
    if r.tests.is_empty() {
        return None;
    }
    let mut panels: Vec<Panel> = Vec::new();
    let mut tests: Vec<&TestReport> = r.tests.iter().collect();
    tests.sort_by_key(|t| order_key(t));
    for t in tests {
        let key = (t.direction, t.port_class, t.port);
        // Sorted, so a panel's transfers are adjacent.
        match panels.last_mut().filter(|p| p.key == key) {
            Some(p) => p.tests.push(t),
            None => panels.push(Panel {
                key,
                tests: vec![t],
            }),
        }
    }
    let title = format!("Goodput of each transfer: {}", file_name(&r.path));
    Some(render(960, panel_height(panels.len()), |root| {
        draw_goodput(root, &title, &panels)
    }))
}

/// Control (TCP) against BitTorrent, per direction, port and repetition, in kbps: two bars a
/// group, control first as in the study's tables. A transfer that did not complete has no
/// bar; its outcome is written at the baseline instead. `None` when the capture has no
/// Glasnost tests.
pub fn comparison_chart(r: &CaptureReport) -> Option<String> {
    if r.tests.is_empty() {
        return None;
    }
    let mut tests: Vec<&TestReport> = r.tests.iter().collect();
    tests.sort_by_key(|t| order_key(t));
    let mut groups: Vec<(GroupKey, Group)> = Vec::new();
    for t in tests {
        let key = (t.direction, t.port_class, t.port, t.repetition);
        let slot = usize::from(t.kind == Proto::Bt);
        let bar = test_bar(t);
        // Sorted, so a group's transfers are adjacent.
        match groups.last_mut().filter(|(k, _)| *k == key) {
            // A second transfer of the same kind and repetition (a damaged schedule) keeps
            // the first.
            Some((_, g)) => {
                if let Some(b @ Bar::Absent("not run")) = g.bars.get_mut(slot) {
                    *b = bar;
                }
            }
            None => {
                let mut bars = vec![Bar::Absent("not run"), Bar::Absent("not run")];
                if let Some(b) = bars.get_mut(slot) {
                    *b = bar;
                }
                groups.push((
                    key,
                    Group {
                        label: format!(
                            "{} {} #{}",
                            t.direction.map_or("?", dir_short),
                            t.port,
                            t.repetition
                        ),
                        bars,
                        spread: Vec::new(),
                    },
                ));
            }
        }
    }
    let chart = BarChart {
        title: format!(
            "Control (TCP) against BitTorrent, kbps: {}",
            file_name(&r.path)
        ),
        series: vec![
            ("Control (TCP)".to_string(), hex(TCP_COLOR)),
            ("BitTorrent".to_string(), hex(BT_COLOR)),
        ],
        groups: groups.into_iter().map(|(_, g)| g).collect(),
        caption: None,
    };
    Some(chart.svg())
}

/// The study's weekly chart for one ISP: per weekday, TCP download, TCP upload, BT download
/// and BT upload, in kbps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeekdayChart {
    pub title: String,
    pub days: Vec<WeekdayBars>,
}

/// One weekday's average speeds, bits per second; `None` where no transfer of that kind
/// completed that day (drawn as absent, never as zero).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeekdayBars {
    pub day: String,
    pub tcp_download_bps: Option<f64>,
    pub tcp_upload_bps: Option<f64>,
    pub bt_download_bps: Option<f64>,
    pub bt_upload_bps: Option<f64>,
    /// What each bar averages, in the same order (TCP download, TCP upload, BT download, BT
    /// upload); `None` draws the bar without a count or whiskers.
    pub spread: [Option<Spread>; 4],
}

/// The transfers behind one bar: how many, and the slowest and fastest (bits per second).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spread {
    pub n: u32,
    pub min_bps: f64,
    pub max_bps: f64,
}

/// Four bars per weekday, in the study's column order.
pub fn weekday_chart(c: &WeekdayChart) -> String {
    let value = |v: Option<f64>| v.map_or(Bar::Absent("no data"), Bar::from_bps);
    let chart = BarChart {
        title: c.title.clone(),
        series: vec![
            ("TCP download".to_string(), hex(TCP_COLOR)),
            ("TCP upload".to_string(), hex(TCP_UPLOAD_COLOR)),
            ("BT download".to_string(), hex(BT_COLOR)),
            ("BT upload".to_string(), hex(BT_UPLOAD_COLOR)),
        ],
        groups: c
            .days
            .iter()
            .map(|d| Group {
                label: d.day.clone(),
                bars: vec![
                    value(d.tcp_download_bps),
                    value(d.tcp_upload_bps),
                    value(d.bt_download_bps),
                    value(d.bt_upload_bps),
                ],
                spread: d.spread.to_vec(),
            })
            .collect(),
        caption: Some(WEEKDAY_CAPTION.to_string()),
    };
    chart.svg()
}

// ---------------------------------------------------------------- shared pieces

/// Text safe to put in a chart: control characters and XML's non-characters become U+FFFD,
/// at most 120 characters (and an ellipsis). The backend escapes `<`, `>`, `&` and quotes.
pub fn clean_text(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_TEXT)
        .map(|c| {
            if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    if s.chars().nth(MAX_TEXT).is_some() {
        out.push('…');
    }
    out
}

/// The last component of a capture path (either separator), for titles.
fn file_name(path: &str) -> String {
    clean_text(crate::model::file_name(path))
}

/// Upload before download, BitTorrent port before the neutral one, then port, repetition,
/// BitTorrent before control.
fn order_key(t: &TestReport) -> (u8, PortClass, u16, u32, Proto) {
    let d = match t.direction {
        Some(Dir::Upload) => 0,
        Some(Dir::Download) => 1,
        None => 2,
    };
    (d, t.port_class, t.port, t.repetition, t.kind)
}

fn dir_short(d: Dir) -> &'static str {
    match d {
        Dir::Upload => "up",
        Dir::Download => "down",
    }
}

fn dir_title(d: Option<Dir>) -> &'static str {
    match d {
        Some(Dir::Upload) => "Upload",
        Some(Dir::Download) => "Download",
        None => "Direction unknown",
    }
}

fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Completed => "completed",
        Outcome::Reset => "reset",
        Outcome::NoConnection => "no connection",
        Outcome::NoData => "no data",
    }
}

/// A finite, non-negative, plausible rate in kbps, or `None`.
fn kbps(bps: f64) -> Option<f64> {
    (bps.is_finite() && (0.0..=MAX_BPS).contains(&bps)).then_some(bps / 1000.0)
}

/// `#RRGGBB` to a colour (black if malformed; only our constants reach it).
fn hex(s: &str) -> RGBColor {
    let c = |i: usize| {
        s.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0)
    };
    RGBColor(c(1), c(3), c(5))
}

/// A finite, non-empty axis range from 0 to a little above `max`.
fn axis_top(max: Option<f64>) -> f64 {
    match max {
        Some(m) if m.is_finite() && m > 0.0 => m * 1.1,
        _ => 1.0,
    }
}

fn label_fmt(v: &f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{v:.2e}")
    } else if a >= 100.0 || *v == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Draws into a fresh SVG string; a drawing error gives a small SVG that says so.
fn render(w: u32, h: u32, draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Drawn) -> String {
    let mut buf = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        draw(&root).and_then(|()| root.present().map_err(Into::into))
    };
    match outcome {
        Ok(()) => buf,
        Err(e) => error_svg(&e.to_string()),
    }
}

fn error_svg(msg: &str) -> String {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (480, 60)).into_drawing_area();
        let _ = root.draw(&Text::new(
            clean_text(&format!("the chart could not be drawn: {msg}")),
            (10, 30),
            (FONT, 14).into_font().color(&GREY),
        ));
        let _ = root.present();
    }
    buf
}

fn text_style(size: f64, color: RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().color(&color)
}

/// A legend entry: a swatch (a filled `<rect>`) unless the entry drew nothing, and its text.
fn legend_entry(
    area: &DrawingArea<SVGBackend, Shift>,
    (x, y): (i32, i32),
    color: Option<RGBColor>,
    text: &str,
) -> Drawn {
    if let Some(c) = color {
        area.draw(&Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()))?;
    }
    let style = text_style(13.0, if color.is_some() { BLACK } else { GREY })
        .pos(Pos::new(HPos::Left, VPos::Center));
    area.draw(&Text::new(clean_text(text), (x + 18, y), style))?;
    Ok(())
}

// ---------------------------------------------------------------- goodput lines

type PanelKey = (Option<Dir>, PortClass, u16);

struct Panel<'a> {
    key: PanelKey,
    tests: Vec<&'a TestReport>,
}

const PANEL_H: u32 = 320;
const HEADER_H: u32 = 36;

fn panel_height(panels: usize) -> u32 {
    let rows = panels.clamp(1, MAX_PANELS).div_ceil(2) as u32;
    let note = if panels > MAX_PANELS { 24 } else { 0 };
    HEADER_H + rows * PANEL_H + note
}

/// Points of a line without a gap: (seconds, kbps).
type Segment = Vec<(f64, f64)>;

/// The transfer's points, (seconds into the data phase, kbps), thinned to [`MAX_POINTS`] by
/// averaging; absent points (non-finite, negative, implausible) split the line.
fn line_segments(t: &TestReport) -> Vec<Segment> {
    let bps = &t.series.bps;
    let step_ms = t.series.interval_ms;
    let step_s = if step_ms.is_finite() && step_ms > 0.0 {
        step_ms / 1000.0
    } else {
        1.0
    };
    let per = bps.len().div_ceil(MAX_POINTS).max(1);
    let mut segments = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for (i, chunk) in bps.chunks(per).enumerate() {
        let good: Vec<f64> = chunk.iter().filter_map(|&v| kbps(v)).collect();
        if good.len() == chunk.len() {
            let mean = good.iter().sum::<f64>() / good.len().max(1) as f64;
            let x = (i * per) as f64 * step_s;
            if x.is_finite() && mean.is_finite() {
                current.push((x, mean));
                continue;
            }
        }
        if !current.is_empty() {
            segments.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

fn draw_goodput(root: &DrawingArea<SVGBackend, Shift>, title: &str, panels: &[Panel]) -> Drawn {
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(HEADER_H);
    head.draw(&Text::new(
        clean_text(title),
        (10, 10),
        text_style(18.0, BLACK),
    ))?;
    let drawn = &panels[..panels.len().min(MAX_PANELS)];
    let rows = drawn.len().max(1).div_ceil(2);
    let cols = if drawn.len() == 1 { 1 } else { 2 };
    let (grid, rest) = body.split_vertically(rows as u32 * PANEL_H);
    let cells = grid.split_evenly((rows, cols));
    for (cell, p) in cells.iter().zip(drawn) {
        draw_panel(cell, p)?;
    }
    if panels.len() > MAX_PANELS {
        let more: Vec<String> = panels[MAX_PANELS..]
            .iter()
            .map(|p| format!("{} port {}", dir_title(p.key.0), p.key.2))
            .collect();
        rest.draw(&Text::new(
            clean_text(&format!(
                "{} more panels not drawn: {}",
                more.len(),
                more.join(", ")
            )),
            (10, 4),
            text_style(13.0, GREY),
        ))?;
    }
    Ok(())
}

fn draw_panel(cell: &DrawingArea<SVGBackend, Shift>, p: &Panel) -> Drawn {
    let (w, _) = cell.dim_in_pixel();
    let legend_w = 170.min(w / 2);
    let (plot, legend) = cell.split_horizontally(w - legend_w);
    let lines: Vec<(&TestReport, Vec<Segment>)> = p
        .tests
        .iter()
        .take(MAX_LINES)
        .map(|t| (*t, line_segments(t)))
        .collect();
    let points = || lines.iter().flat_map(|(_, s)| s.iter().flatten());
    let x_max = axis_top(points().map(|p| p.0).reduce(f64::max));
    let y_max = axis_top(points().map(|p| p.1).reduce(f64::max));
    let port_kind = match p.key.1 {
        PortClass::App => "BitTorrent port",
        PortClass::Other => "neutral port",
    };
    let caption = format!("{}, port {} ({port_kind})", dir_title(p.key.0), p.key.2);
    let mut chart = ChartBuilder::on(&plot)
        .caption(clean_text(&caption), (FONT, 15))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("seconds into the data phase")
        .y_desc("kbps")
        .x_label_formatter(&label_fmt)
        .y_label_formatter(&label_fmt)
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 12))
        .draw()?;
    let mut n_bt = 0;
    let mut n_tcp = 0;
    let rows = ((legend.dim_in_pixel().1.saturating_sub(30)) / 18).max(1) as usize;
    let shown = lines.len().min(rows);
    for (i, (t, segments)) in lines.iter().enumerate() {
        let (palette, n) = if t.kind == Proto::Bt {
            (&BT_LINES, &mut n_bt)
        } else {
            (&TCP_LINES, &mut n_tcp)
        };
        let color = palette[*n % palette.len()];
        *n += 1;
        for s in segments {
            chart.draw_series(LineSeries::new(
                s.iter().copied(),
                color.stroke_width(LINE_WIDTH),
            ))?;
        }
        if i < shown {
            let kind = if t.kind == Proto::Bt {
                "BitTorrent"
            } else {
                "control"
            };
            let mut text = format!("{kind} #{}", t.repetition);
            if t.outcome != Outcome::Completed {
                text.push_str(&format!(": {}", outcome_words(t.outcome)));
            } else if segments.is_empty() {
                text.push_str(": no intervals");
            }
            let swatch = (!segments.is_empty()).then_some(color);
            legend_entry(&legend, (4, 40 + 18 * i as i32), swatch, &text)?;
        }
    }
    if p.tests.len() > shown {
        let not_drawn = p.tests.len() - lines.len();
        let text = if not_drawn > 0 {
            format!("{} more ({not_drawn} not drawn)", p.tests.len() - shown)
        } else {
            format!("{} more", p.tests.len() - shown)
        };
        legend.draw(&Text::new(
            text,
            (22, 40 + 18 * shown as i32),
            text_style(13.0, GREY).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- grouped bars

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bar {
    /// kbps.
    Value(f64),
    /// Why there is no bar.
    Absent(&'static str),
}

impl Bar {
    fn from_bps(bps: f64) -> Bar {
        kbps(bps).map_or(Bar::Absent("invalid"), Bar::Value)
    }
}

fn test_bar(t: &TestReport) -> Bar {
    match (t.outcome, t.goodput_bps) {
        (Outcome::Completed, Some(b)) => Bar::from_bps(b),
        (Outcome::Completed, None) => Bar::Absent("no rate"),
        (o, _) => Bar::Absent(outcome_words(o)),
    }
}

type GroupKey = (Option<Dir>, PortClass, u16, u32);

struct Group {
    label: String,
    /// One per series, in series order.
    bars: Vec<Bar>,
    /// Per series, what the bar averages: its `n=` label and (n >= 2) min–max whiskers.
    /// Shorter than `bars` (or empty) where there is none.
    spread: Vec<Option<Spread>>,
}

struct BarChart {
    title: String,
    series: Vec<(String, RGBColor)>,
    groups: Vec<Group>,
    /// Said in grey under the chart.
    caption: Option<String>,
}

/// A spread in kbps, (n, min, max), when it is drawable.
fn spread_kbps(s: &Spread) -> Option<(u32, f64, f64)> {
    let (lo, hi) = (kbps(s.min_bps)?, kbps(s.max_bps)?);
    (s.n > 0 && lo <= hi).then_some((s.n, lo, hi))
}

/// The x axis of a bar chart: group `i` spans `[i, i + 1)`, its label at `i + 0.5`.
struct GroupAxis(usize);

impl Ranged for GroupAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let n = self.0.max(1) as f64;
        let f = if v.is_finite() { v / n } else { 0.0 };
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, _hint: H) -> Vec<f64> {
        (0..self.0).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.0.max(1) as f64
    }
}

impl BarChart {
    fn svg(&self) -> String {
        let drawn = self.groups.len().min(MAX_GROUPS);
        let per_group = (self.series.len() as u32 * 22 + 24).max(64);
        let w = (130 + drawn as u32 * per_group).clamp(480, 8000);
        render(w, 420, |root| self.draw(root))
    }

    fn draw(&self, root: &DrawingArea<SVGBackend, Shift>) -> Drawn {
        root.fill(&WHITE)?;
        let groups = &self.groups[..self.groups.len().min(MAX_GROUPS)];
        let (head, body) = root.split_vertically(62);
        head.draw(&Text::new(
            clean_text(&self.title),
            (10, 10),
            text_style(18.0, BLACK),
        ))?;
        let mut x = 14;
        for (name, color) in &self.series {
            legend_entry(&head, (x, 46), Some(*color), name)?;
            x += 30 + 8 * name.chars().count().min(40) as i32;
        }
        let (body, foot) = body.split_vertically(body.dim_in_pixel().1 - 22);
        if groups.is_empty() {
            body.draw(&Text::new(
                "no data to draw",
                (20, 40),
                text_style(14.0, GREY),
            ))?;
            return Ok(());
        }
        let y_max = axis_top(
            groups
                .iter()
                .flat_map(|g| &g.bars)
                .filter_map(|b| match b {
                    Bar::Value(v) => Some(*v),
                    Bar::Absent(_) => None,
                })
                .chain(
                    groups
                        .iter()
                        .flat_map(|g| g.spread.iter().flatten())
                        .filter_map(|s| spread_kbps(s).map(|(_, _, hi)| hi)),
                )
                .reduce(f64::max),
        );
        let labels: Vec<String> = groups.iter().map(|g| clean_text(&g.label)).collect();
        let x_fmt = |v: &f64| {
            let i = if v.is_finite() && *v >= 0.0 {
                v.floor() as usize
            } else {
                usize::MAX
            };
            labels.get(i).cloned().unwrap_or_default()
        };
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(GroupAxis(groups.len()), 0f64..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(groups.len())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&label_fmt)
            .y_desc("kbps")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 12))
            .draw()?;
        let ns = self.series.len().max(1) as f64;
        let width = 0.8 / ns;
        for (j, (_, color)) in self.series.iter().enumerate() {
            let x0 = |i: usize| i as f64 + 0.1 + j as f64 * width;
            let bars = groups
                .iter()
                .enumerate()
                .filter_map(|(i, g)| match g.bars.get(j) {
                    Some(Bar::Value(v)) => Some(Rectangle::new(
                        [(x0(i), 0.0), (x0(i) + width, *v)],
                        color.filled(),
                    )),
                    _ => None,
                });
            chart.draw_series(bars)?;
            let whisker = hex(WHISKER_COLOR);
            for (i, g) in groups.iter().enumerate() {
                let (Some(Bar::Value(v)), Some(Some(sp))) = (g.bars.get(j), g.spread.get(j)) else {
                    continue;
                };
                let Some((n, lo, hi)) = spread_kbps(sp) else {
                    continue;
                };
                let xc = x0(i) + width / 2.0;
                if n >= 2 {
                    let cap = width / 4.0;
                    for line in [
                        vec![(xc, lo), (xc, hi)],
                        vec![(xc - cap, lo), (xc + cap, lo)],
                        vec![(xc - cap, hi), (xc + cap, hi)],
                    ] {
                        chart.draw_series(std::iter::once(PathElement::new(
                            line,
                            whisker.stroke_width(1),
                        )))?;
                    }
                }
                let style = text_style(10.0, BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
                let (px, py) = chart.backend_coord(&(xc, v.max(hi)));
                root.draw(&Text::new(format!("n={n}"), (px, py - 2), style))?;
            }
            let absent = groups
                .iter()
                .enumerate()
                .filter_map(|(i, g)| match g.bars.get(j) {
                    Some(Bar::Value(_)) => None,
                    Some(Bar::Absent(why)) => Some((i, *why)),
                    None => Some((i, "none")),
                });
            for (i, why) in absent {
                let style = text_style(11.0, GREY)
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(HPos::Left, VPos::Center));
                let (px, py) = chart.backend_coord(&(x0(i) + width / 2.0, 0.0));
                root.draw(&Text::new(why, (px, py - 4), style))?;
            }
        }
        let mut foot_words: Vec<String> = self.caption.iter().cloned().collect();
        if self.groups.len() > MAX_GROUPS {
            foot_words.push(format!(
                "{} more groups not drawn",
                self.groups.len() - MAX_GROUPS
            ));
        }
        if !foot_words.is_empty() {
            foot.draw(&Text::new(
                clean_text(&foot_words.join(" ")),
                (10, 4),
                text_style(12.0, GREY),
            ))?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
