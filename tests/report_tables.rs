//! `bttrace report` on the tables `analyze` wrote (CSV and Parquet, one run or parts of many)
//! gives the report the captures give, byte for byte: text, speeds.csv, days.csv and
//! summary.csv. The input is an M-Lab-layout mini-archive with damaged members.

use std::path::{Path, PathBuf};
use std::process::Command;

use bttrace::synth::glasnost::{Plan, WEEK_ISPS};
use bttrace::synth::mlab::write_archives;

fn bttrace(args: &[String]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_bttrace"))
        .args(args)
        .output()
        .expect("run bttrace");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The report's outputs of `inputs`: standard output and the three CSV files.
fn report(inputs: &[String], isps: &Path, out: &Path) -> Vec<Vec<u8>> {
    let mut args = vec!["report".to_string()];
    args.extend(inputs.iter().cloned());
    args.extend(["--isp-map".into(), s(isps), "--csv".into(), s(out)]);
    let o = bttrace(&args);
    let mut all = vec![o.stdout];
    for f in ["speeds.csv", "days.csv", "summary.csv"] {
        all.push(std::fs::read(out.join(f)).unwrap());
    }
    all
}

#[test]
fn a_report_from_tables_equals_the_report_from_the_captures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plan = Plan {
        transfer_ms: 600,
        spacing_ms: 900,
        ..Plan::default()
    };
    let w = write_archives(d, &plan, 1, 1).unwrap();
    assert_eq!(w.archives.len(), 2);
    let mut table = String::new();
    for isp in WEEK_ISPS {
        let [a, b, c] = isp.prefix;
        let net = isp.first_host & !(u8::MAX >> (isp.prefix_len - 24));
        table.push_str(&format!(
            "{a}.{b}.{c}.{net}/{}  {}\n",
            isp.prefix_len, isp.name
        ));
    }
    let isps = d.join("isps.txt");
    std::fs::write(&isps, table).unwrap();
    let archives: Vec<String> = w.archives.iter().map(|p| s(p)).collect();

    // One run over both archives, tables in CSV and Parquet.
    let mut args = vec!["analyze".to_string(), "--format".into(), "json".into()];
    args.extend(archives.iter().cloned());
    args.extend([
        "--csv".into(),
        format!("{}/", s(&d.join("csv"))),
        "--parquet".into(),
        s(&d.join("pq")),
    ]);
    bttrace(&args);
    // One run per archive, as one machine each would: CSV directories and Parquet parts.
    let mut csv_parts = Vec::new();
    for (i, a) in archives.iter().enumerate() {
        let csv_dir = d.join(format!("csv-{i}"));
        bttrace(&[
            "analyze".into(),
            "--format".into(),
            "csv".into(),
            a.clone(),
            "--csv".into(),
            format!("{}/", s(&csv_dir)),
            "--parquet".into(),
            s(&d.join("parts")),
        ]);
        csv_parts.push(s(&csv_dir));
    }
    let parts: Vec<PathBuf> = std::fs::read_dir(d.join("parts/captures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(parts.len(), 2, "{parts:?}");

    let want = report(&archives, &isps, &d.join("r-captures"));
    // Each of the report's tables has its schema's columns.
    use bttrace::report::schema::names;
    use bttrace::report::weekly::{Days, Speeds, SummaryTable};
    for (i, header) in [names::<Speeds>(), names::<Days>(), names::<SummaryTable>()]
        .into_iter()
        .enumerate()
    {
        let text = String::from_utf8_lossy(&want[i + 1]);
        let first = text.lines().next().unwrap_or("");
        assert_eq!(first, header.join(","), "table {i}");
    }
    let text = String::from_utf8_lossy(&want[0]);
    assert!(
        text.contains("Slow Net") && text.contains("Block Net"),
        "{text}"
    );
    for (name, inputs) in [
        ("csv", vec![s(&d.join("csv"))]),
        ("parquet", vec![s(&d.join("pq"))]),
        ("parquet parts", vec![s(&d.join("parts"))]),
        ("csv parts", csv_parts.clone()),
    ] {
        let got = report(
            &inputs,
            &isps,
            &d.join(format!("r-{}", name.replace(' ', "-"))),
        );
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                String::from_utf8_lossy(g),
                String::from_utf8_lossy(w),
                "{name}: output {i} differs"
            );
        }
    }
}
