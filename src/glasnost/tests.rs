//! A whole Glasnost test built in code, played through the pipeline.

use crate::analyze::{Options, analyze_bytes};
use crate::capture::{LinkType, Timestamp};
use crate::glasnost::verdict::{Cell, Dir, Outcome, PortClass, Proto};
use crate::glasnost::{RecognisedBy, ScheduleFrom};
use crate::model::CaptureReport;
use crate::synth::glasnost::{Fate, Plan};
use crate::synth::{self, Packet, PcapOpts, pcap};

const MS: i64 = 1_000_000;
const NEUTRAL: u16 = 50_000;

/// The test of `crate::synth::glasnost` with the default plan.
fn glasnost_test(
    fates: impl Fn(Proto, Dir, PortClass, u32) -> Fate,
    with_commands: bool,
) -> Vec<Packet> {
    synth::glasnost::test(
        &Plan {
            with_commands,
            ..Plan::default()
        },
        fates,
    )
}

fn transfer(
    start: Timestamp,
    port: u16,
    cport: u16,
    proto: Proto,
    dir: Dir,
    fate: Fate,
    seed: u64,
) -> Vec<Packet> {
    synth::glasnost::transfer(&Plan::default(), start, port, cport, proto, dir, fate, seed)
}

fn run(packets: Vec<Packet>) -> CaptureReport {
    let mut recs: Vec<_> = packets
        .iter()
        .map(|p| p.record(LinkType::RAW, None))
        .collect();
    recs.sort_by_key(|r| r.ts);
    analyze_bytes(
        "test",
        pcap(LinkType::RAW, &recs, PcapOpts::default()),
        &Options::default(),
    )
}

#[test]
fn an_undisturbed_test_is_all_no() {
    let r = run(glasnost_test(|_, _, _, _| Fate::Normal, true));
    assert_eq!(r.tests.len(), 24);
    let g = r.glasnost.as_ref().unwrap();
    assert_eq!(g.schedule_from, ScheduleFrom::CommandChannel);
    assert_eq!((g.app_port, g.other_port), (Some(6881), Some(NEUTRAL)));
    for (i, t) in r.tests.iter().enumerate() {
        assert_eq!(t.outcome, Outcome::Completed, "transfer {i}");
        assert!(t.guessed.is_empty(), "transfer {i}: {:?}", t.guessed);
        // 1000 bytes every 5 ms: 1.6 Mbit/s.
        let g = t.goodput_bps.unwrap();
        assert!((g - 1.6e6).abs() < 0.1e6, "transfer {i}: {g}");
        assert!(
            t.series.bps.len() >= 18,
            "transfer {i}: {} intervals",
            t.series.bps.len()
        );
    }
    // The schedule's order: uploads, then downloads; BitTorrent port first; app then control.
    let first = &r.tests[0];
    assert_eq!(
        (first.kind, first.direction, first.port),
        (Proto::Bt, Some(Dir::Upload), 6881)
    );
    assert_eq!((r.tests[1].kind, r.tests[1].repetition), (Proto::Tcp, 1));
    assert_eq!(
        (r.tests[23].kind, r.tests[23].direction, r.tests[23].port),
        (Proto::Tcp, Some(Dir::Download), NEUTRAL)
    );
    let s = r.summary.as_ref().unwrap();
    for c in [
        s.block_bt_app_port,
        s.block_bt_other_port,
        s.throttle_bt_upload_app_port,
        s.throttle_bt_upload_other_port,
        s.throttle_bt_download_app_port,
        s.throttle_bt_download_other_port,
    ] {
        assert_eq!(c, Cell::No, "{:?}", s.why);
    }
    // The flows carry the user's direction too.
    assert!(
        r.flows
            .iter()
            .filter(|f| f.kind == Some(crate::btparse::Kind::BitTorrent))
            .all(|f| f.direction.is_some())
    );
}

