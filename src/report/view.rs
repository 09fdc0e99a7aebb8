//! What a capture's report says, as sentences and table rows: the text report lays them out in
//! columns, the HTML page in tables. One source, so the two never tell different stories.
//!
//! - [`capture_facts`], [`capture_notes`]: what was read, and what got in the way;
//! - [`FLOW_COLUMNS`], [`flow_row`]: the flows table;
//! - [`glasnost_view`]: the test shaped like the study's section 6 (per port the table
//!   "Transfer | Speed TCP | Speed BitTorrent | Conclusion", the sentences on how BitTorrent
//!   fared, Glasnost's and the statistical verdicts, the summary row);
//! - [`reset_heading`]: what a reset flow's RSTs amount to.

use super::{human_bytes, human_rate};
use crate::glasnost::names::{self, Generation};
use crate::glasnost::verdict::{Dir, Outcome, PortClass, Proto, Row, Throttling};
use crate::glasnost::{GlasnostReport, ScheduleFrom, TestReport};
use crate::model::{CaptureReport, FlowReport};

/// A rate in the one unit family every text and page uses (`2.80 Mbit/s`, `189 kbit/s`), or
/// `-` when there is none.
pub fn rate(bps: Option<f64>) -> String {
    bps.map_or("-".to_string(), super::human_rate)
}

/// The capture at a glance: format, link types, frames, segments, flows, duration.
/// " (flow N)", or nothing for a transfer without a flow in the capture.
fn flow_ref(id: u32) -> String {
    if id == 0 {
        String::new()
    } else {
        format!(" (flow {id})")
    }
}

pub fn capture_facts(r: &CaptureReport) -> Vec<String> {
    let mut head = Vec::new();
    if r.is_log_only() {
        head.push("Glasnost log read alone".to_string());
        head.push(format!("{} transfers", r.tests.len()));
        if let (Some(a), Some(b)) = (r.first_time, r.last_time) {
            head.push(format!("{:.3} s", b - a));
        }
        return head;
    }
    if let Some(f) = r.format {
        head.push(if r.gzip {
            format!("{f}, gzip")
        } else {
            f.to_string()
        });
    }
    if !r.link_types.is_empty() {
        let links: Vec<String> = r.link_types.iter().map(|l| l.to_string()).collect();
        head.push(links.join(" + "));
    }
    head.push(format!("{} frames", r.frames));
    head.push(format!("{} TCP segments", r.tcp_segments));
    head.push(format!("{} flows", r.flows.len()));
    if let (Some(a), Some(b)) = (r.first_time, r.last_time) {
        head.push(format!("{:.3} s", b - a));
    }
    head
}

/// Skipped frames, anomalies, notes and the flow table's limit, one line each (the text
/// report prints them as they are).
pub fn capture_notes(r: &CaptureReport) -> Vec<String> {
    let mut lines = Vec::new();
    let tallies = |m: &std::collections::BTreeMap<&'static str, crate::model::Tally>| {
        m.iter()
            .map(|(code, t)| format!("{code} {} (first: frame {})", t.count, t.first_frame))
            .collect::<Vec<String>>()
            .join(", ")
    };
    if !r.skipped.is_empty() {
        lines.push(format!(
            "skipped {} frames: {}",
            r.skipped_total(),
            tallies(&r.skipped)
        ));
    }
    if !r.anomalies.is_empty() {
        lines.push(format!("anomalies: {}", tallies(&r.anomalies)));
    }
    for n in &r.notes {
        lines.push(format!("note: {n}"));
    }
    lines
}

/// How a column of the flows table is aligned in text.
#[derive(Clone, Copy)]
pub enum Align {
    Left,
    Right,
}

pub const FLOW_COLUMNS: [(&str, Align); 13] = [
    ("id", Align::Right),
    ("client", Align::Left),
    ("server", Align::Left),
    ("kind", Align::Left),
    ("pkts up/down", Align::Right),
    ("bytes up/down", Align::Right),
    ("retx", Align::Right),
    ("lost", Align::Right),
    ("dur s", Align::Right),
    ("rtt ms", Align::Right),
    ("goodput", Align::Right),
    ("close", Align::Left),
    ("rsts", Align::Right),
];

/// Said under the flows table when a client was guessed (marked `?`).
pub const GUESSED_CLIENT: &str =
    "(client?: the capture starts mid-connection; client and server were guessed from the ports)";

