//! Glasnost tests: from a capture's flows (and its `.log`, when one lies beside it) to the
//! test matrix, each transfer's data-phase goodput, and the verdicts.
//!
//! A capture is taken as a Glasnost test when its name follows Glasnost's conventions, a log
//! lies beside it, it holds Glasnost's command channel, or it holds a random-payload control
//! flow (only Glasnost makes those). Ordinary BitTorrent captures get no tests.
//!
//! The schedule comes from the command channel when the capture holds it (2009: `bt
//! downstream port 6881 duration 11`; 2010+: `replay bt as client on port 6881 for 20
//! seconds[ as a control flow].`), else from the flows themselves: every connection to the
//! test ports that carried payload or never got an answer, in order; a connection that was
//! set up and closed without a byte (the 2009 test's port probe) is not a transfer. Each
//! transfer's kind is its flow's (BitTorrent or control); a flow too short to tell takes the
//! kind the command named, or else the one the alternation (BitTorrent first, then control)
//! gives. The user's direction is the side that sent the piece data (BitTorrent) or most
//! bytes (control), else the command's or the log's.
//!
//! Goodput is measured on the data phase only: the seeder's bytes after the 239 bytes of
//! handshake, bitfield and unchoke, from the packet that carried the stream past them to the
//! last one; retransmissions are never counted twice, bytes the snaplen cut are.

pub mod log;
pub mod names;
pub mod verdict;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::btparse::{FlowDecoder, Kind, MsgKind, SETUP_BYTES};
use crate::flows::{Close, Flow, Side};
use crate::model::FlowReport;
use names::{CaptureName, Generation};
use verdict::{Dir, Outcome, PortClass, Proto, Transfer, Verdicts};

/// Ports Glasnost's BitTorrent emulation used as "the BitTorrent port".
fn is_app_port(p: u16) -> bool {
    (6881..=6889).contains(&p)
}

/// Glasnost's command channel ports (19980 in the old applet's texts).
fn is_command_port(p: u16) -> bool {
    p == 19970 || p == 19980
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
    pub from: &'static str,
    pub verdict: Option<&'static str>,
    pub evidence: Vec<&'static str>,
}

/// What bttrace found out about the test as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct GlasnostReport {
    /// What the file name says (client, host, time), when it follows a convention.
    pub name: Option<CaptureName>,
    pub generation: Generation,
    /// The `.log` read beside the capture, if any.
    pub log_path: Option<String>,
    /// `command_channel` or `flows`.
    pub schedule_from: &'static str,
    pub app_port: Option<u16>,
    pub other_port: Option<u16>,
    pub verdicts: Verdicts,
    /// Where the capture and the log disagree overall, and other remarks.
    pub notes: Vec<String>,
}

/// A transfer the schedule announced.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Planned {
    proto: Proto,
    dir: Dir,
    port: u16,
    duration_s: f64,
    /// Epoch nanoseconds of the command.
    at: i64,
}

/// Parses one command line of either generation.
fn command(line: &str, at: i64) -> Option<Planned> {
    let l = line.trim().to_ascii_lowercase();
    let words: Vec<&str> = l.split_whitespace().collect();
    let num = |key: &str| -> Option<f64> {
        let i = words.iter().position(|w| *w == key)?;
        words.get(i + 1)?.trim_end_matches('.').parse().ok()
    };
    if let Some(rest) = l.strip_prefix("replay ") {
        let proto_word = rest.split_whitespace().next()?;
        let control = l.contains("control flow");
        let upload = l.contains(" as client");
        if !upload && !l.contains(" as server") {
            return None;
        }
        let _ = proto_word;
        return Some(Planned {
            proto: if control { Proto::Tcp } else { Proto::Bt },
            dir: if upload { Dir::Upload } else { Dir::Download },
            port: num("port")? as u16,
            duration_s: num("for").unwrap_or(20.0),
            at,
        });
    }
    // 2009: "bt downstream port 6881 duration 11" (not the "setup ..." probes).
    let (proto, rest) = match *words.first()? {
        "bt" => (Proto::Bt, words.get(1..)?),
        "tcp" => (Proto::Tcp, words.get(1..)?),
        _ => return None,
    };
    let dir = match *rest.first()? {
        "downstream" => Dir::Upload,
        "upstream" => Dir::Download,
        _ => return None,
    };
    Some(Planned {
        proto,
        dir,
        port: num("port")? as u16,
        duration_s: num("duration").unwrap_or(10.0),
        at,
    })
}

