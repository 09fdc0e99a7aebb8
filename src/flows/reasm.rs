//! Sparse reassembly of one direction of a TCP connection.
//!
//! Input: segments as `(sequence number, declared length, captured bytes)`, and the peer's
//! acknowledgments. Output, through a [`StreamSink`]: the byte stream in order, as runs of
//! captured bytes and *holes* of known length, each at its stream offset (0 = the first byte
//! after the SYN, or the first byte seen when the capture starts mid-connection).
//!
//! - In-order data is handed on as a slice borrowed from the frame: nothing is copied.
//! - Bytes the snaplen cut (Glasnost keeps 200 payload bytes a packet) become a
//!   [`HoleCause::Truncated`] hole right after the captured part: their length is known from
//!   the IP header, their content is never invented.
//! - Out-of-order data is copied into a buffer, kept sorted and non-overlapping.
//! - Data below the next expected offset is a retransmission: counted, and compared with what
//!   was seen before where both copies are known (see [Overlaps](#overlaps)).
//!
//! # When bttrace stops waiting for missing bytes
//! A gap before buffered data is declared a hole when
//! 1. the out-of-order buffer exceeds its limit ([`Limits`]; default 8 MiB or 8,192 pieces per
//!    direction, within a shared bound for all flows): the oldest gap is given up, the
//!    buffered data behind it delivered;
//! 2. the flow ends with data still buffered.
//!
//! The hole's cause is [`HoleCause::NotCaptured`] where the receiver acknowledged the bytes
//! (they were sent and received: lost before the capture point), [`HoleCause::Overflow`] or
//! [`HoleCause::Unfilled`] elsewhere. An acknowledgment beyond a gap does not end the wait:
//! a capture whose packets are not in the order they passed (two capture queues written one
//! after the other, reordering deeper than the acknowledgments) has the receiver's ACKs
//! ahead of the data they acknowledge, and the data still comes, later in the file.
//!
//! Gaps given up under 1. or 2. are remembered ([`GIVEN_UP`] stretches; beyond that the
//! newest stretches over the next ones). Bytes of them that arrive later were captured after
//! all, too late to be reassembled (capture queues written one after the other, reordering
//! deeper than the buffer): they move from their hole's cause to
//! [`StreamStats::unassembled`], never counted as retransmitted nor as lost, up to the bytes
//! given up in their stretch (a retransmission inside a stretch may be counted unassembled,
//! never the reverse: neither is goodput). They are not delivered to the sink (the stream has
//! moved past them), so they count in no goodput or series.
//!
//! # Overlaps
//! An overlap whose bytes differ from the first copy is an anomaly (an injected segment, or a
//! broken middlebox). Both copies are compared wherever both are in memory: everything in the
//! out-of-order buffer, and for data already delivered, the first 8 bytes of each of the last
//! 16 delivered pieces (delivered data is not kept: that would copy every byte of the stream).
//! Overlaps elsewhere are counted as retransmitted bytes without a comparison.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::VecDeque;

use super::Side;
use super::seq::SeqNum;
use crate::capture::Timestamp;

/// The packet that brought some bytes (or revealed a hole).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketRef {
    pub frame: u64,
    pub ts: Timestamp,
}

/// Why bytes of a stream are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoleCause {
    /// On the wire, but cut from the capture by the snaplen.
    Truncated,
    /// Acknowledged by the receiver but never in the capture: lost before the capture point.
    NotCaptured,
    /// Given up waiting: the out-of-order buffer reached its limit.
    Overflow,
    /// The flow ended with these bytes still missing.
    Unfilled,
}

