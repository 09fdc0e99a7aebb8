//! The Glasnost analysis swept over implementations of the test it was not written against:
//! every constant of the generator (`bttrace::synth::glasnost`) drawn per run from a seeded
//! range: command words of both generations and the command port, the BitTorrent and the
//! neutral port (also chosen by the server), bitfield, request and segment sizes, repetitions,
//! the order within a repetition, merged opening writes, pace and durations, link type, file
//! format and payload cut, with or without the command channel (then with the server's log, on
//! a clock that is off by up to a minute). Each scenario (what a middlebox did) must give the
//! study's summary row on every variant; the accuracy per scenario is printed
//! (`cargo test --test glasnost_sweep -- --nocapture`).
//!
//! Real BitTorrent clients' sessions, named as Glasnost named its traces, must never become
//! tests.

use std::path::Path;

use bttrace::analyze::{Options, analyze_bytes, analyze_file};
use bttrace::capture::{LinkType, Timestamp};
use bttrace::glasnost::verdict::{Dir, PortClass, Proto};
use bttrace::synth::glasnost::{self, Fate, Form, Plan, Variant, Words};

/// A small seeded generator (xorshift), so that every run draws the same variants.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// What one run draws.
struct Drawn {
    plan: Plan,
    form: Form,
    /// Without the command channel in the capture: the log beside it, on this clock offset.
    log_offset_ms: Option<i64>,
    label: String,
}

