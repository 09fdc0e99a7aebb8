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
//! Memory: packet summaries (about 64 bytes each), at most [`MAX_PACKETS`] per capture by
//! default; a capture beyond it is compared up to there, and the report says so. The report
//! is handed on a connection at a time ([`compare_into`]), never held whole.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use rustc_hash::{FxHashMap, FxHasher};
use serde::Serialize;

use crate::capture::{CaptureReader, Timestamp};
// Which end: `Side` here is one capture of the two.
use crate::flows::Side as End;
use crate::flows::seq::SeqNum;
use crate::wire::{self, TcpFlags};

/// Packets summarised per capture at most (about 64 bytes each: 128 MB of summaries). A
/// connection counts as [`CONN_COST`] packets against the same bound (its addresses, ISNs and
/// index entry), so many short connections cannot exceed it either.
pub const MAX_PACKETS: usize = 2_000_000;

/// What one connection costs against [`MAX_PACKETS`], in packet summaries.
pub const CONN_COST: usize = 3;

/// One TCP segment, as much as matching needs.
#[derive(Debug, Clone, Copy)]
struct Pkt {
    frame: u64,
    ts: Timestamp,
    /// Index of its connection in [`Side::conns`].
    conn: u32,
    seq: u32,
    ack: u32,
    len: u32,
    /// Hash of the captured payload bytes, and how many were captured.
    hash: u64,
    captured: u32,
    /// Hash of the TCP options (kinds and values).
    opts: u32,
    flags: u16,
    window: u16,
    /// IPv4 identification (0 for IPv6, where `has_id` is false).
    ip_id: u16,
    ttl: u8,
    /// Sent by the connection's client.
    from_client: bool,
    has_id: bool,
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
    /// Its packets: `Side::pkts[range]`, in capture order.
    range: std::ops::Range<usize>,
}

/// All connections of one capture.
struct Side {
    conns: Vec<Conn>,
    /// Every connection's packets, grouped by connection (one allocation, not one per
    /// connection).
    pkts: Vec<Pkt>,
    truncated: bool,
    /// First and last frame time: when the capture was running.
    span: (Timestamp, Timestamp),
}

impl Side {
    fn packets(&self, c: &Conn) -> &[Pkt] {
        self.pkts.get(c.range.clone()).unwrap_or(&[])
    }
}

fn options_hash(o: &crate::wire::TcpOptions) -> u32 {
    let mut h = FxHasher::default();
    (
        o.present,
        o.mss,
        o.window_scale,
        o.sack_permitted,
        o.sack,
        o.timestamp,
    )
        .hash(&mut h);
    h.finish() as u32
}

/// One capture to compare, already opened: its name (in the report and in errors) and its
/// reader. Opening files is the caller's (the command line's); [`Source::from_bytes`] reads a
/// capture held in memory.
pub struct Source {
    pub name: String,
    pub reader: CaptureReader,
}

impl Source {
    pub fn new(name: impl Into<String>, reader: CaptureReader) -> Source {
        Source {
            name: name.into(),
            reader,
        }
    }

    /// A capture held in memory (tests, fuzzing).
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Result<Source, CompareError> {
        let name = name.into();
        match CaptureReader::from_bytes(bytes) {
            Ok(reader) => Ok(Source { name, reader }),
            Err(source) => Err(CompareError::Open { name, source }),
        }
    }
}

fn load(src: Source, max_packets: usize) -> Result<(Side, String), CompareError> {
    let Source { name, reader } = src;
    match load_from(reader, max_packets) {
        Ok(side) => Ok((side, name)),
        Err(source) => Err(CompareError::Read { name, source }),
    }
}

fn load_from(mut reader: CaptureReader, max_packets: usize) -> std::io::Result<Side> {
    let mut conns: Vec<Conn> = Vec::new();
    let mut pkts: Vec<Pkt> = Vec::new();
    let mut index: FxHashMap<(SocketAddr, SocketAddr), usize> = FxHashMap::default();
    let mut budget = max_packets;
    let mut truncated = false;
    let mut span: Option<(Timestamp, Timestamp)> = None;
    while let Some(frame) = reader.next_frame()? {
        span = Some(span.map_or((frame.ts, frame.ts), |(a, b)| {
            (a.min(frame.ts), b.max(frame.ts))
        }));
        let Ok(seg) = wire::decode(&frame) else {
            continue;
        };
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
        let cost = 1 + if idx.is_none() { CONN_COST } else { 0 };
        if budget < cost {
            truncated = true;
            break;
        }
        budget -= cost;
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
                    range: 0..0,
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
        pkts.push(Pkt {
            frame: frame.index,
            ts: frame.ts,
            conn: idx as u32,
            seq: seg.seq,
            ack: seg.ack,
            len: seg.payload_len,
            hash: h.finish(),
            captured: seg.payload.len() as u32,
            opts: options_hash(&seg.options),
            flags: seg.flags.0,
            window: seg.window,
            ip_id: seg.ip.id.unwrap_or(0),
            ttl: seg.ip.ttl,
            from_client,
            has_id: seg.ip.id.is_some(),
        });
    }
    drop(index);
    // Group by connection, keeping capture order within each.
    pkts.sort_by_key(|p| p.conn);
    let mut at = 0usize;
    for (i, c) in conns.iter_mut().enumerate() {
        let n = pkts.get(at..).map_or(0, |rest| {
            rest.iter().take_while(|p| p.conn as usize == i).count()
        });
        c.range = at..at + n;
        at += n;
    }
    Ok(Side {
        conns,
        pkts,
        truncated,
        span: span.unwrap_or_default(),
    })
}

