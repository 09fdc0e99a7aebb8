//! Glasnost tests: from a capture's flows (and its `.log`, when one lies beside it), or from a
//! log alone, to the test matrix, each transfer's data-phase goodput, and the verdicts.
//!
//! The analysis is a chain of pure stages, each tested on its own:
//! 1. **Recognition** ([`evidence`]): a capture is a Glasnost test only on positive evidence:
//!    a command channel (any port, either generation's words), a log that lists transfers, or
//!    BitTorrent flows and their random-payload control twins on the same ports between the
//!    same hosts. A file name alone never makes a test, and a client's swarm session (tracker,
//!    many peers, encrypted flows) has none of these. `--glasnost on|off` overrides.
//! 2. **Schedule** ([`schedule`]): the announced transfers, from the command channel, else the
//!    log, else the flows themselves.
//! 3. **Kinds** ([`kinds`]): each flow's kind comes from its bytes: a BitTorrent handshake, or a
//!    control twin's opening (a handshake's length of random bytes), or an exchange whose
//!    segment sizes mirror a BitTorrent flow of the same test (a sender that merged its first
//!    writes). Only a flow whose bytes tell nothing takes the kind its announcement named, and
//!    says so.
//! 4. **Matching** ([`schedule::match_slots`]): announcements and flows by port and time.
//! 5. **Measurement** ([`measure`]): the data phase starts where the set-up exchange ends: at
//!    the first piece message (BitTorrent), or after the downloader's last set-up write
//!    (control), whatever the bitfield's length. Goodput counts the seeder's bytes from there
//!    to its last packet, retransmissions once, bytes the snaplen cut included.
//! 6. **Outcome**: reset, completed, no connection, no data; a transfer closed by RSTs after
//!    its full duration (a client ending a download with a reset) completed.
//! 7. **Verdicts** ([`verdict`]): the study's rules, with bttrace's own judgement of each RST.

pub mod evidence;
pub mod log;
pub mod names;
pub mod schedule;
pub mod verdict;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::btparse::{FlowDecoder, Kind, MsgKind};
use crate::flows::{Close, Flow, PerSide, Side};
use names::{CaptureName, Generation};
use schedule::{Planned, Slot};
use verdict::{Dir, Outcome, PortClass, Proto, Transfer, Verdicts};

/// Ports Glasnost's BitTorrent emulation used as "the BitTorrent port".
fn is_app_port(p: u16) -> bool {
    (6881..=6889).contains(&p)
}

/// Whether to look for a Glasnost test (`--glasnost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// On positive evidence only.
    #[default]
    Auto,
    /// Take the capture as a test whatever it holds.
    On,
    /// Never.
    Off,
}

/// What the rest of the pipeline knows of one flow that the test needs: its RSTs as judged,
/// and the study's reset signal.
#[derive(Debug, Clone, Default)]
pub struct FlowFacts {
    pub rsts: Vec<TestRst>,
    /// The study's signal: reset, RSTs received and none sent by the capturing side.
    pub signal: bool,
    pub after_bt_exchange_ms: Option<f64>,
}

impl FlowFacts {
    fn forged(&self) -> bool {
        self.rsts
            .iter()
            .any(|r| r.verdict == Some(crate::rst::Verdict::Forged))
    }
}

/// A capture's flows, as the Glasnost analysis takes them.
pub struct CaptureInput<'a> {
    pub path: &'a str,
    pub flows: &'a [&'a Flow<FlowDecoder>],
    /// Per flow, in the same order.
    pub facts: &'a [FlowFacts],
    pub interval_ms: f64,
    /// The log beside the capture, read by the pipeline.
    pub log: Option<(PathBuf, log::GlasnostLog)>,
    pub mode: Mode,
}

/// One transfer of the test, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// `bittorrent` | `control`.
    pub kind: Proto,
    /// `upload` | `download`, from the user's side; null when nothing tells.
    pub direction: Option<Dir>,
    pub port: u16,
    /// `app` (the BitTorrent port) | `other` (the neutral port).
    pub port_class: PortClass,
    pub repetition: u32,
    /// Data-phase goodput, bits per second.
    pub goodput_bps: Option<f64>,
    /// `completed` | `reset` | `no_connection` | `no_data`.
    pub outcome: Outcome,
    /// The flow carrying it; 0 when the capture holds no packet of it (flows count from 1).
    pub flow: u32,
    /// Data-phase bytes from the seeder and the phase's duration.
    pub data_bytes: u64,
    pub data_seconds: Option<f64>,
    /// Goodput per interval of the data phase (bits per second).
    pub series: TestSeries,
    /// The reset flow's RSTs: frame, verdict, evidence.
    pub rsts: Vec<TestRst>,
    /// Milliseconds from the BitTorrent exchange to the first RST, for reset transfers.
    pub reset_after_bt_exchange_ms: Option<f64>,
    /// The study's signal: reset, RSTs received, none sent by the server.
    pub blocking_signal: bool,
    /// bttrace judged one of the flow's RSTs `forged`: the blocking signal that stands even
    /// when the server's own stack later answered with RSTs of its own.
    pub forged_reset: bool,
    /// Where the kind or direction came from when the flow could not tell.
    pub guessed: Vec<&'static str>,
    /// What the log says of this transfer, and where it disagrees with the capture.
    pub log: Option<log::LogTransfer>,
    pub log_disagrees: Vec<String>,
}

