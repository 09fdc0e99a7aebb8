//! The results of analysing a capture: plain records that every writer (text, JSON, CSV)
//! reads. Field names follow the output contract (`ARCHITECTURE.md`); fields that later
//! capabilities fill are present and `null` until then, so users' scripts can rely on them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::btparse::{
    self, DirSummary, FlowDecoder, FramingState, Kind, LostReason, MsgKind, peer_id,
};
use crate::capture::{Format, LinkType, Note, Timestamp};
use crate::flows::{Close, Flow, Overflow, PacketRef, Roles, Side};
use crate::glasnost::verdict::{Dir, Summary};
use crate::glasnost::{GlasnostReport, TestReport};
use crate::rst::{BlockingSignal, EvidenceKind, Finding, Strength, Vantage, Verdict};

/// The last component of a capture's path (either separator), for titles and file names (the
/// report's pages and the plots' titles alike).
pub fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\'])
        .find(|p| !p.is_empty())
        .unwrap_or(path)
}

/// A count and the first frame it happened at (so a user can jump there in Wireshark).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub count: u64,
    pub first_frame: u64,
}

impl Tally {
    pub fn add(&mut self, frame: u64) {
        if self.count == 0 {
            self.first_frame = frame;
        }
        self.count += 1;
    }
}

/// Everything bttrace says about one capture file.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureReport {
    #[serde(rename = "capture")]
    pub path: String,
    /// Why the file could not be analysed (fully), or null.
    pub error: Option<String>,
    #[serde(rename = "capture_format")]
    pub format: Option<Format>,
    pub gzip: bool,
    pub link_types: Vec<LinkType>,
    /// Frames read.
    pub frames: u64,
    /// Frames that carried a TCP segment bttrace used.
    pub tcp_segments: u64,
    /// Frames skipped, by reason code.
    pub skipped: BTreeMap<&'static str, Tally>,
    /// Oddities in segments that were still used, by code.
    pub anomalies: BTreeMap<&'static str, Tally>,
    /// Problems that did not stop the analysis (where the file was cut short, and so on).
    pub notes: Vec<Note>,
    /// Capture time of the first and last frame, seconds since the epoch.
    pub first_time: Option<f64>,
    pub last_time: Option<f64>,
    pub flows: Vec<FlowReport>,
    /// Flows retired early to keep the flow table within its bound, or null.
    pub flows_retired: Option<RetiredFlows>,
    /// Glasnost transfers, when the capture is a Glasnost test.
    pub tests: Vec<TestReport>,
    /// The study's summary row, when the capture is a Glasnost test.
    pub summary: Option<Summary>,
    /// The test as a whole: name, log, schedule, every verdict in detail.
    pub glasnost: Option<GlasnostReport>,
}

impl CaptureReport {
    /// A report for a file that could not be analysed at all.
    pub fn failed(path: String, error: String) -> CaptureReport {
        CaptureReport {
            path,
            error: Some(error),
            format: None,
            gzip: false,
            link_types: Vec::new(),
            frames: 0,
            tcp_segments: 0,
            skipped: BTreeMap::new(),
            anomalies: BTreeMap::new(),
            notes: Vec::new(),
            first_time: None,
            last_time: None,
            flows: Vec::new(),
            flows_retired: None,
            tests: Vec::new(),
            summary: None,
            glasnost: None,
        }
    }

    /// A report made from a Glasnost log alone (no capture read).
    pub fn is_log_only(&self) -> bool {
        self.format.is_none() && self.error.is_none() && self.glasnost.is_some()
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().map(|t| t.count).sum()
    }

    /// The tested user's address: the one the file name states, else the client of the
    /// test's first transfer, else of the first flow.
    pub fn client_address(&self) -> Option<String> {
        if let Some(n) = self.glasnost.as_ref().and_then(|g| g.name.as_ref()) {
            return Some(n.client_ip.to_string());
        }
        let flow = self
            .tests
            .first()
            .and_then(|t| self.flows.iter().find(|f| f.id == t.flow))
            .or(self.flows.first())?;
        let addr: std::net::SocketAddr = flow.client.parse().ok()?;
        Some(addr.ip().to_string())
    }