/// A packet in a report.
#[derive(Debug, Clone, Serialize)]
pub struct PacketNote {
    /// `client` or `server`: which capture holds it.
    pub capture: End,
    pub frame: u64,
    /// Seconds since the epoch, in that capture's clock.
    #[serde(rename = "frame_time")]
    pub time: f64,
    /// `client` or `server`: the claimed sender.
    #[serde(rename = "sender")]
    pub from: End,
    #[serde(rename = "tcp_flags")]
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
    pub paired_by: PairedBy,
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
    pub capture: End,
    pub frame: u64,
    #[serde(rename = "sender")]
    pub from: End,
    /// `forged` (received, never sent: no packet the sender's capture shows can be its twin),
    /// `endpoint` (matched one-to-one to a packet the sender's capture shows leaving, on every
    /// field that survives the path), `not_received` (sent, never arrived), or `unproven`
    /// (neither, for the reason given).
    pub proven: Proven,
    /// Why, in a sentence.
    pub reason: String,
    /// The fields compared with its twin and found equal (for `endpoint`), or that differ
    /// (for `unproven`).
    pub fields: Vec<Field>,
}

/// How a connection in one capture was paired with its twin in the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairedBy {
    /// The same initial sequence numbers.
    Isn,
    /// Server port and the nearest start time, once the ISNs had paired what they could.
    Order,
}

impl PairedBy {
    pub fn code(self) -> &'static str {
        match self {
            PairedBy::Isn => "isn",
            PairedBy::Order => "order",
        }
    }
}

/// A field of a packet compared with its twin in the other capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Flags,
    Seq,
    Ack,
    Time,
    Ttl,
    IpId,
    Options,
    Len,
    Window,
}

impl Field {
    pub const ALL: [Field; 9] = [
        Field::Flags,
        Field::Seq,
        Field::Ack,
        Field::Time,
        Field::Ttl,
        Field::IpId,
        Field::Options,
        Field::Len,
        Field::Window,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Field::Flags => "flags",
            Field::Seq => "seq",
            Field::Ack => "ack",
            Field::Time => "time",
            Field::Ttl => "ttl",
            Field::IpId => "ip_id",
            Field::Options => "options",
            Field::Len => "len",
            Field::Window => "window",
        }
    }

    /// The codes of `fields`, joined by `sep`.
    pub fn join(fields: &[Field], sep: &str) -> String {
        let codes: Vec<&str> = fields.iter().map(|f| f.code()).collect();
        codes.join(sep)
    }
}

/// What the two captures prove about one RST. Serialized as its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proven {
    /// Received, never sent.
    Forged,
    /// Matched one-to-one to a packet the sender's capture shows leaving.
    Endpoint,
    /// Sent, never received.
    NotReceived,
    /// Neither, for the reason given.
    Unproven,
}

impl Proven {
    pub fn code(self) -> &'static str {
        match self {
            Proven::Forged => "forged",
            Proven::Endpoint => "endpoint",
            Proven::NotReceived => "not_received",
            Proven::Unproven => "unproven",
        }
    }
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

/// A part of a [`CompareReport`], handed on by [`compare_into`] as soon as it is known.
#[derive(Debug)]
pub enum Part {
    /// Everything but the lists, first.
    Head {
        client_capture: String,
        server_capture: String,
        clock_offset_ms: Option<f64>,
        notes: Vec<String>,
    },
    /// One paired connection, in the client capture's order.
    Pair(Box<PairReport>),
    /// A connection only the client's capture shows, then those only the server's shows.
    OnlyInClientCapture(String),
    OnlyInServerCapture(String),
}

