//! Reset forensics: every RST judged `forged`, `endpoint` or `inconclusive`, with the
//! evidence a skeptic can check in Wireshark.
//!
//! Layer: finished [`Flow`]s (with the context the flow table snapshotted at each RST and what
//! both ends did afterwards) in; one [`Finding`] per RST out.
//!
//! # Vantage
//! A capture is taken at one point. Packets the capturing host sent itself carry the TTL its
//! stack starts with (32, 64, 128 or 255) and leave at once; packets from the far end crossed
//! hops. Per flow bttrace looks for the side whose non-RST packets all carry an initial TTL
//! while the other side's do not, then at the handshake (the capture point answers or hears
//! the answer at once); across the capture, the host that is the vantage in most flows is
//! taken as the capturing host for the rest. The user can state it (`--vantage`).
//!
//! A RST that the capturing host sent itself is `endpoint`: a middlebox forging that host's
//! address sends its packets away from it, never past its own capture point.
//!
//! # Evidence
//! Each piece of evidence is an [`Evidence`]: an [`EvidenceKind`] (its stable code and the
//! strengths it can have come from one table), the strength the rule gave it and a sentence.
//! Each rule is a function over an [`RstView`] (the RST and its flow context), called in a
//! fixed order from one list ([`evidence`]); [`combine`] turns the evidence into the verdict.
//! Against the claimed sender (the RST was forged):
//! - strong: `ttl_above_path` at an initial TTL (the RST arrives with more TTL left than every
//!   packet of the claimed sender seen at this vantage, at 32, 64, 128 or 255: it crossed no
//!   router while the sender's packets crossed at least one; see [`ttl_evidence`]),
//!   `data_after_rst` (the sender sent bytes beyond its RST's sequence number and
//!   beyond anything it had sent: its stack never reset), `rst_burst_rising_seq` (several RSTs
//!   from one sender within 2 s with rising sequence numbers beyond anything it sent),
//!   `ack_of_unsent_data` at the receiver's own capture point, `faster_than_rtt` (a RST that
//!   answers the receiver's packet arrives sooner than half the round trip after it);
//! - medium: `ack_of_unsent_data` elsewhere (capture loss could hide bytes), `ack_moved_backwards`,
//!   `seq_not_reply` (a RST without ACK whose sequence number is none of the acknowledgments it
//!   could be answering), `seq_out_of_window`, `challenge_ack` (the receiver answered with an
//!   ACK, RFC 5961: the RST was in the window but not exact), `sender_alive_after_rst` (the
//!   claimed sender sent any other packet more than 1 ms after its RST, not a copy of its last
//!   one), `rst_after_close` (both ends' FINs sent and acknowledged and nothing from the
//!   receiver to answer: the sender was in TIME-WAIT or CLOSED), `connection_continues` (the
//!   receiver kept sending new data), `ttl_above_path` short of an initial TTL (a shorter
//!   route could explain it), `ttl_departure` (more than one hop less TTL left than the
//!   sender's usual one), `rst_both_directions` (seen from the middle, both ends "reset" within
//!   10 ms);
//! - weak: `ip_id_break` (the IPv4 ID breaks a sender whose IDs otherwise rise in small steps;
//!   an ID of 0, what Linux puts in its reply resets, never counts);
//! - context: `bt_after_handshake` / `bt_after_bitfield` (within a second of the BitTorrent
//!   exchange, before any piece data) and `control_flows_survived` (a random-payload control
//!   flow between the same hosts was not reset).
//!
//! For the claimed sender (an endpoint sent it): `sent_by_capture_host`, `ttl_consistent`,
//! `ip_id_in_sequence`, `seq_exact` (the sequence number is the sender's next, or the
//! acknowledgment it answers). Informational: `repeated_rst`, `no_baseline`.
//!
//! # The rule
//! 1. sent by the capturing host: `endpoint`;
//! 2. any strong evidence, two medium of different kinds, or one medium with both context
//!    signals: `forged`;
//! 3. one medium, or at least two weak/context signals: `inconclusive` (suspicious, unproven);
//! 4. otherwise, with endpoint evidence (consistent TTL, IP ID in sequence, exact sequence
//!    number): `endpoint`;
//! 5. otherwise `inconclusive`.
//!
//! It leans to `inconclusive` over a false `forged`. A Linux reset for a closed socket has
//! window 0 and no TCP options: neither is ever evidence. Retransmitted RSTs repeat their
//! sequence number and are not a burst. Capture loss can hide a sender's data, so the
//! acknowledgment checks are medium unless the capture was taken at the receiver. A 4-tuple
//! reused by a new connection starts a new flow, so its packets never count as "after" an
//! old connection's RST.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod compare;

use std::net::IpAddr;

use serde::Serialize;

use crate::btparse::{FlowDecoder, Kind, MsgKind};
use crate::capture::Timestamp;
use crate::flows::{Close, Flow, RstRecord, Side};

/// Where a capture was taken, for one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Vantage {
    Client,
    Server,
    /// Between the ends (a tap or a router): both sides' packets crossed hops.
    Middle,
    Unknown,
}

impl Vantage {
    pub fn code(self) -> &'static str {
        match self {
            Vantage::Client => "client",
            Vantage::Server => "server",
            Vantage::Middle => "middle",
            Vantage::Unknown => "unknown",
        }
    }

    fn side(self) -> Option<Side> {
        match self {
            Vantage::Client => Some(Side::Client),
            Vantage::Server => Some(Side::Server),
            Vantage::Middle | Vantage::Unknown => None,
        }
    }
}

/// What the user says about the vantage (`--vantage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VantageSetting {
    #[default]
    Auto,
    Client,
    Server,
    /// The capturing host's address.
    Host(IpAddr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// Points to the claimed sender.
    #[serde(rename = "endpoint")]
    ForEndpoint,
    Info,
    Context,
    Weak,
    Medium,
    Strong,
}

impl Strength {
    pub fn code(self) -> &'static str {
        match self {
            Strength::ForEndpoint => "endpoint",
            Strength::Info => "info",
            Strength::Context => "context",
            Strength::Weak => "weak",
            Strength::Medium => "medium",
            Strength::Strong => "strong",
        }
    }
}

