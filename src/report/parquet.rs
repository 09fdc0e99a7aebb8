//! The four tables of `--csv DIR` (captures, tests, flows, RSTs) as Parquet files, typed:
//! counts and ports are integers, speeds and durations floats, flags booleans, times
//! timestamps in UTC (microseconds), the test's date a date, space-separated CSV cells lists,
//! enumerations dictionary-encoded strings; an empty CSV cell is null. The columns, their
//! names and order are the CSV tables' ([`super::csv`]), so a query written for one reads
//! the other; text is not defused for spreadsheets and numbers keep their full precision
//! (a speed is not rounded to the bit per second as in CSV).
//!
//! Written with the Apache `parquet` crate's Arrow writer (Snappy-compressed), read by
//! DuckDB, pandas/pyarrow and Spark with no schema hints. Rows go out in record batches of
//! [`BATCH_ROWS`] and row groups of [`ROW_GROUP_ROWS`], so memory stays bounded however many
//! captures a run has. A file is written under a temporary name beside its final one and
//! renamed when it is complete: a run that stops leaves no part that looks finished.
//!
//! Layout of `--parquet DIR`: `DIR/captures/NAME.parquet`, `DIR/tests/NAME.parquet`,
//! `DIR/flows/NAME.parquet`, `DIR/rsts/NAME.parquet`, one file per table and run; see
//! [`part_name`] for NAME. Many runs into one DIR make one dataset per table.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder,
    ListBuilder, StringBuilder, StringDictionaryBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::csv::{Captures, Cells, Flows, Rows, Rsts, Tests};
use crate::model::CaptureReport;

/// Rows buffered before they go to the writer as one record batch.
pub const BATCH_ROWS: usize = 4096;
/// Rows per row group (the writer holds one row group, encoded, in memory).
pub const ROW_GROUP_ROWS: usize = 65_536;

/// The type of a column, by its name (the same name means the same thing in every table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Int32,
    Float,
    Bool,
    /// Seconds since the epoch, as a UTC timestamp in microseconds.
    Time,
    /// `YYYY-MM-DD`.
    Date,
    /// Free text.
    Text,
    /// One of a few values: dictionary-encoded.
    Enum,
    /// Space-separated integers.
    IntList,
    /// Space-separated words.
    WordList,
}

/// The type of column `name`.
pub fn column_type(name: &str) -> Ty {
    use Ty::*;
    if name.starts_with("msgs_") {
        return Int;
    }
    let base = name
        .strip_suffix("_up")
        .or_else(|| name.strip_suffix("_down"))
        .unwrap_or(name);
    match base {
        "capture" | "error" | "client" | "server" | "client_ip" | "client_host" | "log"
        | "notes" | "wireshark_filter" | "explanation" | "log_disagrees" | "info_hash"
        | "peer_id" | "peer_client" | "ext_client" => Text,
        "format" | "generation" | "weekday" | "schedule_from" | "kind" | "direction"
        | "port_class" | "outcome" | "roles" | "close" | "vantage" | "framing" | "from"
        | "flags" | "verdict" => Enum,
        "gzip" | "established" | "blocking_signal" | "reset_before_data" => Bool,
        "first_time" | "last_time" | "test_time" | "start" | "end" | "time" | "handshake_time"
        | "bitfield_time" => Time,
        "date" => Date,
        "duration_s" | "rtt_ms" | "goodput_bps" | "reset_after_bt_ms" | "data_seconds"
        | "log_bps" | "rel_time" => Float,
        "port" | "app_port" | "other_port" | "repetition" | "ttl" | "ip_id" | "window" => Int32,
        "rst_frames" => IntList,
        "blocking_basis" | "throttling_basis" | "guessed" | "evidence" | "reserved_flags" => {
            WordList
        }
        _ if crate::glasnost::verdict::SUMMARY_CELLS.contains(&base) => Enum,
        _ => Int,
    }
}

fn data_type(t: Ty) -> DataType {
    match t {
        Ty::Int => DataType::Int64,
        Ty::Int32 => DataType::Int32,
        Ty::Float => DataType::Float64,
        Ty::Bool => DataType::Boolean,
        Ty::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Ty::Date => DataType::Date32,
        Ty::Text => DataType::Utf8,
        Ty::Enum => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        Ty::IntList => DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
        Ty::WordList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
    }
}

