//! The HTML page of a Glasnost capture, opened in headless Chromium: the browser's DOM holds
//! the study's tables and two real SVG charts with one bar per completed transfer and one line
//! per transfer that moved data, and a screenshot shows the charts' colours on the page.
//!
//! Needs `chromium` (or `chromium-browser`, `google-chrome`; or the path in `BTTRACE_CHROMIUM`).
//! Without one the test prints a loud `SKIPPED:` line, and fails when `BTTRACE_REQUIRE_CHROMIUM`
//! is set (CI sets it, after installing Chromium).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bttrace::glasnost::verdict::{Dir, Outcome, PortClass, Proto};
use bttrace::plot::{BT_COLOR, LINE_WIDTH, TCP_COLOR};
use bttrace::report::html::{capture_page, write_capture_page};
use bttrace::synth::glasnost::{Fate, Plan, capture, test};
use bttrace::{CaptureReport, Options, analyze_bytes};

const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// The browser to use, or `None` after saying so loudly (a failure when one is required).
fn chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("BTTRACE_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            ["chromium", "chromium-browser", "google-chrome"]
                .iter()
                .map(PathBuf::from),
        )
        .collect();
    for c in candidates {
        let ok = Command::new(&c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(c);
        }
    }
    let msg = "SKIPPED: html_render: no Chromium found (chromium, chromium-browser, google-chrome or \
               $BTTRACE_CHROMIUM); the HTML page was NOT checked in a browser. \
               Install it with `apt-get install chromium`.";
    if std::env::var_os("BTTRACE_REQUIRE_CHROMIUM").is_some() {
        panic!("{msg} (BTTRACE_REQUIRE_CHROMIUM is set)");
    }
    // Straight to the terminal: the test harness captures `println!` of passing tests.
    let _ = writeln!(std::io::stderr(), "\n{msg}\n");
    None
}

