//! BitTorrent peer wire (BEP 3, 5, 6, 10): each direction's byte stream, with its holes, into
//! messages; and each flow's kind.
//!
//! Layer: [`StreamSink`] events from reassembly in; per direction a [`DirDecoder`] with its
//! handshake, message counts, first times, framing status; per flow a [`Kind`].
//!
//! Kinds (the JSON `kind`):
//! - `bittorrent`: a handshake in either direction, at the start or after a preamble;
//! - `command`: Glasnost's text command channel (`replay ...`, `port N ok`, `log ...`);
//! - `control`: Glasnost's random-payload twin of a BitTorrent transfer: the client's first
//!   write is 68 random bytes where a handshake would be, and the stream breaks where the
//!   emulation's messages would (68, then 68 + 166 for the bitfield);
//! - `encrypted`: MSE/PE: the client opens with 96 to 608 high-entropy bytes (a
//!   Diffie-Hellman key and padding), no handshake;
//! - `other`: anything else, including flows with no payload.
//!
//! Memory: a flow's decoders are allocated on its first payload byte (a SYN flood costs
//! nothing here); events for the verbose view are kept only when asked for, up to a bound per
//! flow; text lines and events are also bounded for all flows together ([`Shared`]).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod bencode;
pub mod command;
pub mod decoder;
pub mod peer_id;

use std::collections::BTreeMap;

use crate::flows::{HoleCause, PacketRef, PerSide, Side, StreamSink};
pub use decoder::{DirDecoder, DirSummary, Framing, FramingState, LostReason};

/// A handshake as seen; fields the capture cut are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    pub at: PacketRef,
    pub offset: u64,
    pub reserved: Option<[u8; 8]>,
    pub info_hash: Option<[u8; 20]>,
    pub peer_id: Option<[u8; 20]>,
}

/// Reserved-bit meanings (byte index, mask, name) from BEP 4 and practice.
const RESERVED_BITS: &[(usize, u8, &str)] = &[
    (0, 0x80, "azureus_messaging"),
    (5, 0x10, "extension_protocol"),
    (7, 0x01, "dht"),
    (7, 0x04, "fast"),
    (7, 0x08, "nat_traversal"),
    (7, 0x10, "v2"),
];

/// Names of the reserved bits set; unknown bits as `byteN:0xMM`.
pub fn reserved_flags(r: &[u8; 8]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, &byte) in r.iter().enumerate() {
        for bit in (0..8).rev() {
            let mask = 1u8 << bit;
            if byte & mask == 0 {
                continue;
            }
            match RESERVED_BITS.iter().find(|(b, m, _)| *b == i && *m == mask) {
                Some((_, _, name)) => out.push((*name).to_string()),
                None => out.push(format!("byte{i}:0x{mask:02x}")),
            }
        }
    }
    out
}

/// The extended handshake's dictionary (BEP 10), the parts users look at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtHandshake {
    /// Client name and version (`v`).
    pub client: Option<String>,
    /// Listen port (`p`).
    pub port: Option<i64>,
    /// Outstanding request queue (`reqq`).
    pub reqq: Option<i64>,
    pub metadata_size: Option<i64>,
    /// Extension message ids the sender understands (`m`).
    pub messages: BTreeMap<String, i64>,
}

const MAX_STRING: usize = 128;
const MAX_EXTENSIONS: usize = 64;

impl ExtHandshake {
    pub fn decode(raw: &[u8]) -> Option<ExtHandshake> {
        let (v, _) = bencode::decode(raw)?;
        // Strings from the wire never carry control characters into reports or terminals.
        let text = |b: &[u8]| {
            let b = b.get(..b.len().min(MAX_STRING)).unwrap_or(b);
            String::from_utf8_lossy(b)
                .chars()
                .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                .collect::<String>()
        };
        let mut out = ExtHandshake {
            client: v.get("v").and_then(bencode::Value::as_bytes).map(text),
            port: v.get("p").and_then(bencode::Value::as_int),
            reqq: v.get("reqq").and_then(bencode::Value::as_int),
            metadata_size: v.get("metadata_size").and_then(bencode::Value::as_int),
            messages: BTreeMap::new(),
        };
        if let Some(bencode::Value::Dict(m)) = v.get("m") {
            for (k, id) in m.iter().take(MAX_EXTENSIONS) {
                if let Some(id) = id.as_int() {
                    out.messages.insert(text(k), id);
                }
            }
        }
        Some(out)
    }
}

