//! TCP connections: the flow table, roles, per-direction state, reassembly and statistics.
//!
//! Layer: [`Segment`]s in (in capture order), [`Flow`]s out. A flow is one TCP connection:
//! keyed by its 4-tuple plus a connection instance, so a new SYN on a 4-tuple whose previous
//! connection is over (or a SYN with a new ISN) starts a new flow.
//!
//! Roles (RFC 9293 vocabulary: the client is the originator, the server the responder) come
//! from the handshake: the sender of a SYN is the client, the sender of a SYN-ACK the server.
//! When the capture starts mid-connection they are guessed from the ports, and the flow says
//! so ([`Roles::Guessed`]).
//!
//! Each direction has its own observed state ([`HalfState`]), sparse reassembly
//! ([`reasm::Stream`]) feeding a [`StreamSink`], counters, and a share of the flow's goodput
//! [`series::Series`].
//!
//! # Bounds
//! The table holds at most [`TableLimits::max_flows`] flows (default 100,000). When a new flow
//! would exceed it, the eighth of the table idle longest is retired into [`Overflow`]
//! counters, connections that never carried data first: a SYN flood cannot exhaust memory,
//! and the flows that moved data are the last to go. Every retirement is counted and reported.
//!
//! A retired connection is remembered by a 64-bit hash of its 4-tuple (and its client's ISN),
//! so its later packets are counted to it ([`Overflow::packets_after`]) instead of opening a
//! new flow with guessed roles: retiring never invents flows. A new SYN with another ISN on
//! that 4-tuple is a new connection, as it would be on a live one. The memory of retired
//! connections is bounded too (one to two generations of `max_flows` each, 16 bytes an
//! entry, [`RETIRED_PER_MAX_FLOW`]): beyond it the oldest are forgotten, counted in [`Overflow::forgotten`],
//! and flows that open mid-stream after that are counted in [`Overflow::opened_after_forgetting`]
//! (some may be later packets of a forgotten connection).
//! Per flow: at most [`MAX_RSTS`] RST records (the rest counted), a series of at most
//! [`series::MAX_BINS`] bins, and an out-of-order buffer bounded by [`reasm::Limits`].
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod observe;
pub mod reasm;
pub mod seq;
pub mod series;
mod side;

use std::net::{IpAddr, SocketAddr};

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use crate::capture::Timestamp;
use crate::wire::{Segment, TcpFlags};
use observe::{AFTER_HORIZON_NS, AfterRst, Habits, PacketFacts, RstContext};
pub use reasm::{HoleCause, Limits, PacketRef, StreamSink, StreamStats};
use seq::SeqNum;
use series::Series;
pub use side::{PerSide, Side};

/// How the client and server were told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Roles {
    /// The client sent a SYN.
    Syn,
    /// The SYN was not captured; the server sent a SYN-ACK.
    SynAck,
    /// The capture starts mid-connection; guessed from the ports.
    Guessed,
}

impl Roles {
    pub fn code(self) -> &'static str {
        match self {
            Roles::Syn => "syn",
            Roles::SynAck => "syn_ack",
            Roles::Guessed => "guessed",
        }
    }
}

/// What one side has been seen to do, in the order TCP allows it (RFC 9293 section 3.3.2,
/// seen from outside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HalfState {
    /// Nothing sent yet.
    Silent,
    /// Sent a SYN (client).
    SynSent,
    /// Sent a SYN-ACK (server).
    SynAckSent,
    /// Sent data or acknowledgments after (or without) a handshake.
    Open,
    /// Sent a FIN.
    FinSent,
    /// Sent a RST.
    Reset,
}

/// How a connection ended, as the output contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Close {
    Fin,
    Rst,
    Open,
    NeverEstablished,
}

impl Close {
    pub fn code(self) -> &'static str {
        match self {
            Close::Fin => "fin",
            Close::Rst => "rst",
            Close::Open => "open",
            Close::NeverEstablished => "never_established",
        }
    }
}

/// A RST as captured, for the forensics that judge it.
#[derive(Debug, Clone)]
pub struct RstRecord {
    pub frame: u64,
    pub ts: Timestamp,
    pub from: Side,
    pub seq: u32,
    /// The acknowledgment number, when the ACK bit is set.
    pub ack: Option<u32>,
    pub flags: TcpFlags,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub window: u16,
    pub options: bool,
    pub payload_len: u32,
    /// Stream offset of the RST's sequence number in its sender's stream.
    pub offset: Option<i64>,
    /// The connection when the RST was captured.
    pub context: Box<RstContext>,
    /// What both ends did afterwards.
    pub after: AfterRst,
}

/// At most this many RSTs are kept per flow; more are counted.
pub const MAX_RSTS: usize = 256;

/// One direction of a flow, named by its sender.
pub struct Half {
    pub state: HalfState,
    pub isn: Option<SeqNum>,
    pub stream: reasm::Stream,
    pub packets: u64,
    /// Payload bytes the IP headers declare, retransmissions included.
    pub payload_bytes: u64,
    pub first_data: Option<Timestamp>,
    pub last_data: Option<Timestamp>,
    pub syns: u32,
    /// Stream offset and frame of the first FIN.
    pub fin: Option<(u64, u64)>,
    pub rsts: u32,
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
    /// Lowest and highest TTL of the side's non-RST packets.
    pub ttl_min: u8,
    pub ttl_max: u8,
    /// Recent header habits (non-RST packets), for reset forensics.
    pub habits: Habits,
}