/// One row of the flows table, in [`FLOW_COLUMNS`] order.
pub fn flow_row(f: &FlowReport) -> Vec<String> {
    let mut client = f.client.clone();
    if f.roles == crate::flows::Roles::Guessed {
        client.push('?');
    }
    vec![
        f.id.to_string(),
        client,
        f.server.clone(),
        f.kind.map_or("-", |k| k.code()).to_string(),
        format!("{}/{}", f.packets_up, f.packets_down),
        format!(
            "{} / {}",
            human_bytes(f.bytes_up),
            human_bytes(f.bytes_down)
        ),
        human_bytes(f.retrans_up + f.retrans_down),
        human_bytes(f.missing_up + f.missing_down),
        format!("{:.2}", f.duration_s),
        f.rtt_ms.map_or("-".to_string(), |r| format!("{r:.1}")),
        f.goodput_bps.map_or("-".to_string(), human_rate),
        f.close.code().to_string(),
        rst_count(f),
    ]
}

/// The flow's RSTs: every one seen, and how many were judged when that is fewer
/// (`100000 (256 judged)`).
pub fn rst_count(f: &FlowReport) -> String {
    if f.rsts_judged == f.rsts_seen {
        f.rsts_seen.to_string()
    } else {
        format!("{} ({} judged)", f.rsts_seen, f.rsts_judged)
    }
}

/// What a reset flow's RSTs amount to: "flow 3 resets (capture taken at the client): the
/// study's blocking signal ...".
pub fn reset_heading(f: &FlowReport) -> String {
    let mut head = format!(
        "flow {} resets (capture taken at the {}):",
        f.id,
        f.vantage.code()
    );
    if let Some(b) = &f.blocking {
        if b.signal {
            head.push_str(" the study's blocking signal (reset, RSTs received, none sent)");
            if let Some(ms) = b.after_bt_exchange_ms {
                head.push_str(&format!(", {ms:.1} ms after the BitTorrent exchange"));
            }
            if b.before_data {
                head.push_str(", before any data");
            }
        }
    }
    head
}

/// One of the study's rate tables with what is said around it.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyTable {
    /// "Is BitTorrent traffic on a well-known BitTorrent port (6881) throttled?"
    pub title: String,
    /// How BitTorrent fared in each direction (blocking), the study's sentences.
    pub sentences: Vec<String>,
    /// `Transfer | Speed TCP | Speed BitTorrent | Conclusion`, or for TCP across ports
    /// `TCP Transfer | BitTorrent port | Non-BT port | Conclusion`.
    pub header: [&'static str; 4],
    /// "Upload #1", two rates, the conclusion; empty when nothing was compared.
    pub rows: Vec<[String; 4]>,
    /// Glasnost's rule and the statistical verdict per direction.
    pub verdicts: Vec<String>,
    /// Said under the table when one of its speeds is marked `?` ([`GUESSED_SPEED`]): which
    /// transfers, and what was guessed of them. `None` when nothing shown was guessed.
    pub guessed: Option<String>,
}

/// Opens a study table's footnote when a speed in it is marked `?`: the speed was measured,
/// but which transfer it belongs to (its kind or direction) came from the schedule.
pub const GUESSED_SPEED: &str =
    "(speed?: the transfer's kind or direction was guessed, not read from its bytes:";

impl StudyTable {
    /// Nothing to show under the title: no sentence, no row, no verdict.
    pub fn is_empty(&self) -> bool {
        self.sentences.is_empty() && self.rows.is_empty() && self.verdicts.is_empty()
    }
}

/// The Glasnost test as the study's section 6 shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GlasnostView {
    /// "2010+ replayer, client ... (host), Monday; 24 transfers, schedule from the command
    /// channel".
    pub head: String,
    /// The `.log` read beside the capture.
    pub log: Option<String>,
    /// Per port (the BitTorrent port, then the neutral one), then TCP across ports.
    pub tables: Vec<StudyTable>,
    /// BitTorrent transfers that slowed part-way.
    pub level_shifts: Vec<String>,
    /// The study's summary row: label, `yes` | `no` | `n/a` | `inconclusive`, why.
    pub summary: Vec<[String; 3]>,
    /// "blocking basis: ...; throttling basis: ...".
    pub basis: String,
    /// Where the capture and the log disagree, per transfer.
    pub log_disagreements: Vec<String>,
    pub notes: Vec<String>,
}

