//! `bttrace report` and batch CSV on a synthetic week of Glasnost tests with known verdicts:
//! three ISPs (neutral, throttling BitTorrent, blocking port 6881), one test per ISP and day.

use std::path::{Path, PathBuf};
use std::process::Command;

use bttrace::glasnost::verdict::SUMMARY_CELLS;
use bttrace::synth::glasnost::{Plan, WEEK_ISPS, week_pace_us, write_week};

mod common;
use common::bttrace;

/// Short transfers keep the week small: 21 captures of about 0.4 MB.
fn plan() -> Plan {
    Plan {
        transfer_ms: 1_000,
        spacing_ms: 1_500,
        ..Plan::default()
    }
}

fn week(dir: &Path) -> Vec<PathBuf> {
    write_week(dir, &plan(), 1, Some(200)).expect("write the week")
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_week_of_three_isps_gives_the_studys_tables() {
    let dir = tempfile::tempdir().unwrap();
    let captures = week(dir.path());
    assert_eq!(captures.len(), 21);
    let out = dir.path().join("out");
    let map = dir.path().join("isps.txt");
    let o = bttrace(&[
        "report",
        s(dir.path()),
        "--isp-map",
        s(&map),
        "--csv",
        s(&out),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.starts_with("21 captures (0 failed), 3 ISPs"), "{text}");

    // The summary table: one row per ISP, the study's answers.
    let (h, rows) = read_csv(&out.join("summary.csv"));
    assert_eq!(rows.len(), 3);
    for isp in WEEK_ISPS {
        let row = rows
            .iter()
            .find(|r| r[col(&h, "isp")] == isp.name)
            .unwrap_or_else(|| panic!("no row for {}", isp.name));
        assert_eq!(row[col(&h, "tests")], "7");
        assert_eq!(row[col(&h, "first_date")], "2009-11-02");
        assert_eq!(row[col(&h, "last_date")], "2009-11-08");
        for (cell, want) in SUMMARY_CELLS.iter().zip(isp.expected) {
            assert_eq!(row[col(&h, cell)], want, "{}: {cell}", isp.name);
            // The counts are integer columns, one per answer, summing to the tests.
            let n: u32 = ["yes", "no", "inconclusive", "na"]
                .iter()
                .map(|a| row[col(&h, &format!("{cell}_{a}"))].parse::<u32>().unwrap())
                .sum();
            assert_eq!(n, 7, "{}: {cell} counts", isp.name);
        }
        // The same row in the text report.
        let line = text
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with(isp.name))
            .unwrap();
        let words: Vec<&str> = line.split_whitespace().skip(3).collect();
        assert_eq!(words, isp.expected.to_vec(), "{line}");
    }

    // The conclusions per weekday, Monday first.
    let (h, rows) = read_csv(&out.join("days.csv"));
    assert_eq!(rows.len(), 21);
    let days: Vec<&str> = rows
        .iter()
        .filter(|r| r[col(&h, "isp")] == "Open Net")
        .map(|r| r[col(&h, "test_day")].as_str())
        .collect();
    assert_eq!(
        days,
        [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday"
        ]
    );
    for r in &rows {
        let isp = WEEK_ISPS
            .iter()
            .find(|i| i.name == r[col(&h, "isp")])
            .unwrap();
        for (cell, want) in SUMMARY_CELLS.iter().zip(isp.expected) {
            assert_eq!(
                r[col(&h, cell)],
                want,
                "{} {}",
                isp.name,
                r[col(&h, "test_day")]
            );
        }
    }

    // The speeds: 1000-byte segments at the day's pace; BitTorrent at a fifth of it where the
    // ISP throttles; nothing where the port is blocked.
    let (h, rows) = read_csv(&out.join("speeds.csv"));
    let speed = |isp: &str, day: &str, class: &str, dir: &str, kind: &str| -> Option<f64> {
        let r = rows.iter().find(|r| {
            r[col(&h, "isp")] == isp
                && r[col(&h, "test_day")] == day
                && r[col(&h, "port_class")] == class
                && r[col(&h, "direction")] == dir
                && r[col(&h, "kind")] == kind
                && r[col(&h, "repetition")].is_empty()
        })?;
        r[col(&h, "mean_bps")].parse().ok()
    };
    let base = plan();
    for (day, day_index) in ["Monday", "Thursday", "Sunday"].into_iter().zip([0, 3, 6]) {
        let pace = 8_000.0 * 1e6 / week_pace_us(&base, day_index) as f64;
        for dir in ["upload", "download"] {
            for class in ["app", "other"] {
                let open = speed("Open Net", day, class, dir, "bittorrent").unwrap();
                assert!(
                    (open / pace - 1.0).abs() < 0.02,
                    "{day} {dir}: {open} vs {pace}"
                );
                let slow = speed("Slow Net", day, class, dir, "bittorrent").unwrap();
                assert!(
                    (slow / (pace / 5.0) - 1.0).abs() < 0.05,
                    "{slow} vs {pace}/5"
                );
                let tcp = speed("Slow Net", day, class, dir, "control").unwrap();
                assert!((tcp / pace - 1.0).abs() < 0.02, "{tcp} vs {pace}");
            }
            assert_eq!(speed("Block Net", day, "app", dir, "control"), None);
            assert!(speed("Block Net", day, "other", dir, "control").is_some());
        }
    }
    // Every repetition is there too, with the failures of the blocked port counted.
    let blocked: Vec<_> = rows
        .iter()
        .filter(|r| r[col(&h, "isp")] == "Block Net" && r[col(&h, "port_class")] == "app")
        .collect();
    assert!(!blocked.is_empty());
    assert!(blocked.iter().all(|r| r[col(&h, "completed")] == "0"));
    assert!(blocked.iter().all(|r| r[col(&h, "failed")] != "0"));
}

#[test]
fn reports_and_tables_do_not_depend_on_the_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    week(dir.path());
    let map = dir.path().join("isps.txt");
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let csv = dir.path().join(format!("csv-{threads}/"));
        let tables = dir.path().join(format!("tables-{threads}/"));
        let report = bttrace(&[
            "report",
            s(dir.path()),
            "--isp-map",
            s(&map),
            "--csv",
            s(&tables),
            "-j",
            threads,
        ]);
        assert_eq!(report.status.code(), Some(0));
        let analyze = bttrace(&[
            "analyze",
            s(dir.path()),
            "--format",
            "json",
            "--csv",
            s(&csv),
            "-j",
            threads,
        ]);
        assert_eq!(analyze.status.code(), Some(0));
        let mut files = vec![report.stdout, analyze.stdout];
        for t in ["captures.csv", "tests.csv", "flows.csv", "rsts.csv"] {
            files.push(std::fs::read(csv.join(t)).unwrap());
        }
        for t in ["speeds.csv", "days.csv", "summary.csv"] {
            files.push(std::fs::read(tables.join(t)).unwrap());
        }
        outputs.push(files);
    }
    assert_eq!(outputs[0], outputs[1]);
    // The captures table has the week in file-name order, with each capture's summary row.
    let (h, rows) = read_csv(&dir.path().join("csv-1/captures.csv"));
    assert_eq!(rows.len(), 21);
    let names: Vec<&String> = rows.iter().map(|r| &r[col(&h, "capture")]).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    for r in &rows {
        assert_eq!(r[col(&h, "generation")], "replayer");
        assert_eq!(r[col(&h, "schedule_from")], "command_channel");
        assert_eq!(r[col(&h, "tests")], "24");
        assert!(r[col(&h, "client_host")].starts_with("client"));
        assert_eq!(r[col(&h, "test_date")].len(), 10);
    }
    let (h, rows) = read_csv(&dir.path().join("csv-1/tests.csv"));
    assert_eq!(rows.len(), 21 * 24);
    let reps: Vec<&str> = rows
        .iter()
        .take(6)
        .map(|r| r[col(&h, "repetition")].as_str())
        .collect();
    assert_eq!(reps, ["1", "1", "2", "2", "3", "3"], "numbered from 1");
}

