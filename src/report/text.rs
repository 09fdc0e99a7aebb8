//! The human report: per capture a header line, notes, and a table of flows.

use std::io::{self, Write};

use super::{human_bytes, human_rate};
use crate::glasnost::verdict::{Cell, Dir, Outcome, PortClass, Proto, Row, Throttling};
use crate::glasnost::{GlasnostReport, TestReport};
use crate::model::{BtSideReport, CaptureReport, FlowReport};
use crate::rst::compare::{CompareReport, PacketNote};

/// Writes one capture's block.
pub fn write_capture(w: &mut dyn Write, r: &CaptureReport) -> io::Result<()> {
    writeln!(w, "{}", r.path)?;
    if let Some(e) = &r.error {
        writeln!(w, "  error: {e}")?;
        if r.format.is_none() {
            return writeln!(w);
        }
    }
    let mut head = Vec::new();
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
    writeln!(w, "  {}", head.join(" | "))?;
    if !r.skipped.is_empty() {
        let parts: Vec<String> = r
            .skipped
            .iter()
            .map(|(code, t)| format!("{code} {} (first: frame {})", t.count, t.first_frame))
            .collect();
        writeln!(
            w,
            "  skipped {} frames: {}",
            r.skipped_total(),
            parts.join(", ")
        )?;
    }
    if !r.anomalies.is_empty() {
        let parts: Vec<String> = r
            .anomalies
            .iter()
            .map(|(code, t)| format!("{code} {} (first: frame {})", t.count, t.first_frame))
            .collect();
        writeln!(w, "  anomalies: {}", parts.join(", "))?;
    }
    for n in &r.notes {
        writeln!(w, "  note: {n}")?;
    }
    if let Some(o) = &r.flows_retired {
        writeln!(
            w,
            "  note: flow table limit {} reached: {} flows ({} never established, {} packets) were counted but not listed",
            o.max_flows, o.flows, o.never_established, o.packets
        )?;
    }
    if !r.flows.is_empty() {
        writeln!(w)?;
        write_flows(w, &r.flows)?;
        write_glasnost(w, r)?;
        write_resets(w, r)?;
        write_bittorrent(w, r)?;
        write_messages(w, r)?;
    }
    writeln!(w)
}

fn kbps(bps: Option<f64>) -> String {
    bps.map_or("-".to_string(), |b| format!("{:.0} Kbps", b / 1000.0))
}

fn cell(c: Cell) -> &'static str {
    match c {
        Cell::Yes => "yes",
        Cell::No => "no",
        Cell::NotApplicable => "n/a",
        Cell::Inconclusive => "inconclusive",
    }
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
                format!("#{} reset{when}{how} (flow {})", t.repetition, t.flow)
            }
            Outcome::NoConnection => format!("#{} never connected (flow {})", t.repetition, t.flow),
            Outcome::NoData => format!("#{} moved no data (flow {})", t.repetition, t.flow),
            Outcome::Completed => String::new(),
        })
        .collect();
    Some(format!(
        "There was a problem with the {what}: {}.",
        reasons.join("; ")
    ))
}

/// One row of a rate table; `reference_first` puts the reference column (TCP, or the
/// neutral port) first, as the study's tables do for BitTorrent against TCP.
fn row_line(w: &mut dyn Write, label: &str, r: &Row, reference_first: bool) -> io::Result<()> {
    let conclusion = match r.limited {
        Some(true) => "Potential rate limiting",
        Some(false) => "No rate limiting",
        None => "-",
    };
    let (a, b) = if reference_first {
        (r.reference_bps, r.compared_bps)
    } else {
        (r.compared_bps, r.reference_bps)
    };
    writeln!(
        w,
        "    {:<13} {:>14} {:>17}   {conclusion}",
        format!("{label} #{}", r.repetition),
        kbps(a),
        kbps(b)
    )
}

fn verdict_lines(w: &mut dyn Write, t: &Throttling, ports: bool) -> io::Result<()> {
    let (g, s) = if ports {
        match (&t.glasnost_ports, &t.statistical_ports) {
            (Some(g), Some(s)) => (g, s),
            _ => return Ok(()),
        }
    } else {
        (&t.glasnost, &t.statistical)
    };
    writeln!(
        w,
        "      {}: Glasnost's rule {} ({}); statistics {} ({})",
        t.dir.code(),
        g.verdict.code(),
        g.why,
        s.verdict.code(),
        s.why
    )
}

