//! Two captures of the same test, one at each end: which packets one end received that the
//! other never sent (a RST among them is proven forged), which were sent and never received,
//! and which were changed on the way.
//!
//! Matching ignores what the path may change: TTL, checksums, IP ID, and addresses and ports
//! (NAT). Connections are paired by their initial sequence numbers where the path kept them,
//! else by server port, order and time once the clock offset between the captures is known
//! (the median offset of the pairs found by sequence number). When a middlebox rewrote the
//! initial sequence numbers, each direction's sequence numbers are translated by the
//! difference of the two SYNs.
//!
//! Packets are compared per direction in sequence space, so a segment the sender's offload
//! merged (one 64 KiB segment at the sender, many at the receiver) or split still matches:
//! data is "received" when its byte range was covered at the receiver, "never sent" when the
//! receiver holds bytes the sender's capture never shows. Segments without data (SYN, ACK,
//! FIN, RST) match on their flags and translated sequence and acknowledgment numbers.
//!
//! Memory: packet summaries (about 64 bytes each), at most [`MAX_PACKETS`] per capture; a
//! capture beyond it is compared up to there, and the report says so.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::Path;

use rustc_hash::{FxHashMap, FxHasher};
use serde::Serialize;

use crate::capture::{CaptureReader, Timestamp};
use crate::flows::seq::SeqNum;
use crate::wire::{self, TcpFlags};

/// Packets summarised per capture at most (about 128 MB of summaries).
pub const MAX_PACKETS: usize = 2_000_000;

/// One TCP segment, as much as matching needs.
#[derive(Debug, Clone, Copy)]
struct Pkt {
    frame: u64,
    ts: Timestamp,
    /// Sent by the connection's client.
    from_client: bool,
    seq: u32,
    ack: u32,
    flags: u16,
    len: u32,
    /// Hash of the captured payload bytes, and how many were captured.
    hash: u64,
    captured: u32,
    ttl: u8,
}

/// Flags that must agree between the two ends (ECN bits may be changed by the path).
const CORE_FLAGS: u16 = TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST | TcpFlags::ACK;

#[derive(Debug, Clone)]
struct Conn {
    client: SocketAddr,
    server: SocketAddr,
    /// ISNs as seen in this capture.
    client_isn: Option<u32>,
    server_isn: Option<u32>,
    start: Timestamp,
    packets: Vec<Pkt>,
}

/// All connections of one capture.
struct Side {
    conns: Vec<Conn>,
    truncated: bool,
    /// First and last frame time: when the capture was running.
    span: (Timestamp, Timestamp),
}

