//! Flat tables for spreadsheets and DuckDB, each with a `capture` column: one row per capture,
//! per Glasnost transfer, per flow and per RST.
//!
//! Column order is fixed and documented in the README. Text cells that a spreadsheet would
//! run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) are defused
//! with a leading `'`; numbers are written as numbers. Empty cells mean "not known".

use std::io::{self, Write};

use crate::btparse::MsgKind;
use crate::glasnost::names::{self, WEEKDAYS};
use crate::glasnost::verdict::{Outcome, SUMMARY_CELLS};
use crate::model::{BtSideReport, CaptureReport, FlowReport};
use crate::rst::{EvidenceKind, Verdict};

/// Columns of the flows table before the BitTorrent ones, in order.
pub const FLOW_COLUMNS_BASE: [&str; 43] = [
    "capture",
    "id",
    "client",
    "server",
    "kind",
    "direction",
    "port",
    "established",
    "roles",
    "instance",
    "first_frame",
    "last_frame",
    "start",
    "end",
    "duration_s",
    "rtt_ms",
    "packets_up",
    "packets_down",
    "payload_up",
    "payload_down",
    "bytes_up",
    "bytes_down",
    "retrans_up",
    "retrans_down",
    "truncated_up",
    "truncated_down",
    "missing_up",
    "missing_down",
    "unassembled_up",
    "unassembled_down",
    "overlap_mismatches",
    "goodput_bps",
    "close",
    "rsts",
    "rsts_judged",
    "rst_frames",
    "rsts_forged",
    "rsts_inconclusive",
    "vantage",
    "blocking_signal",
    "reset_before_data",
    "reset_after_bt_ms",
    "wireshark_filter",
];

/// Per-side BitTorrent columns; each appears twice, suffixed `_up` (sent by the client) and
/// `_down` (sent by the server), followed by one `msgs_<kind>_up/_down` pair per message kind.
pub const BT_SIDE_COLUMNS: [&str; 11] = [
    "peer_id",
    "peer_client",
    "reserved_flags",
    "ext_client",
    "preamble_bytes",
    "handshake_time",
    "bitfield_time",
    "piece_bytes",
    "framing",
    "lost_at",
    "unparsed_bytes",
];

/// Every column of the flows table, in order.
pub fn flow_columns() -> Vec<String> {
    let mut cols: Vec<String> = FLOW_COLUMNS_BASE.iter().map(|c| c.to_string()).collect();
    cols.push("info_hash".into());
    for c in BT_SIDE_COLUMNS {
        cols.push(format!("{c}_up"));
        cols.push(format!("{c}_down"));
    }
    for k in MsgKind::ALL {
        cols.push(format!("msgs_{}_up", k.code()));
        cols.push(format!("msgs_{}_down", k.code()));
    }
    cols.push("error".into());
    cols
}

/// Makes a text cell safe to open in a spreadsheet (and to print: control characters, as a
/// newline or ESC in a file name, are escaped).
pub fn defuse(cell: &str) -> String {
    let cell = super::escape_controls(cell);
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.into_owned(),
    }
}

/// How cells are written: for CSV (text defused for spreadsheets, numbers at the table's
/// precision) or raw, for typed tables (text as it is, numbers at full precision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cells {
    pub raw: bool,
}

impl Cells {
    pub const CSV: Cells = Cells { raw: false };
    pub const RAW: Cells = Cells { raw: true };

    fn txt(self, cell: &str) -> String {
        if self.raw {
            cell.to_string()
        } else {
            defuse(cell)
        }
    }

