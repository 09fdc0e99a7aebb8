//! One direction's peer-wire decoder: byte runs and holes in, messages out.
//!
//! The decoder reads only what it must: a message's 4-byte length, its id and the few fixed
//! fields of small messages; a body (a 16 KiB block or Glasnost's 12.5 MB piece) is skipped
//! by arithmetic, so payload bytes are never copied. A header split across segments is carried
//! in a small buffer.
//!
//! Holes (bytes the snaplen cut, or packets the capture missed):
//! - a hole inside a body is skipped like the body: the next message start is known;
//! - a hole over a header makes the framing unknown: the direction is *lost* from the start
//!   of that message. While lost, the decoder looks for a header it can trust: at the start
//!   of a segment, an id with a length that fits it (and, for a piece, index and offset that
//!   fit a torrent), or anywhere when the message after it is a valid header too. Until then,
//!   bytes are counted as unparsed and no message is reported.
//! - A bulk transfer repeats its piece size, so after a header lost in a hole the next one is
//!   *predicted* where a message as long as the last one would end (and the one after, while
//!   the predicted places fall in holes too). Where a predicted place was captured, the five
//!   bytes of length and id must repeat the last message's: then framing is regained there;
//!   if they differ, predicting stops. Anywhere in a captured run, a header repeating the last
//!   one's length and id that would be trusted at a segment's start is trusted too. Chance
//!   bytes match five given bytes once in 2^40, and the messages skipped in the holes are not
//!   counted: counts after a loss stay lower bounds.
//! - Only zero bytes can start a header (no length that fits reaches 2^24), so a lost
//!   direction tries only those, found with a SIMD search: piece data costs a few
//!   nanoseconds a segment, not one trial per byte.
//! - A stream that does not open with a handshake is searched for one within its first
//!   [`MAX_PREAMBLE`] bytes (a handshake after an encryption-style preamble).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::{BtEvent, ExtHandshake, Handshake, Message, MsgKind, Opening, Out, TextLines};
use crate::bytes::{array, be16, be32};
use crate::flows::{PacketRef, Side};

/// The handshake's first 20 bytes: pstrlen 19 and the protocol string (BEP 3).
pub const PSTR: &[u8; 20] = b"\x13BitTorrent protocol";
/// How far into a stream a handshake is looked for (after an MSE/PE preamble at most
/// 608 bytes plus the negotiation, so 4 KiB is generous).
pub const MAX_PREAMBLE: u64 = 4096;
/// The largest message believed: Glasnost's 12.5 MB pieces fit, a garbage length does not.
pub const MAX_MESSAGE: u32 = 1 << 25;
/// Most bytes of an extended handshake's dictionary kept for decoding.
pub const MAX_EXT_DICT: usize = 4096;

/// Where the direction's message framing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Every byte so far belonged to a known message (or is still to be seen).
    Ok,
    /// Framing was lost at this stream offset (and perhaps regained later: see `resyncs`).
    Lost { offset: u64, reason: LostReason },
    /// No handshake within the first [`MAX_PREAMBLE`] bytes: not decoded as BitTorrent.
    NotBitTorrent,
    /// The stream ended (or, beside a plaintext peer, was followed without one) before a
    /// handshake appeared.
    NoHandshake,
    /// The direction carried no payload.
    NoPayload,
}

/// [`Framing`] without its details: the word the reports write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FramingState {
    Ok,
    Lost,
    #[serde(rename = "not_bittorrent")]
    NotBitTorrent,
    NoHandshake,
    NoPayload,
}

impl FramingState {
    pub fn code(self) -> &'static str {
        match self {
            FramingState::Ok => "ok",
            FramingState::Lost => "lost",
            FramingState::NotBitTorrent => "not_bittorrent",
            FramingState::NoHandshake => "no_handshake",
            FramingState::NoPayload => "no_payload",
        }
    }
}