/// Why a comparison stopped: a capture could not be opened or read (an input's fault), or
/// handing a part of the report on failed (the output's).
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The capture's first bytes are no capture bttrace reads, or it cannot be opened.
    #[error("{name}: {source}")]
    Open {
        name: String,
        source: crate::capture::CaptureError,
    },
    /// Reading the capture's frames failed.
    #[error("{name}: {source}")]
    Read {
        name: String,
        source: std::io::Error,
    },
    /// Writing the report failed.
    #[error(transparent)]
    Output(#[from] std::io::Error),
}

impl CompareError {
    /// The error is an input's (a capture's), not the output's.
    pub fn is_input(&self) -> bool {
        matches!(self, CompareError::Open { .. } | CompareError::Read { .. })
    }
}

/// Compares a capture taken at the client with one taken at the server, the whole report in
/// memory (see [`compare_into`] for one handed on in parts).
pub fn compare(
    client_capture: Source,
    server_capture: Source,
) -> Result<CompareReport, CompareError> {
    let mut report = CompareReport {
        client_capture: String::new(),
        server_capture: String::new(),
        clock_offset_ms: None,
        pairs: Vec::new(),
        only_in_client_capture: Vec::new(),
        only_in_server_capture: Vec::new(),
        notes: Vec::new(),
    };
    compare_into(client_capture, server_capture, MAX_PACKETS, |part| {
        match part {
            Part::Head {
                client_capture,
                server_capture,
                clock_offset_ms,
                notes,
            } => {
                report.client_capture = client_capture;
                report.server_capture = server_capture;
                report.clock_offset_ms = clock_offset_ms;
                report.notes = notes;
            }
            Part::Pair(p) => report.pairs.push(*p),
            Part::OnlyInClientCapture(c) => report.only_in_client_capture.push(c),
            Part::OnlyInServerCapture(c) => report.only_in_server_capture.push(c),
        }
        Ok(())
    })?;
    Ok(report)
}

/// [`compare`], each part of the report handed to `each` as soon as it is made, so that
/// memory holds the two captures' packet summaries (at most `max_packets` each, about 64
/// bytes apiece; [`MAX_PACKETS`] is the command's default) and one pair's report, however
/// many connections there are.
///
/// Connections are paired through hash maps (by client ISN and server port, then by server
/// port and start time in an ordered set), so the work grows as n log n in connections.
///
/// Each capture is first placed by its own packets (see [`taken_at`]): when the one given as
/// the client's looks taken at the server and the other at the client, the two are swapped,
/// and a note says so and why; when only one contradicts its role, a note says that.
pub fn compare_into(
    client_capture: Source,
    server_capture: Source,
    max_packets: usize,
    each: impl FnMut(Part) -> std::io::Result<()>,
) -> Result<(), CompareError> {
    let (a, a_name) = load(client_capture, max_packets)?;
    let (b, b_name) = load(server_capture, max_packets)?;
    compare_sides((&a, &a_name), (&b, &b_name), max_packets, each)
}

/// [`compare_into`] on two captures in memory (`client` and `server` name them in the
/// report), for tests and fuzzing.
pub fn compare_bytes(
    (client_name, client): (&str, Vec<u8>),
    (server_name, server): (&str, Vec<u8>),
    max_packets: usize,
    each: impl FnMut(Part) -> std::io::Result<()>,
) -> Result<(), CompareError> {
    let a = load(Source::from_bytes(client_name, client)?, max_packets)?;
    let b = load(Source::from_bytes(server_name, server)?, max_packets)?;
    compare_sides((&a.0, client_name), (&b.0, server_name), max_packets, each)
}