/// Message kinds counted per direction, in a fixed order (the CSV column order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgKind {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have,
    Bitfield,
    Request,
    Piece,
    Cancel,
    Port,
    Suggest,
    HaveAll,
    HaveNone,
    Reject,
    AllowedFast,
    Extended,
    Unknown,
}

impl MsgKind {
    pub const COUNT: usize = 18;
    pub const ALL: [MsgKind; MsgKind::COUNT] = [
        MsgKind::KeepAlive,
        MsgKind::Choke,
        MsgKind::Unchoke,
        MsgKind::Interested,
        MsgKind::NotInterested,
        MsgKind::Have,
        MsgKind::Bitfield,
        MsgKind::Request,
        MsgKind::Piece,
        MsgKind::Cancel,
        MsgKind::Port,
        MsgKind::Suggest,
        MsgKind::HaveAll,
        MsgKind::HaveNone,
        MsgKind::Reject,
        MsgKind::AllowedFast,
        MsgKind::Extended,
        MsgKind::Unknown,
    ];

    /// The kind of a message id (BEP 3, 6, 10).
    pub fn of_id(id: u8) -> MsgKind {
        match id {
            0 => MsgKind::Choke,
            1 => MsgKind::Unchoke,
            2 => MsgKind::Interested,
            3 => MsgKind::NotInterested,
            4 => MsgKind::Have,
            5 => MsgKind::Bitfield,
            6 => MsgKind::Request,
            7 => MsgKind::Piece,
            8 => MsgKind::Cancel,
            9 => MsgKind::Port,
            13 => MsgKind::Suggest,
            14 => MsgKind::HaveAll,
            15 => MsgKind::HaveNone,
            16 => MsgKind::Reject,
            17 => MsgKind::AllowedFast,
            20 => MsgKind::Extended,
            _ => MsgKind::Unknown,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            MsgKind::KeepAlive => "keep_alive",
            MsgKind::Choke => "choke",
            MsgKind::Unchoke => "unchoke",
            MsgKind::Interested => "interested",
            MsgKind::NotInterested => "not_interested",
            MsgKind::Have => "have",
            MsgKind::Bitfield => "bitfield",
            MsgKind::Request => "request",
            MsgKind::Piece => "piece",
            MsgKind::Cancel => "cancel",
            MsgKind::Port => "port",
            MsgKind::Suggest => "suggest",
            MsgKind::HaveAll => "have_all",
            MsgKind::HaveNone => "have_none",
            MsgKind::Reject => "reject",
            MsgKind::AllowedFast => "allowed_fast",
            MsgKind::Extended => "extended",
            MsgKind::Unknown => "unknown",
        }
    }
}

/// One decoded message (or a change in what the decoder knows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Handshake(Handshake),
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have {
        index: u32,
    },
    Bitfield {
        len: u32,
    },
    Request {
        index: u32,
        begin: u32,
        length: u32,
    },
    Piece {
        index: u32,
        begin: u32,
        length: u32,
    },
    Cancel {
        index: u32,
        begin: u32,
        length: u32,
    },
    Port {
        port: u16,
    },
    Suggest {
        index: u32,
    },
    HaveAll,
    HaveNone,
    Reject {
        index: u32,
        begin: u32,
        length: u32,
    },
    AllowedFast {
        index: u32,
    },
    /// An extended handshake (sub-id 0); `None` when its dictionary was cut or malformed.
    ExtendedHandshake(Option<ExtHandshake>),
    Extended {
        sub_id: u8,
        len: u32,
    },
    Unknown {
        id: u8,
        len: u32,
    },
    /// A message whose length and id were captured but whose fields were cut.
    Cut {
        id: u8,
        len: u32,
    },
    FramingLost(LostReason),
    Resync {
        skipped: u64,
    },
}

