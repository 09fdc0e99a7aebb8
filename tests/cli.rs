//! The command line as users run it: exit codes, error lines, the JSON contract, CSV files.

use std::path::{Path, PathBuf};

use bttrace::capture::LinkType;
use bttrace::flows::Side;
use bttrace::synth::{Conv, PcapOpts, pcap};
use bttrace::wire::TcpFlags;
use serde_json::Value;

mod common;
use common::{bttrace, stderr, stdout};

/// A capture with a complete connection and a reset one, written to `dir/name`.
fn write_capture(dir: &Path, name: &str) -> PathBuf {
    let mut a = Conv::new(
        "198.51.100.1:40000".parse().unwrap(),
        "203.0.113.1:6881".parse().unwrap(),
    );
    a.handshake()
        .data(Side::Client, b"\x13BitTorrent protocol")
        .data(Side::Server, &[7; 3000])
        .close();
    let mut b = Conv::new(
        "198.51.100.1:40001".parse().unwrap(),
        "203.0.113.1:6881".parse().unwrap(),
    );
    b.ts = a.ts;
    b.handshake().data(Side::Client, b"hello");
    b.send(Side::Server, TcpFlags::RST, &[]);
    let mut recs: Vec<_> = a
        .packets
        .iter()
        .chain(&b.packets)
        .map(|p| p.record(LinkType::ETHERNET, None))
        .collect();
    recs.sort_by_key(|r| r.ts);
    let path = dir.join(name);
    std::fs::write(&path, pcap(LinkType::ETHERNET, &recs, PcapOpts::default())).unwrap();
    path
}

#[test]
fn text_report_lists_every_flow() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(dir.path(), "two.pcap");
    let o = bttrace(&["analyze", cap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("2 flows"), "{out}");
    assert!(out.contains("198.51.100.1:40000"));
    assert!(
        out.lines()
            .any(|l| l.contains("40001") && l.contains(" rst ")),
        "{out}"
    );
}