/// The test, shaped like the study's section 6.
fn write_glasnost(w: &mut dyn Write, r: &CaptureReport) -> io::Result<()> {
    let Some(g) = &r.glasnost else { return Ok(()) };
    writeln!(w)?;
    write_glasnost_head(w, g, r.tests.len())?;
    let v = &g.verdicts;
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
        writeln!(w)?;
        writeln!(w, "  {title}")?;
        for dir in [Dir::Upload, Dir::Download] {
            if let Some(s) = fared_sentence(&here, dir, port) {
                writeln!(w, "    {s}")?;
            }
        }
        let mine: Vec<&Throttling> = v
            .throttling
            .iter()
            .filter(|t| t.port_class == class)
            .collect();
        if mine.iter().any(|t| !t.study.rows.is_empty()) {
            writeln!(
                w,
                "    {:<13} {:>14} {:>17}   Conclusion",
                "Transfer", "Speed TCP", "Speed BitTorrent"
            )?;
            for t in &mine {
                let label = if t.dir == Dir::Upload {
                    "Upload"
                } else {
                    "Download"
                };
                for row in &t.study.rows {
                    row_line(w, label, row, true)?;
                }
            }
            for t in mine.iter().filter(|t| !t.study.rows.is_empty()) {
                verdict_lines(w, t, false)?;
            }
        }
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
        writeln!(w)?;
        writeln!(
            w,
            "  Is TCP traffic on a well-known BitTorrent port ({port}) throttled?"
        )?;
        writeln!(
            w,
            "    {:<13} {:>14} {:>17}   Conclusion",
            "TCP Transfer", "BitTorrent port", "Non-BT port"
        )?;
        for t in &app {
            let label = if t.dir == Dir::Upload {
                "Upload"
            } else {
                "Download"
            };
            if let Some(sp) = &t.study_ports {
                for row in &sp.rows {
                    row_line(w, label, row, false)?;
                }
            }
        }
        for t in &app {
            verdict_lines(w, t, true)?;
        }
    }
    for (dir, class, rep, shift) in &v.level_shifts {
        writeln!(
            w,
            "  BitTorrent {} #{rep} on the {} port slowed from {} to {} after {} intervals (a level shift)",
            dir.code(),
            if *class == PortClass::App {
                "BitTorrent"
            } else {
                "neutral"
            },
            kbps(Some(shift.before_bps)),
            kbps(Some(shift.after_bps)),
            shift.at_interval
        )?;
    }
    let s = &v.summary;
    writeln!(w)?;
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
    let cells = [
        s.block_bt_app_port,
        s.block_bt_other_port,
        s.throttle_bt_upload_app_port,
        s.throttle_bt_upload_other_port,
        s.throttle_bt_download_app_port,
        s.throttle_bt_download_other_port,
    ];
    writeln!(w, "  Summary:")?;
    for ((label, c), why) in labels.iter().zip(cells).zip(&s.why) {
        writeln!(w, "    {label:<38} {:<12} {why}", cell(c))?;
    }
    let basis = |b: &[&str]| {
        if b.is_empty() {
            "none".to_string()
        } else {
            b.join(", ")
        }
    };
    writeln!(
        w,
        "    blocking basis: {}; throttling basis: {}",
        basis(&s.blocking_basis),
        basis(&s.throttling_basis)
    )?;
    let disagreements: Vec<String> = r
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
    for d in disagreements {
        writeln!(w, "  log: {d}")?;
    }
    for n in &g.notes {
        writeln!(w, "  note: {n}")?;
    }
    Ok(())
}

fn write_glasnost_head(w: &mut dyn Write, g: &GlasnostReport, transfers: usize) -> io::Result<()> {
    let generation = match g.generation {
        crate::glasnost::names::Generation::Bt2009 => "2009 BitTorrent test",
        crate::glasnost::names::Generation::Replayer => "2010+ replayer",
        crate::glasnost::names::Generation::Unknown => "Glasnost test",
    };
    let mut head = format!("  {generation}");
    if let Some(n) = &g.name {
        const DAYS: [&str; 7] = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ];
        let day = DAYS
            .get(crate::glasnost::names::weekday(n.time) as usize)
            .unwrap_or(&"");
        head.push_str(&format!(
            ", client {} ({}), {day}",
            n.client_ip, n.client_host
        ));
    }
    head.push_str(&format!(
        "; {transfers} transfers, schedule from {}",
        if g.schedule_from == "command_channel" {
            "the command channel"
        } else {
            "the flows"
        }
    ));
    writeln!(w, "{head}")?;
    if let Some(l) = &g.log_path {
        writeln!(w, "  log: {l}")?;
    }
    Ok(())
}