impl Message {
    pub fn kind(&self) -> Option<MsgKind> {
        Some(match self {
            Message::KeepAlive => MsgKind::KeepAlive,
            Message::Choke => MsgKind::Choke,
            Message::Unchoke => MsgKind::Unchoke,
            Message::Interested => MsgKind::Interested,
            Message::NotInterested => MsgKind::NotInterested,
            Message::Have { .. } => MsgKind::Have,
            Message::Bitfield { .. } => MsgKind::Bitfield,
            Message::Request { .. } => MsgKind::Request,
            Message::Piece { .. } => MsgKind::Piece,
            Message::Cancel { .. } => MsgKind::Cancel,
            Message::Port { .. } => MsgKind::Port,
            Message::Suggest { .. } => MsgKind::Suggest,
            Message::HaveAll => MsgKind::HaveAll,
            Message::HaveNone => MsgKind::HaveNone,
            Message::Reject { .. } => MsgKind::Reject,
            Message::AllowedFast { .. } => MsgKind::AllowedFast,
            Message::ExtendedHandshake(_) | Message::Extended { .. } => MsgKind::Extended,
            Message::Unknown { .. } => MsgKind::Unknown,
            Message::Cut { id, .. } => MsgKind::of_id(*id),
            Message::Handshake(_) | Message::FramingLost(_) | Message::Resync { .. } => {
                return None;
            }
        })
    }

