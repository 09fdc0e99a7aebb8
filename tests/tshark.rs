//! The `tcp_stream` of every flow is Wireshark's `tcp.stream` for the flow's first frame, as
//! `tshark -T fields -e tcp.stream` prints it, on fixtures from several sources: many flows,
//! a reused 4-tuple, mid-stream starts, Glasnost tests, and a fuzzed capture whose skipped
//! frames Wireshark still numbers (there `tcp_stream` is null from the first such frame on).
//!
//! Needs tshark; without it the test says so loudly and passes, unless
//! `BTTRACE_REQUIRE_TSHARK=1`.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::{bttrace, stdout};

const FIXTURES: [&str; 10] = [
    "fixtures/ndpi/bittorrent_transmission.pcapng",
    "fixtures/ndpi/bittorrent.pcap",
    "fixtures/ndpi/fuzz-2006-09-29-28586.pcap",
    "fixtures/zeek/handshake-reorder.pcap",
    "fixtures/arkime/bt-tcp.pcap",
    "fixtures/middlebox/gfw-client.pcap",
    "fixtures/glasnost/port6881-rst/glasnost_198.51.100.1_client.port6881-rst.example_1795508459.dump",
    "fixtures/netns/bt_and_control.pcapng",
    "fixtures/tripwire/airtel_example.pcap",
    "fixtures/suricata-verify/urgent11_cve_2019_12260.pcap",
];

/// Frame number -> tcp.stream, from tshark.
fn tshark_streams(path: &str) -> HashMap<u64, u64> {
    let out = Command::new("tshark")
        .args([
            "-n",
            "-r",
            path,
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "tcp.stream",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark on {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (frame, stream) = l.split_once('\t')?;
            // A frame with a TCP header inside an ICMP error lists two streams: the first is
            // the frame's own.
            let stream = stream.split(',').next()?.parse().ok()?;
            Some((frame.parse().ok()?, stream))
        })
        .collect()
}

fn have_tshark() -> bool {
    Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn tcp_stream_is_wiresharks_tcp_stream() {
    if !have_tshark() {
        assert!(
            std::env::var("BTTRACE_REQUIRE_TSHARK").as_deref() != Ok("1"),
            "tshark is not installed, and BTTRACE_REQUIRE_TSHARK=1"
        );
        eprintln!(
            "\n*** SKIPPED tcp_stream_is_wiresharks_tcp_stream: tshark is not installed \
             (apt-get install tshark); set BTTRACE_REQUIRE_TSHARK=1 to make this a failure ***\n"
        );
        return;
    }
    let (mut checked, mut unknown) = (0, 0);
    for path in FIXTURES {
        let ws = tshark_streams(path);
        let o = bttrace(&["analyze", "--format", "json", path]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let flows = v["captures"][0]["flows"].as_array().unwrap();
        assert!(!flows.is_empty(), "{path}: no flows");
        for f in flows {
            let first = f["first_frame"].as_u64().unwrap();
            let Some(ours) = f["tcp_stream"].as_u64() else {
                unknown += 1;
                continue;
            };
            assert_eq!(
                ws.get(&first).copied(),
                Some(ours),
                "{path}: flow {}",
                f["id"]
            );
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked} flows checked");
    // The fuzzed capture's flows after its first bad TCP header are not vouched for.
    assert!(
        unknown > 0 && unknown < 40,
        "{unknown} flows without a tcp_stream"
    );
}