impl Half {
    fn new(side: Side, limits: Limits) -> Half {
        Half {
            state: HalfState::Silent,
            isn: None,
            stream: reasm::Stream::new(side, limits),
            packets: 0,
            payload_bytes: 0,
            first_data: None,
            last_data: None,
            syns: 0,
            fin: None,
            rsts: 0,
            mss: None,
            window_scale: None,
            sack_permitted: false,
            timestamps: false,
            ttl_min: u8::MAX,
            ttl_max: 0,
            habits: Habits::default(),
        }
    }

    /// The last window this side advertised, scaled when both sides offered a scale
    /// (RFC 7323: scaling applies only then, and never to a SYN's window).
    fn scaled_window(&self, peer: &Half) -> Option<u64> {
        let w = u64::from(self.habits.last?.window);
        match (self.window_scale, peer.window_scale) {
            (Some(s), Some(_)) => Some(w << s.min(14)),
            _ => Some(w),
        }
    }

    pub fn stats(&self) -> &StreamStats {
        &self.stream.stats
    }

    /// What this side sent, as the reports count it.
    pub fn summary(&self) -> HalfSummary {
        let st = self.stats();
        HalfSummary {
            packets: self.packets,
            payload_bytes: self.payload_bytes,
            unique: st.unique,
            retransmitted: st.retransmitted,
            truncated: st.truncated,
            missing: st.not_captured + st.overflow + st.unfilled,
            unassembled: st.unassembled,
            overlap_mismatches: st.overlap_mismatches,
            first_mismatch_frame: st.first_mismatch_frame,
            rsts: self.rsts,
        }
    }
}

/// One side of a flow as the reports count it ([`Half::summary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HalfSummary {
    pub packets: u64,
    /// Payload bytes the IP headers declare, retransmissions included.
    pub payload_bytes: u64,
    /// Unique stream bytes (each once, including bytes the snaplen cut).
    pub unique: u64,
    pub retransmitted: u64,
    /// Bytes on the wire but cut from the capture by the snaplen.
    pub truncated: u64,
    /// Stream bytes never seen: lost before the capture point, given up (out-of-order
    /// buffer full), or still missing at the end.
    pub missing: u64,
    /// Bytes captured after their gap was given up ([`StreamStats::unassembled`]).
    pub unassembled: u64,
    pub overlap_mismatches: u32,
    pub first_mismatch_frame: Option<u64>,
    /// RST segments the side sent.
    pub rsts: u32,
}

/// Handshake times, where seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handshake {
    /// The SYN the SYN-ACK answered: the one whose TSval the SYN-ACK echoes (RFC 7323), else
    /// the last SYN before the SYN-ACK. A client that retransmitted its SYN is answered for its
    /// latest one far more often than its first, whose loss made it retransmit.
    pub syn: Option<Timestamp>,
    pub syn_ack: Option<Timestamp>,
    /// The client's first ACK of the SYN-ACK.
    pub ack: Option<Timestamp>,
    /// The latest SYNs' TSvals and times (a ring), to find the one the SYN-ACK echoes.
    recent_syns: [Option<(u32, Timestamp)>; 4],
    syns_seen: u8,
}

impl Handshake {
    /// A client SYN seen at `ts`, with its TSval if it had one.
    fn syn_seen(&mut self, ts: Timestamp, tsval: Option<u32>) {
        if self.syn_ack.is_some() {
            return;
        }
        self.syn = Some(ts);
        if let Some(v) = tsval {
            let slot = usize::from(self.syns_seen % 4);
            if let Some(s) = self.recent_syns.get_mut(slot) {
                *s = Some((v, ts));
            }
            self.syns_seen = self.syns_seen.wrapping_add(1);
        }
    }

    /// The first SYN-ACK, at `ts`, echoing `tsecr` if it carried timestamps.
    fn syn_ack_seen(&mut self, ts: Timestamp, tsecr: Option<u32>) {
        if self.syn_ack.is_some() {
            return;
        }
        self.syn_ack = Some(ts);
        let echoed = tsecr.and_then(|e| {
            self.recent_syns
                .iter()
                .flatten()
                .find(|(v, _)| *v == e)
                .map(|&(_, at)| at)
        });
        if let Some(at) = echoed {
            self.syn = Some(at);
        }
    }

    /// SYN to the ACK of the SYN-ACK: one full round trip, wherever the capture was taken.
    /// `None` unless all three were seen in that order (a reordered handshake has no RTT).
    pub fn rtt_ns(&self) -> Option<i64> {
        let (syn, syn_ack, ack) = (self.syn?, self.syn_ack?, self.ack?);
        (syn <= syn_ack && syn_ack <= ack).then(|| ack.nanos_since(syn))
    }
}

/// One TCP connection.
pub struct Flow<S> {
    /// Sequential id in order of first packet, from 1.
    pub id: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub roles: Roles,
    /// Earlier connections on the same 4-tuple in this capture.
    pub instance: u32,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub first_frame: u64,
    pub last_frame: u64,
    pub handshake: Handshake,
    /// Each direction, named by its sender.
    halves: PerSide<Half>,
    pub rsts: Vec<RstRecord>,
    pub rsts_dropped: u32,
    /// A RST arrived before both FINs: the connection was reset, not closed.
    pub reset: bool,
    pub series: Series,
    /// Receives both directions' byte streams.
    pub app: S,
}

impl<S> Flow<S> {
    /// Out-of-order bytes both directions hold, waiting for the gaps before them.
    pub fn pending_bytes(&self) -> usize {
        self.halves.iter().map(|h| h.stream.pending().0).sum()
    }

