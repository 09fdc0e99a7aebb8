//! Glasnost tests run through a real middlebox (`scripts/make-glasnost-tests.sh`: network
//! namespaces, iptables, tc, an RST injector): bttrace must give what each scenario's
//! `fixtures/glasnost/<scenario>/expected.json` says. The expectations live beside the captures
//! and are read from there, so a regenerated fixture carries its own answers.
//!
//! Checked per scenario: the study's summary row (six cells, blocking and throttling bases),
//! every transfer's kind, direction, port and outcome in the schedule's order, the server's
//! log read and in agreement with the capture, every forged RST (told by the TTL the
//! middlebox's packets arrive with, from `truth.json`) judged as expected, and no genuine RST
//! ever judged forged. A missing scenario fails: the fixtures are committed, never optional.

use std::path::{Path, PathBuf};

use bttrace::{Options, analyze_file};
use serde_json::Value;

const SCENARIOS: [&str; 6] = [
    "none",
    "port6881-blocked",
    "bt-throttled",
    "upload-throttled",
    "sandvine",
    "port6881-rst",
];

const CELLS: [&str; 6] = [
    "block_bt_app_port",
    "block_bt_other_port",
    "throttle_bt_upload_app_port",
    "throttle_bt_upload_other_port",
    "throttle_bt_download_app_port",
    "throttle_bt_download_other_port",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/glasnost")
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the fixtures are made by `sudo scripts/make-glasnost-tests.sh`)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

fn check(scenario: &str) {
    let dir = root().join(scenario);
    let exp = json(&dir.join("expected.json"));
    let truth = json(&dir.join("truth.json"));
    assert_eq!(exp["scenario"], scenario);
    let capture = dir.join(
        exp["capture"]
            .as_str()
            .expect("expected.json names the capture"),
    );
    assert!(
        dir.join(exp["log"].as_str().expect("expected.json names the log"))
            .is_file(),
        "{scenario}: the server's log is missing"
    );
    let report = analyze_file(&capture, &Options::default());
    assert_eq!(report.error, None, "{scenario}");
    let got = serde_json::to_value(&report).expect("a report serialises");

    // The summary row and its bases.
    let summary = &got["summary"];
    assert!(summary.is_object(), "{scenario}: no summary row");
    let why = &summary["why"];
    for cell in CELLS {
        assert_eq!(
            summary[cell], exp["summary"][cell],
            "{scenario}: {cell} (bttrace's reasons: {why})"
        );
    }
    for basis in ["blocking_basis", "throttling_basis"] {
        assert_eq!(
            sorted(&summary[basis]),
            sorted(&exp["summary"][basis]),
            "{scenario}: {basis}"
        );
    }

    // The test as a whole: generation from the name, schedule from the command channel, the
    // log found beside the capture.
    let g = &got["glasnost"];
    assert_eq!(g["generation"], exp["generation"], "{scenario}");
    assert_eq!(g["schedule_from"], "command_channel", "{scenario}");
    assert!(
        g["log_path"].is_string(),
        "{scenario}: the log was not read"
    );

    // Every transfer, in the schedule's order.
    let tests = got["tests"].as_array().expect("tests");
    let want = exp["tests"]
        .as_array()
        .expect("expected.json lists the tests");
    assert_eq!(tests.len(), want.len(), "{scenario}: number of transfers");
    let flows = got["flows"].as_array().expect("flows");
    let forged_ttl = truth["forged_ttl_at_server"].as_u64();
    for (i, (t, e)) in tests.iter().zip(want).enumerate() {
        for key in ["kind", "direction", "port", "port_class", "outcome"] {
            assert_eq!(t[key], e[key], "{scenario}: transfer {i}: {key}");
        }
        // The log (either generation's format) agrees with the capture on this transfer.
        assert!(
            t["log"].is_object(),
            "{scenario}: transfer {i}: no log line"
        );
        assert_eq!(
            t["log_disagrees"],
            Value::Array(Vec::new()),
            "{scenario}: transfer {i}"
        );
        // RSTs: the middlebox's, told by their TTL, and anyone else's.
        let rsts: Vec<&Value> = flows
            .iter()
            .filter(|f| f["id"] == t["flow"])
            .flat_map(|f| f["rsts"].as_array().into_iter().flatten())
            .collect();
        let (forged, genuine): (Vec<&Value>, Vec<&Value>) = rsts
            .iter()
            .partition(|r| forged_ttl.is_some() && r["ttl"].as_u64() == forged_ttl);
        assert_eq!(
            forged.len() as u64,
            e["forged_rsts"].as_u64().expect("forged_rsts"),
            "{scenario}: transfer {i}: forged RSTs in the capture"
        );
        for r in &forged {
            let verdict = r["verdict"].as_str().unwrap_or_default();
            let evidence = &r["evidence"];
            match e["rst_verdict"].as_str() {
                Some("forged") => assert_eq!(
                    verdict, "forged",
                    "{scenario}: transfer {i}: frame {} ({evidence})",
                    r["frame"]
                ),
                Some("inconclusive_or_forged") => assert!(
                    verdict == "forged" || verdict == "inconclusive",
                    "{scenario}: transfer {i}: frame {} judged {verdict} ({evidence})",
                    r["frame"]
                ),
                other => panic!("{scenario}: transfer {i}: rst_verdict {other:?}"),
            }
            assert_eq!(r["sender"], "client", "{scenario}: transfer {i}");
        }
        for r in &genuine {
            assert_ne!(
                r["verdict"], "forged",
                "{scenario}: transfer {i}: an endpoint's RST (frame {}) judged forged",
                r["frame"]
            );
        }
    }
}

#[test]
fn every_scenario_is_there() {
    let root = root();
    assert!(
        root.is_dir(),
        "{} is missing: run `sudo scripts/make-glasnost-tests.sh`",
        root.display()
    );
    for s in SCENARIOS {
        assert!(root.join(s).join("expected.json").is_file(), "{s}");
    }
    let mut dirs: Vec<String> = std::fs::read_dir(&root)
        .expect("the fixtures directory")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut known: Vec<String> = SCENARIOS.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(dirs, known, "a scenario no test checks, or one missing");
}

#[test]
fn no_middlebox() {
    check("none");
}

#[test]
fn port_6881_dropped() {
    check("port6881-blocked");
}

#[test]
fn bittorrent_throttled_both_ways() {
    check("bt-throttled");
}

#[test]
fn bittorrent_uploads_throttled() {
    check("upload-throttled");
}

#[test]
fn forged_resets_after_the_bitfield() {
    check("sandvine");
}

#[test]
fn forged_resets_on_port_6881() {
    check("port6881-rst");
}