/// Receives one direction's byte stream in order.
///
/// What all sinks of a capture share (bounds spent together, counts of bounds reached) is
/// the sink's [`StreamSink::Shared`]: the flow table holds one for the capture, in its
/// [`Budgets`](super::Budgets), and hands it to every call. Nothing is shared behind the
/// caller's back.
pub trait StreamSink {
    /// The state all of a capture's sinks share.
    type Shared: Default + Clone + Copy + std::fmt::Debug;
    /// Captured bytes at `offset`.
    fn data(
        &mut self,
        side: Side,
        offset: u64,
        bytes: &[u8],
        at: PacketRef,
        shared: &mut Self::Shared,
    );
    /// `len` bytes at `offset` that exist but whose content is unknown.
    fn hole(
        &mut self,
        side: Side,
        offset: u64,
        len: u64,
        cause: HoleCause,
        at: PacketRef,
        shared: &mut Self::Shared,
    );
    /// The flow's client and server turned out to be the other way round.
    fn swap_sides(&mut self) {}
    /// The flow is over: nothing more will come in either direction.
    fn finish(&mut self, _shared: &mut Self::Shared) {}
}

/// A sink that ignores the stream (when only flow statistics are wanted).
impl StreamSink for () {
    type Shared = ();
    fn data(&mut self, _: Side, _: u64, _: &[u8], _: PacketRef, _: &mut ()) {}
    fn hole(&mut self, _: Side, _: u64, _: u64, _: HoleCause, _: PacketRef, _: &mut ()) {}
}

/// Bounds of the out-of-order buffer, per direction.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Captured bytes held while waiting for a gap to fill (default 8 MiB: reordering of a
    /// few hundred kilobytes, as swapped blocks or two capture queues give, is reassembled).
    pub max_pending_bytes: usize,
    /// Separate pieces held (default 8,192); bounds bookkeeping when pieces are tiny.
    pub max_pending_pieces: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_pending_bytes: 8 << 20,
            max_pending_pieces: 8192,
        }
    }
}

/// What reassembly counted, per direction. All in bytes unless named otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Stream bytes seen for the first time (captured or cut by the snaplen).
    pub unique: u64,
    /// Bytes seen again (retransmissions and overlaps).
    pub retransmitted: u64,
    /// Holes by cause.
    pub truncated: u64,
    pub not_captured: u64,
    pub overflow: u64,
    pub unfilled: u64,
    /// Bytes captured after their gap was given up (a hole of cause `NotCaptured` or
    /// `Overflow`), so never reassembled: neither lost nor retransmitted.
    pub unassembled: u64,
    /// Bytes before the stream's origin (retransmissions of data sent before a mid-stream
    /// capture began).
    pub before_origin: u64,
    /// Segments whose overlapping bytes differ from the first copy.
    pub overlap_mismatches: u32,
    pub first_mismatch_frame: Option<u64>,
}

/// New and repeated bytes in one pushed segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pushed {
    pub new: u64,
    pub retransmitted: u64,
    /// Bytes of a given-up gap (see [`StreamStats::unassembled`]).
    pub unassembled: u64,
}

/// Given-up stretches remembered per direction (512 bytes at most, allocated with the first
/// gap given up: bounded per flow as the flow table bounds flows).
pub const GIVEN_UP: usize = 16;

/// Stream bytes in `[start, end)` given up and not yet seen, by cause (a stretch over several
/// gaps holds fewer than its length).
#[derive(Debug, Clone, Copy)]
struct GivenUp {
    start: u64,
    end: u64,
    not_captured: u64,
    overflow: u64,
}

struct Pending {
    start: u64,
    len: u64,
    /// Captured prefix of the piece (shorter than `len` where the snaplen cut it).
    data: Vec<u8>,
    at: PacketRef,
}

impl Pending {
    fn end(&self) -> u64 {
        self.start + self.len
    }
}

#[derive(Clone, Copy, Default)]
struct Sample {
    start: u64,
    head: [u8; 8],
    n: u8,
}

const SAMPLES: usize = 16;