/// Every RST with its verdict and the evidence for it.
fn write_resets(w: &mut dyn Write, r: &CaptureReport) -> io::Result<()> {
    let start = r.first_time.unwrap_or(0.0);
    for f in r.flows.iter().filter(|f| !f.rsts.is_empty()) {
        writeln!(w)?;
        let mut head = format!(
            "  flow {} resets (capture taken at the {}):",
            f.id, f.vantage
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
        writeln!(w, "{head}")?;
        for x in &f.rsts {
            writeln!(
                w,
                "    frame {} (+{:.3} s) from the {}, {} ttl {}: {}",
                x.frame,
                x.time - start,
                x.from,
                x.flags,
                x.ttl,
                x.verdict.unwrap_or("-").to_uppercase()
            )?;
            for e in x.findings.iter().filter(|e| e.strength != "info") {
                writeln!(w, "      {} [{}]: {}", e.code, e.strength, e.text)?;
            }
        }
        if f.rsts_dropped > 0 {
            writeln!(w, "    ({} more RSTs counted, not judged)", f.rsts_dropped)?;
        }
    }
    Ok(())
}

/// One paragraph per BitTorrent flow: who spoke, what each side sent, and framing.
fn write_bittorrent(w: &mut dyn Write, r: &CaptureReport) -> io::Result<()> {
    let start = r.first_time.unwrap_or(0.0);
    for f in r.flows.iter().filter(|f| f.kind == Some("bittorrent")) {
        let Some(bt) = &f.bittorrent else { continue };
        writeln!(w)?;
        writeln!(
            w,
            "  flow {} bittorrent, info_hash {}",
            f.id,
            bt.info_hash.as_deref().unwrap_or("(not captured)")
        )?;
        for (who, side) in [("client", &bt.client), ("server", &bt.server)] {
            writeln!(w, "    {who} sent: {}", describe_side(side, start))?;
        }
    }
    Ok(())
}

fn describe_side(s: &BtSideReport, start: f64) -> String {
    let mut parts = Vec::new();
    match &s.handshake {
        Some(h) => {
            let who = match (&h.peer_id, &h.peer_client) {
                (Some(id), Some(name)) => format!("{id} ({name})"),
                (Some(id), None) => id.clone(),
                (None, _) => "peer id not captured".to_string(),
            };
            let flags = if h.flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", h.flags.join(","))
            };
            parts.push(format!(
                "handshake at frame {} (+{:.3} s) {who}{flags}",
                h.frame,
                h.time - start
            ));
        }
        None => parts.push("no handshake".to_string()),
    }
    if let Some(p) = s.preamble_bytes {
        parts.push(format!("after a {p}-byte preamble"));
    }
    if let Some(b) = s.first.get("bitfield") {
        parts.push(format!(
            "bitfield at frame {} (+{:.3} s)",
            b.frame,
            b.time - start
        ));
    }
    if let Some(e) = &s.extended {
        if let Some(c) = &e.client {
            parts.push(format!("extended handshake from {c:?}"));
        }
    }
    let counts: Vec<String> = s.messages.iter().map(|(k, n)| format!("{k} {n}")).collect();
    if !counts.is_empty() {
        parts.push(format!("messages: {}", counts.join(", ")));
    }
    if s.piece_bytes > 0 {
        parts.push(format!("{} of piece data", human_bytes(s.piece_bytes)));
    }
    match (s.framing, s.lost_at) {
        ("lost", Some(at)) => {
            let mut t = format!(
                "framing lost at stream byte {at} ({})",
                s.lost_reason.unwrap_or("?")
            );
            if s.resyncs > 0 {
                t.push_str(&format!(", regained {} times", s.resyncs));
            }
            parts.push(t);
        }
        ("not_bittorrent", _) => parts.push("no handshake in the first 4 KiB".to_string()),
        _ => {}
    }
    if s.unparsed_bytes > 0 {
        parts.push(format!("{} unparsed", human_bytes(s.unparsed_bytes)));
    }
    parts.join("; ")
}

