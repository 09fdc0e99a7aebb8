use super::*;
use crate::plot::tests::synthetic;

fn render(p: &Page) -> String {
    let mut out = Vec::new();
    write_page(&mut out, p).expect("write to a Vec");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn everything_but_the_charts_is_escaped() {
    let evil = "<script>alert(1)</script> & \"x\" 'y' \u{0}\u{1b}";
    let p = Page {
        title: evil.into(),
        sections: vec![Section {
            heading: evil.into(),
            paragraphs: vec![evil.into()],
            tables: vec![Table {
                caption: evil.into(),
                header: vec![evil.into()],
                rows: vec![vec![evil.into(), evil.into()]],
            }],
            notes: vec![evil.into()],
            svgs: vec![evil.into(), "<svg width=\"1\"><rect/></svg>".into()],
        }],
    };
    let html = render(&p);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains('\u{0}') && !html.contains('\u{1b}'));
    let escaped =
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; &#39;y&#39; \u{FFFD}\u{FFFD}";
    // Title, h1, h2, paragraph, caption, header, two cells, note, and the SVG that is not one.
    assert_eq!(html.matches(escaped).count(), 10, "{html}");
    assert!(html.contains("<svg width=\"1\"><rect/></svg>"));
    assert!(!html.contains("http"), "no external resources: {html}");
}

#[test]
fn short_rows_are_padded_and_verdicts_coloured() {
    let p = Page {
        title: "t".into(),
        sections: vec![Section {
            tables: vec![Table {
                header: vec!["a".into(), "b".into(), "c".into()],
                rows: vec![
                    vec!["yes".into()],
                    vec!["12 Kbps".into(), "n/a".into(), "1.2.3.4:5".into()],
                ],
                ..Table::default()
            }],
            ..Section::default()
        }],
    };
    let html = render(&p);
    assert!(
        html.contains("<tr><td class=\"bad\">yes</td><td></td><td></td></tr>"),
        "{html}"
    );
    assert!(
        html.contains("<td class=\"num\">12 Kbps</td><td class=\"na\">n/a</td><td>1.2.3.4:5</td>"),
        "{html}"
    );
}

#[test]
fn a_glasnost_capture_gets_the_studys_tables_and_charts() {
    let r = synthetic("week/glasnost_<odd>.dump");
    let p = capture_page(&r);
    let headings: Vec<&str> = p.sections.iter().map(|s| s.heading.as_str()).collect();
    assert_eq!(
        headings,
        [
            "What was read",
            "Glasnost test",
            "Is BitTorrent traffic on a well-known BitTorrent port (6881) throttled?",
            "Is BitTorrent traffic on a non-standard BitTorrent port (50000) throttled?",
            "Is TCP traffic on a well-known BitTorrent port (6881) throttled?",
            "Summary",
            "Charts",
            "Transfers",
            "Resets",
            "Flows",
        ]
    );
    let port = &p.sections[2];
    let t = &port.tables[0];
    assert_eq!(
        t.header,
        ["Transfer", "Speed TCP", "Speed BitTorrent", "Conclusion"]
    );
    assert_eq!(t.rows.len(), 6);
    assert!(
        t.rows
            .iter()
            .any(|r| r[0] == "Download #1" && r[3] == "Potential rate limiting")
    );
    assert!(
        port.paragraphs
            .iter()
            .any(|s| s
                .starts_with("There was a problem with the BitTorrent upload (seeding): #2 reset")),
        "{:?}",
        port.paragraphs
    );
    let summary = &p.sections[5].tables[0];
    assert_eq!(summary.rows.len(), 6);
    assert_eq!(summary.rows[4][0], "Slow down BT download (port 6881)");
    assert_eq!(p.sections[6].svgs.len(), 2);
    assert!(!p.sections[8].tables.is_empty(), "the reset flow's RSTs");
    assert_eq!(p.title, "bttrace: glasnost_<odd>.dump");
    let html = render(&p);
    assert!(html.contains("<title>bttrace: glasnost_&lt;odd&gt;.dump</title>"));
    assert_eq!(html.matches("<svg").count(), 2);
}

