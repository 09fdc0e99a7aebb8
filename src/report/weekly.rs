//! The study's tables for many captures (`bttrace report`): per ISP and port the weekly
//! speeds of TCP and BitTorrent uploads and downloads, the combined per-day table, the
//! conclusions per day, and the summary of seed section 8.1 across ISPs; as text, as CSV, and
//! as HTML pages with weekday charts.

use std::io::{self, Write};

use super::html;
use crate::glasnost::verdict::{Dir, PortClass, Proto, SUMMARY_CELLS};
use crate::plot::{Spread, WeekdayBars, WeekdayChart, weekday_chart};
use crate::report::csv::cell;
use crate::report::schema::{Column, Table, Ty, Value, names};
use crate::weekly::{Aggregator, CellCounts, Day, GroupBy, Isp};

/// Column headings of the six summary cells, as the study words them.
pub const CELL_HEADINGS: [&str; 6] = [
    "Block BT (BT port)",
    "Block BT (other port)",
    "Throttle BT upload (BT port)",
    "Throttle BT upload (other port)",
    "Throttle BT download (BT port)",
    "Throttle BT download (other port)",
];

/// How cells of several tests are combined, in one sentence.
const COMBINATION: &str = "A cell is yes only when most of the tests where it applies say yes \
     (shown as yes (k/n) when not all agree); n/a: the port never connected.";

/// Text table: first column left-aligned, the others right-aligned.
fn write_table(w: &mut dyn Write, header: &[String], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(wd) = widths.get_mut(i) {
                *wd = (*wd).max(c.chars().count());
            }
        }
    }
    let line = |w: &mut dyn Write, cells: &[String]| -> io::Result<()> {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            let wd = widths.get(i).copied().unwrap_or(0);
            if i == 0 {
                out.push_str(&format!("  {c:<wd$}"));
            } else {
                out.push_str(&format!("  {c:>wd$}"));
            }
        }
        writeln!(w, "{}", out.trim_end())
    };
    line(w, header)?;
    for r in rows {
        line(w, r)?;
    }
    Ok(())
}

fn kbps(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |b| format!("{:.1}", b / 1000.0))
}

/// "port 6881" or "other port (50000, 50001)".
pub fn port_label(isp: &Isp, class: PortClass) -> String {
    let ports: Vec<String> = isp
        .ports
        .get(&class)
        .map(|p| p.iter().map(|x| x.to_string()).collect())
        .unwrap_or_default();
    match class {
        PortClass::App => format!("BT port ({})", ports.join(", ")),
        PortClass::Other => format!("other port ({})", ports.join(", ")),
    }
}

/// One slot's cell: the mean goodput in kbps, or what happened when no transfer completed.
fn slot_text(day: &Day, key: (PortClass, Dir, Proto, u32)) -> String {
    match day.slots.get(&key) {
        Some(s) if s.goodput.n > 0 => kbps(s.goodput.value()),
        Some(s) if s.failed > 0 => "failed".to_string(),
        _ => "-".to_string(),
    }
}

/// Which zone the days are in, as one sentence.
fn zone_sentence(a: &Aggregator) -> String {
    match a.zone.name() {
        "UTC" => "Days are counted in UTC (the times of M-Lab file names and Glasnost logs); \
                  --tz ZONE counts them in a local time zone."
            .to_string(),
        z => format!("Days are counted in {z} local time (--tz)."),
    }
}

fn day_word(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Weekday => "Weekday",
        GroupBy::Date => "Date",
    }
}

/// Per day, the average speeds of one port: TCP and BitTorrent, download and upload.
fn day_averages(a: &Aggregator, isp: &Isp, class: PortClass) -> Vec<WeekdayBars> {
    isp.days
        .iter()
        .map(|(k, d)| {
            let spread = |dir, proto| {
                let g = d.total(class, dir, proto).goodput;
                g.range().map(|(min_bps, max_bps)| Spread {
                    n: g.n,
                    min_bps,
                    max_bps,
                })
            };
            WeekdayBars {
                day: a.day_label(*k),
                tcp_download_bps: d.average(class, Dir::Download, Proto::Tcp),
                tcp_upload_bps: d.average(class, Dir::Upload, Proto::Tcp),
                bt_download_bps: d.average(class, Dir::Download, Proto::Bt),
                bt_upload_bps: d.average(class, Dir::Upload, Proto::Bt),
                spread: [
                    spread(Dir::Download, Proto::Tcp),
                    spread(Dir::Upload, Proto::Tcp),
                    spread(Dir::Download, Proto::Bt),
                    spread(Dir::Upload, Proto::Bt),
                ],
            }
        })
        .collect()
}

