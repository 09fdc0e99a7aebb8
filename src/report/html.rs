//! A capture's page in HTML: one self-contained file (inline CSS, inline SVG charts, no
//! scripts, nothing fetched), to open in any browser or attach to a mail.
//!
//! The page is built from generic blocks ([`Page`], [`Section`], [`Table`]) that other reports
//! (the weekly tables) can fill too; [`write_page`] escapes every string it is given and puts
//! the SVGs (from [`crate::plot`]) in as they are. [`capture_page`] says what the text report
//! says, from the same rows ([`super::view`]), as tables: what was read, the study's tables per
//! port, the summary row, the transfers, the RSTs with their verdicts, the flows, and the two
//! charts.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::human_bytes;
use super::view::{self, FLOW_COLUMNS};
use crate::flows::Roles;
use crate::model::CaptureReport;
use crate::plot;
use crate::rst::{Strength, Verdict};

/// A whole page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub title: String,
    pub sections: Vec<Section>,
}

/// A part of a page: its heading, then its paragraphs, its tables, its notes, its charts, in
/// that order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub tables: Vec<Table>,
    /// Footnotes to the tables, set under them in grey (`<p class="note">`).
    pub notes: Vec<String>,
    /// SVG documents, put in as they are (they come from [`crate::plot`]); a string that is
    /// not an `<svg>` element is shown as text.
    pub svgs: Vec<String>,
}

