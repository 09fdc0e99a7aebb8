use proptest::prelude::*;

use super::*;
use crate::glasnost::TestSeries;
use crate::synth::glasnost::{Fate, Plan, capture, test};

/// A short synthetic Glasnost test: BitTorrent throttled on downloads at the BitTorrent port,
/// one upload reset, one control download never connected.
pub(crate) fn synthetic(path: &str) -> CaptureReport {
    let plan = Plan {
        transfer_ms: 1_000,
        spacing_ms: 1_500,
        ..Plan::default()
    };
    let packets = test(&plan, |proto, dir, class, rep| {
        match (proto, dir, class, rep) {
            (Proto::Bt, Dir::Upload, PortClass::App, 1) => Fate::Reset,
            (Proto::Bt, Dir::Download, PortClass::App, _) => Fate::Throttled,
            (Proto::Tcp, Dir::Download, PortClass::Other, 2) => Fate::NoConnection,
            _ => Fate::Normal,
        }
    });
    crate::analyze_bytes(
        path,
        capture(&packets, Some(200)),
        &crate::Options::default(),
    )
}

fn transfer(
    kind: Proto,
    dir: Option<Dir>,
    rep: u32,
    bps: Option<f64>,
    series: Vec<f64>,
) -> TestReport {
    TestReport {
        kind,
        direction: dir,
        port: 6881,
        port_class: PortClass::App,
        repetition: rep,
        goodput_bps: bps,
        outcome: Outcome::Completed,
        flow: 1,
        data_bytes: 0,
        data_seconds: None,
        series: TestSeries {
            interval_ms: 100.0,
            bps: series,
        },
        rsts: Vec::new(),
        reset_after_bt_exchange_ms: None,
        blocking_signal: false,
        forged_reset: false,
        guessed: Vec::new(),
        log: None,
        log_disagrees: Vec::new(),
    }
}

fn with_tests(path: &str, tests: Vec<TestReport>) -> CaptureReport {
    let mut r = CaptureReport::failed(path.to_string(), String::new());
    r.error = None;
    r.tests = tests;
    r
}

/// Parses the SVG as XML (so it is well-formed, escapes and all) and returns it.
fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{svg}"))
}

fn rects_filled(svg: &str, color: &str) -> usize {
    parse(svg)
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some(color))
        .count()
}

fn data_lines(svg: &str) -> usize {
    let width = LINE_WIDTH.to_string();
    parse(svg)
        .descendants()
        .filter(|n| {
            n.has_tag_name("polyline") && n.attribute("stroke-width") == Some(width.as_str())
        })
        .count()
}

fn texts(svg: &str) -> Vec<String> {
    parse(svg)
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect()
}

#[test]
fn a_glasnost_test_draws_a_line_per_transfer_and_bars_for_completed_ones() {
    let r = synthetic("captures/test.pcap");
    assert_eq!(r.tests.len(), 24, "{:?}", r.error);
    let with_data = r.tests.iter().filter(|t| !t.series.bps.is_empty()).count();
    let g = goodput_chart(&r).expect("a goodput chart");
    assert_eq!(data_lines(&g), with_data);
    assert!(with_data >= 20, "{with_data}");
    let legend = texts(&g);
    assert!(
        legend.iter().any(|t| t == "BitTorrent #2: reset"),
        "{legend:?}"
    );
    assert!(
        legend.iter().any(|t| t == "control #3: no connection"),
        "{legend:?}"
    );
    assert!(
        legend.iter().any(|t| t.starts_with("Download, port 6881")),
        "{legend:?}"
    );

    let c = comparison_chart(&r).expect("a comparison chart");
    let completed = |k: Proto| {
        r.tests
            .iter()
            .filter(|t| t.kind == k && t.outcome == Outcome::Completed)
            .count()
    };
    // One swatch in the legend, one bar per completed transfer.
    assert_eq!(rects_filled(&c, BT_COLOR), completed(Proto::Bt) + 1);
    assert_eq!(rects_filled(&c, TCP_COLOR), completed(Proto::Tcp) + 1);
    let words = texts(&c);
    assert!(words.iter().any(|t| t == "reset"), "{words:?}");
    assert!(words.iter().any(|t| t == "no connection"), "{words:?}");
    assert!(words.iter().any(|t| t == "down 6881 #1"), "{words:?}");
}

#[test]
fn no_tests_no_charts() {
    let r = CaptureReport::failed("x.pcap".into(), "not a capture".into());
    assert!(goodput_chart(&r).is_none());
    assert!(comparison_chart(&r).is_none());
}