/// The schedule the command channel carried, in order.
fn schedule(flows: &[&Flow<FlowDecoder>]) -> Vec<Planned> {
    let mut plan = Vec::new();
    for f in flows.iter().filter(|f| f.app.kind() == Kind::Command) {
        for side in [Side::Client, Side::Server] {
            let Some(d) = f.app.dir(side) else { continue };
            for (at, line) in &d.text.lines {
                if let Some(p) = command(line, at.ts.0) {
                    plan.push(p);
                }
            }
        }
    }
    plan.sort_by_key(|p| p.at);
    plan
}

/// The `.log` beside a capture: `x.dump.gz`, `x.dump`, `x.pcap` all look for `x.log`.
pub fn log_path_for(capture: &Path) -> Option<PathBuf> {
    let name = capture.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".gz")
        .unwrap_or(name)
        .rsplit_once('.')
        .map_or(name, |(s, _)| s);
    let p = capture.with_file_name(format!("{stem}.log"));
    p.is_file().then_some(p)
}

/// Whether the capture is a Glasnost test at all.
fn is_glasnost(flows: &[&Flow<FlowDecoder>], name: Option<&CaptureName>, has_log: bool) -> bool {
    name.is_some()
        || has_log
        || flows
            .iter()
            .any(|f| matches!(f.app.kind(), Kind::Command | Kind::Control))
}

/// A flow's user direction from what it carried.
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
            // Glasnost's seeder sends a bitfield of 0xff bytes, its leecher one of 0x00.
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
        match (up > SETUP_BYTES + 512, down > SETUP_BYTES + 512) {
            (true, false) => Some(Side::Client),
            (false, true) => Some(Side::Server),
            (true, true) if up > down => Some(Side::Client),
            (true, true) => Some(Side::Server),
            (false, false) => None,
        }
    })?;
    Some(if seeder == Side::Client {
        Dir::Upload
    } else {
        Dir::Download
    })
}