#[test]
fn a_failed_capture_still_gets_a_page() {
    let r = CaptureReport::failed("x/<bad>.pcap".into(), "not a capture file: <magic>".into());
    let p = capture_page(&r);
    let html = render(&p);
    assert!(
        html.contains("Error: not a capture file: &lt;magic&gt;"),
        "{html}"
    );
    assert!(!html.contains("<svg"));
    // No flows, no RSTs: no empty "Flows" or "Resets" heading.
    let headings: Vec<&str> = p.sections.iter().map(|s| s.heading.as_str()).collect();
    assert_eq!(headings, ["What was read"]);
}

#[test]
fn a_plain_capture_gets_its_flows_and_resets() {
    let r = crate::analyze_file(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/netns/reset_by_server.pcap"
        )),
        &crate::Options::default(),
    );
    assert!(r.tests.is_empty() && r.error.is_none(), "{:?}", r.error);
    let p = capture_page(&r);
    let flows = p
        .sections
        .iter()
        .find(|s| s.heading == "Flows")
        .expect("flows");
    assert_eq!(flows.tables[0].rows.len(), r.flows.len());
    assert_eq!(flows.tables[0].header.len(), FLOW_COLUMNS.len());
    let resets = p
        .sections
        .iter()
        .find(|s| s.heading == "Resets")
        .expect("resets");
    assert!(!resets.tables.is_empty());
    assert!(p.sections.iter().all(|s| s.svgs.is_empty()));
}

fn fixture(path: &str) -> CaptureReport {
    crate::analyze_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path),
        &crate::Options::default(),
    )
}

#[test]
fn sections_with_nothing_to_show_are_left_out() {
    // BitTorrent over TCP without one RST: flows, and no "Resets" heading.
    let r = fixture("fixtures/arkime/bt-tcp.pcap");
    assert!(r.error.is_none() && !r.flows.is_empty(), "{:?}", r.error);
    assert!(r.flows.iter().all(|f| f.rsts.is_empty()));
    let p = capture_page(&r);
    let headings: Vec<&str> = p.sections.iter().map(|s| s.heading.as_str()).collect();
    assert_eq!(headings, ["What was read", "Flows"]);
    // BitTorrent over UDP only: no TCP flow, so neither heading.
    let r = fixture("fixtures/arkime/bt-udp.pcap");
    assert!(r.error.is_none() && r.flows.is_empty(), "{:?}", r.error);
    let p = capture_page(&r);
    let headings: Vec<&str> = p.sections.iter().map(|s| s.heading.as_str()).collect();
    assert_eq!(headings, ["What was read"]);
    assert!(render(&p).contains("0 flows"), "the facts still say it");
    // Every section left on a page has something under its heading.
    for path in [
        "fixtures/arkime/bt-tcp.pcap",
        "fixtures/netns/reset_by_server.pcap",
    ] {
        for s in capture_page(&fixture(path)).sections {
            assert!(
                !(s.paragraphs.is_empty() && s.tables.is_empty() && s.svgs.is_empty()),
                "{path}: {}",
                s.heading
            );
        }
    }
}

#[test]
fn page_file_names_are_safe() {
    assert_eq!(
        page_file_name("a/b/bt_download_full.pcap"),
        "bt_download_full.pcap.html"
    );
    assert_eq!(page_file_name("C:\\caps\\x y.pcap"), "x_y.pcap.html");
    assert_eq!(page_file_name("../../etc/passwd"), "passwd.html");
    assert_eq!(page_file_name(".."), "capture.html");
    assert_eq!(page_file_name(""), "capture.html");
    assert_eq!(page_file_name("dir/"), "dir.html");
    assert_eq!(page_file_name("<é>\u{0}.pcap"), "____.pcap.html");
    assert_eq!(page_file_name(&"x".repeat(1000)).len(), 205);
}

#[test]
fn write_capture_page_writes_into_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let r = CaptureReport::failed("in/elsewhere/../t.pcap".into(), "e".into());
    let path = write_capture_page(dir.path(), &r).unwrap();
    assert_eq!(path, dir.path().join("t.pcap.html"));
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
}