#[test]
fn text_is_escaped_and_cleaned() {
    let path = "dir/<img src=x onerror='alert(1)'> &amp; \"q\"\u{0}\u{1b}[31m\u{FFFF}.pcap";
    let r = with_tests(
        path,
        vec![transfer(
            Proto::Bt,
            Some(Dir::Upload),
            1,
            Some(1e6),
            vec![1e6; 5],
        )],
    );
    for svg in [goodput_chart(&r).unwrap(), comparison_chart(&r).unwrap()] {
        assert!(!svg.contains("<img"), "{svg}");
        assert!(!svg.contains('\u{0}') && !svg.contains('\u{1b}'));
        let t = texts(&svg);
        assert!(
            t.iter().any(|t| t.ends_with(
                ": <img src=x onerror='alert(1)'> &amp; \"q\"\u{FFFD}\u{FFFD}[31m\u{FFFD}.pcap"
            )),
            "{t:?}"
        );
    }
    let w = weekday_chart(&WeekdayChart {
        title: "ISP <b>&amp;</b>".into(),
        days: vec![WeekdayBars {
            day: "Mon\u{7}<i>".into(),
            ..WeekdayBars::default()
        }],
    });
    let t = texts(&w);
    assert!(t.iter().any(|t| t == "ISP <b>&amp;</b>"), "{t:?}");
    assert!(t.iter().any(|t| t == "Mon\u{FFFD}<i>"), "{t:?}");
    assert_eq!(clean_text(&"x".repeat(500)).chars().count(), MAX_TEXT + 1);
}

#[test]
fn missing_values_are_absent_not_zero() {
    let day = |name: &str, tcp_down: Option<f64>| WeekdayBars {
        day: name.into(),
        tcp_download_bps: tcp_down,
        tcp_upload_bps: None,
        bt_download_bps: None,
        bt_upload_bps: Some(0.0),
        ..WeekdayBars::default()
    };
    let svg = weekday_chart(&WeekdayChart {
        title: "Open Net".into(),
        days: vec![day("Monday", Some(2_802_500.0)), day("Tuesday", None)],
    });
    // Legend swatch plus bars: Monday's TCP download only; BT upload's measured zeros are bars.
    assert_eq!(rects_filled(&svg, TCP_COLOR), 2);
    assert_eq!(rects_filled(&svg, TCP_UPLOAD_COLOR), 1);
    assert_eq!(rects_filled(&svg, BT_COLOR), 1);
    assert_eq!(rects_filled(&svg, BT_UPLOAD_COLOR), 3);
    let t = texts(&svg);
    assert_eq!(t.iter().filter(|t| *t == "no data").count(), 5, "{t:?}");
    // The axis reaches the one value (2802.5 kbps).
    assert!(t.iter().any(|t| t == "2500"), "{t:?}");

    // A completed transfer without a rate, and a reset one with a rate, draw no bar.
    let mut reset = transfer(Proto::Bt, Some(Dir::Download), 1, Some(5e5), vec![]);
    reset.outcome = Outcome::Reset;
    let r = with_tests(
        "x",
        vec![
            transfer(Proto::Tcp, Some(Dir::Download), 1, None, vec![]),
            reset,
        ],
    );
    let c = comparison_chart(&r).unwrap();
    assert_eq!(rects_filled(&c, TCP_COLOR), 1);
    assert_eq!(rects_filled(&c, BT_COLOR), 1);
    let t = texts(&c);
    assert!(
        t.iter().any(|t| t == "no rate") && t.iter().any(|t| t == "reset"),
        "{t:?}"
    );
    let g = goodput_chart(&r).unwrap();
    assert_eq!(data_lines(&g), 0);
}

#[test]
fn absent_points_split_a_line() {
    let series = vec![1e5, 2e5, f64::NAN, 3e5, f64::INFINITY, -1.0, 4e5, 5e5];
    let r = with_tests(
        "x",
        vec![transfer(Proto::Bt, Some(Dir::Upload), 1, Some(1e5), series)],
    );
    assert_eq!(data_lines(&goodput_chart(&r).unwrap()), 3);
}