impl std::fmt::Display for Strength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Declares [`EvidenceKind`], its [`EvidenceKind::ALL`] list and its code and strengths from
/// one table, so that a kind cannot be missing from the list or lack a code.
macro_rules! evidence_kinds {
    ($($kind:ident => $code:literal, [$($strength:ident),+];)+) => {
        /// Every kind of evidence a RST can get. Serialized as its code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum EvidenceKind {
            $($kind,)+
        }

        impl EvidenceKind {
            /// Every kind, in the order the rules can give them.
            pub const ALL: &'static [EvidenceKind] = &[$(EvidenceKind::$kind,)+];

            /// The code and the strengths a kind can have: the first when the rule is sure,
            /// the second (for the kinds that have one) when something short of proof could
            /// explain it.
            fn spec(self) -> (&'static str, &'static [Strength]) {
                match self {
                    $(EvidenceKind::$kind => ($code, &[$(Strength::$strength),+]),)+
                }
            }
        }
    };
}

// The evidence kinds: code, and strength(s). `ack_of_unsent_data` is strong at the receiver's
// capture point, else medium (capture loss could hide bytes); `ttl_above_path` strong at an
// initial TTL against three or more packets, else medium. The README's table lists the same
// (a test checks it).
evidence_kinds! {
    SentByCaptureHost => "sent_by_capture_host", [ForEndpoint];
    DataAfterRst => "data_after_rst", [Strong];
    AckAfterRst => "ack_after_rst", [Strong];
    HandshakeAfterRst => "handshake_after_rst", [Medium];
    SenderAliveAfterRst => "sender_alive_after_rst", [Medium];
    RstAfterClose => "rst_after_close", [Medium];
    RstBurstRisingSeq => "rst_burst_rising_seq", [Strong];
    AckOfUnsentData => "ack_of_unsent_data", [Strong, Medium];
    AckMovedBackwards => "ack_moved_backwards", [Medium];
    Refusal => "refusal", [ForEndpoint];
    SeqBehindSent => "seq_behind_sent", [Medium];
    SeqExact => "seq_exact", [ForEndpoint];
    SeqNotReply => "seq_not_reply", [Medium];
    SeqOutOfWindow => "seq_out_of_window", [Medium];
    ConnectionContinues => "connection_continues", [Medium];
    ChallengeAck => "challenge_ack", [Medium];
    NoBaseline => "no_baseline", [Info];
    TtlOtherStack => "ttl_other_stack", [Strong];
    TtlAbovePath => "ttl_above_path", [Strong, Medium];
    TtlDeparture => "ttl_departure", [Medium];
    TtlConsistent => "ttl_consistent", [ForEndpoint];
    IpIdInSequence => "ip_id_in_sequence", [ForEndpoint];
    IpIdBreak => "ip_id_break", [Weak];
    FasterThanRtt => "faster_than_rtt", [Strong];
    RstBothDirections => "rst_both_directions", [Medium];
    BtAfterBitfield => "bt_after_bitfield", [Context];
    BtAfterHandshake => "bt_after_handshake", [Context];
    ControlFlowsSurvived => "control_flows_survived", [Context];
    RepeatedRst => "repeated_rst", [Info];
}

impl EvidenceKind {
    /// The stable code, as the reports and the README show it.
    pub fn code(self) -> &'static str {
        self.spec().0
    }

    /// The strengths this kind can have, the one it has when the rule is sure first.
    pub fn strengths(self) -> &'static [Strength] {
        self.spec().1
    }

    /// The strength when the rule is sure (`sure`), else the weaker one the kind has (the
    /// same for kinds with only one).
    fn strength(self, sure: bool) -> Strength {
        let s = self.strengths();
        let pick = if sure { s.first() } else { s.last() };
        pick.copied().unwrap_or(Strength::Info)
    }
}

impl EvidenceKind {
    /// The codes of `kinds`, joined by `sep`.
    pub fn join(kinds: &[EvidenceKind], sep: &str) -> String {
        let codes: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
        codes.join(sep)
    }
}

impl std::fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One fact about a RST: its kind, the strength the rule gave it (always one of the kind's
/// [`EvidenceKind::strengths`]) and a sentence a reader can check.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub strength: Strength,
    pub text: String,
}

impl Evidence {
    /// Evidence of a kind at its (first) strength.
    fn new(kind: EvidenceKind, text: String) -> Evidence {
        Evidence::graded(kind, true, text)
    }