    pub fn half(&self, side: Side) -> &Half {
        &self.halves[side]
    }

    fn half_mut(&mut self, side: Side) -> &mut Half {
        &mut self.halves[side]
    }

    /// The server accepted the connection: it sent something other than a RST (its SYN-ACK),
    /// or the client sent data; or the connection was already carrying traffic when the
    /// capture began.
    pub fn established(&self) -> bool {
        let (c, s) = (self.half(Side::Client), self.half(Side::Server));
        match self.roles {
            Roles::Syn | Roles::SynAck => s.packets > u64::from(s.rsts) || c.stats().unique > 0,
            Roles::Guessed => c.packets + s.packets > u64::from(c.rsts) + u64::from(s.rsts),
        }
    }

    pub fn close(&self) -> Close {
        let fins = self.half(Side::Client).fin.is_some() || self.half(Side::Server).fin.is_some();
        // A reset the connection survived: both ends closed with FINs after the last RST.
        let last_rst = self.rsts.iter().map(|r| r.frame).max().unwrap_or(0);
        let fin_after = |s: Side| self.half(s).fin.is_some_and(|(_, frame)| frame > last_rst);
        let survived = self.reset && fin_after(Side::Client) && fin_after(Side::Server);
        match (self.reset && !survived, self.established(), fins) {
            (true, _, _) => Close::Rst,
            (false, true, true) => Close::Fin,
            (false, true, false) => Close::Open,
            (false, false, _) => Close::NeverEstablished,
        }
    }

    /// The side that sent more unique payload bytes (the server on a tie); `None` without data.
    pub fn data_side(&self) -> Option<Side> {
        let up = self.half(Side::Client).stats().unique;
        let down = self.half(Side::Server).stats().unique;
        match (up, down) {
            (0, 0) => None,
            (u, d) if u > d => Some(Side::Client),
            _ => Some(Side::Server),
        }
    }

    /// Unique bits per second in the data direction, from its first to its last new byte.
    /// The span is at least one handshake round trip: a burst that left within a window
    /// took that long to deliver, and shorter spans would give absurd rates. `None` when the
    /// span is empty.
    pub fn goodput_bps(&self) -> Option<f64> {
        let h = self.half(self.data_side()?);
        let data_span = h.last_data?.nanos_since(h.first_data?);
        let span = data_span.max(self.handshake.rtt_ns().unwrap_or(0));
        (span > 0).then(|| h.stats().unique as f64 * 8.0 / (span as f64 / 1e9))
    }

    /// Exchanges client and server (when a late handshake packet shows the guess was wrong).
    fn swap_roles(&mut self)
    where
        S: StreamSink,
    {
        std::mem::swap(&mut self.client, &mut self.server);
        self.app.swap_sides();
        self.halves.swap();
        for side in Side::BOTH {
            self.halves[side].stream.set_side(side);
        }
        self.series.swap_sides();
        for r in &mut self.rsts {
            r.from = r.from.peer();
        }
    }

    fn side_of(&self, src: IpAddr, sport: u16) -> Side {
        if self.client.ip() == src && self.client.port() == sport {
            Side::Client
        } else {
            Side::Server
        }
    }
}

/// Out-of-order bytes all flows of a capture may hold together (32 MiB): beyond it, the flow
/// being fed gives up its gaps.
pub const PENDING_BUDGET: usize = 32 << 20;

/// What the capture's flows share, and how often a shared bound was reached: the one context
/// the flow table passes down to every flow, its series, its reassembly and its sink.
#[derive(Debug, Clone, Copy)]
pub struct Budgets<C = ()> {
    pub series: series::Budget,
    /// Out-of-order bytes all flows hold now, and their bound ([`PENDING_BUDGET`]).
    pub pending_bytes: usize,
    pub pending_max: usize,
    /// Times a flow gave up its gaps because all flows together held `pending_max`.
    pub pending_given_up: u64,
    /// What the flows' stream sinks share ([`StreamSink::Shared`]).
    pub sink: C,
}

impl<C: Default> Default for Budgets<C> {
    fn default() -> Budgets<C> {
        Budgets {
            series: series::Budget::default(),
            pending_bytes: 0,
            pending_max: PENDING_BUDGET,
            pending_given_up: 0,
            sink: C::default(),
        }
    }
}

impl<C> Budgets<C> {
    /// Gives back what a retired flow held.
    fn release<S>(&mut self, flow: &Flow<S>) {
        self.pending_bytes = self.pending_bytes.saturating_sub(flow.pending_bytes());
        self.series.used = self.series.used.saturating_sub(flow.series.held_bins());
    }
}

/// Flows retired early to keep the table within its bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overflow {
    pub flows: u64,
    pub never_established: u64,
    /// Packets and payload bytes of the retired flows, those after retirement included.
    pub packets: u64,
    pub payload_bytes: u64,
    /// Packets (and their payload bytes) that arrived for a connection after it was retired.
    pub packets_after: u64,
    pub payload_after: u64,
    /// Retired connections no longer remembered (the bound on remembering them).
    pub forgotten: u64,
    /// Flows opened mid-stream (no SYN) once some retired connection had been forgotten.
    pub opened_after_forgetting: u64,
}

impl Overflow {
    /// Counts a flow retired early: the flow itself and every packet it had.
    fn retire<S>(&mut self, f: &Flow<S>) {
        self.flows += 1;
        self.never_established += u64::from(!f.established());
        for h in f.halves.iter() {
            self.packets += h.packets;
            self.payload_bytes += h.payload_bytes;
        }
    }
}

