//! Flat tables for spreadsheets and DuckDB, each with a `capture` column: one row per capture,
//! per Glasnost transfer, per flow, per RST and per message, written from the tables' schemas
//! ([`super::schema`]).
//!
//! Column order is the schema's, and the README lists it. Free-text cells ([`Ty::Text`]) that
//! a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
//! return) are defused with a leading `'`; identifiers, codes and numbers are written as they
//! are. Several values are separated by spaces. Empty cells mean "not known".

use std::io::{self, Write};

use super::schema::{CaptureRows, Column, Table as Schema, Ty, Value};
pub use super::schema::{Captures, Flows, Messages, Rsts, Tests, names};
use crate::model::CaptureReport;

/// Makes a text cell safe to open in a spreadsheet (and to print: control characters, as a
/// newline or ESC in a file name, are escaped).
pub fn defuse(cell: &str) -> String {
    let cell = super::escape_controls(cell);
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.into_owned(),
    }
}

/// A value as its CSV cell: free text defused, numbers at the column's precision, lists
/// space-separated, empty for null.
pub fn cell<K: Schema>(c: &Column<K>, v: &Value) -> String {
    let num = |x: f64| match c.decimals {
        Some(d) => format!("{x:.d$}"),
        None => format!("{x}"),
    };
    match v {
        Value::Null => String::new(),
        Value::Int(x) => x.to_string(),
        Value::Float(x) | Value::Time(x) => num(*x),
        Value::Bool(b) => b.to_string(),
        Value::Date(d) => crate::glasnost::names::date(d * 86_400),
        Value::Str(x) if c.ty == Ty::Text => defuse(x),
        Value::Str(x) => super::escape_controls(x).into_owned(),
        Value::Ints(x) => x.iter().map(i64::to_string).collect::<Vec<_>>().join(" "),
        Value::Words(x) => x.join(" "),
    }
}

/// The CSV records of a capture's rows in table `K`.
pub fn records<K: CaptureRows>(r: &CaptureReport) -> Vec<Vec<String>> {
    let cols = K::schema();
    K::rows(r)
        .iter()
        .map(|row| cols.iter().map(|c| cell(c, &(c.get)(row))).collect())
        .collect()
}

/// Writes one table, header first, for any number of captures.
pub struct Table<W: Write, K: CaptureRows> {
    w: csv::Writer<W>,
    kind: std::marker::PhantomData<K>,
}

/// Any of the tables, for callers writing several at once.
pub trait CaptureTable {
    fn capture(&mut self, r: &CaptureReport) -> io::Result<()>;
    fn finish(self: Box<Self>) -> io::Result<()>;
}

impl<W: Write, K: CaptureRows> CaptureTable for Table<W, K> {
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
pub type MessagesCsv<W> = Table<W, Messages>;

impl<W: Write, K: CaptureRows> Table<W, K> {
    pub fn new(w: W) -> io::Result<Table<W, K>> {
        let mut w = csv::Writer::from_writer(w);
        w.write_record(names::<K>()).map_err(io::Error::other)?;
        Ok(Table {
            w,
            kind: std::marker::PhantomData,
        })
    }

    /// The capture's rows.
    pub fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        for row in records::<K>(r) {
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