    /// Evidence of a kind that can be strong or weaker: sure, or short of proof.
    fn graded(kind: EvidenceKind, sure: bool, text: String) -> Evidence {
        Evidence {
            kind,
            strength: kind.strength(sure),
            text,
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Forged,
    Endpoint,
    Inconclusive,
}

impl Verdict {
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Forged => "forged",
            Verdict::Endpoint => "endpoint",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The judgement of one RST.
#[derive(Debug, Clone)]
pub struct Finding {
    pub frame: u64,
    pub verdict: Verdict,
    pub vantage: Vantage,
    pub evidence: Vec<Evidence>,
}

/// TTLs stacks start with.
const INITIAL_TTLS: [u8; 4] = [32, 64, 128, 255];

/// Detects the vantage of one flow from its packets alone.
pub fn flow_vantage<S>(f: &Flow<S>) -> Vantage {
    match (ttl_local(f, Side::Client), ttl_local(f, Side::Server)) {
        (true, false) => return Vantage::Client,
        (false, true) => return Vantage::Server,
        _ => {}
    }
    let hs = f.handshake;
    if let (Some(syn), Some(syn_ack), Some(ack)) = (hs.syn, hs.syn_ack, hs.ack) {
        let (a, b) = (syn_ack.nanos_since(syn), ack.nanos_since(syn_ack));
        if a >= 0 && b >= 0 {
            if a.saturating_mul(10) < b {
                return Vantage::Server;
            }
            if b.saturating_mul(10) < a {
                return Vantage::Client;
            }
            return Vantage::Middle;
        }
    }
    Vantage::Unknown
}

/// Whether a side's own (non-RST) packets all carry one TTL a stack starts with: what the
/// capturing host's packets look like at its own capture point.
fn ttl_local<S>(f: &Flow<S>, side: Side) -> bool {
    let h = f.half(side);
    h.packets > u64::from(h.rsts) && h.ttl_min == h.ttl_max && INITIAL_TTLS.contains(&h.ttl_max)
}

/// What a side's TTLs look like, in words: "TTL 64" or "TTL 52 to 57".
fn ttl_words<S>(f: &Flow<S>, side: Side) -> String {
    let h = f.half(side);
    if h.ttl_min == h.ttl_max {
        format!("TTL {}", h.ttl_max)
    } else {
        format!("TTL {} to {}", h.ttl_min, h.ttl_max)
    }
}

/// Checks a stated vantage (`--vantage`) against the capture.
///
/// `Err` when the setting names an address that no connection of the capture has (the
/// capture is refused: its verdicts would rest on a host that is not there). `Ok(Some(note))`
/// when the TTLs contradict it in some flows: the side stated as the capturing host shows
/// packets that crossed hops (a TTL below what stacks start with, or varying) while the other
/// side's all carry one initial TTL, as the capturing host's own packets do. The stated
/// vantage is still used; the note names the evidence.
pub fn check_vantage<S>(
    flows: &[&Flow<S>],
    setting: VantageSetting,
) -> Result<Option<String>, String> {
    let stated = |f: &Flow<S>| match setting {
        VantageSetting::Auto => None,
        VantageSetting::Client => Some(Side::Client),
        VantageSetting::Server => Some(Side::Server),
        VantageSetting::Host(ip) if f.client.ip() == ip => Some(Side::Client),
        VantageSetting::Host(ip) if f.server.ip() == ip => Some(Side::Server),
        VantageSetting::Host(_) => None,
    };
    if let VantageSetting::Host(ip) = setting {
        if !flows.is_empty() && !flows.iter().any(|f| stated(f).is_some()) {
            let mut hosts: Vec<IpAddr> = Vec::new();
            for f in flows {
                for h in [f.client.ip(), f.server.ip()] {
                    if !hosts.contains(&h) && hosts.len() < 6 {
                        hosts.push(h);
                    }
                }
            }
            let listed: Vec<String> = hosts.iter().take(5).map(IpAddr::to_string).collect();
            let more = if hosts.len() > 5 { ", ..." } else { "" };
            return Err(format!(
                "--vantage {ip}: no connection of this capture has that address (its hosts: \
                 {}{more}); name one of them, or client, server or auto",
                listed.join(", ")
            ));
        }
    }
    let (mut checked, mut against) = (0usize, 0usize);
    let mut example: Option<String> = None;
    let mut looks_at: Vec<((Side, IpAddr), usize)> = Vec::new();
    for f in flows {
        let Some(side) = stated(f) else { continue };
        let (here, there) = (ttl_local(f, side), ttl_local(f, side.peer()));
        if here == there {
            continue;
        }
        checked += 1;
        if here {
            continue;
        }
        against += 1;
        let peer = side.peer();
        let peer_ip = match peer {
            Side::Client => f.client.ip(),
            Side::Server => f.server.ip(),
        };
        match looks_at.iter_mut().find(|(h, _)| *h == (peer, peer_ip)) {
            Some((_, n)) => *n += 1,
            None => looks_at.push(((peer, peer_ip), 1)),
        }
        if example.is_none() {
            example = Some(format!(
                "in flow {} the {}'s packets arrive with {} (they crossed hops) while the {}'s \
                 all carry {}, a TTL stacks start with, as the capturing host's own packets do",
                f.id,
                side.name(),
                ttl_words(f, side),
                peer.name(),
                ttl_words(f, peer),
            ));
        }
    }
    if against == 0 {
        return Ok(None);
    }
    looks_at.sort_by_key(|v| std::cmp::Reverse(v.1));
    let host = looks_at
        .first()
        .map(|((side, ip), _)| format!("the {} ({ip})", side.name()))
        .unwrap_or_default();
    let what = match setting {
        VantageSetting::Client => "client".to_string(),
        VantageSetting::Server => "server".to_string(),
        VantageSetting::Host(ip) => ip.to_string(),
        VantageSetting::Auto => "auto".to_string(),
    };
    Ok(Some(format!(
        "--vantage {what} is contradicted by the TTLs in {against} of the {checked} flows they \
         decide: {}; the capture looks taken at {host}. Resets were judged with \
         the stated vantage (a reset from the stated capturing host counts as `endpoint`); \
         --vantage auto decides from this evidence",
        example.unwrap_or_default()
    )))
}

/// Decides every flow's vantage: the user's setting, else the flow's own signs, else the
/// capture's majority capturing host when the flow involves it.
pub fn vantages<S>(flows: &[&Flow<S>], setting: VantageSetting) -> Vec<Vantage> {
    let own: Vec<Vantage> = flows.iter().map(|f| flow_vantage(f)).collect();
    let host_of = |f: &Flow<S>, v: Vantage| match v {
        Vantage::Client => Some(f.client.ip()),
        Vantage::Server => Some(f.server.ip()),
        _ => None,
    };
    let majority = match setting {
        VantageSetting::Host(ip) => Some(ip),
        _ => {
            let mut votes: Vec<(IpAddr, usize)> = Vec::new();
            for (f, v) in flows.iter().zip(&own) {
                if let Some(ip) = host_of(f, *v) {
                    match votes.iter_mut().find(|(h, _)| *h == ip) {
                        Some((_, n)) => *n += 1,
                        None => votes.push((ip, 1)),
                    }
                }
            }
            votes.sort_by_key(|v| std::cmp::Reverse(v.1));
            votes.first().map(|(ip, _)| *ip)
        }
    };
    flows
        .iter()
        .zip(own)
        .map(|(f, v)| match setting {
            VantageSetting::Client => Vantage::Client,
            VantageSetting::Server => Vantage::Server,
            VantageSetting::Host(ip) if f.client.ip() == ip => Vantage::Client,
            VantageSetting::Host(ip) if f.server.ip() == ip => Vantage::Server,
            VantageSetting::Host(_) => Vantage::Middle,
            VantageSetting::Auto => match (v, majority) {
                (Vantage::Client | Vantage::Server, _) => v,
                (_, Some(ip)) if f.client.ip() == ip => Vantage::Client,
                (_, Some(ip)) if f.server.ip() == ip => Vantage::Server,
                _ => v,
            },
        })
        .collect()
}

/// What the rest of the capture says about a flow: control flows between the same hosts.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaptureContext {
    /// A control flow between the same two hosts that was not reset.
    pub control_survived: bool,
}

/// For each flow, whether a control flow between the same hosts survived.
pub fn capture_contexts(flows: &[&Flow<FlowDecoder>]) -> Vec<CaptureContext> {
    let survivors: rustc_hash::FxHashSet<(IpAddr, IpAddr)> = flows
        .iter()
        .filter(|g| g.app.kind() == Kind::Control && g.close() != Close::Rst)
        .map(|g| (g.client.ip(), g.server.ip()))
        .collect();
    flows
        .iter()
        .map(|f| CaptureContext {
            control_survived: survivors.contains(&(f.client.ip(), f.server.ip())),
        })
        .collect()
}

const BURST_WINDOW_NS: i64 = 2_000_000_000;
/// A packet sent before a RST and reordered behind it arrives within this much of it.
const REORDER_NS: i64 = 1_000_000;
/// Bytes of the BitTorrent emulation's set-up exchange, each way, at most.
const SETUP_BYTES: u64 = 512;
const BOTH_WAYS_NS: i64 = 10_000_000;
const BT_RECENT_NS: i64 = 1_000_000_000;
/// Below this round trip, "faster than half of it" is within timing noise.
const MIN_RTT_FOR_TIMING_NS: i64 = 2_000_000;

/// Judges every RST of a flow.
pub fn judge_flow(f: &Flow<FlowDecoder>, vantage: Vantage, ctx: CaptureContext) -> Vec<Finding> {
    f.rsts
        .iter()
        .map(|r| {
            let view = RstView::of(f, r, vantage, ctx);
            let evidence = evidence(&view);
            Finding {
                frame: r.frame,
                verdict: combine(&evidence),
                vantage,
                evidence,
            }
        })
        .collect()
}

/// What the rules see of one RST: the RST itself (with what the flow table knew when it came,
/// [`RstRecord::context`], and what both ends did afterwards, [`RstRecord::after`]) and the
/// little of its flow and capture they need. Built from a flow by [`RstView::of`]; tests build
/// it field by field.
#[derive(Debug, Clone, Copy)]
pub struct RstView<'a> {
    pub rst: &'a RstRecord,
    /// Every RST of the flow, this one included.
    pub rsts: &'a [RstRecord],
    pub vantage: Vantage,
    /// A random-payload control flow between the same hosts was not reset.
    pub control_survived: bool,
    /// Stream offset and frame of the claimed sender's first FIN, and of the receiver's.
    pub sender_fin: Option<(u64, u64)>,
    pub receiver_fin: Option<(u64, u64)>,
    /// The highest TTL any of the claimed sender's non-RST packets in the flow carried.
    pub sender_ttl_max: u8,
    /// Every packet the server sent in the flow was a RST.
    pub server_sent_only_rsts: bool,
    /// The handshake's round trip (SYN to the client's ACK), and the one the capture point
    /// sees (its own packet to the far end's answer), nanoseconds.
    pub rtt_ns: Option<i64>,
    pub capture_point_rtt_ns: Option<i64>,
    /// The latest BitTorrent exchange step before the RST, when no piece data came first.
    pub bt: Option<BtExchange>,
}

/// The BitTorrent exchange before a RST: its latest step (bitfield, else handshake) and how
/// long before the RST it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtExchange {
    pub bitfield: bool,
    pub gap_ns: i64,
}