#[test]
fn throttled_uploads_and_a_reset_download_give_the_studys_answers() {
    let fates = |proto, dir, class, rep| match (proto, dir, class, rep) {
        (Proto::Bt, Dir::Upload, PortClass::App, _) => Fate::Throttled,
        (Proto::Bt, Dir::Download, PortClass::Other, 1) => Fate::Reset,
        _ => Fate::Normal,
    };
    // Without the command channel: the schedule comes from the flows alone.
    let r = run(glasnost_test(fates, false));
    let g = r.glasnost.as_ref().unwrap();
    assert_eq!(g.schedule_from, ScheduleFrom::Flows);
    assert_eq!(r.tests.len(), 24);
    let reset: Vec<_> = r
        .tests
        .iter()
        .filter(|t| t.outcome == Outcome::Reset)
        .collect();
    assert_eq!(reset.len(), 1);
    let t = reset[0];
    assert_eq!(
        (t.kind, t.direction, t.port),
        (Proto::Bt, Some(Dir::Download), NEUTRAL),
        "direction from the bitfields"
    );
    assert!(t.blocking_signal);
    assert!(t.reset_after_bt_exchange_ms.unwrap() < 10.0);
    assert_eq!(t.rsts[0].verdict, Some(crate::rst::Verdict::Forged));
    let s = r.summary.as_ref().unwrap();
    assert_eq!(s.block_bt_app_port, Cell::No);
    assert_eq!(s.block_bt_other_port, Cell::Yes, "{:?}", s.why);
    assert_eq!(s.throttle_bt_upload_app_port, Cell::Yes, "{:?}", s.why);
    assert_eq!(s.throttle_bt_upload_other_port, Cell::No, "{:?}", s.why);
    assert_eq!(s.throttle_bt_download_app_port, Cell::No, "{:?}", s.why);
    // The deduction table: BitTorrent failed where control worked (protocol), and the
    // download failed where the upload worked on the same port (direction).
    assert_eq!(s.blocking_basis, vec!["direction", "protocol"]);
    assert!(s.throttling_basis.contains(&"protocol") && s.throttling_basis.contains(&"direction"));
    let th = g
        .verdicts
        .throttling
        .iter()
        .find(|t| t.dir == Dir::Upload && t.port_class == PortClass::App)
        .unwrap();
    assert_eq!(th.study.limited, Some(true));
    assert_eq!(th.glasnost.verdict, super::verdict::Diff::Differentiated);
    assert_eq!(th.statistical.verdict, super::verdict::Diff::Differentiated);
}

#[test]
fn ordinary_bittorrent_captures_are_not_glasnost_tests() {
    let mut packets = transfer(
        Timestamp(0),
        51413,
        40000,
        Proto::Bt,
        Dir::Download,
        Fate::Normal,
        1,
    );
    packets.extend(transfer(
        Timestamp(5_000 * MS),
        51413,
        40001,
        Proto::Bt,
        Dir::Upload,
        Fate::Normal,
        2,
    ));
    let r = run(packets);
    assert!(r.glasnost.is_none() && r.tests.is_empty() && r.summary.is_none());
}