/// The study's sentence on how BitTorrent fared in one direction on one port.
fn fared_sentence(tests: &[&TestReport], dir: Dir, port: u16) -> Option<String> {
    let bt: Vec<&&TestReport> = tests
        .iter()
        .filter(|t| t.kind == Proto::Bt && t.direction == Some(dir))
        .collect();
    let what = match dir {
        Dir::Upload => "BitTorrent upload (seeding)",
        Dir::Download => "BitTorrent download",
    };
    if bt.is_empty() {
        return None;
    }
    let failed: Vec<&&&TestReport> = bt.iter().filter(|t| t.outcome.failed()).collect();
    if failed.is_empty() {
        return Some(format!("The {what} worked."));
    }
    if failed.len() == bt.len() && failed.iter().all(|t| t.outcome == Outcome::NoConnection) {
        return Some(format!(
            "There was a problem with the {what}. No connection on port {port} was ever possible: a traffic shaper or a firewall likely blocks this port for all connections."
        ));
    }
    let reasons: Vec<String> = failed
        .iter()
        .map(|t| match t.outcome {
            Outcome::Reset => {
                let when = t
                    .reset_after_bt_exchange_ms
                    .map(|ms| format!(" {ms:.1} ms after the BitTorrent exchange"))
                    .unwrap_or_default();
                let how = if t.blocking_signal {
                    ", by RSTs the server received and never sent"
                } else {
                    ""
                };
                format!("#{} reset{when}{how}{}", t.repetition, flow_ref(t.flow))
            }
            Outcome::NoConnection => {
                format!("#{} never connected{}", t.repetition, flow_ref(t.flow))
            }
            Outcome::NoData => format!("#{} moved no data{}", t.repetition, flow_ref(t.flow)),
            Outcome::Completed => String::new(),
        })
        .collect();
    Some(format!(
        "There was a problem with the {what}: {}.",
        reasons.join("; ")
    ))
}

/// The transfers a study comparison's rows were built from, in the same order
/// (`verdict::select`: one kind, direction and port class, by repetition), so that row `i`
/// (repetition `i + 1`) is transfer `i` of the list.
fn picked<'a>(
    tests: &[&'a TestReport],
    kind: Proto,
    dir: Dir,
    class: PortClass,
) -> Vec<&'a TestReport> {
    let mut v: Vec<&TestReport> = tests
        .iter()
        .copied()
        .filter(|t| t.kind == kind && t.direction == Some(dir) && t.port_class == class)
        .collect();
    v.sort_by_key(|t| t.repetition);
    v
}

/// The two transfers behind a row: (reference, compared).
type RowSource<'a> = (Option<&'a TestReport>, Option<&'a TestReport>);

fn row_source<'a>(
    reference: &[&'a TestReport],
    compared: &[&'a TestReport],
    r: &Row,
) -> RowSource<'a> {
    let i = r.repetition.saturating_sub(1) as usize;
    (reference.get(i).copied(), compared.get(i).copied())
}

/// A shown speed, with `?` when its transfer's kind or direction was guessed; the transfer
/// goes into `marked` for the footnote.
fn speed_cell<'a>(
    bps: Option<f64>,
    from: Option<&'a TestReport>,
    marked: &mut Vec<&'a TestReport>,
) -> String {
    let mut cell = rate(bps);
    if let (Some(_), Some(t)) = (bps, from) {
        if !t.guessed.is_empty() {
            cell.push('?');
            if !marked.iter().any(|m| std::ptr::eq(*m, t)) {
                marked.push(t);
            }
        }
    }
    cell
}

/// The footnote under a table with marked speeds: one sentence naming each transfer (its flow)
/// and what was guessed of it.
fn guessed_footnote(marked: &[&TestReport]) -> Option<String> {
    if marked.is_empty() {
        return None;
    }
    let each: Vec<String> = marked
        .iter()
        .map(|t| {
            format!(
                "{}{}: {}",
                t.kind_label(),
                flow_ref(t.flow),
                t.guessed.join("; ")
            )
        })
        .collect();
    Some(format!("{GUESSED_SPEED} {})", each.join("; ")))
}