impl<'a> RstView<'a> {
    pub fn of(
        f: &'a Flow<FlowDecoder>,
        r: &'a RstRecord,
        vantage: Vantage,
        ctx: CaptureContext,
    ) -> RstView<'a> {
        let server = f.half(Side::Server);
        RstView {
            rst: r,
            rsts: &f.rsts,
            vantage,
            control_survived: ctx.control_survived,
            sender_fin: f.half(r.from).fin,
            receiver_fin: f.half(r.from.peer()).fin,
            sender_ttl_max: f.half(r.from).ttl_max,
            server_sent_only_rsts: server.packets == u64::from(server.rsts),
            rtt_ns: f.handshake.rtt_ns(),
            capture_point_rtt_ns: capture_point_rtt(f, vantage),
            bt: bt_exchange(f, r.ts),
        }
    }

    fn name(&self) -> &'static str {
        self.rst.from.name()
    }

    fn peer(&self) -> &'static str {
        self.rst.from.peer().name()
    }

    /// The capture was taken at the RST's receiver.
    fn at_receiver(&self) -> bool {
        self.vantage.side() == Some(self.rst.from.peer())
    }

    /// The RST's sequence number is its sender's next one.
    fn seq_exact(&self) -> bool {
        let (r, c) = (self.rst, &self.rst.context);
        r.offset == Some(c.sender_end as i64 + i64::from(c.sender_fin))
            || r.offset == Some(c.sender_end as i64)
    }

    /// A RST without ACK whose sequence number is an acknowledgment the receiver sent: a
    /// reply (only a RST without ACK copies an acknowledgment into its sequence number, RFC
    /// 9293 section 3.10.7.1; a RST+ACK carries its sender's next sequence number).
    fn seq_reply(&self) -> bool {
        !self.rst.flags.ack() && self.rst.context.receiver_acks.contains(&self.rst.seq)
    }
}