/// One direction's reassembly state.
pub struct Stream {
    side: Side,
    /// Sequence number of stream offset `next`; `None` until the origin is known.
    next_seq: Option<SeqNum>,
    /// Next expected offset: everything below was delivered or declared a hole.
    next: u64,
    /// Highest offset any segment reached.
    end_seen: u64,
    /// Highest offset the receiver acknowledged (no higher than `end_seen`): a gap below it
    /// that is given up was lost before the capture point.
    acked_to: u64,
    pending: VecDeque<Pending>,
    pending_bytes: usize,
    /// The last gaps given up, sorted, non-overlapping (allocated with the first one).
    given_up: VecDeque<GivenUp>,
    /// Allocated with the first data delivered: a flow without payload costs nothing here.
    samples: Option<Box<[Sample; SAMPLES]>>,
    sample_pos: usize,
    limits: Limits,
    pub stats: StreamStats,
}

impl Stream {
    pub fn new(side: Side, limits: Limits) -> Stream {
        Stream {
            side,
            next_seq: None,
            next: 0,
            end_seen: 0,
            acked_to: 0,
            pending: VecDeque::new(),
            pending_bytes: 0,
            given_up: VecDeque::new(),
            samples: None,
            sample_pos: 0,
            limits,
            stats: StreamStats::default(),
        }
    }

    /// Sets offset 0 at `seq` (the ISN + 1, or the first byte seen mid-stream). Later calls
    /// are ignored once any byte has been delivered.
    pub fn set_origin(&mut self, seq: SeqNum) {
        if self.next_seq.is_none() || (self.next == 0 && self.pending.is_empty()) {
            self.next_seq = Some(seq);
        }
    }

    /// Renames the direction (when the flow's roles turn out swapped).
    pub fn set_side(&mut self, side: Side) {
        self.side = side;
    }

    pub fn has_origin(&self) -> bool {
        self.next_seq.is_some()
    }

    /// Next expected offset.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Highest offset reached by any segment.
    pub fn end_seen(&self) -> u64 {
        self.end_seen
    }

    /// Stream offset of `seq` (negative: before the origin); `None` before the origin is set.
    pub fn offset_of(&self, seq: SeqNum) -> Option<i64> {
        self.next_seq.map(|n| self.next as i64 + seq.diff(n))
    }

    /// Bytes and pieces waiting in the out-of-order buffer.
    pub fn pending(&self) -> (usize, usize) {
        (self.pending_bytes, self.pending.len())
    }

    /// Takes one segment: `len` payload bytes at `seq`, of which `data` (a prefix) were
    /// captured.
    pub fn push<S: StreamSink>(
        &mut self,
        seq: SeqNum,
        len: u64,
        data: &[u8],
        at: PacketRef,
        sink: &mut S,
        shared: &mut S::Shared,
    ) -> Pushed {
        let mut out = Pushed::default();
        if len == 0 {
            return out;
        }
        let Some(off) = self.offset_of(seq) else {
            return out;
        };
        let data = data.get(..data.len().min(len as usize)).unwrap_or(data);
        let end = off + len as i64;
        // Bytes before the origin: sent before a mid-stream capture began.
        let (start, data) = if off < 0 {
            let cut = end.min(0) - off;
            self.stats.before_origin += cut as u64;
            out.retransmitted += cut as u64;
            if end <= 0 {
                self.stats.retransmitted += cut as u64;
                return out;
            }
            self.stats.retransmitted += cut as u64;
            (0u64, data.get(cut as usize..).unwrap_or(&[]))
        } else {
            (off as u64, data)
        };
        let end = end as u64;
        self.end_seen = self.end_seen.max(end);

        // Below `next`: already delivered (or given up as a hole).
        let (start, data) = if start < self.next {
            let dup_end = end.min(self.next);
            let late = self.take_given_up(start, dup_end);
            let dup = dup_end - start - late;
            out.retransmitted += dup;
            out.unassembled += late;
            self.stats.retransmitted += dup;
            self.compare_with_samples(start, data.get(..dup as usize).unwrap_or(data), at);
            if end <= self.next {
                return out;
            }
            (self.next, data.get(dup as usize..).unwrap_or(&[]))
        } else {
            (start, data)
        };

        if start == self.next {
            // In order: deliver straight from the frame up to the first buffered piece.
            let limit = self.pending.front().map_or(end, |p| p.start.min(end));
            let n = limit - start;
            let head = data.get(..data.len().min(n as usize)).unwrap_or(data);
            self.record_sample(start, head);
            self.deliver(start, n, head, at, sink, shared);
            out.new += n;
            if limit < end {
                let rest = data.get(n as usize..).unwrap_or(&[]);
                let (new, dup) = self.insert(limit, end, rest, at);
                out.new += new;
                out.retransmitted += dup;
            }
            self.drain(sink, shared);
            self.enforce_limits(at, sink, shared);
        } else {
            let (new, dup) = self.insert(start, end, data, at);
            out.new += new;
            out.retransmitted += dup;
            self.enforce_limits(at, sink, shared);
        }
        self.stats.unique += out.new;
        out
    }