#[test]
fn the_log_beside_a_capture_is_found_and_cross_checked() {
    let dir = tempfile::tempdir().unwrap();
    let packets = glasnost_test(|_, _, _, _| Fate::Normal, true);
    let mut recs: Vec<_> = packets
        .iter()
        .map(|p| p.record(LinkType::RAW, None))
        .collect();
    recs.sort_by_key(|r| r.ts);
    let path = dir
        .path()
        .join("glasnost_198.51.100.9_host.example_1700000000.dump");
    std::fs::write(&path, pcap(LinkType::RAW, &recs, PcapOpts::default())).unwrap();
    // A log that agrees on the first transfer and not on the second.
    let log = "1700000000000 Client host.example 198.51.100.9 connected
1700000000100 Received: replay bt as client on port 6881 for 2 seconds.
1700000000100 Running bt as client on port 6881 .
1700000002600 End of transfer; 0 bytes transferred and 486000 bytes received
1700000002600 Resets received: 0 ; Resets sent: 0
1700000003100 Received: replay bt as client on port 6881 for 2 seconds as a control flow.
1700000003100 Running control flow of bt as client on port 6881 .
1700000005600 End of transfer; 0 bytes transferred and 123 bytes received
1700000005600 Resets received: 2 ; Resets sent: 0
";
    std::fs::write(
        dir.path()
            .join("glasnost_198.51.100.9_host.example_1700000000.log"),
        log,
    )
    .unwrap();
    let r = crate::analyze_file(&path, &Options::default());
    let g = r.glasnost.as_ref().unwrap();
    assert!(g.log_path.as_ref().unwrap().ends_with(".log"));
    assert_eq!(g.name.as_ref().unwrap().client_host, "host.example");
    assert!(
        g.notes
            .iter()
            .any(|n| n.contains("the log lists 2 transfers, the capture shows 24"))
    );
    assert!(r.tests[0].log.is_some());
    assert!(
        r.tests[0].log_disagrees.is_empty(),
        "{:?}",
        r.tests[0].log_disagrees
    );
    let d = &r.tests[1].log_disagrees;
    assert!(
        d.iter().any(|x| x.contains("the log counts 123 bytes")),
        "{d:?}"
    );
    assert!(d.iter().any(|x| x.contains("2 resets received")), "{d:?}");
}

#[test]
fn announced_transfers_without_a_packet_in_the_capture_got_no_connection() {
    // Port 6881 dropped near the client: the server's capture holds the commands for port
    // 6881 and not one packet of those transfers; the neutral port works.
    let packets: Vec<Packet> = glasnost_test(|_, _, _, _| Fate::Normal, true)
        .into_iter()
        .filter(|p| p.src.port() != 6881 && p.dst.port() != 6881)
        .collect();
    let r = run(packets);
    assert_eq!(r.tests.len(), 24, "every announced transfer is a test");
    for (i, t) in r.tests.iter().enumerate() {
        // The schedule's order: on each direction 6 transfers on 6881, then 6 on the other.
        let on_app = (i / 6) % 2 == 0;
        assert_eq!(t.port, if on_app { 6881 } else { NEUTRAL }, "transfer {i}");
        let kind = if i % 2 == 0 { Proto::Bt } else { Proto::Tcp };
        let dir = if i < 12 { Dir::Upload } else { Dir::Download };
        assert_eq!((t.kind, t.direction), (kind, Some(dir)), "transfer {i}");
        assert_eq!(t.repetition, (i as u32 % 6) / 2 + 1, "transfer {i}");
        if on_app {
            assert_eq!(t.outcome, Outcome::NoConnection, "transfer {i}");
            assert_eq!((t.flow, t.port_class), (0, PortClass::App), "transfer {i}");
            assert!(!t.guessed.is_empty());
        } else {
            assert_eq!(t.outcome, Outcome::Completed, "transfer {i}");
        }
    }
    let g = r.glasnost.as_ref().unwrap();
    assert_eq!((g.app_port, g.other_port), (Some(6881), Some(NEUTRAL)));
    assert!(
        g.notes
            .iter()
            .any(|n| n.contains("12 have no packet in it")),
        "{:?}",
        g.notes
    );
    let s = r.summary.as_ref().unwrap();
    assert_eq!(s.block_bt_app_port, Cell::Yes, "{:?}", s.why);
    assert_eq!(s.block_bt_other_port, Cell::No, "{:?}", s.why);
    assert_eq!(s.throttle_bt_upload_app_port, Cell::NotApplicable);
    assert_eq!(s.throttle_bt_upload_other_port, Cell::No, "{:?}", s.why);
    assert_eq!(s.blocking_basis, vec!["port"]);
}

#[test]
fn a_capture_cut_short_does_not_turn_unreached_transfers_into_blocking() {
    // The server stopped recording during the first upload on the neutral port: the commands
    // after it are in the capture (the command channel was whole up to then) but nothing
    // goes on after them.
    let all = glasnost_test(|_, _, _, _| Fate::Normal, true);
    let first_neutral = all
        .iter()
        .filter(|p| p.dst.port() == NEUTRAL)
        .map(|p| p.ts)
        .min()
        .unwrap();
    let packets: Vec<Packet> = all.into_iter().filter(|p| p.ts < first_neutral).collect();
    let r = run(packets);
    assert!(
        r.tests.iter().all(|t| t.outcome != Outcome::NoConnection),
        "{:?}",
        r.tests.iter().map(|t| t.outcome).collect::<Vec<_>>()
    );
    assert_eq!(r.tests.len(), 6);
}