/// A rule: one kind of evidence (or one of a few exclusive kinds) about a RST, or none.
type Rule = fn(&RstView<'_>) -> Option<Evidence>;

/// The rules, in the order their evidence is listed.
const RULES: &[Rule] = &[
    data_after_rst,
    ack_after_rst,
    handshake_after_rst,
    sender_alive_after_rst,
    rst_after_close,
    rst_burst_rising_seq,
    ack_of_unsent_data,
    ack_moved_backwards,
    refusal,
    seq_behind_sent,
    seq_exact,
    seq_not_reply,
    seq_out_of_window,
    connection_continues,
    challenge_ack,
    ttl_rule,
    ip_id_rule,
    faster_than_rtt,
    rst_both_directions,
    bt_timing,
    control_flows_survived,
    repeated_rst,
];

/// All the evidence about one RST. A RST the capturing host sent itself gets only
/// `sent_by_capture_host`: a middlebox forging that host's address sends its packets away
/// from it, never past its own capture point.
pub fn evidence(v: &RstView<'_>) -> Vec<Evidence> {
    if let Some(e) = sent_by_capture_host(v) {
        return vec![e];
    }
    RULES.iter().filter_map(|rule| rule(v)).collect()
}

/// `sent_by_capture_host` (for the endpoint).
pub fn sent_by_capture_host(v: &RstView<'_>) -> Option<Evidence> {
    (v.vantage.side() == Some(v.rst.from)).then(|| {
        Evidence::new(
            EvidenceKind::SentByCaptureHost,
            format!(
                "the {} is the capturing host: its own packets cannot be forged at its own capture point",
                v.name()
            ),
        )
    })
}

/// `data_after_rst` (strong): the sender's stack kept going, sending bytes beyond its RST.
pub fn data_after_rst(v: &RstView<'_>) -> Option<Evidence> {
    let p = v.rst.after.sender_beyond?;
    Some(Evidence::new(
        EvidenceKind::DataAfterRst,
        format!(
            "the {} sent new data after this RST (frame {}, {:.3} s later), beyond its RST's sequence number",
            v.name(),
            p.frame,
            secs(p.ts, v.rst.ts)
        ),
    ))
}

/// `ack_after_rst` (strong): the sender acknowledged new data after its RST.
pub fn ack_after_rst(v: &RstView<'_>) -> Option<Evidence> {
    let p = v.rst.after.sender_ack_progress?;
    Some(Evidence::new(
        EvidenceKind::AckAfterRst,
        format!(
            "the {} acknowledged new data after this RST (frame {}, {:.3} s later): its connection was still alive",
            v.name(),
            p.frame,
            secs(p.ts, v.rst.ts)
        ),
    ))
}

/// `handshake_after_rst` (medium): the sender sent a SYN (SYN-ACK) after its RST.
pub fn handshake_after_rst(v: &RstView<'_>) -> Option<Evidence> {
    let p = v.rst.after.sender_syn?;
    Some(Evidence::new(
        EvidenceKind::HandshakeAfterRst,
        format!(
            "the {} sent a SYN after this RST (frame {}): its stack was still accepting the connection",
            v.name(),
            p.frame
        ),
    ))
}

/// `sender_alive_after_rst` (medium): any other packet from the claimed sender, well after its
/// RST, when no stronger sign of life was found. A stack that reset the connection has nothing
/// left to send on it (a packet already in flight could be reordered behind the RST by a few
/// hundred microseconds, not more).
pub fn sender_alive_after_rst(v: &RstView<'_>) -> Option<Evidence> {
    let (r, a) = (v.rst, &v.rst.after);
    let p = a.sender_first.filter(|p| {
        p.ts.nanos_since(r.ts) >= REORDER_NS
            && a.sender_beyond.is_none()
            && a.sender_ack_progress.is_none()
            && a.sender_syn.is_none()
    })?;
    Some(Evidence::new(
        EvidenceKind::SenderAliveAfterRst,
        format!(
            "the {} sent another packet after this RST (frame {}, {:.3} s later, flags {}, seq {}): a stack that reset has no connection left to send on",
            v.name(),
            p.frame,
            secs(p.ts, r.ts),
            p.flags,
            p.seq
        ),
    ))
}

/// `rst_after_close` (medium): both ends had closed (each FIN sent and acknowledged by the
/// other) and the receiver sent nothing after the claimed sender's last packet. The sender is
/// then in TIME-WAIT or CLOSED, where a stack only answers segments (RFC 9293 section 3.10.7.4;
/// Linux's TIME-WAIT the same) and has no connection left to abort. Medium: a capture that lost
/// the receiver's last packet would hide what the RST answered.
pub fn rst_after_close(v: &RstView<'_>) -> Option<Evidence> {
    let (r, c) = (v.rst, &v.rst.context);
    let (s_fin, s_frame) = v.sender_fin?;
    let (r_fin, r_frame) = v.receiver_fin?;
    let fins_acked = s_frame < r.frame
        && r_frame < r.frame
        && c.receiver_max_ack.is_some_and(|a| a > s_fin as i64)
        && c.sender_max_ack.is_some_and(|a| a > r_fin as i64);
    let last = c.sender_last?;
    let silent = c.trigger.is_none_or(|t| t.frame < last.frame);
    (fins_acked && silent).then(|| {
        Evidence::new(
            EvidenceKind::RstAfterClose,
            format!(
                "both ends had closed (the {name}'s FIN in frame {s_frame} and the {peer}'s in frame {r_frame} acknowledged) and the {peer} sent nothing after the {name}'s last packet (frame {}) for it to answer: a closed connection sends no reset of its own",
                last.frame,
                name = v.name(),
                peer = v.peer(),
            ),
        )
    })
}

/// `rst_burst_rising_seq` (strong): several RSTs from one sender within 2 s with rising
/// sequence numbers beyond anything it sent. Retransmissions repeat theirs and are no burst.
pub fn rst_burst_rising_seq(v: &RstView<'_>) -> Option<Evidence> {
    let r = v.rst;
    let sent = r.context.sender_end as i64;
    let mut group: Vec<&RstRecord> = v
        .rsts
        .iter()
        .filter(|o| o.from == r.from && o.ts.nanos_since(r.ts).abs() <= BURST_WINDOW_NS)
        .collect();
    group.sort_by_key(|o| (o.ts, o.frame));
    let mut distinct: Vec<i64> = group.iter().filter_map(|o| o.offset).collect();
    distinct.dedup();
    let rising = distinct.len() >= 2 && distinct.windows(2).all(|w| matches!(w, [a, b] if a < b));
    let beyond = distinct.iter().any(|&o| o > sent + 1);
    (rising && beyond).then(|| {
        Evidence::new(
            EvidenceKind::RstBurstRisingSeq,
            format!(
                "{} RSTs from the {} within 2 s with rising sequence numbers, beyond anything it sent",
                group.len(),
                v.name()
            ),
        )
    })
}

/// `ack_of_unsent_data`: strong at the receiver's own capture point, else medium (capture loss
/// could hide bytes).
pub fn ack_of_unsent_data(v: &RstView<'_>) -> Option<Evidence> {
    let c = &v.rst.context;
    let a = c.ack_offset?;
    let sent = c.receiver_end as i64 + i64::from(c.receiver_fin);
    let at_receiver = v.at_receiver();
    (a > sent).then(|| {
        Evidence::graded(
            EvidenceKind::AckOfUnsentData,
            at_receiver,
            format!(
                "it acknowledges {} bytes the {} never sent (ack {} vs {} sent){}",
                a - sent,
                v.peer(),
                v.rst.ack.unwrap_or(0),
                sent,
                if at_receiver {
                    ""
                } else {
                    ", unless the capture lost them"
                }
            ),
        )
    })
}

/// `ack_moved_backwards` (medium): its acknowledgment is behind one the sender already sent.
pub fn ack_moved_backwards(v: &RstView<'_>) -> Option<Evidence> {
    let c = &v.rst.context;
    let (a, m) = (c.ack_offset?, c.sender_max_ack?);
    (a < m).then(|| {
        Evidence::new(
            EvidenceKind::AckMovedBackwards,
            format!(
                "its acknowledgment is {} bytes behind one the {} had already sent",
                m - a,
                v.name()
            ),
        )
    })
}

/// `refusal` (for the endpoint): a refused connection, the server's only answer to a SYN a
/// RST+ACK acknowledging it.
pub fn refusal(v: &RstView<'_>) -> Option<Evidence> {
    let c = &v.rst.context;
    let refused = v.rst.from == Side::Server
        && v.server_sent_only_rsts
        && c.receiver_end == 0
        && c.ack_offset == Some(0)
        && c.trigger.is_some_and(|t| t.flags.syn());
    refused.then(|| {
        Evidence::new(
            EvidenceKind::Refusal,
            "a RST+ACK acknowledging the SYN, the server's only answer: a refused connection"
                .to_string(),
        )
    })
}

/// `seq_behind_sent` (medium): a RST+ACK carries its sender's next sequence number; this one
/// is behind data the sender had already sent.
pub fn seq_behind_sent(v: &RstView<'_>) -> Option<Evidence> {
    let (r, c) = (v.rst, &v.rst.context);
    let off = r
        .offset
        .filter(|_| r.flags.ack() && !v.seq_exact() && !v.seq_reply())?;
    (off < c.sender_end as i64).then(|| {
        Evidence::new(
            EvidenceKind::SeqBehindSent,
            format!(
                "a RST+ACK carries its sender's next sequence number, but this one is {} bytes behind data the {} had already sent",
                c.sender_end as i64 - off,
                v.name()
            ),
        )
    })
}

/// `seq_exact` (for the endpoint): the sender's next sequence number, or an acknowledgment the
/// receiver sent (a reply).
pub fn seq_exact(v: &RstView<'_>) -> Option<Evidence> {
    let exact = v.seq_exact();
    (exact || v.seq_reply()).then(|| {
        Evidence::new(
            EvidenceKind::SeqExact,
            if exact {
                format!("its sequence number is exactly the {}'s next one", v.name())
            } else {
                format!(
                    "its sequence number is an acknowledgment the {} sent: a reply",
                    v.peer()
                )
            },
        )
    })
}

/// `seq_not_reply` (medium): a RST without ACK whose sequence number is none of the
/// acknowledgments it could be answering.
pub fn seq_not_reply(v: &RstView<'_>) -> Option<Evidence> {
    let (r, c) = (v.rst, &v.rst.context);
    let fires = !v.seq_exact() && !v.seq_reply() && !r.flags.ack() && !c.receiver_acks.is_empty();
    fires.then(|| {
        Evidence::new(
            EvidenceKind::SeqNotReply,
            format!(
                "a RST without ACK answers a segment with the sequence number that segment acknowledged; seq {} is none of the {}'s recent acknowledgments",
                r.seq,
                v.peer()
            ),
        )
    })
}

/// `seq_out_of_window` (medium): outside the receiver's window from the sender's next
/// sequence number.
pub fn seq_out_of_window(v: &RstView<'_>) -> Option<Evidence> {
    let (r, c) = (v.rst, &v.rst.context);
    if v.seq_exact() || v.seq_reply() {
        return None;
    }
    let (off, w) = (r.offset?, c.receiver_window?);
    let lo = c.sender_end as i64;
    let outside =
        off < lo.saturating_sub(w as i64) || off > lo.saturating_add(w as i64).max(lo + 1);
    outside.then(|| {
        Evidence::new(
            EvidenceKind::SeqOutOfWindow,
            format!(
                "its sequence number is {} bytes from the {}'s next one, outside the {}'s {w}-byte window",
                off - lo,
                v.name(),
                v.peer()
            ),
        )
    })
}

/// `connection_continues` (medium): the receiver kept sending new data after the RST.
pub fn connection_continues(v: &RstView<'_>) -> Option<Evidence> {
    let p = v.rst.after.receiver_beyond?;
    Some(Evidence::new(
        EvidenceKind::ConnectionContinues,
        format!(
            "the {} kept sending new data after it (frame {}, {:.3} s later)",
            v.peer(),
            p.frame,
            secs(p.ts, v.rst.ts)
        ),
    ))
}

/// `challenge_ack` (medium): at the receiver, its first answer was a pure ACK within a round
/// trip (at least 200 ms) and the RST was not exact: a RST in the window but not exact draws a
/// challenge ACK (RFC 5961). Not when the receiver carried on (`connection_continues`).
pub fn challenge_ack(v: &RstView<'_>) -> Option<Evidence> {
    let (r, a) = (v.rst, &v.rst.after);
    if a.receiver_beyond.is_some() {
        return None;
    }
    let first = a.receiver_first?;
    let pure_ack = first.payload_len == 0
        && first.flags.ack()
        && !first.flags.syn()
        && !first.flags.fin()
        && !first.flags.rst();
    let soon = first.ts.nanos_since(r.ts) <= v.rtt_ns.unwrap_or(0).max(200_000_000);
    (pure_ack && soon && !v.seq_exact() && v.at_receiver()).then(|| {
        Evidence::new(
            EvidenceKind::ChallengeAck,
            format!(
                "the {} answered with an ACK (frame {}): a RST in the window but not exact draws a challenge ACK (RFC 5961)",
                v.peer(),
                first.frame
            ),
        )
    })
}

/// The TTL against the sender's own habits, from its packets seen at this vantage (its non-RST
/// packets only; the capturing host's own packets never enter a far sender's baseline, and a
/// RST from the capturing host never gets here). See [`ttl_evidence`]; always gives one.
pub fn ttl_rule(v: &RstView<'_>) -> Option<Evidence> {
    Some(ttl_evidence(
        v.rst.ttl,
        v.rst.context.sender_ttl,
        v.sender_ttl_max,
        v.name(),
    ))
}

/// `ip_id_in_sequence` (for the endpoint) or `ip_id_break` (weak): the IPv4 ID against a
/// sender whose IDs rose in small steps at least twice. An ID of 0, what Linux puts in its
/// reply resets, never counts.
pub fn ip_id_rule(v: &RstView<'_>) -> Option<Evidence> {
    let (Some(id), Some((last, run))) = (v.rst.ip_id, v.rst.context.sender_ip_id) else {
        return None;
    };
    if run < 2 || id == 0 {
        return None;
    }
    let step = id.wrapping_sub(last);
    let name = v.name();
    Some(if (1..=1024).contains(&step) {
        Evidence::new(
            EvidenceKind::IpIdInSequence,
            format!("IP ID {id} follows the {name}'s last ID {last}"),
        )
    } else {
        Evidence::new(
            EvidenceKind::IpIdBreak,
            format!("IP ID {id} breaks the {name}'s rising IDs (last {last}, {run} steps)"),
        )
    })
}

/// `faster_than_rtt` (strong): at the receiver, a RST answering the receiver's packet arrives
/// sooner than half the round trip after it, which a reply from the far end cannot.
pub fn faster_than_rtt(v: &RstView<'_>) -> Option<Evidence> {
    if !v.at_receiver() {
        return None;
    }
    let r = v.rst;
    let (t, rtt) = (r.context.trigger?, v.capture_point_rtt_ns?);
    let delta = r.ts.nanos_since(t.ts);
    // Only a reaction to something new in the trigger proves causality: a reply-shaped RST
    // copying a newly advanced acknowledgment, or a RST acknowledging exactly the new data the
    // trigger carried. (Any RST+ACK matches a pure ACK's sequence number.)
    let answers = (t.ack_advanced && t.ack == Some(r.seq) && !r.flags.ack())
        || (t.new_bytes > 0 && r.flags.ack() && r.ack == Some(t.seq.wrapping_add(t.payload_len)))
        || (t.flags.syn()
            && !t.flags.ack()
            && r.ack == Some(t.seq.wrapping_add(t.payload_len + 1)));
    (answers && rtt >= MIN_RTT_FOR_TIMING_NS && delta >= 0 && delta < rtt / 2).then(|| {
        Evidence::new(
            EvidenceKind::FasterThanRtt,
            format!(
                "it answers the {}'s frame {} after {:.1} ms, less than half the {:.1} ms round trip",
                v.peer(),
                t.frame,
                delta as f64 / 1e6,
                rtt as f64 / 1e6
            ),
        )
    })
}

/// `rst_both_directions` (medium): seen from the middle, both ends "reset" within 10 ms.
pub fn rst_both_directions(v: &RstView<'_>) -> Option<Evidence> {
    if v.vantage != Vantage::Middle {
        return None;
    }
    let r = v.rst;
    let o = v
        .rsts
        .iter()
        .find(|o| o.from != r.from && (o.ts.nanos_since(r.ts)).abs() <= BOTH_WAYS_NS)?;
    Some(Evidence::new(
        EvidenceKind::RstBothDirections,
        format!(
            "the {} \"reset\" too within 10 ms (frame {})",
            v.peer(),
            o.frame
        ),
    ))
}

/// `bt_after_bitfield` / `bt_after_handshake` (context): within a second of the BitTorrent
/// exchange, before any piece data.
pub fn bt_timing(v: &RstView<'_>) -> Option<Evidence> {
    let bt = v.bt.filter(|b| b.gap_ns <= BT_RECENT_NS)?;
    let (kind, what) = if bt.bitfield {
        (EvidenceKind::BtAfterBitfield, "bitfield")
    } else {
        (EvidenceKind::BtAfterHandshake, "handshake")
    };
    Some(Evidence::new(
        kind,
        format!(
            "{:.1} ms after the BitTorrent {what}, before any piece data",
            bt.gap_ns as f64 / 1e6
        ),
    ))
}

/// `control_flows_survived` (context): with the BitTorrent timing, a random-payload control
/// flow between the same hosts was not reset.
pub fn control_flows_survived(v: &RstView<'_>) -> Option<Evidence> {
    (v.control_survived && bt_timing(v).is_some()).then(|| {
        Evidence::new(
            EvidenceKind::ControlFlowsSurvived,
            "a random-payload control flow between the same hosts was not reset".to_string(),
        )
    })
}

/// `repeated_rst` (information): an earlier RST from the same sender with the same sequence
/// number: a retransmission, not a burst.
pub fn repeated_rst(v: &RstView<'_>) -> Option<Evidence> {
    let r = v.rst;
    let prev = v
        .rsts
        .iter()
        .find(|o| o.from == r.from && o.frame < r.frame && o.seq == r.seq)?;
    Some(Evidence::new(
        EvidenceKind::RepeatedRst,
        format!(
            "same sequence number as the {}'s RST in frame {} (a retransmission, not a burst)",
            v.name(),
            prev.frame
        ),
    ))
}

/// The TTL rule: the RST's TTL against the claimed sender's packets seen at the same
/// vantage. `usual` is its most common TTL (value, packets that carried it, packets in all)
/// before the RST; `max_seen` the highest TTL any of its non-RST packets in the flow carried.
///
/// A packet loses one TTL per router. One that reaches the capture point with more TTL left
/// than every packet of the claimed sender was sent from nearer than the sender: from inside
/// the path. At an initial value (32, 64, 128, 255) it crossed no router at all, while every
/// packet of the sender crossed at least one: proof (`ttl_above_path`, strong). A smaller
/// excess could be a shorter route (medium), and so is an initial value against only two
/// packets of the sender (medium). Less TTL left (more hops) is only a departure
/// (medium) when it exceeds one hop, and never proof by itself.
pub fn ttl_evidence(ttl: u8, usual: Option<(u8, u32, u32)>, max_seen: u8, name: &str) -> Evidence {
    use EvidenceKind as K;
    let Some((usual, n, total)) = usual.filter(|u| u.1 >= 2) else {
        return Evidence::new(
            K::NoBaseline,
            format!("the {name} sent too few other packets to compare TTLs with"),
        );
    };
    // A different initial TTL cannot come from a route change, so two agreeing packets are
    // baseline enough for it; a difference of a few hops needs three.
    let (base, rst) = (initial_ttl(usual), initial_ttl(ttl));
    let habit = format!("{n} of the {name}'s {total} earlier packets had TTL {usual}");
    if base != rst {
        return Evidence::new(
            K::TtlOtherStack,
            format!(
                "TTL {ttl} can only come from a stack starting at {rst}; {habit}, a stack starting at {base}"
            ),
        );
    }
    let top = max_seen.max(usual);
    let at_initial = INITIAL_TTLS.contains(&ttl);
    if n < 3 {
        // Two packets that crossed a router against one that crossed none: suspicious, not
        // proof on so small a baseline.
        if at_initial && ttl > top {
            return Evidence::graded(
                K::TtlAbovePath,
                false,
                format!(
                    "TTL {ttl}, an initial value: it crossed no router, while both packets the {name} sent before it crossed at least {} ({habit})",
                    ttl - top
                ),
            );
        }
        return Evidence::new(
            K::NoBaseline,
            format!("{habit}: too few to judge a difference of a few hops"),
        );
    }
    if ttl > top {
        let hops = ttl - top;
        return Evidence::graded(
            K::TtlAbovePath,
            at_initial,
            if at_initial {
                format!(
                    "TTL {ttl}, an initial value: it crossed no router, while every packet of the {name} crossed at least {hops} ({habit}, none above {top}): sent from inside the path"
                )
            } else {
                format!(
                    "TTL {ttl}: {hops} more hops left than any packet of the {name} ({habit}, none above {top}): sent from nearer than the {name}, unless its route shortened"
                )
            },
        );
    }
    if ttl.abs_diff(usual) > 1 {
        Evidence::new(K::TtlDeparture, format!("TTL {ttl} where {habit}"))
    } else {
        Evidence::new(K::TtlConsistent, format!("TTL {ttl}: {habit}"))
    }
}

/// The rule (see the module documentation), over the evidence of one RST.
pub fn combine(ev: &[Evidence]) -> Verdict {
    let count = |s: Strength| ev.iter().filter(|e| e.strength == s).count();
    let mut medium_kinds: Vec<EvidenceKind> = ev
        .iter()
        .filter(|e| e.strength == Strength::Medium)
        .map(|e| e.kind)
        .collect();
    medium_kinds.dedup();
    let (strong, medium) = (count(Strength::Strong), medium_kinds.len());
    let (weak, context) = (count(Strength::Weak), count(Strength::Context));
    if ev.iter().any(|e| e.kind == EvidenceKind::SentByCaptureHost) {
        Verdict::Endpoint
    } else if strong > 0 || medium >= 2 || (medium == 1 && context >= 2) {
        Verdict::Forged
    } else if medium == 1 || weak + context >= 2 {
        Verdict::Inconclusive
    } else if count(Strength::ForEndpoint) > 0 {
        Verdict::Endpoint
    } else {
        Verdict::Inconclusive
    }
}

/// The round trip the capture point sees: from its own packet to the far end's answer.
fn capture_point_rtt<S>(f: &Flow<S>, vantage: Vantage) -> Option<i64> {
    let hs = f.handshake;
    match vantage {
        Vantage::Client => Some(hs.syn_ack?.nanos_since(hs.syn?)),
        Vantage::Server => Some(hs.ack?.nanos_since(hs.syn_ack?)),
        Vantage::Middle | Vantage::Unknown => None,
    }
    .filter(|&n| n > 0)
}

/// The latest step of the BitTorrent exchange (bitfield, else handshake) at or before `ts`,
/// when the flow is BitTorrent and no piece data came first.
fn bt_exchange(f: &Flow<FlowDecoder>, ts: Timestamp) -> Option<BtExchange> {
    if f.app.kind() != Kind::BitTorrent {
        return None;
    }
    let dirs = [f.app.dir(Side::Client)?, f.app.dir(Side::Server)?];
    let piece_before = dirs.iter().any(|d| {
        d.first
            .get(MsgKind::Piece as usize)
            .copied()
            .flatten()
            .is_some_and(|p| p.ts <= ts)
    });
    if piece_before {
        return None;
    }
    let latest = |get: &dyn Fn(&crate::btparse::DirDecoder) -> Option<Timestamp>| {
        dirs.iter()
            .filter_map(|d| get(d))
            .filter(|t| *t <= ts)
            .max()
    };
    let bitfield = latest(&|d| {
        d.first
            .get(MsgKind::Bitfield as usize)
            .copied()
            .flatten()
            .map(|p| p.ts)
    });
    let handshake = latest(&|d| d.handshake.map(|h| h.at.ts));
    let (bitfield, t) = match (bitfield, handshake) {
        (Some(b), _) => (true, b),
        (None, Some(h)) => (false, h),
        (None, None) => return None,
    };
    Some(BtExchange {
        bitfield,
        gap_ns: ts.nanos_since(t),
    })
}

/// The initial TTL a received TTL most likely started from.
fn initial_ttl(ttl: u8) -> u8 {
    INITIAL_TTLS.into_iter().find(|&i| ttl <= i).unwrap_or(255)
}

fn secs(a: Timestamp, b: Timestamp) -> f64 {
    a.nanos_since(b) as f64 / 1e9
}

/// The study's blocking signal for one flow (Glasnost's detector, DOMAIN section 3), as the
/// reports give it (a flow's `blocking` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BlockingSignal {
    /// Reset, not closed by either end first.
    pub reset: bool,
    /// RSTs that reached the capturing host, and RSTs it sent.
    pub rsts_received: u32,
    pub rsts_sent: u32,
    /// Milliseconds from the BitTorrent bitfield exchange (or handshake) to the first RST.
    pub after_bt_exchange_ms: Option<f64>,
    /// No transfer data had moved when the first RST came (the only kind of reset Glasnost
    /// reported): for BitTorrent no piece message yet; otherwise no more than the 512 bytes
    /// the emulation's set-up exchange (handshake, bitfield, interested, request) takes.
    pub before_data: bool,
    /// The study's signal: reset, RSTs received and none sent by the capturing side.
    pub signal: bool,
}

