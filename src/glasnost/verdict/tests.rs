//! The study's own numbers (seed section 6): each rule's conclusions against the study's.
//! Speeds are in kbit/s as printed; the rules only compare them.

use super::*;

/// Transfers of one kind, direction and port from a row of the study's speeds.
fn runs(proto: Proto, dir: Dir, port: PortClass, kbps: &[f64]) -> Vec<Transfer> {
    kbps.iter()
        .enumerate()
        .map(|(i, &k)| Transfer {
            proto,
            dir: Some(dir),
            port_class: port,
            port: if port == PortClass::App { 6881 } else { 10009 },
            repetition: i as u32,
            goodput_bps: Some(k * 1000.0),
            outcome: Outcome::Completed,
            signal: false,
            forged: false,
            series_bps: Vec::new(),
        })
        .collect()
}

/// A table of the study: (TCP, BitTorrent) speeds per direction and port.
struct Isp {
    name: &'static str,
    /// (direction, port, TCP speeds, BitTorrent speeds)
    tables: Vec<(Dir, PortClass, Vec<f64>, Vec<f64>)>,
}

impl Isp {
    fn transfers(&self) -> Vec<Transfer> {
        let mut v = Vec::new();
        for (d, p, tcp, bt) in &self.tables {
            v.extend(runs(Proto::Tcp, *d, *p, tcp));
            v.extend(runs(Proto::Bt, *d, *p, bt));
        }
        v
    }
}

use Dir::{Download as D, Upload as U};
use PortClass::{App as A, Other as O};

fn isps() -> Vec<Isp> {
    vec![
        Isp {
            name: "HGC",
            tables: vec![
                (D, A, vec![3570., 2035.], vec![2773., 2582.]),
                (U, A, vec![5342., 5233., 5236.], vec![5203., 5305., 5310.]),
                (U, O, vec![5455., 5246., 5418.], vec![5136., 5346., 5350.]),
                // Not in section 6.11's tables: Monday of the weekly table.
                (D, O, vec![5342., 5233.], vec![5455., 5246.]),
            ],
        },
        Isp {
            name: "i-Cable",
            tables: vec![
                (D, A, vec![237., 336., 357.], vec![404., 351., 309.]),
                (U, A, vec![295., 277., 202.], vec![186., 165., 262.]),
                (D, O, vec![335., 315., 350.], vec![317., 330., 365.]),
                (U, O, vec![1144., 1147., 1147.], vec![178., 204., 231.]),
            ],
        },
        Isp {
            name: "Smartone",
            tables: vec![
                (D, A, vec![1206., 1157., 1112.], vec![1363., 1080., 1167.]),
                (U, A, vec![74., 80., 92.], vec![86., 92., 92.]),
                (D, O, vec![1054., 1048., 1190.], vec![948., 1158., 1153.]),
                (U, O, vec![75., 81., 90.], vec![90., 89., 80.]),
            ],
        },
        Isp {
            name: "HK Broadband",
            tables: vec![
                (D, O, vec![629., 590., 472.], vec![637., 623., 623.]),
                (U, O, vec![1082., 1049., 1078.], vec![941., 1076., 1073.]),
            ],
        },
        Isp {
            name: "PCCW",
            tables: vec![
                (D, A, vec![38., 45., 45.], vec![18., 27., 52.]),
                (U, A, vec![100., 161., 179.], vec![195., 145., 191.]),
                (D, O, vec![435., 419., 432.], vec![65., 58., 81.]),
                (U, O, vec![386., 392., 253.], vec![175., 164., 172.]),
            ],
        },
    ]
}

/// The study's row conclusions, per ISP, direction and port ("Potential rate limiting" =
/// true), as printed in its "Transfer | Speed TCP | Speed BitTorrent | Conclusion" tables.
fn printed_rows(isp: &str, d: Dir, p: PortClass) -> Option<Vec<bool>> {
    Some(match (isp, d, p) {
        ("HGC", D, A) => vec![false, false],
        ("HGC", U, A) | ("HGC", U, O) => vec![false; 3],
        ("i-Cable", U, O) => vec![true; 3],
        ("i-Cable", _, _) => vec![false; 3],
        ("Smartone", _, _) => vec![false; 3],
        ("HK Broadband", _, O) => vec![false; 3],
        ("PCCW", D, A) => vec![true, false, false],
        ("PCCW", U, A) => vec![false; 3],
        ("PCCW", D, O) => vec![true; 3],
        ("PCCW", U, O) => vec![true, true, false],
        _ => return None,
    })
}

#[test]
fn the_row_rule_reproduces_every_printed_row_conclusion() {
    let mut checked = 0;
    for isp in isps() {
        let ts = isp.transfers();
        for (d, p, _, _) in &isp.tables {
            let Some(want) = printed_rows(isp.name, *d, *p) else {
                continue;
            };
            let bt = select(&ts, Proto::Bt, *d, *p);
            let tcp = select(&ts, Proto::Tcp, *d, *p);
            let got: Vec<bool> = study_compare(&tcp, &bt)
                .rows
                .iter()
                .map(|r| r.limited.unwrap())
                .collect();
            assert_eq!(got, want, "{} {d:?} {p:?}", isp.name);
            checked += got.len();
        }
    }
    assert_eq!(checked, 50);
}