#[test]
fn html_pages_show_the_summary_and_each_isps_weekday_charts() {
    let dir = tempfile::tempdir().unwrap();
    week(dir.path());
    let html = dir.path().join("html");
    let o = bttrace(&[
        "report",
        s(dir.path()),
        "--isp-map",
        s(&dir.path().join("isps.txt")),
        "--html",
        s(&html),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let index = std::fs::read_to_string(html.join("index.html")).unwrap();
    for isp in WEEK_ISPS {
        assert!(index.contains(isp.name), "{}", isp.name);
    }
    // One page per ISP, in name order: Block Net, Open Net, Slow Net; each with a weekday
    // chart per port (the BitTorrent port and the neutral one) and the conclusions.
    for (i, name) in ["Block Net", "Open Net", "Slow Net"].iter().enumerate() {
        let page = std::fs::read_to_string(html.join(format!("isp-{}.html", i + 1))).unwrap();
        assert!(page.contains(&format!("ISP {name}")), "{name}");
        assert_eq!(page.matches("<svg").count(), 2, "{name}");
        assert!(page.contains("Sunday") && page.contains("Conclusions per weekday"));
    }
    // Pages are not replaced without --force.
    let o = bttrace(&["report", s(dir.path()), "--html", s(&html)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    // analyze --html: a page per capture.
    let pages = dir.path().join("pages");
    let o = bttrace(&["analyze", s(dir.path()), "--html", s(&pages)]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_dir(&pages).unwrap().count(), 21);
}

#[test]
fn grouping_by_date_and_by_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let captures = week(dir.path());
    // Without an ISP table, each client address is its own group; by date, each day is one.
    let o = bttrace(&["report", s(&captures[0]), s(&captures[1]), "--by", "date"]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("ISP 198.51.100.10: 2 Glasnost tests"),
        "{text}"
    );
    assert!(
        text.contains("2009-11-02 ") && text.contains("2009-11-03 "),
        "{text}"
    );
    // A table that names none of the clients says so rather than guessing.
    let map = dir.path().join("other.txt");
    std::fs::write(&map, "203.0.113.0/24 Elsewhere\n").unwrap();
    let o = bttrace(&["report", s(&captures[0]), "--isp-map", s(&map)]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("ISP unmapped 198.51.100.10:"), "{text}");
    // A broken table is an error naming the file and line, before any work.
    std::fs::write(&map, "10.0.0.0/40 Bad\n").unwrap();
    let o = bttrace(&["report", s(&captures[0]), "--isp-map", s(&map)]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("other.txt: line 1:"), "{err}");
}

#[test]
fn spreadsheet_formulas_in_names_are_defused() {
    let dir = tempfile::tempdir().unwrap();
    let captures = week(dir.path());
    // A capture whose name a spreadsheet would run, and an ISP name that is a formula.
    let evil = dir.path().join("=HYPERLINK(1).dump");
    std::fs::copy(&captures[0], &evil).unwrap();
    let map = dir.path().join("evil.txt");
    std::fs::write(&map, "198.51.100.0/24 @SUM(A1)\n").unwrap();
    let out = dir.path().join("t/");
    let o = bttrace(&["report", s(&evil), "--isp-map", s(&map), "--csv", s(&out)]);
    assert_eq!(o.status.code(), Some(0));
    let (h, rows) = read_csv(&out.join("summary.csv"));
    assert_eq!(rows[0][col(&h, "isp")], "'@SUM(A1)");
    let (h, rows) = read_csv(&out.join("days.csv"));
    assert_eq!(rows[0][col(&h, "isp")], "'@SUM(A1)");
    // Named relative to the working directory, the capture column starts with the formula.
    let csv = dir.path().join("c/");
    let o = Command::new(env!("CARGO_BIN_EXE_bttrace"))
        .current_dir(dir.path())
        .args(["analyze", "=HYPERLINK(1).dump", "--csv", "c/"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    for table in ["captures.csv", "tests.csv", "flows.csv"] {
        let (h, rows) = read_csv(&csv.join(table));
        assert!(!rows.is_empty(), "{table}");
        for r in rows {
            let cell = &r[col(&h, "capture")];
            assert!(
                cell.starts_with("'") && cell.contains("=HYPERLINK"),
                "{table}: {cell}"
            );
        }
    }
}

/// `bttrace glasnost-week` (the newcomer's way to try `report`) writes the same week, byte for
/// byte, as the library function the tests above use, and refuses a bad count.
#[test]
fn the_glasnost_week_subcommand_writes_the_libraries_week() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let cli = dir.path().join("cli");
    std::fs::create_dir(&lib).unwrap();
    let captures = week(&lib);
    let o = bttrace(&["glasnost-week", s(&cli), "1", "1000"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("21 captures and isps.txt in"), "{err}");
    let mut names: Vec<_> = std::fs::read_dir(&cli)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), captures.len() + 1);
    for name in names {
        let (a, b) = (lib.join(&name), cli.join(&name));
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{} differs",
            b.display()
        );
    }
    let o = bttrace(&["glasnost-week", s(&cli), "0"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn days_are_counted_in_the_time_zone_given() {
    let dir = tempfile::tempdir().unwrap();
    let captures = week(dir.path());
    // The date of the first capture in UTC, and in zones 14 h ahead and 11 h behind: whatever
    // the time of day, one of the two falls on another date, and neither by more than one.
    let date_in = |zone: &str| {
        let out = dir.path().join(format!("out-{}", zone.replace('/', "-")));
        let o = bttrace(&[
            "report",
            s(&captures[0]),
            "--by",
            "date",
            "--tz",
            zone,
            "--csv",
            s(&out),
        ]);
        assert_eq!(o.status.code(), Some(0), "{zone}");
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let (header, rows) = read_csv(&out.join("days.csv"));
        assert_eq!(rows.len(), 1, "{zone}: {rows:?}");
        assert_eq!(rows[0][col(&header, "time_zone")], zone);
        let (header, rows) = read_csv(&out.join("speeds.csv"));
        assert!(rows.iter().all(|r| r[col(&header, "time_zone")] == zone));
        let (header, rows) = read_csv(&out.join("summary.csv"));
        assert_eq!(rows[0][col(&header, "time_zone")], zone);
        let day = rows[0][col(&header, "first_date")].clone();
        (day, text)
    };
    let (utc, text) = date_in("UTC");
    assert!(text.contains("Days are counted in UTC"), "{text}");
    let (ahead, text) = date_in("Pacific/Kiritimati");
    assert!(
        text.contains("Days are counted in Pacific/Kiritimati local time"),
        "{text}"
    );
    let (behind, _) = date_in("Pacific/Pago_Pago");
    let next = |d: &str| {
        let (y, m, dd) = (&d[0..4], &d[5..7], &d[8..10]);
        let days = bttrace::glasnost::names::days_from_civil(
            y.parse().unwrap(),
            m.parse().unwrap(),
            dd.parse().unwrap(),
        );
        bttrace::glasnost::names::date(days * 86_400 + 86_400)
    };
    assert!(ahead == utc || ahead == next(&utc), "{utc} -> {ahead}");
    assert!(behind == utc || next(&behind) == utc, "{utc} -> {behind}");
    assert!(
        ahead != utc || behind != utc,
        "{utc}: no zone moved the date"
    );
    // A zone bttrace does not know is refused before any work.
    let o = bttrace(&["report", s(&captures[0]), "--tz", "Mars/Olympus_Mons"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Mars/Olympus_Mons"), "{err}");
}

/// The `<svg>` documents of an HTML page, in page order.
fn svgs(page: &str) -> Vec<&str> {
    page.match_indices("<svg")
        .filter_map(|(i, _)| {
            let end = page[i..].find("</svg>")? + i + "</svg>".len();
            Some(&page[i..end])
        })
        .collect()
}

#[test]
fn weekday_bars_carry_their_counts_and_min_max_whiskers() {
    use bttrace::plot::{TCP_COLOR, WEEKDAY_CAPTION, WHISKER_COLOR};
    let dir = tempfile::tempdir().unwrap();
    week(dir.path());
    let (html, csv) = (dir.path().join("html"), dir.path().join("csv/"));
    let o = bttrace(&[
        "report",
        s(dir.path()),
        "--isp-map",
        s(&dir.path().join("isps.txt")),
        "--html",
        s(&html),
        "--csv",
        s(&csv),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The text's averages tables give each mean its count.
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("averages, kbps (n: transfers averaged)"),
        "{text}"
    );
    let monday = text
        .lines()
        .find(|l| l.trim_start().starts_with("Monday") && l.contains("(n="))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(monday.matches("(n=3)").count(), 4, "{monday}");
    // What the bars must show, from the speeds table: per day, Open Net's TCP downloads on
    // the BitTorrent port, their count and (one test a day, so one transfer a repetition)
    // the slowest and fastest repetition.
    let (h, rows) = read_csv(&csv.join("speeds.csv"));
    let days = bttrace::glasnost::names::WEEKDAYS;
    let expect: Vec<(u32, f64, f64, f64)> = days
        .iter()
        .map(|day| {
            let mine: Vec<&Vec<String>> = rows
                .iter()
                .filter(|r| {
                    r[col(&h, "isp")] == "Open Net"
                        && r[col(&h, "test_day")] == *day
                        && r[col(&h, "port_class")] == "app"
                        && r[col(&h, "direction")] == "download"
                        && r[col(&h, "kind")] == "control"
                })
                .collect();
            let total = mine
                .iter()
                .find(|r| r[col(&h, "repetition")].is_empty())
                .expect("a total row");
            let mean: f64 = total[col(&h, "mean_bps")].parse().unwrap();
            let n: u32 = total[col(&h, "completed")].parse().unwrap();
            let reps: Vec<f64> = mine
                .iter()
                .filter(|r| !r[col(&h, "repetition")].is_empty())
                .map(|r| {
                    assert_eq!(r[col(&h, "completed")], "1", "one transfer a repetition");
                    r[col(&h, "mean_bps")].parse().unwrap()
                })
                .collect();
            let lo = reps.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = reps.iter().cloned().fold(0.0, f64::max);
            (n, mean, lo, hi)
        })
        .collect();
    assert!(expect.iter().all(|e| e.0 == 3), "{expect:?}");

    let page = std::fs::read_to_string(html.join("isp-2.html")).unwrap();
    assert!(page.contains("ISP Open Net"));
    let svg = svgs(&page)[0];
    let doc = roxmltree::Document::parse(svg).unwrap();
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect();
    // Every bar of the chart (4 a day, all completed at Open Net) has its count.
    assert_eq!(
        texts.iter().filter(|t| *t == "n=3").count(),
        28,
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == WEEKDAY_CAPTION));
    let num = |n: &roxmltree::Node, a: &str| -> f64 { n.attribute(a).unwrap().parse().unwrap() };
    let mut bars: Vec<(f64, f64, f64, f64)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some(TCP_COLOR))
        .map(|n| {
            (
                num(&n, "x"),
                num(&n, "y"),
                num(&n, "width"),
                num(&n, "height"),
            )
        })
        .filter(|b| b.1 > 62.0) // not the legend's swatch
        .collect();
    bars.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(bars.len(), 7);
    let whiskers: Vec<Vec<(f64, f64)>> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(WHISKER_COLOR))
        .map(|n| {
            n.attribute("points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect();
    assert_eq!(whiskers.len(), 28 * 3, "a stem and two caps per bar");
    for ((bx, by, bw, bh), (n, mean, lo, hi)) in bars.into_iter().zip(expect) {
        assert_eq!(n, 3);
        let centre = bx + bw / 2.0;
        let stem = whiskers
            .iter()
            .find(|l| l.len() == 2 && l[0].0 == l[1].0 && (l[0].0 - centre).abs() <= 1.0)
            .expect("a stem over the bar");
        let base = by + bh;
        // Pixel heights in proportion to the values, within a pixel's rounding.
        let px = |v: f64| bh * v / mean;
        assert!(
            (base - stem[0].1 - px(lo)).abs() <= 1.5,
            "min {lo} of mean {mean}"
        );
        assert!(
            (base - stem[1].1 - px(hi)).abs() <= 1.5,
            "max {hi} of mean {mean}"
        );
        assert!(lo <= mean && mean <= hi);
    }
}
