//! The test's schedule: the transfers a Glasnost test announced, from its command channel or
//! its log, and the matching of announced transfers with the capture's flows.
//!
//! The command channel may run on any port and in either generation's words
//! ([`crate::btparse::command`]). Each transfer command is answered by the server (`ok`, or
//! `port N ok` when the client asked it to choose): the answer between a command and the next
//! one gives the port the transfer ran on. The 2009 test's `setup` transfers are announced
//! too; they are kept apart so that their flows are not taken for measurements.
//!
//! Announced transfers are matched with flows by port and time, never by position: a flow
//! belongs to the first unmatched announcement on its port whose window (one second before the
//! command to the next command on that port) holds the flow's first packet. A log's clock
//! is the server's, in milliseconds, and need not agree with the capture's: the offset is
//! searched first (the one that lines up most announcements with a flow on the same port).

use std::net::IpAddr;

use crate::btparse::command::{self, Announced, Line, PortRequest};
use crate::btparse::{FlowDecoder, Kind};
use crate::flows::{Flow, Side};

use super::log::GlasnostLog;
use super::verdict::{Dir, Proto};

const SEC: i64 = 1_000_000_000;

/// A transfer the test announced.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub proto: Proto,
    pub dir: Dir,
    /// The port it ran on; `None` when the server chose it and its answer was not seen.
    pub port: Option<u16>,
    /// The client asked the server to choose the port (port 0, or -2: the neutral port).
    pub server_chose: bool,
    /// The client asked for the server's application port (-1).
    pub app_requested: bool,
    pub duration_s: Option<f64>,
    /// Epoch nanoseconds of the announcement, on the clock of its source.
    pub at: Option<i64>,
    /// A 2009 warm-up transfer: not a measurement.
    pub setup: bool,
    /// Whether the announcement tells BitTorrent from control (a command line the snaplen cut
    /// may have lost its `controlFlow`).
    pub kind_known: bool,
}

impl Planned {
    fn from_announced(a: &Announced, at: Option<i64>) -> Option<Planned> {
        // Only the BitTorrent test: its application emulation and the control twins.
        if a.app && !command::is_bittorrent(&a.protocol) {
            return None;
        }
        Some(Planned {
            proto: if a.app { Proto::Bt } else { Proto::Tcp },
            dir: if a.upload { Dir::Upload } else { Dir::Download },
            port: match a.port {
                PortRequest::Port(p) => Some(p),
                _ => None,
            },
            server_chose: matches!(
                a.port,
                PortRequest::ServerChooses | PortRequest::ServerNeutral
            ),
            app_requested: a.port == PortRequest::ServerApp,
            duration_s: a.duration_s,
            at,
            setup: a.setup,
            kind_known: a.kind_known,
        })
    }
}

/// What a command channel tells.
#[derive(Debug, Clone, Default)]
pub struct CommandSchedule {
    /// Measured transfers, in order.
    pub planned: Vec<Planned>,
    /// 2009 warm-up transfers.
    pub setups: Vec<Planned>,
    /// The command flows' ids, and the hosts they connect (client, server).
    pub flows: Vec<u32>,
    pub hosts: Option<(IpAddr, IpAddr)>,
    /// The client's `log` lines (its own reports).
    pub client_reports: Vec<String>,
}

/// The schedule from the capture's command channels (any port): each transfer command with
/// the port the server's answer gave it.
pub fn from_commands(flows: &[&Flow<FlowDecoder>]) -> CommandSchedule {
    let mut s = CommandSchedule::default();
    let mut all: Vec<(Planned, bool)> = Vec::new();
    for f in flows.iter().filter(|f| f.app.kind() == Kind::Command) {
        s.flows.push(f.id);
        s.hosts.get_or_insert((f.client.ip(), f.server.ip()));
        let lines = |side: Side| -> Vec<(i64, Line)> {
            f.app.dir(side).map_or(Vec::new(), |d| {
                d.text
                    .lines
                    .iter()
                    .filter_map(|(at, l)| Some((at.ts.0, command::parse(l)?)))
                    .collect()
            })
        };
        let commands = lines(Side::Client);
        let answers: Vec<(i64, Option<u16>)> = lines(Side::Server)
            .into_iter()
            .filter_map(|(t, l)| match l {
                Line::Ok { port } => Some((t, port)),
                _ => None,
            })
            .collect();
        let transfers: Vec<(i64, Announced)> = commands
            .iter()
            .filter_map(|(t, l)| match l {
                Line::Transfer(a) => Some((*t, a.clone())),
                Line::Log(text) => {
                    s.client_reports.push(text.clone());
                    None
                }
                _ => None,
            })
            .collect();
        for (k, (t, a)) in transfers.iter().enumerate() {
            let Some(mut p) = Planned::from_announced(a, Some(*t)) else {
                continue;
            };
            let next = transfers.get(k + 1).map_or(i64::MAX, |(n, _)| *n);
            // The server's answer to this command: the first after it, before the next one.
            let answer = answers.iter().find(|(at, _)| *at >= *t && *at < next);
            if let Some((_, Some(port))) = answer {
                p.port = Some(*port);
            }
            all.push((p, a.setup));
        }
    }
    all.sort_by_key(|(p, _)| p.at);
    for (p, setup) in all {
        if setup {
            s.setups.push(p);
        } else {
            s.planned.push(p);
        }
    }
    s
}

