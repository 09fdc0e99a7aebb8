//! The human report: per capture a header line, notes, and a table of flows.

use std::io::{self, Write};

use super::view::{self, Align, FLOW_COLUMNS};
use super::{escape_controls, human_bytes};
use crate::btparse::{FramingState, Kind};
use crate::flows::Roles;
use crate::model::{BtSideReport, CaptureReport, FlowReport};
use crate::rst::compare::{CompareReport, Field, PacketNote, PairReport, Part, Proven};
use crate::rst::{Strength, Verdict};

/// Writes one capture's block.
pub fn write_capture(w: &mut dyn Write, r: &CaptureReport) -> io::Result<()> {
    writeln!(w, "{}", escape_controls(&r.path))?;
    if let Some(e) = &r.error {
        writeln!(w, "  error: {}", escape_controls(e))?;
        if r.format.is_none() {
            return writeln!(w);
        }
    }
    writeln!(w, "  {}", view::capture_facts(r).join(" | "))?;
    for line in view::capture_notes(r) {
        writeln!(w, "  {}", escape_controls(&line))?;
    }
    if r.is_log_only() {
        write_glasnost(w, r)?;
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

/// The test, shaped like the study's section 6.
fn write_glasnost(w: &mut dyn Write, r: &CaptureReport) -> io::Result<()> {
    let Some(g) = view::glasnost_view(r) else {
        return Ok(());
    };
    writeln!(w)?;
    writeln!(w, "  {}", escape_controls(&g.head))?;
    if let Some(l) = &g.log {
        writeln!(w, "  log: {}", escape_controls(l))?;
    }
    // A port with nothing to say gets no title.
    for t in g.tables.iter().filter(|t| !t.is_empty()) {
        writeln!(w)?;
        writeln!(w, "  {}", t.title)?;
        for s in &t.sentences {
            writeln!(w, "    {s}")?;
        }
        if t.rows.is_empty() {
            continue;
        }
        for [label, a, b, conclusion] in
            std::iter::once(t.header.map(String::from)).chain(t.rows.iter().cloned())
        {
            writeln!(w, "    {label:<13} {a:>14} {b:>17}   {conclusion}")?;
        }
        for v in &t.verdicts {
            writeln!(w, "      {v}")?;
        }
        if let Some(n) = &t.guessed {
            writeln!(w, "    {n}")?;
        }
    }
    for s in &g.level_shifts {
        writeln!(w, "  {s}")?;
    }
    writeln!(w)?;
    writeln!(w, "  Summary:")?;
    for [label, cell, why] in &g.summary {
        writeln!(w, "    {label:<38} {cell:<12} {why}")?;
    }
    writeln!(w, "    {}", g.basis)?;
    for d in &g.log_disagreements {
        writeln!(w, "  log: {}", escape_controls(d))?;
    }
    for n in &g.notes {
        writeln!(w, "  note: {}", escape_controls(n))?;
    }
    Ok(())
}

/// Every RST with its verdict and the evidence for it.
fn write_resets(w: &mut dyn Write, r: &CaptureReport) -> io::Result<()> {
    let start = r.first_time.unwrap_or(0.0);
    for f in r.flows.iter().filter(|f| !f.rsts.is_empty()) {
        writeln!(w)?;
        writeln!(w, "  {}", view::reset_heading(f))?;
        writeln!(w, "    the flow in Wireshark: {}", f.filter)?;
        for x in &f.rsts {
            writeln!(
                w,
                "    frame {} (+{:.3} s) from the {}, {} ttl {}: {}  [{}]",
                x.frame,
                x.time - start,
                x.from,
                x.flags,
                x.ttl,
                x.verdict.map_or("-", Verdict::code).to_uppercase(),
                x.filter
            )?;
            for e in x.findings.iter().filter(|e| e.strength != Strength::Info) {
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
    for f in r.flows.iter().filter(|f| f.kind == Some(Kind::BitTorrent)) {
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
            let who = match (&h.peer_id_text, &h.peer_client) {
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
        (FramingState::Lost, Some(at)) => {
            let mut t = format!(
                "framing lost at stream byte {at} ({})",
                s.lost_reason.map_or("?", |r| r.code())
            );
            if s.resyncs > 0 {
                t.push_str(&format!(", regained {} times", s.resyncs));
            }
            parts.push(t);
        }
        (FramingState::NotBitTorrent, _) => {
            parts.push("no handshake in the first 4 KiB".to_string())
        }
        (FramingState::Lost, None)
        | (FramingState::Ok | FramingState::NoHandshake | FramingState::NoPayload, _) => {}
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

fn write_flows(w: &mut dyn Write, flows: &[FlowReport]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = flows.iter().map(view::flow_row).collect();
    let mut widths: Vec<usize> = FLOW_COLUMNS.iter().map(|(h, _)| h.len()).collect();
    for row in &rows {
        for (wd, cell) in widths.iter_mut().zip(row) {
            *wd = (*wd).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(FLOW_COLUMNS.iter().zip(&widths))
            .map(|(c, ((_, align), wd))| match align {
                Align::Left => format!("{c:<wd$}"),
                Align::Right => format!("{c:>wd$}"),
            })
            .collect();
        format!("  {}", parts.join("  ").trim_end())
    };
    writeln!(
        w,
        "{}",
        line(FLOW_COLUMNS.iter().map(|(h, _)| *h).collect())
    )?;
    for row in &rows {
        writeln!(w, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    if flows.iter().any(|f| f.roles == Roles::Guessed) {
        writeln!(w, "  {}", view::GUESSED_CLIENT)?;
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
    write_compare_head(
        w,
        &r.client_capture,
        &r.server_capture,
        r.clock_offset_ms,
        &r.notes,
    )?;
    for p in &r.pairs {
        write_compare_pair(w, p)?;
    }
    for c in &r.only_in_client_capture {
        writeln!(w, "only in the client capture: {c}")?;
    }
    for c in &r.only_in_server_capture {
        writeln!(w, "only in the server capture: {c}")?;
    }
    Ok(())
}

/// One part of the two-capture comparison, as [`crate::rst::compare::compare_into`] hands it
/// on: the same text as [`write_compare`] gives for the whole report.
pub fn write_compare_part(w: &mut dyn Write, part: &Part) -> io::Result<()> {
    match part {
        Part::Head {
            client_capture,
            server_capture,
            clock_offset_ms,
            notes,
        } => write_compare_head(w, client_capture, server_capture, *clock_offset_ms, notes),
        Part::Pair(p) => write_compare_pair(w, p),
        Part::OnlyInClientCapture(c) => writeln!(w, "only in the client capture: {c}"),
        Part::OnlyInServerCapture(c) => writeln!(w, "only in the server capture: {c}"),
    }
}

fn write_compare_head(
    w: &mut dyn Write,
    client_capture: &str,
    server_capture: &str,
    clock_offset_ms: Option<f64>,
    notes: &[String],
) -> io::Result<()> {
    writeln!(w, "client capture: {}", escape_controls(client_capture))?;
    writeln!(w, "server capture: {}", escape_controls(server_capture))?;
    match clock_offset_ms {
        Some(ms) => writeln!(
            w,
            "the server capture's clock is {ms:+.3} ms from the client capture's"
        )?,
        None => writeln!(w, "no connection appears in both captures")?,
    }
    for n in notes {
        writeln!(w, "note: {n}")?;
    }
    Ok(())
}

fn write_compare_pair(w: &mut dyn Write, p: &PairReport) -> io::Result<()> {
    writeln!(w)?;
    writeln!(
        w,
        "connection {} (paired by {})",
        p.client_view,
        p.paired_by.code()
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
            Proven::Forged => "FORGED: received, never sent",
            Proven::Endpoint => "sent by the endpoint (seen leaving it)",
            Proven::NotReceived => "sent, never received",
            Proven::Unproven => "unproven",
        };
        let fields = if x.fields.is_empty() {
            String::new()
        } else {
            format!(" [{}]", Field::join(&x.fields, ", "))
        };
        writeln!(
            w,
            "  RST from the {} in the {} capture, frame {}: {what}: {}{fields}",
            x.from, x.capture, x.frame, x.reason
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
    Ok(())
}