/// Retired connections are remembered in generations of `max_flows` times this: between one
/// and two generations are held, 16 bytes an entry (about 3 to 7 MB for the default bound,
/// against the 260 MB a full table of 100,000 flows takes).
pub const RETIRED_PER_MAX_FLOW: usize = 1;

/// What is remembered of a retired connection, in 8 bytes: the client's ISN when its SYN
/// was seen (a SYN repeating it is a retransmission, not a new connection) and its instance.
#[derive(Debug, Clone, Copy)]
struct Tomb(u64);

impl Tomb {
    fn new(client_isn: Option<u32>, instance: u32) -> Tomb {
        let isn = client_isn.map_or(0, |i| u64::from(i) | 1 << 32);
        Tomb(isn | u64::from(instance.min(u32::MAX >> 1)) << 33)
    }

    fn client_isn(self) -> Option<u32> {
        (self.0 & 1 << 32 != 0).then_some(self.0 as u32)
    }

    fn instance(self) -> u32 {
        (self.0 >> 33) as u32
    }
}

/// Retired connections, by a 64-bit hash of their 4-tuple.
struct Retired {
    current: FxHashMap<u64, Tomb>,
    previous: FxHashMap<u64, Tomb>,
    generation: usize,
}

impl Retired {
    fn new(max_flows: usize) -> Retired {
        Retired {
            current: FxHashMap::default(),
            previous: FxHashMap::default(),
            generation: max_flows.max(1),
        }
    }

    fn key(k: &FlowKey) -> u64 {
        use std::hash::{Hash, Hasher};
        // SipHash with fixed keys: a good 64-bit spread (FxHash is not meant to avoid
        // collisions between structured keys), paid only for packets of unknown 4-tuples.
        let mut h = std::hash::DefaultHasher::new();
        k.hash(&mut h);
        h.finish()
    }

    fn get(&self, k: u64) -> Option<Tomb> {
        self.current
            .get(&k)
            .or_else(|| self.previous.get(&k))
            .copied()
    }

    fn remove(&mut self, k: u64) {
        self.current.remove(&k);
        self.previous.remove(&k);
    }

    /// Remembers a retired connection; returns how many older ones were forgotten for it.
    fn insert(&mut self, k: u64, t: Tomb) -> u64 {
        let mut forgotten = 0;
        if self.current.len() >= self.generation {
            let old = std::mem::take(&mut self.current);
            forgotten = self.previous.len() as u64;
            self.previous = old;
        }
        self.previous.remove(&k);
        self.current.insert(k, t);
        forgotten
    }

    fn is_empty(&self) -> bool {
        self.current.is_empty() && self.previous.is_empty()
    }
}

/// Bounds of the flow table.
#[derive(Debug, Clone, Copy)]
pub struct TableLimits {
    pub max_flows: usize,
    pub reassembly: Limits,
    /// Goodput series interval in nanoseconds (default 100 ms).
    pub interval_ns: i64,
}

impl Default for TableLimits {
    fn default() -> TableLimits {
        TableLimits {
            max_flows: 100_000,
            reassembly: Limits::default(),
            interval_ns: 100_000_000,
        }
    }
}

/// A 4-tuple in an order-free form: the lower endpoint (by address, then port) first.
/// Addresses are packed into integers so hashing and comparing a key per packet costs a few
/// integer operations rather than `IpAddr`'s enum matches (issue 13's profile put a third of
/// the flow table's time there). The ordering is the one `(IpAddr, u16)` tuples have within
/// a family, so `lo` and `hi` are the same endpoints as before the packing.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FlowKey {
    lo: u128,
    hi: u128,
    /// `lo`'s port in the high half, `hi`'s in the low half.
    ports: u32,
    v6: bool,
}

impl FlowKey {
    fn new(a: (IpAddr, u16), b: (IpAddr, u16)) -> FlowKey {
        fn pack(ip: IpAddr) -> (u128, bool) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), false),
                IpAddr::V6(v6) => (u128::from(v6), true),
            }
        }
        let ((ia, va), (ib, vb)) = (pack(a.0), pack(b.0));
        // Mixed families cannot share a packet; ordered as `IpAddr` orders them (V4 first).
        let (lo, hi) = if (vb, ib, b.1) < (va, ia, a.1) {
            ((ib, b.1), (ia, a.1))
        } else {
            ((ia, a.1), (ib, b.1))
        };
        FlowKey {
            lo: lo.0,
            hi: hi.0,
            ports: u32::from(lo.1) << 16 | u32::from(hi.1),
            v6: va | vb,
        }
    }
}

impl std::hash::Hash for FlowKey {
    /// IPv4 keys hash as two words, IPv6 keys as five. Equal keys hash alike (the family is
    /// part of equality; an IPv4 key and an IPv6 key whose bits coincide merely collide).
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        if self.v6 {
            h.write_u128(self.lo);
            h.write_u128(self.hi);
        } else {
            h.write_u64((self.lo as u64) << 32 | self.hi as u64);
        }
        h.write_u32(self.ports);
    }
}

/// Where a segment went.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub flow_id: u32,
    pub side: Side,
    pub new_bytes: u64,
}

pub struct FlowTable<S: StreamSink> {
    /// Boxed, so the map's spare capacity costs a pointer per slot, not a flow.
    live: FxHashMap<FlowKey, Box<Flow<S>>>,
    /// Flows ended by a later connection on their 4-tuple.
    done: Vec<Box<Flow<S>>>,
    next_id: u32,
    limits: TableLimits,
    /// Each new flow's sink starts as a clone of this.
    proto: S,
    pub overflow: Overflow,
    pub budgets: Budgets<S::Shared>,
    retired: Retired,
}