    /// The user's host name, as the file name states it.
    pub fn client_host(&self) -> Option<&str> {
        let n = self.glasnost.as_ref()?.name.as_ref()?;
        Some(n.client_host.as_str())
    }

    /// When the test ran, seconds since the epoch (UTC): the file name's time (M-Lab's
    /// one-day error corrected) where it is a plausible one
    /// ([`plausible_time`](crate::glasnost::names::plausible_time)), else the first packet's.
    pub fn test_time(&self) -> Option<i64> {
        if let Some(n) = self.glasnost.as_ref().and_then(|g| g.name.as_ref()) {
            if crate::glasnost::names::plausible_time(n.time) {
                return Some(n.time);
            }
        }
        self.first_time
            .filter(|t| t.is_finite())
            .map(|t| t.floor() as i64)
    }
}

/// Connections retired to keep the flow table within its bound: counted, not listed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RetiredFlows {
    pub flows: u64,
    pub never_established: u64,
    /// Packets and payload bytes of the retired connections (those after retirement
    /// included): in no listed flow.
    pub packets: u64,
    pub payload_bytes: u64,
    /// Of those, the packets (and payload bytes) that came after their connection was
    /// retired: counted to it, never taken for new flows.
    pub packets_after: u64,
    pub payload_after: u64,
    /// Retired connections no longer remembered (bounded memory), and flows that opened
    /// mid-stream after that (some may be later packets of a forgotten connection).
    pub forgotten: u64,
    pub opened_after_forgetting: u64,
    /// The bound that was hit.
    pub max_flows: usize,
}

impl RetiredFlows {
    pub fn from_overflow(o: Overflow, max_flows: usize) -> Option<RetiredFlows> {
        (o.flows > 0).then_some(RetiredFlows {
            flows: o.flows,
            never_established: o.never_established,
            packets: o.packets,
            payload_bytes: o.payload_bytes,
            packets_after: o.packets_after,
            payload_after: o.payload_after,
            forgotten: o.forgotten,
            opened_after_forgetting: o.opened_after_forgetting,
            max_flows,
        })
    }

    /// What the retirement did to the numbers, as a note (every format carries it).
    pub fn note(&self) -> Note {
        let mut message = format!(
            "flow table limit {} reached: {} connections ({} never established) were retired \
             and counted, not listed; their {} packets ({} payload bytes, {} packets of them \
             after retirement, counted to their connection and never taken for new flows) are \
             in no flow, nor in the kinds, resets and tests (--max-flows raises the limit)",
            self.max_flows,
            self.flows,
            self.never_established,
            self.packets,
            self.payload_bytes,
            self.packets_after
        );
        if self.forgotten > 0 {
            message.push_str(&format!(
                "; {} retired connections were forgotten to bound memory, and {} flows opened \
                 mid-stream after that (some may be later packets of forgotten ones)",
                self.forgotten, self.opened_after_forgetting
            ));
        }
        Note {
            frame: None,
            offset: None,
            message,
        }
    }
}

