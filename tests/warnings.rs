//! Issue 16's "warnings instead of silence": each case a user could get wrong without a word,
//! run through the built binary, with the warning (or refusal) it must now give.

use std::path::{Path, PathBuf};

mod common;
use common::{bttrace, stderr, stdout};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// `sandvine-client.pcap` was taken at the client: its packets carry TTL 64, the server's 63.
#[test]
fn a_vantage_the_ttls_contradict_is_warned_about() {
    let cap = fixture("middlebox/sandvine-client.pcap");
    let cap = cap.to_str().unwrap();
    for wrong in ["server", "203.0.113.1"] {
        let o = bttrace(&["analyze", "-f", "json", "--vantage", wrong, cap]);
        assert_eq!(o.status.code(), Some(0), "{wrong}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("--vantage {wrong} is contradicted by the TTLs")),
            "{wrong}: {err}"
        );
        assert!(err.contains("TTL 63") && err.contains("TTL 64"), "{err}");
        assert!(err.contains("taken at the client (198.51.100.1)"), "{err}");
        // The same words are among the capture's notes in the JSON.
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let notes = v["captures"][0]["notes"].to_string();
        assert!(notes.contains("contradicted by the TTLs"), "{notes}");
    }
    // In text the warning is a note of the capture.
    let o = bttrace(&["analyze", "--vantage", "server", cap]);
    assert!(
        stdout(&o).contains("note: --vantage server is contradicted"),
        "{}",
        stdout(&o)
    );
    // The vantage the TTLs agree with, and auto, say nothing.
    for right in ["client", "198.51.100.1", "auto"] {
        let o = bttrace(&["analyze", "-f", "json", "--vantage", right, cap]);
        assert_eq!(o.status.code(), Some(0));
        assert!(
            !stderr(&o).contains("contradicted"),
            "{right}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_vantage_address_not_in_the_capture_is_refused() {
    let cap = fixture("middlebox/sandvine-client.pcap");
    let o = bttrace(&["analyze", "--vantage", "192.0.2.5", cap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("--vantage 192.0.2.5: no connection of this capture has that address")
            && err.contains("198.51.100.1, 203.0.113.1"),
        "{err}"
    );
    // No verdicts are given under the refused vantage.
    assert!(!stdout(&o).contains("ENDPOINT"), "{}", stdout(&o));
}

/// `compare` given the server's capture as the client's (and the other way round) places each
/// capture by its TTLs, swaps them with a note, and reports what the right order reports.
#[test]
fn compare_swaps_captures_given_the_wrong_way_round() {
    let client = fixture("middlebox/sandvine-client.pcap");
    let server = fixture("middlebox/sandvine-server.pcap");
    let (c, s) = (client.to_str().unwrap(), server.to_str().unwrap());
    let right = bttrace(&["compare", "-f", "json", c, s]);
    let swapped = bttrace(&["compare", "-f", "json", s, c]);
    assert_eq!(right.status.code(), Some(0));
    assert_eq!(swapped.status.code(), Some(0), "{}", stderr(&swapped));
    assert!(!stderr(&right).contains("warning"), "{}", stderr(&right));
    let err = stderr(&swapped);
    assert!(
        err.contains("warning: the captures were given the wrong way round")
            && err.contains(&format!("compared with {c} as the client's capture")),
        "{err}"
    );
    assert!(err.contains("TTL 63") && err.contains("TTL 64"), "{err}");
    let mut r: serde_json::Value = serde_json::from_slice(&right.stdout).unwrap();
    let mut w: serde_json::Value = serde_json::from_slice(&swapped.stdout).unwrap();
    assert_eq!(w["client_capture"], c);
    assert_eq!(w["notes"].as_array().map(Vec::len), Some(1));
    // Apart from the note, the swapped run reports what the right one does: the server
    // received RSTs the client never sent, and nothing was "sent, never received".
    w["notes"] = serde_json::Value::Null;
    r["notes"] = serde_json::Value::Null;
    assert_eq!(r, w);
    let never_received: usize = w["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["never_received"].as_array().unwrap().len())
        .sum();
    assert_eq!(never_received, 0);
    // The text report carries the note at its head.
    let o = bttrace(&["compare", s, c]);
    assert!(
        stdout(&o).contains("note: the captures were given the wrong way round"),
        "{}",
        stdout(&o)
    );
}

/// One capture given for both ends: the one named as the server's looks taken at the client,
/// and the note says so (no swap: the two agree on where they were taken).
#[test]
fn compare_says_when_one_capture_contradicts_its_role() {
    let client = fixture("middlebox/sandvine-client.pcap");
    let c = client.to_str().unwrap();
    let o = bttrace(&["compare", "-f", "json", c, c]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{c} is given as the server's capture but looks taken at the client"
        )),
        "{err}"
    );
    assert!(!err.contains("wrong way round"), "{err}");
}

#[test]
fn an_empty_directory_or_one_without_captures_exits_1_and_says_so() {
    let empty = tempfile::tempdir().unwrap();
    let others = tempfile::tempdir().unwrap();
    std::fs::write(others.path().join("README.txt"), "notes").unwrap();
    std::fs::write(others.path().join("flows.csv"), "id\n1\n").unwrap();
    std::fs::write(others.path().join(".hidden.pcap"), "hidden").unwrap();
    for dir in [empty.path(), others.path()] {
        let d = dir.to_str().unwrap();
        for cmd in [
            vec!["analyze", d],
            vec!["analyze", "-f", "json", d],
            vec!["report", d],
        ] {
            let o = bttrace(&cmd);
            assert_eq!(o.status.code(), Some(1), "{cmd:?}: {}", stderr(&o));
            assert!(
                stderr(&o).contains(&format!("no capture found in {d}")),
                "{cmd:?}: {}",
                stderr(&o)
            );
        }
    }
    // A directory with a capture is no such case.
    let with = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("middlebox/none-client.pcap"),
        with.path().join("none-client.pcap"),
    )
    .unwrap();
    std::fs::write(with.path().join("README.txt"), "notes").unwrap();
    let o = bttrace(&["analyze", with.path().to_str().unwrap(), "-f", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("no capture found"));
}

/// The same test as `.dump`, `.dump.gz` and inside a tar archive counts once in `report`,
/// with a warning per copy and a line in the report.
#[test]
fn report_counts_the_same_test_once() {
    let src = fixture("glasnost/none");
    let stem = "bt_198.51.100.1_client.none.example_1795508133";
    let dir = tempfile::tempdir().unwrap();
    let dump = std::fs::read(src.join(format!("{stem}.dump"))).unwrap();
    let log = std::fs::read(src.join(format!("{stem}.log"))).unwrap();
    std::fs::write(dir.path().join(format!("{stem}.dump")), &dump).unwrap();
    std::fs::write(dir.path().join(format!("{stem}.log")), &log).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &dump).unwrap();
    std::fs::write(
        dir.path().join(format!("{stem}.dump.gz")),
        gz.finish().unwrap(),
    )
    .unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        (format!("{stem}.dump"), &dump),
        (format!("{stem}.log"), &log),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    std::fs::write(dir.path().join("week.tar"), tar.into_inner().unwrap()).unwrap();

    let once = bttrace(&["report", src.to_str().unwrap()]);
    let o = bttrace(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("1 capture (0 failed), 1 ISP\n"), "{out}");
    assert!(
        out.contains("2 more captures were left out as copies of one already counted"),
        "{out}"
    );
    let err = stderr(&o);
    assert_eq!(err.matches("is the same capture as").count(), 2, "{err}");
    assert!(
        err.contains(&format!("{stem}.dump.gz is the same capture as")),
        "{err}"
    );
    // Apart from that line, the tables are those of the test taken once.
    let without: String = out
        .lines()
        .filter(|l| !l.contains("left out as copies"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(without, stdout(&once));
}

/// `--csv out` means a directory of tables for `analyze` as for `report`; a `.csv` name is the
/// flows table; an existing file is still written (with a warning); `report --csv x.csv` is
/// refused rather than making a directory that looks like a file.
#[test]
fn csv_names_mean_the_same_in_analyze_and_report() {
    let cap = fixture("middlebox/none-client.pcap");
    let cap = cap.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = bttrace(&["analyze", "-f", "json", "--csv", out.to_str().unwrap(), cap]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for t in ["captures.csv", "tests.csv", "flows.csv", "rsts.csv"] {
        assert!(out.join(t).is_file(), "{t}");
    }
    let flows = dir.path().join("flows.csv");
    let o = bttrace(&[
        "analyze",
        "-f",
        "json",
        "--csv",
        flows.to_str().unwrap(),
        cap,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(flows.is_file());
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    let old = dir.path().join("old-flows");
    std::fs::write(&old, "").unwrap();
    let o = bttrace(&[
        "analyze",
        "-f",
        "json",
        "--force",
        "--csv",
        old.to_str().unwrap(),
        cap,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(&old).unwrap().lines().count() > 1,
        "the existing file holds the flows table"
    );
    assert!(
        stderr(&o).contains("which exists; a name without .csv is otherwise a directory"),
        "{}",
        stderr(&o)
    );
    let o = bttrace(&[
        "report",
        "--csv",
        dir.path().join("week.csv").to_str().unwrap(),
        cap,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("into a directory; name one without .csv"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("week.csv").exists());
}