/// A replayer log in the words of a real 2012 server log (DOMAIN.md section 6): port 0 and
/// the port the server told, two rates per line, the client's own counts, a failed transfer
/// reset by RSTs the server received and never sent, a download the client ended with a reset
/// after the full duration.
const REPLAYER_LOG: &str = "1330000000000 Client host.example 198.51.100.7 connected (port 40000)
1330000000001 Saving trace to logs/glasnost_198.51.100.7_host.example_1330000000.dump
1330000001000 Received: replay BitTorrent as client on port 6881 for 20 seconds.
1330000001001 Executing command 1 of 10
1330000001002 Receiving 68 bytes
1330000021000 End of transfer; 68 bytes transferred and 2500000 bytes received
1330000021000 Resets received: 0 ; Resets sent: 0
1330000021000 Transmitted 68 bytes and received 2500000 bytes in 20.000 seconds: 27 1000000 bps (state=3)
1330000021000 Client: Transferred 12500013 bytes and received 68 bytes in 20.010 seconds: 4997501 27 bps (state=3)
1330000022000 Received: replay BitTorrent as client on port 6881 for 20 seconds as a control flow.
1330000042000 End of transfer; 68 bytes transferred and 5000000 bytes received
1330000042000 Resets received: 0 ; Resets sent: 0
1330000042000 Transmitted 68 bytes and received 5000000 bytes in 20.000 seconds: 27 2000000 bps (state=3)
1330000043000 Received: replay BitTorrent as client on port 0 for 20 seconds.
1330000043001 Telling the client to use port 50806.
1330000043500 FAILED: Transmitted 68 bytes and received 1000 bytes in 0.500 seconds: 1088 16000 bps (state=2)
1330000043500 Resets received: 1 ; Resets sent: 0
1330000043500 Client: FAILED: Exception: java.net.SocketException: Connection reset
1330000044000 Received: replay BitTorrent as client on port 0 for 20 seconds as a control flow.
1330000044001 Telling the client to use port 50807.
1330000064000 Transmitted 68 bytes and received 5000000 bytes in 20.000 seconds: 27 2000000 bps (state=3)
1330000065000 Received: replay BitTorrent as server on port 6881 for 20 seconds.
1330000085000 End of transfer; 5000000 bytes transferred and 68 bytes received
1330000085000 Resets received: 1 ; Resets sent: 0
1330000085000 Transmitted 5000000 bytes and received 68 bytes in 20.000 seconds: 2000000 27 bps (state=3)
1330000085000 Client: Transferred 68 bytes and received 4800000 bytes in 20.000 seconds: 27 1920000 bps (state=3)
Done.
";