fn compare_sides(
    (a, client_capture): (&Side, &str),
    (b, server_capture): (&Side, &str),
    max_packets: usize,
    mut each: impl FnMut(Part) -> std::io::Result<()>,
) -> Result<(), CompareError> {
    let mut notes = Vec::new();
    let (wa, wb) = (taken_at(a), taken_at(b));
    let (a, b, client_capture, server_capture) = match (&wa, &wb) {
        (Some(x), Some(y)) if !x.at_client && y.at_client => {
            notes.push(format!(
                "the captures were given the wrong way round: {} looks taken at the server ({}) \
                 and {} at the client ({}); compared with {} as the client's capture",
                client_capture, x.why, server_capture, y.why, server_capture,
            ));
            (b, a, server_capture, client_capture)
        }
        _ => {
            for (w, p, role) in [
                (&wa, client_capture, "client"),
                (&wb, server_capture, "server"),
            ] {
                if let Some(w) = w {
                    if w.at_client != (role == "client") {
                        let other = if w.at_client { "client" } else { "server" };
                        notes.push(format!(
                            "{} is given as the {role}'s capture but looks taken at the {other} \
                             ({}); what it received and never sent may be the other end's doing",
                            p, w.why
                        ));
                    }
                }
            }
            (a, b, client_capture, server_capture)
        }
    };
    for (side, name) in [(a, client_capture), (b, server_capture)] {
        if side.truncated {
            notes.push(format!(
                "{name}: more than {max_packets} packets (a connection counts as {CONN_COST}); \
                 compared up to there (--max-packets raises the bound)"
            ));
        }
    }
    // Pair by ISN first: the server capture's connections by (client ISN, server port), each
    // list in capture order, taken from the front.
    let mut pairs: Vec<(usize, usize, PairedBy)> = Vec::new();
    let mut used_b = vec![false; b.conns.len()];
    let mut paired_a = vec![false; a.conns.len()];
    let mut by_isn: FxHashMap<(u32, u16), std::collections::VecDeque<usize>> = FxHashMap::default();
    for (j, cb) in b.conns.iter().enumerate() {
        if let Some(isn) = cb.client_isn {
            by_isn
                .entry((isn, cb.server.port()))
                .or_default()
                .push_back(j);
        }
    }
    for (i, ca) in a.conns.iter().enumerate() {
        let Some(isn) = ca.client_isn else { continue };
        if let Some(j) = by_isn
            .get_mut(&(isn, ca.server.port()))
            .and_then(|q| q.pop_front())
        {
            if let Some(u) = used_b.get_mut(j) {
                *u = true;
            }
            if let Some(u) = paired_a.get_mut(i) {
                *u = true;
            }
            pairs.push((i, j, PairedBy::Isn));
        }
    }
    drop(by_isn);
    let offset = median_offset(a, b, &pairs);
    // Then by server port and the nearest start time among the unpaired.
    let mut by_port: FxHashMap<u16, BTreeSet<(i64, usize)>> = FxHashMap::default();
    for (j, cb) in b.conns.iter().enumerate() {
        if !used_b.get(j).copied().unwrap_or(true) {
            by_port
                .entry(cb.server.port())
                .or_default()
                .insert((cb.start.0, j));
        }
    }
    for (i, ca) in a.conns.iter().enumerate() {
        if paired_a.get(i).copied().unwrap_or(true) {
            continue;
        }
        let Some(set) = by_port.get_mut(&ca.server.port()) else {
            continue;
        };
        let want = ca.start.0 + offset.unwrap_or(0);
        let before = set.range(..(want, 0)).next_back().copied();
        let after = set.range((want, 0)..).next().copied();
        let best = match (before, after) {
            (Some(x), Some(y)) => Some(if (y.0 - want) < (want - x.0) { y } else { x }),
            (x, y) => x.or(y),
        };
        if let Some((start, j)) = best {
            let close_enough = offset.is_none() || (start - want).abs() < 5_000_000_000;
            if close_enough {
                set.remove(&(start, j));
                if let Some(u) = used_b.get_mut(j) {
                    *u = true;
                }
                if let Some(u) = paired_a.get_mut(i) {
                    *u = true;
                }
                pairs.push((i, j, PairedBy::Order));
            }
        }
    }
    drop(by_port);
    pairs.sort_unstable();
    let offset = median_offset(a, b, &pairs);
    each(Part::Head {
        client_capture: client_capture.to_string(),
        server_capture: server_capture.to_string(),
        clock_offset_ms: offset.map(|o| o as f64 / 1e6),
        notes,
    })?;
    for &(i, j, by) in &pairs {
        if let (Some(ca), Some(cb)) = (a.conns.get(i), b.conns.get(j)) {
            each(Part::Pair(Box::new(compare_pair((a, ca), (b, cb), by))))?;
        }
    }
    drop(pairs);
    let view = |c: &Conn| format!("{} -> {}", c.client, c.server);
    for (i, c) in a.conns.iter().enumerate() {
        if !paired_a.get(i).copied().unwrap_or(false) {
            each(Part::OnlyInClientCapture(view(c)))?;
        }
    }
    for (j, c) in b.conns.iter().enumerate() {
        if !used_b.get(j).copied().unwrap_or(false) {
            each(Part::OnlyInServerCapture(view(c)))?;
        }
    }
    Ok(())
}

/// Where one capture was taken, and the evidence in words.
#[derive(Debug)]
struct TakenAt {
    at_client: bool,
    why: String,
}

/// TTLs stacks start with.
const INITIAL_TTLS: [u8; 4] = [32, 64, 128, 255];

