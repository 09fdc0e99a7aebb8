//! `--parquet DIR`: the five tables, typed, equal to the CSV tables cell for cell; read back
//! with the Parquet crate here, and with pyarrow and DuckDB by tests/parquet_check.py.
#![cfg(feature = "parquet")]

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn bttrace(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bttrace"))
        .args(args)
        .output()
        .expect("run bttrace")
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// A Parquet cell as the CSV table would hold it, and how many decimals the CSV keeps of a
/// number (`None`: compare exactly).
fn cell(a: &dyn Array, i: usize) -> (String, Option<f64>) {
    if a.is_null(i) {
        return (String::new(), None);
    }
    match a.data_type() {
        DataType::Int64 => (a.as_primitive::<Int64Type>().value(i).to_string(), None),
        DataType::Int32 => (a.as_primitive::<Int32Type>().value(i).to_string(), None),
        DataType::Float64 => {
            let x = a.as_primitive::<Float64Type>().value(i);
            (x.to_string(), Some(x))
        }
        DataType::Boolean => (a.as_boolean().value(i).to_string(), None),
        DataType::Timestamp(_, tz) => {
            assert_eq!(tz.as_deref(), Some("UTC"));
            let us = a.as_primitive::<TimestampMicrosecondType>().value(i);
            (format!("{:.6}", us as f64 / 1e6), Some(us as f64 / 1e6))
        }
        DataType::Date32 => {
            let d = a.as_primitive::<arrow_array::types::Date32Type>().value(i);
            (bttrace::glasnost::names::date(i64::from(d) * 86_400), None)
        }
        DataType::Utf8 => (a.as_string::<i32>().value(i).to_string(), None),
        DataType::Dictionary(_, _) => {
            let d = a.as_dictionary::<Int32Type>();
            let values = d.values().as_string::<i32>();
            let k = d.keys().value(i) as usize;
            (values.value(k).to_string(), None)
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let v = l.value(i);
            let parts: Vec<String> = (0..v.len()).map(|j| cell(&v, j).0).collect();
            (parts.join(" "), None)
        }
        t => panic!("unexpected type {t:?}"),
    }
}

/// Checks one table: the same columns, rows and values as the CSV one.
fn same_table(csv_path: &Path, parquet_path: &Path) -> usize {
    let (header, rows) = read_csv(csv_path);
    let batches = read_parquet(parquet_path);
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| panic!("{} has no batch", parquet_path.display()));
    let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
    assert_eq!(names, header.iter().collect::<Vec<_>>());
    let mut n = 0;
    for b in &batches {
        for i in 0..b.num_rows() {
            let row = &rows[n];
            for (c, col) in b.columns().iter().enumerate() {
                let (got, number) = cell(col.as_ref(), i);
                let want = &row[c];
                match number {
                    // CSV rounds numbers (goodput to the bit per second, times to the
                    // microsecond); Parquet keeps them whole.
                    Some(x) if !want.is_empty() => {
                        let w: f64 = want.parse().unwrap();
                        let decimals = want.split('.').nth(1).map_or(0, str::len) as i32;
                        let tol = 0.5 * 10f64.powi(-decimals) + 1e-9 * w.abs();
                        assert!(
                            (x - w).abs() <= tol,
                            "{}: row {n} column {}: {x} against {want}",
                            csv_path.display(),
                            header[c]
                        );
                    }
                    // CSV defuses text a spreadsheet would run as a formula; Parquet does not.
                    _ => assert_eq!(
                        got.as_str(),
                        match want.strip_prefix('\'') {
                            Some(w) if !got.starts_with('\'') => w,
                            _ => want.as_str(),
                        },
                        "{}: row {n} column {}",
                        csv_path.display(),
                        header[c]
                    ),
                }
            }
            n += 1;
        }
    }
    assert_eq!(n, rows.len(), "{}", csv_path.display());
    n
}