fn load(path: &Path) -> Result<Side, String> {
    let mut reader = CaptureReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut conns: Vec<Conn> = Vec::new();
    let mut index: FxHashMap<(SocketAddr, SocketAddr), usize> = FxHashMap::default();
    let mut total = 0usize;
    let mut truncated = false;
    let mut span: Option<(Timestamp, Timestamp)> = None;
    while let Some(frame) = reader
        .next_frame()
        .map_err(|e| format!("{}: {e}", path.display()))?
    {
        span = Some(span.map_or((frame.ts, frame.ts), |(a, b)| {
            (a.min(frame.ts), b.max(frame.ts))
        }));
        let Ok(seg) = wire::decode(&frame) else {
            continue;
        };
        if total >= MAX_PACKETS {
            truncated = true;
            break;
        }
        total += 1;
        let a = SocketAddr::new(seg.src, seg.sport);
        let b = SocketAddr::new(seg.dst, seg.dport);
        let key = if a <= b { (a, b) } else { (b, a) };
        let pure_syn = seg.flags.syn() && !seg.flags.ack();
        let existing = index.get(&key).copied();
        let idx = match existing {
            // A SYN with a new ISN from the client starts a new connection on the 4-tuple.
            Some(i)
                if pure_syn
                    && conns
                        .get(i)
                        .is_some_and(|c| c.client_isn.is_some_and(|isn| isn != seg.seq)) =>
            {
                None
            }
            other => other,
        };
        let idx = match idx {
            Some(i) => i,
            None => {
                let (client, server) = match (seg.flags.syn(), seg.flags.ack()) {
                    (true, true) => (b, a),
                    (true, false) => (a, b),
                    // Mid-stream: the lower port is likelier the server's.
                    _ if seg.sport < seg.dport => (b, a),
                    _ => (a, b),
                };
                conns.push(Conn {
                    client,
                    server,
                    client_isn: None,
                    server_isn: None,
                    start: frame.ts,
                    packets: Vec::new(),
                });
                index.insert(key, conns.len() - 1);
                conns.len() - 1
            }
        };
        let Some(c) = conns.get_mut(idx) else {
            continue;
        };
        let from_client = a == c.client;
        if seg.flags.syn() {
            let slot = if from_client {
                &mut c.client_isn
            } else {
                &mut c.server_isn
            };
            slot.get_or_insert(seg.seq);
        }
        let mut h = FxHasher::default();
        seg.payload.hash(&mut h);
        c.packets.push(Pkt {
            frame: frame.index,
            ts: frame.ts,
            from_client,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags.0,
            len: seg.payload_len,
            hash: h.finish(),
            captured: seg.payload.len() as u32,
            ttl: seg.ip.ttl,
        });
    }
    Ok(Side {
        conns,
        truncated,
        span: span.unwrap_or_default(),
    })
}

/// A packet in a report.
#[derive(Debug, Clone, Serialize)]
pub struct PacketNote {
    /// `client` or `server`: which capture holds it.
    pub capture: &'static str,
    pub frame: u64,
    /// Seconds since the epoch, in that capture's clock.
    pub time: f64,
    /// `client` or `server`: the claimed sender.
    pub from: &'static str,
    pub flags: String,
    pub seq: u32,
    pub ack: u32,
    pub len: u32,
    pub ttl: u8,
    pub note: String,
}

/// One connection seen in both captures.
#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    /// The connection as the client's capture shows it, and as the server's.
    pub client_view: String,
    pub server_view: String,
    /// How the two were paired: `isn` or `order`.
    pub paired_by: &'static str,
    /// Addresses or ports rewritten on the way (NAT).
    pub nat: bool,
    /// Sequence numbers rewritten on the way (a middlebox randomising ISNs).
    pub isn_rewritten: bool,
    pub packets_client_capture: usize,
    pub packets_server_capture: usize,
    /// Received at one end, never sent by the other: injected.
    pub never_sent: Vec<PacketNote>,
    /// Sent by one end, never received at the other: dropped on the way (or not captured).
    pub never_received: Vec<PacketNote>,
    /// Received with different payload bytes than were sent.
    pub modified: Vec<PacketNote>,
    /// Every RST in either capture, with what the other capture proves about it.
    pub rsts: Vec<RstProof>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RstProof {
    pub capture: &'static str,
    pub frame: u64,
    pub from: &'static str,
    /// `forged` (received, never sent), `endpoint` (the sender's capture shows it leaving),
    /// `not_received` (sent, never arrived), or `unknown` (the other capture does not cover
    /// that moment).
    pub proven: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub client_capture: String,
    pub server_capture: String,
    /// Server capture's clock minus the client capture's, milliseconds (median over paired
    /// connections' first packets); null if no connection paired.
    pub clock_offset_ms: Option<f64>,
    pub pairs: Vec<PairReport>,
    /// Connections only one capture shows.
    pub only_in_client_capture: Vec<String>,
    pub only_in_server_capture: Vec<String>,
    pub notes: Vec<String>,
}