/// The schedule a log announces (its transfers), on the log's clock.
pub fn from_log(log: &GlasnostLog) -> Vec<Planned> {
    log.transfers
        .iter()
        .map(|t| Planned {
            proto: if t.bittorrent { Proto::Bt } else { Proto::Tcp },
            dir: if t.upload { Dir::Upload } else { Dir::Download },
            port: (t.port != 0).then_some(t.port),
            server_chose: t.port_chosen_by_server,
            app_requested: t.port_app_requested,
            duration_s: t.duration_s,
            at: t
                .command_ms
                .or(t.time_ms)
                .map(|ms| ms.saturating_mul(1_000_000)),
            setup: false,
            kind_known: true,
        })
        .collect()
}

/// Something to match: a port and a time (epoch nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub port: Option<u16>,
    pub at: Option<i64>,
}

/// The offset (nanoseconds, to add to `planned` times) that lines up most announcements with
/// a flow on the same port starting within `tolerance` of it; ties go to the smallest offset.
/// `None` when no announcement has both a port and a time.
pub fn clock_offset(planned: &[Slot], flows: &[Slot], tolerance: i64) -> Option<i64> {
    let mut best: Option<(usize, i64)> = None;
    let pairs = planned.iter().take(200).flat_map(|p| {
        flows
            .iter()
            .take(2000)
            .filter(move |f| f.port.is_some() && f.port == p.port)
            .filter_map(move |f| Some(f.at? - p.at?))
    });
    let candidates: Vec<i64> = pairs.collect();
    for &offset in &candidates {
        let hits = planned
            .iter()
            .filter(|p| {
                flows.iter().any(|f| {
                    f.port.is_some()
                        && f.port == p.port
                        && matches!((f.at, p.at), (Some(a), Some(b)) if (a - b - offset).abs() <= tolerance)
                })
            })
            .count();
        let better = match best {
            None => true,
            Some((h, o)) => hits > h || (hits == h && offset.abs() < o.abs()),
        };
        if better {
            best = Some((hits, offset));
        }
    }
    best.map(|(_, o)| o)
}

/// Matches announcements with flows (both in time order): the k-th announcement takes the
/// first unused flow on its port whose start lies in `[at - 1 s, next)`, where `next` is the
/// following announcement's time on the same port (a transfer starts right after its command,
/// so a flow after the next command is the next one's). Without times, announcements on a port take that port's flows in order. Returns,
/// per announcement, the index of its flow.
pub fn match_slots(planned: &[Slot], flows: &[Slot], offset: i64) -> Vec<Option<usize>> {
    let mut used = vec![false; flows.len()];
    let mut out = Vec::with_capacity(planned.len());
    for (k, p) in planned.iter().enumerate() {
        let at = p.at.map(|t| t.saturating_add(offset));
        let next = planned
            .get(k + 1..)
            .and_then(|rest| rest.iter().filter(|n| n.port == p.port).find_map(|n| n.at))
            .map(|t| t.saturating_add(offset));
        let hit = flows.iter().enumerate().position(|(i, f)| {
            !used.get(i).copied().unwrap_or(true)
                && p.port.is_some()
                && f.port == p.port
                && match (at, f.at) {
                    (Some(a), Some(t)) => {
                        t >= a.saturating_sub(SEC) && next.is_none_or(|n| t < n.max(a))
                    }
                    _ => true,
                }
        });
        if let Some(i) = hit {
            if let Some(u) = used.get_mut(i) {
                *u = true;
            }
        }
        out.push(hit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(port: u16, s: f64) -> Slot {
        Slot {
            port: Some(port),
            at: Some((s * 1e9) as i64),
        }
    }

    #[test]
    fn the_clock_offset_lines_up_ports_and_times() {
        // The log's clock runs 3.4 s ahead of the capture's; flows start 0.2 s after commands.
        let log: Vec<Slot> = [(6881, 10.0), (6881, 20.0), (5000, 30.0), (5000, 40.0)]
            .iter()
            .map(|&(p, t)| slot(p, t + 3.4))
            .collect();
        let flows: Vec<Slot> = [(6881, 10.2), (6881, 20.2), (5000, 30.2), (5000, 40.2)]
            .iter()
            .map(|&(p, t)| slot(p, t))
            .collect();
        let off = clock_offset(&log, &flows, SEC).expect("an offset");
        assert!((off as f64 / 1e9 + 3.2).abs() < 1e-6, "{off}");
        let m = match_slots(&log, &flows, off);
        assert_eq!(m, vec![Some(0), Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn an_announcement_without_a_flow_matches_nothing_and_does_not_steal_the_next() {
        let plan = vec![slot(6881, 0.0), slot(6881, 10.0), slot(6881, 20.0)];
        // The first transfer's SYNs never reached the capture.
        let flows = vec![slot(6881, 10.1), slot(6881, 20.1)];
        assert_eq!(match_slots(&plan, &flows, 0), vec![None, Some(0), Some(1)]);
    }

    #[test]
    fn the_server_s_answer_gives_a_chosen_port() {
        let a = match command::parse("replay BitTorrent server 20 port 0 controlFlow") {
            Some(Line::Transfer(a)) => a,
            other => panic!("{other:?}"),
        };
        let p = Planned::from_announced(&a, Some(0)).expect("a BitTorrent test");
        assert!(p.server_chose && p.port.is_none() && p.proto == Proto::Tcp);
        assert_eq!(p.dir, Dir::Download);
    }
}