impl<S: StreamSink + Clone> FlowTable<S> {
    pub fn new(limits: TableLimits, proto: S) -> FlowTable<S> {
        FlowTable {
            live: FxHashMap::default(),
            done: Vec::new(),
            next_id: 1,
            limits,
            proto,
            overflow: Overflow::default(),
            budgets: Budgets::default(),
            retired: Retired::new(limits.max_flows.saturating_mul(RETIRED_PER_MAX_FLOW)),
        }
    }

    /// Flows currently in the table.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Takes one segment, in capture order. `None` when the segment belongs to a connection
    /// retired to keep the table within its bound: it is counted in [`Overflow`] instead.
    pub fn process(&mut self, seg: &Segment<'_>, at: PacketRef) -> Option<Placed> {
        let key = FlowKey::new((seg.src, seg.sport), (seg.dst, seg.dport));
        let pure_syn = seg.flags.syn() && !seg.flags.ack();
        // The common case in one lookup: a packet of a live flow that does not start a new
        // connection on its 4-tuple.
        if let Some(flow) = self.live.get_mut(&key) {
            if !(pure_syn && starts_new_connection(flow, seg)) {
                return Some(update_counted(flow, seg, at, &mut self.budgets));
            }
        }
        let instance = match self.live.get(&key) {
            Some(flow) => flow.instance + 1,
            None => self.make_room(key, seg)?,
        };
        let flow = Box::new(new_flow(
            seg,
            at,
            self.next_id,
            instance,
            &self.limits,
            self.proto.clone(),
        ));
        self.next_id += 1;
        // Replacing a flow leaves the number of live flows as it is.
        let live = self.live.len();
        let flow = match self.live.entry(key) {
            Entry::Vacant(v) => v.insert(flow),
            Entry::Occupied(mut o) => {
                let mut old = o.insert(flow);
                let b = &mut self.budgets;
                b.pending_bytes = b.pending_bytes.saturating_sub(old.pending_bytes());
                finish_flow(&mut old, at, &mut self.budgets.sink);
                self.done.push(old);
                if live + self.done.len() > self.limits.max_flows {
                    retire_done(
                        &mut self.done,
                        &self.limits,
                        &mut self.budgets,
                        &mut self.overflow,
                    );
                }
                o.into_mut()
            }
        };
        Some(update_counted(flow, seg, at, &mut self.budgets))
    }

    /// Before a new 4-tuple opens a flow: counts a later packet of a retired connection to it
    /// (`None`), else retires flows as the bound requires and gives the new flow's instance.
    fn make_room(&mut self, key: FlowKey, seg: &Segment<'_>) -> Option<u32> {
        let mut instance = 0;
        if !self.retired.is_empty() {
            let k = Retired::key(&key);
            if let Some(t) = self.retired.get(k) {
                let new_connection =
                    seg.flags.syn() && !seg.flags.ack() && t.client_isn() != Some(seg.seq);
                if !new_connection {
                    // A later packet of a retired connection: counted to it.
                    let o = &mut self.overflow;
                    o.packets += 1;
                    o.packets_after += 1;
                    o.payload_bytes += u64::from(seg.payload_len);
                    o.payload_after += u64::from(seg.payload_len);
                    return None;
                }
                self.retired.remove(k);
                instance = t.instance() + 1;
            }
        }
        if self.overflow.forgotten > 0 && !seg.flags.syn() {
            self.overflow.opened_after_forgetting += 1;
        }
        if self.live.len() >= self.limits.max_flows {
            self.retire_some();
        }
        if self.live.len() + self.done.len() >= self.limits.max_flows && !self.done.is_empty() {
            retire_done(
                &mut self.done,
                &self.limits,
                &mut self.budgets,
                &mut self.overflow,
            );
        }
        Some(instance)
    }

    /// Every flow as it stands (ended and live), in id order, without flushing anything.
    pub fn flows(&self) -> Vec<&Flow<S>> {
        let mut all: Vec<&Flow<S>> = self
            .done
            .iter()
            .chain(self.live.values())
            .map(|f| &**f)
            .collect();
        all.sort_by_key(|f| f.id);
        all
    }

    /// Ends the capture: flushes every flow and returns them all in id order. They stay boxed:
    /// moving them out would need room for all of them twice.
    pub fn finish(mut self) -> Vec<Box<Flow<S>>> {
        let mut all = self.done;
        all.reserve_exact(self.live.len());
        for (_, mut f) in self.live.drain() {
            let at = PacketRef {
                frame: f.last_frame,
                ts: f.last_ts,
            };
            finish_flow(&mut f, at, &mut self.budgets.sink);
            all.push(f);
        }
        all.sort_by_key(|f| f.id);
        all
    }

    /// Retires the longest-idle eighth of the table, flows that never carried data first.
    fn retire_some(&mut self) {
        let n = (self.limits.max_flows / 8).max(1);
        // Ties (flows idle since the same instant) go oldest id first, so the choice does not
        // hang on the map's hash order.
        let mut order: Vec<(bool, Timestamp, u32, FlowKey)> = self
            .live
            .iter()
            .map(|(k, f)| {
                let carried =
                    f.half(Side::Client).stats().unique + f.half(Side::Server).stats().unique > 0;
                (carried, f.last_ts, f.id, *k)
            })
            .collect();
        order.sort_unstable_by_key(|o| (o.0, o.1, o.2));
        for (_, _, _, key) in order.into_iter().take(n) {
            if let Some(f) = self.live.remove(&key) {
                let tomb = Tomb::new(f.half(Side::Client).isn.map(|i| i.0), f.instance);
                self.overflow.forgotten += self.retired.insert(Retired::key(&key), tomb);
                self.budgets.release(&f);
                self.overflow.retire(&f);
            }
        }
    }
}