    /// One line for the verbose view, in Wireshark's words where it has them.
    pub fn describe(&self) -> String {
        match self {
            Message::Handshake(h) => {
                let id = h
                    .peer_id
                    .map_or("(cut)".to_string(), |p| peer_id::printable(&p));
                let hash = h.info_hash.map_or("(cut)".to_string(), |x| hex(&x));
                let flags = h
                    .reserved
                    .map(|r| reserved_flags(&r).join(","))
                    .unwrap_or_default();
                format!("Handshake info_hash={hash} peer_id={id} reserved=[{flags}]")
            }
            Message::KeepAlive => "Keep-alive".into(),
            Message::Choke => "Choke".into(),
            Message::Unchoke => "Unchoke".into(),
            Message::Interested => "Interested".into(),
            Message::NotInterested => "Not Interested".into(),
            Message::Have { index } => format!("Have piece={index}"),
            Message::Bitfield { len } => format!("Bitfield len={len}"),
            Message::Request {
                index,
                begin,
                length,
            } => {
                format!("Request piece={index} begin={begin} length={length}")
            }
            Message::Piece {
                index,
                begin,
                length,
            } => {
                format!("Piece piece={index} begin={begin} length={length}")
            }
            Message::Cancel {
                index,
                begin,
                length,
            } => {
                format!("Cancel piece={index} begin={begin} length={length}")
            }
            Message::Port { port } => format!("Port {port}"),
            Message::Suggest { index } => format!("Suggest piece={index}"),
            Message::HaveAll => "Have All".into(),
            Message::HaveNone => "Have None".into(),
            Message::Reject {
                index,
                begin,
                length,
            } => {
                format!("Reject piece={index} begin={begin} length={length}")
            }
            Message::AllowedFast { index } => format!("Allowed Fast piece={index}"),
            Message::ExtendedHandshake(Some(e)) => format!(
                "Extended handshake v={:?} p={} reqq={} m={{{}}}",
                e.client.as_deref().unwrap_or(""),
                e.port.map_or("-".into(), |p| p.to_string()),
                e.reqq.map_or("-".into(), |p| p.to_string()),
                e.messages
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Message::ExtendedHandshake(None) => {
                "Extended handshake (dictionary cut or malformed)".into()
            }
            Message::Extended { sub_id, len } => format!("Extended id={sub_id} len={len}"),
            Message::Unknown { id, len } => format!("Unknown id={id} len={len}"),
            Message::Cut { id, len } => format!(
                "{} len={len} (fields cut by the capture)",
                MsgKind::of_id(*id).code()
            ),
            Message::FramingLost(r) => format!("-- framing lost ({}) --", r.code()),
            Message::Resync { skipped } => {
                format!("-- framing regained after {skipped} unparsed bytes --")
            }
        }
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A message with where it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtEvent {
    pub side: Side,
    /// The packet that carried the message's first byte.
    pub at: PacketRef,
    /// Stream offset of its first byte.
    pub offset: u64,
    pub message: Message,
}

/// Text-line bytes all flows of a capture may keep together (16 MiB).
pub const TEXT_BUDGET: usize = 16 << 20;

/// Messages all flows of a capture may keep together for the verbose view.
pub const EVENTS_BUDGET: usize = 1_000_000;

/// What the decoders of a capture's flows share: the bounds on what they keep all together,
/// and how often those bounds were reached. The flow table holds the capture's one (in
/// [`crate::flows::Budgets::sink`]) and hands it to each decoder call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shared {
    text_left: usize,
    events_left: usize,
    /// Directions whose text lines stopped because [`TEXT_BUDGET`] was spent.
    pub text_cut: u64,
    /// Messages counted, not kept, because [`EVENTS_BUDGET`] was spent.
    pub events_cut: u64,
}

impl Shared {
    pub fn new(text: usize, events: usize) -> Shared {
        Shared {
            text_left: text,
            events_left: events,
            text_cut: 0,
            events_cut: 0,
        }
    }

    /// Spends `n` of `left`, if that much is left.
    fn take(left: &mut usize, n: usize) -> bool {
        match left.checked_sub(n) {
            Some(l) => {
                *left = l;
                true
            }
            None => false,
        }
    }
}

impl Default for Shared {
    fn default() -> Shared {
        Shared::new(TEXT_BUDGET, EVENTS_BUDGET)
    }
}

/// Events kept for the verbose view (only when asked, up to `max` per flow and the capture's
/// [`EVENTS_BUDGET`]); the rest are counted in `dropped`.
#[derive(Debug, Clone, Default)]
pub struct Events {
    keep: bool,
    max: usize,
    pub list: Vec<BtEvent>,
    pub dropped: u64,
}

impl Events {
    pub fn push(&mut self, e: BtEvent, shared: &mut Shared) {
        if !self.keep {
            return;
        }
        if self.list.len() >= self.max {
            self.dropped += 1;
        } else if !Shared::take(&mut shared.events_left, 1) {
            self.dropped += 1;
            shared.events_cut += 1;
        } else {
            self.list.push(e);
        }
    }
}

/// Where a direction's decoder puts what it keeps: its flow's events, and the bounds the
/// capture's flows share.
pub struct Out<'a> {
    pub events: &'a mut Events,
    pub shared: &'a mut Shared,
}

impl Out<'_> {
    pub fn push(&mut self, e: BtEvent) {
        self.events.push(e, self.shared);
    }
}

/// The first bytes and segment boundaries of a direction, for telling random payloads,
/// encryption preambles and Glasnost control flows apart, and for finding where a Glasnost
/// transfer's set-up exchange ends.
#[derive(Debug, Clone)]
pub struct Opening {
    sample: [u8; 256],
    sample_len: usize,
    /// No hole has interrupted the sample.
    sample_open: bool,
    /// The first segments: the stream offset where each ended, and the packet carrying it.
    segments: [(u64, PacketRef); OPENING_SEGMENTS],
    n_segments: usize,
    /// The highest stream offset reached.
    end: u64,
    /// The last packet that carried stream bytes (or a hole of them).
    pub last: Option<PacketRef>,
}

/// Segments whose boundaries a direction keeps: enough for a handshake, a bitfield of a few
/// kilobytes and the first piece data, however the sender split them.
pub const OPENING_SEGMENTS: usize = 16;

impl Default for Opening {
    fn default() -> Opening {
        Opening {
            sample: [0; 256],
            sample_len: 0,
            sample_open: true,
            segments: [(0, PacketRef::default()); OPENING_SEGMENTS],
            n_segments: 0,
            end: 0,
            last: None,
        }
    }
}