/// Runs the browser headless on `page` with `args`, stdout into `out`, within the timeout.
fn run_browser(browser: &Path, profile: &Path, page: &Path, args: &[&str], out: &Path) {
    let url = format!("file://{}", page.display());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(File::create(out).expect("create the output file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start the browser");
    let start = Instant::now();
    loop {
        match child.try_wait().expect("wait for the browser") {
            Some(status) => {
                assert!(status.success(), "the browser failed: {status}");
                return;
            }
            None if start.elapsed() > BROWSER_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the browser took over {BROWSER_TIMEOUT:?} on {url}");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A Glasnost test where BitTorrent downloads are throttled, one BitTorrent upload is reset
/// and one control download never connects.
fn glasnost_capture() -> CaptureReport {
    let plan = Plan {
        transfer_ms: 1_000,
        spacing_ms: 1_500,
        ..Plan::default()
    };
    let packets = test(&plan, |proto, dir, class, rep| {
        match (proto, dir, class, rep) {
            (Proto::Bt, Dir::Upload, PortClass::App, 1) => Fate::Reset,
            (Proto::Bt, Dir::Download, _, _) => Fate::Throttled,
            (Proto::Tcp, Dir::Download, PortClass::Other, 2) => Fate::NoConnection,
            _ => Fate::Normal,
        }
    });
    let r = analyze_bytes(
        "captures/glasnost_198.51.100.9_<client> & co_1257163200.dump",
        capture(&packets, Some(200)),
        &Options::default(),
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.tests.len(), 24);
    r
}

/// The `<svg>...</svg>` elements of the dumped DOM, parsed as XML.
fn svgs(dom: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(start) = rest.find("<svg") {
        let Some(len) = rest[start..].find("</svg>") else {
            break;
        };
        let end = start + len + "</svg>".len();
        out.push(rest[start..end].to_string());
        rest = &rest[end..];
    }
    out
}

fn count(svg: &str, pred: impl Fn(roxmltree::Node) -> bool) -> usize {
    let doc = roxmltree::Document::parse(svg)
        .unwrap_or_else(|e| panic!("the browser's SVG is not well-formed: {e}\n{svg}"));
    doc.descendants().filter(|n| pred(*n)).count()
}

fn rgb(hex: &str) -> [u8; 3] {
    let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
    [c(1), c(3), c(5)]
}

#[test]
fn a_glasnost_page_renders_in_chromium() {
    let r = glasnost_capture();
    let dir = tempfile::tempdir().unwrap();
    let page = write_capture_page(dir.path(), &r).expect("write the page");
    assert_eq!(
        page.file_name().and_then(|n| n.to_str()),
        Some("glasnost_198.51.100.9__client____co_1257163200.dump.html")
    );
    let Some(browser) = chromium() else { return };
    let profile = dir.path().join("profile");

    // The DOM as the browser built it.
    let dom_file = dir.path().join("dom.html");
    run_browser(&browser, &profile, &page, &["--dump-dom"], &dom_file);
    let dom = std::fs::read_to_string(&dom_file).expect("the dumped DOM");
    assert!(dom.contains("<table"), "no DOM dumped: {dom}");
    let tables: usize = capture_page(&r)
        .sections
        .iter()
        .map(|s| s.tables.len())
        .sum();
    assert_eq!(dom.matches("<table").count(), tables);
    assert!(dom.contains("<th>Speed BitTorrent</th>"));
    assert!(dom.contains(">Potential rate limiting</td>"));
    assert!(dom.contains(">Slow down BT download (port 6881)</td>"));
    assert!(dom.contains("glasnost_198.51.100.9_&lt;client&gt; &amp; co_1257163200.dump"));
    assert!(!dom.contains("<client>"), "a name got into the markup");

    let charts = svgs(&dom);
    assert_eq!(charts.len(), 2, "two charts");
    let completed = |k: Proto| {
        r.tests
            .iter()
            .filter(|t| t.kind == k && t.outcome == Outcome::Completed)
            .count()
    };
    assert_eq!(completed(Proto::Bt), 11);
    assert_eq!(completed(Proto::Tcp), 11);
    // The comparison chart: a legend swatch and a bar per completed transfer of each kind.
    let filled = |color: &str| {
        count(&charts[0], |n| {
            n.has_tag_name("rect") && n.attribute("fill") == Some(color)
        })
    };
    assert_eq!(filled(BT_COLOR), completed(Proto::Bt) + 1);
    assert_eq!(filled(TCP_COLOR), completed(Proto::Tcp) + 1);
    // The goodput chart: a line per transfer that moved data.
    let width = LINE_WIDTH.to_string();
    let lines = count(&charts[1], |n| {
        n.has_tag_name("polyline") && n.attribute("stroke-width") == Some(width.as_str())
    });
    let with_data = r.tests.iter().filter(|t| !t.series.bps.is_empty()).count();
    assert_eq!(lines, with_data);
    assert_eq!(with_data, 22);

    // A screenshot: not blank, and the bars' colours are on it.
    let shot = dir.path().join("shot.png");
    let arg = format!("--screenshot={}", shot.display());
    run_browser(
        &browser,
        &profile,
        &page,
        &[&arg, "--window-size=1280,4000"],
        &dir.path().join("screenshot.log"),
    );
    let bytes = std::fs::read(&shot).expect("the screenshot");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    assert_eq!(pixels.len(), (info.width * info.height) as usize);
    let non_white = pixels.iter().filter(|p| **p != [255, 255, 255]).count();
    assert!(
        non_white * 50 > pixels.len(),
        "the page looks blank: {non_white} of {} pixels are not white",
        pixels.len()
    );
    let mut distinct: Vec<[u8; 3]> = pixels.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 20, "{} colours", distinct.len());
    for color in [BT_COLOR, TCP_COLOR] {
        let c = rgb(color);
        let n = pixels.iter().filter(|p| **p == c).count();
        assert!(n > 2_000, "{n} pixels of {color}: the bars did not render");
    }
}

/// The weekly report's page of an ISP: per port a weekday table and a chart with four bars a
/// day (TCP and BitTorrent, download and upload), and no bar where nothing was measured.
#[test]
fn an_isps_weekly_page_renders_in_chromium() {
    use bttrace::plot::{BT_UPLOAD_COLOR, TCP_UPLOAD_COLOR};
    use bttrace::report::html::write_page;
    use bttrace::report::weekly::html_pages;
    use bttrace::synth::glasnost::write_week;
    use bttrace::weekly::{Aggregator, GroupBy, IspMap};

    let dir = tempfile::tempdir().unwrap();
    let plan = Plan {
        transfer_ms: 1_000,
        spacing_ms: 1_500,
        ..Plan::default()
    };
    let captures = write_week(dir.path(), &plan, 1, Some(200)).expect("the week");
    let map = IspMap::parse(&std::fs::read_to_string(dir.path().join("isps.txt")).unwrap())
        .expect("the ISP table");
    let mut agg = Aggregator::new(map, GroupBy::Weekday);
    for c in &captures {
        agg.add(&bttrace::analyze_file(c, &Options::default()));
    }
    let pages = html_pages(&agg);
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["index.html", "isp-1.html", "isp-2.html", "isp-3.html"]
    );
    for (name, page) in &pages {
        let mut f = File::create(dir.path().join(name)).unwrap();
        write_page(&mut f, page).unwrap();
    }
    let Some(browser) = chromium() else { return };
    let profile = dir.path().join("profile");
    let dom_of = |name: &str| {
        let out = dir.path().join(format!("{name}.dom"));
        run_browser(
            &browser,
            &profile,
            &dir.path().join(name),
            &["--dump-dom"],
            &out,
        );
        std::fs::read_to_string(out).expect("the dumped DOM")
    };
    let bars = |svg: &str, color: &str| {
        count(svg, |n| {
            n.has_tag_name("rect") && n.attribute("fill") == Some(color)
        })
    };
    let colors = [TCP_COLOR, TCP_UPLOAD_COLOR, BT_COLOR, BT_UPLOAD_COLOR];

    // Slow Net (the third page): every day measured on both ports: 7 bars and a legend
    // swatch per series.
    let dom = dom_of("isp-3.html");
    assert!(dom.contains("ISP Slow Net"));
    let charts = svgs(&dom);
    assert_eq!(charts.len(), 2);
    for chart in &charts {
        for c in colors {
            assert_eq!(bars(chart, c), 8, "{c}");
        }
    }
    // Block Net (the first page): port 6881 never connected, so its chart has legend swatches
    // and no bar; the neutral port's has them all.
    let dom = dom_of("isp-1.html");
    let charts = svgs(&dom);
    assert_eq!(charts.len(), 2);
    for c in colors {
        assert_eq!(bars(&charts[0], c), 1, "{c}");
        assert_eq!(bars(&charts[1], c), 8, "{c}");
    }
    // The index: the summary row of each ISP.
    let dom = dom_of("index.html");
    for isp in ["Block Net", "Open Net", "Slow Net"] {
        assert!(dom.contains(&format!("<td>{isp}</td>")), "{isp}");
    }
}