/// Where a capture was taken, from its connections' TTLs: at its own capture point a host's
/// packets all carry the TTL its stack starts with, while the far end's crossed hops. Each
/// connection where exactly one side looks so is a vote; the capture is placed when the
/// votes agree (`None` when there are none, or they split).
fn taken_at(side: &Side) -> Option<TakenAt> {
    let (mut client, mut server) = (0usize, 0usize);
    let mut example: [Option<String>; 2] = [None, None];
    for c in &side.conns {
        // (lowest, highest, packets) of the client's and the server's non-RST packets.
        let (mut from_client, mut from_server) = ((u8::MAX, 0u8, 0usize), (u8::MAX, 0u8, 0usize));
        for p in side.packets(c) {
            if p.flags & TcpFlags::RST != 0 {
                continue;
            }
            let t = if p.from_client {
                &mut from_client
            } else {
                &mut from_server
            };
            *t = (t.0.min(p.ttl), t.1.max(p.ttl), t.2 + 1);
        }
        let local = |(lo, hi, n): (u8, u8, usize)| n > 0 && lo == hi && INITIAL_TTLS.contains(&hi);
        let words = |(lo, hi, _): (u8, u8, usize)| {
            if lo == hi {
                format!("TTL {hi}")
            } else {
                format!("TTL {lo} to {hi}")
            }
        };
        let at = match (local(from_client), local(from_server)) {
            (true, false) => 0,
            (false, true) => 1,
            _ => continue,
        };
        if at == 0 {
            client += 1;
        } else {
            server += 1;
        }
        if let Some(slot) = example.get_mut(at) {
            slot.get_or_insert_with(|| {
                format!(
                    "in {} -> {} the client's packets carry {} and the server's {}",
                    c.client,
                    c.server,
                    words(from_client),
                    words(from_server)
                )
            });
        }
    }
    let at_client = match (client, server) {
        (0, 0) => return None,
        (_, 0) => true,
        (0, _) => false,
        _ => return None,
    };
    let [ex_client, ex_server] = example;
    let ex = if at_client { ex_client } else { ex_server };
    Some(TakenAt {
        at_client,
        why: format!(
            "{}{}",
            ex.unwrap_or_default(),
            if client + server > 1 {
                format!("; the TTLs of all {} connections agree", client + server)
            } else {
                String::new()
            }
        ),
    })
}