/// One row of a rate table; `reference_first` puts the reference column (TCP, or the
/// neutral port) first, as the study's tables do for BitTorrent against TCP. A speed whose
/// transfer was guessed is marked `?` (see [`speed_cell`]).
fn row_cells<'a>(
    dir: Dir,
    r: &Row,
    (reference, compared): RowSource<'a>,
    reference_first: bool,
    marked: &mut Vec<&'a TestReport>,
) -> [String; 4] {
    let label = match dir {
        Dir::Upload => "Upload",
        Dir::Download => "Download",
    };
    let conclusion = match r.limited {
        Some(true) => "Potential rate limiting",
        Some(false) => "No rate limiting",
        None => "-",
    };
    let reference = speed_cell(r.reference_bps, reference, marked);
    let compared = speed_cell(r.compared_bps, compared, marked);
    let (a, b) = if reference_first {
        (reference, compared)
    } else {
        (compared, reference)
    };
    [
        format!("{label} #{}", r.repetition),
        a,
        b,
        conclusion.to_string(),
    ]
}

fn verdict_sentence(t: &Throttling, ports: bool) -> Option<String> {
    let (g, s) = if ports {
        (t.glasnost_ports.as_ref()?, t.statistical_ports.as_ref()?)
    } else {
        (&t.glasnost, &t.statistical)
    };
    Some(format!(
        "{}: Glasnost's rule {} ({}); statistics {} ({})",
        t.dir.code(),
        g.verdict.code(),
        g.why,
        s.verdict.code(),
        s.why
    ))
}

fn glasnost_head(g: &GlasnostReport, transfers: usize) -> String {
    let generation = match g.generation {
        Generation::Bt2009 => "2009 BitTorrent test",
        Generation::Replayer => "2010+ replayer",
        Generation::Unknown => "Glasnost test",
    };
    let mut head = generation.to_string();
    if let Some(n) = &g.name {
        head.push_str(&format!(", client {} ({})", n.client_ip, n.client_host));
        if names::plausible_time(n.time) {
            let day = names::WEEKDAYS
                .get(names::weekday(n.time) as usize)
                .unwrap_or(&"");
            head.push_str(&format!(", {day}"));
        }
    }
    head.push_str(&format!(
        "; {transfers} transfers, schedule from {}",
        match g.schedule_from {
            ScheduleFrom::CommandChannel => "the command channel",
            ScheduleFrom::Log => "the log",
            ScheduleFrom::Flows => "the flows",
        }
    ));
    head
}