impl TestReport {
    /// "bittorrent upload #1 on port 6881".
    pub fn kind_label(&self) -> String {
        format!(
            "{} {} #{} on port {}",
            if self.kind == Proto::Bt {
                "bittorrent"
            } else {
                "control"
            },
            self.direction.map_or("?", |d| d.code()),
            self.repetition,
            self.port
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TestSeries {
    pub interval_ms: f64,
    pub bps: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestRst {
    pub frame: u64,
    #[serde(rename = "sender")]
    pub from: Side,
    pub verdict: Option<crate::rst::Verdict>,
    pub evidence: Vec<crate::rst::EvidenceKind>,
}

/// What bttrace found out about the test as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct GlasnostReport {
    /// What the file name says (client, host, time), when it follows a convention.
    pub name: Option<CaptureName>,
    pub generation: Generation,
    /// The `.log` read beside the capture, if any.
    pub log_path: Option<String>,
    /// `command_channel`, `log` or `flows`.
    pub schedule_from: ScheduleFrom,
    /// The positive evidence that this is a Glasnost test: `command_channel`, `log`,
    /// `control_twins` (BitTorrent and random-payload twins on the test's ports), or `forced`
    /// (`--glasnost on`).
    pub recognised_by: RecognisedBy,
    pub app_port: Option<u16>,
    pub other_port: Option<u16>,
    pub verdicts: Verdicts,
    /// Where the capture and the log disagree overall, and other remarks.
    pub notes: Vec<String>,
}

/// Where a test's schedule (the transfers it announced) was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleFrom {
    /// The test's own command channel.
    CommandChannel,
    /// The `.log` beside the capture.
    Log,
    /// Neither: the flows alone.
    Flows,
}

impl ScheduleFrom {
    pub fn code(self) -> &'static str {
        match self {
            ScheduleFrom::CommandChannel => "command_channel",
            ScheduleFrom::Log => "log",
            ScheduleFrom::Flows => "flows",
        }
    }
}

/// The positive evidence that a capture holds a Glasnost test ([`evidence::recognise`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecognisedBy {
    CommandChannel,
    Log,
    /// A BitTorrent flow and its random-payload twin between the same two hosts.
    ControlTwins,
    /// None found; the user asked for the analysis (`--glasnost on`).
    Forced,
}

impl RecognisedBy {
    pub fn code(self) -> &'static str {
        match self {
            RecognisedBy::CommandChannel => "command_channel",
            RecognisedBy::Log => "log",
            RecognisedBy::ControlTwins => "control_twins",
            RecognisedBy::Forced => "forced",
        }
    }
}

/// The `.log` beside a capture: `x.dump.gz`, `x.dump`, `x.pcap` all look for `x.log` (and an
/// M-Lab name a second apart, [`names::near_stems`]).
pub fn log_path_for(capture: &Path) -> Option<PathBuf> {
    let name = capture.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".gz")
        .unwrap_or(name)
        .rsplit_once('.')
        .map_or(name, |(s, _)| s);
    let p = capture.with_file_name(format!("{stem}.log"));
    if p.is_file() {
        return Some(p);
    }
    // M-Lab's log and dump of one test can be named a second apart.
    names::near_stems(stem)
        .into_iter()
        .map(|s| capture.with_file_name(format!("{s}.log")))
        .find(|p| p.is_file())
}

/// A flow's user direction from what it carried: the side that sent the pieces (or, for
/// flows without BitTorrent framing, clearly most of the bytes) is the seeder.
fn direction_of(f: &Flow<FlowDecoder>) -> Option<Dir> {
    let seeder = match f.app.kind() {
        Kind::BitTorrent => {
            let sent = |side: Side, k: MsgKind| {
                f.app
                    .dir(side)
                    .and_then(|d| d.counts.get(k as usize).copied())
                    .unwrap_or(0)
            };
            let seeds = |s: Side| sent(s, MsgKind::Piece) + sent(s, MsgKind::Unchoke);
            let leeches = |s: Side| sent(s, MsgKind::Request) + sent(s, MsgKind::Interested);
            // A bitfield of all ones is a seeder's (it has every piece), of all zeros a
            // leecher's: BEP 3, whatever the bitfield's length.
            let first = |s: Side| f.app.dir(s).and_then(|d| d.first_bitfield_byte);
            let hint = |seeder: Side| {
                u64::from(first(seeder) == Some(0xff) || first(seeder.peer()) == Some(0x00))
            };
            let client = seeds(Side::Client) + leeches(Side::Server) + hint(Side::Client);
            let server = seeds(Side::Server) + leeches(Side::Client) + hint(Side::Server);
            match client.cmp(&server) {
                std::cmp::Ordering::Greater => Some(Side::Client),
                std::cmp::Ordering::Less => Some(Side::Server),
                std::cmp::Ordering::Equal => None,
            }
        }
        _ => None,
    };
    let seeder = seeder.or_else(|| {
        let up = f.half(Side::Client).stats().unique;
        let down = f.half(Side::Server).stats().unique;
        // Clearly more: four times the other side's bytes and more than a set-up exchange.
        const CLEAR: u64 = 4 << 10;
        if up > CLEAR && up > 4 * down {
            Some(Side::Client)
        } else if down > CLEAR && down > 4 * up {
            Some(Side::Server)
        } else {
            None
        }
    })?;
    Some(if seeder == Side::Client {
        Dir::Upload
    } else {
        Dir::Download
    })
}

/// How a flow's kind was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    /// From its own bytes.
    Bytes,
    /// Its segment sizes mirror a BitTorrent flow of the test.
    Mirror,
}