fn median_offset(a: &Side, b: &Side, pairs: &[(usize, usize, PairedBy)]) -> Option<i64> {
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

/// Slack when asking whether a packet could have arrived after its twin left, on top of the
/// least delay the connection's matched packets show: 1 ms plus 100 ppm of the time since the
/// connection started (clock drift). A genuine packet takes at least the path's least delay;
/// a forgery answered by its impersonated sender's later packet arrives before that packet
/// could have.
fn slack(since_start: i64) -> i64 {
    1_000_000 + since_start.abs() / 10_000
}

/// What the path does to one direction of a connection, learnt from packets matched without
/// doubt (data segments with the same start, length and bytes; control segments sent once and
/// received once).
#[derive(Debug, Default)]
struct PathFacts {
    /// TTL lost on the way (the value all matched packets agree on), if they agree.
    hops: Option<u8>,
    /// Whether the IP ID arrived unchanged on every matched packet.
    id_kept: Option<bool>,
    /// Whether the TCP options arrived unchanged on every matched packet.
    opts_kept: Option<bool>,
    /// Least time from leaving (in the receiver's clock, by the connection's offset) to
    /// arriving, nanoseconds.
    min_delay: Option<i64>,
}

impl PathFacts {
    fn learn(&mut self, sent: &Pkt, recv: &Pkt, to_recv: i64, hops_seen: &mut Vec<u8>) {
        hops_seen.push(sent.ttl.wrapping_sub(recv.ttl));
        if sent.has_id && recv.has_id {
            let same = sent.ip_id == recv.ip_id;
            self.id_kept = Some(self.id_kept.unwrap_or(true) && same);
        }
        let same = sent.opts == recv.opts;
        self.opts_kept = Some(self.opts_kept.unwrap_or(true) && same);
        let d = recv.ts.0 - (sent.ts.0 + to_recv);
        self.min_delay = Some(self.min_delay.map_or(d, |m| m.min(d)));
    }
}

type Key = (u16, u32, u32);

fn compare_pair(
    (side_a, ca): (&Side, &Conn),
    (side_b, cb): (&Side, &Conn),
    paired_by: PairedBy,
) -> PairReport {
    let (span_a, span_b) = (side_a.span, side_b.span);
    let (pa, pb) = (side_a.packets(ca), side_b.packets(cb));
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
        let (sent, recv, sent_end, recv_end) = if from_client {
            (pa, pb, End::Client, End::Server)
        } else {
            (pb, pa, End::Server, End::Client)
        };
        let (sent_name, recv_name) = (sent_end.code(), recv_end.code());
        // Each capture's running time, in the other capture's clock.
        let (sent_span, recv_span, to_sent, to_recv) = if from_client {
            (span_a, span_b, -shift_ab, shift_ab)
        } else {
            (span_b, span_a, shift_ab, -shift_ab)
        };
        let recv_start = if from_client { cb.start.0 } else { ca.start.0 };
        // Translate the sender's view into the receiver's: seq of this direction, ack of the
        // other.
        let (dseq, dack) = if from_client {
            (shift.client, shift.server)
        } else {
            (shift.server.wrapping_neg(), shift.client.wrapping_neg())
        };
        let out: Vec<&Pkt> = sent
            .iter()
            .filter(|p| p.from_client == from_client)
            .collect();
        let inn: Vec<&Pkt> = recv
            .iter()
            .filter(|p| p.from_client == from_client)
            .collect();
        let translate = |p: &Pkt| (p.seq.wrapping_add(dseq), p.ack.wrapping_add(dack));
        let ctl_key = |p: &Pkt, s: u32, a: u32| -> Key { (p.flags & CORE_FLAGS, s, ack_if(p, a)) };

        // Control segments (no data) by (flags, seq, ack) in the receiver's terms, each list in
        // capture order (indices into `out` / `inn`).
        let mut sent_ctl: FxHashMap<Key, Vec<usize>> = FxHashMap::default();
        for (k, p) in out.iter().enumerate().filter(|(_, p)| p.len == 0) {
            let (s, a) = translate(p);
            sent_ctl.entry(ctl_key(p, s, a)).or_default().push(k);
        }
        let mut recv_ctl: FxHashMap<Key, Vec<usize>> = FxHashMap::default();
        for (k, p) in inn.iter().enumerate().filter(|(_, p)| p.len == 0) {
            recv_ctl
                .entry(ctl_key(p, p.seq, p.ack))
                .or_default()
                .push(k);
        }
        // Data: the union of byte ranges each side holds, relative to a base, and the exact
        // segments sorted for look-up.
        let base = inn
            .first()
            .map(|p| p.seq)
            .or_else(|| out.first().map(|p| translate(p).0))
            .unwrap_or(0);
        let sent_union = union(
            out.iter()
                .filter(|p| p.len > 0)
                .map(|p| (SeqNum(translate(p).0).diff(SeqNum(base)), p.len)),
        );
        let recv_union = union(
            inn.iter()
                .filter(|p| p.len > 0)
                .map(|p| (SeqNum(p.seq).diff(SeqNum(base)), p.len)),
        );
        let mut sent_exact: Vec<(u32, u32, u32, u64, usize)> = out
            .iter()
            .enumerate()
            .filter(|(_, p)| p.len > 0)
            .map(|(k, p)| (translate(p).0, p.len, p.captured, p.hash, k))
            .collect();
        sent_exact.sort_unstable();

        // What the path does, from matches without doubt.
        let mut facts = PathFacts::default();
        let mut hops_seen: Vec<u8> = Vec::new();
        for p in inn.iter().filter(|p| p.len > 0) {
            let lo = sent_exact
                .partition_point(|e| (e.0, e.1, e.2, e.3) < (p.seq, p.len, p.captured, p.hash));
            if let Some(&(s, l, c, h, k)) = sent_exact.get(lo) {
                if (s, l, c, h) == (p.seq, p.len, p.captured, p.hash) {
                    if let Some(q) = out.get(k) {
                        facts.learn(q, p, to_recv, &mut hops_seen);
                    }
                }
            }
        }
        for (key, ks) in &recv_ctl {
            if key.0 & TcpFlags::RST != 0 || ks.len() != 1 {
                continue;
            }
            let Some(sk) = sent_ctl.get(key).filter(|v| v.len() == 1) else {
                continue;
            };
            if let (Some(q), Some(p)) = (
                sk.first().and_then(|&k| out.get(k)),
                ks.first().and_then(|&k| inn.get(k)),
            ) {
                facts.learn(q, p, to_recv, &mut hops_seen);
            }
        }
        if let Some(&first) = hops_seen.first() {
            facts.hops = hops_seen.iter().all(|&h| h == first).then_some(first);
        }
        drop(hops_seen);

        let note = |p: &Pkt, capture: End, text: String| PacketNote {
            capture,
            frame: p.frame,
            time: p.ts.as_secs_f64(),
            from: sent_end,
            flags: TcpFlags(p.flags).to_string(),
            seq: p.seq,
            ack: p.ack,
            len: p.len,
            ttl: p.ttl,
            note: text,
        };

        // Control segments, one-to-one: first every received packet that has a twin agreeing on
        // every field that survives the path and that left in time; then the others are judged.
        let mut sent_used = vec![false; out.len()];
        let mut sent_claimed = vec![false; out.len()];
        let mut twin: Vec<Option<usize>> = vec![None; inn.len()];
        let in_time = |q: &Pkt, p: &Pkt| {
            let left = q.ts.0 + to_recv + facts.min_delay.unwrap_or(0).max(0);
            p.ts.0 >= left - slack(p.ts.0 - recv_start)
        };
        for (k, p) in inn.iter().enumerate().filter(|(_, p)| p.len == 0) {
            let Some(cands) = sent_ctl.get(&ctl_key(p, p.seq, p.ack)) else {
                continue;
            };
            let hit = cands.iter().copied().find(|&c| {
                !sent_used.get(c).copied().unwrap_or(true)
                    && out
                        .get(c)
                        .is_some_and(|q| in_time(q, p) && differing(q, p, &facts).is_empty())
            });
            if let Some(c) = hit {
                if let Some(u) = sent_used.get_mut(c) {
                    *u = true;
                }
                if let Some(t) = twin.get_mut(k) {
                    *t = Some(c);
                }
            }
        }
        // Received copies a twin could explain as well as the packet it was given to: the
        // captures cannot tell which of them is the one sent, so neither is proven.
        let mut ambiguous = vec![false; inn.len()];
        for (k, p) in inn.iter().enumerate().filter(|(_, p)| p.len == 0) {
            if twin.get(k).copied().flatten().is_some() {
                continue;
            }
            let Some(ks) = recv_ctl.get(&ctl_key(p, p.seq, p.ack)) else {
                continue;
            };
            for &o in ks {
                let Some(c) = twin.get(o).copied().flatten() else {
                    continue;
                };
                let could = out
                    .get(c)
                    .is_some_and(|q| in_time(q, p) && differing(q, p, &facts).is_empty());
                if o != k && could {
                    if let Some(x) = ambiguous.get_mut(o) {
                        *x = true;
                    }
                    if let Some(x) = ambiguous.get_mut(k) {
                        *x = true;
                    }
                }
            }
        }
        // Received, never sent.
        for (k, p) in inn.iter().enumerate() {
            let is_rst = p.flags & TcpFlags::RST != 0;
            let running_then = running(sent_span, p.ts.0 + to_sent);
            let (proven, reason, fields): (Proven, String, Vec<Field>) = if p.len > 0 {
                let found = covered(SeqNum(p.seq).diff(SeqNum(base)), p.len, &sent_union);
                if found {
                    if let Some(text) = differs(p, &sent_exact) {
                        modified.push(note(p, recv_end, text));
                    }
                    (
                        Proven::Endpoint,
                        "its bytes were sent".into(),
                        vec![Field::Seq, Field::Len],
                    )
                } else if running_then {
                    (Proven::Forged, "its bytes were never sent".into(), vec![])
                } else {
                    (
                        Proven::Unproven,
                        format!("the {sent_name}'s capture was not running then"),
                        vec![],
                    )
                }
            } else if ambiguous.get(k).copied().unwrap_or(false) {
                (
                    Proven::Unproven,
                    format!(
                        "one of several received packets that one packet the {sent_name} sent \
                         explains equally (duplicated on the path, or forged as a copy)"
                    ),
                    vec![],
                )
            } else if let Some(c) = twin.get(k).copied().flatten() {
                let q = out.get(c).copied();
                (
                    Proven::Endpoint,
                    format!("matched one-to-one to a packet the {sent_name} sent"),
                    q.map_or_else(Vec::new, |q| agreeing(q, p, &facts)),
                )
            } else if !running_then {
                (
                    Proven::Unproven,
                    format!("the {sent_name}'s capture was not running then"),
                    vec![],
                )
            } else {
                let key = ctl_key(p, p.seq, p.ack);
                let cands = sent_ctl.get(&key).map_or(&[][..], |v| v.as_slice());
                let unused_in_time: Vec<usize> = cands
                    .iter()
                    .copied()
                    .filter(|&c| {
                        !sent_used.get(c).copied().unwrap_or(true)
                            && out.get(c).is_some_and(|q| in_time(q, p))
                    })
                    .collect();
                if let Some(&c) = unused_in_time.first() {
                    if let Some(u) = sent_claimed.get_mut(c) {
                        *u = true;
                    }
                    let diff = out
                        .get(c)
                        .map_or_else(Vec::new, |q| differing(q, p, &facts));
                    (
                        Proven::Unproven,
                        format!(
                            "a packet the {sent_name} sent has its flags and numbers but not its {} \
                             (rewritten on the way, or forged)",
                            Field::join(&diff, ", ")
                        ),
                        diff,
                    )
                } else if cands.is_empty() {
                    (
                        Proven::Forged,
                        format!("the {sent_name} never sent a packet with its flags and numbers"),
                        vec![],
                    )
                } else {
                    (
                        Proven::Forged,
                        format!(
                            "every packet the {sent_name} sent with its flags and numbers left \
                             after it arrived, or explains another packet"
                        ),
                        vec![],
                    )
                }
            };
            if proven == Proven::Forged {
                never_sent.push(note(
                    p,
                    recv_end,
                    format!("received by the {recv_name}, never sent by the {sent_name}"),
                ));
            }
            if is_rst {
                rsts.push(RstProof {
                    capture: recv_end,
                    frame: p.frame,
                    from: sent_end,
                    proven,
                    reason,
                    fields,
                });
            }
        }
        // Sent, never received.
        for (k, p) in out.iter().enumerate() {
            let (s, _) = translate(p);
            let found = if p.len == 0 {
                sent_used.get(k).copied().unwrap_or(false)
                    || sent_claimed.get(k).copied().unwrap_or(false)
            } else {
                covered(SeqNum(s).diff(SeqNum(base)), p.len, &recv_union)
            };
            let in_window = running(recv_span, p.ts.0 + to_recv);
            if !found && in_window {
                never_received.push(note(
                    p,
                    sent_end,
                    format!("sent by the {sent_name}, never received by the {recv_name}"),
                ));
                if p.flags & TcpFlags::RST != 0 {
                    rsts.push(RstProof {
                        capture: sent_end,
                        frame: p.frame,
                        from: sent_end,
                        proven: Proven::NotReceived,
                        reason: format!(
                            "the {recv_name}'s capture shows no packet that is its twin"
                        ),
                        fields: vec![],
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
        packets_client_capture: pa.len(),
        packets_server_capture: pb.len(),
        never_sent,
        never_received,
        modified,
        rsts,
    }
}

/// The fields that survive the path on which a sent packet `q` and a received `p` differ:
/// TTL less the path's hop count (when the path's packets agree on one), IP ID (when the path
/// keeps it), TCP options (when the path keeps them) and length.
fn differing(q: &Pkt, p: &Pkt, facts: &PathFacts) -> Vec<Field> {
    let mut d = Vec::new();
    if let Some(h) = facts.hops {
        if q.ttl.wrapping_sub(h) != p.ttl {
            d.push(Field::Ttl);
        }
    }
    if facts.id_kept != Some(false) && q.has_id && p.has_id && q.ip_id != p.ip_id {
        d.push(Field::IpId);
    }
    if facts.opts_kept != Some(false) && q.opts != p.opts {
        d.push(Field::Options);
    }
    if q.len != p.len {
        d.push(Field::Len);
    }
    d
}

/// The fields checked and found equal between a sent packet and its twin.
fn agreeing(q: &Pkt, p: &Pkt, facts: &PathFacts) -> Vec<Field> {
    let mut f = vec![Field::Flags, Field::Seq, Field::Ack, Field::Time];
    if facts.hops.is_some() {
        f.push(Field::Ttl);
    }
    if facts.id_kept != Some(false) && q.has_id && p.has_id {
        f.push(Field::IpId);
    }
    if facts.opts_kept != Some(false) {
        f.push(Field::Options);
    }
    f.push(Field::Len);
    if q.window == p.window {
        f.push(Field::Window);
    }
    f
}

/// The acknowledgment number when the ACK bit is set, else 0 (it means nothing then).
fn ack_if(p: &Pkt, ack: u32) -> u32 {
    if p.flags & TcpFlags::ACK != 0 { ack } else { 0 }
}

/// The union of byte ranges `(start, len)`, as sorted disjoint `[start, end)` spans.
fn union(ranges: impl Iterator<Item = (i64, u32)>) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = ranges.map(|(s, l)| (s, s + i64::from(l))).collect();
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Whether `[start, start+len)` is covered by the sorted disjoint `spans`.
fn covered(start: i64, len: u32, spans: &[(i64, i64)]) -> bool {
    let end = start + i64::from(len);
    // The last span starting at or before `start`.
    let i = spans.partition_point(|s| s.0 <= start);
    i.checked_sub(1)
        .and_then(|i| spans.get(i))
        .is_some_and(|s| s.1 >= end)
}

/// For a received data segment matched exactly by a sent one (same start and length), whether
/// the captured bytes differ.
fn differs(p: &Pkt, sent: &[(u32, u32, u32, u64, usize)]) -> Option<String> {
    let lo = sent.partition_point(|e| (e.0, e.1, e.2) < (p.seq, p.len, p.captured));
    let same: Vec<u64> = sent
        .get(lo..)
        .unwrap_or(&[])
        .iter()
        .take_while(|e| (e.0, e.1, e.2) == (p.seq, p.len, p.captured))
        .map(|e| e.3)
        .collect();
    if same.is_empty() || same.contains(&p.hash) {
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