impl Opening {
    fn boundary(&mut self, at: PacketRef, end: u64) {
        self.last = Some(at);
        self.end = self.end.max(end);
        let n = self.n_segments;
        match n.checked_sub(1).and_then(|i| self.segments.get_mut(i)) {
            // The same packet again (its captured bytes, then the hole the snaplen cut).
            Some(seg) if seg.1.frame == at.frame => seg.0 = seg.0.max(end),
            _ => {
                if let Some(slot) = self.segments.get_mut(n) {
                    *slot = (end, at);
                    self.n_segments += 1;
                }
            }
        }
    }

    fn add_data(&mut self, offset: u64, bytes: &[u8], at: PacketRef) {
        self.boundary(at, offset + bytes.len() as u64);
        if self.sample_open && self.sample_len < self.sample.len() {
            let n = bytes.len().min(self.sample.len() - self.sample_len);
            if let (Some(dst), Some(src)) = (
                self.sample.get_mut(self.sample_len..self.sample_len + n),
                bytes.get(..n),
            ) {
                dst.copy_from_slice(src);
            }
            self.sample_len += n;
        }
    }

    fn add_hole(&mut self, len: u64, at: PacketRef) {
        let end = self.end + len;
        self.boundary(at, end);
        self.sample_open = false;
    }

    /// The highest stream offset reached.
    pub fn stream_end(&self) -> u64 {
        self.end
    }

    /// Stream offsets where the first segments ended, in order.
    pub fn write_ends(&self) -> Vec<u64> {
        self.segments().iter().map(|s| s.0).collect()
    }

    /// The first segments: where each ended in the stream, and the packet.
    pub fn segments(&self) -> &[(u64, PacketRef)] {
        self.segments.get(..self.n_segments).unwrap_or(&[])
    }

    /// The first packet that carried the stream past `offset` (the start of a Glasnost
    /// transfer's data phase, when `offset` is where its set-up exchange ended); `None` when
    /// the stream never went past it, or went past it beyond the segments kept.
    pub fn passing(&self, offset: u64) -> Option<PacketRef> {
        self.segments()
            .iter()
            .find(|(end, _)| *end > offset)
            .map(|(_, at)| *at)
    }

    pub fn sample(&self) -> &[u8] {
        self.sample.get(..self.sample_len).unwrap_or(&[])
    }
}

/// Bytes look uniformly random: as many distinct values as random bytes would show, and
/// not mostly printable text. Needs at least 48 bytes to judge.
pub fn high_entropy(b: &[u8]) -> bool {
    if b.len() < 48 {
        return false;
    }
    let mut seen = [false; 256];
    for &x in b {
        if let Some(s) = seen.get_mut(usize::from(x)) {
            *s = true;
        }
    }
    let distinct = seen.iter().filter(|&&s| s).count() as f64;
    let expected = 256.0 * (1.0 - (255.0f64 / 256.0).powi(b.len() as i32));
    let printable = b.iter().filter(|&&c| (0x20..0x7f).contains(&c)).count() as f64;
    distinct >= 0.85 * expected && printable < 0.6 * b.len() as f64
}

/// Text lines at the start of a stream (the Glasnost command channel), bounded.
#[derive(Debug, Clone, Default)]
pub struct TextLines {
    pub lines: Vec<(PacketRef, String)>,
    partial: Vec<u8>,
    partial_at: Option<PacketRef>,
    /// Stopped collecting: a non-text byte, a hole, or the bounds were reached.
    stopped: bool,
    /// A non-text byte was seen before any complete line.
    pub binary: bool,
    seen: usize,
}

const MAX_LINES: usize = 512;
const MAX_LINE: usize = 512;
const MAX_TEXT: usize = 64 << 10;

/// What a kept line costs the capture's [`TEXT_BUDGET`] beyond its bytes.
const LINE_OVERHEAD: usize = 48;