#[test]
fn a_log_alone_gives_the_tests_with_glasnost_s_own_measurement() {
    let log = crate::glasnost::log::parse(REPLAYER_LOG);
    let (tests, g) = crate::glasnost::analyze_log(std::path::Path::new("x.log"), &log)
        .expect("a test from the log");
    assert_eq!(tests.len(), 5);
    assert_eq!(
        (g.app_port, g.schedule_from, g.recognised_by),
        (Some(6881), ScheduleFrom::Log, RecognisedBy::Log)
    );
    let t = &tests[0];
    assert_eq!(
        (t.kind, t.direction, t.port),
        (Proto::Bt, Some(Dir::Upload), 6881)
    );
    // An upload: the bytes the server received over the server's seconds, not what the
    // client wrote into its socket (12.5 MB).
    assert_eq!(t.goodput_bps, Some(1_000_000.0));
    // Port 0: the transfer ran on the port the server told, the neutral one.
    let t = &tests[2];
    assert_eq!(
        (t.port, t.port_class, t.outcome),
        (50806, PortClass::Other, Outcome::Reset)
    );
    assert!(t.blocking_signal);
    assert_eq!(tests[3].port, 50807);
    // A download: the client's received bytes and seconds; its closing reset after the full
    // duration is not blocking.
    let t = &tests[4];
    assert_eq!(
        (t.direction, t.outcome),
        (Some(Dir::Download), Outcome::Completed)
    );
    assert_eq!(t.goodput_bps, Some(1_920_000.0));
    assert_eq!(g.verdicts.summary.block_bt_app_port, Cell::No);
    assert_eq!(g.verdicts.summary.block_bt_other_port, Cell::Yes);
    // One BitTorrent and one control upload at half its speed: the study's rule says limited,
    // but one measurement each (and no goodput series in a log) is too little for a
    // noise-aware test to confirm.
    assert_eq!(
        g.verdicts.summary.throttle_bt_upload_app_port,
        Cell::Inconclusive
    );
}

#[test]
fn a_lone_log_in_a_directory_is_analysed_and_a_log_beside_its_capture_is_not() {
    let dir = std::env::temp_dir().join(format!("bttrace-lone-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.log"), REPLAYER_LOG).unwrap();
    std::fs::write(dir.join("b.log"), REPLAYER_LOG).unwrap();
    std::fs::write(dir.join("b.dump"), b"").unwrap();
    let found: Vec<String> = crate::capture::walk_inputs(std::slice::from_ref(&dir))
        .filter_map(Result::ok)
        .filter_map(|p| Some(p.file_name()?.to_str()?.to_string()))
        .collect();
    assert_eq!(found, ["a.log", "b.dump"]);
    let r = crate::analyze_file(&dir.join("a.log"), &Options::default());
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.tests.len(), 5);
    assert!(r.summary.is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

fn planned_draft(port: u16, server_chose: bool, app_requested: bool) -> super::Draft<'static> {
    super::Draft {
        flow: None,
        planned: Some(super::Planned {
            proto: Proto::Bt,
            dir: Dir::Upload,
            port: Some(port),
            server_chose,
            app_requested,
            duration_s: None,
            at: None,
            setup: false,
            kind_known: true,
        }),
        proto: Proto::Bt,
        dir: Some(Dir::Upload),
        port,
        guessed: Vec::new(),
        measured: super::Measured::default(),
        at: 0,
    }
}

#[test]
fn the_application_port_comes_from_what_the_test_says_before_any_number() {
    let mut notes = Vec::new();
    // The server chose 50806: the other port is the application's, whatever its number.
    let d = [
        planned_draft(8000, false, false),
        planned_draft(50806, true, false),
    ];
    assert_eq!(
        super::ports(&d, None, &mut notes),
        (Some(8000), Some(50806))
    );
    // Port -1 asked for the server's application port.
    let d = [
        planned_draft(7000, false, false),
        planned_draft(9000, false, true),
    ];
    assert_eq!(super::ports(&d, None, &mut notes), (Some(9000), Some(7000)));
    assert!(notes.is_empty());
    // The log's `Using ports A and B` first.
    let mut log = crate::glasnost::log::parse("Using ports 4711 and 6881 for measurements.\n");
    log.ports = Some((4711, 6881));
    let d = [
        planned_draft(6881, false, false),
        planned_draft(4711, false, false),
    ];
    assert_eq!(super::ports(&d, Some(&log), &mut notes).0, Some(4711));
    // Nothing tells: 6881-6889, else the first port, said as a guess.
    let d = [
        planned_draft(5000, false, false),
        planned_draft(6883, false, false),
    ];
    assert_eq!(super::ports(&d, None, &mut notes).0, Some(6883));
    assert!(notes.is_empty());
    let d = [
        planned_draft(5000, false, false),
        planned_draft(7000, false, false),
    ];
    assert_eq!(super::ports(&d, None, &mut notes).0, Some(5000));
    assert!(notes.iter().any(|n| n.contains("guess")), "{notes:?}");
}