/// Compares a capture taken at the client with one taken at the server.
pub fn compare(client_capture: &Path, server_capture: &Path) -> Result<CompareReport, String> {
    let a = load(client_capture)?;
    let b = load(server_capture)?;
    let mut notes = Vec::new();
    for (side, name) in [(&a, client_capture), (&b, server_capture)] {
        if side.truncated {
            notes.push(format!(
                "{}: more than {MAX_PACKETS} packets; compared up to there",
                name.display()
            ));
        }
    }
    // Pair by ISN first.
    let mut pairs: Vec<(usize, usize, &'static str)> = Vec::new();
    let mut used_b = vec![false; b.conns.len()];
    for (i, ca) in a.conns.iter().enumerate() {
        let Some(isn) = ca.client_isn else { continue };
        if let Some(j) = b.conns.iter().enumerate().position(|(j, cb)| {
            !used_b.get(j).copied().unwrap_or(true)
                && cb.client_isn == Some(isn)
                && cb.server.port() == ca.server.port()
        }) {
            if let Some(u) = used_b.get_mut(j) {
                *u = true;
            }
            pairs.push((i, j, "isn"));
        }
    }
    let offset = median_offset(&a, &b, &pairs);
    // Then by server port, order and time.
    let paired_a: Vec<usize> = pairs.iter().map(|p| p.0).collect();
    for (i, ca) in a.conns.iter().enumerate() {
        if paired_a.contains(&i) {
            continue;
        }
        let want = ca.start.0 + offset.unwrap_or(0);
        let best = b
            .conns
            .iter()
            .enumerate()
            .filter(|(j, cb)| {
                !used_b.get(*j).copied().unwrap_or(true) && cb.server.port() == ca.server.port()
            })
            .min_by_key(|(_, cb)| (cb.start.0 - want).abs());
        if let Some((j, cb)) = best {
            let close_enough = offset.is_none() || (cb.start.0 - want).abs() < 5_000_000_000;
            if close_enough {
                if let Some(u) = used_b.get_mut(j) {
                    *u = true;
                }
                pairs.push((i, j, "order"));
            }
        }
    }
    pairs.sort_unstable();
    let offset = median_offset(&a, &b, &pairs);
    let paired_a: Vec<usize> = pairs.iter().map(|p| p.0).collect();
    let view = |c: &Conn| format!("{} -> {}", c.client, c.server);
    let report_pairs = pairs
        .iter()
        .filter_map(|&(i, j, by)| {
            Some(compare_pair(
                a.conns.get(i)?,
                b.conns.get(j)?,
                by,
                a.span,
                b.span,
            ))
        })
        .collect();
    Ok(CompareReport {
        client_capture: client_capture.display().to_string(),
        server_capture: server_capture.display().to_string(),
        clock_offset_ms: offset.map(|o| o as f64 / 1e6),
        pairs: report_pairs,
        only_in_client_capture: a
            .conns
            .iter()
            .enumerate()
            .filter(|(i, _)| !paired_a.contains(i))
            .map(|(_, c)| view(c))
            .collect(),
        only_in_server_capture: b
            .conns
            .iter()
            .enumerate()
            .filter(|(j, _)| !used_b.get(*j).copied().unwrap_or(false))
            .map(|(_, c)| view(c))
            .collect(),
        notes,
    })
}

fn median_offset(a: &Side, b: &Side, pairs: &[(usize, usize, &str)]) -> Option<i64> {
    let mut d: Vec<i64> = pairs
        .iter()
        .filter_map(|&(i, j, _)| Some(b.conns.get(j)?.start.0 - a.conns.get(i)?.start.0))
        .collect();
    d.sort_unstable();
    d.get(d.len() / 2).copied()
}

/// Sequence-number translation per direction: what the server's capture shows minus what the
/// client's shows.
#[derive(Clone, Copy)]
struct Shift {
    client: u32,
    server: u32,
}

fn compare_pair(
    ca: &Conn,
    cb: &Conn,
    paired_by: &'static str,
    span_a: (Timestamp, Timestamp),
    span_b: (Timestamp, Timestamp),
) -> PairReport {
    // The clocks' offset for this connection: its first packet in each capture.
    let shift_ab = cb.start.0 - ca.start.0;
    let shift = Shift {
        client: match (ca.client_isn, cb.client_isn) {
            (Some(x), Some(y)) => y.wrapping_sub(x),
            _ => 0,
        },
        server: match (ca.server_isn, cb.server_isn) {
            (Some(x), Some(y)) => y.wrapping_sub(x),
            _ => 0,
        },
    };
    let mut never_sent = Vec::new();
    let mut never_received = Vec::new();
    let mut modified = Vec::new();
    let mut rsts = Vec::new();
    // Client -> server: sent in capture A (client side), received in capture B.
    // Server -> client: sent in capture B, received in capture A.
    for from_client in [true, false] {
        let (sent, recv, sent_name, recv_name) = if from_client {
            (ca, cb, "client", "server")
        } else {
            (cb, ca, "server", "client")
        };
        // Each capture's running time, in the other capture's clock.
        let (sent_span, recv_span, to_sent, to_recv) = if from_client {
            (span_a, span_b, -shift_ab, shift_ab)
        } else {
            (span_b, span_a, shift_ab, -shift_ab)
        };
        // Translate the sender's view into the receiver's: seq of this direction, ack of the
        // other.
        let (dseq, dack) = if from_client {
            (shift.client, shift.server)
        } else {
            (shift.server.wrapping_neg(), shift.client.wrapping_neg())
        };
        let from_name = if from_client { "client" } else { "server" };
        let out: Vec<&Pkt> = sent
            .packets
            .iter()
            .filter(|p| p.from_client == from_client)
            .collect();
        let inn: Vec<&Pkt> = recv
            .packets
            .iter()
            .filter(|p| p.from_client == from_client)
            .collect();
        let translate = |p: &Pkt| (p.seq.wrapping_add(dseq), p.ack.wrapping_add(dack));

        // Control segments (no data): multiset of (flags, seq, ack) in the receiver's terms.
        let mut sent_ctl: BTreeMap<(u16, u32, u32), usize> = BTreeMap::new();
        for p in out.iter().filter(|p| p.len == 0) {
            let (s, a) = translate(p);
            *sent_ctl
                .entry((p.flags & CORE_FLAGS, s, ack_if(p, a)))
                .or_insert(0) += 1;
        }
        let mut recv_ctl: BTreeMap<(u16, u32, u32), usize> = BTreeMap::new();
        for p in inn.iter().filter(|p| p.len == 0) {
            *recv_ctl
                .entry((p.flags & CORE_FLAGS, p.seq, ack_if(p, p.ack)))
                .or_insert(0) += 1;
        }
        // Data: byte ranges (in the receiver's sequence numbers) each side holds.
        let sent_ranges: Vec<(SeqNum, u32, u64, u32)> = out
            .iter()
            .filter(|p| p.len > 0)
            .map(|p| (SeqNum(translate(p).0), p.len, p.hash, p.captured))
            .collect();
        let recv_ranges: Vec<(SeqNum, u32, u64, u32)> = inn
            .iter()
            .filter(|p| p.len > 0)
            .map(|p| (SeqNum(p.seq), p.len, p.hash, p.captured))
            .collect();

        let note = |p: &Pkt, capture: &'static str, text: String| PacketNote {
            capture,
            frame: p.frame,
            time: p.ts.as_secs_f64(),
            from: from_name,
            flags: TcpFlags(p.flags).to_string(),
            seq: p.seq,
            ack: p.ack,
            len: p.len,
            ttl: p.ttl,
            note: text,
        };

        // Received, never sent.
        let mut left = sent_ctl.clone();
        for p in &inn {
            let is_rst = p.flags & TcpFlags::RST != 0;
            let found = if p.len == 0 {
                let key = (p.flags & CORE_FLAGS, p.seq, ack_if(p, p.ack));
                match left.get_mut(&key) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        true
                    }
                    // A duplicate of one already matched (retransmitted or captured twice).
                    _ => sent_ctl.contains_key(&key),
                }
            } else {
                covered(SeqNum(p.seq), p.len, &sent_ranges)
            };
            let in_window = running(sent_span, p.ts.0 + to_sent);
            if !found && in_window {
                never_sent.push(note(
                    p,
                    recv_name,
                    format!("received by the {recv_name}, never sent by the {sent_name}"),
                ));
            }
            if p.len > 0 && found {
                if let Some(text) = differs(p, &sent_ranges) {
                    modified.push(note(p, recv_name, text));
                }
            }
            if is_rst {
                rsts.push(RstProof {
                    capture: recv_name,
                    frame: p.frame,
                    from: from_name,
                    proven: match (found, in_window) {
                        (false, true) => "forged",
                        (true, _) => "endpoint",
                        (false, false) => "unknown",
                    },
                });
            }
        }
        // Sent, never received.
        let mut left = recv_ctl.clone();
        for p in &out {
            let (s, a) = translate(p);
            let found = if p.len == 0 {
                let key = (p.flags & CORE_FLAGS, s, ack_if(p, a));
                match left.get_mut(&key) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        true
                    }
                    _ => recv_ctl.contains_key(&key),
                }
            } else {
                covered(SeqNum(s), p.len, &recv_ranges)
            };
            let in_window = running(recv_span, p.ts.0 + to_recv);
            if !found && in_window {
                never_received.push(note(
                    p,
                    sent_name,
                    format!("sent by the {sent_name}, never received by the {recv_name}"),
                ));
                if p.flags & TcpFlags::RST != 0 {
                    rsts.push(RstProof {
                        capture: sent_name,
                        frame: p.frame,
                        from: from_name,
                        proven: "not_received",
                    });
                }
            }
        }
    }
    rsts.sort_by_key(|r| (r.capture, r.frame));
    PairReport {
        client_view: format!("{} -> {}", ca.client, ca.server),
        server_view: format!("{} -> {}", cb.client, cb.server),
        paired_by,
        nat: ca.client != cb.client || ca.server != cb.server,
        isn_rewritten: shift.client != 0 || shift.server != 0,
        packets_client_capture: ca.packets.len(),
        packets_server_capture: cb.packets.len(),
        never_sent,
        never_received,
        modified,
        rsts,
    }
}