/// Analyses a capture's flows as a Glasnost test; `None` when it is not one.
pub fn analyze(
    path: &str,
    flows: &[&Flow<FlowDecoder>],
    reports: &[FlowReport],
) -> Option<(Vec<TestReport>, GlasnostReport)> {
    let file = Path::new(path);
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(names::parse);
    let log_path = log_path_for(file);
    let log = log_path
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .map(|b| log::parse(&String::from_utf8_lossy(&b)));
    if !is_glasnost(flows, name.as_ref(), log.is_some()) {
        return None;
    }
    let mut notes = Vec::new();
    let plan = schedule(flows);
    let command_ports: Vec<u16> = flows
        .iter()
        .filter(|f| f.app.kind() == Kind::Command)
        .map(|f| f.server.port())
        .collect();
    // Candidate transfer flows: not the command channel; carried payload or never answered.
    let candidates: Vec<(usize, &&Flow<FlowDecoder>)> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            !command_ports.contains(&f.server.port()) && !is_command_port(f.server.port())
        })
        .filter(|(_, f)| {
            let payload = f.half(Side::Client).stats().unique + f.half(Side::Server).stats().unique;
            let probe = f.established() && payload == 0 && f.close() == Close::Fin;
            // A probe: set up, and closed or left open, without a byte.
            let idle = f.established() && payload == 0 && f.close() == Close::Open;
            !probe && !idle
        })
        .filter(|(_, f)| f.app.kind() != Kind::Encrypted)
        .collect();
    let app_port = candidates
        .iter()
        .map(|(_, f)| f.server.port())
        .find(|p| is_app_port(*p))
        .or_else(|| plan.iter().map(|p| p.port).find(|p| is_app_port(*p)));
    let other_port = candidates
        .iter()
        .map(|(_, f)| f.server.port())
        .find(|p| Some(*p) != app_port);
    let interval_ms = reports.first().map_or(100.0, |r| r.series.interval_ms);

    // Pair planned transfers with flows: the next flow to the planned port after the command.
    // A planned transfer without any packet in the capture (its SYNs never reached the server)
    // is a transfer that got no connection, as long as the capture goes on after it (a capture
    // cut short says nothing of the transfers it did not reach).
    let mut used = vec![false; candidates.len()];
    let mut matched: Vec<(Option<usize>, Option<Planned>)> = Vec::new();
    let capture_end = flows.iter().map(|f| f.last_ts.0).max().unwrap_or(i64::MIN);
    let mut unseen = 0;
    for p in &plan {
        let hit = candidates.iter().enumerate().position(|(i, (_, f))| {
            !used.get(i).copied().unwrap_or(true)
                && f.server.port() == p.port
                && f.first_ts.0 >= p.at - 1_000_000_000
        });
        if let Some(i) = hit {
            if let Some(u) = used.get_mut(i) {
                *u = true;
            }
            matched.push((Some(i), Some(*p)));
        } else if capture_end > p.at + NO_CONNECTION_AFTER_NS {
            matched.push((None, Some(*p)));
        } else {
            unseen += 1;
        }
    }
    for (i, u) in used.iter().enumerate() {
        if !u {
            matched.push((Some(i), None));
        }
    }
    matched.sort_by_key(|(i, p)| match i {
        Some(i) => candidates.get(*i).map(|(_, f)| f.first_ts.0),
        None => p.map(|p| p.at),
    });
    let connected = matched
        .iter()
        .filter(|m| m.0.is_some() && m.1.is_some())
        .count();
    if !plan.is_empty() && plan.len() != connected {
        let absent = plan.len() - connected - unseen;
        notes.push(format!(
            "the command channel announced {} transfers; {connected} of them have a connection in the capture{}{}",
            plan.len(),
            if absent > 0 {
                format!(
                    "; {absent} have no packet in it though the capture goes on: reported as no_connection"
                )
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

    // Build the transfers.
    let mut tests: Vec<TestReport> = Vec::new();
    let mut last_proto: Vec<(u16, Proto)> = Vec::new();
    for (i, planned) in &matched {
        let Some((fi, f)) = i.and_then(|i| candidates.get(i)) else {
            if let Some(p) = planned {
                last_proto.push((p.port, p.proto));
                tests.push(unconnected(p, &tests, app_port, interval_ms));
            }
            continue;
        };
        let report = reports.get(*fi);
        let mut guessed = Vec::new();
        let proto = match (f.app.kind(), planned) {
            (Kind::BitTorrent, _) => Proto::Bt,
            (Kind::Control, _) => Proto::Tcp,
            (_, Some(p)) => {
                guessed.push("kind from the command channel");
                p.proto
            }
            _ => {
                guessed.push("kind from the alternation of BitTorrent and control transfers");
                match last_proto
                    .iter()
                    .rev()
                    .find(|(port, _)| *port == f.server.port())
                {
                    Some((_, Proto::Bt)) => Proto::Tcp,
                    _ => Proto::Bt,
                }
            }
        };
        last_proto.push((f.server.port(), proto));
        let dir = match (direction_of(f), planned) {
            (Some(d), _) => Some(d),
            (None, Some(p)) => {
                guessed.push("direction from the command channel");
                Some(p.dir)
            }
            (None, None) => None,
        };
        let seeder = match dir {
            Some(Dir::Upload) => Some(Side::Client),
            Some(Dir::Download) => Some(Side::Server),
            None => None,
        };
        let opening = seeder.and_then(|s| f.app.dir(s)).map(|d| &d.opening);
        let data_bytes = opening.map_or(0, |o| o.stream_end().saturating_sub(SETUP_BYTES));
        let data_span = opening.and_then(|o| Some(o.last?.ts.nanos_since(o.data_phase?.ts)));
        let goodput = data_span
            .filter(|&n| n > 0 && data_bytes > 0)
            .map(|n| data_bytes as f64 * 8.0 / (n as f64 / 1e9));
        let series = match (seeder, opening.and_then(|o| o.data_phase)) {
            (Some(s), Some(start)) => {
                let bins = f.series.bins(s);
                let first = (start.ts.nanos_since(f.series.start()).max(0) / f.series.interval_ns())
                    as usize;
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
            _ => Vec::new(),
        };
        let blocking = report.and_then(|r| r.blocking.clone());
        let expected =
            planned
                .map(|p| p.duration_s)
                .unwrap_or(match name.as_ref().map(|n| n.generation) {
                    Some(Generation::Replayer) => 20.0,
                    _ => 10.0,
                });
        let outcome = if !f.established() {
            Outcome::NoConnection
        } else if f.close() == Close::Rst {
            let signal = blocking.as_ref().is_some_and(|b| b.signal);
            let short = data_span.is_none_or(|n| (n as f64 / 1e9) < 0.8 * expected);
            if signal || short {
                Outcome::Reset
            } else {
                Outcome::Completed
            }
        } else if data_bytes == 0 {
            Outcome::NoData
        } else {
            Outcome::Completed
        };
        let port = f.server.port();
        let port_class = if Some(port) == app_port || is_app_port(port) {
            PortClass::App
        } else {
            PortClass::Other
        };
        // Counted from 1, as the study's tables number them (#1, #2).
        let repetition = tests
            .iter()
            .filter(|t| t.kind == proto && t.direction == dir && t.port_class == port_class)
            .count() as u32
            + 1;
        tests.push(TestReport {
            kind: proto,
            direction: dir,
            port,
            port_class,
            repetition,
            goodput_bps: goodput,
            outcome,
            flow: f.id,
            data_bytes,
            data_seconds: data_span.map(|n| n as f64 / 1e9),
            series: TestSeries {
                interval_ms,
                bps: series,
            },
            rsts: report
                .map(|r| {
                    r.rsts
                        .iter()
                        .map(|x| TestRst {
                            frame: x.frame,
                            from: x.from,
                            verdict: x.verdict,
                            evidence: x.evidence.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            reset_after_bt_exchange_ms: blocking.as_ref().and_then(|b| b.after_bt_exchange_ms),
            blocking_signal: blocking.as_ref().is_some_and(|b| b.signal),
            guessed,
            log: None,
            log_disagrees: Vec::new(),
        });
    }
    if let Some(log) = &log {
        cross_check(&mut tests, log, flows, &mut notes);
    }
    let transfers: Vec<Transfer> = tests
        .iter()
        .map(|t| {
            Some(Transfer {
                proto: t.kind,
                dir: t.direction,
                port_class: t.port_class,
                port: t.port,
                repetition: t.repetition,
                goodput_bps: t.goodput_bps,
                outcome: t.outcome,
                signal: t.blocking_signal,
                series_bps: t.series.bps.clone(),
            })
        })
        .collect::<Option<Vec<Transfer>>>()
        .unwrap_or_default();
    let undirected = tests.iter().filter(|t| t.direction.is_none()).count();
    if undirected > 0 {
        notes.push(format!(
            "{undirected} transfers carried too little to tell their direction: they count for blocking, not for rate comparisons"
        ));
    }
    let report = GlasnostReport {
        generation: name.as_ref().map_or(Generation::Unknown, |n| n.generation),
        name,
        log_path: log_path.map(|p| p.display().to_string()),
        schedule_from: if plan.is_empty() {
            "flows"
        } else {
            "command_channel"
        },
        app_port,
        other_port,
        verdicts: verdict::verdicts(&transfers),
        notes,
    };
    Some((tests, report))
}

/// How long after its command a transfer must have left a packet in the capture, if the
/// capture goes on, before it counts as one that got no connection.
const NO_CONNECTION_AFTER_NS: i64 = 1_000_000_000;

/// A transfer the command channel announced and the capture holds no packet of: the client's
/// SYNs never reached the server. It got no connection; its kind, direction and port are the
/// command's.
fn unconnected(
    p: &Planned,
    tests: &[TestReport],
    app_port: Option<u16>,
    interval_ms: f64,
) -> TestReport {
    let port_class = if Some(p.port) == app_port || is_app_port(p.port) {
        PortClass::App
    } else {
        PortClass::Other
    };
    let repetition = tests
        .iter()
        .filter(|t| t.kind == p.proto && t.direction == Some(p.dir) && t.port_class == port_class)
        .count() as u32
        + 1;
    TestReport {
        kind: p.proto,
        direction: Some(p.dir),
        port: p.port,
        port_class,
        repetition,
        goodput_bps: None,
        outcome: Outcome::NoConnection,
        flow: 0,
        data_bytes: 0,
        data_seconds: None,
        series: TestSeries {
            interval_ms,
            bps: Vec::new(),
        },
        rsts: Vec::new(),
        reset_after_bt_exchange_ms: None,
        blocking_signal: false,
        guessed: vec!["no packet in the capture: kind and direction from the command channel"],
        log: None,
        log_disagrees: Vec::new(),
    }
}

/// Pairs the log's transfers with the capture's, in order, and notes every disagreement.
fn cross_check(
    tests: &mut [TestReport],
    log: &log::GlasnostLog,
    flows: &[&Flow<FlowDecoder>],
    notes: &mut Vec<String>,
) {
    if log.transfers.len() != tests.len() {
        notes.push(format!(
            "the log lists {} transfers, the capture shows {}",
            log.transfers.len(),
            tests.len()
        ));
    }
    for (t, l) in tests.iter_mut().zip(&log.transfers) {
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
            if bytes.abs_diff(ours) > tolerance {
                d.push(format!("the log counts {bytes} bytes, the capture {ours}"));
            }
        }
        if let Some(f) = flows.iter().find(|f| f.id == t.flow) {
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
        t.log = Some(l.clone());
        t.log_disagrees = d;
    }
}

#[cfg(test)]
mod tests;