/// The verbose view: every decoded message, for checking a flow by hand in Wireshark.
fn write_messages(w: &mut dyn Write, r: &CaptureReport) -> io::Result<()> {
    for f in &r.flows {
        let Some(msgs) = &f.messages else { continue };
        let dropped = f.messages_dropped.unwrap_or(0);
        if msgs.is_empty() && dropped == 0 {
            continue;
        }
        writeln!(w)?;
        writeln!(
            w,
            "  messages of flow {} ({} -> {}):",
            f.id, f.client, f.server
        )?;
        writeln!(
            w,
            "  {:>8}  {:>12}  {:<6}  {:>10}  message",
            "frame", "time s", "from", "offset"
        )?;
        for m in msgs {
            writeln!(
                w,
                "  {:>8}  {:>12.6}  {:<6}  {:>10}  {}",
                m.frame, m.rel_time, m.from, m.offset, m.text
            )?;
        }
        if dropped > 0 {
            writeln!(w, "  ({dropped} more messages counted, not kept)")?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

const COLUMNS: [(&str, Align); 13] = [
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

fn flow_row(f: &FlowReport) -> Vec<String> {
    let mut client = f.client.clone();
    if f.roles == "guessed" {
        client.push('?');
    }
    vec![
        f.id.to_string(),
        client,
        f.server.clone(),
        f.kind.unwrap_or("-").to_string(),
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
        f.close.to_string(),
        f.rsts.len().to_string(),
    ]
}

fn write_flows(w: &mut dyn Write, flows: &[FlowReport]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = flows.iter().map(flow_row).collect();
    let mut widths: Vec<usize> = COLUMNS.iter().map(|(h, _)| h.len()).collect();
    for row in &rows {
        for (wd, cell) in widths.iter_mut().zip(row) {
            *wd = (*wd).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(COLUMNS.iter().zip(&widths))
            .map(|(c, ((_, align), wd))| match align {
                Align::Left => format!("{c:<wd$}"),
                Align::Right => format!("{c:>wd$}"),
            })
            .collect();
        format!("  {}", parts.join("  ").trim_end())
    };
    writeln!(w, "{}", line(COLUMNS.iter().map(|(h, _)| *h).collect()))?;
    for row in &rows {
        writeln!(w, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    if flows.iter().any(|f| f.roles == "guessed") {
        writeln!(
            w,
            "  (client?: the capture starts mid-connection; client and server were guessed from the ports)"
        )?;
    }
    Ok(())
}

/// The closing line of a batch.
pub fn write_totals(w: &mut dyn Write, analysed: usize, failed: usize) -> io::Result<()> {
    if failed == 0 {
        writeln!(w, "{analysed} captures analysed")
    } else {
        writeln!(w, "{analysed} captures analysed, {failed} failed")
    }
}

/// The two-capture comparison.
pub fn write_compare(w: &mut dyn Write, r: &CompareReport) -> io::Result<()> {
    writeln!(w, "client capture: {}", r.client_capture)?;
    writeln!(w, "server capture: {}", r.server_capture)?;
    match r.clock_offset_ms {
        Some(ms) => writeln!(
            w,
            "the server capture's clock is {ms:+.3} ms from the client capture's"
        )?,
        None => writeln!(w, "no connection appears in both captures")?,
    }
    for n in &r.notes {
        writeln!(w, "note: {n}")?;
    }
    for p in &r.pairs {
        writeln!(w)?;
        writeln!(
            w,
            "connection {} (paired by {})",
            p.client_view, p.paired_by
        )?;
        if p.nat {
            writeln!(
                w,
                "  the server sees it as {} (addresses or ports rewritten on the way)",
                p.server_view
            )?;
        }
        if p.isn_rewritten {
            writeln!(
                w,
                "  sequence numbers rewritten on the way; compared after translating them"
            )?;
        }
        writeln!(
            w,
            "  {} packets in the client capture, {} in the server capture",
            p.packets_client_capture, p.packets_server_capture
        )?;
        for x in &p.rsts {
            let what = match x.proven {
                "forged" => "FORGED: received, never sent",
                "endpoint" => "sent by the endpoint (seen leaving it)",
                "not_received" => "sent, never received",
                _ => "unknown: the other capture was not running then",
            };
            writeln!(
                w,
                "  RST from the {} in the {} capture, frame {}: {what}",
                x.from, x.capture, x.frame
            )?;
        }
        let list = |w: &mut dyn Write, title: &str, notes: &[PacketNote]| -> io::Result<()> {
            if notes.is_empty() {
                return Ok(());
            }
            writeln!(w, "  {title} ({}):", notes.len())?;
            for n in notes.iter().take(20) {
                writeln!(
                    w,
                    "    {} capture frame {}: from the {} {} seq {} ack {} len {} ttl {}",
                    n.capture, n.frame, n.from, n.flags, n.seq, n.ack, n.len, n.ttl
                )?;
            }
            if notes.len() > 20 {
                writeln!(w, "    ... {} more (see --format json)", notes.len() - 20)?;
            }
            Ok(())
        };
        list(w, "received, never sent", &p.never_sent)?;
        list(w, "sent, never received", &p.never_received)?;
        list(w, "changed on the way", &p.modified)?;
    }
    for c in &r.only_in_client_capture {
        writeln!(w, "only in the client capture: {c}")?;
    }
    for c in &r.only_in_server_capture {
        writeln!(w, "only in the server capture: {c}")?;
    }
    Ok(())
}