    /// The peer acknowledged everything before `ack`: bytes missing below it, if they never
    /// come, were lost before the capture point. Only up to the highest offset seen, so a
    /// forged or bogus acknowledgment cannot make bttrace invent stream bytes.
    pub fn acked(&mut self, ack: SeqNum) {
        let Some(a) = self.offset_of(ack) else { return };
        if a <= self.next as i64 || self.end_seen <= self.next {
            return;
        }
        self.acked_to = self.acked_to.max((a as u64).min(self.end_seen));
    }

    /// Delivers everything still buffered, declaring the gaps between, and any gap before
    /// the highest offset the sender is known to have reached (a FIN's), as unfilled holes.
    pub fn flush<S: StreamSink>(&mut self, at: PacketRef, sink: &mut S, shared: &mut S::Shared) {
        while let Some(start) = self.pending.front().map(|p| p.start) {
            self.fill_to(start, HoleCause::Unfilled, at, sink, shared);
        }
        let end = self.end_seen;
        self.fill_to(end, HoleCause::Unfilled, at, sink, shared);
    }

    /// Gives up every gap now (all flows together hold too much out-of-order data): the
    /// buffered data is delivered, the gaps before it declared overflow holes.
    pub fn give_up<S: StreamSink>(&mut self, at: PacketRef, sink: &mut S, shared: &mut S::Shared) {
        while let Some(start) = self.pending.front().map(|p| p.start) {
            self.fill_to(start, HoleCause::Overflow, at, sink, shared);
        }
    }

    /// The sender is known to have sent up to `offset` (its FIN's sequence number says so).
    pub fn note_end(&mut self, offset: i64) {
        if offset > self.end_seen as i64 {
            self.end_seen = offset as u64;
        }
    }

    fn deliver<S: StreamSink>(
        &mut self,
        start: u64,
        len: u64,
        data: &[u8],
        at: PacketRef,
        sink: &mut S,
        shared: &mut S::Shared,
    ) {
        if !data.is_empty() {
            sink.data(self.side, start, data, at, shared);
        }
        let missing = len - data.len() as u64;
        if missing > 0 {
            self.stats.truncated += missing;
            sink.hole(
                self.side,
                start + data.len() as u64,
                missing,
                HoleCause::Truncated,
                at,
                shared,
            );
        }
        self.next = start + len;
        if let Some(s) = self.next_seq {
            self.next_seq = Some(s + len as u32);
        }
    }

    /// Delivers buffered pieces that now continue the stream.
    fn drain<S: StreamSink>(&mut self, sink: &mut S, shared: &mut S::Shared) {
        while self.pending.front().is_some_and(|p| p.start <= self.next) {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            self.pending_bytes -= p.data.len();
            if p.end() <= self.next {
                continue;
            }
            let skip = self.next - p.start;
            let data = p.data.get(skip as usize..).unwrap_or(&[]);
            self.record_sample(self.next, data);
            self.deliver(self.next, p.len - skip, data, p.at, sink, shared);
        }
    }

