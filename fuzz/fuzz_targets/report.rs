//! Bytes → an ISP map and a capture → `analyze_bytes` (taken as a Glasnost test) → the weekly
//! report: its text, its three CSV tables and its HTML pages.
//!
//! The input is split at its first 0xff byte: the text before is the `--isp-map` file (kept
//! only when it parses), the bytes after are the capture, analysed under a Glasnost file name
//! with `--glasnost on`, so every capture reaches the report's tables.
//!
//! Properties: no panic; every writer accepts whatever the analysis reported.
#![no_main]

use std::hint::black_box;

use bttrace::glasnost::Mode;
use bttrace::report::{html, weekly as out};
use bttrace::weekly::{Aggregator, GroupBy, IspMap};
use bttrace::{Options, analyze_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (map_text, capture) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let map = IspMap::parse(&String::from_utf8_lossy(map_text)).unwrap_or_default();
    let by = if data.len() % 2 == 0 {
        GroupBy::Weekday
    } else {
        GroupBy::Date
    };
    let opts = Options {
        glasnost: Mode::On,
        ..Options::default()
    };
    let report = analyze_bytes(
        "mlab1.ams01_2010-03-14T07:24:36.000000000Z_198.51.100.7.dump",
        capture.to_vec(),
        &opts,
    );
    let mut agg = Aggregator::new(map, by);
    agg.add(&report);
    let mut text = Vec::new();
    out::write_text(&mut text, &agg).expect("weekly text");
    assert!(std::str::from_utf8(&text).is_ok());
    black_box(out::write_speeds_csv(Vec::new(), &agg).expect("speeds.csv").len());
    black_box(out::write_days_csv(Vec::new(), &agg).expect("days.csv").len());
    black_box(out::write_summary_csv(Vec::new(), &agg).expect("summary.csv").len());
    for (_, page) in out::html_pages(&agg) {
        let mut w = Vec::new();
        html::write_page(&mut w, &page).expect("html page");
        black_box(w.len());
    }
});