fn write_both_with(dir: &Path, inputs: &[&str], options: &[&str]) -> (PathBuf, PathBuf) {
    let csv_dir = dir.join("csv");
    let pq = dir.join("pq");
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(options);
    let csv_arg = format!("{}/", csv_dir.display());
    let pq_arg = pq.display().to_string();
    args.extend(["--csv", &csv_arg, "--parquet", &pq_arg]);
    args.extend(inputs);
    let out = bttrace(&args);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (csv_dir, pq)
}

#[test]
fn the_parquet_tables_hold_what_the_csv_tables_hold_typed() {
    let dir = tempfile::tempdir().unwrap();
    let (csv_dir, pq) = write_both_with(dir.path(), &["fixtures/glasnost"], &["--messages"]);
    let name = "glasnost.parquet";
    let mut rows = Vec::new();
    for t in ["captures", "tests", "flows", "rsts", "messages"] {
        let p = pq.join(t).join(name);
        rows.push(same_table(&csv_dir.join(format!("{t}.csv")), &p));
    }
    // Every table has rows: the fixtures have tests, flows and forged RSTs.
    assert!(rows.iter().all(|&n| n > 0), "{rows:?}");
    // Types a reader needs with no schema hint.
    let b = &read_parquet(&pq.join("captures").join(name))[0];
    let ty = |c: &str| b.schema().field_with_name(c).unwrap().data_type().clone();
    assert!(matches!(ty("first_time"), DataType::Timestamp(_, Some(_))));
    assert_eq!(ty("frames"), DataType::Int64);
    assert_eq!(ty("gzip"), DataType::Boolean);
    assert_eq!(ty("test_date"), DataType::Date32);
    assert!(matches!(
        ty("block_bt_app_port"),
        DataType::Dictionary(_, _)
    ));
    assert!(matches!(ty("blocking_basis"), DataType::List(_)));
    // No temporary file is left behind.
    for t in ["captures", "tests", "flows", "rsts", "messages"] {
        let names: Vec<String> = std::fs::read_dir(pq.join(t))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [name]);
    }
    // A second run into the same directory is refused, then allowed with --force.
    let pq_arg = pq.display().to_string();
    let again = bttrace(&["analyze", "--parquet", &pq_arg, "fixtures/glasnost"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

/// tests/parquet_check.py reads the tables with pyarrow and DuckDB. It needs a Python with
/// both (`BTTRACE_PYTHON`, else `python3`); without them the test says so and passes, unless
/// `BTTRACE_REQUIRE_PYARROW` is set (.ci/run installs them into a venv and sets it).
#[test]
fn pyarrow_and_duckdb_read_the_tables_with_no_schema_hints() {
    let python = std::env::var("BTTRACE_PYTHON").unwrap_or_else(|_| "python3".into());
    let have = Command::new(&python)
        .args(["-c", "import pyarrow, duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("BTTRACE_REQUIRE_PYARROW").is_none(),
            "{python} has no pyarrow or duckdb, and BTTRACE_REQUIRE_PYARROW is set"
        );
        eprintln!("skipped: {python} has no pyarrow or duckdb (pip install pyarrow duckdb)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (csv_dir, pq) = write_both_with(dir.path(), &["fixtures/glasnost"], &["--messages"]);
    let out = Command::new(&python)
        .arg("tests/parquet_check.py")
        .arg(&csv_dir)
        .arg(&pq)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("pyarrow and duckdb agree"));

    // The same schema, names and types, whatever a run's captures held: no BitTorrent, RSTs,
    // no RST, a Glasnost test, many flows, a file that is not a capture.
    let runs: [&[&str]; 6] = [
        &["fixtures/zeek/reassembly.pcap"],
        &["fixtures/netns/reset_by_server.pcap"],
        &["fixtures/netns/bt_download_full.pcap"],
        &["fixtures/glasnost/port6881-rst"],
        &["fixtures/ndpi/bittorrent_transmission.pcapng"],
        &["Cargo.toml"],
    ];
    let mut dirs = Vec::new();
    for (i, inputs) in runs.into_iter().enumerate() {
        let d = dir.path().join(format!("run-{i}"));
        write_both_with(&d, inputs, &["--messages"]);
        dirs.push(d.join("pq"));
    }
    let out = Command::new(&python)
        .arg("tests/parquet_check.py")
        .arg("--same-schema")
        .args(&dirs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("the same schema in 6 runs"));
}

/// The Arrow type a schema type must read back as, spelled out here apart from the writer.
fn arrow_type(t: bttrace::report::schema::Ty) -> DataType {
    use arrow_schema::{Field, TimeUnit};
    use bttrace::report::schema::Ty;
    let list = |t| DataType::List(std::sync::Arc::new(Field::new("item", t, true)));
    match t {
        Ty::Int => DataType::Int64,
        Ty::Int32 => DataType::Int32,
        Ty::Float => DataType::Float64,
        Ty::Bool => DataType::Boolean,
        Ty::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Ty::Date => DataType::Date32,
        Ty::Text | Ty::Id => DataType::Utf8,
        Ty::Enum => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        Ty::IntList => list(DataType::Int64),
        Ty::WordList => list(DataType::Utf8),
    }
}

/// One table of a run: its CSV header is its schema's names, and its Parquet columns have
/// the schema's names and types.
fn matches_schema<K: bttrace::report::schema::Table>(csv_dir: &Path, pq: &Path, part: &str) {
    let want: Vec<(String, DataType)> = K::schema()
        .iter()
        .map(|c| (c.name.clone(), arrow_type(c.ty)))
        .collect();
    let (header, _) = read_csv(&csv_dir.join(format!("{}.csv", K::NAME)));
    let names: Vec<String> = want.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(header, names, "{}.csv", K::NAME);
    let file = std::fs::File::open(pq.join(K::NAME).join(part)).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let got: Vec<(String, DataType)> = b
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    assert_eq!(got, want, "{}: Parquet columns", K::NAME);
}

#[test]
fn every_table_is_its_schema_in_csv_and_parquet() {
    use bttrace::report::schema::{Captures, Flows, Messages, Rsts, Tests};
    // Captures with and without each optional part: Glasnost tests, BitTorrent, resets, a
    // failed file.
    for (i, inputs) in [
        &["fixtures/glasnost"][..],
        &["fixtures/netns/refused.pcap"],
        &["fixtures/netns/reset_by_server.pcap", "fixtures/ndpi"],
        &["Cargo.toml"],
    ]
    .into_iter()
    .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let (csv_dir, pq) = write_both_with(dir.path(), inputs, &["--messages"]);
        let part = bttrace::report::parquet::part_name(
            &inputs.iter().map(PathBuf::from).collect::<Vec<_>>(),
        );
        matches_schema::<Captures>(&csv_dir, &pq, &part);
        matches_schema::<Tests>(&csv_dir, &pq, &part);
        matches_schema::<Flows>(&csv_dir, &pq, &part);
        matches_schema::<Rsts>(&csv_dir, &pq, &part);
        matches_schema::<Messages>(&csv_dir, &pq, &part);
        // The messages table is in frame order.
        let (h, rows) = read_csv(&csv_dir.join("messages.csv"));
        let frame = h.iter().position(|c| c == "frame").unwrap();
        for pair in rows.windows(2) {
            let at = |r: &Vec<String>| (r[0].clone(), r[frame].parse::<u64>().unwrap());
            let ((c0, f0), (c1, f1)) = (at(&pair[0]), at(&pair[1]));
            assert!(c0 != c1 || f0 <= f1, "{c0}: messages not in frame order");
        }
        if i == 0 {
            assert!(
                rows.len() > 100,
                "the Glasnost fixtures' messages: {}",
                rows.len()
            );
        }
        eprintln!("inputs {i}: {inputs:?} match the schemas");
    }
}