/// The test shaped like the study's section 6; `None` when the capture is no Glasnost test.
pub fn glasnost_view(r: &CaptureReport) -> Option<GlasnostView> {
    let g = r.glasnost.as_ref()?;
    let v = &g.verdicts;
    let mut tables = Vec::new();
    for (class, port) in [
        (PortClass::App, g.app_port),
        (PortClass::Other, g.other_port),
    ] {
        let Some(port) = port else { continue };
        let here: Vec<&TestReport> = r.tests.iter().filter(|t| t.port_class == class).collect();
        let title = match class {
            PortClass::App => {
                format!("Is BitTorrent traffic on a well-known BitTorrent port ({port}) throttled?")
            }
            PortClass::Other => format!(
                "Is BitTorrent traffic on a non-standard BitTorrent port ({port}) throttled?"
            ),
        };
        let mine: Vec<&Throttling> = v
            .throttling
            .iter()
            .filter(|t| t.port_class == class)
            .collect();
        let mut marked = Vec::new();
        let mut rows = Vec::new();
        for t in &mine {
            let tcp = picked(&here, Proto::Tcp, t.dir, class);
            let bt = picked(&here, Proto::Bt, t.dir, class);
            for row in &t.study.rows {
                let from = row_source(&tcp, &bt, row);
                rows.push(row_cells(t.dir, row, from, true, &mut marked));
            }
        }
        tables.push(StudyTable {
            title,
            sentences: [Dir::Upload, Dir::Download]
                .into_iter()
                .filter_map(|dir| fared_sentence(&here, dir, port))
                .collect(),
            header: ["Transfer", "Speed TCP", "Speed BitTorrent", "Conclusion"],
            rows,
            verdicts: mine
                .iter()
                .filter(|t| !t.study.rows.is_empty())
                .filter_map(|t| verdict_sentence(t, false))
                .collect(),
            guessed: guessed_footnote(&marked),
        });
    }
    let app: Vec<&Throttling> = v
        .throttling
        .iter()
        .filter(|t| {
            t.port_class == PortClass::App
                && t.study_ports.as_ref().is_some_and(|s| !s.rows.is_empty())
        })
        .collect();
    if let (false, Some(port)) = (app.is_empty(), g.app_port) {
        let all: Vec<&TestReport> = r.tests.iter().collect();
        let mut marked = Vec::new();
        let mut rows = Vec::new();
        for t in &app {
            let other = picked(&all, Proto::Tcp, t.dir, PortClass::Other);
            let tcp = picked(&all, Proto::Tcp, t.dir, PortClass::App);
            for row in t.study_ports.iter().flat_map(|sp| &sp.rows) {
                let from = row_source(&other, &tcp, row);
                rows.push(row_cells(t.dir, row, from, false, &mut marked));
            }
        }
        tables.push(StudyTable {
            title: format!("Is TCP traffic on a well-known BitTorrent port ({port}) throttled?"),
            sentences: Vec::new(),
            header: [
                "TCP Transfer",
                "BitTorrent port",
                "Non-BT port",
                "Conclusion",
            ],
            rows,
            verdicts: app
                .iter()
                .filter_map(|t| verdict_sentence(t, true))
                .collect(),
            guessed: guessed_footnote(&marked),
        });
    }
    let level_shifts = v
        .level_shifts
        .iter()
        .map(|(dir, class, rep, shift)| {
            format!(
                "BitTorrent {} #{rep} on the {} port slowed from {} to {} after {} intervals (a level shift)",
                dir.code(),
                if *class == PortClass::App {
                    "BitTorrent"
                } else {
                    "neutral"
                },
                rate(Some(shift.before_bps)),
                rate(Some(shift.after_bps)),
                shift.at_interval
            )
        })
        .collect();
    let s = &v.summary;
    let app_port = g
        .app_port
        .map_or("BitTorrent port".to_string(), |p| format!("port {p}"));
    let labels = [
        format!("Block BT ({app_port})"),
        "Block BT (other ports)".to_string(),
        format!("Slow down BT upload ({app_port})"),
        "Slow down BT upload (other ports)".to_string(),
        format!("Slow down BT download ({app_port})"),
        "Slow down BT download (other ports)".to_string(),
    ];
    let summary = labels
        .into_iter()
        .zip(s.cells())
        .zip(&s.why)
        .map(|((label, c), why)| [label, c.code().to_string(), why.clone()])
        .collect();
    let basis = |b: &[&str]| {
        if b.is_empty() {
            "none".to_string()
        } else {
            b.join(", ")
        }
    };
    let log_disagreements = r
        .tests
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.log_disagrees.is_empty())
        .map(|(i, t)| {
            format!(
                "transfer {} ({}): {}",
                i + 1,
                t.kind_label(),
                t.log_disagrees.join("; ")
            )
        })
        .collect();
    Some(GlasnostView {
        head: glasnost_head(g, r.tests.len()),
        log: g.log_path.clone(),
        tables,
        level_shifts,
        summary,
        basis: format!(
            "blocking basis: {}; throttling basis: {}",
            basis(&s.blocking_basis),
            basis(&s.throttling_basis)
        ),
        log_disagreements,
        notes: g.notes.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::synth::glasnost::{Fate, Plan, test};
    use crate::synth::{Packet, PcapOpts, pcap};

    fn run(packets: &[Packet]) -> CaptureReport {
        let mut recs: Vec<_> = packets
            .iter()
            .map(|p| p.record(LinkType::RAW, None))
            .collect();
        recs.sort_by_key(|r| r.ts);
        crate::analyze_bytes(
            "test",
            pcap(LinkType::RAW, &recs, PcapOpts::default()),
            &crate::Options::default(),
        )
    }

    fn text(r: &CaptureReport) -> String {
        let mut out = Vec::new();
        super::super::text::write_capture(&mut out, r).expect("write to a Vec");
        String::from_utf8(out).expect("UTF-8")
    }

    fn html(r: &CaptureReport) -> String {
        let mut out = Vec::new();
        super::super::html::write_page(&mut out, &super::super::html::capture_page(r))
            .expect("write to a Vec");
        String::from_utf8(out).expect("UTF-8")
    }

    /// The undisturbed test, and the same test with the first control upload on the
    /// BitTorrent port zeroed out: its bytes then tell neither control nor BitTorrent (nor
    /// random), so its kind comes from the schedule on the command channel.
    fn tests_with_a_blank_control() -> (CaptureReport, CaptureReport, u32) {
        let packets = test(&Plan::default(), |_, _, _, _| Fate::Normal);
        let plain = run(&packets);
        let control = plain
            .tests
            .iter()
            .find(|t| {
                t.kind == Proto::Tcp
                    && t.direction == Some(Dir::Upload)
                    && t.port_class == PortClass::App
                    && t.repetition == 1
            })
            .expect("control upload #1 on the BitTorrent port");
        let id = control.flow;
        let flow = &plain.flows[id as usize - 1];
        let port = flow
            .client
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .expect("the client's port");
        let blanked: Vec<Packet> = packets
            .into_iter()
            .map(|mut p| {
                if p.src.port() == port || p.dst.port() == port {
                    p.payload.iter_mut().for_each(|b| *b = 0);
                }
                p
            })
            .collect();
        (run(&blanked), plain, id)
    }

    #[test]
    fn a_speed_whose_kind_came_from_the_schedule_is_marked_and_explained() {
        let (guessed, plain, flow) = tests_with_a_blank_control();
        let t = guessed
            .tests
            .iter()
            .find(|t| t.flow == flow)
            .expect("the blanked transfer is still a test");
        assert_eq!(
            t.guessed,
            ["kind from the schedule: the flow's bytes do not tell"]
        );
        assert_eq!((t.kind, t.direction), (Proto::Tcp, Some(Dir::Upload)));
        let speed = rate(t.goodput_bps);
        assert!(t.goodput_bps.is_some(), "it still has a speed");

        let v = glasnost_view(&guessed).expect("a Glasnost test");
        // On the BitTorrent port: "Upload #1", its TCP speed marked, nothing else.
        let app = &v.tables[0];
        let marked: Vec<(usize, usize)> = app
            .rows
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                r.iter()
                    .enumerate()
                    .filter(|(_, c)| c.ends_with('?'))
                    .map(move |(j, _)| (i, j))
            })
            .collect();
        assert_eq!(marked, [(0, 1)], "{:?}", app.rows);
        assert_eq!(app.rows[0][0], "Upload #1");
        assert_eq!(app.rows[0][1], format!("{speed}?"));
        let note = app.guessed.as_deref().expect("a footnote");
        assert_eq!(
            note,
            format!(
                "{GUESSED_SPEED} control upload #1 on port 6881 (flow {flow}): kind from the schedule: the flow's bytes do not tell)"
            )
        );
        // The neutral port's table shows none of it.
        assert!(v.tables[1].guessed.is_none());
        assert!(v.tables[1].rows.iter().flatten().all(|c| !c.ends_with('?')));
        // TCP across ports: the same transfer is the "BitTorrent port" column of Upload #1.
        let ports = &v.tables[2];
        assert_eq!(ports.header[1], "BitTorrent port");
        assert_eq!(ports.rows[0][1], format!("{speed}?"));
        assert!(!ports.rows[0][2].ends_with('?'));
        assert!(
            ports
                .guessed
                .as_deref()
                .is_some_and(|n| n.contains(&format!("(flow {flow})")))
        );

        let txt = text(&guessed);
        assert!(txt.contains(&format!("{speed}?")), "{txt}");
        assert_eq!(txt.matches(GUESSED_SPEED).count(), 2, "{txt}");
        let page = html(&guessed);
        assert!(
            page.contains(&format!("<td class=\"num\">{speed}?</td>")),
            "{page}"
        );
        assert_eq!(page.matches("<p class=\"note\">(speed?").count(), 2);

        // Nothing guessed: nothing marked, no footnote.
        let v = glasnost_view(&plain).expect("a Glasnost test");
        assert!(plain.tests.iter().all(|t| t.guessed.is_empty()));
        for t in &v.tables {
            assert!(t.guessed.is_none(), "{}", t.title);
            assert!(
                t.rows.iter().flatten().all(|c| !c.ends_with('?')),
                "{:?}",
                t.rows
            );
        }
        assert!(!text(&plain).contains("speed?"));
        assert!(!html(&plain).contains("speed?"));
    }
}
