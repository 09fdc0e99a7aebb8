//! Real captures: every fixture against tshark's independent view (`fixtures/oracle.tsv`),
//! and golden snapshots of what bttrace reports for a representative few.
//!
//! A difference from tshark fails the test unless it is listed in [`DIFFERENCES`] with its
//! reason; a listed difference that no longer occurs fails too, so the list stays true.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bttrace::{CaptureReport, Options, analyze_file};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn analyze(rel: &str) -> CaptureReport {
    let mut r = analyze_file(&fixtures().join(rel), &Options::default());
    r.path = rel.to_string();
    r
}

const MALFORMED_TCP: &str = "tshark counts frames whose TCP header does not fit the IP payload \
     as (malformed) TCP; bttrace skips them as tcp_bad_header";
const FRAGMENTS: &str = "TCP carried in IP fragments: tshark reassembles them, bttrace counts \
     the fragments as ip_fragment";
const REFUSED_FORMAT: &str = "a format bttrace refuses with a one-line message saying how to \
     convert it (zstd, Solaris snoop); tshark reads it";

/// Where bttrace and tshark 4.0 see a fixture differently, on purpose: (file, field, reason).
const DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "libpcap/http_PPI.pcap",
        "tcp",
        "TCP inside 802.11 inside PPI: 802.11 is not decoded",
    ),
    (
        "libpcap/http_PPI.pcap",
        "flows",
        "TCP inside 802.11 inside PPI: 802.11 is not decoded",
    ),
    ("ndpi/fuzz-2006-06-26-2594.pcap", "tcp", MALFORMED_TCP),
    ("ndpi/fuzz-2006-09-29-28586.pcap", "tcp", MALFORMED_TCP),
    ("ndpi/fuzz-2006-09-29-28586.pcap", "flows", MALFORMED_TCP),
    (
        "ndpi/fuzz-2021-10-13.pcap",
        "frames",
        "the first record claims 524,501 bytes: Wireshark's heuristics read a frame from it, \
         bttrace calls the file corrupt from there (with a note)",
    ),
    ("ndpi/ip_fragmented_garbage.pcap", "tcp", FRAGMENTS),
    ("ndpi/ip_fragmented_garbage.pcap", "flows", FRAGMENTS),
    (
        "ndpi/reasm_segv_anon.pcapng",
        "tcp",
        "TCP inside GTP-U (UDP 2152): tunnels are not opened",
    ),
    (
        "ndpi/reasm_segv_anon.pcapng",
        "flows",
        "TCP inside GTP-U (UDP 2152): tunnels are not opened",
    ),
    ("pcap-analyzer/frag_tcp_80_ipv4.pcap", "tcp", FRAGMENTS),
    (
        "pcapplusplus/pcapng-example.pcapng.zst",
        "frames",
        REFUSED_FORMAT,
    ),
    (
        "pcapplusplus/pcapng-example.pcapng.zst",
        "tcp",
        REFUSED_FORMAT,
    ),
    (
        "pcapplusplus/pcapng-example.pcapng.zst",
        "flows",
        REFUSED_FORMAT,
    ),
    (
        "pcapplusplus/pcapng-example.pcapng.zst",
        "rsts",
        REFUSED_FORMAT,
    ),
    ("pcapplusplus/solaris.snoop", "frames", REFUSED_FORMAT),
    ("pcapplusplus/solaris.snoop", "tcp", REFUSED_FORMAT),
    ("pcapplusplus/solaris.snoop", "flows", REFUSED_FORMAT),
    (
        "suricata-verify/bug-6875-01__fuzz.pcap",
        "frames",
        "Wireshark reads a 1-byte second frame out of a corrupt record header; bttrace stops \
         there with a note",
    ),
    ("suricata-verify/frag-ip-tcp.pcap", "tcp", FRAGMENTS),
    ("suricata-verify/frag-ip-tcp.pcap", "flows", FRAGMENTS),
    ("suricata-verify/frag-ppp-ipv6-tcp.pcap", "tcp", FRAGMENTS),
    ("suricata-verify/frag-ppp-ipv6-tcp.pcap", "flows", FRAGMENTS),
    (
        "suricata-verify/tcp-session-decode-malformed-ipv4__input.pcap",
        "tcp",
        "frame 8 has garbage IPv4 options that tshark rejects; bttrace does not validate IPv4 \
         options, and the TCP segment inside is well formed",
    ),
    (
        "tcpdump/heapoverflow-tcp_print.pcap",
        "flows",
        "tshark leaves a malformed segment out of its conversation table; bttrace gives it a flow",
    ),
    (
        "tcpdump/tcp-auth-heapoverflow.pcap",
        "flows",
        "tshark leaves a malformed segment out of its conversation table; bttrace gives it a flow",
    ),
    (
        "tcpdump/tcp_header_heapoverflow.pcap",
        "tcp",
        "7 bytes of TCP header captured: tshark shows a malformed TCP frame, bttrace skips it as \
         tcp_truncated",
    ),
];

/// Leading integer of an oracle cell (`"18 (tshark)"` is 18); `None` when not a number.
fn number(cell: &str) -> Option<u64> {
    cell.split_whitespace().next()?.parse().ok()
}