/// The Arrow schema of a table with `columns`.
pub fn schema(columns: &[String]) -> Schema {
    Schema::new(
        columns
            .iter()
            .map(|c| Field::new(c, data_type(column_type(c)), true))
            .collect::<Vec<_>>(),
    )
}

enum Col {
    Int(Int64Builder),
    Int32(Int32Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Time(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    Text(StringBuilder),
    Enum(StringDictionaryBuilder<Int32Type>),
    IntList(ListBuilder<Int64Builder>),
    WordList(ListBuilder<StringBuilder>),
}

impl Col {
    fn new(t: Ty) -> Col {
        match t {
            Ty::Int => Col::Int(Int64Builder::new()),
            Ty::Int32 => Col::Int32(Int32Builder::new()),
            Ty::Float => Col::Float(Float64Builder::new()),
            Ty::Bool => Col::Bool(BooleanBuilder::new()),
            Ty::Time => Col::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
            Ty::Date => Col::Date(Date32Builder::new()),
            Ty::Text => Col::Text(StringBuilder::new()),
            Ty::Enum => Col::Enum(StringDictionaryBuilder::new()),
            Ty::IntList => Col::IntList(ListBuilder::new(Int64Builder::new())),
            Ty::WordList => Col::WordList(ListBuilder::new(StringBuilder::new())),
        }
    }

    /// Appends a cell as the CSV table writes it (raw [`Cells`]); an empty cell is null. A
    /// cell that does not read as its column's type is an error naming it.
    fn push(&mut self, cell: &str) -> Result<(), String> {
        let bad = |what: &str| format!("{cell:?} is not {what}");
        if cell.is_empty() {
            match self {
                Col::Int(b) => b.append_null(),
                Col::Int32(b) => b.append_null(),
                Col::Float(b) => b.append_null(),
                Col::Bool(b) => b.append_null(),
                Col::Time(b) => b.append_null(),
                Col::Date(b) => b.append_null(),
                Col::Text(b) => b.append_null(),
                Col::Enum(b) => b.append_null(),
                // An empty list is a list, not "unknown": CSV cannot tell them apart, and
                // these columns are always known.
                Col::IntList(b) => b.append(true),
                Col::WordList(b) => b.append(true),
            }
            return Ok(());
        }
        match self {
            Col::Int(b) => b.append_value(cell.parse().map_err(|_| bad("an integer"))?),
            Col::Int32(b) => b.append_value(cell.parse().map_err(|_| bad("an integer"))?),
            Col::Float(b) => b.append_value(cell.parse().map_err(|_| bad("a number"))?),
            Col::Bool(b) => b.append_value(match cell {
                "true" => true,
                "false" => false,
                _ => return Err(bad("true or false")),
            }),
            Col::Time(b) => {
                let s: f64 = cell.parse().map_err(|_| bad("a time"))?;
                let us = (s * 1e6).round();
                if !us.is_finite() || us.abs() > 9.0e18 {
                    return Err(bad("a time"));
                }
                b.append_value(us as i64);
            }
            Col::Date(b) => b.append_value(days(cell).ok_or_else(|| bad("a date"))?),
            Col::Text(b) => b.append_value(cell),
            Col::Enum(b) => {
                b.append_value(cell);
            }
            Col::IntList(b) => {
                for x in cell.split(' ') {
                    b.values()
                        .append_value(x.parse().map_err(|_| bad("integers"))?);
                }
                b.append(true);
            }
            Col::WordList(b) => {
                for x in cell.split(' ') {
                    b.values().append_value(x);
                }
                b.append(true);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Int(b) => Arc::new(b.finish()),
            Col::Int32(b) => Arc::new(b.finish()),
            Col::Float(b) => Arc::new(b.finish()),
            Col::Bool(b) => Arc::new(b.finish()),
            Col::Time(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Text(b) => Arc::new(b.finish()),
            Col::Enum(b) => Arc::new(b.finish()),
            Col::IntList(b) => Arc::new(b.finish()),
            Col::WordList(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Col::Int(b) => b.len(),
            Col::Int32(b) => b.len(),
            Col::Float(b) => b.len(),
            Col::Bool(b) => b.len(),
            Col::Time(b) => b.len(),
            Col::Date(b) => b.len(),
            Col::Text(b) => b.len(),
            Col::Enum(b) => b.len(),
            Col::IntList(b) => b.len(),
            Col::WordList(b) => b.len(),
        }
    }
}

/// Days since 1970-01-01 of `YYYY-MM-DD`.
fn days(s: &str) -> Option<i32> {
    let mut p = s.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, d) = (p.next()??, p.next()??, p.next()??);
    if p.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    i32::try_from(crate::glasnost::names::days_from_civil(y, m, d)).ok()
}

/// One table being written to a Parquet file.
pub struct Table<K: Rows> {
    schema: Arc<Schema>,
    cols: Vec<Col>,
    writer: ArrowWriter<File>,
    rows: Vec<Vec<String>>,
    pending: crate::output::Pending,
    path: PathBuf,
    kind: std::marker::PhantomData<K>,
}

fn other(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {e}", path.display()))
}

impl<K: Rows> Table<K> {
    /// Starts the file `path` (written under a hidden temporary name beside it until
    /// [`Table::finish`]); an existing file is refused unless `force`.
    pub fn create(path: &Path, force: bool) -> io::Result<Table<K>> {
        let (file, pending) = crate::output::create_file(path, force)?;
        let schema = Arc::new(schema(&K::columns()));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("bttrace {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer =
            ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| other(path, e))?;
        let cols = K::columns()
            .iter()
            .map(|c| Col::new(column_type(c)))
            .collect();
        Ok(Table {
            schema,
            cols,
            writer,
            rows: Vec::new(),
            pending,
            path: path.to_path_buf(),
            kind: std::marker::PhantomData,
        })
    }

    /// The capture's rows.
    pub fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        self.rows.clear();
        K::rows(r, &mut self.rows, Cells::RAW);
        for row in &self.rows {
            for (i, (col, cell)) in self.cols.iter_mut().zip(row).enumerate() {
                col.push(cell).map_err(|e| {
                    let name = self.schema.field(i).name();
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: column {name}: {e}", r.path),
                    )
                })?;
            }
        }
        if self.cols.first().map_or(0, Col::len) >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.cols.first().map_or(0, Col::len) == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Col::finish).collect();
        let batch =
            RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| other(&self.path, e))?;
        self.writer.write(&batch).map_err(|e| other(&self.path, e))
    }