/// The acknowledgment number when the ACK bit is set, else 0 (it means nothing then).
fn ack_if(p: &Pkt, ack: u32) -> u32 {
    if p.flags & TcpFlags::ACK != 0 { ack } else { 0 }
}

/// Whether `[seq, seq+len)` is covered by the union of `ranges`.
fn covered(seq: SeqNum, len: u32, ranges: &[(SeqNum, u32, u64, u32)]) -> bool {
    let mut spans: Vec<(i64, i64)> = ranges
        .iter()
        .map(|&(s, l, _, _)| {
            let start = s.diff(seq);
            (start, start + i64::from(l))
        })
        .filter(|&(a, b)| b > 0 && a < i64::from(len))
        .collect();
    spans.sort_unstable();
    let mut reach = 0i64;
    for (a, b) in spans {
        if a > reach {
            return false;
        }
        reach = reach.max(b);
        if reach >= i64::from(len) {
            return true;
        }
    }
    reach >= i64::from(len)
}

/// For a received data segment matched exactly by a sent one (same start and length), whether
/// the captured bytes differ.
fn differs(p: &Pkt, sent: &[(SeqNum, u32, u64, u32)]) -> Option<String> {
    let same: Vec<&(SeqNum, u32, u64, u32)> = sent
        .iter()
        .filter(|(s, l, _, c)| *s == SeqNum(p.seq) && *l == p.len && *c == p.captured)
        .collect();
    if same.is_empty() || same.iter().any(|(_, _, h, _)| *h == p.hash) {
        return None;
    }
    Some("its payload differs from what was sent".to_string())
}

/// Whether a capture spanning `span` was running at `t` (in its own clock), with a second of
/// slack either side for clock drift and packets in flight.
fn running(span: (Timestamp, Timestamp), t: i64) -> bool {
    t >= span.0.0 - 1_000_000_000 && t <= span.1.0 + 1_000_000_000
}

#[cfg(test)]
mod tests;