/// One TCP connection. Byte counts are TCP payload bytes; `_up` is client to server.
#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    pub id: u32,
    /// Wireshark's `tcp.stream`: the flow's number from 0 (`id` - 1); null after a frame
    /// bttrace skipped that Wireshark may count as a TCP stream of its own (an IP fragment, a
    /// bad TCP header, ...), or when flows were retired, where the numbers may part.
    pub tcp_stream: Option<u32>,
    /// The Community ID v1 flow hash (seed 0), as Zeek and Suricata write it.
    pub community_id: String,
    pub client: String,
    pub server: String,
    /// `bittorrent` | `control` | `command` | `encrypted` | `other` (null until decoded).
    pub kind: Option<Kind>,
    /// `upload` | `download` from the client's side (null until the Glasnost analysis).
    pub direction: Option<Dir>,
    /// The server's port.
    pub port: u16,
    pub established: bool,
    /// How client and server were told apart: `syn`, `syn_ack`, or `guessed` (mid-stream).
    pub roles: Roles,
    /// Earlier connections on the same 4-tuple in this capture.
    pub instance: u32,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Seconds since the epoch.
    #[serde(rename = "start_time")]
    pub start: f64,
    #[serde(rename = "end_time")]
    pub end: f64,
    pub duration_s: f64,
    /// SYN to the ACK of the SYN-ACK, in milliseconds, where the handshake was seen.
    pub rtt_ms: Option<f64>,
    pub packets_up: u64,
    pub packets_down: u64,
    /// Payload bytes the IP headers declare, retransmissions included.
    pub payload_up: u64,
    pub payload_down: u64,
    /// Unique payload bytes (each stream byte once, including bytes the snaplen cut).
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub retrans_up: u64,
    pub retrans_down: u64,
    /// Bytes on the wire but cut from the capture by the snaplen.
    pub truncated_up: u64,
    pub truncated_down: u64,
    /// Stream bytes never seen: lost before the capture point, or still missing at the end.
    pub missing_up: u64,
    pub missing_down: u64,
    /// Stream bytes captured but not reassembled: they arrived after bttrace had given their
    /// gap up (reordering deeper than the out-of-order buffer, or capture queues written one
    /// after the other). Neither missing nor retransmitted, and in no goodput or series.
    pub unassembled_up: u64,
    pub unassembled_down: u64,
    /// Retransmissions whose bytes differ from the first copy (and the first such frame).
    pub overlap_mismatches: u32,
    pub first_mismatch_frame: Option<u64>,
    /// Unique bits per second in the data direction, first to last new byte.
    pub goodput_bps: Option<f64>,
    /// `fin` | `rst` | `open` | `never_established`.
    #[serde(rename = "close_state")]
    pub close: Close,
    /// The RSTs judged: the first [`MAX_RSTS`](crate::flows::MAX_RSTS) of the flow.
    pub rsts: Vec<RstReport>,
    /// RSTs beyond the per-flow record limit, counted only.
    pub rsts_dropped: u32,
    /// A Wireshark display filter selecting this connection's packets (both directions): its
    /// addresses and ports, and its frame range where the capture reuses the 4-tuple.
    #[serde(rename = "wireshark_filter")]
    pub filter: String,
    /// Every RST segment the flow carried, judged or not.
    pub rsts_seen: u64,
    /// The RSTs judged (the length of `rsts`).
    pub rsts_judged: u64,
    /// Where the capture was taken for this flow: `client`, `server`, `middle`, `unknown`.
    pub vantage: Vantage,
    /// The study's blocking signal, for flows with a RST (null otherwise).
    pub blocking: Option<BlockingSignal>,
    pub series: SeriesReport,
    /// The peer-wire view, for flows that carried payload (null otherwise).
    pub bittorrent: Option<BtReport>,
    /// Every decoded message, when asked for (`--messages`); null otherwise.
    pub messages: Option<Vec<MessageReport>>,
    /// With `--messages`: messages decoded but not kept (beyond 100,000 in the flow or
    /// 1,000,000 in the capture); null otherwise.
    pub messages_dropped: Option<u64>,
}

/// Where and when something was seen.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Seen {
    pub frame: u64,
    /// Seconds since the epoch.
    pub time: f64,
}

impl From<PacketRef> for Seen {
    fn from(p: PacketRef) -> Seen {
        Seen {
            frame: p.frame,
            time: p.ts.as_secs_f64(),
        }
    }
}