    /// A number: at `decimals` places in CSV; raw, the shortest text that reads back as the
    /// same number.
    fn num(self, x: f64, decimals: usize) -> String {
        if self.raw {
            format!("{x}")
        } else {
            format!("{x:.decimals$}")
        }
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn flow_record(capture: &str, f: &FlowReport, c: Cells) -> Vec<String> {
    let frames: Vec<String> = f.rsts.iter().map(|r| r.frame.to_string()).collect();
    vec![
        c.txt(capture),
        f.id.to_string(),
        c.txt(&f.client),
        c.txt(&f.server),
        opt(f.kind),
        opt(f.direction),
        f.port.to_string(),
        f.established.to_string(),
        f.roles.to_string(),
        f.instance.to_string(),
        f.first_frame.to_string(),
        f.last_frame.to_string(),
        c.num(f.start, 6),
        c.num(f.end, 6),
        c.num(f.duration_s, 6),
        opt(f.rtt_ms.map(|r| c.num(r, 3))),
        f.packets_up.to_string(),
        f.packets_down.to_string(),
        f.payload_up.to_string(),
        f.payload_down.to_string(),
        f.bytes_up.to_string(),
        f.bytes_down.to_string(),
        f.retrans_up.to_string(),
        f.retrans_down.to_string(),
        f.truncated_up.to_string(),
        f.truncated_down.to_string(),
        f.missing_up.to_string(),
        f.missing_down.to_string(),
        f.unassembled_up.to_string(),
        f.unassembled_down.to_string(),
        f.overlap_mismatches.to_string(),
        opt(f.goodput_bps.map(|g| c.num(g, 0))),
        f.close.to_string(),
        f.rsts_seen.to_string(),
        f.rsts_judged.to_string(),
        frames.join(" "),
        count_verdict(f, Verdict::Forged),
        count_verdict(f, Verdict::Inconclusive),
        f.vantage.to_string(),
        opt(f.blocking.as_ref().map(|b| b.signal)),
        opt(f.blocking.as_ref().map(|b| b.before_data)),
        opt(f
            .blocking
            .as_ref()
            .and_then(|b| b.after_bt_exchange_ms)
            .map(|m| c.num(m, 3))),
        f.filter.clone(),
    ]
    .into_iter()
    .chain(bt_cells(f, c))
    .chain([String::new()])
    .collect()
}

fn count_verdict(f: &FlowReport, verdict: Verdict) -> String {
    f.rsts
        .iter()
        .filter(|r| r.verdict == Some(verdict))
        .count()
        .to_string()
}

fn side_cells(s: Option<&BtSideReport>, c: Cells) -> [String; 11] {
    let Some(s) = s else {
        return Default::default();
    };
    let h = s.handshake.as_ref();
    [
        c.txt(h.and_then(|h| h.peer_id.as_deref()).unwrap_or("")),
        c.txt(h.and_then(|h| h.peer_client.as_deref()).unwrap_or("")),
        h.map(|h| h.flags.join(" ")).unwrap_or_default(),
        c.txt(
            s.extended
                .as_ref()
                .and_then(|e| e.client.as_deref())
                .unwrap_or(""),
        ),
        opt(s.preamble_bytes),
        opt(h.map(|h| c.num(h.time, 6))),
        opt(s.first.get("bitfield").map(|b| c.num(b.time, 6))),
        s.piece_bytes.to_string(),
        s.framing.to_string(),
        opt(s.lost_at),
        s.unparsed_bytes.to_string(),
    ]
}

fn bt_cells(f: &FlowReport, c: Cells) -> Vec<String> {
    let bt = f.bittorrent.as_ref();
    let up = side_cells(bt.map(|b| &b.client), c);
    let down = side_cells(bt.map(|b| &b.server), c);
    let mut cells = vec![opt(bt.and_then(|b| b.info_hash.clone()))];
    for (u, d) in up.into_iter().zip(down) {
        cells.push(u);
        cells.push(d);
    }
    for k in MsgKind::ALL {
        for side in [bt.map(|b| &b.client), bt.map(|b| &b.server)] {
            let n = side
                .and_then(|s| s.messages.get(k.code()))
                .copied()
                .unwrap_or(0);
            cells.push(n.to_string());
        }
    }
    cells
}

/// The flows table's rows of a capture: one per flow; a capture that failed gets one row
/// carrying its error, so no input disappears from the table.
fn flow_rows(r: &CaptureReport, out: &mut Vec<Vec<String>>, c: Cells) {
    if r.flows.is_empty() && r.error.is_some() {
        let mut row = vec![String::new(); flow_columns().len()];
        if let Some(first) = row.first_mut() {
            *first = c.txt(&r.path);
        }
        if let Some(last) = row.last_mut() {
            *last = c.txt(r.error.as_deref().unwrap_or(""));
        }
        out.push(row);
        return;
    }
    out.extend(r.flows.iter().map(|f| flow_record(&r.path, f, c)));
}

/// Columns of the RSTs table, in order.
pub const RST_COLUMNS: [&str; 20] = [
    "capture",
    "flow",
    "client",
    "server",
    "kind",
    "vantage",
    "frame",
    "time",
    "rel_time",
    "from",
    "flags",
    "seq",
    "ack",
    "ttl",
    "ip_id",
    "window",
    "verdict",
    "evidence",
    "explanation",
    "wireshark_filter",
];

/// The RSTs table's rows of a capture: one per RST, with its verdict and evidence.
fn rst_rows(r: &CaptureReport, out: &mut Vec<Vec<String>>, c: Cells) {
    for f in &r.flows {
        for x in &f.rsts {
            let explanation: Vec<String> = x
                .findings
                .iter()
                .map(|e| format!("{} ({}): {}", e.code, e.strength, e.text))
                .collect();
            let row = [
                c.txt(&r.path),
                f.id.to_string(),
                c.txt(&f.client),
                c.txt(&f.server),
                opt(f.kind),
                f.vantage.to_string(),
                x.frame.to_string(),
                c.num(x.time, 6),
                c.num(x.rel_time, 6),
                x.from.to_string(),
                x.flags.clone(),
                x.seq.to_string(),
                opt(x.ack),
                x.ttl.to_string(),
                opt(x.ip_id),
                x.window.to_string(),
                opt(x.verdict),
                EvidenceKind::join(&x.evidence, " "),
                c.txt(&explanation.join("; ")),
                x.filter.clone(),
            ];
            out.push(Vec::from(row));
        }
    }
}

/// Columns of the captures table, in order: one row per capture, with its metadata and the
/// study's summary row.
pub const CAPTURE_COLUMNS: [&str; 38] = [
    "capture",
    "error",
    "format",
    "gzip",
    "frames",
    "tcp_segments",
    "skipped_frames",
    "flows",
    "flows_retired",
    "retired_packets",
    "retired_payload_bytes",
    "tests",
    "first_time",
    "last_time",
    "generation",
    "client_ip",
    "client_host",
    "test_time",
    "date",
    "weekday",
    "log",
    "schedule_from",
    "app_port",
    "other_port",
    SUMMARY_CELLS[0],
    SUMMARY_CELLS[1],
    SUMMARY_CELLS[2],
    SUMMARY_CELLS[3],
    SUMMARY_CELLS[4],
    SUMMARY_CELLS[5],
    "blocking_basis",
    "throttling_basis",
    "tests_reset",
    "tests_no_connection",
    "rsts",
    "rsts_judged",
    "rsts_forged",
    "notes",
];

fn capture_record(r: &CaptureReport, c: Cells) -> Vec<String> {
    let g = r.glasnost.as_ref();
    let time = r.test_time();
    let rsts = || r.flows.iter().flat_map(|f| &f.rsts);
    let outcomes = |o: Outcome| r.tests.iter().filter(|t| t.outcome == o).count();
    let cells: Vec<String> = match &r.summary {
        Some(s) => s.cells().iter().map(|c| c.code().to_string()).collect(),
        None => vec![String::new(); 6],
    };
    let mut notes: Vec<String> = r.notes.iter().map(|n| n.to_string()).collect();
    if let Some(g) = g {
        notes.extend(g.notes.iter().cloned());
    }
    let mut row = vec![
        c.txt(&r.path),
        c.txt(r.error.as_deref().unwrap_or("")),
        opt(r.format.map(|f| f.to_string())),
        r.gzip.to_string(),
        r.frames.to_string(),
        r.tcp_segments.to_string(),
        r.skipped_total().to_string(),
        r.flows.len().to_string(),
        r.flows_retired.map_or(0, |o| o.flows).to_string(),
        r.flows_retired.map_or(0, |o| o.packets).to_string(),
        r.flows_retired.map_or(0, |o| o.payload_bytes).to_string(),
        r.tests.len().to_string(),
        opt(r.first_time.map(|t| c.num(t, 6))),
        opt(r.last_time.map(|t| c.num(t, 6))),
        opt(g.map(|g| g.generation.code())),
        c.txt(&r.client_address().unwrap_or_default()),
        c.txt(r.client_host().unwrap_or("")),
        opt(time),
        opt(time.map(names::date)),
        opt(time.map(|t| WEEKDAYS[names::weekday(t) as usize])),
        c.txt(g.and_then(|g| g.log_path.as_deref()).unwrap_or("")),
        opt(g.map(|g| g.schedule_from)),
        opt(g.and_then(|g| g.app_port)),
        opt(g.and_then(|g| g.other_port)),
    ];
    row.extend(cells);
    row.extend([
        opt(r.summary.as_ref().map(|s| s.blocking_basis.join(" "))),
        opt(r.summary.as_ref().map(|s| s.throttling_basis.join(" "))),
        outcomes(Outcome::Reset).to_string(),
        outcomes(Outcome::NoConnection).to_string(),
        r.flows.iter().map(|f| f.rsts_seen).sum::<u64>().to_string(),
        rsts().count().to_string(),
        rsts()
            .filter(|x| x.verdict == Some(Verdict::Forged))
            .count()
            .to_string(),
        c.txt(&notes.join("; ")),
    ]);
    row
}

/// Columns of the tests table, in order: one row per Glasnost transfer.
pub const TEST_COLUMNS: [&str; 20] = [
    "capture",
    "test",
    "kind",
    "direction",
    "port",
    "port_class",
    "repetition",
    "outcome",
    "goodput_bps",
    "data_bytes",
    "data_seconds",
    "flow",
    "rsts",
    "rsts_forged",
    "rst_frames",
    "reset_after_bt_ms",
    "blocking_signal",
    "guessed",
    "log_bps",
    "log_disagrees",
];

/// The tests table's rows of a capture: one per Glasnost transfer.
fn test_rows(r: &CaptureReport, out: &mut Vec<Vec<String>>, c: Cells) {
    for (i, t) in r.tests.iter().enumerate() {
        let frames: Vec<String> = t.rsts.iter().map(|x| x.frame.to_string()).collect();
        let row = [
            c.txt(&r.path),
            (i + 1).to_string(),
            t.kind.code().to_string(),
            opt(t.direction.map(|d| d.code())),
            t.port.to_string(),
            t.port_class.code().to_string(),
            t.repetition.to_string(),
            t.outcome.code().to_string(),
            // At full precision (the shortest text that reads back as the same number): `bttrace
            // report` on the tables then gives the report the captures give.
            opt(t.goodput_bps.map(|g| Cells::RAW.num(g, 0))),
            t.data_bytes.to_string(),
            opt(t.data_seconds.map(|s| c.num(s, 6))),
            t.flow.to_string(),
            t.rsts.len().to_string(),
            t.rsts
                .iter()
                .filter(|x| x.verdict == Some(Verdict::Forged))
                .count()
                .to_string(),
            frames.join(" "),
            opt(t.reset_after_bt_exchange_ms.map(|m| c.num(m, 3))),
            t.blocking_signal.to_string(),
            t.guessed.join(" "),
            opt(t.log.as_ref().and_then(|l| l.bps).map(|b| c.num(b, 0))),
            c.txt(&t.log_disagrees.join("; ")),
        ];
        out.push(Vec::from(row));
    }
}

/// One of the tables: its columns and the rows a capture gives.
pub trait Rows {
    fn columns() -> Vec<String>;
    fn rows(r: &CaptureReport, out: &mut Vec<Vec<String>>, c: Cells);
}

/// The captures table ([`CAPTURE_COLUMNS`]).
pub struct Captures;
/// The tests table ([`TEST_COLUMNS`]).
pub struct Tests;
/// The flows table ([`flow_columns`]).
pub struct Flows;
/// The RSTs table ([`RST_COLUMNS`]).
pub struct Rsts;

impl Rows for Captures {
    fn columns() -> Vec<String> {
        CAPTURE_COLUMNS.map(String::from).to_vec()
    }
    fn rows(r: &CaptureReport, out: &mut Vec<Vec<String>>, c: Cells) {
        out.push(capture_record(r, c));
    }
}

impl Rows for Tests {
    fn columns() -> Vec<String> {
        TEST_COLUMNS.map(String::from).to_vec()
    }
    fn rows(r: &CaptureReport, out: &mut Vec<Vec<String>>, c: Cells) {
        test_rows(r, out, c);
    }
}

impl Rows for Flows {
    fn columns() -> Vec<String> {
        flow_columns()
    }
    fn rows(r: &CaptureReport, out: &mut Vec<Vec<String>>, c: Cells) {
        flow_rows(r, out, c);
    }
}

impl Rows for Rsts {
    fn columns() -> Vec<String> {
        RST_COLUMNS.map(String::from).to_vec()
    }
    fn rows(r: &CaptureReport, out: &mut Vec<Vec<String>>, c: Cells) {
        rst_rows(r, out, c);
    }
}

/// Writes one table, header first, for any number of captures.
pub struct Table<W: Write, K: Rows> {
    w: csv::Writer<W>,
    rows: Vec<Vec<String>>,
    kind: std::marker::PhantomData<K>,
}

/// Any of the tables, for callers writing several at once.
pub trait CaptureTable {
    fn capture(&mut self, r: &CaptureReport) -> io::Result<()>;
    fn finish(self: Box<Self>) -> io::Result<()>;
}

impl<W: Write, K: Rows> CaptureTable for Table<W, K> {
    fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        Table::capture(self, r)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Table::finish(*self)
    }
}

pub type CapturesCsv<W> = Table<W, Captures>;
pub type TestsCsv<W> = Table<W, Tests>;
pub type FlowsCsv<W> = Table<W, Flows>;
pub type RstsCsv<W> = Table<W, Rsts>;

impl<W: Write, K: Rows> Table<W, K> {
    pub fn new(w: W) -> io::Result<Table<W, K>> {
        let mut w = csv::Writer::from_writer(w);
        w.write_record(K::columns()).map_err(io::Error::other)?;
        Ok(Table {
            w,
            rows: Vec::new(),
            kind: std::marker::PhantomData,
        })
    }

    /// The capture's rows.
    pub fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        self.rows.clear();
        K::rows(r, &mut self.rows, Cells::CSV);
        for row in &self.rows {
            self.w.write_record(row).map_err(io::Error::other)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Flushes and returns the underlying writer.
    /// Sends the rows written so far on.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    pub fn into_inner(self) -> io::Result<W> {
        self.w
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("+1"), "'+1");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            defuse("captures/bt_1.2.3.4_x.dump"),
            "captures/bt_1.2.3.4_x.dump"
        );
    }
}