/// Each candidate's kind from its bytes ([`Kind::BitTorrent`], [`Kind::Control`]), else from
/// its exchange mirroring a BitTorrent flow of the same test: the first segments of each side
/// end at the same stream offsets (the same implementation wrote the same set-up messages),
/// and its bytes are random where the BitTorrent flow's are a handshake.
fn kinds(cands: &[&Flow<FlowDecoder>]) -> Vec<Option<(Proto, Told)>> {
    let ends = |f: &Flow<FlowDecoder>, s: Side| -> Vec<u64> {
        f.app.dir(s).map_or(Vec::new(), |d| {
            d.opening.write_ends().into_iter().take(3).collect()
        })
    };
    let bt: Vec<PerSide<Vec<u64>>> = cands
        .iter()
        .filter(|f| f.app.kind() == Kind::BitTorrent)
        .map(|f| PerSide::from_fn(|s| ends(f, s)))
        .collect();
    cands
        .iter()
        .map(|f| match f.app.kind() {
            Kind::BitTorrent => Some((Proto::Bt, Told::Bytes)),
            Kind::Control => Some((Proto::Tcp, Told::Bytes)),
            Kind::Command => None,
            _ => {
                let mine = PerSide::from_fn(|s| ends(f, s));
                let random = Side::BOTH.iter().all(|&s| {
                    f.app.dir(s).is_none_or(|d| {
                        let sample = d.opening.sample();
                        sample.len() < 32 || crate::btparse::high_entropy(sample)
                    })
                });
                // The writes both flows made must end at the same offsets, for at least three
                // writes in all. The shorter of the two sets the length compared: a BitTorrent
                // twin reset after its bitfield made fewer writes than its control twin, and
                // a control flow cut short made fewer than its BitTorrent twin.
                let mirrors = bt.iter().any(|b| {
                    let mut compared = 0;
                    let agree = b.iter().zip(mine.iter()).all(|(theirs, ours)| {
                        compared += ours.len().min(theirs.len());
                        ours.iter().zip(theirs).all(|(a, b)| a == b)
                    });
                    agree && compared >= 3
                });
                (random && mirrors).then_some((Proto::Tcp, Told::Mirror))
            }
        })
        .collect()
}

/// A transfer's data phase, measured on its flow.
#[derive(Debug, Clone, Copy, Default)]
struct Measured {
    /// Stream offset where the seeder's set-up exchange ended.
    setup: Option<u64>,
    start: Option<crate::flows::PacketRef>,
    bytes: u64,
    span_ns: Option<i64>,
}

/// Where the seeder's set-up exchange ends: at its first piece message; else (a control twin,
/// or pieces lost to the snaplen) after the seeder's last segment sent before the leecher's
/// last set-up write (its request), when both openings were kept whole; else at `twin`, the
/// offset measured on a BitTorrent transfer of the same test and direction.
fn setup_end(f: &Flow<FlowDecoder>, seeder: Side, twin: Option<u64>) -> Option<u64> {
    let s = f.app.dir(seeder)?;
    if let Some(o) = s.first_piece_offset {
        return Some(o);
    }
    let l = f.app.dir(seeder.peer());
    let from_leecher = l.and_then(|l| {
        let segs = l.opening.segments();
        if segs.is_empty() || segs.len() >= crate::btparse::OPENING_SEGMENTS {
            return None;
        }
        let request = segs.last()?.1.ts;
        let seeder_segs = s.opening.segments();
        let k = seeder_segs.iter().position(|(_, at)| at.ts > request)?;
        Some(
            k.checked_sub(1)
                .map_or(0, |i| seeder_segs.get(i).map_or(0, |x| x.0)),
        )
    });
    from_leecher.or(twin)
}

fn measure(f: &Flow<FlowDecoder>, dir: Option<Dir>, twin: Option<u64>) -> Measured {
    let Some(seeder) = dir.map(|d| match d {
        Dir::Upload => Side::Client,
        Dir::Download => Side::Server,
    }) else {
        return Measured::default();
    };
    let Some(d) = f.app.dir(seeder) else {
        return Measured::default();
    };
    let setup = setup_end(f, seeder, twin);
    let o = &d.opening;
    let start = setup.and_then(|s| o.passing(s));
    let bytes = setup.map_or(0, |s| o.stream_end().saturating_sub(s));
    let span_ns = match (start, o.last) {
        (Some(a), Some(b)) => Some(b.ts.nanos_since(a.ts)),
        _ => None,
    };
    Measured {
        setup,
        start,
        bytes,
        span_ns,
    }
}

/// The side that sends a transfer's data.
fn seeder_side(dir: Dir) -> Side {
    match dir {
        Dir::Upload => Side::Client,
        Dir::Download => Side::Server,
    }
}

/// The seeder's goodput per whole interval of the data phase (bits per second).
fn data_series(f: &Flow<FlowDecoder>, dir: Option<Dir>, m: &Measured) -> Vec<f64> {
    let (Some(dir), Some(start)) = (dir, m.start) else {
        return Vec::new();
    };
    let seeder = if dir == Dir::Upload {
        Side::Client
    } else {
        Side::Server
    };
    let bins = f.series.bins(seeder);
    let first = (start.ts.nanos_since(f.series.start()).max(0) / f.series.interval_ns()) as usize;
    let secs = f.series.interval_ns() as f64 / 1e9;
    // Whole intervals only: the first and last are partial.
    let inner: Vec<f64> = bins
        .iter()
        .skip(first + 1)
        .map(|&b| b as f64 * 8.0 / secs)
        .collect();
    let keep = inner.len().saturating_sub(1);
    inner.into_iter().take(keep).collect()
}