    /// Declares holes from `next` up to `limit` (except where buffered data fills them).
    fn fill_to<S: StreamSink>(
        &mut self,
        limit: u64,
        cause: HoleCause,
        at: PacketRef,
        sink: &mut S,
        shared: &mut S::Shared,
    ) {
        loop {
            self.drain(sink, shared);
            if self.next >= limit {
                break;
            }
            let mut hole_end = self.pending.front().map_or(limit, |p| p.start.min(limit));
            // Bytes the receiver acknowledged were lost before the capture point, whatever
            // ended the wait for them.
            let cause = match cause {
                HoleCause::Overflow | HoleCause::Unfilled if self.next < self.acked_to => {
                    hole_end = hole_end.min(self.acked_to);
                    HoleCause::NotCaptured
                }
                c => c,
            };
            let len = hole_end - self.next;
            match cause {
                HoleCause::Truncated => self.stats.truncated += len,
                HoleCause::NotCaptured => self.stats.not_captured += len,
                HoleCause::Overflow => self.stats.overflow += len,
                HoleCause::Unfilled => self.stats.unfilled += len,
            }
            if matches!(cause, HoleCause::NotCaptured | HoleCause::Overflow) {
                self.remember_given_up(self.next, hole_end, cause);
            }
            sink.hole(self.side, self.next, len, cause, at, shared);
            self.next = hole_end;
            if let Some(s) = self.next_seq {
                self.next_seq = Some(s + len as u32);
            }
        }
    }

    fn enforce_limits<S: StreamSink>(
        &mut self,
        at: PacketRef,
        sink: &mut S,
        shared: &mut S::Shared,
    ) {
        while self.pending_bytes > self.limits.max_pending_bytes
            || self.pending.len() > self.limits.max_pending_pieces
        {
            let Some(start) = self.pending.front().map(|p| p.start) else {
                break;
            };
            self.fill_to(start, HoleCause::Overflow, at, sink, shared);
        }
    }

    /// Remembers a gap given up (always above every gap remembered before). When
    /// [`GIVEN_UP`] are remembered, the newest stretches over the new one: late bytes in the
    /// stretch count as unassembled only up to the bytes actually given up in it.
    fn remember_given_up(&mut self, start: u64, end: u64, cause: HoleCause) {
        let len = end - start;
        let (nc, ov) = match cause {
            HoleCause::NotCaptured => (len, 0),
            _ => (0, len),
        };
        let full = self.given_up.len() >= GIVEN_UP;
        if let Some(last) = self.given_up.back_mut() {
            if last.end == start || full {
                last.end = end;
                last.not_captured += nc;
                last.overflow += ov;
                return;
            }
        }
        self.given_up.push_back(GivenUp {
            start,
            end,
            not_captured: nc,
            overflow: ov,
        });
    }

    /// Bytes of `[start, end)` that fill remembered given-up gaps: taken out of their cause's
    /// count, into `unassembled` (a gap once filled is forgotten: a second copy is a
    /// retransmission).
    fn take_given_up(&mut self, start: u64, end: u64) -> u64 {
        if self.given_up.is_empty() {
            return 0;
        }
        let mut late = 0;
        let mut i = self.given_up.partition_point(|g| g.end <= start);
        while let Some(g) = self.given_up.get_mut(i) {
            if g.start >= end {
                break;
            }
            let mut n = g.end.min(end) - g.start.max(start);
            let nc = n.min(g.not_captured);
            g.not_captured -= nc;
            n -= nc;
            let ov = n.min(g.overflow);
            g.overflow -= ov;
            self.stats.not_captured = self.stats.not_captured.saturating_sub(nc);
            self.stats.overflow = self.stats.overflow.saturating_sub(ov);
            late += nc + ov;
            if g.not_captured == 0 && g.overflow == 0 {
                self.given_up.remove(i);
            } else {
                i += 1;
            }
        }
        self.stats.unassembled += late;
        late
    }