fn averages_header(day_word: &str) -> Vec<String> {
    [
        day_word,
        "TCP download",
        "TCP upload",
        "BT download",
        "BT upload",
    ]
    .map(String::from)
    .to_vec()
}

/// A day's averages, each with the count of transfers it averages (`812 (n=3)`), as the
/// chart's bars carry it.
fn averages_row(d: &WeekdayBars) -> Vec<String> {
    let mut row = vec![d.day.clone()];
    let means = [
        d.tcp_download_bps,
        d.tcp_upload_bps,
        d.bt_download_bps,
        d.bt_upload_bps,
    ];
    for (mean, spread) in means.into_iter().zip(&d.spread) {
        let mut cell = kbps(mean);
        if let (Some(_), Some(s)) = (mean, spread) {
            cell.push_str(&format!(" (n={})", s.n));
        }
        row.push(cell);
    }
    row
}

/// An ISP's row of the summary table: name, tests, the six cells combined.
fn summary_row(name: &str, isp: &Isp) -> Vec<String> {
    let mut row = vec![
        name.to_string(),
        (isp.captures - isp.without_tests).to_string(),
    ];
    row.extend(isp.cells().iter().map(CellCounts::to_string));
    row
}

fn write_isp(w: &mut dyn Write, a: &Aggregator, name: &str, isp: &Isp) -> io::Result<()> {
    let with_tests = isp.captures - isp.without_tests;
    let span = match (&isp.first_date, &isp.last_date) {
        (Some(f), Some(l)) if f == l => format!(", {f}"),
        (Some(f), Some(l)) => format!(", {f} to {l}"),
        _ => String::new(),
    };
    writeln!(
        w,
        "ISP {name}: {with_tests} Glasnost test{}{span}",
        if with_tests == 1 { "" } else { "s" }
    )?;
    if isp.without_tests > 0 {
        writeln!(
            w,
            "  ({} more capture{} without Glasnost tests, not counted)",
            isp.without_tests,
            if isp.without_tests == 1 { "" } else { "s" }
        )?;
    }
    let day_word = day_word(a.by);
    let reps = isp.repetitions.max(1);
    for class in [PortClass::App, PortClass::Other] {
        if !isp.ports.contains_key(&class) {
            continue;
        }
        for dir in [Dir::Download, Dir::Upload] {
            writeln!(w)?;
            writeln!(
                w,
                "  {}, {}, kbps",
                capitalise(&port_label(isp, class)),
                dir.code()
            )?;
            let mut header = vec![day_word.to_string(), "Tests".to_string()];
            for proto in ["TCP", "BT"] {
                for r in 1..=reps {
                    header.push(format!("{proto} #{r}"));
                }
                header.push(format!("{proto} average"));
            }
            let rows: Vec<Vec<String>> = isp
                .days
                .iter()
                .map(|(k, d)| {
                    let mut row = vec![a.day_label(*k), d.captures.to_string()];
                    for proto in [Proto::Tcp, Proto::Bt] {
                        for r in 1..=reps {
                            row.push(slot_text(d, (class, dir, proto, r)));
                        }
                        row.push(kbps(d.average(class, dir, proto)));
                    }
                    row
                })
                .collect();
            write_table(w, &header, &rows)?;
        }
        writeln!(w)?;
        writeln!(
            w,
            "  {}: averages, kbps (n: transfers averaged)",
            capitalise(&port_label(isp, class))
        )?;
        let rows: Vec<Vec<String>> = day_averages(a, isp, class)
            .iter()
            .map(averages_row)
            .collect();
        write_table(w, &averages_header(day_word), &rows)?;
    }
    writeln!(w)?;
    writeln!(w, "  Conclusions per {}", day_word.to_ascii_lowercase())?;
    let mut header = vec![day_word.to_string()];
    header.extend(CELL_HEADINGS.map(String::from));
    let rows: Vec<Vec<String>> = isp
        .days
        .iter()
        .map(|(k, d)| {
            let mut row = vec![a.day_label(*k)];
            row.extend(d.cells.iter().map(CellCounts::to_string));
            row
        })
        .collect();
    write_table(w, &header, &rows)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The whole report as text.
pub fn write_text(w: &mut dyn Write, a: &Aggregator) -> io::Result<()> {
    writeln!(
        w,
        "{} capture{} ({} failed), {} ISP{}",
        a.captures,
        if a.captures == 1 { "" } else { "s" },
        a.failed,
        a.isps.len(),
        if a.isps.len() == 1 { "" } else { "s" }
    )?;
    writeln!(w, "  {}", zone_sentence(a))?;
    if a.copies > 0 {
        writeln!(
            w,
            "  {} more capture{} left out as copies of one already counted (the same test as \
             x.dump and x.dump.gz, or as a file and an archive's member)",
            a.copies,
            if a.copies == 1 { " was" } else { "s were" }
        )?;
    }
    for (name, isp) in &a.isps {
        writeln!(w)?;
        write_isp(w, a, name, isp)?;
    }
    writeln!(w)?;
    writeln!(w, "Summary of results (the study's section 8.1)")?;
    let mut header = vec!["ISP".to_string(), "Tests".to_string()];
    header.extend(CELL_HEADINGS.map(String::from));
    let rows: Vec<Vec<String>> = a
        .isps
        .iter()
        .map(|(name, isp)| summary_row(name, isp))
        .collect();
    write_table(w, &header, &rows)?;
    writeln!(w, "\n  {COMBINATION}")
}

/// The six cells combined (`yes`, `no`, `inconclusive`, `n/a`), then per cell the counts of
/// the tests that said each: `<cell>_yes`, `<cell>_no`, `<cell>_inconclusive`, `<cell>_na`.
fn cell_columns<K: Table>(
    cells: impl for<'r, 'a> Fn(&'r K::Row<'a>) -> &'r [CellCounts; 6] + Send + Sync + Copy + 'static,
) -> Vec<Column<K>> {
    let mut cols = Vec::new();
    for (i, name) in SUMMARY_CELLS.into_iter().enumerate() {
        cols.push(Column::new(name, Ty::Enum, move |r| {
            cells(r)[i]
                .combined()
                .map_or(Value::Null, |c| Value::Str(c.code().into()))
        }));
    }
    type Count = fn(&CellCounts) -> u32;
    let counts: [(&str, Count); 4] = [
        ("yes", |c| c.yes),
        ("no", |c| c.no),
        ("inconclusive", |c| c.inconclusive),
        ("na", |c| c.not_applicable),
    ];
    for (i, name) in SUMMARY_CELLS.into_iter().enumerate() {
        for (what, count) in counts {
            cols.push(Column::new(format!("{name}_{what}"), Ty::Int, move |r| {
                Value::Int(i64::from(count(&cells(r)[i])))
            }));
        }
    }
    cols
}

/// `speeds.csv`: one row per ISP, day, port, direction, kind and repetition (`repetition`
/// empty: the average over repetitions).
pub struct Speeds;

pub struct SpeedRow<'a> {
    pub isp: &'a str,
    pub day: String,
    pub time_zone: &'a str,
    pub tests: u32,
    pub class: PortClass,
    pub ports: &'a [u16],
    pub dir: Dir,
    pub proto: Proto,
    pub repetition: Option<u32>,
    pub completed: u32,
    pub failed: u32,
    pub mean_bps: Option<f64>,
}