impl TextLines {
    fn add(&mut self, bytes: &[u8], at: PacketRef, shared: &mut Shared) {
        if self.stopped {
            return;
        }
        for &b in bytes {
            self.seen += 1;
            match b {
                b'\n' => {
                    if !Shared::take(&mut shared.text_left, self.partial.len() + LINE_OVERHEAD) {
                        shared.text_cut += 1;
                        self.stop();
                        return;
                    }
                    let text = String::from_utf8_lossy(&self.partial)
                        .trim_end_matches('\r')
                        .to_string();
                    let line_at = self.partial_at.take().unwrap_or(at);
                    self.lines.push((line_at, text));
                    self.partial.clear();
                    if self.lines.len() >= MAX_LINES {
                        self.stopped = true;
                        return;
                    }
                }
                b'\r' | b'\t' | 0x20..=0x7e => {
                    self.partial_at.get_or_insert(at);
                    self.partial.push(b);
                    if self.partial.len() > MAX_LINE {
                        self.stop();
                        return;
                    }
                }
                _ => {
                    self.binary |= self.lines.is_empty();
                    self.stop();
                    return;
                }
            }
            if self.seen >= MAX_TEXT {
                self.stop();
                return;
            }
        }
    }

    fn stop(&mut self) {
        self.stopped = true;
        self.partial = Vec::new();
    }

    /// Bytes the capture did not keep (a snaplen cut, a loss). A command channel writes a line
    /// per packet, so the line under way ends here, kept with [`command::CUT`] after it, and
    /// the bytes after the hole start the next line.
    fn hole(&mut self, at: PacketRef, shared: &mut Shared) {
        if self.stopped || self.partial.is_empty() {
            return;
        }
        if !Shared::take(&mut shared.text_left, self.partial.len() + LINE_OVERHEAD) {
            shared.text_cut += 1;
            self.stop();
            return;
        }
        let mut text = String::from_utf8_lossy(&self.partial).to_string();
        text.push(command::CUT);
        let line_at = self.partial_at.take().unwrap_or(at);
        self.lines.push((line_at, text));
        self.partial.clear();
        if self.lines.len() >= MAX_LINES {
            self.stopped = true;
        }
    }

    /// Lines only a Glasnost command channel carries ([`command::Line::is_distinctive`]).
    pub fn glasnost_commands(&self) -> usize {
        self.lines
            .iter()
            .filter(|(_, l)| command::parse(l).is_some_and(|c| c.is_distinctive()))
            .count()
    }
}

/// What a flow carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[serde(rename = "bittorrent")]
    BitTorrent,
    Control,
    Command,
    Encrypted,
    Other,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::BitTorrent => "bittorrent",
            Kind::Control => "control",
            Kind::Command => "command",
            Kind::Encrypted => "encrypted",
            Kind::Other => "other",
        }
    }
}

/// What to keep while decoding.
#[derive(Debug, Clone, Copy, Default)]
pub struct Config {
    /// Keep every message as an event (the verbose view).
    pub keep_events: bool,
    /// Events kept per flow when `keep_events` (default 100,000); more are counted.
    pub max_events: usize,
}

/// Both directions of a flow: the [`StreamSink`] a flow's reassembly feeds.
#[derive(Debug, Clone, Default)]
pub struct FlowDecoder {
    dirs: Option<Box<PerSide<DirDecoder>>>,
    pub events: Events,
}

impl FlowDecoder {
    pub fn new(cfg: Config) -> FlowDecoder {
        FlowDecoder {
            dirs: None,
            events: Events {
                keep: cfg.keep_events,
                max: if cfg.max_events == 0 {
                    100_000
                } else {
                    cfg.max_events
                },
                list: Vec::new(),
                dropped: 0,
            },
        }
    }

    /// The decoder of the bytes `side` sent; `None` if the flow carried no payload.
    pub fn dir(&self, side: Side) -> Option<&DirDecoder> {
        self.dirs.as_deref().map(|d| &d[side])
    }

