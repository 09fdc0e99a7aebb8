//! Flat tables for spreadsheets and DuckDB: one row per flow, with a `capture` column.
//!
//! Column order is fixed and documented in the README. Text cells that a spreadsheet would
//! run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) are defused
//! with a leading `'`; numbers are written as numbers. Empty cells mean "not known".

use std::io::{self, Write};

use crate::model::{CaptureReport, FlowReport};

/// Columns of the flows table, in order.
pub const FLOW_COLUMNS: [&str; 34] = [
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
    "overlap_mismatches",
    "goodput_bps",
    "close",
    "rsts",
    "rst_frames",
    "error",
];

/// Makes a text cell safe to open in a spreadsheet.
pub fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn flow_record(capture: &str, f: &FlowReport) -> Vec<String> {
    let frames: Vec<String> = f.rsts.iter().map(|r| r.frame.to_string()).collect();
    vec![
        defuse(capture),
        f.id.to_string(),
        defuse(&f.client),
        defuse(&f.server),
        opt(f.kind),
        opt(f.direction),
        f.port.to_string(),
        f.established.to_string(),
        f.roles.to_string(),
        f.instance.to_string(),
        f.first_frame.to_string(),
        f.last_frame.to_string(),
        format!("{:.6}", f.start),
        format!("{:.6}", f.end),
        format!("{:.6}", f.duration_s),
        opt(f.rtt_ms.map(|r| format!("{r:.3}"))),
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
        f.overlap_mismatches.to_string(),
        opt(f.goodput_bps.map(|g| format!("{g:.0}"))),
        f.close.to_string(),
        f.rsts.len().to_string(),
        frames.join(" "),
        String::new(),
    ]
}

/// Writes the flows table, header first, for any number of captures.
pub struct FlowsCsv<W: Write> {
    w: csv::Writer<W>,
}

impl<W: Write> FlowsCsv<W> {
    pub fn new(w: W) -> io::Result<FlowsCsv<W>> {
        let mut w = csv::Writer::from_writer(w);
        w.write_record(FLOW_COLUMNS).map_err(io::Error::other)?;
        Ok(FlowsCsv { w })
    }

    /// One row per flow; a capture that failed gets one row carrying its error, so no input
    /// disappears from the table.
    pub fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        if r.flows.is_empty() && r.error.is_some() {
            let mut row = vec![String::new(); FLOW_COLUMNS.len()];
            if let Some(first) = row.first_mut() {
                *first = defuse(&r.path);
            }
            if let Some(last) = row.last_mut() {
                *last = defuse(r.error.as_deref().unwrap_or(""));
            }
            return self.w.write_record(&row).map_err(io::Error::other);
        }
        for f in &r.flows {
            self.w
                .write_record(flow_record(&r.path, f))
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.w.flush()
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
