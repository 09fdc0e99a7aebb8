//! `bttrace report` from tables written before instead of captures: a `--csv DIR` of
//! `analyze` (its `captures.csv` and `tests.csv`) or a `--parquet DIR` (every
//! `captures/NAME.parquet` with its `tests/NAME.parquet`, in name order), so the partial
//! results of many runs, or many machines, merge into one report.
//!
//! What the report takes of a capture ([`CaptureRow`]) is read from the captures table
//! (`error`, `client_ip`, `client_host`, `test_time`, the six summary cells) and the tests
//! table (`kind`, `direction`, `port`, `port_class`, `repetition`, `outcome`,
//! `goodput_bps`). The two tables are read side by side, streamed: a capture's tests follow
//! in the tests table in the captures table's order, as `analyze` writes them, so memory does
//! not grow with the tables. From Parquet the report is the one from the captures; from CSV
//! speeds come rounded to the bit per second as CSV holds them, which can move a mean in its
//! last printed decimal only when it lies on a rounding edge.

use std::io;
use std::path::{Path, PathBuf};

use crate::glasnost::verdict::{Cell, Dir, Outcome, PortClass, Proto, SUMMARY_CELLS};
use crate::weekly::{CaptureRow, TestRow};

/// Whether `p` is a directory of tables this module reads (CSV or Parquet).
pub fn is_tables_dir(p: &Path) -> bool {
    p.is_dir() && (p.join("captures.csv").is_file() || !parquet_parts(p).is_empty())
}

/// The Parquet parts of a `--parquet DIR`: `captures/NAME.parquet`, sorted by name.
fn parquet_parts(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir.join("captures")) else {
        return Vec::new();
    };
    let mut parts: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".parquet") && !name.starts_with('.')
        })
        .collect();
    parts.sort();
    parts
}

/// Rows of one table as text cells, with the table's column names.
struct Rows {
    header: Vec<String>,
    rows: Box<dyn Iterator<Item = io::Result<Vec<String>>>>,
}

impl Rows {
    fn csv(path: &Path) -> io::Result<Rows> {
        let mut r = csv::Reader::from_path(path)
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        let header = r
            .headers()
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?
            .iter()
            .map(String::from)
            .collect();
        let shown = path.display().to_string();
        let rows = r.into_records().map(move |rec| {
            rec.map(|x| x.iter().map(undefuse).collect())
                .map_err(|e| io::Error::other(format!("{shown}: {e}")))
        });
        Ok(Rows {
            header,
            rows: Box::new(rows),
        })
    }

    fn column(&self, name: &str, table: &str) -> io::Result<usize> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the {table} table has no column {name}"),
            )
        })
    }
}

/// A CSV text cell as it was before [`super::csv::defuse`] guarded it.
fn undefuse(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_string(),
        _ => cell.to_string(),
    }
}

/// Reads every table directory in `dirs`, handing each capture to `each`.
pub fn read(dirs: &[PathBuf], mut each: impl FnMut(CaptureRow)) -> io::Result<()> {
    for dir in dirs {
        if dir.join("captures.csv").is_file() {
            let caps = Rows::csv(&dir.join("captures.csv"))?;
            let tests = Rows::csv(&dir.join("tests.csv"))?;
            join(caps, tests, &dir.display().to_string(), &mut each)?;
            continue;
        }
        for part in parquet_parts(dir) {
            let name = part.file_name().unwrap_or_default();
            let tests = dir.join("tests").join(name);
            let (caps, tests) = parquet_rows(&part, &tests)?;
            join(caps, tests, &part.display().to_string(), &mut each)?;
        }
    }
    Ok(())
}

#[cfg(feature = "parquet")]
fn parquet_rows(caps: &Path, tests: &Path) -> io::Result<(Rows, Rows)> {
    Ok((parquet::rows(caps)?, parquet::rows(tests)?))
}

#[cfg(not(feature = "parquet"))]
fn parquet_rows(caps: &Path, _: &Path) -> io::Result<(Rows, Rows)> {
    Err(io::Error::other(format!(
        "{}: this bttrace was built without Parquet (build it with the default features)",
        caps.display()
    )))
}

