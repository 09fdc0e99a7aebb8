//! Large bulk captures written as a stream, for the speed benchmarks (`bench/compare.sh`,
//! `examples/bench_capture.rs`): several long BitTorrent transfers and random-payload flows
//! interleaved segment by segment, written at full size and cut to a snaplen at once.
//!
//! The flows are shaped as the captures users sweep: MSS-sized segments (1448 payload bytes,
//! TCP timestamps on, so 66 header bytes before the payload on Ethernet) that cut across
//! message boundaries, so that in a capture cut to 254 bytes a packet most piece headers fall
//! where the bytes were not kept. The set ([`FLOWS`]):
//! - 16 KiB blocks, as clients ask for them, downloaded and uploaded;
//! - Glasnost's 2009 pieces (one 256 KiB block each) and its 2010+ 12,500,000-byte pieces;
//! - two control twins: random bytes from the first to the last.
//!
//! Nothing is held in memory but one segment per flow: the pieces' bodies come from a 1 MiB
//! pool of random bytes, read cyclically.

use std::io::{self, Write};

use crate::btparse::Message;
use crate::capture::{LinkType, Timestamp};
use crate::flows::Side;
use crate::synth::{Conv, Packet, bt, glasnost::random};
use crate::wire::TcpFlags as F;

/// TCP payload bytes per full segment.
pub const MSS: usize = 1448;

/// What a flow's data direction carries: piece messages of `block` bytes each, back to back
/// after the set-up messages, `per_piece` blocks to a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub block: u32,
    pub per_piece: u32,
}

/// One bulk flow: its server port, which side seeds, what it carries; a `control` flow
/// sends the same sizes at the same times with every byte random (Glasnost's control twin).
#[derive(Debug, Clone, Copy)]
pub struct FlowSpec {
    pub port: u16,
    pub seeder: Side,
    pub shape: Shape,
    pub control: bool,
}

const BLOCKS_16K: Shape = Shape {
    block: 16 << 10,
    per_piece: 16,
};
const GLASNOST_2009: Shape = Shape {
    block: 256 << 10,
    per_piece: 1,
};
const GLASNOST_2010: Shape = Shape {
    block: 12_500_000,
    per_piece: 1,
};

/// The benchmark's flows.
pub const FLOWS: [FlowSpec; 6] = [
    FlowSpec {
        port: 6881,
        seeder: Side::Server,
        shape: BLOCKS_16K,
        control: false,
    },
    FlowSpec {
        port: 6882,
        seeder: Side::Client,
        shape: BLOCKS_16K,
        control: false,
    },
    FlowSpec {
        port: 6883,
        seeder: Side::Server,
        shape: GLASNOST_2009,
        control: false,
    },
    FlowSpec {
        port: 6884,
        seeder: Side::Client,
        shape: GLASNOST_2010,
        control: false,
    },
    FlowSpec {
        port: 6885,
        seeder: Side::Server,
        shape: GLASNOST_2009,
        control: true,
    },
    FlowSpec {
        port: 50_000,
        seeder: Side::Client,
        shape: GLASNOST_2010,
        control: true,
    },
];

const POOL: usize = 1 << 20;

/// A direction's byte stream, produced on demand.
struct Wire {
    shape: Shape,
    /// Every byte from the pool (a control flow).
    control: bool,
    /// Set-up messages still to send, in writes of their own.
    setup: Vec<Vec<u8>>,
    /// Bytes queued ahead of the body (a piece header).
    head: Vec<u8>,
    head_at: usize,
    body_left: u64,
    pool_at: usize,
    /// Next block: piece index and block number within the piece; blocks begun so far.
    index: u32,
    block_no: u32,
    blocks: u64,
}

impl Wire {
    fn new(spec: &FlowSpec, seeder: bool, seed: usize) -> Wire {
        let fill = if seeder { 0xff } else { 0 };
        let last = if seeder {
            Message::Unchoke
        } else {
            Message::Interested
        };
        let setup = vec![
            bt::handshake([0; 8], [7; 20], b"-GN0100-benchbenchab"),
            bt::message(&Message::Bitfield { len: 161 }, fill).unwrap_or_default(),
            bt::message(&last, 0).unwrap_or_default(),
        ];
        Wire {
            shape: spec.shape,
            control: spec.control,
            setup,
            head: Vec::new(),
            head_at: 0,
            body_left: 0,
            pool_at: seed * 7919 % POOL,
            index: 0,
            block_no: 0,
            blocks: 0,
        }
    }

