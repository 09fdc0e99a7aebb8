//! The five tables of `--csv DIR` (captures, tests, flows, RSTs, messages) as Parquet
//! files, typed as their schemas ([`super::schema`]) say: counts and ports are integers,
//! speeds and durations floats, flags booleans, times timestamps in UTC (microseconds), the
//! test's date a date, space-separated CSV cells lists, enumerations dictionary-encoded
//! strings; an empty CSV cell is null. The columns, their names and order are the CSV
//! tables', so a query written for one reads the other; text is not defused for spreadsheets and numbers keep their full precision
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

use super::schema::{
    CaptureRows, Captures, Flows, Messages, Rsts, Table as SchemaTable, Tests, Ty, Value,
};
use crate::model::CaptureReport;

/// Rows buffered before they go to the writer as one record batch.
pub const BATCH_ROWS: usize = 4096;
/// Rows per row group (the writer holds one row group, encoded, in memory).
pub const ROW_GROUP_ROWS: usize = 65_536;

fn data_type(t: Ty) -> DataType {
    match t {
        Ty::Int => DataType::Int64,
        Ty::Int32 => DataType::Int32,
        Ty::Float => DataType::Float64,
        Ty::Bool => DataType::Boolean,
        Ty::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Ty::Date => DataType::Date32,
        Ty::Text | Ty::Id => DataType::Utf8,
        Ty::Enum => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        Ty::IntList => DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
        Ty::WordList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
    }
}

/// The Arrow schema of table `K`: its columns' names and types, every one nullable.
pub fn schema<K: SchemaTable>() -> Schema {
    Schema::new(
        K::schema()
            .iter()
            .map(|c| Field::new(&c.name, data_type(c.ty), true))
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
            Ty::Text | Ty::Id => Col::Text(StringBuilder::new()),
            Ty::Enum => Col::Enum(StringDictionaryBuilder::new()),
            Ty::IntList => Col::IntList(ListBuilder::new(Int64Builder::new())),
            Ty::WordList => Col::WordList(ListBuilder::new(StringBuilder::new())),
        }
    }

    /// Appends a value; one not of the column's type is an error (a schema's getter that
    /// does not give what its type says).
    fn push(&mut self, v: &Value) -> Result<(), String> {
        let bad = || format!("{v:?} is not of the column's type");
        match (self, v) {
            (Col::Int(b), Value::Null) => b.append_null(),
            (Col::Int32(b), Value::Null) => b.append_null(),
            (Col::Float(b), Value::Null) => b.append_null(),
            (Col::Bool(b), Value::Null) => b.append_null(),
            (Col::Time(b), Value::Null) => b.append_null(),
            (Col::Date(b), Value::Null) => b.append_null(),
            (Col::Text(b), Value::Null) => b.append_null(),
            (Col::Enum(b), Value::Null) => b.append_null(),
            (Col::IntList(b), Value::Null) => b.append(false),
            (Col::WordList(b), Value::Null) => b.append(false),
            (Col::Int(b), Value::Int(x)) => b.append_value(*x),
            (Col::Int32(b), Value::Int(x)) => b.append_value(i32::try_from(*x).map_err(|_| bad())?),
            (Col::Float(b), Value::Float(x)) => b.append_value(*x),
            (Col::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Col::Time(b), Value::Time(s)) => {
                let us = (s * 1e6).round();
                if !us.is_finite() || us.abs() > 9.0e18 {
                    return Err(bad());
                }
                b.append_value(us as i64);
            }
            (Col::Date(b), Value::Date(d)) => b.append_value(i32::try_from(*d).map_err(|_| bad())?),
            (Col::Text(b), Value::Str(x)) => b.append_value(x),
            (Col::Enum(b), Value::Str(x)) => {
                b.append_value(x);
            }
            (Col::IntList(b), Value::Ints(x)) => {
                for &i in x {
                    b.values().append_value(i);
                }
                b.append(true);
            }
            (Col::WordList(b), Value::Words(x)) => {
                for w in x {
                    b.values().append_value(w);
                }
                b.append(true);
            }
            _ => return Err(bad()),
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

/// One table being written to a Parquet file.
pub struct Table<K: CaptureRows> {
    schema: Arc<Schema>,
    cols: Vec<Col>,
    writer: ArrowWriter<File>,
    pending: crate::output::Pending,
    path: PathBuf,
    kind: std::marker::PhantomData<K>,
}

fn other(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {e}", path.display()))
}

impl<K: CaptureRows> Table<K> {
    /// Starts the file `path` (written under a hidden temporary name beside it until
    /// [`Table::finish`]); an existing file is refused unless `force`.
    pub fn create(path: &Path, force: bool) -> io::Result<Table<K>> {
        let (file, pending) = crate::output::create_file(path, force)?;
        let schema = Arc::new(schema::<K>());
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("bttrace {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer =
            ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| other(path, e))?;
        let cols = K::schema().iter().map(|c| Col::new(c.ty)).collect();
        Ok(Table {
            schema,
            cols,
            writer,
            pending,
            path: path.to_path_buf(),
            kind: std::marker::PhantomData,
        })
    }

    /// The capture's rows.
    pub fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        let columns = K::schema();
        for row in K::rows(r) {
            for (i, (col, c)) in self.cols.iter_mut().zip(columns).enumerate() {
                col.push(&(c.get)(&row)).map_err(|e| {
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

/// The five tables of a `--parquet DIR` run.
pub struct Dataset {
    captures: Table<Captures>,
    tests: Table<Tests>,
    flows: Table<Flows>,
    rsts: Table<Rsts>,
    messages: Table<Messages>,
}

/// The tables' folders in a `--parquet DIR`.
pub const TABLES: [&str; 5] = ["captures", "tests", "flows", "rsts", "messages"];

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
            messages: Table::create(&dir.join("messages").join(name), force)?,
        })
    }

    pub fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        self.captures.capture(r)?;
        self.tests.capture(r)?;
        self.flows.capture(r)?;
        self.rsts.capture(r)?;
        self.messages.capture(r)
    }

    /// Completes the four files; the captures table last, so that a part in `captures/`
    /// means its other tables are complete too (`bttrace report` reads from it).
    pub fn finish(self) -> io::Result<()> {
        self.tests.finish()?;
        self.flows.finish()?;
        self.rsts.finish()?;
        self.messages.finish()?;
        self.captures.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