impl Framing {
    /// The state without the details.
    pub fn state(self) -> FramingState {
        match self {
            Framing::Ok => FramingState::Ok,
            Framing::Lost { .. } => FramingState::Lost,
            Framing::NotBitTorrent => FramingState::NotBitTorrent,
            Framing::NoHandshake => FramingState::NoHandshake,
            Framing::NoPayload => FramingState::NoPayload,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LostReason {
    /// A message header fell in a hole (snaplen cut or capture loss).
    HeaderInHole,
    /// A length or id no peer sends.
    #[serde(rename = "implausible_header")]
    Implausible,
}

impl LostReason {
    pub fn code(self) -> &'static str {
        match self {
            LostReason::HeaderInHole => "header_in_hole",
            LostReason::Implausible => "implausible_header",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing seen yet.
    Opening,
    /// No handshake at the start: searching the first bytes for one.
    Searching,
    /// Collecting the 68-byte handshake.
    Handshake,
    /// At or inside a message's header and fixed fields.
    Header,
    /// Skipping the rest of a body.
    Body,
    /// Collecting an extended handshake's dictionary.
    ExtDict,
    /// Framing lost: looking for a trustworthy header.
    Lost,
    /// Not BitTorrent; nothing more to decode.
    Done,
}

/// Fixed bytes after the id that bttrace reads, and the message lengths that fit the id.
fn layout(id: u8) -> (usize, LenRule) {
    match id {
        0 | 1 | 2 | 3 | 14 | 15 => (0, LenRule::Exactly(1)),
        4 | 13 | 17 => (4, LenRule::Exactly(5)),
        // The first byte of a bitfield tells a seeder (0xff) from a leecher (0x00).
        5 => (1, LenRule::AtLeast(2)),
        6 | 8 | 16 => (12, LenRule::Exactly(13)),
        7 => (8, LenRule::AtLeast(9)),
        9 => (2, LenRule::Exactly(3)),
        20 => (1, LenRule::AtLeast(2)),
        _ => (0, LenRule::AtLeast(1)),
    }
}

#[derive(Clone, Copy)]
enum LenRule {
    Exactly(u32),
    AtLeast(u32),
}

fn fits(id: u8, len: u32) -> bool {
    match layout(id).1 {
        LenRule::Exactly(n) => len == n,
        LenRule::AtLeast(n) => len >= n && len <= MAX_MESSAGE,
    }
}

/// Ids a resynchronisation may land on: BEP 3 and BEP 6 messages. Keep-alives, unknown ids,
/// and extended messages are too easily imitated by field bytes to be trusted.
fn resync_id(id: u8) -> bool {
    id <= 9 || (13..=17).contains(&id)
}

/// A header at the start of `b` (a segment) that bttrace trusts: an id with a fixed length
/// of 3 bytes or more that matches (have, request, cancel, port, the BEP 6 messages), or a
/// piece carrying a block of a size clients use (a power of two from 1 KiB to 4 MiB, or
/// Glasnost's 12,500,000 bytes) at an offset that is a multiple of 1 KiB; and where the next
/// header lies inside `b`, it must be valid too. One-byte messages (`00 00 00 01 0x`) and bitfields are too easily
/// imitated by a length field to be trusted alone.
fn trusted_alone(b: &[u8]) -> bool {
    let (Some(len), Some(&id)) = (be32(b, 0), b.get(4)) else {
        return false;
    };
    if !resync_id(id) || !fits(id, len) {
        return false;
    }
    let shaped = match id {
        7 => {
            let block = len - 9;
            let block_ok = (block.is_power_of_two() && (1 << 10..=1 << 22).contains(&block))
                || block == 12_500_000;
            match (be32(b, 5), be32(b, 9)) {
                (Some(index), Some(begin)) => {
                    block_ok && index < 1 << 20 && begin < MAX_MESSAGE && begin % 1024 == 0
                }
                _ => false,
            }
        }
        4 | 6 | 8 | 9 | 13 | 16 | 17 => true,
        _ => false,
    };
    let next = 4 + len as usize;
    shaped
        && match (be32(b, next), b.get(next + 4)) {
            (Some(nlen), Some(&nid)) => resync_id(nid) && fits(nid, nlen),
            // The message ends at or beyond the end of what was captured.
            _ => true,
        }
}

/// Three consecutive headers inside `b`, starting at `b[0]`, all of ids a resync may land on
/// with lengths that fit them: field bytes almost never imitate that.
pub(super) fn trusted_chain(b: &[u8]) -> bool {
    let mut at = 0usize;
    for _ in 0..3 {
        let (Some(len), Some(&id)) = (be32(b, at), b.get(at + 4)) else {
            return false;
        };
        if !resync_id(id) || !fits(id, len) {
            return false;
        }
        at += 4 + len as usize;
    }
    at <= b.len()
}

/// Bytes from a message's start to the next one's, from its length prefix.
fn step(header: &[u8; 5]) -> u64 {
    4 + u64::from(u32::from_be_bytes([
        header[0], header[1], header[2], header[3],
    ]))
}

/// The first offset after `b[0]` where a lost direction may resynchronise: a chain of three
/// headers ([`trusted_chain`]), or a header repeating `last` (the length and id of the last
/// message read) that would be trusted at the start of a segment ([`trusted_alone`]): a bulk
/// transfer repeats its piece size, and chance bytes match five given bytes once in 2^40.
/// Every length that fits an id is at most [`MAX_MESSAGE`] (2^25), so a header's first byte
/// is zero: only the zero bytes of `b` are tried, found with a SIMD search (random piece data
/// has one in 256).
pub(super) fn resync_point(b: &[u8], last: Option<&[u8; 5]>) -> Option<usize> {
    let end = b.len().saturating_sub(4);
    let hay = b.get(1..end.max(1)).unwrap_or(&[]);
    memchr::memchr_iter(0, hay).map(|i| i + 1).find(|&i| {
        b.get(i..).is_some_and(|t| {
            trusted_chain(t) || last.is_some_and(|h| t.get(..5) == Some(&h[..]) && trusted_alone(t))
        })
    })
}

/// A segment that parses, from its first byte to its last, into valid messages (ids a resync
/// may land on, or extended messages, with lengths that fit; keep-alives alone do not count):
/// chance bytes almost never fill a segment exactly.
fn exact_fill(b: &[u8]) -> bool {
    let mut at = 0usize;
    let mut messages = 0;
    while at < b.len() {
        let Some(len) = be32(b, at) else {
            return false;
        };
        if len > 0 {
            let Some(&id) = b.get(at + 4) else {
                return false;
            };
            if !(resync_id(id) || id == 20) || !fits(id, len) {
                return false;
            }
            messages += 1;
        }
        at = match at.checked_add(4 + len as usize) {
            Some(next) => next,
            None => return false,
        };
    }
    at == b.len() && messages > 0
}

#[derive(Debug, Clone)]
pub struct DirDecoder {
    side: Side,
    /// Next stream offset expected.
    pos: u64,
    phase: Phase,
    buf: [u8; 68],
    have: usize,
    msg_start: u64,
    msg_at: PacketRef,
    body_left: u64,
    ext: Vec<u8>,
    ext_target: usize,
    /// Last bytes seen while searching, to match the protocol string across runs.
    tail: Vec<u8>,
    /// Handshake bytes before this index were captured; later ones fell in a hole.
    hs_valid: usize,
    /// Bytes passed since the framing was last lost.
    lost_run: u64,
    /// Length prefix and id of the last message whose header was read.
    last: Option<[u8; 5]>,
    /// While lost: the stream offset where the next header is expected if every message
    /// since the loss repeated the last one's length (a bulk transfer repeats its piece size).
    predict: Option<u64>,
    /// The body being skipped belongs to a piece message: its bytes are block bytes, after
    /// `fixed_left` bytes of fixed fields still to pass.
    in_piece: bool,
    fixed_left: u64,
    /// Following the stream without a handshake (the peer's handshake came in plaintext after
    /// an encryption preamble; this side's was inside the encrypted part).
    headless: bool,

    pub handshake: Option<Handshake>,
    /// Bytes before the handshake (an encryption-style preamble), when it did not open the
    /// stream.
    pub preamble: Option<u64>,
    pub counts: [u64; MsgKind::COUNT],
    /// First time each kind of message was seen.
    pub first: [Option<PacketRef>; MsgKind::COUNT],
    /// Block bytes carried by piece messages (their length minus 9).
    pub piece_bytes: u64,
    /// Stream offset where the first piece message starts (where a Glasnost transfer's
    /// set-up exchange ends and its data phase begins).
    pub first_piece_offset: Option<u64>,
    /// The first byte of the first bitfield: 0xff from a seeder, 0x00 from a leecher.
    pub first_bitfield_byte: Option<u8>,
    pub ext_handshake: Option<ExtHandshake>,
    pub framing: Framing,
    pub resyncs: u32,
    /// Bytes passed while the framing was lost.
    pub unparsed: u64,
    /// Hole bytes inside messages whose framing was known (skipped, not lost).
    pub hole_bytes: u64,
    pub opening: Opening,
    pub text: TextLines,
}

/// What one direction's decoder found, for the reports ([`DirDecoder::summary`]): the parts a
/// reader looks at, without the decoder's working state.
#[derive(Debug, Clone, PartialEq)]
pub struct DirSummary {
    pub handshake: Option<Handshake>,
    /// Bytes before the handshake when it did not open the stream (never `Some(0)`).
    pub preamble_bytes: Option<u64>,
    /// Messages by kind, the kinds seen only, in [`MsgKind::ALL`] order.
    pub messages: Vec<(MsgKind, u64)>,
    /// Where each kind seen was first seen, in the same order.
    pub first: Vec<(MsgKind, PacketRef)>,
    pub piece_bytes: u64,
    pub extended: Option<ExtHandshake>,
    pub framing: FramingState,
    /// Where the framing was lost, and why (for [`FramingState::Lost`]).
    pub lost_at: Option<u64>,
    pub lost_reason: Option<LostReason>,
    pub resyncs: u32,
    pub unparsed_bytes: u64,
    pub hole_bytes: u64,
}

impl DirDecoder {
    /// What this direction carried, as the reports say it.
    pub fn summary(&self) -> DirSummary {
        let (lost_at, lost_reason) = match self.framing {
            Framing::Lost { offset, reason } => (Some(offset), Some(reason)),
            Framing::Ok | Framing::NotBitTorrent | Framing::NoHandshake | Framing::NoPayload => {
                (None, None)
            }
        };
        DirSummary {
            handshake: self.handshake,
            preamble_bytes: self.preamble.filter(|&p| p > 0),
            messages: MsgKind::ALL
                .into_iter()
                .zip(self.counts)
                .filter(|&(_, n)| n > 0)
                .collect(),
            first: MsgKind::ALL
                .into_iter()
                .zip(self.first)
                .filter_map(|(k, at)| at.map(|a| (k, a)))
                .collect(),
            piece_bytes: self.piece_bytes,
            extended: self.ext_handshake.clone(),
            framing: self.framing.state(),
            lost_at,
            lost_reason,
            resyncs: self.resyncs,
            unparsed_bytes: self.unparsed,
            hole_bytes: self.hole_bytes,
        }
    }

    pub fn new(side: Side) -> DirDecoder {
        DirDecoder {
            side,
            pos: 0,
            phase: Phase::Opening,
            buf: [0; 68],
            have: 0,
            msg_start: 0,
            msg_at: PacketRef::default(),
            body_left: 0,
            ext: Vec::new(),
            ext_target: 0,
            tail: Vec::new(),
            hs_valid: 68,
            lost_run: 0,
            last: None,
            predict: None,
            in_piece: false,
            fixed_left: 0,
            headless: false,
            handshake: None,
            preamble: None,
            counts: [0; MsgKind::COUNT],
            first: [None; MsgKind::COUNT],
            piece_bytes: 0,
            first_piece_offset: None,
            first_bitfield_byte: None,
            ext_handshake: None,
            framing: Framing::Ok,
            resyncs: 0,
            unparsed: 0,
            hole_bytes: 0,
            opening: Opening::default(),
            text: TextLines::default(),
        }
    }

    pub fn set_side(&mut self, side: Side) {
        self.side = side;
    }

    /// Stream offset decoded up to.
    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn data(&mut self, offset: u64, bytes: &[u8], at: PacketRef, ev: &mut Out<'_>) {
        // The reassembler delivers in order; be safe against anything else.
        if offset > self.pos {
            self.hole(self.pos, offset - self.pos, at, ev);
        }
        let bytes = bytes
            .get((self.pos.saturating_sub(offset)) as usize..)
            .unwrap_or(&[]);
        let offset = offset.max(self.pos);
        self.opening.add_data(offset, bytes, at);
        self.text.add(bytes, at, ev.shared);
        let mut rest = bytes;
        let mut run_start = true;
        while !rest.is_empty() {
            let used = match self.phase {
                Phase::Opening => {
                    self.phase = if rest.first() == PSTR.first() {
                        Phase::Handshake
                    } else {
                        Phase::Searching
                    };
                    0
                }
                Phase::Searching => self.search(rest, at),
                Phase::Handshake => self.take_handshake(rest, at, ev),
                Phase::Header => self.take_header(rest, at, ev),
                Phase::Body => {
                    let n = (rest.len() as u64).min(self.body_left);
                    self.skip_body(n);
                    n as usize
                }
                Phase::ExtDict => self.take_ext(rest, ev),
                Phase::Lost => self.resync(rest, run_start, at, ev),
                Phase::Done => rest.len(),
            };
            run_start = false;
            self.pos += used as u64;
            rest = rest.get(used..).unwrap_or(&[]);
        }
    }

    pub fn hole(&mut self, offset: u64, len: u64, at: PacketRef, ev: &mut Out<'_>) {
        if offset > self.pos {
            let gap = offset - self.pos;
            self.hole(self.pos, gap, at, ev);
        }
        self.opening.add_hole(len, at);
        self.text.hole(at, ev.shared);
        let mut left = len;
        while left > 0 {
            let used = match self.phase {
                Phase::Opening | Phase::Handshake => {
                    // A handshake needs its protocol string; without it there is nothing to
                    // report. After it, the fields a hole covers are unknown, the rest kept.
                    if self.phase == Phase::Handshake && self.have >= PSTR.len() {
                        let n = left.min((68 - self.have) as u64);
                        self.hs_valid = self.hs_valid.min(self.have);
                        self.have += n as usize;
                        if self.have == 68 {
                            self.finish_handshake(ev);
                        }
                        n
                    } else {
                        self.lose(LostReason::HeaderInHole, ev);
                        0
                    }
                }
                Phase::Searching => {
                    self.tail.clear();
                    if self.pos + left > MAX_PREAMBLE {
                        self.phase = Phase::Done;
                        self.framing = Framing::NotBitTorrent;
                    }
                    left
                }
                Phase::Header => {
                    let len = be32(&self.buf, 0).unwrap_or(0);
                    let id = self.buf.get(4).copied().unwrap_or(0);
                    if self.have >= 5 && fits(id, len) {
                        // The length and id were seen, the fixed fields were cut: the message
                        // is counted by kind, and the next one's start is known.
                        self.emit(ev, Message::Cut { id, len }, self.msg_at, self.msg_start);
                        self.last = array::<5>(&self.buf, 0);
                        let fixed = layout(id).0 as u64;
                        let consumed = self.have as u64 - 4;
                        self.body_left = u64::from(len) - consumed;
                        self.in_piece = id == 7;
                        self.fixed_left = (1 + fixed).saturating_sub(consumed);
                        self.have = 0;
                        self.phase = if self.body_left > 0 {
                            Phase::Body
                        } else {
                            Phase::Header
                        };
                    } else {
                        self.lose(LostReason::HeaderInHole, ev);
                    }
                    0
                }
                Phase::Body => {
                    let n = left.min(self.body_left);
                    self.skip_body(n);
                    self.hole_bytes += n;
                    n
                }
                Phase::ExtDict => {
                    // The dictionary is incomplete: report the message without it.
                    self.emit(
                        ev,
                        Message::ExtendedHandshake(None),
                        self.msg_at,
                        self.msg_start,
                    );
                    self.phase = Phase::Body;
                    self.body_left -= self.ext.len() as u64;
                    self.ext.clear();
                    0
                }
                Phase::Lost => {
                    self.unparsed += left;
                    self.lost_run += left;
                    self.predict_past(self.pos + left);
                    left
                }
                Phase::Done => left,
            };
            self.pos += used;
            left -= used;
        }
    }

    /// The stream ended. A handshake cut short after its protocol string is reported with
    /// the fields that were seen, as when a hole cuts it.
    pub fn finish(&mut self, ev: &mut Out<'_>) {
        if self.phase == Phase::Handshake && self.have >= PSTR.len() {
            self.hs_valid = self.hs_valid.min(self.have);
            self.finish_handshake(ev);
        }
        if self.handshake.is_none() && self.framing == Framing::Ok {
            self.framing = match self.phase {
                _ if self.pos == 0 => Framing::NoPayload,
                _ => Framing::NoHandshake,
            };
        }
    }

    /// Follows the stream without a handshake: the peer's plaintext handshake came after an
    /// encryption preamble, so this side's was inside the encrypted part and plaintext
    /// messages may follow. Only from the search for a handshake.
    pub fn follow_headless(&mut self) {
        if self.phase == Phase::Searching && self.handshake.is_none() {
            self.headless = true;
            self.phase = Phase::Lost;
            self.tail.clear();
        }
    }

    /// A handshake was found after a preamble (not at the start of the stream).
    pub fn handshake_after_preamble(&self) -> bool {
        self.handshake.is_some() && self.preamble.is_some_and(|p| p > 0)
    }

    fn skip_body(&mut self, n: u64) {
        self.body_left -= n;
        if self.in_piece {
            let fixed = n.min(self.fixed_left);
            self.fixed_left -= fixed;
            self.piece_bytes += n - fixed;
        }
        if self.body_left == 0 {
            self.in_piece = false;
            self.phase = Phase::Header;
        }
    }

    fn lose(&mut self, reason: LostReason, ev: &mut Out<'_>) {
        // Inside a header the loss starts where that message began; at a boundary, here.
        let inside = matches!(self.phase, Phase::Header | Phase::Handshake) && self.have > 0;
        let offset = if inside { self.msg_start } else { self.pos };
        // A header in a hole, at a known message start: the next header is predicted where
        // a message as long as the last one would end, unless the captured first bytes of
        // this one already differ from the last one's.
        let seen = self.buf.get(..self.have.min(5)).unwrap_or(&[]);
        self.predict = match (reason, self.phase, self.last) {
            (LostReason::HeaderInHole, Phase::Header, Some(last))
                if last.get(..seen.len()) == Some(seen) =>
            {
                Some(offset + step(&last))
            }
            _ => None,
        };
        if self.framing == Framing::Ok && !self.headless {
            self.framing = Framing::Lost { offset, reason };
        }
        self.lost_run = self.pos - offset;
        ev.push(BtEvent {
            side: self.side,
            at: self.msg_at,
            offset,
            message: Message::FramingLost(reason),
        });
        self.unparsed += self.pos - offset;
        self.phase = Phase::Lost;
        self.have = 0;
    }

    fn search(&mut self, b: &[u8], at: PacketRef) -> usize {
        // Look in the carried tail plus this run, without copying the run.
        let window_end = (MAX_PREAMBLE.saturating_sub(self.pos) as usize).min(b.len());
        let scan = b.get(..window_end).unwrap_or(&[]);
        let mut joined = std::mem::take(&mut self.tail);
        let keep = joined.len();
        joined.extend_from_slice(scan.get(..scan.len().min(PSTR.len() - 1)).unwrap_or(&[]));
        let found_in_joined = find(&joined, PSTR);
        let found = match found_in_joined {
            Some(i) => Some(i as i64 - keep as i64),
            None => find(scan, PSTR).map(|i| i as i64),
        };
        if let Some(rel) = found {
            // The handshake starts `rel` bytes into this run (negative: in the tail).
            let start = self.pos as i64 + rel;
            self.preamble = Some(start.max(0) as u64);
            self.msg_start = start.max(0) as u64;
            self.msg_at = at;
            let from_tail = (-rel).max(0) as usize;
            // Seed the handshake buffer with the bytes already passed.
            let tail_part = joined.get(keep - from_tail..keep).unwrap_or(&[]);
            self.buf = [0; 68];
            if let Some(dst) = self.buf.get_mut(..tail_part.len()) {
                dst.copy_from_slice(tail_part);
            }
            self.have = tail_part.len();
            self.phase = Phase::Handshake;
            return rel.max(0) as usize;
        }
        let consumed = scan.len();
        let mut tail = joined.get(..keep).unwrap_or(&[]).to_vec();
        tail.extend_from_slice(scan);
        let cut = tail.len().saturating_sub(PSTR.len() - 1);
        self.tail = tail.split_off(cut);
        if self.pos + consumed as u64 >= MAX_PREAMBLE {
            self.phase = Phase::Done;
            self.framing = Framing::NotBitTorrent;
            return b.len();
        }
        consumed
    }

    fn take_handshake(&mut self, b: &[u8], at: PacketRef, ev: &mut Out<'_>) -> usize {
        if self.have == 0 {
            self.msg_start = self.pos;
            self.msg_at = at;
        }
        let n = b.len().min(68 - self.have);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.have..self.have + n), b.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.have += n;
        // Check the protocol string as soon as it is complete.
        if self.have >= PSTR.len() && self.buf.get(..PSTR.len()) != Some(&PSTR[..]) {
            self.have = 0;
            if self.handshake.is_none() && self.preamble.is_none() && self.pos < MAX_PREAMBLE {
                self.phase = Phase::Searching;
                return 1;
            }
            self.lose(LostReason::Implausible, ev);
            return 0;
        }
        if self.have == 68 {
            self.finish_handshake(ev);
        }
        n
    }

    fn finish_handshake(&mut self, ev: &mut Out<'_>) {
        let valid = self.hs_valid.min(self.have);
        let hs = Handshake {
            at: self.msg_at,
            offset: self.msg_start,
            reserved: (valid >= 28).then(|| array::<8>(&self.buf, 20)).flatten(),
            info_hash: (valid >= 48).then(|| array::<20>(&self.buf, 28)).flatten(),
            peer_id: (valid >= 68).then(|| array::<20>(&self.buf, 48)).flatten(),
        };
        self.hs_valid = 68;
        if self.handshake.is_none() {
            self.handshake = Some(hs);
        }
        ev.push(BtEvent {
            side: self.side,
            at: self.msg_at,
            offset: self.msg_start,
            message: Message::Handshake(hs),
        });
        self.have = 0;
        self.phase = Phase::Header;
    }

    fn take_header(&mut self, b: &[u8], at: PacketRef, ev: &mut Out<'_>) -> usize {
        if self.have == 0 {
            self.msg_start = self.pos;
            self.msg_at = at;
        }
        // How many header bytes are needed so far: the length, then the id, then the fields.
        let need = match self.have {
            0..=3 => 4,
            4 => {
                let len = be32(&self.buf, 0).unwrap_or(0);
                if len == 0 { 4 } else { 5 }
            }
            _ => 5 + layout(self.buf.get(4).copied().unwrap_or(0)).0,
        };
        let n = b.len().min(need - self.have);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.have..self.have + n), b.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.have += n;
        if self.have < need {
            return n;
        }
        let len = be32(&self.buf, 0).unwrap_or(0);
        if self.have == 4 {
            if len == 0 {
                self.emit(ev, Message::KeepAlive, self.msg_at, self.msg_start);
                self.have = 0;
            } else if len > MAX_MESSAGE {
                self.lose(LostReason::Implausible, ev);
            }
            return n;
        }
        let id = self.buf.get(4).copied().unwrap_or(0);
        if !fits(id, len) {
            self.lose(LostReason::Implausible, ev);
            return n;
        }
        self.last = array::<5>(&self.buf, 0);
        let fixed = layout(id).0;
        if self.have < 5 + fixed {
            return n;
        }
        let f = self.buf.get(5..).unwrap_or(&[]);
        let word = |at| be32(f, at).unwrap_or(0);
        let body = u64::from(len) - 1 - fixed as u64;
        let message = match id {
            0 => Message::Choke,
            1 => Message::Unchoke,
            2 => Message::Interested,
            3 => Message::NotInterested,
            4 => Message::Have { index: word(0) },
            5 => {
                if self.first_bitfield_byte.is_none() {
                    self.first_bitfield_byte = f.first().copied();
                }
                Message::Bitfield { len: len - 1 }
            }
            6 => Message::Request {
                index: word(0),
                begin: word(4),
                length: word(8),
            },
            7 => Message::Piece {
                index: word(0),
                begin: word(4),
                length: len - 9,
            },
            8 => Message::Cancel {
                index: word(0),
                begin: word(4),
                length: word(8),
            },
            9 => Message::Port {
                port: be16(f, 0).unwrap_or(0),
            },
            13 => Message::Suggest { index: word(0) },
            14 => Message::HaveAll,
            15 => Message::HaveNone,
            16 => Message::Reject {
                index: word(0),
                begin: word(4),
                length: word(8),
            },
            17 => Message::AllowedFast { index: word(0) },
            20 => {
                let sub = f.first().copied().unwrap_or(0);
                if sub == 0 {
                    self.have = 0;
                    self.body_left = body;
                    self.ext.clear();
                    self.ext_target = (body as usize).min(MAX_EXT_DICT);
                    if self.ext_target == 0 {
                        // An extended handshake with no dictionary at all.
                        self.emit(
                            ev,
                            Message::ExtendedHandshake(None),
                            self.msg_at,
                            self.msg_start,
                        );
                        self.after_fixed();
                    } else {
                        // Decoded once the dictionary is collected.
                        self.phase = Phase::ExtDict;
                    }
                    return n;
                }
                Message::Extended { sub_id: sub, len }
            }
            other => Message::Unknown { id: other, len },
        };
        self.in_piece = id == 7;
        self.fixed_left = 0;
        self.emit(ev, message, self.msg_at, self.msg_start);
        self.have = 0;
        self.body_left = body;
        self.after_fixed();
        n
    }

    fn after_fixed(&mut self) {
        self.phase = if self.body_left > 0 {
            Phase::Body
        } else {
            Phase::Header
        };
    }

    fn take_ext(&mut self, b: &[u8], ev: &mut Out<'_>) -> usize {
        let n = b.len().min(self.ext_target - self.ext.len());
        self.ext.extend_from_slice(b.get(..n).unwrap_or(&[]));
        if self.ext.len() == self.ext_target {
            let decoded = ExtHandshake::decode(&self.ext);
            if self.ext_handshake.is_none() {
                self.ext_handshake = decoded.clone();
            }
            self.emit(
                ev,
                Message::ExtendedHandshake(decoded),
                self.msg_at,
                self.msg_start,
            );
            self.body_left -= self.ext.len() as u64;
            self.ext = Vec::new();
            self.after_fixed();
        }
        n
    }

    /// While lost: finds a header to trust in this run, or counts the run as unparsed.
    fn resync(&mut self, b: &[u8], run_start: bool, at: PacketRef, ev: &mut Out<'_>) -> usize {
        let predicted = self.check_predictions(b);
        let start_ok = run_start && (trusted_alone(b) || exact_fill(b));
        let found = if start_ok {
            Some(0)
        } else {
            let scanned = resync_point(b, self.last.as_ref());
            match (predicted, scanned) {
                (Some(p), Some(q)) => Some(p.min(q)),
                (p, q) => p.or(q),
            }
        };
        match found {
            Some(i) => {
                self.unparsed += i as u64;
                self.lost_run += i as u64;
                self.resyncs += 1;
                ev.push(BtEvent {
                    side: self.side,
                    at,
                    offset: self.pos + i as u64,
                    message: Message::Resync {
                        skipped: self.lost_run,
                    },
                });
                self.lost_run = 0;
                self.predict = None;
                self.phase = Phase::Header;
                self.have = 0;
                i
            }
            None => {
                self.unparsed += b.len() as u64;
                self.lost_run += b.len() as u64;
                b.len()
            }
        }
    }

    /// Checks the predicted header positions that fall in `b` (at `self.pos`): the first
    /// where all five bytes of the last header repeat is returned; where fewer were
    /// captured and they repeat, the prediction moves on a message; where they differ, the
    /// message in the hole was of another length and predicting stops.
    fn check_predictions(&mut self, b: &[u8]) -> Option<usize> {
        let last = self.last?;
        while let Some(p) = self.predict {
            let Some(i) = p.checked_sub(self.pos).map(|i| i as usize) else {
                self.predict = None;
                break;
            };
            if i >= b.len() {
                break;
            }
            let seen = b.get(i..b.len().min(i + 5)).unwrap_or(&[]);
            if last.get(..seen.len()) != Some(seen) {
                self.predict = None;
            } else if seen.len() == 5 {
                return Some(i);
            } else {
                self.predict = Some(p + step(&last));
            }
        }
        None
    }

    /// Moves the predicted header position past `end`, a message at a time: headers there
    /// fell in a hole and cannot be checked.
    fn predict_past(&mut self, end: u64) {
        if let (Some(p), Some(last)) = (self.predict, self.last) {
            if p < end {
                let step = step(&last);
                // Usually one message on (a hole shorter than a piece): no division then.
                let gap = end - p;
                let steps = if gap <= step { 1 } else { gap.div_ceil(step) };
                self.predict = Some(p + steps * step);
            }
        }
    }

    fn emit(&mut self, ev: &mut Out<'_>, message: Message, at: PacketRef, offset: u64) {
        let kind = message.kind();
        if let Some(k) = kind {
            if let Some(c) = self.counts.get_mut(k as usize) {
                *c += 1;
            }
            if let Some(f) = self.first.get_mut(k as usize) {
                f.get_or_insert(at);
            }
            if k == MsgKind::Piece {
                self.first_piece_offset.get_or_insert(offset);
            }
        }
        ev.push(BtEvent {
            side: self.side,
            at,
            offset,
            message,
        });
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