/// One transfer before its outcome is decided.
struct Draft<'a> {
    flow: Option<(usize, &'a Flow<FlowDecoder>)>,
    planned: Option<Planned>,
    proto: Proto,
    dir: Option<Dir>,
    port: u16,
    guessed: Vec<&'static str>,
    measured: Measured,
    /// When the transfer began (its flow's first packet, or its announcement).
    at: i64,
}

/// A transfer closed by RSTs is reset when bttrace judged one of them forged, when the
/// study's signal holds, or when its data phase lasted less than 70% of what the test's other
/// transfers (or, failing them, its announcement) say a transfer lasts. A reset after the
/// full duration is the client ending a download: completed.
fn outcome(
    f: &Flow<FlowDecoder>,
    facts: &FlowFacts,
    m: &Measured,
    expected_s: Option<f64>,
) -> Outcome {
    if !f.established() {
        return Outcome::NoConnection;
    }
    if f.close() == Close::Rst {
        let lasted = m.span_ns.map(|n| n as f64 / 1e9);
        let short = match (lasted, expected_s) {
            (None, _) => true,
            (Some(l), Some(e)) => l < 0.7 * e,
            (Some(_), None) => false,
        };
        return if facts.forged() || facts.signal || short {
            Outcome::Reset
        } else {
            Outcome::Completed
        };
    }
    if m.bytes == 0 {
        Outcome::NoData
    } else {
        Outcome::Completed
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// The application (BitTorrent) port and the neutral one: from the log's `Using ports`, else
/// from what the announcements asked for (the server's application port, or its choice of
/// the neutral one), else Glasnost's 6881-6889; else the first port used, said as a guess.
fn ports(
    drafts: &[Draft],
    log: Option<&log::GlasnostLog>,
    notes: &mut Vec<String>,
) -> (Option<u16>, Option<u16>) {
    let used: Vec<u16> = drafts.iter().map(|d| d.port).filter(|&p| p != 0).collect();
    let planned = || {
        drafts
            .iter()
            .filter_map(|d| d.planned.as_ref().map(|p| (p, d.port)))
    };
    let app = log
        .and_then(|l| l.ports.map(|p| p.0))
        .or_else(|| {
            planned()
                .find(|(p, _)| p.app_requested)
                .map(|(_, port)| port)
        })
        .or_else(|| {
            let neutral: Vec<u16> = planned()
                .filter(|(p, _)| p.server_chose)
                .map(|(_, port)| port)
                .collect();
            if neutral.is_empty() {
                None
            } else {
                used.iter().copied().find(|p| !neutral.contains(p))
            }
        })
        .or_else(|| used.iter().copied().find(|&p| is_app_port(p)))
        .or_else(|| {
            let first = used.first().copied();
            if first.is_some() && used.iter().any(|p| Some(*p) != first) {
                notes.push(
                    "which port is the BitTorrent port is a guess: the first port the test used"
                        .into(),
                );
            }
            first
        });
    let other = used.iter().copied().find(|&p| Some(p) != app);
    (app, other)
}

/// Announcements and flows that did not become transfers, counted for the notes.
#[derive(Debug, Default)]
struct Unplaced {
    /// Announced after the capture ended.
    unseen: usize,
    /// Announced, no packet, the capture going on: `no_connection` transfers.
    absent: usize,
    /// Flows whose bytes tell no kind and no announcement names one.
    untold: usize,
    /// Announced without a packet, by a command line too cut to tell its kind.
    unknown_kind: usize,
}

/// The test's transfers: each announcement with its flow (`matched`), or without one; then
/// the flows no announcement named (every flow, without a schedule) whose bytes tell their
/// kind. In time order.
fn place<'a>(
    plan: &[Planned],
    matched: &[Option<usize>],
    cands: &[(usize, &'a Flow<FlowDecoder>)],
    kind_of: &[Option<(Proto, Told)>],
    used: &mut [bool],
    offset: i64,
    capture_end: i64,
) -> (Vec<Draft<'a>>, Unplaced) {
    let mut drafts: Vec<Draft> = Vec::new();
    let mut n = Unplaced::default();
    for (p, m) in plan.iter().zip(matched) {
        match m {
            Some(i) => {
                if let Some(u) = used.get_mut(*i) {
                    *u = true;
                }
                let (fi, f) = cands[*i];
                let mut guessed = Vec::new();
                let proto = match kind_of.get(*i).copied().flatten() {
                    Some((k, Told::Bytes)) => k,
                    Some((k, Told::Mirror)) => {
                        guessed.push("control: its exchange mirrors a BitTorrent transfer's");
                        k
                    }
                    None if p.kind_known => {
                        guessed.push("kind from the schedule: the flow's bytes do not tell");
                        p.proto
                    }
                    None => {
                        n.untold += 1;
                        continue;
                    }
                };
                let dir = direction_of(f).or_else(|| {
                    guessed.push("direction from the schedule");
                    Some(p.dir)
                });
                drafts.push(Draft {
                    flow: Some((fi, f)),
                    planned: Some(p.clone()),
                    proto,
                    dir,
                    port: f.server.port(),
                    guessed,
                    measured: Measured::default(),
                    at: f.first_ts.0,
                });
            }
            None if !p.kind_known => n.unknown_kind += 1,
            None => {
                let at = p.at.map(|t| t.saturating_add(offset));
                if at.is_some_and(|t| capture_end > t + NO_CONNECTION_AFTER_NS) || at.is_none() {
                    n.absent += 1;
                    drafts.push(Draft {
                        flow: None,
                        planned: Some(p.clone()),
                        proto: p.proto,
                        dir: Some(p.dir),
                        port: p.port.unwrap_or(0),
                        guessed: vec![
                            "no packet in the capture: kind and direction from the schedule",
                        ],
                        measured: Measured::default(),
                        at: at.unwrap_or(capture_end),
                    });
                } else {
                    n.unseen += 1;
                }
            }
        }
    }
    // Flows the schedule did not announce (or every flow, without a schedule): taken when
    // their bytes tell their kind.
    for (i, (fi, f)) in cands.iter().enumerate() {
        if used.get(i).copied().unwrap_or(true) {
            continue;
        }
        match kind_of.get(i).copied().flatten() {
            Some((proto, told)) => drafts.push(Draft {
                flow: Some((*fi, *f)),
                planned: None,
                proto,
                dir: direction_of(f),
                port: f.server.port(),
                guessed: if told == Told::Mirror {
                    vec!["control: its exchange mirrors a BitTorrent transfer's"]
                } else {
                    Vec::new()
                },
                measured: Measured::default(),
                at: f.first_ts.0,
            }),
            None => n.untold += 1,
        }
    }
    drafts.sort_by_key(|d| d.at);
    (drafts, n)
}

/// Candidate transfer flows, with their index in `flows`: between the test's hosts, not a
/// command channel, and not a probe (set up, then closed or left open without a byte).
fn candidates<'a>(
    flows: &[&'a Flow<FlowDecoder>],
    commands: &schedule::CommandSchedule,
    hosts: Option<(std::net::IpAddr, std::net::IpAddr)>,
) -> Vec<(usize, &'a Flow<FlowDecoder>)> {
    flows
        .iter()
        .enumerate()
        .map(|(i, f)| (i, *f))
        .filter(|(_, f)| !commands.flows.contains(&f.id))
        .filter(|(_, f)| f.app.kind() != Kind::Command)
        .filter(|(_, f)| hosts.is_none_or(|(c, s)| f.client.ip() == c && f.server.ip() == s))
        .filter(|(_, f)| {
            let payload = f.half(Side::Client).stats().unique + f.half(Side::Server).stats().unique;
            !(f.established() && payload == 0 && matches!(f.close(), Close::Fin | Close::Open))
        })
        .collect()
}

/// Measures every transfer's data phase: BitTorrent transfers first, so that control twins
/// can borrow their set-up length when their own exchange does not show it.
fn measure_all(drafts: &mut [Draft]) {
    for d in drafts.iter_mut().filter(|d| d.proto == Proto::Bt) {
        if let Some((_, f)) = d.flow {
            d.measured = measure(f, d.dir, None);
        }
    }
    for k in 0..drafts.len() {
        let Some(dir) = drafts
            .get(k)
            .filter(|d| d.proto == Proto::Tcp)
            .map(|d| d.dir)
        else {
            continue;
        };
        let twin = drafts
            .iter()
            .filter(|d| d.proto == Proto::Bt && d.dir == dir)
            .find_map(|d| d.measured.setup);
        if let Some(d) = drafts.get_mut(k) {
            if let Some((_, f)) = d.flow {
                d.measured = measure(f, d.dir, twin);
            }
        }
    }
}

/// What a transfer of the test lasts: the median data phase of those not closed by RSTs, and
/// the longest of all (the fallback when every one was reset and nothing was announced).
fn usual_span(drafts: &[Draft]) -> (Option<f64>, Option<f64>) {
    let clean: Vec<f64> = drafts
        .iter()
        .filter(|d| d.flow.is_some_and(|(_, f)| f.close() != Close::Rst))
        .filter_map(|d| d.measured.span_ns.map(|n| n as f64 / 1e9))
        .collect();
    let longest = drafts
        .iter()
        .filter_map(|d| d.measured.span_ns.map(|n| n as f64 / 1e9))
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    (median(clean), longest)
}

/// Each transfer's report: its port class and repetition, outcome ([`outcome`]), goodput and
/// series, and its flow's RSTs.
fn transfer_reports(
    drafts: &[Draft],
    input: &CaptureInput,
    app_port: Option<u16>,
    typical: Option<f64>,
    longest: Option<f64>,
    notes: &mut Vec<String>,
) -> Vec<TestReport> {
    let mut tests: Vec<TestReport> = Vec::new();
    let mut untrusted: Vec<(u32, u64)> = Vec::new();
    let none = FlowFacts::default();
    for d in drafts {
        let port_class = if Some(d.port) == app_port {
            PortClass::App
        } else {
            PortClass::Other
        };
        let repetition = tests
            .iter()
            .filter(|t| t.kind == d.proto && t.direction == d.dir && t.port_class == port_class)
            .count() as u32
            + 1;
        let (facts, outcome, series, flow_id) = match d.flow {
            Some((fi, f)) => {
                let facts = input.facts.get(fi).unwrap_or(&none);
                let expected = typical
                    .or(d.planned.as_ref().and_then(|p| p.duration_s))
                    .or(longest);
                (
                    facts,
                    outcome(f, facts, &d.measured, expected),
                    data_series(f, d.dir, &d.measured),
                    f.id,
                )
            }
            None => (&none, Outcome::NoConnection, Vec::new(), 0),
        };
        let m = &d.measured;
        let goodput = m
            .span_ns
            .filter(|&n| n > 0 && m.bytes > 0)
            .map(|n| m.bytes as f64 * 8.0 / (n as f64 / 1e9));
        // Seeder bytes captured but not reassembled are in no byte count nor series: the
        // speed would be too low by an unknown amount, so it is not given at all.
        let unassembled = d.flow.zip(d.dir).map_or(0, |((_, f), dir)| {
            f.half(seeder_side(dir)).stats().unassembled
        });
        let (goodput, series) = if unassembled > 0 {
            untrusted.push((flow_id, unassembled));
            (None, Vec::new())
        } else {
            (goodput, series)
        };
        tests.push(TestReport {
            kind: d.proto,
            direction: d.dir,
            port: d.port,
            port_class,
            repetition,
            goodput_bps: goodput,
            outcome,
            flow: flow_id,
            data_bytes: m.bytes,
            data_seconds: m.span_ns.map(|n| n as f64 / 1e9),
            series: TestSeries {
                interval_ms: input.interval_ms,
                bps: series,
            },
            rsts: facts.rsts.clone(),
            reset_after_bt_exchange_ms: facts.after_bt_exchange_ms,
            blocking_signal: facts.signal,
            forged_reset: facts.forged(),
            guessed: d.guessed.clone(),
            log: None,
            log_disagrees: Vec::new(),
        });
    }
    if !untrusted.is_empty() {
        let list: Vec<String> = untrusted
            .iter()
            .map(|(f, n)| format!("flow {f} ({n} bytes)"))
            .collect();
        notes.push(format!(
            "{} transfers have seeder bytes captured but not reassembled ({}): their speed \
             is not given and they count in no rate comparison",
            untrusted.len(),
            list.join(", ")
        ));
    }
    tests
}

/// Analyses a capture's flows as a Glasnost test; `None` when it is not one.
pub fn analyze(input: &CaptureInput) -> Option<(Vec<TestReport>, GlasnostReport)> {
    let flows = input.flows;
    let file = Path::new(input.path);
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(names::parse);
    let log = input.log.as_ref().map(|(_, l)| l);
    let commands = schedule::from_commands(flows);
    let found = evidence::recognise(flows, &commands, log.map_or(0, |l| l.transfers.len()));
    let recognised_by = match input.mode {
        Mode::Off => return None,
        Mode::On => found.unwrap_or(RecognisedBy::Forced),
        Mode::Auto => found?,
    };
    let mut notes = Vec::new();
    let hosts = commands
        .hosts
        .or_else(|| evidence::twin_hosts(flows))
        .or_else(|| {
            let ip = log?.client_ip?;
            flows
                .iter()
                .find(|f| f.client.ip() == ip)
                .map(|f| (ip, f.server.ip()))
        });
    let cands = candidates(flows, &commands, hosts);
    let cand_flows: Vec<&Flow<FlowDecoder>> = cands.iter().map(|(_, f)| *f).collect();
    let kind_of = kinds(&cand_flows);
    let slots: Vec<Slot> = cand_flows
        .iter()
        .map(|f| Slot {
            port: Some(f.server.port()),
            at: Some(f.first_ts.0),
        })
        .collect();
    let to_slots = |plan: &[Planned]| -> Vec<Slot> {
        plan.iter()
            .map(|p| Slot {
                port: p.port,
                at: p.at,
            })
            .collect()
    };
    // The schedule, and the offset from its clock to the capture's.
    let (plan, schedule_from, offset) = if !commands.planned.is_empty() {
        (commands.planned.clone(), ScheduleFrom::CommandChannel, 0)
    } else if let Some(l) = log.filter(|l| !l.transfers.is_empty()) {
        let plan = schedule::from_log(l);
        let offset = schedule::clock_offset(&to_slots(&plan), &slots, 2 * SEC).unwrap_or(0);
        (plan, ScheduleFrom::Log, offset)
    } else {
        (Vec::new(), ScheduleFrom::Flows, 0)
    };
    let mut used = vec![false; cands.len()];
    // The 2009 warm-up transfers' flows are not measurements.
    for m in schedule::match_slots(&to_slots(&commands.setups), &slots, 0)
        .into_iter()
        .flatten()
    {
        if let Some(u) = used.get_mut(m) {
            *u = true;
        }
    }
    let free: Vec<Slot> = slots
        .iter()
        .zip(&used)
        .map(|(s, u)| {
            if *u {
                Slot {
                    port: None,
                    at: None,
                }
            } else {
                *s
            }
        })
        .collect();
    let matched = schedule::match_slots(&to_slots(&plan), &free, offset);
    let capture_end = flows.iter().map(|f| f.last_ts.0).max().unwrap_or(i64::MIN);
    let (
        drafts,
        Unplaced {
            unseen,
            absent,
            untold,
            unknown_kind,
        },
    ) = place(
        &plan,
        &matched,
        &cands,
        &kind_of,
        &mut used,
        offset,
        capture_end,
    );
    let mut drafts = drafts;
    if !plan.is_empty() {
        let connected = matched.iter().filter(|m| m.is_some()).count();
        if connected != plan.len() {
            notes.push(format!(
                "the {} announced {} transfers; {connected} of them have a connection in the capture{}{}",
                match schedule_from {
                    ScheduleFrom::Log => "log",
                    ScheduleFrom::CommandChannel | ScheduleFrom::Flows => "command channel",
                },
                plan.len(),
                if absent > 0 {
                    format!("; {absent} have no packet in it though the capture goes on: reported as no_connection")
                } else {
                    String::new()
                },
                if unseen > 0 {
                    format!("; the capture ends before {unseen} of them")
                } else {
                    String::new()
                },
            ));
        }
    }
    if unknown_kind > 0 {
        notes.push(format!(
            "{unknown_kind} announced transfers have no packet in the capture and a command line cut short by the snaplen: BitTorrent or control cannot be told, so they are not counted"
        ));
    }
    if untold > 0 {
        notes.push(format!(
            "{untold} flows between the test's hosts carried neither BitTorrent nor a control twin's bytes and no announcement names them: not counted as transfers"
        ));
    }
    measure_all(&mut drafts);
    let (typical, longest) = usual_span(&drafts);
    let (app_port, other_port) = ports(&drafts, log, &mut notes);
    let mut tests = transfer_reports(&drafts, input, app_port, typical, longest, &mut notes);
    if let Some(l) = log {
        if schedule_from == ScheduleFrom::Log {
            // The schedule is the log: each announced transfer is its own log entry.
            let mut by_plan = plan.iter().zip(&l.transfers);
            for (t, d) in tests.iter_mut().zip(&drafts) {
                if let Some(p) = &d.planned {
                    if let Some((_, lt)) = by_plan.find(|(q, _)| *q == p) {
                        t.log = Some(lt.clone());
                        t.log_disagrees = disagreements(t, lt, flows);
                    }
                }
            }
        } else {
            cross_check(&mut tests, l, flows, &mut notes);
        }
    }
    let undirected = tests.iter().filter(|t| t.direction.is_none()).count();
    if undirected > 0 {
        notes.push(format!(
            "{undirected} transfers carried too little to tell their direction: they count for blocking, not for rate comparisons"
        ));
    }
    let transfers = to_transfers(&tests);
    let generation = name.as_ref().map_or(Generation::Unknown, |n| n.generation);
    let report = GlasnostReport {
        generation,
        name,
        log_path: input.log.as_ref().map(|(p, _)| p.display().to_string()),
        schedule_from,
        recognised_by,
        app_port,
        other_port,
        verdicts: verdict::verdicts(&transfers),
        notes,
    };
    Some((tests, report))
}

fn to_transfers(tests: &[TestReport]) -> Vec<Transfer> {
    tests
        .iter()
        .map(|t| Transfer {
            proto: t.kind,
            dir: t.direction,
            port_class: t.port_class,
            port: t.port,
            repetition: t.repetition,
            goodput_bps: t.goodput_bps,
            outcome: t.outcome,
            signal: t.blocking_signal,
            forged: t.forged_reset,
            series_bps: t.series.bps.clone(),
        })
        .collect()
}

const SEC: i64 = 1_000_000_000;

/// How long after its announcement a transfer must have left a packet in the capture, if the
/// capture goes on, before it counts as one that got no connection.
const NO_CONNECTION_AFTER_NS: i64 = SEC;

/// Pairs the log's transfers with the capture's and notes every disagreement. The log and the
/// command channel list the same commands in the same order, but not at the same times: the
/// server logs a command when it reads it, which after a client that never connected is
/// seconds late. So each log transfer takes the next test on its port (in time order, never
/// going back), preferring one of the same kind and direction among the next few.
fn cross_check(
    tests: &mut [TestReport],
    log: &log::GlasnostLog,
    flows: &[&Flow<FlowDecoder>],
    notes: &mut Vec<String>,
) {
    const LOOK_AHEAD: usize = 3;
    let mut next_on_port: std::collections::HashMap<u16, usize> = Default::default();
    let mut taken = vec![false; tests.len()];
    let mut paired = 0;
    for l in &log.transfers {
        let from = next_on_port.get(&l.port).copied().unwrap_or(0);
        let on_port: Vec<usize> = (from..tests.len())
            .filter(|&i| tests.get(i).is_some_and(|t| t.port == l.port))
            .filter(|&i| !taken.get(i).copied().unwrap_or(true))
            .take(LOOK_AHEAD)
            .collect();
        let kind = if l.bittorrent { Proto::Bt } else { Proto::Tcp };
        let dir = if l.upload { Dir::Upload } else { Dir::Download };
        let pick = on_port
            .iter()
            .copied()
            .find(|&i| {
                tests
                    .get(i)
                    .is_some_and(|t| t.kind == kind && t.direction == Some(dir))
            })
            .or(on_port.first().copied());
        let Some(i) = pick else { continue };
        if let Some(t) = taken.get_mut(i) {
            *t = true;
        }
        next_on_port.insert(l.port, i + 1);
        if let Some(t) = tests.get_mut(i) {
            t.log_disagrees = disagreements(t, l, flows);
            t.log = Some(l.clone());
            paired += 1;
        }
    }
    if log.transfers.len() != tests.len() || paired != tests.len() {
        notes.push(format!(
            "the log lists {} transfers, the capture shows {}; {paired} were paired in order on their ports",
            log.transfers.len(),
            tests.len()
        ));
    }
}

fn disagreements(
    t: &TestReport,
    l: &log::LogTransfer,
    flows: &[&Flow<FlowDecoder>],
) -> Vec<String> {
    let mut d = Vec::new();
    let log_proto = if l.bittorrent { Proto::Bt } else { Proto::Tcp };
    let log_dir = if l.upload { Dir::Upload } else { Dir::Download };
    if log_proto != t.kind {
        d.push(format!(
            "the log names a {} transfer",
            if l.bittorrent {
                "BitTorrent"
            } else {
                "control"
            }
        ));
    }
    if Some(log_dir) != t.direction {
        d.push(format!("the log names an {}", log_dir.code()));
    }
    if l.port != t.port {
        d.push(format!("the log names port {}", l.port));
    }
    if let Some(bytes) = l.bytes {
        let ours = t.data_bytes;
        let tolerance = (bytes / 50).max(64 << 10);
        if t.flow != 0 && bytes.abs_diff(ours) > tolerance {
            d.push(format!("the log counts {bytes} bytes, the capture {ours}"));
        }
    }
    if let Some(f) = flows.iter().find(|f| f.id == t.flow && t.flow != 0) {
        let from = |s: Side| f.rsts.iter().filter(|r| r.from == s).count() as u32;
        if let Some(r) = l.resets_received {
            if r != from(Side::Client) {
                d.push(format!(
                    "the log counts {r} resets received, the capture {} from the client",
                    from(Side::Client)
                ));
            }
        }
        if let Some(s) = l.resets_sent {
            if s != from(Side::Server) {
                d.push(format!(
                    "the log counts {s} resets sent, the capture {} from the server",
                    from(Side::Server)
                ));
            }
        }
    }
    d
}

/// A log read alone: its tests, speeds and verdicts from its own numbers, measured as
/// Glasnost measured them ([`log::LogTransfer::glasnost_bps`]). `None` when it lists no
/// transfer.
pub fn analyze_log(
    path: &Path,
    log: &log::GlasnostLog,
) -> Option<(Vec<TestReport>, GlasnostReport)> {
    if log.transfers.is_empty() {
        return None;
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(names::parse);
    let mut notes = Vec::new();
    let plan = schedule::from_log(log);
    let drafts: Vec<Draft> = plan
        .iter()
        .zip(&log.transfers)
        .map(|(p, l)| Draft {
            flow: None,
            planned: Some(p.clone()),
            proto: p.proto,
            dir: Some(p.dir),
            port: l.port,
            guessed: Vec::new(),
            measured: Measured::default(),
            at: p.at.unwrap_or(0),
        })
        .collect();
    let (app_port, other_port) = ports(&drafts, Some(log), &mut notes);
    let mut tests: Vec<TestReport> = Vec::new();
    let mut estimated = 0;
    let last = log.transfers.len().saturating_sub(1);
    for (k, (d, l)) in drafts.iter().zip(&log.transfers).enumerate() {
        let port_class = if Some(d.port) == app_port {
            PortClass::App
        } else {
            PortClass::Other
        };
        let repetition = tests
            .iter()
            .filter(|t| t.kind == d.proto && t.direction == d.dir && t.port_class == port_class)
            .count() as u32
            + 1;
        let rate = l.glasnost_bps();
        if rate.is_some_and(|(_, e)| e) {
            estimated += 1;
        }
        let resets_in = l.resets_received.unwrap_or(0);
        let resets_out = l.resets_sent.unwrap_or(0);
        let signal = resets_in > 0 && resets_out == 0;
        let server_secs = l.server_seconds.or(l.seconds);
        let short = match (l.client_seconds.or(server_secs), l.duration_s) {
            (Some(s), Some(dur)) => s < 0.7 * dur,
            _ => false,
        };
        let outcome = if l.accept_timeout
            || server_secs == Some(0.0)
            || (l.failed.is_some() && server_secs.is_none() && resets_in == 0 && !l.client_failed)
        {
            Outcome::NoConnection
        } else if ((l.failed.is_some() || l.client_failed)
            && (signal || short || server_secs.is_none()))
            || (signal && short)
        {
            Outcome::Reset
        } else if rate.is_none_or(|(r, _)| r <= 0.0) {
            if k == last && log.cut_short {
                notes.push("the log ends mid-transfer (the test was stopped): its last transfer has no numbers".into());
            }
            Outcome::NoData
        } else {
            Outcome::Completed
        };
        tests.push(TestReport {
            kind: d.proto,
            direction: d.dir,
            port: d.port,
            port_class,
            repetition,
            goodput_bps: rate
                .map(|(r, _)| r)
                .filter(|_| outcome == Outcome::Completed),
            outcome,
            flow: 0,
            data_bytes: if l.upload {
                l.server_received
            } else {
                l.client_received
            }
            .or(l.bytes)
            .unwrap_or(0),
            data_seconds: if l.upload {
                server_secs
            } else {
                l.client_seconds.or(server_secs)
            },
            series: TestSeries {
                interval_ms: 0.0,
                bps: Vec::new(),
            },
            rsts: Vec::new(),
            reset_after_bt_exchange_ms: None,
            blocking_signal: signal && outcome == Outcome::Reset,
            forged_reset: false,
            guessed: Vec::new(),
            log: Some(l.clone()),
            log_disagrees: Vec::new(),
        });
    }
    if estimated > 0 {
        notes.push(format!(
            "{estimated} transfers lack the receiver's own count: their speed is the sender's"
        ));
    }
    if log.second_session {
        notes.push("a second client connected in the same log (two sessions in one file): only the first was read".into());
    }
    if log.bad_stamps > 0 {
        notes.push(format!(
            "{} lines carry a damaged timestamp",
            log.bad_stamps
        ));
    }
    let transfers = to_transfers(&tests);
    let report = GlasnostReport {
        generation: name.as_ref().map_or(Generation::Unknown, |n| n.generation),
        name,
        log_path: Some(path.display().to_string()),
        schedule_from: ScheduleFrom::Log,
        recognised_by: RecognisedBy::Log,
        app_port,
        other_port,
        verdicts: verdict::verdicts(&transfers),
        notes,
    };
    Some((tests, report))
}

#[cfg(test)]
mod tests;