/// Retires the oldest eighth of the flows already ended by a newer connection on their
/// 4-tuple, so connections that keep reusing one 4-tuple stay within the bound too.
fn retire_done<S, C>(
    done: &mut Vec<Box<Flow<S>>>,
    limits: &TableLimits,
    budgets: &mut Budgets<C>,
    overflow: &mut Overflow,
) {
    let n = (limits.max_flows / 8).max(1).min(done.len());
    for f in done.drain(..n) {
        budgets.release(&f);
        overflow.retire(&f);
    }
}

/// Whether a pure SYN on an existing 4-tuple opens a new connection rather than belonging to
/// the current one.
fn starts_new_connection<S>(flow: &Flow<S>, seg: &Segment<'_>) -> bool {
    let side = flow.side_of(seg.src, seg.sport);
    let half = flow.half(side);
    let peer = flow.half(side.peer());
    match (side, half.isn, half.packets, peer.state) {
        // A retransmitted SYN repeats its ISN (RFC 9293 section 3.8.1).
        (_, Some(isn), _, _) if isn == SeqNum(seg.seq) => false,
        // The sender's first packet: its SYN was captured after the peer's answer (reordered
        // on the way to the capture point), or the roles were guessed from a later packet.
        (_, None, 0, _) => false,
        // The responder sending a SYN during the handshake: simultaneous open or a split
        // handshake (RFC 9293 section 3.5, figure 8).
        (Side::Server, None, _, HalfState::SynSent) => false,
        // Anything else with a new ISN: a new attempt, or the 4-tuple reused after a close.
        (Side::Client | Side::Server, _, _, _) => true,
    }
}

fn new_flow<S>(
    seg: &Segment<'_>,
    at: PacketRef,
    id: u32,
    instance: u32,
    limits: &TableLimits,
    app: S,
) -> Flow<S> {
    let from = SocketAddr::new(seg.src, seg.sport);
    let to = SocketAddr::new(seg.dst, seg.dport);
    let (client, server, roles) = match (seg.flags.syn(), seg.flags.ack()) {
        (true, false) => (from, to, Roles::Syn),
        (true, true) => (to, from, Roles::SynAck),
        (false, _) => {
            if looks_like_server(seg.sport, seg.dport) {
                (to, from, Roles::Guessed)
            } else {
                (from, to, Roles::Guessed)
            }
        }
    };
    Flow {
        id,
        client,
        server,
        roles,
        instance,
        first_ts: at.ts,
        last_ts: at.ts,
        first_frame: at.frame,
        last_frame: at.frame,
        handshake: Handshake::default(),
        halves: PerSide::from_fn(|side| Half::new(side, limits.reassembly)),
        rsts: Vec::new(),
        rsts_dropped: 0,
        reset: false,
        series: Series::new(at.ts, limits.interval_ns),
        app,
    }
}

/// Ports a server listens on in this field (Glasnost's command channel, BitTorrent, the 2009
/// test's neutral ports) or below 1024.
fn is_service_port(p: u16) -> bool {
    p < 1024 || matches!(p, 19970 | 19980 | 4711 | 10009 | 6881..=6889 | 8080 | 8443)
}

/// For a mid-connection capture: does the packet's *source* look like the server?
fn looks_like_server(sport: u16, dport: u16) -> bool {
    match (is_service_port(sport), is_service_port(dport)) {
        (true, false) => true,
        (false, true) => false,
        // Neither or both: the lower port is more likely the listening one.
        _ => sport < dport,
    }
}

/// [`update`], keeping the table's count of held out-of-order bytes.
fn update_counted<S: StreamSink>(
    flow: &mut Flow<S>,
    seg: &Segment<'_>,
    at: PacketRef,
    budgets: &mut Budgets<S::Shared>,
) -> Placed {
    let held = flow.pending_bytes();
    let placed = update(flow, seg, at, held, budgets);
    budgets.pending_bytes = (budgets.pending_bytes + flow.pending_bytes()).saturating_sub(held);
    placed
}