#[test]
fn the_port_comparison_reproduces_the_printed_tables() {
    // "TCP Transfer | BitTorrent port | Non-BitTorrent port | Conclusion".
    let cases = [
        (
            "i-Cable download",
            vec![237., 336., 357.],
            vec![335., 315., 350.],
            vec![false; 3],
        ),
        (
            "i-Cable upload",
            vec![295., 277., 202.],
            vec![1144., 1147., 1147.],
            vec![true; 3],
        ),
        (
            "Smartone download",
            vec![1206., 1157., 1112.],
            vec![1054., 1048., 1190.],
            vec![false; 3],
        ),
        (
            "Smartone upload",
            vec![74., 80., 92.],
            vec![75., 81., 90.],
            vec![false; 3],
        ),
        (
            "PCCW download",
            vec![38., 45., 45.],
            vec![435., 419., 432.],
            vec![true; 3],
        ),
        (
            "PCCW upload",
            vec![100., 161., 179.],
            vec![386., 392., 253.],
            vec![true, true, false],
        ),
        (
            "HGC",
            vec![5342., 5233., 5236.],
            vec![5455., 5246., 5418.],
            vec![false; 3],
        ),
    ];
    for (name, app, other, want) in cases {
        let a = runs(Proto::Tcp, D, A, &app);
        let o = runs(Proto::Tcp, D, O, &other);
        let c = study_compare(&o.iter().collect::<Vec<_>>(), &a.iter().collect::<Vec<_>>());
        let got: Vec<bool> = c.rows.iter().map(|r| r.limited.unwrap()).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn the_stated_rule_is_stricter_than_the_tables() {
    // PCCW's upload on the neutral port: two of three rows say "potential rate limiting", but
    // the slowest TCP (253) is not twice the fastest BitTorrent (175).
    let ts = isps()
        .into_iter()
        .find(|i| i.name == "PCCW")
        .unwrap()
        .transfers();
    let c = study_compare(
        &select(&ts, Proto::Tcp, U, O),
        &select(&ts, Proto::Bt, U, O),
    );
    assert_eq!(
        (c.stated, c.rows_majority, c.limited),
        (Some(false), Some(true), Some(true))
    );
    // PCCW's download on 6881: one row of three; the stated rule says no (38 < 2 x 52).
    let c = study_compare(
        &select(&ts, Proto::Tcp, D, A),
        &select(&ts, Proto::Bt, D, A),
    );
    assert_eq!((c.stated, c.rows_majority), (Some(false), Some(false)));
}

/// The study's summary row (section 8.1): block app, block other, throttle upload app,
/// upload other, download app, download other.
fn summary_of(isp: &str) -> [Cell; 6] {
    use Cell::{No as N, NotApplicable as Na, Yes as Y};
    match isp {
        "HGC" | "Smartone" | "i-Cable" => [N, N, N, N, N, N],
        "PCCW" => [N, N, Y, Y, Y, Y],
        "HK Broadband" => [Y, N, Na, N, Na, N],
        _ => unreachable!(),
    }
}

fn row(s: &Summary) -> [Cell; 6] {
    [
        s.block_bt_app_port,
        s.block_bt_other_port,
        s.throttle_bt_upload_app_port,
        s.throttle_bt_upload_other_port,
        s.throttle_bt_download_app_port,
        s.throttle_bt_download_other_port,
    ]
}

#[test]
fn the_summary_row_matches_the_study_except_where_the_study_contradicts_itself() {
    for isp in isps() {
        let mut ts = isp.transfers();
        if isp.name == "HK Broadband" {
            // "No connection on port 6881 was ever possible", both directions.
            for d in [U, D] {
                for proto in [Proto::Bt, Proto::Tcp] {
                    ts.push(Transfer {
                        goodput_bps: None,
                        outcome: Outcome::NoConnection,
                        ..runs(proto, d, A, &[0.0]).remove(0)
                    });
                }
            }
        }
        let v = verdicts(&ts);
        let got = row(&v.summary);
        let mut want = summary_of(isp.name);
        if isp.name == "i-Cable" {
            // Section 6.12's weekly table concludes upload rate limiting on both ports
            // ("Yes", every day tested); section 8.1 says "No". bttrace follows the tables:
            // TCP uploads on the neutral port ran at 1144-1147 kbit/s, BitTorrent at 178-231,
            // and TCP uploads on 6881 at 202-295.
            want[2] = Cell::Yes;
            want[3] = Cell::Yes;
        }
        assert_eq!(got, want, "{}: {:?}", isp.name, v.summary.why);
    }
}

#[test]
fn glasnost_rule_on_the_study_numbers() {
    // PCCW download on 6881: BitTorrent 18, 27, 52: noise (52 - 27) / 52 = 0.48.
    let c = glasnost_compare("x", &[18., 27., 52.], &[38., 45., 45.]);
    assert_eq!(c.verdict, Diff::Inconclusive);
    assert!(c.why.contains("noisy"));
    // PCCW download on the neutral port: 81 against 435, noise 0.20 and 0.01.
    let c = glasnost_compare("x", &[65., 58., 81.], &[435., 419., 432.]);
    assert_eq!((c.verdict, c.a_slower), (Diff::Differentiated, Some(true)));
    // Smartone: within 20 %.
    let c = glasnost_compare("x", &[86., 92., 92.], &[74., 80., 92.]);
    assert_eq!(c.verdict, Diff::None);
    // Two repetitions: the threshold is 0.5.
    let c = glasnost_compare("x", &[10., 10.], &[16., 16.]);
    assert_eq!((c.threshold, c.verdict), (0.5, Diff::None));
    let c = glasnost_compare("x", &[10.], &[30.]);
    assert_eq!(c.verdict, Diff::Inconclusive);
}

#[test]
fn noise_alone_never_makes_a_yes() {
    // The study's row rule says limited (TCP twice BitTorrent in two of three rows) but every
    // side is too noisy for Glasnost's rule and there are no intervals for the statistics.
    let mut ts = runs(Proto::Tcp, U, O, &[1000., 1000., 300.]);
    ts.extend(runs(Proto::Bt, U, O, &[450., 100., 150.]));
    let t = throttling(&ts, U, O);
    assert_eq!(t.study.limited, Some(true));
    assert_eq!(t.glasnost.verdict, Diff::Inconclusive);
    assert_eq!(t.cell, Cell::Inconclusive);
}

#[test]
fn statistics_find_throttling_and_level_shifts() {
    let steady = |mean: f64, n: usize| -> Vec<f64> {
        (0..n)
            .map(|i| mean * (1.0 + 0.05 * ((i * 7 % 5) as f64 - 2.0) / 2.0))
            .collect()
    };
    let c = stat_compare("x", &steady(200e3, 50), &steady(1e6, 50));
    assert_eq!(c.verdict, Diff::Differentiated);
    assert!(c.p_value.unwrap() < 1e-6 && c.area.unwrap() > 0.7);
    let c = stat_compare("x", &steady(1e6, 50), &steady(1e6, 50));
    assert_eq!(c.verdict, Diff::None);
    assert_eq!(
        stat_compare("x", &steady(1.0, 5), &steady(9.0, 50)).verdict,
        Diff::Inconclusive
    );
    // Full speed for 8 intervals, then a token bucket runs dry.
    let mut s = steady(1e6, 8);
    s.extend(steady(1e5, 30));
    let shift = level_shift(&s).unwrap();
    assert_eq!(shift.at_interval, 8);
    assert!(shift.after_bps < 0.2 * shift.before_bps);
    assert!(level_shift(&steady(1e6, 40)).is_none());
}

#[test]
fn ks_p_values_are_sane() {
    assert!((ks_p_value(0.0, 50, 50) - 1.0).abs() < 1e-9);
    assert!(ks_p_value(1.0, 50, 50) < 1e-10);
    // Critical value for n = m = 50 at 5 %: about 0.27.
    assert!(ks_p_value(0.30, 50, 50) < 0.05);
    assert!(ks_p_value(0.20, 50, 50) > 0.05);
    assert_eq!(ks_statistic(&[1., 2., 3.], &[1., 2., 3.]), 0.0);
    assert_eq!(ks_statistic(&[1., 2.], &[3., 4.]), 1.0);
}

#[test]
fn blocking_cells_and_bases() {
    let mut ts = runs(Proto::Tcp, U, A, &[500.]);
    ts.extend(runs(Proto::Tcp, U, O, &[500.]));
    ts.extend(runs(Proto::Bt, U, O, &[500.]));
    let mut reset = runs(Proto::Bt, U, A, &[0.]).remove(0);
    reset.outcome = Outcome::Reset;
    reset.signal = true;
    reset.goodput_bps = None;
    ts.push(reset);
    let v = verdicts(&ts);
    assert_eq!(v.summary.block_bt_app_port, Cell::Yes);
    assert_eq!(v.summary.block_bt_other_port, Cell::No);
    assert_eq!(v.summary.blocking_basis, vec!["port", "protocol"]);
    // A failure without the reset signal, beside a success: not enough to say blocked.
    ts.last_mut().unwrap().signal = false;
    ts.extend(runs(Proto::Bt, U, A, &[480.]).into_iter().map(|mut t| {
        t.repetition = 1;
        t
    }));
    assert_eq!(verdicts(&ts).summary.block_bt_app_port, Cell::Inconclusive);
}