/// A table; rows shorter than the header are padded with empty cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222;background:#fff;line-height:1.4}
h1{font-size:1.5em;word-break:break-all}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top;white-space:pre-line}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.bad{background:#fbe3d9}td.good{background:#dff0e4}td.unsure{background:#fff3cd}td.na{color:#777}
.chart{overflow-x:auto;margin:.8em 0}.chart svg{max-width:100%;height:auto}
p.note{color:#555}
";

/// Writes the page as one HTML document.
pub fn write_page<W: Write>(w: &mut W, p: &Page) -> io::Result<()> {
    writeln!(w, "<!DOCTYPE html>")?;
    writeln!(w, "<html lang=\"en\">")?;
    writeln!(w, "<head>")?;
    writeln!(w, "<meta charset=\"utf-8\">")?;
    writeln!(
        w,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(w, "<title>{}</title>", escape(&p.title))?;
    writeln!(w, "<style>\n{STYLE}</style>")?;
    writeln!(w, "</head>")?;
    writeln!(w, "<body>")?;
    writeln!(w, "<h1>{}</h1>", escape(&p.title))?;
    for s in &p.sections {
        write_section(w, s)?;
    }
    writeln!(w, "</body>")?;
    writeln!(w, "</html>")
}

fn write_section<W: Write>(w: &mut W, s: &Section) -> io::Result<()> {
    writeln!(w, "<section>")?;
    if !s.heading.is_empty() {
        writeln!(w, "<h2>{}</h2>", escape(&s.heading))?;
    }
    for para in &s.paragraphs {
        writeln!(w, "<p>{}</p>", escape(para))?;
    }
    for t in &s.tables {
        write_table(w, t)?;
    }
    for n in &s.notes {
        writeln!(w, "<p class=\"note\">{}</p>", escape(n))?;
    }
    for svg in &s.svgs {
        if is_svg(svg) {
            writeln!(w, "<div class=\"chart\">\n{}\n</div>", svg.trim())?;
        } else {
            writeln!(w, "<pre>{}</pre>", escape(svg))?;
        }
    }
    writeln!(w, "</section>")
}

fn write_table<W: Write>(w: &mut W, t: &Table) -> io::Result<()> {
    writeln!(w, "<table>")?;
    if !t.caption.is_empty() {
        writeln!(w, "<caption>{}</caption>", escape(&t.caption))?;
    }
    if !t.header.is_empty() {
        write!(w, "<thead><tr>")?;
        for h in &t.header {
            write!(w, "<th>{}</th>", escape(h))?;
        }
        writeln!(w, "</tr></thead>")?;
    }
    writeln!(w, "<tbody>")?;
    for row in &t.rows {
        write!(w, "<tr>")?;
        let pad = t.header.len().saturating_sub(row.len());
        for c in row
            .iter()
            .map(String::as_str)
            .chain(std::iter::repeat_n("", pad))
        {
            match cell_class(c) {
                Some(class) => write!(w, "<td class=\"{class}\">{}</td>", escape(c))?,
                None => write!(w, "<td>{}</td>", escape(c))?,
            }
        }
        writeln!(w, "</tr>")?;
    }
    writeln!(w, "</tbody>")?;
    writeln!(w, "</table>")
}

/// Text for HTML: `& < > " '` as entities; control characters (but tab and newline) and
/// non-characters as U+FFFD, which browsers would otherwise show as they like.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// One `<svg ...>...</svg>` element, and nothing around it.
fn is_svg(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("<svg") && t.ends_with("</svg>")
}

/// Verdict words get a colour; numbers are set right.
fn cell_class(c: &str) -> Option<&'static str> {
    match c {
        "yes" | "forged" | "FORGED" | "Potential rate limiting" | "reset" | "no_connection" => {
            Some("bad")
        }
        "no" | "endpoint" | "ENDPOINT" | "No rate limiting" | "completed" => Some("good"),
        "inconclusive" | "INCONCLUSIVE" => Some("unsure"),
        "n/a" | "-" => Some("na"),
        _ => {
            let first = c.split_whitespace().next()?;
            (!c.contains(':') && first.trim_start_matches('+').parse::<f64>().is_ok())
                .then_some("num")
        }
    }
}

fn strings<const N: usize>(a: [&str; N]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A capture's page: what was read, the Glasnost test as the study shows it, the charts, the
/// transfers, the RSTs with their verdicts, and the flows. A capture that failed, or holds no
/// Glasnost test, gets the parts that apply.
pub fn capture_page(r: &CaptureReport) -> Page {
    let mut sections = vec![read_section(r)];
    if let Some(g) = view::glasnost_view(r) {
        let mut head = vec![g.head.clone()];
        if let Some(l) = &g.log {
            head.push(format!("log: {l}"));
        }
        sections.push(Section {
            heading: "Glasnost test".into(),
            paragraphs: head,
            ..Section::default()
        });
        // A port with nothing to say (no transfer on it told anything) gets no heading.
        for t in g.tables.iter().filter(|t| !t.is_empty()) {
            let mut paragraphs = t.sentences.clone();
            paragraphs.extend(t.verdicts.iter().cloned());
            let tables = if t.rows.is_empty() {
                paragraphs.push("No transfers to compare on this port.".into());
                Vec::new()
            } else {
                vec![Table {
                    caption: String::new(),
                    header: strings(t.header),
                    rows: t.rows.iter().map(|r| r.to_vec()).collect(),
                }]
            };
            sections.push(Section {
                heading: t.title.clone(),
                paragraphs,
                tables,
                notes: t.guessed.iter().cloned().collect(),
                svgs: Vec::new(),
            });
        }
        let mut paragraphs = vec![g.basis.clone()];
        paragraphs.extend(g.level_shifts.iter().cloned());
        paragraphs.extend(g.log_disagreements.iter().map(|d| format!("log: {d}")));
        paragraphs.extend(g.notes.iter().map(|n| format!("note: {n}")));
        sections.push(Section {
            heading: "Summary".into(),
            paragraphs,
            tables: vec![Table {
                caption: "The study's summary row".into(),
                header: strings(["Question", "Answer", "Why"]),
                rows: g.summary.iter().map(|r| r.to_vec()).collect(),
            }],
            ..Section::default()
        });
    }
    let svgs: Vec<String> = [plot::comparison_chart(r), plot::goodput_chart(r)]
        .into_iter()
        .flatten()
        .collect();
    if !svgs.is_empty() {
        sections.push(Section {
            heading: "Charts".into(),
            paragraphs: vec![
                "Speeds in kbps. A transfer that did not complete has no bar or line; its outcome is written in its place.".into(),
            ],
            svgs,
            ..Section::default()
        });
    }
    if !r.tests.is_empty() {
        sections.push(transfers_section(r));
    }
    // Sections with nothing to show are left out: the facts under "What was read" already say
    // "0 flows", and a capture without RSTs has no table of them.
    if r.flows.iter().any(|f| !f.rsts.is_empty()) {
        sections.push(resets_section(r));
    }
    if !r.flows.is_empty() {
        sections.push(flows_section(r));
    }
    let name = crate::model::file_name(&r.path);
    Page {
        title: format!("bttrace: {name}"),
        sections,
    }
}

fn read_section(r: &CaptureReport) -> Section {
    let mut paragraphs = vec![format!("File: {}", r.path)];
    if let Some(e) = &r.error {
        paragraphs.push(format!("Error: {e}"));
    }
    if r.format.is_some() || r.error.is_none() {
        paragraphs.push(view::capture_facts(r).join(" | "));
    }
    paragraphs.extend(view::capture_notes(r));
    Section {
        heading: "What was read".into(),
        paragraphs,
        ..Section::default()
    }
}

fn transfers_section(r: &CaptureReport) -> Section {
    let rows = r
        .tests
        .iter()
        .enumerate()
        .map(|(i, t)| {
            vec![
                (i + 1).to_string(),
                t.kind.code().to_string(),
                t.direction.map_or("-", |d| d.code()).to_string(),
                t.port.to_string(),
                t.repetition.to_string(),
                t.outcome.code().to_string(),
                // A transfer that did not run its course has no speed (as in the text).
                view::rate(t.goodput_bps.filter(|_| !t.outcome.failed())),
                human_bytes(t.data_bytes),
                t.flow.to_string(),
                t.rsts.len().to_string(),
            ]
        })
        .collect();
    Section {
        heading: "Transfers".into(),
        tables: vec![Table {
            caption: "Each Glasnost transfer: data-phase goodput and how it ended".into(),
            header: strings([
                "#",
                "kind",
                "direction",
                "port",
                "repetition",
                "outcome",
                "goodput",
                "data",
                "flow",
                "RSTs",
            ]),
            rows,
        }],
        ..Section::default()
    }
}

fn resets_section(r: &CaptureReport) -> Section {
    let start = r.first_time.unwrap_or(0.0);
    let tables: Vec<Table> = r
        .flows
        .iter()
        .filter(|f| !f.rsts.is_empty())
        .map(|f| {
            let mut rows: Vec<Vec<String>> = f
                .rsts
                .iter()
                .map(|x| {
                    let evidence: Vec<String> = x
                        .findings
                        .iter()
                        .filter(|e| e.strength != Strength::Info)
                        .map(|e| format!("{} [{}]: {}", e.code, e.strength, e.text))
                        .collect();
                    vec![
                        x.frame.to_string(),
                        format!("+{:.3}", x.time - start),
                        x.from.to_string(),
                        x.flags.clone(),
                        x.ttl.to_string(),
                        x.verdict.map_or("-", Verdict::code).to_string(),
                        evidence.join("\n"),
                        x.filter.clone(),
                    ]
                })
                .collect();
            if f.rsts_dropped > 0 {
                rows.push(vec![
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("{} more RSTs counted, not judged", f.rsts_dropped),
                    String::new(),
                ]);
            }
            Table {
                caption: format!(
                    "{} Wireshark filter of the flow: {}",
                    view::reset_heading(f),
                    f.filter
                ),
                header: strings([
                    "frame",
                    "time s",
                    "from",
                    "flags",
                    "ttl",
                    "verdict",
                    "evidence",
                    "Wireshark filter",
                ]),
                rows,
            }
        })
        .collect();
    Section {
        heading: "Resets".into(),
        tables,
        ..Section::default()
    }
}

fn flows_section(r: &CaptureReport) -> Section {
    let mut paragraphs = Vec::new();
    if r.flows.iter().any(|f| f.roles == Roles::Guessed) {
        paragraphs.push(view::GUESSED_CLIENT.to_string());
    }
    Section {
        heading: "Flows".into(),
        paragraphs,
        tables: vec![Table {
            caption: format!("{} TCP flows", r.flows.len()),
            header: FLOW_COLUMNS.iter().map(|(h, _)| h.to_string()).collect(),
            rows: r.flows.iter().map(view::flow_row).collect(),
        }],
        ..Section::default()
    }
}

/// The page's file name for a capture: its file name with everything but ASCII letters,
/// digits, `.`, `-` and `_` as `_`, no leading dot, at most 200 characters, then `.html`.
pub fn page_file_name(path: &str) -> String {
    let mut safe: String = crate::model::file_name(path)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    while safe.starts_with('.') {
        safe.remove(0);
    }
    if safe.is_empty() {
        safe.push_str("capture");
    }
    safe.push_str(".html");
    safe
}

/// Writes the capture's page into `dir` as [`page_file_name`] and returns its path. A page of
/// the same name is replaced (captures of the same name in different folders share one).
pub fn write_capture_page(dir: &Path, r: &CaptureReport) -> io::Result<PathBuf> {
    let path = dir.join(page_file_name(&r.path));
    let mut w = BufWriter::new(File::create(&path)?);
    write_page(&mut w, &capture_page(r))?;
    w.flush()?;
    Ok(path)
}

#[cfg(test)]
mod tests;