    /// Queues the next piece message's header; its block follows.
    fn next_piece(&mut self) {
        let piece = Message::Piece {
            index: self.index,
            begin: self.block_no * self.shape.block,
            length: 0,
        };
        let mut h = bt::message(&piece, 0).unwrap_or_default();
        if let Some(len) = h.get_mut(..4) {
            len.copy_from_slice(&(9 + self.shape.block).to_be_bytes());
        }
        self.head = h;
        self.head_at = 0;
        self.body_left = u64::from(self.shape.block);
        self.blocks += 1;
        self.block_no += 1;
        if self.block_no == self.shape.per_piece {
            self.block_no = 0;
            self.index += 1;
        }
    }

    /// Appends `k` bytes of the pool to `out`, or `bytes` when this is not a control flow.
    fn put(&mut self, out: &mut Vec<u8>, bytes: Option<&[u8]>, k: usize, pool: &[u8]) {
        match bytes {
            Some(b) if !self.control => out.extend_from_slice(&b[..k]),
            _ => {
                let mut left = k;
                while left > 0 {
                    let n = left.min(pool.len() - self.pool_at);
                    out.extend_from_slice(&pool[self.pool_at..self.pool_at + n]);
                    self.pool_at = (self.pool_at + n) % pool.len();
                    left -= n;
                }
            }
        }
    }

    /// The next set-up message, as its own write.
    fn next_setup(&mut self, pool: &[u8]) -> Option<Vec<u8>> {
        if self.setup.is_empty() {
            return None;
        }
        let m = self.setup.remove(0);
        let mut out = Vec::with_capacity(m.len());
        self.put(&mut out, Some(&m), m.len(), pool);
        Some(out)
    }

    /// Appends `n` bytes of the piece phase to `out`.
    fn fill(&mut self, out: &mut Vec<u8>, n: usize, pool: &[u8]) {
        let goal = out.len() + n;
        while out.len() < goal {
            let want = goal - out.len();
            let head = std::mem::take(&mut self.head);
            if let Some(h) = head.get(self.head_at..).filter(|h| !h.is_empty()) {
                let k = want.min(h.len());
                self.put(out, Some(h), k, pool);
                self.head_at += k;
                self.head = head;
            } else if self.body_left > 0 {
                let k = (want as u64).min(self.body_left) as usize;
                self.put(out, None, k, pool);
                self.body_left -= k as u64;
            } else {
                self.next_piece();
            }
        }
    }

    /// A request for every block begun since `since` (at most four, 17 bytes each).
    fn requests(&mut self, out: &mut Vec<u8>, seeder: &Wire, since: u64, pool: &[u8]) {
        for _ in since..seeder.blocks.min(since + 4) {
            let r = Message::Request {
                index: seeder.index,
                begin: 0,
                length: self.shape.block,
            };
            let r = bt::message(&r, 0).unwrap_or_default();
            self.put(out, Some(&r), r.len(), pool);
        }
    }
}

/// A classic little-endian pcap file written record by record (microsecond timestamps).
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: usize,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W, link: LinkType, snaplen: usize) -> io::Result<PcapWriter<W>> {
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&[0; 8])?;
        out.write_all(&(snaplen as u32).to_le_bytes())?;
        out.write_all(&link.0.to_le_bytes())?;
        Ok(PcapWriter { out, snaplen })
    }

    /// Writes one frame, cut to the file's snaplen.
    pub fn write(&mut self, ts: Timestamp, frame: &[u8]) -> io::Result<()> {
        let cut = frame.len().min(self.snaplen);
        let secs = ts.0.div_euclid(1_000_000_000) as u32;
        let micros = (ts.0.rem_euclid(1_000_000_000) / 1000) as u32;
        for v in [secs, micros, cut as u32, frame.len() as u32] {
            self.out.write_all(&v.to_le_bytes())?;
        }
        self.out.write_all(&frame[..cut])
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// What [`write`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub packets: u64,
    pub payload: u64,
}