/// The captures and tests tables of one run, side by side.
fn join(caps: Rows, tests: Rows, name: &str, each: &mut impl FnMut(CaptureRow)) -> io::Result<()> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {what}"));
    let c = |n: &str| caps.column(n, "captures").map_err(|e| bad(e.to_string()));
    let (capture, error, ip, host, time) = (
        c("capture")?,
        c("error")?,
        c("client_ip")?,
        c("client_host")?,
        c("test_time")?,
    );
    let mut cells = [0; 6];
    for (slot, n) in cells.iter_mut().zip(SUMMARY_CELLS) {
        *slot = c(n)?;
    }
    let t = |n: &str| tests.column(n, "tests").map_err(|e| bad(e.to_string()));
    let tcols = [
        t("capture")?,
        t("kind")?,
        t("direction")?,
        t("port")?,
        t("port_class")?,
        t("repetition")?,
        t("outcome")?,
        t("goodput_bps")?,
    ];
    let mut test_rows = tests.rows.peekable();
    for row in caps.rows {
        let row = row?;
        let get = |i: usize| row.get(i).map(String::as_str).unwrap_or("");
        let opt = |i: usize| Some(get(i).to_string()).filter(|s| !s.is_empty());
        let codes: Vec<&str> = cells.iter().map(|&i| get(i)).collect();
        let cell_values = if codes.iter().all(|c| c.is_empty()) {
            None
        } else {
            let v: Option<Vec<Cell>> = codes.iter().map(|c| cell_of(c)).collect();
            Some(
                v.and_then(|v| <[Cell; 6]>::try_from(v).ok())
                    .ok_or_else(|| bad(format!("{}: a summary cell is unknown", get(capture))))?,
            )
        };
        let mut r = CaptureRow {
            failed: !get(error).is_empty(),
            client_ip: opt(ip),
            client_host: opt(host),
            time: match get(time) {
                "" => None,
                t => Some(
                    t.parse()
                        .map_err(|_| bad(format!("test_time {t:?} is not whole seconds")))?,
                ),
            },
            cells: cell_values,
            tests: Vec::new(),
        };
        // This capture's tests are the next rows of the tests table that name it.
        loop {
            match test_rows.peek() {
                Some(Ok(next)) if next.get(tcols[0]).map(String::as_str) == Some(get(capture)) => {}
                Some(Err(_)) => {
                    if let Some(Err(e)) = test_rows.next() {
                        return Err(e);
                    }
                }
                _ => break,
            }
            let Some(Ok(next)) = test_rows.next() else {
                break;
            };
            let cells: Vec<&str> = tcols
                .iter()
                .map(|&i| next.get(i).map(String::as_str).unwrap_or(""))
                .collect();
            r.tests.push(test_row(&cells).map_err(bad)?);
        }
        each(r);
    }
    if let Some(left) = test_rows.next() {
        let left = left?;
        return Err(bad(format!(
            "the tests table names {:?}, which does not come in the captures table's order",
            left.get(tcols[0]).cloned().unwrap_or_default()
        )));
    }
    Ok(())
}

fn cell_of(code: &str) -> Option<Cell> {
    Some(match code {
        "yes" => Cell::Yes,
        "no" => Cell::No,
        "n/a" => Cell::NotApplicable,
        "inconclusive" => Cell::Inconclusive,
        _ => return None,
    })
}

/// A tests-table row from its cells `capture, kind, direction, port, port_class, repetition,
/// outcome, goodput_bps`.
fn test_row(c: &[&str]) -> Result<TestRow, String> {
    let [
        _,
        kind,
        direction,
        port,
        class,
        repetition,
        outcome,
        goodput,
    ] = c
    else {
        return Err("a tests row is short".into());
    };
    let unknown = |col: &str, v: &str| format!("tests table: {col} {v:?} is unknown");
    Ok(TestRow {
        kind: match *kind {
            "bittorrent" => Proto::Bt,
            "control" => Proto::Tcp,
            v => return Err(unknown("kind", v)),
        },
        direction: match *direction {
            "upload" => Some(Dir::Upload),
            "download" => Some(Dir::Download),
            "" => None,
            v => return Err(unknown("direction", v)),
        },
        port: port.parse().map_err(|_| unknown("port", port))?,
        port_class: match *class {
            "app" => PortClass::App,
            "other" => PortClass::Other,
            v => return Err(unknown("port_class", v)),
        },
        repetition: repetition
            .parse()
            .map_err(|_| unknown("repetition", repetition))?,
        outcome: match *outcome {
            "completed" => Outcome::Completed,
            "reset" => Outcome::Reset,
            "no_connection" => Outcome::NoConnection,
            "no_data" => Outcome::NoData,
            v => return Err(unknown("outcome", v)),
        },
        goodput_bps: match *goodput {
            "" => None,
            g => Some(g.parse().map_err(|_| unknown("goodput_bps", g))?),
        },
    })
}