impl Table for Speeds {
    const NAME: &'static str = "speeds";
    type Row<'a> = SpeedRow<'a>;
    fn schema() -> &'static [Column<Speeds>] {
        static S: std::sync::OnceLock<Vec<Column<Speeds>>> = std::sync::OnceLock::new();
        S.get_or_init(|| {
            type C = Column<Speeds>;
            let int = |x: u32| Value::Int(i64::from(x));
            vec![
                C::new("isp", Ty::Text, |r| Value::Str(r.isp.into())),
                C::new("test_day", Ty::Enum, |r| Value::Str(r.day.clone())),
                C::new("time_zone", Ty::Enum, |r| Value::Str(r.time_zone.into())),
                C::new("tests", Ty::Int, move |r| int(r.tests)),
                C::new("port_class", Ty::Enum, |r| {
                    Value::Str(r.class.code().into())
                }),
                C::new("ports", Ty::IntList, |r| {
                    Value::Ints(r.ports.iter().map(|&p| i64::from(p)).collect())
                }),
                C::new("direction", Ty::Enum, |r| Value::Str(r.dir.code().into())),
                C::new("kind", Ty::Enum, |r| Value::Str(r.proto.code().into())),
                C::new("repetition", Ty::Int32, move |r| {
                    r.repetition.map_or(Value::Null, int)
                }),
                C::new("completed", Ty::Int, move |r| int(r.completed)),
                C::new("failed", Ty::Int, move |r| int(r.failed)),
                C::new("mean_bps", Ty::Float, |r| {
                    r.mean_bps.map_or(Value::Null, Value::Float)
                })
                .dp(0),
            ]
        })
    }
}