    /// Writes what is left, closes the file and gives it its name.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush()?;
        self.writer.close().map_err(|e| other(&self.path, e))?;
        self.pending.commit()
    }
}

/// The four tables of a `--parquet DIR` run.
pub struct Dataset {
    captures: Table<Captures>,
    tests: Table<Tests>,
    flows: Table<Flows>,
    rsts: Table<Rsts>,
}

/// The tables' folders in a `--parquet DIR`.
pub const TABLES: [&str; 4] = ["captures", "tests", "flows", "rsts"];

/// The name of a run's files: for one input (a capture, an archive, a directory), its file
/// name with `.parquet` (`20091103T000000Z-mlab1-ams01-glasnost-0000.tgz.parquet`), so one
/// run per archive makes a dataset of one part per archive; for several, `batch-` and a hash
/// of their paths as given (FNV-1a, 64 bits), the same on every run with the same inputs.
pub fn part_name(inputs: &[PathBuf]) -> String {
    if let [one] = inputs {
        if let Some(name) = one.file_name().and_then(|n| n.to_str()) {
            if !name.starts_with('.') {
                return format!("{name}.parquet");
            }
        }
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in inputs {
        for b in p.as_os_str().as_encoded_bytes().iter().chain([&0u8]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("batch-{h:016x}.parquet")
}

impl Dataset {
    /// Refuses the run's files before anything is made: one that exists (unless `force`) or
    /// is an input, or a table's folder that is a file.
    pub fn refuse(dir: &Path, name: &str, force: bool, inputs: &[PathBuf]) -> io::Result<()> {
        for d in std::iter::once(dir.to_path_buf()).chain(TABLES.iter().map(|t| dir.join(t))) {
            if fs::metadata(&d).is_ok_and(|m| !m.is_dir()) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a directory", d.display()),
                ));
            }
        }
        TABLES
            .iter()
            .try_for_each(|t| crate::output::refuse(&dir.join(t).join(name), force, inputs))
    }

    /// Makes `dir/<table>/` and starts `name` in each.
    pub fn create(dir: &Path, name: &str, force: bool) -> io::Result<Dataset> {
        for t in TABLES {
            let d = dir.join(t);
            fs::create_dir_all(&d).map_err(|e| other(&d, e))?;
        }
        Ok(Dataset {
            captures: Table::create(&dir.join("captures").join(name), force)?,
            tests: Table::create(&dir.join("tests").join(name), force)?,
            flows: Table::create(&dir.join("flows").join(name), force)?,
            rsts: Table::create(&dir.join("rsts").join(name), force)?,
        })
    }

    pub fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        self.captures.capture(r)?;
        self.tests.capture(r)?;
        self.flows.capture(r)?;
        self.rsts.capture(r)
    }

    /// Completes the four files; the captures table last, so that a part in `captures/`
    /// means its other tables are complete too (`bttrace report` reads from it).
    pub fn finish(self) -> io::Result<()> {
        self.tests.finish()?;
        self.flows.finish()?;
        self.rsts.finish()?;
        self.captures.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::csv::{CAPTURE_COLUMNS, RST_COLUMNS, TEST_COLUMNS, flow_columns};

    #[test]
    fn every_column_has_the_type_its_name_says() {
        let ty = column_type;
        assert_eq!(ty("frames"), Ty::Int);
        assert_eq!(ty("first_time"), Ty::Time);
        assert_eq!(ty("handshake_time_up"), Ty::Time);
        assert_eq!(ty("peer_id_down"), Ty::Text);
        assert_eq!(ty("msgs_piece_up"), Ty::Int);
        assert_eq!(ty("block_bt_app_port"), Ty::Enum);
        assert_eq!(ty("rst_frames"), Ty::IntList);
        assert_eq!(ty("reserved_flags_up"), Ty::WordList);
        assert_eq!(ty("date"), Ty::Date);
        // No text column falls to the integer default by mistake: the CSV columns that are
        // not integers are all named above.
        let all: Vec<String> = CAPTURE_COLUMNS
            .iter()
            .chain(&TEST_COLUMNS)
            .chain(&RST_COLUMNS)
            .map(|c| c.to_string())
            .chain(flow_columns())
            .collect();
        let ints: Vec<&String> = all.iter().filter(|c| ty(c) == Ty::Int).collect();
        for c in ints {
            assert!(
                c.starts_with("msgs_")
                    || c.contains("frame")
                    || c.contains("bytes")
                    || c.contains("packets")
                    || c.contains("payload")
                    || c.contains("rsts")
                    || c.contains("retrans")
                    || c.contains("truncated")
                    || c.contains("missing")
                    || c.contains("unassembled")
                    || c.contains("flows")
                    || c.contains("retired")
                    || c.contains("lost_at")
                    || [
                        "tcp_segments",
                        "tests",
                        "tests_reset",
                        "tests_no_connection",
                        "id",
                        "instance",
                        "overlap_mismatches",
                        "test",
                        "flow",
                        "seq",
                        "ack"
                    ]
                    .contains(&c.as_str()),
                "{c} typed as an integer"
            );
        }
        assert_eq!(days("1970-01-02"), Some(1));
        assert_eq!(days("2009-11-02"), Some(14_550));
        assert_eq!(days("2009-13-02"), None);
    }

    #[test]
    fn part_names_are_stable() {
        let a = part_name(&[PathBuf::from("x/20091103T000000Z-mlab1-ams01.tgz")]);
        assert_eq!(a, "20091103T000000Z-mlab1-ams01.tgz.parquet");
        let two = [PathBuf::from("a"), PathBuf::from("b")];
        assert_eq!(part_name(&two), part_name(&two.clone()));
        assert_ne!(
            part_name(&two),
            part_name(&[PathBuf::from("b"), PathBuf::from("a")])
        );
        assert!(part_name(&two).starts_with("batch-"));
    }
}