/// `held_before` is what the flow held out of order before this segment, already counted in
/// `budgets.pending_bytes`; the caller brings the count up to date afterwards.
fn update<S: StreamSink>(
    flow: &mut Flow<S>,
    seg: &Segment<'_>,
    at: PacketRef,
    held_before: usize,
    budgets: &mut Budgets<S::Shared>,
) -> Placed {
    adopt_handshake_roles(flow, seg);
    let side = flow.side_of(seg.src, seg.sport);
    flow.last_ts = flow.last_ts.max(at.ts);
    flow.last_frame = at.frame;
    let flags = seg.flags;
    let seq = SeqNum(seg.seq);

    // Handshake bookkeeping and the sender's observed state.
    {
        let h = flow.half_mut(side);
        h.packets += 1;
        h.payload_bytes += u64::from(seg.payload_len);
        if !flags.rst() {
            h.ttl_min = h.ttl_min.min(seg.ip.ttl);
            h.ttl_max = h.ttl_max.max(seg.ip.ttl);
        }
        if flags.syn() {
            h.syns += 1;
            if h.isn.is_none() {
                h.isn = Some(seq);
                h.mss = seg.options.mss;
                h.window_scale = seg.options.window_scale;
                h.sack_permitted = seg.options.sack_permitted;
                h.timestamps = seg.options.timestamp.is_some();
                h.stream.set_origin(seq + 1);
            }
        } else if !h.stream.has_origin() && !flags.rst() {
            // First segment of a direction whose SYN was not captured.
            h.stream.set_origin(seq);
        }
        h.state = next_state(h.state, side, flags);
    }
    match (side, flags.syn(), flags.ack()) {
        (Side::Client, true, false) => {
            let tsval = seg.options.timestamp.map(|(v, _)| v);
            flow.handshake.syn_seen(at.ts, tsval);
        }
        (Side::Server, true, true) => {
            let tsecr = seg.options.timestamp.map(|(_, e)| e);
            flow.handshake.syn_ack_seen(at.ts, tsecr);
        }
        (Side::Client, false, true) if flow.handshake.syn_ack.is_some() => {
            let server_isn = flow.half(Side::Server).isn;
            if server_isn.is_some_and(|i| SeqNum(seg.ack) == i + 1) {
                flow.handshake.ack.get_or_insert(at.ts);
            }
        }
        _ => {}
    }

    if flags.rst() {
        record_rst(flow, seg, side, at);
        watch_after_rsts(flow, side, at, None, None);
        // A RST's payload is diagnostic text, not stream data (RFC 9293 section 3.5.3).
        return Placed {
            flow_id: flow.id,
            side,
            new_bytes: 0,
        };
    }

    // The acknowledgment tells the peer's stream what its receiver got.
    if flags.ack() {
        flow.halves[side.peer()].stream.acked(SeqNum(seg.ack));
    }

    let data_seq = if flags.syn() { seq + 1 } else { seq };
    let len = u64::from(seg.payload_len);
    let held_other_half = flow.half(side.peer()).stream.pending().0;
    let pushed = {
        let Flow { halves, app, .. } = flow;
        let h = &mut halves[side];
        let pushed = h
            .stream
            .push(data_seq, len, seg.payload, at, app, &mut budgets.sink);
        let mine = h.stream.pending().0;
        // The other flows' share stays as it was; this one's is what it holds now.
        let others = budgets.pending_bytes.saturating_sub(held_before);
        // All flows together hold too much out-of-order data: this one gives up its
        // gaps (declared overflow holes), as its own bound would.
        if mine > 0 && others + held_other_half + mine > budgets.pending_max {
            h.stream.give_up(at, app, &mut budgets.sink);
            budgets.pending_given_up += 1;
        }
        pushed
    };
    if pushed.new > 0 {
        flow.series
            .add(side, at.ts, pushed.new, &mut budgets.series);
        let h = flow.half_mut(side);
        h.first_data.get_or_insert(at.ts);
        h.last_data = Some(h.last_data.map_or(at.ts, |t| t.max(at.ts)));
    }
    if flags.fin() {
        let h = flow.half_mut(side);
        // The FIN's sequence number proves every byte before it was sent. Its offset is
        // known: a segment that is not a RST has set its direction's origin above.
        if let Some(end) = h.stream.offset_of(data_seq + len as u32) {
            h.stream.note_end(end);
            h.fin.get_or_insert((end.max(0) as u64, at.frame));
        }
    }
    if !flow.rsts.is_empty() {
        let end = flow
            .half(side)
            .stream
            .offset_of(data_seq + len as u32)
            .filter(|_| len > 0);
        watch_after_rsts(flow, side, at, end, Some(seg));
    }
    let facts = PacketFacts {
        new_bytes: pushed.new,
        ..PacketFacts::of(seg, at)
    };
    flow.half_mut(side).habits.observe(facts);
    Placed {
        flow_id: flow.id,
        side,
        new_bytes: pushed.new,
    }
}

/// A handshake segment arriving after the flow began (reordered on its way to the capture
/// point, or the capture caught the connection before its SYN) fixes roles that were weaker
/// than it: a SYN names the client, a SYN-ACK the server. Guessed roles always yield; roles
/// from a SYN-ACK become SYN-based when the client's SYN is its first packet.
fn adopt_handshake_roles<S: StreamSink>(flow: &mut Flow<S>, seg: &Segment<'_>) {
    if !seg.flags.syn() {
        return;
    }
    let sender = flow.side_of(seg.src, seg.sport);
    let first_packet = flow.half(sender).packets == 0;
    let (roles, sender_should_be) = match (flow.roles, seg.flags.ack(), first_packet) {
        (Roles::Guessed, false, _) => (Roles::Syn, Side::Client),
        (Roles::Guessed, true, _) => (Roles::SynAck, Side::Server),
        (Roles::SynAck, false, true) => (Roles::Syn, Side::Client),
        (Roles::SynAck, false, false) | (Roles::SynAck, true, _) | (Roles::Syn, _, _) => return,
    };
    if sender != sender_should_be {
        flow.swap_roles();
    }
    flow.roles = roles;
}