#[test]
fn every_fixture_agrees_with_tshark_or_says_why_not() {
    let table = std::fs::read_to_string(fixtures().join("oracle.tsv")).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let listed: BTreeMap<(&str, &str), &str> = DIFFERENCES
        .iter()
        .map(|(p, f, why)| ((*p, *f), *why))
        .collect();
    let mut seen = Vec::new();
    let mut unexplained = Vec::new();
    let mut files = 0;
    for line in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        let path = cells[col("path")];
        let r = analyze(path);
        files += 1;
        let ours = [
            ("frames", r.frames),
            ("tcp", r.tcp_segments),
            ("flows", r.flows.len() as u64),
            (
                "rsts",
                r.flows
                    .iter()
                    .map(|f| f.rsts.len() as u64 + u64::from(f.rsts_dropped))
                    .sum(),
            ),
        ];
        let theirs = [
            number(cells[col("packets")]),
            number(cells[col("tcp_packets")]),
            number(cells[col("tcp_conversations")]),
            number(cells[col("tcp_rst_packets")]),
        ];
        for ((field, our), their) in ours.into_iter().zip(theirs) {
            let Some(their) = their else { continue };
            if our != their {
                if listed.contains_key(&(path, field)) {
                    seen.push((path, field));
                } else {
                    unexplained.push(format!("{path}: {field} bttrace {our}, tshark {their}"));
                }
            }
        }
    }
    assert!(files >= 150, "the oracle lists {files} files");
    assert!(
        unexplained.is_empty(),
        "unexplained differences:\n{}",
        unexplained.join("\n")
    );
    let stale: Vec<_> = listed.keys().filter(|k| !seen.contains(k)).collect();
    assert!(
        stale.is_empty(),
        "listed differences that no longer occur: {stale:?}"
    );
}

#[test]
fn files_that_cannot_be_read_say_why_in_one_line() {
    for (path, says) in [
        (
            "libpcap/pcap-invalid-version-1.pcap",
            "unsupported pcap version 1.4",
        ),
        (
            "libpcap/pcapng-invalid-vers-1.pcapng",
            "unsupported pcapng version 0.1",
        ),
        (
            "libpcap/pcapng-invalid-vers-2.pcapng",
            "unsupported pcapng version 1.1",
        ),
        (
            "pcapplusplus/pcapng-example.pcapng.zst",
            "zstd-compressed file",
        ),
        ("pcapplusplus/solaris.snoop", "Solaris snoop"),
    ] {
        let r = analyze(path);
        let e = r.error.unwrap_or_else(|| panic!("{path} should fail"));
        assert!(e.contains(says), "{path}: {e}");
        assert!(!e.contains('\n'));
    }
}

#[test]
fn damaged_files_keep_what_came_before_the_damage() {
    for (path, frames, says) in [
        ("derived/http-mime-truncated-first64k.pcap", 63, "cut short"),
        (
            "suricata-verify/10.7.29.101_49898-178.63.41.150_25.pcap",
            18,
            "corrupt from here",
        ),
        (
            "suricata-verify/tls_DER-incomplete-header.pcap",
            6,
            "corrupt from here",
        ),
        ("libpcap/shb-option-too-long.pcapng", 0, "trailing length"),
    ] {
        let r = analyze(path);
        assert_eq!(r.frames, frames, "{path}");
        let text = format!("{:?} {:?}", r.notes, r.error);
        assert!(text.contains(says), "{path}: {text}");
    }
}

#[test]
fn gzip_copies_read_like_the_originals() {
    for (gz, plain) in [
        ("derived/bt-tcp.pcap.gz", "arkime/bt-tcp.pcap"),
        (
            "derived/pcapng-multi-interface.pcapng.gz",
            "zeek/pcapng-multi-interface.pcapng",
        ),
    ] {
        let (a, b) = (analyze(gz), analyze(plain));
        assert!(a.gzip && !b.gzip);
        assert_eq!(a.frames, b.frames);
        assert_eq!(a.flows.len(), b.flows.len());
        let bytes = |r: &CaptureReport| {
            r.flows
                .iter()
                .map(|f| (f.bytes_up, f.bytes_down))
                .collect::<Vec<_>>()
        };
        assert_eq!(bytes(&a), bytes(&b));
    }
}

/// The flows table for a fixture, as `--csv` writes it.
fn flows_csv(rel: &str) -> String {
    let r = analyze(rel);
    let mut w = bttrace::report::csv::FlowsCsv::new(Vec::new()).unwrap();
    w.capture(&r).unwrap();
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

#[test]
fn golden_flow_tables() {
    for rel in [
        "netns/bt_download_full.pcap",
        "netns/bt_upload_s96.pcap",
        "netns/control_6881.pcap",
        "netns/bt_and_control.pcapng",
        "netns/any_sll.pcap",
        "netns/reset_by_server.pcap",
        "netns/refused.pcap",
        "netns/glasnost_rawip_200.pcap",
        "ndpi/bittorrent.pcap",
        "ndpi/bittorrent_tcp_miss.pcapng",
        "arkime/bt-tcp.pcap",
        "tripwire/airtel_example.pcap",
        "zeek/handshake-reorder.pcap",
        "zeek/reassembly.pcap",
        "zeek/ipv6.pcap",
        "pcapplusplus/one_tcp_stream_max_seq.pcap",
    ] {
        let name = rel.replace(['/', '.'], "_");
        insta::assert_snapshot!(name, flows_csv(rel));
    }
}

#[test]
fn golden_json_reports() {
    for rel in [
        "zeek/syn-then-rst.pcap",
        "arkime/bt-tcp.pcap",
        "tcpdump/tcp_rst_data.pcap",
    ] {
        let r = analyze(rel);
        let name = format!("json_{}", rel.replace(['/', '.'], "_"));
        insta::assert_json_snapshot!(name, r);
    }
}