    /// The flow's kind, from what both directions showed.
    pub fn kind(&self) -> Kind {
        let (Some(c), Some(s)) = (self.dir(Side::Client), self.dir(Side::Server)) else {
            return Kind::Other;
        };
        if c.handshake.is_some() || s.handshake.is_some() {
            return Kind::BitTorrent;
        }
        if c.text.glasnost_commands() + s.text.glasnost_commands() > 0 {
            return Kind::Command;
        }
        if is_control_opening(c, s) {
            return Kind::Control;
        }
        let c_ends = c.opening.write_ends();
        let c_sample = c.opening.sample();
        // MSE/PE: a Diffie-Hellman key (96 bytes) plus 0-512 bytes of padding first.
        let first = c_ends.first().copied().unwrap_or(0);
        if (96..=608).contains(&first) && high_entropy(c_sample) && !looks_like_tls(c_sample) {
            return Kind::Encrypted;
        }
        Kind::Other
    }
}

/// The handshake's length (BEP 3: 1 + 19 + 8 + 20 + 20 bytes).
pub const HANDSHAKE_LEN: u64 = 68;

/// A Glasnost control flow's opening, from the flow alone: where a BitTorrent handshake would
/// be, each side's first write is exactly a handshake's length of high-entropy bytes. Both
/// sides must have spoken: real clients also open with 68 obfuscated bytes that the peer never
/// answers (Transmission does), so one side alone proves nothing; the Glasnost analysis tells
/// such a flow by its schedule instead. Sizes after the handshake (bitfield, piece) vary
/// between implementations and are not looked at here; the Glasnost analysis also recognises
/// control flows whose sender merged writes, by their mirroring a BitTorrent transfer of the
/// same test.
fn is_control_opening(c: &DirDecoder, s: &DirDecoder) -> bool {
    let first_write = |d: &DirDecoder| d.opening.write_ends().first().copied();
    if first_write(c) != Some(HANDSHAKE_LEN) || first_write(s) != Some(HANDSHAKE_LEN) {
        return false;
    }
    // A sample long enough to judge: the whole handshake-length write, or what a snaplen
    // kept of it (48 bytes at least).
    let judgeable = |d: &DirDecoder| d.opening.sample().len() >= 48;
    let random = |d: &DirDecoder| {
        let sample = d.opening.sample();
        !judgeable(d) || high_entropy(sample.get(..HANDSHAKE_LEN as usize).unwrap_or(sample))
    };
    // Both sides' first writes that were captured must look random, and at least one must
    // have been captured well enough to judge.
    let judged = [c, s].iter().filter(|d| judgeable(d)).count();
    judged > 0 && random(c) && random(s)
}

fn looks_like_tls(b: &[u8]) -> bool {
    matches!(b, [0x16, 0x03, ..])
}

/// Both directions' decoders, allocated on the first payload byte.
fn dirs_of(dirs: &mut Option<Box<PerSide<DirDecoder>>>, side: Side) -> &mut DirDecoder {
    &mut dirs.get_or_insert_with(|| Box::new(PerSide::from_fn(DirDecoder::new)))[side]
}

impl StreamSink for FlowDecoder {
    type Shared = Shared;

    fn data(&mut self, side: Side, offset: u64, bytes: &[u8], at: PacketRef, shared: &mut Shared) {
        let FlowDecoder { dirs, events } = self;
        let d = dirs_of(dirs, side);
        let had = d.handshake.is_some();
        d.data(offset, bytes, at, &mut Out { events, shared });
        if !had && d.handshake_after_preamble() {
            dirs_of(dirs, side.peer()).follow_headless();
        }
    }

    fn hole(
        &mut self,
        side: Side,
        offset: u64,
        len: u64,
        _cause: HoleCause,
        at: PacketRef,
        shared: &mut Shared,
    ) {
        let FlowDecoder { dirs, events } = self;
        dirs_of(dirs, side).hole(offset, len, at, &mut Out { events, shared });
    }

    fn finish(&mut self, shared: &mut Shared) {
        if let Some(d) = self.dirs.as_deref_mut() {
            let mut out = Out {
                events: &mut self.events,
                shared,
            };
            for dir in d.iter_mut() {
                dir.finish(&mut out);
            }
        }
    }

    fn swap_sides(&mut self) {
        if let Some(d) = self.dirs.as_deref_mut() {
            d.swap();
            for side in Side::BOTH {
                d[side].set_side(side);
            }
        }
        for e in &mut self.events.list {
            e.side = e.side.peer();
        }
    }
}

#[cfg(test)]
mod tests;