#[test]
fn json_follows_the_output_contract() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(dir.path(), "two.pcap");
    let o = bttrace(&["analyze", "--format", "json", cap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let caps = v["captures"].as_array().unwrap();
    assert_eq!(caps.len(), 1);
    let c = &caps[0];
    for key in ["capture", "error", "flows", "tests", "summary"] {
        assert!(c.get(key).is_some(), "capture lacks {key}");
    }
    assert!(c["error"].is_null());
    let flows = c["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2);
    for f in flows {
        for key in [
            "id",
            "client",
            "server",
            "kind",
            "direction",
            "port",
            "established",
            "bytes_up",
            "bytes_down",
            "goodput_bps",
            "close_state",
            "rsts",
        ] {
            assert!(f.get(key).is_some(), "flow lacks {key}");
        }
    }
    assert_eq!(flows[0]["client"], "198.51.100.1:40000");
    assert_eq!(flows[0]["server"], "203.0.113.1:6881");
    assert_eq!(flows[0]["port"], 6881);
    assert_eq!(flows[0]["bytes_up"], 20);
    assert_eq!(flows[0]["bytes_down"], 3000);
    assert_eq!(flows[0]["close_state"], "fin");
    assert_eq!(flows[1]["close_state"], "rst");
    let rst = &flows[1]["rsts"][0];
    for key in [
        "frame",
        "frame_time",
        "sender",
        "seq",
        "ack",
        "ttl",
        "verdict",
        "evidence",
    ] {
        assert!(rst.get(key).is_some(), "rst lacks {key}");
    }
    assert_eq!(rst["sender"], "server");
}

#[test]
fn a_bad_file_is_named_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_capture(dir.path(), "good.pcap");
    let bad = dir.path().join("notes.dump");
    std::fs::write(&bad, "this is a text file\n").unwrap();
    let missing = dir.path().join("missing.pcap");
    let o = bttrace(&[
        "analyze",
        "--format",
        "json",
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    // One line per failed file as it fails, then the failures again at the end of the batch.
    assert_eq!(lines.len(), 5, "{err}");
    assert_eq!(lines[2], "bttrace: 2 of 3 captures failed:");
    assert!(lines[3].starts_with("  ") && lines[3].contains("notes.dump"));
    assert!(lines[4].starts_with("  ") && lines[4].contains("missing.pcap"));
    assert!(lines[0].contains("notes.dump") && lines[0].contains("not a capture file"));
    assert!(
        lines[0].contains("\"this is "),
        "shows the first bytes: {}",
        lines[0]
    );
    assert!(lines[1].contains("missing.pcap") && lines[1].contains("cannot read"));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let caps = v["captures"].as_array().unwrap();
    assert_eq!(caps.len(), 3, "failed files still appear, in input order");
    assert!(caps[0]["capture"].as_str().unwrap().ends_with("notes.dump"));
    assert!(caps[0]["error"].is_string());
    assert!(caps[1]["error"].is_null());
    assert_eq!(caps[1]["flows"].as_array().unwrap().len(), 2);
    assert!(caps[2]["error"].is_string());
}

#[test]
fn a_cut_short_file_is_analysed_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(dir.path(), "cut.pcap");
    let bytes = std::fs::read(&cap).unwrap();
    std::fs::write(&cap, &bytes[..bytes.len() - 10]).unwrap();
    let o = bttrace(&["analyze", "--format", "json", cap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "a warning is not a failure");
    assert!(stderr(&o).contains("warning") && stderr(&o).contains("last record cut short"));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        v["captures"][0]["notes"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cut short")
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(bttrace(&["analyze"]).status.code(), Some(2));
    assert_eq!(bttrace(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        bttrace(&["analyze", "--interval-ms", "0", "x"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn csv_file_is_written_and_never_silently_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(dir.path(), "two.pcap");
    let out = dir.path().join("flows.csv");
    let args = [
        "analyze",
        "--csv",
        out.to_str().unwrap(),
        cap.to_str().unwrap(),
    ];
    assert_eq!(bttrace(&args).status.code(), Some(0));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        bttrace::report::csv::names::<bttrace::report::csv::Flows>()
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r[0].ends_with("two.pcap")));
    assert!(rows.iter().all(|r| r.len() == headers.len()));
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("kind")], "bittorrent");
    assert_eq!(&rows[0][col("framing_up")], "ok");
    assert_eq!(
        &rows[0][col("peer_id_up")],
        "",
        "this handshake stops at the protocol string"
    );

    let again = bttrace(&args);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("use --force"));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        text,
        "left untouched"
    );
    let forced = [
        "analyze",
        "--force",
        "--csv",
        out.to_str().unwrap(),
        cap.to_str().unwrap(),
    ];
    assert_eq!(bttrace(&forced).status.code(), Some(0));
}

#[test]
fn csv_directory_gets_flows_csv_and_directories_are_walked() {
    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("caps/day1");
    std::fs::create_dir_all(&caps).unwrap();
    write_capture(&caps, "a.pcap");
    write_capture(&caps, "b.pcap");
    std::fs::write(caps.join("a.log"), "1244000000000 Client x connected\n").unwrap();
    let out = dir.path().join("out/");
    let o = bttrace(&[
        "analyze",
        "--format",
        "csv",
        "--csv",
        out.to_str().unwrap(),
        dir.path().join("caps").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let written = std::fs::read_to_string(out.join("flows.csv")).unwrap();
    assert_eq!(written, stdout(&o));
    let rows: Vec<&str> = written.lines().skip(1).collect();
    assert_eq!(rows.len(), 4);
    assert!(
        rows[0].contains("a.pcap") && rows[3].contains("b.pcap"),
        "input order"
    );
}

#[test]
fn messages_lists_every_decoded_message_with_its_frame() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(dir.path(), "two.pcap");
    let o = bttrace(&["analyze", "--messages", cap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("messages of flow 1"), "{out}");
    // The client's 20-byte protocol string is frame 4 (after the SYN, SYN-ACK, ACK).
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("4 ") && l.contains("Handshake")),
        "{out}"
    );
    let j = bttrace(&[
        "analyze",
        "--messages",
        "--format",
        "json",
        cap.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_str(&stdout(&j)).unwrap();
    let msgs = v["captures"][0]["flows"][0]["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["frame"], 4);
    assert_eq!(msgs[0]["sender"], "client");
    let plain = bttrace(&["analyze", "--format", "json", cap.to_str().unwrap()]);
    let v: Value = serde_json::from_str(&stdout(&plain)).unwrap();
    assert!(v["captures"][0]["flows"][0]["messages"].is_null());
}

#[test]
fn resets_table_has_verdicts_evidence_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(dir.path(), "two.pcap");
    let out = dir.path().join("tables/");
    let o = bttrace(&[
        "analyze",
        "--csv",
        out.to_str().unwrap(),
        cap.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("rsts.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        bttrace::report::csv::names::<bttrace::report::csv::Rsts>()
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let frame = &rows[0][col("frame")];
    assert_eq!(
        &rows[0][col("wireshark_filter")],
        format!("frame.number == {frame}")
    );
    assert_eq!(&rows[0][col("sender")], "server");
    assert!(["forged", "endpoint", "inconclusive"].contains(&&rows[0][col("verdict")]));
    // Stated vantage: the server is the capturing host, so its own RST is an endpoint's.
    let o = bttrace(&[
        "analyze",
        "--format",
        "json",
        "--vantage",
        "203.0.113.1",
        cap.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let r = &v["captures"][0]["flows"][1]["rsts"][0];
    assert_eq!(r["verdict"], "endpoint");
    assert_eq!(r["evidence"][0], "sent_by_capture_host");
    assert_eq!(
        bttrace(&["analyze", "--vantage", "nowhere", "x"])
            .status
            .code(),
        Some(2)
    );
}

/// Each flow's Wireshark filter selects that connection only: where a capture reuses a 4-tuple
/// (suricata-verify's urgent11 capture has two connections on one), the filter adds the
/// connection's frame range. The text report shows the flow's and each RST's filter.
#[test]
fn filters_select_one_connection_and_are_shown_in_the_text() {
    let cap = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/suricata-verify/urgent11_cve_2019_12260.pcap");
    let cap = cap.to_str().unwrap();
    let o = bttrace(&["analyze", "--format", "json", cap]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let flows = v["captures"][0]["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0]["client"], flows[1]["client"]);
    assert_eq!(flows[0]["server"], flows[1]["server"]);
    for f in flows {
        let range = format!(
            "frame.number >= {} && frame.number <= {}",
            f["first_frame"], f["last_frame"]
        );
        assert!(
            f["wireshark_filter"].as_str().unwrap().ends_with(&range),
            "{f}"
        );
    }
    assert!(flows[0]["last_frame"].as_u64() < flows[1]["first_frame"].as_u64());
    let text = stdout(&bttrace(&["analyze", cap]));
    for f in flows {
        let shown = format!(
            "the flow in Wireshark: {}",
            f["wireshark_filter"].as_str().unwrap()
        );
        assert!(text.contains(&shown), "{text}");
        for r in f["rsts"].as_array().unwrap() {
            let filter = r["wireshark_filter"].as_str().unwrap();
            assert!(text.contains(&format!("[{filter}]")), "{text}");
        }
    }
    // A capture with one connection per 4-tuple: no frame range.
    let dir = tempfile::tempdir().unwrap();
    let one = write_capture(dir.path(), "one.pcap");
    let o = bttrace(&["analyze", "--format", "json", one.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    for f in v["captures"][0]["flows"].as_array().unwrap() {
        assert!(
            !f["wireshark_filter"]
                .as_str()
                .unwrap()
                .contains("frame.number"),
            "{f}"
        );
    }
}

/// The HTML page's transfers table gives a reset transfer no speed, as the text report does
/// (a transfer that did not run its course was not measured), and rates use the text's units.
/// The test: uploads reset 1.5 s into their piece data, after a good part of a megabyte.
#[test]
fn a_reset_transfer_has_no_speed_on_the_page() {
    use bttrace::glasnost::verdict::{Dir, Proto};
    use bttrace::synth::glasnost::{self as g, Fate, Plan};
    let plan = Plan::default();
    let packets = g::test(&plan, |proto, dir, _, _| match (proto, dir) {
        (Proto::Bt, Dir::Upload) => Fate::ResetLate,
        _ => Fate::Normal,
    });
    let dir = tempfile::tempdir().unwrap();
    let dump = dir
        .path()
        .join("bt_198.51.100.9_client.example_1795508459.dump");
    std::fs::write(&dump, g::capture(&packets, None)).unwrap();
    let out = dir.path().join("html");
    let o = bttrace(&[
        "analyze",
        "--html",
        out.to_str().unwrap(),
        dump.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("Kbps"));
    let page = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let html = std::fs::read_to_string(page).unwrap();
    let rows: Vec<&str> = html
        .split("<tr>")
        .filter(|r| r.contains("<td>bittorrent</td>") && r.contains(">reset</td>"))
        .collect();
    assert!(!rows.is_empty(), "no reset transfer rows");
    for r in rows {
        let after = r.split(">reset</td>").nth(1).unwrap();
        assert!(after.starts_with("<td class=\"na\">-</td>"), "{r}");
        // Its bytes are still shown: it carried data before the reset.
        assert!(!after.contains("<td class=\"num\">0 B</td>"), "{r}");
    }
    assert!(!html.contains("Kbps"));
}