    /// Buffers `[start, end)` (all beyond `next`), keeping only what no buffered piece covers
    /// and comparing the overlaps. Returns (new bytes, overlapping bytes).
    fn insert(&mut self, start: u64, end: u64, data: &[u8], at: PacketRef) -> (u64, u64) {
        let mut cur = start;
        let mut new = 0;
        let mut dup = 0;
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut mismatch = false;
        // Pieces are sorted and non-overlapping: skip those ending before `start`.
        let first = self.pending.partition_point(|p| p.end() <= start);
        for p in self.pending.range(first..) {
            if p.end() <= cur {
                continue;
            }
            if p.start >= end {
                break;
            }
            if p.start > cur {
                pieces.push((cur, p.start));
            }
            let (a, b) = (cur.max(p.start), end.min(p.end()));
            dup += b - a;
            mismatch |= differs(p.start, &p.data, start, data, a, b);
            cur = cur.max(p.end());
            if cur >= end {
                break;
            }
        }
        if cur < end {
            pieces.push((cur, end));
        }
        if mismatch {
            self.note_mismatch(at);
        }
        self.stats.retransmitted += dup;
        for (a, b) in pieces {
            let lo = ((a - start) as usize).min(data.len());
            let hi = ((b - start) as usize).min(data.len());
            let bytes = data.get(lo..hi).unwrap_or(&[]).to_vec();
            self.pending_bytes += bytes.len();
            new += b - a;
            let idx = self.pending.partition_point(|p| p.start < a);
            self.pending.insert(
                idx,
                Pending {
                    start: a,
                    len: b - a,
                    data: bytes,
                    at,
                },
            );
        }
        (new, dup)
    }

    fn record_sample(&mut self, start: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let n = data.len().min(8);
        let mut head = [0u8; 8];
        if let (Some(dst), Some(src)) = (head.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        let samples = self
            .samples
            .get_or_insert_with(|| Box::new([Sample::default(); SAMPLES]));
        if let Some(slot) = samples.get_mut(self.sample_pos) {
            *slot = Sample {
                start,
                head,
                n: n as u8,
            };
        }
        self.sample_pos = (self.sample_pos + 1) % SAMPLES;
    }

    fn compare_with_samples(&mut self, start: u64, data: &[u8], at: PacketRef) {
        let end = start + data.len() as u64;
        let mismatch = self.samples.iter().flat_map(|b| b.iter()).any(|s| {
            s.n > 0
                && differs(
                    s.start,
                    s.head.get(..usize::from(s.n)).unwrap_or(&[]),
                    start,
                    data,
                    start.max(s.start),
                    end.min(s.start + u64::from(s.n)),
                )
        });
        if mismatch {
            self.note_mismatch(at);
        }
    }

    fn note_mismatch(&mut self, at: PacketRef) {
        self.stats.overlap_mismatches += 1;
        self.stats.first_mismatch_frame.get_or_insert(at.frame);
    }
}

/// Whether two captured copies (`x` at `xs`, `y` at `ys`) differ anywhere in `[a, b)` where
/// both hold bytes.
fn differs(xs: u64, x: &[u8], ys: u64, y: &[u8], a: u64, b: u64) -> bool {
    let lo = a.max(xs).max(ys);
    let hi = b.min(xs + x.len() as u64).min(ys + y.len() as u64);
    if lo >= hi {
        return false;
    }
    let xa = x.get((lo - xs) as usize..(hi - xs) as usize);
    let ya = y.get((lo - ys) as usize..(hi - ys) as usize);
    xa != ya
}

#[cfg(test)]
mod tests;
