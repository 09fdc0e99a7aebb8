//! Bytes → two captures → `compare_bytes` (the client's and the server's) → the text report
//! and the JSON report, each part as it is handed on.
//!
//! The input is split in two: its first two bytes (little-endian) give the length of the
//! client's capture, taken from the bytes after them (clamped to what there is); the rest is
//! the server's capture. A small packet bound (from the first byte) lets small inputs reach
//! the `--max-packets` cut.
//!
//! Properties: no panic; a capture error is one line; the JSON parses back; every text line
//! is free of control characters other than the newline.
#![no_main]

use bttrace::report::{json::CompareJson, text};
use bttrace::rst::compare::{MAX_PACKETS, compare_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(2));
    let n = match head {
        [a, b] => usize::from(u16::from_le_bytes([*a, *b])),
        _ => 0,
    };
    let (client, server) = rest.split_at(n.min(rest.len()));
    let max_packets = if head.first().is_some_and(|b| b & 1 == 1) {
        16
    } else {
        MAX_PACKETS
    };
    let mut out = Vec::new();
    let text_done = compare_bytes(
        ("client.pcap", client.to_vec()),
        ("server.pcap", server.to_vec()),
        max_packets,
        |p| text::write_compare_part(&mut out, &p),
    );
    match text_done {
        Ok(()) => {
            let s = std::str::from_utf8(&out).expect("text report is UTF-8");
            assert!(
                !s.chars().any(|c| c.is_control() && c != '\n'),
                "a control character in the text report"
            );
        }
        Err(e) => assert!(!e.to_string().contains('\n'), "a two-line error: {e}"),
    }
    let mut buf = Vec::new();
    let mut json = CompareJson::new(&mut buf);
    let json_done = compare_bytes(
        ("client.pcap", client.to_vec()),
        ("server.pcap", server.to_vec()),
        max_packets,
        |p| json.part(p),
    );
    if json_done.is_ok() {
        json.end().expect("JSON end");
        let _: serde_json::Value = serde_json::from_slice(&buf).expect("the JSON parses back");
    }
});