#[test]
fn long_series_are_thinned() {
    let series: Vec<f64> = (0..100_000).map(|i| f64::from(i % 7) * 1e5).collect();
    let r = with_tests("x", vec![transfer(Proto::Tcp, None, 1, Some(1e5), series)]);
    let svg = goodput_chart(&r).unwrap();
    let doc = parse(&svg);
    let line = doc
        .descendants()
        .find(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .expect("a data line");
    let points = line.attribute("points").unwrap().split_whitespace().count();
    assert!(points <= MAX_POINTS, "{points}");
}

#[test]
fn degenerate_inputs_draw() {
    let empty = weekday_chart(&WeekdayChart::default());
    assert!(texts(&empty).iter().any(|t| t == "no data to draw"));
    let odd = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -5.0,
        0.0,
        f64::MIN_POSITIVE,
        f64::MAX,
        1e300,
    ];
    let days: Vec<WeekdayBars> = odd
        .iter()
        .map(|&v| WeekdayBars {
            day: format!("{v}"),
            tcp_download_bps: Some(v),
            tcp_upload_bps: Some(v),
            bt_download_bps: Some(v),
            bt_upload_bps: None,
            spread: [
                Some(Spread {
                    n: 3,
                    min_bps: v,
                    max_bps: v,
                }),
                Some(Spread {
                    n: 2,
                    min_bps: 0.0,
                    max_bps: v,
                }),
                Some(Spread {
                    n: 0,
                    min_bps: v,
                    max_bps: 1.0,
                }),
                None,
            ],
        })
        .collect();
    parse(&weekday_chart(&WeekdayChart {
        title: String::new(),
        days,
    }));
    let mut tests: Vec<TestReport> = odd
        .iter()
        .enumerate()
        .map(|(i, &v)| transfer(Proto::Bt, Some(Dir::Upload), i as u32, Some(v), vec![v; 3]))
        .collect();
    tests[0].series.interval_ms = f64::NAN;
    tests[1].series.interval_ms = 0.0;
    tests[2].series.interval_ms = f64::MAX;
    tests[3].series.bps.clear();
    let r = with_tests("", tests);
    parse(&goodput_chart(&r).unwrap());
    parse(&comparison_chart(&r).unwrap());
    // Many ports: panels beyond the bound are named, not drawn.
    let many: Vec<TestReport> = (0..40)
        .map(|i| {
            let mut t = transfer(Proto::Tcp, Some(Dir::Download), 1, Some(1e6), vec![1e6; 4]);
            t.port = 1000 + i;
            t
        })
        .collect();
    let g = goodput_chart(&with_tests("x", many.clone())).unwrap();
    assert_eq!(data_lines(&g), MAX_PANELS);
    assert!(texts(&g).iter().any(|t| t.starts_with("24 more panels")));
    let c = comparison_chart(&with_tests("x", many)).unwrap();
    assert_eq!(rects_filled(&c, TCP_COLOR), 41);
    // Many transfers on one port: lines and groups beyond the bounds are counted, not drawn.
    let crowd: Vec<TestReport> = (0..20_000)
        .map(|i| transfer(Proto::Bt, Some(Dir::Upload), i, Some(1e6), vec![1e6; 4]))
        .collect();
    let r = with_tests("x", crowd);
    let g = goodput_chart(&r).unwrap();
    assert_eq!(data_lines(&g), MAX_LINES);
    assert!(
        texts(&g).iter().any(|t| t.ends_with("(19940 not drawn)")),
        "{:?}",
        texts(&g)
    );
    let c = comparison_chart(&r).unwrap();
    assert_eq!(rects_filled(&c, BT_COLOR), MAX_GROUPS + 1);
    assert!(texts(&c).iter().any(|t| t == "19800 more groups not drawn"));
}

fn any_rate() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        Just(None),
        any::<f64>().prop_map(Some),
        (0.0..1e9f64).prop_map(Some),
    ]
}