/// `days.csv`: the conclusions per ISP and day.
pub struct Days;

pub struct DayRow<'a> {
    pub isp: &'a str,
    pub day: String,
    pub time_zone: &'a str,
    pub tests: u32,
    pub cells: &'a [CellCounts; 6],
}

impl Table for Days {
    const NAME: &'static str = "days";
    type Row<'a> = DayRow<'a>;
    fn schema() -> &'static [Column<Days>] {
        static S: std::sync::OnceLock<Vec<Column<Days>>> = std::sync::OnceLock::new();
        S.get_or_init(|| {
            type C = Column<Days>;
            let mut v = vec![
                C::new("isp", Ty::Text, |r| Value::Str(r.isp.into())),
                C::new("test_day", Ty::Enum, |r| Value::Str(r.day.clone())),
                C::new("time_zone", Ty::Enum, |r| Value::Str(r.time_zone.into())),
                C::new("tests", Ty::Int, |r| Value::Int(i64::from(r.tests))),
            ];
            v.extend(cell_columns::<Days>(|r| r.cells));
            v
        })
    }
}

/// `summary.csv`: the summary across ISPs (seed section 8.1).
pub struct SummaryTable;

pub struct SummaryRow<'a> {
    pub isp: &'a str,
    pub isp_data: &'a Isp,
    pub time_zone: &'a str,
    pub cells: [CellCounts; 6],
}

/// Days since the epoch of `YYYY-MM-DD`.
fn date_value(d: Option<&str>) -> Value {
    d.and_then(|d| crate::glasnost::names::utc_seconds(&format!("{d}T00:00:00")))
        .map_or(Value::Null, |s| Value::Date(s.div_euclid(86_400)))
}

impl Table for SummaryTable {
    const NAME: &'static str = "summary";
    type Row<'a> = SummaryRow<'a>;
    fn schema() -> &'static [Column<SummaryTable>] {
        static S: std::sync::OnceLock<Vec<Column<SummaryTable>>> = std::sync::OnceLock::new();
        S.get_or_init(|| {
            type C = Column<SummaryTable>;
            let mut v = vec![
                C::new("isp", Ty::Text, |r| Value::Str(r.isp.into())),
                C::new("tests", Ty::Int, |r| {
                    Value::Int(i64::from(r.isp_data.captures - r.isp_data.without_tests))
                }),
                C::new("without_tests", Ty::Int, |r| {
                    Value::Int(i64::from(r.isp_data.without_tests))
                }),
                C::new("first_date", Ty::Date, |r| {
                    date_value(r.isp_data.first_date.as_deref())
                }),
                C::new("last_date", Ty::Date, |r| {
                    date_value(r.isp_data.last_date.as_deref())
                }),
                C::new("time_zone", Ty::Enum, |r| Value::Str(r.time_zone.into())),
            ];
            v.extend(cell_columns::<SummaryTable>(|r| &r.cells));
            v
        })
    }
}

/// Writes table `K`'s header and `rows` as CSV and returns the writer.
fn write_csv<'a, W: Write, K: Table>(
    w: W,
    rows: impl IntoIterator<Item = K::Row<'a>>,
) -> io::Result<W> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(names::<K>()).map_err(io::Error::other)?;
    let cols = K::schema();
    for row in rows {
        let rec: Vec<String> = cols.iter().map(|col| cell(col, &(col.get)(&row))).collect();
        c.write_record(&rec).map_err(io::Error::other)?;
    }
    c.into_inner().map_err(|e| io::Error::other(e.to_string()))
}

/// The speeds table (long form, for DuckDB or a pivot table).
pub fn write_speeds_csv<W: Write>(w: W, a: &Aggregator) -> io::Result<W> {
    let mut rows = Vec::new();
    for (name, isp) in &a.isps {
        for (k, d) in &isp.days {
            for class in [PortClass::App, PortClass::Other] {
                let ports: &[u16] = isp.ports.get(&class).map_or(&[], |p| p.as_slice());
                for dir in [Dir::Download, Dir::Upload] {
                    for proto in [Proto::Tcp, Proto::Bt] {
                        let row = |repetition, completed, failed, mean_bps| SpeedRow {
                            isp: name,
                            day: a.day_label(*k),
                            time_zone: a.zone.name(),
                            tests: d.captures,
                            class,
                            ports,
                            dir,
                            proto,
                            repetition,
                            completed,
                            failed,
                            mean_bps,
                        };
                        for ((c2, d2, p2, rep), s) in &d.slots {
                            if (*c2, *d2, *p2) == (class, dir, proto) {
                                rows.push(row(
                                    Some(*rep),
                                    s.goodput.n,
                                    s.failed,
                                    s.goodput.value(),
                                ));
                            }
                        }
                        // A slot exists only for a transfer seen, completed or failed.
                        let total = d.total(class, dir, proto);
                        if total.goodput.n + total.failed > 0 {
                            rows.push(row(
                                None,
                                total.goodput.n,
                                total.failed,
                                total.goodput.value(),
                            ));
                        }
                    }
                }
            }
        }
    }
    write_csv::<W, Speeds>(w, rows)
}

