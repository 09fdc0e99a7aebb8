//! Bytes → `analyze_bytes` → JSON, text and CSV reports.
//!
//! The input length picks the options (so a mutation of the capture keeps them): with
//! `--messages` or not, and default bounds or tiny ones (4 flows, a 2 KiB / 8-piece
//! out-of-order buffer) so small inputs reach the flow-retirement and overflow paths.
//!
//! Properties: no panic; the report serializes to valid JSON; the error, if any, is one line;
//! the text and CSV writers accept every report.
#![no_main]

use std::hint::black_box;

use bttrace::flows::Limits;
use bttrace::report::csv::FlowsCsv;
use bttrace::report::text::write_capture;
use bttrace::{Options, analyze_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut opts = Options::default();
    match data.len() % 4 {
        0 => {}
        1 => opts.messages = true,
        v => {
            opts.messages = v == 3;
            opts.max_flows = 4;
            opts.interval_ms = 1;
            opts.reassembly = Limits {
                max_pending_bytes: 2048,
                max_pending_pieces: 8,
            };
        }
    }
    let report = analyze_bytes("fuzz.pcap", data.to_vec(), &opts);
    if let Some(e) = &report.error {
        assert!(!e.contains('\n'), "multi-line error: {e:?}");
    }
    assert!(report.tcp_segments <= report.frames);
    if opts.max_flows == 4 {
        // The table holds at most max_flows live flows; flows ended by a new connection on
        // their 4-tuple are listed too, but every flow listed must have its own id.
        let mut ids: Vec<u32> = report.flows.iter().map(|f| f.id).collect();
        ids.dedup();
        assert_eq!(
            ids.len(),
            report.flows.len(),
            "flow ids repeat or are out of order"
        );
    }

    let json = serde_json::to_vec(&report).expect("report serializes");
    let _: serde_json::Value = serde_json::from_slice(&json).expect("JSON parses back");

    let mut text = Vec::new();
    write_capture(&mut text, &report).expect("text report writes");
    assert!(std::str::from_utf8(&text).is_ok());

    let mut csv = FlowsCsv::new(Vec::new()).expect("csv header");
    csv.capture(&report).expect("csv rows");
    black_box(csv.into_inner().expect("csv flush").len());
});