fn draw(seed: u64, transfer_ms: i64) -> Drawn {
    let mut d = Draw(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for _ in 0..4 {
        d.next();
    }
    let words = d.pick(&[Words::Wire, Words::Echo, Words::V2009]);
    let orders: [fn(u32) -> bool; 3] = [|_| false, |_| true, |r| r % 2 == 1];
    let odd_port = d.range(20_000, 30_000) as u16;
    let variant = Variant {
        words,
        command_port: d.pick(&[19970, 19980, odd_port]),
        app_port: d.pick(&[6881, 6885, 6889]),
        server_chooses_neutral: words != Words::V2009 && d.next() % 2 == 0,
        bitfield_len: d.range(20, 2_000) as u32,
        request_len: d.pick(&[16_384, 131_072, 1 << 20, 12_500_000]),
        segment: d.range(536, 1_448) as usize,
        control_first: d.pick(&orders),
        merged_opening: d.next() % 3 == 0,
        throttle_after: d.range(100_000, 300_000) as usize,
    };
    let reps = d.pick(&[2, 3, 5]);
    let with_commands = d.next() % 4 != 0;
    let plan = Plan {
        client: "198.51.100.9".parse().unwrap(),
        server: "203.0.113.1".parse().unwrap(),
        start: Timestamp(1_300_000_000_000_000_000 + d.range(0, 1 << 30) as i64 * 1_000_000_000),
        neutral_port: d.range(10_000, 60_000) as u16,
        repetitions: reps,
        transfer_ms,
        spacing_ms: transfer_ms + d.range(300, 900) as i64,
        pace_us: if transfer_ms > 4_000 {
            d.range(2_000, 4_000)
        } else {
            d.range(3_000, 7_000)
        } as i64,
        with_commands,
        variant,
    };
    let form = Form {
        link: d.pick(&[LinkType::RAW, LinkType::ETHERNET]),
        pcapng: d.next() % 2 == 0,
        payload_cut: d.pick(&[None, Some(200), Some(56)]),
    };
    let log_offset_ms = (!with_commands).then(|| d.range(0, 120_000) as i64 - 60_000);
    let label = format!(
        "seed {seed}: {:?} cmd port {} app {} neutral {}{} bitfield {} request {} seg {} reps {} merged {} {:?} pcapng {} cut {:?}{}",
        plan.variant.words,
        plan.variant.command_port,
        plan.variant.app_port,
        plan.neutral_port,
        if plan.variant.server_chooses_neutral {
            " (server-chosen)"
        } else {
            ""
        },
        plan.variant.bitfield_len,
        plan.variant.request_len,
        plan.variant.segment,
        reps,
        plan.variant.merged_opening,
        form.link,
        form.pcapng,
        form.payload_cut,
        match log_offset_ms {
            Some(o) => format!(" no command channel, log offset {o} ms"),
            None => String::new(),
        }
    );
    Drawn {
        plan,
        form,
        log_offset_ms,
        label,
    }
}

type Fates = fn(Proto, Dir, PortClass, u32) -> Fate;

struct Scenario {
    name: &'static str,
    fates: Fates,
    /// The summary row in `SUMMARY_CELLS` order.
    expected: [&'static str; 6],
    transfer_ms: i64,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "none",
        fates: |_, _, _, _| Fate::Normal,
        expected: ["no", "no", "no", "no", "no", "no"],
        transfer_ms: 2_000,
    },
    Scenario {
        name: "bt-throttled",
        fates: |p, _, _, _| {
            if p == Proto::Bt {
                Fate::Throttled
            } else {
                Fate::Normal
            }
        },
        expected: ["no", "no", "yes", "yes", "yes", "yes"],
        transfer_ms: 2_000,
    },
    Scenario {
        name: "upload-throttled",
        fates: |p, d, _, _| {
            if p == Proto::Bt && d == Dir::Upload {
                Fate::Throttled
            } else {
                Fate::Normal
            }
        },
        expected: ["no", "no", "yes", "yes", "no", "no"],
        transfer_ms: 2_000,
    },
    Scenario {
        name: "throttled-after-100-300kB",
        fates: |p, _, _, _| {
            if p == Proto::Bt {
                Fate::ThrottledAfter
            } else {
                Fate::Normal
            }
        },
        expected: ["no", "no", "yes", "yes", "yes", "yes"],
        transfer_ms: 5_000,
    },
    Scenario {
        name: "app-port-dropped",
        fates: |_, _, c, _| {
            if c == PortClass::App {
                Fate::NoConnection
            } else {
                Fate::Normal
            }
        },
        expected: ["yes", "no", "n/a", "no", "n/a", "no"],
        transfer_ms: 2_000,
    },
    Scenario {
        name: "bt-reset-after-bitfield",
        fates: |p, _, _, _| {
            if p == Proto::Bt {
                Fate::Reset
            } else {
                Fate::Normal
            }
        },
        expected: ["yes", "yes", "n/a", "n/a", "n/a", "n/a"],
        transfer_ms: 2_000,
    },
    Scenario {
        name: "bt-reset-1.5s-into-data",
        fates: |p, _, _, _| {
            if p == Proto::Bt {
                Fate::ResetLate
            } else {
                Fate::Normal
            }
        },
        expected: ["yes", "yes", "n/a", "n/a", "n/a", "n/a"],
        transfer_ms: 3_000,
    },
    Scenario {
        name: "app-port-bt-reset",
        fates: |p, _, c, _| {
            if p == Proto::Bt && c == PortClass::App {
                Fate::Reset
            } else {
                Fate::Normal
            }
        },
        expected: ["yes", "no", "n/a", "no", "n/a", "no"],
        transfer_ms: 2_000,
    },
    Scenario {
        name: "app-port-dropped-and-uploads-throttled",
        fates: |p, d, c, _| match (p, d, c) {
            (_, _, PortClass::App) => Fate::NoConnection,
            (Proto::Bt, Dir::Upload, _) => Fate::Throttled,
            _ => Fate::Normal,
        },
        expected: ["yes", "no", "n/a", "yes", "n/a", "no"],
        transfer_ms: 2_000,
    },
];

/// Variants per scenario (`BTTRACE_SWEEP_VARIANTS=N` for a wider sweep).
fn variants() -> u64 {
    std::env::var("BTTRACE_SWEEP_VARIANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

/// A transfer as (kind, direction, port, outcome).
type Key = (String, String, u16, String);

fn run(s: &Scenario, seed: u64, dir: &Path) -> (String, Vec<String>, Vec<Key>, Vec<Key>) {
    let d = draw(seed, s.transfer_ms);
    let packets = glasnost::test(&d.plan, s.fates);
    let bytes = glasnost::capture_as(&packets, d.form);
    if let Ok(keep) = std::env::var("BTTRACE_SWEEP_KEEP") {
        // Keep every capture (and log) for a closer look: BTTRACE_SWEEP_KEEP=DIR.
        let stem = format!("{keep}/{}-{seed}", s.name);
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::write(format!("{stem}.dump"), &bytes);
        if let Some(offset) = d.log_offset_ms {
            let v2009 = d.plan.variant.words == Words::V2009;
            let _ = std::fs::write(
                format!("{stem}.log"),
                glasnost::log(&d.plan, v2009, offset, s.fates),
            );
        }
    }
    let report = match d.log_offset_ms {
        None => analyze_bytes("test.pcap", bytes, &Options::default()),
        Some(offset) => {
            let v2009 = d.plan.variant.words == Words::V2009;
            let stem = format!("{}-{seed}", s.name);
            let cap = dir.join(format!("{stem}.dump"));
            std::fs::write(&cap, bytes).unwrap();
            std::fs::write(
                dir.join(format!("{stem}.log")),
                glasnost::log(&d.plan, v2009, offset, s.fates),
            )
            .unwrap();
            analyze_file(&cap, &Options::default())
        }
    };
    let got: Vec<String> = match &report.summary {
        Some(sum) => sum.cells().iter().map(|c| c.code().to_string()).collect(),
        None => vec!["(no test)".to_string(); 6],
    };
    let kind = |p: Proto| {
        if p == Proto::Bt {
            "bittorrent"
        } else {
            "control"
        }
    };
    let want: Vec<Key> = glasnost::schedule(&d.plan)
        .iter()
        .map(|t| {
            let outcome = match (s.fates)(t.proto, t.dir, t.class, t.rep) {
                Fate::Reset | Fate::ResetLate => "reset",
                Fate::NoConnection => "no_connection",
                _ => "completed",
            };
            (
                kind(t.proto).into(),
                t.dir.code().into(),
                t.port,
                outcome.into(),
            )
        })
        .collect();
    let have: Vec<Key> = report
        .tests
        .iter()
        .map(|t| {
            (
                kind(t.kind).into(),
                t.direction.map_or("?", |d| d.code()).into(),
                t.port,
                t.outcome.code().into(),
            )
        })
        .collect();
    (d.label, got, want, have)
}

/// How many of `want` appear in `have` (as multisets), and the entries of `have` that are
/// not in `want` (a transfer given a wrong kind, direction, port or outcome, or invented).
fn compare(want: &[Key], have: &[Key]) -> (usize, Vec<Key>) {
    let mut left: Vec<Option<&Key>> = want.iter().map(Some).collect();
    let mut wrong = Vec::new();
    let mut right = 0;
    for h in have {
        match left.iter_mut().find(|w| w.is_some_and(|w| w == h)) {
            Some(slot) => {
                *slot = None;
                right += 1;
            }
            None => wrong.push(h.clone()),
        }
    }
    (right, wrong)
}

#[test]
fn every_scenario_gives_the_study_s_row_on_every_variant() {
    let dir = std::env::temp_dir().join(format!("bttrace-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for s in SCENARIOS {
        let mut right_cells = 0;
        let mut right_rows = 0;
        let (mut transfers, mut right_transfers, mut wrong_transfers) = (0, 0, 0);
        for seed in 0..variants() {
            let (label, got, want, have) = run(s, seed + 1, &dir);
            let (right, wrong) = compare(&want, &have);
            transfers += want.len();
            right_transfers += right;
            wrong_transfers += wrong.len();
            if !wrong.is_empty() {
                failures.push(format!("{}: {label}: wrong transfers {wrong:?}", s.name));
            }
            let ok = got.iter().zip(s.expected).filter(|(g, e)| *g == e).count();
            right_cells += ok;
            if ok == 6 {
                right_rows += 1;
            } else {
                failures.push(format!(
                    "{}: {label}: got {got:?}, want {:?}",
                    s.name, s.expected
                ));
            }
        }
        // A transfer may go uncounted (with a note) when the snaplen cut its announcement
        // before the words that tell its kind, never more than 1 in 100.
        if right_transfers * 100 < transfers * 99 {
            failures.push(format!(
                "{}: only {right_transfers} of {transfers} transfers found right",
                s.name
            ));
        }
        println!(
            "{:40} rows {right_rows}/{}, cells {right_cells}/{}, transfers right {right_transfers}/{transfers}, wrong {wrong_transfers}",
            s.name,
            variants(),
            6 * variants()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn real_clients_sessions_named_like_glasnost_traces_are_never_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/captures");
    let mut sources: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("fixtures/clients"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    for name in [
        "ndpi/bittorrent.pcap",
        "ndpi/bittorrent_ip.pcap",
        "ndpi/bittorrent_tcp_miss.pcapng",
        "ndpi/bittorrent_transmission.pcapng",
        "ndpi/bittorrent_utp.pcap",
    ] {
        for base in [&shared, &root.join("fixtures")] {
            let p = base.join(name);
            if p.is_file() {
                sources.push(p);
                break;
            }
        }
    }
    sources.retain(|p| {
        let n = p.to_string_lossy();
        n.ends_with(".pcap") || n.ends_with(".pcapng")
    });
    assert!(sources.len() >= 3, "real client captures: {sources:?}");
    let dir = std::env::temp_dir().join(format!("bttrace-clients-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, src) in sources.iter().enumerate() {
        let named = dir.join(format!(
            "bt_198.51.100.{}_client.example_{}.dump",
            i + 1,
            1_257_080_094 + i
        ));
        std::fs::copy(src, &named).unwrap();
        let r = analyze_file(&named, &Options::default());
        assert!(r.error.is_none(), "{}: {:?}", src.display(), r.error);
        assert!(
            r.glasnost.is_none() && r.tests.is_empty() && r.summary.is_none(),
            "{} became a Glasnost test: {:?}",
            src.display(),
            r.glasnost.map(|g| g.recognised_by)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