pub fn blocking_signal(f: &Flow<FlowDecoder>, vantage: Vantage) -> Option<BlockingSignal> {
    let first = f.rsts.first()?;
    let local = vantage.side();
    let (received, sent) = match local {
        Some(me) => (
            f.rsts.iter().filter(|r| r.from != me).count() as u32,
            f.rsts.iter().filter(|r| r.from == me).count() as u32,
        ),
        None => (f.rsts.len() as u32, 0),
    };
    let fins_before = [Side::Client, Side::Server]
        .iter()
        .any(|&s| f.half(s).fin.is_some_and(|(_, frame)| frame < first.frame));
    // Reset: the connection ended by RST (not one it survived), not closed by FIN first.
    let reset = f.close() == Close::Rst && !fins_before;
    let after = bt_exchange(f, first.ts)
        .filter(|b| b.gap_ns <= BT_RECENT_NS)
        .and_then(|_| {
            let dirs = [f.app.dir(Side::Client)?, f.app.dir(Side::Server)?];
            dirs.iter()
                .filter_map(|d| {
                    d.first
                        .get(MsgKind::Bitfield as usize)
                        .copied()
                        .flatten()
                        .map(|p| p.ts)
                        .or_else(|| d.handshake.map(|h| h.at.ts))
                })
                .filter(|t| *t <= first.ts)
                .max()
                .map(|t| first.ts.nanos_since(t) as f64 / 1e6)
        });
    let c = &first.context;
    let before_data = if f.app.kind() == Kind::BitTorrent {
        [Side::Client, Side::Server].iter().all(|&s| {
            f.app.dir(s).is_none_or(|d| {
                d.first
                    .get(MsgKind::Piece as usize)
                    .copied()
                    .flatten()
                    .is_none_or(|p| p.ts > first.ts)
            })
        })
    } else {
        c.sender_bytes.max(c.receiver_bytes) <= SETUP_BYTES
    };
    Some(BlockingSignal {
        reset,
        rsts_received: received,
        rsts_sent: sent,
        after_bt_exchange_ms: after,
        before_data,
        signal: reset && received > 0 && sent == 0 && local.is_some(),
    })
}

#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