#[cfg(feature = "parquet")]
mod parquet {
    use std::io;
    use std::path::Path;

    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
    };
    use arrow_array::{Array, RecordBatch, RecordBatchReader};
    use arrow_schema::DataType;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::Rows;

    /// A Parquet table's rows as text cells: what the CSV table would hold, but numbers at
    /// full precision and times in seconds.
    pub(super) fn rows(path: &Path) -> io::Result<Rows> {
        let shown = path.display().to_string();
        let err = move |e: &dyn std::fmt::Display| io::Error::other(format!("{shown}: {e}"));
        let file = std::fs::File::open(path).map_err(|e| err(&e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| err(&e))?;
        let header = reader
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let rows = reader.flat_map(
            move |batch| -> Box<dyn Iterator<Item = io::Result<Vec<String>>>> {
                match batch {
                    Ok(b) => Box::new((0..b.num_rows()).map(move |i| row(&b, i))),
                    Err(e) => Box::new(std::iter::once(Err(io::Error::other(e.to_string())))),
                }
            },
        );
        Ok(Rows {
            header,
            rows: Box::new(rows),
        })
    }

    fn row(b: &RecordBatch, i: usize) -> io::Result<Vec<String>> {
        b.columns().iter().map(|c| cell(c.as_ref(), i)).collect()
    }

    fn cell(a: &dyn Array, i: usize) -> io::Result<String> {
        if a.is_null(i) {
            return Ok(String::new());
        }
        Ok(match a.data_type() {
            DataType::Int64 => a.as_primitive::<Int64Type>().value(i).to_string(),
            DataType::Int32 => a.as_primitive::<Int32Type>().value(i).to_string(),
            DataType::Float64 => a.as_primitive::<Float64Type>().value(i).to_string(),
            DataType::Boolean => a.as_boolean().value(i).to_string(),
            DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, _) => {
                let us = a.as_primitive::<TimestampMicrosecondType>().value(i);
                if us % 1_000_000 == 0 {
                    (us / 1_000_000).to_string()
                } else {
                    (us as f64 / 1e6).to_string()
                }
            }
            DataType::Date32 => {
                let d = a.as_primitive::<Date32Type>().value(i);
                crate::glasnost::names::date(i64::from(d) * 86_400)
            }
            DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let d = a.as_dictionary::<Int32Type>();
                let k = d.keys().value(i) as usize;
                d.values().as_string::<i32>().value(k).to_string()
            }
            DataType::List(_) => {
                let v = a.as_list::<i32>().value(i);
                let parts: io::Result<Vec<String>> = (0..v.len()).map(|j| cell(&v, j)).collect();
                parts?.join(" ")
            }
            t => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a column of type {t} is not one bttrace writes"),
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defused_cells_read_back_as_they_were() {
        assert_eq!(undefuse("'=1+1"), "=1+1");
        assert_eq!(undefuse("'-GN0100-x"), "-GN0100-x");
        assert_eq!(undefuse("'quoted"), "'quoted");
        assert_eq!(undefuse("plain"), "plain");
    }

    #[test]
    fn a_tests_row_reads_or_names_what_is_wrong() {
        let r = test_row(&[
            "c",
            "bittorrent",
            "upload",
            "6881",
            "app",
            "2",
            "completed",
            "1500.5",
        ])
        .unwrap();
        assert_eq!(r.kind, Proto::Bt);
        assert_eq!(r.goodput_bps, Some(1500.5));
        let e = test_row(&[
            "c",
            "bittorrent",
            "sideways",
            "6881",
            "app",
            "2",
            "reset",
            "",
        ])
        .unwrap_err();
        assert!(e.contains("direction"), "{e}");
    }
}