/// Writes the [`FLOWS`] with about `payload` TCP payload bytes in all, into every writer
/// given (the same packets; each writer cuts them to its own snaplen). Ethernet, 1.5 µs
/// between packets, round robin over the flows; the leecher acknowledges every fourth
/// segment, and sends a request for each block begun.
pub fn write<W: Write>(writers: &mut [PcapWriter<W>], payload: u64) -> io::Result<Written> {
    let pool = random(POOL, 0x5eed);
    let mut flows: Vec<(FlowSpec, Conv, Wire, Wire)> = FLOWS
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let c = Conv::new(
                format!("198.51.100.1:{}", 40_000 + i)
                    .parse()
                    .expect("an address"),
                format!("203.0.113.1:{}", spec.port)
                    .parse()
                    .expect("an address"),
            );
            (
                *spec,
                c,
                Wire::new(spec, true, 2 * i),
                Wire::new(spec, false, 2 * i + 1),
            )
        })
        .collect();
    let mut w = Written::default();
    let mut ts = Packet::default().ts;
    let mut ip_id = 0u16;
    let mut emit = |c: &mut Conv, w: &mut Written, writers: &mut [PcapWriter<W>]| {
        for mut p in c.packets.drain(..) {
            ts = Timestamp(ts.0 + 1_500);
            ip_id = ip_id.wrapping_add(1);
            p.ts = ts;
            p.ip_id = ip_id;
            // NOP, NOP, timestamps (RFC 7323).
            let tsval = (ts.0 / 1_000_000) as u32;
            p.options = vec![1, 1, 8, 10];
            p.options.extend_from_slice(&tsval.to_be_bytes());
            p.options
                .extend_from_slice(&tsval.wrapping_sub(1).to_be_bytes());
            let frame = crate::synth::frame(LinkType::ETHERNET, &p.ip_bytes());
            for out in writers.iter_mut() {
                out.write(p.ts, &frame)?;
            }
            w.packets += 1;
            w.payload += p.payload.len() as u64;
        }
        Ok::<(), io::Error>(())
    };
    for (spec, c, seeder, leecher) in &mut flows {
        c.handshake();
        // The leecher speaks first at each step, as in Glasnost's emulation.
        while let Some(m) = leecher.next_setup(&pool) {
            c.send(spec.seeder.peer(), F::PSH | F::ACK, &m);
            if let Some(m) = seeder.next_setup(&pool) {
                c.send(spec.seeder, F::PSH | F::ACK, &m);
            }
        }
        emit(c, &mut w, writers)?;
    }
    let per_flow = payload / FLOWS.len() as u64;
    let mut sent = vec![0u64; flows.len()];
    let mut seg = Vec::with_capacity(MSS);
    let mut round = 0u64;
    while sent.iter().any(|&s| s < per_flow) {
        for ((spec, c, seeder, leecher), sent) in flows.iter_mut().zip(&mut sent) {
            if *sent >= per_flow {
                continue;
            }
            let before = seeder.blocks;
            seg.clear();
            seeder.fill(&mut seg, MSS, &pool);
            *sent += MSS as u64;
            c.send(spec.seeder, F::ACK, &seg);
            if round % 4 == 3 || seeder.blocks > before {
                seg.clear();
                leecher.requests(&mut seg, seeder, before, &pool);
                let flags = if seg.is_empty() {
                    F::ACK
                } else {
                    F::PSH | F::ACK
                };
                c.send(spec.seeder.peer(), flags, &seg);
            }
            emit(c, &mut w, writers)?;
        }
        round += 1;
    }
    for (_, c, _, _) in &mut flows {
        c.close();
        emit(c, &mut w, writers)?;
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, analyze_bytes};

    fn both(payload: u64) -> (Vec<u8>, Vec<u8>, Written) {
        let mut ws = [
            PcapWriter::new(Vec::new(), LinkType::ETHERNET, 262_144).unwrap(),
            PcapWriter::new(Vec::new(), LinkType::ETHERNET, 254).unwrap(),
        ];
        let n = write(&mut ws, payload).unwrap();
        let [full, cut] = ws;
        (full.into_inner(), cut.into_inner(), n)
    }

    #[test]
    fn every_flow_is_there_with_its_kind_and_pieces_at_full_size() {
        let (full, cut, n) = both(6 * 2_000_000);
        assert!(full.len() > 12_000_000 && cut.len() < full.len() / 4);
        let r = analyze_bytes("bulk", full, &Options::default());
        assert_eq!(r.frames, n.packets);
        assert_eq!(r.flows.len(), FLOWS.len());
        for (f, spec) in r.flows.iter().zip(FLOWS) {
            assert_eq!(f.port, spec.port);
            let want = if spec.control {
                crate::btparse::Kind::Control
            } else {
                crate::btparse::Kind::BitTorrent
            };
            assert_eq!(f.kind, Some(want), "port {}", spec.port);
        }
        // Every header was captured: the 16 KiB flows decode every piece they began.
        let down = r.flows[0].bittorrent.as_ref().unwrap();
        let pieces = down.server.messages.get("piece").copied().unwrap_or(0);
        let piece_phase = 2_000_000u64.div_ceil(MSS as u64) * MSS as u64;
        assert_eq!(pieces, piece_phase.div_ceil(16_397));
        assert_eq!(down.server.framing, crate::btparse::FramingState::Ok);
        // Cut to 254 bytes, the frames are the same.
        let r = analyze_bytes("bulk-254", cut, &Options::default());
        assert_eq!(r.frames, n.packets);
        assert_eq!(r.flows.len(), FLOWS.len());
    }
}