/// The conclusions per day: the six cells combined, and their counts.
pub fn write_days_csv<W: Write>(w: W, a: &Aggregator) -> io::Result<W> {
    let mut rows = Vec::new();
    for (name, isp) in &a.isps {
        for (k, d) in &isp.days {
            rows.push(DayRow {
                isp: name,
                day: a.day_label(*k),
                time_zone: a.zone.name(),
                tests: d.captures,
                cells: &d.cells,
            });
        }
    }
    write_csv::<W, Days>(w, rows)
}

/// The summary across ISPs (seed section 8.1).
pub fn write_summary_csv<W: Write>(w: W, a: &Aggregator) -> io::Result<W> {
    let rows = a.isps.iter().map(|(name, isp)| SummaryRow {
        isp: name,
        isp_data: isp,
        time_zone: a.zone.name(),
        cells: isp.cells(),
    });
    write_csv::<W, SummaryTable>(w, rows)
}

// ---------------------------------------------------------------- HTML

/// Pages for the report: `index.html` (the summary across ISPs, linking each ISP's page) and
/// one page per ISP with its weekly tables and charts. Returns (file name, page) pairs.
pub fn html_pages(a: &Aggregator) -> Vec<(String, html::Page)> {
    let day_word = day_word(a.by);
    let mut pages = Vec::new();
    let mut summary_rows = Vec::new();
    for (i, (name, isp)) in a.isps.iter().enumerate() {
        let file = format!("isp-{}.html", i + 1);
        let mut row = summary_row(name, isp);
        row.push(file.clone());
        summary_rows.push(row);
        let mut sections = Vec::new();
        for class in [PortClass::App, PortClass::Other] {
            if !isp.ports.contains_key(&class) {
                continue;
            }
            let label = capitalise(&port_label(isp, class));
            let days = day_averages(a, isp, class);
            let rows = days.iter().map(averages_row).collect();
            let chart = weekday_chart(&WeekdayChart {
                title: format!("{name}: {label}, average speeds (kbps)"),
                days,
            });
            sections.push(html::Section {
                heading: label.clone(),
                paragraphs: Vec::new(),
                tables: vec![html::Table {
                    caption: format!("{label}: averages, kbps (n: transfers averaged)"),
                    header: averages_header(day_word),
                    rows,
                }],
                svgs: vec![chart],
                ..html::Section::default()
            });
        }
        let mut header = vec![day_word.to_string(), "Tests".to_string()];
        header.extend(CELL_HEADINGS.map(String::from));
        let rows = isp
            .days
            .iter()
            .map(|(k, d)| {
                let mut row = vec![a.day_label(*k), d.captures.to_string()];
                row.extend(d.cells.iter().map(CellCounts::to_string));
                row
            })
            .collect();
        sections.push(html::Section {
            heading: format!("Conclusions per {}", day_word.to_ascii_lowercase()),
            paragraphs: vec![zone_sentence(a), COMBINATION.to_string()],
            tables: vec![html::Table {
                caption: String::new(),
                header,
                rows,
            }],
            ..html::Section::default()
        });
        pages.push((
            file,
            html::Page {
                title: format!("ISP {name}"),
                sections,
            },
        ));
    }
    let mut header = vec!["ISP".to_string(), "Tests".to_string()];
    header.extend(CELL_HEADINGS.map(String::from));
    header.push("Page".to_string());
    let index = html::Page {
        title: format!(
            "{} captures ({} failed), {} ISPs",
            a.captures,
            a.failed,
            a.isps.len()
        ),
        sections: vec![html::Section {
            heading: "Summary of results (the study's section 8.1)".to_string(),
            paragraphs: vec![zone_sentence(a), COMBINATION.to_string()],
            tables: vec![html::Table {
                caption: String::new(),
                header,
                rows: summary_rows,
            }],
            ..html::Section::default()
        }],
    };
    pages.insert(0, ("index.html".to_string(), index));
    pages
}