fn any_test() -> impl Strategy<Value = TestReport> {
    (
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some(Dir::Upload)),
            Just(Some(Dir::Download))
        ],
        any::<u16>(),
        0..5u32,
        any_rate(),
        prop::collection::vec(any::<f64>(), 0..40),
        any::<f64>(),
        0..4u8,
    )
        .prop_map(|(bt, dir, port, rep, bps, series, interval, outcome)| {
            let kind = if bt { Proto::Bt } else { Proto::Tcp };
            let mut t = transfer(kind, dir, rep, bps, series);
            t.port = port;
            t.port_class = if port % 2 == 0 {
                PortClass::App
            } else {
                PortClass::Other
            };
            t.series.interval_ms = interval;
            t.outcome = [
                Outcome::Completed,
                Outcome::Reset,
                Outcome::NoConnection,
                Outcome::NoData,
            ][usize::from(outcome)];
            t
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_transfers_give_well_formed_charts(
        path in any::<String>(),
        tests in prop::collection::vec(any_test(), 0..12),
    ) {
        let r = with_tests(&path, tests);
        let g = goodput_chart(&r);
        let c = comparison_chart(&r);
        prop_assert_eq!(g.is_some(), !r.tests.is_empty());
        prop_assert_eq!(c.is_some(), !r.tests.is_empty());
        for svg in g.iter().chain(&c) {
            prop_assert!(roxmltree::Document::parse(svg).is_ok(), "{}", svg);
        }
    }

    #[test]
    fn any_week_gives_a_well_formed_chart(
        title in any::<String>(),
        days in prop::collection::vec(
            (any::<String>(), any_rate(), any_rate(), any_rate(), any_rate()),
            0..9,
        ),
    ) {
        let c = WeekdayChart {
            title,
            days: days
                .into_iter()
                .map(|(day, a, b, c, d)| WeekdayBars {
                    day,
                    tcp_download_bps: a,
                    tcp_upload_bps: b,
                    bt_download_bps: c,
                    bt_upload_bps: d,
                    ..WeekdayBars::default()
                })
                .collect(),
        };
        let svg = weekday_chart(&c);
        prop_assert!(roxmltree::Document::parse(&svg).is_ok(), "{}", svg);
        let bars = c
            .days
            .iter()
            .filter(|d| d.tcp_download_bps.is_some_and(|v| v.is_finite() && (0.0..=1e15).contains(&v)))
            .count();
        prop_assert_eq!(rects_filled(&svg, TCP_COLOR), bars + 1);
    }
}

/// The polylines drawn in the whisker colour, as pixel points.
fn whisker_lines(svg: &str) -> Vec<Vec<(f64, f64)>> {
    parse(svg)
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(WHISKER_COLOR))
        .map(|n| {
            n.attribute("points")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| {
                    let (x, y) = p.split_once(',')?;
                    Some((x.parse().ok()?, y.parse().ok()?))
                })
                .collect()
        })
        .collect()
}

/// The bars (not the legend swatch) filled in `color`: (x, y, width, height) in pixels.
fn bars_of(svg: &str, color: &str) -> Vec<(f64, f64, f64, f64)> {
    let num = |n: &roxmltree::Node, a: &str| n.attribute(a).and_then(|v| v.parse::<f64>().ok());
    parse(svg)
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some(color))
        .filter_map(|n| {
            Some((
                num(&n, "x")?,
                num(&n, "y")?,
                num(&n, "width")?,
                num(&n, "height")?,
            ))
        })
        .filter(|&(_, y, _, _)| y > 62.0)
        .collect()
}

#[test]
fn weekday_bars_carry_their_count_and_min_max_whiskers() {
    let spread = |n, min_bps, max_bps| {
        Some(Spread {
            n,
            min_bps,
            max_bps,
        })
    };
    let svg = weekday_chart(&WeekdayChart {
        title: "Open Net".into(),
        days: vec![WeekdayBars {
            day: "Monday".into(),
            // Three transfers of 1, 1 and 4 Mbit/s: mean 2.
            tcp_download_bps: Some(2e6),
            // One transfer: a count, no whiskers.
            bt_upload_bps: Some(5e5),
            spread: [spread(3, 1e6, 4e6), None, None, spread(1, 5e5, 5e5)],
            ..WeekdayBars::default()
        }],
    });
    let t = texts(&svg);
    assert_eq!(t.iter().filter(|t| *t == "n=3").count(), 1, "{t:?}");
    assert_eq!(t.iter().filter(|t| *t == "n=1").count(), 1, "{t:?}");
    assert!(t.iter().any(|t| t == WEEKDAY_CAPTION), "{t:?}");
    // One whisker: its stem and two caps.
    let lines = whisker_lines(&svg);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let stem = lines
        .iter()
        .find(|l| l.len() == 2 && l[0].0 == l[1].0)
        .expect("a vertical stem");
    let [(x, y_lo), (_, y_hi)] = [stem[0], stem[1]];
    let bars = bars_of(&svg, TCP_COLOR);
    assert_eq!(bars.len(), 1, "{bars:?}");
    let (bx, by, bw, bh) = bars[0];
    assert!((x - (bx + bw / 2.0)).abs() <= 1.0, "centred on its bar");
    // Heights above the baseline in proportion to the values: min 1, mean 2, max 4 Mbit/s.
    let base = by + bh;
    assert!(((base - y_lo) / bh - 0.5).abs() < 0.02, "{y_lo} {by} {bh}");
    assert!(((base - y_hi) / bh - 2.0).abs() < 0.02, "{y_hi} {by} {bh}");
    // The axis makes room for the whisker above the tallest bar.
    assert!(y_hi > 62.0);
}