/// The sender's observed state after sending a segment with `flags`.
fn next_state(state: HalfState, side: Side, flags: TcpFlags) -> HalfState {
    use HalfState::*;
    match (state, flags.rst(), flags.fin(), flags.syn(), side) {
        // A RST ends the sender's half whatever came before (RFC 9293 section 3.10.7).
        (_, true, _, _, _) => Reset,
        // Once reset or finished, later segments (retransmissions, injected data) do not
        // reopen the half; forensics looks at them separately.
        (Reset, false, _, _, _) => Reset,
        (FinSent, false, _, _, _) => FinSent,
        // A FIN closes the sender's half (RFC 9293 section 3.6).
        (_, false, true, _, _) => FinSent,
        // SYN from the client, SYN-ACK (or simultaneous-open SYN) from the server.
        (Silent | SynSent, false, false, true, Side::Client) => SynSent,
        (Silent | SynAckSent, false, false, true, Side::Server) => SynAckSent,
        // A SYN after the handshake (retransmitted or answered late) changes nothing.
        (Open, false, false, true, _) => Open,
        (SynSent, false, false, true, Side::Server)
        | (SynAckSent, false, false, true, Side::Client) => state,
        // Any other segment: the half is open (data, ACKs, keep-alives).
        (Silent | SynSent | SynAckSent | Open, false, false, false, _) => Open,
    }
}

fn record_rst<S>(flow: &mut Flow<S>, seg: &Segment<'_>, side: Side, at: PacketRef) {
    let both_fins = flow.half(Side::Client).fin.is_some() && flow.half(Side::Server).fin.is_some();
    if !both_fins {
        flow.reset = true;
    }
    let offset = flow.half(side).stream.offset_of(SeqNum(seg.seq));
    flow.half_mut(side).rsts += 1;
    if flow.rsts.len() >= MAX_RSTS {
        flow.rsts_dropped += 1;
        return;
    }
    let (s, r) = (flow.half(side), flow.half(side.peer()));
    let context = RstContext {
        sender_ttl: s.habits.ttl_mode(),
        sender_ip_id: s.habits.ip_id_run(),
        sender_end: s.stream.end_seen(),
        sender_fin: s.fin.is_some(),
        sender_max_ack: s.habits.max_ack.and_then(|a| r.stream.offset_of(a)),
        sender_max_ack_seq: s.habits.max_ack,
        receiver_max_ack: r.habits.max_ack.and_then(|a| s.stream.offset_of(a)),
        receiver_end: r.stream.end_seen(),
        receiver_fin: r.fin.is_some(),
        receiver_window: r.scaled_window(s),
        trigger: r.habits.last,
        sender_last: s.habits.last,
        receiver_acks: r.habits.recent_acks().collect(),
        ack_offset: seg
            .flags
            .ack()
            .then(|| r.stream.offset_of(SeqNum(seg.ack)))
            .flatten(),
        sender_bytes: s.stats().unique,
        receiver_bytes: r.stats().unique,
    };
    flow.rsts.push(RstRecord {
        frame: at.frame,
        ts: at.ts,
        from: side,
        seq: seg.seq,
        ack: seg.flags.ack().then_some(seg.ack),
        flags: seg.flags,
        ttl: seg.ip.ttl,
        ip_id: seg.ip.id,
        window: seg.window,
        options: seg.options.present,
        payload_len: seg.payload_len,
        offset,
        context: Box::new(context),
        after: AfterRst::default(),
    });
}

/// Tells each earlier RST (within the watch horizon) about a packet from `side`; `end` is the
/// stream offset its data reaches, for data packets. RSTs count only as RSTs, not here.
fn watch_after_rsts<S>(
    flow: &mut Flow<S>,
    side: Side,
    at: PacketRef,
    end: Option<i64>,
    seg: Option<&Segment<'_>>,
) {
    let syn = seg.is_some_and(|s| s.flags.syn());
    let ack = seg.filter(|s| s.flags.ack()).map(|s| SeqNum(s.ack));
    let facts = seg.map(|s| PacketFacts::of(s, at));
    let is_rst = flow.rsts.last().is_some_and(|r| r.frame == at.frame);
    for r in flow.rsts.iter_mut().rev() {
        if r.frame >= at.frame {
            continue;
        }
        if at.ts.nanos_since(r.ts) > AFTER_HORIZON_NS {
            break;
        }
        if is_rst {
            continue;
        }
        let a = &mut r.after;
        if side == r.from {
            a.sender_packets += 1;
            let copy = |p: &PacketFacts, q: &PacketFacts| {
                (p.seq, p.ack, p.flags, p.payload_len, p.ip_id, p.window)
                    == (q.seq, q.ack, q.flags, q.payload_len, q.ip_id, q.window)
            };
            if a.sender_first.is_none() {
                a.sender_first = facts.filter(|f| {
                    r.context
                        .sender_last
                        .as_ref()
                        .is_none_or(|last| !copy(f, last))
                });
            }
            let beyond = (r.context.sender_end as i64).max(r.offset.unwrap_or(i64::MIN));
            if end.is_some_and(|e| e > beyond) {
                a.sender_beyond.get_or_insert(at);
            }
            if syn {
                a.sender_syn.get_or_insert(at);
            }
            let before = r.context.sender_max_ack_seq;
            if at.ts > r.ts && ack.zip(before).is_some_and(|(a, b)| a.is_after(b)) {
                a.sender_ack_progress.get_or_insert(at);
            }
        } else {
            a.receiver_packets += 1;
            if a.receiver_first.is_none() {
                a.receiver_first = facts;
            }
            if end.is_some_and(|e| e > r.context.receiver_end as i64) {
                a.receiver_beyond.get_or_insert(at);
            }
        }
    }
}

fn finish_flow<S: StreamSink>(flow: &mut Flow<S>, at: PacketRef, shared: &mut S::Shared) {
    let Flow { halves, app, .. } = flow;
    for h in halves.iter_mut() {
        h.stream.flush(at, app, shared);
    }
    app.finish(shared);
}

#[cfg(test)]
mod tests;