/// The peer-wire view of a flow: what each side sent.
#[derive(Debug, Clone, Serialize)]
pub struct BtReport {
    /// The info-hash of the first complete handshake, hex.
    pub info_hash: Option<String>,
    pub client: BtSideReport,
    pub server: BtSideReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct HandshakeReport {
    pub frame: u64,
    pub time: f64,
    pub info_hash: Option<String>,
    /// The 20 bytes, hex (faithful whatever the bytes).
    pub peer_id: Option<String>,
    /// The same, printable bytes as they are and others as `\xNN` (for reading).
    pub peer_id_text: Option<String>,
    /// The client named by the peer id's convention, where it follows one.
    pub peer_client: Option<String>,
    /// The 8 reserved bytes, hex, and the names of the bits set.
    pub reserved: Option<String>,
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExtendedReport {
    pub client: Option<String>,
    pub port: Option<i64>,
    pub reqq: Option<i64>,
    pub metadata_size: Option<i64>,
    pub extensions: BTreeMap<String, i64>,
}

/// What one side sent on the peer wire.
#[derive(Debug, Clone, Serialize)]
pub struct BtSideReport {
    pub handshake: Option<HandshakeReport>,
    /// Bytes before the handshake when it did not open the stream (an encryption-style
    /// preamble).
    pub preamble_bytes: Option<u64>,
    /// Messages by kind (only kinds seen).
    pub messages: BTreeMap<&'static str, u64>,
    /// First message of each kind seen.
    pub first: BTreeMap<&'static str, Seen>,
    /// Block bytes in piece messages.
    pub piece_bytes: u64,
    pub extended: Option<ExtendedReport>,
    /// `ok` | `lost` | `not_bittorrent` (no handshake in the first 4 KiB) | `no_handshake`
    /// (the stream ended, or was followed beside a plaintext peer, without one) |
    /// `no_payload`.
    pub framing: FramingState,
    /// Stream offset where the framing was lost, and why.
    pub lost_at: Option<u64>,
    pub lost_reason: Option<LostReason>,
    pub resyncs: u32,
    /// Bytes passed while the framing was lost.
    pub unparsed_bytes: u64,
    /// Bytes inside known messages that the capture did not hold (skipped, not lost).
    pub hole_bytes: u64,
}

/// One decoded message (the verbose view).
#[derive(Debug, Clone, Serialize)]
pub struct MessageReport {
    pub frame: u64,
    #[serde(rename = "frame_time")]
    pub time: f64,
    pub rel_time: f64,
    /// The sender.
    #[serde(rename = "sender")]
    pub from: Side,
    #[serde(rename = "stream_offset")]
    pub offset: u64,
    #[serde(rename = "message")]
    pub kind: Option<MsgKind>,
    #[serde(rename = "description")]
    pub text: String,
}

fn handshake_report(h: &btparse::Handshake) -> HandshakeReport {
    HandshakeReport {
        frame: h.at.frame,
        time: h.at.ts.as_secs_f64(),
        info_hash: h.info_hash.map(|x| btparse::hex(&x)),
        peer_id: h.peer_id.map(|p| btparse::hex(&p)),
        peer_id_text: h.peer_id.map(|p| peer_id::printable(&p)),
        peer_client: h.peer_id.and_then(|p| peer_id::client_name(&p)),
        reserved: h.reserved.map(|r| btparse::hex(&r)),
        flags: h
            .reserved
            .map(|r| btparse::reserved_flags(&r))
            .unwrap_or_default(),
    }
}

fn side_report(d: &DirSummary) -> BtSideReport {
    BtSideReport {
        handshake: d.handshake.as_ref().map(handshake_report),
        preamble_bytes: d.preamble_bytes,
        messages: d.messages.iter().map(|&(k, n)| (k.code(), n)).collect(),
        first: d
            .first
            .iter()
            .map(|&(k, a)| (k.code(), Seen::from(a)))
            .collect(),
        piece_bytes: d.piece_bytes,
        extended: d.extended.as_ref().map(|e| ExtendedReport {
            client: e.client.clone(),
            port: e.port,
            reqq: e.reqq,
            metadata_size: e.metadata_size,
            extensions: e.messages.clone(),
        }),
        framing: d.framing,
        lost_at: d.lost_at,
        lost_reason: d.lost_reason,
        resyncs: d.resyncs,
        unparsed_bytes: d.unparsed_bytes,
        hole_bytes: d.hole_bytes,
    }
}

fn bt_report(app: &FlowDecoder) -> Option<BtReport> {
    let c = app.dir(Side::Client)?.summary();
    let s = app.dir(Side::Server)?.summary();
    let info_hash = [&c, &s]
        .iter()
        .find_map(|d| d.handshake.and_then(|h| h.info_hash))
        .map(|x| btparse::hex(&x));
    Some(BtReport {
        info_hash,
        client: side_report(&c),
        server: side_report(&s),
    })
}

fn message_reports(app: &FlowDecoder, capture_start: i64) -> Vec<MessageReport> {
    app.events
        .list
        .iter()
        .map(|e| MessageReport {
            frame: e.at.frame,
            time: e.at.ts.as_secs_f64(),
            rel_time: rel(e.at.ts, capture_start),
            from: e.side,
            offset: e.offset,
            kind: e.message.kind(),
            text: e.message.describe(),
        })
        .collect()
}

fn rel(ts: Timestamp, capture_start: i64) -> f64 {
    ts.0.saturating_sub(capture_start) as f64 / 1e9
}

/// One RST segment. `verdict` and `evidence` are filled by the reset forensics.
#[derive(Debug, Clone, Serialize)]
pub struct RstReport {
    /// 1-based frame number, as Wireshark numbers it.
    pub frame: u64,
    /// Seconds since the epoch.
    #[serde(rename = "frame_time")]
    pub time: f64,
    /// Seconds since the capture's first frame (Wireshark's default time column).
    pub rel_time: f64,
    /// The claimed sender: `client` | `server`.
    #[serde(rename = "sender")]
    pub from: Side,
    pub seq: u32,
    pub ack: Option<u32>,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    #[serde(rename = "tcp_window")]
    pub window: u16,
    #[serde(rename = "tcp_flags")]
    pub flags: String,
    /// `forged` | `endpoint` | `inconclusive`.
    pub verdict: Option<Verdict>,
    /// Stable short codes of the evidence (see the README).
    pub evidence: Vec<EvidenceKind>,
    /// Each piece of evidence with its strength and a sentence to check.
    pub findings: Vec<EvidenceReport>,
    /// A Wireshark display filter selecting this RST.
    #[serde(rename = "wireshark_filter")]
    pub filter: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceReport {
    pub code: EvidenceKind,
    /// `strong` | `medium` | `weak` | `context` (against the claimed sender), `endpoint` (for
    /// it), `info`.
    pub strength: Strength,
    pub text: String,
}

/// Unique payload bytes per interval since the flow's first packet.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesReport {
    pub interval_ms: f64,
    #[serde(rename = "bytes_up")]
    pub up: Vec<u32>,
    #[serde(rename = "bytes_down")]
    pub down: Vec<u32>,
}

/// What the forensics said about a flow.
pub struct FlowJudgement<'a> {
    pub vantage: Vantage,
    pub findings: &'a [Finding],
    pub blocking: Option<BlockingSignal>,
}

/// A display filter selecting one frame.
pub fn frame_filter(frame: u64) -> String {
    format!("frame.number == {frame}")
}

/// A Wireshark display filter selecting one connection's packets (both directions): its two
/// addresses and ports, and `frames` (first, last) when another connection of the capture used
/// the same 4-tuple.
pub fn tuple_filter(
    client: std::net::SocketAddr,
    server: std::net::SocketAddr,
    frames: Option<(u64, u64)>,
) -> String {
    let field = |a: std::net::SocketAddr| if a.is_ipv4() { "ip.addr" } else { "ipv6.addr" };
    let mut f = format!(
        "{} == {} && tcp.port == {} && {} == {} && tcp.port == {}",
        field(client),
        client.ip(),
        client.port(),
        field(server),
        server.ip(),
        server.port()
    );
    if let Some((first, last)) = frames {
        f.push_str(&format!(
            " && frame.number >= {first} && frame.number <= {last}"
        ));
    }
    f
}

impl FlowReport {
    pub fn from_flow(
        f: &Flow<FlowDecoder>,
        capture_start: i64,
        with_messages: bool,
        judged: &FlowJudgement<'_>,
    ) -> FlowReport {
        let c = f.half(Side::Client).summary();
        let s = f.half(Side::Server).summary();
        FlowReport {
            id: f.id,
            tcp_stream: f.id.checked_sub(1),
            community_id: crate::community_id::tcp(f.client, f.server),
            client: f.client.to_string(),
            server: f.server.to_string(),
            kind: Some(f.app.kind()),
            direction: None,
            port: f.server.port(),
            established: f.established(),
            roles: f.roles,
            instance: f.instance,
            first_frame: f.first_frame,
            last_frame: f.last_frame,
            start: f.first_ts.as_secs_f64(),
            end: f.last_ts.as_secs_f64(),
            duration_s: f.last_ts.nanos_since(f.first_ts) as f64 / 1e9,
            rtt_ms: f.handshake.rtt_ns().map(|n| n as f64 / 1e6),
            packets_up: c.packets,
            packets_down: s.packets,
            payload_up: c.payload_bytes,
            payload_down: s.payload_bytes,
            bytes_up: c.unique,
            bytes_down: s.unique,
            retrans_up: c.retransmitted,
            retrans_down: s.retransmitted,
            truncated_up: c.truncated,
            truncated_down: s.truncated,
            missing_up: c.missing,
            missing_down: s.missing,
            unassembled_up: c.unassembled,
            unassembled_down: s.unassembled,
            overlap_mismatches: c.overlap_mismatches + s.overlap_mismatches,
            first_mismatch_frame: [c.first_mismatch_frame, s.first_mismatch_frame]
                .into_iter()
                .flatten()
                .min(),
            goodput_bps: f.goodput_bps(),
            close: f.close(),
            rsts: f
                .rsts
                .iter()
                .map(|r| {
                    let finding = judged.findings.iter().find(|x| x.frame == r.frame);
                    RstReport {
                        frame: r.frame,
                        time: r.ts.as_secs_f64(),
                        rel_time: rel(r.ts, capture_start),
                        from: r.from,
                        seq: r.seq,
                        ack: r.ack,
                        ttl: r.ttl,
                        ip_id: r.ip_id,
                        window: r.window,
                        flags: r.flags.to_string(),
                        verdict: finding.map(|x| x.verdict),
                        evidence: finding
                            .map(|x| x.evidence.iter().map(|e| e.kind).collect())
                            .unwrap_or_default(),
                        findings: finding
                            .map(|x| {
                                x.evidence
                                    .iter()
                                    .map(|e| EvidenceReport {
                                        code: e.kind,
                                        strength: e.strength,
                                        text: e.text.clone(),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        filter: frame_filter(r.frame),
                    }
                })
                .collect(),
            rsts_dropped: f.rsts_dropped,
            filter: tuple_filter(f.client, f.server, None),
            rsts_seen: u64::from(c.rsts) + u64::from(s.rsts),
            rsts_judged: f.rsts.len() as u64,
            vantage: judged.vantage,
            blocking: judged.blocking,
            series: SeriesReport {
                interval_ms: f.series.interval_ns() as f64 / 1e6,
                up: f.series.bins(Side::Client).to_vec(),
                down: f.series.bins(Side::Server).to_vec(),
            },
            bittorrent: bt_report(&f.app),
            messages: with_messages.then(|| message_reports(&f.app, capture_start)),
            messages_dropped: with_messages.then_some(f.app.events.dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btparse::Framing;
    use crate::glasnost::verdict::{Outcome, PortClass, Proto};
    use crate::glasnost::{RecognisedBy, ScheduleFrom};
    use crate::rst::compare::{Field, PairedBy, Proven};

    /// Every variant of a vocabulary enum serializes (JSON) to the word its `code()` gives,
    /// which is what the tables write: the two can never drift apart.
    fn agree<T: Serialize + Copy + std::fmt::Debug>(all: &[T], code: fn(T) -> &'static str) {
        for &v in all {
            let json = serde_json::to_value(v).unwrap();
            assert_eq!(json, serde_json::Value::from(code(v)), "{v:?}");
        }
    }

    /// The variants, by an exhaustive match: a new variant fails to compile here until it is
    /// listed (and so checked).
    fn kinds() -> [Kind; 5] {
        let all = [
            Kind::BitTorrent,
            Kind::Control,
            Kind::Command,
            Kind::Encrypted,
            Kind::Other,
        ];
        for k in all {
            match k {
                Kind::BitTorrent
                | Kind::Control
                | Kind::Command
                | Kind::Encrypted
                | Kind::Other => {}
            }
        }
        all
    }

    #[test]
    fn every_vocabulary_word_is_the_same_in_json_and_in_the_tables() {
        agree(&kinds(), Kind::code);
        let roles = [Roles::Syn, Roles::SynAck, Roles::Guessed];
        roles.iter().for_each(|r| match r {
            Roles::Syn | Roles::SynAck | Roles::Guessed => {}
        });
        agree(&roles, Roles::code);
        let closes = [Close::Fin, Close::Rst, Close::Open, Close::NeverEstablished];
        closes.iter().for_each(|c| match c {
            Close::Fin | Close::Rst | Close::Open | Close::NeverEstablished => {}
        });
        agree(&closes, Close::code);
        let vantages = [
            Vantage::Client,
            Vantage::Server,
            Vantage::Middle,
            Vantage::Unknown,
        ];
        vantages.iter().for_each(|v| match v {
            Vantage::Client | Vantage::Server | Vantage::Middle | Vantage::Unknown => {}
        });
        agree(&vantages, Vantage::code);
        agree(&Side::BOTH, Side::code);
        agree(&MsgKind::ALL, MsgKind::code);
        let framings = [
            FramingState::Ok,
            FramingState::Lost,
            FramingState::NotBitTorrent,
            FramingState::NoHandshake,
            FramingState::NoPayload,
        ];
        framings.iter().for_each(|f| match f {
            FramingState::Ok
            | FramingState::Lost
            | FramingState::NotBitTorrent
            | FramingState::NoHandshake
            | FramingState::NoPayload => {}
        });
        agree(&framings, FramingState::code);
        let lost = [LostReason::HeaderInHole, LostReason::Implausible];
        lost.iter().for_each(|l| match l {
            LostReason::HeaderInHole | LostReason::Implausible => {}
        });
        agree(&lost, LostReason::code);
        agree(&[Dir::Upload, Dir::Download], Dir::code);
        agree(&[Proto::Bt, Proto::Tcp], Proto::code);
        agree(
            &[Verdict::Forged, Verdict::Endpoint, Verdict::Inconclusive],
            Verdict::code,
        );
        agree(&[PortClass::App, PortClass::Other], PortClass::code);
        agree(&[PairedBy::Isn, PairedBy::Order], PairedBy::code);
        agree(&Field::ALL, Field::code);
        [PairedBy::Isn].iter().for_each(|p| match p {
            PairedBy::Isn | PairedBy::Order => {}
        });
        agree(
            &[
                Proven::Forged,
                Proven::Endpoint,
                Proven::NotReceived,
                Proven::Unproven,
            ],
            Proven::code,
        );
        let schedules = [
            ScheduleFrom::CommandChannel,
            ScheduleFrom::Log,
            ScheduleFrom::Flows,
        ];
        schedules.iter().for_each(|f| match f {
            ScheduleFrom::CommandChannel | ScheduleFrom::Log | ScheduleFrom::Flows => {}
        });
        agree(&schedules, ScheduleFrom::code);
        let evidence = [
            RecognisedBy::CommandChannel,
            RecognisedBy::Log,
            RecognisedBy::ControlTwins,
            RecognisedBy::Forced,
        ];
        evidence.iter().for_each(|e| match e {
            RecognisedBy::CommandChannel
            | RecognisedBy::Log
            | RecognisedBy::ControlTwins
            | RecognisedBy::Forced => {}
        });
        agree(&evidence, RecognisedBy::code);
        agree(
            &[
                Outcome::Completed,
                Outcome::Reset,
                Outcome::NoConnection,
                Outcome::NoData,
            ],
            Outcome::code,
        );
    }

    #[test]
    fn a_capture_s_file_name_is_its_last_path_component_either_separator() {
        assert_eq!(file_name("a/b/x.pcap"), "x.pcap");
        assert_eq!(file_name("C:\\caps\\y.pcap"), "y.pcap");
        assert_eq!(file_name("dir/"), "dir");
        assert_eq!(file_name(""), "");
    }

    #[test]
    fn a_framing_state_keeps_its_word_whatever_its_details() {
        let lost = Framing::Lost {
            offset: 7,
            reason: LostReason::Implausible,
        };
        assert_eq!(lost.state(), FramingState::Lost);
        assert_eq!(lost.state().code(), "lost");
        assert_eq!(Framing::NotBitTorrent.state().code(), "not_bittorrent");
    }
}
